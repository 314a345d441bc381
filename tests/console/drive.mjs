// Drives Debian's chromium (headless, playwright-core) through the console
// for tests/console/test_console.py, which started the stack and checks
// the server's side afterwards.  Talks to it on stdout ("need: ...",
// "result: {json}") and reads the answers to its needs on stdin.  Exits
// non-zero at the first failed expectation.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const URL = process.env.CONSOLE_URL;
const TOKEN = process.env.CONSOLE_TOKEN;
const CASE = process.env.CASE_ID;
const NEW_DEPUTY = process.env.NEW_DEPUTY;
const SHOTS = process.env.SCREENSHOTS || '';
const NOTE = '已电话联系社区，明天上门查看';
const TOTAL = Number(process.env.CASES_TOTAL || 2);

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function need(what) {
  console.log('need: ' + what);
  const { value, done } = await lines.next();
  if (done) throw new Error('no answer for ' + what);
  return value.trim();
}

function expect(cond, what) {
  if (!cond) throw new Error('expected: ' + what);
  console.log('ok: ' + what);
}

const errors = [];
function watch(page) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
}

async function axe(page, name) {
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => (await axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  })).violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })));
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (res.length) console.log(`axe ${name}: ` + JSON.stringify(res));
  expect(bad.length === 0, `no serious accessibility violation on ${name}`);
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: false });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    headless: true,
  });
  const result = {};
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' });
    const page = await ctx.newPage();
    watch(page);
    page.setDefaultTimeout(15000);

    // -- sign-in: a wrong token is refused, the right one gives a session
    await page.goto(URL + '/console/');
    await page.waitForSelector('#login:not([hidden])');
    await axe(page, 'login');
    await shot(page, 'login');
    await page.fill('#token', 'not-the-token');
    await Promise.all([page.waitForURL(/failed=1/), page.click('#login button[type=submit]')]);
    await page.waitForSelector('#login-failed:not([hidden])');
    expect((await ctx.cookies()).every((c) => c.name !== 'mashang_session'), 'a wrong token gets no session');
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForNavigation(), page.click('#login button[type=submit]')]);
    await page.waitForSelector('#nav:not([hidden])');
    const cookie = (await ctx.cookies()).find((c) => c.name === 'mashang_session');
    expect(cookie && cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/',
      'session cookie is HttpOnly, SameSite=Strict, Path=/');
    const noCsrf = await page.evaluate(async () => (await fetch('/admin/outbox/retry', { method: 'POST', body: '{}' })).status);
    expect(noCsrf === 403, 'a write without the CSRF token is refused (403)');

    // -- the board: the case opened by SMS, then a new one without reload
    await page.waitForSelector(`tr[data-case="${CASE}"]`);
    expect(true, `case ${CASE} on the board`);
    await axe(page, 'cases');
    const second = await need('second-case');
    await page.waitForSelector(`tr[data-case="${second}"]`, { timeout: 25000 });
    expect(true, `case ${second} appeared without reloading`);
    await shot(page, 'cases');

    // -- the case: reassign, correct the category, a note
    await page.click(`tr[data-case="${CASE}"] a`);
    await page.waitForSelector('#a-deputy');
    expect(await page.isVisible('ol.loop li.current'), 'the loop shows where the case stands');
    await page.selectOption('#a-deputy', NEW_DEPUTY);
    await page.fill('#a-note', '转给光明村代表');
    await page.click('form[aria-label="改派"] button');
    await page.waitForSelector('p.flash.ok');
    await page.waitForFunction((d) => document.querySelector('#a-deputy') &&
      document.querySelector('#a-deputy').value === d && !document.querySelector('p.flash.ok'), NEW_DEPUTY);
    const current = await page.$eval('#l-label', (s) => s.value);
    const to = current === 'water' ? 'facilities' : 'water';
    await page.selectOption('#l-label', to);
    await page.click('form[aria-label="更正类别"] button');
    await page.waitForSelector('p.flash.ok');
    await page.waitForFunction((l) => document.querySelector('#l-label') &&
      document.querySelector('#l-label').value === l && !document.querySelector('p.flash.ok'), to);
    result.corrected_to = to;
    await page.fill('#n-text', NOTE);
    await page.click('form[aria-label="内部备注"] button');
    await page.waitForFunction((n) => [...document.querySelectorAll('.timeline li')].some((li) => li.textContent.includes(n)), NOTE);
    result.note = NOTE;
    expect(true, 'reassigned, corrected and noted from the case page');
    await axe(page, 'case');
    await shot(page, 'case');

    // -- the second case withdrawn by the station
    await page.goto(URL + '/console/#/case/' + second);
    await page.waitForFunction((id) => document.querySelector('#page h1')?.textContent === '案件 ' + id &&
      document.querySelector('#w-note'), second);
    await page.fill('#w-note', '与另一案件重复');
    await page.click('form[aria-label="撤销案件"] button');
    await page.waitForSelector('p.flash.ok');
    await page.waitForFunction(() => document.querySelector('#w-note') && document.querySelector('#w-note').disabled);
    expect((await page.textContent('dl.kv')).includes('已撤回'), `case ${second} withdrawn`);
    result.withdrawn = second;

    // -- deputies
    await page.click('#nav a[href="#/deputies"]');
    await page.waitForSelector(`a[data-deputy="${NEW_DEPUTY}"]`);
    await axe(page, 'deputies');
    await shot(page, 'deputies');
    await page.click(`a[data-deputy="${NEW_DEPUTY}"]`);
    await page.waitForSelector(`tr[data-case="${CASE}"]`);
    expect(await page.$eval('#f-deputy', (s) => s.value) === NEW_DEPUTY, "a deputy's name opens the board of their cases");

    // -- statistics: the charts carry the API's numbers
    await page.click('#nav a[href="#/stats"]');
    await page.waitForSelector('table[data-stats="station"] tbody tr');
    const drawn = await page.evaluate(async () => {
      const api = await (await fetch('/admin/stats?by=station')).json();
      const chart = echarts.getInstanceByDom(document.getElementById('chart-station'));
      const opt = chart.getOption();
      const cat = echarts.getInstanceByDom(document.getElementById('chart-category')).getOption();
      const month = echarts.getInstanceByDom(document.getElementById('chart-month')).getOption();
      const canvas = document.querySelector('#chart-station canvas');
      return {
        api: api.rows.map((r) => r.received), chart: opt.series[0].data,
        resolvedApi: api.rows.map((r) => r.resolved), resolvedChart: opt.series[1].data,
        total: Number(document.querySelector('[data-total="received"]').textContent),
        categories: cat.series[0].data.reduce((a, d) => a + d.value, 0),
        thisMonth: month.series[0].data[month.series[0].data.length - 1],
        canvas: !!canvas && canvas.width > 0,
      };
    });
    console.log('stats: ' + JSON.stringify(drawn));
    expect(JSON.stringify(drawn.api) === JSON.stringify(drawn.chart) &&
      JSON.stringify(drawn.resolvedApi) === JSON.stringify(drawn.resolvedChart), 'the station chart draws the API\'s numbers');
    expect(drawn.total === TOTAL && drawn.categories === TOTAL && drawn.thisMonth === TOTAL && drawn.canvas,
      `${TOTAL} cases received: in the totals, the category chart and this month`);
    const csv = await page.evaluate(async () => {
      const a = document.querySelector('table[data-stats="station"] caption a');
      const r = await fetch(a.href);
      return { status: r.status, type: r.headers.get('Content-Type'), text: await r.text() };
    });
    expect(csv.status === 200 && csv.text.startsWith('key,name,received'), 'the CSV download');
    await axe(page, 'stats');
    await shot(page, 'stats');

    // -- intents playground
    await page.click('#nav a[href="#/intents"]');
    await page.fill('#i-text', '光明街的下水道堵了，污水都冒到路上了');
    await page.click('form[aria-label="意图试验"] button');
    await page.waitForSelector('#i-result');
    const label = await page.textContent('[data-field="label"]');
    expect(label && label !== '—', 'the playground classifies a message: ' + label);
    result.playground_label = label;
    await axe(page, 'intents');
    await shot(page, 'intents');

    // -- an intent file: a broken pattern is refused with its line shown,
    //    a clean edit is saved (and the daemon reloads)
    await page.selectOption('#f-name', 'chat.intents');
    const original = await page.inputValue('#f-text');
    const broken = original.replace(/\n*$/, '\n') + '\n[console_broken]\nkind     = chat\nlabel    = chat.rating\npattern  = ^好(的\nexample  = 好的\n';
    const badLine = broken.split('\n').indexOf('pattern  = ^好(的') + 1;
    await page.fill('#f-text', broken);
    await page.click('#f-check');
    await page.waitForSelector(`ol.code li.bad[data-line="${badLine}"]`, { timeout: 60000 });
    const why = await page.textContent(`ol.code li.bad[data-line="${badLine}"] .problem`);
    expect(why.startsWith(`chat.intents:${badLine}`), 'the broken pattern is shown beside its line: ' + why);
    await page.$eval('#f-report', (e) => e.scrollIntoView());
    await shot(page, 'intents-check');
    await page.click('#f-save');
    await page.waitForSelector(`ol.code li.bad[data-line="${badLine}"]`, { timeout: 60000 });
    expect((await page.textContent('#f-report').then(() => page.textContent('.flash.error'))).includes('未保存'),
      'a set with a problem is not saved');
    await axe(page, 'intents (problems)');
    const edited = original.replace(/\n*$/, '\n') + '# 控制台编辑测试\n';
    await page.fill('#f-text', edited);
    await page.click('#f-save');
    await page.waitForSelector('.flash.ok >> text=已保存', { timeout: 60000 });
    expect(true, 'a clean edit is saved');
    result.intents_saved = 'chat.intents';

    // -- outbox: the dead letter, retried
    await page.click('#nav a[href="#/outbox"]');
    await page.waitForSelector('tr[data-message="900"]');
    await page.waitForSelector('tr[data-message="901"]');
    await axe(page, 'outbox');
    await shot(page, 'outbox');
    await page.click('tr[data-message="901"] button');
    await page.waitForSelector('tr[data-message="901"]', { state: 'detached' });
    expect((await page.textContent('p.flash.ok')).includes('901'), 'one dead letter retried alone');
    await page.click('text=全部重试');
    // the flash of the single retry is still there: wait for the new text
    await page.waitForFunction(() => /已重新排队 \d+ 条/.test(document.querySelector('p.flash')?.textContent || ''));
    expect((await page.textContent('p.flash.ok')).includes('已重新排队 1 条'), 'the other dead letter is queued again');
    await page.waitForSelector('text=没有发送失败的消息。');

    // -- common issues: the page lists what the API has
    await page.click('#nav a[href="#/common"]');
    await page.waitForSelector('h1 >> text=共性问题');
    const commons = await page.evaluate(async () => (await (await fetch('/admin/common')).json()).common.length);
    const rows = await page.$$eval('tr[data-common]', (r) => r.length);
    const none = await page.isVisible('text=目前没有共性问题。');
    expect(rows === commons && (commons > 0 || none), `the common issues page lists ${rows} of ${commons}`);
    await axe(page, 'common');

    // -- a phone: the board fits the screen and opens a case
    const phone = await ctx.newPage();
    watch(phone);
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(URL + '/console/#/cases');
    await phone.waitForSelector(`tr[data-case="${CASE}"]`);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 0, 'no sideways scrolling on a phone (' + overflow + ')');
    expect(await phone.isVisible('#nav a[href="#/stats"]'), 'the menu is on screen on a phone');
    await shot(phone, 'cases-phone');
    await axe(phone, 'cases (phone)');
    await phone.click(`tr[data-case="${CASE}"] a`);
    await phone.waitForSelector('#a-deputy');
    expect(true, 'a case opens on a phone');
    await phone.close();

    // -- sign-out
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    const after = await page.evaluate(async () => (await fetch('/admin/cases')).status);
    expect(after === 401, 'signed out: the admin API refuses the old cookie');
    result.signed_out = true;

    // every error the browser logged; the 401 just provoked is expected
    const unexpected = errors.filter((e) => !/status of 401/.test(e) && !/status of 403/.test(e));
    expect(unexpected.length === 0, 'no console errors: ' + JSON.stringify(unexpected));
    console.log('result: ' + JSON.stringify(result));
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => {
  console.log('FAILED: ' + (e && e.stack || e));
  if (errors.length) console.log('browser errors so far: ' + JSON.stringify(errors));
  process.exit(1);
});

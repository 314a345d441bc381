/* 意图: the playground — a message as a resident or a deputy would send
 * it, and the decision the loaded intents take (intent, label, slots,
 * candidates), from POST /admin/intents/test — and the intent files:
 * read, checked as `mashangctl intents check` does (problems beside their
 * line), saved and reloaded only when the whole set is clean. */
'use strict';
(() => {
  const h = Console.h;

  /* A byte span of the normalised text (the engine counts UTF-8 bytes). */
  function span(text, start, end) {
    const bytes = new TextEncoder().encode(text || '');
    return new TextDecoder().decode(bytes.slice(start, end));
  }

  function result(r) {
    const slots = Object.entries(r.slots || {});
    return h('div', { class: 'card', id: 'i-result' },
      h('dl', { class: 'kv' },
        h('dt', {}, '意图'), h('dd', { 'data-field': 'intent' }, r.intent || '（未识别）'),
        h('dt', {}, '类别'), h('dd', { 'data-field': 'label' }, r.label || '—'),
        h('dt', {}, '名称'), h('dd', {}, r.title || '—'),
        h('dt', {}, '方式'), h('dd', {}, r.kind || '—'),
        h('dt', {}, '归一化'), h('dd', {}, r.normalized || ''),
        h('dt', {}, '槽位'), h('dd', {}, slots.length ? slots.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('，') : '—'),
        h('dt', {}, '用时'), h('dd', {}, r.us !== undefined ? Number(r.us).toFixed(0) + ' 微秒' : '')),
      h('h2', {}, '解释：匹配到的规则'),
      (r.candidates || []).length ? h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['意图', '类别', '优先级', '匹配的文字'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, r.candidates.map((c) => h('tr', {},
          h('td', {}, c.intent), h('td', {}, c.label), h('td', { class: 'num' }, String(c.priority)),
          h('td', {}, span(r.normalized, c.start, c.end) || '—'))))))
        : h('p', { class: 'muted' }, '没有规则匹配；由学习的模型判断（置信度 ' + Console.num(r.confidence, 2) + '）。'));
  }

  async function render(el) {
    const out = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'card', 'aria-label': '意图试验' },
      h('label', { for: 'i-text' }, '消息'),
      h('textarea', { id: 'i-text', required: true, placeholder: '例如：幸福路12号的路灯坏了三天了' }),
      h('fieldset', {}, h('legend', {}, '发送人'),
        h('div', { class: 'filters' },
          h('div', { class: 'check' }, h('input', { type: 'radio', name: 'as', id: 'as-resident', value: 'resident', checked: true }),
            h('label', { for: 'as-resident' }, '群众')),
          h('div', { class: 'check' }, h('input', { type: 'radio', name: 'as', id: 'as-deputy', value: 'deputy' }),
            h('label', { for: 'as-deputy' }, '代表')))),
      h('button', { type: 'submit' }, '识别'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await Console.api('/admin/intents/test', {
          text: form.querySelector('#i-text').value,
          as: form.querySelector('input[name=as]:checked').value,
        });
        out.replaceChildren(result(r));
      } catch (e) {
        out.replaceChildren(h('p', { class: 'error', role: 'alert' }, '识别失败：' + e.message));
      }
    });
    el.append(h('h1', {}, '意图'), h('h2', {}, '试一试'), form, out);
    await files(el);
  }

  /* The file with each problem beside its line. */
  function annotated(name, text, problems) {
    const byLine = new Map();
    for (const p of problems) {
      if (p.file === name && p.line) byLine.set(p.line, (byLine.get(p.line) || []).concat(p.message));
    }
    const lines = text.split('\n');
    const other = problems.filter((p) => p.file !== name || !p.line);
    return h('div', {},
      other.length ? h('ul', { class: 'error' }, other.map((p) =>
        h('li', {}, (p.file ? p.file + (p.line ? ':' + p.line : '') + '：' : '') + p.message))) : null,
      // each problem line with one line of context either side, numbered as in the file
      h('ol', { class: 'code', 'aria-label': name + ' 的检查结果' }, lines.map((l, i) => {
        if (!(byLine.has(i + 1) || byLine.has(i) || byLine.has(i + 2))) return null;
        const msgs = byLine.get(i + 1);
        return h('li', { value: String(i + 1), class: msgs ? 'bad' : null, 'data-line': msgs ? String(i + 1) : null },
          h('code', {}, l || ' '),
          msgs ? h('span', { class: 'problem', role: 'note' }, `${name}:${i + 1} ` + msgs.join('；')) : null);
      })));
  }

  async function files(el) {
    const doc = await Console.api('/admin/intents/files');
    const list = doc.files || [];
    if (!list.length) return;
    const pick = h('select', { id: 'f-name' }, list.map((f) => h('option', { value: f.name }, f.name)));
    const text = h('textarea', { id: 'f-text', rows: '18', spellcheck: 'false', class: 'code-edit' });
    const status = h('div', { class: 'flash', role: 'status', 'aria-live': 'polite' });
    const report = h('div', { id: 'f-report' });
    const show = () => {
      const f = list.find((x) => x.name === pick.value);
      text.value = f ? f.text : '';
      status.textContent = '';
      report.replaceChildren();
    };
    async function run(save) {
      const body = { name: pick.value, text: text.value };
      status.className = 'flash';
      status.textContent = save ? '正在检查并保存……' : '正在检查（训练模型约需几秒）……';
      report.replaceChildren();
      for (const b of buttons) b.disabled = true;
      try {
        const r = await Console.api(save ? '/admin/intents/save' : '/admin/intents/check', body);
        const counts = `${r.intents} 个意图，${r.examples} 条例句，${r.counters} 条反例`;
        if (r.ok && save && r.saved) {
          Console.flash(status, `已保存并重新加载（${counts}）；原文件备份为 ${r.backup}。`, true);
          const f = list.find((x) => x.name === pick.value);
          if (f) f.text = text.value;
        } else if (r.ok) {
          Console.flash(status, `检查通过：${counts}，没有问题。`, true);
        } else {
          Console.flash(status, `有 ${r.problems.length} 个问题` + (save ? '，未保存' : '') + '：', false);
          report.replaceChildren(annotated(pick.value, text.value, r.problems));
        }
      } catch (e) {
        Console.flash(status, '失败：' + e.message, false);
      } finally {
        for (const b of buttons) b.disabled = false;
      }
    }
    const buttons = [h('button', { type: 'button', id: 'f-check', onclick: () => run(false) }, '检查'),
      h('button', { type: 'button', id: 'f-save', class: 'secondary', onclick: () => run(true) }, '检查并保存')];
    pick.addEventListener('change', show);
    el.append(h('h2', {}, '意图文件'),
      h('section', { class: 'card', 'aria-label': '意图文件' },
        h('p', { class: 'hint' }, '与 mashangctl intents check 相同的检查：只有整套意图没有问题时才会保存并重新加载，原文件保留为 .bak。'),
        h('label', { for: 'f-name' }, '文件'), pick,
        h('label', { for: 'f-text' }, '内容'), text,
        h('div', { class: 'pager' }, buttons), status, report));
    show();
  }

  Console.pages.intents = { title: '意图', render };
})();

/* 案件: the board (filters, newest first, paged, refreshed every 15 s)
 * and one case (its place in the stations' loop, the timeline, and the
 * actions: reassign, correct the category, an internal note, withdraw). */
'use strict';
(() => {
  const h = Console.h;
  const PAGE = 20;
  const REFRESH_MS = 15000;
  /* The liaison stations' loop; which steps a case has reached. */
  const LOOP = ['代表听', '小组商', '片区督', '工委盯', '全员评'];

  function loopReached(c) {
    const hist = c.history || [];
    const esc = Number(c.escalated || 0);
    const group = hist.some((e) => /^group|deliberat|^opinion$|^decided$/.test(e.event || ''));
    const rated = !!c.rating || ['resolved', 'closed'].includes(c.state);
    return [!!c.deputy, group, esc >= 1, esc >= 2, rated];
  }

  function loopView(c) {
    const reached = loopReached(c);
    let current = -1;
    reached.forEach((r, i) => { if (r) current = i; });
    return h('ol', { class: 'loop', 'aria-label': '联络站闭环' },
      LOOP.map((name, i) => h('li', {
        class: i === current ? 'current' : (reached[i] ? 'reached' : null),
        'aria-current': i === current ? 'step' : null,
      }, name)));
  }

  let filters = { state: '', station: '', deputy: '', category: '', overdue: false, from: '', to: '', q: '' };
  let page = 0;

  function query() {
    const p = new URLSearchParams({ limit: '1000' });
    for (const k of ['state', 'station', 'deputy', 'category']) if (filters[k]) p.set(k, filters[k]);
    if (filters.overdue) p.set('overdue', '1');
    if (filters.from) p.set('from', String(Math.floor(new Date(filters.from + 'T00:00:00').getTime() / 1000)));
    if (filters.to) p.set('to', String(Math.floor(new Date(filters.to + 'T23:59:59').getTime() / 1000)));
    return '/admin/cases?' + p.toString();
  }

  function matches(c) {
    const q = filters.q.trim();
    if (!q) return true;
    return [c.id, c.text, c.title, c.latest, c.place, c.category_name, c.deputy_name, c.masked]
      .some((v) => v && String(v).includes(q));
  }

  function select(id, label, value, options) {
    return h('div', {}, h('label', { for: id }, label),
      h('select', { id, name: id },
        h('option', { value: '' }, '全部'),
        options.map(([v, t]) => h('option', { value: v, selected: v === value }, t))));
  }

  /* "#/cases/deputy=D0412" (from the deputies page) narrows the board to
   * one deputy or station. */
  async function board(el, arg) {
    const m = /^(deputy|station)=(.+)$/.exec(arg || '');
    if (m) {
      filters = { state: '', station: '', deputy: '', category: '', overdue: false, from: '', to: '', q: '' };
      filters[m[1]] = m[2];
      page = 0;
    }
    const [deps, cats] = await Promise.all([Console.api('/admin/deputies'), Console.api('/admin/categories')]);
    const stations = new Map();
    for (const d of deps.deputies) stations.set(d.station, d.station_name || d.station);
    const form = h('form', { class: 'filters card', role: 'search', 'aria-label': '筛选案件' },
      select('f-state', '状态', filters.state, Object.entries(Console.states)),
      select('f-station', '联络站', filters.station, [...stations.entries()]),
      select('f-deputy', '代表', filters.deputy, deps.deputies.map((d) => [d.id, d.name + ' ' + d.id])),
      select('f-category', '类别', filters.category, cats.categories.map((c) => [c.label, c.name])),
      h('div', {}, h('label', { for: 'f-from' }, '起始日期'), h('input', { id: 'f-from', type: 'date', value: filters.from })),
      h('div', {}, h('label', { for: 'f-to' }, '截止日期'), h('input', { id: 'f-to', type: 'date', value: filters.to })),
      h('div', {}, h('label', { for: 'f-q' }, '搜索'), h('input', { id: 'f-q', type: 'search', value: filters.q, placeholder: '编号、地点、内容' })),
      h('div', { class: 'check' }, h('input', { id: 'f-overdue', type: 'checkbox', checked: filters.overdue }),
        h('label', { for: 'f-overdue' }, '只看逾期')));
    const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
    const list = h('div', { class: 'table-wrap' });
    const pager = h('div', { class: 'pager' });
    el.append(h('h1', {}, '案件'), form, status, list, pager);

    let cases = [];
    function draw() {
      const shown = cases.filter(matches);
      const pages = Math.max(1, Math.ceil(shown.length / PAGE));
      if (page >= pages) page = pages - 1;
      const rows = shown.slice(page * PAGE, (page + 1) * PAGE);
      status.textContent = `共 ${shown.length} 件` + (shown.length ? `，第 ${page + 1}/${pages} 页` : '');
      list.replaceChildren(h('table', { class: 'cases' },
        h('thead', {}, h('tr', {}, ['编号', '状态', '类别', '内容', '地点', '代表', '联络站', '提交时间']
          .map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows.map((c) => h('tr', { 'data-case': c.id },
          h('td', { 'data-label': '编号' }, h('a', { href: '#/case/' + c.id }, c.id)),
          h('td', { 'data-label': '状态' }, Console.stateBadge(c)),
          h('td', { 'data-label': '类别' }, c.category_name || c.category || ''),
          h('td', { 'data-label': '内容' }, c.text || c.title || ''),
          h('td', { 'data-label': '地点' }, c.place || ''),
          h('td', { 'data-label': '代表' }, c.deputy_name || c.deputy || '未分派'),
          h('td', { 'data-label': '联络站' }, c.station_name || c.station || ''),
          h('td', { 'data-label': '提交时间' }, Console.time(c.created)))))));
      pager.replaceChildren(
        h('button', { type: 'button', class: 'secondary', disabled: page === 0, onclick: () => { page--; draw(); } }, '上一页'),
        h('button', { type: 'button', class: 'secondary', disabled: page >= pages - 1, onclick: () => { page++; draw(); } }, '下一页'));
    }
    async function load() {
      const doc = await Console.api(query());
      cases = doc.cases || [];
      draw();
    }
    form.addEventListener('change', (ev) => {
      filters = {
        state: form.querySelector('#f-state').value, station: form.querySelector('#f-station').value,
        deputy: form.querySelector('#f-deputy').value, category: form.querySelector('#f-category').value,
        overdue: form.querySelector('#f-overdue').checked, from: form.querySelector('#f-from').value,
        to: form.querySelector('#f-to').value, q: form.querySelector('#f-q').value,
      };
      page = 0;
      if (ev.target.id === 'f-q') draw(); else load();
    });
    form.querySelector('#f-q').addEventListener('input', (ev) => { filters.q = ev.target.value; page = 0; draw(); });
    form.addEventListener('submit', (ev) => ev.preventDefault());
    await load();
    Console.every(REFRESH_MS, () => load().catch(() => {}));
  }

  const ACTORS = { resident: '群众', system: '系统', admin: '管理员' };
  /* The history's event names (the step script's) as staff say them. */
  const EVENTS = {
    opened: '提交', assigned: '分派', accepted: '接单', progress: '进展', resolved: '办结',
    rated: '评价', reopened: '重新办理', closed_unrated: '未评价关闭', withdrawn: '撤销',
    transferred: '改派', escalated: '上报', reminded: '提醒', followup: '补充', asked: '询问',
    reply: '回复', category_corrected: '更正类别', note: '备注', erased: '删除个人信息',
    deliberation: '小组商', opinion: '小组意见', decided: '议定', joined: '并入共性问题',
    split: '拆出共性问题', revisit_asked: '回头看', revisit_held: '回头看：效果良好',
    revisit_relapsed: '回头看：问题反复',
  };

  function actorName(a, deps) {
    if (ACTORS[a]) return ACTORS[a];
    const d = deps.find((x) => x.id === a);
    return d ? d.name + ' ' + d.id : (a || '');
  }

  async function casePage(el, id) {
    const [c, deps, cats] = await Promise.all([Console.api('/admin/cases/' + encodeURIComponent(id)),
      Console.api('/admin/deputies'), Console.api('/admin/categories')]);
    const ds = deps.deputies;
    const msg = h('p', { class: 'flash', role: 'status' });
    const reload = () => Console.route();

    const assign = h('form', { class: 'card', 'aria-label': '改派' },
      h('h2', {}, '改派给代表'),
      h('label', { for: 'a-deputy' }, '代表'),
      h('select', { id: 'a-deputy', required: true },
        ds.map((d) => h('option', { value: d.id, selected: d.id === c.deputy }, `${d.name} ${d.id}（${d.station_name || d.station}，在办 ${d.open}）`))),
      h('label', { for: 'a-note' }, '说明（可选）'),
      h('input', { id: 'a-note', type: 'text' }),
      h('button', { type: 'submit' }, '改派'));
    assign.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await Console.api(`/admin/cases/${c.id}/assign`,
          { deputy: assign.querySelector('#a-deputy').value, note: assign.querySelector('#a-note').value || null });
        Console.flash(msg, `已改派给 ${r.deputy}，代表会收到短信。`, true);
        setTimeout(reload, 600);
      } catch (e) { Console.flash(msg, '改派失败：' + e.message, false); }
    });

    const label = h('form', { class: 'card', 'aria-label': '更正类别' },
      h('h2', {}, '更正类别'),
      h('p', { class: 'hint' }, '更正会记为意图训练样例，必要时按新类别重新分派。'),
      h('label', { for: 'l-label' }, '类别'),
      h('select', { id: 'l-label' }, cats.categories.map((k) =>
        h('option', { value: k.label, selected: k.label === c.category }, k.name))),
      h('button', { type: 'submit' }, '更正'));
    label.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await Console.api(`/admin/cases/${c.id}/label`, { label: label.querySelector('#l-label').value });
        Console.flash(msg, `类别已更正为 ${r.category_name || r.category}` + (r.moved ? `，并转给 ${r.deputy}。` : '。'), true);
        setTimeout(reload, 600);
      } catch (e) { Console.flash(msg, '更正失败：' + e.message, false); }
    });

    const note = h('form', { class: 'card', 'aria-label': '内部备注' },
      h('h2', {}, '内部备注'),
      h('p', { class: 'hint' }, '只记在案件时间线里，不发给任何人。'),
      h('label', { for: 'n-text' }, '备注'),
      h('textarea', { id: 'n-text', required: true, maxlength: '600' }),
      h('button', { type: 'submit' }, '添加备注'));
    note.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await Console.api(`/admin/cases/${c.id}/note`, { text: note.querySelector('#n-text').value });
        Console.flash(msg, '备注已添加。', true);
        setTimeout(reload, 300);
      } catch (e) { Console.flash(msg, '添加失败：' + e.message, false); }
    });

    const open = !['resolved', 'closed', 'withdrawn'].includes(c.state);
    const withdraw = h('form', { class: 'card', 'aria-label': '撤销案件' },
      h('h2', {}, '撤销案件'),
      h('p', { class: 'hint' }, '用于重复、误报或群众电话要求撤销的案件。原因会以短信告知群众和代表。'),
      h('label', { for: 'w-note' }, '撤销原因'),
      h('input', { id: 'w-note', type: 'text', required: true, maxlength: '60', disabled: !open }),
      h('button', { type: 'submit', disabled: !open }, '撤销'));
    withdraw.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await Console.api(`/admin/cases/${c.id}/withdraw`, { note: withdraw.querySelector('#w-note').value });
        Console.flash(msg, '案件已撤销，群众和代表会收到短信。', true);
        setTimeout(reload, 600);
      } catch (e) { Console.flash(msg, '撤销失败：' + e.message, false); }
    });

    const dep = ds.find((d) => d.id === c.deputy);
    el.append(
      h('p', {}, h('a', { href: '#/cases' }, '← 返回案件列表')),
      h('h1', {}, `案件 ${c.id}`),
      loopView(c),
      h('section', { class: 'card', 'aria-label': '案件信息' },
        h('dl', { class: 'kv' },
          h('dt', {}, '状态'), h('dd', {}, Console.stateBadge(c)),
          h('dt', {}, '类别'), h('dd', {}, c.category_name || c.category || ''),
          h('dt', {}, '群众'), h('dd', {}, (c.masked || '') + (c.channel ? `（${c.channel}）` : '')),
          h('dt', {}, '地点'), h('dd', {}, c.place || '—'),
          h('dt', {}, '内容'), h('dd', {}, c.text || ''),
          h('dt', {}, '代表'), h('dd', {}, dep ? `${dep.name} ${dep.id}` : (c.deputy || '未分派')),
          h('dt', {}, '联络站'), h('dd', {}, c.station_name || c.station || ''),
          h('dt', {}, '提交时间'), h('dd', {}, Console.time(c.created)),
          c.rating ? [h('dt', {}, '评价'), h('dd', {}, c.rating + ' 星')] : null)),
      msg,
      h('div', { class: 'actions' }, assign, label, note, withdraw),
      h('h2', {}, '时间线'),
      h('ol', { class: 'timeline' }, (c.history || []).map((e) => h('li', {},
        h('div', { class: 'when' }, `${Console.time(e.ts)} · ${actorName(e.actor, ds)} · ${EVENTS[e.event] || e.event}`),
        h('div', {}, e.text || '')))));
  }

  Console.pages.cases = { title: '案件', render: board };
  Console.pages.case = { title: '案件详情', nav: 'cases', render: casePage };
})();

/* 代表: each deputy's open and overdue cases, median hours to accept and
 * to resolve, mean rating; the stations with the same figures summed
 * (from /admin/deputies and /admin/stats). */
'use strict';
(() => {
  const h = Console.h;
  const COLS = ['在办', '逾期', '收到', '办结', '受理用时中位（小时）', '办结用时中位（小时）', '平均评分'];

  function row(head, open, s) {
    return h('tr', {}, head,
      h('td', { class: 'num' }, Console.num(open)),
      h('td', { class: 'num' }, Console.num(s ? s.overdue : 0)),
      h('td', { class: 'num' }, Console.num(s ? s.received : 0)),
      h('td', { class: 'num' }, Console.num(s ? s.resolved : 0)),
      h('td', { class: 'num' }, Console.num(s && s.median_hours_to_accept, 1)),
      h('td', { class: 'num' }, Console.num(s && s.median_hours_to_resolve, 1)),
      h('td', { class: 'num' }, Console.num(s && s.rating_mean, 2)));
  }

  function table(caption, first, rows) {
    return h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'muted' }, caption),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, first), COLS.map((t) => h('th', { scope: 'col', class: 'num' }, t)))),
      h('tbody', {}, rows)));
  }

  async function render(el) {
    const [deps, byDep, bySt] = await Promise.all([Console.api('/admin/deputies'),
      Console.api('/admin/stats?by=deputy'), Console.api('/admin/stats?by=station')]);
    const sd = new Map(byDep.rows.map((r) => [r.key, r]));
    const ss = new Map(bySt.rows.map((r) => [r.key, r]));
    const stations = new Map();
    for (const d of deps.deputies) {
      const st = stations.get(d.station) || { name: d.station_name || d.station, open: 0 };
      st.open += d.open;
      stations.set(d.station, st);
    }
    el.append(h('h1', {}, '代表'),
      h('h2', {}, '联络站'),
      table('各联络站汇总（全部时间）', '联络站', [...stations.entries()].map(([id, st]) =>
        row(h('th', { scope: 'row' }, h('a', { href: '#/cases/station=' + encodeURIComponent(id) }, st.name)), st.open, ss.get(id)))),
      h('h2', {}, '代表'),
      table('每位代表（全部时间）', '代表', deps.deputies.map((d) =>
        row(h('th', { scope: 'row' }, h('a', { href: '#/cases/deputy=' + encodeURIComponent(d.id), 'data-deputy': d.id }, `${d.name} ${d.id}`),
          h('div', { class: 'muted' }, d.station_name || d.station)), d.open, sd.get(d.id)))));
  }

  Console.pages.deputies = { title: '代表', render };
})();

/* 统计: received / accepted / resolved / resolution rate / overdue /
 * satisfaction by station, deputy, category and month, as ECharts charts
 * and tables, each table with its CSV (the server's /admin/stats CSV).
 * Refreshed every 60 s. */
'use strict';
(() => {
  const h = Console.h;
  const REFRESH_MS = 60000;
  const MONTHS = 6;
  const GROUPS = [['station', '联络站'], ['deputy', '代表'], ['category', '类别']];
  let period = 'all';

  function range() {
    const now = new Date();
    const s = (d) => Math.floor(d.getTime() / 1000);
    if (period === 'year') return { from: s(new Date(now.getFullYear(), 0, 1)) };
    if (period === 'month') return { from: s(new Date(now.getFullYear(), now.getMonth(), 1)) };
    if (period === '30d') return { from: s(now) - 30 * 86400 };
    return {};
  }

  function statsUrl(by, r, csv) {
    const p = new URLSearchParams({ by });
    if (r.from !== undefined) p.set('from', String(r.from));
    if (r.to !== undefined) p.set('to', String(r.to));
    if (csv) p.set('format', 'csv');
    return '/admin/stats?' + p.toString();
  }

  function rowName(by, r) {
    if (r.key === '') return by === 'deputy' ? '未分派' : '未知';
    return r.name || r.key;
  }

  function table(by, title, rows, r) {
    return h('div', { class: 'table-wrap' },
      h('table', { 'data-stats': by },
        h('caption', { class: 'muted' }, title + ' · ',
          h('a', { href: statsUrl(by, r, true), download: `stats-${by}.csv` }, '下载 CSV')),
        h('thead', {}, h('tr', {}, ['名称', '收到', '受理', '办结', '办结率', '逾期', '平均评分', '评价数']
          .map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))),
        h('tbody', {}, rows.map((x) => h('tr', { 'data-key': x.key },
          h('th', { scope: 'row' }, rowName(by, x)),
          h('td', { class: 'num' }, Console.num(x.received)),
          h('td', { class: 'num' }, Console.num(x.accepted)),
          h('td', { class: 'num' }, Console.num(x.resolved)),
          h('td', { class: 'num' }, Console.pct(x.resolution_rate)),
          h('td', { class: 'num' }, Console.num(x.overdue)),
          h('td', { class: 'num' }, Console.num(x.rating_mean, 2)),
          h('td', { class: 'num' }, Console.num(Object.values(x.ratings || {}).reduce((a, b) => a + b, 0))))))));
  }

  function chart(el, option) {
    const old = echarts.getInstanceByDom(el);
    const c = old || echarts.init(el, null, { renderer: 'canvas' });
    c.setOption(Object.assign({ aria: { enabled: true }, animation: false }, option), true);
    return c;
  }

  function bars(el, title, rows, by) {
    chart(el, {
      title: { text: title, textStyle: { fontSize: 14 } },
      tooltip: { trigger: 'axis' },
      legend: { bottom: 0, data: ['收到', '办结'] },
      grid: { top: 40, left: 10, right: 10, bottom: 30, containLabel: true },
      xAxis: { type: 'category', data: rows.map((r) => rowName(by, r)), axisLabel: { interval: 0, rotate: rows.length > 4 ? 30 : 0 } },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{ name: '收到', type: 'bar', data: rows.map((r) => r.received) },
               { name: '办结', type: 'bar', data: rows.map((r) => r.resolved) }],
    });
  }

  function pie(el, title, rows, by) {
    chart(el, {
      title: { text: title, textStyle: { fontSize: 14 } },
      tooltip: { trigger: 'item' },
      series: [{ name: '收到', type: 'pie', radius: '55%', top: 20,
                 data: rows.map((r) => ({ name: rowName(by, r), value: r.received })) }],
    });
  }

  function months() {
    const now = new Date();
    const out = [];
    for (let i = MONTHS - 1; i >= 0; i--) {
      const a = new Date(now.getFullYear(), now.getMonth() - i, 1);
      const b = new Date(now.getFullYear(), now.getMonth() - i + 1, 1);
      out.push({ label: `${a.getFullYear()}-${String(a.getMonth() + 1).padStart(2, '0')}`,
                 from: Math.floor(a.getTime() / 1000), to: Math.floor(b.getTime() / 1000) - 1 });
    }
    return out;
  }

  function sum(rows, k) { return rows.reduce((a, r) => a + (r[k] || 0), 0); }

  /* Mean rating over rows from their 1-5 counts: {mean (null if none), n}. */
  function satisfaction(rows) {
    let n = 0, total = 0;
    for (const r of rows) {
      for (const [k, c] of Object.entries(r.ratings || {})) { n += c; total += Number(k) * c; }
    }
    return { mean: n ? total / n : null, n };
  }

  async function render(el) {
    const sel = h('select', { id: 's-period' },
      [['all', '全部时间'], ['year', '今年'], ['month', '本月'], ['30d', '最近30天']].map(([v, t]) =>
        h('option', { value: v, selected: v === period }, t)));
    const totals = h('div', { class: 'card', id: 's-totals', role: 'status', 'aria-live': 'polite' });
    const cStation = h('div', { class: 'chart', id: 'chart-station' });
    const cCategory = h('div', { class: 'chart', id: 'chart-category' });
    const cMonth = h('div', { class: 'chart', id: 'chart-month' });
    const tables = h('div');
    el.append(h('h1', {}, '统计'),
      h('div', { class: 'filters card' }, h('div', {}, h('label', { for: 's-period' }, '时间范围'), sel)),
      totals,
      h('div', { class: 'grid2' }, h('div', { class: 'card' }, cStation), h('div', { class: 'card' }, cCategory)),
      h('div', { class: 'card' }, cMonth, h('div', { id: 'month-table' })),
      tables);

    async function load() {
      const r = range();
      const docs = await Promise.all(GROUPS.map(([by]) => Console.api(statsUrl(by, r))));
      const ms = months();
      const mdocs = await Promise.all(ms.map((m) => Console.api(statsUrl('station', m))));
      const st = docs[0].rows;
      const received = sum(st, 'received');
      const resolved = sum(st, 'resolved');
      const sat = satisfaction(st);
      totals.replaceChildren(h('dl', { class: 'kv' },
        h('dt', {}, '收到'), h('dd', { 'data-total': 'received' }, String(received)),
        h('dt', {}, '受理'), h('dd', { 'data-total': 'accepted' }, String(sum(st, 'accepted'))),
        h('dt', {}, '办结'), h('dd', { 'data-total': 'resolved' }, String(resolved)),
        h('dt', {}, '办结率'), h('dd', {}, received ? (resolved / received * 100).toFixed(1) + '%' : '—'),
        h('dt', {}, '逾期'), h('dd', { 'data-total': 'overdue' }, String(sum(st, 'overdue'))),
        h('dt', {}, '满意度'), h('dd', {}, sat.n ? `${sat.mean.toFixed(2)} 分（${sat.n} 人评价）` : '暂无评价')));
      bars(cStation, '各联络站收到与办结', st, 'station');
      pie(cCategory, '问题类别', docs[2].rows, 'category');
      const mrows = mdocs.map((d, i) => {
        const sat = satisfaction(d.rows);
        return { label: ms[i].label, received: sum(d.rows, 'received'), accepted: sum(d.rows, 'accepted'),
                 resolved: sum(d.rows, 'resolved'), overdue: sum(d.rows, 'overdue'), rating: sat.mean, rated: sat.n };
      });
      chart(cMonth, {
        title: { text: '按月收到与办结（按提交月份）', textStyle: { fontSize: 14 } },
        tooltip: { trigger: 'axis' }, legend: { bottom: 0, data: ['收到', '办结'] },
        grid: { top: 40, left: 10, right: 10, bottom: 30, containLabel: true },
        xAxis: { type: 'category', data: mrows.map((m) => m.label) }, yAxis: { type: 'value', minInterval: 1 },
        series: [{ name: '收到', type: 'line', data: mrows.map((m) => m.received) },
                 { name: '办结', type: 'line', data: mrows.map((m) => m.resolved) }],
      });
      el.querySelector('#month-table').replaceChildren(h('div', { class: 'table-wrap' }, h('table', { 'data-stats': 'month' },
        h('caption', { class: 'muted' }, '按月'),
        h('thead', {}, h('tr', {}, ['月份', '收到', '受理', '办结', '办结率', '逾期', '平均评分', '评价数']
          .map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t)))),
        h('tbody', {}, mrows.map((m) => h('tr', {}, h('th', { scope: 'row' }, m.label),
          h('td', { class: 'num' }, String(m.received)), h('td', { class: 'num' }, String(m.accepted)),
          h('td', { class: 'num' }, String(m.resolved)),
          h('td', { class: 'num' }, m.received ? (m.resolved / m.received * 100).toFixed(1) + '%' : '—'),
          h('td', { class: 'num' }, String(m.overdue)), h('td', { class: 'num' }, Console.num(m.rating, 2)),
          h('td', { class: 'num' }, String(m.rated))))))));
      tables.replaceChildren(...GROUPS.map(([by, name], i) => h('section', { class: 'card' },
        h('h2', {}, '按' + name), table(by, '按' + name + '统计', docs[i].rows, r))));
    }
    sel.addEventListener('change', () => { period = sel.value; load(); });
    window.addEventListener('resize', () => {
      for (const c of [cStation, cCategory, cMonth]) { const i = echarts.getInstanceByDom(c); if (i) i.resize(); }
    });
    await load();
    Console.every(REFRESH_MS, () => load().catch(() => {}));
  }

  Console.pages.stats = { title: '统计', render };
})();

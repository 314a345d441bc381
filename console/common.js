/* 共性问题: the open common issues, most residents first — the station's
 * 重点问题 list (GET /admin/common) — and taking a case out of one. */
'use strict';
(() => {
  const h = Console.h;

  async function render(el) {
    const doc = await Console.api('/admin/common?limit=1000');
    const list = doc.common || [];
    const msg = h('p', { class: 'flash', role: 'status' });
    async function split(button, id) {
      button.disabled = true;
      try {
        const r = await Console.api('/admin/common/split', { case: id });
        Console.flash(msg, r.action === 'dissolved' ? `${id} 已拆出，${r.common} 已解散。` : `${id} 已从 ${r.common} 拆出。`, true);
        setTimeout(() => Console.route(), 800);
      } catch (e) { Console.flash(msg, '拆分失败：' + e.message, false); button.disabled = false; }
    }
    const caseLinks = (c) => (c.cases || []).map((id) => h('span', { class: 'common-case' },
      h('a', { href: '#/case/' + id }, id), ' ',
      h('button', { type: 'button', class: 'secondary', 'aria-label': '从 ' + c.id + ' 拆出 ' + id,
        onclick: (ev) => split(ev.target, id) }, '拆出'), ' '));
    const row = (c) => h('tr', { 'data-common': c.id },
      h('td', { 'data-label': '编号' }, c.id),
      h('td', { 'data-label': '问题' }, c.title || c.category_name || c.category || ''),
      h('td', { 'data-label': '地点' }, c.place || ''),
      h('td', { 'data-label': '联络站' }, c.station_name || c.station || ''),
      h('td', { 'data-label': '代表' }, c.deputy_name || c.deputy || ''),
      h('td', { 'data-label': '反映人数', class: 'num' }, Console.num(c.residents)),
      h('td', { 'data-label': '未办结', class: 'num' }, Console.num(c.open)),
      h('td', { 'data-label': '案件' }, caseLinks(c)));
    const head = h('thead', {}, h('tr', {}, ['编号', '问题', '地点', '联络站', '代表', '反映人数', '未办结', '案件']
      .map((t) => h('th', { scope: 'col' }, t))));
    el.append(h('h1', {}, '共性问题'),
      h('p', {}, '同一地点、同一类别、说法相近的反映合并为一个共性问题，代表一次办理，每位居民都收到进展并各自评价。按反映人数排列。'),
      msg,
      list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'cases' }, head, h('tbody', {}, list.map(row))))
        : h('p', { class: 'ok' }, '目前没有共性问题。'));
  }

  Console.pages.common = { title: '共性问题', render };
})();

/* 发件箱: dead letters (messages that could not be sent) with their
 * errors, and retrying one or all of them. */
'use strict';
(() => {
  const h = Console.h;

  async function render(el) {
    const doc = await Console.api('/admin/outbox/dead?limit=1000');
    const msg = h('p', { class: 'flash', role: 'status' });
    const list = doc.messages || [];
    const retry = h('button', { type: 'button', disabled: list.length === 0 }, '全部重试');
    retry.addEventListener('click', async () => {
      retry.disabled = true;
      try {
        const r = await Console.api('/admin/outbox/retry', {});
        Console.flash(msg, `已重新排队 ${r.moved} 条` + (r.dropped ? `，${r.dropped} 条已过期丢弃` : '') + '。', true);
        setTimeout(() => Console.route(), 800);
      } catch (e) { Console.flash(msg, '重试失败：' + e.message, false); retry.disabled = false; }
    });
    async function retryOne(button, id) {
      button.disabled = true;
      try {
        const r = await Console.api(`/admin/outbox/dead/${encodeURIComponent(id)}/retry`, {});
        Console.flash(msg, r.result === 'retried' ? `${id} 已重新排队。` : `${id} 已过期，无法重发。`, r.result === 'retried');
        button.closest('tr').remove();
      } catch (e) { Console.flash(msg, '重试失败：' + e.message, false); button.disabled = false; }
    }
    el.append(h('h1', {}, '发件箱'),
      h('p', {}, `发送失败的消息共 ${doc.total ?? list.length} 条。重试会立即重新发送（计数清零）。`),
      retry, msg,
      list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'cases' },
        h('thead', {}, h('tr', {}, ['编号', '渠道', '收件人', '案件', '内容', '尝试', '错误', '失败时间', '操作']
          .map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.map((m) => h('tr', { 'data-message': m.id },
          h('td', { 'data-label': '编号' }, m.id),
          h('td', { 'data-label': '渠道' }, m.channel || ''),
          h('td', { 'data-label': '收件人' }, m.to || ''),
          h('td', { 'data-label': '案件' }, m.case ? h('a', { href: '#/case/' + m.case }, m.case) : ''),
          h('td', { 'data-label': '内容' }, m.text || ''),
          h('td', { 'data-label': '尝试', class: 'num' }, Console.num(m.attempts)),
          h('td', { 'data-label': '错误' }, m.last_error || ''),
          h('td', { 'data-label': '失败时间' }, Console.time(m.dead_at > 1e11 ? Math.floor(m.dead_at / 1000) : m.dead_at)),
          h('td', {}, h('button', { type: 'button', class: 'secondary', 'aria-label': '重试 ' + m.id,
            onclick: (ev) => retryOne(ev.target, m.id) }, '重试')))))))
        : h('p', { class: 'ok' }, '没有发送失败的消息。'));
  }

  Console.pages.outbox = { title: '发件箱', render };
})();

/* 意图: the playground — a message as a resident or a deputy would send
 * it, and the decision the loaded intents take (intent, label, slots,
 * candidates), from POST /admin/intents/test. */
'use strict';
(() => {
  const h = Console.h;

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
      h('h2', {}, '解释（候选）'),
      h('pre', {}, JSON.stringify(r.candidates || [], null, 2)));
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
  }

  Console.pages.intents = { title: '意图', render };
})();

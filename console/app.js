/* The console's frame: sign-in state, the /admin API with the session's
 * CSRF token, a hash router over the pages (cases.js, deputies.js,
 * stats.js, intents.js, outbox.js) and small DOM helpers.  Text from
 * residents only ever goes through textContent. */
'use strict';

const Console = {
  pages: {},
  csrf: null,
  timer: null,

  /* h('td', {class: 'num'}, 'text', node, ...): an element; attributes
   * starting with "on" are listeners. */
  h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  },

  /* GET (no body) or POST (body) to the admin API; the parsed JSON, or an
   * Error whose message is the server's detail. */
  async api(path, body) {
    const opts = { credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (body !== undefined) {
      opts.method = 'POST';
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-CSRF-Token'] = Console.csrf || '';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    let doc = null;
    try { doc = await r.json(); } catch (e) { doc = null; }
    if (r.status === 401) { Console.showLogin(); }
    if (!r.ok) {
      const err = new Error((doc && (doc.detail || doc.error)) || ('HTTP ' + r.status));
      err.status = r.status;
      err.doc = doc;
      throw err;
    }
    return doc;
  },

  time(ts) {
    if (!ts) return '';
    const d = new Date(ts * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  },

  states: { new: '新建', assigned: '已分派', accepted: '已受理', in_progress: '办理中',
            resolved: '已办结', closed: '已关闭', withdrawn: '已撤回' },
  stateName(s) { return Console.states[s] || s || ''; },
  stateBadge(c) {
    const done = ['resolved', 'closed', 'withdrawn'].includes(c.state);
    return [Console.h('span', { class: 'badge' + (done ? ' done' : '') }, Console.stateName(c.state)),
            c.overdue ? [' ', Console.h('span', { class: 'badge overdue' }, '逾期')] : null];
  },
  num(v, digits) {
    if (v === null || v === undefined) return '—';
    return digits === undefined ? String(v) : Number(v).toFixed(digits);
  },
  pct(v) { return v === null || v === undefined ? '—' : (v * 100).toFixed(1) + '%'; },

  flash(el, text, ok) {
    el.textContent = text;
    el.className = 'flash ' + (ok ? 'ok' : 'error');
    el.setAttribute('role', ok ? 'status' : 'alert');
  },

  /* One periodic refresh for the page on show; the router stops it. */
  every(ms, fn) {
    Console.stop();
    Console.timer = setInterval(() => { if (!document.hidden) fn(); }, ms);
  },
  stop() { if (Console.timer) clearInterval(Console.timer); Console.timer = null; },

  showLogin() {
    Console.stop();
    document.getElementById('nav').hidden = true;
    document.getElementById('page').replaceChildren();
    document.getElementById('login').hidden = false;
    document.getElementById('login-failed').hidden = !/[?&]failed=1/.test(location.search);
    document.title = '登录 · 码上';
  },

  async route() {
    const parts = (location.hash || '#/cases').slice(2).split('/');
    const name = Console.pages[parts[0]] ? parts[0] : 'cases';
    const page = Console.pages[name];
    Console.stop();
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.getAttribute('href') === '#/' + (page.nav || name)) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const el = document.getElementById('page');
    el.replaceChildren();
    document.title = page.title + ' · 码上';
    try {
      await page.render(el, decodeURIComponent(parts[1] || ''));
    } catch (e) {
      if (e.status !== 401) el.append(Console.h('p', { class: 'error', role: 'alert' }, '出错了：' + e.message));
    }
  },

  async start() {
    const r = await fetch('/console/session', { credentials: 'same-origin' });
    Console.csrf = r.ok ? (await r.json()).csrf : null;
    if (!Console.csrf) { Console.showLogin(); return; }
    if (/[?&]failed=1/.test(location.search)) history.replaceState(null, '', '/console/' + location.hash);
    document.getElementById('nav').hidden = false;
    document.getElementById('logout').addEventListener('click', async () => {
      await fetch('/console/logout', { method: 'POST', credentials: 'same-origin',
                                      headers: { 'X-CSRF-Token': Console.csrf } });
      location.href = '/console/';
    });
    window.addEventListener('hashchange', Console.route);
    Console.route();
  },
};

document.addEventListener('DOMContentLoaded', () => { Console.start(); });

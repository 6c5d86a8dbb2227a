// gpubroker UI: what every page shares. The session (tokens + user) lives in localStorage;
// `GB.api` calls the JSON API, refreshing an expired access token once; `GB.el` builds DOM
// nodes with text set through textContent (never innerHTML), so API data cannot inject markup.
'use strict';

const GB = (() => {
  const KEY = 'gpubroker.session';

  function session() {
    try {
      const s = JSON.parse(localStorage.getItem(KEY) || 'null');
      return s && s.access_token ? s : null;
    } catch (_) {
      return null;
    }
  }

  function saveSession(tokens) {
    localStorage.setItem(KEY, JSON.stringify({
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      user: tokens.user,
    }));
  }

  function clearSession() {
    localStorage.removeItem(KEY);
  }

  function user() {
    const s = session();
    return s ? s.user : null;
  }

  function isAdmin() {
    const u = user();
    return !!u && u.role === 'admin';
  }

  /** An API error: the problem+json body (RFC 9457) and the HTTP status. */
  class Problem extends Error {
    constructor(status, body) {
      const b = body && typeof body === 'object' ? body : {};
      super(b.detail || b.title || `request failed (HTTP ${status})`);
      this.status = status;
      this.type = b.type || '';
      this.field = b.field || null;
      this.allowed = Array.isArray(b.allowed) ? b.allowed : null;
      this.title = b.title || '';
    }
    get slug() {
      return this.type.split('/').pop();
    }
  }

  let refreshing = null;

  /** Rotates the refresh token once, however many calls hit a 401 at the same time. */
  function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        const s = session();
        if (!s || !s.refresh_token) return false;
        const r = await fetch('/api/v1/auth/refresh', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: s.refresh_token }),
        });
        if (!r.ok) {
          clearSession();
          return false;
        }
        saveSession(await r.json());
        return true;
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  /**
   * Calls the API. Resolves to the parsed JSON body (null for 204); rejects with a Problem.
   * options: method, body (JSON-encoded), headers, auth (default true: send the token).
   */
  async function api(path, options = {}) {
    const { method = 'GET', body, headers = {}, auth = true } = options;
    const send = async () => {
      const h = Object.assign({ Accept: 'application/json' }, headers);
      if (body !== undefined) h['Content-Type'] = 'application/json';
      const s = session();
      if (auth && s) h.Authorization = `Bearer ${s.access_token}`;
      return fetch(path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    };
    let r;
    try {
      r = await send();
      if (r.status === 401 && auth && session()) {
        // Expired access token: rotate once and retry (anonymously when the session is gone).
        await refresh();
        r = await send();
      }
    } catch (e) {
      throw new Problem(0, { detail: 'The server could not be reached. Check your connection and retry.' });
    }
    const text = await r.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = { detail: text };
      }
    }
    if (!r.ok) throw new Problem(r.status, data);
    return data;
  }

  /** Builds an element: el('a', {href: '/x', class: 'y', dataset: {id: 1}}, 'text', child). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
      else if (v === true) node.setAttribute(k, '');
      else node.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** Shows an error (a Problem or any Error) in a `.problem` box; marks the named field. */
  function showError(box, err, fieldIds) {
    document.querySelectorAll('.invalid').forEach((n) => n.classList.remove('invalid'));
    if (!box) return;
    box.replaceChildren();
    if (!err) {
      box.hidden = true;
      return;
    }
    box.append(el('strong', {}, err.title && err.title !== err.message ? err.title : 'Error'));
    box.append(el('span', { class: 'problem-detail' }, err.message));
    if (err.allowed && err.allowed.length) {
      box.append(el('span', { class: 'problem-allowed' }, `Allowed: ${err.allowed.join(', ')}`));
    }
    box.hidden = false;
    if (err.field && fieldIds && fieldIds[err.field]) {
      const input = document.getElementById(fieldIds[err.field]);
      if (input) {
        input.classList.add('invalid');
        input.focus();
      }
    }
  }

  /**
   * A decimal USD string for display: cents from $1 up, hundredths of a cent below, rounded
   * half-up on integer micro-dollars (as the server does). `2.5` → `$2.50`, `0.051169` → `$0.0512`.
   */
  function usd(s) {
    if (s === null || s === undefined || s === '') return '–';
    const m = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(String(s));
    if (!m) return String(s);
    const micro = Number(m[2]) * 1e6 + Number((m[3] || '').padEnd(6, '0'));
    const decimals = micro >= 1e6 ? 2 : 4;
    const unit = 10 ** (6 - decimals);
    const r = Math.floor((micro + unit / 2) / unit);
    const scale = 10 ** decimals;
    return `${m[1]}$${Math.floor(r / scale)}.${String(r % scale).padStart(decimals, '0')}`;
  }

  /** GiB for display: whole numbers as they are, anything else to one decimal. */
  function gib(v) {
    const n = Number(v);
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  }

  function fmtTime(ms) {
    if (!ms) return '–';
    const d = new Date(Number(ms));
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  /** The API path of an offer: the id's `/`-separated segments, each percent-encoded. */
  function offerPath(id) {
    return String(id).split('/').map(encodeURIComponent).join('/');
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  /** Sends the visitor to log in, coming back here afterwards. */
  function toLogin() {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }

  /** Only same-site paths are valid `next` targets. */
  function safeNext(next, fallback) {
    return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : fallback;
  }

  function copyButtons(root) {
    (root || document).querySelectorAll('button[data-copy]').forEach((b) => {
      b.addEventListener('click', async () => {
        const src = document.getElementById(b.dataset.copy);
        if (!src) return;
        try {
          await navigator.clipboard.writeText(src.textContent);
          b.textContent = 'Copied';
        } catch (_) {
          const range = document.createRange();
          range.selectNodeContents(src);
          const sel = getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          b.textContent = 'Selected';
        }
        setTimeout(() => { b.textContent = 'Copy'; }, 1500);
      });
    });
  }

  const CRITERIA = {
    price: 'Price',
    perf: 'Performance',
    perf_per_dollar: 'Performance per $',
    vram: 'GPU memory',
    availability: 'Availability',
    reliability: 'Reliability',
  };

  /** A TOPSIS explanation: closeness, distances, and each criterion's pull as a bar. */
  function explanation(e) {
    if (!e) return el('p', { class: 'muted' }, 'No explanation for this offer.');
    const contributions = Array.isArray(e.contributions) ? e.contributions : [];
    const max = Math.max(1e-9, ...contributions.map(([, v]) => Math.abs(Number(v))));
    const rows = contributions.map(([name, v]) => {
      const value = Number(v);
      const bar = el('span', { class: `bar ${value >= 0 ? 'pos' : 'neg'}` });
      bar.style.width = `${(Math.abs(value) / max) * 50}%`;
      return el('div', { class: 'contrib', dataset: { criterion: name } },
        el('span', { class: 'contrib-name' }, CRITERIA[name] || name),
        el('span', { class: 'contrib-track' }, el('span', { class: 'contrib-axis' }), bar),
        el('span', { class: 'contrib-value num' }, `${value >= 0 ? '+' : ''}${value.toFixed(3)}`));
    });
    return el('div', { class: 'explanation' },
      el('p', { class: 'explanation-summary' },
        'Closeness to the ideal offer ', el('strong', {}, Number(e.closeness).toFixed(3)),
        ` (distance to ideal ${Number(e.distance_to_ideal).toFixed(3)}, to the worst ${Number(e.distance_to_anti_ideal).toFixed(3)}). `,
        'Bars show how much each criterion pulls this offer toward the ideal (right) or away from it (left).'),
      el('div', { class: 'contribs' }, rows));
  }

  /** A 0..1 score as a small bar with its value. */
  function scoreBar(score) {
    const s = Math.max(0, Math.min(1, Number(score) || 0));
    const fill = el('span', { class: 'score-fill' });
    fill.style.width = `${s * 100}%`;
    return el('span', { class: 'score', title: `TOPSIS closeness ${s.toFixed(4)}` },
      el('span', { class: 'score-track' }, fill), el('span', { class: 'score-value' }, s.toFixed(3)));
  }

  function renderSession() {
    const u = user();
    const byId = (id) => document.getElementById(id);
    if (byId('nav-login')) byId('nav-login').hidden = !!u;
    if (byId('nav-register')) byId('nav-register').hidden = !!u;
    if (byId('nav-logout')) byId('nav-logout').hidden = !u;
    if (byId('nav-admin')) byId('nav-admin').hidden = !isAdmin();
    if (byId('nav-security')) byId('nav-security').hidden = !u;
    if (byId('nav-user')) {
      byId('nav-user').hidden = !u;
      byId('nav-user').textContent = u ? u.email : '';
    }
  }

  async function logout() {
    const s = session();
    clearSession();
    if (s && s.refresh_token) {
      try {
        await api('/api/v1/auth/logout', { method: 'POST', body: { refresh_token: s.refresh_token }, auth: false });
      } catch (_) {
        // The session is gone locally either way.
      }
    }
    location.assign('/');
  }

  async function syncMode() {
    if (!session()) return;
    try {
      const me = await api('/api/v1/me');
      const badge = document.getElementById('mode-badge');
      if (badge && me && me.mode && badge.dataset.mode !== me.mode) {
        badge.dataset.mode = me.mode;
        badge.className = `mode-badge ${me.mode}`;
        badge.textContent = me.mode.toUpperCase();
      }
      if (me && me.user) {
        const s = session();
        if (s) saveSession(Object.assign({}, s, { user: me.user }));
        renderSession();
      }
    } catch (_) {
      renderSession();
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    renderSession();
    const out = document.getElementById('nav-logout');
    if (out) out.addEventListener('click', logout);
    copyButtons();
    syncMode();
  });

  return {
    api, el, showError, usd, gib, fmtTime, offerPath, newKey, session, saveSession, clearSession,
    user, isAdmin, toLogin, safeNext, Problem, renderSession, explanation, scoreBar,
  };
})();

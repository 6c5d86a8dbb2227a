// Admin pages: the sandbox mail outbox (activation links are clickable), the runtime
// parameters (list and edit) and the providers (health, breakers, sandbox fault knobs). The API enforces the admin role; this only hides the pages.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  const $ = (id) => document.getElementById(id);
  const section = document.querySelector('[data-admin-page]');
  if (!section) return;
  if (!GB.session()) {
    GB.toLogin();
    return;
  }
  const denied = (msg) => {
    const box = $('admin-denied');
    box.replaceChildren(GB.el('strong', {}, 'Admins only'), GB.el('span', { class: 'problem-detail' }, msg));
    box.hidden = false;
    section.hidden = true;
  };
  if (!GB.isAdmin()) {
    denied(`You are logged in as ${GB.user().email}, who is not an admin.`);
    return;
  }
  section.hidden = false;

  /** Text with its http(s) links made clickable; everything stays text nodes. */
  function linkify(text) {
    const out = [];
    const re = /https?:\/\/[^\s<>"')]+/g;
    let at = 0;
    for (const m of text.matchAll(re)) {
      if (m.index > at) out.push(text.slice(at, m.index));
      out.push(GB.el('a', { class: 'mail-link', href: m[0], rel: 'noopener noreferrer' }, m[0]));
      at = m.index + m[0].length;
    }
    if (at < text.length) out.push(text.slice(at));
    return out;
  }

  function outboxPage() {
    const list = $('outbox-list');
    let cursor = null;

    function mail(m) {
      return GB.el('article', { class: 'mail card', dataset: { mailId: m.id, kind: m.kind } },
        GB.el('header', { class: 'mail-head' },
          GB.el('h3', { class: 'mail-subject' }, m.subject),
          GB.el('p', { class: 'mail-meta' },
            GB.el('span', { class: 'chip' }, m.kind), ' to ', GB.el('span', { class: 'mail-to' }, m.to),
            ' · ', GB.el('time', {}, GB.fmtTime(m.created_at)))),
        GB.el('div', { class: 'mail-body' }, linkify(m.body_text)));
    }

    async function load(append) {
      const q = new URLSearchParams({ limit: '20' });
      const to = $('outbox-to').value.trim();
      if (to) q.set('to', to);
      if (append && cursor) q.set('cursor', cursor);
      try {
        const page = await GB.api(`/api/v1/admin/outbox?${q}`);
        GB.showError($('outbox-error'), null);
        const nodes = page.items.map(mail);
        if (append) list.append(...nodes);
        else list.replaceChildren(...nodes);
        cursor = page.next_cursor;
        $('outbox-more').hidden = !cursor;
        $('outbox-empty').hidden = list.children.length > 0;
        list.dataset.state = 'ready';
      } catch (e) {
        if (e.status === 403) denied(e.message);
        else GB.showError($('outbox-error'), e);
      }
    }

    $('outbox-filter').addEventListener('submit', (ev) => {
      ev.preventDefault();
      load(false);
    });
    $('outbox-more').addEventListener('click', () => load(true));
    load(false);
  }

  function paramsPage() {
    const tbody = $('params-body');

    function kindLabel(k) {
      switch (k && k.type) {
        case 'int': return `integer ${k.min}…${k.max}`;
        case 'bool': return 'true / false';
        case 'choice': return `one of ${k.allowed.join(', ')}`;
        case 'weights': return 'weights (criterion:weight,…)';
        case 'cost_table': return 'costs (MODEL:micro_usd,…)';
        default: return k ? k.type : '';
      }
    }

    function show(v) {
      return typeof v === 'string' ? v : JSON.stringify(v);
    }

    function editor(p) {
      const k = p.kind || {};
      if (k.type === 'bool' || k.type === 'choice') {
        const options = k.type === 'bool' ? ['true', 'false'] : k.allowed;
        const select = GB.el('select', { class: 'param-value', 'aria-label': `New value of ${p.key}` },
          options.map((o) => GB.el('option', { value: o }, o)));
        select.value = show(p.effective);
        return select;
      }
      return GB.el('input', {
        class: 'param-value', 'aria-label': `New value of ${p.key}`, value: show(p.effective),
        inputmode: k.type === 'int' ? 'numeric' : null,
      });
    }

    function parse(p, raw) {
      const t = p.kind && p.kind.type;
      if (t === 'bool') return raw === 'true';
      if (t === 'int' && /^-?\d+$/.test(raw.trim())) return Number(raw.trim());
      return raw;
    }

    function row(p) {
      const input = editor(p);
      const status = GB.el('span', { class: 'param-status', role: 'status' });
      const effective = GB.el('td', { class: 'mono small param-effective' }, show(p.effective));
      const save = GB.el('button', { type: 'submit', class: 'button small primary' }, 'Save');
      const form = GB.el('form', { class: 'param-form', novalidate: true }, input, save, status);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const value = parse(p, input.value);
        const put = (extra) => GB.api(`/api/v1/admin/params/${encodeURIComponent(p.key)}`, {
          method: 'PUT', body: Object.assign({ value }, extra),
        });
        save.disabled = true;
        status.className = 'param-status';
        status.textContent = 'Saving…';
        try {
          let v;
          try {
            v = await put({});
          } catch (e) {
            if (e.slug !== 'confirmation-required' || !window.confirm(`${e.message}\n\nApply it?`)) throw e;
            v = await put({ confirm: String(value) });
          }
          p.effective = v.effective;
          effective.textContent = show(v.effective);
          status.classList.add('ok');
          status.textContent = 'Saved';
        } catch (e) {
          status.classList.add('bad');
          status.textContent = e.message;
        } finally {
          save.disabled = false;
        }
      });
      return GB.el('tr', { dataset: { param: p.key } },
        GB.el('td', {}, GB.el('code', {}, p.key), GB.el('span', { class: 'sub' }, p.description)),
        GB.el('td', { class: 'small' }, kindLabel(p.kind)),
        GB.el('td', { class: 'mono small' }, show(p.default_value)),
        effective,
        GB.el('td', {}, form));
    }

    (async () => {
      try {
        const page = await GB.api('/api/v1/admin/params');
        tbody.replaceChildren(...page.items.map(row));
      } catch (e) {
        if (e.status === 403) denied(e.message);
        else GB.showError($('params-error'), e);
      }
    })();
  }

  function providersPage() {
    const tbody = $('providers-body');
    const caps = (c) => Object.entries(c || {}).filter(([, v]) => v).map(([k]) => k).join(', ');

    function faultsForm(p) {
      const f = p.faults;
      if (!f) return '–';
      const num = (name, value, label, attrs) => GB.el('label', { class: 'small' }, `${label} `,
        GB.el('input', Object.assign({ name, value: String(value), inputmode: 'decimal', size: 6 }, attrs || {})));
      const box = (name, checked, label) => GB.el('label', { class: 'small' },
        GB.el('input', { type: 'checkbox', name, checked }), ` ${label}`);
      const status = GB.el('span', { class: 'param-status', role: 'status' });
      const wire = f.wire_faults;
      const form = GB.el('form', { class: 'faults-form', novalidate: true, dataset: { provider: p.id } },
        num('latency_ms', f.latency_ms, 'latency ms'),
        num('error_rate', f.error_rate, 'error rate'),
        wire ? num('rate_limited_next', f.rate_limited_next, '429 next') : null,
        wire ? box('garbage', f.garbage, 'garbage') : null,
        wire ? box('hang', f.hang, 'hang') : null,
        GB.el('button', { type: 'submit', class: 'button small primary' }, 'Apply'), status);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const v = (n) => form.elements[n];
        const body = {
          latency_ms: Number(v('latency_ms').value),
          error_rate: Number(v('error_rate').value),
        };
        if (wire) {
          body.rate_limited_next = Number(v('rate_limited_next').value);
          body.garbage = v('garbage').checked;
          body.hang = v('hang').checked;
        }
        status.className = 'param-status';
        status.textContent = 'Saving…';
        try {
          await GB.api(`/api/v1/admin/sandbox/faults/${encodeURIComponent(p.id)}`, { method: 'PUT', body });
          status.classList.add('ok');
          status.textContent = 'Applied';
        } catch (e) {
          status.classList.add('bad');
          status.textContent = e.message;
        }
      });
      return form;
    }

    // Owned machines without an hourly cost are left out of the offers (never sold at $0).
    function unpriced(p) {
      if (p.kind !== 'owned') return null;
      const n = Number(p.unpriced) || 0;
      if (n === 0) return GB.el('span', { class: 'sub provider-unpriced', dataset: { unpriced: '0' } }, 'all priced');
      return GB.el('span', { class: 'sub provider-unpriced bad', dataset: { unpriced: String(n) } },
        `${n} unpriced (left out) · set a cost in `,
        GB.el('a', { href: '/admin/params' }, GB.el('code', {}, 'maas.hourly_cost_per_gpu_micro_usd')));
    }

    function row(p) {
      const unknown = (p.unknown_gpu_names || []).map((u) => `${u.name} (${u.rows})`).join(', ');
      const last = p.last_error
        ? GB.el('span', { class: 'bad' }, p.last_error)
        : (p.last_success_at ? new Date(p.last_success_at).toLocaleString() : '–');
      const offers = p.stale_age_seconds !== null && p.stale_age_seconds !== undefined
        ? `${p.offer_count} (stale, ${p.stale_age_seconds} s old)` : String(p.offer_count);
      return GB.el('tr', { dataset: { provider: p.id } },
        GB.el('td', {}, GB.el('strong', {}, p.name), GB.el('span', { class: 'sub' }, `${p.id} · ${caps(p.capabilities)}`)),
        GB.el('td', { class: 'small provider-kind' }, GB.el('span', { class: 'chip', dataset: { kind: p.kind || '' } }, p.kind || '–'),
          GB.el('span', { class: 'sub' }, p.transport), p.timeout_ms ? GB.el('span', { class: 'sub' }, `timeout ${p.timeout_ms} ms`) : null),
        GB.el('td', {}, GB.el('span', { class: 'chip' }, p.healthy ? 'healthy' : 'degraded')),
        GB.el('td', { class: 'small provider-breaker' }, p.breaker || '–'),
        GB.el('td', { class: 'small' }, last),
        GB.el('td', { class: 'small provider-offers' }, offers, unpriced(p)),
        GB.el('td', { class: 'small' }, unknown ? `${unknown} · ${p.unknown_gpus} rows skipped` : '–'),
        GB.el('td', {}, faultsForm(p)));
    }

    (async () => {
      try {
        const page = await GB.api('/api/v1/admin/providers');
        tbody.replaceChildren(...page.items.map(row));
      } catch (e) {
        if (e.status === 403) denied(e.message);
        else GB.showError($('providers-error'), e);
      }
    })();
  }

  if (section.dataset.adminPage === 'outbox') outboxPage();
  else if (section.dataset.adminPage === 'providers') providersPage();
  else paramsPage();
});

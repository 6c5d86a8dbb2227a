// Billing: balance, state and runway; the onboarding call to action for an account without
// credit; a period's statement (usage per deployment and per day) with its CSV download; the
// paged ledger history; refunds of unused credit.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  if (!GB.session()) {
    GB.toLogin();
    return;
  }
  const $ = (id) => document.getElementById(id);
  const cents = (m) => {
    const n = Number(m);
    const sign = n < 0 ? '-' : '';
    const a = Math.abs(n);
    return `${sign}$${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
  };
  const day = (d) => d.toISOString().slice(0, 10);
  const STATES = {
    healthy: 'Healthy', low_balance: 'Low balance',
    auto_release_pending: 'Running out — deployments will be released', depleted: 'Depleted',
  };

  async function summary() {
    try {
      const b = await GB.api('/api/v1/billing');
      $('bal-available').textContent = cents(b.available_minor);
      $('bal-held').textContent = cents(b.held_minor);
      $('bal-state').textContent = STATES[b.state] || b.state;
      $('bal-state').dataset.state = b.state;
      $('bal-burn').textContent = b.burn_per_hour_minor ? `${cents(b.burn_per_hour_minor)} / h` : 'nothing running';
      $('bal-runway').textContent = b.runway_seconds == null ? '–'
        : `${Math.floor(b.runway_seconds / 3600)} h ${Math.floor((b.runway_seconds % 3600) / 60)} min`;
      $('bal-refundable').textContent = cents(b.refundable_minor);
      $('onboarding').hidden = !b.onboarding;
    } catch (e) {
      GB.showError($('billing-error'), e);
    }
  }

  function period() {
    return `from=${encodeURIComponent($('st-from').value)}&to=${encodeURIComponent($('st-to').value)}`;
  }

  async function statement() {
    GB.showError($('billing-error'), null);
    try {
      const s = await GB.api(`/api/v1/billing/statement?${period()}`);
      const opening = s.opening.available_minor + s.opening.held_minor;
      const closing = s.closing.available_minor + s.closing.held_minor;
      $('statement-summary').textContent =
        `Opening credit ${cents(opening)} · closing ${cents(closing)} · usage ${cents(s.usage_total_minor)} · ${s.lines.length} ledger lines`;
      const ua = $('usage-allocations').querySelector('tbody');
      ua.replaceChildren(...s.usage_by_allocation.map((u) => GB.el('tr', {},
        GB.el('td', {}, GB.el('code', {}, u.allocation_id)), GB.el('td', {}, u.gpu_model || '–'),
        GB.el('td', {}, u.provider || '–'), GB.el('td', { class: 'num' }, cents(u.charged_minor)))));
      const ud = $('usage-days').querySelector('tbody');
      ud.replaceChildren(...s.usage_by_day.map((u) => GB.el('tr', {},
        GB.el('td', {}, u.day), GB.el('td', { class: 'num' }, cents(u.charged_minor)))));
    } catch (e) {
      GB.showError($('billing-error'), e);
    }
  }

  async function downloadCsv() {
    GB.showError($('billing-error'), null);
    const s = GB.session();
    try {
      const r = await fetch(`/api/v1/billing/statement?${period()}&format=csv`, {
        headers: { Authorization: `Bearer ${s.access_token}` },
      });
      if (!r.ok) throw new GB.Problem(r.status, await r.json().catch(() => null));
      const blob = await r.blob();
      const a = GB.el('a', {
        href: URL.createObjectURL(blob),
        download: `gpubroker-statement-${$('st-from').value}-${$('st-to').value}.csv`,
      });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      GB.showError($('billing-error'), e);
    }
  }

  let cursor = null;
  async function ledger(more) {
    try {
      const page = await GB.api(`/api/v1/billing/ledger?limit=25${more && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const rows = page.items.map((l) => GB.el('tr', { dataset: { kind: l.kind } },
        GB.el('td', {}, GB.fmtTime(l.at)), GB.el('td', {}, l.kind.replace('_', ' ')),
        GB.el('td', {}, l.allocation_id ? GB.el('code', {}, l.allocation_id) : '–'),
        GB.el('td', { class: 'num' }, cents(l.amount_minor))));
      if (more) $('ledger-body').append(...rows);
      else $('ledger-body').replaceChildren(...rows);
      cursor = page.next_cursor;
      $('ledger-more').hidden = !cursor;
    } catch (e) {
      GB.showError($('billing-error'), e);
    }
  }

  $('refund-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    GB.showError($('refund-error'), null);
    $('refund-done').hidden = true;
    // Integer cents straight from the text ("12", "12.5", "12.50"): no floating point.
    const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec($('refund-amount').value || '');
    if (!m) {
      GB.showError($('refund-error'), new Error('Enter an amount like 12 or 12.50'), {});
      return;
    }
    const amount = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
    try {
      await GB.api('/api/v1/billing/refunds', {
        method: 'POST', body: { amount_minor: amount }, headers: { 'Idempotency-Key': GB.newKey() },
      });
      $('refund-done').textContent = `Refunded ${cents(amount)}.`;
      $('refund-done').hidden = false;
      summary();
      ledger(false);
    } catch (e) {
      GB.showError($('refund-error'), e, { amount_minor: 'refund-amount' });
    }
  });

  const now = new Date();
  $('st-to').value = day(now);
  $('st-from').value = day(new Date(now.getTime() - 29 * 86400000));
  $('statement-form').addEventListener('submit', (ev) => { ev.preventDefault(); statement(); });
  $('csv-download').addEventListener('click', downloadCsv);
  $('ledger-more').addEventListener('click', () => ledger(true));
  summary();
  statement();
  ledger(false);
});

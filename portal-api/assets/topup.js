// Credit & payments: balance, holds, runway, top-ups (in SANDBOX a test card confirms the
// payment and the sandbox gateway emits the signed webhook), saved cards, payment history.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  if (!GB.session()) {
    GB.toLogin();
    return;
  }
  const $ = (id) => document.getElementById(id);
  const error = $('topup-error');
  let current = null;

  function cents(n) {
    const v = Number(n);
    const sign = v < 0 ? '-' : '';
    const a = Math.abs(v);
    return `${sign}$${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
  }

  /** "25", "25.5", "25.50" → 2550 (integer cents, no floating point). */
  function parseCents(s) {
    const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(s || '');
    if (!m) return null;
    return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
  }

  function runway(sec) {
    if (sec === null || sec === undefined) return 'nothing running';
    const h = Math.floor(sec / 3600);
    const m = Math.floor((sec % 3600) / 60);
    return h > 0 ? `${h} h ${m} min` : `${m} min`;
  }

  async function loadBalance() {
    const b = await GB.api('/api/v1/billing');
    $('balance-available').textContent = cents(b.available_minor);
    $('balance-held').textContent = cents(b.held_minor);
    $('balance-state').textContent = String(b.state).replace(/_/g, ' ');
    $('balance-runway').textContent = runway(b.runway_seconds);
    const f = b.last_payment_failure;
    const box = $('topup-failure');
    box.replaceChildren();
    if (f) {
      box.append(GB.el('strong', {}, 'Your last payment failed'),
        GB.el('span', { class: 'problem-detail' }, `${f.message}${f.code ? ` (${f.code})` : ''} — try again with another card.`));
      box.hidden = false;
    } else {
      box.hidden = true;
    }
  }

  async function loadPayments() {
    const r = await GB.api('/api/v1/billing/topups?limit=50');
    const items = r.items || [];
    $('payments-body').replaceChildren(...items.map((i) => GB.el('tr', { dataset: { id: i.id } },
      GB.el('td', {}, GB.fmtTime(i.created_at)),
      GB.el('td', {}, i.kind === 'setup' ? 'save card' : 'top-up'),
      GB.el('td', { class: 'num' }, i.kind === 'setup' ? '–' : cents(i.amount_minor)),
      GB.el('td', {}, i.status),
      GB.el('td', { class: 'muted' }, i.last_failure && i.status === 'failed' ? i.last_failure.message : ''))));
    const saved = items.filter((i) => i.kind === 'setup' && i.status === 'succeeded');
    $('methods').replaceChildren(...saved.map((i) => GB.el('li', {}, `${i.payment_method} · saved ${GB.fmtTime(i.updated_at)}`)));
    $('methods-empty').hidden = saved.length > 0;
  }

  async function refresh() {
    try {
      await Promise.all([loadBalance(), loadPayments()]);
    } catch (e) {
      GB.showError(error, e);
    }
  }

  function showIntent(intent) {
    current = intent;
    $('topup-pay').hidden = false;
    const sandbox = intent.gateway === 'sandbox';
    $('confirm-form').hidden = !sandbox;
    $('stripe-note').hidden = sandbox;
    $('topup-intent').textContent = intent.kind === 'setup'
      ? `Card setup ${intent.id} is ready to confirm.`
      : `Payment ${intent.id} of ${cents(intent.amount_minor)} is ready to confirm.`;
  }

  $('topup-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    GB.showError(error, null);
    const amount = parseCents($('topup-amount').value);
    if (amount === null) {
      GB.showError(error, new Error('Enter an amount like 25 or 25.50'), {});
      return;
    }
    $('topup-submit').disabled = true;
    try {
      const intent = await GB.api('/api/v1/billing/topups', {
        method: 'POST',
        body: { amount_minor: amount, currency: 'USD' },
        headers: { 'Idempotency-Key': GB.newKey() },
      });
      showIntent(intent);
      await loadPayments();
    } catch (e) {
      GB.showError(error, e, { amount_minor: 'topup-amount' });
    } finally {
      $('topup-submit').disabled = false;
    }
  });

  $('confirm-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!current) return;
    GB.showError(error, null);
    $('confirm-submit').disabled = true;
    try {
      await GB.api(`/api/v1/billing/sandbox/intents/${encodeURIComponent(current.id)}/confirm`, {
        method: 'POST',
        body: { card: $('confirm-card').value },
      });
      await refresh();
      const again = await GB.api('/api/v1/billing/topups?limit=50');
      const now = (again.items || []).find((i) => i.id === current.id);
      if (now && now.status === 'succeeded') {
        $('topup-pay').hidden = true;
        current = null;
      }
    } catch (e) {
      GB.showError(error, e);
    } finally {
      $('confirm-submit').disabled = false;
    }
  });

  $('save-card').addEventListener('click', async () => {
    GB.showError(error, null);
    try {
      const intent = await GB.api('/api/v1/billing/setup-intents', {
        method: 'POST',
        headers: { 'Idempotency-Key': GB.newKey() },
      });
      showIntent(intent);
      await loadPayments();
    } catch (e) {
      GB.showError(error, e);
    }
  });

  refresh();
});

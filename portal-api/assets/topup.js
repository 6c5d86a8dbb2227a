// Credit & payments: balance, holds, runway, top-ups, saved cards, payment history. In SANDBOX
// a test card confirms the payment and the sandbox gateway emits the signed webhook; when the
// POD pays through Stripe, the server loads Stripe.js and the Payment Element confirms the
// intent's client secret with `stripe.confirmPayment`. Either way the balance grows only when
// the (signed) webhook arrives, never because this page says so.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  if (!GB.session()) {
    GB.toLogin();
    return;
  }
  const $ = (id) => document.getElementById(id);
  const error = $('topup-error');
  const done = $('topup-done');
  let current = null;
  // Stripe.js: present only when the server rendered the key (and the script loaded).
  const stripeConfig = $('stripe-config');
  const stripeKey = stripeConfig ? stripeConfig.dataset.publishableKey : '';
  let stripe = null;
  let elements = null;
  if (stripeKey) {
    if (typeof window.Stripe === 'function') {
      stripe = window.Stripe(stripeKey);
    } else {
      GB.showError(error, new Error('The payment form (Stripe.js) could not be loaded. Check your connection or blockers and reload.'));
    }
  }

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

  function say(text) {
    done.textContent = text;
    done.hidden = !text;
  }

  /** Polls the balance a few times while the gateway's webhook is on its way. */
  async function awaitCredit(id) {
    for (let i = 0; i < 10; i += 1) {
      const r = await GB.api('/api/v1/billing/topups?limit=50');
      const now = (r.items || []).find((x) => x.id === id);
      if (now && now.status !== 'open') {
        return now;
      }
      await new Promise((res) => setTimeout(res, 1500));
    }
    return null;
  }

  function mountStripe(intent) {
    elements = stripe.elements({ clientSecret: intent.client_secret });
    const payment = elements.create('payment');
    $('payment-element').replaceChildren();
    payment.mount('#payment-element');
  }

  function showIntent(intent) {
    current = intent;
    say('');
    $('topup-pay').hidden = false;
    const sandbox = intent.gateway === 'sandbox';
    const viaStripe = !sandbox && !!stripe;
    $('confirm-form').hidden = !sandbox;
    $('stripe-form').hidden = !viaStripe;
    $('stripe-note').hidden = sandbox || viaStripe;
    if (viaStripe) mountStripe(intent);
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
        say(now.kind === 'setup' ? 'Card saved.' : `Payment succeeded: ${cents(now.amount_minor)} added to your credit.`);
        current = null;
      }
    } catch (e) {
      GB.showError(error, e);
    } finally {
      $('confirm-submit').disabled = false;
    }
  });

  $('stripe-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!current || !stripe || !elements) return;
    GB.showError(error, null);
    $('stripe-submit').disabled = true;
    try {
      const back = `${location.origin}/billing/topup?intent=${encodeURIComponent(current.id)}`;
      const confirm = current.kind === 'setup' ? stripe.confirmSetup.bind(stripe) : stripe.confirmPayment.bind(stripe);
      const r = await confirm({ elements, confirmParams: { return_url: back }, redirect: 'if_required' });
      if (r.error) throw new Error(r.error.message || 'The card was not accepted.');
      say('Payment submitted: your credit grows as soon as Stripe confirms it.');
      const id = current.id;
      $('topup-pay').hidden = true;
      current = null;
      const now = await awaitCredit(id);
      await refresh();
      if (now && now.status === 'succeeded') {
        say(now.kind === 'setup' ? 'Card saved.' : `Payment succeeded: ${cents(now.amount_minor)} added to your credit.`);
      }
    } catch (e) {
      GB.showError(error, e);
    } finally {
      $('stripe-submit').disabled = false;
    }
  });

  // Back from a redirect (3-D Secure): Stripe appends the outcome to the return URL.
  const back = new URLSearchParams(location.search);
  if (back.get('redirect_status')) {
    say(back.get('redirect_status') === 'succeeded'
      ? 'Payment submitted: your credit grows as soon as Stripe confirms it.'
      : 'The payment was not completed. Try again with another card.');
    history.replaceState(null, '', location.pathname);
  }

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

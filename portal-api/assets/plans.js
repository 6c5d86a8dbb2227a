// Plans: for a signed-in user, the current plan and subscription, a Monthly/Annual subscribe
// form per paid plan and a cancel button with an inline confirmation. The plan moves on the
// gateway's webhook (SANDBOX: at once), so after a change the page polls until it shows.
// Anonymous visitors keep the server-rendered "Sign in to subscribe" links.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  if (!GB.session()) return;
  const $ = (id) => document.getElementById(id);
  const error = $('plans-error');
  const NAMES = { free: 'FREE', pro: 'PRO', enterprise: 'ENTERPRISE' };
  const INTERVALS = { month: 'monthly', year: 'annual' };
  const cents = (m) => `$${Math.floor(Number(m) / 100)}.${String(Number(m) % 100).padStart(2, '0')}`;
  let current = null;
  let subscription = null;

  document.querySelectorAll('.plan-signin').forEach((a) => { a.hidden = true; });
  document.querySelectorAll('form.plan-subscribe').forEach((f) => { f.hidden = false; });
  $('subscription').hidden = false;

  function status(text) {
    $('sub-status').textContent = text || '';
    $('sub-status').hidden = !text;
  }

  function render() {
    $('sub-plan').textContent = NAMES[current] || current || '–';
    const s = subscription;
    let detail = '';
    if (s) {
      detail = `${INTERVALS[s.interval] || s.interval} subscription, ${cents(s.amount_minor)} ${String(s.currency || '').toUpperCase()} · ${s.status}`;
      if (s.current_period_end) detail += ` · renews ${GB.fmtTime(s.current_period_end * 1000)}`;
      if (s.last_failure && s.last_failure.message) detail += ` · last payment failed: ${s.last_failure.message}`;
    } else if (current && current !== 'free') {
      detail = 'set by an administrator';
    }
    $('sub-detail').textContent = detail;
    $('sub-cancel').hidden = !s;
    document.querySelectorAll('[data-plan-current]').forEach((n) => {
      n.hidden = n.dataset.planCurrent !== current;
    });
    document.querySelectorAll('form.plan-subscribe').forEach((f) => {
      const same = s && s.plan === f.dataset.plan;
      f.querySelector('button[type=submit]').textContent = same ? 'Switch billing' : 'Subscribe';
    });
  }

  async function load() {
    const [plans, billing] = await Promise.all([GB.api('/api/v1/plans'), GB.api('/api/v1/billing')]);
    current = plans.current || 'free';
    subscription = billing.subscription || null;
    render();
  }

  /** Polls until `done()` holds (the webhook moved the plan), up to ~30 s. */
  async function until(done, waiting) {
    for (let i = 0; i < 30; i += 1) {
      await load();
      if (done()) return true;
      status(waiting);
      await new Promise((r) => setTimeout(r, 1000));
    }
    return false;
  }

  function busy(on) {
    document.querySelectorAll('form.plan-subscribe button, #sub-cancel').forEach((b) => { b.disabled = on; });
  }

  document.querySelectorAll('form.plan-subscribe').forEach((form) => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const plan = form.dataset.plan;
      const interval = form.elements.interval.value;
      GB.showError(error, null);
      busy(true);
      status(`Subscribing to ${NAMES[plan]}…`);
      try {
        await GB.api('/api/v1/billing/subscription', { method: 'POST', body: { plan, interval } });
        const ok = await until(() => current === plan, 'Waiting for the payment provider to confirm…');
        status(ok ? `You are on ${NAMES[plan]} now.`
          : 'The subscription was created; the plan changes once the payment provider confirms it. Reload later.');
      } catch (e) {
        status(null);
        GB.showError(error, e);
      }
      busy(false);
    });
  });

  const cancel = $('sub-cancel');
  cancel.addEventListener('click', () => {
    const yes = GB.el('button', { type: 'button', class: 'button small danger', id: 'sub-cancel-confirm' }, 'Yes, cancel');
    const no = GB.el('button', { type: 'button', class: 'button small' }, 'Keep it');
    const ask = GB.el('span', { class: 'confirm' }, GB.el('span', { class: 'confirm-q' }, 'Cancel your subscription now?'), yes, no);
    const restore = () => { ask.remove(); cancel.hidden = !subscription; };
    no.addEventListener('click', restore);
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      GB.showError(error, null);
      try {
        await GB.api('/api/v1/billing/subscription', { method: 'DELETE' });
        const ok = await until(() => subscription === null && current === 'free', 'Canceling…');
        status(ok ? 'Canceled: you are on FREE now.' : 'Canceled; the plan drops to FREE once the payment provider confirms it.');
      } catch (e) {
        GB.showError(error, e);
      }
      restore();
    });
    cancel.hidden = true;
    cancel.after(ask);
    yes.focus();
  });

  load().catch((e) => {
    if (e.status === 401) GB.toLogin();
    else GB.showError(error, e);
  });
});

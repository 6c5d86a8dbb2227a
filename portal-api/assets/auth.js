// Login and registration: POST the credentials (or finish a sign-in with Google/GitHub
// through the hosted UI), keep the tokens, go where the visitor wanted.
'use strict';

/** Keeps the session and goes on: with no credit and nothing running, billing first (the
 * onboarding call to action), else where the visitor wanted. */
async function signedIn(tokens, next) {
  GB.saveSession(tokens);
  const billing = await GB.api('/api/v1/billing').catch(() => null);
  location.assign(billing && billing.onboarding ? '/billing?onboarding=1' : next);
}

/** The hosted UI sent the browser back with `code` and `state` (or `error`): trade them for
 * the session through the API, which checks the state against this browser's cookie. */
async function finishOAuth() {
  const q = new URLSearchParams(location.search);
  const status = document.getElementById('oauth-status');
  const error = document.getElementById('auth-error');
  const failed = (why, err) => {
    document.getElementById('oauth-title').textContent = 'Sign-in not completed';
    status.textContent = why;
    GB.showError(error, err);
  };
  // The code is single-use and must not linger in history or be shared by a copied URL.
  history.replaceState(null, '', location.pathname);
  if (q.get('error') || !q.get('code')) {
    failed('The sign-in was not completed.',
      new Error(q.get('error_description') || q.get('error') || 'No authorization code came back from the provider.'));
    return;
  }
  try {
    const tokens = await GB.api('/api/v1/auth/oauth/token', {
      method: 'POST',
      auth: false,
      body: { code: q.get('code'), state: q.get('state') || '' },
    });
    status.textContent = `Signed in as ${tokens.user.email}.`;
    await signedIn(tokens, GB.safeNext(tokens.next, '/offers'));
  } catch (e) {
    failed('The sign-in was not completed. Start again from the log-in page.', e);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  if (document.querySelector('[data-page=oauth-callback]')) {
    finishOAuth();
    return;
  }
  const form = document.getElementById('login-form') || document.getElementById('register-form');
  if (!form) return;
  const registering = form.id === 'register-form';
  const submit = form.querySelector('button[type=submit]');
  const error = document.getElementById('auth-error');
  const next = GB.safeNext(new URLSearchParams(location.search).get('next'), '/offers');
  for (const a of document.querySelectorAll('#to-register, #to-login, .oauth-button')) {
    if (next !== '/offers') a.href = `${a.getAttribute('href')}?next=${encodeURIComponent(next)}`;
  }
  if (GB.session() && !registering) {
    const note = GB.el('p', { class: 'notice', id: 'already' }, `You are logged in as ${GB.user().email}. `,
      GB.el('a', { href: next }, 'Continue →'));
    form.before(note);
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    GB.showError(error, null);
    submit.disabled = true;
    try {
      const tokens = await GB.api(registering ? '/api/v1/auth/register' : '/api/v1/auth/login', {
        method: 'POST',
        auth: false,
        body: {
          email: document.getElementById('email').value.trim(),
          password: document.getElementById('password').value,
        },
      });
      if (tokens.mfa_required) {
        mfaStep(tokens.mfa_token);
        return;
      }
      if (!tokens.access_token) {
        // LIVE PODs: the address must be confirmed before the first login.
        form.hidden = true;
        document.getElementById('verify-notice').hidden = false;
        return;
      }
      await signedIn(tokens, next);
    } catch (e) {
      GB.showError(error, e, { email: 'email', password: 'password' });
      if (e.slug === 'email-not-verified') {
        const email = document.getElementById('email').value.trim();
        error.append(GB.el('a', { id: 'resend-link', href: `/verify-email?email=${encodeURIComponent(email)}` },
          'Send a new confirmation link'));
      }
      submit.disabled = false;
    }
  });

  /** The second step of a login with MFA: a TOTP code or a recovery code. */
  function mfaStep(mfaToken) {
    const mfa = document.getElementById('mfa-form');
    const mfaError = document.getElementById('mfa-error');
    form.hidden = true;
    mfa.hidden = false;
    document.getElementById('mfa-code').focus();
    mfa.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      GB.showError(mfaError, null);
      try {
        const tokens = await GB.api('/api/v1/auth/login/mfa', {
          method: 'POST',
          auth: false,
          body: { mfa_token: mfaToken, code: document.getElementById('mfa-code').value.trim() },
        });
        await signedIn(tokens, next);
      } catch (e) {
        GB.showError(mfaError, e, { code: 'mfa-code' });
      }
    });
  }
});

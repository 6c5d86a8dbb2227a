// Email verification: redeem the link's token once (then drop it from the address bar); offer
// a new link when it failed, or straight away when the page is opened without a token (the
// login page links here for an account that is not confirmed yet).
'use strict';

document.addEventListener('DOMContentLoaded', async () => {
  const query = new URLSearchParams(location.search);
  const token = query.get('token') || '';
  const progress = document.getElementById('verify-progress');
  const error = document.getElementById('verify-error');
  const resend = document.getElementById('resend-form');
  document.getElementById('resend-email').value = query.get('email') || '';
  if (!token) {
    progress.textContent = 'Lost the link, or did it expire? We can send you a new one.';
    resend.hidden = false;
  } else {
    try {
      await GB.api('/api/v1/auth/verify-email', { method: 'POST', auth: false, body: { token } });
      progress.hidden = true;
      document.getElementById('verify-done').hidden = false;
    } catch (e) {
      progress.hidden = true;
      GB.showError(error, e);
      resend.hidden = false;
    }
    // The token is spent (or useless): keep it out of the history and of shared screens.
    history.replaceState(null, '', location.pathname);
  }
  resend.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    GB.showError(error, null);
    try {
      await GB.api('/api/v1/auth/verify-email/resend', {
        method: 'POST', auth: false, body: { email: document.getElementById('resend-email').value.trim() },
      });
      document.getElementById('resend-done').hidden = false;
    } catch (e) {
      GB.showError(error, e, { email: 'resend-email' });
    }
  });
});

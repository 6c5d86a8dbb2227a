// Email verification: redeem the link's token once; offer a new link when it failed.
'use strict';

document.addEventListener('DOMContentLoaded', async () => {
  const token = new URLSearchParams(location.search).get('token') || '';
  const progress = document.getElementById('verify-progress');
  const error = document.getElementById('verify-error');
  const resend = document.getElementById('resend-form');
  try {
    if (!token) throw new Error('This link has no token. Use the link from the mail.');
    await GB.api('/api/v1/auth/verify-email', { method: 'POST', auth: false, body: { token } });
    progress.hidden = true;
    document.getElementById('verify-done').hidden = false;
  } catch (e) {
    progress.hidden = true;
    GB.showError(error, e);
    resend.hidden = false;
  }
  resend.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await GB.api('/api/v1/auth/verify-email/resend', {
        method: 'POST', auth: false, body: { email: document.getElementById('resend-email').value.trim() },
      });
      document.getElementById('resend-done').hidden = false;
    } catch (e) {
      GB.showError(error, e);
    }
  });
});

// Security settings: status, TOTP enrolment (QR + key, activate with a code, recovery codes
// shown once), turning MFA off, signing out everywhere.
'use strict';

document.addEventListener('DOMContentLoaded', async () => {
  if (!GB.session()) {
    GB.toLogin();
    return;
  }
  const $ = (id) => document.getElementById(id);
  const error = $('security-error');

  async function load() {
    const s = await GB.api('/api/v1/me/security');
    $('sec-provider').textContent = s.provider;
    $('sec-verified').textContent = s.email_verified ? 'confirmed' : 'not confirmed yet';
    $('sec-mfa').textContent = s.mfa_enabled ? 'on (authenticator app)' : 'off';
    $('sec-codes').textContent = String(s.recovery_codes_remaining);
    $('mfa-off').hidden = s.mfa_enabled;
    $('mfa-on').hidden = !s.mfa_enabled;
  }

  $('mfa-enrol').addEventListener('click', async () => {
    GB.showError(error, null);
    try {
      const e = await GB.api('/api/v1/me/mfa/totp', { method: 'POST', body: {} });
      $('mfa-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(e.qr_svg)}`;
      $('mfa-secret').textContent = e.secret;
      $('mfa-off').hidden = true;
      $('mfa-setup').hidden = false;
      $('mfa-activate-code').focus();
    } catch (e) {
      GB.showError(error, e);
    }
  });

  $('mfa-activate-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    GB.showError(error, null);
    try {
      const r = await GB.api('/api/v1/me/mfa/totp/activate', {
        method: 'POST', body: { code: $('mfa-activate-code').value.trim() },
      });
      $('mfa-setup').hidden = true;
      const list = $('mfa-code-list');
      list.replaceChildren(...r.recovery_codes.map((c) => GB.el('li', {}, GB.el('code', {}, c))));
      $('mfa-codes').hidden = r.recovery_codes.length === 0;
      await load();
    } catch (e) {
      GB.showError(error, e, { code: 'mfa-activate-code' });
    }
  });

  $('mfa-disable-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    GB.showError(error, null);
    try {
      await GB.api('/api/v1/me/mfa/disable', { method: 'POST', body: { code: $('mfa-disable-code').value.trim() } });
      $('mfa-codes').hidden = true;
      await load();
    } catch (e) {
      GB.showError(error, e, { code: 'mfa-disable-code' });
    }
  });

  $('logout-all').addEventListener('click', async () => {
    try {
      await GB.api('/api/v1/auth/logout-all', { method: 'POST', body: {} });
    } catch (_) {
      // Signed out locally either way.
    }
    GB.clearSession();
    location.assign('/login');
  });

  try {
    await load();
  } catch (e) {
    GB.showError(error, e);
  }
});

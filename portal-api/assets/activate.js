// The page the emailed activation link opens: it spends the link's token (no login needed:
// the token is the credential) and shows how to connect, or why it could not.
'use strict';

document.addEventListener('DOMContentLoaded', async () => {
  const $ = (id) => document.getElementById(id);
  let id = location.pathname.split('/')[2] || '';
  try {
    id = decodeURIComponent(id);
  } catch (_) {
    // Keep the raw segment; the API will say it is unknown.
  }
  const token = new URLSearchParams(location.search).get('token');
  const progress = $('activate-progress');

  function fail(err) {
    progress.textContent = 'If you already used this link, the connection details are on My deployments.';
    GB.showError($('activate-error'), err);
    $('activate-card').dataset.result = 'error';
  }

  if (!token) {
    fail(new Error('This activation link has no token. Open the full link from the email.'));
    return;
  }
  try {
    const d = await GB.api(`/api/v1/deployments/${encodeURIComponent(id)}/activate`, {
      method: 'POST',
      auth: false,
      body: { token },
    });
    // The token is single use: drop it from the address bar and history.
    history.replaceState(null, '', location.pathname);
    progress.hidden = true;
    $('activate-id').textContent = d.id;
    $('activate-state').textContent = d.state;
    $('activate-state').className = `state-badge state-${d.state}`;
    const c = d.connection;
    if (c) {
      $('ssh-command').textContent = `ssh -p ${c.ssh_port} ${c.ssh_user}@${c.ssh_host}`;
      if (c.jupyter_url && /^https?:\/\//.test(c.jupyter_url)) {
        $('jupyter-link').href = c.jupyter_url;
        $('jupyter-link').textContent = `Open Jupyter (${new URL(c.jupyter_url).host})`;
        $('jupyter').hidden = false;
      }
    } else {
      $('ssh-command').textContent = 'Connection details are not available yet; see My deployments.';
    }
    $('connection').hidden = false;
    $('activate-card').dataset.result = 'ok';
  } catch (e) {
    fail(e);
  }
});

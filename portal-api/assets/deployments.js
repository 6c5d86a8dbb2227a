// My deployments: state (polled every 2 s while any deployment is not in a final state), connection
// details once active, and release with an inline confirmation. Rows are keyed by id and only
// replaced when the deployment changed, so polling never closes an open confirmation. A
// deployment that failed over shows where it moved from: its single view's `attempts` are
// fetched once per deployment (again only while it is still provisioning and changed).
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  if (!GB.session()) {
    GB.toLogin();
    return;
  }
  const $ = (id) => document.getElementById(id);
  const body = $('deployments-body');
  const error = $('deployments-error');
  const highlight = new URLSearchParams(location.search).get('highlight');
  const SETTLED = new Set(['released', 'failed', 'release_failed']);
  const RELEASABLE = new Set(['ready', 'active', 'release_failed']);
  const LABELS = {
    requested: 'requested',
    provisioning: 'provisioning',
    ready: 'ready',
    active: 'active',
    releasing: 'releasing',
    released: 'released',
    failed: 'failed',
    release_failed: 'release failed',
  };
  let first = [];
  let older = [];
  let olderCursor = null;
  let timer = null;
  // id → {key, final, attempts}: the failover attempts already known per deployment.
  const moves = new Map();
  const OPEN = new Set(['requested', 'provisioning']);
  const OUTCOMES = { no_capacity: 'no capacity', no_quota: 'no quota', transient: 'provider error' };
  const moveKey = (d) => `${d.state}:${d.updated_at}:${d.provider}`;

  function movedNote(d) {
    const m = moves.get(d.id);
    if (!m || m.attempts.length === 0) return null;
    // Several offers of one provider left for the same reason read as one.
    const from = [...new Set(m.attempts.slice().sort((a, b) => a.seq - b.seq)
      .map((a) => `${a.provider} (${OUTCOMES[a.outcome] || a.outcome})`))].join(', ');
    return GB.el('span', { class: 'sub moved', title: m.attempts.map((a) => a.error || '').filter(Boolean).join('\n') || null },
      `moved from ${from}`);
  }

  function needsAttempts(d) {
    const m = moves.get(d.id);
    return !m || (!m.final && m.key !== moveKey(d));
  }

  /** Fetches the attempts of deployments not known yet (a few per poll); true if any arrived. */
  async function fetchAttempts(list) {
    const todo = list.filter(needsAttempts).slice(0, 10);
    const got = await Promise.all(todo.map(async (d) => {
      try {
        const v = await GB.api(`/api/v1/deployments/${encodeURIComponent(d.id)}`);
        moves.set(d.id, { key: moveKey(v), final: !OPEN.has(v.state), attempts: Array.isArray(v.attempts) ? v.attempts : [] });
        return true;
      } catch (_) {
        // Not retried every poll: the note is a nicety, the row stays as listed.
        moves.set(d.id, { key: moveKey(d), final: true, attempts: [] });
        return false;
      }
    }));
    return got.some(Boolean) || list.some(needsAttempts);
  }

  function rowRev(d) {
    const m = moves.get(d.id);
    return `${d.state}:${d.updated_at}:${m ? m.attempts.length : '?'}`;
  }

  function sshCommand(c) {
    return `ssh -p ${c.ssh_port} ${c.ssh_user}@${c.ssh_host}`;
  }

  function connectionCell(d) {
    if (d.state === 'active' && d.connection) {
      const c = d.connection;
      const codeId = `ssh-${d.id}`;
      const copy = GB.el('button', { type: 'button', class: 'button small copy' }, 'Copy');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(sshCommand(c));
          copy.textContent = 'Copied';
        } catch (_) {
          copy.textContent = 'Select it';
        }
        setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
      });
      const jupyter = c.jupyter_url && /^https?:\/\//.test(c.jupyter_url)
        ? GB.el('a', { class: 'jupyter', href: c.jupyter_url, target: '_blank', rel: 'noopener noreferrer' }, 'Jupyter ↗')
        : null;
      return GB.el('div', { class: 'connection' },
        GB.el('code', { class: 'command ssh-command', id: codeId }, sshCommand(c)),
        GB.el('div', { class: 'connection-actions' }, copy, jupyter));
    }
    switch (d.state) {
      case 'requested':
      case 'provisioning':
        return GB.el('span', { class: 'muted' }, 'Provisioning…');
      case 'ready':
        return GB.el('span', { class: 'hint' }, 'Ready: open the activation link we emailed you.');
      case 'releasing':
        return GB.el('span', { class: 'muted' }, 'Releasing…');
      case 'failed':
      case 'release_failed':
        return GB.el('span', { class: 'error-text' }, d.failure_reason || 'The provider reported an error.');
      default:
        return GB.el('span', { class: 'muted' }, '–');
    }
  }

  function actionsCell(d) {
    const cell = GB.el('td', { class: 'right actions' });
    if (!RELEASABLE.has(d.state)) return cell;
    const release = GB.el('button', { type: 'button', class: 'button small danger-outline release' }, 'Release');
    release.addEventListener('click', () => {
      const yes = GB.el('button', { type: 'button', class: 'button small danger release-confirm' }, 'Yes, release');
      const no = GB.el('button', { type: 'button', class: 'button small release-cancel' }, 'Cancel');
      const ask = GB.el('span', { class: 'confirm' }, GB.el('span', { class: 'confirm-q' }, 'Release it?'), yes, no);
      no.addEventListener('click', () => cell.replaceChildren(release));
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        no.disabled = true;
        yes.textContent = 'Releasing…';
        try {
          await GB.api(`/api/v1/deployments/${encodeURIComponent(d.id)}/release`, { method: 'POST' });
          GB.showError(error, null);
        } catch (e) {
          GB.showError(error, e);
          cell.replaceChildren(release);
        }
        load();
      });
      cell.replaceChildren(ask);
      yes.focus();
    });
    cell.append(release);
    return cell;
  }

  function row(d) {
    const transitional = !SETTLED.has(d.state) && d.state !== 'active' && d.state !== 'ready';
    return GB.el('tr', {
      class: d.id === highlight ? 'highlight' : null,
      dataset: { deploymentId: d.id, state: d.state, rev: rowRev(d) },
    },
    GB.el('td', {},
      GB.el('code', { class: 'short-id', title: d.id }, d.id.slice(0, 8)),
      GB.el('span', { class: 'sub' }, GB.fmtTime(d.created_at))),
    GB.el('td', {},
      GB.el('strong', {}, `${d.gpu_count}× ${d.gpu_model}`),
      GB.el('span', { class: 'sub' }, `${d.image} · ${d.disk_gib} GiB disk`)),
    GB.el('td', {}, d.provider, movedNote(d)),
    GB.el('td', { class: 'num' }, GB.usd(d.quoted_price_per_hour)),
    GB.el('td', {},
      GB.el('span', { class: `state-badge state-${d.state}${transitional ? ' moving' : ''}` }, LABELS[d.state] || d.state)),
    GB.el('td', {}, connectionCell(d)),
    actionsCell(d));
  }

  function render() {
    const seen = new Set(first.map((d) => d.id));
    const all = first.concat(older.filter((d) => !seen.has(d.id)));
    const existing = new Map([...body.querySelectorAll('tr[data-deployment-id]')].map((tr) => [tr.dataset.deploymentId, tr]));
    body.replaceChildren(...all.map((d) => {
      const tr = existing.get(d.id);
      return tr && tr.dataset.rev === rowRev(d) ? tr : row(d);
    }));
    $('deployments-empty').hidden = all.length > 0;
    const live = all.filter((d) => !SETTLED.has(d.state)).length;
    const moving = live > 0;
    $('deployments-summary').textContent = all.length === 0
      ? 'Nothing deployed yet.'
      : `${all.length} deployment${all.length === 1 ? '' : 's'} · ${live} live${moving ? ' · refreshing every 2 s' : ''}`;
    $('more-deployments').hidden = !olderCursor;
    return moving;
  }

  function listed() {
    const seen = new Set(first.map((d) => d.id));
    return first.concat(older.filter((d) => !seen.has(d.id)));
  }

  async function load() {
    clearTimeout(timer);
    let again = true;
    try {
      const page = await GB.api('/api/v1/deployments?limit=50');
      first = page.items;
      if (older.length === 0) olderCursor = page.next_cursor;
      again = render();
      if (error.dataset.source === 'poll') GB.showError(error, null);
      if (await fetchAttempts(listed())) {
        render();
        again = again || listed().some(needsAttempts);
      }
    } catch (e) {
      if (e.status === 401) {
        GB.toLogin();
        return;
      }
      GB.showError(error, e);
      error.dataset.source = 'poll';
    }
    if (again) timer = setTimeout(load, 2000);
  }

  $('more-deployments').addEventListener('click', async () => {
    if (!olderCursor) return;
    try {
      const page = await GB.api(`/api/v1/deployments?limit=50&cursor=${encodeURIComponent(olderCursor)}`);
      older = older.concat(page.items);
      olderCursor = page.next_cursor;
      render();
      if (await fetchAttempts(older)) render();
    } catch (e) {
      GB.showError(error, e);
    }
  });

  load();
});

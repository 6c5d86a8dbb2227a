// One offer: specs, price, score and its explanation, and the deploy form. A deploy carries
// an Idempotency-Key that stays the same until the form changes, so a double submit or a
// retry after a lost response cannot create a second deployment.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  const $ = (id) => document.getElementById(id);
  const raw = location.pathname.slice('/offers/'.length);
  const id = raw.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch (_) {
      return s;
    }
  }).join('/');
  const FIELDS = { disk_gib: 'deploy-disk', image: 'deploy-image', ssh_public_key: 'deploy-ssh', offer_id: 'deploy-submit' };
  let key = GB.newKey();

  function spec(term, value) {
    return [GB.el('dt', {}, term), GB.el('dd', {}, value === null || value === undefined || value === '' ? '–' : value)];
  }

  function render(o) {
    document.title = `${o.gpu_count}× ${o.gpu_model} at ${o.provider} · gpubroker`;
    $('offer-provider').textContent = `${o.provider} · ${o.instance_type}`;
    $('offer-title').textContent = `${o.gpu_count}× ${o.gpu_model}`;
    $('offer-price').textContent = GB.usd(o.price_per_hour);
    $('offer-price-gpu').textContent = ` · ${GB.usd(o.price_per_gpu_hour)} per GPU-hour`;
    $('offer-specs').replaceChildren(
      ...spec('GPU memory', `${GB.gib(o.gpu_memory_gib)} GiB per GPU`),
      ...spec('Exact price', `$${o.price_per_hour}/h, $${o.price_per_gpu_hour}/GPU·h`),
      ...spec('vCPUs', o.vcpus),
      ...spec('Memory', o.memory_gib ? `${GB.gib(o.memory_gib)} GiB` : null),
      ...spec('Storage', o.storage_gib ? `${o.storage_gib} GiB` : null),
      ...spec('Region', `${o.region}${o.country ? ` (${o.country})` : ''}`),
      ...spec('Pricing', o.pricing === 'spot' ? 'Spot (may be interrupted)' : 'On demand'),
      ...spec('Available now', o.available > 0 ? String(o.available) : 'none'),
      ...spec('Listing', `${o.source}${o.as_of ? `, as of ${new Date(o.as_of).toLocaleString()}` : ''}`),
      ...spec('Score', GB.scoreBar(o.score)),
      ...spec('Offer id', GB.el('code', {}, o.id)));
    $('offer-explanation').replaceChildren(GB.explanation(o.explanation));
    $('offer-detail').hidden = false;
    $('offer-detail').dataset.offerId = o.id;
    if (o.available < 1) {
      $('deploy-error').replaceChildren(GB.el('span', {}, 'No capacity is free on this offer right now; a deploy will most likely be refused.'));
      $('deploy-error').hidden = false;
    }
  }

  async function load() {
    try {
      render(await GB.api(`/api/v1/offers/${GB.offerPath(id)}`));
    } catch (e) {
      GB.showError($('offer-error'), e);
    } finally {
      $('offer-loading').hidden = true;
    }
  }

  const form = $('deploy-form');
  if (!GB.session()) {
    $('deploy-login').hidden = false;
    $('deploy-login-link').href = `/login?next=${encodeURIComponent(location.pathname)}`;
  }
  form.addEventListener('input', () => {
    key = GB.newKey();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!GB.session()) {
      GB.toLogin();
      return;
    }
    const submit = $('deploy-submit');
    GB.showError($('deploy-error'), null);
    const body = { offer_id: id, image: $('deploy-image').value };
    const disk = $('deploy-disk').value.trim();
    if (disk !== '') body.disk_gib = /^\d+$/.test(disk) ? Number(disk) : disk;
    const ssh = $('deploy-ssh').value.trim();
    if (ssh) body.ssh_public_key = ssh;
    submit.disabled = true;
    submit.textContent = 'Deploying…';
    try {
      const d = await GB.api('/api/v1/deployments', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
      location.assign(`/deployments?highlight=${encodeURIComponent(d.id)}`);
    } catch (e) {
      if (e.status === 401) {
        GB.toLogin();
        return;
      }
      GB.showError($('deploy-error'), e, FIELDS);
      submit.disabled = false;
      submit.textContent = 'Deploy';
    }
  });

  load();
});

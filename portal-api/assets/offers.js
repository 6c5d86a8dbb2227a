// The marketplace: filters (mirrored in the address bar), ranked results with a "why?"
// explanation per offer, and keyset paging through the API's cursors.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  const PAGE_SIZE = 25;
  // Query parameter → input id (also how API validation errors find their field).
  const FIELDS = {
    gpu: 'f-gpu',
    min_gpus: 'f-min-gpus',
    min_vram: 'f-min-vram',
    max_price: 'f-max-price',
    provider: 'f-provider',
    pricing: 'f-pricing',
    sort: 'f-sort',
    profile: 'f-profile',
    available: 'f-available',
  };
  const $ = (id) => document.getElementById(id);
  const form = $('filters');
  const table = $('offers-table');
  const body = $('offers-body');
  const error = $('offers-error');
  const summary = $('offers-summary');
  const defaults = { sort: $('f-sort').value, profile: $('f-profile').value };
  let cursors = [null];
  let pageIndex = 0;
  let seq = 0;

  function readForm() {
    const q = new URLSearchParams();
    for (const [param, id] of Object.entries(FIELDS)) {
      const input = $(id);
      if (input.type === 'checkbox') {
        if (input.checked) q.set(param, 'true');
      } else if (input.value.trim() !== '' && input.value !== defaults[param]) {
        q.set(param, input.value.trim());
      }
    }
    return q;
  }

  function ensureOption(select, value) {
    if (value && ![...select.options].some((o) => o.value === value)) {
      select.append(GB.el('option', { value }, value));
    }
  }

  function writeForm(q) {
    for (const [param, id] of Object.entries(FIELDS)) {
      const input = $(id);
      const v = q.get(param);
      if (input.type === 'checkbox') {
        input.checked = v === 'true';
      } else if (input.tagName === 'SELECT') {
        const value = v === null ? (defaults[param] || '') : v;
        ensureOption(input, value);
        input.value = value;
      } else {
        input.value = v === null ? '' : v;
      }
    }
  }

  async function loadOptions() {
    const [gpus, providers] = await Promise.allSettled([
      GB.api('/api/v1/gpus'),
      GB.api('/api/v1/providers'),
    ]);
    if (gpus.status === 'fulfilled') {
      const items = gpus.value.items.filter((g) => g.offer_count > 0);
      $('f-gpu').append(...items.map((g) => GB.el('option', { value: g.name },
        `${g.name} · ${GB.gib(g.memory_gib)} GiB (${g.offer_count})`)));
    }
    if (providers.status === 'fulfilled') {
      $('f-provider').append(...providers.value.items.map((p) => GB.el('option', { value: p.id },
        `${p.name}${p.healthy ? '' : ' (degraded)'}`)));
    }
  }

  function pricingLabel(p) {
    return p === 'spot' ? 'Spot' : p === 'on_demand' ? 'On demand' : p;
  }

  function offerRows(o) {
    const explainRow = GB.el('tr', { class: 'explain-row', hidden: true },
      GB.el('td', { colspan: 11 }, GB.explanation(o.explanation)));
    const why = GB.el('button', {
      type: 'button', class: 'why link-button', 'aria-expanded': 'false', title: 'Why this score?',
    }, 'why?');
    why.addEventListener('click', () => {
      explainRow.hidden = !explainRow.hidden;
      why.setAttribute('aria-expanded', String(!explainRow.hidden));
      why.textContent = explainRow.hidden ? 'why?' : 'hide';
    });
    const href = `/offers/${GB.offerPath(o.id)}`;
    const source = o.source && o.source !== 'live'
      ? GB.el('span', { class: `chip ${o.source}`, title: o.source === 'stale' ? 'Last good listing: the provider is not answering' : 'From the price catalogue' }, o.source)
      : null;
    const row = GB.el('tr', { dataset: { offerId: o.id, gpu: o.gpu_model, provider: o.provider } },
      GB.el('td', {},
        GB.el('a', { class: 'offer-link', href }, GB.el('strong', {}, `${o.gpu_count}× ${o.gpu_model}`)),
        GB.el('span', { class: 'sub' }, `${GB.gib(o.gpu_memory_gib)} GiB each`)),
      GB.el('td', {}, o.provider, ' ', source),
      GB.el('td', { class: 'mono small col-opt' }, o.instance_type),
      GB.el('td', { class: 'num col-opt' }, `${o.vcpus ?? '–'} / ${o.memory_gib ? GB.gib(o.memory_gib) : '–'} GiB`),
      GB.el('td', {}, o.region, o.country ? GB.el('span', { class: 'sub' }, o.country) : null),
      GB.el('td', {}, GB.el('span', { class: `chip ${o.pricing}` }, pricingLabel(o.pricing))),
      GB.el('td', { class: 'num strong', title: `$${o.price_per_hour} per hour` }, GB.usd(o.price_per_hour)),
      GB.el('td', { class: 'num', title: `$${o.price_per_gpu_hour} per GPU-hour` }, GB.usd(o.price_per_gpu_hour)),
      GB.el('td', { class: `num ${o.available > 0 ? '' : 'muted'}` }, o.available > 0 ? String(o.available) : 'none'),
      GB.el('td', {}, GB.scoreBar(o.score)),
      GB.el('td', { class: 'right' }, why));
    return [row, explainRow];
  }

  async function search(index) {
    const q = readForm();
    const shown = q.toString();
    history.replaceState(null, '', shown ? `/offers?${shown}` : '/offers');
    const query = new URLSearchParams(q);
    query.set('limit', String(PAGE_SIZE));
    query.set('explain', 'true');
    if (cursors[index]) query.set('cursor', cursors[index]);
    const my = ++seq;
    table.dataset.state = 'loading';
    summary.textContent = 'Searching…';
    try {
      const page = await GB.api(`/api/v1/offers?${query}`);
      if (my !== seq) return;
      GB.showError(error, null);
      pageIndex = index;
      cursors = cursors.slice(0, index + 1);
      if (page.next_cursor) cursors.push(page.next_cursor);
      body.replaceChildren(...page.items.flatMap(offerRows));
      $('offers-empty').hidden = page.items.length > 0;
      const first = index * PAGE_SIZE + (page.items.length ? 1 : 0);
      const last = index * PAGE_SIZE + page.items.length;
      summary.textContent = `${page.total} offer${page.total === 1 ? '' : 's'} match · showing ${first}–${last}`;
      $('page-label').textContent = `Page ${index + 1} of ${Math.max(1, Math.ceil(page.total / PAGE_SIZE))}`;
      $('prev-page').disabled = index === 0;
      $('next-page').disabled = !page.next_cursor;
      table.dataset.query = shown;
      table.dataset.state = 'ready';
    } catch (e) {
      if (my !== seq) return;
      GB.showError(error, e, FIELDS);
      summary.textContent = 'Fix the filters to see offers.';
      body.replaceChildren();
      $('offers-empty').hidden = true;
      $('next-page').disabled = true;
      table.dataset.state = 'error';
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    cursors = [null];
    search(0);
  });
  for (const id of ['f-gpu', 'f-provider', 'f-pricing', 'f-sort', 'f-profile', 'f-available']) {
    $(id).addEventListener('change', () => form.requestSubmit());
  }
  $('f-reset').addEventListener('click', () => {
    writeForm(new URLSearchParams());
    form.requestSubmit();
  });
  $('next-page').addEventListener('click', () => {
    if (cursors[pageIndex + 1]) search(pageIndex + 1);
  });
  $('prev-page').addEventListener('click', () => {
    if (pageIndex > 0) search(pageIndex - 1);
  });

  (async () => {
    await loadOptions();
    writeForm(new URLSearchParams(location.search));
    search(0);
  })();
});

//! The simulated GPU market: offers from the seed catalogue with seeded capacity and price
//! drift, instances with a clock-driven lifecycle, per-provider fault knobs, and optional
//! persistence of the mutable state in a JSON file.
//!
//! Shape of the simulation:
//! - one offer per catalogue row and pricing kind (on-demand always, spot when the row has a
//!   spot price), id `provider:instance_type@region[/zone][:spot]` (gcp rows, which have no
//!   instance type, use `{count}x{gpu}`); ids do not depend on the seed;
//! - the price of an offer at `t` is its catalogue price moved by a seeded, bounded drift
//!   that changes once per [`MarketConfig::drift_period`]; exact integer micro-USD;
//! - each offer starts with `0..=max_capacity` units (seeded); provisioning takes one unit,
//!   the first accepted release gives it back;
//! - an instance is `Pending` for the provider's `provision_seconds`, then `Running` with a
//!   simulated SSH/Jupyter endpoint; a release makes it `Terminating`, then `Terminated`
//!   after `release_seconds`.
//!
//! Every mutation is written to the state file (when configured) before it takes effect in
//! memory, so a restarted process never provisions an allocation twice. One process per
//! state file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use providers::gpus::{self, GpuModel};
use providers::regions;
use providers::{
    Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId, OfferSource,
    Pricing, Provider, ProviderError, ProviderId, ProvisionRequest,
};
use thiserror::Error;

use crate::catalog::{self, CatalogError, SeedRow};
use crate::clock::Clock;
use crate::pricing::{apply_bp, drift_bp, initial_capacity, stable_hash, unit_draw};
use crate::provider::SimProvider;
use crate::state::{self, InstanceRecord, MarketState, StateFileError};

/// Fixed parameters of a market.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketConfig {
    /// Drives capacity, drift, faults and instance ids.
    pub seed: u64,
    /// Prices hold still for this long, then move (whole seconds; default 5 minutes).
    pub drift_period: Duration,
    /// Bound of the drift around the catalogue price, in basis points (default 1000 =
    /// ±10 %; 0 keeps catalogue prices exactly).
    pub max_drift_bp: u32,
    /// Most units an offer starts with (default 8).
    pub max_capacity: u32,
}

impl MarketConfig {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            drift_period: Duration::from_secs(300),
            max_drift_bp: 1_000,
            max_capacity: 8,
        }
    }
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self::new(0)
    }
}

/// Per-provider behaviour, changeable at run time with [`Market::set_knobs`].
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    /// Added to every call through the provider.
    pub latency: Duration,
    /// Share of calls (0..=1) that fail with [`ProviderError::Transient`]; which calls fail
    /// is a deterministic function of the seed and the provider's call count.
    pub failure_rate: f64,
    /// Every provisioning fails with [`ProviderError::NoCapacity`] and offers show 0 units.
    pub out_of_capacity: bool,
    /// Time from provisioning to `Running`.
    pub provision_seconds: u64,
    /// Time from an accepted release to `Terminated`.
    pub release_seconds: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            failure_rate: 0.0,
            out_of_capacity: false,
            provision_seconds: 2,
            release_seconds: 1,
        }
    }
}

/// The market could not be built.
#[derive(Debug, Error)]
pub enum MarketError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    StateFile(#[from] StateFileError),
}

/// One offer as seeded, before drift and capacity are applied.
#[derive(Debug)]
struct Template {
    offer: Offer,
    base_price: MicroUsd,
    initial_capacity: u32,
}

/// The offers of one provider.
#[derive(Debug)]
struct Book {
    id: ProviderId,
    display_name: String,
    templates: Vec<Template>,
}

/// The simulated market shared by every simulated provider.
pub struct Market {
    config: MarketConfig,
    clock: Arc<dyn Clock>,
    books: Vec<Book>,
    index: HashMap<OfferId, (usize, usize)>,
    unknown_gpus: BTreeMap<String, usize>,
    knobs: Mutex<HashMap<String, Knobs>>,
    calls: Mutex<HashMap<String, u64>>,
    state: Mutex<MarketState>,
    state_file: Option<PathBuf>,
}

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market")
            .field("config", &self.config)
            .field("providers", &self.books.len())
            .field("offers", &self.index.len())
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

impl Market {
    /// The market over the embedded seed catalogue, default configuration.
    pub fn new(seed: u64, clock: Arc<dyn Clock>) -> Result<Self, MarketError> {
        Self::with_config(MarketConfig::new(seed), clock)
    }

    /// The market over the embedded seed catalogue.
    pub fn with_config(config: MarketConfig, clock: Arc<dyn Clock>) -> Result<Self, MarketError> {
        let rows = catalog::seed_rows()?;
        Ok(Self::from_rows(&rows, config, clock))
    }

    /// The market over catalogue rows of your own (same columns as `data/gpu-offers.csv`).
    pub fn from_rows(rows: &[SeedRow], config: MarketConfig, clock: Arc<dyn Clock>) -> Self {
        let mut books: Vec<Book> = Vec::new();
        let mut book_of: HashMap<String, usize> = HashMap::new();
        let mut unknown_gpus: BTreeMap<String, usize> = BTreeMap::new();
        let mut used_keys: HashSet<String> = HashSet::new();
        let as_of = clock.now();

        for row in rows {
            let Some(model) =
                gpus::canonical_with_hint(&row.gpu_model, row.gpu_memory_gib, &row.instance_type)
            else {
                *unknown_gpus.entry(row.gpu_model.clone()).or_default() += 1;
                continue;
            };
            let b = *book_of.entry(row.provider.clone()).or_insert_with(|| {
                books.push(Book {
                    id: ProviderId(row.provider.clone()),
                    display_name: display_name(&row.provider),
                    templates: Vec::new(),
                });
                books.len() - 1
            });
            let provider = books[b].id.clone();
            let instance_type = if row.instance_type.is_empty() {
                format!("{}x{}", row.gpu_count, slug(&row.gpu_model))
            } else {
                row.instance_type.clone()
            };
            let key = unique_key(&provider, &offer_key(&instance_type, row), &mut used_keys);
            let mut kinds = vec![(Pricing::OnDemand, row.price, key.clone())];
            if let Some(spot) = row.spot_price {
                kinds.push((Pricing::Spot, spot, format!("{key}:spot")));
            }
            for (pricing, price, key) in kinds {
                let id = OfferId::new(&provider, &key);
                let offer = Offer {
                    id: id.clone(),
                    provider: provider.clone(),
                    instance_type: instance_type.clone(),
                    gpu_model: model.name.to_string(),
                    gpu_count: row.gpu_count,
                    gpu_memory_gib: per_gpu_memory(row, model),
                    vcpus: row.vcpus,
                    memory_gib: row.memory_gib,
                    storage_gib: Some(storage_gib(row.gpu_count)),
                    region: row.region.clone(),
                    country: regions::country_of(&row.provider, &row.region).map(str::to_string),
                    pricing,
                    price_per_hour: price,
                    price_per_gpu_hour: price.per_unit(row.gpu_count),
                    available: 0,
                    as_of,
                    source: OfferSource::Live,
                };
                let initial_capacity = initial_capacity(config.seed, &id.0, config.max_capacity);
                books[b].templates.push(Template {
                    offer,
                    base_price: price,
                    initial_capacity,
                });
            }
        }
        books.sort_by(|a, b| a.id.cmp(&b.id));
        // A provider whose every offer drew "sold out" would vanish from the demo: its first
        // offer starts with one unit (the draw stays deterministic).
        if config.max_capacity > 0 {
            for book in &mut books {
                if book.templates.iter().all(|t| t.initial_capacity == 0) {
                    if let Some(first) = book.templates.first_mut() {
                        first.initial_capacity = 1;
                    }
                }
            }
        }
        let mut index = HashMap::new();
        for (b, book) in books.iter().enumerate() {
            for (t, tpl) in book.templates.iter().enumerate() {
                index.insert(tpl.offer.id.clone(), (b, t));
            }
        }
        Self {
            config,
            clock,
            books,
            index,
            unknown_gpus,
            knobs: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            state: Mutex::new(MarketState::default()),
            state_file: None,
        }
    }

    /// Keeps the mutable state (instances, capacity, counters) in `path`: loads it now if
    /// the file exists, and rewrites it atomically after every mutation.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Result<Self, MarketError> {
        let path = path.into();
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        match state::load(&path)? {
            Some(mut loaded) => {
                if loaded.machines.is_empty() {
                    loaded.machines = crate::fleet::seed();
                }
                *state = loaded;
            }
            None => state::save(&path, state)?,
        }
        self.state_file = Some(path);
        Ok(self)
    }

    /// One [`SimProvider`] per provider in the catalogue, sorted by id.
    pub fn providers(self: &Arc<Self>) -> Vec<Arc<dyn Provider>> {
        self.books
            .iter()
            .map(|b| {
                let p = SimProvider::new(Arc::clone(self), b.id.clone(), b.display_name.clone());
                Arc::new(p) as Arc<dyn Provider>
            })
            .collect()
    }

    pub fn config(&self) -> &MarketConfig {
        &self.config
    }

    pub fn state_file(&self) -> Option<&Path> {
        self.state_file.as_deref()
    }

    /// The market's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Provider ids, sorted.
    pub fn provider_ids(&self) -> Vec<ProviderId> {
        self.books.iter().map(|b| b.id.clone()).collect()
    }

    /// Catalogue GPU spellings that map to no canonical model, with how many rows were
    /// skipped for each.
    pub fn unknown_gpu_names(&self) -> &BTreeMap<String, usize> {
        &self.unknown_gpus
    }

    /// The provider's offers now, priced and with current availability (no knobs applied
    /// except `out_of_capacity`).
    pub fn offers(&self, provider: &ProviderId) -> Vec<Offer> {
        let now = self.now();
        let state = self.lock_state();
        self.book(provider)
            .map(|book| {
                book.templates
                    .iter()
                    .map(|t| self.render(t, now, &state))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every offer of every provider, now.
    pub fn all_offers(&self) -> Vec<Offer> {
        self.books.iter().flat_map(|b| self.offers(&b.id)).collect()
    }

    /// One offer, now.
    pub fn offer(&self, id: &OfferId) -> Option<Offer> {
        let now = self.now();
        let tpl = self.template(id)?;
        Some(self.render(tpl, now, &self.lock_state()))
    }

    /// The offer's price (whole instance, per hour) at `at`.
    pub fn price_at(&self, id: &OfferId, at: DateTime<Utc>) -> Option<MicroUsd> {
        self.template(id).map(|t| self.price_of(t, at))
    }

    /// The offer's catalogue price, before drift.
    pub fn base_price(&self, id: &OfferId) -> Option<MicroUsd> {
        self.template(id).map(|t| t.base_price)
    }

    /// Units of the offer that can be provisioned now.
    pub fn available(&self, id: &OfferId) -> Option<u32> {
        let tpl = self.template(id)?;
        Some(self.units(tpl, &self.lock_state()))
    }

    /// Sets the units left for an offer (scenarios: "one H100 left").
    pub fn set_available(&self, id: &OfferId, units: u32) -> Result<(), ProviderError> {
        if self.template(id).is_none() {
            return Err(ProviderError::NotFound);
        }
        self.mutate(|next| {
            next.available.insert(id.clone(), units);
            Ok(())
        })
    }

    /// Replaces the knobs of `provider`.
    pub fn set_knobs(&self, provider: &str, knobs: Knobs) {
        lock(&self.knobs).insert(provider.to_string(), knobs);
    }

    /// The knobs of `provider` (defaults until set).
    pub fn knobs(&self, provider: &str) -> Knobs {
        lock(&self.knobs).get(provider).cloned().unwrap_or_default()
    }

    /// Starts an instance of `req.offer_id` for `req.allocation_id`, taking one unit of
    /// capacity. Idempotent per allocation: a repeated call returns the instance already
    /// made (whatever offer it asks for). `gpu_count`, disk and image are not checked.
    pub fn provision(
        &self,
        provider: &ProviderId,
        req: &ProvisionRequest,
    ) -> Result<Instance, ProviderError> {
        let now = self.now();
        let knobs = self.knobs(&provider.0);
        let mut out = None;
        self.mutate(|next| {
            if let Some(existing) = next
                .instances
                .iter()
                .find(|r| r.provider == *provider && r.allocation_id == req.allocation_id)
            {
                out = Some(view(existing, now));
                return Err(Unchanged);
            }
            let tpl = self
                .template(&req.offer_id)
                .filter(|t| t.offer.provider == *provider)
                .ok_or(Failed(ProviderError::NotFound))?;
            if knobs.out_of_capacity {
                return Err(Failed(ProviderError::NoCapacity));
            }
            let units = self.units(tpl, next);
            if units == 0 {
                return Err(Failed(ProviderError::NoCapacity));
            }
            next.available.insert(req.offer_id.clone(), units - 1);
            next.instances_created += 1;
            let record = self.new_record(next, provider, req, now, &knobs);
            out = Some(view(&record, now));
            next.instances.push(record);
            Ok(())
        })?;
        out.ok_or(ProviderError::NotFound)
    }

    /// The instance as the provider reports it now.
    pub fn status(
        &self,
        provider: &ProviderId,
        id: &InstanceId,
    ) -> Result<Instance, ProviderError> {
        let now = self.now();
        let state = self.lock_state();
        state
            .instances
            .iter()
            .find(|r| r.provider == *provider && r.id == *id)
            .map(|r| view(r, now))
            .ok_or(ProviderError::NotFound)
    }

    /// Accepts the release of an instance: it turns `Terminating`, then `Terminated` after
    /// the provider's `release_seconds`; its unit of capacity comes back now, once. Releasing
    /// again is accepted and changes nothing.
    pub fn release(&self, provider: &ProviderId, id: &InstanceId) -> Result<(), ProviderError> {
        let now = self.now();
        let knobs = self.knobs(&provider.0);
        self.mutate(|next| {
            let i = next
                .instances
                .iter()
                .position(|r| r.provider == *provider && r.id == *id)
                .ok_or(Failed(ProviderError::NotFound))?;
            if next.instances[i].release_requested_at.is_some() {
                return Err(Unchanged);
            }
            let offer_id = next.instances[i].offer_id.clone();
            let record = &mut next.instances[i];
            record.release_requested_at = Some(now);
            record.terminated_at = Some(after(now, knobs.release_seconds));
            let units = match self.template(&offer_id) {
                Some(tpl) => self.units_ignoring_knobs(tpl, next),
                None => next.available.get(&offer_id).copied().unwrap_or(0),
            };
            next.available.insert(offer_id, units.saturating_add(1));
            Ok(())
        })
    }

    /// Every instance the provider holds (including terminated ones), oldest first.
    pub fn instances(&self, provider: &ProviderId) -> Vec<Instance> {
        let now = self.now();
        self.lock_state()
            .instances
            .iter()
            .filter(|r| r.provider == *provider)
            .map(|r| view(r, now))
            .collect()
    }

    /// The owned machines (the MAAS fake's region), as stored.
    pub fn machines(&self) -> Vec<crate::fleet::Machine> {
        self.lock_state().machines.clone()
    }

    /// Changes the owned machines: `change` runs on a copy, which is persisted (when a state
    /// file is configured) and only then kept. An `Err` from `change` changes nothing.
    pub fn update_machines<T, E>(
        &self,
        change: impl FnOnce(&mut Vec<crate::fleet::Machine>) -> Result<T, E>,
    ) -> Result<Result<T, E>, StateFileError> {
        let mut state = self.lock_state();
        let mut next = state.clone();
        let out = match change(&mut next.machines) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(path) = &self.state_file {
            state::save(path, &next)?;
        }
        *state = next;
        Ok(Ok(out))
    }

    /// The instance made for `allocation_id` at `provider`, if any.
    pub fn find_by_allocation(
        &self,
        provider: &ProviderId,
        allocation_id: &str,
    ) -> Option<Instance> {
        let now = self.now();
        self.lock_state()
            .instances
            .iter()
            .find(|r| r.provider == *provider && r.allocation_id == allocation_id)
            .map(|r| view(r, now))
    }

    /// Applies the provider's fault knobs to one call: `Err(Transient)` for the calls the
    /// seeded draw picks at `failure_rate`.
    pub(crate) fn fault(&self, provider: &str) -> Result<(), ProviderError> {
        let rate = self.knobs(provider).failure_rate;
        let n = {
            let mut calls = lock(&self.calls);
            let n = calls.entry(provider.to_string()).or_default();
            *n += 1;
            *n
        };
        if rate > 0.0 && unit_draw(self.config.seed, provider, n) < rate {
            return Err(ProviderError::Transient(format!(
                "simulated failure of {provider} (failure_rate {rate})"
            )));
        }
        Ok(())
    }

    fn book(&self, provider: &ProviderId) -> Option<&Book> {
        self.books
            .binary_search_by(|b| b.id.cmp(provider))
            .ok()
            .map(|i| &self.books[i])
    }

    fn template(&self, id: &OfferId) -> Option<&Template> {
        let &(b, t) = self.index.get(id)?;
        Some(&self.books[b].templates[t])
    }

    fn price_of(&self, tpl: &Template, at: DateTime<Utc>) -> MicroUsd {
        let period = i64::try_from(self.config.drift_period.as_secs().max(1)).unwrap_or(i64::MAX);
        let epoch = at.timestamp().div_euclid(period);
        let bp = drift_bp(
            self.config.seed,
            &tpl.offer.id.0,
            epoch,
            self.config.max_drift_bp,
        );
        apply_bp(tpl.base_price, bp)
    }

    fn units_ignoring_knobs(&self, tpl: &Template, state: &MarketState) -> u32 {
        state
            .available
            .get(&tpl.offer.id)
            .copied()
            .unwrap_or(tpl.initial_capacity)
    }

    fn units(&self, tpl: &Template, state: &MarketState) -> u32 {
        if self.knobs(&tpl.offer.provider.0).out_of_capacity {
            0
        } else {
            self.units_ignoring_knobs(tpl, state)
        }
    }

    fn render(&self, tpl: &Template, now: DateTime<Utc>, state: &MarketState) -> Offer {
        let mut offer = tpl.offer.clone();
        offer.price_per_hour = self.price_of(tpl, now);
        offer.price_per_gpu_hour = offer.price_per_hour.per_unit(offer.gpu_count);
        offer.available = self.units(tpl, state);
        offer.as_of = now;
        offer
    }

    fn new_record(
        &self,
        state: &MarketState,
        provider: &ProviderId,
        req: &ProvisionRequest,
        now: DateTime<Utc>,
        knobs: &Knobs,
    ) -> InstanceRecord {
        let seq = state.instances_created.to_le_bytes();
        let mut salt: u64 = 0;
        let (id, h) = loop {
            let h = stable_hash(
                self.config.seed,
                &[
                    b"instance",
                    provider.0.as_bytes(),
                    req.allocation_id.as_bytes(),
                    &seq,
                    &salt.to_le_bytes(),
                ],
            );
            let id = InstanceId(format!("i-{h:016x}"));
            if !state.instances.iter().any(|r| r.id == id) {
                break (id, h);
            }
            salt += 1;
        };
        let ssh_port = if MARKETPLACES.contains(&provider.0.as_str()) {
            10_000 + (h % 50_000) as u16
        } else {
            22
        };
        InstanceRecord {
            id,
            provider: provider.clone(),
            allocation_id: req.allocation_id.clone(),
            offer_id: req.offer_id.clone(),
            created_at: now,
            ready_at: after(now, knobs.provision_seconds),
            release_requested_at: None,
            terminated_at: None,
            ssh_host: format!("{:08x}.{}.sandbox.gpubroker.test", h >> 32, provider.0),
            ssh_port,
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, MarketState> {
        lock(&self.state)
    }

    /// Runs `change` on a copy of the state; if it succeeds, persists the copy and only then
    /// makes it the state. `Err(Unchanged)` ends without a write and without an error.
    fn mutate(
        &self,
        change: impl FnOnce(&mut MarketState) -> Result<(), Outcome>,
    ) -> Result<(), ProviderError> {
        let mut state = self.lock_state();
        let mut next = state.clone();
        match change(&mut next) {
            Ok(()) => {}
            Err(Unchanged) => return Ok(()),
            Err(Failed(e)) => return Err(e),
        }
        if let Some(path) = &self.state_file {
            state::save(path, &next).map_err(|e| ProviderError::Transient(e.to_string()))?;
        }
        *state = next;
        Ok(())
    }
}

/// Why a state change stopped early.
enum Outcome {
    /// Nothing to change (an idempotent repeat).
    Unchanged,
    /// The change is refused.
    Failed(ProviderError),
}
use Outcome::{Failed, Unchanged};

/// Providers whose hosts expose SSH on a high port (marketplaces of shared hosts).
const MARKETPLACES: &[&str] = &["vast", "runpod"];

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `seconds` after `t`, saturating at the end of time instead of overflowing.
fn after(t: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    i64::try_from(seconds)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn view(r: &InstanceRecord, now: DateTime<Utc>) -> Instance {
    let state = match (r.release_requested_at, r.terminated_at) {
        (_, Some(t)) if now >= t => InstanceState::Terminated,
        (Some(_), _) => InstanceState::Terminating,
        _ if now >= r.ready_at => InstanceState::Running,
        _ => InstanceState::Pending,
    };
    let connection = (state == InstanceState::Running).then(|| Connection {
        ssh_host: r.ssh_host.clone(),
        ssh_port: r.ssh_port,
        ssh_user: "ubuntu".to_string(),
        jupyter_url: Some(format!("https://{}/lab", r.ssh_host)),
    });
    Instance {
        id: r.id.clone(),
        allocation_id: r.allocation_id.clone(),
        offer_id: r.offer_id.clone(),
        state,
        connection,
    }
}

/// `instance_type@region[/zone]`, with region and zone reduced to URL-friendly characters.
fn offer_key(instance_type: &str, row: &SeedRow) -> String {
    let mut key = format!("{instance_type}@{}", slug(&row.region));
    if !row.zone.trim().is_empty() {
        key.push('/');
        key.push_str(&slug(&row.zone));
    }
    key
}

/// `key`, or `key~2`, `key~3`... when an earlier row of the provider already took it.
fn unique_key(provider: &ProviderId, key: &str, used: &mut HashSet<String>) -> String {
    let mut candidate = key.to_string();
    let mut n = 1;
    while !used.insert(format!("{provider}:{candidate}")) {
        n += 1;
        candidate = format!("{key}~{n}");
    }
    candidate
}

/// ASCII letters, digits, `.`, `_` and `-`; every other run of characters becomes one `-`.
fn slug(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "none".to_string()
    } else {
        out.to_string()
    }
}

/// Memory per GPU: the row's figure, except where the source reported the instance total
/// as "per GPU" (aws g6 multi-GPU L4 rows), else the catalogue's.
fn per_gpu_memory(row: &SeedRow, model: &GpuModel) -> f64 {
    match row.gpu_memory_gib {
        Some(m) if m > 0.0 => {
            let count = f64::from(row.gpu_count.max(1));
            let per = m / count;
            let nominal = model.memory_gib;
            if row.gpu_count > 1 && m > 1.5 * nominal && (per - nominal).abs() <= 0.15 * nominal {
                (per * 10_000.0).round() / 10_000.0
            } else {
                m
            }
        }
        _ => model.memory_gib,
    }
}

/// Default disk: 100 GiB per GPU.
fn storage_gib(gpu_count: u32) -> u32 {
    100 * gpu_count.max(1)
}

/// The human name of a provider key.
pub fn display_name(provider: &str) -> String {
    let name = match provider {
        "akash" => "Akash Network",
        "aws" => "AWS",
        "azure" => "Microsoft Azure",
        "cudo" => "Cudo Compute",
        "do" => "DigitalOcean",
        "fluidstack" => "FluidStack",
        "gcp" => "Google Cloud",
        "hyperbolic" => "Hyperbolic",
        "hyperstack" => "Hyperstack",
        "ibm" => "IBM Cloud",
        "jarvislabs" => "JarvisLabs",
        "lambda" => "Lambda Cloud",
        "latitude" => "Latitude.sh",
        "linode" => "Akamai Cloud (Linode)",
        "mithril" => "Mithril",
        "nebius" => "Nebius",
        "oci" => "Oracle Cloud",
        "ovhcloud" => "OVHcloud",
        "paperspace" => "Paperspace",
        "runpod" => "RunPod",
        "scaleway" => "Scaleway",
        "scp" => "Samsung Cloud Platform",
        "seeweb" => "Seeweb",
        "tensordock" => "TensorDock",
        "vast" => "Vast.ai",
        "verda" => "Verda",
        "vultr" => "Vultr",
        other => return other.to_string(),
    };
    name.to_string()
}

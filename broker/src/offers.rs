//! The offer index: a background refresher asks every provider for its offers and swaps an
//! immutable [`Snapshot`] in atomically, with TOPSIS scores of the default weight profile
//! precomputed. Queries filter, sort, rank and page from the snapshot in memory; cursors are
//! keyset cursors (sort key + id), so paging stays consistent while snapshots change.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use providers::{gpus, MicroUsd, Offer, OfferId, OfferSource, Pricing, Provider, ProviderId};
use serde::{Deserialize, Serialize};
use tracing::{info_span, instrument, warn, Instrument};

use crate::{Error, Result};

/// The criteria every offer is ranked on, in matrix column order.
pub const CRITERIA: [(&str, ranking::Direction); 6] = [
    ("price", ranking::Direction::Cost),
    ("perf", ranking::Direction::Benefit),
    ("perf_per_dollar", ranking::Direction::Benefit),
    ("vram", ranking::Direction::Benefit),
    ("availability", ranking::Direction::Benefit),
    ("reliability", ranking::Direction::Benefit),
];

/// Named weight profiles (their weights are parameters `ranking.weights.<name>`).
pub const PROFILES: [&str; 4] = ["balanced", "cheapest", "training", "inference"];

/// Weights over [`CRITERIA`] (missing criteria weigh 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Weights(pub [f64; 6]);

impl Weights {
    /// Parses `price:0.5,perf:0.3,vram:0.2`.
    pub fn parse(s: &str) -> Result<Weights> {
        let mut w = [0.0; 6];
        let mut seen = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, val) = part.split_once(':').ok_or_else(|| {
                Error::invalid("weights", format!("`{part}` is not `criterion:weight`"))
            })?;
            let col = CRITERIA
                .iter()
                .position(|(n, _)| *n == name.trim())
                .ok_or_else(|| {
                    Error::invalid_choice(
                        "weights",
                        name.trim(),
                        CRITERIA.iter().map(|(n, _)| n.to_string()).collect(),
                    )
                })?;
            let v: f64 = val
                .trim()
                .parse()
                .map_err(|_| Error::invalid("weights", format!("`{val}` is not a number")))?;
            if !v.is_finite() || v < 0.0 {
                return Err(Error::invalid(
                    "weights",
                    format!("weight of {name} must be a finite number ≥ 0"),
                ));
            }
            if !seen.insert(col) {
                return Err(Error::invalid("weights", format!("{name} is given twice")));
            }
            w[col] = v;
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err(Error::invalid(
                "weights",
                "at least one weight must be positive",
            ));
        }
        Ok(Weights(w))
    }

    fn ranker(&self) -> Result<ranking::Topsis> {
        let criteria: Vec<ranking::Criterion> = CRITERIA
            .iter()
            .zip(self.0)
            .map(|((_, direction), weight)| ranking::Criterion {
                weight,
                direction: *direction,
            })
            .collect();
        ranking::Topsis::new(&criteria, ranking::Normalization::Vector)
            .map_err(|e| Error::invalid("weights", e.to_string()))
    }
}

/// Health of one provider as the index last saw it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderStatus {
    pub id: ProviderId,
    pub name: String,
    pub healthy: bool,
    pub offer_count: usize,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub capabilities: providers::Capabilities,
    /// The provider's circuit breaker (`closed`, `open`, `half_open`), when it has one.
    pub breaker: Option<providers::http::BreakerState>,
    /// Listing rows skipped because their GPU is unknown to the catalogue.
    pub unknown_gpus: u64,
    /// How the provider is reached: `http` (the shared engine, against the vendor or a
    /// sandbox wire fake) or `simulated` (in-process sandbox simulation).
    pub transport: &'static str,
    /// Seconds since the last good listing, while its offers are served stale.
    pub stale_age_seconds: Option<i64>,
    /// The distinct unknown GPU names seen (bounded), most frequent first.
    pub unknown_gpu_names: Vec<UnknownGpu>,
    /// `cloud` (vendor prices) or `owned` (the operator's machines, priced by the admin).
    pub kind: providers::ProviderKind,
    /// Owned offers left out because their GPU model has no hourly cost (never sold at $0).
    pub unpriced: usize,
}

/// A GPU name a provider lists that the catalogue does not know (never guessed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownGpu {
    pub name: String,
    /// Listing rows that carried it.
    pub rows: u64,
}

impl ProviderStatus {
    fn of(p: &dyn Provider, lg: &LastGood, now: DateTime<Utc>, error: Option<String>) -> Self {
        let stale = error.is_some();
        ProviderStatus {
            id: p.id().clone(),
            name: p.display_name().to_string(),
            healthy: !stale,
            offer_count: lg.offers.len(),
            last_success_at: lg.at,
            last_error: error,
            capabilities: p.capabilities(),
            breaker: p.breaker(),
            unknown_gpus: p.unknown_gpus(),
            kind: p.kind(),
            unpriced: lg.unpriced,
            transport: if p.engine().is_some() {
                "http"
            } else {
                "simulated"
            },
            stale_age_seconds: match (stale, lg.at) {
                (true, Some(at)) => Some((now - at).num_seconds().max(0)),
                _ => None,
            },
            unknown_gpu_names: p
                .unknown_gpu_names()
                .into_iter()
                .map(|(name, rows)| UnknownGpu { name, rows })
                .collect(),
        }
    }
}

/// Timing of the index's refreshes (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RefreshStats {
    pub count: u64,
    pub last_seconds: f64,
    pub total_seconds: f64,
}

/// An immutable view of every offer at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: u64,
    pub built_at: DateTime<Utc>,
    pub offers: Vec<Offer>,
    by_id: HashMap<OfferId, usize>,
    /// Row-major criteria matrix (offers × CRITERIA).
    matrix: Vec<f64>,
    weights: Weights,
    /// Closeness under `weights` (the default profile), per offer.
    scores: Vec<f64>,
    pub providers: Vec<ProviderStatus>,
    /// Per provider serving stale offers: seconds since its last good listing.
    stale_age: HashMap<ProviderId, i64>,
}

/// A provider's reliability in `[0, 1]`: the observed share of provisionings that reached
/// `ready`, smoothed with a neutral prior worth ten observations at 0.9 (so a provider with
/// no history scores 0.9), halved while its latest listing failed (breaker history).
pub fn reliability((ok, failed): (i64, i64), healthy: bool) -> f64 {
    let (ok, failed) = (ok.max(0) as f64, failed.max(0) as f64);
    let r = (ok + 9.0) / (ok + failed + 10.0);
    if healthy {
        r
    } else {
        r * 0.5
    }
}

fn criteria_row(o: &Offer, reliability: f64) -> [f64; 6] {
    let price = o.price_per_gpu_hour.as_f64_dollars().max(1e-6);
    let perf = gpus::catalogue()
        .iter()
        .find(|g| g.name == o.gpu_model)
        .map_or(0.0, |g| g.fp16_tflops);
    [
        price,
        perf,
        perf / price,
        o.gpu_memory_gib,
        f64::from(o.available.min(16)),
        reliability,
    ]
}

impl Snapshot {
    /// Builds a snapshot. `track_record` is each provider's observed provisioning record
    /// (successes, failures); see [`reliability`].
    pub fn build(
        version: u64,
        built_at: DateTime<Utc>,
        mut offers: Vec<Offer>,
        providers: Vec<ProviderStatus>,
        weights: Weights,
        track_record: &HashMap<ProviderId, (i64, i64)>,
    ) -> Result<Snapshot> {
        offers.sort_by(|a, b| a.id.cmp(&b.id));
        offers.dedup_by(|a, b| a.id == b.id);
        let health: HashMap<&ProviderId, bool> =
            providers.iter().map(|p| (&p.id, p.healthy)).collect();
        let mut matrix = Vec::with_capacity(offers.len() * CRITERIA.len());
        for o in &offers {
            let healthy = health.get(&o.provider).copied().unwrap_or(true);
            let record = track_record.get(&o.provider).copied().unwrap_or((0, 0));
            matrix.extend_from_slice(&criteria_row(o, reliability(record, healthy)));
        }
        let scores = if offers.is_empty() {
            Vec::new()
        } else {
            weights
                .ranker()?
                .score(&matrix)
                .map_err(|e| Error::Internal(e.to_string()))?
        };
        let by_id = offers
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.clone(), i))
            .collect();
        let stale_age = providers
            .iter()
            .filter_map(|p| p.stale_age_seconds.map(|a| (p.id.clone(), a)))
            .collect();
        Ok(Snapshot {
            version,
            built_at,
            offers,
            by_id,
            matrix,
            weights,
            scores,
            providers,
            stale_age,
        })
    }

    pub fn empty() -> Snapshot {
        Snapshot {
            version: 0,
            built_at: DateTime::<Utc>::UNIX_EPOCH,
            offers: Vec::new(),
            by_id: HashMap::new(),
            matrix: Vec::new(),
            weights: Weights([1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            scores: Vec::new(),
            providers: Vec::new(),
            stale_age: HashMap::new(),
        }
    }

    /// The age of a stale offer's listing, seconds (at the snapshot's build).
    fn stale_age_of(&self, o: &Offer) -> Option<i64> {
        match o.source {
            OfferSource::Stale => Some(self.stale_age.get(&o.provider).copied().unwrap_or(0)),
            _ => None,
        }
    }

    pub fn get(&self, id: &OfferId) -> Option<&Offer> {
        self.by_id.get(id).map(|&i| &self.offers[i])
    }

    /// Fresh (not stale) offers with this GPU model and count, best default-profile score
    /// first (ties by id): the candidates of failover.
    pub fn equivalent(&self, gpu_model: &str, gpu_count: u32) -> Vec<&Offer> {
        let mut hits: Vec<usize> = (0..self.offers.len())
            .filter(|&i| {
                let o = &self.offers[i];
                o.gpu_model == gpu_model
                    && o.gpu_count == gpu_count
                    && o.source != OfferSource::Stale
            })
            .collect();
        hits.sort_by(|&a, &b| {
            let (sa, sb) = (
                self.scores.get(a).copied().unwrap_or(0.0),
                self.scores.get(b).copied().unwrap_or(0.0),
            );
            sb.total_cmp(&sa)
                .then_with(|| self.offers[a].id.cmp(&self.offers[b].id))
        });
        hits.into_iter().map(|i| &self.offers[i]).collect()
    }

    /// GPU model names present in the snapshot.
    pub fn models(&self) -> Vec<String> {
        self.offers
            .iter()
            .map(|o| o.gpu_model.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    fn scores_for(&self, weights: &Weights) -> Result<std::borrow::Cow<'_, [f64]>> {
        if *weights == self.weights || self.offers.is_empty() {
            return Ok(std::borrow::Cow::Borrowed(&self.scores));
        }
        let s = weights
            .ranker()?
            .score(&self.matrix)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(std::borrow::Cow::Owned(s))
    }

    /// Filters, ranks, sorts and pages.
    pub fn query(&self, q: &OfferQuery, weights: &Weights) -> Result<OfferPage> {
        let scores = self.scores_for(weights)?;
        let cursor = q.cursor.as_deref().map(Cursor::decode).transpose()?;
        if let Some(c) = &cursor {
            if c.s != q.sort.as_str() {
                return Err(Error::invalid(
                    "cursor",
                    "the cursor belongs to another sort order",
                ));
            }
        }
        // Higher is better for every sort key.
        let key = |i: usize| -> f64 {
            let o = &self.offers[i];
            match q.sort {
                Sort::Price => -(o.price_per_hour.0 as f64),
                Sort::PricePerGpu => -(o.price_per_gpu_hour.0 as f64),
                Sort::Topsis => scores[i],
                Sort::Availability => f64::from(o.available),
            }
        };
        let mut cands = Vec::new();
        let mut vals = Vec::new();
        for (i, o) in self.offers.iter().enumerate() {
            if !q.filter.matches(o) {
                continue;
            }
            let k = key(i);
            if let Some(c) = &cursor {
                let after = k < c.k || (k == c.k && o.id.0 > c.id);
                if !after {
                    continue;
                }
            }
            cands.push(i);
            vals.push(k);
        }
        let total = cands.len();
        let picked = ranking::top_k(&vals, q.limit + 1, |j| self.offers[cands[j]].id.0.as_str());
        let more = picked.len() > q.limit;
        let rows: Vec<usize> = picked.iter().take(q.limit).map(|&j| cands[j]).collect();
        // Explanations only for the page's rows (statistics still from the whole snapshot).
        let explain = if q.explain {
            let r = weights.ranker()?;
            Some(
                r.explain_rows(&self.matrix, &rows)
                    .map_err(|e| Error::Internal(e.to_string()))?,
            )
        } else {
            None
        };
        let items: Vec<RankedOffer> = rows
            .iter()
            .enumerate()
            .map(|(n, &i)| RankedOffer {
                offer: self.offers[i].clone(),
                score: scores[i],
                stale_age_seconds: self.stale_age_of(&self.offers[i]),
                explanation: explain.as_ref().map(|e| Explanation::from(&e[n])),
            })
            .collect();
        let next_cursor = if more {
            items.last().map(|last| {
                let i = self.by_id.get(&last.offer.id).copied().unwrap_or_default();
                Cursor {
                    s: q.sort.as_str().to_string(),
                    k: key(i),
                    id: last.offer.id.0.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(OfferPage {
            items,
            next_cursor,
            total,
            snapshot_version: self.version,
        })
    }

    /// One offer with its score and explanation under `weights`.
    pub fn detail(&self, id: &OfferId, weights: &Weights) -> Result<RankedOffer> {
        let i = *self
            .by_id
            .get(id)
            .ok_or(Error::NotFound { what: "offer" })?;
        let r = weights.ranker()?;
        let e = r
            .explain_rows(&self.matrix, &[i])
            .map_err(|e| Error::Internal(e.to_string()))?;
        let e = e.first().ok_or(Error::NotFound { what: "offer" })?;
        Ok(RankedOffer {
            offer: self.offers[i].clone(),
            score: e.closeness,
            stale_age_seconds: self.stale_age_of(&self.offers[i]),
            explanation: Some(Explanation::from(e)),
        })
    }
}

/// Why an offer ranks where it does.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub closeness: f64,
    pub distance_to_ideal: f64,
    pub distance_to_anti_ideal: f64,
    /// Per criterion name: how much it moved the closeness from the neutral 0.5 (positive
    /// helped, negative hurt); they add up to `closeness − 0.5`.
    pub contributions: Vec<(String, f64)>,
    /// The criterion that helped this offer most, and the one that hurt it most.
    pub helped_most: Option<String>,
    pub hurt_most: Option<String>,
}

impl From<&ranking::Explanation> for Explanation {
    fn from(e: &ranking::Explanation) -> Self {
        Explanation {
            closeness: e.closeness,
            distance_to_ideal: e.distance_to_ideal,
            distance_to_anti_ideal: e.distance_to_anti_ideal,
            contributions: CRITERIA
                .iter()
                .zip(&e.contributions)
                .map(|((n, _), v)| (n.to_string(), *v))
                .collect(),
            helped_most: e
                .most_helpful()
                .and_then(|j| CRITERIA.get(j))
                .map(|c| c.0.to_string()),
            hurt_most: e
                .most_harmful()
                .and_then(|j| CRITERIA.get(j))
                .map(|c| c.0.to_string()),
        }
    }
}

/// An offer with its rank score.
#[derive(Debug, Clone, Serialize)]
pub struct RankedOffer {
    #[serde(flatten)]
    pub offer: Offer,
    pub score: f64,
    /// For `source = stale`: seconds since the provider's last good listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_age_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// One page of offers.
#[derive(Debug, Clone, Serialize)]
pub struct OfferPage {
    pub items: Vec<RankedOffer>,
    pub next_cursor: Option<String>,
    pub total: usize,
    pub snapshot_version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    s: String,
    k: f64,
    id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(s: &str) -> Result<Cursor> {
        let bad = || Error::invalid("cursor", "not a cursor this API issued");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

/// Sort orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Price,
    PricePerGpu,
    Topsis,
    Availability,
}

impl Sort {
    pub const ALL: [Sort; 4] = [
        Sort::Price,
        Sort::PricePerGpu,
        Sort::Topsis,
        Sort::Availability,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Price => "price",
            Sort::PricePerGpu => "price_per_gpu",
            Sort::Topsis => "topsis",
            Sort::Availability => "availability",
        }
    }
}

/// Offer filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub gpu: Option<String>,
    pub min_gpus: Option<u32>,
    pub min_vram_gib: Option<f64>,
    pub max_price: Option<MicroUsd>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub provider: Option<ProviderId>,
    pub pricing: Option<Pricing>,
    pub available_only: bool,
}

impl Filter {
    pub fn matches(&self, o: &Offer) -> bool {
        self.gpu
            .as_ref()
            .is_none_or(|g| o.gpu_model.eq_ignore_ascii_case(g))
            && self.min_gpus.is_none_or(|n| o.gpu_count >= n)
            && self
                .min_vram_gib
                .is_none_or(|v| o.gpu_memory_gib + 1e-9 >= v)
            && self.max_price.is_none_or(|p| o.price_per_hour <= p)
            && self
                .region
                .as_ref()
                .is_none_or(|r| o.region.eq_ignore_ascii_case(r))
            && self.country.as_ref().is_none_or(|c| {
                o.country
                    .as_deref()
                    .is_some_and(|oc| oc.eq_ignore_ascii_case(c))
            })
            && self.provider.as_ref().is_none_or(|p| &o.provider == p)
            && self.pricing.is_none_or(|p| o.pricing == p)
            && (!self.available_only || o.available > 0)
    }
}

/// A parsed offers query.
#[derive(Debug, Clone)]
pub struct OfferQuery {
    pub filter: Filter,
    pub sort: Sort,
    pub limit: usize,
    pub cursor: Option<String>,
    pub profile: String,
    pub weights: Option<Weights>,
    pub explain: bool,
}

impl Default for OfferQuery {
    fn default() -> Self {
        OfferQuery {
            filter: Filter::default(),
            sort: Sort::Topsis,
            limit: 50,
            cursor: None,
            profile: "balanced".into(),
            weights: None,
            explain: false,
        }
    }
}

fn parse_num<T: std::str::FromStr>(field: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| Error::invalid(field, format!("`{v}` is not a valid number")))
}

fn parse_bool(field: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(Error::invalid_choice(
            field,
            v,
            vec!["true".into(), "false".into()],
        )),
    }
}

impl OfferQuery {
    /// Parses query-string pairs against what the snapshot knows; an unknown key or value is
    /// a validation error naming the field and, for closed sets, the allowed values.
    pub fn parse(pairs: &[(String, String)], snap: &Snapshot) -> Result<OfferQuery> {
        let mut q = OfferQuery::default();
        for (k, v) in pairs {
            let v = v.trim();
            match k.as_str() {
                "gpu" | "gpu_model" if !v.is_empty() => {
                    let models = snap.models();
                    let known = gpus::catalogue().iter().map(|g| g.name.to_string());
                    let m = models
                        .iter()
                        .cloned()
                        .chain(known)
                        .find(|m| m.eq_ignore_ascii_case(v))
                        .ok_or_else(|| Error::invalid_choice("gpu", v, models.clone()))?;
                    q.filter.gpu = Some(m);
                }
                "min_gpus" | "min_gpu_count" if !v.is_empty() => {
                    q.filter.min_gpus = Some(parse_num(k, v)?)
                }
                "min_vram" | "min_vram_gib" if !v.is_empty() => {
                    let x: f64 = parse_num(k, v)?;
                    if !x.is_finite() || x < 0.0 {
                        return Err(Error::invalid(k.as_str(), "must be ≥ 0"));
                    }
                    q.filter.min_vram_gib = Some(x);
                }
                "max_price" | "max_price_per_hour" if !v.is_empty() => {
                    q.filter.max_price =
                        Some(v.parse().map_err(|e: providers::ParseMoneyError| {
                            Error::invalid(k.as_str(), e.to_string())
                        })?)
                }
                "region" if !v.is_empty() => q.filter.region = Some(v.to_string()),
                "country" if !v.is_empty() => q.filter.country = Some(v.to_string()),
                "provider" if !v.is_empty() => {
                    let ids: Vec<String> = snap.providers.iter().map(|p| p.id.0.clone()).collect();
                    if !ids.iter().any(|i| i == v) {
                        return Err(Error::invalid_choice("provider", v, ids));
                    }
                    q.filter.provider = Some(ProviderId(v.to_string()));
                }
                "pricing" if !v.is_empty() => {
                    q.filter.pricing = Some(Pricing::parse(v).ok_or_else(|| {
                        Error::invalid_choice(
                            "pricing",
                            v,
                            Pricing::ALL
                                .iter()
                                .map(|p| p.as_str().to_string())
                                .collect(),
                        )
                    })?)
                }
                "available" | "available_only" => q.filter.available_only = parse_bool(k, v)?,
                "sort" if !v.is_empty() => {
                    q.sort = Sort::ALL
                        .into_iter()
                        .find(|s| s.as_str() == v)
                        .ok_or_else(|| {
                            Error::invalid_choice(
                                "sort",
                                v,
                                Sort::ALL.iter().map(|s| s.as_str().to_string()).collect(),
                            )
                        })?
                }
                "limit" if !v.is_empty() => {
                    let n: usize = parse_num(k, v)?;
                    if !(1..=500).contains(&n) {
                        return Err(Error::invalid("limit", "must be 1..=500"));
                    }
                    q.limit = n;
                }
                "cursor" if !v.is_empty() => q.cursor = Some(v.to_string()),
                "profile" if !v.is_empty() => {
                    if !PROFILES.contains(&v) {
                        return Err(Error::invalid_choice(
                            "profile",
                            v,
                            PROFILES.iter().map(|s| s.to_string()).collect(),
                        ));
                    }
                    q.profile = v.to_string();
                }
                "weights" if !v.is_empty() => q.weights = Some(Weights::parse(v)?),
                "explain" => q.explain = parse_bool(k, v)?,
                _ if v.is_empty() => {}
                other => {
                    return Err(Error::invalid_choice(
                        other,
                        other,
                        [
                            "gpu",
                            "min_gpus",
                            "min_vram",
                            "max_price",
                            "region",
                            "country",
                            "provider",
                            "pricing",
                            "available",
                            "sort",
                            "limit",
                            "cursor",
                            "profile",
                            "weights",
                            "explain",
                        ]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    ))
                }
            }
        }
        Ok(q)
    }
}

/// Per-provider memory of the last good listing (stale-if-error).
#[derive(Debug, Clone, Default)]
struct LastGood {
    offers: Vec<Offer>,
    at: Option<DateTime<Utc>>,
    unpriced: usize,
}

/// The offer index of one world (sandbox or live): its providers and current snapshot.
pub struct OfferIndex {
    /// Replaced whole when the world changes (LIVE credentials written or removed).
    providers: RwLock<Vec<Arc<dyn Provider>>>,
    current: RwLock<Arc<Snapshot>>,
    last_good: tokio::sync::Mutex<HashMap<ProviderId, LastGood>>,
    stats: Mutex<RefreshStats>,
}

impl std::fmt::Debug for OfferIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferIndex")
            .field("providers", &self.providers().len())
            .finish()
    }
}

impl OfferIndex {
    pub fn new(providers: Vec<Arc<dyn Provider>>) -> Self {
        OfferIndex {
            providers: RwLock::new(providers),
            current: RwLock::new(Arc::new(Snapshot::empty())),
            last_good: tokio::sync::Mutex::new(HashMap::new()),
            stats: Mutex::new(RefreshStats::default()),
        }
    }

    /// Pushes hot engine settings into every provider that runs on the shared engine.
    pub fn apply(&self, settings: &providers::http::EngineSettings) {
        for p in self.providers() {
            if let Some(e) = p.engine() {
                e.apply(settings);
            }
        }
    }

    /// Refresh timings so far.
    pub fn refresh_stats(&self) -> RefreshStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The snapshot's provider statuses with the breaker state read live (a breaker moves
    /// between refreshes: its wait ends, a probe closes it).
    pub fn statuses(&self) -> Vec<ProviderStatus> {
        let mut out = self.snapshot().providers.clone();
        for s in &mut out {
            if let Some(p) = self.provider(&s.id) {
                s.breaker = p.breaker();
            }
        }
        out
    }

    /// One provider of the world (clones only that provider's handle, not the list: this is
    /// on the deploy and provider-status paths).
    pub fn provider(&self, id: &ProviderId) -> Option<Arc<dyn Provider>> {
        let list = self
            .providers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        list.iter().find(|p| p.id() == id).cloned()
    }

    /// The world's providers now.
    pub fn providers(&self) -> Vec<Arc<dyn Provider>> {
        match self.providers.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces the world's providers; the next [`OfferIndex::refresh`] lists the new ones
    /// (a replaced provider keeps its last good listing as the stale fallback).
    pub fn set_providers(&self, providers: Vec<Arc<dyn Provider>>) {
        match self.providers.write() {
            Ok(mut g) => *g = providers,
            Err(p) => *p.into_inner() = providers,
        }
    }

    /// The current snapshot (cheap: an `Arc` clone).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Lists every provider concurrently and swaps in a new snapshot. A provider that fails
    /// keeps serving its last good offers, marked `stale`.
    #[instrument(skip_all)]
    pub async fn refresh(
        &self,
        now: DateTime<Utc>,
        weights: Weights,
        timeout: Duration,
        track_record: &HashMap<ProviderId, (i64, i64)>,
        owned_costs: &crate::owned::HourlyCosts,
    ) -> Result<Arc<Snapshot>> {
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for p in self.providers() {
            let span = info_span!("provider.list_offers", provider = %p.id());
            set.spawn(
                async move {
                    let r = tokio::time::timeout(timeout, p.list_offers()).await;
                    let r = r.unwrap_or_else(|_| {
                        let e = providers::ProviderError::Transient("timed out".into());
                        // The engine's own call was dropped mid-flight: count it as failed.
                        if let Some(engine) = p.engine() {
                            engine.record_abandoned(&e);
                        }
                        Err(e)
                    });
                    (p, r)
                }
                .instrument(span),
            );
        }
        let mut offers = Vec::new();
        let mut statuses = Vec::new();
        let mut last_good = self.last_good.lock().await;
        while let Some(joined) = set.join_next().await {
            let Ok((p, r)) = joined else { continue };
            let lg = last_good.entry(p.id().clone()).or_default();
            // The engine serves its own last good listing (marked stale) when a fetch
            // fails: that is a failure of the provider all the same.
            let r = match r {
                Ok(list)
                    if !list.is_empty() && list.iter().all(|o| o.source == OfferSource::Stale) =>
                {
                    Err(providers::ProviderError::Transient(
                        p.engine()
                            .and_then(providers::http::Engine::last_error)
                            .unwrap_or_else(|| "serving stale offers".to_string()),
                    ))
                }
                other => other,
            };
            let status = match r {
                Ok(list) => {
                    // Owned capacity has no price of its own: priced here, or not offered.
                    (lg.offers, lg.unpriced) = match p.kind() {
                        providers::ProviderKind::Owned => {
                            let priced = crate::owned::price(list, owned_costs);
                            (priced.offers, priced.unpriced)
                        }
                        providers::ProviderKind::Cloud => (list, 0),
                    };
                    lg.at = Some(now);
                    offers.extend(lg.offers.iter().cloned());
                    ProviderStatus::of(p.as_ref(), lg, now, None)
                }
                Err(e) => {
                    warn!(provider = %p.id(), error = %e, "listing offers failed; serving stale offers");
                    offers.extend(lg.offers.iter().cloned().map(|mut o| {
                        o.source = OfferSource::Stale;
                        o
                    }));
                    ProviderStatus::of(p.as_ref(), lg, now, Some(e.to_string()))
                }
            };
            statuses.push(status);
        }
        drop(last_good);
        statuses.sort_by(|a, b| a.id.cmp(&b.id));
        let version = self.snapshot().version + 1;
        let snap = Arc::new(Snapshot::build(
            version,
            now,
            offers,
            statuses,
            weights,
            track_record,
        )?);
        match self.current.write() {
            Ok(mut g) => *g = Arc::clone(&snap),
            Err(p) => *p.into_inner() = Arc::clone(&snap),
        }
        let took = started.elapsed().as_secs_f64();
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats.count += 1;
        stats.last_seconds = took;
        stats.total_seconds += took;
        Ok(snap)
    }
}

/// Failover candidates come from the world's current snapshot: equivalent, fresh offers of
/// providers that can provision, best first.
impl crate::allocations::Alternatives for OfferIndex {
    fn equivalent(&self, a: &crate::allocations::Allocation) -> Vec<Offer> {
        let snap = self.snapshot();
        let providers = self.providers();
        snap.equivalent(&a.gpu_model, a.gpu_count)
            .into_iter()
            .filter(|o| {
                providers
                    .iter()
                    .any(|p| p.id() == &o.provider && p.capabilities().provision)
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse_and_reject_with_the_field_named() {
        let w = Weights::parse("price:0.5, perf:0.3,vram:0.2").unwrap();
        assert_eq!(w.0[0], 0.5);
        assert_eq!(w.0[3], 0.2);
        for bad in [
            "price",
            "price:-1",
            "speed:1",
            "price:x",
            "price:0",
            "price:1,price:2",
        ] {
            match Weights::parse(bad) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "weights"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn reliability_starts_neutral_and_follows_the_record() {
        assert!((reliability((0, 0), true) - 0.9).abs() < 1e-12);
        assert!(reliability((100, 0), true) > 0.99);
        assert!(reliability((0, 10), true) < 0.5);
        assert!((reliability((0, 0), false) - 0.45).abs() < 1e-12);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let c = Cursor {
            s: "price".into(),
            k: -1.5,
            id: "a:b".into(),
        };
        let d = Cursor::decode(&c.encode()).unwrap();
        assert_eq!((d.s, d.k, d.id), (c.s, c.k, c.id));
        assert!(Cursor::decode("!!").is_err());
    }
}

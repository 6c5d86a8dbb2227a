//! The landing page, rendered from the offer index snapshot: headline numbers, the cheapest
//! offer of each popular GPU model, and the providers with their health.

use std::collections::{BTreeMap, BTreeSet};

use broker::offers::{ProviderStatus, Snapshot};
use providers::{MicroUsd, Offer};

use super::{encode_query_value, escape};

/// How many GPU models the landing page features.
const FEATURED_MODELS: usize = 8;

/// The models people most often come for, featured first when offered; the rest of the
/// featured slots go to the models with the most offers.
const POPULAR: [&str; 10] = [
    "H100-SXM",
    "H200",
    "B200",
    "A100-80GB-SXM",
    "L40S",
    "RTX4090",
    "RTX5090",
    "MI300X",
    "L4",
    "A10G",
];

/// A price for display: cents from $1 up, hundredths of a cent below (rounded half-up on
/// the integer micro-dollars, never through floating point). `$2.50`, `$0.0512`.
pub fn usd(m: MicroUsd) -> String {
    let sign = if m.0 < 0 { "-" } else { "" };
    let abs = m.0.unsigned_abs();
    let decimals: u32 = if abs >= 1_000_000 { 2 } else { 4 };
    let unit = 10_u64.pow(6 - decimals);
    let rounded = (abs + unit / 2) / unit;
    let scale = 10_u64.pow(decimals);
    let width = usize::try_from(decimals).unwrap_or(2);
    format!(
        "{sign}${}.{:0width$}",
        rounded / scale,
        rounded % scale,
        width = width
    )
}

/// GiB for display: whole numbers as they are, anything else to one decimal.
pub fn gib(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One featured GPU model.
#[derive(Debug)]
struct ModelSummary<'a> {
    name: &'a str,
    offers: usize,
    available: usize,
    /// The cheapest per-GPU offer with free capacity (any offer when none has).
    cheapest: &'a Offer,
    providers: usize,
}

fn summaries(offers: &[Offer]) -> Vec<ModelSummary<'_>> {
    let mut by_model: BTreeMap<&str, Vec<&Offer>> = BTreeMap::new();
    for o in offers {
        by_model.entry(o.gpu_model.as_str()).or_default().push(o);
    }
    let mut out: Vec<ModelSummary<'_>> = by_model
        .into_iter()
        .filter_map(|(name, offers)| {
            let pool: Vec<&Offer> = if offers.iter().any(|o| o.available > 0) {
                offers.iter().copied().filter(|o| o.available > 0).collect()
            } else {
                offers.clone()
            };
            let cheapest = pool
                .into_iter()
                .min_by(|a, b| a.price_per_gpu_hour.cmp(&b.price_per_gpu_hour))?;
            let mut providers: Vec<&str> = offers.iter().map(|o| o.provider.0.as_str()).collect();
            providers.sort_unstable();
            providers.dedup();
            Some(ModelSummary {
                name,
                offers: offers.len(),
                available: offers.iter().filter(|o| o.available > 0).count(),
                cheapest,
                providers: providers.len(),
            })
        })
        .collect();
    let rank = |name: &str| {
        POPULAR
            .iter()
            .position(|p| *p == name)
            .unwrap_or(POPULAR.len())
    };
    out.sort_by(|a, b| {
        rank(a.name)
            .cmp(&rank(b.name))
            .then(b.offers.cmp(&a.offers))
            .then(a.name.cmp(b.name))
    });
    out.truncate(FEATURED_MODELS);
    out
}

fn model_card(m: &ModelSummary<'_>) -> String {
    let href = format!("/offers?gpu={}&available=true", encode_query_value(m.name));
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    format!(
        "<a class=\"card gpu-card\" data-gpu=\"{name}\" href=\"{href}\">\
<span class=\"gpu-name\">{name}</span>\
<span class=\"gpu-mem\">{mem} GiB</span>\
<span class=\"gpu-price\" title=\"{exact} USD per GPU-hour\"><small>from</small> {price}<small>/GPU·h</small></span>\
<span class=\"gpu-meta\">{offers} · {providers} · {available} available</span>\
<span class=\"gpu-where\">cheapest at {provider}, {region}</span></a>",
        name = escape(m.name),
        href = escape(&href),
        mem = gib(m.cheapest.gpu_memory_gib),
        price = escape(&usd(m.cheapest.price_per_gpu_hour)),
        exact = m.cheapest.price_per_gpu_hour,
        offers = plural(m.offers, "offer", "offers"),
        providers = plural(m.providers, "provider", "providers"),
        available = m.available,
        provider = escape(&m.cheapest.provider.0),
        region = escape(&m.cheapest.region),
    )
}

fn provider_rows(providers: &[ProviderStatus]) -> String {
    let mut rows = String::new();
    for p in providers {
        let (class, label) = if p.healthy {
            ("ok", "healthy")
        } else {
            ("bad", "degraded")
        };
        let seen = p
            .last_success_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "never".into());
        let error = p
            .last_error
            .as_deref()
            .map(|e| format!("<span class=\"muted\">{}</span>", escape(e)))
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr data-provider=\"{id}\"><td><a href=\"/offers?provider={q}\">{name}</a></td>\
<td><span class=\"health {class}\">{label}</span> {error}</td>\
<td class=\"num\">{count}</td><td>{seen}</td></tr>",
            id = escape(&p.id.0),
            q = escape(&encode_query_value(&p.id.0)),
            name = escape(&p.name),
            count = p.offer_count,
            seen = escape(&seen),
        ));
    }
    rows
}

/// The landing page body for the current snapshot.
pub fn render(snap: &Snapshot) -> String {
    render_parts(&snap.offers, &snap.providers)
}

fn render_parts(offers: &[Offer], providers: &[ProviderStatus]) -> String {
    let featured_models = summaries(offers);
    let model_count = offers
        .iter()
        .map(|o| o.gpu_model.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    let available = offers.iter().filter(|o| o.available > 0).count();
    let healthy = providers.iter().filter(|p| p.healthy).count();
    let cards: String = featured_models.iter().map(model_card).collect();
    let featured = if featured_models.is_empty() {
        "<p class=\"notice\" id=\"warming-up\">The offer index is warming up: the first \
         listing from the providers arrives within a few seconds. Reload the page.</p>"
            .to_string()
    } else {
        format!("<div class=\"gpu-grid\" id=\"popular-gpus\">{cards}</div>")
    };
    let provider_table = if providers.is_empty() {
        String::new()
    } else {
        format!(
            "<section class=\"section\"><h2>Providers</h2><div class=\"table-wrap\">\
<table class=\"table\" id=\"providers-table\"><thead><tr><th>Provider</th><th>Health</th>\
<th class=\"num\">Offers</th><th>Last listing</th></tr></thead><tbody>{}</tbody></table>\
</div></section>",
            provider_rows(providers)
        )
    };
    format!(
        "<section class=\"hero\"><div><h1>The right GPU, at the right price, ranked.</h1>\
<p class=\"lead\">gpubroker compares GPU offers across cloud providers and ranks them with \
TOPSIS on price, performance, memory, availability and reliability, and tells you why. \
Deploy in one click; connect over SSH or Jupyter.</p>\
<p class=\"cta-row\"><a class=\"button primary large\" id=\"cta-browse\" href=\"/offers\">Browse the marketplace</a> \
<a class=\"button large\" href=\"/register\">Create an account</a></p></div>\
<dl class=\"stats\" id=\"stats\">\
<div><dt>offers</dt><dd>{offer_count}</dd></div>\
<div><dt>available now</dt><dd>{available}</dd></div>\
<div><dt>GPU models</dt><dd>{model_count}</dd></div>\
<div><dt>providers healthy</dt><dd>{healthy}/{providers_total}</dd></div></dl></section>\
<section class=\"section\"><h2>Popular GPUs</h2>{featured}</section>{provider_table}",
        offer_count = offers.len(),
        providers_total = providers.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::{TimeZone, Utc};
    use providers::{Capabilities, OfferId, OfferSource, Pricing, ProviderId};

    fn offer(provider: &str, key: &str, model: &str, micro_per_gpu: i64, available: u32) -> Offer {
        let p = ProviderId(provider.into());
        Offer {
            id: OfferId::new(&p, key),
            provider: p,
            instance_type: key.into(),
            gpu_model: model.into(),
            gpu_count: 1,
            gpu_memory_gib: 80.0,
            vcpus: Some(8),
            memory_gib: Some(64.0),
            storage_gib: None,
            region: "eu-west".into(),
            country: Some("NL".into()),
            pricing: Pricing::OnDemand,
            price_per_hour: MicroUsd(micro_per_gpu),
            price_per_gpu_hour: MicroUsd(micro_per_gpu),
            available,
            as_of: Utc.timestamp_opt(0, 0).single().unwrap_or_default(),
            source: OfferSource::Live,
        }
    }

    fn provider(provider_name: &str, offer_count: usize) -> ProviderStatus {
        ProviderStatus {
            id: ProviderId("acme".into()),
            name: provider_name.into(),
            healthy: true,
            offer_count,
            last_success_at: None,
            last_error: None,
            capabilities: Capabilities::ALL,
            breaker: None,
            unknown_gpus: 0,
            transport: "http",
            stale_age_seconds: None,
            unknown_gpu_names: Vec::new(),
            kind: providers::ProviderKind::Cloud,
            unpriced: 0,
        }
    }

    #[test]
    fn prices_round_half_up_to_cents_or_hundredths_of_a_cent() {
        assert_eq!(usd(MicroUsd(2_500_000)), "$2.50");
        assert_eq!(usd(MicroUsd(3_000_000)), "$3.00");
        assert_eq!(usd(MicroUsd(1_234_567)), "$1.23");
        assert_eq!(usd(MicroUsd(1_235_000)), "$1.24");
        assert_eq!(usd(MicroUsd(51_169)), "$0.0512");
        assert_eq!(usd(MicroUsd(-500_000)), "-$0.5000");
        assert_eq!(usd(MicroUsd(0)), "$0.0000");
        assert_eq!(gib(80.0), "80");
        assert_eq!(gib(22.3516), "22.4");
    }

    #[test]
    fn popular_models_come_first_then_the_most_offered() {
        let offers = vec![
            offer("acme", "a", "T4", 100_000, 1),
            offer("acme", "b", "T4", 100_000, 1),
            offer("acme", "c", "H100-SXM", 2_000_000, 1),
        ];
        let ranked: Vec<&str> = summaries(&offers).iter().map(|m| m.name).collect();
        assert_eq!(ranked, ["H100-SXM", "T4"]);
    }

    #[test]
    fn the_cheapest_available_offer_is_featured_per_model() {
        let offers = vec![
            offer("acme", "a", "H100 SXM", 1_000_000, 0),
            offer("acme", "b", "H100 SXM", 2_000_000, 3),
            offer("acme", "c", "H100 SXM", 3_000_000, 1),
        ];
        let html = render_parts(&offers, &[provider("Acme", 3)]);
        assert!(html.contains("data-gpu=\"H100 SXM\""));
        assert!(html.contains("href=\"/offers?gpu=H100%20SXM&amp;available=true\""));
        assert!(html.contains("$2.00"), "{html}");
        assert!(html.contains("3 offers"));
    }

    #[test]
    fn provider_and_model_names_are_escaped() {
        let offers = vec![offer("acme", "a", "<img src=x>", 1_000_000, 1)];
        let html = render_parts(&offers, &[provider("<script>alert(1)</script>", 1)]);
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn an_empty_index_says_it_is_warming_up() {
        let html = render(&Snapshot::empty());
        assert!(html.contains("id=\"warming-up\""));
        assert!(html.contains("id=\"cta-browse\""));
    }
}

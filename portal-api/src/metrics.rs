//! `GET /metrics`: Prometheus text exposition (format 0.0.4) of provider resilience, every
//! metric name declared here and nowhere else. Values are read at scrape time from the offer
//! indexes and the provider engines, so there is no registry to keep in sync (ADR 0010).
//!
//! Invariant: nothing here is tenant or user data — the same provider health that
//! `GET /api/v1/providers` shows anyone — so the endpoint is public like `/healthz`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use broker::offers::OfferIndex;
use broker::tenants::Mode;
use providers::http::BreakerState;

use crate::state::AppState;

pub const BREAKER_STATE: &str = "gpubroker_provider_breaker_state";
pub const HEALTHY: &str = "gpubroker_provider_healthy";
pub const OFFERS: &str = "gpubroker_provider_offers";
pub const STALE_AGE: &str = "gpubroker_provider_stale_age_seconds";
pub const UNKNOWN_GPU_ROWS: &str = "gpubroker_provider_unknown_gpu_rows_total";
pub const UNKNOWN_GPU_NAME_ROWS: &str = "gpubroker_provider_unknown_gpu_name_rows";
pub const CALLS: &str = "gpubroker_provider_calls_total";
pub const ERRORS: &str = "gpubroker_provider_errors_total";
pub const REFRESH: &str = "gpubroker_offer_refresh_duration_seconds";
pub const REFRESH_LAST: &str = "gpubroker_offer_refresh_last_duration_seconds";

/// A label value escaped for the text format (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn mode_label(m: Mode) -> &'static str {
    match m {
        Mode::Sandbox => "sandbox",
        Mode::Live => "live",
    }
}

/// The exposition of every world's index.
pub fn render(worlds: &[(Mode, Arc<OfferIndex>)]) -> String {
    let mut out = String::new();
    let head = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    let rows: Vec<(&'static str, broker::offers::ProviderStatus, Option<_>)> = worlds
        .iter()
        .flat_map(|(m, index)| {
            index.statuses().into_iter().map(move |s| {
                let stats = index
                    .provider(&s.id)
                    .and_then(|p| p.engine().map(providers::http::Engine::call_stats));
                (mode_label(*m), s, stats)
            })
        })
        .collect();

    head(
        &mut out,
        BREAKER_STATE,
        "gauge",
        "Circuit breaker state of a provider (1 for the current state).",
    );
    for (w, s, _) in &rows {
        let Some(state) = s.breaker else { continue };
        for (name, st) in [
            ("closed", BreakerState::Closed),
            ("open", BreakerState::Open),
            ("half_open", BreakerState::HalfOpen),
        ] {
            let _ = writeln!(
                out,
                "{BREAKER_STATE}{{world=\"{w}\",provider=\"{}\",state=\"{name}\"}} {}",
                label(&s.id.0),
                u8::from(state == st)
            );
        }
    }
    head(
        &mut out,
        HEALTHY,
        "gauge",
        "1 when the provider's last listing succeeded.",
    );
    for (w, s, _) in &rows {
        let _ = writeln!(
            out,
            "{HEALTHY}{{world=\"{w}\",provider=\"{}\"}} {}",
            label(&s.id.0),
            u8::from(s.healthy)
        );
    }
    head(
        &mut out,
        OFFERS,
        "gauge",
        "Offers of the provider in the current snapshot (stale ones included).",
    );
    for (w, s, _) in &rows {
        let _ = writeln!(
            out,
            "{OFFERS}{{world=\"{w}\",provider=\"{}\"}} {}",
            label(&s.id.0),
            s.offer_count
        );
    }
    head(
        &mut out,
        STALE_AGE,
        "gauge",
        "Seconds since the provider's last good listing, while its offers are served stale.",
    );
    for (w, s, _) in &rows {
        if let Some(age) = s.stale_age_seconds {
            let _ = writeln!(
                out,
                "{STALE_AGE}{{world=\"{w}\",provider=\"{}\"}} {age}",
                label(&s.id.0)
            );
        }
    }
    head(
        &mut out,
        UNKNOWN_GPU_ROWS,
        "counter",
        "Listing rows skipped because their GPU name is not in the catalogue.",
    );
    for (w, s, _) in &rows {
        let _ = writeln!(
            out,
            "{UNKNOWN_GPU_ROWS}{{world=\"{w}\",provider=\"{}\"}} {}",
            label(&s.id.0),
            s.unknown_gpus
        );
    }
    head(
        &mut out,
        UNKNOWN_GPU_NAME_ROWS,
        "gauge",
        "Listing rows per unknown GPU name (at most 50 names per provider).",
    );
    for (w, s, _) in &rows {
        for u in &s.unknown_gpu_names {
            let _ = writeln!(
                out,
                "{UNKNOWN_GPU_NAME_ROWS}{{world=\"{w}\",provider=\"{}\",name=\"{}\"}} {}",
                label(&s.id.0),
                label(&u.name),
                u.rows
            );
        }
    }
    head(
        &mut out,
        CALLS,
        "counter",
        "Provider calls attempted (retries included, breaker refusals included).",
    );
    for (w, s, stats) in &rows {
        if let Some(c) = stats {
            let _ = writeln!(
                out,
                "{CALLS}{{world=\"{w}\",provider=\"{}\"}} {}",
                label(&s.id.0),
                c.calls
            );
        }
    }
    head(
        &mut out,
        ERRORS,
        "counter",
        "Failed provider calls by error kind (the provider error taxonomy).",
    );
    for (w, s, stats) in &rows {
        if let Some(c) = stats {
            for (kind, n) in &c.errors {
                let _ = writeln!(
                    out,
                    "{ERRORS}{{world=\"{w}\",provider=\"{}\",kind=\"{kind}\"}} {n}",
                    label(&s.id.0)
                );
            }
        }
    }
    head(
        &mut out,
        REFRESH,
        "summary",
        "Wall time of full offer refreshes (every provider of a world).",
    );
    for (m, index) in worlds {
        let st = index.refresh_stats();
        let w = mode_label(*m);
        let _ = writeln!(
            out,
            "{REFRESH}_sum{{world=\"{w}\"}} {}\n{REFRESH}_count{{world=\"{w}\"}} {}",
            st.total_seconds, st.count
        );
    }
    head(
        &mut out,
        REFRESH_LAST,
        "gauge",
        "Wall time of the last full offer refresh.",
    );
    for (m, index) in worlds {
        let _ = writeln!(
            out,
            "{REFRESH_LAST}{{world=\"{}\"}} {}",
            mode_label(*m),
            index.refresh_stats().last_seconds
        );
    }
    out
}

pub async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let worlds = [Mode::Sandbox, Mode::Live].map(|m| (m, s.broker.index(m)));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&worlds),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn an_empty_world_still_declares_every_metric() {
        let worlds = [(Mode::Live, Arc::new(OfferIndex::new(Vec::new())))];
        let text = render(&worlds);
        for name in [
            BREAKER_STATE,
            HEALTHY,
            OFFERS,
            STALE_AGE,
            UNKNOWN_GPU_ROWS,
            UNKNOWN_GPU_NAME_ROWS,
            CALLS,
            ERRORS,
            REFRESH,
            REFRESH_LAST,
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        assert!(text.contains("gpubroker_offer_refresh_duration_seconds_count{world=\"live\"} 0"));
    }
}

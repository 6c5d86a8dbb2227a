//! Resilience you can see and steer: the admin view of every provider of the caller's world
//! (health, breaker, stale age, unknown GPU names, call counts, engine settings) and the
//! SANDBOX fault knobs of each provider (latency, error rate, 429 bursts, garbage bodies,
//! hangs).
//!
//! Invariant: fault knobs exist only for SANDBOX tenants; a LIVE tenant gets
//! `sandbox-only`, never a knob that could touch a real provider.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use broker::offers::ProviderStatus;
use broker::tenants::Mode;
use serde::{Deserialize, Serialize};

use super::{ApiJson, Page};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Largest latency a fault may add, milliseconds.
const MAX_LATENCY_MS: u64 = 120_000;
/// Largest 429 burst, requests.
const MAX_RATE_LIMITED: u32 = 1_000_000;

/// One provider's fault knobs. Every field defaults to "no fault", so `PUT {}` clears them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added before every answer.
    pub latency_ms: u64,
    /// Share of requests (0..=1) answered with HTTP 500.
    pub error_rate: f64,
    /// The next n requests get 429 with `Retry-After: 1` (counts down as they are served).
    pub rate_limited_next: u32,
    /// Successful answers carry a body that is not JSON.
    pub garbage: bool,
    /// Requests are never answered (the client's timeout ends them).
    pub hang: bool,
}

/// A provider's knobs and which of them it supports.
#[derive(Debug, Serialize)]
struct FaultsView {
    provider: String,
    #[serde(flatten)]
    faults: Faults,
    /// Whether the provider is a wire fake (429 bursts, garbage and hangs need one; latency
    /// and error rate work for in-process simulations too).
    wire_faults: bool,
}

async fn sandbox_tenant(s: &AppState, tenant_id: &str) -> ApiResult<()> {
    match s.broker.mode(tenant_id).await? {
        Mode::Sandbox => Ok(()),
        Mode::Live => Err(ApiError::SandboxOnly("fault knobs")),
    }
}

fn market(s: &AppState) -> ApiResult<&Arc<sandbox::Market>> {
    s.market
        .as_ref()
        .ok_or(ApiError::SandboxOnly("fault knobs"))
}

fn faults_of(s: &AppState, m: &sandbox::Market, id: &str) -> FaultsView {
    let knobs = m.knobs(id);
    let wire = s.fakes.as_ref().and_then(|f| f.faults(id));
    FaultsView {
        provider: id.to_string(),
        faults: Faults {
            latency_ms: u64::try_from(knobs.latency.as_millis()).unwrap_or(u64::MAX),
            error_rate: knobs.failure_rate,
            rate_limited_next: wire.map_or(0, |w| w.rate_limited.load(Ordering::SeqCst)),
            garbage: wire.is_some_and(|w| w.garbage.load(Ordering::SeqCst)),
            hang: wire.is_some_and(|w| w.hang.load(Ordering::SeqCst)),
        },
        wire_faults: wire.is_some(),
    }
}

fn out_of_range(field: &str, message: &str) -> ApiError {
    ApiError::OutOfRange {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Checks ranges, and that wire-only faults are asked of a wire fake.
fn validate(f: &Faults, wire: bool) -> ApiResult<()> {
    if f.latency_ms > MAX_LATENCY_MS {
        return Err(out_of_range("latency_ms", "must be within 0..=120000"));
    }
    if !f.error_rate.is_finite() || !(0.0..=1.0).contains(&f.error_rate) {
        return Err(out_of_range("error_rate", "must be within 0..=1"));
    }
    if f.rate_limited_next > MAX_RATE_LIMITED {
        return Err(out_of_range(
            "rate_limited_next",
            "must be within 0..=1000000",
        ));
    }
    if !wire {
        let field = if f.rate_limited_next > 0 {
            Some("rate_limited_next")
        } else if f.garbage {
            Some("garbage")
        } else if f.hang {
            Some("hang")
        } else {
            None
        };
        if let Some(field) = field {
            return Err(out_of_range(
                field,
                "this provider is simulated in process and has no wire to fault",
            ));
        }
    }
    Ok(())
}

async fn get_faults(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<FaultsView>> {
    sandbox_tenant(&s, &a.tenant_id).await?;
    let m = market(&s)?;
    super::admin::known_provider(m, &id)?;
    Ok(Json(faults_of(&s, m, &id)))
}

async fn put_faults(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
    ApiJson(f): ApiJson<Faults>,
) -> ApiResult<Json<FaultsView>> {
    sandbox_tenant(&s, &a.tenant_id).await?;
    let m = market(&s)?;
    super::admin::known_provider(m, &id)?;
    let wire = s.fakes.as_ref().and_then(|h| h.faults(&id));
    validate(&f, wire.is_some())?;
    m.set_knobs(
        &id,
        sandbox::market::Knobs {
            latency: Duration::from_millis(f.latency_ms),
            failure_rate: f.error_rate,
            ..m.knobs(&id)
        },
    );
    if let Some(w) = wire {
        w.rate_limit_next(f.rate_limited_next);
        w.set_garbage(f.garbage);
        w.set_hang(f.hang);
    }
    // The next refresh asks the provider instead of its cached listing.
    if let Some(p) = s
        .broker
        .index(Mode::Sandbox)
        .provider(&providers::ProviderId(id.clone()))
    {
        if let Some(e) = p.engine() {
            e.invalidate_offers().await;
        }
    }
    tracing::info!(admin = %a.email, provider = %id, faults = ?f, "sandbox faults changed");
    Ok(Json(faults_of(&s, m, &id)))
}

/// One provider as the admin sees it.
#[derive(Debug, Serialize)]
struct AdminProvider {
    #[serde(flatten)]
    status: ProviderStatus,
    /// Attempts sent (retries included) and calls refused by an open breaker.
    calls: u64,
    /// Failed calls by error kind.
    errors: std::collections::BTreeMap<&'static str, u64>,
    /// The engine settings in force (absent for in-process simulations).
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    /// The fault knobs (SANDBOX only).
    #[serde(skip_serializing_if = "Option::is_none")]
    faults: Option<FaultsView>,
}

async fn admin_providers(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
) -> ApiResult<Json<Page<AdminProvider>>> {
    let mode = s.broker.mode(&a.tenant_id).await?;
    let index = s.broker.index(mode);
    let items = index
        .statuses()
        .into_iter()
        .map(|status| {
            let p = index.provider(&status.id);
            let engine = p.as_ref().and_then(|p| p.engine());
            let stats = engine.map(providers::http::Engine::call_stats);
            let faults = match (mode, s.market.as_ref()) {
                (Mode::Sandbox, Some(m)) => Some(faults_of(&s, m, &status.id.0)),
                _ => None,
            };
            AdminProvider {
                calls: stats.as_ref().map_or(0, |c| c.calls),
                errors: stats.map(|c| c.errors).unwrap_or_default(),
                timeout_ms: engine
                    .map(|e| u64::try_from(e.timeout().as_millis()).unwrap_or(u64::MAX)),
                faults,
                status,
            }
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/admin/providers", get(admin_providers))
        .route(
            "/api/v1/admin/sandbox/faults/{provider}",
            get(get_faults).put(put_faults),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_ranges_are_checked_and_wire_faults_need_a_wire() {
        assert!(validate(&Faults::default(), false).is_ok());
        let bad = [
            Faults {
                error_rate: 1.5,
                ..Faults::default()
            },
            Faults {
                latency_ms: MAX_LATENCY_MS + 1,
                ..Faults::default()
            },
            Faults {
                error_rate: f64::NAN,
                ..Faults::default()
            },
        ];
        for f in &bad {
            assert!(matches!(
                validate(f, true),
                Err(ApiError::OutOfRange { .. })
            ));
        }
        let hang = Faults {
            hang: true,
            ..Faults::default()
        };
        assert!(validate(&hang, true).is_ok());
        match validate(&hang, false) {
            Err(ApiError::OutOfRange { field, .. }) => assert_eq!(field, "hang"),
            other => panic!("{other:?}"),
        }
    }
}

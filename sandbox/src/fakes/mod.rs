//! Protocol-faithful fakes of GPU clouds: loopback axum servers that speak each vendor's
//! real wire protocol (paths, auth, JSON shapes, status codes) over the shared [`Market`],
//! so SANDBOX mode runs the real adapters and the real HTTP engine.
//!
//! Faults come from two places: the market's per-provider [`crate::Knobs`] (`latency`
//! before every answer, `failure_rate` → HTTP 500, `out_of_capacity` → the vendor's
//! capacity error), and fake-level [`FakeFaults`] for what only exists on the wire (bursts of
//! 429 with `Retry-After`, garbage bodies, hanging requests).
//!
//! Invariants: a fake binds 127.0.0.1 only; it refuses requests without the expected
//! credentials with 401; it never keeps state of its own beyond what the market holds.

pub mod akash;
pub mod aws;
pub mod azure;
pub mod cudo;
pub mod digitalocean;
pub mod fluidstack;
pub mod gcp;
pub mod hyperstack;
pub mod jarvislabs;
pub mod lambda;
pub mod latitude;
pub mod linode;
pub mod maas;
pub mod oci;
pub mod ovhcloud;
pub mod paperspace;
pub mod runpod;
pub mod scaleway;
pub mod seeweb;
pub mod tensordock;
pub mod vast;
pub mod verda;
pub mod vultr;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use providers::ProviderId;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::market::Market;

/// Wire-level faults a test or the sandbox operator can switch on at run time.
#[derive(Debug, Default)]
pub struct FakeFaults {
    /// The next `n` requests get `429 Too Many Requests` with `Retry-After: 1`.
    pub rate_limited: AtomicU32,
    /// Successful answers carry a body that is not JSON.
    pub garbage: AtomicBool,
    /// Requests are never answered.
    pub hang: AtomicBool,
}

impl FakeFaults {
    /// Answers the next `n` requests with 429.
    pub fn rate_limit_next(&self, n: u32) {
        self.rate_limited.store(n, Ordering::SeqCst);
    }

    pub fn set_garbage(&self, on: bool) {
        self.garbage.store(on, Ordering::SeqCst);
    }

    pub fn set_hang(&self, on: bool) {
        self.hang.store(on, Ordering::SeqCst);
    }
}

/// What every fake handler shares: the market, which provider it plays, the credential it
/// accepts, and its wire faults.
#[derive(Debug, Clone)]
pub struct FakeContext {
    pub market: Arc<Market>,
    pub provider: ProviderId,
    pub api_key: String,
    pub faults: Arc<FakeFaults>,
}

impl FakeContext {
    pub fn new(market: Arc<Market>, provider: &str, api_key: impl Into<String>) -> Self {
        Self {
            market,
            provider: ProviderId(provider.to_string()),
            api_key: api_key.into(),
            faults: Arc::default(),
        }
    }
}

/// How a fake reads the credential from a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeAuth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `Authorization: Bearer <token>` with the token the fake issued for the key (OAuth).
    IssuedToken,
    /// The key alone in a vendor header (`X-APITOKEN: <key>`).
    Header(&'static str),
    /// OAuth 1.0a `PLAINTEXT` for the key `consumer:token:<api key>` (MAAS).
    OAuthPlaintext,
    /// No credentials (public price lists), or checked by the fake itself before the guard
    /// (request signatures over the body).
    Public,
}

/// Applies auth, latency, the market's failure rate and the wire faults before a handler.
pub(crate) fn guarded(router: Router, ctx: FakeContext, auth: FakeAuth) -> Router {
    router.layer(middleware::from_fn_with_state((ctx, auth), guard))
}

async fn guard(
    State((ctx, auth)): State<(FakeContext, FakeAuth)>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let ok = match auth {
        FakeAuth::Bearer => presented == Some(format!("Bearer {}", ctx.api_key).as_str()),
        FakeAuth::IssuedToken => {
            presented == Some(format!("Bearer {}", verda::issued_token(&ctx.api_key)).as_str())
        }
        FakeAuth::Header(name) => {
            req.headers().get(name).and_then(|v| v.to_str().ok()) == Some(ctx.api_key.as_str())
        }
        FakeAuth::OAuthPlaintext => maas::oauth_plaintext_ok(presented, &ctx.api_key),
        FakeAuth::Public => true,
    };
    if !ok {
        return (StatusCode::UNAUTHORIZED, unauthorized_body(&ctx.provider)).into_response();
    }
    let knobs = ctx.market.knobs(&ctx.provider.0);
    if !knobs.latency.is_zero() {
        tokio::time::sleep(knobs.latency).await;
    }
    // Hold the request while the hang knob is on (the client times out); release it when the
    // knob is turned off, so no connection task outlives the scenario.
    while ctx.faults.hang.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let burst = ctx
        .faults
        .rate_limited
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    if burst.is_ok() {
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "{}").into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    if ctx.market.fault(&ctx.provider.0).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    let resp = next.run(req).await;
    if ctx.faults.garbage.load(Ordering::SeqCst) && resp.status().is_success() {
        return (StatusCode::OK, Body::from("<html>502 Bad Gateway</html>")).into_response();
    }
    resp
}

fn unauthorized_body(provider: &ProviderId) -> String {
    match provider.0.as_str() {
        "lambda" => r#"{"error":{"code":"global/invalid-api-key","message":"API key was invalid, expired, or deleted."}}"#.to_string(),
        "verda" => r#"{"code":"unauthorized_request","message":"Invalid or expired access token."}"#.to_string(),
        "vast" => r#"{"success":false,"error":"not_authorized","msg":"Invalid API key."}"#.to_string(),
        "maas" => "Authorization Error: 'Invalid access token'".to_string(),
        _ => r#"{"error":"unauthorized"}"#.to_string(),
    }
}

/// A running fake: stops when dropped.
#[derive(Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl FakeServer {
    /// Serves `router` on an ephemeral loopback port.
    pub async fn start(router: Router) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "fake server stopped");
            }
        });
        Ok(Self {
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Hanging requests would hold a graceful shutdown open forever.
        self.task.abort();
    }
}

/// The integer id a vendor with numeric instance ids shows for a market instance
/// (`i-<16 hex>` read as one number).
pub(crate) fn numeric_id(id: &providers::InstanceId) -> Option<u64> {
    u64::from_str_radix(id.0.strip_prefix("i-")?, 16).ok()
}

/// The market instance behind a vendor's integer id (inverse of [`numeric_id`]).
pub(crate) fn market_id(id: u64) -> providers::InstanceId {
    providers::InstanceId(format!("i-{id:016x}"))
}

/// The UUID a vendor with UUID instance ids shows for a market instance:
/// `i-0123456789abcdef` ↔ `01234567-89ab-cdef-8000-000000000000`.
pub(crate) fn uuid_of(id: &providers::InstanceId) -> String {
    let h = id.0.strip_prefix("i-").unwrap_or(&id.0);
    if h.len() == 16 {
        format!("{}-{}-{}-8000-000000000000", &h[..8], &h[8..12], &h[12..])
    } else {
        h.to_string()
    }
}

/// The market instance behind a vendor's UUID (inverse of [`uuid_of`]).
pub(crate) fn market_id_from_uuid(uuid: &str) -> providers::InstanceId {
    let hex: String = uuid.split('-').take(3).collect();
    providers::InstanceId(format!("i-{hex}"))
}

/// A JSON response with a status.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// The market's on-demand offers of the fake's provider as its API lists them: one per
/// instance type and place (the market's duplicate seed rows, keys `…~n`, are left out).
pub(crate) fn listed_on_demand(ctx: &FakeContext) -> Vec<providers::Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| o.pricing == providers::Pricing::OnDemand && !o.id.key().contains('~'))
        .collect()
}

/// Micro-dollars as the JSON number of dollars the vendors' APIs send (`1.23`; a whole
/// amount as a float, `2.0`).
pub(crate) fn dollars(micro: i64) -> serde_json::Value {
    serde_json::Number::from_f64(micro as f64 / 1_000_000.0)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// A price as the JSON number its exact decimal text reads as: the same number as
/// [`dollars`], but a whole amount is an integer (`2`).
pub(crate) fn decimal_dollars(p: providers::MicroUsd) -> serde_json::Value {
    serde_json::from_str(&p.to_string()).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_dollar_forms_are_the_same_amount_and_differ_only_in_writing_whole_dollars() {
        for micro in [1, 10_000, 1_234_567, 2_990_000, 98_765_432_100] {
            assert_eq!(
                dollars(micro),
                decimal_dollars(providers::MicroUsd(micro)),
                "{micro} micro-dollars"
            );
        }

        assert_eq!(dollars(2_000_000), json!(2.0));
        assert_eq!(decimal_dollars(providers::MicroUsd(2_000_000)), json!(2));
    }
}

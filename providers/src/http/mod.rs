//! The one HTTP engine every provider adapter goes through: authentication, a governor rate
//! limiter, a failsafe circuit breaker, per-request timeouts, retries with jittered
//! exponential backoff on idempotent calls (honouring `429 Retry-After`), the mapping of
//! HTTP/transport outcomes to [`ProviderError`], a moka cache of offer listings with
//! stale-if-error, and a `tracing` span per provider call with secrets redacted.
//!
//! An adapter is a [`Descriptor`] (data), wire DTOs and a pure wire → offer map; it never
//! retries, sleeps, caches or logs credentials itself.
//!
//! Invariants: a [`Secret`] is only read when a request's headers are built, and never
//! recorded in a span or error; non-idempotent calls (launch, terminate) go out at most once
//! per [`Engine`] call; an offer listing served from the last good result says
//! [`OfferSource::Stale`].

mod breaker;
pub mod decode;
mod descriptor;
pub mod oauth1;
mod outcome;
pub mod ovh_signature;
mod retry;
mod secret;
pub mod sigv4;

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;
use tracing::Instrument;

pub use breaker::{
    BreakerBackoff, BreakerPolicy, BreakerState, DEFAULT_BREAKER_FAILURES, DEFAULT_BREAKER_OPEN,
};
pub use descriptor::{AuthScheme, Descriptor, ErrorClassifier, DEFAULT_RETRYABLE};
pub use outcome::{message_error, retry_after, status_error, transport_error, Conflict};
pub use retry::RetryPolicy;
pub use secret::Secret;

use crate::clock::{Clock, SystemClock};
use crate::{Offer, OfferSource, ProviderError, ProviderId};

/// How long an offer listing is served from cache unless told otherwise. The broker's
/// parameter `offers.cache_ttl_seconds` defaults to it.
pub const DEFAULT_OFFERS_TTL: Duration = Duration::from_secs(60);

/// Distinct unknown GPU names kept per engine (further new names are only counted).
pub const MAX_UNKNOWN_GPU_NAMES: usize = 50;

/// The engine settings an operator may change while it runs (the broker pushes them from
/// the parameter store before every refresh; see [`Engine::apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Whole-request timeout of every call.
    pub timeout: Duration,
    pub breaker: BreakerPolicy,
    /// How long an offer listing is served from cache.
    pub offers_ttl: Duration,
}

/// What an engine has seen of its provider's calls (for metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Attempts sent (retries included) and calls refused by the open breaker.
    pub calls: u64,
    /// Failed calls by [`ProviderError::kind`].
    pub errors: BTreeMap<&'static str, u64>,
}

/// The result of a pure wire → offer map: the offers, and the GPU spellings it skipped
/// because the catalogue does not know them (never guessed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapped {
    pub offers: Vec<Offer>,
    pub unknown_gpus: Vec<String>,
}

/// Per-deployment settings of one provider's engine (the descriptor holds the vendor's).
#[derive(Clone)]
pub struct EngineConfig {
    /// Replaces the descriptor's base URL (sandbox fakes, regional endpoints).
    pub base_url: Option<String>,
    pub credentials: Option<Secret>,
    pub offers_ttl: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
    /// Replaces the descriptor's timeout.
    pub timeout: Option<Duration>,
    /// Replaces the descriptor's quota.
    pub quota_per_minute: Option<u32>,
    /// Stamps `as_of` on offers.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("offers_ttl", &self.offers_ttl)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .field("timeout", &self.timeout)
            .field("quota_per_minute", &self.quota_per_minute)
            .finish_non_exhaustive()
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            credentials: None,
            offers_ttl: DEFAULT_OFFERS_TTL,
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            timeout: None,
            quota_per_minute: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The engine could not be built.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("invalid base URL `{0}`")]
    BaseUrl(String),
    #[error("HTTP client: {0}")]
    Client(String),
}

/// HTTP methods the engine sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Whether a call may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to repeat (GETs; read-only POST queries such as searches and GraphQL queries).
    Idempotent,
    /// Sent at most once (launch, terminate).
    Once,
}

/// One request to a provider.
#[derive(Debug, Clone)]
pub struct Call {
    /// A short operation name for spans (`list_offers`, `launch`).
    pub op: &'static str,
    pub method: Method,
    /// Path below the base URL, starting with `/`.
    pub path: String,
    pub body: Option<serde_json::Value>,
    /// An `application/x-www-form-urlencoded` body (repeated keys allowed), instead of JSON.
    pub form: Option<Vec<(String, String)>>,
    pub idempotency: Idempotency,
    pub conflict: Conflict,
    /// Another API root of the same provider (RunPod's REST host beside its GraphQL host);
    /// `None` is the engine's base URL.
    pub base: Option<String>,
    /// Extra request headers (`X-Amz-Target`); signed with the request where the scheme
    /// signs headers.
    pub headers: Vec<(&'static str, String)>,
    /// Replaces the body's default content type (`application/x-amz-json-1.1`).
    pub content_type: Option<&'static str>,
    /// The SigV4 scope of this call, replacing the descriptor's (EC2 in another region).
    pub scope: Option<sigv4::Scope>,
}

impl Call {
    /// A GET (idempotent).
    pub fn get(op: &'static str, path: impl Into<String>) -> Self {
        Self::new(op, Method::Get, path, None, Idempotency::Idempotent)
    }

    /// A POST with a JSON body, sent once unless marked [`Call::idempotent`].
    pub fn post(
        op: &'static str,
        path: impl Into<String>,
        body: &impl Serialize,
    ) -> Result<Self, ProviderError> {
        Ok(Self::new(
            op,
            Method::Post,
            path,
            Some(to_json(body)?),
            Idempotency::Once,
        ))
    }

    /// A POST without a body, sent once (actions named by the path).
    pub fn post_empty(op: &'static str, path: impl Into<String>) -> Self {
        Self::new(op, Method::Post, path, None, Idempotency::Once)
    }

    /// A POST with a form body, sent once.
    pub fn post_form(
        op: &'static str,
        path: impl Into<String>,
        form: Vec<(String, String)>,
    ) -> Self {
        let mut call = Self::new(op, Method::Post, path, None, Idempotency::Once);
        call.form = Some(form);
        call
    }

    /// A PUT with a JSON body, sent once.
    pub fn put(
        op: &'static str,
        path: impl Into<String>,
        body: &impl Serialize,
    ) -> Result<Self, ProviderError> {
        Ok(Self::new(
            op,
            Method::Put,
            path,
            Some(to_json(body)?),
            Idempotency::Once,
        ))
    }

    /// A DELETE, sent once.
    pub fn delete(op: &'static str, path: impl Into<String>) -> Self {
        Self::new(op, Method::Delete, path, None, Idempotency::Once)
    }

    /// Marks a read-only call as safe to retry (a search or query sent as POST).
    pub fn idempotent(mut self) -> Self {
        self.idempotency = Idempotency::Idempotent;
        self
    }

    /// Sends the call to another API root of the same provider (same limiter and breaker).
    pub fn at(mut self, base: impl Into<String>) -> Self {
        self.base = Some(base.into().trim_end_matches('/').to_string());
        self
    }

    /// What a 409 means for this call.
    pub fn on_conflict(mut self, conflict: Conflict) -> Self {
        self.conflict = conflict;
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sends the body with this content type instead of the default.
    pub fn content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = Some(content_type);
        self
    }

    /// Signs this call for `region` and `service` (SigV4 only).
    pub fn scope(mut self, region: &str, service: &str) -> Self {
        self.scope = Some(sigv4::Scope {
            region: region.to_string(),
            service: service.to_string(),
        });
        self
    }

    fn new(
        op: &'static str,
        method: Method,
        path: impl Into<String>,
        body: Option<serde_json::Value>,
        idempotency: Idempotency,
    ) -> Self {
        Self {
            op,
            method,
            path: path.into(),
            body,
            idempotency,
            conflict: Conflict::default(),
            base: None,
            form: None,
            headers: Vec::new(),
            content_type: None,
            scope: None,
        }
    }
}

/// The body's content type and bytes, as sent (and signed): JSON, a form, or nothing.
fn payload_of(call: &Call) -> (Option<&'static str>, Vec<u8>) {
    if let Some(body) = &call.body {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        return (Some(call.content_type.unwrap_or("application/json")), bytes);
    }
    if let Some(form) = &call.form {
        let encoded = form
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        return (
            Some(
                call.content_type
                    .unwrap_or("application/x-www-form-urlencoded"),
            ),
            encoded.into_bytes(),
        );
    }
    (None, Vec::new())
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (form bodies,
/// query values, OAuth 1.0a and SigV4 canonical forms).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SigV4 headers for `call` sent to `url` with `payload`.
fn sign_aws(
    call: &Call,
    url: &str,
    content_type: Option<&str>,
    payload: &[u8],
    secret: &Secret,
    scope: &sigv4::Scope,
    now: DateTime<Utc>,
) -> Option<sigv4::Signed> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str()?),
        None => parsed.host_str()?.to_string(),
    };
    let mut headers: Vec<(String, String)> = call
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    if let Some(ct) = content_type {
        headers.push(("content-type".to_string(), ct.to_string()));
    }
    let req = sigv4::Request {
        method: call.method.as_str(),
        path: parsed.path(),
        query: parsed.query().unwrap_or(""),
        host: &host,
        headers: &headers,
        payload,
    };
    sigv4::sign(&req, secret.expose(), scope, now)
}

fn to_json(body: &impl Serialize) -> Result<serde_json::Value, ProviderError> {
    serde_json::to_value(body)
        .map_err(|e| ProviderError::InvalidResponse(format!("request body: {e}")))
}

/// A failed attempt and whether another attempt may help.
struct AttemptError {
    error: ProviderError,
    retry: bool,
}

/// A bearer token from an OAuth 2.0 exchange, and when to stop using it.
struct Token {
    access: Secret,
    renew_at: std::time::Instant,
}

/// The token endpoint's answer.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The engine of one provider: shared by that provider's adapter for all its calls.
pub struct Engine {
    descriptor: Descriptor,
    provider: ProviderId,
    base_url: String,
    credentials: Option<Secret>,
    /// Milliseconds; hot (see [`Engine::apply`]).
    timeout_ms: AtomicU64,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
    /// Replaced (state reset) when [`Engine::apply`] brings another policy.
    breaker: RwLock<breaker::Breaker>,
    /// The listing and when it was fetched; its age is checked against `offers_ttl_ms` on
    /// every read, so a TTL change applies to the entry already cached.
    offers: moka::future::Cache<(), (Arc<Vec<Offer>>, Instant)>,
    offers_ttl_ms: AtomicU64,
    last_good: Mutex<Option<Arc<Vec<Offer>>>>,
    last_error: Mutex<Option<String>>,
    skipped_gpus: AtomicU64,
    unknown_gpus: Mutex<BTreeMap<String, u64>>,
    calls: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    token: tokio::sync::Mutex<Option<Token>>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("breaker", &self.breaker_state())
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(descriptor: Descriptor, config: EngineConfig) -> Result<Self, EngineError> {
        let base_url = config
            .base_url
            .unwrap_or_else(|| descriptor.base_url.to_string())
            .trim_end_matches('/')
            .to_string();
        reqwest::Url::parse(&base_url).map_err(|_| EngineError::BaseUrl(base_url.clone()))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("gpubroker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EngineError::Client(e.to_string()))?;
        let per_minute = config
            .quota_per_minute
            .unwrap_or(descriptor.quota_per_minute);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(descriptor.burst).unwrap_or(NonZeroU32::MIN));
        let ttl = config.offers_ttl.max(Duration::from_millis(1));
        Ok(Self {
            provider: ProviderId(descriptor.id.to_string()),
            timeout_ms: AtomicU64::new(millis(config.timeout.unwrap_or(descriptor.timeout))),
            descriptor,
            base_url,
            credentials: config.credentials,
            retry: config.retry,
            clock: config.clock,
            http,
            limiter: RateLimiter::direct(quota),
            breaker: RwLock::new(breaker::Breaker::new(config.breaker)),
            offers: moka::future::Cache::builder().max_capacity(1).build(),
            offers_ttl_ms: AtomicU64::new(millis(ttl)),
            last_good: Mutex::new(None),
            last_error: Mutex::new(None),
            skipped_gpus: AtomicU64::new(0),
            unknown_gpus: Mutex::new(BTreeMap::new()),
            calls: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    pub fn provider_id(&self) -> &ProviderId {
        &self.provider
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn breaker(&self) -> breaker::Breaker {
        self.breaker
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker().state()
    }

    /// The whole-request timeout now in force.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    fn offers_ttl(&self) -> Duration {
        Duration::from_millis(self.offers_ttl_ms.load(Ordering::Relaxed))
    }

    /// The hot settings now in force.
    pub fn settings(&self) -> EngineSettings {
        EngineSettings {
            timeout: self.timeout(),
            breaker: self.breaker().policy(),
            offers_ttl: self.offers_ttl(),
        }
    }

    /// Applies hot settings: the timeout and listing TTL at once (the TTL also to the
    /// listing already cached); a different breaker policy replaces the breaker, which
    /// starts closed. Unchanged settings change nothing.
    pub fn apply(&self, settings: &EngineSettings) {
        self.timeout_ms
            .store(millis(settings.timeout).max(1), Ordering::Relaxed);
        self.offers_ttl_ms
            .store(millis(settings.offers_ttl).max(1), Ordering::Relaxed);
        let mut b = self.breaker.write().unwrap_or_else(PoisonError::into_inner);
        if b.policy() != settings.breaker {
            tracing::info!(provider = %self.provider, policy = ?settings.breaker, "breaker policy changed");
            *b = breaker::Breaker::new(settings.breaker);
        }
    }

    /// The error of the last failed listing while stale offers are served, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records a listing the caller gave up on (its own deadline passed): a breaker failure.
    pub fn record_abandoned(&self, error: &ProviderError) {
        self.breaker().record(true);
        self.count_error(error);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
    }

    fn count_error(&self, error: &ProviderError) {
        *self
            .errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(error.kind())
            .or_default() += 1;
    }

    /// Calls and errors so far.
    pub fn call_stats(&self) -> CallStats {
        CallStats {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// The distinct unknown GPU names seen (at most [`MAX_UNKNOWN_GPU_NAMES`]) with how
    /// many listing rows carried each, most frequent first.
    pub fn unknown_gpu_names(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .unknown_gpus
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Offers skipped so far because their GPU name is not in the catalogue.
    pub fn skipped_gpus(&self) -> u64 {
        self.skipped_gpus.load(Ordering::Relaxed)
    }

    /// Counts offers skipped for an unknown GPU name (and says which, once per listing).
    pub fn count_skipped(&self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        self.skipped_gpus
            .fetch_add(names.len() as u64, Ordering::Relaxed);
        let mut known = self
            .unknown_gpus
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for name in names {
            if let Some(n) = known.get_mut(name) {
                *n += 1;
            } else if known.len() < MAX_UNKNOWN_GPU_NAMES {
                known.insert(name.clone(), 1);
            }
        }
        drop(known);
        tracing::debug!(provider = %self.provider, skipped = ?names, "unknown GPU names skipped");
    }

    /// Sends `call` and decodes a JSON response body into `T`.
    pub async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, ProviderError> {
        self.run(call, |body| {
            serde_json::from_slice(body)
                .map_err(|e| ProviderError::InvalidResponse(format!("undecodable body: {e}")))
        })
        .await
    }

    /// Sends `call` and returns the response body as text (APIs that answer a bare id).
    pub async fn text(&self, call: Call) -> Result<String, ProviderError> {
        self.run(call, |body| {
            std::str::from_utf8(body)
                .map(|s| s.trim().trim_matches('"').to_string())
                .map_err(|_| ProviderError::InvalidResponse("body is not UTF-8".to_string()))
        })
        .await
    }

    /// Sends `call` and ignores the response body (a 2xx is all that matters).
    pub async fn send(&self, call: Call) -> Result<(), ProviderError> {
        self.run(call, |_| Ok(())).await
    }

    /// The offer listing: from cache while fresh (concurrent callers share one fetch), else
    /// from `fetch`; when `fetch` fails, the last good listing marked
    /// [`OfferSource::Stale`], or the error when there never was one.
    pub async fn offers<F, Fut>(&self, fetch: F) -> Result<Vec<Offer>, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<Offer>, ProviderError>>,
    {
        if let Some((_, fetched)) = self.offers.get(&()).await {
            if fetched.elapsed() >= self.offers_ttl() {
                self.offers.invalidate(&()).await;
            }
        }
        let fresh = self
            .offers
            .try_get_with((), async {
                let offers = Arc::new(fetch().await?);
                *self
                    .last_good
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&offers));
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                Ok::<_, ProviderError>((offers, Instant::now()))
            })
            .await;
        match fresh {
            Ok((offers, _)) => Ok(offers.as_ref().clone()),
            Err(e) => {
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                let last = self
                    .last_good
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                match last {
                    Some(offers) => {
                        tracing::warn!(provider = %self.provider, error = %e, "serving stale offers");
                        Ok(offers
                            .iter()
                            .cloned()
                            .map(|mut o| {
                                o.source = OfferSource::Stale;
                                o
                            })
                            .collect())
                    }
                    None => Err(e.as_ref().clone()),
                }
            }
        }
    }

    /// Forgets the cached listing (the next [`Engine::offers`] fetches).
    pub async fn invalidate_offers(&self) {
        self.offers.invalidate(&()).await;
    }

    /// The cached OAuth 2.0 bearer token, exchanged anew when missing or about to expire.
    async fn access_token(
        &self,
        secret: &Secret,
        token_path: &str,
    ) -> Result<Secret, ProviderError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            if std::time::Instant::now() < t.renew_at {
                return Ok(t.access.clone());
            }
        }
        let (client_id, client_secret) =
            secret.expose().split_once(':').ok_or(ProviderError::Auth)?;
        let body = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        });
        let resp = self
            .http
            .post(format!("{}{token_path}", self.base_url))
            .timeout(self.timeout())
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status().as_u16();
        let after = retry_after(
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            self.retry.max_delay,
        );
        let bytes = resp.bytes().await.map_err(|e| transport_error(&e))?;
        if !(200..300).contains(&status) {
            // A refused exchange is a credentials problem, whatever the status says.
            return Err(match status {
                400 | 401 | 403 => ProviderError::Auth,
                _ => status_error(status, Conflict::Transient, after),
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::InvalidResponse(format!("token answer: {e}")))?;
        // Renew a minute early (or at half-life for short tokens).
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let margin = Duration::from_secs(60).min(lifetime / 2);
        let access = Secret::new(answer.access_token);
        *cached = Some(Token {
            access: access.clone(),
            renew_at: std::time::Instant::now() + (lifetime - margin),
        });
        Ok(access)
    }

    async fn run<T>(
        &self,
        call: Call,
        decode: impl Fn(&[u8]) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let span = tracing::info_span!(
            "provider_call",
            provider = %self.provider,
            op = call.op,
            method = call.method.as_str(),
            path = %call.path,
            attempts = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        async {
            let max = match call.idempotency {
                Idempotency::Idempotent => self.retry.max_attempts.max(1),
                Idempotency::Once => 1,
            };
            let mut attempt = 0;
            let result = loop {
                attempt += 1;
                self.calls.fetch_add(1, Ordering::Relaxed);
                let breaker = self.breaker();
                if !breaker.permits() {
                    break Err(ProviderError::Transient("circuit breaker open".to_string()));
                }
                self.limiter.until_ready().await;
                let outcome = self.attempt(&call, &decode).await;
                breaker.record(matches!(&outcome, Err(e) if outcome::is_failure(&e.error)));
                match outcome {
                    Ok(v) => break Ok(v),
                    Err(e) if e.retry && attempt < max => {
                        let retry_after = match e.error {
                            ProviderError::RateLimited { retry_after } => retry_after,
                            _ => None,
                        };
                        let wait = self
                            .retry
                            .delay(attempt, retry_after, &mut rand::thread_rng());
                        tracing::debug!(attempt, error = %e.error, ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => break Err(e.error),
                }
            };
            if let Err(e) = &result {
                self.count_error(e);
            }
            let span = tracing::Span::current();
            span.record("attempts", attempt);
            match &result {
                Ok(_) => span.record("outcome", "ok"),
                Err(e) => span.record("outcome", tracing::field::display(e)),
            };
            result
        }
        .instrument(span)
        .await
    }

    async fn attempt<T>(
        &self,
        call: &Call,
        decode: &impl Fn(&[u8]) -> Result<T, ProviderError>,
    ) -> Result<T, AttemptError> {
        let base = call.base.as_deref().unwrap_or(&self.base_url);
        let url = format!("{base}{}", call.path);
        let (content_type, payload) = payload_of(call);
        let mut req = self
            .http
            .request(call.method.as_reqwest(), &url)
            .timeout(self.timeout());
        for (name, value) in &call.headers {
            req = req.header(*name, value);
        }
        if let Some(secret) = &self.credentials {
            req = match self.descriptor.auth {
                AuthScheme::Bearer => req.bearer_auth(secret.expose()),
                AuthScheme::Header(name) => req.header(name, secret.expose()),
                AuthScheme::Basic => req.basic_auth(secret.expose(), None::<&str>),
                AuthScheme::OAuth2ClientCredentials { token_path } => {
                    let token = self
                        .access_token(secret, token_path)
                        .await
                        .map_err(|error| AttemptError {
                            retry: error.is_retryable(),
                            error,
                        })?;
                    req.bearer_auth(token.expose())
                }
                AuthScheme::OAuth1Plaintext => {
                    let nonce = format!("{:016x}", rand::random::<u64>());
                    let header = oauth1::plaintext_header(
                        secret.expose(),
                        self.clock.now().timestamp(),
                        &nonce,
                    )
                    .ok_or(AttemptError {
                        error: ProviderError::Auth,
                        retry: false,
                    })?;
                    req.header(reqwest::header::AUTHORIZATION, header)
                }
                AuthScheme::AwsSigV4 { region, service } => {
                    let scope = call.scope.clone().unwrap_or_else(|| sigv4::Scope {
                        region: region.to_string(),
                        service: service.to_string(),
                    });
                    let signed = sign_aws(
                        call,
                        &url,
                        content_type,
                        &payload,
                        secret,
                        &scope,
                        self.clock.now(),
                    )
                    .ok_or(AttemptError {
                        error: ProviderError::Auth,
                        retry: false,
                    })?;
                    req.header("x-amz-date", signed.amz_date)
                        .header(reqwest::header::AUTHORIZATION, signed.authorization)
                }
                AuthScheme::OvhSignature => {
                    let headers = ovh_signature::headers(
                        secret.expose(),
                        call.method.as_str(),
                        &url,
                        &payload,
                        self.clock.now().timestamp(),
                    )
                    .ok_or(AttemptError {
                        error: ProviderError::Auth,
                        retry: false,
                    })?;
                    headers
                        .into_iter()
                        .fold(req, |req, (name, value)| req.header(name, value))
                }
                AuthScheme::None => req,
            };
        }
        if let Some(content_type) = content_type {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(payload);
        }
        let transport = |e: reqwest::Error| AttemptError {
            error: transport_error(&e),
            retry: true,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let after = retry_after(
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            self.retry.max_delay,
        );
        let body = resp.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return decode(&body).map_err(|error| AttemptError {
                error,
                retry: false,
            });
        }
        if status == 401 {
            // A revoked or expired OAuth token: the next attempt exchanges a new one.
            *self.token.lock().await = None;
        }
        let error = self
            .descriptor
            .classify_error
            .and_then(|classify| classify(status, &body))
            .unwrap_or_else(|| status_error(status, call.conflict, after));
        Err(AttemptError {
            retry: self.descriptor.retryable_statuses.contains(&status),
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(ttl: Duration) -> Engine {
        let descriptor = Descriptor {
            id: "test",
            display_name: "Test",
            base_url: "http://127.0.0.1:9",
            auth: AuthScheme::None,
            quota_per_minute: 600,
            burst: 10,
            timeout: Duration::from_secs(5),
            retryable_statuses: DEFAULT_RETRYABLE,
            classify_error: None,
        };
        Engine::new(
            descriptor,
            EngineConfig {
                offers_ttl: ttl,
                ..EngineConfig::default()
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_ttl_change_applies_to_the_listing_already_cached() {
        let e = engine(Duration::from_secs(60));
        let fetches = AtomicU64::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        };
        e.offers(fetch).await.unwrap();
        e.offers(fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "served from cache");
        let mut s = e.settings();
        s.offers_ttl = Duration::from_millis(1);
        s.timeout = Duration::from_millis(750);
        e.apply(&s);
        tokio::time::sleep(Duration::from_millis(5)).await;
        e.offers(fetch).await.unwrap();
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "the shorter TTL expired it"
        );
        assert_eq!(e.timeout(), Duration::from_millis(750));
    }

    #[tokio::test]
    async fn a_failed_listing_serves_stale_offers_and_remembers_the_error() {
        let e = engine(Duration::from_millis(1));
        let offer: Offer = serde_json::from_value(serde_json::json!({
            "id": "test:a", "provider": "test", "instance_type": "a", "gpu_model": "H100 SXM",
            "gpu_count": 1, "gpu_memory_gib": 80.0, "vcpus": 8, "memory_gib": 64.0,
            "storage_gib": 100, "region": "r", "country": null, "pricing": "on_demand",
            "price_per_hour": "2.00", "price_per_gpu_hour": "2.00", "available": 1,
            "as_of": "2026-01-01T00:00:00Z", "source": "live"
        }))
        .unwrap();
        let good = offer.clone();
        e.offers(|| async move { Ok(vec![good]) }).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let stale = e
            .offers(|| async { Err(ProviderError::Transient("down".into())) })
            .await
            .unwrap();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].source, OfferSource::Stale);
        assert!(e.last_error().is_some_and(|m| m.contains("down")));
    }

    #[test]
    fn unknown_gpu_names_are_counted_and_bounded() {
        let e = engine(Duration::from_secs(60));
        e.count_skipped(&["Z1".to_string(), "Z1".to_string(), "Z2".to_string()]);
        let many: Vec<String> = (0..100).map(|i| format!("N{i:03}")).collect();
        e.count_skipped(&many);
        let names = e.unknown_gpu_names();
        assert_eq!(names.len(), MAX_UNKNOWN_GPU_NAMES);
        assert_eq!(names[0], ("Z1".to_string(), 2));
        assert_eq!(e.skipped_gpus(), 103);
    }

    #[test]
    fn a_new_breaker_policy_replaces_the_breaker_and_the_same_one_keeps_it() {
        let e = engine(Duration::from_secs(60));
        let mut s = e.settings();
        s.breaker = BreakerPolicy {
            consecutive_failures: 1,
            backoff: BreakerBackoff::Constant(Duration::from_secs(60)),
        };
        e.apply(&s);
        e.record_abandoned(&ProviderError::Transient("timed out".into()));
        assert_eq!(e.breaker_state(), BreakerState::Open);
        e.apply(&s);
        assert_eq!(
            e.breaker_state(),
            BreakerState::Open,
            "same policy, same breaker"
        );
        s.breaker.consecutive_failures = 2;
        e.apply(&s);
        assert_eq!(e.breaker_state(), BreakerState::Closed);
        assert_eq!(e.call_stats().errors.get("transient"), Some(&1));
    }
}

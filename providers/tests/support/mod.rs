//! Shared test support for adapter contract tests: a scripted loopback HTTP server and the
//! conformance suite every adapter runs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Router;
use providers::http::{BreakerBackoff, BreakerPolicy, EngineConfig, RetryPolicy, Secret};
use providers::{gpus, Offer, Provider, ProviderError};

/// What the scripted server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status with a body (and optionally a `Retry-After`).
    Body {
        status: u16,
        body: String,
        retry_after: Option<String>,
    },
    /// Never answers (the client must time out).
    Hang,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Reply::Body {
            status,
            body: body.into(),
            retry_after: None,
        }
    }
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    /// Every header, lower-case names (vendor auth headers, signatures).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    /// The value of header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback server that answers every request from a script, then with a default.
#[derive(Clone)]
pub struct Scripted {
    pub url: String,
    script: Arc<Mutex<VecDeque<Reply>>>,
    default: Arc<Mutex<Reply>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    hits: Arc<AtomicUsize>,
}

impl Scripted {
    pub async fn start(default: Reply) -> Self {
        let s = Scripted {
            url: String::new(),
            script: Arc::default(),
            default: Arc::new(Mutex::new(default)),
            seen: Arc::default(),
            hits: Arc::default(),
        };
        let state = s.clone();
        let app = Router::new().fallback(move |req: axum::extract::Request| {
            let state = state.clone();
            async move { state.answer(req).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Scripted { url, ..s }
    }

    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }

    pub fn set_default(&self, reply: Reply) {
        *self.default.lock().unwrap() = reply;
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    async fn answer(&self, req: axum::extract::Request) -> Response {
        self.hits.fetch_add(1, Ordering::SeqCst);
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        self.seen.lock().unwrap().push(Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            authorization: header(&parts.headers, "authorization"),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.default.lock().unwrap().clone());
        match reply {
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Response::new(Body::empty())
            }
            Reply::Body {
                status,
                body,
                retry_after,
            } => {
                let mut b = Response::builder()
                    .status(StatusCode::from_u16(status).unwrap())
                    .header("content-type", "application/json");
                if let Some(r) = retry_after {
                    b = b.header("retry-after", r);
                }
                b.body(Body::from(body)).unwrap()
            }
        }
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A fixture file's text (`providers/fixtures/<path>`).
pub fn fixture(path: &str) -> String {
    let p = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("fixtures")
    .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// An engine config for tests: quick timeout, quick retries, a breaker that stays closed.
pub fn test_config(url: &str) -> EngineConfig {
    EngineConfig {
        base_url: Some(url.to_string()),
        credentials: Some(Secret::new("test-key")),
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        breaker: BreakerPolicy {
            consecutive_failures: 1000,
            backoff: BreakerBackoff::Constant(Duration::from_millis(10)),
        },
        timeout: Some(Duration::from_millis(300)),
        quota_per_minute: Some(100_000),
        ..EngineConfig::default()
    }
}

/// Invariants every normalized offer keeps, whatever the provider.
pub fn assert_offers_conform(offers: &[Offer]) {
    for o in offers {
        assert!(o.price_per_hour.0 > 0, "{}: price must be positive", o.id);
        assert!(o.gpu_count >= 1, "{}: at least one GPU", o.id);
        let model = gpus::by_name(&o.gpu_model)
            .unwrap_or_else(|| panic!("{}: `{}` is not canonical", o.id, o.gpu_model));
        let drift = (o.gpu_memory_gib - model.memory_gib).abs() / model.memory_gib;
        assert!(
            drift <= 0.1,
            "{}: {} GiB per GPU vs catalogue {} GiB",
            o.id,
            o.gpu_memory_gib,
            model.memory_gib
        );
        assert_eq!(
            o.price_per_gpu_hour,
            o.price_per_hour.per_unit(o.gpu_count),
            "{}",
            o.id
        );
        assert_eq!(o.id.provider().as_ref(), Some(&o.provider), "{}", o.id);
        assert!(!o.region.is_empty(), "{}: region", o.id);
    }
}

/// The error-mapping half of the conformance suite: every adapter's `list_offers` must turn
/// 401/403/404/429/5xx/timeouts/garbage into the same taxonomy. `make` builds a fresh
/// adapter (fresh cache and breaker) for a base URL.
pub async fn assert_error_mapping<P, F>(make: F)
where
    P: Provider,
    F: Fn(EngineConfig) -> P,
{
    assert_error_mapping_after(&[], make).await;
}

/// [`assert_error_mapping`], with `preamble` answered first on every server (e.g. an OAuth
/// token exchange, so the faults hit the data call itself).
pub async fn assert_error_mapping_after<P, F>(preamble: &[Reply], make: F)
where
    P: Provider,
    F: Fn(EngineConfig) -> P,
{
    assert_error_mapping_of(Probe::ListOffers, preamble, make).await;
}

/// The conformance suite's error mapping, probed on `list_instances` (for adapters whose
/// offers come from a dated catalogue and make no request).
pub async fn assert_error_mapping_on_instances<P, F>(make: F)
where
    P: Provider,
    F: Fn(EngineConfig) -> P,
{
    assert_error_mapping_of(Probe::ListInstances, &[], make).await;
}

/// The call the error-mapping suite faults.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    ListOffers,
    ListInstances,
}

impl Probe {
    async fn run<P: Provider>(self, p: &P) -> Result<(), ProviderError> {
        match self {
            Probe::ListOffers => p.list_offers().await.map(|_| ()),
            Probe::ListInstances => p.list_instances().await.map(|_| ()),
        }
    }
}

async fn assert_error_mapping_of<P, F>(probe: Probe, preamble: &[Reply], make: F)
where
    P: Provider,
    F: Fn(EngineConfig) -> P,
{
    let cases: Vec<(Reply, fn(&ProviderError) -> bool, &str)> = vec![
        (Reply::json(401, "{}"), |e| *e == ProviderError::Auth, "401"),
        (Reply::json(403, "{}"), |e| *e == ProviderError::Auth, "403"),
        (
            Reply::json(404, "{}"),
            |e| *e == ProviderError::NotFound,
            "404",
        ),
        (
            Reply::Body {
                status: 429,
                body: "{}".into(),
                retry_after: Some("1".into()),
            },
            |e| {
                *e == ProviderError::RateLimited {
                    retry_after: Some(Duration::from_millis(50)),
                }
            },
            "429 with Retry-After (capped by the policy)",
        ),
        (
            Reply::json(500, "oops"),
            |e| matches!(e, ProviderError::Transient(_)),
            "500",
        ),
        (
            Reply::json(503, ""),
            |e| matches!(e, ProviderError::Transient(_)),
            "503",
        ),
        (
            Reply::Hang,
            |e| matches!(e, ProviderError::Transient(_)),
            "timeout",
        ),
        (
            Reply::json(200, "<html>not json</html>"),
            |e| matches!(e, ProviderError::InvalidResponse(_)),
            "garbage body",
        ),
        (
            Reply::json(200, r#"{"unexpected": true}"#),
            |e| matches!(e, ProviderError::InvalidResponse(_)),
            "wrong JSON shape",
        ),
    ];
    for (reply, expected, name) in cases {
        let server = Scripted::start(reply).await;
        preamble.iter().cloned().for_each(|r| server.push(r));
        let provider = make(test_config(&server.url));
        let err = probe.run(&provider).await.expect_err(name);
        assert!(expected(&err), "{name}: got {err:?}");
    }
    // Connection refused: nothing listens on this port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let provider = make(test_config(&format!("http://127.0.0.1:{port}")));
    let err = probe.run(&provider).await.expect_err("refused");
    assert!(
        matches!(err, ProviderError::Transient(_)),
        "refused: {err:?}"
    );
}

/// A writer that keeps everything a tracing subscriber prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` under a TRACE subscriber with span events and returns its output and every
/// log line it produced (for "the secret never reaches the logs" checks).
pub async fn with_captured_logs<T>(f: impl Future<Output = T>) -> (T, String) {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (out, logs)
}

/// Runs `f` and fails the test if it takes longer than `secs`.
pub async fn within<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test took too long")
}

/// The secret [`assert_secret_sent_not_logged`] hands the adapter.
pub const LIVE_SECRET: &str = "sk-live-very-secret";

/// Lists offers through an adapter holding [`LIVE_SECRET`] against a server answering
/// `reply`, with every log line captured at TRACE: the secret must reach the server in the
/// header `expected.0` (lower case) exactly as `expected.1` says, and never the logs.
pub async fn assert_secret_sent_not_logged<P, F>(make: F, reply: Reply, expected: (&str, &str))
where
    P: Provider + std::fmt::Debug,
    F: Fn(EngineConfig) -> P,
{
    let server = Scripted::start(reply).await;
    let mut config = test_config(&server.url);
    config.credentials = Some(Secret::new(LIVE_SECRET));
    let provider = make(config);

    let ((), logs) = with_captured_logs(async {
        let _ = provider.list_offers().await;
        tracing::info!(provider = ?provider, "adapter state");
    })
    .await;

    let seen = server.seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the adapter made no call");
    let (name, value) = expected;
    for s in &seen {
        let sent = s
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        assert_eq!(sent, Some(value), "{}", s.path);
    }
    assert!(logs.contains("provider_call"), "{logs}");
    assert!(!logs.contains(LIVE_SECRET), "{logs}");
}

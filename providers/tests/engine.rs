//! The shared HTTP engine against a scripted loopback server: retries, Retry-After, the
//! breaker, timeouts, the offer cache and stale-if-error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use providers::http::{
    BreakerBackoff, BreakerPolicy, BreakerState, Call, Engine, EngineConfig, RetryPolicy,
};
use providers::lambda::{self, Lambda, LambdaSettings};
use providers::{OfferSource, Provider, ProviderError};
use serde_json::Value;
use support::{fixture, test_config, Reply, Scripted};

fn engine(config: EngineConfig) -> Engine {
    Engine::new(lambda::descriptor(), config).unwrap()
}

#[tokio::test]
async fn an_idempotent_get_is_retried_through_a_5xx() {
    let server = Scripted::start(Reply::json(200, r#"{"ok": 1}"#)).await;
    server.push(Reply::json(503, ""));
    let e = engine(test_config(&server.url));

    let v: Value = e.json(Call::get("probe", "/x")).await.unwrap();

    assert_eq!(v["ok"], 1);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_post_is_never_retried() {
    let server = Scripted::start(Reply::json(503, "")).await;
    let e = engine(test_config(&server.url));

    let err = e
        .send(Call::post("launch", "/launch", &serde_json::json!({})).unwrap())
        .await
        .unwrap_err();

    assert!(matches!(err, ProviderError::Transient(_)));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_before_the_retry() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::Body {
        status: 429,
        body: "{}".into(),
        retry_after: Some("1".into()),
    });
    let mut config = test_config(&server.url);
    config.retry.max_delay = Duration::from_secs(5);
    let e = engine(config);

    let started = std::time::Instant::now();
    let _: Value = e.json(Call::get("probe", "/x")).await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_hanging_provider_times_out_as_transient() {
    let server = Scripted::start(Reply::Hang).await;
    let mut config = test_config(&server.url);
    config.retry.max_attempts = 1;
    let e = engine(config);

    let started = std::time::Instant::now();
    let err = e.json::<Value>(Call::get("probe", "/x")).await.unwrap_err();

    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures_and_stops_calling_out() {
    let server = Scripted::start(Reply::json(500, "")).await;
    let mut config = test_config(&server.url);
    config.retry.max_attempts = 1;
    config.breaker = BreakerPolicy {
        consecutive_failures: 3,
        backoff: BreakerBackoff::Constant(Duration::from_secs(60)),
    };
    let e = engine(config);

    for _ in 0..3 {
        let _ = e.json::<Value>(Call::get("probe", "/x")).await;
    }
    assert_eq!(e.breaker_state(), BreakerState::Open);
    let err = e.json::<Value>(Call::get("probe", "/x")).await.unwrap_err();

    assert!(matches!(err, ProviderError::Transient(ref m) if m.contains("breaker")));
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn auth_and_not_found_do_not_trip_the_breaker() {
    let server = Scripted::start(Reply::json(404, "")).await;
    let mut config = test_config(&server.url);
    config.breaker.consecutive_failures = 1;
    let e = engine(config);

    let _ = e.json::<Value>(Call::get("probe", "/x")).await;
    server.set_default(Reply::json(401, ""));
    let _ = e.json::<Value>(Call::get("probe", "/x")).await;

    assert_eq!(e.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn offers_are_cached_for_the_ttl_then_served_stale_when_the_provider_fails() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("lambda/instance-types-constructed.json"),
    ))
    .await;
    let config = EngineConfig {
        offers_ttl: Duration::from_millis(100),
        ..test_config(&server.url)
    };
    let adapter = Lambda::new(config, LambdaSettings::default()).unwrap();

    let first = adapter.list_offers().await.unwrap();
    let cached = adapter.list_offers().await.unwrap();
    assert_eq!(server.hits(), 1, "second listing comes from the cache");
    assert_eq!(first, cached);

    server.set_default(Reply::json(500, ""));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let stale = adapter.list_offers().await.unwrap();

    assert_eq!(stale.len(), first.len());
    assert!(stale.iter().all(|o| o.source == OfferSource::Stale));
    assert_eq!(stale[0].price_per_hour, first[0].price_per_hour);
}

#[tokio::test]
async fn without_a_last_good_listing_the_error_comes_through() {
    let server = Scripted::start(Reply::json(401, "")).await;
    let adapter = Lambda::new(test_config(&server.url), LambdaSettings::default()).unwrap();

    assert_eq!(
        adapter.list_offers().await.unwrap_err(),
        ProviderError::Auth
    );
}

#[tokio::test]
async fn the_rate_limiter_spaces_calls_beyond_the_quota() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    let config = EngineConfig {
        // One call per 100 ms after Lambda's burst of 2.
        quota_per_minute: Some(600),
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..test_config(&server.url)
    };
    let e = engine(config);

    let started = std::time::Instant::now();
    for _ in 0..3 {
        let _: Value = e.json(Call::get("probe", "/x")).await.unwrap();
    }

    assert_eq!(server.hits(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(80),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_engine_debug_output_never_shows_the_secret() {
    let e = engine(test_config("http://127.0.0.1:9"));
    assert!(!format!("{e:?}").contains("test-key"));
}

/// A writer that keeps everything the subscriber prints.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn provider_calls_are_traced_and_the_secret_never_reaches_the_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = Scripted::start(Reply::json(401, "{}")).await;
    server.push(Reply::json(503, ""));
    let mut config = test_config(&server.url);
    config.credentials = Some(providers::http::Secret::new("sk-live-very-secret"));
    let e = engine(config);

    let _ = e.json::<Value>(Call::get("probe", "/x")).await;
    tracing::info!(engine = ?e, "engine state");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("provider_call"), "{logs}");
    assert!(
        logs.contains("op=\"probe\"") || logs.contains("op=probe"),
        "{logs}"
    );
    assert!(logs.contains("retrying"), "{logs}");
    assert!(!logs.contains("sk-live-very-secret"), "{logs}");
    assert!(logs.contains("redacted"), "{logs}");
}

//! Billing acting on the books, against the real application: state transitions send their
//! mails, a depleted account's deployments are released through the release path and billing
//! stops at the provider-confirmed release, a top-up restores the account without restarting
//! anything, an account without credit is sent to billing first; statements and their CSV
//! match the ledger; refunds stay within the unused credit and the window; and hundreds of
//! interleaved ticks, top-ups, deploys and releases keep every balance exact.
//!
//! Time is injected where it matters: `Broker::billing_pass(now)` meters up to a chosen `now`,
//! so no assertion depends on how long anything took.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use broker::ledger::{self, metering};
use broker::Broker;
use gpubroker_e2e::{spawn_app, App};
use reqwest::Method;
use serde_json::{json, Value};

fn broker(app: &App) -> Arc<Broker> {
    Arc::clone(&app.server.state.broker)
}

async fn fast(app: &App, admin: &str) {
    for (k, v) in [
        ("allocation.require_activation", json!(false)),
        ("jobs.status_poll_ms", json!(50)),
    ] {
        let r = app.set_param(admin, k, json!({"value": v})).await.unwrap();
        assert_eq!(r.status, 200, "{k}: {}", r.body);
    }
}

async fn uid(app: &App, token: &str) -> String {
    app.get("/api/v1/me", Some(token)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn deploy(app: &App, token: &str, offer: &Value) -> String {
    let d = app
        .post(
            "/api/v1/deployments",
            Some(token),
            json!({"offer_id": offer["id"]}),
        )
        .await
        .unwrap();
    assert_eq!(d.status, 201, "{}", d.body);
    d.body["id"].as_str().unwrap().to_string()
}

/// (first `active`, last `released`) of a deployment, from its events.
async fn marks(b: &Broker, id: &str) -> (Option<i64>, Option<i64>) {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT payload, created_at FROM events WHERE subject_id = $1 AND topic = 'deployment.state' ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&b.db.pool)
    .await
    .unwrap();
    let mut active = None;
    let mut released = None;
    for (p, at) in rows {
        let v: Value = serde_json::from_str(&p).unwrap();
        match v["to"].as_str() {
            Some("active") if active.is_none() => active = Some(at),
            Some("released") => released = Some(at),
            _ => {}
        }
    }
    (active, released)
}

async fn revenue_of(b: &Broker, allocation: &str) -> i64 {
    let (v,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(CAST(SUM(amount_minor) AS BIGINT), 0) FROM ledger_entries WHERE account_id = $1 AND allocation_id = $2",
    )
    .bind(ledger::SYSTEM_REVENUE)
    .bind(allocation)
    .fetch_one(&b.db.pool)
    .await
    .unwrap();
    v
}

async fn mail_kinds(app: &App, admin: &str, to: &str) -> Vec<String> {
    let r = app
        .get(
            &format!("/api/v1/admin/outbox?to={to}&limit=200"),
            Some(admin),
        )
        .await
        .unwrap();
    let mut kinds: Vec<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.reverse();
    kinds
}

async fn assert_books_balance(b: &Broker) {
    gpubroker_e2e::assert_books_balance(&b.db, &b.ledger).await;
}

#[tokio::test]
async fn a_depleted_account_is_warned_then_released_and_a_top_up_restores_it_without_restarting() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    fast(&app, &admin).await;
    let r = app
        .set_param(
            &admin,
            "billing.low_balance_threshold_minor",
            json!({"value": 99_000}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let email = "spender@e2e.test";
    let me = app.register(email).await.unwrap();
    let user = uid(&app, &me).await;
    let b = broker(&app);
    let offer = app.pick_offer("provider=aws&max_price=10").await.unwrap();
    let id = deploy(&app, &me, &offer).await;
    app.wait_state(&me, &id, "active", 30).await.unwrap();
    let (active_at, _) = marks(&b, &id).await;
    let active_at = active_at.unwrap();
    let burn = app.get("/api/v1/billing", Some(&me)).await.unwrap().body["burn_per_hour_minor"]
        .as_i64()
        .unwrap();
    assert!(burn > 0);
    let (price, markup): (i64, i64) = sqlx::query_as(
        "SELECT price_micro, markup_percent FROM ledger_meters WHERE allocation_id = $1",
    )
    .bind(&id)
    .fetch_one(&b.db.pool)
    .await
    .unwrap();
    // The instant at which the running deployment has cost `cents` (exact, rounded up).
    let rate = i128::from(price) * i128::from(100 + markup);
    let after = |cents: i64| {
        let num = i128::from(cents) * i128::from(metering::REMAINDER_PER_CENT);
        active_at + i64::try_from((num + rate - 1) / rate).unwrap()
    };

    // Act: meter up to chosen instants — credit 100 000 → ~98 000 (low balance), → less
    // than one window of burn (auto-release pending), → nothing (depleted).
    let mut states = Vec::new();
    for (at, want) in [
        (after(2_000), "low_balance"),
        (after(100_000 - burn / 2), "auto_release_pending"),
        (after(100_000 + 10), "depleted"),
    ] {
        b.billing_pass(at).await.unwrap();
        let st = app.get("/api/v1/billing", Some(&me)).await.unwrap();
        assert_eq!(st.body["state"], want, "{}", st.body);
        states.push(st.body["state"].as_str().unwrap().to_string());
    }

    // Assert: released through the release path, billing stopped at the confirmed release.
    let d = app.wait_state(&me, &id, "released", 30).await.unwrap();
    assert_eq!(d["failure_reason"], "credit depleted", "{d}");
    let audit = app
        .get(
            &format!("/api/v1/admin/audit?subject=deployment:{id}"),
            Some(&admin),
        )
        .await
        .unwrap();
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "deployment.auto_release" && r["actor"] == "billing"),
        "{}",
        audit.body
    );
    let charged = revenue_of(&b, &id).await;
    let far = after(100_000) + 100 * 3_600_000;
    b.billing_pass(far).await.unwrap();
    assert_eq!(
        revenue_of(&b, &id).await,
        charged,
        "billed after the confirmed release"
    );
    let (open,): (i64,) = sqlx::query_as("SELECT open FROM ledger_meters WHERE allocation_id = $1")
        .bind(&id)
        .fetch_one(&b.db.pool)
        .await
        .unwrap();
    assert_eq!(open, 0);
    assert_eq!(b.ledger.held_for(&user, &id).await.unwrap(), 0);

    // A top-up brings the account back; nothing is restarted.
    b.ledger
        .credit_topup(&user, 150_000, "USD", "pi_after_depletion")
        .await
        .unwrap();
    let st = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(st.body["state"], "healthy", "{}", st.body);
    assert_eq!(
        app.get(&format!("/api/v1/deployments/{id}"), Some(&me))
            .await
            .unwrap()
            .body["state"],
        "released"
    );
    let kinds = mail_kinds(&app, &admin, email).await;
    // Each transition sent its mail once (mails carry the injected instants, so compare as
    // a set).
    let mut billing_mails: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .filter(|k| *k != "activation")
        .collect();
    billing_mails.sort_unstable();
    assert_eq!(
        billing_mails,
        [
            "auto_release_pending",
            "balance_depleted",
            "balance_restored",
            "low_balance"
        ],
        "{states:?}"
    );
    assert_books_balance(&b).await;
    app.stop().await;
}

#[tokio::test]
async fn notifications_follow_their_parameters() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let email = "quiet@e2e.test";
    let me = app.register(email).await.unwrap();
    let user = uid(&app, &me).await;
    app.set_param_ok(
        &admin,
        "notification.balance_depleted_enabled",
        json!({"value": false, "scope": "user", "scope_id": user}),
    )
    .await
    .unwrap();
    let adjust = |amount: i64, key: &'static str| {
        let app = &app;
        let admin = admin.clone();
        let user = user.clone();
        async move {
            let r = app
                .post_keyed(
                    &format!("/api/v1/admin/users/{user}/adjustments"),
                    Some(&admin),
                    json!({"amount_minor": amount, "reason": "e2e"}),
                    key,
                )
                .await
                .unwrap();
            assert_eq!(r.status, 201, "{}", r.body);
        }
    };
    adjust(-100_000, "drain").await;
    assert_eq!(
        app.get("/api/v1/billing", Some(&me)).await.unwrap().body["state"],
        "depleted"
    );
    adjust(1_000, "back").await;
    assert_eq!(mail_kinds(&app, &admin, email).await, ["balance_restored"]);
    app.stop().await;
}

#[tokio::test]
async fn an_account_without_credit_is_sent_to_billing_first() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let r = app
        .set_param(
            &admin,
            "billing.sandbox_starter_credit_minor",
            json!({"value": 0}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let me = app.register("newcomer@e2e.test").await.unwrap();
    let b = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(
        (
            b.body["onboarding"].as_bool(),
            b.body["available_minor"].as_i64()
        ),
        (Some(true), Some(0)),
        "{}",
        b.body
    );
    broker(&app)
        .ledger
        .credit_topup(&uid(&app, &me).await, 2_000, "USD", "pi_first")
        .await
        .unwrap();
    let b = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(b.body["onboarding"], false, "{}", b.body);
    // The billing page carries the call to action and the top-up link.
    let page = app
        .http
        .get(format!("{}/billing", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"onboarding\""), "{page}");
    assert!(page.contains("href=\"/billing/topup\""), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn the_statement_and_its_csv_match_the_ledger_and_refunds_keep_to_the_rules() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    fast(&app, &admin).await;
    let me = app.register("statement@e2e.test").await.unwrap();
    let user = uid(&app, &me).await;
    let b = broker(&app);
    b.ledger
        .credit_topup(&user, 5_000, "USD", "pi_statement")
        .await
        .unwrap();
    let offer = app.pick_offer("provider=aws&max_price=10").await.unwrap();
    let id = deploy(&app, &me, &offer).await;
    app.wait_state(&me, &id, "active", 30).await.unwrap();
    let (active_at, _) = marks(&b, &id).await;
    // An hour and a half of usage, posted now.
    b.billing_pass(active_at.unwrap() + 5_400_000)
        .await
        .unwrap();
    app.release(&me, &id).await.unwrap();
    app.wait_state(&me, &id, "released", 30).await.unwrap();
    b.billing_pass(b.clock.now_ms()).await.unwrap();

    let since = chrono::DateTime::from_timestamp_millis(b.clock.now_ms() - 2 * 86_400_000)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    // Usage was posted at the injected instant (1.5 h from now): end the period after it.
    let until = chrono::DateTime::from_timestamp_millis(b.clock.now_ms() + 86_400_000)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let period = format!("from={since}&to={until}");
    let st = app
        .get(&format!("/api/v1/billing/statement?{period}"), Some(&me))
        .await
        .unwrap();
    assert_eq!(st.status, 200, "{}", st.body);
    let bal = app.get("/api/v1/billing", Some(&me)).await.unwrap().body;
    let credit =
        |v: &Value| v["available_minor"].as_i64().unwrap() + v["held_minor"].as_i64().unwrap();
    assert_eq!(credit(&st.body["opening"]), 0, "{}", st.body);
    assert_eq!(credit(&st.body["closing"]), credit(&bal));
    let usage = st.body["usage_total_minor"].as_i64().unwrap();
    assert_eq!(usage, revenue_of(&b, &id).await);
    assert!(usage > 0);
    let by_alloc = &st.body["usage_by_allocation"];
    assert_eq!(by_alloc.as_array().unwrap().len(), 1, "{by_alloc}");
    assert_eq!(by_alloc[0]["allocation_id"], id.as_str());
    let by_day: i64 = st.body["usage_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["charged_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(by_day, usage);

    let csv = app
        .http
        .get(format!(
            "{}/api/v1/billing/statement?{period}&format=csv",
            app.url
        ))
        .bearer_auth(&me)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (amount, kind) = (col("amount_minor"), col("kind"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), st.body["lines"].as_array().unwrap().len());
    let total: i64 = rows.iter().map(|r| r[amount].parse::<i64>().unwrap()).sum();
    assert_eq!(total, credit(&bal), "the CSV sums to the balance: {text}");
    let usage_csv: i64 = rows
        .iter()
        .filter(|r| r[kind] == "usage")
        .map(|r| r[amount].parse::<i64>().unwrap())
        .sum();
    assert_eq!(usage_csv, -usage);
    let bad = app
        .get("/api/v1/billing/statement?from=2026-13-01", Some(&me))
        .await
        .unwrap();
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("from"))
    );

    // The ledger history pages through the same lines, newest first.
    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let p = app
            .get(
                &format!("/api/v1/billing/ledger?limit=2&cursor={cursor}"),
                Some(&me),
            )
            .await
            .unwrap();
        assert_eq!(p.status, 200, "{}", p.body);
        seen += p.body["items"].as_array().unwrap().len();
        match p.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, rows.len());

    // Refunds: only unused recent top-ups, with an idempotency key, once per key.
    let refundable = bal["refundable_minor"].as_i64().unwrap();
    assert!(refundable > 0 && refundable <= bal["available_minor"].as_i64().unwrap());
    let refund = |amount: i64, key: Option<&'static str>| {
        let app = &app;
        let me = me.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
            app.call(
                Method::POST,
                "/api/v1/billing/refunds",
                Some(&me),
                Some(json!({"amount_minor": amount})),
                &headers,
            )
            .await
            .unwrap()
        }
    };
    let r = refund(100, None).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("Idempotency-Key"))
    );
    let r = refund(refundable + 1, Some("too-much")).await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("amount_minor")),
        "{}",
        r.body
    );
    let r = refund(100, Some("r-1")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = refund(100, Some("r-1")).await;
    assert_eq!((r.status, r.body["replayed"].as_bool()), (200, Some(true)));
    let after = app.get("/api/v1/billing", Some(&me)).await.unwrap().body;
    assert_eq!(credit(&after), credit(&bal) - 100);
    // Outside the window nothing is refundable.
    app.set_param_ok(&admin, "allocation.refund_window_days", json!({"value": 0}))
        .await
        .unwrap();
    let after = app.get("/api/v1/billing", Some(&me)).await.unwrap().body;
    assert_eq!(after["refundable_minor"], 0, "{after}");
    let r = refund(1, Some("r-2")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_books_balance(&b).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interleaved_ticks_top_ups_deploys_and_releases_keep_every_balance_exact() {
    let app = Arc::new(spawn_app().await.unwrap());
    let admin = app.admin_token().await.unwrap();
    fast(&app, &admin).await;
    app.set_param_ok(&admin, "pricing.markup_percent", json!({"value": 17}))
        .await
        .unwrap();
    let b = broker(&app);
    let offers = app
        .get(
            "/api/v1/offers?available=true&provider=aws&sort=availability&limit=8",
            None,
        )
        .await
        .unwrap();
    let offers: Vec<Value> = offers.body["items"].as_array().unwrap().clone();
    assert!(offers.len() >= 4, "{offers:?}");
    let mut users = Vec::new();
    for i in 0..4 {
        let email = format!("busy{i}@e2e.test");
        let t = app.register(&email).await.unwrap();
        users.push((uid(&app, &t).await, t));
    }

    // Act: deployers (3 rounds each), top-ups (each delivered twice) and billing passes at
    // the real clock, all at once.
    let done = Arc::new(AtomicBool::new(false));
    let mut deployers = Vec::new();
    for (i, (_, token)) in users.iter().cloned().enumerate() {
        let app = Arc::clone(&app);
        let offer = offers[i % offers.len()].clone();
        deployers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..3 {
                let id = deploy(&app, &token, &offer).await;
                app.wait_state(&token, &id, "active", 60).await.unwrap();
                app.release(&token, &id).await.unwrap();
                app.wait_state(&token, &id, "released", 60).await.unwrap();
                ids.push(id);
            }
            ids
        }));
    }
    let mut tickers = Vec::new();
    for _ in 0..2 {
        let b = Arc::clone(&b);
        let done = Arc::clone(&done);
        tickers.push(tokio::spawn(async move {
            let mut n = 0;
            while n < 100 || !done.load(Ordering::SeqCst) {
                b.billing_pass(b.clock.now_ms()).await.unwrap();
                n += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            n
        }));
    }
    let mut topups = Vec::new();
    for (i, (user, _)) in users.iter().cloned().enumerate() {
        let b = Arc::clone(&b);
        topups.push(tokio::spawn(async move {
            let mut credited = 0;
            for n in 0..30 {
                let p = b
                    .ledger
                    .credit_topup(&user, 500 + n / 2, "USD", &format!("pi_busy_{i}_{}", n / 2))
                    .await
                    .unwrap();
                if !p.replayed {
                    credited += 500 + n / 2;
                }
                tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            }
            (user, credited)
        }));
    }
    let mut allocations = Vec::new();
    for d in deployers {
        allocations.extend(d.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let mut ticks = 0;
    for t in tickers {
        ticks += t.await.unwrap();
    }
    let mut credited = HashMap::new();
    for t in topups {
        let (u, c) = t.await.unwrap();
        credited.insert(u, c);
    }
    b.billing_pass(b.clock.now_ms()).await.unwrap();
    assert!(ticks >= 200, "{ticks} ticks");
    assert_eq!(allocations.len(), 12);

    // Assert: each deployment was charged its active time (from the events) at its price
    // plus markup, within one second's worth; nothing is held any more.
    for id in &allocations {
        let (active, released) = marks(&b, id).await;
        let (active, released) = (active.unwrap(), released.unwrap());
        let (price, markup): (i64, i64) = sqlx::query_as(
            "SELECT price_micro, markup_percent FROM ledger_meters WHERE allocation_id = $1",
        )
        .bind(id)
        .fetch_one(&b.db.pool)
        .await
        .unwrap();
        assert_eq!(markup, 17);
        let exact = |ms: i64| metering::accrue(price, markup, 0, ms, metering::Remainder(0)).0;
        let charged = revenue_of(&b, id).await;
        let span = released - active;
        assert!(
            exact((span - 1_000).max(0)) <= charged && charged <= exact(span + 1_000),
            "{id}: charged {charged} for {span} ms at {price}+{markup}%"
        );
    }
    for (user, _) in &users {
        let bal = b.ledger.balance(user).await.unwrap();
        assert_eq!(bal.held_minor, 0, "{user}");
        let (used,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(CAST(SUM(e.amount_minor) AS BIGINT), 0) FROM ledger_entries e \
             JOIN ledger_transactions t ON t.id = e.transaction_id WHERE t.user_id = $1 AND e.account_id = $2",
        )
        .bind(user)
        .bind(ledger::SYSTEM_REVENUE)
        .fetch_one(&b.db.pool)
        .await
        .unwrap();
        assert_eq!(
            bal.available_minor,
            100_000 + credited[user] - used,
            "{user}"
        );
        // No hold ever took available credit below zero.
        let running = gpubroker_e2e::assert_no_hold_overdrew(&b.db, user).await;
        assert!(running >= 0, "{user} ended below zero: {running}");
    }
    assert_books_balance(&b).await;
    match Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("the app is still shared"),
    }
}

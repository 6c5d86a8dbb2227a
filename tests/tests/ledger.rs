//! The ledger over a real database (SQLite, or PostgreSQL with `GPUBROKER_TEST_POSTGRES`):
//! balances are sums of balanced, append-only entries; top-ups are idempotent on their
//! payment reference; metering charges exactly the active time at price plus markup however
//! the ticks fall; holds never overdraw; the billing state follows the credit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use broker::accounts::{Accounts, Role, User};
use broker::clock::from_ms;
use broker::events::{self, NewEvent};
use broker::ledger::{self, BillingState, Ledger, Remainder};
use broker::params::{Change, Params, Scope};
use broker::{Db, ManualClock};
use gpubroker_e2e::{fresh_database, TempDir};
use serde_json::{json, Value};

const T0: i64 = 1_800_000_000_000;

struct Env {
    _dir: TempDir,
    db: Db,
    clock: Arc<ManualClock>,
    ledger: Ledger,
    params: Params,
    accounts: Accounts,
}

async fn env() -> Env {
    let dir = TempDir::new().unwrap();
    let url = fresh_database(&dir.0).await.unwrap();
    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    broker::tenants::ensure_default(&db, T0).await.unwrap();
    let clock = Arc::new(ManualClock::new(from_ms(T0)));
    let dyn_clock: Arc<dyn broker::Clock> = clock.clone();
    let params = Params::new(db.clone(), Arc::clone(&dyn_clock));
    let ledger = Ledger::new(db.clone(), Arc::clone(&dyn_clock), params.clone());
    let accounts = Accounts::new(db.clone(), dyn_clock);
    Env {
        _dir: dir,
        db,
        clock,
        ledger,
        params,
        accounts,
    }
}

impl Env {
    async fn user(&self, name: &str) -> User {
        self.accounts
            .register(
                &format!("{name}@ledger.test"),
                "password-123456",
                Role::User,
            )
            .await
            .unwrap()
    }

    async fn admin(&self) -> User {
        self.accounts
            .register("admin@ledger.test", "password-123456", Role::Admin)
            .await
            .unwrap()
    }

    async fn set_global(&self, key: &str, value: Value) {
        self.params
            .set(
                "test",
                Change {
                    key: key.into(),
                    scope: Scope::Global,
                    value,
                    effective_at: Some(0),
                    reason: None,
                    confirm: None,
                },
            )
            .await
            .unwrap();
    }

    /// An allocation row in `ready` at `price` micro-USD per hour.
    async fn allocation(&self, user: &User, price: i64) -> String {
        let id = broker::new_id();
        sqlx::query(
            "INSERT INTO allocations (id, tenant_id, user_id, offer_id, mode, provider, gpu_model, state, live, gpu_count, disk_gib, image, \
             quoted_price_micro, request_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, 'sim:offer', 'sandbox', 'sim', 'H100', 'ready', 1, 1, 50, 'ubuntu-22.04-cuda12.4', $4, 'x', $5, $5)",
        )
        .bind(&id)
        .bind(&user.tenant_id)
        .bind(&user.id)
        .bind(price)
        .bind(T0)
        .execute(&self.db.pool)
        .await
        .unwrap();
        id
    }

    /// Moves an allocation to `to` at `at` with its event (as `Allocations` does), and meters
    /// it in the same transaction, as the wiring into the state steps does.
    async fn step(&self, id: &str, to: &str, at: i64) {
        let mut tx = self.db.pool.begin().await.unwrap();
        step_on(&mut tx, &self.ledger, id, to, || at).await;
        tx.commit().await.unwrap();
    }

    async fn tick(&self, now: i64) -> ledger::TickReport {
        let r = self.ledger.meter_tick(now).await.unwrap();
        assert_eq!(r.failed, 0);
        r
    }
}

/// The state step of a test allocation on `tx`: the meter row is locked first and the step's
/// time taken after, so a concurrent tick either ends before the step or sees it.
async fn step_on(
    tx: &mut sqlx::AnyConnection,
    ledger: &Ledger,
    id: &str,
    to: &str,
    at: impl FnOnce() -> i64,
) -> i64 {
    sqlx::query("UPDATE ledger_meters SET updated_at = updated_at WHERE allocation_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let at = at();
    let (from, tenant, user): (String, String, String) =
        sqlx::query_as("SELECT state, tenant_id, user_id FROM allocations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    sqlx::query("UPDATE allocations SET state = $1, live = $2, updated_at = $3 WHERE id = $4")
        .bind(to)
        .bind(i64::from(!matches!(to, "released" | "failed")))
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    events::append(
        tx,
        at,
        NewEvent {
            tenant_id: &tenant,
            topic: "deployment.state",
            subject_id: id,
            user_id: Some(&user),
            payload: &json!({"id": id, "from": from, "to": to}),
        },
    )
    .await
    .unwrap();
    ledger.meter_with(tx, id, at).await.unwrap();
    at
}

async fn assert_books_balance(e: &Env) {
    gpubroker_e2e::assert_books_balance(&e.db, &e.ledger).await;
}

async fn billing_events(e: &Env, user: &User) -> Vec<Value> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT payload FROM events WHERE topic = 'billing.state' AND subject_id = $1 ORDER BY seq",
    )
    .bind(&user.id)
    .fetch_all(&e.db.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(p,)| serde_json::from_str(&p).unwrap())
        .collect()
}

fn exact_cents(price: i64, markup: i64, millis: i64) -> i64 {
    let v = i128::from(price) * i128::from(100 + markup) * i128::from(millis)
        / (3_600_000i128 * 100 * 10_000);
    i64::try_from(v).unwrap()
}

#[tokio::test]
async fn every_balance_is_the_sum_of_balanced_append_only_entries() {
    // Arrange
    let e = env().await;
    let u = e.user("books").await;
    let a = e.allocation(&u, 1_000_000).await;
    // Act: top up $100, hold one window ($1), run an hour and a half, release.
    e.ledger
        .credit_topup(&u.id, 10_000, "USD", "pi_books")
        .await
        .unwrap();
    e.ledger.hold(&u.id, &a, 100).await.unwrap();
    e.step(&a, "active", T0).await;
    e.tick(T0 + 3_600_000).await;
    e.step(&a, "releasing", T0 + 5_000_000).await;
    e.step(&a, "released", T0 + 5_400_000).await;
    e.tick(T0 + 9_000_000).await;
    // Assert
    assert_books_balance(&e).await;
    let b = e.ledger.balance(&u.id).await.unwrap();
    assert_eq!(b.held_minor, 0);
    assert_eq!(b.available_minor, 10_000 - 150);
    assert_eq!(
        e.ledger
            .account_balance(ledger::SYSTEM_REVENUE)
            .await
            .unwrap(),
        150
    );
    assert_eq!(
        e.ledger
            .account_balance(ledger::SYSTEM_DEPOSITS)
            .await
            .unwrap(),
        -10_000
    );
    let update = sqlx::query("UPDATE ledger_entries SET amount_minor = 1")
        .execute(&e.db.pool)
        .await;
    assert!(update.is_err(), "entries must refuse UPDATE");
    let delete = sqlx::query("DELETE FROM ledger_transactions")
        .execute(&e.db.pool)
        .await;
    assert!(delete.is_err(), "transactions must refuse DELETE");
    assert_books_balance(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_top_up_replayed_100_times_concurrently_credits_once() {
    // Arrange
    let e = Arc::new(env().await);
    let u = e.user("replay").await;
    // Act
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let e = Arc::clone(&e);
        let id = u.id.clone();
        tasks.push(tokio::spawn(async move {
            e.ledger
                .credit_topup(&id, 2_500, "USD", "pi_replayed")
                .await
                .unwrap()
        }));
    }
    let mut posted = Vec::new();
    for t in tasks {
        posted.push(t.await.unwrap());
    }
    // Assert
    assert_eq!(posted.iter().filter(|p| !p.replayed).count(), 1);
    assert!(posted
        .iter()
        .all(|p| p.transaction_id == posted[0].transaction_id));
    assert_eq!(
        e.ledger.balance(&u.id).await.unwrap().available_minor,
        2_500
    );
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'topup'")
            .fetch_one(&e.db.pool)
            .await
            .unwrap();
    assert_eq!(n, 1);
    let other = e
        .ledger
        .credit_topup(&u.id, 9_999, "USD", "pi_replayed")
        .await;
    assert!(matches!(
        other,
        Err(ledger::Error::Broker(broker::Error::Conflict {
            kind: broker::ConflictKind::IdempotencyMismatch,
            ..
        }))
    ));
    assert_books_balance(&e).await;
}

#[tokio::test]
async fn top_ups_must_be_usd_within_the_deposit_bounds() {
    let e = env().await;
    let u = e.user("bounds").await;
    for (amount, currency) in [(499, "USD"), (500_001, "USD"), (1_000, "EUR")] {
        let r = e.ledger.credit_topup(&u.id, amount, currency, "pi_x").await;
        assert!(
            matches!(r, Err(ledger::Error::Broker(broker::Error::Invalid { .. }))),
            "{amount} {currency}: {r:?}"
        );
    }
    assert_eq!(e.ledger.balance(&u.id).await.unwrap().available_minor, 0);
}

#[tokio::test]
async fn metering_an_allocation_active_for_n_seconds_charges_exactly_n_seconds() {
    // Arrange: $1.234567/h with a 17 % markup, ready for a while, then active for N seconds.
    let e = env().await;
    e.set_global("pricing.markup_percent", json!(17)).await;
    let u = e.user("meter").await;
    let price = 1_234_567;
    let n_seconds = 7 * 3600 + 1234;
    let a = e.allocation(&u, price).await;
    e.ledger
        .credit_topup(&u.id, 50_000, "USD", "pi_meter")
        .await
        .unwrap();
    let quote = e
        .ledger
        .hold_quote(&u.tenant_id, &u.id, price)
        .await
        .unwrap();
    assert_eq!(quote, 145); // 3600 s × 1.234567 × 1.17 = 144.44 → 145
    e.ledger.hold(&u.id, &a, quote).await.unwrap();
    let start = T0 + 600_000; // ten minutes in `ready` are not billed
    e.tick(T0 + 300_000).await;
    e.step(&a, "active", start).await;
    // Act: ticks at irregular points, some repeated and some out of order.
    let mut t = start;
    let mut step = 1;
    while t < start + n_seconds * 1000 - 10_000_000 {
        t += step * 997;
        step = step % 5_000 + 37;
        e.tick(t).await;
        if step % 3 == 0 {
            e.tick(t).await;
            e.tick(t - 5_000).await;
        }
    }
    e.step(&a, "releasing", start + (n_seconds - 60) * 1000)
        .await;
    e.tick(start + (n_seconds - 1) * 1000).await;
    e.step(&a, "released", start + n_seconds * 1000).await;
    e.tick(start + n_seconds * 1000 + 3_600_000).await;
    e.tick(start + n_seconds * 1000 + 7_200_000).await;
    // Assert
    let expected = exact_cents(price, 17, n_seconds * 1000);
    assert_eq!(
        ledger::accrue(price, 17, 0, n_seconds * 1000, Remainder(0)).0,
        expected
    );
    let charged = e
        .ledger
        .account_balance(ledger::SYSTEM_REVENUE)
        .await
        .unwrap();
    assert_eq!(charged, expected);
    let b = e.ledger.balance(&u.id).await.unwrap();
    assert_eq!(b.held_minor, 0);
    assert_eq!(b.available_minor, 50_000 - expected);
    assert_eq!(e.ledger.burn_per_hour(&u.id).await.unwrap(), 0);
    assert_books_balance(&e).await;
}

#[tokio::test]
async fn a_deploy_without_enough_credit_is_rejected_with_insufficient_funds() {
    // Arrange
    let e = env().await;
    let u = e.user("poor").await;
    let a = e.allocation(&u, 10_000_000).await;
    e.ledger
        .credit_topup(&u.id, 600, "USD", "pi_poor")
        .await
        .unwrap();
    // Act
    let quote = e
        .ledger
        .hold_quote(&u.tenant_id, &u.id, 10_000_000)
        .await
        .unwrap();
    let affordable = e.ledger.can_afford(&u.id, quote).await.unwrap();
    let r = e.ledger.hold(&u.id, &a, quote).await;
    // Assert
    assert_eq!(quote, 1_000);
    assert!(!affordable);
    match r {
        Err(ledger::Error::InsufficientFunds {
            available_minor,
            required_minor,
        }) => assert_eq!((available_minor, required_minor), (600, 1_000)),
        other => panic!("expected InsufficientFunds, got {other:?}"),
    }
    let (holds,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'hold'")
            .fetch_one(&e.db.pool)
            .await
            .unwrap();
    assert_eq!(holds, 0);
    assert_eq!(e.ledger.balance(&u.id).await.unwrap().available_minor, 600);
    // A hold within the credit succeeds, and retrying it is a no-op.
    let first = e.ledger.hold(&u.id, &a, 500).await.unwrap();
    let again = e.ledger.hold(&u.id, &a, 500).await.unwrap();
    assert!(!first.replayed && again.replayed);
    let b = e.ledger.balance(&u.id).await.unwrap();
    assert_eq!((b.available_minor, b.held_minor), (100, 500));
    // A deployment that fails returns its whole hold.
    e.step(&a, "failed", T0 + 1_000).await;
    let b = e.ledger.balance(&u.id).await.unwrap();
    assert_eq!((b.available_minor, b.held_minor), (600, 0));
    assert_books_balance(&e).await;
}

#[tokio::test]
async fn billing_state_walks_down_to_depleted_and_a_top_up_restores_it() {
    // Arrange: $6/h (600 cents/h), a ten-minute window, low balance at 500 cents.
    let e = env().await;
    e.set_global("billing.window_seconds", json!(600)).await;
    let u = e.user("walk").await;
    let a = e.allocation(&u, 6_000_000).await;
    e.ledger
        .credit_topup(&u.id, 1_000, "USD", "pi_walk_1")
        .await
        .unwrap();
    let quote = e
        .ledger
        .hold_quote(&u.tenant_id, &u.id, 6_000_000)
        .await
        .unwrap();
    assert_eq!(quote, 100);
    e.ledger.hold(&u.id, &a, quote).await.unwrap();
    e.step(&a, "active", T0).await;
    let minute = 60_000;
    let mut seen = Vec::new();
    // Act
    for m in [30, 55, 85, 90, 100, 110] {
        e.tick(T0 + m * minute).await;
        seen.push(e.ledger.billing_state(&u.id).await.unwrap());
    }
    e.ledger
        .credit_topup(&u.id, 5_000, "USD", "pi_walk_2")
        .await
        .unwrap();
    let after_topup = e.ledger.billing_state(&u.id).await.unwrap();
    // Assert
    use BillingState::*;
    assert_eq!(
        seen,
        [
            Healthy,
            LowBalance,
            LowBalance,
            AutoReleasePending,
            Depleted,
            Depleted
        ]
    );
    assert_eq!(after_topup, Healthy);
    let evs = billing_events(&e, &u).await;
    let path: Vec<&str> = evs.iter().map(|v| v["to"].as_str().unwrap()).collect();
    assert_eq!(
        path,
        ["low_balance", "auto_release_pending", "depleted", "healthy"]
    );
    assert_eq!(
        evs[2]["effects"],
        json!(["notify_depleted", "release_deployments"])
    );
    assert_eq!(evs[3]["effects"], json!(["notify_restored"]));
    // Usage past the credit is debt on available credit, never on the hold rules.
    let b = e.ledger.balance(&u.id).await.unwrap();
    assert_eq!(b.held_minor, 0);
    assert_eq!(b.available_minor, 1_000 + 5_000 - 1_100);
    assert_books_balance(&e).await;
}

#[tokio::test]
async fn refunds_are_limited_to_unused_credit_from_recent_top_ups() {
    // Arrange: $10 on day 0, $20 on day 10; the window is 14 days.
    let e = env().await;
    let u = e.user("refund").await;
    let day = 86_400_000;
    e.ledger
        .credit_topup(&u.id, 1_000, "USD", "pi_old")
        .await
        .unwrap();
    e.clock.set(from_ms(T0 + 10 * day));
    e.ledger
        .credit_topup(&u.id, 2_000, "USD", "pi_new")
        .await
        .unwrap();
    e.clock.set(from_ms(T0 + 20 * day));
    // Act
    let refundable = e.ledger.refundable(&u.id).await.unwrap();
    let too_much = e.ledger.refund_unused(&u.id, 2_500, "r1").await;
    let ok = e.ledger.refund_unused(&u.id, 1_500, "r2").await.unwrap();
    let replay = e.ledger.refund_unused(&u.id, 1_500, "r2").await.unwrap();
    // Assert
    assert_eq!(refundable, 2_000);
    assert!(matches!(
        too_much,
        Err(ledger::Error::NotRefundable {
            refundable_minor: 2_000
        })
    ));
    assert!(!ok.replayed && replay.replayed);
    assert_eq!(e.ledger.refundable(&u.id).await.unwrap(), 500);
    assert_eq!(
        e.ledger.balance(&u.id).await.unwrap().available_minor,
        1_500
    );
    e.clock.set(from_ms(T0 + 30 * day));
    assert_eq!(e.ledger.refundable(&u.id).await.unwrap(), 0);
    assert_books_balance(&e).await;
}

#[tokio::test]
async fn an_admin_adjustment_is_audited_and_cannot_overdraw() {
    // Arrange
    let e = env().await;
    let admin = e.admin().await;
    let u = e.user("adjusted").await;
    // Act
    let credit = e
        .ledger
        .adjust(&admin, &u.id, 300, "goodwill for outage", "adj-1")
        .await
        .unwrap();
    let replay = e
        .ledger
        .adjust(&admin, &u.id, 300, "goodwill for outage", "adj-1")
        .await
        .unwrap();
    let overdraw = e
        .ledger
        .adjust(&admin, &u.id, -301, "mistake", "adj-2")
        .await;
    let by_user = e
        .ledger
        .adjust(&u, &u.id, 1_000, "free money", "adj-3")
        .await;
    let debit = e
        .ledger
        .adjust(&admin, &u.id, -100, "partial reversal", "adj-4")
        .await
        .unwrap();
    // Assert
    assert!(!credit.replayed && replay.replayed && !debit.replayed);
    assert!(matches!(
        overdraw,
        Err(ledger::Error::InsufficientFunds { .. })
    ));
    assert!(matches!(
        by_user,
        Err(ledger::Error::Broker(broker::Error::Forbidden))
    ));
    assert_eq!(e.ledger.balance(&u.id).await.unwrap().available_minor, 200);
    let audit = broker::audit::list(&e.db, Some(&ledger::cash_account(&u.id)), 10)
        .await
        .unwrap();
    assert_eq!(audit.len(), 2);
    assert!(audit
        .iter()
        .all(|r| r.action == "ledger.adjust" && r.actor == admin.id));
    assert!(audit
        .iter()
        .any(|r| r.reason.as_deref() == Some("goodwill for outage")
            && r.before.as_deref() == Some("0")
            && r.after.as_deref() == Some("300")));
    assert_books_balance(&e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_interleaved_ticks_top_ups_holds_and_releases_keep_the_books_exact() {
    // Arrange: 4 users, 5 deployments each at different prices, one shared time line.
    let e = Arc::new(env().await);
    e.set_global("pricing.markup_percent", json!(23)).await;
    let now = Arc::new(AtomicI64::new(T0));
    let mut users = Vec::new();
    for i in 0..4 {
        let u = e.user(&format!("busy{i}")).await;
        e.ledger
            .credit_topup(&u.id, 3_000, "USD", &format!("pi_seed_{i}"))
            .await
            .unwrap();
        users.push(u);
    }
    let mut allocations = Vec::new();
    for (i, u) in users.iter().enumerate() {
        for j in 0..5 {
            let price = 700_000 + 1_234_567 * (i as i64 + 1) * (j as i64 + 1);
            allocations.push((u.clone(), e.allocation(u, price).await, price));
        }
    }
    // Act
    let ticks = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    // Each deployment: hold (may be refused), become active, run, release, confirm.
    for (k, (u, a, price)) in allocations.iter().cloned().enumerate() {
        let e = Arc::clone(&e);
        let now = Arc::clone(&now);
        let ticks = Arc::clone(&ticks);
        tasks.push(tokio::spawn(async move {
            // Deployments arrive over the run, between top-ups and ticks.
            while ticks.load(Ordering::SeqCst) < k * 2 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let quote = e
                .ledger
                .hold_quote(&u.tenant_id, &u.id, price)
                .await
                .unwrap();
            let held = match e.ledger.hold(&u.id, &a, quote).await {
                Ok(_) => true,
                Err(ledger::Error::InsufficientFunds { .. }) => false,
                Err(other) => panic!("{other}"),
            };
            let mut spans = Vec::new();
            let path: &[&str] = if held {
                &["active", "releasing", "released"]
            } else {
                &["failed"]
            };
            for to in path {
                // Let a few metering ticks pass before the next step.
                let target = ticks.load(Ordering::SeqCst) + k % 5 + 2;
                while ticks.load(Ordering::SeqCst) < target {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let mut tx = e.db.pool.begin().await.unwrap();
                let at = step_on(&mut tx, &e.ledger, &a, to, || {
                    now.fetch_add(60_000 + 7_919 * k as i64, Ordering::SeqCst)
                })
                .await;
                tx.commit().await.unwrap();
                spans.push(at);
            }
            (a, price, held, spans)
        }));
    }
    let mut tickers = Vec::new();
    for w in 0..3 {
        let e = Arc::clone(&e);
        let now = Arc::clone(&now);
        let ticks = Arc::clone(&ticks);
        let done = Arc::clone(&done);
        tickers.push(tokio::spawn(async move {
            let (mut charged, mut n) = (0, 0);
            // At least 70 ticks each, and on until every deployment has finished.
            while n < 70 || !done.load(Ordering::SeqCst) {
                let t = now.fetch_add(1_001 + w, Ordering::SeqCst);
                let r = e.ledger.meter_tick(t).await.unwrap();
                assert_eq!(r.failed, 0);
                charged += r.charged_minor;
                n += 1;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
            (charged, n)
        }));
    }
    let mut topups = Vec::new();
    for (i, u) in users.iter().cloned().enumerate() {
        let e = Arc::clone(&e);
        topups.push(tokio::spawn(async move {
            let mut credited = 0;
            for n in 0..40 {
                // Every payment is delivered twice (webhook retries).
                let reference = format!("pi_{i}_{}", n / 2);
                let p = e
                    .ledger
                    .credit_topup(&u.id, 500 + 10 * (n / 2), "USD", &reference)
                    .await
                    .unwrap();
                if !p.replayed {
                    credited += 500 + 10 * (n / 2);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (u.id, credited)
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let (mut ticked, mut tick_count) = (0, 0);
    for t in tickers {
        let (charged, n) = t.await.unwrap();
        ticked += charged;
        tick_count += n;
    }
    let mut credited: HashMap<String, i64> = HashMap::new();
    for t in topups {
        let (id, c) = t.await.unwrap();
        credited.insert(id, c);
    }
    let last = e.tick(now.load(Ordering::SeqCst) + 1).await;
    assert!(tick_count >= 210);
    assert!(ticked > 0, "ticks must have charged running deployments");
    // Assert: each deployment was charged exactly its active-to-released time.
    let mut expected_revenue = 0;
    for (a, price, held, spans) in &outcomes {
        let charged: (i64,) = sqlx::query_as(
            "SELECT COALESCE(CAST(SUM(amount_minor) AS BIGINT), 0) FROM ledger_entries \
             WHERE account_id = $1 AND allocation_id = $2",
        )
        .bind(ledger::SYSTEM_REVENUE)
        .bind(a)
        .fetch_one(&e.db.pool)
        .await
        .unwrap();
        let expected = if *held {
            exact_cents(*price, 23, spans[2] - spans[0])
        } else {
            0
        };
        assert_eq!(charged.0, expected, "allocation {a}");
        expected_revenue += expected;
    }
    assert!(outcomes.iter().filter(|o| o.2).count() >= 4);
    assert!(ticked + last.charged_minor <= expected_revenue);
    assert_eq!(
        e.ledger
            .account_balance(ledger::SYSTEM_REVENUE)
            .await
            .unwrap(),
        expected_revenue
    );
    // Every user's credit is what came in minus what was charged; nothing stays held.
    for u in &users {
        let b = e.ledger.balance(&u.id).await.unwrap();
        let (used,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(CAST(SUM(e.amount_minor) AS BIGINT), 0) FROM ledger_entries e \
             JOIN ledger_transactions t ON t.id = e.transaction_id \
             WHERE t.user_id = $1 AND e.account_id = $2",
        )
        .bind(&u.id)
        .bind(ledger::SYSTEM_REVENUE)
        .fetch_one(&e.db.pool)
        .await
        .unwrap();
        assert_eq!(b.held_minor, 0);
        assert_eq!(b.available_minor, 3_000 + credited[&u.id] - used);
    }
    // No hold ever took available credit below zero: replay each user's cash entries in
    // order and look at the balance right after every hold.
    for u in &users {
        gpubroker_e2e::assert_no_hold_overdrew(&e.db, &u.id).await;
    }
    assert_books_balance(&e).await;
}

//! Metering throughput on SQLite: one `meter_tick` over 20 running deployments (each tick
//! posts one three-leg usage transaction per deployment and re-assesses the user), against
//! its peer, a plain two-leg ledger posting (an idempotent top-up) on the same database.
//! Figures compare the two in one run on one machine; they never gate anything.
#![expect(
    clippy::unwrap_used,
    reason = "a benchmark set-up that fails should fail loudly"
)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use broker::accounts::{Accounts, Role};
use broker::clock::from_ms;
use broker::events::{self, NewEvent};
use broker::ledger::Ledger;
use broker::params::Params;
use broker::{Clock, Db, ManualClock};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

const T0: i64 = 1_800_000_000_000;
const DEPLOYMENTS: i64 = 20;

struct Bench {
    rt: tokio::runtime::Runtime,
    ledger: Ledger,
    user: String,
    _dir: std::path::PathBuf,
}

fn setup() -> Bench {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("gpubroker-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let (ledger, user) = rt.block_on(async {
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        broker::tenants::ensure_default(&db, T0).await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(from_ms(T0)));
        let params = Params::new(db.clone(), Arc::clone(&clock));
        let ledger = Ledger::new(db.clone(), Arc::clone(&clock), params);
        let accounts = Accounts::new(db.clone(), clock);
        let u = accounts
            .register("bench@ledger.test", "password-123456", Role::User)
            .await
            .unwrap();
        ledger
            .credit_topup(&u.id, 500_000, "USD", "pi_bench_seed")
            .await
            .unwrap();
        for i in 0..DEPLOYMENTS {
            let id = broker::new_id();
            sqlx::query(
                "INSERT INTO allocations (id, tenant_id, user_id, offer_id, mode, provider, gpu_model, state, live, gpu_count, disk_gib, image, \
                 quoted_price_micro, request_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'sim:offer', 'sandbox', 'sim', 'H100', 'active', 1, 1, 50, 'ubuntu-22.04-cuda12.4', $4, 'x', $5, $5)",
            )
            .bind(&id)
            .bind(&u.tenant_id)
            .bind(&u.id)
            .bind(1_000_000 + i * 137_731)
            .bind(T0)
            .execute(&db.pool)
            .await
            .unwrap();
            let mut conn = db.pool.acquire().await.unwrap();
            events::append(
                &mut conn,
                T0,
                NewEvent {
                    tenant_id: &u.tenant_id,
                    topic: "deployment.state",
                    subject_id: &id,
                    user_id: Some(&u.id),
                    payload: &json!({"id": id, "from": "ready", "to": "active"}),
                },
            )
            .await
            .unwrap();
        }
        (ledger, u.id)
    });
    Bench {
        rt,
        ledger,
        user,
        _dir: dir,
    }
}

fn metering(c: &mut Criterion) {
    let b = setup();
    let now = AtomicI64::new(T0);
    let mut g = c.benchmark_group("ledger");
    g.sample_size(20);
    g.throughput(Throughput::Elements(
        u64::try_from(DEPLOYMENTS).unwrap_or(1),
    ));
    g.bench_function("meter_tick_20_deployments", |bench| {
        bench.iter(|| {
            // A minute later each time, so every meter posts usage.
            let t = now.fetch_add(60_000, Ordering::SeqCst) + 60_000;
            let r = b.rt.block_on(b.ledger.meter_tick(t)).unwrap();
            assert_eq!(r.failed, 0);
        })
    });
    g.throughput(Throughput::Elements(1));
    let n = AtomicI64::new(0);
    g.bench_function("peer_plain_topup_posting", |bench| {
        bench.iter(|| {
            let i = n.fetch_add(1, Ordering::SeqCst);
            b.rt.block_on(
                b.ledger
                    .credit_topup(&b.user, 500, "USD", &format!("pi_bench_{i}")),
            )
            .unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, metering);
criterion_main!(benches);

//! The MAAS 2.0 fake: its machine objects have the shape of recorded MAAS output, it refuses
//! anything but OAuth 1.0a PLAINTEXT, and the real adapter runs allocate → deploy → status →
//! release against it with the machine back to Ready (after a disk erase) at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use providers::{InstanceState, OfferId, Provider, ProviderError, ProviderKind, ProvisionRequest};
use sandbox::fleet::MachineStatus;
use sandbox::world::{sandbox_providers, WorldConfig};
use sandbox::{ManualClock, Market};
use serde_json::Value;

/// `GET /MAAS/api/2.0/machines/` as recorded from MAAS 2.x (juju/gomaasapi fixture).
const RECORDED: &str = include_str!("../../providers/fixtures/maas/machines-list.json");

struct World {
    clock: Arc<ManualClock>,
    market: Arc<Market>,
    maas: Arc<dyn Provider>,
    fakes: sandbox::world::FakesHandle,
    key: String,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(7, clock.clone()).unwrap());
    let mut config = WorldConfig::default();
    config.engine.clock = clock.clone();
    config.engine.offers_ttl = std::time::Duration::ZERO;
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market.clone(), config).await.unwrap();
    let maas = providers.into_iter().find(|p| p.id().0 == "maas").unwrap();
    World {
        clock,
        market,
        maas,
        fakes,
        key,
    }
}

fn oauth(key: &str) -> String {
    format!(
        "OAuth realm=\"\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", \
         oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"%26{key}\", \
         oauth_timestamp=\"1700000000\", oauth_nonce=\"n1\", oauth_version=\"1.0\"",
        sandbox::fakes::maas::CONSUMER_KEY,
        sandbox::fakes::maas::TOKEN_KEY,
    )
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn machine_objects_carry_every_field_of_recorded_maas_output() {
    let w = world().await;
    let url = format!("{}/MAAS/api/2.0/machines/", w.fakes.url("maas").unwrap());

    let r = reqwest::Client::new()
        .get(&url)
        .header("Authorization", oauth(&w.key))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    let ours: Value = r.json().await.unwrap();
    let recorded: Value = serde_json::from_str(RECORDED).unwrap();
    let missing: Vec<String> = keys(&recorded[0])
        .difference(&keys(&ours[0]))
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "fields MAAS has and the fake lacks: {missing:?}"
    );
    assert_eq!(ours.as_array().unwrap().len(), 6);
    assert!(ours[0]["zone"]["name"].is_string() && ours[0]["pool"]["name"].is_string());
    assert!(ours[0]["status"].is_i64() && ours[0]["status_name"].is_string());
    assert!(ours[0]["memory"].is_u64() && ours[0]["storage"].is_f64());
}

#[tokio::test]
async fn requests_without_a_valid_plaintext_signature_get_401() {
    let w = world().await;
    let url = format!("{}/MAAS/api/2.0/machines/", w.fakes.url("maas").unwrap());
    let http = reqwest::Client::new();

    let none = http.get(&url).send().await.unwrap();
    let wrong = http
        .get(&url)
        .header("Authorization", oauth("not-the-secret"))
        .send()
        .await
        .unwrap();
    let hmac = http
        .get(&url)
        .header(
            "Authorization",
            oauth(&w.key).replace("PLAINTEXT", "HMAC-SHA1"),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(none.status(), 401);
    assert_eq!(wrong.status(), 401);
    assert_eq!(hmac.status(), 401);
}

#[tokio::test]
async fn the_adapter_allocates_deploys_polls_and_releases_a_machine_back_to_ready() {
    let w = world().await;
    assert_eq!(w.maas.kind(), ProviderKind::Owned);
    let offers = w.maas.list_offers().await.unwrap();
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert!(
        ids.contains(&"maas:gpu-8x-h100-sxm@dc1/training"),
        "{ids:?}"
    );
    let h100 = offers
        .iter()
        .find(|o| o.id.0 == "maas:gpu-8x-h100-sxm@dc1/training")
        .unwrap();
    assert_eq!(
        (h100.gpu_model.as_str(), h100.gpu_count, h100.available),
        ("H100-SXM", 8, 2)
    );
    assert!(
        offers.iter().all(|o| o.region != "dc2/default"),
        "the New machine is not offered"
    );
    let req = ProvisionRequest {
        allocation_id: "alloc-maas-1".into(),
        offer_id: OfferId("maas:gpu-2x-l40s@dc2/inference".into()),
        gpu_count: 2,
        disk_gib: 100,
        image: "jammy".into(),
        ssh_public_key: Some("ssh-ed25519 AAAAsandbox user@host".into()),
    };

    // Allocate + deploy.
    let i = w.maas.provision(&req).await.unwrap();
    assert_eq!(i.id.0, "l2s9d1");
    assert_eq!(i.state, InstanceState::Pending);
    let again = w.maas.provision(&req).await.unwrap();
    assert_eq!(again.id, i.id, "idempotent per allocation (owner_data)");
    let m = w
        .market
        .machines()
        .into_iter()
        .find(|m| m.system_id == "l2s9d1")
        .unwrap();
    assert_eq!(
        m.owner_data.get("gpubroker_allocation").map(String::as_str),
        Some("alloc-maas-1")
    );
    assert!(m
        .user_data
        .unwrap()
        .contains("ssh-ed25519 AAAAsandbox user@host"));
    assert_eq!(
        w.maas
            .provision(&ProvisionRequest {
                allocation_id: "alloc-maas-2".into(),
                ..req.clone()
            })
            .await
            .unwrap_err(),
        ProviderError::NoCapacity
    );

    // Deployed after the provision time.
    w.clock.advance(TimeDelta::seconds(3));
    let running = w.maas.status(&i.id).await.unwrap();
    assert_eq!(running.state, InstanceState::Running);
    assert_eq!(running.allocation_id, "alloc-maas-1");
    assert_eq!(running.connection.unwrap().ssh_host, "10.20.2.31");

    // Release with the default quick erase: Releasing → Disk erasing → Ready.
    w.maas.release(&i.id).await.unwrap();
    w.maas.release(&i.id).await.unwrap();
    assert_eq!(
        w.maas.status(&i.id).await.unwrap().state,
        InstanceState::Terminating
    );
    w.clock.advance(TimeDelta::milliseconds(1500));
    let now = w.market.now();
    let m = w
        .market
        .machines()
        .into_iter()
        .find(|m| m.system_id == "l2s9d1")
        .unwrap();
    assert_eq!(m.status(now), MachineStatus::DiskErasing);
    w.clock.advance(TimeDelta::seconds(2));
    assert_eq!(
        w.maas.status(&i.id).await.unwrap().state,
        InstanceState::Terminated
    );
    let m = w
        .market
        .machines()
        .into_iter()
        .find(|m| m.system_id == "l2s9d1")
        .unwrap();
    assert_eq!(m.status(w.market.now()), MachineStatus::Ready);
    assert!(m.erased && m.owner.is_none() && m.owner_data.is_empty());
}

#[test]
fn the_fleet_survives_a_restart_through_the_state_file() {
    let dir = std::env::temp_dir().join(format!("maas-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sandbox-market.json");
    let _ = std::fs::remove_file(&path);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let first = Market::new(7, clock.clone())
        .unwrap()
        .with_state_file(&path)
        .unwrap();
    let now = first.now();
    first
        .update_machines(|ms| {
            ms[0].allocate("gpubroker", Some("alloc-x".into()), now)?;
            Ok::<_, sandbox::fleet::StateViolation>(())
        })
        .unwrap()
        .unwrap();
    drop(first);

    let second = Market::new(7, clock)
        .unwrap()
        .with_state_file(&path)
        .unwrap();

    let m = &second.machines()[0];
    assert_eq!(m.status(second.now()), MachineStatus::Allocated);
    assert_eq!(m.agent_name.as_deref(), Some("alloc-x"));
    assert_eq!(second.machines().len(), 6);
    let _ = std::fs::remove_dir_all(&dir);
}

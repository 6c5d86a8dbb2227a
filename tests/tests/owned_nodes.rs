//! Issue #4's "done when", in sandbox through the public API: the providers list shows ≥ 20
//! clouds and the owned MAAS region with capabilities and health; MAAS offers are priced from
//! the admin-set hourly cost (unpriced models are left out and counted, never $0); and a
//! deployment on a MAAS machine and on three clouds each runs requested → provisioning →
//! active → releasing → released through the REAL adapters against the wire fakes, the fakes
//! confirming the machine is Ready again and the instances are gone.

use std::collections::BTreeSet;

use gpubroker_e2e::{spawn_app, App, DEMO_EMAIL, DEMO_PASSWORD};
use providers::{InstanceState, MicroUsd, ProviderId};
use sandbox::fleet::MachineStatus;
use serde_json::{json, Value};

fn micro(v: &Value) -> MicroUsd {
    v.as_str().unwrap().parse().unwrap()
}

async fn refresh(app: &App) {
    app.server
        .state
        .broker
        .refresh(broker::tenants::Mode::Sandbox)
        .await
        .unwrap();
}

/// The states a deployment went through, from its events.
async fn transitions(app: &App, id: &str) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT payload FROM events WHERE subject_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&app.server.state.broker.db.pool)
            .await
            .unwrap();
    rows.iter()
        .filter_map(|(p,)| {
            let v: Value = serde_json::from_str(p).ok()?;
            v["to"].as_str().map(str::to_string)
        })
        .collect()
}

async fn providers(app: &App) -> Vec<Value> {
    let r = app.get("/api/v1/providers", None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_providers_list_has_twenty_clouds_and_the_owned_maas_region_priced_by_the_admin() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();

    let items = providers(&app).await;
    let clouds: Vec<&Value> = items.iter().filter(|p| p["kind"] == "cloud").collect();
    assert!(clouds.len() >= 20, "{} clouds", clouds.len());
    let maas = items.iter().find(|p| p["id"] == "maas").unwrap();
    assert_eq!(maas["kind"], "owned");
    assert_eq!(maas["healthy"], true, "{maas}");
    assert_eq!(maas["capabilities"]["provision"], true);
    assert_eq!(
        maas["unpriced"], 0,
        "the sandbox seeds demo costs for its fleet"
    );
    assert!(items
        .iter()
        .all(|p| p["capabilities"].is_object() && p["healthy"].is_boolean()));

    // Sandbox browse shows MAAS offers, priced per GPU from the seeded costs.
    let r = app
        .get("/api/v1/offers?provider=maas&limit=50", None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let offers = r.body["items"].as_array().unwrap();
    let models: BTreeSet<&str> = offers
        .iter()
        .map(|o| o["gpu_model"].as_str().unwrap())
        .collect();
    assert_eq!(
        models,
        BTreeSet::from(["A100-80GB-SXM", "H100-SXM", "L40S", "RTX4090"])
    );
    let h100 = offers
        .iter()
        .find(|o| o["gpu_model"] == "H100-SXM")
        .unwrap();
    assert_eq!(micro(&h100["price_per_gpu_hour"]), MicroUsd(2_100_000));
    assert_eq!(micro(&h100["price_per_hour"]), MicroUsd(16_800_000));
    assert!(offers.iter().all(|o| micro(&o["price_per_hour"]).0 > 0));

    // The admin drops the RTX 4090's cost: its offer disappears and is counted as unpriced.
    let r = app
        .set_param(
            &admin,
            "maas.hourly_cost_per_gpu_micro_usd",
            json!({"value": "H100-SXM:2000000,A100-80GB-SXM:1100000,L40S:600000,RTX4090:0",
                   "scope": "tenant", "reason": "e2e"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let bad = app
        .set_param(
            &admin,
            "maas.hourly_cost_per_gpu_micro_usd",
            json!({"value": "Imaginary-9000:1", "scope": "tenant"}),
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 400, "{}", bad.body);
    refresh(&app).await;
    let maas = providers(&app)
        .await
        .into_iter()
        .find(|p| p["id"] == "maas")
        .unwrap();
    assert_eq!(maas["unpriced"], 1, "{maas}");
    let r = app
        .get("/api/v1/offers?provider=maas&limit=50", None)
        .await
        .unwrap();
    let offers = r.body["items"].as_array().unwrap();
    assert_eq!(offers.len(), 3);
    assert!(offers.iter().all(|o| o["gpu_model"] != "RTX4090"));
    let h100 = offers
        .iter()
        .find(|o| o["gpu_model"] == "H100-SXM")
        .unwrap();
    assert_eq!(micro(&h100["price_per_hour"]), MicroUsd(16_000_000));
    app.stop().await;
}

#[tokio::test]
async fn a_maas_machine_and_three_clouds_each_run_the_full_lifecycle_through_the_real_adapters() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let r = app
        .set_param(
            &admin,
            "allocation.require_activation",
            json!({"value": false, "reason": "e2e"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let market = app.server.state.market.clone().unwrap();
    let key = "ssh-ed25519 AAAAC3NzaE2E owner@e2e";

    for provider in ["maas", "lambda", "runpod", "vast"] {
        let offer = app
            .pick_offer(&format!("provider={provider}&sort=price"))
            .await
            .unwrap();
        let d = app
            .call(
                reqwest::Method::POST,
                "/api/v1/deployments",
                Some(&me),
                Some(json!({"offer_id": offer["id"], "ssh_public_key": key})),
                &[("Idempotency-Key", provider)],
            )
            .await
            .unwrap();
        assert_eq!(d.status, 201, "{provider}: {}", d.body);
        assert_eq!(d.body["state"], "requested");
        let id = d.body["id"].as_str().unwrap().to_string();

        let active = app.wait_state(&me, &id, "active", 30).await.unwrap();
        assert!(
            active["connection"]["ssh_host"].is_string(),
            "{provider}: {active}"
        );
        let instance = active["instance_id"].as_str().unwrap().to_string();
        if provider == "maas" {
            let m = market
                .machines()
                .into_iter()
                .find(|m| m.system_id == instance)
                .unwrap();
            assert_eq!(m.status(market.now()), MachineStatus::Deployed);
            assert_eq!(m.owner_data.get("gpubroker_allocation"), Some(&id));
            assert!(
                m.user_data.unwrap_or_default().contains(key),
                "cloud-init carries the key"
            );
        }

        let r = app
            .post(
                &format!("/api/v1/deployments/{id}/release"),
                Some(&me),
                json!({}),
            )
            .await
            .unwrap();
        assert!(r.status == 200 || r.status == 202, "{provider}: {}", r.body);
        app.wait_state(&me, &id, "released", 30).await.unwrap();
        assert_eq!(
            transitions(&app, &id).await,
            [
                "requested",
                "provisioning",
                "ready",
                "active",
                "releasing",
                "released"
            ],
            "{provider}"
        );

        // The fakes' side: the machine is back in the pool, the cloud instance is gone.
        if provider == "maas" {
            let m = market
                .machines()
                .into_iter()
                .find(|m| m.system_id == instance)
                .unwrap();
            assert_eq!(m.status(market.now()), MachineStatus::Ready);
            assert!(m.erased, "released with a disk erase");
            assert!(m.owner.is_none() && m.owner_data.is_empty());
        } else {
            let i = market
                .find_by_allocation(&ProviderId(provider.to_string()), &id)
                .unwrap();
            assert_eq!(i.state, InstanceState::Terminated, "{provider}");
        }
    }
    app.stop().await;
}

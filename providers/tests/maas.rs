//! MAAS adapter contract tests: the machine samples through the adapter (OAuth 1.0a
//! PLAINTEXT, form-encoded ops), and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::http::{EngineConfig, Secret};
use providers::maas::{DiskErase, Maas, MaasSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, Provider, ProviderError, ProviderKind,
    ProvisionRequest,
};
use support::{assert_error_mapping, fixture, test_config, Reply, Scripted};

fn config(url: &str) -> EngineConfig {
    let mut c = test_config(url);
    c.credentials = Some(Secret::new("ck:tk:ts"));
    c
}

fn maas(url: &str) -> Maas {
    Maas::new(config(url), MaasSettings::default()).unwrap()
}

fn request() -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: "alloc-3".into(),
        offer_id: OfferId("maas:gpu-8x-h100-sxm@default/default".into()),
        gpu_count: 8,
        disk_gib: 100,
        image: "jammy".into(),
        ssh_public_key: Some("ssh-ed25519 AAAAC3Nz user@laptop".into()),
    }
}

#[tokio::test]
async fn gpu_tagged_machines_become_unpriced_owned_offers_per_tag_zone_and_pool() {
    let server = Scripted::start(Reply::json(200, fixture("maas/machines-gpu-tagged.json"))).await;
    let adapter = maas(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(adapter.kind(), ProviderKind::Owned);
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "maas:gpu-2x-l40s@dc2/inference",
            "maas:gpu-8x-h100-sxm@default/default"
        ]
    );
    let h100 = &offers[1];
    assert_eq!((h100.gpu_model.as_str(), h100.gpu_count), ("H100-SXM", 8));
    assert_eq!(h100.available, 2, "both machines are Ready (status 4)");
    assert_eq!(h100.region, "default/default");
    assert_eq!(h100.vcpus, Some(1));
    assert_eq!(h100.memory_gib, Some(1.0)); // 1024 MiB
    assert_eq!(h100.storage_gib, Some(8)); // 8589.93 MB
    assert_eq!(
        (h100.price_per_hour, h100.price_per_gpu_hour),
        (MicroUsd(0), MicroUsd(0)),
        "owned offers carry no price; the broker prices them"
    );
    let l40s = &offers[0];
    assert_eq!((l40s.gpu_model.as_str(), l40s.available), ("L40S", 0));
    assert_eq!(adapter.engine().skipped_gpus(), 1, "gpu-2x-quantum-qpu");
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/machines/");
    let auth = seen[0].authorization.as_deref().unwrap();
    assert!(auth.starts_with("OAuth "), "{auth}");
    assert!(auth.contains("oauth_consumer_key=\"ck\""));
    assert!(auth.contains("oauth_token=\"tk\""));
    assert!(auth.contains("oauth_signature_method=\"PLAINTEXT\""));
    assert!(auth.contains("oauth_signature=\"%26ts\""));
    assert!(auth.contains("oauth_version=\"1.0\""));
}

#[tokio::test]
async fn machines_without_gpu_tags_give_no_offers() {
    let server = Scripted::start(Reply::json(200, fixture("maas/machines-list.json"))).await;
    let adapter = maas(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert!(
        offers.is_empty(),
        "the recorded machines are tagged `virtual` only"
    );
    assert_eq!(adapter.engine().skipped_gpus(), 0);
}

#[tokio::test]
async fn machine_states_map_to_instance_states() {
    let recorded = fixture("maas/machine-deployed-with-constraints.json");
    let mut ours: serde_json::Value = serde_json::from_str(&recorded).unwrap();
    ours["owner_data"]["gpubroker_allocation"] = "alloc-3".into();
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(200, ours.to_string()));
    server.push(Reply::json(200, fixture("maas/machine-get.json")));
    server.push(Reply::json(200, recorded));
    let adapter = maas(&server.url);

    let deployed = adapter.status(&InstanceId("4y3ha3".into())).await.unwrap();
    let broken = adapter.status(&InstanceId("g8xyqs".into())).await.unwrap();
    let someone_elses = adapter.status(&InstanceId("4y3ha3".into())).await.unwrap();

    assert_eq!(deployed.state, InstanceState::Running);
    assert_eq!(deployed.allocation_id, "alloc-3");
    assert_eq!(
        someone_elses.state,
        InstanceState::Terminated,
        "a deployed machine without our owner_data was released and reused"
    );
    let c = deployed.connection.unwrap();
    assert_eq!((c.ssh_host.as_str(), c.ssh_port), ("192.168.100.4", 22));
    assert_eq!(broken.state, InstanceState::Failed); // 20: failed to exit rescue mode
    assert_eq!(server.seen.lock().unwrap()[0].path, "/machines/4y3ha3/");
}

#[tokio::test]
async fn allocate_conflict_means_no_capacity() {
    let server = Scripted::start(Reply::json(200, "[]")).await;
    server.push(Reply::json(200, "[]")); // find_by_allocation
    server.push(Reply::json(409, "No available machine matches constraints"));
    let adapter = maas(&server.url);

    let err = adapter.provision(&request()).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path, "/machines/");
    assert_eq!(seen[1].query.as_deref(), Some("op=allocate"));
    assert!(
        seen[1].body.contains("tags=gpu-8x-h100-sxm"),
        "{}",
        seen[1].body
    );
    assert!(seen[1].body.contains("zone=default"));
    assert!(seen[1].body.contains("pool=default"));
    assert!(seen[1].body.contains("agent_name=alloc-3"));
}

#[tokio::test]
async fn provisioning_allocates_tags_the_owner_data_and_deploys() {
    let deployed = fixture("maas/machine-deployed-with-constraints.json");
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(200, "[]")); // find_by_allocation
    server.push(Reply::json(200, deployed.clone())); // allocate
    server.push(Reply::json(200, deployed.clone())); // set_owner_data
    server.push(Reply::json(200, deployed)); // deploy
    let adapter = maas(&server.url);

    let i = adapter.provision(&request()).await.unwrap();

    assert_eq!(i.id, InstanceId("4y3ha3".into()));
    let seen = server.seen.lock().unwrap();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/machines/",
            "/machines/",
            "/machines/4y3ha3/",
            "/machines/4y3ha3/"
        ]
    );
    assert!(
        seen[2].body.contains("gpubroker_allocation=alloc-3"),
        "{}",
        seen[2].body
    );
    assert!(seen[3].body.contains("distro_series=jammy"));
    let user_data = seen[3]
        .body
        .split('&')
        .find_map(|kv| kv.strip_prefix("user_data="))
        .expect("deploy carries user_data");
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(percent_decode(user_data))
        .unwrap();
    let text = String::from_utf8(decoded).unwrap();
    assert!(text.starts_with("#cloud-config"), "{text}");
    assert!(text.contains("ssh-ed25519 AAAAC3Nz user@laptop"), "{text}");
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn release_sends_the_configured_erase_and_accepts_a_repeat_on_a_releasing_machine() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(200, fixture("maas/machine-get.json"))); // release accepted
    server.push(Reply::json(
        409,
        "Machine cannot be released in its current state ('Disk erasing').",
    ));
    let mut erasing: serde_json::Value =
        serde_json::from_str(&fixture("maas/machine-get.json")).unwrap();
    erasing["status"] = 14.into();
    erasing["status_name"] = "Disk erasing".into();
    server.push(Reply::json(200, erasing.to_string()));
    let adapter = Maas::new(
        config(&server.url),
        MaasSettings {
            erase: DiskErase::Secure,
            ..MaasSettings::default()
        },
    )
    .unwrap();

    adapter.release(&InstanceId("g8xyqs".into())).await.unwrap();
    adapter.release(&InstanceId("g8xyqs".into())).await.unwrap();

    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].query.as_deref(), Some("op=release"));
    assert!(seen[0].body.contains("erase=true"), "{}", seen[0].body);
    assert!(
        seen[0].body.contains("secure_erase=true"),
        "{}",
        seen[0].body
    );
    assert_eq!(
        seen[2].method, "GET",
        "the 409 is checked against the machine's state"
    );
}

#[tokio::test]
async fn maas_passes_the_shared_conformance_suite() {
    assert_error_mapping(|mut config| {
        config.credentials = Some(Secret::new("ck:tk:ts"));
        Maas::new(config, MaasSettings::default()).unwrap()
    })
    .await;
}

//! The crate graph follows docs/ARCHITECTURE.md: `ranking` ← `providers` ← `broker` ←
//! `agent` ← `portal-api`; `sandbox` → `providers`, used only by `portal-api` (and tests).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

#[test]
fn workspace_dependency_edges_are_exactly_the_allowed_ones() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Read at run time: a cached test binary may have been built in another checkout.
    let root = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("..");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_string();
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            // Normal dependencies only; dev-dependencies may reach further (tests).
            if members.contains(dep) && d["kind"].is_null() {
                edges
                    .entry(name.clone())
                    .or_default()
                    .insert(dep.to_string());
            }
        }
    }
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("ranking", &[][..]),
        ("providers", &[][..]),
        ("sandbox", &["providers"][..]),
        ("broker", &["providers", "ranking"][..]),
        ("agent", &["broker"][..]),
        (
            "portal-api",
            &["agent", "broker", "providers", "sandbox"][..],
        ),
        (
            "gpubroker-e2e",
            &["broker", "portal-api", "providers", "sandbox"][..],
        ),
    ]);
    for (from, tos) in &edges {
        let ok = allowed
            .get(from.as_str())
            .unwrap_or_else(|| panic!("{from} is not in the architecture"));
        for to in tos {
            assert!(
                ok.contains(&to.as_str()),
                "{from} -> {to} is not an allowed edge"
            );
        }
    }
    assert!(
        !edges
            .iter()
            .any(|(from, tos)| from != "gpubroker-e2e" && tos.contains("portal-api")),
        "nothing depends on portal-api"
    );
    assert!(
        edges.get("ranking").is_none_or(BTreeSet::is_empty),
        "ranking has no workspace dependencies"
    );
}

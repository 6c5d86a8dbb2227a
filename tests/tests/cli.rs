//! The `gpubroker` command line as a user types it, against a running server.

use std::process::Command;

use gpubroker_e2e::{binary, spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD, DEMO_EMAIL, DEMO_PASSWORD};

fn run(url: &str, args: &[&str], who: Option<(&str, &str)>) -> (bool, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env("GPUBROKER_URL", url)
        .env_remove("GPUBROKER_TOKEN");
    match who {
        Some((e, p)) => cmd.env("GPUBROKER_EMAIL", e).env("GPUBROKER_PASSWORD", p),
        None => cmd
            .env_remove("GPUBROKER_EMAIL")
            .env_remove("GPUBROKER_PASSWORD"),
    };
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_lists_offers_deploys_releases_and_sets_parameters() {
    let app = spawn_app().await.unwrap();
    let url = app.url.clone();
    let demo = Some((DEMO_EMAIL, DEMO_PASSWORD));
    let admin = Some((ADMIN_EMAIL, ADMIN_PASSWORD));
    let u = url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run(
            &u,
            &[
                "offers",
                "--gpu",
                "H100-SXM",
                "--max-price",
                "5",
                "--limit",
                "3",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows.iter().all(|r| r.contains("H100-SXM")), "{out}");

    let u = url.clone();
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || run(&u, &["offers", "--sort", "cheapest"], None))
            .await
            .unwrap();
    assert!(!ok);
    assert!(
        err.contains("allowed: price, price_per_gpu, topsis, availability"),
        "{err}"
    );

    let u = url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run(&u, &["deploy", "--best", "--gpu", "L4", "--json"], demo)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["gpu_model"], "L4");

    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    app.wait_state(&me, &id, "ready", 30).await.unwrap();
    let (u, i) = (url.clone(), id.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || run(&u, &["release", &i], demo))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("releasing"), "{out}");
    app.wait_state(&me, &id, "released", 30).await.unwrap();
    let u = url.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || run(&u, &["deployments"], demo))
        .await
        .unwrap();
    assert!(ok && out.contains(&id) && out.contains("released"), "{out}");

    let u = url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        run(
            &u,
            &[
                "params",
                "set",
                "allocation.max_concurrent_per_user",
                "5",
                "--reason",
                "cli test",
            ],
            admin,
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains("allocation.max_concurrent_per_user = 5"),
        "{out}"
    );
    let u = url.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || {
        run(
            &u,
            &["params", "get", "allocation.max_concurrent_per_user"],
            admin,
        )
    })
    .await
    .unwrap();
    assert!(ok && out.contains("= 5"), "{out}");
    let u = url.clone();
    let (ok, _, err) = tokio::task::spawn_blocking(move || run(&u, &["params", "get"], demo))
        .await
        .unwrap();
    assert!(!ok && err.contains("403"), "{err}");
    app.stop().await;
}

//! The Cognito identity provider against a moto server (the real Cognito wire protocol on
//! loopback): sign-up, confirmation, sign-in, refresh, software-token MFA, global sign-out,
//! and the verification of the pool's tokens (issuer, audience, token use, expiry, key id)
//! against the pool's JWKS. Runs on SQLite, or PostgreSQL when GPUBROKER_TEST_POSTGRES is set.

use gpubroker_e2e::moto::{MotoServer, REGION};
use gpubroker_e2e::{spawn_app_with, unix_now, App, PROBLEM};
use portal_api::config::Secret;
use serde_json::{json, Value};

async fn app_on(moto: &MotoServer, pool: &str, client: &str) -> App {
    let (url, pool, client) = (moto.url.clone(), pool.to_string(), client.to_string());
    spawn_app_with(move |c| {
        c.aws_region = Some(REGION.into());
        c.aws_endpoint_url = Some(url);
        c.aws_access_key_id = Some("testing".into());
        c.aws_secret_access_key = Some(Secret("testing".into()));
        c.cognito_user_pool_id = Some(pool);
        c.cognito_client_id = Some(client);
    })
    .await
    .unwrap()
}

async fn use_cognito(app: &App, admin: &str) {
    app.set_param_ok(
        admin,
        "identity.provider",
        json!({"value": "cognito", "scope": "tenant", "reason": "cognito test"}),
    )
    .await
    .unwrap();
}

/// Signs `claims` with moto's own Cognito key (the private half of the JWKS moto serves),
/// using moto's JOSE library, so the test can present tokens with chosen claims.
fn sign_with_moto_key(claims: &Value, kid: &str) -> String {
    let script = r#"
import gzip, json, os, sys
import moto.cognitoidp as c
from joserfc import jwk, jwt
p = os.path.join(os.path.dirname(c.__file__), "resources", "jwks-private.json.gz")
key = jwk.RSAKey.import_key(json.loads(gzip.open(p).read()))
print(jwt.encode({"kid": sys.argv[2], "alg": "RS256"}, json.loads(sys.argv[1]), key))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, &claims.to_string(), kid])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn a_cognito_pod_signs_up_confirms_signs_in_refreshes_and_uses_software_token_mfa() {
    let moto = MotoServer::start().await.unwrap();
    let (pool, client) = moto.create_user_pool("gpubroker-e2e").await.unwrap();
    let app = app_on(&moto, &pool, &client).await;
    let admin = app.admin_token().await.unwrap();
    use_cognito(&app, &admin).await;
    // LIVE: the address must be confirmed with the code Cognito mails.
    app.go_live(&admin, "cognito test").await.unwrap();

    let email = "erin@e2e.test";
    let password = "Erin-Passw0rd!";
    let r = app.sign_up(email, password).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["verification_required"], true, "{}", r.body);
    let dup = app.sign_up(email, password).await.unwrap();
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.body["type"], format!("{PROBLEM}email-taken"));

    let login = |pw: &'static str| {
        let app = &app;
        async move { app.sign_in(email, pw).await.unwrap() }
    };
    let r = login(password).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["type"], format!("{PROBLEM}email-not-verified"));
    let r = app
        .post(
            "/api/v1/auth/confirm",
            None,
            json!({"email": email, "code": "123456"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);

    let bad = login("Wrong-Passw0rd!").await;
    assert_eq!(bad.status, 401, "{}", bad.body);
    let r = login(password).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.body["access_token"].as_str().unwrap().to_string();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    assert!(access.split('.').count() == 3, "a Cognito JWT");

    // The pool's token is accepted by the API and maps to a local user row.
    let me = app.get("/api/v1/me", Some(&access)).await.unwrap();
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["user"]["email"], email);
    let user_id = me.body["user"]["id"].as_str().unwrap().to_string();

    // Refresh (REFRESH_TOKEN_AUTH) gives a working access token.
    let r = app.refresh(&refresh).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let access2 = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/me", Some(&access2)).await.unwrap().body["user"]["id"],
        user_id.as_str()
    );

    // Software-token MFA: associate, verify with a real TOTP code, then sign-in needs it.
    let e = app.enrol_totp(&access2).await.unwrap();
    assert_eq!(e.status, 201, "{}", e.body);
    let secret = e.body["secret"].as_str().unwrap().to_string();
    let code = broker::mfa::code_for_b32(&secret, unix_now()).unwrap();
    let r = app.activate_totp(&access2, &code).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = login(password).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mfa_required"], true, "{}", r.body);
    let mfa_token = r.body["mfa_token"].as_str().unwrap().to_string();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = app.sign_in_mfa(&mfa_token, wrong).await.unwrap();
    assert_eq!(r.status, 401, "a wrong code is refused: {}", r.body);
    let code = broker::mfa::code_for_b32(&secret, unix_now()).unwrap();
    let r = app.sign_in_mfa(&mfa_token, &code).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let access3 = r.body["access_token"].as_str().unwrap().to_string();
    let refresh3 = r.body["refresh_token"].as_str().unwrap().to_string();

    // Global sign-out revokes the pool's refresh tokens.
    let out = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&access3),
            Some(json!({"refresh_token": refresh3})),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(out.status, 204, "{}", out.body);
    let r = app.refresh(&refresh3).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);

    // Every Cognito authentication event is audited under the local user.
    let actions = app
        .audit_actions(&admin, &format!("user:{user_id}"), 100)
        .await
        .unwrap();
    for want in [
        "auth.signup",
        "auth.email_verified",
        "auth.login",
        "auth.login_failed",
        "auth.mfa_enrolled",
        "auth.mfa_challenge",
        "auth.mfa_failed",
        "auth.mfa_verified",
        "auth.logout",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} missing from {actions:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn pool_tokens_with_a_wrong_issuer_audience_use_expiry_or_key_are_rejected() {
    let moto = MotoServer::start().await.unwrap();
    let (pool, client) = moto.create_user_pool("gpubroker-jwt").await.unwrap();
    let app = app_on(&moto, &pool, &client).await;
    let admin = app.admin_token().await.unwrap();
    let local_demo = app
        .login(gpubroker_e2e::DEMO_EMAIL, gpubroker_e2e::DEMO_PASSWORD)
        .await
        .unwrap();
    use_cognito(&app, &admin).await;
    // SANDBOX: sign-up is confirmed at once and signs in.
    let r = app
        .sign_up("frank@e2e.test", "Frank-Passw0rd!")
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["verification_required"], false, "{}", r.body);
    let real = r.body["access_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/me", Some(&real)).await.unwrap();
    assert_eq!(me.status, 200, "{}", me.body);

    // The claims moto put in the real token, to vary one at a time.
    let payload = real.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .unwrap(),
    )
    .unwrap();
    let issuer = format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}");
    assert_eq!(claims["iss"], issuer.as_str());
    let with = |k: &str, v: Value| {
        let mut c = claims.clone();
        c[k] = v;
        c
    };
    // A token we sign ourselves with the pool's key and unchanged claims passes…
    let same = sign_with_moto_key(&claims, "dummy");
    assert_eq!(
        app.get("/api/v1/me", Some(&same)).await.unwrap().status,
        200
    );
    // …and each broken rule is a 401.
    for (why, token) in [
        (
            "issuer",
            sign_with_moto_key(
                &with(
                    "iss",
                    json!(format!(
                        "https://cognito-idp.{REGION}.amazonaws.com/us-east-1_other"
                    )),
                ),
                "dummy",
            ),
        ),
        (
            "audience",
            sign_with_moto_key(&with("client_id", json!("another-client")), "dummy"),
        ),
        (
            "token use",
            sign_with_moto_key(&with("token_use", json!("refresh")), "dummy"),
        ),
        (
            "expired",
            sign_with_moto_key(&with("exp", json!(unix_now() - 3600)), "dummy"),
        ),
        ("unknown key", sign_with_moto_key(&claims, "rotated-away")),
    ] {
        let r = app.get("/api/v1/me", Some(&token)).await.unwrap();
        assert_eq!(r.status, 401, "{why}: {}", r.body);
        assert_eq!(r.body["type"], format!("{PROBLEM}unauthorized"));
    }
    // A local token of a non-admin is refused on a Cognito POD; the admin's still works.
    let r = app.get("/api/v1/me", Some(&local_demo)).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let r = app.get("/api/v1/me", Some(&admin)).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    app.stop().await;
}

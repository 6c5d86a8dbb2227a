//! Local identity end to end: sign-up and email verification on a LIVE POD, TOTP MFA with
//! recovery codes, lockout and throttling, password rules, refresh-token reuse and logout —
//! each audited. Runs on SQLite, or PostgreSQL when GPUBROKER_TEST_POSTGRES is set.

use gpubroker_e2e::{spawn_app, unix_now, App, PROBLEM};
use serde_json::{json, Value};

async fn audit_actions(app: &App, admin: &str, subject: &str) -> Vec<String> {
    app.audit_actions(admin, subject, 200).await.unwrap()
}

/// The newest mail of `kind` to `to`, as the admin outbox shows it.
async fn newest_mail(app: &App, admin: &str, to: &str, kind: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/admin/outbox?to={to}"), Some(admin))
        .await
        .unwrap();
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} mail to {to}: {}", r.body))
}

fn link_token(mail: &Value) -> String {
    let text = mail["body_text"].as_str().unwrap();
    text.split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

async fn login(app: &App, email: &str, password: &str) -> gpubroker_e2e::Resp {
    app.sign_in(email, password).await.unwrap()
}

async fn verify_email(app: &App, token: &str) -> gpubroker_e2e::Resp {
    app.post("/api/v1/auth/verify-email", None, json!({"token": token}))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_live_signup_verifies_its_email_then_enrols_mfa_and_each_recovery_code_works_once() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    app.go_live(&admin, "identity test").await.unwrap();
    let email = "alice@e2e.test";
    let password = "Correct-Horse-Battery-9";

    // Sign-up on a LIVE POD: no tokens until the address is confirmed.
    let r = app.sign_up(email, password).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["verification_required"], true);
    assert!(r.body.get("access_token").is_none());
    let user_id = r.body["user"]["id"].as_str().unwrap().to_string();
    let subject = format!("user:{user_id}");

    let r = login(&app, email, password).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["type"], format!("{PROBLEM}email-not-verified"));

    // The verification link arrives by mail (the sandbox outbox) and works once.
    let mail = newest_mail(&app, &admin, email, "verify_email").await;
    assert!(mail["body_html"]
        .as_str()
        .unwrap()
        .contains("verify-email?token="));
    let token = link_token(&mail);
    let r = verify_email(&app, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let again = verify_email(&app, &token).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(again.body["field"], "token");

    let r = login(&app, email, password).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.body["access_token"].as_str().unwrap().to_string();

    // Enrol TOTP: the QR code and the otpauth URI name the secret; a wrong code is refused.
    let e = app.enrol_totp(&access).await.unwrap();
    assert_eq!(e.status, 201, "{}", e.body);
    let secret = e.body["secret"].as_str().unwrap().to_string();
    assert!(e.body["otpauth_uri"]
        .as_str()
        .unwrap()
        .contains(&format!("secret={secret}")));
    assert!(e.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let now = unix_now();
    let good = broker::mfa::code_for_b32(&secret, now).unwrap();
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let r = app.activate_totp(&access, wrong).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["field"], "code");
    let r = app.activate_totp(&access, &good).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);

    // Now the password alone is not enough.
    let r = login(&app, email, password).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mfa_required"], true);
    assert!(r.body.get("access_token").is_none());
    let mfa_token = r.body["mfa_token"].as_str().unwrap().to_string();
    // The enrolment code's time step is spent; the next step's code (within the allowed
    // skew) signs in.
    let next = broker::mfa::code_for_b32(&secret, now + 30).unwrap();
    let r = app.sign_in_mfa(&mfa_token, &next).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["access_token"].is_string());
    // The MFA token worked once.
    let r = app.sign_in_mfa(&mfa_token, &codes[1]).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);

    // A recovery code signs in once, typed loosely; the second time it is refused.
    let t = login(&app, email, password).await.body["mfa_token"].clone();
    let t = t.as_str().unwrap();
    let loose = codes[0].to_lowercase().replace('-', " ");
    let r = app.sign_in_mfa(t, &loose).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let t = login(&app, email, password).await.body["mfa_token"].clone();
    let t = t.as_str().unwrap();
    let r = app.sign_in_mfa(t, &codes[0]).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);

    let sec = app.get("/api/v1/me/security", Some(&access)).await.unwrap();
    assert_eq!(sec.body["mfa_enabled"], true, "{}", sec.body);
    assert_eq!(sec.body["email_verified"], true);
    assert_eq!(sec.body["recovery_codes_remaining"], 9);

    // Every step is in the audit log.
    let actions = audit_actions(&app, &admin, &subject).await;
    for want in [
        "auth.signup",
        "auth.login_unverified",
        "auth.email_verified",
        "auth.login",
        "auth.mfa_enrol_started",
        "auth.mfa_enrolled",
        "auth.mfa_challenge",
        "auth.mfa_verified",
        "auth.mfa_failed",
        "auth.recovery_code_used",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} missing from {actions:?}"
        );
    }

    // MFA can be turned off with a recovery code.
    let r = app
        .post(
            "/api/v1/me/mfa/disable",
            Some(&access),
            json!({"code": codes[2]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.body);
    let r = login(&app, email, password).await;
    assert!(r.body["access_token"].is_string(), "{}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_and_flooding_an_address_is_throttled() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    for (k, v) in [
        ("auth.lockout_max_failures", 3),
        ("auth.lockout_seconds", 600),
    ] {
        app.set_param_ok(&admin, k, json!({"value": v, "reason": "test"}))
            .await
            .unwrap();
    }
    let email = "bob@e2e.test";
    app.register(email).await.unwrap();
    for _ in 0..3 {
        let r = login(&app, email, "not-the-password").await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    // Locked: even the right password gets 423 with Retry-After.
    let r = login(&app, email, "a-good-password").await;
    assert_eq!(r.status, 423, "{}", r.body);
    assert_eq!(r.body["type"], format!("{PROBLEM}account-locked"));
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    let user = app
        .get("/api/v1/admin/audit?subject=user:&limit=200", Some(&admin))
        .await
        .unwrap();
    let items = user.body["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|a| a["action"] == "auth.lockout" && a["actor"] == email));
    assert_eq!(
        items
            .iter()
            .filter(|a| a["action"] == "auth.login_failed" && a["actor"] == email)
            .count(),
        3
    );

    // Throttling counts failures per address, known or not.
    app.set_param_ok(
        &admin,
        "auth.throttle_attempts_per_minute",
        json!({"value": 2, "reason": "test"}),
    )
    .await
    .unwrap();
    let ghost = "nobody@e2e.test";
    for _ in 0..2 {
        assert_eq!(login(&app, ghost, "whatever-it-is").await.status, 401);
    }
    let r = login(&app, ghost, "whatever-it-is").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["type"], format!("{PROBLEM}too-many-attempts"));
    assert!(r.headers.contains_key("retry-after"));
    let actions = audit_actions(&app, &admin, &format!("email:{ghost}")).await;
    assert!(
        actions.iter().any(|a| a == "auth.login_throttled"),
        "{actions:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn weak_passwords_are_rejected_with_a_400_naming_the_field() {
    let app = spawn_app().await.unwrap();
    for (password, why) in [
        ("short1!", "at least 10 characters"),
        ("onlylowercaseletters", "mix"),
        ("password123", "common"),
        ("carol-secret-1", "email"),
    ] {
        let r = app.sign_up("carol@e2e.test", password).await.unwrap();
        assert_eq!(r.status, 400, "{password}: {}", r.body);
        assert_eq!(r.body["type"], format!("{PROBLEM}validation-error"));
        assert_eq!(r.body["field"], "password");
        assert!(
            r.body["detail"].as_str().unwrap().contains(why),
            "{}",
            r.body
        );
    }
    // The rule is a parameter.
    let admin = app.admin_token().await.unwrap();
    app.set_param(
        &admin,
        "auth.password_min_length",
        json!({"value": 20, "reason": "stricter"}),
    )
    .await
    .unwrap();
    let r = app
        .sign_up("carol@e2e.test", "a-good-password")
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("20"));
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_its_family_and_logout_revokes_the_session() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    app.register("dave@e2e.test").await.unwrap();
    let r = login(&app, "dave@e2e.test", "a-good-password").await;
    let user_id = r.body["user"]["id"].as_str().unwrap().to_string();
    let r1 = r.body["refresh_token"].as_str().unwrap().to_string();
    let r = app.refresh(&r1).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r2 = r.body["refresh_token"].as_str().unwrap().to_string();
    // Replaying r1 is a reuse: refused, and r2 (same family) dies with it.
    let r = app.refresh(&r1).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let r = app.refresh(&r2).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);

    // Logout revokes the session's refresh token.
    let r = login(&app, "dave@e2e.test", "a-good-password").await;
    let r3 = r.body["refresh_token"].as_str().unwrap().to_string();
    let out = app
        .post("/api/v1/auth/logout", None, json!({"refresh_token": r3}))
        .await
        .unwrap();
    assert_eq!(out.status, 204, "{}", out.body);
    let r = app.refresh(&r3).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);

    let actions = audit_actions(&app, &admin, &format!("user:{user_id}")).await;
    for want in ["auth.refresh_reuse", "auth.logout", "auth.login"] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} missing from {actions:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_sandbox_pod_with_required_verification_keeps_the_play_money_but_refuses_sign_in_until_confirmed(
) {
    // Arrange
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    app.set_param_ok(
        &admin,
        "auth.require_email_verification",
        json!({"value": true}),
    )
    .await
    .unwrap();
    let email = "sandy@e2e.test";
    let password = "Correct-Horse-Battery-9";

    // Act: sign up, try to sign in, confirm, sign in.
    let signup = app.sign_up(email, password).await.unwrap();
    let early = login(&app, email, password).await;
    let mail = newest_mail(&app, &admin, email, "verify_email").await;
    let confirmed = verify_email(&app, &link_token(&mail)).await;
    let late = login(&app, email, password).await;

    // Assert
    assert_eq!(signup.status, 201, "{}", signup.body);
    assert_eq!(signup.body["verification_required"], true);
    assert!(signup.body.get("access_token").is_none());
    assert_eq!(early.status, 403, "{}", early.body);
    assert_eq!(early.body["type"], format!("{PROBLEM}email-not-verified"));
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(late.status, 200, "{}", late.body);
    let access = late.body["access_token"].as_str().unwrap().to_string();
    let billing = app.get("/api/v1/billing", Some(&access)).await.unwrap();
    assert_eq!(
        billing.body["available_minor"].as_i64(),
        Some(100_000),
        "the SANDBOX starter credit: {}",
        billing.body
    );
    // The default stays as before: a SANDBOX sign-up is signed in at once.
    app.set_param_ok(
        &admin,
        "auth.require_email_verification",
        json!({"value": false}),
    )
    .await
    .unwrap();
    let quick = app.register("quick@e2e.test").await.unwrap();
    assert!(!quick.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_admin_resets_a_users_mfa_audited_and_mailed_and_the_password_alone_signs_in_again() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let email = "lostphone@e2e.test";
    let me = app.register(email).await.unwrap();
    let id = app.get("/api/v1/me", Some(&me)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = app
        .post("/api/v1/me/mfa/totp", Some(&me), json!({}))
        .await
        .unwrap();
    assert_eq!(e.status, 201, "{}", e.body);
    let code = broker::mfa::code_for_b32(e.body["secret"].as_str().unwrap(), unix_now()).unwrap();
    let r = app
        .post(
            "/api/v1/me/mfa/totp/activate",
            Some(&me),
            json!({"code": code}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        login(&app, email, "a-good-password").await.body["mfa_required"],
        true
    );

    let path = format!("/api/v1/admin/users/{id}/mfa/reset");
    // Only admins; a reason is required; unknown users are 404.
    let r = app
        .post(&path, Some(&me), json!({"reason": "me"}))
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .post(&path, Some(&admin), json!({"reason": " "}))
        .await
        .unwrap();
    assert_eq!((r.status, r.body["field"].as_str()), (400, Some("reason")));
    let r = app
        .post(
            "/api/v1/admin/users/nobody/mfa/reset",
            Some(&admin),
            json!({"reason": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.body);

    let r = app
        .post(
            &path,
            Some(&admin),
            json!({"reason": "lost phone, ticket 42"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mfa_enabled"], false);
    let r = login(&app, email, "a-good-password").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["access_token"].as_str().is_some(), "{}", r.body);
    assert!(audit_actions(&app, &admin, &format!("user:{id}"))
        .await
        .contains(&"auth.mfa_reset".to_string()));
    let mail = newest_mail(&app, &admin, email, "mfa_reset").await;
    assert!(mail["body_text"]
        .as_str()
        .unwrap()
        .contains("lost phone, ticket 42"));
    // Nothing left to reset.
    let r = app
        .post(&path, Some(&admin), json!({"reason": "again"}))
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    app.stop().await;
}

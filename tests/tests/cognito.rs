//! The Cognito identity provider against a moto server (the real Cognito wire protocol on
//! loopback): sign-up, confirmation, sign-in, refresh, software-token MFA, global sign-out,
//! and the verification of the pool's tokens (issuer, audience, token use, expiry, key id)
//! against the pool's JWKS. Runs on SQLite, or PostgreSQL when GPUBROKER_TEST_POSTGRES is set.

use gpubroker_e2e::hosted_ui::{HostedUi, Outcome};
use gpubroker_e2e::moto::{MotoServer, REGION};
use gpubroker_e2e::{spawn_app_with, unix_now, App, PROBLEM};
use portal_api::config::Secret;
use serde_json::{json, Value};

async fn app_on(moto: &MotoServer, pool: &str, client: &str) -> App {
    app_with_domain(moto, pool, client, None).await
}

/// As [`app_on`], with the pool's hosted-UI domain set (OAuth sign-in).
async fn app_with_domain(
    moto: &MotoServer,
    pool: &str,
    client: &str,
    domain: Option<String>,
) -> App {
    let (url, pool, client) = (moto.url.clone(), pool.to_string(), client.to_string());
    spawn_app_with(move |c| {
        c.aws_region = Some(REGION.into());
        c.aws_endpoint_url = Some(url);
        c.aws_access_key_id = Some("testing".into());
        c.aws_secret_access_key = Some(Secret("testing".into()));
        c.cognito_user_pool_id = Some(pool);
        c.cognito_client_id = Some(client);
        c.cognito_domain = domain;
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

/// The `name=value` part of a `Set-Cookie` header, and its attributes.
fn set_cookie(r: &reqwest::Response) -> (String, String) {
    let h = r
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_string();
    let (pair, attrs) = h.split_once(';').unwrap();
    (pair.trim().to_string(), attrs.to_string())
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(reqwest::header::LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

fn query_param(url: &str, key: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// One hosted-UI round trip up to the callback: (the callback URL, the state cookie).
async fn through_the_hosted_ui(
    app: &App,
    http: &reqwest::Client,
    provider: &str,
    next: &str,
) -> (String, String) {
    let r = http
        .get(format!("{}/login/oauth/{provider}?next={next}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "{:?}", r.text().await);
    let (cookie, _) = set_cookie(&r);
    let r = http.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 302, "the hosted UI redirects back");
    (location(&r), cookie)
}

async fn finish(
    app: &App,
    http: &reqwest::Client,
    cookie: Option<&str>,
    code: &str,
    state: &str,
) -> (u16, Value, String) {
    let mut req = http
        .post(format!("{}/api/v1/auth/oauth/token", app.url))
        .json(&json!({"code": code, "state": state}));
    if let Some(c) = cookie {
        req = req.header(reqwest::header::COOKIE, c);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let cleared = r
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body, cleared)
}

/// What a federated sign-in needs: the app, a browser-like client, the hosted UI and moto.
struct OAuth<'a> {
    app: &'a App,
    http: &'a reqwest::Client,
    hosted: &'a HostedUi,
    moto: &'a MotoServer,
    pool: &'a str,
    client: &'a str,
}

impl OAuth<'_> {
    /// `email` signs in at `provider` (a pool user is made for them, as Cognito does), the
    /// browser comes back and finishes with its cookie as `cookie` leaves it: (status, body).
    async fn sign_in(
        &self,
        provider: &str,
        email: &str,
        cookie: impl Fn(String) -> String,
    ) -> (u16, Value) {
        let tokens = self
            .moto
            .federated_tokens(self.pool, self.client, email)
            .await
            .unwrap();
        self.hosted.next_sign_in(provider, Outcome::SignIn(tokens));
        let (back, jar) = through_the_hosted_ui(self.app, self.http, provider, "/offers").await;
        let code = query_param(&back, "code").unwrap();
        let state = query_param(&back, "state").unwrap();
        let (st, body, _) = finish(self.app, self.http, Some(&cookie(jar)), &code, &state).await;
        (st, body)
    }
}

#[tokio::test]
async fn google_and_github_sign_in_through_the_hosted_ui_with_state_and_pkce() {
    let moto = MotoServer::start().await.unwrap();
    let (pool, client) = moto.create_user_pool("gpubroker-oauth").await.unwrap();
    let hosted = HostedUi::start(&client, &["Google", "GitHub"])
        .await
        .unwrap();
    let app = app_with_domain(&moto, &pool, &client, Some(hosted.url.clone())).await;
    let admin = app.admin_token().await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A POD on local accounts offers no OAuth sign-in.
    let page = app.get("/login", None).await.unwrap();
    assert!(!page.body.as_str().unwrap().contains("oauth-google"));
    let p = app.get("/api/v1/auth/oauth/providers", None).await.unwrap();
    assert_eq!(p.body["providers"], json!([]), "{}", p.body);
    let r = app.get("/login/oauth/Google", None).await.unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["type"], format!("{PROBLEM}oauth-unavailable"));

    use_cognito(&app, &admin).await;
    for page in ["/login", "/register"] {
        let html = app.get(page, None).await.unwrap().body;
        let html = html.as_str().unwrap();
        assert!(
            html.contains(r#"id="oauth-google" href="/login/oauth/Google""#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="oauth-github" href="/login/oauth/GitHub""#),
            "{html}"
        );
    }
    let p = app.get("/api/v1/auth/oauth/providers", None).await.unwrap();
    assert_eq!(p.body["providers"][1]["name"], "GitHub", "{}", p.body);
    assert_eq!(p.body["providers"][1]["start_url"], "/login/oauth/GitHub");
    let r = app.get("/login/oauth/Facebook", None).await.unwrap();
    assert_eq!(r.status, 404, "{}", r.body);

    // Start: 302 to the hosted UI's authorize endpoint, a state cookie for the exchange only.
    let r = http
        .get(format!("{}/login/oauth/google?next=/deployments", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let to = location(&r);
    assert!(
        to.starts_with(&format!("{}/oauth2/authorize?", hosted.url)),
        "{to}"
    );
    let (cookie, attrs) = set_cookie(&r);
    assert!(cookie.starts_with("gb_oauth="), "{cookie}");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );
    assert!(attrs.contains("Path=/api/v1/auth/oauth"), "{attrs}");
    let gina = moto
        .federated_tokens(&pool, &client, "gina@gmail.test")
        .await
        .unwrap();
    hosted.next_sign_in("Google", Outcome::SignIn(gina.clone()));
    let r = http.get(&to).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let back = location(&r);
    let asked = hosted.authorize_requests().pop().unwrap();
    assert_eq!(asked["identity_provider"], "Google");
    assert_eq!(asked["redirect_uri"], format!("{}/login/callback", app.url));
    assert_eq!(asked["scope"], "openid email");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(
        back.starts_with(&format!("{}/login/callback?code=", app.url)),
        "{back}"
    );
    let code = query_param(&back, "code").unwrap();
    let state = query_param(&back, "state").unwrap();

    // The callback page finishes the sign-in in the browser; it is never cached.
    let r = http.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(r#"data-page="oauth-callback""#));

    // Login CSRF: no cookie, or a state that is not this browser's → refused, nothing traded.
    let (st, body, _) = finish(&app, &http, None, &code, &state).await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["type"], format!("{PROBLEM}oauth-state-mismatch"));
    let (st, body, _) = finish(&app, &http, Some(&cookie), &code, "forged-state").await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(
        hosted.token_requests(),
        0,
        "nothing was sent to the token endpoint"
    );
    let (st, body, _) = finish(&app, &http, Some(&cookie), "", &state).await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["type"], format!("{PROBLEM}validation-error"));

    // The exchange: the pool's tokens become the session; the cookie is cleared.
    let (st, body, cleared) = finish(&app, &http, Some(&cookie), &code, &state).await;
    assert_eq!(st, 200, "{body}");
    assert!(
        cleared.starts_with("gb_oauth=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(body["user"]["email"], "gina@gmail.test");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["next"], "/deployments");
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/me", Some(&access)).await.unwrap();
    assert_eq!(me.status, 200, "{}", me.body);
    let gina_id = me.body["user"]["id"].as_str().unwrap().to_string();
    let r = app.refresh(&refresh).await.unwrap();
    assert_eq!(
        r.status, 200,
        "the hosted UI's refresh token refreshes: {}",
        r.body
    );

    // A code is single-use: replaying it is refused at the token endpoint.
    let (st, body, _) = finish(&app, &http, Some(&cookie), &code, &state).await;
    assert_eq!(st, 401, "{body}");
    assert_eq!(body["type"], format!("{PROBLEM}unauthorized"));

    // PKCE: a cookie carrying another verifier cannot redeem the code.
    let oauth = OAuth {
        app: &app,
        http: &http,
        hosted: &hosted,
        moto: &moto,
        pool: &pool,
        client: &client,
    };
    let forge_verifier = |cookie: String| {
        let mut parts: Vec<String> = cookie.split('.').map(str::to_string).collect();
        parts[1] = "A".repeat(43);
        parts.join(".")
    };
    let (st, body) = oauth
        .sign_in("Google", "gina@gmail.test", forge_verifier)
        .await;
    assert_eq!(st, 401, "{body}");

    // Signing in again with the same Google identity is the same user row.
    let (st, body) = oauth.sign_in("Google", "gina@gmail.test", |c| c).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["user"]["id"], gina_id.as_str());
    assert_eq!(body["next"], "/offers");

    // GitHub: the person cancels at the provider → back with error=access_denied, no code.
    hosted.next_sign_in("GitHub", Outcome::Deny);
    let (back, _) = through_the_hosted_ui(&app, &http, "GitHub", "/offers").await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert!(query_param(&back, "code").is_none());

    // An address that belongs to a local account is not taken over by a federated identity.
    let (st, body) = oauth
        .sign_in("GitHub", gpubroker_e2e::DEMO_EMAIL, |c| c)
        .await;
    assert_eq!(st, 409, "{body}");
    assert_eq!(body["type"], format!("{PROBLEM}email-taken"));

    // Audited: the sign-ins under the user (with the provider), the failures under the provider.
    let audit = app
        .get(
            &format!("/api/v1/admin/audit?subject=user:{gina_id}&limit=50"),
            Some(&admin),
        )
        .await
        .unwrap();
    let items = audit.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|a| a["action"] == "auth.login" && a["reason"] == "cognito hosted UI (Google)"),
        "{}",
        audit.body
    );
    assert!(
        items.iter().any(|a| a["action"] == "auth.signup"),
        "{}",
        audit.body
    );
    for provider in ["Google", "GitHub"] {
        let failed = app
            .audit_actions(&admin, &format!("oauth:{provider}"), 50)
            .await
            .unwrap();
        assert!(
            failed.iter().any(|a| a == "auth.login_failed"),
            "{provider}: {failed:?}"
        );
    }
    app.stop().await;
}

//! The route × role matrix: every API route, called by anonymous, `user`, `pro`,
//! `enterprise` and `admin`, gets exactly the expected class of answer — let through (2xx, or
//! a 4xx about the request itself such as validation or not-found) or stopped (401 without a
//! token, 403 with the wrong role).
//!
//! The route list is not maintained by hand: it is read from the router's own source (every
//! `.route("<path>", get(..).post(..))` under `portal-api/src/`, the UI pages under
//! `src/ui/` excepted), so a route added without a line in [`MATRIX`] fails this test with the
//! line to add, and a line whose route is gone fails it too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gpubroker_e2e::{spawn_app, App};
use reqwest::Method;
use serde_json::json;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, signed in or not (credentials, if any, are in the body: login, activation
    /// tokens, webhook signatures).
    Public,
    /// Any signed-in user (every role); anonymous → 401.
    Authed,
    /// Admins only; anonymous → 401, other roles → 403.
    Admin,
}

use Access::*;

/// Every API route and who may call it. Keep it sorted by path.
const MATRIX: &[(&str, &str, Access)] = &[
    ("GET", "/.well-known/jwks.json", Public),
    ("GET", "/api/v1/admin/audit", Admin),
    ("GET", "/api/v1/admin/jobs", Admin),
    ("POST", "/api/v1/admin/offers/refresh", Admin),
    ("POST", "/api/v1/admin/reconcile", Admin),
    ("GET", "/api/v1/admin/outbox", Admin),
    ("GET", "/api/v1/admin/params", Admin),
    ("GET", "/api/v1/admin/params/{key}", Admin),
    ("PUT", "/api/v1/admin/params/{key}", Admin),
    ("DELETE", "/api/v1/admin/params/{key}", Admin),
    ("GET", "/api/v1/admin/params/{key}/audit", Admin),
    ("GET", "/api/v1/admin/payments/events", Admin),
    ("GET", "/api/v1/admin/providers/{id}/credentials", Admin),
    ("PUT", "/api/v1/admin/providers/{id}/credentials", Admin),
    ("DELETE", "/api/v1/admin/providers/{id}/credentials", Admin),
    ("GET", "/api/v1/admin/providers", Admin),
    ("GET", "/api/v1/admin/sandbox/faults/{provider}", Admin),
    ("PUT", "/api/v1/admin/sandbox/faults/{provider}", Admin),
    ("POST", "/api/v1/admin/users/{id}/mfa/reset", Admin),
    ("GET", "/api/v1/admin/sandbox/instances", Admin),
    ("GET", "/api/v1/admin/sandbox/providers/{id}/knobs", Admin),
    ("PUT", "/api/v1/admin/sandbox/providers/{id}/knobs", Admin),
    ("GET", "/api/v1/admin/users/{id}", Admin),
    ("POST", "/api/v1/admin/users/{id}/adjustments", Admin),
    ("PUT", "/api/v1/admin/users/{id}/plan", Admin),
    ("PUT", "/api/v1/admin/users/{id}/role", Admin),
    ("POST", "/api/v1/auth/confirm", Public),
    ("POST", "/api/v1/auth/login", Public),
    ("POST", "/api/v1/auth/login/mfa", Public),
    ("POST", "/api/v1/auth/logout", Public),
    ("POST", "/api/v1/auth/logout-all", Authed),
    ("GET", "/api/v1/auth/oauth/providers", Public),
    ("POST", "/api/v1/auth/oauth/token", Public),
    ("POST", "/api/v1/auth/refresh", Public),
    ("POST", "/api/v1/auth/register", Public),
    ("POST", "/api/v1/auth/verify-email", Public),
    ("POST", "/api/v1/auth/verify-email/resend", Public),
    ("GET", "/api/v1/billing", Authed),
    ("GET", "/api/v1/billing/ledger", Authed),
    ("POST", "/api/v1/billing/refunds", Authed),
    ("GET", "/api/v1/billing/statement", Authed),
    (
        "POST",
        "/api/v1/billing/sandbox/intents/{id}/confirm",
        Authed,
    ),
    ("POST", "/api/v1/billing/setup-intents", Authed),
    ("POST", "/api/v1/billing/subscription", Authed),
    ("DELETE", "/api/v1/billing/subscription", Authed),
    ("GET", "/api/v1/billing/topups", Authed),
    ("POST", "/api/v1/billing/topups", Authed),
    ("GET", "/api/v1/deployments", Authed),
    ("POST", "/api/v1/deployments", Authed),
    ("GET", "/api/v1/deployments/{id}", Authed),
    ("POST", "/api/v1/deployments/{id}/activate", Public),
    ("POST", "/api/v1/deployments/{id}/release", Authed),
    ("GET", "/api/v1/gpus", Public),
    ("GET", "/api/v1/me", Authed),
    ("POST", "/api/v1/me/mfa/disable", Authed),
    ("POST", "/api/v1/me/mfa/totp", Authed),
    ("POST", "/api/v1/me/mfa/totp/activate", Authed),
    ("GET", "/api/v1/me/security", Authed),
    ("GET", "/api/v1/offers", Public),
    ("GET", "/api/v1/offers/{*id}", Public),
    ("GET", "/api/v1/plans", Public),
    ("GET", "/api/v1/providers", Public),
    ("GET", "/api/v1/ranking/profiles", Public),
    ("POST", "/api/v1/webhooks/stripe", Public),
    ("GET", "/healthz", Public),
    ("GET", "/metrics", Public),
];

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// The source files the router is built from (the UI pages excepted).
fn router_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../portal-api/src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p != root.join("ui") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The text of the call's argument list starting right after `(` up to its matching `)`.
fn balanced(s: &str) -> &str {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

/// `(METHOD, path)` of every `.route(..)` in one source file.
fn routes_in(file: &Path, src: &str) -> Vec<(String, String)> {
    assert!(
        !src.contains(".nest(") && !src.contains(".route_service("),
        "{}: nested routers are not read by the route × role matrix; use `.route(\"/full/path\", ..)`",
        file.display()
    );
    let mut out = Vec::new();
    for (at, _) in src.match_indices(".route(") {
        let args = balanced(&src[at + ".route(".len()..]);
        let args = args.trim_start();
        let path = args
            .strip_prefix('"')
            .and_then(|a| a.split_once('"'))
            .map(|(p, _)| p.to_string())
            .unwrap_or_else(|| {
                panic!(
                    "{}: `.route(` must take the path as a string literal for the route × role matrix: {}",
                    file.display(),
                    &args[..args.len().min(80)]
                )
            });
        let handlers = &args[path.len() + 2..];
        let bytes = handlers.as_bytes();
        let mut methods = BTreeSet::new();
        for m in METHODS {
            for (i, _) in handlers.match_indices(m) {
                let before_ok =
                    i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
                let after = handlers[i + m.len()..].trim_start();
                if before_ok && after.starts_with('(') {
                    methods.insert(m.to_ascii_uppercase());
                }
            }
        }
        assert!(
            !methods.is_empty(),
            "{}: no method router found for {path}",
            file.display()
        );
        out.extend(methods.into_iter().map(|m| (m, path.clone())));
    }
    out
}

/// Every route the router serves, from its source.
fn served_routes() -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for f in router_sources() {
        let src = std::fs::read_to_string(&f).unwrap();
        all.extend(routes_in(&f, &src));
    }
    all
}

#[test]
fn the_route_reader_finds_chained_methods_and_ignores_handler_names() {
    let src = r#"Router::new()
        .route("/a", get(get_one).post(create))
        .route(
            "/b/{id}",
            axum::routing::put(set_knobs).delete(delete_param),
        )"#;
    let got = routes_in(Path::new("x.rs"), src);
    let want: Vec<(String, String)> = [
        ("GET", "/a"),
        ("POST", "/a"),
        ("DELETE", "/b/{id}"),
        ("PUT", "/b/{id}"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn every_route_has_a_line_in_the_matrix_and_every_line_a_route() {
    let served = served_routes();
    assert!(
        served.len() >= 30,
        "only {} routes read: {served:?}",
        served.len()
    );
    let listed: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        listed.len(),
        MATRIX.len(),
        "a route is listed twice in MATRIX"
    );
    let missing: Vec<String> = served
        .difference(&listed)
        .map(|(m, p)| {
            format!("    (\"{m}\", \"{p}\", Authed), // or Public / Admin: who may call it?")
        })
        .collect();
    let stale: Vec<String> = listed
        .difference(&served)
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "\nThe route × role matrix (tests/tests/route_matrix.rs, MATRIX) is out of date.\n\
         Routes without a line — add these to MATRIX with the access they need:\n{}\n\
         Lines whose route is gone — remove them:\n    {}\n",
        missing.join("\n"),
        stale.join("\n    ")
    );
}

/// What a caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Anonymous,
    User,
    Pro,
    Enterprise,
    Admin,
}

/// The answer class a caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Let through: 2xx, or a 4xx about the request (not 401/403/405, not "no such route").
    Through,
    Unauthorized,
    Forbidden,
}

fn expected(access: Access, caller: Caller) -> Class {
    match (access, caller) {
        (Public, _) => Class::Through,
        (_, Caller::Anonymous) => Class::Unauthorized,
        (Authed, _) | (Admin, Caller::Admin) => Class::Through,
        (Admin, _) => Class::Forbidden,
    }
}

fn class_of(status: u16, body: &serde_json::Value) -> Option<Class> {
    match status {
        401 => Some(Class::Unauthorized),
        403 => Some(Class::Forbidden),
        404 if body["detail"] == "no such route" => None,
        405 => None,
        200..=299 | 400..=499 => Some(Class::Through),
        _ => None,
    }
}

/// A concrete path for a route pattern (path parameters get a probe value).
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "matrix-probe"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn token_with_plan(app: &App, admin: &str, email: &str, plan: &str) -> String {
    let t = app.register(email).await.unwrap();
    let id = app.get("/api/v1/me", Some(&t)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    if plan != "free" {
        let r = app
            .call(
                Method::PUT,
                &format!("/api/v1/admin/users/{id}/plan"),
                Some(admin),
                Some(json!({"plan": plan})),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let t = app.login(email, "a-good-password").await.unwrap();
    let me = app.get("/api/v1/me", Some(&t)).await.unwrap();
    let role = if plan == "free" { "user" } else { plan };
    assert_eq!(me.body["user"]["role"], role, "{}", me.body);
    t
}

#[tokio::test]
async fn each_role_gets_exactly_what_the_matrix_says_on_every_route() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let mut callers: BTreeMap<Caller, Option<String>> = BTreeMap::new();
    callers.insert(Caller::Anonymous, None);
    callers.insert(
        Caller::User,
        Some(token_with_plan(&app, &admin, "matrix-user@e2e.test", "free").await),
    );
    callers.insert(
        Caller::Pro,
        Some(token_with_plan(&app, &admin, "matrix-pro@e2e.test", "pro").await),
    );
    callers.insert(
        Caller::Enterprise,
        Some(token_with_plan(&app, &admin, "matrix-ent@e2e.test", "enterprise").await),
    );
    callers.insert(Caller::Admin, Some(admin.clone()));

    let mut wrong = Vec::new();
    for (method, pattern, access) in MATRIX {
        let path = concrete(pattern);
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        for (caller, token) in &callers {
            let body = matches!(*method, "POST" | "PUT" | "PATCH").then(|| json!({}));
            let r = app
                .call(m.clone(), &path, token.as_deref(), body, &[])
                .await
                .unwrap();
            let want = expected(*access, *caller);
            let got = class_of(r.status, &r.body);
            if got != Some(want) {
                wrong.push(format!(
                    "{method} {path} as {caller:?}: expected {want:?}, got HTTP {} {}",
                    r.status, r.body
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}\n", wrong.join("\n"));
    app.stop().await;
}

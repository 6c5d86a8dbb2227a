//! The embedded web UI: server-rendered pages in one shared [`layout`], with small vanilla
//! scripts that call the JSON API (the browser keeps the tokens in `localStorage`). Every
//! asset is compiled into the binary ([`assets`]); there is no Node build.
//!
//! Invariants: every interpolated text goes through [`escape`]; pages carry no inline script
//! or style, so a strict Content-Security-Policy holds; the UI reads domain state only through
//! the broker (the landing page) or the public JSON API (everything else), never around it.

mod assets;
mod landing;
mod layout;
mod plans;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use broker::payments::GatewayKind;
use broker::tenants::{Mode, DEFAULT_TENANT};

use crate::state::AppState;
use layout::{External, Nav, Page};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters pass through).
pub use providers::http::percent_encode as encode_query_value;

/// The mode shown in the badge of pages rendered before we know who is looking: the
/// default tenant's. Signed-in users' pages correct it from `/api/v1/me`.
async fn default_mode(s: &AppState) -> Mode {
    match s.broker.mode(DEFAULT_TENANT).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the default tenant's mode");
            Mode::Sandbox
        }
    }
}

async fn landing(State(s): State<Arc<AppState>>) -> Response {
    let mode = default_mode(&s).await;
    let snap = s.broker.index(mode).snapshot();
    Page {
        title: "GPU marketplace",
        nav: Nav::Home,
        mode,
        script: None,
        body: landing::render(&snap),
        external: External::Nothing,
    }
    .into_response()
}

/// A page whose body is a static fragment and whose behaviour is one script.
async fn shell(
    s: &AppState,
    title: &'static str,
    nav: Nav,
    script: &'static str,
    body: String,
) -> Response {
    Page {
        title,
        nav,
        mode: default_mode(s).await,
        script: Some(script),
        body,
        external: External::Nothing,
    }
    .into_response()
}

/// "Continue with …" links for the hosted UI's providers, when the POD signs in through a
/// Cognito pool with a hosted-UI domain; nothing otherwise.
async fn oauth_buttons(s: &AppState) -> String {
    let Ok((_, ui)) = s.identity.hosted_ui(s, DEFAULT_TENANT).await else {
        return String::new();
    };
    if ui.providers().is_empty() {
        return String::new();
    }
    let links: String = ui
        .providers()
        .iter()
        .map(|p| {
            format!(
                "  <a class=\"button block oauth-button\" id=\"oauth-{}\" href=\"/login/oauth/{}\">Continue with {}</a>\n",
                escape(&p.to_ascii_lowercase()),
                encode_query_value(p),
                escape(p)
            )
        })
        .collect();
    format!(
        "<div class=\"oauth\" id=\"oauth-providers\">\n{links}  <p class=\"muted center\">or with your email</p>\n</div>\n"
    )
}

async fn login(State(s): State<Arc<AppState>>) -> Response {
    let body = assets::LOGIN_HTML.replace("{{oauth}}", &oauth_buttons(&s).await);
    shell(&s, "Log in", Nav::Login, "auth.js", body).await
}

async fn register(State(s): State<Arc<AppState>>) -> Response {
    let body = assets::REGISTER_HTML.replace("{{oauth}}", &oauth_buttons(&s).await);
    shell(&s, "Create an account", Nav::Register, "auth.js", body).await
}

#[derive(Debug, serde::Deserialize)]
struct OAuthStart {
    next: Option<String>,
}

/// Starts a hosted-UI sign-in: 302 to the pool's `/oauth2/authorize` with a state cookie.
async fn oauth_start(
    State(s): State<Arc<AppState>>,
    axum::extract::Path(provider): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<OAuthStart>,
) -> Response {
    let start = match s.identity.hosted_ui(&s, DEFAULT_TENANT).await {
        Ok((_, ui)) => ui.start(&provider, q.next.as_deref()),
        Err(e) => Err(e),
    };
    match start {
        Ok(st) => (
            axum::http::StatusCode::FOUND,
            [
                (axum::http::header::LOCATION, st.location),
                (axum::http::header::SET_COOKIE, st.set_cookie),
                (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
            ],
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Where the hosted UI sends the browser back: the page finishes the sign-in through the API.
async fn oauth_callback(State(s): State<Arc<AppState>>) -> Response {
    let mut r = shell(
        &s,
        "Signing you in",
        Nav::Login,
        "auth.js",
        assets::OAUTH_CALLBACK_HTML.to_string(),
    )
    .await;
    // The code and state are in the URL: keep them out of caches and Referer headers.
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    h.insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    r
}

async fn verify_email(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "Confirm your email address",
        Nav::Register,
        "verify.js",
        assets::VERIFY_EMAIL_HTML.to_string(),
    )
    .await
}

async fn security(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "Security",
        Nav::Security,
        "security.js",
        assets::SECURITY_HTML.to_string(),
    )
    .await
}

async fn offers(State(s): State<Arc<AppState>>) -> Response {
    let profiles: String = broker::offers::PROFILES
        .iter()
        .map(|p| format!("<option value=\"{0}\">{0}</option>", escape(p)))
        .collect();
    let body = assets::OFFERS_HTML.replace("{{profiles}}", &profiles);
    shell(&s, "Marketplace", Nav::Offers, "offers.js", body).await
}

async fn offer(State(s): State<Arc<AppState>>) -> Response {
    let images: String = broker::allocations::IMAGES
        .iter()
        .map(|i| format!("<option value=\"{0}\">{0}</option>", escape(i)))
        .collect();
    let body = assets::OFFER_HTML.replace("{{images}}", &images);
    shell(&s, "Offer", Nav::Offers, "offer.js", body).await
}

async fn deployments(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "My deployments",
        Nav::Deployments,
        "deployments.js",
        assets::DEPLOYMENTS_HTML.to_string(),
    )
    .await
}

async fn activate(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "Activate your deployment",
        Nav::Deployments,
        "activate.js",
        assets::ACTIVATE_HTML.to_string(),
    )
    .await
}

async fn outbox(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "Admin · Outbox",
        Nav::Admin,
        "admin.js",
        assets::OUTBOX_HTML.to_string(),
    )
    .await
}

async fn params(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "Admin · Parameters",
        Nav::Admin,
        "admin.js",
        assets::PARAMS_HTML.to_string(),
    )
    .await
}

async fn providers_page(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "Admin · Providers",
        Nav::Admin,
        "admin.js",
        assets::PROVIDERS_HTML.to_string(),
    )
    .await
}

async fn plans_page(State(s): State<Arc<AppState>>) -> Response {
    let mode = default_mode(&s).await;
    match s.broker.plans.catalogue(DEFAULT_TENANT).await {
        Ok(plans) => Page {
            title: "Plans",
            nav: Nav::Plans,
            mode,
            script: Some("plans.js"),
            body: plans::render(&plans),
            external: External::Nothing,
        }
        .into_response(),
        Err(e) => crate::error::ApiError::Broker(e).into_response(),
    }
}

async fn billing_page(State(s): State<Arc<AppState>>) -> Response {
    shell(
        &s,
        "Billing",
        Nav::Billing,
        "billing.js",
        assets::BILLING_HTML.to_string(),
    )
    .await
}

/// The top-up page. When the POD pays through Stripe and a publishable key is configured it
/// loads Stripe.js and carries the key (the page mounts the Payment Element with the
/// PaymentIntent's client secret); otherwise nothing loads from outside this server.
async fn topup(State(s): State<Arc<AppState>>) -> Response {
    let stripe = match s.broker.payments.gateway_for(DEFAULT_TENANT).await {
        Ok(g) => g.kind() == GatewayKind::Stripe,
        Err(e) => {
            // A LIVE POD without Stripe: the page still renders; a top-up gets the problem.
            tracing::debug!(error = %e, "no payment gateway for the top-up page");
            false
        }
    };
    let key = s
        .stripe_publishable_key
        .as_deref()
        .filter(|k| stripe && !k.is_empty());
    let config = key.map_or_else(String::new, |k| {
        format!(
            "<div id=\"stripe-config\" data-publishable-key=\"{}\" hidden></div>",
            escape(k)
        )
    });
    Page {
        title: "Credit & payments",
        nav: Nav::Billing,
        mode: default_mode(&s).await,
        script: Some("topup.js"),
        body: assets::TOPUP_HTML.replace("{{stripe}}", &config),
        external: if key.is_some() {
            External::StripeJs
        } else {
            External::Nothing
        },
    }
    .into_response()
}

/// The UI's routes: pages, and the embedded assets under `/assets/`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(landing))
        .route("/login", get(login))
        .route("/login/oauth/{provider}", get(oauth_start))
        .route("/login/callback", get(oauth_callback))
        .route("/register", get(register))
        .route("/verify-email", get(verify_email))
        .route("/security", get(security))
        .route("/offers", get(offers))
        .route("/offers/{*id}", get(offer))
        .route("/deployments", get(deployments))
        .route("/activate/{id}", get(activate))
        .route("/billing/topup", get(topup))
        .route("/admin", get(outbox))
        .route("/admin/outbox", get(outbox))
        .route("/admin/params", get(params))
        .route("/admin/providers", get(providers_page))
        .route("/plans", get(plans_page))
        .route("/billing", get(billing_page))
        .route("/assets/{name}", get(assets::serve))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("H100 SXM × 8"), "H100 SXM × 8");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("H100 SXM"), "H100%20SXM");
        assert_eq!(encode_query_value("a&b=c/é"), "a%26b%3Dc%2F%C3%A9");
        assert_eq!(encode_query_value("RTX-4090_v1.~"), "RTX-4090_v1.~");
    }
}

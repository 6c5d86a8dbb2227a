//! The UI's static files, compiled into the binary from `portal-api/assets/`, and the
//! handler that serves them under `/assets/{name}` with a content version for cache busting.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub const LOGIN_HTML: &str = include_str!("../../assets/login.html");
pub const REGISTER_HTML: &str = include_str!("../../assets/register.html");
pub const OFFERS_HTML: &str = include_str!("../../assets/offers.html");
pub const OFFER_HTML: &str = include_str!("../../assets/offer.html");
pub const DEPLOYMENTS_HTML: &str = include_str!("../../assets/deployments.html");
pub const ACTIVATE_HTML: &str = include_str!("../../assets/activate.html");
pub const OUTBOX_HTML: &str = include_str!("../../assets/outbox.html");
pub const PARAMS_HTML: &str = include_str!("../../assets/params.html");
pub const PROVIDERS_HTML: &str = include_str!("../../assets/providers.html");
pub const BILLING_HTML: &str = include_str!("../../assets/billing.html");
pub const TOPUP_HTML: &str = include_str!("../../assets/topup.html");

pub const VERIFY_EMAIL_HTML: &str = include_str!("../../assets/verify-email.html");
pub const SECURITY_HTML: &str = include_str!("../../assets/security.html");
pub const OAUTH_CALLBACK_HTML: &str = include_str!("../../assets/oauth-callback.html");

/// Files served under `/assets/`: (name, content type, body).
const FILES: [(&str, &str, &str); 15] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/app.js"),
    ),
    (
        "auth.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/auth.js"),
    ),
    (
        "offers.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/offers.js"),
    ),
    (
        "offer.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/offer.js"),
    ),
    (
        "deployments.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/deployments.js"),
    ),
    (
        "activate.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/activate.js"),
    ),
    (
        "billing.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/billing.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/admin.js"),
    ),
    (
        "plans.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/plans.js"),
    ),
    (
        "topup.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/topup.js"),
    ),
    (
        "verify.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/verify.js"),
    ),
    (
        "security.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/security.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../assets/favicon.svg"),
    ),
    (
        "robots.txt",
        "text/plain; charset=utf-8",
        "User-agent: *\nDisallow: /activate/\nDisallow: /admin/\n",
    ),
];

/// A short hash of every asset, appended to asset URLs so a new binary busts caches.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = DefaultHasher::new();
        for (name, _, body) in FILES {
            name.hash(&mut h);
            body.hash(&mut h);
        }
        format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
    })
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => ApiError::NoRoute.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_fragments_carry_no_inline_script_or_style() {
        for html in [
            LOGIN_HTML,
            REGISTER_HTML,
            OFFERS_HTML,
            OFFER_HTML,
            DEPLOYMENTS_HTML,
            ACTIVATE_HTML,
            OUTBOX_HTML,
            PARAMS_HTML,
            TOPUP_HTML,
            VERIFY_EMAIL_HTML,
            SECURITY_HTML,
            OAUTH_CALLBACK_HTML,
        ] {
            assert!(!html.contains("<script"), "inline script in {html}");
            assert!(!html.contains("style="), "inline style in {html}");
            let handler = html
                .split_whitespace()
                .find(|t| t.starts_with("on") && t.contains('='));
            assert_eq!(handler, None, "inline event handler");
        }
    }

    #[test]
    fn the_version_is_stable_and_short() {
        assert_eq!(version(), version());
        assert_eq!(version().len(), 12);
    }
}

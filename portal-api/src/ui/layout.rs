//! The layout every page shares: head (one stylesheet, the shared script and the page's
//! script), the top bar with the mode badge and navigation, and the security headers.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use broker::tenants::Mode;

use super::assets;
use super::escape;

/// Which navigation entry a page belongs to (it is highlighted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Offers,
    Deployments,
    Plans,
    Billing,
    Admin,
    Login,
    Register,
    Security,
}

/// Scripts from outside the binary that a page loads; the page's Content-Security-Policy
/// allows exactly those origins, and no other page's does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum External {
    /// Everything from this server (every page of a SANDBOX POD).
    #[default]
    Nothing,
    /// Stripe.js (`https://js.stripe.com/v3/`) and its frames: the top-up page when the POD's
    /// payment gateway is Stripe.
    StripeJs,
}

/// Where Stripe.js is loaded from (Stripe requires it be loaded from there, never bundled).
pub const STRIPE_JS: &str = "https://js.stripe.com/v3/";

/// One rendered page.
#[derive(Debug)]
pub struct Page {
    pub title: &'static str,
    pub nav: Nav,
    pub mode: Mode,
    /// The page's own script under `/assets/`, after the shared `app.js`.
    pub script: Option<&'static str>,
    /// Trusted HTML: static fragments, or markup built with [`escape`].
    pub body: String,
    /// Third-party scripts the page loads before its own.
    pub external: External,
}

/// No inline script or style anywhere, so the policy can forbid both.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of a page that loads Stripe.js: its script, its frames (Payment Element, 3-D
/// Secure) and its API, nothing else from outside.
const CSP_STRIPE: &str = "default-src 'self'; script-src 'self' https://js.stripe.com; \
    style-src 'self'; img-src 'self' data: https://*.stripe.com; \
    connect-src 'self' https://api.stripe.com; \
    frame-src https://js.stripe.com https://hooks.stripe.com; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

fn nav_link(href: &str, label: &str, id: &str, current: bool, extra: &str) -> String {
    let aria = if current {
        " aria-current=\"page\""
    } else {
        ""
    };
    format!("<a href=\"{href}\" id=\"{id}\"{aria}{extra}>{label}</a>")
}

fn mode_badge(mode: Mode) -> &'static str {
    match mode {
        Mode::Sandbox => {
            "<span class=\"mode-badge sandbox\" id=\"mode-badge\" data-mode=\"sandbox\" \
             title=\"Simulated providers: no real machines, no real money\">SANDBOX</span>"
        }
        Mode::Live => {
            "<span class=\"mode-badge live\" id=\"mode-badge\" data-mode=\"live\" \
             title=\"Real providers, real money\">LIVE</span>"
        }
    }
}

impl Page {
    pub fn render(&self) -> String {
        let v = assets::version();
        let external = match self.external {
            External::Nothing => String::new(),
            External::StripeJs => format!("<script src=\"{STRIPE_JS}\" defer></script>\n"),
        };
        let script = self
            .script
            .map(|s| {
                format!(
                    "{external}<script src=\"/assets/{}?v={v}\" defer></script>",
                    escape(s)
                )
            })
            .unwrap_or(external);
        let nav = [
            nav_link(
                "/offers",
                "Marketplace",
                "nav-offers",
                self.nav == Nav::Offers,
                "",
            ),
            nav_link(
                "/deployments",
                "My deployments",
                "nav-deployments",
                self.nav == Nav::Deployments,
                "",
            ),
            nav_link(
                "/billing",
                "Billing",
                "nav-billing",
                self.nav == Nav::Billing,
                "",
            ),
            nav_link("/plans", "Plans", "nav-plans", self.nav == Nav::Plans, ""),
            nav_link(
                "/security",
                "Security",
                "nav-security",
                self.nav == Nav::Security,
                " hidden",
            ),
            nav_link(
                "/admin/outbox",
                "Admin",
                "nav-admin",
                self.nav == Nav::Admin,
                " hidden",
            ),
        ]
        .concat();
        let login = nav_link("/login", "Log in", "nav-login", self.nav == Nav::Login, "");
        let register = nav_link(
            "/register",
            "Sign up",
            "nav-register",
            self.nav == Nav::Register,
            " class=\"button small\"",
        );
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title} · gpubroker</title>\n\
<link rel=\"icon\" href=\"/assets/favicon.svg?v={v}\" type=\"image/svg+xml\">\n\
<link rel=\"stylesheet\" href=\"/assets/app.css?v={v}\">\n\
<script src=\"/assets/app.js?v={v}\" defer></script>\n{script}\n</head>\n\
<body>\n<header class=\"topbar\"><div class=\"topbar-inner\">\n\
<a class=\"brand\" href=\"/\"><span class=\"brand-mark\" aria-hidden=\"true\"></span>gpubroker</a>\n\
{badge}\n<nav class=\"nav\" aria-label=\"Main\">{nav}</nav>\n\
<div class=\"session\"><span id=\"nav-user\" class=\"nav-user\" hidden></span>{login}{register}\
<button type=\"button\" id=\"nav-logout\" class=\"link-button\" hidden>Log out</button></div>\n\
</div></header>\n<main class=\"container\" id=\"main\">\n{body}\n</main>\n\
<footer class=\"footer\"><div class=\"container\">gpubroker · prices are USD per hour · \
<a href=\"/healthz\">health</a></div></footer>\n</body>\n</html>\n",
            title = escape(self.title),
            badge = mode_badge(self.mode),
            body = self.body,
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let csp = match self.external {
            External::Nothing => CSP,
            External::StripeJs => CSP_STRIPE,
        };
        (
            [
                (header::CONTENT_SECURITY_POLICY, csp),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            Html(self.render()),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_escapes_its_title_and_marks_the_current_page() {
        let html = Page {
            title: "<x>",
            nav: Nav::Deployments,
            mode: Mode::Sandbox,
            script: Some("deployments.js"),
            body: "<p id=\"b\">body</p>".into(),
            external: External::Nothing,
        }
        .render();
        assert!(html.contains("<title>&lt;x&gt; · gpubroker</title>"));
        assert!(html.contains("id=\"nav-deployments\" aria-current=\"page\""));
        assert!(html.contains("SANDBOX"));
        assert!(html.contains("/assets/deployments.js?v="));
        assert!(html.contains("<p id=\"b\">body</p>"));
        assert!(!html.contains("stripe.com"));
    }

    #[test]
    fn a_page_with_stripe_js_loads_it_before_its_own_script_and_allows_only_stripe() {
        let page = Page {
            title: "Top up",
            nav: Nav::Billing,
            mode: Mode::Live,
            script: Some("topup.js"),
            body: String::new(),
            external: External::StripeJs,
        };
        let html = page.render();
        let stripe = html.find(STRIPE_JS).unwrap_or(usize::MAX);
        let own = html.find("/assets/topup.js").unwrap_or(0);
        assert!(stripe < own, "Stripe.js must load before the page script");
        let resp = page.into_response();
        let csp = resp
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            csp.contains("script-src 'self' https://js.stripe.com;"),
            "{csp}"
        );
        assert!(csp.contains("frame-src https://js.stripe.com"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
}

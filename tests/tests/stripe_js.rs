//! The top-up page and Stripe.js: a POD that pays through Stripe (with a publishable key)
//! loads `https://js.stripe.com/v3/` and hands the page its key, under a policy that allows
//! Stripe's origins on that page only; a SANDBOX POD's pages load nothing from outside.
//! (A real browser cannot reach js.stripe.com here, so Stripe.js itself is not driven.)

use anyhow::{Context, Result};
use gpubroker_e2e::{spawn_app, spawn_app_with, App};
use portal_api::config::Secret;

const PUBLISHABLE: &str = "pk_test_gpubroker_e2e_publishable";

async fn page(app: &App, path: &str) -> Result<(String, String)> {
    let r = app.http.get(format!("{}{path}", app.url)).send().await?;
    anyhow::ensure!(r.status() == 200, "{path}: HTTP {}", r.status());
    let csp = r
        .headers()
        .get("content-security-policy")
        .context("no Content-Security-Policy")?
        .to_str()?
        .to_string();
    Ok((r.text().await?, csp))
}

#[tokio::test]
async fn with_stripe_configured_the_topup_page_loads_stripe_js_with_the_publishable_key(
) -> Result<()> {
    // Arrange: Stripe as the gateway (never called by rendering: the base is a closed port).
    let app = spawn_app_with(|c| {
        c.stripe_secret_key = Some(Secret("sk_test_gpubroker_e2e".into()));
        c.stripe_api_base = Some("http://127.0.0.1:9/".into());
        c.stripe_webhook_secret = Some(Secret("whsec_gpubroker_e2e".into()));
        c.stripe_publishable_key = Some(PUBLISHABLE.into());
    })
    .await?;

    // Act
    let (html, csp) = page(&app, "/billing/topup").await?;
    let (billing, billing_csp) = page(&app, "/billing").await?;
    app.stop().await;

    // Assert
    assert!(
        html.contains("<script src=\"https://js.stripe.com/v3/\" defer></script>"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "id=\"stripe-config\" data-publishable-key=\"{PUBLISHABLE}\""
        )),
        "{html}"
    );
    let stripe_js = html.find("js.stripe.com/v3/").unwrap_or(usize::MAX);
    let topup_js = html.find("/assets/topup.js").unwrap_or(0);
    assert!(stripe_js < topup_js, "Stripe.js must run before topup.js");
    assert!(html.contains("id=\"payment-element\""), "{html}");
    assert!(
        csp.contains("script-src 'self' https://js.stripe.com;"),
        "{csp}"
    );
    assert!(csp.contains("frame-src https://js.stripe.com"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' https://api.stripe.com;"),
        "{csp}"
    );
    assert!(
        !html.contains("sk_test_"),
        "the secret key leaked into the page"
    );
    assert!(
        !billing.contains("stripe.com"),
        "only the top-up page loads Stripe.js"
    );
    assert!(!billing_csp.contains("stripe.com"), "{billing_csp}");
    Ok(())
}

#[tokio::test]
async fn in_sandbox_the_topup_page_loads_nothing_from_the_internet() -> Result<()> {
    // Arrange: no Stripe key; a publishable key alone does not switch the gateway.
    let app = spawn_app().await?;
    let with_key_only =
        spawn_app_with(|c| c.stripe_publishable_key = Some(PUBLISHABLE.into())).await?;

    // Act
    let (html, csp) = page(&app, "/billing/topup").await?;
    let (html_key_only, csp_key_only) = page(&with_key_only, "/billing/topup").await?;
    app.stop().await;
    with_key_only.stop().await;

    // Assert
    for (h, c) in [(&html, &csp), (&html_key_only, &csp_key_only)] {
        assert!(!h.contains("stripe.com"), "{h}");
        assert!(!h.contains("stripe-config"), "{h}");
        assert!(
            !h.contains("https://"),
            "an external URL in a sandbox page: {h}"
        );
        assert!(!c.contains("stripe.com"), "{c}");
        assert!(c.contains("script-src 'self';"), "{c}");
    }
    assert!(
        html.contains("id=\"confirm-form\""),
        "the test-card form is missing"
    );
    Ok(())
}

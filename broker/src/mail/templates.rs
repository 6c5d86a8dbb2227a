//! Every mail the product sends, as one typed enum with its text and HTML bodies in one
//! place. Values are escaped for HTML here; amounts are integer minor units.

/// A mail to render. Amounts are minor units (cents) of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// The link that confirms a new account's address.
    VerifyEmail { link: String, ttl_hours: i64 },
    /// A ready deployment waits for its activation link.
    Activation {
        deployment_id: String,
        gpu_count: i64,
        gpu_model: String,
        provider: String,
        link: String,
        ttl_hours: i64,
    },
    /// How to reach an active deployment.
    ConnectionDetails {
        deployment_id: String,
        ssh_host: String,
        ssh_port: u16,
        ssh_user: String,
        jupyter_url: Option<String>,
    },
    /// The balance fell to or below the warning threshold.
    LowBalance {
        balance_minor: i64,
        threshold_minor: i64,
        currency: String,
        runway_seconds: Option<i64>,
        billing_url: String,
    },
    /// The balance is used up; running deployments are being released.
    BalanceDepleted {
        currency: String,
        billing_url: String,
    },
    /// A top-up was credited.
    Receipt {
        amount_minor: i64,
        currency: String,
        reference: String,
        balance_minor: i64,
    },
    /// An invoice is available.
    Invoice {
        number: String,
        amount_minor: i64,
        currency: String,
        period: String,
        url: String,
    },
    /// An administrator removed the account's second factor.
    MfaReset { reason: String },
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `1234` cents of `USD` → `12.34 USD` (integer arithmetic; negative amounts keep their sign).
pub fn format_minor(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
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

fn html_page(body: &str) -> String {
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">{body}\
         <p style=\"color:#666;font-size:12px\">gpubroker</p></body></html>"
    )
}

fn runway_text(secs: Option<i64>) -> String {
    match secs {
        Some(s) if s >= 3600 => format!("about {} hours", s / 3600),
        Some(s) => format!("about {} minutes", (s / 60).max(1)),
        None => "no running deployments".into(),
    }
}

impl Template {
    /// The stable kind stored with the message (`verify_email`, `activation`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Template::VerifyEmail { .. } => "verify_email",
            Template::Activation { .. } => "activation",
            Template::ConnectionDetails { .. } => "connection_details",
            Template::LowBalance { .. } => "low_balance",
            Template::BalanceDepleted { .. } => "balance_depleted",
            Template::Receipt { .. } => "receipt",
            Template::Invoice { .. } => "invoice",
            Template::MfaReset { .. } => "mfa_reset",
        }
    }

    /// Subject, plain text and HTML.
    pub fn render(&self) -> Rendered {
        let (subject, text, html) = match self {
            Template::VerifyEmail { link, ttl_hours } => (
                "Confirm your email address".to_string(),
                format!(
                    "Welcome to gpubroker.\n\nConfirm your email address within {ttl_hours} hours:\n{link}\n\nThe link works once. If you did not sign up, ignore this mail."
                ),
                format!(
                    "<p>Welcome to gpubroker.</p><p><a href=\"{l}\">Confirm your email address</a> within {ttl_hours} hours. The link works once.</p><p>If you did not sign up, ignore this mail.</p>",
                    l = esc(link)
                ),
            ),
            Template::Activation { deployment_id, gpu_count, gpu_model, provider, link, ttl_hours } => (
                format!("Your {gpu_count}× {gpu_model} deployment is ready — activate it"),
                format!(
                    "Your deployment {deployment_id} ({gpu_count}× {gpu_model} at {provider}) is ready.\n\nActivate it within {ttl_hours} hours to get its connection details:\n{link}\n\nThe link works once."
                ),
                format!(
                    "<p>Your deployment <code>{}</code> ({gpu_count}× {} at {}) is ready.</p><p><a href=\"{}\">Activate it</a> within {ttl_hours} hours to get its connection details. The link works once.</p>",
                    esc(deployment_id), esc(gpu_model), esc(provider), esc(link)
                ),
            ),
            Template::ConnectionDetails { deployment_id, ssh_host, ssh_port, ssh_user, jupyter_url } => {
                let jt = jupyter_url.as_deref().map(|u| format!("\nJupyter: {u}")).unwrap_or_default();
                let jh = jupyter_url.as_deref().map(|u| format!("<p>Jupyter: <a href=\"{0}\">{0}</a></p>", esc(u))).unwrap_or_default();
                (
                    format!("Connection details for deployment {deployment_id}"),
                    format!("Your deployment {deployment_id} is active.\n\nSSH: ssh -p {ssh_port} {ssh_user}@{ssh_host}{jt}"),
                    format!(
                        "<p>Your deployment <code>{}</code> is active.</p><p>SSH: <code>ssh -p {ssh_port} {}@{}</code></p>{jh}",
                        esc(deployment_id), esc(ssh_user), esc(ssh_host)
                    ),
                )
            }
            Template::LowBalance { balance_minor, threshold_minor, currency, runway_seconds, billing_url } => (
                format!("Low balance: {}", format_minor(*balance_minor, currency)),
                format!(
                    "Your balance is {} (warning threshold {}). At the current burn rate it lasts {}.\n\nTop up: {billing_url}\n\nWhen it reaches zero, running deployments are released.",
                    format_minor(*balance_minor, currency), format_minor(*threshold_minor, currency), runway_text(*runway_seconds)
                ),
                format!(
                    "<p>Your balance is <strong>{}</strong> (warning threshold {}). At the current burn rate it lasts {}.</p><p><a href=\"{}\">Top up</a>. When it reaches zero, running deployments are released.</p>",
                    format_minor(*balance_minor, currency), format_minor(*threshold_minor, currency), runway_text(*runway_seconds), esc(billing_url)
                ),
            ),
            Template::BalanceDepleted { currency, billing_url } => (
                "Your balance is used up".to_string(),
                format!(
                    "Your balance reached {}. Running deployments are being released; they are not restarted automatically.\n\nTop up: {billing_url}",
                    format_minor(0, currency)
                ),
                format!(
                    "<p>Your balance reached {}. Running deployments are being released; they are not restarted automatically.</p><p><a href=\"{}\">Top up</a></p>",
                    format_minor(0, currency), esc(billing_url)
                ),
            ),
            Template::Receipt { amount_minor, currency, reference, balance_minor } => (
                format!("Receipt: {} credited", format_minor(*amount_minor, currency)),
                format!(
                    "We credited {} to your account (reference {reference}).\nYour balance is now {}.",
                    format_minor(*amount_minor, currency), format_minor(*balance_minor, currency)
                ),
                format!(
                    "<p>We credited <strong>{}</strong> to your account (reference <code>{}</code>).</p><p>Your balance is now {}.</p>",
                    format_minor(*amount_minor, currency), esc(reference), format_minor(*balance_minor, currency)
                ),
            ),
            Template::Invoice { number, amount_minor, currency, period, url } => (
                format!("Invoice {number} for {period}"),
                format!(
                    "Invoice {number} for {period}: {}.\n\nView it: {url}",
                    format_minor(*amount_minor, currency)
                ),
                format!(
                    "<p>Invoice <strong>{}</strong> for {}: {}.</p><p><a href=\"{}\">View the invoice</a></p>",
                    esc(number), esc(period), format_minor(*amount_minor, currency), esc(url)
                ),
            ),
            Template::MfaReset { reason } => (
                "Two-factor sign-in was reset on your account".to_string(),
                format!(
                    "An administrator removed the two-factor authentication of your account ({reason}).\n\nYou now sign in with your password alone; enrol a new device in your account settings.\nIf you did not ask for this, contact support at once."
                ),
                format!(
                    "<p>An administrator removed the two-factor authentication of your account ({}).</p><p>You now sign in with your password alone; enrol a new device in your account settings.</p><p>If you did not ask for this, contact support at once.</p>",
                    esc(reason)
                ),
            ),
        };
        Rendered {
            subject,
            text,
            html: html_page(&html),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Template> {
        vec![
            Template::VerifyEmail {
                link: "https://x/verify?token=a&b".into(),
                ttl_hours: 24,
            },
            Template::Activation {
                deployment_id: "d1".into(),
                gpu_count: 8,
                gpu_model: "H100-SXM".into(),
                provider: "lambda".into(),
                link: "https://x/activate/d1?token=t".into(),
                ttl_hours: 24,
            },
            Template::ConnectionDetails {
                deployment_id: "d1".into(),
                ssh_host: "h".into(),
                ssh_port: 22,
                ssh_user: "ubuntu".into(),
                jupyter_url: Some("https://j".into()),
            },
            Template::LowBalance {
                balance_minor: 450,
                threshold_minor: 500,
                currency: "USD".into(),
                runway_seconds: Some(7200),
                billing_url: "https://x/billing".into(),
            },
            Template::BalanceDepleted {
                currency: "USD".into(),
                billing_url: "https://x/billing".into(),
            },
            Template::Receipt {
                amount_minor: 2500,
                currency: "USD".into(),
                reference: "pi_1".into(),
                balance_minor: 2950,
            },
            Template::Invoice {
                number: "INV-1".into(),
                amount_minor: 12345,
                currency: "EUR".into(),
                period: "2026-10".into(),
                url: "https://x/inv".into(),
            },
            Template::MfaReset {
                reason: "lost <phone>".into(),
            },
        ]
    }

    #[test]
    fn every_template_renders_a_subject_a_text_and_an_html_body() {
        let mut kinds = std::collections::HashSet::new();
        for t in all() {
            let r = t.render();
            assert!(!r.subject.is_empty() && !r.text.is_empty() && !r.html.is_empty());
            assert!(kinds.insert(t.kind()), "kinds are distinct");
            assert!(r.html.starts_with("<!doctype html>"));
        }
        assert_eq!(kinds.len(), 8);
    }

    #[test]
    fn html_bodies_escape_values_and_text_bodies_keep_them() {
        let r = Template::VerifyEmail {
            link: "https://x/v?token=a&b=\"c\"".into(),
            ttl_hours: 1,
        }
        .render();
        assert!(r.html.contains("token=a&amp;b=&quot;c&quot;"));
        assert!(r.text.contains("token=a&b=\"c\""));
    }

    #[test]
    fn amounts_are_formatted_from_integer_minor_units() {
        assert_eq!(format_minor(1234, "USD"), "12.34 USD");
        assert_eq!(format_minor(5, "USD"), "0.05 USD");
        assert_eq!(format_minor(-250, "EUR"), "-2.50 EUR");
        let r = Template::Receipt {
            amount_minor: 2500,
            currency: "USD".into(),
            reference: "pi".into(),
            balance_minor: 2950,
        }
        .render();
        assert!(r.subject.contains("25.00 USD"));
        assert!(r.text.contains("29.50 USD"));
    }
}

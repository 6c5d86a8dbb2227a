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
    /// A subscription renewal could not be charged; Stripe retries it on its schedule.
    RenewalFailed {
        /// The plan's name (`PRO`) and interval (`month`).
        plan: String,
        interval: String,
        /// The invoice's number (or id).
        invoice: String,
        amount_minor: i64,
        currency: String,
        /// Why it failed, as the gateway says.
        message: String,
        /// The UTC day of Stripe's next attempt, when one is scheduled.
        next_attempt: Option<String>,
        /// Stripe's page to pay the invoice with another card, when known.
        pay_url: Option<String>,
        billing_url: String,
    },
    /// A top-up's payment attempt failed: nothing was charged or credited.
    TopUpFailed {
        amount_minor: i64,
        currency: String,
        /// The PaymentIntent.
        reference: String,
        message: String,
        billing_url: String,
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
            Template::RenewalFailed { .. } => "renewal_failed",
            Template::TopUpFailed { .. } => "topup_failed",
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
            Template::RenewalFailed { plan, interval, invoice, amount_minor, currency, message, next_attempt, pay_url, billing_url } => {
                let amount = format_minor(*amount_minor, currency);
                let retry = match next_attempt {
                    Some(d) => format!("Stripe retries the payment automatically on its retry schedule (Smart Retries); the next attempt is on {d}."),
                    None => "Stripe retries the payment automatically on its retry schedule (Smart Retries) while retries remain.".to_string(),
                };
                let keep = format!("Your {plan} plan stays active while the payment is retried; if every retry fails, the account returns to the FREE plan.");
                let pay_text = pay_url.as_deref().map(|u| format!("Pay the invoice now, with this or another card: {u}\n")).unwrap_or_default();
                let pay_html = pay_url.as_deref().map(|u| format!("<a href=\"{}\">Pay the invoice now</a>, with this or another card. ", esc(u))).unwrap_or_default();
                (
                    format!("Payment failed: your {plan} plan ({amount})"),
                    format!(
                        "We could not collect {amount} for your {plan} plan (per {interval}), invoice {invoice}: {message}\n\n{retry}\n{keep}\n\n{pay_text}Your card, subscription and payments: {billing_url}"
                    ),
                    format!(
                        "<p>We could not collect <strong>{amount}</strong> for your {} plan (per {}), invoice <code>{}</code>: {}</p><p>{}</p><p>{}</p><p>{pay_html}<a href=\"{}\">Your card, subscription and payments</a>.</p>",
                        esc(plan), esc(interval), esc(invoice), esc(message), esc(&retry), esc(&keep), esc(billing_url)
                    ),
                )
            }
            Template::TopUpFailed { amount_minor, currency, reference, message, billing_url } => {
                let amount = format_minor(*amount_minor, currency);
                (
                    format!("Top-up failed: {amount} not credited"),
                    format!(
                        "Your top-up of {amount} (reference {reference}) failed: {message}\n\nNothing was charged or credited. Nothing is retried automatically: try again with the same or another card on your billing page: {billing_url}"
                    ),
                    format!(
                        "<p>Your top-up of <strong>{amount}</strong> (reference <code>{}</code>) failed: {}</p><p>Nothing was charged or credited. Nothing is retried automatically: <a href=\"{}\">try again with the same or another card</a>.</p>",
                        esc(reference), esc(message), esc(billing_url)
                    ),
                )
            }
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
            Template::RenewalFailed {
                plan: "PRO".into(),
                interval: "month".into(),
                invoice: "INV-2".into(),
                amount_minor: 2900,
                currency: "USD".into(),
                message: "Your card was declined.".into(),
                next_attempt: Some("2026-11-23".into()),
                pay_url: Some("https://x/pay?a&b".into()),
                billing_url: "https://x/billing".into(),
            },
            Template::TopUpFailed {
                amount_minor: 1000,
                currency: "USD".into(),
                reference: "pi_1".into(),
                message: "Your card has <insufficient> funds.".into(),
                billing_url: "https://x/billing".into(),
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
        assert_eq!(kinds.len(), 10);
    }

    #[test]
    fn a_failed_renewal_says_what_failed_that_stripe_retries_and_where_to_fix_it() {
        let r = Template::RenewalFailed {
            plan: "PRO".into(),
            interval: "month".into(),
            invoice: "INV-2".into(),
            amount_minor: 2900,
            currency: "USD".into(),
            message: "Your card was declined.".into(),
            next_attempt: Some("2026-11-23".into()),
            pay_url: Some("https://x/pay?a&b".into()),
            billing_url: "https://x/billing".into(),
        }
        .render();
        for needle in [
            "PRO",
            "29.00 USD",
            "INV-2",
            "Your card was declined.",
            "Smart Retries",
            "2026-11-23",
            "https://x/billing",
            "https://x/pay?a&b",
        ] {
            assert!(r.text.contains(needle), "text lacks {needle}: {}", r.text);
        }
        assert!(r.html.contains("https://x/pay?a&amp;b"), "{}", r.html);
        let without = Template::RenewalFailed {
            plan: "PRO".into(),
            interval: "year".into(),
            invoice: "in_1".into(),
            amount_minor: 29000,
            currency: "USD".into(),
            message: "declined".into(),
            next_attempt: None,
            pay_url: None,
            billing_url: "https://x/billing".into(),
        }
        .render();
        assert!(without.text.contains("Smart Retries"), "{}", without.text);
        assert!(
            !without.text.contains("Pay the invoice now"),
            "{}",
            without.text
        );
    }

    #[test]
    fn a_failed_top_up_says_nothing_was_credited_and_escapes_the_gateways_message() {
        let r = Template::TopUpFailed {
            amount_minor: 1000,
            currency: "USD".into(),
            reference: "pi_1".into(),
            message: "Your card has <insufficient> funds.".into(),
            billing_url: "https://x/billing".into(),
        }
        .render();
        assert!(r.subject.contains("10.00 USD"), "{}", r.subject);
        assert!(r.text.contains("pi_1") && r.text.contains("https://x/billing"));
        assert!(r.text.contains("<insufficient>"));
        assert!(r.html.contains("&lt;insufficient&gt;"), "{}", r.html);
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

//! The plans page: a pricing table rendered from the broker's plan catalogue (prices and
//! features are parameters), PRO (or whichever plan `plans.recommended` names) marked. Each
//! paid card carries a "Sign in to subscribe" link and a hidden Monthly/Annual subscribe form;
//! `plans.js` shows the form to a signed-in user, with the current plan and subscription.

use broker::ledger::dollars;
use broker::plans::{Plan, PlanView};

use super::escape;

/// The subscribe controls of a paid plan (none for FREE, which is not sold).
fn actions(plan: Plan) -> String {
    if plan == Plan::Free {
        return "<p class=\"plan-current\" data-plan-current=\"free\" hidden>Your current plan</p>"
            .to_string();
    }
    let id = escape(plan.as_str());
    format!(
        "<div class=\"plan-actions\" data-plan=\"{id}\">\
<p class=\"plan-current\" data-plan-current=\"{id}\" hidden>Your current plan</p>\
<a class=\"button small plan-signin\" href=\"/login?next=%2Fplans\">Sign in to subscribe</a>\
<form class=\"plan-subscribe\" data-plan=\"{id}\" hidden>\
<fieldset class=\"plan-interval\"><legend class=\"small muted\">Billing</legend>\
<label class=\"small\"><input type=\"radio\" name=\"interval\" value=\"month\" checked> Monthly</label> \
<label class=\"small\"><input type=\"radio\" name=\"interval\" value=\"year\"> Annual</label></fieldset>\
<button class=\"button small primary\" type=\"submit\">Subscribe</button></form></div>"
    )
}

fn feature_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The page body.
pub fn render(plans: &[PlanView]) -> String {
    let cards: String = plans
        .iter()
        .map(|p| {
            let features: String = p
                .features
                .iter()
                .map(|f| {
                    format!(
                        "<li data-feature=\"{}\"><span class=\"muted\">{}</span> <strong>{}</strong></li>",
                        escape(f.key),
                        escape(f.label),
                        escape(&feature_value(&f.value))
                    )
                })
                .collect();
            let badge = if p.recommended {
                "<span class=\"plan-badge\" data-recommended=\"true\">Recommended</span>"
            } else {
                ""
            };
            format!(
                "<article class=\"card plan{rec}\" data-plan=\"{id}\">{badge}<h2>{name}</h2>\
<p class=\"plan-price\"><span class=\"plan-monthly\">{monthly}</span> <span class=\"muted\">/ month</span></p>\
<p class=\"muted small\">or <span class=\"plan-annual\">{annual}</span> / year</p>\
<ul class=\"plan-features\">{features}</ul>{actions}</article>",
                rec = if p.recommended { " recommended" } else { "" },
                id = escape(p.id.as_str()),
                name = escape(p.name),
                monthly = escape(&dollars(p.monthly_price_minor)),
                annual = escape(&dollars(p.annual_price_minor)),
                actions = actions(p.id),
            )
        })
        .collect();
    format!(
        "<div class=\"page-head\"><h1>Plans</h1>\
<p class=\"muted\">Every plan pays GPU time from prepaid credit; plans raise limits and support.</p></div>\
<div id=\"plans-error\" class=\"problem\" role=\"alert\" hidden></div>\
<section class=\"card subscription\" id=\"subscription\" hidden>\
<p><span class=\"muted\">Your plan</span> <strong id=\"sub-plan\">–</strong> <span id=\"sub-detail\" class=\"muted small\"></span></p>\
<p id=\"sub-status\" class=\"notice\" role=\"status\" hidden></p>\
<button class=\"button small danger-outline\" type=\"button\" id=\"sub-cancel\" hidden>Cancel subscription</button></section>\
<section class=\"plans\" id=\"plans\">{cards}</section>\
<p class=\"muted small\">Plans are paid by subscription; GPU time is paid from credit on <a href=\"/billing\">Billing</a>.</p>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker::accounts::Role;

    fn view(id: Plan, name: &'static str) -> PlanView {
        PlanView {
            id,
            name,
            role: Role::User,
            recommended: id == Plan::Pro,
            currency: "usd",
            monthly_price_minor: 2_900,
            annual_price_minor: 29_000,
            features: Vec::new(),
        }
    }

    #[test]
    fn paid_plans_get_a_monthly_or_annual_subscribe_form_and_free_gets_none() {
        let html = render(&[
            view(Plan::Free, "FREE"),
            view(Plan::Pro, "PRO"),
            view(Plan::Enterprise, "ENTERPRISE"),
        ]);
        for plan in ["pro", "enterprise"] {
            assert!(
                html.contains(&format!(
                    "<form class=\"plan-subscribe\" data-plan=\"{plan}\" hidden>"
                )),
                "{html}"
            );
        }
        assert!(!html.contains("data-plan=\"free\" hidden>"), "{html}");
        assert_eq!(html.matches("value=\"month\" checked").count(), 2);
        assert_eq!(html.matches("value=\"year\"").count(), 2);
        assert_eq!(
            html.matches("href=\"/login?next=%2Fplans\">Sign in to subscribe</a>")
                .count(),
            2
        );
        assert_eq!(html.matches("data-plan-current=").count(), 3);
        assert!(html.contains("id=\"sub-cancel\""), "{html}");
        assert!(!html.contains("<script"), "no inline script: {html}");
        assert!(!html.contains("style="), "no inline style: {html}");
    }
}

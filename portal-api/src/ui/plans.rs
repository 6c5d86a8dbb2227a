//! The plans page: a pricing table rendered from the broker's plan catalogue (prices and
//! features are parameters), PRO (or whichever plan `plans.recommended` names) marked.

use broker::ledger::dollars;
use broker::plans::PlanView;

use super::escape;

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
<ul class=\"plan-features\">{features}</ul></article>",
                rec = if p.recommended { " recommended" } else { "" },
                id = escape(p.id.as_str()),
                name = escape(p.name),
                monthly = escape(&dollars(p.monthly_price_minor)),
                annual = escape(&dollars(p.annual_price_minor)),
            )
        })
        .collect();
    format!(
        "<div class=\"page-head\"><h1>Plans</h1>\
<p class=\"muted\">Every plan pays GPU time from prepaid credit; plans raise limits and support.</p></div>\
<section class=\"plans\" id=\"plans\">{cards}</section>\
<p class=\"muted small\">Subscriptions are managed from <a href=\"/billing\">Billing</a>.</p>"
    )
}

//! Webhook events, pure: what a Stripe event means for us ([`classify`]) and how an intent's
//! status moves ([`IntentStatus::apply`]). No IO here; [`super::Payments::handle_webhook`]
//! is the shell that verifies, dedupes, reads, decides and writes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The envelope of a Stripe event (only what we read).
#[derive(Debug, Clone, Deserialize)]
pub struct WireEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// When Stripe created the event, unix seconds (orders a subscription's events).
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub data: WireData,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireData {
    #[serde(default)]
    pub object: Value,
}

/// What an event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Money for a PaymentIntent was received (`payment_intent.succeeded`,
    /// `charge.succeeded`, …): credit it once, if it matches the intent we created.
    Paid {
        intent_id: String,
        amount_minor: i64,
        currency: String,
    },
    /// An attempt to pay failed; the intent stays reusable (Stripe's retry model).
    Failed {
        intent_id: String,
        code: Option<String>,
        message: String,
        /// Names the attempt: the failed charge's id when the event carries one (so
        /// `payment_intent.payment_failed` and `charge.failed` of one attempt agree), else
        /// the event id (a failure before any charge has no `charge.failed` twin).
        attempt: String,
    },
    Canceled {
        intent_id: String,
    },
    /// A card was saved.
    SetupSucceeded {
        intent_id: String,
        payment_method: Option<String>,
    },
    SetupFailed {
        intent_id: String,
        code: Option<String>,
        message: String,
    },
    /// A subscription was created, changed or ended.
    Subscription(SubscriptionFacts),
    /// An invoice (of a subscription) was paid or its payment failed.
    Invoice(InvoiceFacts),
    /// A refund's status changed (`refund.updated`, `refund.failed`,
    /// `charge.refund.updated`: each carries the refund object).
    Refund(RefundFacts),
    /// Nothing to do (the reason is kept with the event).
    Ignore(&'static str),
    /// The event is of a known type but its object lacks what we need.
    Malformed(&'static str),
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn failure(obj: &Value) -> (Option<String>, String) {
    let err = obj
        .get("last_payment_error")
        .or_else(|| obj.get("last_setup_error"));
    match err {
        Some(e) if !e.is_null() => (
            s(e, "decline_code").or_else(|| s(e, "code")),
            s(e, "message").unwrap_or_else(|| "the payment failed".into()),
        ),
        _ => (
            s(obj, "failure_code"),
            s(obj, "failure_message").unwrap_or_else(|| "the payment failed".into()),
        ),
    }
}

/// What a subscription event says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub subscription_id: String,
    /// Stripe's status word (`active`, `past_due`, `canceled`, …).
    pub status: String,
    pub current_period_end: Option<i64>,
    pub customer_id: Option<String>,
    /// From the metadata we wrote at creation (absent: not a subscription of ours).
    pub user_id: Option<String>,
    pub plan: Option<String>,
    pub interval: Option<String>,
    /// The first item's price (or plan) id and amount.
    pub price_id: Option<String>,
    pub amount_minor: Option<i64>,
}

/// What an invoice event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFacts {
    pub invoice_id: String,
    pub subscription_id: Option<String>,
    pub outcome: InvoiceOutcome,
    pub number: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub url: Option<String>,
}

/// Paid, or a failed attempt (Stripe retries it per the account's retry schedule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceOutcome {
    Paid,
    PaymentFailed {
        message: String,
        /// When Stripe tries again (the invoice's `next_payment_attempt`, unix seconds);
        /// none when no retry is scheduled.
        next_attempt: Option<i64>,
    },
}

/// What a refund event says about the refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFacts {
    pub refund_id: String,
    /// Stripe's status word (`pending`, `requires_action`, `succeeded`, `failed`,
    /// `canceled`).
    pub status: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// Why it failed, when Stripe says (`expired_or_canceled_card`, `lost_or_stolen_card`,
    /// `declined`, `unknown`, …).
    pub failure_reason: Option<String>,
}

fn i(v: &Value, ptr: &str) -> Option<i64> {
    v.pointer(ptr).and_then(Value::as_i64)
}

fn p(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::to_string)
}

fn subscription_facts(obj: &Value) -> Option<SubscriptionFacts> {
    let item = obj.pointer("/items/data/0").cloned().unwrap_or(Value::Null);
    Some(SubscriptionFacts {
        subscription_id: s(obj, "id")?,
        status: s(obj, "status")?,
        current_period_end: i(obj, "/current_period_end")
            .or_else(|| i(&item, "/current_period_end")),
        customer_id: s(obj, "customer"),
        user_id: p(obj, &format!("/metadata/{}", super::USER_METADATA)),
        plan: p(obj, &format!("/metadata/{}", super::PLAN_METADATA)),
        interval: p(obj, &format!("/metadata/{}", super::INTERVAL_METADATA)),
        price_id: p(&item, "/price/id").or_else(|| p(&item, "/plan/id")),
        amount_minor: i(&item, "/price/unit_amount").or_else(|| i(&item, "/plan/amount")),
    })
}

fn invoice_facts(obj: &Value, outcome: InvoiceOutcome) -> Option<InvoiceFacts> {
    let paid = matches!(outcome, InvoiceOutcome::Paid);
    Some(InvoiceFacts {
        invoice_id: s(obj, "id")?,
        subscription_id: s(obj, "subscription")
            .or_else(|| p(obj, "/parent/subscription_details/subscription")),
        number: s(obj, "number"),
        amount_minor: if paid {
            i(obj, "/amount_paid").or_else(|| i(obj, "/total"))?
        } else {
            i(obj, "/amount_due").or_else(|| i(obj, "/total"))?
        },
        currency: s(obj, "currency")?,
        period_start: i(obj, "/lines/data/0/period/start").or_else(|| i(obj, "/period_start")),
        period_end: i(obj, "/lines/data/0/period/end").or_else(|| i(obj, "/period_end")),
        url: s(obj, "hosted_invoice_url"),
        outcome,
    })
}

fn refund_facts(obj: &Value) -> Option<RefundFacts> {
    Some(RefundFacts {
        refund_id: s(obj, "id")?,
        status: s(obj, "status")?,
        amount_minor: i(obj, "/amount"),
        currency: s(obj, "currency"),
        failure_reason: s(obj, "failure_reason"),
    })
}

/// The charge a failed PaymentIntent attempt made, if any.
fn failed_charge(obj: &Value) -> Option<String> {
    p(obj, "/last_payment_error/charge")
        .or_else(|| s(obj, "latest_charge"))
        .or_else(|| p(obj, "/latest_charge/id"))
}

/// The amount paid: the settled amount (`amount_received`, `amount_captured`) when positive,
/// else `amount`.
fn paid(obj: &Value, settled: &str) -> Option<i64> {
    obj.get(settled)
        .and_then(Value::as_i64)
        .filter(|a| *a > 0)
        .or_else(|| obj.get("amount").and_then(Value::as_i64))
}

/// What `event` asks of us.
pub fn classify(event: &WireEvent) -> Effect {
    let obj = &event.data.object;
    let object_kind = s(obj, "object").unwrap_or_default();
    match (event.kind.as_str(), object_kind.as_str()) {
        ("payment_intent.succeeded", "payment_intent") => {
            match (
                s(obj, "id"),
                paid(obj, "amount_received"),
                s(obj, "currency"),
            ) {
                (Some(intent_id), Some(amount_minor), Some(currency)) => Effect::Paid {
                    intent_id,
                    amount_minor,
                    currency,
                },
                _ => Effect::Malformed("a payment_intent without id, amount or currency"),
            }
        }
        ("charge.succeeded" | "charge.captured", "charge") => {
            if obj.get("paid").and_then(Value::as_bool) == Some(false)
                || obj.get("captured").and_then(Value::as_bool) == Some(false)
            {
                return Effect::Ignore("the charge is not captured yet");
            }
            match (
                s(obj, "payment_intent"),
                paid(obj, "amount_captured"),
                s(obj, "currency"),
            ) {
                (Some(intent_id), Some(amount_minor), Some(currency)) => Effect::Paid {
                    intent_id,
                    amount_minor,
                    currency,
                },
                (None, _, _) => Effect::Ignore("a charge without a payment intent"),
                _ => Effect::Malformed("a charge without amount or currency"),
            }
        }
        ("payment_intent.payment_failed", "payment_intent") => match s(obj, "id") {
            Some(intent_id) => {
                let (code, message) = failure(obj);
                Effect::Failed {
                    intent_id,
                    code,
                    message,
                    attempt: failed_charge(obj).unwrap_or_else(|| event.id.clone()),
                }
            }
            None => Effect::Malformed("a payment_intent without id"),
        },
        ("charge.failed", "charge") => match s(obj, "payment_intent") {
            Some(intent_id) => {
                let (code, message) = failure(obj);
                Effect::Failed {
                    intent_id,
                    code,
                    message,
                    attempt: s(obj, "id").unwrap_or_else(|| event.id.clone()),
                }
            }
            None => Effect::Ignore("a charge without a payment intent"),
        },
        ("payment_intent.canceled", "payment_intent") => match s(obj, "id") {
            Some(intent_id) => Effect::Canceled { intent_id },
            None => Effect::Malformed("a payment_intent without id"),
        },
        ("setup_intent.succeeded", "setup_intent") => match s(obj, "id") {
            Some(intent_id) => Effect::SetupSucceeded {
                intent_id,
                payment_method: s(obj, "payment_method"),
            },
            None => Effect::Malformed("a setup_intent without id"),
        },
        ("setup_intent.setup_failed", "setup_intent") => match s(obj, "id") {
            Some(intent_id) => {
                let (code, message) = failure(obj);
                Effect::SetupFailed {
                    intent_id,
                    code,
                    message,
                }
            }
            None => Effect::Malformed("a setup_intent without id"),
        },
        (
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted",
            "subscription",
        ) => match subscription_facts(obj) {
            Some(f) => Effect::Subscription(f),
            None => Effect::Malformed("a subscription without id or status"),
        },
        ("invoice.paid" | "invoice.payment_succeeded", "invoice") => {
            match invoice_facts(obj, InvoiceOutcome::Paid) {
                Some(f) => Effect::Invoice(f),
                None => Effect::Malformed("an invoice without id, amount or currency"),
            }
        }
        ("invoice.payment_failed", "invoice") => {
            let message = p(obj, "/last_finalization_error/message")
                .or_else(|| p(obj, "/charge/failure_message"))
                .or_else(|| p(obj, "/payment_intent/last_payment_error/message"))
                .unwrap_or_else(|| "the payment of your subscription's invoice failed".into());
            let next_attempt = i(obj, "/next_payment_attempt");
            match invoice_facts(
                obj,
                InvoiceOutcome::PaymentFailed {
                    message,
                    next_attempt,
                },
            ) {
                Some(f) => Effect::Invoice(f),
                None => Effect::Malformed("an invoice without id, amount or currency"),
            }
        }
        ("refund.updated" | "refund.failed" | "charge.refund.updated", "refund") => {
            match refund_facts(obj) {
                Some(f) => Effect::Refund(f),
                None => Effect::Malformed("a refund without id or status"),
            }
        }
        (
            "payment_intent.created"
            | "payment_intent.processing"
            | "payment_intent.requires_action"
            | "payment_intent.amount_capturable_updated"
            | "setup_intent.created"
            | "setup_intent.requires_action"
            | "charge.pending"
            | "customer.created"
            | "customer.updated",
            _,
        ) => Effect::Ignore("informational: the intent we created is the record"),
        ("refund.created" | "charge.refunded", _) => {
            Effect::Ignore("informational: the refund we recorded is the record")
        }
        _ => Effect::Ignore("an event type gpubroker does not act on"),
    }
}

/// An intent's status as we keep it (Stripe's finer states fold into `open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Created, waiting for the customer (or being processed).
    Open,
    /// The last attempt failed; the same intent can be confirmed again.
    Failed,
    /// Paid (payment) or card saved (setup). Terminal.
    Succeeded,
    /// Canceled. Terminal.
    Canceled,
}

/// What happened to an intent, as far as its status goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentEvent {
    Succeeded,
    Failed,
    Canceled,
}

impl IntentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Open => "open",
            IntentStatus::Failed => "failed",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<IntentStatus> {
        [
            IntentStatus::Open,
            IntentStatus::Failed,
            IntentStatus::Succeeded,
            IntentStatus::Canceled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// The next status, or why the event changes nothing. Terminal states stay put, so a
    /// failure or cancellation delivered after the success (out of order) is ignored.
    pub fn apply(self, e: IntentEvent) -> Result<IntentStatus, &'static str> {
        use IntentEvent as E;
        use IntentStatus as S;
        match (self, e) {
            (S::Succeeded, E::Succeeded) => Err("the intent already succeeded"),
            (S::Succeeded, _) => Err("the intent already succeeded; a late event changes nothing"),
            (S::Canceled, E::Succeeded) => Ok(S::Succeeded),
            (S::Canceled, _) => Err("the intent is canceled"),
            (S::Open | S::Failed, E::Succeeded) => Ok(S::Succeeded),
            (S::Open | S::Failed, E::Failed) => Ok(S::Failed),
            (S::Open | S::Failed, E::Canceled) => Ok(S::Canceled),
        }
    }
}

/// A refund's status as we keep it (Stripe's `requires_action` folds into `pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Accepted by the gateway, not settled yet. Posted to the ledger already.
    Pending,
    /// The money went back. Posted to the ledger already.
    Succeeded,
    /// The money did not go back (e.g. the card was closed); Stripe keeps it. Terminal.
    Failed,
    /// Canceled before it went through. Terminal.
    Canceled,
}

/// What a status reported by the gateway does to a refund we recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundChange {
    /// Only the status moves (`pending` → `succeeded`); the ledger already has the refund.
    Settle(RefundStatus),
    /// The refund did not happen (`failed` or `canceled`): the status moves and the credit
    /// the ledger took for it goes back to the user.
    Reverse(RefundStatus),
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
        }
    }

    /// Our status, or Stripe's word for it (`requires_action` is still `pending`).
    pub fn parse(s: &str) -> Option<RefundStatus> {
        match s {
            "pending" | "requires_action" => Some(RefundStatus::Pending),
            "succeeded" => Some(RefundStatus::Succeeded),
            "failed" => Some(RefundStatus::Failed),
            "canceled" => Some(RefundStatus::Canceled),
            _ => None,
        }
    }

    /// What the reported status changes, or why it changes nothing. `failed` and
    /// `canceled` are terminal, so a repeat (or a late `succeeded`) after the reversal is
    /// ignored; a `failed` after `succeeded` still reverses (the money did not reach the
    /// card after all).
    pub fn apply(self, reported: RefundStatus) -> Result<RefundChange, &'static str> {
        use RefundStatus as S;
        match (self, reported) {
            (S::Failed | S::Canceled, _) => {
                Err("the refund failed or was canceled already; its credit was given back")
            }
            (S::Pending, S::Pending) | (S::Succeeded, S::Succeeded) => {
                Err("the refund is in that status already")
            }
            (S::Succeeded, S::Pending) => Err("the refund succeeded already; a late event"),
            (S::Pending, S::Succeeded) => Ok(RefundChange::Settle(S::Succeeded)),
            (S::Pending | S::Succeeded, S::Failed | S::Canceled) => {
                Ok(RefundChange::Reverse(reported))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, object: Value) -> WireEvent {
        serde_json::from_value(json!({"id": "evt_1", "type": kind, "data": {"object": object}}))
            .unwrap()
    }

    #[test]
    fn a_succeeded_payment_intent_and_its_charge_name_the_same_payment() {
        let pi = classify(&ev(
            "payment_intent.succeeded",
            json!({"object": "payment_intent", "id": "pi_1", "amount": 500, "amount_received": 500, "currency": "usd"}),
        ));
        let ch = classify(&ev(
            "charge.succeeded",
            json!({"object": "charge", "id": "ch_1", "payment_intent": "pi_1", "amount": 500, "amount_captured": 500, "paid": true, "captured": true, "currency": "usd"}),
        ));
        let want = Effect::Paid {
            intent_id: "pi_1".into(),
            amount_minor: 500,
            currency: "usd".into(),
        };
        assert_eq!(pi, want);
        assert_eq!(ch, want);
    }

    #[test]
    fn a_failure_carries_the_decline_code_and_message() {
        let e = classify(&ev(
            "payment_intent.payment_failed",
            json!({"object": "payment_intent", "id": "pi_1", "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}}),
        ));
        assert_eq!(
            e,
            Effect::Failed {
                intent_id: "pi_1".into(),
                code: Some("insufficient_funds".into()),
                message: "Your card has insufficient funds.".into(),
                attempt: "evt_1".into(),
            }
        );
    }

    #[test]
    fn both_events_of_one_failed_attempt_name_the_same_charge() {
        let pi = classify(&ev(
            "payment_intent.payment_failed",
            json!({"object": "payment_intent", "id": "pi_1", "latest_charge": "ch_9",
                   "last_payment_error": {"code": "card_declined", "charge": "ch_9", "message": "Declined."}}),
        ));
        let ch = classify(&ev(
            "charge.failed",
            json!({"object": "charge", "id": "ch_9", "payment_intent": "pi_1",
                   "failure_code": "card_declined", "failure_message": "Declined."}),
        ));
        let attempt = |e: &Effect| match e {
            Effect::Failed { attempt, .. } => attempt.clone(),
            other => panic!("not a failure: {other:?}"),
        };
        assert_eq!(attempt(&pi), "ch_9");
        assert_eq!(attempt(&ch), "ch_9");
    }

    #[test]
    fn a_failed_invoice_carries_stripes_next_attempt() {
        let e = classify(&ev(
            "invoice.payment_failed",
            json!({"object": "invoice", "id": "in_1", "subscription": "sub_1", "amount_due": 2900,
                   "currency": "usd", "next_payment_attempt": 1_800_000_000}),
        ));
        let Effect::Invoice(f) = e else {
            panic!("not an invoice: {e:?}")
        };
        assert_eq!(f.amount_minor, 2900);
        assert!(matches!(
            f.outcome,
            InvoiceOutcome::PaymentFailed {
                next_attempt: Some(1_800_000_000),
                ..
            }
        ));
    }

    #[test]
    fn every_refund_event_carrying_a_refund_object_reads_the_same_facts() {
        let object = json!({"object": "refund", "id": "re_1", "amount": 800, "currency": "usd",
                            "status": "failed", "failure_reason": "expired_or_canceled_card",
                            "payment_intent": "pi_1"});
        let want = Effect::Refund(RefundFacts {
            refund_id: "re_1".into(),
            status: "failed".into(),
            amount_minor: Some(800),
            currency: Some("usd".into()),
            failure_reason: Some("expired_or_canceled_card".into()),
        });
        for kind in ["refund.updated", "refund.failed", "charge.refund.updated"] {
            assert_eq!(classify(&ev(kind, object.clone())), want, "{kind}");
        }
        assert!(matches!(
            classify(&ev(
                "refund.failed",
                json!({"object": "refund", "id": "re_1"})
            )),
            Effect::Malformed(_)
        ));
        assert!(matches!(
            classify(&ev("refund.created", object)),
            Effect::Ignore(_)
        ));
    }

    #[test]
    fn only_a_failure_or_cancellation_reverses_a_refund_and_only_once() {
        use RefundChange as C;
        use RefundStatus as S;
        assert_eq!(S::Pending.apply(S::Succeeded), Ok(C::Settle(S::Succeeded)));
        assert_eq!(S::Pending.apply(S::Failed), Ok(C::Reverse(S::Failed)));
        assert_eq!(S::Pending.apply(S::Canceled), Ok(C::Reverse(S::Canceled)));
        assert_eq!(S::Succeeded.apply(S::Failed), Ok(C::Reverse(S::Failed)));
        assert!(S::Pending.apply(S::Pending).is_err());
        assert!(S::Succeeded.apply(S::Succeeded).is_err());
        assert!(S::Succeeded.apply(S::Pending).is_err());
        for terminal in [S::Failed, S::Canceled] {
            for reported in [S::Pending, S::Succeeded, S::Failed, S::Canceled] {
                assert!(
                    terminal.apply(reported).is_err(),
                    "{terminal:?} {reported:?}"
                );
            }
        }
        assert_eq!(S::parse("requires_action"), Some(S::Pending));
        for st in [S::Pending, S::Succeeded, S::Failed, S::Canceled] {
            assert_eq!(S::parse(st.as_str()), Some(st));
        }
        assert_eq!(S::parse("refunded"), None);
    }

    #[test]
    fn unknown_types_and_informational_events_are_ignored() {
        assert!(matches!(
            classify(&ev("invoice.finalized", json!({"object": "invoice"}))),
            Effect::Ignore(_)
        ));
        assert!(matches!(
            classify(&ev(
                "payment_intent.created",
                json!({"object": "payment_intent", "id": "pi_1"})
            )),
            Effect::Ignore(_)
        ));
        assert!(matches!(
            classify(&ev(
                "payment_intent.succeeded",
                json!({"object": "payment_intent", "id": "pi_1"})
            )),
            Effect::Malformed(_)
        ));
    }

    #[test]
    fn terminal_statuses_ignore_late_events_and_failures_stay_retryable() {
        use IntentEvent as E;
        use IntentStatus as S;
        assert_eq!(S::Open.apply(E::Failed), Ok(S::Failed));
        assert_eq!(S::Failed.apply(E::Succeeded), Ok(S::Succeeded));
        assert_eq!(S::Failed.apply(E::Failed), Ok(S::Failed));
        assert!(S::Succeeded.apply(E::Failed).is_err());
        assert!(S::Succeeded.apply(E::Succeeded).is_err());
        assert!(S::Canceled.apply(E::Failed).is_err());
        for st in [S::Open, S::Failed, S::Succeeded, S::Canceled] {
            assert_eq!(S::parse(st.as_str()), Some(st));
        }
    }
}

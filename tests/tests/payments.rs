//! Payments end to end: top-ups through the API, the sandbox gateway's signed events, and
//! the Stripe webhook's guarantees (signature, dedupe, once-only credit, amount check,
//! out-of-order delivery, concurrent duplicates), on SQLite or PostgreSQL
//! (`GPUBROKER_TEST_POSTGRES`). The Stripe gateway runs against localstripe.

use broker::payments::signature;
use gpubroker_e2e::localstripe::{self, LocalStripe};
use gpubroker_e2e::{
    deliver_webhook, eventually, spawn_app_with, stripe_event, stripe_signature, unix_now_secs,
    App, Resp,
};
use serde_json::{json, Value};

const SECRET: &str = "whsec_e2e_test_secret";
const STARTER: i64 = 100_000;

async fn sandbox_app() -> App {
    spawn_app_with(|c| {
        c.stripe_webhook_secret = Some(portal_api::config::Secret(SECRET.into()));
    })
    .await
    .unwrap()
}

fn pi_object(id: &str, amount: i64, currency: &str) -> Value {
    json!({"id": id, "object": "payment_intent", "amount": amount, "amount_received": amount,
           "currency": currency, "status": "succeeded", "metadata": {}})
}

async fn topup(app: &App, token: &str, amount: i64, key: &str) -> Value {
    let r = app
        .post_keyed(
            "/api/v1/billing/topups",
            Some(token),
            json!({"amount_minor": amount, "currency": "USD"}),
            key,
        )
        .await
        .unwrap();
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
    r.body
}

async fn events(app: &App, admin: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/admin/payments/events?{query}"),
            Some(admin),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_sandbox_top_up_through_the_api_credits_the_balance_exactly_once() {
    let app = sandbox_app().await;
    let me = app.register("topper@e2e.test").await.unwrap();
    assert_eq!(app.available(&me).await.unwrap(), STARTER);

    let pi = topup(&app, &me, 2_500, "key-1").await;
    assert!(pi["id"].as_str().unwrap().starts_with("pi_sbx_"), "{pi}");
    assert!(pi["client_secret"].as_str().unwrap().contains("_secret_"));
    assert_eq!(pi["status"], "open");
    // The same Idempotency-Key returns the same intent; another amount under it is refused.
    let again = topup(&app, &me, 2_500, "key-1").await;
    assert_eq!(again["id"], pi["id"]);
    let clash = app
        .post_keyed(
            "/api/v1/billing/topups",
            Some(&me),
            json!({"amount_minor": 3_000, "currency": "USD"}),
            "key-1",
        )
        .await
        .unwrap();
    assert_eq!(clash.status, 422, "{}", clash.body);
    // Nothing is credited before the card is confirmed.
    assert_eq!(app.available(&me).await.unwrap(), STARTER);

    let id = pi["id"].as_str().unwrap();
    let path = format!("/api/v1/billing/sandbox/intents/{id}/confirm");
    let c = app
        .post(&path, Some(&me), json!({"card": "4242 4242 4242 4242"}))
        .await
        .unwrap();
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["status"], "processed", "{}", c.body);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_500);

    // Confirming again emits a new event for the same intent: nothing more is credited.
    let c2 = app.post(&path, Some(&me), json!({})).await.unwrap();
    assert_eq!(c2.status, 200, "{}", c2.body);
    assert_eq!(c2.body["status"], "ignored", "{}", c2.body);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_500);

    let list = app.get("/api/v1/billing/topups", Some(&me)).await.unwrap();
    assert_eq!(
        list.body["items"][0]["status"], "succeeded",
        "{}",
        list.body
    );
    app.stop().await;
}

#[tokio::test]
async fn top_ups_outside_the_deposit_bounds_or_in_another_currency_are_refused() {
    let app = sandbox_app().await;
    let me = app.register("bounds@e2e.test").await.unwrap();
    for (amount, currency, field) in [
        (10, "USD", "amount_minor"),
        (50_000_000, "USD", "amount_minor"),
        (1_000, "EUR", "currency"),
    ] {
        let r = app
            .post(
                "/api/v1/billing/topups",
                Some(&me),
                json!({"amount_minor": amount, "currency": currency}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["field"], field, "{}", r.body);
    }
    let anon = app
        .post(
            "/api/v1/billing/topups",
            None,
            json!({"amount_minor": 1000, "currency": "USD"}),
        )
        .await
        .unwrap();
    assert_eq!(anon.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_replayed_100_times_credits_once() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("replay@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 1_500, "replay").await;
    let id = pi["id"].as_str().unwrap();
    let body = stripe_event(
        "evt_replay_1",
        "payment_intent.succeeded",
        pi_object(id, 1_500, "usd"),
    );
    let mut duplicates = 0;
    for i in 0..100 {
        let Resp {
            status, body: out, ..
        } = app.signed_webhook(SECRET, &body).await.unwrap();
        assert_eq!(status, 200, "delivery {i}: {out}");
        assert_eq!(out["status"], "processed", "{out}");
        if out["duplicate"] == true {
            duplicates += 1;
        }
    }
    assert_eq!(duplicates, 99);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 1_500);
    let evs = events(&app, &admin, "").await;
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0]["status"], "processed");
    app.stop().await;
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_credit_once_whatever_event_carries_the_payment() {
    let app = sandbox_app().await;
    let me = app.register("race@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 4_200, "race").await;
    let id = pi["id"].as_str().unwrap().to_string();
    let succeeded = stripe_event(
        "evt_race_pi",
        "payment_intent.succeeded",
        pi_object(&id, 4_200, "usd"),
    );
    let charge = stripe_event(
        "evt_race_ch",
        "charge.succeeded",
        json!({"id": "ch_race", "object": "charge", "payment_intent": id, "amount": 4_200,
               "amount_captured": 4_200, "paid": true, "captured": true, "currency": "usd"}),
    );
    let mut tasks = Vec::new();
    for i in 0..24 {
        let body = if i % 2 == 0 {
            succeeded.clone()
        } else {
            charge.clone()
        };
        let sig = stripe_signature(SECRET, &body);
        let (http, url) = (app.http.clone(), app.url.clone());
        tasks.push(tokio::spawn(async move {
            deliver_webhook(&http, &url, &body, Some(&sig))
                .await
                .unwrap()
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 4_200);
    let admin = app.admin_token().await.unwrap();
    let evs = events(&app, &admin, "").await;
    assert_eq!(evs.len(), 2, "{evs:?}");
    let processed = evs.iter().filter(|e| e["status"] == "processed").count();
    assert_eq!(
        processed, 1,
        "one event credits, the other is ignored: {evs:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bad_signature_gets_400_and_writes_nothing() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("forger@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 5_000, "forged").await;
    let body = stripe_event(
        "evt_forged",
        "payment_intent.succeeded",
        pi_object(pi["id"].as_str().unwrap(), 5_000, "usd"),
    );
    let t = unix_now_secs();
    for sig in [
        None,
        Some(signature::header("whsec_wrong", t, &body)),
        Some(format!("t={t},v1={}", "ab".repeat(32))),
        // Right secret, but signed 10 minutes ago (outside the 300 s tolerance).
        Some(signature::header(SECRET, t - 600, &body)),
        Some("garbage".to_string()),
    ] {
        let Resp {
            status, body: out, ..
        } = app.webhook(&body, sig.as_deref()).await.unwrap();
        assert_eq!(status, 400, "{sig:?}: {out}");
        assert_eq!(
            out["type"], "https://gpubroker.dev/problems/webhook-signature-invalid",
            "{out}"
        );
    }
    // A signature over other bytes does not verify this body.
    let other = signature::header(SECRET, t, b"{\"id\":\"evt_other\"}");
    let Resp { status, .. } = app.webhook(&body, Some(&other)).await.unwrap();
    assert_eq!(status, 400);
    assert_eq!(app.available(&me).await.unwrap(), STARTER);
    assert!(events(&app, &admin, "").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_amount_or_currency_mismatch_is_rejected_and_flagged_for_admins() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("mismatch@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 2_000, "mismatch").await;
    let id = pi["id"].as_str().unwrap();
    let Resp {
        status: s1,
        body: o1,
        ..
    } = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_mm_amount",
                "payment_intent.succeeded",
                pi_object(id, 200_000, "usd"),
            ),
        )
        .await
        .unwrap();
    let Resp {
        status: s2,
        body: o2,
        ..
    } = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_mm_cur",
                "payment_intent.succeeded",
                pi_object(id, 2_000, "eur"),
            ),
        )
        .await
        .unwrap();
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(o1["status"], "rejected", "{o1}");
    assert_eq!(o2["status"], "rejected", "{o2}");
    assert_eq!(app.available(&me).await.unwrap(), STARTER);
    let flagged = events(&app, &admin, "flagged=true").await;
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    assert!(flagged
        .iter()
        .all(|e| e["reason"].as_str().unwrap().contains("mismatch")));
    let rejected = events(&app, &admin, "status=rejected").await;
    assert_eq!(rejected.len(), 2);
    // Users cannot see the admin list.
    let r = app
        .get("/api/v1/admin/payments/events", Some(&me))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    // The real payment still credits.
    let Resp { body: ok, .. } = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_mm_ok",
                "payment_intent.succeeded",
                pi_object(id, 2_000, "usd"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(ok["status"], "processed", "{ok}");
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_000);
    app.stop().await;
}

#[tokio::test]
async fn out_of_order_delivery_credits_once_and_late_events_change_nothing() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("order@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 3_300, "order").await;
    let id = pi["id"].as_str().unwrap();
    // succeeded arrives before created, and a stale failure arrives last.
    let Resp { body: a, .. } = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_o_succ",
                "payment_intent.succeeded",
                pi_object(id, 3_300, "usd"),
            ),
        )
        .await
        .unwrap();
    let Resp { body: b, .. } = app.signed_webhook(SECRET, &stripe_event(
            "evt_o_created",
            "payment_intent.created",
            json!({"id": id, "object": "payment_intent", "amount": 3_300, "currency": "usd", "status": "requires_payment_method"}),
        )).await.unwrap();
    let Resp { body: c, .. } = app.signed_webhook(SECRET, &stripe_event(
            "evt_o_failed",
            "payment_intent.payment_failed",
            json!({"id": id, "object": "payment_intent", "amount": 3_300, "currency": "usd",
                   "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}),
        )).await.unwrap();
    assert_eq!(
        (&a["status"], &b["status"], &c["status"]),
        (&json!("processed"), &json!("ignored"), &json!("ignored")),
        "{a} {b} {c}"
    );
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 3_300);
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert!(
        billing.body["last_payment_failure"].is_null(),
        "{}",
        billing.body
    );
    assert_eq!(events(&app, &admin, "").await.len(), 3);

    // A success for an intent of ours not recorded yet is not kept: Stripe redelivers.
    let early = stripe_event(
        "evt_o_early",
        "payment_intent.succeeded",
        json!({"id": "pi_not_yet", "object": "payment_intent", "amount": 900, "currency": "usd",
               "metadata": {"gpubroker_user_id": "someone"}}),
    );
    let Resp { status, .. } = app.signed_webhook(SECRET, &early).await.unwrap();
    assert_eq!(status, 409);
    assert_eq!(events(&app, &admin, "").await.len(), 3);
    // One that is not ours at all is kept as ignored.
    let Resp {
        status,
        body: foreign,
        ..
    } = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_o_foreign",
                "payment_intent.succeeded",
                pi_object("pi_foreign", 900, "usd"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(foreign["status"], "ignored");
    app.stop().await;
}

#[tokio::test]
async fn a_declined_card_is_shown_to_the_user_and_the_same_intent_can_be_paid_again() {
    let app = sandbox_app().await;
    let me = app.register("declined@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 1_000, "decline").await;
    let id = pi["id"].as_str().unwrap();
    let path = format!("/api/v1/billing/sandbox/intents/{id}/confirm");
    let d = app
        .post(&path, Some(&me), json!({"card": "4000000000009995"}))
        .await
        .unwrap();
    assert_eq!(d.body["status"], "processed", "{}", d.body);
    let b = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    let f = &b.body["last_payment_failure"];
    assert_eq!(f["intent_id"], id, "{}", b.body);
    assert_eq!(f["code"], "insufficient_funds");
    assert!(f["message"].as_str().unwrap().contains("insufficient"));
    assert_eq!(app.available(&me).await.unwrap(), STARTER);

    let ok = app
        .post(&path, Some(&me), json!({"card": "4242424242424242"}))
        .await
        .unwrap();
    assert_eq!(ok.body["status"], "processed", "{}", ok.body);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 1_000);
    let b = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert!(b.body["last_payment_failure"].is_null(), "{}", b.body);

    let bad = app
        .post(&path, Some(&me), json!({"card": "1234"}))
        .await
        .unwrap();
    assert_eq!(bad.status, 400);
    // Another user cannot confirm this intent.
    let other = app.register("other@e2e.test").await.unwrap();
    let r = app.post(&path, Some(&other), json!({})).await.unwrap();
    assert_eq!(r.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_setup_intent_replays_under_its_key_and_a_top_ups_key_is_refused_for_it() {
    let app = sandbox_app().await;
    let me = app.register("keys@e2e.test").await.unwrap();
    let setup = |key: &'static str| {
        app.post_keyed("/api/v1/billing/setup-intents", Some(&me), json!({}), key)
    };

    let first = setup("seti-key").await.unwrap();
    let again = setup("seti-key").await.unwrap();
    topup(&app, &me, 2_500, "pi-key").await;
    let clash = setup("pi-key").await.unwrap();
    let topup_clash = app
        .post_keyed(
            "/api/v1/billing/topups",
            Some(&me),
            json!({"amount_minor": 2_500, "currency": "USD"}),
            "seti-key",
        )
        .await
        .unwrap();

    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(clash.status, 422, "{}", clash.body);
    assert_eq!(topup_clash.status, 422, "{}", topup_clash.body);
    app.stop().await;
}

#[tokio::test]
async fn a_sandbox_setup_intent_saves_a_card() {
    let app = sandbox_app().await;
    let me = app.register("saver@e2e.test").await.unwrap();
    let r = app
        .post("/api/v1/billing/setup-intents", Some(&me), json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert!(id.starts_with("seti_sbx_"));
    let c = app
        .post(
            &format!("/api/v1/billing/sandbox/intents/{id}/confirm"),
            Some(&me),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(c.body["status"], "processed", "{}", c.body);
    let list = app.get("/api/v1/billing/topups", Some(&me)).await.unwrap();
    let saved = &list.body["items"][0];
    assert_eq!(saved["kind"], "setup");
    assert_eq!(saved["status"], "succeeded");
    assert!(saved["payment_method"]
        .as_str()
        .unwrap()
        .starts_with("pm_sbx_"));
    assert_eq!(app.available(&me).await.unwrap(), STARTER);
    app.stop().await;
}

#[tokio::test]
async fn a_live_pod_without_stripe_keys_cannot_take_payments() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("live@e2e.test").await.unwrap();
    app.set_param_ok(
        &admin,
        "tenant.mode",
        json!({"value": "live", "scope": "tenant", "confirm": "live"}),
    )
    .await
    .unwrap();
    let t = app
        .post(
            "/api/v1/billing/topups",
            Some(&me),
            json!({"amount_minor": 1000, "currency": "USD"}),
        )
        .await
        .unwrap();
    assert_eq!(t.status, 503, "{}", t.body);
    assert_eq!(
        t.body["type"],
        "https://gpubroker.dev/problems/payments-unavailable"
    );
    app.stop().await;
}

// ---- Stripe (localstripe) -------------------------------------------------------------

async fn stripe_app(ls: &LocalStripe) -> App {
    let base = ls.url.clone();
    spawn_app_with(move |c| {
        c.stripe_secret_key = Some(portal_api::config::Secret(localstripe::SECRET_KEY.into()));
        c.stripe_api_base = Some(base);
        c.stripe_webhook_secret = Some(portal_api::config::Secret(SECRET.into()));
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn stripe_top_up_confirmed_at_localstripe_is_credited_once_by_its_signed_webhook() {
    let ls = LocalStripe::start().await.unwrap();
    let app = stripe_app(&ls).await;
    // localstripe delivers events signed with the endpoint secret, like Stripe does.
    ls.post(
        "/_config/webhooks/gpubroker",
        &[
            ("url", &format!("{}/api/v1/webhooks/stripe", app.url)),
            ("secret", SECRET),
        ],
    )
    .await
    .ok();
    let me = app.register("stripe@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 2_000, "stripe-1").await;
    let id = pi["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("pi_") && !id.starts_with("pi_sbx_"), "{pi}");
    assert_eq!(pi["gateway"], "stripe");

    // The intent exists at Stripe, for our customer, with our metadata.
    let remote = ls.get(&format!("/v1/payment_intents/{id}")).await.unwrap();
    assert_eq!(remote["amount"], 2_000);
    assert_eq!(remote["currency"], "usd");
    let user_id = remote["metadata"]["gpubroker_user_id"].as_str().unwrap();
    assert!(!user_id.is_empty());
    let customer = remote["customer"].as_str().unwrap().to_string();
    let cus = ls.get(&format!("/v1/customers/{customer}")).await.unwrap();
    assert_eq!(cus["email"], "stripe@e2e.test");

    // A second top-up reuses the same customer (created lazily, once).
    let pi2 = topup(&app, &me, 700, "stripe-2").await;
    let remote2 = ls
        .get(&format!(
            "/v1/payment_intents/{}",
            pi2["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(remote2["customer"], customer.as_str());

    // The browser's part (Stripe.js): a test card, attached and confirmed.
    let pm = ls
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ],
        )
        .await
        .unwrap();
    let pm = pm["id"].as_str().unwrap();
    ls.post(
        &format!("/v1/payment_intents/{id}"),
        &[("payment_method", pm)],
    )
    .await
    .unwrap();
    let confirmed = ls
        .post(&format!("/v1/payment_intents/{id}/confirm"), &[])
        .await
        .unwrap();
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");

    eventually("the webhook credit", || async {
        app.available(&me).await.unwrap() == STARTER + 2_000
    })
    .await;

    // Our own replay of the succeeded event (as Stripe retries) credits nothing more.
    let body = stripe_event(
        "evt_ls_replay",
        "payment_intent.succeeded",
        ls.get(&format!("/v1/payment_intents/{id}")).await.unwrap(),
    );
    for _ in 0..5 {
        let Resp {
            status, body: out, ..
        } = app.signed_webhook(SECRET, &body).await.unwrap();
        assert_eq!(status, 200, "{out}");
    }
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_000);
    app.stop().await;
}

#[tokio::test]
async fn stripe_setup_intent_is_created_at_localstripe_for_the_users_customer() {
    let ls = LocalStripe::start().await.unwrap();
    let app = stripe_app(&ls).await;
    let me = app.register("seti@e2e.test").await.unwrap();
    let r = app
        .call(
            reqwest::Method::POST,
            "/api/v1/billing/setup-intents",
            Some(&me),
            None,
            &[("Idempotency-Key", "seti-1")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert!(id.starts_with("seti_"));
    let remote = ls.get(&format!("/v1/setup_intents/{id}")).await.unwrap();
    assert_eq!(remote["client_secret"], r.body["client_secret"]);
    let customer = remote["customer"].as_str().unwrap();
    let cus = ls.get(&format!("/v1/customers/{customer}")).await.unwrap();
    assert_eq!(cus["email"], "seti@e2e.test");
    // The signed setup_intent.succeeded event records the saved card.
    let Resp { status, body: out, .. } = app.signed_webhook(SECRET, &stripe_event(
            "evt_seti_ok",
            "setup_intent.succeeded",
            json!({"id": id, "object": "setup_intent", "status": "succeeded", "payment_method": "pm_saved"}),
        )).await.unwrap();
    assert_eq!((status, out["status"].clone()), (200, json!("processed")));
    let list = app.get("/api/v1/billing/topups", Some(&me)).await.unwrap();
    assert_eq!(list.body["items"][0]["payment_method"], "pm_saved");
    app.stop().await;
}

#[tokio::test]
async fn a_credited_top_up_mails_one_typed_receipt_whatever_events_repeat_it() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("receipt@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 1_500, "receipt-1").await;
    let path = format!(
        "/api/v1/billing/sandbox/intents/{}/confirm",
        pi["id"].as_str().unwrap()
    );
    for _ in 0..3 {
        let c = app.post(&path, Some(&me), json!({})).await.unwrap();
        assert_eq!(c.status, 200, "{}", c.body);
    }
    let r = app
        .get("/api/v1/admin/outbox?to=receipt@e2e.test", Some(&admin))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let receipts: Vec<&Value> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "receipt")
        .collect();
    assert_eq!(receipts.len(), 1, "{}", r.body);
    let m = receipts[0].to_string();
    assert!(m.contains("15.00 USD"), "{m}");
    assert!(m.contains(pi["id"].as_str().unwrap()), "{m}");
    app.stop().await;
}

async fn refund(app: &App, token: &str, amount: i64, key: &str) -> (u16, Value) {
    let r = app
        .call(
            reqwest::Method::POST,
            "/api/v1/billing/refunds",
            Some(token),
            Some(json!({"amount_minor": amount})),
            &[("Idempotency-Key", key)],
        )
        .await
        .unwrap();
    (r.status, r.body)
}

#[tokio::test]
async fn a_refund_goes_back_through_stripe_once_per_key_and_only_then_reaches_the_ledger() {
    let ls = LocalStripe::start().await.unwrap();
    let app = stripe_app(&ls).await;
    let me = app.register("refund@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 2_000, "refund-topup").await;
    let id = pi["id"].as_str().unwrap().to_string();
    let pm = ls
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ],
        )
        .await
        .unwrap();
    ls.post(
        &format!("/v1/payment_intents/{id}"),
        &[("payment_method", pm["id"].as_str().unwrap())],
    )
    .await
    .unwrap();
    ls.post(&format!("/v1/payment_intents/{id}/confirm"), &[])
        .await
        .unwrap();
    // The signed success event (as Stripe would deliver it) credits the top-up.
    let body = stripe_event(
        "evt_refund_paid",
        "payment_intent.succeeded",
        ls.get(&format!("/v1/payment_intents/{id}")).await.unwrap(),
    );
    let Resp {
        status, body: out, ..
    } = app.signed_webhook(SECRET, &body).await.unwrap();
    assert_eq!(status, 200, "{out}");
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_000);

    let (status, posted) = refund(&app, &me, 800, "refund-1").await;
    assert_eq!(status, 201, "{posted}");
    let refunds = ls
        .get(&format!("/v1/refunds?payment_intent={id}"))
        .await
        .unwrap();
    let list = refunds["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{refunds}");
    assert_eq!(list[0]["amount"], 800);
    assert_eq!(list[0]["status"], "succeeded");
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 1_200);

    // The same key again: the same posting, no second refund at Stripe.
    let (status, again) = refund(&app, &me, 800, "refund-1").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["transaction_id"], posted["transaction_id"]);
    let refunds = ls
        .get(&format!("/v1/refunds?payment_intent={id}"))
        .await
        .unwrap();
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 1_200);

    // More than the intent has left: Stripe refunds what it paid (never beyond), the rest is
    // the SANDBOX starter credit, refunded in the ledger alone (LIVE would refuse it).
    let (status, body) = refund(&app, &me, 1_300, "refund-2").await;
    assert_eq!(status, 201, "{body}");
    let refunds = ls
        .get(&format!("/v1/refunds?payment_intent={id}"))
        .await
        .unwrap();
    let mut amounts: Vec<i64> = refunds["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    amounts.sort();
    assert_eq!(amounts, [800, 1_200]);
    assert_eq!(app.available(&me).await.unwrap(), STARTER - 100);
    // Beyond the refundable credit: refused before anything moves.
    let (status, body) = refund(&app, &me, STARTER, "refund-3").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        ls.get(&format!("/v1/refunds?payment_intent={id}"))
            .await
            .unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sandbox_refund_goes_through_the_sandbox_gateway_against_the_paid_top_up() {
    let app = sandbox_app().await;
    let me = app.register("sbxrefund@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 2_500, "sbx-refund").await;
    let path = format!(
        "/api/v1/billing/sandbox/intents/{}/confirm",
        pi["id"].as_str().unwrap()
    );
    let c = app.post(&path, Some(&me), json!({})).await.unwrap();
    assert_eq!(c.status, 200, "{}", c.body);
    let (status, body) = refund(&app, &me, 1_000, "sbx-r1").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 1_500);
    let (status, _) = refund(&app, &me, 1_000, "sbx-r1").await;
    assert_eq!(status, 200);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 1_500);
    app.stop().await;
}

/// The mails of `kind` to `to`, as the admin outbox lists them (newest first).
async fn mails(app: &App, admin: &str, to: &str, kind: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/admin/outbox?to={to}"), Some(admin))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind)
        .cloned()
        .collect()
}

fn failed_pi(id: &str, amount: i64, charge: &str) -> Value {
    json!({"id": id, "object": "payment_intent", "amount": amount, "amount_received": 0,
           "currency": "usd", "status": "requires_payment_method", "latest_charge": charge,
           "last_payment_error": {"type": "card_error", "code": "card_declined",
                                  "decline_code": "insufficient_funds", "charge": charge,
                                  "message": "Your card has insufficient funds."},
           "metadata": {}})
}

fn failed_charge(id: &str, intent: &str, amount: i64) -> Value {
    json!({"id": id, "object": "charge", "payment_intent": intent, "amount": amount,
           "currency": "usd", "paid": false, "captured": false, "status": "failed",
           "failure_code": "card_declined", "failure_message": "Your card has insufficient funds."})
}

#[tokio::test]
async fn a_failed_top_up_attempt_is_mailed_once_whatever_events_and_replays_carry_it() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("topfail@e2e.test").await.unwrap();
    let pi = topup(&app, &me, 1_200, "topfail").await;
    let id = pi["id"].as_str().unwrap();

    // One declined attempt (charge ch_a1) arrives as both Stripe events, each delivered
    // three times.
    let attempt = [
        stripe_event(
            "evt_tf_pi1",
            "payment_intent.payment_failed",
            failed_pi(id, 1_200, "ch_a1"),
        ),
        stripe_event(
            "evt_tf_ch1",
            "charge.failed",
            failed_charge("ch_a1", id, 1_200),
        ),
    ];
    for _ in 0..3 {
        for body in &attempt {
            let r = app.signed_webhook(SECRET, body).await.unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    let sent = mails(&app, &admin, "topfail@e2e.test", "topup_failed").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let text = sent[0]["body_text"].as_str().unwrap();
    for needle in ["12.00 USD", id, "insufficient funds", "/billing"] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
    // The failure is shown with the balance; nothing was credited.
    let b = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(
        b.body["last_payment_failure"]["intent_id"], id,
        "{}",
        b.body
    );
    assert!(
        b.body["last_payment_failure"]["message"]
            .as_str()
            .unwrap()
            .contains("insufficient funds"),
        "{}",
        b.body
    );
    assert_eq!(app.available(&me).await.unwrap(), STARTER);

    // The user tries the same intent again and that attempt (another charge) fails too: one
    // more mail.
    let second = stripe_event(
        "evt_tf_pi2",
        "payment_intent.payment_failed",
        failed_pi(id, 1_200, "ch_a2"),
    );
    for _ in 0..2 {
        app.signed_webhook(SECRET, &second).await.unwrap();
    }
    assert_eq!(
        mails(&app, &admin, "topfail@e2e.test", "topup_failed")
            .await
            .len(),
        2
    );

    // A sandbox decline (no charge: the attempt is named by its event) mails too; the
    // policy switch turns these mails off for one user.
    let d = app
        .post(
            &format!("/api/v1/billing/sandbox/intents/{id}/confirm"),
            Some(&me),
            json!({"card": "4000000000000002"}),
        )
        .await
        .unwrap();
    assert_eq!(d.body["status"], "processed", "{}", d.body);
    assert_eq!(
        mails(&app, &admin, "topfail@e2e.test", "topup_failed")
            .await
            .len(),
        3
    );
    let user = app.get("/api/v1/me", Some(&me)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.set_param_ok(
        &admin,
        "notification.payment_failed_enabled",
        json!({"value": false, "scope": "user", "scope_id": user}),
    )
    .await
    .unwrap();
    app.signed_webhook(
        SECRET,
        &stripe_event(
            "evt_tf_pi3",
            "payment_intent.payment_failed",
            failed_pi(id, 1_200, "ch_a3"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        mails(&app, &admin, "topfail@e2e.test", "topup_failed")
            .await
            .len(),
        3
    );
    app.stop().await;
}

/// The gateway refunds a refund request made, as recorded: (id, amount, status, the
/// ledger transaction that reversed it).
async fn refund_rows(app: &App, key: &str) -> Vec<(String, i64, String, Option<String>)> {
    sqlx::query_as(
        "SELECT id, amount_minor, status, reversal_transaction_id FROM payment_refunds \
         WHERE request_key = $1 ORDER BY created_at, id",
    )
    .bind(key)
    .fetch_all(&app.server.state.broker.db.pool)
    .await
    .unwrap()
}

/// Stripe answered the refund `pending` (as it does for many live refunds; the sandbox
/// gateway answers `succeeded`): the state a later `failed` event finds.
async fn left_pending_by_stripe(app: &App, refund_id: &str) {
    sqlx::query("UPDATE payment_refunds SET status = 'pending' WHERE id = $1")
        .bind(refund_id)
        .execute(&app.server.state.broker.db.pool)
        .await
        .unwrap();
}

fn refund_object(id: &str, amount: i64, status: &str) -> Value {
    json!({"id": id, "object": "refund", "amount": amount, "currency": "usd", "status": status,
           "payment_intent": "pi_x", "charge": "ch_x",
           "failure_reason": if status == "failed" { json!("expired_or_canceled_card") } else { Value::Null }})
}

async fn reversals(app: &App) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM ledger_transactions WHERE idempotency_key LIKE 'refund-reversal:%'",
    )
    .fetch_one(&app.server.state.broker.db.pool)
    .await
    .unwrap();
    n
}

/// A paid sandbox top-up of `amount` for a new user; returns their token.
async fn paid_user(app: &App, email: &str, amount: i64) -> String {
    let me = app.register(email).await.unwrap();
    let pi = topup(app, &me, amount, &format!("{email}-topup")).await;
    let c = app
        .post(
            &format!(
                "/api/v1/billing/sandbox/intents/{}/confirm",
                pi["id"].as_str().unwrap()
            ),
            Some(&me),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(c.body["status"], "processed", "{}", c.body);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + amount);
    me
}

#[tokio::test]
async fn a_refund_stripe_later_fails_or_cancels_gives_the_credit_back_once_whatever_event_carries_it(
) {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = paid_user(&app, "refail@e2e.test", 2_500).await;
    for (key, amount) in [("rf-1", 1_000), ("rf-2", 500), ("rf-3", 300), ("rf-4", 300)] {
        let (status, body) = refund(&app, &me, amount, key).await;
        assert_eq!(status, 201, "{key}: {body}");
    }
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 400);
    let id_of = |rows: Vec<(String, i64, String, Option<String>)>| rows[0].0.clone();
    let (r1, r2, r3, r4) = (
        id_of(refund_rows(&app, "rf-1").await),
        id_of(refund_rows(&app, "rf-2").await),
        id_of(refund_rows(&app, "rf-3").await),
        id_of(refund_rows(&app, "rf-4").await),
    );
    for r in [&r2, &r3, &r4] {
        left_pending_by_stripe(&app, r).await;
    }

    // rf-2: pending → succeeded changes nothing in the ledger.
    let ok = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_rf2_ok",
                "refund.updated",
                refund_object(&r2, 500, "succeeded"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(ok.body["status"], "processed", "{}", ok.body);
    assert!(ok.body["credited_transaction_id"].is_null(), "{}", ok.body);
    assert_eq!(refund_rows(&app, "rf-2").await[0].2, "succeeded");
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 400);

    // rf-3: pending → failed, told by all three event types, each delivered twice: one
    // correction. A later "succeeded" changes nothing.
    let failed = [
        stripe_event(
            "evt_rf3_a",
            "refund.failed",
            refund_object(&r3, 300, "failed"),
        ),
        stripe_event(
            "evt_rf3_b",
            "refund.updated",
            refund_object(&r3, 300, "failed"),
        ),
        stripe_event(
            "evt_rf3_c",
            "charge.refund.updated",
            refund_object(&r3, 300, "failed"),
        ),
        stripe_event(
            "evt_rf3_d",
            "refund.updated",
            refund_object(&r3, 300, "succeeded"),
        ),
    ];
    let mut credited = Vec::new();
    for _ in 0..2 {
        for body in &failed {
            let r = app.signed_webhook(SECRET, body).await.unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            if let Some(t) = r.body["credited_transaction_id"].as_str() {
                credited.push(t.to_string());
            }
        }
    }
    assert_eq!(credited.len(), 1, "{credited:?}");
    let rows = refund_rows(&app, "rf-3").await;
    assert_eq!(rows[0].2, "failed");
    assert_eq!(rows[0].3.as_deref(), Some(credited[0].as_str()));
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 700);

    // rf-4: pending → canceled gives the credit back too.
    let c = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_rf4",
                "refund.updated",
                refund_object(&r4, 300, "canceled"),
            ),
        )
        .await
        .unwrap();
    assert!(c.body["credited_transaction_id"].is_string(), "{}", c.body);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 1_000);

    // rf-1: Stripe reported it succeeded, then failed (test card 4000000000005126's
    // behaviour, via charge.refund.updated): corrected as well.
    let late = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_rf1",
                "charge.refund.updated",
                refund_object(&r1, 1_000, "failed"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(late.body["status"], "processed", "{}", late.body);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_000);

    // An event whose amount is not the refund's is rejected and flagged, and moves nothing;
    // a refund gpubroker did not make is ignored.
    let odd = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_rf2_odd",
                "refund.failed",
                refund_object(&r2, 499, "failed"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(odd.body["status"], "rejected", "{}", odd.body);
    let foreign = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_rf_x",
                "refund.failed",
                refund_object("re_other", 5, "failed"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(foreign.body["status"], "ignored", "{}", foreign.body);
    assert_eq!(refund_rows(&app, "rf-2").await[0].2, "succeeded");
    assert_eq!(events(&app, &admin, "flagged=true").await.len(), 1);

    // Three corrections in all, each one balanced double entry; the balance is the sum of
    // the entries; each refund's trail names the failure and the reversal once.
    assert_eq!(reversals(&app).await, 3);
    let b = &app.server.state.broker;
    gpubroker_e2e::assert_books_balance(&b.db, &b.ledger).await;
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_000);
    let trail = app
        .audit_actions(&admin, &format!("refund:{r3}"), 10)
        .await
        .unwrap();
    assert_eq!(trail, ["refund.reversed", "refund.failed"], "{trail:?}");
    let trail = app
        .audit_actions(&admin, &format!("refund:{r4}"), 10)
        .await
        .unwrap();
    assert_eq!(trail, ["refund.reversed", "refund.canceled"], "{trail:?}");
    // The user's ledger shows the refund and the credit given back.
    let ledger = app.get("/api/v1/billing/ledger", Some(&me)).await.unwrap();
    let back: Vec<&Value> = ledger.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "refund" && l["amount_minor"].as_i64() > Some(0))
        .collect();
    assert_eq!(back.len(), 3, "{}", ledger.body);
    assert!(
        back.iter().any(|l| l["reference"] == r3.as_str()),
        "{back:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_refund_that_fails_before_its_request_posts_is_corrected_when_the_request_posts() {
    let app = sandbox_app().await;
    let me = paid_user(&app, "refail-early@e2e.test", 2_500).await;
    let b = std::sync::Arc::clone(&app.server.state.broker);
    let uid = app.get("/api/v1/me", Some(&me)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = b.accounts.by_id(&uid).await.unwrap();

    // The gateway part of a refund request is done, and its failure arrives before the
    // request posts to the ledger (the window between the two in `Broker::refund`).
    b.payments.refund_topups(&user, 700, "early").await.unwrap();
    let rows = refund_rows(&app, "early").await;
    assert_eq!(rows.len(), 1);
    let out = app
        .signed_webhook(
            SECRET,
            &stripe_event(
                "evt_early",
                "refund.failed",
                refund_object(&rows[0].0, 700, "failed"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.body["status"], "processed", "{}", out.body);
    assert!(
        out.body["credited_transaction_id"].is_null(),
        "{}",
        out.body
    );
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_500);

    // The request posts and corrects at once: the credit is where it was.
    let posted = b.refund(&user, 700, "early").await.unwrap();
    assert!(!posted.replayed);
    let rows = refund_rows(&app, "early").await;
    assert_eq!(rows[0].2, "failed");
    assert!(rows[0].3.is_some(), "{rows:?}");
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_500);
    // Replaying the request refunds nothing again at the gateway and posts nothing new.
    let (status, again) = refund(&app, &me, 700, "early").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(refund_rows(&app, "early").await.len(), 1);
    assert_eq!(reversals(&app).await, 1);
    assert_eq!(app.available(&me).await.unwrap(), STARTER + 2_500);
    gpubroker_e2e::assert_books_balance(&b.db, &b.ledger).await;
    app.stop().await;
}

//! Issue #5's journey on a LIVE POD with the live integrations, through the API: Cognito
//! (moto) for identity, SES (moto) for mail, Stripe (localstripe) for payments, and a LIVE
//! world built from stored credentials of Lambda and of the owned MAAS region whose
//! `base_url`s point at the sandbox's loopback wire fakes (MAAS priced by the admin's hourly
//! cost). Sign-up → confirm → login → TOTP → login with TOTP → Stripe top-up credited by its
//! signed webhook (receipt through SES) → deploy on each → activate → metered usage → release
//! → statement (JSON and CSV). Runs on SQLite, or PostgreSQL when GPUBROKER_TEST_POSTGRES is set.

use std::sync::Arc;

use gpubroker_e2e::localstripe::{self, LocalStripe};
use gpubroker_e2e::moto::{MotoServer, REGION};
use gpubroker_e2e::{eventually, spawn_app_with, unix_now, App, Resp};
use portal_api::config::Secret;
use providers::offer::ProviderId;
use providers::provider::InstanceState;
use sandbox::fakes::maas::{CONSUMER_KEY, TOKEN_KEY};
use sandbox::fleet::MachineStatus;
use serde_json::{json, Value};

const FROM: &str = "noreply@gpubroker.test";
const WEBHOOK_SECRET: &str = "whsec_live_journey";
const LAMBDA_KEY: &str = "secret_live_journey_0000lmbd";
const TOPUP: i64 = 50_000;

/// The fakes behind the LIVE integrations, and the market behind the Lambda fake.
struct Fakes {
    moto: MotoServer,
    stripe: LocalStripe,
    market: Arc<sandbox::Market>,
    lambda: sandbox::fakes::FakeServer,
    maas: sandbox::fakes::FakeServer,
}

async fn start_fakes() -> Fakes {
    let moto = MotoServer::start().await.unwrap();
    moto.verify_ses_identity(FROM).await.unwrap();
    let stripe = LocalStripe::start().await.unwrap();
    let clock: Arc<dyn providers::clock::Clock> = Arc::new(providers::clock::SystemClock);
    let market = Arc::new(sandbox::Market::new(11, clock).unwrap());
    let fake = |id: &str| sandbox::fakes::FakeContext::new(Arc::clone(&market), id, LAMBDA_KEY);
    let lambda = sandbox::fakes::FakeServer::start(sandbox::fakes::lambda::router(fake("lambda")))
        .await
        .unwrap();
    let maas = sandbox::fakes::FakeServer::start(sandbox::fakes::maas::router(fake("maas")))
        .await
        .unwrap();
    Fakes {
        moto,
        stripe,
        market,
        lambda,
        maas,
    }
}

/// The application wired to the fakes, switched to LIVE with Cognito, SES, Stripe (whose
/// webhook localstripe calls, signed) and the Lambda and MAAS credentials.
async fn live_pod(f: &Fakes) -> (App, String) {
    let (pool, client) = f.moto.create_user_pool("gpubroker-live").await.unwrap();
    let (aws, stripe) = (f.moto.url.clone(), f.stripe.url.clone());
    let app = spawn_app_with(move |c| {
        c.aws_region = Some(REGION.into());
        c.aws_endpoint_url = Some(aws);
        c.aws_access_key_id = Some("testing".into());
        c.aws_secret_access_key = Some(Secret("testing".into()));
        c.cognito_user_pool_id = Some(pool);
        c.cognito_client_id = Some(client);
        c.ses_from = Some(FROM.into());
        c.stripe_secret_key = Some(Secret(localstripe::SECRET_KEY.into()));
        c.stripe_api_base = Some(stripe);
        c.stripe_webhook_secret = Some(Secret(WEBHOOK_SECRET.into()));
    })
    .await
    .unwrap();
    let admin = app.admin_token().await.unwrap();
    let webhook = format!("{}/api/v1/webhooks/stripe", app.url);
    f.stripe
        .post(
            "/_config/webhooks/gpubroker",
            &[("url", webhook.as_str()), ("secret", WEBHOOK_SECRET)],
        )
        .await
        // localstripe answers this with an empty body; the credit below proves it took.
        .ok();
    let credential = json!({"mode": "live", "secret": {"api_key": LAMBDA_KEY},
                            "settings": {"base_url": format!("{}/api/v1", f.lambda.url())}});
    let maas_key = format!("{CONSUMER_KEY}:{TOKEN_KEY}:{LAMBDA_KEY}");
    let maas = json!({"mode": "live", "secret": {"api_key": maas_key},
                      "settings": {"base_url": format!("{}/MAAS/api/2.0", f.maas.url())}});
    for (provider, credential) in [("lambda", credential), ("maas", maas)] {
        let r = app
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/admin/providers/{provider}/credentials"),
                Some(&admin),
                Some(credential),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{provider}: {}", r.body);
    }
    for (key, value) in [
        (
            "identity.provider",
            json!({"value": "cognito", "scope": "tenant"}),
        ),
        ("mail.transport", json!({"value": "ses"})),
        ("billing.meter_interval_seconds", json!({"value": 1})),
        ("jobs.status_poll_ms", json!({"value": 100})),
        (
            "maas.hourly_cost_per_gpu_micro_usd",
            json!({"value": "H100-SXM:2000000,A100-80GB-SXM:1100000,L40S:600000,RTX4090:400000",
                   "scope": "tenant"}),
        ),
    ] {
        let mut body = value;
        body["reason"] = json!("live journey test");
        app.set_param_ok(&admin, key, body).await.unwrap();
    }
    app.go_live(&admin, "live journey test").await.unwrap();
    (app, admin)
}

/// The body of `r`, asserting its status first.
fn ok(r: &Resp, status: u16) -> &Value {
    assert_eq!(r.status, status, "{}", r.body);
    &r.body
}

/// Step 1: sign up at Cognito, confirm, sign in, enrol TOTP, sign in with password + TOTP.
async fn sign_up_to_mfa(app: &App, email: &str, password: &str) -> String {
    let r = app.sign_up(email, password).await.unwrap();
    assert_eq!(ok(&r, 201)["verification_required"], true);
    let r = app.sign_in(email, password).await.unwrap();
    assert_eq!(
        r.status, 403,
        "LIVE refuses an unconfirmed address: {}",
        r.body
    );
    let r = app
        .post(
            "/api/v1/auth/confirm",
            None,
            json!({"email": email, "code": "123456"}),
        )
        .await
        .unwrap();
    ok(&r, 200);
    let r = app.sign_in(email, password).await.unwrap();
    let access = ok(&r, 200)["access_token"].as_str().unwrap().to_string();
    assert_eq!(access.split('.').count(), 3, "a Cognito JWT");
    let e = app.enrol_totp(&access).await.unwrap();
    let secret = ok(&e, 201)["secret"].as_str().unwrap().to_string();
    let code = broker::mfa::code_for_b32(&secret, unix_now()).unwrap();
    ok(&app.activate_totp(&access, &code).await.unwrap(), 200);
    let r = app.sign_in(email, password).await.unwrap();
    assert_eq!(ok(&r, 200)["mfa_required"], true);
    let mfa_token = r.body["mfa_token"].as_str().unwrap();
    let code = broker::mfa::code_for_b32(&secret, unix_now()).unwrap();
    let r = app.sign_in_mfa(mfa_token, &code).await.unwrap();
    let access = ok(&r, 200)["access_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/me", Some(&access)).await.unwrap();
    assert_eq!(ok(&me, 200)["user"]["email"], email);
    access
}

/// Step 2: a Stripe PaymentIntent, paid with a test card at localstripe; the credit arrives
/// only through the signed webhook. Returns the PaymentIntent id.
async fn top_up_through_stripe(f: &Fakes, app: &App, me: &str) -> String {
    assert_eq!(app.available(me).await.unwrap(), 0, "LIVE: no play money");
    let r = app
        .post_keyed(
            "/api/v1/billing/topups",
            Some(me),
            json!({"amount_minor": TOPUP, "currency": "USD"}),
            "live-journey-topup",
        )
        .await
        .unwrap();
    let pi = ok(&r, 201);
    assert_eq!(pi["gateway"], "stripe", "{pi}");
    let id = pi["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.available(me).await.unwrap(),
        0,
        "nothing before payment"
    );
    let card = [
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2034"),
        ("card[cvc]", "123"),
    ];
    let pm = f.stripe.post("/v1/payment_methods", &card).await.unwrap();
    let path = format!("/v1/payment_intents/{id}");
    let pm = pm["id"].as_str().unwrap();
    f.stripe
        .post(&path, &[("payment_method", pm)])
        .await
        .unwrap();
    let paid = f
        .stripe
        .post(&format!("{path}/confirm"), &[])
        .await
        .unwrap();
    assert_eq!(paid["status"], "succeeded", "{paid}");
    eventually("the webhook credit", || async {
        app.available(me).await.unwrap() == TOPUP
    })
    .await;
    id
}

/// The usage lines the ledger history holds for `allocation`, in cents charged (positive).
async fn usage_charged(app: &App, me: &str, allocation: &str) -> i64 {
    let r = app
        .get("/api/v1/billing/ledger?limit=200", Some(me))
        .await
        .unwrap();
    ok(&r, 200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "usage" && l["allocation_id"] == allocation)
        .map(|l| -l["amount_minor"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_live_pod_walks_the_whole_journey_on_cognito_ses_stripe_lambda_and_maas() {
    let f = start_fakes().await;
    let (app, admin) = live_pod(&f).await;
    let email = "journey@e2e.test";

    // 1. Identity through Cognito, with software-token MFA.
    let me = sign_up_to_mfa(&app, email, "Journey-Passw0rd!").await;

    // 2. Money through Stripe; the receipt goes out through SES.
    let pi = top_up_through_stripe(&f, &app, &me).await;
    let receipt = app.delivered_mail(&admin, email, "receipt").await.unwrap();
    assert_eq!(
        (&receipt["delivery"], &receipt["transport"]),
        (&json!("sent"), &json!("ses"))
    );
    let ses = f.moto.ses_messages().await.unwrap();
    let sent: Vec<&Value> = ses
        .iter()
        .filter(|m| m["id"] == receipt["provider_message_id"])
        .collect();
    assert_eq!(sent.len(), 1, "{ses:?}");
    assert_eq!(sent[0]["destinations"]["ToAddresses"][0], email);
    assert!(
        sent[0]["body"].as_str().unwrap().contains(&pi),
        "{}",
        sent[0]
    );

    // 3. The LIVE world is exactly the two stored credentials, reached through the real
    // adapters against the fakes.
    let providers = app.get("/api/v1/providers", None).await.unwrap();
    let ids: Vec<&Value> = ok(&providers, 200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(ids, [&json!("lambda"), &json!("maas")]);
    // The pricier the machine, the sooner a whole cent of usage is posted.
    let mut offer = None;
    for gpus in ["8", "4", "2", "1"] {
        if let Ok(o) = app
            .pick_offer(&format!("provider=lambda&min_gpus={gpus}&max_price=100"))
            .await
        {
            offer = Some(o);
            break;
        }
    }
    let offer = offer.expect("a LIVE lambda offer under $100/h");
    assert_eq!(offer["provider"], "lambda", "{offer}");
    let d = app.deploy(&me, &offer["id"]).await.unwrap();
    let id = ok(&d, 201)["id"].as_str().unwrap().to_string();
    app.wait_state(&me, &id, "ready", 60).await.unwrap();
    let lambda = ProviderId("lambda".into());
    let at_fake = |state: InstanceState| {
        f.market
            .instances(&lambda)
            .iter()
            .any(|i| i.allocation_id == id && i.state == state)
    };
    assert!(
        at_fake(InstanceState::Running),
        "the fake runs the instance"
    );
    let token = app.activation_token(&admin, email, &id).await.unwrap();
    let act = app.activate(&id, &token).await.unwrap();
    assert_eq!(ok(&act, 200)["state"], "active");
    assert!(
        act.body["connection"]["ssh_host"].is_string(),
        "{}",
        act.body
    );
    let activation = app
        .delivered_mail(&admin, email, "activation")
        .await
        .unwrap();
    assert_eq!(activation["transport"], "ses", "{activation}");

    // The owned MAAS region, priced by the admin's hourly cost, through its real adapter.
    let owned = app.pick_offer("provider=maas&min_gpus=8").await.unwrap();
    let d = app.deploy(&me, &owned["id"]).await.unwrap();
    let metal = ok(&d, 201)["id"].as_str().unwrap().to_string();
    app.wait_state(&me, &metal, "ready", 60).await.unwrap();
    let token = app.activation_token(&admin, email, &metal).await.unwrap();
    ok(&app.activate(&metal, &token).await.unwrap(), 200);
    let active = app.wait_state(&me, &metal, "active", 30).await.unwrap();
    let system_id = active["instance_id"].as_str().unwrap().to_string();
    let machine = |want: MachineStatus| {
        f.market
            .machines()
            .iter()
            .any(|m| m.system_id == system_id && m.status(f.market.now()) == want)
    };
    assert!(
        machine(MachineStatus::Deployed),
        "the fake deployed {system_id}"
    );

    // Metered usage accrues while it runs (the meter ticks every second).
    let mut usage = 0;
    for _ in 0..600 {
        usage = usage_charged(&app, &me, &id).await;
        if usage > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(usage > 0, "no usage posted for {id} within 120 s");

    // Release: `releasing` until the fake confirms the instance is gone.
    let rel = app.release(&me, &id).await.unwrap();
    assert_eq!(ok(&rel, 202)["state"], "releasing");
    app.wait_state(&me, &id, "released", 60).await.unwrap();
    assert!(
        at_fake(InstanceState::Terminated),
        "released only once terminated"
    );
    ok(&app.release(&me, &metal).await.unwrap(), 202);
    app.wait_state(&me, &metal, "released", 60).await.unwrap();
    assert!(
        machine(MachineStatus::Ready),
        "the machine is back in the pool"
    );
    eventually("the hold returns", || async {
        let b = app.get("/api/v1/billing", Some(&me)).await.unwrap().body;
        b["held_minor"] == 0
    })
    .await;

    // 4. The statement: the top-up, the allocation's usage, and balance = top-up − usage.
    let metal_usage = usage_charged(&app, &me, &metal).await;
    assert!(
        metal_usage > 0,
        "the owned machine was metered at the admin's cost"
    );
    let usage = usage_charged(&app, &me, &id).await + metal_usage;
    let balance = app.available(&me).await.unwrap();
    assert_eq!(balance, TOPUP - usage, "usage {usage}");
    let st = app
        .get("/api/v1/billing/statement", Some(&me))
        .await
        .unwrap();
    let st = ok(&st, 200);
    assert_eq!(st["usage_total_minor"], usage, "{st}");
    let by_alloc: Vec<(&Value, &Value)> = st["usage_by_allocation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (&a["allocation_id"], &a["provider"]))
        .collect();
    assert!(by_alloc.contains(&(&json!(id), &json!("lambda"))), "{st}");
    assert!(by_alloc.contains(&(&json!(metal), &json!("maas"))), "{st}");
    assert_eq!(st["closing"]["available_minor"], balance, "{st}");
    let totals = st["totals"].to_string();
    assert!(
        totals.contains(&TOPUP.to_string()),
        "the top-up in {totals}"
    );
    let csv = app
        .http
        .get(format!("{}/api/v1/billing/statement?format=csv", app.url))
        .bearer_auth(&me)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let amount = |r: &&str| r.rsplit(',').next().unwrap().parse::<i64>().unwrap();
    assert_eq!(rows.iter().map(amount).sum::<i64>(), balance, "{text}");
    assert!(
        rows.iter()
            .any(|r| r.contains(",usage,") && r.contains(&id)),
        "{text}"
    );
    assert!(
        rows.iter().any(|r| r.contains(&pi) && amount(r) == TOPUP),
        "{text}"
    );
    app.stop().await;
}

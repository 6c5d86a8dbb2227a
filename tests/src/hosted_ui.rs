//! A loopback stand-in for the Cognito **hosted UI**'s OAuth 2.0 endpoints, which moto does
//! not serve: `GET /oauth2/authorize` and `POST /oauth2/token`, with the checks Cognito
//! makes (response type, client id, identity provider, redirect URI, PKCE S256, single-use
//! codes, `invalid_grant` on anything wrong). The person "at the provider" is queued by the
//! test with [`HostedUi::next_sign_in`]; the tokens handed out are real pool tokens that moto
//! issued (see [`crate::moto::MotoServer::federated_tokens`]), so gpubroker verifies them
//! against moto's JWKS exactly as it would Cognito's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What the provider does with the next authorization request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The person signs in; the code will be worth these pool tokens (moto's
    /// `AuthenticationResult`: `AccessToken`, `IdToken`, `RefreshToken`, `ExpiresIn`).
    SignIn(Value),
    /// The person cancels at the provider (`error=access_denied`).
    Deny,
}

struct Grant {
    tokens: Value,
    challenge: String,
    redirect_uri: String,
    client_id: String,
}

#[derive(Default)]
struct Inner {
    client_id: String,
    providers: Vec<String>,
    queue: VecDeque<(String, Outcome)>,
    codes: HashMap<String, Grant>,
    authorize_requests: Vec<HashMap<String, String>>,
    token_requests: u32,
}

type Shared = Arc<Mutex<Inner>>;

/// The fake hosted UI, serving until dropped.
pub struct HostedUi {
    pub url: String,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostedUi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn page(status: StatusCode, text: &str) -> Response {
    (status, text.to_string()).into_response()
}

fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

use providers::http::percent_encode as enc;

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut st = lock(&s);
    st.authorize_requests.push(q.clone());
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    // Cognito shows an error page (no redirect) for a bad client or redirect URI.
    if get("response_type") != "code" || get("client_id") != st.client_id {
        return page(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if get("redirect_uri").is_empty() || !get("scope").split(' ').any(|s| s == "openid") {
        return page(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return page(StatusCode::BAD_REQUEST, "invalid_request: PKCE");
    }
    let idp = get("identity_provider").to_string();
    if !st.providers.contains(&idp) {
        return page(StatusCode::BAD_REQUEST, "unknown identity provider");
    }
    let Some(pos) = st.queue.iter().position(|(p, _)| *p == idp) else {
        return page(
            StatusCode::BAD_REQUEST,
            "nobody is signing in at this provider",
        );
    };
    let Some((_, outcome)) = st.queue.remove(pos) else {
        return page(
            StatusCode::BAD_REQUEST,
            "nobody is signing in at this provider",
        );
    };
    let state = enc(get("state"));
    let to = get("redirect_uri").to_string();
    match outcome {
        Outcome::Deny => redirect(format!(
            "{to}?error=access_denied&error_description={}&state={state}",
            enc("The user cancelled the sign-in")
        )),
        Outcome::SignIn(tokens) => {
            let code = uuid::Uuid::new_v4().to_string();
            st.codes.insert(
                code.clone(),
                Grant {
                    tokens,
                    challenge: get("code_challenge").to_string(),
                    redirect_uri: to.clone(),
                    client_id: get("client_id").to_string(),
                },
            );
            redirect(format!("{to}?code={code}&state={state}"))
        }
    }
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

async fn token(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut st = lock(&s);
    st.token_requests += 1;
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if get("client_id") != st.client_id {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    // Codes are single-use: a second exchange of the same code is refused.
    let Some(g) = st.codes.remove(get("code")) else {
        return invalid_grant();
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(get("code_verifier").as_bytes()));
    if g.redirect_uri != get("redirect_uri") || g.client_id != get("client_id") {
        return invalid_grant();
    }
    if challenge != g.challenge {
        return invalid_grant();
    }
    Json(json!({
        "access_token": g.tokens["AccessToken"],
        "id_token": g.tokens["IdToken"],
        "refresh_token": g.tokens["RefreshToken"],
        "expires_in": g.tokens["ExpiresIn"],
        "token_type": "Bearer",
    }))
    .into_response()
}

impl HostedUi {
    /// Serves the hosted UI of `client_id` offering `providers` on a free loopback port.
    pub async fn start(client_id: &str, providers: &[&str]) -> Result<HostedUi> {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            client_id: client_id.to_string(),
            providers: providers.iter().map(|p| (*p).to_string()).collect(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/oauth2/authorize", get(authorize))
            .route("/oauth2/token", post(token))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HostedUi { url, inner, task })
    }

    /// What happens when someone next signs in at `provider`.
    pub fn next_sign_in(&self, provider: &str, outcome: Outcome) {
        lock(&self.inner)
            .queue
            .push_back((provider.to_string(), outcome));
    }

    /// The query of every authorization request received, oldest first.
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        lock(&self.inner).authorize_requests.clone()
    }

    /// How many token requests were received.
    pub fn token_requests(&self) -> u32 {
        lock(&self.inner).token_requests
    }
}

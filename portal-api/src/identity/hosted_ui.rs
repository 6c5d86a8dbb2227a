//! OAuth sign-in (Google, GitHub, …) through the Cognito **hosted UI**: the OAuth 2.0
//! authorization-code grant with PKCE (RFC 7636, S256) against the pool's domain.
//!
//! 1. [`HostedUi::start`]: `GET /login/oauth/{provider}` answers 302 to
//!    `<domain>/oauth2/authorize?response_type=code&client_id=…&redirect_uri=<base>/login/callback
//!    &identity_provider=<provider>&scope=openid+email&state=…&code_challenge=…&code_challenge_method=S256`
//!    and sets a short-lived `HttpOnly` cookie holding the state, the PKCE verifier, the
//!    provider and where to go afterwards. Nothing is stored server-side, so any replica can
//!    finish the sign-in.
//! 2. The hosted UI signs the person in with the provider and sends the browser back to
//!    `/login/callback?code=…&state=…`; that page posts both to `POST /api/v1/auth/oauth/token`.
//! 3. [`HostedUi::exchange`] checks the state against the cookie (login CSRF), trades the code
//!    and the verifier at `<domain>/oauth2/token`, and the pool's tokens become the session
//!    exactly as after a password sign-in (verified against the JWKS, user row linked on first
//!    sight).
//!
//! The app client is public (no secret), like the one the password flow uses.

use std::time::Duration;

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::ui::encode_query_value;

/// The cookie that carries a sign-in in flight from `start` to the token exchange.
pub const COOKIE: &str = "gb_oauth";
/// Where the cookie is sent: only to the exchange.
pub const COOKIE_PATH: &str = "/api/v1/auth/oauth";
/// How long a sign-in may take at the provider.
const COOKIE_MAX_AGE_SECS: u64 = 600;
/// The path the hosted UI sends the browser back to (the app client's callback URL).
pub const CALLBACK_PATH: &str = "/login/callback";
/// The scopes asked for: the ID token with the address.
const SCOPES: &str = "openid email";

/// The hosted UI of a pool.
#[derive(Debug, Clone)]
pub struct HostedUi {
    /// `https://<prefix>.auth.<region>.amazoncognito.com` or a custom domain, no trailing `/`.
    domain: String,
    client_id: String,
    /// `<base>/login/callback`.
    redirect_uri: String,
    /// The identity providers offered, as named in the pool (`Google`, `GitHub`, …).
    providers: Vec<String>,
    http: reqwest::Client,
}

/// The redirect and the cookie that start a sign-in.
#[derive(Debug, Clone)]
pub struct Start {
    pub location: String,
    pub set_cookie: String,
}

/// A sign-in in flight, read back from its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub state: String,
    pub verifier: String,
    pub provider: String,
    pub next: String,
}

/// What the token endpoint returns.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The PKCE S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A local path to go to after signing in (no open redirect): `/…` but not `//…` or `/\…`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/offers".to_string(),
    }
}

impl HostedUi {
    /// `domain` may be given with or without `https://`.
    pub fn new(domain: &str, client_id: &str, base_url: &str, providers: Vec<String>) -> Self {
        let domain = domain.trim().trim_end_matches('/');
        let domain = if domain.contains("://") {
            domain.to_string()
        } else {
            format!("https://{domain}")
        };
        HostedUi {
            domain,
            client_id: client_id.to_string(),
            redirect_uri: format!("{}{CALLBACK_PATH}", base_url.trim_end_matches('/')),
            providers,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn providers(&self) -> &[String] {
        &self.providers
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The provider as the pool names it, matched without regard to case.
    pub fn provider(&self, name: &str) -> ApiResult<&str> {
        self.providers
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .map(String::as_str)
            .ok_or(ApiError::Broker(broker::Error::NotFound {
                what: "sign-in provider",
            }))
    }

    /// The redirect to the hosted UI and the cookie that remembers this sign-in.
    pub fn start(&self, provider: &str, next: Option<&str>) -> ApiResult<Start> {
        let provider = self.provider(provider)?;
        let pending = Pending {
            state: random_token(),
            verifier: random_token(),
            provider: provider.to_string(),
            next: safe_next(next),
        };
        let location = format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&identity_provider={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
            self.domain,
            encode_query_value(&self.client_id),
            encode_query_value(&self.redirect_uri),
            encode_query_value(provider),
            encode_query_value(SCOPES),
            pending.state,
            challenge(&pending.verifier),
        );
        Ok(Start {
            location,
            set_cookie: self.cookie(&pending.encode(), COOKIE_MAX_AGE_SECS),
        })
    }

    /// The `Set-Cookie` value that forgets a sign-in in flight.
    pub fn clear_cookie(&self) -> String {
        self.cookie("", 0)
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        let secure = if self.redirect_uri.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
        )
    }

    /// Checks `state` against the sign-in the browser started here.
    pub fn pending(&self, headers: &HeaderMap, state: &str) -> ApiResult<Pending> {
        let p = cookie_value(headers, COOKIE)
            .and_then(|v| Pending::decode(&v))
            .ok_or(ApiError::OAuthState(
                "no sign-in was started from this browser, or it took longer than 10 minutes; start again",
            ))?;
        if !broker::mfa::ct_eq(&p.state, state) {
            return Err(ApiError::OAuthState(
                "the sign-in does not match the one this browser started; start again",
            ));
        }
        Ok(p)
    }

    /// Trades an authorization code for the pool's tokens.
    #[tracing::instrument(skip_all, fields(domain = %self.domain))]
    pub async fn exchange(&self, code: &str, verifier: &str) -> ApiResult<Tokens> {
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.domain))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", self.client_id.as_str()),
                ("code", code),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "the hosted UI's token endpoint is unreachable");
                ApiError::IdentityUpstream("the sign-in service did not answer; try again")
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            tracing::warn!(error = %e, "reading the token endpoint's answer failed");
            ApiError::IdentityUpstream("the sign-in service did not answer; try again")
        })?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                tracing::warn!(error = %e, "the token endpoint's answer is not a token response");
                ApiError::IdentityUpstream("the sign-in service gave an unreadable answer")
            });
        }
        match serde_json::from_slice::<TokenError>(&body) {
            // RFC 6749 §5.2: the code is bad, used, expired or not ours.
            Ok(e) if status.is_client_error() && e.error != "invalid_client" => {
                tracing::info!(error = %e.error, description = ?e.error_description, "code refused");
                Err(ApiError::Unauthorized(
                    "the sign-in code is invalid, used or expired; sign in again",
                ))
            }
            other => {
                tracing::warn!(%status, answer = ?other, "the token endpoint refused the exchange");
                Err(ApiError::IdentityUpstream(
                    "the sign-in service refused the exchange; the app client's set-up may be wrong",
                ))
            }
        }
    }
}

impl Pending {
    fn encode(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.state,
            self.verifier,
            URL_SAFE_NO_PAD.encode(&self.provider),
            URL_SAFE_NO_PAD.encode(&self.next)
        )
    }

    fn decode(v: &str) -> Option<Pending> {
        let mut it = v.split('.');
        let text = |s: Option<&str>| {
            URL_SAFE_NO_PAD
                .decode(s?)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        };
        let state = it.next().filter(|s| !s.is_empty())?.to_string();
        let verifier = it.next().filter(|s| !s.is_empty())?.to_string();
        let provider = text(it.next())?;
        let next = safe_next(text(it.next()).as_deref());
        Some(Pending {
            state,
            verifier,
            provider,
            next,
        })
    }
}

/// The value of one cookie from the request's `Cookie` headers.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ui() -> HostedUi {
        HostedUi::new(
            "auth.example.com/",
            "client-1",
            "https://gpu.example.com/",
            vec!["Google".into(), "GitHub".into()],
        )
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636_s256() {
        // RFC 7636, Appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn start_redirects_to_the_authorize_endpoint_with_state_and_challenge() {
        let s = ui().start("github", Some("/billing?x=1")).unwrap();
        assert!(s
            .location
            .starts_with("https://auth.example.com/oauth2/authorize?"));
        let q = query(&s.location);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("client-1"));
        assert_eq!(
            get("redirect_uri"),
            Some("https%3A%2F%2Fgpu.example.com%2Flogin%2Fcallback")
        );
        assert_eq!(get("identity_provider"), Some("GitHub"));
        assert_eq!(get("scope"), Some("openid%20email"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert!(s.set_cookie.contains("HttpOnly") && s.set_cookie.contains("; Secure"));
        assert!(s.set_cookie.contains("Path=/api/v1/auth/oauth"));

        // The cookie carries what the exchange needs, and the challenge is of its verifier.
        let value = s
            .set_cookie
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_string())
            .unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={value}")).unwrap(),
        );
        let state = get("state").unwrap();
        let p = ui().pending(&h, state).unwrap();
        assert_eq!(p.provider, "GitHub");
        assert_eq!(p.next, "/billing?x=1");
        assert_eq!(Some(challenge(&p.verifier).as_str()), get("code_challenge"));
        assert!(matches!(
            ui().pending(&h, "another-state"),
            Err(ApiError::OAuthState(_))
        ));
        assert!(matches!(
            ui().pending(&HeaderMap::new(), state),
            Err(ApiError::OAuthState(_))
        ));
    }

    #[test]
    fn unknown_providers_and_foreign_next_urls_are_refused() {
        assert!(ui().start("Facebook", None).is_err());
        assert_eq!(safe_next(Some("https://evil.test/")), "/offers");
        assert_eq!(safe_next(Some("//evil.test/")), "/offers");
        assert_eq!(safe_next(Some("/\\evil.test/")), "/offers");
        assert_eq!(safe_next(None), "/offers");
        assert_eq!(safe_next(Some("/deployments")), "/deployments");
        assert!(Pending::decode("a.b.!!.x").is_none());
        assert!(Pending::decode("").is_none());
    }

    #[test]
    fn a_plain_http_base_gets_no_secure_flag() {
        let u = HostedUi::new("http://127.0.0.1:9", "c", "http://127.0.0.1:8080", vec![]);
        assert!(!u.start_cookie_is_secure());
        assert_eq!(u.redirect_uri(), "http://127.0.0.1:8080/login/callback");
    }

    impl HostedUi {
        fn start_cookie_is_secure(&self) -> bool {
            self.clear_cookie().contains("Secure")
        }
    }
}

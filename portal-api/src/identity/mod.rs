//! The identity port: one trait ([`IdentityPort`]) for signing users up and in, with two
//! implementations chosen per POD by the parameter `identity.provider`:
//! [`local::LocalIdentity`] (argon2id, our RS256 tokens, TOTP MFA, lockout — the broker's
//! accounts) and [`cognito::CognitoIdentity`] (an AWS Cognito user pool through the SDK,
//! its tokens verified against the pool's JWKS). See docs/decisions/0005-identity-port.md.
//!
//! Bearer tokens are routed by their issuer: ours are verified with our key, the pool's
//! with the pool's JWKS (its `sub` mapped to a local user row). A token is accepted only if
//! its issuer is the provider of the user's POD; admins' local tokens are always accepted
//! (break-glass, so a POD switched to Cognito can still be administered).

pub mod cognito;
pub mod hosted_ui;
pub mod jwks;
pub mod local;

use async_trait::async_trait;
use base64::Engine;
use broker::accounts::{Role, User};
use broker::identity::Provider;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A signed-in session as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub user: User,
}

/// The outcome of a sign-up.
#[derive(Debug, Clone)]
pub struct SignUp {
    pub user: User,
    /// Signed in at once (SANDBOX auto-confirm), or `None` until the address is verified.
    pub session: Option<Session>,
    pub verification_required: bool,
}

/// The outcome of the password step.
#[derive(Debug, Clone)]
pub enum Login {
    Session(Session),
    /// Send `mfa_token` with a code to `/auth/login/mfa`.
    Mfa {
        mfa_token: String,
    },
}

/// How an address is confirmed: our emailed link, or the provider's emailed code.
#[derive(Debug, Clone)]
pub enum Confirmation {
    Link { token: String },
    Code { email: String, code: String },
}

/// What MFA enrolment shows (the QR code is drawn from the URI at the edge).
#[derive(Debug, Clone, Serialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// The caller of a self-service security call: the user and the bearer token they sent
/// (Cognito needs its own access token for MFA calls).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub access_token: String,
}

/// One identity provider.
#[async_trait]
pub trait IdentityPort: Send + Sync {
    fn provider(&self) -> Provider;
    async fn sign_up(&self, email: &str, password: &str) -> ApiResult<SignUp>;
    async fn confirm(&self, c: Confirmation) -> ApiResult<User>;
    async fn login(&self, email: &str, password: &str) -> ApiResult<Login>;
    async fn login_mfa(&self, mfa_token: &str, code: &str) -> ApiResult<Session>;
    async fn refresh(&self, refresh_token: &str) -> ApiResult<Session>;
    /// Revokes the refresh token's session; `bearer` is the caller's access token if sent.
    async fn logout(&self, refresh_token: &str, bearer: Option<&str>) -> ApiResult<()>;
    async fn mfa_enrol(&self, who: &Caller) -> ApiResult<Enrolment>;
    /// Activates the factor with a code; returns recovery codes where the provider has them.
    async fn mfa_activate(&self, who: &Caller, code: &str) -> ApiResult<Vec<String>>;
    async fn mfa_disable(&self, who: &Caller, code: &str) -> ApiResult<()>;
}

/// The providers this server can use.
pub struct Identities {
    pub local: local::LocalIdentity,
    pub cognito: Option<cognito::CognitoIdentity>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("cognito", &self.cognito.is_some())
            .finish_non_exhaustive()
    }
}

impl Identities {
    /// The provider of a tenant.
    pub async fn for_tenant(&self, s: &AppState, tenant_id: &str) -> ApiResult<&dyn IdentityPort> {
        match s.broker.identity_provider(tenant_id).await? {
            Provider::Local => Ok(&self.local),
            Provider::Cognito => match &self.cognito {
                Some(c) => Ok(c),
                None => Err(ApiError::Broker(broker::Error::Config(
                    "identity.provider is cognito but no Cognito user pool is configured".into(),
                ))),
            },
        }
    }
}

impl Identities {
    /// The Cognito pool and its hosted UI, when the tenant signs in through Cognito and a
    /// hosted-UI domain is configured (OAuth sign-in with Google, GitHub, …).
    pub async fn hosted_ui(
        &self,
        s: &AppState,
        tenant_id: &str,
    ) -> ApiResult<(&cognito::CognitoIdentity, &hosted_ui::HostedUi)> {
        if s.broker.identity_provider(tenant_id).await? != Provider::Cognito {
            return Err(ApiError::OAuthUnavailable(
                "this POD signs in with local accounts (identity.provider is local)",
            ));
        }
        let c = self.cognito.as_ref().ok_or(ApiError::OAuthUnavailable(
            "no Cognito user pool is configured",
        ))?;
        let ui = c.hosted_ui().ok_or(ApiError::OAuthUnavailable(
            "no hosted-UI domain is configured (GPUBROKER_COGNITO_DOMAIN)",
        ))?;
        Ok((c, ui))
    }
}

/// The `iss` claim of a JWT, read without verifying it (only to pick the verifier).
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    v.get("iss")?.as_str().map(str::to_string)
}

/// Verifies a bearer token and returns its user (see the module doc for the rules).
pub async fn authenticate(s: &AppState, token: &str) -> ApiResult<User> {
    let iss = unverified_issuer(token).ok_or(ApiError::Unauthorized(
        "the access token is invalid or expired",
    ))?;
    let (user, issued_by) = if iss == crate::auth::ISSUER {
        (s.keys.verify(token)?, Provider::Local)
    } else {
        match &s.identity.cognito {
            Some(c) if c.issuer() == iss => (c.authenticate(token).await?, Provider::Cognito),
            _ => {
                return Err(ApiError::Unauthorized(
                    "the access token is invalid or expired",
                ))
            }
        }
    };
    let wanted = s.broker.identity_provider(&user.tenant_id).await?;
    if wanted != issued_by && !(issued_by == Provider::Local && user.role == Role::Admin) {
        return Err(ApiError::Unauthorized(
            "this POD signs in with another identity provider; sign in again",
        ));
    }
    Ok(user)
}

/// The QR code of an `otpauth://` URI as an SVG document.
pub fn qr_svg(uri: &str) -> ApiResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::Broker(broker::Error::Internal(format!("qr: {e}"))))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_is_read_from_the_payload() {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let t = format!(
            "{}.{}.sig",
            b("{\"alg\":\"RS256\"}"),
            b("{\"iss\":\"https://x\"}")
        );
        assert_eq!(unverified_issuer(&t).as_deref(), Some("https://x"));
        assert_eq!(unverified_issuer("garbage"), None);
    }

    #[test]
    fn the_qr_code_is_an_svg_document() {
        let svg = qr_svg("otpauth://totp/gpubroker:a%40b.c?secret=ABC&issuer=gpubroker").unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}

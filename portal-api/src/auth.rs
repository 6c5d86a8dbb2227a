//! Access tokens: RS256 JWTs signed with a key persisted by the broker (so every instance
//! and restart shares it), published as a JWKS; and the extractors that turn a bearer token
//! into a user.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use broker::accounts::{Role, User};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// Issuer claim of every token.
pub const ISSUER: &str = "gpubroker";
/// Access tokens live 15 minutes; refresh tokens rotate.
pub const ACCESS_TTL_SECS: i64 = 900;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tid: String,
    role: String,
    email: String,
    iss: String,
    iat: i64,
    exp: i64,
}

/// The signing key pair.
pub struct Keys {
    kid: String,
    enc: EncodingKey,
    dec: DecodingKey,
    n: String,
    e: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Keys {
    /// Loads the persisted key, generating and storing a 2048-bit RSA key on first start.
    pub async fn load_or_create(accounts: &broker::accounts::Accounts) -> anyhow::Result<Keys> {
        let (kid, pem) = match accounts.signing_key().await? {
            Some(k) => k,
            None => {
                let key = tokio::task::spawn_blocking(|| {
                    rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                })
                .await??;
                let pem = key.to_pkcs1_pem(LineEnding::LF)?.to_string();
                accounts
                    .store_signing_key(&uuid::Uuid::new_v4().to_string(), &pem)
                    .await?
            }
        };
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(&pem)?;
        let n = b64(&key.n().to_bytes_be());
        let e = b64(&key.e().to_bytes_be());
        Ok(Keys {
            enc: EncodingKey::from_rsa_pem(pem.as_bytes())?,
            dec: DecodingKey::from_rsa_components(&n, &e)?,
            kid,
            n,
            e,
        })
    }

    /// A signed access token for `user`.
    pub fn issue(&self, user: &User, now: i64) -> Result<String, ApiError> {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(self.kid.clone());
        let claims = Claims {
            sub: user.id.clone(),
            tid: user.tenant_id.clone(),
            role: user.role.as_str().into(),
            email: user.email.clone(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + ACCESS_TTL_SECS,
        };
        jsonwebtoken::encode(&h, &claims, &self.enc)
            .map_err(|e| ApiError::Broker(broker::Error::Internal(e.to_string())))
    }

    /// Verifies one of our access tokens.
    pub fn verify(&self, token: &str) -> Result<User, ApiError> {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[ISSUER]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.dec, &v)
            .map_err(|_| ApiError::Unauthorized("the access token is invalid or expired"))?;
        let c = data.claims;
        Ok(User {
            id: c.sub,
            tenant_id: c.tid,
            email: c.email,
            role: Role::parse(&c.role).ok_or(ApiError::Unauthorized("unknown role"))?,
            created_at: 0,
        })
    }

    /// The public key as a JSON Web Key Set.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": self.n, "e": self.e}]})
    }
}

/// A signed-in user (any role).
#[derive(Debug, Clone)]
pub struct Authed(pub User);

/// A signed-in admin.
#[derive(Debug, Clone)]
pub struct Admin(pub User);

/// The request's bearer token (not verified yet), or 401 asking for one.
fn required_bearer(parts: &Parts) -> Result<&str, ApiError> {
    bearer_token(&parts.headers).ok_or(ApiError::Unauthorized(
        "send `Authorization: Bearer <access token>`",
    ))
}

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = required_bearer(parts)?;
        crate::identity::authenticate(state, token)
            .await
            .map(Authed)
    }
}

/// A signed-in user together with the bearer token they sent (for self-service security
/// calls that the identity provider must see, such as Cognito's MFA enrolment).
#[derive(Debug, Clone)]
pub struct Bearer(pub crate::identity::Caller);

impl FromRequestParts<Arc<AppState>> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = required_bearer(parts)?;
        let user = crate::identity::authenticate(state, token).await?;
        Ok(Bearer(crate::identity::Caller {
            user,
            access_token: token.to_string(),
        }))
    }
}

/// The bearer token of a request, if any (not verified).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Authed(u) = Authed::from_request_parts(parts, state).await?;
        if u.role == Role::Admin {
            Ok(Admin(u))
        } else {
            Err(ApiError::AdminOnly)
        }
    }
}

/// A signed-in user if a valid token is present, else anonymous.
#[derive(Debug, Clone)]
pub struct MaybeAuthed(pub Option<User>);

impl FromRequestParts<Arc<AppState>> for MaybeAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        match bearer_token(&parts.headers) {
            None => Ok(MaybeAuthed(None)),
            Some(t) => crate::identity::authenticate(state, t)
                .await
                .map(|u| MaybeAuthed(Some(u))),
        }
    }
}

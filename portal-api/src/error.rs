//! The one API error type and its table: error → HTTP status → problem+json (RFC 9457)
//! `type` and public message. 5xx bodies are opaque; errors are logged once, here.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use broker::ConflictKind;
use serde::Serialize;

/// Base of every problem `type` URI.
pub const TYPE_BASE: &str = "https://gpubroker.dev/problems/";

/// An error on its way to becoming a problem+json response.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Broker(#[from] broker::Error),
    #[error("authentication required")]
    Unauthorized(&'static str),
    #[error("admin only")]
    AdminOnly,
    #[error("malformed request body: {0}")]
    BadBody(String),
    #[error("not found")]
    NoRoute,
    /// A well-formed value outside its allowed range (`field` names it).
    #[error("`{field}`: {message}")]
    OutOfRange { field: String, message: String },
    /// A SANDBOX-only feature asked for by a tenant in another mode.
    #[error("only in SANDBOX mode")]
    SandboxOnly(&'static str),
    /// An OAuth sign-in whose `state` does not match the one this browser started.
    #[error("oauth state: {0}")]
    OAuthState(&'static str),
    /// OAuth sign-in asked of a POD or server that does not offer it.
    #[error("oauth unavailable: {0}")]
    OAuthUnavailable(&'static str),
    /// The identity provider's own endpoint failed or refused us (not the user's input).
    #[error("identity provider: {0}")]
    IdentityUpstream(&'static str),
}

/// The RFC 9457 body.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

impl ApiError {
    /// (status, stable type slug, title, public detail, field, allowed values).
    fn table(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        &'static str,
        String,
        Option<String>,
        Option<Vec<String>>,
    ) {
        use broker::Error as B;
        match self {
            ApiError::Broker(B::Invalid {
                field,
                message,
                allowed,
            }) => (
                StatusCode::BAD_REQUEST,
                "validation-error",
                "The request is invalid",
                format!("`{field}`: {message}"),
                Some(field.clone()),
                allowed.clone(),
            ),
            ApiError::Broker(B::NotFound { what }) => (
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                format!("{what} not found"),
                None,
                None,
            ),
            ApiError::Broker(B::Conflict { kind, message }) => {
                let (status, slug, title) = match kind {
                    ConflictKind::ConcurrencyLimit => (
                        StatusCode::CONFLICT,
                        "concurrency-limit",
                        "Too many live deployments",
                    ),
                    ConflictKind::NoCapacity => {
                        (StatusCode::CONFLICT, "no-capacity", "No capacity")
                    }
                    ConflictKind::InvalidState => (
                        StatusCode::CONFLICT,
                        "invalid-state",
                        "Not possible in the current state",
                    ),
                    ConflictKind::IdempotencyMismatch => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency-key-reused",
                        "Idempotency key reused",
                    ),
                    ConflictKind::EmailTaken => (
                        StatusCode::CONFLICT,
                        "email-taken",
                        "Email already registered",
                    ),
                    ConflictKind::InsufficientFunds => (
                        StatusCode::PAYMENT_REQUIRED,
                        "insufficient-funds",
                        "Not enough credit",
                    ),
                    ConflictKind::ConfirmationRequired => (
                        StatusCode::CONFLICT,
                        "confirmation-required",
                        "Confirmation required",
                    ),
                };
                (status, slug, title, message.clone(), None, None)
            }
            ApiError::Broker(B::Unauthenticated(m)) | ApiError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication failed",
                (*m).to_string(),
                None,
                None,
            ),
            ApiError::Broker(B::TooManyAttempts { retry_after_secs }) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-attempts",
                "Too many attempts",
                format!("too many failed sign-ins for this address; retry in {retry_after_secs} s"),
                None,
                None,
            ),
            ApiError::Broker(B::AccountLocked { retry_after_secs }) => (
                StatusCode::LOCKED,
                "account-locked",
                "Account locked",
                format!(
                    "the account is locked after repeated failures; retry in {retry_after_secs} s"
                ),
                None,
                None,
            ),
            ApiError::Broker(B::EmailNotVerified) => (
                StatusCode::FORBIDDEN,
                "email-not-verified",
                "Email not verified",
                "verify your email address first (follow the link we mailed you)".into(),
                None,
                None,
            ),
            ApiError::Broker(B::Forbidden) | ApiError::AdminOnly => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                "this needs the admin role".into(),
                None,
                None,
            ),
            ApiError::Broker(B::Provider(e)) => (
                StatusCode::BAD_GATEWAY,
                "provider-error",
                "The provider failed",
                e.to_string(),
                None,
                None,
            ),
            ApiError::BadBody(m) => (
                StatusCode::BAD_REQUEST,
                "malformed-body",
                "Malformed request body",
                m.clone(),
                None,
                None,
            ),
            ApiError::OutOfRange { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "out-of-range",
                "A value is out of range",
                format!("`{field}`: {message}"),
                Some(field.clone()),
                None,
            ),
            ApiError::SandboxOnly(what) => (
                StatusCode::CONFLICT,
                "sandbox-only",
                "Only in SANDBOX mode",
                format!("{what} exist only in SANDBOX mode; this tenant is LIVE"),
                None,
                None,
            ),
            ApiError::OAuthState(m) => (
                StatusCode::BAD_REQUEST,
                "oauth-state-mismatch",
                "The sign-in cannot be finished",
                (*m).to_string(),
                Some("state".into()),
                None,
            ),
            ApiError::OAuthUnavailable(m) => (
                StatusCode::CONFLICT,
                "oauth-unavailable",
                "Sign-in with an external provider is not available",
                (*m).to_string(),
                None,
                None,
            ),
            ApiError::IdentityUpstream(m) => (
                StatusCode::BAD_GATEWAY,
                "identity-provider-error",
                "The identity provider failed",
                (*m).to_string(),
                None,
                None,
            ),
            ApiError::NoRoute => (
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                "no such route".into(),
                None,
                None,
            ),
            ApiError::Broker(B::WebhookSignature(e)) => (
                StatusCode::BAD_REQUEST,
                "webhook-signature-invalid",
                "Webhook signature invalid",
                e.to_string(),
                Some("Stripe-Signature".into()),
                None,
            ),
            ApiError::Broker(B::Gateway(e)) => (
                StatusCode::BAD_GATEWAY,
                "payment-gateway-error",
                "The payment gateway failed",
                e.to_string(),
                None,
                None,
            ),
            ApiError::Broker(B::PaymentsUnavailable(m)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "payments-unavailable",
                "Payments are not available",
                (*m).to_string(),
                None,
                None,
            ),
            ApiError::Broker(B::InvalidCredential { field, message }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "credential-invalid",
                "The credential is incomplete or invalid",
                message.clone(),
                Some(field.clone()),
                None,
            ),
            ApiError::Broker(e @ B::CredentialsUnreadable { .. }) => (
                StatusCode::CONFLICT,
                "credentials-unreadable",
                "Stored credentials cannot be read",
                format!(
                    "{e}; restore the key they were sealed with \
                     (GPUBROKER_CREDENTIALS_KEY) or store them again"
                ),
                None,
                None,
            ),
            ApiError::Broker(B::Config(_) | B::Db(_) | B::Migrate(_) | B::Internal(_)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "something went wrong on our side; it has been logged".into(),
                None,
                None,
            ),
        }
    }

    pub fn problem(&self) -> (StatusCode, Problem) {
        let (status, slug, title, detail, field, allowed) = self.table();
        (
            status,
            Problem {
                kind: format!("{TYPE_BASE}{slug}"),
                title,
                status: status.as_u16(),
                detail,
                field,
                allowed,
            },
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, problem) = self.problem();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, "request rejected");
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let ApiError::Broker(
            broker::Error::TooManyAttempts { retry_after_secs }
            | broker::Error::AccountLocked { retry_after_secs },
        ) = &self
        {
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

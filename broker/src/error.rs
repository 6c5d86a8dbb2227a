//! The broker's error type: variants a caller (the HTTP edge, the CLI) can act on.

use thiserror::Error;

/// Which rule a conflicting request broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    ConcurrencyLimit,
    NoCapacity,
    InvalidState,
    IdempotencyMismatch,
    EmailTaken,
    ConfirmationRequired,
    InsufficientFunds,
}

#[derive(Debug, Error)]
pub enum Error {
    #[error("invalid `{field}`: {message}")]
    Invalid {
        field: String,
        message: String,
        allowed: Option<Vec<String>>,
    },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{message}")]
    Conflict { kind: ConflictKind, message: String },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("forbidden")]
    Forbidden,
    /// Too many sign-in attempts for this address recently (throttling).
    #[error("too many attempts; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: i64 },
    /// The account is locked after repeated failures.
    #[error("the account is locked; retry in {retry_after_secs} s")]
    AccountLocked { retry_after_secs: i64 },
    /// The account's email address is not verified yet (LIVE PODs).
    #[error("verify your email address first")]
    EmailNotVerified,
    #[error("configuration: {0}")]
    Config(String),
    #[error("provider: {0}")]
    Provider(#[from] providers::ProviderError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("internal: {0}")]
    Internal(String),
    /// The payment gateway (Stripe) failed or refused.
    #[error(transparent)]
    Gateway(#[from] crate::payments::GatewayError),
    /// A webhook whose `Stripe-Signature` does not verify.
    #[error("webhook signature: {0}")]
    WebhookSignature(#[from] crate::payments::signature::SignatureError),
    /// Payments cannot be taken here (a LIVE POD without Stripe keys).
    #[error("payments unavailable: {0}")]
    PaymentsUnavailable(&'static str),
    /// A provider credential that lacks or misnames a field its provider needs.
    #[error("invalid credential: {message}")]
    InvalidCredential { field: String, message: String },
    /// A stored credential the configured key cannot open (another key, or a tampered or
    /// copied row). Never carries the secret.
    #[error("the stored {mode} credential of `{provider}` cannot be read: {reason}")]
    CredentialsUnreadable {
        provider: String,
        mode: String,
        reason: String,
    },
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
            allowed: None,
        }
    }

    pub fn invalid_choice(field: impl Into<String>, got: &str, allowed: Vec<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: format!("`{got}` is not one of the allowed values"),
            allowed: Some(allowed),
        }
    }

    pub fn conflict(kind: ConflictKind, message: impl Into<String>) -> Self {
        Error::Conflict {
            kind,
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::ledger::Error> for Error {
    fn from(e: crate::ledger::Error) -> Self {
        use crate::ledger::Error as L;
        match e {
            L::InsufficientFunds { .. } => {
                Error::conflict(ConflictKind::InsufficientFunds, e.to_string())
            }
            L::NotRefundable { .. } => Error::invalid("amount_minor", e.to_string()),
            L::Broker(inner) => inner,
        }
    }
}

//! [`Descriptor`]: everything the engine needs to know about one provider's API, as data.

use std::time::Duration;

use crate::ProviderError;

/// How a provider authenticates a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `<header>: <secret>` (e.g. `api-key`, `X-Auth-Token`).
    Header(&'static str),
    /// `Authorization: Basic base64(<secret>:)` — the secret is the user name.
    Basic,
    /// OAuth 2.0 client credentials: the secret is `client_id:client_secret`; the engine
    /// exchanges it at `token_path` (JSON `grant_type=client_credentials`) for a bearer token,
    /// caches it until shortly before `expires_in`, and fetches a new one after a 401.
    OAuth2ClientCredentials { token_path: &'static str },
    /// OAuth 1.0a `PLAINTEXT` (Canonical MAAS): the secret is
    /// `consumer_key:token_key:token_secret`; every request gets a fresh nonce and timestamp.
    OAuth1Plaintext,
    /// AWS Signature Version 4: the secret is `access_key_id:secret_access_key`; every
    /// request is signed over its method, URL, headers and body for this default scope (a
    /// [`crate::http::Call::scope`] replaces it per call).
    AwsSigV4 {
        region: &'static str,
        service: &'static str,
    },
    /// OVHcloud's application signature: the secret is
    /// `application_key:application_secret:consumer_key`; every request gets
    /// `X-Ovh-Application`, `X-Ovh-Consumer`, `X-Ovh-Timestamp` and `X-Ovh-Signature`.
    OvhSignature,
    /// No credentials (public catalogues).
    None,
}

/// A vendor-specific reading of an error body, tried before the generic status mapping
/// (e.g. Lambda's `instance-operations/launch/insufficient-capacity` code on a 400).
pub type ErrorClassifier = fn(status: u16, body: &[u8]) -> Option<ProviderError>;

/// One provider's API as the engine sees it. Adapters declare one as a `const`/fn.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// The provider key (`lambda`, `runpod`, `vast`).
    pub id: &'static str,
    pub display_name: &'static str,
    /// Production base URL, without a trailing slash; overridable per engine.
    pub base_url: &'static str,
    pub auth: AuthScheme,
    /// Requests the engine lets out per minute (the governor quota).
    pub quota_per_minute: u32,
    /// Requests that may go out back to back before the quota spaces them.
    pub burst: u32,
    /// Whole-request timeout (connect to end of body).
    pub timeout: Duration,
    /// HTTP statuses worth retrying on an idempotent call.
    pub retryable_statuses: &'static [u16],
    pub classify_error: Option<ErrorClassifier>,
}

/// Statuses most APIs use for "try again later".
pub const DEFAULT_RETRYABLE: &[u16] = &[408, 429, 500, 502, 503, 504];

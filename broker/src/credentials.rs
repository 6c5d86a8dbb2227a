//! Provider credentials: one secret per (tenant, mode, provider), sealed with AES-256-GCM
//! under the boot key ([`MasterKey`]), and the LIVE world built from them.
//!
//! - Sealing (pure): a random 96-bit nonce per write; the associated data binds the
//!   ciphertext to its (tenant, mode, provider), so a row copied to another provider or
//!   tenant does not open. The payload is the secret fields and the settings together, so a
//!   tampered `base_url` cannot redirect a key either.
//! - Stored: ciphertext, nonce, the key id (a fingerprint of the key, to say which key a row
//!   needs), a masked hint, the settings (plaintext copy, for display), who and when.
//! - Write-only: nothing here returns a secret except [`Credentials::live_world`], which
//!   hands it to the adapters as [`providers::http::Secret`] (redacted in Debug/Display).
//!
//! Invariants: no secret in a log line, an audit row or an error message; a wrong key or a
//! tampered row is [`Error::CredentialsUnreadable`], never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use providers::http::{EngineConfig, Secret};
use providers::live::{self, LiveCredential, LiveError};
use providers::Provider;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use thiserror::Error;
use tracing::{instrument, warn};

use crate::audit::{self, AuditEntry};
use crate::tenants::Mode;
use crate::{Clock, Db, Error, Result};

/// The boot key credentials are sealed with (32 bytes). `Debug` prints only its id.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

/// A key that is not base64 of 32 bytes.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the credentials key must be base64 of exactly 32 bytes ({0})")]
pub struct KeyError(&'static str);

impl MasterKey {
    pub fn new(key: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"gpubroker credentials key id\0")
            .chain_update(key)
            .finalize();
        let id = format!("k-{}", hex::encode(&digest[..6]));
        Self { key, id }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self::new(Aes256Gcm::generate_key(&mut OsRng).into())
    }

    /// Parses standard base64 (padding optional, surrounding whitespace ignored).
    pub fn from_base64(raw: &str) -> std::result::Result<Self, KeyError> {
        let raw = raw.trim();
        let bytes = B64
            .decode(raw)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(raw))
            .map_err(|_| KeyError("not base64"))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError("wrong length"))?;
        Ok(Self::new(key))
    }

    /// The key as base64 (for writing the generated key file).
    pub fn to_base64(&self) -> String {
        B64.encode(self.key)
    }

    /// The key's public fingerprint, stored with every row it sealed.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What a sealed credential is bound to (the associated data).
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub tenant_id: &'a str,
    pub mode: Mode,
    pub provider_id: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "gpubroker/provider-credential/v1\0{}\0{}\0{}",
            self.tenant_id,
            self.mode.as_str(),
            self.provider_id
        )
        .into_bytes()
    }
}

/// A sealed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: [u8; 12],
}

/// Why a sealed payload did not open (no detail on purpose: GCM says only "no").
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the ciphertext does not open under this key for this tenant, mode and provider")]
pub struct OpenError;

/// Seals `plaintext` for `binding` with a fresh random nonce.
pub fn seal(key: &MasterKey, binding: Binding<'_>, plaintext: &[u8]) -> Result<Sealed> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = binding.aad();
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| Error::Internal("sealing a credential failed".into()))?;
    Ok(Sealed {
        ciphertext,
        nonce: nonce.into(),
    })
}

/// Opens what [`seal`] sealed for the same binding under the same key.
pub fn open(
    key: &MasterKey,
    binding: Binding<'_>,
    sealed: &Sealed,
) -> std::result::Result<Vec<u8>, OpenError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.key));
    let aad = binding.aad();
    cipher
        .decrypt(
            Nonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| OpenError)
}

/// The masked hint of a secret: its last four characters when it is long enough that four
/// give little away (12+), otherwise nothing of it.
pub fn hint(secret: &str) -> String {
    let chars: Vec<char> = secret.trim().chars().collect();
    if chars.is_empty() {
        return "(none)".to_string();
    }
    if chars.len() < 12 {
        return "••••".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

/// The sealed payload's plaintext.
#[derive(Serialize, Deserialize)]
struct Contents {
    secret: BTreeMap<String, String>,
    settings: Map<String, Value>,
}

/// A stored credential as the admin API shows it: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialView {
    pub provider_id: String,
    pub mode: Mode,
    pub hint: String,
    pub key_id: String,
    pub settings: Value,
    pub updated_at: i64,
    pub updated_by: String,
}

/// What an admin asks to store.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub secret: BTreeMap<String, Secret>,
    pub settings: Map<String, Value>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
);

const COLUMNS: &str = "provider_id, mode, ciphertext, nonce, key_id, hint, settings, updated_at, \
                       updated_by";

/// The credential store of every tenant.
#[derive(Clone)]
pub struct Credentials {
    db: Db,
    clock: Arc<dyn Clock>,
    key: MasterKey,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The audit subject of a provider's credential of `mode`.
fn audit_subject(provider_id: &str, mode: Mode) -> String {
    format!("provider:{provider_id}/credentials/{}", mode.as_str())
}

/// How the audit log describes a stored credential: its masked hint and its key, never the
/// secret.
fn state(hint: &str, key_id: &str) -> String {
    format!("hint={hint} key={key_id}")
}

/// The [`state`] of the credential stored for `provider_id` in `mode`, if any.
async fn stored_state(
    conn: &mut AnyConnection,
    tenant_id: &str,
    mode: Mode,
    provider_id: &str,
) -> Result<Option<String>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT hint, key_id FROM provider_credentials \
         WHERE tenant_id = $1 AND mode = $2 AND provider_id = $3",
    )
    .bind(tenant_id)
    .bind(mode.as_str())
    .bind(provider_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(hint, key_id)| state(&hint, &key_id)))
}

fn spec_of(provider_id: &str) -> Result<&'static live::Spec> {
    live::spec(provider_id).ok_or(Error::NotFound { what: "provider" })
}

fn invalid(e: LiveError) -> Error {
    match e.field() {
        Some(f) => Error::InvalidCredential {
            field: f.to_string(),
            message: e.to_string(),
        },
        None => Error::Internal(e.to_string()),
    }
}

fn view(r: Row) -> Result<CredentialView> {
    let (provider_id, mode, _, _, key_id, hint, settings, updated_at, updated_by) = r;
    Ok(CredentialView {
        mode: Mode::parse(&mode)
            .ok_or_else(|| Error::Internal(format!("stored mode `{mode}` is not a mode")))?,
        settings: serde_json::from_str(&settings).unwrap_or(Value::Null),
        provider_id,
        hint,
        key_id,
        updated_at,
        updated_by,
    })
}

impl Credentials {
    pub fn new(db: Db, clock: Arc<dyn Clock>, key: MasterKey) -> Self {
        Self { db, clock, key }
    }

    /// The id of the key new rows are sealed with.
    pub fn key_id(&self) -> &str {
        self.key.id()
    }

    /// Validates `cred` against the provider's spec (which fields it needs), seals it and
    /// stores it, replacing any previous one; audited without the secret.
    #[instrument(skip_all, fields(tenant = tenant_id, mode = mode.as_str(), provider = provider_id))]
    pub async fn put(
        &self,
        tenant_id: &str,
        mode: Mode,
        provider_id: &str,
        cred: NewCredential,
        actor: &str,
    ) -> Result<CredentialView> {
        let spec = spec_of(provider_id)?;
        let live = LiveCredential {
            secret: cred.secret.clone(),
            settings: cred.settings.clone(),
        };
        spec.validate(&live).map_err(invalid)?;
        let hint = hint(
            spec.hint_field()
                .and_then(|f| cred.secret.get(f))
                .map_or("", Secret::expose),
        );
        let payload = Contents {
            secret: cred
                .secret
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().trim().to_string()))
                .collect(),
            settings: cred.settings.clone(),
        };
        let plaintext = serde_json::to_vec(&payload)
            .map_err(|e| Error::Internal(format!("encoding a credential: {e}")))?;
        let binding = Binding {
            tenant_id,
            mode,
            provider_id,
        };
        let sealed = seal(&self.key, binding, &plaintext)?;
        let settings = Value::Object(cred.settings).to_string();
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let before = stored_state(&mut tx, tenant_id, mode, provider_id).await?;
        sqlx::query(
            "INSERT INTO provider_credentials (tenant_id, mode, provider_id, ciphertext, nonce, \
             key_id, hint, settings, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (tenant_id, mode, provider_id) DO UPDATE SET \
             ciphertext = excluded.ciphertext, nonce = excluded.nonce, key_id = excluded.key_id, \
             hint = excluded.hint, settings = excluded.settings, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(tenant_id)
        .bind(mode.as_str())
        .bind(provider_id)
        .bind(B64.encode(&sealed.ciphertext))
        .bind(B64.encode(sealed.nonce))
        .bind(self.key.id())
        .bind(&hint)
        .bind(&settings)
        .bind(now)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        let subject = audit_subject(provider_id, mode);
        let after = state(&hint, self.key.id());
        audit::record(
            &mut tx,
            now,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor,
                action: "credentials.put",
                subject: &subject,
                before: before.as_deref(),
                after: Some(&after),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(CredentialView {
            provider_id: provider_id.to_string(),
            mode,
            hint,
            key_id: self.key.id().to_string(),
            settings: serde_json::from_str(&settings).unwrap_or(Value::Null),
            updated_at: now,
            updated_by: actor.to_string(),
        })
    }

    /// The provider's stored credentials (one per mode), masked. A row this key cannot open
    /// (another key, tampered) is [`Error::CredentialsUnreadable`].
    pub async fn list(&self, tenant_id: &str, provider_id: &str) -> Result<Vec<CredentialView>> {
        spec_of(provider_id)?;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM provider_credentials \
             WHERE tenant_id = $1 AND provider_id = $2 ORDER BY mode"
        ))
        .bind(tenant_id)
        .bind(provider_id)
        .fetch_all(&self.db.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            self.open_row(tenant_id, &r)?;
            out.push(view(r)?);
        }
        Ok(out)
    }

    /// Removes the provider's credential of `mode`; audited. Not stored → not found.
    #[instrument(skip_all, fields(tenant = tenant_id, mode = mode.as_str(), provider = provider_id))]
    pub async fn delete(
        &self,
        tenant_id: &str,
        mode: Mode,
        provider_id: &str,
        actor: &str,
    ) -> Result<()> {
        spec_of(provider_id)?;
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let Some(before) = stored_state(&mut tx, tenant_id, mode, provider_id).await? else {
            return Err(Error::NotFound { what: "credential" });
        };
        sqlx::query(
            "DELETE FROM provider_credentials \
             WHERE tenant_id = $1 AND mode = $2 AND provider_id = $3",
        )
        .bind(tenant_id)
        .bind(mode.as_str())
        .bind(provider_id)
        .execute(&mut *tx)
        .await?;
        let subject = audit_subject(provider_id, mode);
        audit::record(
            &mut tx,
            now,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor,
                action: "credentials.delete",
                subject: &subject,
                before: Some(&before),
                after: None,
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    fn open_row(&self, tenant_id: &str, r: &Row) -> Result<LiveCredential> {
        let (provider_id, mode, ciphertext, nonce, key_id, ..) = r;
        let unreadable = |reason: String| Error::CredentialsUnreadable {
            provider: provider_id.clone(),
            mode: mode.clone(),
            reason,
        };
        let mode = Mode::parse(mode).ok_or_else(|| unreadable("unknown mode".into()))?;
        if key_id != self.key.id() {
            return Err(unreadable(format!(
                "sealed under key {key_id}, the configured key is {}",
                self.key.id()
            )));
        }
        let sealed = Sealed {
            ciphertext: B64
                .decode(ciphertext)
                .map_err(|_| unreadable("the ciphertext is not base64".into()))?,
            nonce: B64
                .decode(nonce)
                .ok()
                .and_then(|n| <[u8; 12]>::try_from(n).ok())
                .ok_or_else(|| unreadable("the nonce is not 12 bytes of base64".into()))?,
        };
        let binding = Binding {
            tenant_id,
            mode,
            provider_id,
        };
        let plain = open(&self.key, binding, &sealed)
            .map_err(|e| unreadable(format!("{e} (tampered or copied row)")))?;
        let p: Contents = serde_json::from_slice(&plain)
            .map_err(|_| unreadable("the payload is not a credential".into()))?;
        Ok(LiveCredential {
            secret: p
                .secret
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
            settings: p.settings,
        })
    }

    /// The LIVE world of `tenant_id`: one real adapter per stored LIVE credential, built on
    /// `template` (clock, TTL, breaker). A row that does not open or build is left out and
    /// logged (provider and reason only).
    #[instrument(skip_all, fields(tenant = tenant_id))]
    pub async fn live_world(
        &self,
        tenant_id: &str,
        template: &EngineConfig,
    ) -> Result<Vec<Arc<dyn Provider>>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM provider_credentials \
             WHERE tenant_id = $1 AND mode = $2 ORDER BY provider_id"
        ))
        .bind(tenant_id)
        .bind(Mode::Live.as_str())
        .fetch_all(&self.db.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let built = self.open_row(tenant_id, r).and_then(|cred| {
                spec_of(&r.0)?
                    .build(template, &cred)
                    .map_err(|e| Error::Internal(e.to_string()))
            });
            match built {
                Ok(p) => out.push(p),
                Err(e) => warn!(provider = %r.0, error = %e, "LIVE provider left out"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(provider_id: &str) -> Binding<'_> {
        Binding {
            tenant_id: "default",
            mode: Mode::Live,
            provider_id,
        }
    }

    #[test]
    fn a_sealed_secret_opens_again_with_the_same_key_and_binding() {
        let key = MasterKey::generate();
        let sealed = seal(&key, binding("lambda"), b"secret_abc").unwrap();
        assert_ne!(sealed.ciphertext, b"secret_abc");
        assert_eq!(
            open(&key, binding("lambda"), &sealed).unwrap(),
            b"secret_abc"
        );
    }

    #[test]
    fn another_key_does_not_open_it() {
        let sealed = seal(&MasterKey::generate(), binding("lambda"), b"s").unwrap();
        assert_eq!(
            open(&MasterKey::generate(), binding("lambda"), &sealed),
            Err(OpenError)
        );
    }

    #[test]
    fn a_row_copied_to_another_provider_tenant_or_mode_does_not_open() {
        let key = MasterKey::generate();
        let sealed = seal(&key, binding("lambda"), b"s").unwrap();
        assert_eq!(open(&key, binding("runpod"), &sealed), Err(OpenError));
        let other_tenant = Binding {
            tenant_id: "acme",
            ..binding("lambda")
        };
        assert_eq!(open(&key, other_tenant, &sealed), Err(OpenError));
        let sandbox = Binding {
            mode: Mode::Sandbox,
            ..binding("lambda")
        };
        assert_eq!(open(&key, sandbox, &sealed), Err(OpenError));
    }

    #[test]
    fn a_flipped_bit_does_not_open() {
        let key = MasterKey::generate();
        let mut sealed = seal(&key, binding("lambda"), b"secret").unwrap();
        sealed.ciphertext[0] ^= 1;
        assert_eq!(open(&key, binding("lambda"), &sealed), Err(OpenError));
    }

    #[test]
    fn every_write_gets_a_fresh_nonce() {
        let key = MasterKey::generate();
        let nonces: std::collections::HashSet<[u8; 12]> = (0..200)
            .map(|_| seal(&key, binding("lambda"), b"same").unwrap().nonce)
            .collect();
        assert_eq!(nonces.len(), 200);
    }

    #[test]
    fn the_hint_shows_at_most_the_last_four_characters() {
        assert_eq!(hint("secret_0123456789abcd"), "••••abcd");
        assert_eq!(hint("short-key"), "••••");
        assert_eq!(hint(""), "(none)");
        assert!(!hint("secret_0123456789abcd").contains("secret_"));
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes_only_and_debug_shows_only_the_id() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(again.id(), key.id());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
        let dbg = format!("{key:?}");
        assert!(dbg.contains(key.id()) && !dbg.contains(&key.to_base64()));
    }
}

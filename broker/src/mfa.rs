//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step of clock skew) and
//! single-use recovery codes for local accounts. A code is accepted once: the last accepted
//! time step is stored, so a code seen on the wire cannot be replayed. Recovery codes are
//! random (80 bits) and stored as SHA-256 digests. Enrolment is two steps: `mfa_begin` returns
//! the secret (for the QR code), `mfa_activate` proves the device has it and returns the
//! recovery codes once.

use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};
use tracing::instrument;

use crate::accounts::{digest, Accounts, User};
use crate::identity::audit_auth;
use crate::{ConflictKind, Error, Result};

/// Time step of the codes, seconds.
pub const STEP_SECS: u64 = 30;
/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;
/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "gpubroker";

/// Secrets are not length-checked here: ours are 160 bits (`new_secret_b32`); an external
/// provider's (Cognito's) are whatever it issued.
fn totp(secret: &[u8], digits: usize) -> Result<TOTP> {
    Ok(TOTP::new_unchecked(
        Algorithm::SHA1,
        digits,
        1,
        STEP_SECS,
        secret.to_vec(),
    ))
}

/// The code for `secret` at `unix_secs` (RFC 6238, SHA-1, 6 digits).
pub fn code_at(secret: &[u8], unix_secs: u64) -> Result<String> {
    Ok(totp(secret, 6)?.generate(unix_secs))
}

/// Compares two short secrets (codes, OAuth states) in time independent of where they differ.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The code for a base32 secret (as enrolment returns it) at `unix_secs` — what an
/// authenticator app shows.
pub fn code_for_b32(secret_b32: &str, unix_secs: u64) -> Result<String> {
    code_at(&decode_b32(secret_b32)?, unix_secs)
}

/// The time step `code` matches (now, one before or one after), if any and newer than
/// `last_step`.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    unix_secs: u64,
    last_step: Option<i64>,
) -> Result<Option<i64>> {
    let t = totp(secret, 6)?;
    let now_step = i64::try_from(unix_secs / STEP_SECS).unwrap_or(i64::MAX);
    for step in [now_step - 1, now_step, now_step + 1] {
        let Ok(at) = u64::try_from(step) else {
            continue;
        };
        if ct_eq(&t.generate(at * STEP_SECS), code) && last_step.is_none_or(|l| step > l) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// A new random 160-bit secret, base32 (what authenticator apps take).
pub fn new_secret_b32() -> String {
    let mut b = [0u8; 20];
    rand::thread_rng().fill(&mut b);
    match Secret::Raw(b.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    }
}

fn decode_b32(s: &str) -> Result<Vec<u8>> {
    let s = s.trim().to_ascii_uppercase();
    Secret::Encoded(s.trim_end_matches('=').to_string())
        .to_bytes()
        .map_err(|e| Error::Internal(format!("stored TOTP secret: {e:?}")))
}

use providers::http::percent_encode as enc;

/// The `otpauth://` URI authenticator apps scan (Key Uri Format).
pub fn otpauth_uri(account: &str, secret_b32: &str) -> String {
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret_b32}&issuer={issuer}&algorithm=SHA1&digits=6&period={STEP_SECS}",
        issuer = enc(ISSUER),
        account = enc(account)
    )
}

/// Ten new recovery codes (`XXXX-XXXX-XXXX-XXXX`, 80 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            (0..4)
                .map(|_| {
                    (0..4)
                        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A recovery code as typed (case, spaces and dashes ignored) to its stored form.
pub fn normalize_recovery_code(raw: &str) -> String {
    let s: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What enrolment shows the user.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

impl Accounts {
    fn unix_secs(&self) -> u64 {
        u64::try_from(self.clock.now_ms() / 1000).unwrap_or(0)
    }

    /// Whether the user has an active TOTP factor.
    pub async fn mfa_enabled(&self, user_id: &str) -> Result<bool> {
        let r: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT enabled_at FROM user_totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(r.and_then(|r| r.0).is_some())
    }

    /// Starts (or restarts) enrolment: a new pending secret. Refused when MFA is active.
    #[instrument(skip_all)]
    pub async fn mfa_begin(&self, user: &User) -> Result<Enrolment> {
        if self.mfa_enabled(&user.id).await? {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "MFA is already active; disable it first to enrol a new device",
            ));
        }
        let secret = new_secret_b32();
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO user_totp (user_id, secret_b32, enabled_at, last_step, created_at) VALUES ($1, $2, NULL, NULL, $3) \
             ON CONFLICT (user_id) DO UPDATE SET secret_b32 = $2, enabled_at = NULL, last_step = NULL, created_at = $3",
        )
        .bind(&user.id)
        .bind(&secret)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit_auth(
            &mut tx,
            now,
            Some(&user.tenant_id),
            &user.email,
            "auth.mfa_enrol_started",
            &format!("user:{}", user.id),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(Enrolment {
            otpauth_uri: otpauth_uri(&user.email, &secret),
            secret,
        })
    }

    /// Finishes enrolment with a code from the device; returns the recovery codes (shown once).
    #[instrument(skip_all)]
    pub async fn mfa_activate(&self, user: &User, code: &str) -> Result<Vec<String>> {
        let row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT secret_b32, enabled_at FROM user_totp WHERE user_id = $1")
                .bind(&user.id)
                .fetch_optional(&self.db.pool)
                .await?;
        let Some((secret, None)) = row else {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "no MFA enrolment is pending; start one first",
            ));
        };
        let now = self.clock.now_ms();
        let subject = format!("user:{}", user.id);
        let Some(step) = matching_step(&decode_b32(&secret)?, code.trim(), self.unix_secs(), None)?
        else {
            self.audit_event(
                Some(&user.tenant_id),
                &user.email,
                "auth.mfa_failed",
                &subject,
                Some("enrolment code did not match"),
            )
            .await?;
            return Err(Error::invalid(
                "code",
                "the code does not match; check the device's clock and try the next code",
            ));
        };
        let codes = new_recovery_codes();
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE user_totp SET enabled_at = $1, last_step = $2 WHERE user_id = $3")
            .bind(now)
            .bind(step)
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        for c in &codes {
            sqlx::query("INSERT INTO recovery_codes (code_hash, user_id, used_at, created_at) VALUES ($1, $2, NULL, $3)")
                .bind(digest(c))
                .bind(&user.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        audit_auth(
            &mut tx,
            now,
            Some(&user.tenant_id),
            &user.email,
            "auth.mfa_enrolled",
            &subject,
            Some("totp"),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Turns MFA off after a valid code (TOTP or recovery).
    #[instrument(skip_all)]
    pub async fn mfa_disable(&self, user: &User, code: &str) -> Result<()> {
        if !self.mfa_enabled(&user.id).await? {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "MFA is not active",
            ));
        }
        let subject = format!("user:{}", user.id);
        if self.check_second_factor(user, code).await?.is_none() {
            self.audit_event(
                Some(&user.tenant_id),
                &user.email,
                "auth.mfa_failed",
                &subject,
                Some("disable: wrong code"),
            )
            .await?;
            return Err(Error::invalid("code", "the code is not valid"));
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        remove_totp(&mut tx, &user.id).await?;
        audit_auth(
            &mut tx,
            now,
            Some(&user.tenant_id),
            &user.email,
            "auth.mfa_disabled",
            &subject,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An administrator removes a user's second factor (lost device): the TOTP secret and
    /// recovery codes go, `auth.mfa_reset` is audited with the admin and the reason, and the
    /// user is mailed, all in one transaction. Refused when MFA is not active.
    #[instrument(skip_all, fields(user = user_id))]
    pub async fn mfa_reset(&self, admin: &User, user_id: &str, reason: &str) -> Result<()> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::invalid("reason", "say why"));
        }
        let user = self.by_id(user_id).await?;
        if !self.mfa_enabled(&user.id).await? {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "MFA is not active for this user",
            ));
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        remove_totp(&mut tx, &user.id).await?;
        audit_auth(
            &mut tx,
            now,
            Some(&user.tenant_id),
            &admin.email,
            "auth.mfa_reset",
            &format!("user:{}", user.id),
            Some(reason),
        )
        .await?;
        crate::mail::send(
            &mut tx,
            now,
            &user.tenant_id,
            &user.email,
            &crate::mail::Template::MfaReset {
                reason: reason.to_string(),
            },
            &format!("mfa-reset:{}:{now}", user.id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a second factor and consumes it: a TOTP code (its step is remembered) or a
    /// recovery code (marked used). Returns which kind matched.
    pub(crate) async fn check_second_factor(
        &self,
        user: &User,
        code: &str,
    ) -> Result<Option<&'static str>> {
        let code = code.trim();
        let now = self.clock.now_ms();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let row: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT secret_b32, last_step FROM user_totp WHERE user_id = $1 AND enabled_at IS NOT NULL",
            )
            .bind(&user.id)
            .fetch_optional(&self.db.pool)
            .await?;
            let Some((secret, last)) = row else {
                return Ok(None);
            };
            let Some(step) = matching_step(&decode_b32(&secret)?, code, self.unix_secs(), last)?
            else {
                return Ok(None);
            };
            // Conditional on the step we read, so two concurrent uses of one code cannot both pass.
            let won = sqlx::query(
                "UPDATE user_totp SET last_step = $1 WHERE user_id = $2 AND (last_step IS NULL OR last_step < $1)",
            )
            .bind(step)
            .bind(&user.id)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
            return Ok((won == 1).then_some("totp"));
        }
        let used = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE code_hash = $2 AND user_id = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(digest(&normalize_recovery_code(code)))
        .bind(&user.id)
        .execute(&self.db.pool)
        .await?
        .rows_affected();
        if used == 1 {
            self.audit_event(
                Some(&user.tenant_id),
                &user.email,
                "auth.recovery_code_used",
                &format!("user:{}", user.id),
                None,
            )
            .await?;
            return Ok(Some("recovery_code"));
        }
        Ok(None)
    }
}

/// Removes a user's TOTP secret and recovery codes (disable and admin reset), on the
/// caller's transaction.
async fn remove_totp(conn: &mut sqlx::AnyConnection, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA-1 seed and the 8-digit codes at the listed times.
    #[test]
    fn rfc6238_sha1_vectors_match() {
        let seed = b"12345678901234567890";
        let t = totp(seed, 8).unwrap();
        for (time, want) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time), want, "t={time}");
        }
    }

    #[test]
    fn rfc6238_sha256_and_sha512_vectors_match() {
        let s256 = b"12345678901234567890123456789012".to_vec();
        let s512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let t256 = TOTP::new(Algorithm::SHA256, 8, 1, 30, s256).unwrap();
        let t512 = TOTP::new(Algorithm::SHA512, 8, 1, 30, s512).unwrap();
        assert_eq!(t256.generate(59), "46119246");
        assert_eq!(t512.generate(59), "90693936");
        assert_eq!(t256.generate(1_111_111_109), "68084774");
        assert_eq!(t512.generate(1_111_111_109), "25091201");
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_but_never_twice() {
        let secret = b"12345678901234567890";
        let now = 1_700_000_000u64;
        let code = code_at(secret, now).unwrap();
        let step = i64::try_from(now / STEP_SECS).unwrap();
        assert_eq!(matching_step(secret, &code, now, None).unwrap(), Some(step));
        assert_eq!(
            matching_step(secret, &code, now + 30, None).unwrap(),
            Some(step)
        );
        assert_eq!(matching_step(secret, &code, now + 90, None).unwrap(), None);
        assert_eq!(
            matching_step(secret, &code, now, Some(step)).unwrap(),
            None,
            "replay"
        );
        assert_eq!(
            matching_step(secret, "000000", now, None)
                .unwrap()
                .is_some(),
            code == "000000"
        );
    }

    #[test]
    fn secrets_round_trip_through_base32_and_the_uri_names_them() {
        let s = new_secret_b32();
        assert_eq!(decode_b32(&s).unwrap().len(), 20);
        let uri = otpauth_uri("a+b@example.com", &s);
        assert!(uri.starts_with("otpauth://totp/gpubroker:a%2Bb%40example.com?secret="));
        assert!(uri.contains(&s) && uri.contains("issuer=gpubroker") && uri.contains("period=30"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize_as_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 10);
        let c = &codes[0];
        assert_eq!(
            normalize_recovery_code(&c.to_lowercase().replace('-', " ")),
            *c
        );
    }
}

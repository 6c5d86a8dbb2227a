//! Stripe webhook signatures (pure): `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`
//! where each `v1` is HMAC-SHA256 over `"{t}.{payload}"` keyed by the endpoint's signing
//! secret. Several `v1` values are accepted (Stripe sends one per active secret while a
//! secret rolls); each is compared in constant time; the timestamp must be within the
//! tolerance window of now (either side), so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp `t=`")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no `v1=` signature")]
    NoSignature,
    #[error("the signature timestamp is {age_seconds} s away from now (tolerance {tolerance_seconds} s)")]
    OutsideTolerance {
        age_seconds: i64,
        tolerance_seconds: i64,
    },
    #[error("no `v1` signature matches the payload")]
    Mismatch,
}

/// The `v1` signature (lower-case hex) of `payload` at `timestamp`.
pub fn sign_v1(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, payload).finalize().into_bytes())
}

/// A complete `Stripe-Signature` header value for `payload` signed at `timestamp`.
pub fn header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign_v1(secret, timestamp, payload))
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut m = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(payload);
    m
}

#[expect(
    clippy::panic,
    reason = "HMAC takes keys of every length; this cannot happen"
)]
fn unreachable_hmac() -> HmacSha256 {
    panic!("HMAC rejected a key")
}

/// Verifies `header` for `payload` at `now_seconds` with a tolerance window.
pub fn verify(
    secret: &str,
    header: Option<&str>,
    payload: &[u8],
    now_seconds: i64,
    tolerance_seconds: i64,
) -> Result<(), SignatureError> {
    let header = header
        .filter(|h| !h.trim().is_empty())
        .ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.trim().parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(bytes) = hex::decode(v.trim()) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if candidates.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let age = now_seconds.saturating_sub(t);
    if age.saturating_abs() > tolerance_seconds {
        return Err(SignatureError::OutsideTolerance {
            age_seconds: age,
            tolerance_seconds,
        });
    }
    let expected = mac(secret, t, payload);
    // Every candidate is checked (no early exit on the first match) and each comparison is
    // constant-time (`verify_slice`), so timing says nothing about which bytes matched.
    let matched = candidates
        .iter()
        .fold(false, |ok, c| expected.clone().verify_slice(c).is_ok() | ok);
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn a_signature_made_here_verifies() {
        let body = br#"{"id":"evt_1"}"#;
        let h = header(SECRET, 1_000, body);
        assert_eq!(verify(SECRET, Some(&h), body, 1_010, 300), Ok(()));
    }

    #[test]
    fn the_signature_matches_an_independent_hmac() {
        // `printf '1000.{}' | openssl dgst -sha256 -hmac whsec_test_secret`
        assert_eq!(
            sign_v1(SECRET, 1000, b"{}"),
            "230ea6be829c59eb46e9b0c8955ab2b69ed6607e288ee283a8a1471fd5f3ad53"
        );
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let body = b"payload";
        let good = sign_v1(SECRET, 50, body);
        let h = format!("t=50,v1={},v0=abc,v1={good}", "00".repeat(32));
        assert_eq!(verify(SECRET, Some(&h), body, 50, 300), Ok(()));
    }

    #[test]
    fn a_tampered_payload_or_wrong_secret_is_a_mismatch() {
        let h = header(SECRET, 50, b"payload");
        assert_eq!(
            verify(SECRET, Some(&h), b"payloaD", 50, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_other", Some(&h), b"payload", 50, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_outside_the_tolerance() {
        let h = header(SECRET, 1_000, b"x");
        assert!(matches!(
            verify(SECRET, Some(&h), b"x", 1_301, 300),
            Err(SignatureError::OutsideTolerance { .. })
        ));
        assert!(matches!(
            verify(SECRET, Some(&h), b"x", 699, 300),
            Err(SignatureError::OutsideTolerance { .. })
        ));
        assert_eq!(verify(SECRET, Some(&h), b"x", 1_300, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_are_named() {
        assert_eq!(
            verify(SECRET, None, b"x", 0, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some("v1=00"), b"x", 0, 300),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify(SECRET, Some("t=0,v1=zz"), b"x", 0, 300),
            Err(SignatureError::NoSignature)
        );
    }
}

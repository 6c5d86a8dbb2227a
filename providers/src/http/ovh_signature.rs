//! OVHcloud's application signature (<https://help.ovhcloud.com/csm/en-gb-api-getting-started-ovhcloud-api>):
//! every request carries `X-Ovh-Application`, `X-Ovh-Consumer`, `X-Ovh-Timestamp` and
//! `X-Ovh-Signature` = `"$1$" + hex(SHA1(AS + "+" + CK + "+" + METHOD + "+" + URL + "+"
//! + BODY + "+" + TIMESTAMP))`, where URL is the full URL with its query string.
//!
//! The credential is `application_key:application_secret:consumer_key`.

use sha1::{Digest, Sha1};

/// The four headers of a signed request, or `None` when the credential does not have three
/// non-empty parts.
pub fn headers(
    credential: &str,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
) -> Option<[(&'static str, String); 4]> {
    let mut parts = credential.splitn(3, ':');
    let (ak, secret, ck) = (parts.next()?, parts.next()?, parts.next()?);
    if ak.is_empty() || secret.is_empty() || ck.is_empty() {
        return None;
    }
    Some([
        ("X-Ovh-Application", ak.to_string()),
        ("X-Ovh-Consumer", ck.to_string()),
        ("X-Ovh-Timestamp", timestamp.to_string()),
        (
            "X-Ovh-Signature",
            signature(secret, ck, method, url, body, timestamp),
        ),
    ])
}

/// `$1$` + the hex SHA-1 of the `+`-joined request facts.
pub fn signature(
    application_secret: &str,
    consumer_key: &str,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: i64,
) -> String {
    let mut h = Sha1::new();
    h.update(application_secret.as_bytes());
    h.update(b"+");
    h.update(consumer_key.as_bytes());
    h.update(b"+");
    h.update(method.as_bytes());
    h.update(b"+");
    h.update(url.as_bytes());
    h.update(b"+");
    h.update(body);
    h.update(b"+");
    h.update(timestamp.to_string().as_bytes());
    format!("$1${}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_sha1_of_the_joined_request_facts() {
        // sha1("AS+CK+GET+https://eu.api.ovh.com/1.0/me++1700000000")
        let sig = signature(
            "AS",
            "CK",
            "GET",
            "https://eu.api.ovh.com/1.0/me",
            b"",
            1_700_000_000,
        );
        let mut h = Sha1::new();
        h.update(b"AS+CK+GET+https://eu.api.ovh.com/1.0/me++1700000000");
        assert_eq!(sig, format!("$1${}", hex::encode(h.finalize())));
        assert_eq!(sig.len(), 3 + 40);
        let hs = headers(
            "AK:AS:CK",
            "GET",
            "https://eu.api.ovh.com/1.0/me",
            b"",
            1_700_000_000,
        )
        .unwrap();
        assert_eq!(hs[0], ("X-Ovh-Application", "AK".to_string()));
        assert_eq!(hs[1], ("X-Ovh-Consumer", "CK".to_string()));
        assert_eq!(hs[3].1, sig);
        assert!(headers("AK:AS", "GET", "u", b"", 0).is_none());
    }
}

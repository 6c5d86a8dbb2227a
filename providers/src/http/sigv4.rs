//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) request signing, as a pure function of the
//! request, the credentials, the scope and the time
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>).
//!
//! The credential is `access_key_id:secret_access_key`. Checked against AWS's published
//! test-suite vectors (`get-vanilla`) and the S3 documentation example in the tests below.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::percent_encode;

type HmacSha256 = Hmac<Sha256>;

/// Where a signature is valid: the region and the service signing name (`ec2`, `pricing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub service: String,
}

/// A request as SigV4 sees it. `headers` are the headers to sign besides `host` and
/// `x-amz-date` (which the signer adds), names in any case.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path, already URI-encoded as sent (`/` when empty).
    pub path: &'a str,
    /// The raw query string (without `?`), as sent.
    pub query: &'a str,
    /// `host[:port]` as sent in the `Host` header.
    pub host: &'a str,
    pub headers: &'a [(String, String)],
    pub payload: &'a [u8],
}

/// The headers to add to a request: `x-amz-date` and `authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

/// Signs `req` with `credential` (`access_key_id:secret_access_key`) for `scope` at `at`;
/// `None` when the credential does not have both parts.
pub fn sign(
    req: &Request<'_>,
    credential: &str,
    scope: &Scope,
    at: DateTime<Utc>,
) -> Option<Signed> {
    let (access_key, secret) = credential.split_once(':')?;
    if access_key.is_empty() || secret.is_empty() {
        return None;
    }
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let date = at.format("%Y%m%d").to_string();

    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), normalize_space(v)))
        .filter(|(k, _)| k != "host" && k != "x-amz-date" && k != "authorization")
        .collect();
    headers.push(("host".to_string(), req.host.to_string()));
    headers.push(("x-amz-date".to_string(), amz_date.clone()));
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let path = if req.path.is_empty() { "/" } else { req.path };
    let canonical_request = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        req.method,
        canonical_query(req.query),
        hex::encode(Sha256::digest(req.payload)),
    );
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{credential_scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    Some(Signed {
        amz_date,
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/{credential_scope}, \
             SignedHeaders={signed_headers}, Signature={signature}"
        ),
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Trimmed, with inner runs of spaces collapsed to one.
fn normalize_space(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parameters sorted by name then value, each part re-encoded the SigV4 way.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_encode(&decode(k)), percent_encode(&decode(v)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-decoding (`+` stays `+`: query strings here are built by [`percent_encode`]).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const AK: &str = "AKIDEXAMPLE";

    #[test]
    fn the_aws_test_suite_get_vanilla_vector_signs_exactly() {
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            host: "example.amazonaws.com",
            headers: &[],
            payload: b"",
        };
        let scope = Scope {
            region: "us-east-1".into(),
            service: "service".into(),
        };
        let at = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();

        let s = sign(
            &req,
            &format!("{AK}:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            &scope,
            at,
        )
        .unwrap();

        assert_eq!(s.amz_date, "20150830T123600Z");
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn the_s3_documentation_get_object_example_signs_exactly() {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let headers = [
            ("Range".to_string(), "bytes=0-9".to_string()),
            ("x-amz-content-sha256".to_string(), empty.to_string()),
        ];
        let req = Request {
            method: "GET",
            path: "/test.txt",
            query: "",
            host: "examplebucket.s3.amazonaws.com",
            headers: &headers,
            payload: b"",
        };
        let scope = Scope {
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        let at = Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0).unwrap();

        let s = sign(
            &req,
            "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            &scope,
            at,
        )
        .unwrap();

        assert!(
            s.authorization.ends_with(
                "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ),
            "{}",
            s.authorization
        );
    }

    #[test]
    fn query_parameters_are_sorted_and_reencoded_and_bad_keys_refused() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            host: "h",
            headers: &[],
            payload: b"",
        };
        let scope = Scope {
            region: "r".into(),
            service: "s".into(),
        };
        assert_eq!(sign(&req, "no-secret", &scope, Utc::now()), None);
    }
}

//! OAuth 1.0a `PLAINTEXT` request signing, as Canonical MAAS wants it: the API key
//! `consumer_key:token_key:token_secret` (empty consumer secret) becomes an `Authorization`
//! header with a fresh timestamp and nonce on every request.

use super::percent_encode;

/// The `Authorization` header value for `key` (`consumer:token:secret`), or `None` when the
/// key does not have three parts.
pub fn plaintext_header(key: &str, timestamp: i64, nonce: &str) -> Option<String> {
    let mut parts = key.splitn(3, ':');
    let (consumer, token, secret) = (parts.next()?, parts.next()?, parts.next()?);
    if consumer.is_empty() || token.is_empty() {
        return None;
    }
    // signature = consumer_secret "&" token_secret, with an empty consumer secret.
    let signature = format!("&{secret}");
    Some(format!(
        "OAuth realm=\"\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", \
         oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"{}\", \
         oauth_timestamp=\"{timestamp}\", oauth_nonce=\"{}\", oauth_version=\"1.0\"",
        percent_encode(consumer),
        percent_encode(token),
        percent_encode(&signature),
        percent_encode(nonce),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plaintext_signature_is_the_encoded_token_secret_after_an_ampersand() {
        let h = plaintext_header("ck:tk:s3cr/t", 1_700_000_000, "n1").unwrap();
        assert!(h.starts_with("OAuth realm=\"\""));
        assert!(h.contains("oauth_consumer_key=\"ck\""));
        assert!(h.contains("oauth_token=\"tk\""));
        assert!(h.contains("oauth_signature_method=\"PLAINTEXT\""));
        assert!(h.contains("oauth_signature=\"%26s3cr%2Ft\""));
        assert!(h.contains("oauth_timestamp=\"1700000000\""));
        assert!(h.contains("oauth_nonce=\"n1\""));
        assert_eq!(plaintext_header("only:two", 0, "n"), None);
    }
}

//! Verifying an external issuer's RS256 JWTs against its JWKS: the key set is fetched once,
//! cached, and fetched again when a token names an unknown `kid` (key rotation), at most once
//! per `min_refetch`. Checks: signature (RS256 only), `iss`, `exp` (and `nbf`), `token_use`
//! (`access` or `id`) and the audience (`client_id` for access tokens, `aud` for ID tokens).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::error::{ApiError, ApiResult};

/// The claims we read from a Cognito token.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub exp: i64,
    pub token_use: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub aud: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kid: String,
    kty: String,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

struct Cache {
    keys: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

/// A cached JWKS and the rules a token must pass.
pub struct Verifier {
    url: String,
    issuer: String,
    client_id: String,
    http: reqwest::Client,
    min_refetch: Duration,
    cache: RwLock<Cache>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("url", &self.url)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("the access token is invalid or expired")
}

impl Verifier {
    pub fn new(url: String, issuer: String, client_id: String, min_refetch: Duration) -> Self {
        Verifier {
            url,
            issuer,
            client_id,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            min_refetch,
            cache: RwLock::new(Cache {
                keys: HashMap::new(),
                fetched: None,
            }),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether a key id is in the cached key set.
    pub async fn knows(&self, kid: &str) -> bool {
        self.cache.read().await.keys.contains_key(kid)
    }

    async fn fetch(&self) -> ApiResult<()> {
        let mut cache = self.cache.write().await;
        if cache
            .fetched
            .is_some_and(|t| t.elapsed() < self.min_refetch)
        {
            return Ok(());
        }
        cache.fetched = Some(Instant::now());
        let set: JwkSet = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| {
                tracing::warn!(error = %e, url = %self.url, "JWKS fetch failed");
                unauthorized()
            })?
            .json()
            .await
            .map_err(|_| unauthorized())?;
        let mut keys = HashMap::new();
        for k in set.keys.into_iter().filter(|k| k.kty == "RSA") {
            if let (Some(n), Some(e)) = (&k.n, &k.e) {
                if let Ok(d) = DecodingKey::from_rsa_components(n, e) {
                    keys.insert(k.kid, d);
                }
            }
        }
        cache.keys = keys;
        Ok(())
    }

    /// Verifies a token; any failure is a plain 401.
    pub async fn verify(&self, token: &str) -> ApiResult<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized())?;
        if header.alg != Algorithm::RS256 {
            return Err(unauthorized());
        }
        let kid = header.kid.ok_or_else(unauthorized)?;
        if !self.knows(&kid).await {
            self.fetch().await?;
        }
        let cache = self.cache.read().await;
        let key = cache.keys.get(&kid).ok_or_else(unauthorized)?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[&self.issuer]);
        v.validate_aud = false;
        v.leeway = 30;
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &v)
            .map_err(|_| unauthorized())?
            .claims;
        let audience_ok = match claims.token_use.as_str() {
            "access" => claims.client_id.as_deref() == Some(self.client_id.as_str()),
            "id" => claims.aud.as_deref() == Some(self.client_id.as_str()),
            _ => false,
        };
        if !audience_ok {
            return Err(unauthorized());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::routing::get;
    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header};
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    use serde_json::json;

    use super::*;

    struct Key {
        kid: &'static str,
        enc: EncodingKey,
        jwk: serde_json::Value,
    }

    fn key(kid: &'static str) -> Key {
        let k = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let pem = k.to_pkcs1_pem(LineEnding::LF).unwrap();
        Key {
            kid,
            enc: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            jwk: json!({"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
                        "n": b(&k.n().to_bytes_be()), "e": b(&k.e().to_bytes_be())}),
        }
    }

    fn token(k: &Key, claims: serde_json::Value) -> String {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(k.kid.into());
        jsonwebtoken::encode(&h, &claims, &k.enc).unwrap()
    }

    #[tokio::test]
    async fn a_rotated_key_is_fetched_on_its_unknown_kid_and_the_claims_are_checked() {
        let served = Arc::new(Mutex::new(json!({"keys": []})));
        let s2 = Arc::clone(&served);
        // A test double of the pool's key endpoint (not a route of the product): it answers
        // every path with the current key set.
        let app = axum::Router::new().fallback(get(move || {
            let v = s2.lock().unwrap().clone();
            async move { axum::Json(v) }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let (a, b) = (key("a"), key("b"));
        *served.lock().unwrap() = json!({"keys": [a.jwk]});
        let v = Verifier::new(
            url,
            "https://issuer".into(),
            "client-1".into(),
            Duration::ZERO,
        );
        let exp = chrono::Utc::now().timestamp() + 600;
        let ok = json!({"sub": "s1", "iss": "https://issuer", "exp": exp, "token_use": "access", "client_id": "client-1"});
        assert_eq!(v.verify(&token(&a, ok.clone())).await.unwrap().sub, "s1");
        assert!(!v.knows("b").await);

        // The pool rotates to key b: a token naming b makes the verifier fetch again.
        *served.lock().unwrap() = json!({"keys": [a.jwk, b.jwk]});
        assert_eq!(v.verify(&token(&b, ok.clone())).await.unwrap().sub, "s1");
        assert!(v.knows("b").await);

        let id_token = json!({"sub": "s1", "iss": "https://issuer", "exp": exp, "token_use": "id", "aud": "client-1"});
        assert!(v.verify(&token(&a, id_token)).await.is_ok());
        let mut bad = Vec::new();
        for (k, val) in [
            ("iss", json!("https://other")),
            ("client_id", json!("client-2")),
            ("token_use", json!("refresh")),
            ("exp", json!(chrono::Utc::now().timestamp() - 3600)),
        ] {
            let mut c = ok.clone();
            c[k] = val;
            bad.push((k, v.verify(&token(&a, c)).await.is_err()));
        }
        assert!(bad.iter().all(|(_, rejected)| *rejected), "{bad:?}");
        server.abort();
    }
}

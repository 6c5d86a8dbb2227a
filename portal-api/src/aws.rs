//! The AWS adapters' shared plumbing (one HTTP client, one credentials source, one region)
//! and the SES mail transport. The SDK clients use rustls with ring (no cmake, no aws-lc) over
//! hyper; the same client speaks `https://` to AWS and `http://` to a loopback test double
//! (moto) when `GPUBROKER_AWS_ENDPOINT_URL` is set.

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use broker::mail::{OutboxMail, SendError, Transport};

use crate::config::Config;

/// What every AWS client is built from.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub credentials: Option<Credentials>,
}

impl AwsSettings {
    /// From the boot configuration (`GPUBROKER_AWS_*`).
    pub fn from_config(cfg: &Config) -> AwsSettings {
        let credentials = match (&cfg.aws_access_key_id, &cfg.aws_secret_access_key) {
            (Some(id), Some(secret)) if !id.is_empty() => Some(Credentials::new(
                id.clone(),
                secret.0.clone(),
                cfg.aws_session_token
                    .as_ref()
                    .map(|t| t.0.clone())
                    .filter(|t| !t.is_empty()),
                None,
                "gpubroker-config",
            )),
            _ => None,
        };
        AwsSettings {
            region: cfg.aws_region.clone().unwrap_or_else(|| "us-east-1".into()),
            endpoint_url: cfg.aws_endpoint_url.clone().filter(|u| !u.is_empty()),
            credentials,
        }
    }
}

/// The HTTP client every SDK client uses (rustls + ring; `http://` allowed for test doubles).
pub fn http_client() -> aws_sdk_sesv2::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// A Cognito user-pools client.
pub fn cognito(s: &AwsSettings) -> aws_sdk_cognitoidentityprovider::Client {
    use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Builder, Region};
    let mut b = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .http_client(http_client());
    if let Some(c) = &s.credentials {
        b = b.credentials_provider(c.clone());
    }
    if let Some(e) = &s.endpoint_url {
        b = b.endpoint_url(e.clone());
    }
    aws_sdk_cognitoidentityprovider::Client::from_conf(b.build())
}

/// An SES v2 client.
pub fn ses(s: &AwsSettings) -> aws_sdk_sesv2::Client {
    use aws_sdk_sesv2::config::{BehaviorVersion, Builder, Region};
    let mut b = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .http_client(http_client());
    if let Some(c) = &s.credentials {
        b = b.credentials_provider(c.clone());
    }
    if let Some(e) = &s.endpoint_url {
        b = b.endpoint_url(e.clone());
    }
    aws_sdk_sesv2::Client::from_conf(b.build())
}

/// Amazon SES (v2 `SendEmail`, simple content: text + HTML) as the broker's mail transport.
#[derive(Debug, Clone)]
pub struct SesTransport {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesTransport {
    pub fn new(client: aws_sdk_sesv2::Client, from: String) -> Self {
        SesTransport { client, from }
    }
}

fn content(data: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::Permanent(e.to_string()))
}

#[async_trait]
impl Transport for SesTransport {
    fn name(&self) -> &'static str {
        "ses"
    }

    #[tracing::instrument(skip_all, fields(mail = %mail.id, kind = %mail.kind))]
    async fn send(&self, mail: &OutboxMail) -> Result<String, SendError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .text(content(&mail.body_text)?)
                    .html(content(&mail.body_html)?)
                    .build(),
            )
            .build();
        let tag = MessageTag::builder()
            .name("gpubroker_mail_id")
            .value(&mail.id)
            .build()
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .email_tags(tag)
            .send()
            .await;
        match out {
            Ok(o) => Ok(o.message_id().unwrap_or_default().to_string()),
            Err(SdkError::ServiceError(e)) => {
                let err = e.err();
                let text = format!("{err}");
                if err.is_too_many_requests_exception() || e.raw().status().as_u16() >= 500 {
                    Err(SendError::Transient(text))
                } else {
                    Err(SendError::Permanent(text))
                }
            }
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

//! AWS Cognito user pools as the identity provider: SignUp / ConfirmSignUp, InitiateAuth
//! (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH), the SOFTWARE_TOKEN_MFA challenge, software-token
//! enrolment (AssociateSoftwareToken / VerifySoftwareToken / SetUserMFAPreference) and
//! GlobalSignOut / RevokeToken. The pool's tokens are what clients send as bearer tokens; they
//! are verified against the pool's JWKS ([`super::jwks`]) and the pool's `sub` is mapped to a
//! local user row (created on first sight, e.g. after a hosted-UI Google/GitHub sign-in).
//!
//! The app client must be a public client (no secret) with USER_PASSWORD_AUTH and
//! REFRESH_TOKEN_AUTH enabled.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, ChallengeNameType,
    SoftwareTokenMfaSettingsType, VerifySoftwareTokenResponseType,
};
use aws_sdk_cognitoidentityprovider::Client;
use base64::Engine;
use broker::accounts::User;
use broker::identity::Provider;
use broker::tenants::{Mode, DEFAULT_TENANT};
use broker::{Broker, ConflictKind};

use super::hosted_ui::{HostedUi, Tokens};
use super::jwks::{Claims, Verifier};
use super::{Caller, Confirmation, Enrolment, IdentityPort, Login, Session, SignUp};
use crate::error::{ApiError, ApiResult};

/// Where the pool is.
#[derive(Debug, Clone)]
pub struct CognitoSettings {
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    /// The JWKS URL (the pool's on AWS; `<endpoint>/<pool>/.well-known/jwks.json` on moto).
    pub jwks_url: String,
}

impl CognitoSettings {
    /// The `iss` of the pool's tokens.
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region, self.user_pool_id
        )
    }

    /// The default JWKS URL: the pool's own, or under the endpoint override.
    pub fn default_jwks_url(region: &str, pool: &str, endpoint: Option<&str>) -> String {
        match endpoint {
            Some(e) => format!("{}/{pool}/.well-known/jwks.json", e.trim_end_matches('/')),
            None => {
                format!("https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json")
            }
        }
    }
}

/// A Cognito user pool.
pub struct CognitoIdentity {
    client: Client,
    settings: CognitoSettings,
    verifier: Verifier,
    broker: Arc<Broker>,
    /// The pool's hosted UI, when a domain is configured (OAuth sign-in).
    hosted_ui: Option<HostedUi>,
}

fn sdk_error<E, R>(e: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let code = e.code().map(str::to_string);
    let message = e.message().unwrap_or("").to_string();
    let b = match code.as_deref() {
        Some("UsernameExistsException" | "AliasExistsException") => broker::Error::conflict(
            ConflictKind::EmailTaken,
            "an account with this email exists",
        ),
        Some("InvalidPasswordException") => broker::Error::invalid("password", message),
        Some("InvalidParameterException") => broker::Error::invalid("email", message),
        Some("NotAuthorizedException" | "UserNotFoundException") => {
            broker::Error::Unauthenticated("invalid email, password or token")
        }
        Some("UserNotConfirmedException") => broker::Error::EmailNotVerified,
        Some(
            "CodeMismatchException" | "ExpiredCodeException" | "EnableSoftwareTokenMFAException",
        ) => broker::Error::invalid("code", message),
        Some(
            "TooManyRequestsException"
            | "LimitExceededException"
            | "TooManyFailedAttemptsException",
        ) => broker::Error::TooManyAttempts {
            retry_after_secs: 30,
        },
        _ => {
            tracing::warn!(error = ?e, "cognito call failed");
            broker::Error::Internal(format!("cognito: {}", code.unwrap_or_default()))
        }
    };
    ApiError::Broker(b)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

impl CognitoIdentity {
    pub fn new(client: Client, settings: CognitoSettings, broker: Arc<Broker>) -> Self {
        let verifier = Verifier::new(
            settings.jwks_url.clone(),
            settings.issuer(),
            settings.client_id.clone(),
            Duration::from_secs(10),
        );
        CognitoIdentity {
            client,
            settings,
            verifier,
            broker,
            hosted_ui: None,
        }
    }

    /// Offers OAuth sign-in through the pool's hosted UI.
    pub fn with_hosted_ui(mut self, hosted_ui: Option<HostedUi>) -> Self {
        self.hosted_ui = hosted_ui;
        self
    }

    pub fn hosted_ui(&self) -> Option<&HostedUi> {
        self.hosted_ui.as_ref()
    }

    /// The session of a hosted-UI sign-in: the pool's tokens from the code exchange, verified
    /// like any other (the ID token gives the address of a first-time user).
    pub async fn hosted_ui_session(&self, t: &Tokens, provider: &str) -> ApiResult<Session> {
        let access = self.verifier.verify(&t.access_token).await?;
        let user = match &t.id_token {
            Some(id) => {
                let claims = self.verifier.verify(id).await?;
                if claims.sub != access.sub {
                    return Err(ApiError::Unauthorized(
                        "the ID and access tokens are of different users",
                    ));
                }
                self.user_of(&claims, id).await?
            }
            None => self.user_of(&access, &t.access_token).await?,
        };
        let how = format!("cognito hosted UI ({provider})");
        self.audit(&user.email, "auth.login", Some(&how)).await?;
        Ok(Session {
            access_token: t.access_token.clone(),
            refresh_token: t.refresh_token.clone().unwrap_or_default(),
            token_type: "Bearer",
            expires_in: t
                .expires_in
                .unwrap_or_else(|| (access.exp - self.broker.clock.now_ms() / 1000).max(0)),
            user,
        })
    }

    pub fn issuer(&self) -> &str {
        self.verifier.issuer()
    }

    /// Verifies a pool token and returns the local user it maps to.
    pub async fn authenticate(&self, token: &str) -> ApiResult<User> {
        let claims = self.verifier.verify(token).await?;
        self.user_of(&claims, token).await
    }

    async fn user_of(&self, claims: &Claims, token: &str) -> ApiResult<User> {
        if let Some(u) = self
            .broker
            .accounts
            .by_external(Provider::Cognito, &claims.sub)
            .await?
        {
            return Ok(u);
        }
        // First sight (e.g. a hosted-UI sign-in): the address comes from the ID token or
        // from GetUser with the access token.
        let email = match (&claims.email, claims.token_use.as_str()) {
            (Some(e), _) => e.clone(),
            (None, "access") => {
                let out = self
                    .client
                    .get_user()
                    .access_token(token)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                out.user_attributes()
                    .iter()
                    .find(|a| a.name() == "email")
                    .and_then(|a| a.value())
                    .map(str::to_string)
                    .ok_or(ApiError::Unauthorized("the Cognito user has no email"))?
            }
            _ => return Err(ApiError::Unauthorized("the Cognito user has no email")),
        };
        Ok(self
            .broker
            .accounts
            .link_external(DEFAULT_TENANT, Provider::Cognito, &claims.sub, &email)
            .await?)
    }

    /// Audits a hosted-UI sign-in that did not finish (nobody known yet: the provider is
    /// the actor).
    pub async fn hosted_ui_failed(&self, provider: &str, reason: &str) -> ApiResult<()> {
        let actor = format!("oauth:{provider}");
        self.broker
            .accounts
            .audit_event(
                Some(DEFAULT_TENANT),
                &actor,
                "auth.login_failed",
                &actor,
                Some(&format!("cognito hosted UI: {reason}")),
            )
            .await?;
        Ok(())
    }

    async fn session(
        &self,
        r: &AuthenticationResultType,
        refresh: Option<&str>,
    ) -> ApiResult<Session> {
        let access = r
            .access_token()
            .ok_or(ApiError::Unauthorized("Cognito returned no access token"))?;
        let claims = self.verifier.verify(access).await?;
        let user = self.user_of(&claims, access).await?;
        Ok(Session {
            access_token: access.to_string(),
            refresh_token: r
                .refresh_token()
                .or(refresh)
                .unwrap_or_default()
                .to_string(),
            token_type: "Bearer",
            expires_in: i64::from(r.expires_in()),
            user,
        })
    }

    async fn audit(&self, who: &str, action: &str, reason: Option<&str>) -> ApiResult<()> {
        let subject = match self.broker.accounts.by_email(who).await {
            Ok(u) => format!("user:{}", u.id),
            Err(_) => format!("email:{who}"),
        };
        self.broker
            .accounts
            .audit_event(Some(DEFAULT_TENANT), who, action, &subject, reason)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl IdentityPort for CognitoIdentity {
    fn provider(&self) -> Provider {
        Provider::Cognito
    }

    async fn sign_up(&self, email: &str, password: &str) -> ApiResult<SignUp> {
        let email = broker::accounts::parse_email(email)?;
        let out = self
            .client
            .sign_up()
            .client_id(&self.settings.client_id)
            .username(&email)
            .password(password)
            .user_attributes(
                AttributeType::builder()
                    .name("email")
                    .value(&email)
                    .build()
                    .map_err(|e| ApiError::Broker(broker::Error::Internal(e.to_string())))?,
            )
            .send()
            .await
            .map_err(sdk_error)?;
        let user = self
            .broker
            .accounts
            .link_external(DEFAULT_TENANT, Provider::Cognito, out.user_sub(), &email)
            .await?;
        let mut confirmed = out.user_confirmed();
        // SANDBOX PODs auto-confirm (needs credentials allowed to call AdminConfirmSignUp).
        if !confirmed && self.broker.mode(&user.tenant_id).await? == Mode::Sandbox {
            match self
                .client
                .admin_confirm_sign_up()
                .user_pool_id(&self.settings.user_pool_id)
                .username(&email)
                .send()
                .await
            {
                Ok(_) => confirmed = true,
                Err(e) => tracing::warn!(error = ?e, "sandbox auto-confirm failed"),
            }
        }
        let session = if confirmed {
            match self.login(&email, password).await? {
                Login::Session(s) => Some(s),
                Login::Mfa { .. } => None,
            }
        } else {
            None
        };
        Ok(SignUp {
            user,
            session,
            verification_required: !confirmed,
        })
    }

    async fn confirm(&self, c: Confirmation) -> ApiResult<User> {
        let Confirmation::Code { email, code } = c else {
            return Err(ApiError::Broker(broker::Error::invalid(
                "code",
                "this POD confirms addresses with the code Cognito mailed; send `email` and `code`",
            )));
        };
        let email = broker::accounts::parse_email(&email)?;
        self.client
            .confirm_sign_up()
            .client_id(&self.settings.client_id)
            .username(&email)
            .confirmation_code(code.trim())
            .send()
            .await
            .map_err(sdk_error)?;
        let user = self.broker.accounts.by_email(&email).await?;
        self.broker.accounts.mark_verified(&user.id).await?;
        self.audit(&email, "auth.email_verified", Some("cognito"))
            .await?;
        Ok(user)
    }

    async fn login(&self, email: &str, password: &str) -> ApiResult<Login> {
        let email = email.trim().to_ascii_lowercase();
        let out = self
            .client
            .initiate_auth()
            .client_id(&self.settings.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let err = sdk_error(e);
                self.audit(&email, "auth.login_failed", Some("cognito"))
                    .await?;
                return Err(err);
            }
        };
        if let Some(r) = out.authentication_result() {
            let s = self.session(r, None).await?;
            self.audit(&email, "auth.login", Some("cognito")).await?;
            return Ok(Login::Session(s));
        }
        match (out.challenge_name(), out.session()) {
            (Some(ChallengeNameType::SoftwareTokenMfa), Some(session)) => {
                self.audit(&email, "auth.mfa_challenge", Some("cognito"))
                    .await?;
                Ok(Login::Mfa {
                    mfa_token: format!("{}.{session}", b64(&email)),
                })
            }
            (other, _) => Err(ApiError::Broker(broker::Error::Internal(format!(
                "unsupported Cognito challenge {other:?}"
            )))),
        }
    }

    async fn login_mfa(&self, mfa_token: &str, code: &str) -> ApiResult<Session> {
        let bad =
            || ApiError::Unauthorized("the MFA token is invalid, used or expired; sign in again");
        let (user_b64, session) = mfa_token.split_once('.').ok_or_else(bad)?;
        let email = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(user_b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let out = self
            .client
            .respond_to_auth_challenge()
            .client_id(&self.settings.client_id)
            .challenge_name(ChallengeNameType::SoftwareTokenMfa)
            .session(session)
            .challenge_responses("USERNAME", &email)
            .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code.trim())
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let err = match sdk_error(e) {
                    ApiError::Broker(broker::Error::Invalid { .. }) => {
                        ApiError::Unauthorized("the code is not valid")
                    }
                    other => other,
                };
                self.audit(&email, "auth.mfa_failed", Some("cognito"))
                    .await?;
                return Err(err);
            }
        };
        let r = out.authentication_result().ok_or(ApiError::Unauthorized(
            "Cognito asked for another challenge",
        ))?;
        let s = self.session(r, None).await?;
        self.audit(&email, "auth.mfa_verified", Some("cognito"))
            .await?;
        self.audit(&email, "auth.login", Some("cognito + totp"))
            .await?;
        Ok(s)
    }

    async fn refresh(&self, refresh_token: &str) -> ApiResult<Session> {
        let out = self
            .client
            .initiate_auth()
            .client_id(&self.settings.client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh_token)
            .send()
            .await
            .map_err(sdk_error)?;
        let r = out
            .authentication_result()
            .ok_or(ApiError::Unauthorized("Cognito refused the refresh token"))?;
        self.session(r, Some(refresh_token)).await
    }

    async fn logout(&self, refresh_token: &str, bearer: Option<&str>) -> ApiResult<()> {
        if let Some(access) = bearer {
            // Signs the user out of every session (the pool revokes its refresh tokens).
            let claims = self.verifier.verify(access).await?;
            let user = self.user_of(&claims, access).await?;
            self.client
                .global_sign_out()
                .access_token(access)
                .send()
                .await
                .map_err(sdk_error)?;
            self.audit(&user.email, "auth.logout", Some("cognito global sign-out"))
                .await?;
            return Ok(());
        }
        self.client
            .revoke_token()
            .client_id(&self.settings.client_id)
            .token(refresh_token)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn mfa_enrol(&self, who: &Caller) -> ApiResult<Enrolment> {
        let out = self
            .client
            .associate_software_token()
            .access_token(&who.access_token)
            .send()
            .await
            .map_err(sdk_error)?;
        let secret = out.secret_code().unwrap_or_default().to_string();
        let uri = broker::mfa::otpauth_uri(&who.user.email, &secret);
        self.audit(&who.user.email, "auth.mfa_enrol_started", Some("cognito"))
            .await?;
        Ok(Enrolment {
            qr_svg: super::qr_svg(&uri)?,
            secret,
            otpauth_uri: uri,
        })
    }

    async fn mfa_activate(&self, who: &Caller, code: &str) -> ApiResult<Vec<String>> {
        let out = self
            .client
            .verify_software_token()
            .access_token(&who.access_token)
            .user_code(code.trim())
            .send()
            .await;
        match out {
            Ok(o) if o.status() == Some(&VerifySoftwareTokenResponseType::Success) => {}
            Ok(_) => {
                self.audit(
                    &who.user.email,
                    "auth.mfa_failed",
                    Some("cognito enrolment"),
                )
                .await?;
                return Err(ApiError::Broker(broker::Error::invalid(
                    "code",
                    "the code does not match",
                )));
            }
            Err(e) => {
                let err = sdk_error(e);
                self.audit(
                    &who.user.email,
                    "auth.mfa_failed",
                    Some("cognito enrolment"),
                )
                .await?;
                return Err(err);
            }
        }
        self.client
            .set_user_mfa_preference()
            .access_token(&who.access_token)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(true)
                    .preferred_mfa(true)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        self.audit(&who.user.email, "auth.mfa_enrolled", Some("cognito"))
            .await?;
        // Cognito has no recovery codes; account recovery goes through the pool's flows.
        Ok(Vec::new())
    }

    async fn mfa_disable(&self, who: &Caller, _code: &str) -> ApiResult<()> {
        self.client
            .set_user_mfa_preference()
            .access_token(&who.access_token)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(false)
                    .preferred_mfa(false)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        self.audit(&who.user.email, "auth.mfa_disabled", Some("cognito"))
            .await?;
        Ok(())
    }
}

//! The local identity provider: the broker's accounts (argon2id, verification links,
//! lockout, TOTP MFA, rotating refresh tokens) with access tokens signed by our key.

use std::sync::Arc;

use async_trait::async_trait;
use broker::accounts::User;
use broker::identity::{LoginStep, Provider};
use broker::Broker;

use super::{Caller, Confirmation, Enrolment, IdentityPort, Login, Session, SignUp};
use crate::auth::{Keys, ACCESS_TTL_SECS};
use crate::error::{ApiError, ApiResult};

/// Local accounts.
pub struct LocalIdentity {
    broker: Arc<Broker>,
    keys: Arc<Keys>,
}

impl LocalIdentity {
    pub fn new(broker: Arc<Broker>, keys: Arc<Keys>) -> Self {
        LocalIdentity { broker, keys }
    }

    async fn session(&self, user: User) -> ApiResult<Session> {
        let refresh_token = self.broker.accounts.issue_refresh(&user.id).await?;
        self.session_with(user, refresh_token)
    }

    fn session_with(&self, user: User, refresh_token: String) -> ApiResult<Session> {
        Ok(Session {
            access_token: self
                .keys
                .issue(&user, self.broker.clock.now().timestamp())?,
            refresh_token,
            token_type: "Bearer",
            expires_in: ACCESS_TTL_SECS,
            user,
        })
    }
}

#[async_trait]
impl IdentityPort for LocalIdentity {
    fn provider(&self) -> Provider {
        Provider::Local
    }

    async fn sign_up(&self, email: &str, password: &str) -> ApiResult<SignUp> {
        let user = self.broker.register(email, password).await?;
        if self.broker.requires_verification(&user.tenant_id).await? {
            return Ok(SignUp {
                user,
                session: None,
                verification_required: true,
            });
        }
        let session = self.session(user.clone()).await?;
        Ok(SignUp {
            user,
            session: Some(session),
            verification_required: false,
        })
    }

    async fn confirm(&self, c: Confirmation) -> ApiResult<User> {
        match c {
            Confirmation::Link { token } => Ok(self.broker.accounts.verify_email(&token).await?),
            Confirmation::Code { .. } => Err(ApiError::Broker(broker::Error::invalid(
                "token",
                "this POD confirms addresses with the emailed link; send its `token`",
            ))),
        }
    }

    async fn login(&self, email: &str, password: &str) -> ApiResult<Login> {
        match self.broker.login(email, password).await? {
            LoginStep::Done(user) => Ok(Login::Session(self.session(user).await?)),
            LoginStep::Mfa { mfa_token, .. } => Ok(Login::Mfa { mfa_token }),
        }
    }

    async fn login_mfa(&self, mfa_token: &str, code: &str) -> ApiResult<Session> {
        let user = self.broker.login_mfa(mfa_token, code).await?;
        self.session(user).await
    }

    async fn refresh(&self, refresh_token: &str) -> ApiResult<Session> {
        let (user, next) = self.broker.accounts.rotate_refresh(refresh_token).await?;
        self.session_with(user, next)
    }

    async fn logout(&self, refresh_token: &str, _bearer: Option<&str>) -> ApiResult<()> {
        Ok(self.broker.accounts.logout(refresh_token).await?)
    }

    async fn mfa_enrol(&self, who: &Caller) -> ApiResult<Enrolment> {
        let e = self.broker.accounts.mfa_begin(&who.user).await?;
        Ok(Enrolment {
            qr_svg: super::qr_svg(&e.otpauth_uri)?,
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
        })
    }

    async fn mfa_activate(&self, who: &Caller, code: &str) -> ApiResult<Vec<String>> {
        Ok(self.broker.accounts.mfa_activate(&who.user, code).await?)
    }

    async fn mfa_disable(&self, who: &Caller, code: &str) -> ApiResult<()> {
        Ok(self.broker.accounts.mfa_disable(&who.user, code).await?)
    }
}

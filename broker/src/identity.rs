//! The local identity provider beyond the password hash: which provider signs a POD's users
//! in (parameter `identity.provider`), password strength rules, email verification links,
//! sign-in throttling and lockout, the MFA step of a sign-in, logout, and the mapping of
//! external subjects (Cognito `sub`) to user rows. Every authentication event is audited
//! (`auth.*` actions, subject `user:<id>`, or `email:<address>` for unknown addresses).

use serde::Serialize;
use sqlx::AnyConnection;
use tracing::instrument;

use crate::accounts::{self, digest, new_secret, Accounts, User};
use crate::audit::{self, AuditEntry};
use crate::mail::{self, Template};
use crate::params::{self, Ctx, Params};
use crate::tenants::Mode;
use crate::{new_id, ConflictKind, Error, Result};

/// Who signs a POD's users in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Local,
    Cognito,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::Cognito => "cognito",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "local" => Some(Provider::Local),
            "cognito" => Some(Provider::Cognito),
            _ => None,
        }
    }

    /// The tenant's provider (parameter `identity.provider`).
    pub async fn of_tenant(params: &Params, tenant_id: &str) -> Result<Provider> {
        let v = params
            .text(
                params::IDENTITY_PROVIDER,
                Ctx {
                    tenant_id,
                    user_id: None,
                },
            )
            .await?;
        Provider::parse(&v)
            .ok_or_else(|| Error::Internal(format!("stored identity provider `{v}` is unknown")))
    }
}

/// Password strength rules (parameters `auth.password_min_length`, `auth.password_min_classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_classes: usize,
}

/// Passwords too common to allow whatever their length (a short list of the most used).
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "iloveyou",
    "letmein123",
    "welcome123",
    "admin12345",
    "qwerty123",
];

impl PasswordPolicy {
    pub async fn load(params: &Params, tenant_id: &str) -> Result<PasswordPolicy> {
        let ctx = Ctx {
            tenant_id,
            user_id: None,
        };
        Ok(PasswordPolicy {
            min_length: usize::try_from(params.int(params::PASSWORD_MIN_LENGTH, ctx).await?)
                .unwrap_or(10),
            min_classes: usize::try_from(params.int(params::PASSWORD_MIN_CLASSES, ctx).await?)
                .unwrap_or(2),
        })
    }

    /// Checks a new password (pure). The error names the field `password` and says which rule.
    pub fn check(&self, password: &str, email: &str) -> Result<()> {
        let n = password.chars().count();
        if n < self.min_length {
            return Err(Error::invalid(
                "password",
                format!("must be at least {} characters", self.min_length),
            ));
        }
        if n > 256 {
            return Err(Error::invalid("password", "must be at most 256 characters"));
        }
        let classes = [
            password.chars().any(|c| c.is_lowercase()),
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if classes < self.min_classes {
            return Err(Error::invalid(
                "password",
                format!(
                    "must mix at least {} of: lower case, upper case, digits, other characters",
                    self.min_classes
                ),
            ));
        }
        let lower = password.to_lowercase();
        if COMMON.contains(&lower.as_str()) {
            return Err(Error::invalid(
                "password",
                "is one of the most common passwords",
            ));
        }
        let local = email.split('@').next().unwrap_or_default().to_lowercase();
        if local.len() >= 4 && lower.contains(&local) {
            return Err(Error::invalid(
                "password",
                "must not contain the email address",
            ));
        }
        Ok(())
    }
}

/// Sign-in rules in force for a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    pub max_failures: i64,
    pub lockout_ms: i64,
    pub throttle_per_minute: i64,
    /// LIVE PODs (and SANDBOX PODs with `auth.require_email_verification`): an unverified
    /// address cannot sign in.
    pub require_verified: bool,
    pub mfa_ttl_ms: i64,
}

impl LoginPolicy {
    pub async fn load(params: &Params, tenant_id: &str, mode: Mode) -> Result<LoginPolicy> {
        let ctx = Ctx {
            tenant_id,
            user_id: None,
        };
        Ok(LoginPolicy {
            max_failures: params.int(params::LOCKOUT_MAX_FAILURES, ctx).await?,
            lockout_ms: params.int(params::LOCKOUT_SECONDS, ctx).await? * 1000,
            throttle_per_minute: params.int(params::THROTTLE_PER_MINUTE, ctx).await?,
            require_verified: mode == Mode::Live
                || params.bool(params::REQUIRE_EMAIL_VERIFICATION, ctx).await?,
            mfa_ttl_ms: params.int(params::MFA_TOKEN_TTL, ctx).await? * 1000,
        })
    }
}

/// Where a sign-in stands after the password.
#[derive(Debug, Clone)]
pub enum LoginStep {
    /// Signed in.
    Done(User),
    /// The account has MFA: send `mfa_token` with a code to finish.
    Mfa { user: User, mfa_token: String },
}

/// What the security settings page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Security {
    pub provider: Provider,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    pub recovery_codes_remaining: i64,
}

/// One audit row for an authentication event.
pub(crate) async fn audit_auth(
    conn: &mut AnyConnection,
    now: i64,
    tenant_id: Option<&str>,
    actor: &str,
    action: &str,
    subject: &str,
    reason: Option<&str>,
) -> Result<()> {
    audit::record(
        conn,
        now,
        AuditEntry {
            tenant_id,
            actor,
            action,
            subject,
            before: None,
            after: None,
            reason,
        },
    )
    .await
}

type LoginRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    i64,
    Option<i64>,
);

const PURPOSE_VERIFY: &str = "email_verify";
const PURPOSE_MFA: &str = "mfa_login";

fn secs_until(until_ms: i64, now_ms: i64) -> i64 {
    ((until_ms - now_ms) + 999).max(0) / 1000
}

impl Accounts {
    /// Records an authentication event the edge observed (e.g. a Cognito sign-in).
    pub async fn audit_event(
        &self,
        tenant_id: Option<&str>,
        actor: &str,
        action: &str,
        subject: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        let mut conn = self.db.pool.acquire().await?;
        audit_auth(
            &mut conn,
            self.clock.now_ms(),
            tenant_id,
            actor,
            action,
            subject,
            reason,
        )
        .await
    }

    /// Password step of a local sign-in: throttling (429), lockout (423), verification
    /// (LIVE), then either signed in or an MFA challenge. Every outcome is audited.
    #[instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        policy: LoginPolicy,
    ) -> Result<LoginStep> {
        let email = email.trim().to_ascii_lowercase();
        let now = self.clock.now_ms();
        let recent: (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM login_failures WHERE email = $1 AND at > $2",
        )
        .bind(&email)
        .bind(now - 60_000)
        .fetch_one(&self.db.pool)
        .await?;
        let row: Option<LoginRow> = sqlx::query_as(
            "SELECT id, tenant_id, email, role, created_at, password_hash, email_verified_at, failed_logins, locked_until \
             FROM users WHERE email = $1",
        )
        .bind(&email)
        .fetch_optional(&self.db.pool)
        .await?;
        let tenant = row.as_ref().map(|r| r.1.clone());
        let subject = row
            .as_ref()
            .map_or_else(|| format!("email:{email}"), |r| format!("user:{}", r.0));
        let mut conn = self.db.pool.acquire().await?;
        if recent.0 >= policy.throttle_per_minute {
            audit_auth(
                &mut conn,
                now,
                tenant.as_deref(),
                &email,
                "auth.login_throttled",
                &subject,
                None,
            )
            .await?;
            let oldest = recent.1.unwrap_or(now);
            return Err(Error::TooManyAttempts {
                retry_after_secs: secs_until(oldest + 60_000, now).max(1),
            });
        }
        if let Some(until) = row.as_ref().and_then(|r| r.8).filter(|u| *u > now) {
            audit_auth(
                &mut conn,
                now,
                tenant.as_deref(),
                &email,
                "auth.login_locked",
                &subject,
                None,
            )
            .await?;
            return Err(Error::AccountLocked {
                retry_after_secs: secs_until(until, now),
            });
        }
        let ok = row
            .as_ref()
            .is_some_and(|r| accounts::password_matches(&r.5, password));
        let Some((id, _, _, _, _, _, verified_at, _, _)) = row.filter(|_| ok) else {
            drop(conn);
            self.record_failure(
                &email,
                policy,
                "auth.login_failed",
                "wrong email or password",
            )
            .await?;
            return Err(Error::Unauthenticated("invalid email or password"));
        };
        let user = self.by_id(&id).await?;
        if policy.require_verified && verified_at.is_none() {
            audit_auth(
                &mut conn,
                now,
                Some(&user.tenant_id),
                &user.email,
                "auth.login_unverified",
                &subject,
                None,
            )
            .await?;
            return Err(Error::EmailNotVerified);
        }
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(&user.id)
            .execute(&mut *conn)
            .await?;
        if self.mfa_enabled(&user.id).await? {
            let (token, hash) = new_secret();
            sqlx::query(
                "INSERT INTO auth_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(hash)
            .bind(&user.id)
            .bind(PURPOSE_MFA)
            .bind(now + policy.mfa_ttl_ms)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            audit_auth(
                &mut conn,
                now,
                Some(&user.tenant_id),
                &user.email,
                "auth.mfa_challenge",
                &subject,
                None,
            )
            .await?;
            return Ok(LoginStep::Mfa {
                user,
                mfa_token: token,
            });
        }
        audit_auth(
            &mut conn,
            now,
            Some(&user.tenant_id),
            &user.email,
            "auth.login",
            &subject,
            None,
        )
        .await?;
        Ok(LoginStep::Done(user))
    }

    /// Counts a failed sign-in (password or MFA code) for throttling and lockout; locks the
    /// account at the limit.
    async fn record_failure(
        &self,
        email: &str,
        policy: LoginPolicy,
        action: &str,
        reason: &str,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        sqlx::query("INSERT INTO login_failures (id, email, at) VALUES ($1, $2, $3)")
            .bind(new_id())
            .bind(email)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let user: Option<(String, String, i64)> = sqlx::query_as(
            "UPDATE users SET failed_logins = failed_logins + 1 WHERE email = $1 RETURNING id, tenant_id, failed_logins",
        )
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
        let subject = user
            .as_ref()
            .map_or_else(|| format!("email:{email}"), |u| format!("user:{}", u.0));
        let tenant = user.as_ref().map(|u| u.1.as_str());
        audit_auth(&mut tx, now, tenant, email, action, &subject, Some(reason)).await?;
        if let Some((id, _, failures)) = &user {
            if *failures >= policy.max_failures {
                sqlx::query("UPDATE users SET failed_logins = 0, locked_until = $1 WHERE id = $2")
                    .bind(now + policy.lockout_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let why = format!("{failures} consecutive failures");
                audit_auth(
                    &mut tx,
                    now,
                    tenant,
                    email,
                    "auth.lockout",
                    &subject,
                    Some(&why),
                )
                .await?;
            }
        }
        // Old failures only matter for the last minute.
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(now - 3_600_000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The MFA step of a sign-in: `code` is a current TOTP code or an unused recovery code.
    /// The MFA token works once; a wrong code counts towards lockout.
    #[instrument(skip_all)]
    pub async fn login_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        policy: LoginPolicy,
    ) -> Result<User> {
        let now = self.clock.now_ms();
        let hash = digest(mfa_token);
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT user_id FROM auth_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(&hash)
        .bind(PURPOSE_MFA)
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some((user_id,)) = row else {
            return Err(Error::Unauthenticated(
                "the MFA token is invalid, used or expired; sign in again",
            ));
        };
        let user = self.by_id(&user_id).await?;
        if let Some(until) = self.locked_until(&user.id).await?.filter(|u| *u > now) {
            return Err(Error::AccountLocked {
                retry_after_secs: secs_until(until, now),
            });
        }
        match self.check_second_factor(&user, code).await? {
            Some(method) => {
                let used = sqlx::query(
                    "UPDATE auth_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
                )
                .bind(now)
                .bind(&hash)
                .execute(&self.db.pool)
                .await?
                .rows_affected();
                if used == 0 {
                    return Err(Error::Unauthenticated("the MFA token was already used"));
                }
                let mut conn = self.db.pool.acquire().await?;
                let subject = format!("user:{}", user.id);
                audit_auth(
                    &mut conn,
                    now,
                    Some(&user.tenant_id),
                    &user.email,
                    "auth.mfa_verified",
                    &subject,
                    Some(method),
                )
                .await?;
                audit_auth(
                    &mut conn,
                    now,
                    Some(&user.tenant_id),
                    &user.email,
                    "auth.login",
                    &subject,
                    Some("password + second factor"),
                )
                .await?;
                Ok(user)
            }
            None => {
                self.record_failure(&user.email, policy, "auth.mfa_failed", "wrong MFA code")
                    .await?;
                Err(Error::Unauthenticated("the code is not valid"))
            }
        }
    }

    async fn locked_until(&self, user_id: &str) -> Result<Option<i64>> {
        let r: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT locked_until FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(r.and_then(|r| r.0))
    }

    /// Queues the verification mail for a new account (link valid `ttl_secs`).
    pub async fn start_verification(
        &self,
        user: &User,
        base_url: &str,
        ttl_secs: i64,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let (token, hash) = new_secret();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO auth_tokens (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(&user.id)
        .bind(PURPOSE_VERIFY)
        .bind(now + ttl_secs * 1000)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let link = format!(
            "{}/verify-email?token={token}",
            base_url.trim_end_matches('/')
        );
        mail::send(
            &mut tx,
            now,
            &user.tenant_id,
            &user.email,
            &Template::VerifyEmail {
                link,
                ttl_hours: (ttl_secs / 3600).max(1),
            },
            &format!("verify-email:{}:{}", user.id, new_id()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Redeems a verification link (single use, expiring).
    #[instrument(skip_all)]
    pub async fn verify_email(&self, token: &str) -> Result<User> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE auth_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING user_id",
        )
        .bind(now)
        .bind(digest(token))
        .bind(PURPOSE_VERIFY)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id,)) = row else {
            return Err(Error::invalid(
                "token",
                "the verification link is invalid, already used or expired",
            ));
        };
        sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
        audit_auth(
            &mut tx,
            now,
            None,
            &user_id,
            "auth.email_verified",
            &format!("user:{user_id}"),
            None,
        )
        .await?;
        tx.commit().await?;
        self.by_id(&user_id).await
    }

    /// Marks an address verified without a link (SANDBOX auto-confirm, seeded accounts).
    pub async fn mark_verified(&self, user_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1) WHERE id = $2",
        )
        .bind(self.clock.now_ms())
        .bind(user_id)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    pub async fn is_verified(&self, user_id: &str) -> Result<bool> {
        let r: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT email_verified_at FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(r.and_then(|r| r.0).is_some())
    }

    /// The user an email verification would go to, if the address is registered and not
    /// verified yet (for "send the link again").
    pub async fn unverified_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = email.trim().to_ascii_lowercase();
        match self.by_email(&email).await {
            Ok(u) if !self.is_verified(&u.id).await? => Ok(Some(u)),
            Ok(_) | Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Logout: revokes the refresh token's family and audits it.
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let owner: Option<(String,)> =
            sqlx::query_as("SELECT user_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(digest(refresh_token))
                .fetch_optional(&self.db.pool)
                .await?;
        self.revoke_refresh(refresh_token).await?;
        if let Some((uid,)) = owner {
            self.audit_event(None, &uid, "auth.logout", &format!("user:{uid}"), None)
                .await?;
        }
        Ok(())
    }

    /// Revokes every refresh token of a user (sign out everywhere).
    pub async fn logout_all(&self, user_id: &str) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        audit_auth(
            &mut tx,
            now,
            None,
            user_id,
            "auth.logout_all",
            &format!("user:{user_id}"),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user row of an external identity (`idp`, `sub`), if linked.
    pub async fn by_external(&self, idp: Provider, sub: &str) -> Result<Option<User>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM users WHERE idp = $1 AND external_sub = $2")
                .bind(idp.as_str())
                .bind(sub)
                .fetch_optional(&self.db.pool)
                .await?;
        match row {
            Some((id,)) => Ok(Some(self.by_id(&id).await?)),
            None => Ok(None),
        }
    }

    /// Links an external identity to a local user row (created on first sight, verified,
    /// without a local password). An address already used by a local account is refused.
    pub async fn link_external(
        &self,
        tenant_id: &str,
        idp: Provider,
        sub: &str,
        email: &str,
    ) -> Result<User> {
        if let Some(u) = self.by_external(idp, sub).await? {
            return Ok(u);
        }
        let email = accounts::parse_email(email)?;
        let now = self.clock.now_ms();
        let id = new_id();
        let mut tx = self.db.begin().await?;
        let n = sqlx::query(
            "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at, email_verified_at, idp, external_sub) \
             VALUES ($1, $2, $3, '', 'user', $4, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(tenant_id)
        .bind(&email)
        .bind(now)
        .bind(idp.as_str())
        .bind(sub)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            drop(tx);
            return match self.by_external(idp, sub).await? {
                Some(u) => Ok(u),
                None => Err(Error::conflict(
                    ConflictKind::EmailTaken,
                    "this address belongs to an account of another sign-in method",
                )),
            };
        }
        audit_auth(
            &mut tx,
            now,
            Some(tenant_id),
            &email,
            "auth.signup",
            &format!("user:{id}"),
            Some(idp.as_str()),
        )
        .await?;
        tx.commit().await?;
        self.by_id(&id).await
    }

    /// The account's security settings.
    pub async fn security(&self, user_id: &str) -> Result<Security> {
        let r: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT idp, email_verified_at FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        let (idp, verified) = r.ok_or(Error::NotFound { what: "user" })?;
        let left: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.db.pool)
        .await?;
        Ok(Security {
            provider: Provider::parse(&idp).unwrap_or(Provider::Local),
            email_verified: verified.is_some(),
            mfa_enabled: self.mfa_enabled(user_id).await?,
            recovery_codes_remaining: left.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: PasswordPolicy = PasswordPolicy {
        min_length: 10,
        min_classes: 2,
    };

    fn field_of(r: Result<()>) -> Option<String> {
        match r {
            Err(Error::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn weak_passwords_are_rejected_naming_the_field() {
        for weak in [
            "short1",
            "alllowercaseletters",
            "password123",
            "Password123".to_lowercase().as_str(),
            "alice-secret-1",
        ] {
            assert_eq!(
                field_of(P.check(weak, "alice@example.com")),
                Some("password".into()),
                "{weak}"
            );
        }
    }

    #[test]
    fn strong_passwords_pass() {
        for ok in [
            "a-good-password",
            "Correct Horse Battery",
            "demo-password-1",
            "admin-password-1",
        ] {
            assert!(P.check(ok, "alice@example.com").is_ok(), "{ok}");
        }
    }

    #[test]
    fn the_length_rule_follows_the_policy() {
        let strict = PasswordPolicy {
            min_length: 20,
            min_classes: 3,
        };
        assert!(strict.check("a-good-password", "x@y.z").is_err());
        assert!(strict.check("A-much-longer-passphrase-1", "x@y.z").is_ok());
    }

    #[test]
    fn lock_seconds_round_up() {
        assert_eq!(secs_until(1500, 0), 2);
        assert_eq!(secs_until(0, 10), 0);
    }
}

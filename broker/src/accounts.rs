//! Local accounts: users with argon2id password hashes, roles, and rotating refresh tokens
//! with reuse detection. Access-token signing (JWT) is the HTTP edge's; the signing keys are
//! persisted here so every instance and restart shares them.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::instrument;

use crate::audit::{self, AuditEntry};
use crate::tenants::DEFAULT_TENANT;
use crate::{new_id, ConflictKind, Db, Error, Result};

/// What a user may do. `user`, `pro` and `enterprise` follow the user's plan
/// ([`crate::plans::Plan`]); `admin` (a POD admin) is granted on its own and keeps the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Pro,
    Enterprise,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::User, Role::Pro, Role::Enterprise, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Pro => "pro",
            Role::Enterprise => "enterprise",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The plan a non-admin role stands for (`None` for admin, whose plan is kept apart).
    pub fn plan(self) -> Option<crate::plans::Plan> {
        use crate::plans::Plan;
        match self {
            Role::User => Some(Plan::Free),
            Role::Pro => Some(Plan::Pro),
            Role::Enterprise => Some(Plan::Enterprise),
            Role::Admin => None,
        }
    }

    /// What the `users.role` column stores: whether the user is an admin.
    fn stored(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            _ => "user",
        }
    }
}

/// The columns of a [`UserRow`]; the role is derived from the admin flag and the plan.
macro_rules! user_columns {
    () => {
        "id, tenant_id, email, CASE WHEN role = 'admin' THEN 'admin' WHEN plan = 'pro' THEN 'pro' \
         WHEN plan = 'enterprise' THEN 'enterprise' ELSE 'user' END AS role, created_at"
    };
}
pub(crate) use user_columns;

/// A user as the rest of the product sees it.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
}

/// A normalized, plausibly valid email address.
pub fn parse_email(raw: &str) -> Result<String> {
    let e = raw.trim().to_ascii_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if ok {
        Ok(e)
    } else {
        Err(Error::invalid("email", "not a valid email address"))
    }
}

/// Password rules of the first slice: 8 to 256 characters.
pub fn check_password(p: &str) -> Result<()> {
    let n = p.chars().count();
    if !(8..=256).contains(&n) {
        return Err(Error::invalid("password", "must be 8 to 256 characters"));
    }
    Ok(())
}

fn hash_password(p: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(p.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing: {e}")))
}

/// Whether `password` matches a stored argon2id hash (an empty hash — accounts of an external
/// identity provider — never matches).
pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random URL-safe secret and its SHA-256 hex digest (what is stored).
pub fn new_secret() -> (String, String) {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let h = digest(&s);
    (s, h)
}

/// SHA-256 hex of a secret.
pub fn digest(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

type UserRow = (String, String, String, String, i64);

fn to_user((id, tenant_id, email, role, created_at): UserRow) -> User {
    User {
        id,
        tenant_id,
        email,
        role: Role::parse(&role).unwrap_or(Role::User),
        created_at,
    }
}

/// How long a refresh token lives.
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Local identity.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub(crate) db: Db,
    pub(crate) clock: std::sync::Arc<dyn crate::Clock>,
}

impl Accounts {
    pub fn new(db: Db, clock: std::sync::Arc<dyn crate::Clock>) -> Self {
        Accounts { db, clock }
    }

    /// Creates a user in the default tenant.
    #[instrument(skip_all)]
    pub async fn register(&self, email: &str, password: &str, role: Role) -> Result<User> {
        let email = parse_email(email)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let id = new_id();
        let now = self.clock.now_ms();
        let res = sqlx::query(
            "INSERT INTO users (id, tenant_id, email, password_hash, role, plan, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&id)
        .bind(DEFAULT_TENANT)
        .bind(&email)
        .bind(&hash)
        .bind(role.stored())
        .bind(role.plan().unwrap_or_default().as_str())
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(Error::conflict(
                ConflictKind::EmailTaken,
                "an account with this email exists",
            ));
        }
        Ok(User {
            id,
            tenant_id: DEFAULT_TENANT.into(),
            email,
            role,
            created_at: now,
        })
    }

    /// Creates or resets a seeded account (sandbox admin / demo user) to the given password.
    /// Seeded accounts count as verified.
    pub async fn ensure(&self, email: &str, password: &str, role: Role) -> Result<User> {
        let u = self.ensure_inner(email, password, role).await?;
        self.mark_verified(&u.id).await?;
        Ok(u)
    }

    async fn ensure_inner(&self, email: &str, password: &str, role: Role) -> Result<User> {
        match self.register(email, password, role).await {
            Ok(u) => Ok(u),
            Err(Error::Conflict {
                kind: ConflictKind::EmailTaken,
                ..
            }) => {
                let email = parse_email(email)?;
                // The admin flag is reset; the plan stays what it became.
                sqlx::query("UPDATE users SET password_hash = $1, role = $2 WHERE email = $3")
                    .bind(hash_password(password)?)
                    .bind(role.stored())
                    .bind(&email)
                    .execute(&self.db.pool)
                    .await?;
                self.by_email(&email).await
            }
            Err(e) => Err(e),
        }
    }

    pub async fn by_email(&self, email: &str) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(to_user).ok_or(Error::NotFound { what: "user" })
    }

    pub async fn by_id(&self, id: &str) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(to_user).ok_or(Error::NotFound { what: "user" })
    }

    /// Checks a password; the failure is audited and says nothing about which part was wrong.
    #[instrument(skip_all)]
    pub async fn verify_login(&self, email: &str, password: &str) -> Result<User> {
        let email = email.trim().to_ascii_lowercase();
        let row: Option<(String, String, String, String, i64, String)> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE email = $1"
        ))
        .bind(&email)
        .fetch_optional(&self.db.pool)
        .await?;
        let now = self.clock.now_ms();
        let ok = row
            .as_ref()
            .is_some_and(|r| password_matches(&r.5, password));
        let mut conn = self.db.pool.acquire().await?;
        audit::record(
            &mut conn,
            now,
            AuditEntry {
                tenant_id: row.as_ref().map(|r| r.1.as_str()),
                actor: &email,
                action: if ok {
                    "auth.login"
                } else {
                    "auth.login_failed"
                },
                subject: &format!("user:{email}"),
                before: None,
                after: None,
                reason: None,
            },
        )
        .await?;
        match row {
            Some((id, tenant_id, email, role, created_at, _)) if ok => {
                Ok(to_user((id, tenant_id, email, role, created_at)))
            }
            _ => Err(Error::Unauthenticated("invalid email or password")),
        }
    }

    /// A new refresh token in a new family (at login).
    pub async fn issue_refresh(&self, user_id: &str) -> Result<String> {
        self.insert_refresh(user_id, &new_id()).await
    }

    async fn insert_refresh(&self, user_id: &str, family: &str) -> Result<String> {
        let (secret, hash) = new_secret();
        let now = self.clock.now_ms();
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(family)
        .bind(&hash)
        .bind(now + REFRESH_TTL_MS)
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        Ok(secret)
    }

    /// Exchanges a refresh token for a new one (rotation). Presenting a token that was
    /// already used revokes its whole family (reuse detection).
    #[instrument(skip_all)]
    pub async fn rotate_refresh(&self, token: &str) -> Result<(User, String)> {
        let hash = digest(token);
        let now = self.clock.now_ms();
        let row: Option<(String, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some((user_id, family, expires_at, used_at, revoked_at)) = row else {
            return Err(Error::Unauthenticated("unknown refresh token"));
        };
        if revoked_at.is_some() || expires_at <= now {
            return Err(Error::Unauthenticated("refresh token expired or revoked"));
        }
        // Mark used only if nobody else did: the loser of a race is a reuse.
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(&hash)
        .execute(&self.db.pool)
        .await?
        .rows_affected();
        if used_at.is_some() || claimed == 0 {
            let mut tx = self.db.begin().await?;
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&family)
                .execute(&mut *tx)
                .await?;
            audit::record(
                &mut tx,
                now,
                AuditEntry {
                    tenant_id: None,
                    actor: &user_id,
                    action: "auth.refresh_reuse",
                    subject: &format!("user:{user_id}"),
                    before: None,
                    after: None,
                    reason: Some("a used refresh token was presented again; family revoked"),
                },
            )
            .await?;
            tx.commit().await?;
            return Err(Error::Unauthenticated(
                "refresh token reuse detected; sign in again",
            ));
        }
        let user = self.by_id(&user_id).await?;
        let next = self.insert_refresh(&user_id, &family).await?;
        Ok((user, next))
    }

    /// Revokes the family of a refresh token (logout).
    pub async fn revoke_refresh(&self, token: &str) -> Result<()> {
        let now = self.clock.now_ms();
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
        )
        .bind(now)
        .bind(digest(token))
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The persisted signing key (kid, PKCS#1 PEM), if any.
    pub async fn signing_key(&self) -> Result<Option<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT kid, private_pem FROM signing_keys ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(&self.db.pool)
        .await?)
    }

    /// Stores a signing key unless another instance stored one first; returns the winner.
    pub async fn store_signing_key(&self, kid: &str, pem: &str) -> Result<(String, String)> {
        sqlx::query("INSERT INTO signing_keys (kid, private_pem, created_at) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)")
            .bind(kid)
            .bind(pem)
            .bind(self.clock.now_ms())
            .execute(&self.db.pool)
            .await?;
        self.signing_key()
            .await?
            .ok_or_else(|| Error::Internal("signing key vanished".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(parse_email(" A@Example.COM ").unwrap(), "a@example.com");
        for bad in ["", "a", "a@b", "@b.c", "a b@c.d", "a@.c"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_passwords_are_rejected() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }

    #[test]
    fn secrets_are_random_and_digested() {
        let (a, ha) = new_secret();
        let (b, _) = new_secret();
        assert_ne!(a, b);
        assert_eq!(digest(&a), ha);
        assert_eq!(ha.len(), 64);
    }
}

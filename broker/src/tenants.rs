//! Tenants ("PODs") and their mode. The mode itself is the tenant-scoped parameter
//! `tenant.mode`, so it has one home, an audit trail and a confirmed switch.

use serde::Serialize;

use crate::params::{Ctx, Params, MODE};
use crate::{Db, Error, Result};

/// The tenant every user belongs to until multi-POD onboarding exists.
pub const DEFAULT_TENANT: &str = "default";

/// SANDBOX (simulated worlds) or LIVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Sandbox,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sandbox => "sandbox",
            Mode::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "sandbox" => Some(Mode::Sandbox),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

/// Creates the default tenant when missing.
pub async fn ensure_default(db: &Db, now_ms: i64) -> Result<()> {
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
        .bind(DEFAULT_TENANT)
        .bind("Default POD")
        .bind(now_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The tenant's current mode.
pub async fn mode(params: &Params, tenant_id: &str) -> Result<Mode> {
    let v = params
        .text(
            MODE,
            Ctx {
                tenant_id,
                user_id: None,
            },
        )
        .await?;
    Mode::parse(&v).ok_or_else(|| Error::Internal(format!("stored mode `{v}` is not a mode")))
}

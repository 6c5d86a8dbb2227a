//! Holds: a deployment's reserved billing window (cash → holds) and its release.

use sqlx::AnyConnection;
use tracing::instrument;

use super::book::{existing, lock_user, post, sum, transfer, Header};
use super::{cash_account, holds_account, metering, Error, Ledger, Posted, Result, TxKind, WINDOW};
use crate::params::{self, Ctx};

impl Ledger {
    /// Whether the user's available credit covers `amount_minor` now (advisory: [`hold`]
    /// checks again under the user's lock).
    ///
    /// [`hold`]: Ledger::hold
    pub async fn can_afford(&self, user_id: &str, amount_minor: i64) -> Result<bool> {
        Ok(self.balance(user_id).await?.available_minor >= amount_minor)
    }

    /// The hold a deployment at `price_per_hour_micro` takes: one billing window
    /// (`billing.window_seconds`) at the price plus `pricing.markup_percent`, rounded up.
    pub async fn hold_quote(
        &self,
        tenant_id: &str,
        user_id: &str,
        price_per_hour_micro: i64,
    ) -> Result<i64> {
        let mut conn = self.db.pool.acquire().await?;
        self.hold_quote_with(&mut conn, tenant_id, user_id, price_per_hour_micro)
            .await
    }

    /// As [`Ledger::hold_quote`], on the caller's connection.
    pub async fn hold_quote_with(
        &self,
        conn: &mut AnyConnection,
        tenant_id: &str,
        user_id: &str,
        price_per_hour_micro: i64,
    ) -> Result<i64> {
        let ctx = Ctx {
            tenant_id,
            user_id: Some(user_id),
        };
        let window = self.params.int_with(conn, WINDOW, ctx).await?;
        let markup = self.params.int_with(conn, params::MARKUP, ctx).await?;
        Ok(metering::window_cost_minor(
            price_per_hour_micro,
            markup,
            window,
        ))
    }

    /// Reserves `amount_minor` of the user's available credit for an allocation (cash →
    /// holds) in its own transaction. One hold per allocation: a retry is a no-op.
    #[instrument(skip_all, fields(user = user_id, allocation = allocation_id, amount = amount_minor))]
    pub async fn hold(
        &self,
        user_id: &str,
        allocation_id: &str,
        amount_minor: i64,
    ) -> Result<Posted> {
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let p = self
            .hold_with(&mut tx, now, user_id, allocation_id, amount_minor)
            .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// As [`Ledger::hold`], on the caller's transaction (e.g. `Allocations::deploy`, after
    /// inserting the allocation row): fails with [`Error::InsufficientFunds`] before
    /// writing anything. Also opens the allocation's meter with the price and markup fixed
    /// now.
    pub async fn hold_with(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        allocation_id: &str,
        amount_minor: i64,
    ) -> Result<Posted> {
        if amount_minor <= 0 {
            return Err(crate::Error::invalid("amount_minor", "a hold must be positive").into());
        }
        let tenant = lock_user(conn, now, user_id).await?;
        let key = format!("hold:{allocation_id}");
        let fingerprint = format!("hold|{user_id}|{allocation_id}|{amount_minor}");
        if let Some(p) = existing(conn, &key, &fingerprint).await? {
            return Ok(p);
        }
        let available = sum(conn, &cash_account(user_id), None).await?;
        if available < amount_minor {
            return Err(Error::InsufficientFunds {
                available_minor: available,
                required_minor: amount_minor,
            });
        }
        self.open_meter(conn, now, &tenant, user_id, allocation_id)
            .await?;
        post(
            conn,
            now,
            &Header {
                key,
                fingerprint,
                kind: TxKind::Hold,
                user_id,
                allocation_id: Some(allocation_id),
                reference: None,
                actor: "system",
                memo: None,
            },
            &transfer(
                cash_account(user_id),
                holds_account(user_id),
                amount_minor,
                Some(allocation_id.to_string()),
            ),
        )
        .await
    }

    /// Creates the allocation's meter (not started) if it has none, fixing the markup.
    pub(super) async fn open_meter(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        tenant_id: &str,
        user_id: &str,
        allocation_id: &str,
    ) -> Result<()> {
        let markup = self
            .params
            .int_with(
                conn,
                params::MARKUP,
                Ctx {
                    tenant_id,
                    user_id: Some(user_id),
                },
            )
            .await?;
        let n = sqlx::query(
            "INSERT INTO ledger_meters (allocation_id, user_id, tenant_id, price_micro, markup_percent, remainder, open, created_at, updated_at) \
             SELECT id, user_id, tenant_id, quoted_price_micro, $1, 0, 1, $2, $2 FROM allocations WHERE id = $3 AND user_id = $4 \
             ON CONFLICT (allocation_id) DO NOTHING",
        )
        .bind(markup)
        .bind(now)
        .bind(allocation_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n == 0 {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT allocation_id FROM ledger_meters WHERE allocation_id = $1")
                    .bind(allocation_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            if found.is_none() {
                return Err(crate::Error::NotFound { what: "deployment" }.into());
            }
        }
        Ok(())
    }

    /// Returns what is left of an allocation's hold to available credit (holds → cash), in
    /// its own transaction. `None` when nothing is held. Metering calls this itself at the
    /// confirmed release (after the last usage) and when an allocation fails.
    #[instrument(skip_all, fields(allocation = allocation_id))]
    pub async fn release_hold(&self, allocation_id: &str) -> Result<Option<Posted>> {
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let (user_id,): (String,) = sqlx::query_as("SELECT user_id FROM allocations WHERE id = $1")
            .bind(allocation_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::Error::NotFound { what: "deployment" })?;
        let p = self
            .release_hold_with(&mut tx, now, &user_id, allocation_id)
            .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// As [`Ledger::release_hold`], on the caller's transaction.
    pub async fn release_hold_with(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        allocation_id: &str,
    ) -> Result<Option<Posted>> {
        lock_user(conn, now, user_id).await?;
        let left = sum(conn, &holds_account(user_id), Some(allocation_id)).await?;
        if left <= 0 {
            return Ok(None);
        }
        let p = post(
            conn,
            now,
            &Header {
                key: format!("release_hold:{allocation_id}"),
                fingerprint: format!("release_hold|{user_id}|{allocation_id}"),
                kind: TxKind::ReleaseHold,
                user_id,
                allocation_id: Some(allocation_id),
                reference: None,
                actor: "system",
                memo: None,
            },
            &transfer(
                holds_account(user_id),
                cash_account(user_id),
                left,
                Some(allocation_id.to_string()),
            ),
        )
        .await?;
        Ok(Some(p))
    }
}

//! The caller's money over time: statements (JSON or CSV), the paged ledger history and
//! refunds of unused prepaid credit.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use broker::ledger::statement::{Line, Statement};
use broker::ledger::Posted;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{
    create_status, decode_cursor, encode_cursor, parse_limit, required_idempotency_key, ApiJson,
    Page,
};
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;
/// The default statement period: the last 30 days.
const DEFAULT_PERIOD_MS: i64 = 30 * DAY_MS;

/// A period bound: RFC 3339, or a UTC date (`to` as a date includes that whole day).
fn parse_bound(field: &str, raw: &str, end_of_day: bool) -> ApiResult<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let ms = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or_default();
        return Ok(if end_of_day { ms + DAY_MS } else { ms });
    }
    Err(ApiError::Broker(broker::Error::invalid(
        field,
        "expected a date (2026-11-01) or an RFC 3339 time",
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn day(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The CSV export: one row per ledger transaction of the period, oldest first; the
/// `amount_minor` column sums to the closing minus the opening credit.
fn csv(st: &Statement) -> ApiResult<Vec<u8>> {
    let fail = |e: csv::Error| ApiError::Broker(broker::Error::Internal(e.to_string()));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "at",
        "transaction_id",
        "kind",
        "allocation_id",
        "reference",
        "memo",
        "available_delta_minor",
        "held_delta_minor",
        "amount_minor",
    ])
    .map_err(fail)?;
    for l in &st.lines {
        w.write_record([
            rfc3339(l.at),
            l.transaction_id.clone(),
            l.kind.clone(),
            l.allocation_id.clone().unwrap_or_default(),
            l.reference.clone().unwrap_or_default(),
            l.memo.clone().unwrap_or_default(),
            l.available_delta_minor.to_string(),
            l.held_delta_minor.to_string(),
            l.amount_minor().to_string(),
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| ApiError::Broker(broker::Error::Internal(e.to_string())))
}

async fn statement(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    Query(q): Query<StatementQuery>,
) -> ApiResult<Response> {
    let now = s.broker.clock.now_ms();
    let to = match q.to.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => parse_bound("to", t, true)?,
        None => now,
    };
    let from = match q.from.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => parse_bound("from", f, false)?,
        None => to - DEFAULT_PERIOD_MS,
    };
    let st = s
        .broker
        .ledger
        .statement(&u.id, from, to)
        .await
        .map_err(broker::Error::from)?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(st).into_response()),
        "csv" => {
            let name = format!(
                "attachment; filename=\"gpubroker-statement-{}-{}.csv\"",
                day(from),
                day(to - 1)
            );
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, name),
                ],
                csv(&st)?,
            )
                .into_response())
        }
        other => Err(ApiError::Broker(broker::Error::invalid_choice(
            "format",
            other,
            vec!["json".into(), "csv".into()],
        ))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
struct LineView {
    #[serde(flatten)]
    line: Line,
    amount_minor: i64,
}

async fn history(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Page<LineView>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let before = decode_cursor(q.cursor.as_deref())?;
    let lines = s
        .broker
        .ledger
        .history(&u.id, before, limit)
        .await
        .map_err(broker::Error::from)?;
    let next_cursor = (i64::try_from(lines.len()).unwrap_or(0) == limit)
        .then(|| lines.last().map(|l| encode_cursor(l.at, &l.transaction_id)))
        .flatten();
    Ok(Json(Page {
        items: lines
            .into_iter()
            .map(|line| LineView {
                amount_minor: line.amount_minor(),
                line,
            })
            .collect(),
        next_cursor,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    amount_minor: i64,
}

async fn refund(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    headers: HeaderMap,
    ApiJson(b): ApiJson<RefundBody>,
) -> ApiResult<(StatusCode, Json<Posted>)> {
    let key = required_idempotency_key(&headers, "a refund")?;
    let posted = s.broker.refund(&u, b.amount_minor, key).await?;
    Ok((create_status(!posted.replayed), Json(posted)))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/billing/statement", get(statement))
        .route("/api/v1/billing/ledger", get(history))
        .route("/api/v1/billing/refunds", post(refund))
}

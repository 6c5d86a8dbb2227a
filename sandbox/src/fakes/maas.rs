//! A fake of a Canonical MAAS 2.0 region API (`/MAAS/api/2.0`) over the market's owned
//! machines ([`crate::fleet`]).
//!
//! - Auth: OAuth 1.0a `PLAINTEXT` (`Authorization: OAuth oauth_consumer_key=..,
//!   oauth_token=.., oauth_signature_method="PLAINTEXT", oauth_signature="&<secret>",
//!   oauth_nonce, oauth_timestamp, oauth_version="1.0"`) for the key
//!   `CONSUMER_KEY:TOKEN_KEY:<api key>`; anything else → 401 (plain text, as MAAS).
//! - `GET /machines/`, `GET /machines/{system_id}/`: machine objects (`system_id`,
//!   `hostname`, `status`/`status_name`, `zone`/`pool` `{name}`, `tag_names`, `cpu_count`,
//!   `memory` MiB, `storage` MB, `owner`, `owner_data`, `ip_addresses`, `hardware_info`, ...).
//! - `POST /machines/?op=allocate` (form: `tags` comma-separated or repeated, `zone`, `pool`,
//!   `cpu_count`, `mem` minimums, `agent_name`, `comment`): the first Ready match becomes
//!   Allocated; none → 409 `No available machine matches constraints: ...`.
//! - `POST /machines/{id}/?op=set_owner_data` (form `key=value`, empty value deletes).
//! - `POST /machines/{id}/?op=deploy` (form `user_data` base64 cloud-init, `distro_series`,
//!   `agent_name`): Allocated → Deploying → Deployed after the `maas` knobs'
//!   `provision_seconds`; bad base64 → 400 `{"user_data": [...]}`.
//! - `POST /machines/{id}/?op=release` (form `erase`, `quick_erase`, `secure_erase`,
//!   `comment`): → Releasing → (Disk erasing) → Ready, each step `release_seconds`; already
//!   Releasing/Ready is accepted; Disk erasing/New → 409.
//! - Unknown machine → 404 `No Machine matches the given query.`

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};
use crate::fleet::{Machine, MachineStatus, StateViolation};

/// The consumer key of the sandbox's MAAS API key.
pub const CONSUMER_KEY: &str = "sandboxConsumer";
/// The token key of the sandbox's MAAS API key.
pub const TOKEN_KEY: &str = "sandboxToken";
/// The MAAS user the API key belongs to (the owner of allocated machines).
pub const USERNAME: &str = "gpubroker";

/// The fake's router; mount it at the root and point the adapter at `<url>/MAAS/api/2.0`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/machines/", get(list).post(machines_op))
        .route("/machines/{id}/", get(read).post(machine_op))
        .with_state(ctx.clone());
    Router::new().nest("/MAAS/api/2.0", guarded(api, ctx, FakeAuth::OAuthPlaintext))
}

/// Whether `header` is a valid OAuth 1.0a PLAINTEXT authorization for the API key
/// `CONSUMER_KEY:TOKEN_KEY:<secret>`.
pub(crate) fn oauth_plaintext_ok(header: Option<&str>, secret: &str) -> bool {
    let Some(params) = header.and_then(|h| h.strip_prefix("OAuth ")) else {
        return false;
    };
    let fields: HashMap<&str, String> = params
        .split(',')
        .filter_map(|kv| kv.trim().split_once('='))
        .map(|(k, v)| (k.trim(), percent_decode(v.trim().trim_matches('"'))))
        .collect();
    let is = |k: &str, want: &str| fields.get(k).map(String::as_str) == Some(want);
    is("oauth_signature_method", "PLAINTEXT")
        && is("oauth_consumer_key", CONSUMER_KEY)
        && is("oauth_token", TOKEN_KEY)
        && is("oauth_signature", &format!("&{secret}"))
        && fields.get("oauth_version").is_none_or(|v| v == "1.0")
        && fields.get("oauth_nonce").is_some_and(|n| !n.is_empty())
        && fields
            .get("oauth_timestamp")
            .is_some_and(|t| t.parse::<i64>().is_ok())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        body.into(),
    )
        .into_response()
}

fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "No Machine matches the given query.")
}

fn conflict(v: &StateViolation) -> Response {
    text(StatusCode::CONFLICT, v.to_string())
}

fn named(kind: &str, name: &str) -> Value {
    json!({
        "name": name,
        "description": "",
        "id": 1,
        "resource_uri": format!("/MAAS/api/2.0/{kind}/{name}/"),
    })
}

/// A machine object as MAAS 2.0 renders it.
pub(crate) fn wire_machine(m: &Machine, now: DateTime<Utc>) -> Value {
    let status = m.status(now);
    let deployed_like = matches!(status, MachineStatus::Deploying | MachineStatus::Deployed);
    json!({
        "system_id": m.system_id,
        "hostname": m.hostname,
        "fqdn": format!("{}.maas", m.hostname),
        "domain": {"id": 0, "name": "maas", "resource_uri": "/MAAS/api/2.0/domains/0/",
                   "resource_record_count": 0, "ttl": null, "authoritative": true},
        "node_type": 0,
        "node_type_name": "Machine",
        "status": status.code(),
        "status_name": status.name(),
        "status_message": "",
        "status_action": "",
        "zone": named("zones", &m.zone),
        "pool": named("pools", &m.pool),
        "tag_names": m.tags,
        "cpu_count": m.cpu_count,
        "memory": m.memory_mib,
        "storage": m.storage_mb,
        "swap_size": null,
        "architecture": "amd64/generic",
        "osystem": if deployed_like { "ubuntu" } else { "" },
        "distro_series": if deployed_like { m.distro_series.clone().unwrap_or_default() } else { String::new() },
        "hwe_kernel": "",
        "min_hwe_kernel": "",
        "netboot": !matches!(status, MachineStatus::Deployed),
        "power_type": "ipmi",
        "power_state": if matches!(status, MachineStatus::Ready | MachineStatus::New) { "off" } else { "on" },
        "owner": m.owner,
        "owner_data": m.owner_data,
        "ip_addresses": if deployed_like { vec![m.ip.clone()] } else { Vec::new() },
        "address_ttl": null,
        "disable_ipv4": false,
        "boot_interface": {
            "id": 1, "name": "eno1", "type": "physical", "enabled": true,
            "mac_address": format!("52:54:00:{}", &m.system_id[..2.min(m.system_id.len())]),
            "resource_uri": format!("/MAAS/api/2.0/nodes/{}/interfaces/1/", m.system_id),
        },
        "hardware_info": {
            "system_vendor": "Sandbox",
            "system_product": m.system_product,
            "cpu_model": m.cpu_model,
            "mainboard_vendor": "Sandbox",
        },
        "resource_uri": format!("/MAAS/api/2.0/machines/{}/", m.system_id),
    })
}

async fn list(State(ctx): State<FakeContext>) -> Response {
    let now = ctx.market.now();
    let items: Vec<Value> = ctx
        .market
        .machines()
        .iter()
        .map(|m| wire_machine(m, now))
        .collect();
    json(StatusCode::OK, Value::Array(items))
}

async fn read(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    let now = ctx.market.now();
    match ctx.market.machines().iter().find(|m| m.system_id == id) {
        Some(m) => json(StatusCode::OK, wire_machine(m, now)),
        None => not_found(),
    }
}

fn op(q: &HashMap<String, String>) -> &str {
    q.get("op").map_or("", String::as_str)
}

fn values<'a>(form: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn first<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// What a machine-level change answered.
enum Answer {
    Machine(Box<Machine>),
    Refused(StateViolation),
    Missing,
    NoMatch(String),
}

fn answer(ctx: &FakeContext, r: Result<Result<Answer, Answer>, crate::StateFileError>) -> Response {
    let now = ctx.market.now();
    let a = match r {
        Ok(Ok(a) | Err(a)) => a,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match a {
        Answer::Machine(m) => json(StatusCode::OK, wire_machine(&m, now)),
        Answer::Refused(v) => conflict(&v),
        Answer::Missing => not_found(),
        Answer::NoMatch(c) => text(
            StatusCode::CONFLICT,
            format!("No available machine matches constraints: {c}"),
        ),
    }
}

async fn machines_op(
    State(ctx): State<FakeContext>,
    Query(q): Query<HashMap<String, String>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if op(&q) != "allocate" {
        return text(
            StatusCode::BAD_REQUEST,
            format!("Unrecognised signature: method=POST op={}", op(&q)),
        );
    }
    let now = ctx.market.now();
    let tags = values(&form, "tags");
    let zone = first(&form, "zone");
    let pool = first(&form, "pool");
    let min_cpus = first(&form, "cpu_count").and_then(|v| v.parse::<f64>().ok());
    let min_mem = first(&form, "mem").and_then(|v| v.parse::<f64>().ok());
    let agent = first(&form, "agent_name").map(str::to_string);
    let asked = form
        .iter()
        .filter(|(k, _)| k != "comment")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let out_of_capacity = ctx.market.knobs(&ctx.provider.0).out_of_capacity;
    let r = ctx.market.update_machines(|machines| {
        let found = machines.iter_mut().find(|m| {
            !out_of_capacity
                && m.status(now) == MachineStatus::Ready
                && tags.iter().all(|t| m.tags.iter().any(|mt| mt == t))
                && zone.is_none_or(|z| m.zone == z)
                && pool.is_none_or(|p| m.pool == p)
                && min_cpus.is_none_or(|c| f64::from(m.cpu_count) >= c)
                && min_mem.is_none_or(|mem| m.memory_mib as f64 >= mem)
        });
        let Some(m) = found else {
            return Err(Answer::NoMatch(asked));
        };
        m.allocate(USERNAME, agent, now).map_err(Answer::Refused)?;
        Ok(Answer::Machine(Box::new(m.clone())))
    });
    answer(&ctx, r)
}

async fn machine_op(
    State(ctx): State<FakeContext>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let now = ctx.market.now();
    let knobs = ctx.market.knobs(&ctx.provider.0);
    let change: Box<dyn FnOnce(&mut Machine) -> Result<(), Answer> + Send> = match op(&q) {
        "set_owner_data" => Box::new(move |m: &mut Machine| {
            if m.owner.as_deref() != Some(USERNAME) {
                return Err(Answer::Refused(StateViolation {
                    action: "given owner data",
                    status: m.status(now).name(),
                }));
            }
            for (k, v) in form {
                if v.is_empty() {
                    m.owner_data.remove(&k);
                } else {
                    m.owner_data.insert(k, v);
                }
            }
            Ok(())
        }),
        "deploy" => {
            let user_data = match first(&form, "user_data") {
                None => None,
                Some(b64) => match base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                {
                    Some(t) => Some(t),
                    None => {
                        return json(
                            StatusCode::BAD_REQUEST,
                            json!({"user_data": ["User data is not valid base64."]}),
                        )
                    }
                },
            };
            let series = first(&form, "distro_series").unwrap_or("jammy").to_string();
            Box::new(move |m: &mut Machine| {
                m.deploy(user_data, series, now, knobs.provision_seconds)
                    .map_err(Answer::Refused)
            })
        }
        "release" => {
            let yes = |k: &str| first(&form, k).is_some_and(|v| v == "true" || v == "1");
            let erase = (yes("erase") || yes("quick_erase") || yes("secure_erase"))
                .then_some(knobs.release_seconds);
            Box::new(move |m: &mut Machine| {
                m.release(now, knobs.release_seconds, erase)
                    .map_err(Answer::Refused)
            })
        }
        other => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Unrecognised signature: method=POST op={other}"),
            )
        }
    };
    let r = ctx.market.update_machines(|machines| {
        let m = machines
            .iter_mut()
            .find(|m| m.system_id == id)
            .ok_or(Answer::Missing)?;
        change(m)?;
        Ok(Answer::Machine(Box::new(m.clone())))
    });
    answer(&ctx, r)
}

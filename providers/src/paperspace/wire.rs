//! Paperspace public API v1 wire types (`https://api.paperspace.com/v1`), from Paperspace's
//! API documentation — no recorded sample exists.

use serde::{Deserialize, Serialize};

/// `POST /machines` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateMachine<'a> {
    pub name: String,
    pub machine_type: &'a str,
    pub region: &'a str,
    pub disk_size: u32,
    pub template_id: &'a str,
    pub public_ip_type: &'a str,
    pub start_on_create: bool,
}

/// `POST /machines` and `DELETE /machines/{id}` answer: `{"data": machine, "event": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub data: Machine,
}

/// `GET /machines` page: `{"items": [...], "hasMore", "nextPage"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MachinePage {
    pub items: Vec<Machine>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub next_page: Option<String>,
}

/// A machine (`GET /machines/{id}` answers it bare).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Machine {
    pub id: String,
    pub name: String,
    /// `provisioning, starting, serviceready, ready, stopping, off, restarting, upgrading`.
    pub state: String,
    pub machine_type: String,
    pub region: String,
    #[serde(default)]
    pub public_ip: Option<String>,
}

//! Seeweb ECS API v2 wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// `GET /plans` → `{"status": "ok", "plans": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Plans {
    pub plans: Vec<Plan>,
}

/// One plan. Numbers arrive as strings (`"cpu": "8"`, `"ram": "32768"` MiB, `"disk": "500"`
/// GB, `"gpu": "1"`); `hourly_price` is a number, in EUR per server-hour.
#[derive(Debug, Deserialize)]
pub(crate) struct Plan {
    pub name: String,
    pub cpu: String,
    pub ram: String,
    pub disk: String,
    pub gpu: String,
    #[serde(default)]
    pub gpu_label: Option<String>,
    pub hourly_price: serde_json::Number,
    /// The plan is sold (not a capacity signal).
    pub available: bool,
    #[serde(default)]
    pub available_regions: Vec<Location>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Location {
    pub location: String,
}

/// `POST /servers` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateServer<'a> {
    pub plan: &'a str,
    pub location: &'a str,
    pub image: &'a str,
    pub notes: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<&'a str>,
}

/// `POST /servers` answer: `{"status", "action_id", "server"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub server: Server,
}

/// `GET /servers/{name}` answer: `{"status", "server"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ServerEnvelope {
    pub server: Server,
}

/// `GET /servers` answer: `{"status", "count", "server": [...]}` (singular key, as sent).
#[derive(Debug, Deserialize)]
pub(crate) struct ServerList {
    pub server: Vec<Server>,
}

/// A server; its `name` (`ec200016`) is Seeweb's id for it.
#[derive(Debug, Deserialize)]
pub(crate) struct Server {
    pub name: String,
    #[serde(default)]
    pub ipv4: Option<String>,
    pub plan: String,
    pub location: String,
    #[serde(default)]
    pub notes: Option<String>,
    pub status: String,
}

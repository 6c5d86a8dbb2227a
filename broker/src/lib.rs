//! The gpubroker domain and its persistence.
//!
//! Owns tenants, users and roles, the parameter store (policy), the offer index, allocations
//! and their state machine, durable jobs, mail, events (outbox) and the audit log. Pure
//! decision code (state transitions, parameter validation, offer queries) is kept apart from
//! the async shell that reads, decides, writes and calls providers.
//!
//! Invariants: no HTTP types; all SQL of the product lives here; money is integer; every
//! state change writes its event row in the same transaction.

pub mod accounts;
pub mod allocations;
pub mod audit;
pub mod credentials;
pub mod db;
mod error;
pub mod events;
pub mod identity;
pub mod jobs;
pub mod ledger;
pub mod mail;
pub mod mfa;
pub mod offers;
pub mod owned;
pub mod params;
pub mod payments;
pub mod plans;
pub mod service;
pub mod tenants;

pub use db::{Backend, Db};
pub use error::{ConflictKind, Error, Result};
pub use providers::clock::{self, Clock, ManualClock, SystemClock};
pub use service::{Broker, BrokerConfig};

/// A new random id (UUID v7: time-ordered, so ids sort by creation).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

//! Simulated external worlds for SANDBOX mode and tests. Never linked into LIVE code paths.
//!
//! The heart is [`Market`]: one simulated GPU market seeded from real catalogue prices
//! (`data/gpu-offers.csv`, see `data/README.md`), with per-offer capacity, deterministic
//! price drift, instances with a lifecycle, per-provider fault knobs and optional
//! persistence across restarts. [`Market::providers`] exposes it as one
//! [`providers::Provider`] per simulated cloud.
//!
//! Invariants: everything is deterministic given the seed and the injected [`Clock`]; money
//! is integer micro-USD; a unit of capacity is consumed once per instance and returned once.

pub mod catalog;
pub mod fakes;
pub mod fleet;
pub use providers::clock;
pub mod market;
pub mod pricing;
pub mod provider;
mod state;
pub mod world;

pub use state::StateFileError;

pub use catalog::{CatalogError, SeedRow, SEED_CSV};
pub use clock::{Clock, ManualClock, SystemClock};
pub use market::{Knobs, Market, MarketConfig, MarketError};
pub use provider::SimProvider;

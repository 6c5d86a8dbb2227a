//! The vocabulary every GPU source shares: the normalized [`Offer`] schema, the canonical
//! GPU catalogue ([`gpus`]), the [`Provider`] trait and its error taxonomy.
//!
//! Invariants: knows nothing of users, tenants or money ledgers; vendor wire types never
//! leave an adapter; prices are exact integers (micro-USD), never floating point.

pub mod akash;
pub mod aws;
pub mod azure;
pub mod clock;
pub mod cudo;
pub mod digitalocean;
pub mod fluidstack;
pub mod gcp;
pub mod gpus;
pub mod http;
pub mod hyperstack;
pub mod jarvislabs;
pub mod lambda;
pub mod latitude;
pub mod linode;
pub mod live;
pub mod maas;
pub mod money;
pub mod oci;
pub mod offer;
pub mod ovhcloud;
pub mod ownership;
pub mod paperspace;
pub mod provider;
pub mod regions;
pub mod runpod;
pub mod scaleway;
pub mod seeweb;
pub mod tensordock;
pub mod vast;
pub mod verda;
pub mod vultr;

pub use money::{MicroUsd, ParseMoneyError};
pub use offer::{Offer, OfferId, OfferSource, Pricing, ProviderId};
pub use provider::{
    Capabilities, Connection, Instance, InstanceId, InstanceState, Provider, ProviderError,
    ProviderKind, ProvisionRequest,
};

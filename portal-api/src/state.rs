//! What every handler shares.

use std::sync::Arc;

use broker::Broker;

use crate::auth::Keys;
use crate::identity::Identities;

/// Shared application state.
#[derive(Debug)]
pub struct AppState {
    pub broker: Arc<Broker>,
    pub keys: Arc<Keys>,
    /// The identity providers (local always; Cognito when configured).
    pub identity: Identities,
    /// The simulated market behind SANDBOX mode (fault knobs, instances).
    pub market: Option<Arc<sandbox::Market>>,
    /// Stripe's publishable key (`pk_…`) for Stripe.js on the top-up page, when configured.
    pub stripe_publishable_key: Option<String>,
    /// The sandbox's running wire fakes (their fault knobs); stopped when the last holder
    /// drops it.
    pub fakes: Option<Arc<sandbox::world::FakesHandle>>,
}

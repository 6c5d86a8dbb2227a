//! What every handler shares.

use std::sync::Arc;

use broker::Broker;

use crate::auth::Keys;

/// Shared application state.
#[derive(Debug)]
pub struct AppState {
    pub broker: Arc<Broker>,
    pub keys: Keys,
    /// The simulated market behind SANDBOX mode (fault knobs, instances).
    pub market: Option<Arc<sandbox::Market>>,
}

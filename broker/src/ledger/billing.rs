//! A user's billing state as a pure state machine (no IO, no clock).
//!
//! The state is a function of the user's *credit* (available cash plus what is held for
//! running deployments, in cents) and their *burn rate* (cents per hour of every deployment
//! being metered): see [`evaluate`]. [`transition`] checks a move against its cause and says
//! what must happen because of it ([`Effect`]).

use serde::Serialize;

/// Where a user's credit stands, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingState {
    /// Credit above the low-balance threshold and enough for a billing window.
    Healthy,
    /// Credit at or below `billing.low_balance_threshold_minor`.
    LowBalance,
    /// At the current burn rate the credit runs out within `billing.window_seconds`.
    AutoReleasePending,
    /// No credit left (≤ 0).
    Depleted,
}

impl BillingState {
    pub const ALL: [BillingState; 4] = [
        BillingState::Healthy,
        BillingState::LowBalance,
        BillingState::AutoReleasePending,
        BillingState::Depleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BillingState::Healthy => "healthy",
            BillingState::LowBalance => "low_balance",
            BillingState::AutoReleasePending => "auto_release_pending",
            BillingState::Depleted => "depleted",
        }
    }

    pub fn parse(s: &str) -> Option<BillingState> {
        BillingState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The thresholds [`evaluate`] compares against (from the parameter store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// `billing.low_balance_threshold_minor`.
    pub low_balance_minor: i64,
    /// `billing.window_seconds`.
    pub window_seconds: i64,
}

/// The state a credit and burn rate put a user in (pure). The worst condition wins:
/// credit ≤ 0 → depleted; credit lasts at most one window at the burn rate →
/// auto-release pending; credit ≤ threshold → low balance; else healthy.
pub fn evaluate(credit_minor: i64, burn_per_hour_minor: i64, t: Thresholds) -> BillingState {
    if credit_minor <= 0 {
        BillingState::Depleted
    } else if burn_per_hour_minor > 0
        && i128::from(credit_minor) * 3600
            <= i128::from(burn_per_hour_minor) * i128::from(t.window_seconds)
    {
        BillingState::AutoReleasePending
    } else if credit_minor <= t.low_balance_minor {
        BillingState::LowBalance
    } else {
        BillingState::Healthy
    }
}

/// Why the state is being re-evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Credit went down (usage, refund, negative adjustment) at an unchanged burn rate: the
    /// state can only stay or get worse.
    Debit,
    /// Credit went up (top-up, positive adjustment) at an unchanged burn rate: the state can
    /// only stay or get better.
    Credit,
    /// A deployment started or stopped being metered (the burn rate changed), possibly
    /// together with usage: any move is possible.
    BurnChange,
}

/// What a transition asks the shell to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Send the low-balance email (if `notification.low_balance_enabled`).
    NotifyLowBalance,
    /// Warn that running deployments will be released when the credit runs out.
    NotifyAutoReleasePending,
    /// Send the balance-depleted email (if `notification.balance_depleted_enabled`).
    NotifyDepleted,
    /// Release the user's running deployments (the credit is gone).
    ReleaseDeployments,
    /// The user is back to healthy (e.g. after a top-up).
    NotifyRestored,
}

/// A move that contradicts its cause (e.g. a debit that improves the state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("billing state cannot go from {} to {} on a {cause:?}", from.as_str(), to.as_str())]
pub struct IllegalTransition {
    pub from: BillingState,
    pub to: BillingState,
    pub cause: Cause,
}

/// Checks a move and lists its effects (pure). Staying put has no effects. Worsening may
/// skip states (one large charge can cross several thresholds); the effects are those of the
/// state entered. Improving to healthy notifies the user.
pub fn transition(
    from: BillingState,
    to: BillingState,
    cause: Cause,
) -> Result<Vec<Effect>, IllegalTransition> {
    let legal = match cause {
        Cause::Debit => to >= from,
        Cause::Credit => to <= from,
        Cause::BurnChange => true,
    };
    if !legal {
        return Err(IllegalTransition { from, to, cause });
    }
    if to == from {
        return Ok(Vec::new());
    }
    Ok(match (to > from, to) {
        (true, BillingState::LowBalance) => vec![Effect::NotifyLowBalance],
        (true, BillingState::AutoReleasePending) => vec![Effect::NotifyAutoReleasePending],
        (true, BillingState::Depleted) => {
            vec![Effect::NotifyDepleted, Effect::ReleaseDeployments]
        }
        (false, BillingState::Healthy) => vec![Effect::NotifyRestored],
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use BillingState::*;

    const T: Thresholds = Thresholds {
        low_balance_minor: 500,
        window_seconds: 3600,
    };

    #[test]
    fn plenty_of_credit_and_no_burn_is_healthy() {
        assert_eq!(evaluate(10_000, 0, T), Healthy);
    }

    #[test]
    fn credit_at_the_threshold_is_low_balance() {
        assert_eq!(evaluate(500, 0, T), LowBalance);
        assert_eq!(evaluate(501, 0, T), Healthy);
    }

    #[test]
    fn credit_for_at_most_one_window_at_the_burn_rate_is_auto_release_pending() {
        // 100 cents/hour, one-hour window: 100 cents last exactly one window.
        assert_eq!(evaluate(100, 100, T), AutoReleasePending);
        assert_eq!(evaluate(101, 100, T), LowBalance);
        assert_eq!(evaluate(10_000, 10_000, T), AutoReleasePending);
        assert_eq!(evaluate(10_001, 10_000, T), Healthy);
    }

    #[test]
    fn no_credit_is_depleted_whatever_the_burn() {
        assert_eq!(evaluate(0, 0, T), Depleted);
        assert_eq!(evaluate(-3, 1_000, T), Depleted);
    }

    #[test]
    fn the_way_down_is_healthy_low_pending_depleted() {
        let burn = 200;
        let path: Vec<BillingState> = [1_000, 400, 150, 0]
            .into_iter()
            .map(|c| evaluate(c, burn, T))
            .collect();
        assert_eq!(path, [Healthy, LowBalance, AutoReleasePending, Depleted]);
        for w in path.windows(2) {
            assert!(transition(w[0], w[1], Cause::Debit).is_ok());
        }
    }

    #[test]
    fn entering_each_worse_state_asks_for_its_notification() {
        assert_eq!(
            transition(Healthy, LowBalance, Cause::Debit),
            Ok(vec![Effect::NotifyLowBalance])
        );
        assert_eq!(
            transition(LowBalance, AutoReleasePending, Cause::Debit),
            Ok(vec![Effect::NotifyAutoReleasePending])
        );
        assert_eq!(
            transition(AutoReleasePending, Depleted, Cause::Debit),
            Ok(vec![Effect::NotifyDepleted, Effect::ReleaseDeployments])
        );
    }

    #[test]
    fn one_large_charge_may_skip_straight_to_depleted() {
        assert_eq!(
            transition(Healthy, Depleted, Cause::Debit),
            Ok(vec![Effect::NotifyDepleted, Effect::ReleaseDeployments])
        );
    }

    #[test]
    fn a_top_up_returns_to_healthy_from_any_state() {
        for from in [LowBalance, AutoReleasePending, Depleted] {
            let to = evaluate(100_000, 100, T);
            assert_eq!(to, Healthy);
            assert_eq!(
                transition(from, to, Cause::Credit),
                Ok(vec![Effect::NotifyRestored])
            );
        }
    }

    #[test]
    fn a_debit_never_improves_and_a_credit_never_worsens() {
        assert!(transition(LowBalance, Healthy, Cause::Debit).is_err());
        assert!(transition(Depleted, LowBalance, Cause::Debit).is_err());
        assert!(transition(Healthy, LowBalance, Cause::Credit).is_err());
    }

    #[test]
    fn a_burn_change_may_move_either_way() {
        assert_eq!(
            transition(AutoReleasePending, LowBalance, Cause::BurnChange),
            Ok(vec![])
        );
        assert_eq!(
            transition(LowBalance, AutoReleasePending, Cause::BurnChange),
            Ok(vec![Effect::NotifyAutoReleasePending])
        );
    }

    #[test]
    fn staying_put_has_no_effects() {
        for s in BillingState::ALL {
            for cause in [Cause::Debit, Cause::Credit, Cause::BurnChange] {
                assert_eq!(transition(s, s, cause), Ok(vec![]));
            }
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in BillingState::ALL {
            assert_eq!(BillingState::parse(s.as_str()), Some(s));
        }
    }
}

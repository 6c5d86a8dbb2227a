//! The allocation state machine, as pure data and functions.

use serde::Serialize;

/// Where an allocation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Requested,
    Provisioning,
    Ready,
    Active,
    Releasing,
    Released,
    Failed,
    ReleaseFailed,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Requested,
        State::Provisioning,
        State::Ready,
        State::Active,
        State::Releasing,
        State::Released,
        State::Failed,
        State::ReleaseFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Provisioning => "provisioning",
            State::Ready => "ready",
            State::Active => "active",
            State::Releasing => "releasing",
            State::Released => "released",
            State::Failed => "failed",
            State::ReleaseFailed => "release_failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the allocation still holds (or may hold) capacity and counts against limits.
    pub fn is_live(self) -> bool {
        !matches!(self, State::Released | State::Failed)
    }

    /// The legal transitions; anything else is rejected.
    pub fn can_become(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Requested, Provisioning)
                | (Requested, Failed)
                | (Provisioning, Ready)
                | (Provisioning, Failed)
                | (Ready, Active)
                | (Ready, Releasing)
                | (Active, Releasing)
                | (Releasing, Released)
                | (Releasing, ReleaseFailed)
                | (ReleaseFailed, Releasing)
        )
    }
}

/// A transition that the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a deployment cannot go from {} to {}", from.as_str(), to.as_str())]
pub struct IllegalTransition {
    pub from: State,
    pub to: State,
}

/// Checks one step (pure).
pub fn transition(from: State, to: State) -> Result<State, IllegalTransition> {
    if from.can_become(to) {
        Ok(to)
    } else {
        Err(IllegalTransition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_is_legal_end_to_end() {
        let path = [
            State::Requested,
            State::Provisioning,
            State::Ready,
            State::Active,
            State::Releasing,
            State::Released,
        ];
        for w in path.windows(2) {
            assert_eq!(transition(w[0], w[1]), Ok(w[1]));
        }
    }

    #[test]
    fn terminal_states_go_nowhere() {
        for to in State::ALL {
            assert!(!State::Released.can_become(to));
            assert!(!State::Failed.can_become(to));
        }
    }

    #[test]
    fn release_failure_can_be_retried_but_not_skipped() {
        assert!(State::ReleaseFailed.can_become(State::Releasing));
        assert!(!State::ReleaseFailed.can_become(State::Released));
        assert!(!State::Active.can_become(State::Released));
        assert!(!State::Requested.can_become(State::Active));
    }

    #[test]
    fn names_round_trip_and_liveness_matches_terminality() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
            let terminal = State::ALL.iter().all(|t| !s.can_become(*t));
            assert_eq!(!s.is_live(), terminal, "{s:?}");
        }
    }
}

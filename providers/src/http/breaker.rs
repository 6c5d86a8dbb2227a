//! The per-provider circuit breaker: `failsafe`'s state machine with a consecutive-failure
//! policy, plus an observable [`BreakerState`] for health pages.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use failsafe::failure_policy::{consecutive_failures, ConsecutiveFailures};
use failsafe::{Config, Instrument, StateMachine};
use serde::Serialize;

/// The breaker as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused until the backoff has passed.
    Open,
    /// The backoff has passed; the next call is a probe.
    HalfOpen,
}

/// How long an open breaker stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerBackoff {
    /// The same wait every time.
    Constant(Duration),
    /// `start`, doubling on every re-open, up to `max` (both at least one second).
    Exponential { start: Duration, max: Duration },
}

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failed calls that open the breaker.
    pub consecutive_failures: u32,
    pub backoff: BreakerBackoff,
}

/// Consecutive failed calls that open a breaker by default. The broker's parameter
/// `providers.breaker_failure_threshold` defaults to it.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;

/// How long an open breaker waits before its probe by default. The broker's parameter
/// `providers.breaker_open_ms` defaults to it.
pub const DEFAULT_BREAKER_OPEN: Duration = Duration::from_secs(10);

/// [`DEFAULT_BREAKER_FAILURES`] with a constant [`DEFAULT_BREAKER_OPEN`] wait: the policy the
/// broker's parameters give by default, so pushing the default parameters into a new engine
/// changes nothing.
impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            consecutive_failures: DEFAULT_BREAKER_FAILURES,
            backoff: BreakerBackoff::Constant(DEFAULT_BREAKER_OPEN),
        }
    }
}

/// The backoff stream as `failsafe` wants it (an iterator of waits).
#[derive(Debug, Clone)]
pub(crate) enum Waits {
    Constant(Duration),
    Exponential(failsafe::backoff::Exponential),
}

impl Iterator for Waits {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        match self {
            Waits::Constant(d) => Some(*d),
            Waits::Exponential(e) => e.next(),
        }
    }
}

impl Waits {
    fn of(backoff: BreakerBackoff) -> Self {
        match backoff {
            BreakerBackoff::Constant(d) => Waits::Constant(d),
            BreakerBackoff::Exponential { start, max } => {
                // failsafe refuses sub-second or inverted bounds; clamp instead of failing.
                let start = start.max(Duration::from_secs(1));
                let max = max.max(start);
                Waits::Exponential(failsafe::backoff::exponential(start, max))
            }
        }
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// Records transitions so the state can be read without calling through the breaker; with
/// a constant wait it also knows when an open breaker's probe is due.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    state: Arc<AtomicU8>,
    opened_at: Arc<Mutex<Option<Instant>>>,
    constant_wait: Option<Duration>,
}

impl Instrument for Observed {
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        *self
            .opened_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.state.store(OPEN, Ordering::Relaxed);
    }

    fn on_half_open(&self) {
        self.state.store(HALF_OPEN, Ordering::Relaxed);
    }

    fn on_closed(&self) {
        self.state.store(CLOSED, Ordering::Relaxed);
    }
}

/// One provider's breaker.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    machine: StateMachine<ConsecutiveFailures<Waits>, Observed>,
    observed: Observed,
    policy: BreakerPolicy,
}

impl Breaker {
    pub(crate) fn new(policy: BreakerPolicy) -> Self {
        let observed = Observed {
            constant_wait: match policy.backoff {
                BreakerBackoff::Constant(d) => Some(d),
                BreakerBackoff::Exponential { .. } => None,
            },
            ..Observed::default()
        };
        let machine = Config::new()
            .failure_policy(consecutive_failures(
                policy.consecutive_failures.max(1),
                Waits::of(policy.backoff),
            ))
            .instrument(observed.clone())
            .build();
        Self {
            machine,
            observed,
            policy,
        }
    }

    pub(crate) fn policy(&self) -> BreakerPolicy {
        self.policy
    }

    /// Whether a call may go out now (moves Open to HalfOpen once the wait is over).
    pub(crate) fn permits(&self) -> bool {
        self.machine.is_call_permitted()
    }

    pub(crate) fn record(&self, failed: bool) {
        if failed {
            self.machine.on_error();
        } else {
            self.machine.on_success();
        }
    }

    /// The state after the last transition. An open breaker whose constant wait is over
    /// reads `HalfOpen` (the next call is the probe) before that call moves it there; with
    /// an exponential wait it reads Open until the next call probes it.
    pub(crate) fn state(&self) -> BreakerState {
        match self.observed.state.load(Ordering::Relaxed) {
            OPEN => {
                let opened = *self
                    .observed
                    .opened_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                match (opened, self.observed.constant_wait) {
                    (Some(at), Some(wait)) if at.elapsed() >= wait => BreakerState::HalfOpen,
                    _ => BreakerState::Open,
                }
            }
            HALF_OPEN => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_consecutive_failures_and_half_opens_after_the_wait() {
        let b = Breaker::new(BreakerPolicy {
            consecutive_failures: 2,
            backoff: BreakerBackoff::Constant(Duration::from_millis(30)),
        });
        assert!(b.permits());
        b.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(true);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.permits());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.permits());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.record(false);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_open_breaker_reads_half_open_once_its_constant_wait_is_over() {
        let b = Breaker::new(BreakerPolicy {
            consecutive_failures: 1,
            backoff: BreakerBackoff::Constant(Duration::from_millis(30)),
        });
        b.record(true);
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.permits());
        b.record(true);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn sub_second_exponential_bounds_are_clamped_not_fatal() {
        let b = Breaker::new(BreakerPolicy {
            consecutive_failures: 1,
            backoff: BreakerBackoff::Exponential {
                start: Duration::from_millis(1),
                max: Duration::ZERO,
            },
        });
        b.record(true);
        assert_eq!(b.state(), BreakerState::Open);
    }
}

//! The operator's own machines as a simulated MAAS region holds them: a small seeded fleet
//! (GPU facts in `gpu-<n>x-<model>` tags, across zones and pools) and the MAAS machine
//! lifecycle New / Ready → Allocated → Deploying → Deployed → Releasing → (Disk erasing) →
//! Ready, driven by the clock. Transitions are pure functions of (machine, now); the market
//! keeps the machines in its state (and state file).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A MAAS machine status (the subset the fleet goes through), with its NODE_STATUS code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineStatus {
    New,
    Ready,
    Allocated,
    Deploying,
    Deployed,
    Releasing,
    DiskErasing,
}

impl MachineStatus {
    /// MAAS `NODE_STATUS` code.
    pub fn code(self) -> i64 {
        match self {
            MachineStatus::New => 0,
            MachineStatus::Ready => 4,
            MachineStatus::Deployed => 6,
            MachineStatus::Deploying => 9,
            MachineStatus::Allocated => 10,
            MachineStatus::Releasing => 12,
            MachineStatus::DiskErasing => 14,
        }
    }

    /// MAAS `status_name`.
    pub fn name(self) -> &'static str {
        match self {
            MachineStatus::New => "New",
            MachineStatus::Ready => "Ready",
            MachineStatus::Allocated => "Allocated",
            MachineStatus::Deploying => "Deploying",
            MachineStatus::Deployed => "Deployed",
            MachineStatus::Releasing => "Releasing",
            MachineStatus::DiskErasing => "Disk erasing",
        }
    }
}

/// The stored phase; timed phases turn into the next status when their instant passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Enlisted, never commissioned: not allocatable.
    New,
    Ready,
    Allocated,
    /// Deployed from `until`.
    Deploying {
        until: DateTime<Utc>,
    },
    /// Releasing until `until`; then Disk erasing until `erased_at` (if erasing), then Ready.
    Releasing {
        until: DateTime<Utc>,
        erased_at: Option<DateTime<Utc>>,
    },
}

/// One owned machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub system_id: String,
    pub hostname: String,
    pub zone: String,
    pub pool: String,
    pub tags: Vec<String>,
    pub cpu_count: u32,
    /// MiB.
    pub memory_mib: u64,
    /// MB.
    pub storage_mb: f64,
    pub cpu_model: String,
    pub system_product: String,
    pub ip: String,
    pub phase: Phase,
    pub owner: Option<String>,
    pub agent_name: Option<String>,
    pub owner_data: BTreeMap<String, String>,
    /// The decoded cloud-init of the last deploy.
    pub user_data: Option<String>,
    pub distro_series: Option<String>,
    /// Whether the last release asked for a disk erase.
    pub erased: bool,
}

/// A lifecycle operation refused in the machine's state (MAAS: 409).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Machine cannot be {action} in its current state ('{status}').")]
pub struct StateViolation {
    pub action: &'static str,
    pub status: &'static str,
}

impl Machine {
    /// The status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> MachineStatus {
        match &self.phase {
            Phase::New => MachineStatus::New,
            Phase::Ready => MachineStatus::Ready,
            Phase::Allocated => MachineStatus::Allocated,
            Phase::Deploying { until } if now >= *until => MachineStatus::Deployed,
            Phase::Deploying { .. } => MachineStatus::Deploying,
            Phase::Releasing { until, .. } if now < *until => MachineStatus::Releasing,
            Phase::Releasing {
                erased_at: Some(t), ..
            } if now < *t => MachineStatus::DiskErasing,
            Phase::Releasing { .. } => MachineStatus::Ready,
        }
    }

    fn refuse(&self, action: &'static str, now: DateTime<Utc>) -> StateViolation {
        StateViolation {
            action,
            status: self.status(now).name(),
        }
    }

    /// Ready → Allocated to `owner`.
    pub fn allocate(
        &mut self,
        owner: &str,
        agent_name: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), StateViolation> {
        if self.status(now) != MachineStatus::Ready {
            return Err(self.refuse("allocated", now));
        }
        self.phase = Phase::Allocated;
        self.owner = Some(owner.to_string());
        self.agent_name = agent_name;
        self.owner_data.clear();
        self.user_data = None;
        self.erased = false;
        Ok(())
    }

    /// Allocated → Deploying (Deployed after `seconds`).
    pub fn deploy(
        &mut self,
        user_data: Option<String>,
        distro_series: String,
        now: DateTime<Utc>,
        seconds: u64,
    ) -> Result<(), StateViolation> {
        if self.status(now) != MachineStatus::Allocated {
            return Err(self.refuse("deployed", now));
        }
        self.phase = Phase::Deploying {
            until: after(now, seconds),
        };
        self.user_data = user_data;
        self.distro_series = Some(distro_series);
        Ok(())
    }

    /// Allocated / Deploying / Deployed → Releasing (then Disk erasing when `erase_seconds`
    /// is `Some`, then Ready). A machine already Releasing or Ready is a redundant retry:
    /// accepted, nothing changes.
    pub fn release(
        &mut self,
        now: DateTime<Utc>,
        release_seconds: u64,
        erase_seconds: Option<u64>,
    ) -> Result<(), StateViolation> {
        match self.status(now) {
            MachineStatus::Releasing | MachineStatus::Ready => Ok(()),
            MachineStatus::Allocated | MachineStatus::Deploying | MachineStatus::Deployed => {
                let until = after(now, release_seconds);
                self.phase = Phase::Releasing {
                    until,
                    erased_at: erase_seconds.map(|s| after(until, s)),
                };
                self.erased = erase_seconds.is_some();
                self.owner = None;
                self.agent_name = None;
                self.owner_data.clear();
                Ok(())
            }
            MachineStatus::New | MachineStatus::DiskErasing => Err(self.refuse("released", now)),
        }
    }
}

/// `seconds` after `t`, saturating.
fn after(t: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    i64::try_from(seconds)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The seeded fleet: 8×H100 SXM, 4×A100 80GB SXM, 2×L40S and 1×RTX 4090 machines across two
/// zones and three pools, plus one machine still New (never offered).
pub fn seed() -> Vec<Machine> {
    let m = |id: &str,
             host: &str,
             zone: &str,
             pool: &str,
             tag: &str,
             cpus: u32,
             mem_gib: u64,
             product: &str,
             ip: &str,
             phase: Phase| Machine {
        system_id: id.to_string(),
        hostname: host.to_string(),
        zone: zone.to_string(),
        pool: pool.to_string(),
        tags: vec!["gpu".to_string(), tag.to_string()],
        cpu_count: cpus,
        memory_mib: mem_gib * 1024,
        storage_mb: 3_840_755.982_336,
        cpu_model: "AMD EPYC 9454 48-Core Processor".to_string(),
        system_product: product.to_string(),
        ip: ip.to_string(),
        phase,
        owner: None,
        agent_name: None,
        owner_data: BTreeMap::new(),
        user_data: None,
        distro_series: None,
        erased: false,
    };
    vec![
        m(
            "h8x7q1",
            "hopper-01",
            "dc1",
            "training",
            "gpu-8x-h100-sxm",
            192,
            2048,
            "PowerEdge XE9680",
            "10.20.1.11",
            Phase::Ready,
        ),
        m(
            "h8x7q2",
            "hopper-02",
            "dc1",
            "training",
            "gpu-8x-h100-sxm",
            192,
            2048,
            "PowerEdge XE9680",
            "10.20.1.12",
            Phase::Ready,
        ),
        m(
            "a4k2m1",
            "ampere-01",
            "dc1",
            "default",
            "gpu-4x-a100-80gb-sxm",
            128,
            1024,
            "HGX A100 4-GPU",
            "10.20.1.21",
            Phase::Ready,
        ),
        m(
            "l2s9d1",
            "lovelace-01",
            "dc2",
            "inference",
            "gpu-2x-l40s",
            64,
            512,
            "ProLiant DL380a Gen11",
            "10.20.2.31",
            Phase::Ready,
        ),
        m(
            "r1t4w1",
            "geforce-01",
            "dc2",
            "inference",
            "gpu-1x-rtx-4090",
            32,
            128,
            "Workstation",
            "10.20.2.41",
            Phase::Ready,
        ),
        m(
            "n3w0b1",
            "unboxed-01",
            "dc2",
            "default",
            "gpu-8x-h100-sxm",
            192,
            2048,
            "PowerEdge XE9680",
            "10.20.2.51",
            Phase::New,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default()
    }

    #[test]
    fn a_machine_goes_ready_allocated_deploying_deployed_releasing_erasing_ready() {
        let mut m = seed().remove(0);
        assert_eq!(m.status(t(0)), MachineStatus::Ready);
        m.allocate("gpubroker", Some("a-1".into()), t(0)).unwrap();
        assert_eq!(m.status(t(0)), MachineStatus::Allocated);
        m.deploy(None, "jammy".into(), t(1), 10).unwrap();
        assert_eq!(m.status(t(5)), MachineStatus::Deploying);
        assert_eq!(m.status(t(11)), MachineStatus::Deployed);
        m.release(t(20), 3, Some(4)).unwrap();
        assert_eq!(m.owner, None);
        assert_eq!(m.status(t(21)), MachineStatus::Releasing);
        assert_eq!(m.status(t(24)), MachineStatus::DiskErasing);
        assert_eq!(m.status(t(28)), MachineStatus::Ready);
    }

    #[test]
    fn illegal_operations_are_refused_and_a_repeated_release_is_accepted() {
        let mut m = seed().remove(0);
        assert!(m.deploy(None, "jammy".into(), t(0), 1).is_err());
        m.allocate("gpubroker", None, t(0)).unwrap();
        assert!(m.allocate("someone", None, t(0)).is_err());
        m.release(t(1), 5, Some(5)).unwrap();
        assert_eq!(
            m.release(t(2), 5, Some(5)),
            Ok(()),
            "Releasing: redundant retry"
        );
        let err = m.release(t(7), 5, Some(5)).unwrap_err();
        assert_eq!(err.status, "Disk erasing");
        let mut new = seed().remove(5);
        assert!(new.allocate("gpubroker", None, t(0)).is_err());
    }
}

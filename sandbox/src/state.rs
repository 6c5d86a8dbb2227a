//! The market's mutable state and its JSON file: written atomically (temp file, fsync,
//! rename) so a crash leaves either the old or the new state, never a torn one.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use providers::{InstanceId, OfferId, ProviderId};
use serde::{Deserialize, Serialize};

/// Bumped when the file layout changes incompatibly.
pub(crate) const STATE_VERSION: u32 = 1;

/// Everything the market changes at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MarketState {
    pub version: u32,
    /// Every instance ever made, in creation order.
    pub instances: Vec<InstanceRecord>,
    /// Units available now, for offers whose capacity moved from its seeded start.
    pub available: BTreeMap<OfferId, u32>,
    /// Instances created so far (feeds instance ids).
    pub instances_created: u64,
    /// The owned machines behind the MAAS fake (seeded when empty).
    #[serde(default)]
    pub machines: Vec<crate::fleet::Machine>,
}

impl Default for MarketState {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            instances: Vec::new(),
            available: BTreeMap::new(),
            instances_created: 0,
            machines: crate::fleet::seed(),
        }
    }
}

/// One simulated instance; its state follows from these instants and the clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InstanceRecord {
    pub id: InstanceId,
    pub provider: ProviderId,
    pub allocation_id: String,
    pub offer_id: OfferId,
    pub created_at: DateTime<Utc>,
    /// When it turns `Running`.
    pub ready_at: DateTime<Utc>,
    /// When the release was accepted (it is `Terminating` from then).
    pub release_requested_at: Option<DateTime<Utc>>,
    /// When it turns `Terminated`.
    pub terminated_at: Option<DateTime<Utc>>,
    pub ssh_host: String,
    pub ssh_port: u16,
}

/// The state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("state file {path} is not valid market state: {source}")]
    Decode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("state file {path} has version {found}, expected {STATE_VERSION}")]
    Version { path: PathBuf, found: u32 },
}

/// The state saved at `path`, or `None` when there is no file yet.
pub(crate) fn load(path: &Path) -> Result<Option<MarketState>, StateFileError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateFileError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let state: MarketState =
        serde_json::from_slice(&bytes).map_err(|source| StateFileError::Decode {
            path: path.to_path_buf(),
            source,
        })?;
    if state.version != STATE_VERSION {
        return Err(StateFileError::Version {
            path: path.to_path_buf(),
            found: state.version,
        });
    }
    Ok(Some(state))
}

/// Writes `state` to `path` atomically.
pub(crate) fn save(path: &Path, state: &MarketState) -> Result<(), StateFileError> {
    let io_err = |source| StateFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec_pretty(state).map_err(|source| StateFileError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable; not every platform can open a directory.
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err(e)
    })
}

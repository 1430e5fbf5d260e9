//! The demo epoch: the instant of the first start on a data dir. The emulators live in memory and load
//! their demo data again on every start; the Vantagepoint emulator's clock is pinned to the epoch while it
//! does, so the demo's postings and firms carry the same `PostDate` / `ModDate` on every start and a restart
//! does not look like new work to the flows (whose cursors in the store are past the epoch). Once the demo
//! is loaded the clock runs on wall time, so anything posted afterwards is new.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use chrono::{DateTime, SubsecRound, Utc};
use ledgerlink_clock::{Clock, SleepFuture, SystemClock};
use serde::{Deserialize, Serialize};

/// The epoch file in the data dir.
pub const EPOCH_FILE: &str = "demo-epoch.json";

#[derive(Debug, Serialize, Deserialize)]
struct EpochFile {
    epoch: DateTime<Utc>,
}

/// Reads the data dir's epoch, or records now (whole seconds) as the epoch of a new data dir.
pub fn load_or_create(dir: &Path) -> anyhow::Result<DateTime<Utc>> {
    let path = dir.join(EPOCH_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let file: EpochFile = serde_json::from_str(&text).with_context(|| {
            format!("{} is not readable; --reset starts afresh", path.display())
        })?;
        return Ok(file.epoch);
    }
    let epoch = Utc::now().trunc_subsecs(0);
    std::fs::write(&path, serde_json::to_vec_pretty(&EpochFile { epoch })?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(epoch)
}

/// Wall time, except while pinned: then always the pinned instant.
#[derive(Debug, Default)]
pub struct PinnableClock {
    pinned: Mutex<Option<DateTime<Utc>>>,
}

impl PinnableClock {
    pub fn pinned_at(at: DateTime<Utc>) -> Self {
        Self {
            pinned: Mutex::new(Some(at)),
        }
    }

    /// From now on, wall time.
    pub fn unpin(&self) {
        if let Ok(mut pinned) = self.pinned.lock() {
            *pinned = None;
        }
    }
}

impl Clock for PinnableClock {
    fn now(&self) -> DateTime<Utc> {
        self.pinned
            .lock()
            .ok()
            .and_then(|p| *p)
            .unwrap_or_else(Utc::now)
    }

    fn sleep_until(&self, until: DateTime<Utc>) -> SleepFuture {
        SystemClock.sleep_until(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_stands_still_until_unpinned() {
        let epoch = Utc::now().trunc_subsecs(0) - chrono::Duration::days(3);
        let clock = PinnableClock::pinned_at(epoch);
        assert_eq!(clock.now(), epoch);
        clock.unpin();
        assert!(clock.now() > epoch + chrono::Duration::days(2));
    }

    #[test]
    fn the_epoch_of_a_data_dir_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let again = load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, again);
    }
}

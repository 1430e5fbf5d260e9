//! The world's clock: a [`ManualClock`] when every worker lives in this process, or a [`FileClock`] when
//! worker processes share the world (the emulators, the flows in the supervisor and in every worker process
//! all read and move one time).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_clock::{Clock, ManualClock, SharedClock, SleepFuture};

/// Virtual time kept in a file of 8 bytes (nanoseconds since the epoch), shared by processes: reads take a
/// shared lock, moves an exclusive one, so a sleep in one process (a client's settle schedule) moves time for
/// the emulators and every other process, and time never goes back.
#[derive(Debug, Clone)]
pub struct FileClock {
    file: Arc<File>,
}

impl FileClock {
    /// A new clock file at `path`, starting at `start`.
    pub fn create(path: &Path, start: DateTime<Utc>) -> std::io::Result<Self> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let clock = Self {
            file: Arc::new(file),
        };
        clock.write(start)?;
        Ok(clock)
    }

    /// The clock file another process created.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::options().read(true).write(true).open(path)?;
        Ok(Self {
            file: Arc::new(file),
        })
    }

    fn write(&self, at: DateTime<Utc>) -> std::io::Result<()> {
        let nanos = at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        self.file.write_all_at(&nanos.to_le_bytes(), 0)
    }

    fn read(&self) -> std::io::Result<DateTime<Utc>> {
        let mut bytes = [0_u8; 8];
        self.file.read_exact_at(&mut bytes, 0)?;
        Ok(DateTime::from_timestamp_nanos(i64::from_le_bytes(bytes)))
    }

    /// Now. The harness cannot go on without its clock: an unreadable clock file is a start-up invariant
    /// broken (the supervisor removed the world under a running worker).
    fn current(&self) -> DateTime<Utc> {
        let read = self
            .file
            .lock_shared()
            .and_then(|()| self.read())
            .inspect(|_| {
                let _ = self.file.unlock();
            });
        read.expect("the world's clock file is readable")
    }

    /// Moves time to `to` when that is later.
    pub fn move_to(&self, to: DateTime<Utc>) {
        self.update(|now| to.max(now));
    }

    /// Moves time on by `by`.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        self.update(|now| now.checked_add_signed(by).unwrap_or(now));
    }

    /// Reads and writes the time under the exclusive lock (a move in another process is never lost).
    fn update(&self, to: impl FnOnce(DateTime<Utc>) -> DateTime<Utc>) {
        let moved = self.file.lock().and_then(|()| {
            let result = self.read().and_then(|now| self.write(to(now)));
            let _ = self.file.unlock();
            result
        });
        moved.expect("the world's clock file is writable");
    }
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        self.current()
    }
    fn sleep_until(&self, until: DateTime<Utc>) -> SleepFuture {
        self.move_to(until);
        Box::pin(tokio::task::yield_now())
    }
}

/// The clock of a fault world.
#[derive(Debug, Clone)]
pub enum WorldClock {
    /// Every worker in this process.
    Manual(ManualClock),
    /// Worker processes share it.
    File(FileClock),
}

impl WorldClock {
    pub fn shared(&self) -> SharedClock {
        match self {
            Self::Manual(clock) => clock.shared(),
            Self::File(clock) => Arc::new(clock.clone()),
        }
    }

    pub fn advance(&self, by: Duration) {
        match self {
            Self::Manual(clock) => clock.advance(by),
            Self::File(clock) => clock.advance(by),
        }
    }
}

impl Clock for WorldClock {
    fn now(&self) -> DateTime<Utc> {
        match self {
            Self::Manual(clock) => clock.now(),
            Self::File(clock) => clock.now(),
        }
    }
    fn sleep_until(&self, until: DateTime<Utc>) -> SleepFuture {
        match self {
            Self::Manual(clock) => clock.sleep_until(until),
            Self::File(clock) => clock.sleep_until(until),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_handles_of_one_clock_file_share_time_and_it_never_goes_back() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("clock");
        let start = ManualClock::fixed().now();
        let a = FileClock::create(&path, start).expect("a new clock file");
        let b = FileClock::open(&path).expect("the clock file again");

        b.sleep(Duration::from_secs(90)).await;
        a.move_to(start);

        assert_eq!(a.now(), start + chrono::Duration::seconds(90));
        assert_eq!(b.now(), a.now());
    }
}

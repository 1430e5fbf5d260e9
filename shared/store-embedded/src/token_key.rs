//! The key the embedded store seals OAuth tokens with: `token.key` beside the database file, 32 random bytes,
//! created on first use with mode 0600 (only the user running the local stack may read it).
//!
//! Created through a temporary file hard-linked into place, so two processes opening the same folder at once
//! agree on one key (the link fails for the loser, who then reads the winner's). The key is never logged and
//! never appears in an error. A backup of the database is usable only with this file: keep them together.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ledgerlink_ports::StoreError;
use ledgerlink_ports::envelope::{DataKey, KEY_LEN};

/// The key file's name in the data folder.
pub const TOKEN_KEY_FILE: &str = "token.key";

/// Where the token key comes from: the key file of an on-disk database, or a key of this process's own
/// for an in-memory database (nothing outlives it to be read).
#[derive(Debug)]
pub(crate) enum TokenKeySource {
    File {
        path: PathBuf,
        loaded: Mutex<Option<DataKey>>,
    },
    Memory(DataKey),
}

impl TokenKeySource {
    /// The source for the database at `db_path` (`":memory:"`: an in-memory key).
    pub(crate) fn for_database(db_path: &Path) -> Self {
        if db_path.as_os_str() == ":memory:" {
            return Self::Memory(DataKey::generate());
        }
        let folder = db_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        Self::File {
            path: folder.join(TOKEN_KEY_FILE),
            loaded: Mutex::new(None),
        }
    }

    /// The key, reading or creating the file the first time. Blocking: call it on the blocking pool.
    pub(crate) fn key(&self) -> Result<DataKey, StoreError> {
        match self {
            Self::Memory(key) => Ok(key.clone()),
            Self::File { path, loaded } => {
                let mut loaded = loaded.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(key) = loaded.as_ref() {
                    return Ok(key.clone());
                }
                let key = read_or_create(path)?;
                *loaded = Some(key.clone());
                Ok(key)
            }
        }
    }
}

fn read_or_create(path: &Path) -> Result<DataKey, StoreError> {
    match read(path) {
        Ok(key) => return Ok(key),
        Err(ReadError::Missing) => {}
        Err(ReadError::Failed(e)) => return Err(e),
    }
    create(path)?;
    read(path).map_err(|e| match e {
        ReadError::Missing => failure(path, "was created and is gone", None),
        ReadError::Failed(e) => e,
    })
}

enum ReadError {
    Missing,
    Failed(StoreError),
}

fn read(path: &Path) -> Result<DataKey, ReadError> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Failed(failure(path, "cannot be read", Some(e)))),
    };
    let mut bytes = Vec::with_capacity(KEY_LEN);
    file.take(u64::try_from(KEY_LEN + 1).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Failed(failure(path, "cannot be read", Some(e))))?;
    DataKey::from_bytes(&bytes).map_err(|_| {
        ReadError::Failed(failure(
            path,
            "is not a token key (32 bytes): restore it from the backup taken with the database, or remove \
             it and connect the ERPs again",
            None,
        ))
    })
}

/// Writes a new key to a private temporary file, then links it into place unless another process did first.
fn create(path: &Path) -> Result<(), StoreError> {
    let folder = path.parent().unwrap_or_else(|| Path::new("."));
    let temp = folder.join(format!(".{TOKEN_KEY_FILE}.{}.tmp", uuid::Uuid::new_v4()));
    let written = write_private(&temp, DataKey::generate().expose_bytes());
    let linked = written.and_then(|()| fs::hard_link(&temp, path));
    // The temporary name goes whatever happened; the key lives on under `path` when it was linked.
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(()),
        // Another process created it meanwhile: theirs is the key.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(failure(path, "cannot be created", Some(e))),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn failure(path: &Path, why: &str, source: Option<io::Error>) -> StoreError {
    StoreError::Permanent {
        message: format!("the token key file {} {why}", path.display()),
        source: source.map(Into::into),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_key_file_is_created_once_with_owner_only_access_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");

        let first = TokenKeySource::for_database(&db).key().unwrap();
        let again = TokenKeySource::for_database(&db).key().unwrap();

        let path = dir.path().join(TOKEN_KEY_FILE);
        assert_eq!(fs::read(&path).unwrap().len(), KEY_LEN);
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn processes_racing_to_create_the_key_agree_on_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");

        let keys: Vec<DataKey> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| TokenKeySource::for_database(&db).key().unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });

        assert!(keys.windows(2).all(|pair| pair[0] == pair[1]));
    }

    #[test]
    fn a_damaged_key_file_is_refused_without_showing_its_content() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(TOKEN_KEY_FILE), b"not-a-key").unwrap();

        let err = TokenKeySource::for_database(&dir.path().join("state.db"))
            .key()
            .unwrap_err()
            .to_string();

        assert!(err.contains("is not a token key"), "{err}");
        assert!(!err.contains("not-a-key"), "{err}");
    }
}

//! A fresh embedded store in its own temporary directory per test.

use ledgerlink_store_embedded::EmbeddedStore;
use tempfile::TempDir;

/// A store on a new file; keep the `TempDir` alive as long as the store.
pub struct Fresh {
    pub store: EmbeddedStore,
    pub dir: TempDir,
}

pub fn spawn_store() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
    Fresh { store, dir }
}

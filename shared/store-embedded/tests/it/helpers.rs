//! A fresh embedded store (and folder storage) in its own temporary directory per test.

use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage};
use tempfile::TempDir;

/// The URL signing key of test storages (32 bytes).
pub const SIGNING_KEY: &[u8] = b"test-signing-key-0123456789abcdef";

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

/// A folder storage in a new directory, minting URLs under `http://127.0.0.1:8080`.
pub fn spawn_storage() -> (FolderStorage, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = FolderStorage::new(
        dir.path().join("files"),
        "http://127.0.0.1:8080",
        SIGNING_KEY,
    )
    .unwrap();
    (storage, dir)
}

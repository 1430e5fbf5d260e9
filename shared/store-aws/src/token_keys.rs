//! KMS data keys for the sealed OAuth tokens (`ledgerlink_ports::envelope`): each save asks KMS for a fresh
//! data key (`GenerateDataKey`, AES-256) under the token key (`TOKEN_KMS_KEY_ID`) and stores its encrypted
//! copy beside the sealed tokens; a read has KMS decrypt that copy (`Decrypt`). Both carry the record's
//! tenant and key as the KMS encryption context, so a data key only unwraps for the row it was made for,
//! and CloudTrail shows whose tokens each call was about.
//!
//! Plaintext data keys stay in memory for the life of the process (a Lambda's execution environment),
//! at most [`CACHE_CAPACITY`] of them, so a warm function decrypts each stored token generation once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use ledgerlink_ports::envelope::{DataKey, RecordContext, refused};
use ledgerlink_ports::{StoreError, StoreResult};

use crate::error::from_sdk;

/// Plaintext data keys kept per process; the oldest is forgotten first.
pub const CACHE_CAPACITY: usize = 512;

/// The token key and the data keys already unwrapped. Cheap to clone (clones share the cache).
#[derive(Clone)]
pub struct TokenKeys {
    client: Client,
    key_id: Arc<str>,
    cache: Arc<Mutex<KeyCache>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Keyed by (record, encrypted data key): a cached key is only ever used for the record KMS unwrapped it for.
#[derive(Default)]
struct KeyCache {
    keys: HashMap<(String, Vec<u8>), DataKey>,
    order: VecDeque<(String, Vec<u8>)>,
}

impl KeyCache {
    fn get(&self, entry: &(String, Vec<u8>)) -> Option<DataKey> {
        self.keys.get(entry).cloned()
    }

    fn insert(&mut self, entry: (String, Vec<u8>), key: DataKey) {
        if self.keys.insert(entry.clone(), key).is_some() {
            return;
        }
        self.order.push_back(entry);
        while self.order.len() > CACHE_CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
    }
}

impl TokenKeys {
    /// Data keys under the KMS key `key_id` (an id, ARN or alias).
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: Arc::from(key_id.into()),
            cache: Arc::new(Mutex::new(KeyCache::default())),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// How many plaintext data keys this process holds (for tests of the bound).
    pub fn cached(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys
            .len()
    }

    /// A fresh data key for `context`: the plaintext to seal with and the encrypted copy to store.
    pub(crate) async fn generate(
        &self,
        context: &RecordContext,
    ) -> StoreResult<(DataKey, Vec<u8>)> {
        let mut request = self
            .client
            .generate_data_key()
            .key_id(&*self.key_id)
            .key_spec(DataKeySpec::Aes256);
        for (name, value) in context.kms_context() {
            request = request.encryption_context(name, value);
        }
        let out = request
            .send()
            .await
            .map_err(|e| from_sdk("KMS GenerateDataKey", e))?;
        let (Some(plaintext), Some(wrapped)) = (out.plaintext, out.ciphertext_blob) else {
            return Err(StoreError::Permanent {
                message: "KMS GenerateDataKey returned no data key".into(),
                source: None,
            });
        };
        let key = DataKey::from_bytes(plaintext.as_ref()).map_err(StoreError::from)?;
        let wrapped = wrapped.into_inner();
        self.remember(context, &wrapped, &key);
        Ok((key, wrapped))
    }

    /// The plaintext of the data key `wrapped` stored for `context`: from the cache, else from KMS. A key
    /// that KMS will not unwrap for this context (it was made for another record) is refused like a sealed
    /// value that does not open.
    pub(crate) async fn unwrap(
        &self,
        context: &RecordContext,
        wrapped: &[u8],
    ) -> StoreResult<DataKey> {
        let entry = (context.record().to_owned(), wrapped.to_vec());
        if let Some(key) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&entry)
        {
            return Ok(key);
        }
        let mut request = self
            .client
            .decrypt()
            .key_id(&*self.key_id)
            .ciphertext_blob(Blob::new(wrapped));
        for (name, value) in context.kms_context() {
            request = request.encryption_context(name, value);
        }
        let out = match request.send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_ciphertext_exception()) =>
            {
                return Err(refused(context).into());
            }
            Err(e) => return Err(from_sdk("KMS Decrypt", e)),
        };
        let plaintext = out.plaintext.ok_or_else(|| StoreError::Permanent {
            message: "KMS Decrypt returned no plaintext".into(),
            source: None,
        })?;
        let key = DataKey::from_bytes(plaintext.as_ref()).map_err(StoreError::from)?;
        self.remember(context, wrapped, &key);
        Ok(key)
    }

    fn remember(&self, context: &RecordContext, wrapped: &[u8], key: &DataKey) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((context.record().to_owned(), wrapped.to_vec()), key.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_forgets_its_oldest_keys_beyond_its_capacity() {
        let mut cache = KeyCache::default();
        let entry = |i: usize| ("TOKEN#exact:t".to_owned(), i.to_be_bytes().to_vec());

        for i in 0..CACHE_CAPACITY + 10 {
            cache.insert(entry(i), DataKey::generate());
        }
        cache.insert(entry(CACHE_CAPACITY + 9), DataKey::generate());

        assert_eq!(cache.keys.len(), CACHE_CAPACITY);
        assert_eq!(cache.order.len(), CACHE_CAPACITY);
        assert!(cache.get(&entry(0)).is_none());
        assert!(cache.get(&entry(9)).is_none());
        assert!(cache.get(&entry(10)).is_some());
        assert!(cache.get(&entry(CACHE_CAPACITY + 9)).is_some());
    }
}

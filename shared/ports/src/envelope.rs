//! Envelope encryption of secrets at rest: the OAuth tokens a [`crate::TokenStore`] keeps.
//!
//! A record is sealed with AES-256-GCM under a 256-bit data key, with a fresh random 96-bit nonce per seal
//! and the record's tenant and key as associated data. Where the data key comes from is the adapter's
//! business: on AWS a KMS data key (`GenerateDataKey`) whose encrypted copy is stored beside the sealed
//! bytes, in the embedded store a key file in the data folder. A read of the table or file alone therefore
//! yields nothing usable, and a sealed record copied onto another tenant's row does not open there (its
//! associated data differs), so it cannot be replayed to make one tenant use another's tokens.
//!
//! Sealed format, version 1: `[1][nonce: 12 bytes][ciphertext and 16-byte tag]`. The leading version byte
//! lets a later format (another cipher, a longer nonce) be read beside this one.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::TokenRecord;

/// The format this build writes (and the only one it reads).
pub const FORMAT_VERSION: u8 = 1;
/// Bytes of a data key (AES-256).
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Separates this use of a key from any other, should a key ever be shared.
const AAD_LABEL: &[u8] = b"ledgerlink-envelope";

/// A plaintext 256-bit data key. Debug output never shows it; it is never serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    /// A key from its raw bytes (a KMS `Plaintext`, a key file's content); anything but 32 bytes is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| EnvelopeError::KeyLength { found: bytes.len() })
    }

    /// A fresh random key (from the thread's cryptographically secure generator, seeded by the OS).
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// The raw bytes, for whoever must persist the key itself (the embedded store's key file).
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Whose record a sealed value is: bound into the ciphertext as associated data (and, on AWS, into the
/// KMS encryption context of its data key), so it opens only as that tenant's that record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext {
    tenant: String,
    record: String,
}

impl RecordContext {
    pub fn new(tenant: impl Into<String>, record: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            record: record.into(),
        }
    }

    /// The context of the tokens of `connection` (`<system>:<tenant>`): that tenant, record `TOKEN#<connection>`.
    pub fn for_tokens(connection: &str) -> Self {
        let tenant = connection
            .split_once(':')
            .map_or(connection, |(_, tenant)| tenant);
        Self::new(tenant, format!("TOKEN#{connection}"))
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn record(&self) -> &str {
        &self.record
    }

    /// The KMS encryption context: the same two facts, as the key policy and CloudTrail see them.
    pub fn kms_context(&self) -> [(&'static str, &str); 2] {
        [("tenant", &self.tenant), ("record", &self.record)]
    }

    /// Label, then each part length-prefixed, so no two contexts share associated data.
    fn associated_data(&self) -> Vec<u8> {
        let mut aad =
            Vec::with_capacity(AAD_LABEL.len() + 8 + self.tenant.len() + self.record.len());
        aad.extend_from_slice(AAD_LABEL);
        for part in [&self.tenant, &self.record] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            aad.extend_from_slice(&len.to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// Why a sealed value could not be opened (or a key not used). Never carries key or plaintext bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("a data key must be {KEY_LEN} bytes, got {found}")]
    KeyLength { found: usize },
    #[error(
        "sealed {record} is in format version {found}; this build reads version {FORMAT_VERSION}"
    )]
    UnknownVersion { record: String, found: u8 },
    #[error("sealed {record} is truncated")]
    Truncated { record: String },
    #[error(
        "sealed {record} of tenant {tenant} does not open with its key: it was sealed for another \
         tenant or record, or altered"
    )]
    Refused { tenant: String, record: String },
    #[error("the plaintext of {record} could not be sealed")]
    Seal { record: String },
}

impl From<EnvelopeError> for crate::StoreError {
    /// A record that does not open is not going to open on a retry: permanent, with the reason (which
    /// names the record, never a key or a token).
    fn from(error: EnvelopeError) -> Self {
        Self::Permanent {
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}

/// Seals `plaintext` for `context` under `key` with a fresh nonce.
pub fn seal(
    key: &DataKey,
    context: &RecordContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let aad = context.associated_data();
    let ciphertext = cipher(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| EnvelopeError::Seal {
            record: context.record.clone(),
        })?;
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    sealed.push(FORMAT_VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Opens what [`seal`] produced for the same `context` under the same `key`.
pub fn open(
    key: &DataKey,
    context: &RecordContext,
    sealed: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let (&version, rest) = sealed
        .split_first()
        .ok_or_else(|| EnvelopeError::Truncated {
            record: context.record.clone(),
        })?;
    if version != FORMAT_VERSION {
        return Err(EnvelopeError::UnknownVersion {
            record: context.record.clone(),
            found: version,
        });
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(EnvelopeError::Truncated {
            record: context.record.clone(),
        });
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let aad = context.associated_data();
    cipher(key)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| refused(context))
}

/// The error of a sealed value that does not belong to `context` (also for a data key that will not
/// unwrap there, so both layers report alike).
pub fn refused(context: &RecordContext) -> EnvelopeError {
    EnvelopeError::Refused {
        tenant: context.tenant.clone(),
        record: context.record.clone(),
    }
}

/// Seals a token record (its JSON) for its connection.
pub fn seal_tokens(key: &DataKey, record: &TokenRecord) -> Result<Vec<u8>, EnvelopeError> {
    let context = RecordContext::for_tokens(&record.connection);
    let json = serde_json::to_vec(record).map_err(|_| EnvelopeError::Seal {
        record: context.record.clone(),
    })?;
    seal(key, &context, &json)
}

/// Opens the sealed tokens of `connection`. A record that opens but names another connection is refused
/// too (it cannot happen without the key, but the check is free).
pub fn open_tokens(
    key: &DataKey,
    connection: &str,
    sealed: &[u8],
) -> Result<TokenRecord, EnvelopeError> {
    let context = RecordContext::for_tokens(connection);
    let json = open(key, &context, sealed)?;
    let record: TokenRecord = serde_json::from_slice(&json).map_err(|_| refused(&context))?;
    if record.connection != connection {
        return Err(refused(&context));
    }
    Ok(record)
}

fn cipher(key: &DataKey) -> Aes256Gcm {
    Aes256Gcm::new(&key.0.into())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn tokens(connection: &str) -> TokenRecord {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 6, 10, 0, 0)
            .single()
            .unwrap_or_default();
        TokenRecord {
            connection: connection.to_owned(),
            issuer: "https://start.exactonline.nl".into(),
            access_token: "access-SECRET-123".into(),
            refresh_token: "refresh-SECRET-456".into(),
            access_expires_at: at,
            issued_at: at,
            generation: 3,
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn sealed_tokens_round_trip_and_show_no_token_bytes() {
        let key = DataKey::generate();
        let record = tokens("exact:acme");

        let sealed = seal_tokens(&key, &record).unwrap_or_else(|e| panic!("{e}"));
        let opened = open_tokens(&key, "exact:acme", &sealed).unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(opened, record);
        assert_eq!(sealed.first(), Some(&FORMAT_VERSION));
        assert!(!contains(&sealed, b"SECRET"));
        assert!(!contains(&sealed, b"acme"));
    }

    #[test]
    fn two_seals_of_the_same_record_use_different_nonces() {
        let key = DataKey::generate();
        let record = tokens("exact:acme");

        let first = seal_tokens(&key, &record).unwrap_or_else(|e| panic!("{e}"));
        let second = seal_tokens(&key, &record).unwrap_or_else(|e| panic!("{e}"));

        assert_ne!(first.get(1..13), second.get(1..13));
        assert_ne!(first, second);
    }

    #[test]
    fn tokens_sealed_for_one_tenant_do_not_open_as_another_tenants() {
        let key = DataKey::generate();
        let sealed = seal_tokens(&key, &tokens("exact:acme")).unwrap_or_else(|e| panic!("{e}"));

        let err = open_tokens(&key, "exact:globex", &sealed).err();
        let other_system = open_tokens(&key, "vantagepoint:acme", &sealed).err();

        assert_eq!(
            err,
            Some(EnvelopeError::Refused {
                tenant: "globex".into(),
                record: "TOKEN#exact:globex".into()
            })
        );
        assert!(matches!(other_system, Some(EnvelopeError::Refused { .. })));
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("another tenant"), "{message}");
        assert!(!message.contains("SECRET"), "{message}");
    }

    #[test]
    fn a_changed_byte_a_wrong_key_a_short_value_and_an_unknown_version_are_refused() {
        let key = DataKey::generate();
        let context = RecordContext::new("acme", "TOKEN#exact:acme");
        let sealed = seal(&key, &context, b"payload").unwrap_or_else(|e| panic!("{e}"));
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        let mut future = sealed.clone();
        future[0] = 2;

        assert!(matches!(
            open(&key, &context, &altered),
            Err(EnvelopeError::Refused { .. })
        ));
        assert!(matches!(
            open(&DataKey::generate(), &context, &sealed),
            Err(EnvelopeError::Refused { .. })
        ));
        assert!(matches!(
            open(&key, &context, &sealed[..10]),
            Err(EnvelopeError::Truncated { .. })
        ));
        assert!(matches!(
            open(&key, &context, &[]),
            Err(EnvelopeError::Truncated { .. })
        ));
        assert!(matches!(
            open(&key, &context, &future),
            Err(EnvelopeError::UnknownVersion { found: 2, .. })
        ));
    }

    #[test]
    fn tenant_and_record_cannot_be_shifted_into_each_other() {
        let key = DataKey::generate();
        let sealed =
            seal(&key, &RecordContext::new("ab", "c"), b"x").unwrap_or_else(|e| panic!("{e}"));

        assert!(open(&key, &RecordContext::new("a", "bc"), &sealed).is_err());
    }

    #[test]
    fn a_data_key_is_32_bytes_and_never_printed() {
        let key = DataKey::from_bytes(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
        assert_eq!(
            DataKey::from_bytes(&[7u8; 16]).err(),
            Some(EnvelopeError::KeyLength { found: 16 })
        );
    }
}

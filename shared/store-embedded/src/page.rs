//! Opaque page cursors: the sort key of the last item returned, as base64url JSON. A cursor that does not
//! decode is the caller's mistake ([`StoreError::Invalid`]), never a panic or an empty page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ledgerlink_ports::{Page, PageRequest, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::{DbError, DbResult};

pub(crate) fn encode<T: Serialize>(position: &T) -> DbResult<String> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(position)?))
}

pub(crate) fn decode<T: DeserializeOwned>(cursor: &str) -> DbResult<T> {
    let invalid = || {
        DbError::Store(StoreError::Invalid(
            "the page cursor is not one this store issued".into(),
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

/// Decodes the request's cursor, if any.
pub(crate) fn position<T: DeserializeOwned>(page: &PageRequest) -> DbResult<Option<T>> {
    page.cursor.as_deref().map(decode).transpose()
}

/// How many rows to fetch: one more than the page size, to know whether another page follows.
pub(crate) fn fetch_limit(page: &PageRequest) -> i64 {
    i64::from(page.effective_limit()) + 1
}

/// Cuts the over-fetched rows to the page size and builds the next cursor from the last item kept.
pub(crate) fn finish<T, P: Serialize>(
    page: &PageRequest,
    mut items: Vec<T>,
    position_of: impl Fn(&T) -> P,
) -> DbResult<Page<T>> {
    let size = usize::try_from(page.effective_limit()).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > size {
        items.truncate(size);
        items
            .last()
            .map(|last| encode(&position_of(last)))
            .transpose()?
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cursor_that_was_not_issued_is_invalid() {
        let result = decode::<(String, i64)>("not-a-cursor");

        assert!(matches!(
            result,
            Err(DbError::Store(StoreError::Invalid(_)))
        ));
    }

    #[test]
    fn cursors_round_trip_their_position() {
        let cursor = encode(&("acme".to_owned(), 42_i64)).unwrap();

        assert_eq!(
            decode::<(String, i64)>(&cursor).unwrap(),
            ("acme".to_owned(), 42)
        );
    }
}

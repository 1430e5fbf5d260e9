//! Create-if-absent: posting a document at most once although Exact's POST has no idempotency key.
//!
//! The rule (`exact-online-api.md` §7.4): a POST whose response was lost may have been committed. So
//! before any re-POST we look the document up by OUR reference (`YourRef` on sales and purchase entries,
//! `Code` on accounts, the journal reference documented on [`crate::ops`]); if it is there, it is the
//! result. The look-ups follow a settle schedule (`outcome_settle` × 1, 2, 4, 8 on the clock) so a commit
//! slower than one settle is still found; only a document absent through the whole schedule counts as
//! confirmed absent and may be POSTed again. If a lookup itself fails, the outcome stays unknown and is
//! reported as such — never a second POST.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::ExactClient;
use crate::entities::EntitySet;
use crate::error::{ExactError, ExactResult};

/// How many POSTs with an unknown outcome (each followed by a settle schedule that found nothing) before
/// giving up.
const MAX_UNKNOWN_POSTS: u32 = 3;

/// The waits before each look-up after an unknown outcome, in multiples of `outcome_settle`.
const SETTLE_SCHEDULE: [u32; 4] = [1, 2, 4, 8];

/// Whether the document was created now or found from an earlier attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOnce<T> {
    Created(T),
    Existing(T),
}

impl<T> CreateOnce<T> {
    pub fn into_inner(self) -> T {
        match self {
            Self::Created(t) | Self::Existing(t) => t,
        }
    }
    pub fn was_created(&self) -> bool {
        matches!(self, Self::Created(_))
    }
}

/// When to look the document up before the first POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LookupFirst {
    /// Always (the safe default: one extra GET per document).
    #[default]
    Always,
    /// Only when the caller knows a previous attempt ended with an unknown outcome.
    AfterUnknownOutcome { previous_outcome_unknown: bool },
}

impl LookupFirst {
    fn wanted(self) -> bool {
        match self {
            Self::Always => true,
            Self::AfterUnknownOutcome {
                previous_outcome_unknown,
            } => previous_outcome_unknown,
        }
    }
}

impl ExactClient {
    /// POSTs `body` to `set` unless `lookup` finds the document; after an unknown outcome, looks up again
    /// before any retry.
    pub async fn create_once<B, T, F, Fut>(
        &self,
        set: EntitySet,
        body: &B,
        lookup_first: LookupFirst,
        lookup: F,
    ) -> ExactResult<CreateOnce<T>>
    where
        B: Serialize + ?Sized + Sync,
        T: DeserializeOwned,
        F: Fn() -> Fut,
        Fut: Future<Output = ExactResult<Option<T>>>,
    {
        if lookup_first.wanted()
            && let Some(found) = lookup().await?
        {
            return Ok(CreateOnce::Existing(found));
        }
        let mut unknown = 0;
        loop {
            match self.create(set.path, body).await {
                Ok(created) => return Ok(CreateOnce::Created(created)),
                Err(ExactError::OutcomeUnknown { message, source }) => {
                    unknown += 1;
                    tracing::warn!(
                        entity = set.path,
                        attempt = unknown,
                        "POST outcome unknown; looking it up"
                    );
                    match self.settle_lookup(&lookup).await {
                        Ok(Some(found)) => return Ok(CreateOnce::Existing(found)),
                        // Absent through the whole settle schedule: confirmed, a resend is safe.
                        Ok(None) if unknown < MAX_UNKNOWN_POSTS => continue,
                        Ok(None) => return Err(ExactError::OutcomeUnknown { message, source }),
                        Err(lookup_error) => {
                            return Err(ExactError::OutcomeUnknown {
                                message: format!(
                                    "{message}; the lookup that would settle it failed"
                                ),
                                source: Some(Box::new(lookup_error)),
                            });
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Looks the document up along the settle schedule (`outcome_settle` × 1, 2, 4, 8 on the clock: 75 s
    /// in all with the default 5 s), so a commit slower than one settle is still found; `None` only when
    /// every look-up missed.
    async fn settle_lookup<T, F, Fut>(&self, lookup: &F) -> ExactResult<Option<T>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ExactResult<Option<T>>>,
    {
        for factor in SETTLE_SCHEDULE {
            self.clock()
                .sleep(self.config().outcome_settle.saturating_mul(factor))
                .await;
            if let Some(found) = lookup().await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

//! Named crash points: the places in the flows and clients where a worker dying leaves the most delicate
//! state behind (a claim without a write, a write without its answer, a committed write without its
//! idempotency record, a record without its link, a link without its Success, a moved cursor).
//!
//! Production code only counts passes ([`point`] is a relaxed atomic increment). A test harness installs a
//! hook ([`set_hook`]) that may end the process right there — the fault suite's worker processes report the
//! point on stdout and block, and their parent kills them with SIGKILL — and reads the counts per run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// A place where a real worker may die.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CrashPoint {
    /// The idempotency key is claimed; nothing is written yet.
    AfterClaim,
    /// A write request left for the ERP; its answer was not read.
    AfterRequestSent,
    /// The ERP committed the write; the idempotency record is not completed.
    AfterCommit,
    /// The idempotency record is completed; the VP key is not linked to the ledger id yet.
    AfterComplete,
    /// The link is written; the object is not recorded Success yet.
    AfterLink,
    /// A discovery cursor moved; the rest of the discovery did not run.
    AfterCursorSave,
}

impl CrashPoint {
    pub const ALL: [CrashPoint; 6] = [
        Self::AfterClaim,
        Self::AfterRequestSent,
        Self::AfterCommit,
        Self::AfterComplete,
        Self::AfterLink,
        Self::AfterCursorSave,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::AfterClaim => "after-claim",
            Self::AfterRequestSent => "after-request-sent",
            Self::AfterCommit => "after-commit",
            Self::AfterComplete => "after-complete",
            Self::AfterLink => "after-link",
            Self::AfterCursorSave => "after-cursor-save",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == text.trim())
    }

    fn index(self) -> usize {
        match self {
            Self::AfterClaim => 0,
            Self::AfterRequestSent => 1,
            Self::AfterCommit => 2,
            Self::AfterComplete => 3,
            Self::AfterLink => 4,
            Self::AfterCursorSave => 5,
        }
    }
}

type Hook = Arc<dyn Fn(CrashPoint) + Send + Sync>;

static COUNTS: [AtomicU64; 6] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

fn hook_slot() -> &'static RwLock<Option<Hook>> {
    static HOOK: OnceLock<RwLock<Option<Hook>>> = OnceLock::new();
    HOOK.get_or_init(|| RwLock::new(None))
}

/// Marks that the worker passed `at`; runs the test hook, if one is installed (it may not return).
pub fn point(at: CrashPoint) {
    COUNTS[at.index()].fetch_add(1, Ordering::Relaxed);
    let hook = hook_slot().read().ok().and_then(|h| h.clone());
    if let Some(hook) = hook {
        hook(at);
    }
}

/// Installs (or, with `None`, removes) the process-wide test hook.
pub fn set_hook(hook: Option<Hook>) {
    if let Ok(mut slot) = hook_slot().write() {
        *slot = hook;
    }
}

/// How often each point was passed since the process started (or since [`reset_counts`]).
pub fn counts() -> Vec<(CrashPoint, u64)> {
    CrashPoint::ALL
        .into_iter()
        .map(|p| (p, COUNTS[p.index()].load(Ordering::Relaxed)))
        .collect()
}

pub fn reset_counts() {
    for c in &COUNTS {
        c.store(0, Ordering::Relaxed);
    }
}

//! Per-tenant request limits: a token bucket per tenant (and one per tenant's webhooks), refilled
//! continuously at [`crate::Limits::tenant_requests_per_minute`] per minute and holding at most that many.
//! A request over the limit is answered 429 with `Retry-After` (seconds until a token is back) as a problem,
//! and nothing else is done for it.
//!
//! Where it applies: every `/api/` request once its key is verified (so requests with a bad key can never
//! spend a tenant's budget), and every webhook delivery once its signature or credentials are verified
//! (bounding the work one tenant's deliveries can queue). Buckets live in the process: in AWS each warm
//! api Lambda instance keeps its own, so the limit holds per instance, while the stage-wide API Gateway
//! throttle bounds the total; the local stack is one process.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;

use crate::error::ApiError;

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    Api,
    Webhooks,
}

/// Tokens are counted in thousandths, so refilling is exact integer arithmetic.
const MILLI: u64 = 1000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli_tokens: u64,
    at: DateTime<Utc>,
}

/// The buckets of every tenant seen by this process.
#[derive(Debug)]
pub struct Throttle {
    per_minute: u32,
    buckets: Mutex<HashMap<(TenantId, Budget), Bucket>>,
}

impl Throttle {
    /// `per_minute` requests a minute per tenant and budget; 0 turns throttling off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one request of `tenant`'s `budget` at `now`, or says when to come back.
    pub fn check(
        &self,
        tenant: &TenantId,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let per_minute = u64::from(self.per_minute);
        let capacity = per_minute * MILLI;
        let mut buckets = match self.buckets.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let bucket = buckets.entry((tenant.clone(), budget)).or_insert(Bucket {
            milli_tokens: capacity,
            at: now,
        });
        // per_minute tokens a minute = per_minute thousandths a 60 ms.
        let elapsed_ms = u64::try_from((now - bucket.at).num_milliseconds()).unwrap_or(0);
        let refill = elapsed_ms.saturating_mul(per_minute) / 60;
        bucket.milli_tokens = bucket.milli_tokens.saturating_add(refill).min(capacity);
        if now > bucket.at {
            bucket.at = now;
        }
        if bucket.milli_tokens >= MILLI {
            bucket.milli_tokens -= MILLI;
            return Ok(());
        }
        let missing = MILLI - bucket.milli_tokens;
        let wait_ms = (missing * 60).div_ceil(per_minute);
        let wait = wait_ms.div_ceil(1000).max(1);
        tracing::warn!(%tenant, ?budget, "tenant request limit reached");
        Err(ApiError::Throttled {
            detail: format!(
                "This tenant sent more than {} requests in a minute; try again in {wait} s.",
                self.per_minute
            ),
            retry_after: wait,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_the_limit_refills_over_time_and_tenants_do_not_share() {
        let throttle = Throttle::new(60);
        let acme = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let globex = TenantId::parse("globex").unwrap_or_else(|e| panic!("{e}"));
        let t0 = Utc::now();
        for _ in 0..60 {
            assert!(throttle.check(&acme, Budget::Api, t0).is_ok());
        }
        let refused = throttle.check(&acme, Budget::Api, t0);
        assert!(
            matches!(refused, Err(ApiError::Throttled { retry_after: 1, .. })),
            "{refused:?}"
        );
        assert!(throttle.check(&globex, Budget::Api, t0).is_ok());
        assert!(throttle.check(&acme, Budget::Webhooks, t0).is_ok());
        let later = t0 + chrono::Duration::seconds(2);
        assert!(throttle.check(&acme, Budget::Api, later).is_ok());
        assert!(throttle.check(&acme, Budget::Api, later).is_ok());
        assert!(throttle.check(&acme, Budget::Api, later).is_err());
        assert!(Throttle::new(0).check(&acme, Budget::Api, t0).is_ok());
    }
}

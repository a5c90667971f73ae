//! Rate limits: which of a profile's limits apply to a request, and the [`Limiter`] that counts.
//!
//! The routes declare limits per upstream or per tool matcher, shared by everyone (`global`), per
//! downstream session or per API key. A session is counted by its name on every replica (from
//! its `Mcp-Session-Id`), so with a shared backend one session's requests count together
//! whichever replica serves them, and two sessions never share a bucket. Counting goes through the one [`Limiter`] trait so that a
//! shared backend (Redis, for several replicas) is an addition: [`MemoryLimiter`] is the
//! in-process default, a GCRA token bucket per (limit, caller) from the `governor` crate that
//! admits a burst of the full count and then refills at `count / per`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::plan::{LimitKey, LimitScopeSpec, LimitSpec, Rate};

/// Counts requests against rate limits. Implementations must be cheap and bounded in time: the
/// check runs on every forwarded request (a shared backend answers within a deadline or applies
/// its failure policy).
pub trait Limiter: Send + Sync {
    /// Takes one request from the bucket `bucket` (a limit's stable id) for caller `who`.
    /// `Err(retry_after)` when the bucket is empty: nothing was taken.
    fn acquire<'a>(
        &'a self,
        bucket: &'a str,
        rate: Rate,
        who: &'a str,
    ) -> BoxFuture<'a, Result<(), Duration>>;
}

type Keyed = DefaultKeyedRateLimiter<String>;

/// How many callers a limit remembers before forgetting those whose bucket has refilled.
const FORGET_ABOVE: usize = 10_000;

/// The in-process [`Limiter`].
#[derive(Default)]
pub struct MemoryLimiter {
    /// One keyed limiter per (bucket, rate). A std Mutex held only to clone an `Arc` out.
    limiters: Mutex<HashMap<(String, Rate), Arc<Keyed>>>,
    clock: DefaultClock,
}

impl MemoryLimiter {
    fn limiter(&self, bucket: &str, rate: Rate) -> Option<Arc<Keyed>> {
        let mut map = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = map.get(&(bucket.to_string(), rate)) {
            return Some(l.clone());
        }
        let quota = quota(rate)?;
        let limiter = Arc::new(RateLimiter::keyed(quota));
        map.insert((bucket.to_string(), rate), limiter.clone());
        Some(limiter)
    }
}

/// A burst of `count`, refilled one at a time every `per / count`. `None` for a zero rate.
fn quota(rate: Rate) -> Option<Quota> {
    let count = NonZeroU32::new(rate.count)?;
    let period = rate.per.checked_div(rate.count)?;
    Some(Quota::with_period(period)?.allow_burst(count))
}

impl Limiter for MemoryLimiter {
    fn acquire<'a>(
        &'a self,
        bucket: &'a str,
        rate: Rate,
        who: &'a str,
    ) -> BoxFuture<'a, Result<(), Duration>> {
        Box::pin(std::future::ready(self.take(bucket, rate, who)))
    }
}

impl MemoryLimiter {
    fn take(&self, bucket: &str, rate: Rate, who: &str) -> Result<(), Duration> {
        let Some(limiter) = self.limiter(bucket, rate) else {
            // `0/min`: nothing is ever admitted.
            return Err(rate.per);
        };
        if limiter.len() > FORGET_ABOVE {
            limiter.retain_recent();
        }
        limiter
            .check_key(&who.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// What a limit needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct LimitTarget<'a> {
    pub profile: &'a str,
    pub upstream: &'a str,
    /// The upstream's own tool name, for `tools/call`; `None` for other methods.
    pub tool: Option<&'a str>,
    pub session: u64,
    /// The session's name on every replica (from its `Mcp-Session-Id`); `per session` limits
    /// count by it when known, so a shared backend counts a session once across replicas.
    pub session_name: Option<&'a str>,
    pub api_key: Option<&'a str>,
}

/// A refusal: which limit, and when to retry.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The limit as written, for the error and the log.
    pub limit: String,
    pub retry_after: Duration,
}

/// Checks every limit of the profile that applies to `target`, in declaration order; the first
/// refusal wins (buckets checked before it keep the request they counted).
pub async fn check(
    limiter: &dyn Limiter,
    limits: &[LimitSpec],
    target: LimitTarget<'_>,
) -> Result<(), Refusal> {
    for (index, spec) in limits.iter().enumerate() {
        if !applies(spec, &target) {
            continue;
        }
        let who = match spec.per {
            LimitKey::Global => String::new(),
            LimitKey::Session => match target.session_name {
                Some(name) => format!("session:{name}"),
                None => format!("session:{}", target.session),
            },
            LimitKey::Key => format!("key:{}", target.api_key.unwrap_or("<anonymous>")),
        };
        let bucket = format!("{}#{index}:{}", target.profile, describe(spec));
        if let Err(retry_after) = limiter.acquire(&bucket, spec.rate, &who).await {
            return Err(Refusal {
                limit: describe(spec),
                retry_after,
            });
        }
    }
    Ok(())
}

/// Whether one limit counts a request to `target` (`explain` shows the same answer).
pub fn applies(spec: &LimitSpec, target: &LimitTarget<'_>) -> bool {
    match &spec.scope {
        LimitScopeSpec::Upstream { upstream } => upstream.as_str() == target.upstream,
        LimitScopeSpec::Tool { matcher } => target
            .tool
            .is_some_and(|tool| matcher.matches(target.upstream, tool)),
    }
}

/// `github 100/min per session`, `tool files/write_* 5/s`.
pub fn describe(spec: &LimitSpec) -> String {
    let scope = match &spec.scope {
        LimitScopeSpec::Upstream { upstream } => upstream.to_string(),
        LimitScopeSpec::Tool { matcher } => format!("tool {}", matcher.text()),
    };
    let per = match spec.per {
        LimitKey::Global => "",
        LimitKey::Session => " per session",
        LimitKey::Key => " per key",
    };
    format!("{scope} {}{per}", spec.rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(count: u32, secs: u64) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn admits_exactly_the_burst_then_says_when_to_retry() {
        let l = MemoryLimiter::default();
        for i in 0..5 {
            assert!(l.take("b", rate(5, 60), "x").is_ok(), "call {i}");
        }
        let retry = l
            .take("b", rate(5, 60), "x")
            .expect_err("the sixth is refused");
        assert!(
            retry > Duration::from_secs(10) && retry <= Duration::from_secs(12),
            "{retry:?}"
        );
    }

    #[test]
    fn callers_and_buckets_count_separately() {
        let l = MemoryLimiter::default();
        assert!(l.take("b", rate(1, 60), "x").is_ok());
        assert!(l.take("b", rate(1, 60), "x").is_err());
        assert!(l.take("b", rate(1, 60), "y").is_ok());
        assert!(l.take("c", rate(1, 60), "x").is_ok());
    }

    #[tokio::test]
    async fn per_session_limits_count_by_the_sessions_name_when_known() {
        let spec = LimitSpec {
            scope: LimitScopeSpec::Upstream {
                upstream: crate::plan::UpstreamId::new("a"),
            },
            rate: rate(1, 60),
            per: LimitKey::Session,
            origin: crate::source::Location {
                file: "routes".into(),
                line: 1,
                col: 1,
            },
        };
        let target = |session: u64, session_name: Option<&'static str>| LimitTarget {
            profile: "p",
            upstream: "a",
            tool: None,
            session,
            session_name,
            api_key: None,
        };
        let l = MemoryLimiter::default();
        let limits = std::slice::from_ref(&spec);
        assert!(check(&l, limits, target(1, Some("one"))).await.is_ok());
        // The same session served by another replica, which numbers it 7: still counted.
        assert!(check(&l, limits, target(7, Some("one"))).await.is_err());
        // Another session this replica also numbers 1: a bucket of its own.
        assert!(check(&l, limits, target(1, Some("two"))).await.is_ok());
        assert!(check(&l, limits, target(3, None)).await.is_ok());
    }

    #[test]
    fn a_zero_rate_admits_nothing() {
        let l = MemoryLimiter::default();
        assert_eq!(l.take("b", rate(0, 60), "x"), Err(Duration::from_secs(60)));
    }
}

//! [`RedisLimiter`]: rate limits counted in Redis, so that a limit holds across every replica.
//!
//! The algorithm is the in-memory limiter's (GCRA: a burst of the full count, then one more
//! every `per / count`), run as one Lua script so that a check-and-take is atomic however many
//! replicas ask at once, on Redis's own clock (`TIME`) so replicas' clocks do not matter. The
//! state per (limit, caller) is one key holding the "theoretical arrival time", expiring when
//! the bucket is full again.
//!
//! When Redis cannot be reached (or does not answer within [`DEADLINE`]) the configured
//! [`Unavailable`] policy decides: `allow` (default: limits are a safeguard, not the service)
//! or `deny`. Every such decision counts in `mcp2_rate_limit_backend_errors_total` and warns
//! (at most once per ten seconds). The connection manager reconnects by itself, so limits
//! resume as soon as Redis is back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

pub use super::conn::DEADLINE;
use super::conn::LazyRedis;
use crate::gateway::limits::Limiter;
use crate::plan::Rate;

const WARN_EVERY: Duration = Duration::from_secs(10);
/// The metric counting checks decided by the failure policy.
pub const BACKEND_ERRORS: &str = "mcp2_rate_limit_backend_errors_total";

/// GCRA: KEYS[1] the bucket; ARGV[1] the interval between requests (µs), ARGV[2] the burst
/// (count × interval, µs). Returns -1 when admitted, else the µs until the next admission.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - burst
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return -1
";

/// What a check does when Redis cannot answer: the routes' `on-redis-unavailable`.
pub use crate::plan::RedisUnavailable as Unavailable;

pub struct RedisLimiter {
    redis: LazyRedis,
    policy: Unavailable,
    script: redis::Script,
    /// Key prefix, so several deployments can share one Redis.
    prefix: String,
    warned: Mutex<Option<Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("invalid Redis URL: {0}")]
    Url(#[source] redis::RedisError),
}

impl RedisLimiter {
    /// A limiter on the Redis at `url` (`redis://host:port[/db]`); connects lazily.
    pub fn new(url: &str, policy: Unavailable) -> Result<RedisLimiter, RedisError> {
        Ok(RedisLimiter {
            redis: LazyRedis::new(url)?,
            policy,
            script: redis::Script::new(GCRA),
            prefix: "mcp2:limit:".into(),
            warned: Mutex::new(None),
        })
    }

    async fn take(&self, bucket: &str, rate: Rate, who: &str) -> Result<(), Duration> {
        if rate.count == 0 {
            return Err(rate.per);
        }
        let interval = (rate.per.as_micros() / u128::from(rate.count)).max(1);
        let burst = interval * u128::from(rate.count);
        let key = format!("{}{bucket}|{who}", self.prefix);
        let answer = match self.redis.get().await {
            Some(mut manager) => {
                let run = async {
                    self.script
                        .key(&key)
                        .arg(interval.to_string())
                        .arg(burst.to_string())
                        .invoke_async::<i64>(&mut manager)
                        .await
                };
                match tokio::time::timeout(DEADLINE, run).await {
                    Ok(Ok(answer)) => Ok(answer),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {DEADLINE:?}")),
                }
            }
            None => Err("cannot connect".into()),
        };
        match answer {
            Ok(wait) if wait < 0 => Ok(()),
            Ok(wait) => Err(Duration::from_micros(wait.unsigned_abs())),
            Err(reason) => self.unavailable(&reason),
        }
    }

    fn unavailable(&self, reason: &str) -> Result<(), Duration> {
        metrics::counter!(BACKEND_ERRORS, "policy" => self.policy_name()).increment(1);
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            tracing::warn!(
                reason,
                policy = self.policy_name(),
                "the Redis rate-limit backend is unavailable; applying the failure policy"
            );
        }
        match self.policy {
            Unavailable::Allow => Ok(()),
            Unavailable::Deny => Err(Duration::from_secs(1)),
        }
    }

    fn policy_name(&self) -> &'static str {
        match self.policy {
            Unavailable::Allow => "allow",
            Unavailable::Deny => "deny",
        }
    }
}

impl Limiter for RedisLimiter {
    fn acquire<'a>(
        &'a self,
        bucket: &'a str,
        rate: Rate,
        who: &'a str,
    ) -> BoxFuture<'a, Result<(), Duration>> {
        Box::pin(self.take(bucket, rate, who))
    }
}

//! Session ends shared by every replica: a `DELETE` of a sealed session id on one replica ends
//! the session on all of them.
//!
//! A sealed id carries its session, so without this any replica would rebuild a session that
//! its client ended elsewhere. With Redis, [`EndedSessions::end`] records the end
//! (`SET mcp2:ended:<tag> PX <idle timeout>`, the tag being the id's authentication tag,
//! [`tag_of`]) and announces it on [`CHANNEL`]:
//! - a replica asked to restore an id it does not hold checks the record first
//!   ([`EndedSessions::is_ended`]) and answers 404, before any handler or upstream is involved;
//! - a replica holding the session in memory closes it when the announcement arrives
//!   ([`EndedSessions::subscribe`]): within the publish latency (milliseconds) of the `DELETE`.
//!
//! Limits, said plainly: the record lives for the idle timeout, as a session nobody used for
//! that long is closed everywhere anyway; a replica that never held the id would accept it
//! again after that (sealed ids carry no expiry). If Redis cannot answer within [`DEADLINE`]
//! the check lets the id through, with a warning (at most one per ten seconds): the same as a
//! cluster without Redis, where an ended id stays valid on the other replicas.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use redis::AsyncCommands;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::conn::{DEADLINE, LazyRedis};
use super::limiter::RedisError;
use super::seal::tag_of;

/// The channel ended session ids are announced on.
pub const CHANNEL: &str = "mcp2:sessions";
const PREFIX: &str = "mcp2:ended:";
/// How long to wait before subscribing again after Redis went away.
const RETRY: Duration = Duration::from_millis(500);
const WARN_EVERY: Duration = Duration::from_secs(10);

pub struct EndedSessions {
    redis: LazyRedis,
    /// How long an end is remembered: the idle timeout.
    ttl: Duration,
    warned: Mutex<Option<Instant>>,
}

impl EndedSessions {
    /// Ends recorded in the Redis at `url` for `ttl` (the sessions' idle timeout).
    pub fn new(url: &str, ttl: Duration) -> Result<EndedSessions, RedisError> {
        Ok(EndedSessions {
            redis: LazyRedis::new(url)?,
            ttl,
            warned: Mutex::new(None),
        })
    }

    /// Records that the session `id` (an id that opened under the key) ended, and tells the
    /// other replicas. Bounded by [`DEADLINE`]; a failure is warned about, never an error.
    pub async fn end(&self, id: &str) {
        let ttl = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let key = format!("{PREFIX}{}", tag_of(id));
        let done = async {
            let mut manager = self.redis.get().await.ok_or("cannot connect")?;
            manager
                .pset_ex::<_, _, ()>(&key, 1, ttl)
                .await
                .map_err(|_| "cannot record it")?;
            manager
                .publish::<_, _, i64>(CHANNEL, id)
                .await
                .map_err(|_| "cannot announce it")?;
            Ok::<(), &str>(())
        };
        match tokio::time::timeout(DEADLINE, done).await {
            Ok(Ok(())) => tracing::debug!("a session end recorded for every replica"),
            Ok(Err(reason)) => self.warn(reason),
            Err(_) => self.warn("no answer in time"),
        }
    }

    /// Whether the session `id` was ended on some replica (within the idle timeout). `false`
    /// when Redis cannot say in time (fail open, warned).
    pub async fn is_ended(&self, id: &str) -> bool {
        let key = format!("{PREFIX}{}", tag_of(id));
        let asked = async {
            let mut manager = self.redis.get().await.ok_or("cannot connect")?;
            manager
                .exists::<_, bool>(&key)
                .await
                .map_err(|_| "cannot read the record")
        };
        match tokio::time::timeout(DEADLINE, asked).await {
            Ok(Ok(ended)) => ended,
            Ok(Err(reason)) => {
                self.warn(reason);
                false
            }
            Err(_) => {
                self.warn("no answer in time");
                false
            }
        }
    }

    /// The ids ended on any replica (this one included), as they are announced, until
    /// `shutdown`. Reconnects by itself; ends announced while Redis was away are missed (the
    /// record still refuses them on restore).
    pub fn subscribe(&self, shutdown: CancellationToken) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(listen(self.redis.client().clone(), tx, shutdown));
        rx
    }

    fn warn(&self, reason: &str) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            tracing::warn!(
                reason,
                "Redis is unavailable for session ends: a session ended on one replica may go on on the others"
            );
        }
    }
}

async fn listen(
    client: redis::Client,
    ended: mpsc::UnboundedSender<String>,
    shutdown: CancellationToken,
) {
    loop {
        if shutdown.is_cancelled() || ended.is_closed() {
            return;
        }
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(CHANNEL).await {
                Ok(()) => {
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let msg = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            msg = messages.next() => msg,
                        };
                        let Some(msg) = msg else { break };
                        if let Ok(id) = msg.get_payload::<String>()
                            && ended.send(id).is_err()
                        {
                            return;
                        }
                    }
                    tracing::warn!("lost the Redis session-end subscription; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to session ends"),
            },
            Err(e) => tracing::debug!(error = %e, "Redis unreachable for session ends"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

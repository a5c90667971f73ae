//! Coherent lists across replicas: list changes on a Redis pub/sub channel.
//!
//! A replica that sees `notifications/*/list_changed` from an upstream invalidates its own
//! cached lists (as a single process does) and publishes the upstream's id on [`CHANNEL`];
//! every other replica drops that upstream's cached lists and re-announces to the sessions
//! whose view changed. Staleness is the publish latency (milliseconds) while Redis is up.
//! The subscriber reconnects on its own (every [`RETRY`]); after a reconnect it drops every
//! cached list, since changes published meanwhile were missed. Reloads need no message: every
//! replica watches its own copy of the same routes and reloads by itself (`tests/scale_reload.rs`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::limiter::RedisError;
use crate::gateway::Gateway;
use crate::plan::UpstreamId;

/// The channel list changes are published on.
pub const CHANNEL: &str = "mcp2:lists";
/// How long to wait before connecting again after Redis went away.
const RETRY: Duration = Duration::from_millis(500);

/// Starts publishing this replica's list changes and applying the others', until `shutdown`.
pub fn spawn(
    gateway: &Arc<Gateway>,
    url: &str,
    shutdown: CancellationToken,
) -> Result<(), RedisError> {
    let client = redis::Client::open(url).map_err(RedisError::Url)?;
    let me: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
    let (tx, rx) = mpsc::unbounded_channel();
    gateway.publish_list_changes(tx);
    tokio::spawn(publish(client.clone(), me.clone(), rx, shutdown.clone()));
    tokio::spawn(subscribe(client, me, Arc::downgrade(gateway), shutdown));
    Ok(())
}

/// A message: the publishing replica and the upstream, space-separated.
fn message(me: &str, upstream: &UpstreamId) -> String {
    format!("{me} {upstream}")
}

fn parse(payload: &str) -> Option<(&str, UpstreamId)> {
    let (from, upstream) = payload.split_once(' ')?;
    (!upstream.is_empty()).then(|| (from, UpstreamId::new(upstream)))
}

async fn publish(
    client: redis::Client,
    me: Arc<str>,
    mut changes: mpsc::UnboundedReceiver<UpstreamId>,
    shutdown: CancellationToken,
) {
    let mut connection = None;
    loop {
        let upstream = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = changes.recv() => match next {
                Some(u) => u,
                None => return,
            },
        };
        if connection.is_none() {
            connection = client.get_connection_manager().await.ok();
        }
        let Some(manager) = connection.as_mut() else {
            tracing::warn!(%upstream, "Redis unreachable: a list change was not published");
            continue;
        };
        let sent: Result<i64, _> = manager.publish(CHANNEL, message(&me, &upstream)).await;
        if let Err(e) = sent {
            tracing::warn!(%upstream, error = %e, "a list change was not published");
        }
    }
}

async fn subscribe(
    client: redis::Client,
    me: Arc<str>,
    gateway: Weak<Gateway>,
    shutdown: CancellationToken,
) {
    let mut reconnected = false;
    loop {
        if shutdown.is_cancelled() || gateway.strong_count() == 0 {
            return;
        }
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(CHANNEL).await {
                Ok(()) => {
                    if reconnected && let Some(gw) = gateway.upgrade() {
                        // Changes published while we were away were missed.
                        for upstream in gw.registry().all() {
                            gw.list_changed_elsewhere(upstream.id()).await;
                        }
                    }
                    tracing::info!("subscribed to list changes of the other replicas");
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let msg = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            msg = messages.next() => msg,
                        };
                        let Some(msg) = msg else { break };
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        let Some((from, upstream)) = parse(&payload) else {
                            continue;
                        };
                        if from == &*me {
                            continue;
                        }
                        let Some(gw) = gateway.upgrade() else { return };
                        tracing::debug!(%upstream, "lists changed on another replica");
                        gw.list_changed_elsewhere(&upstream).await;
                    }
                    tracing::warn!("lost the Redis list-change subscription; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to list changes"),
            },
            Err(e) => tracing::debug!(error = %e, "Redis unreachable for list changes"),
        }
        reconnected = true;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_replica_and_the_upstream() {
        let m = message("abc", &UpstreamId::new("files"));
        assert_eq!(parse(&m), Some(("abc", UpstreamId::new("files"))));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("abc "), None);
    }
}

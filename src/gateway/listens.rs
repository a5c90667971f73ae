//! Upstream `subscriptions/listen` streams standing in for `resources/subscribe` on upstreams
//! of 2026-07-28, which have no `resources/subscribe`: the first subscriber to a URI through a
//! connection opens a listen stream for that URI on it, and the stream's
//! `notifications/resources/updated` enter the relay exactly as an `initialize`-era upstream's
//! would (so they reach the clients subscribed to that URI, under their public URI). The last
//! unsubscribe drops the stream, which cancels it upstream.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};

use rmcp::ErrorData as McpError;
use rmcp::model::SubscriptionFilter;
use rmcp::service::{Peer, RoleClient};
use tokio::task::JoinHandle;

use super::{Gateway, lock};
use crate::plan::UpstreamId;

/// The open streams, by (connection instance, upstream URI).
#[derive(Default)]
pub struct Listens {
    streams: Mutex<HashMap<(u64, String), Stream>>,
}

/// One stream's reader; dropping it ends the stream (and rmcp cancels it upstream).
struct Stream(JoinHandle<()>);

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Listens {
    /// Opens a listen stream for `uri` on connection `instance` of `upstream`.
    pub(super) async fn open(
        &self,
        gateway: Weak<Gateway>,
        upstream: &UpstreamId,
        instance: u64,
        peer: &Peer<RoleClient>,
        uri: &str,
    ) -> Result<(), McpError> {
        let filter = SubscriptionFilter::builder()
            .resource_subscriptions(vec![uri.to_string()])
            .build();
        let mut subscription = peer.listen(filter).await.map_err(|e| {
            McpError::internal_error(
                format!("upstream `{upstream}`: subscriptions/listen for {uri} failed: {e}"),
                None,
            )
        })?;
        let upstream = upstream.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(notification)) = subscription.next().await {
                let Some(gateway) = gateway.upgrade() else {
                    return;
                };
                gateway.relay(&upstream, instance, notification);
            }
        });
        lock(&self.streams).insert((instance, uri.to_string()), Stream(reader));
        Ok(())
    }

    /// Drops the stream for `uri` on connection `instance`; whether there was one.
    pub(super) fn close(&self, instance: u64, uri: &str) -> bool {
        lock(&self.streams)
            .remove(&(instance, uri.to_string()))
            .is_some()
    }
}

//! Tidying up after clients that left: their entries in the gateway's tables, and upstream
//! subscriptions nobody holds any more.
//!
//! A [`ClientSession`](super::session::ClientSession) that subscribed to something or opened a
//! dedicated connection reports its id when it is dropped (its transport closed); one task per
//! gateway collects those reports, a burst at a time, and sweeps once per burst.
#![allow(deprecated)] // resources/unsubscribe is deprecated by SEP-2577; upstreams still use it.

use std::sync::Weak;

use rmcp::model::UnsubscribeRequestParams;
use tokio::sync::mpsc;

use super::{Gateway, lock};

/// Runs until the gateway is gone.
pub(super) async fn run(gateway: Weak<Gateway>, mut departed: mpsc::UnboundedReceiver<u64>) {
    while departed.recv().await.is_some() {
        while departed.try_recv().is_ok() {}
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        gateway.sweep().await;
    }
}

impl Gateway {
    /// Forgets sessions that are gone and unsubscribes upstream what only they held.
    pub(super) async fn sweep(&self) {
        lock(&self.sessions).retain(|_, s| s.strong_count() > 0);
        lock(&self.owners).retain(|_, s| s.strong_count() > 0);
        for (upstream, uri) in self.prune_subscriptions() {
            let Some(handle) = self.registry.get(upstream.as_str()) else {
                continue;
            };
            let Some(peer) = handle.peer() else {
                continue;
            };
            let unsubscribe = peer.unsubscribe(UnsubscribeRequestParams::new(uri.clone()));
            match tokio::time::timeout(handle.spec().timeout, unsubscribe).await {
                Ok(Ok(())) => {
                    tracing::debug!(%upstream, %uri, "last subscriber left; unsubscribed upstream");
                }
                Ok(Err(e)) => tracing::debug!(%upstream, %uri, error = %e, "unsubscribe failed"),
                Err(_) => tracing::debug!(%upstream, %uri, "unsubscribe timed out"),
            }
        }
    }
}

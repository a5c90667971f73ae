//! [`Downlink`]: a downstream session's own event stream (the Streamable HTTP `GET` stream),
//! held by the gateway rather than by rmcp's session worker.
//!
//! A session that is *parked* (`serve::parked`: no rmcp worker while it needs none) still
//! hears what the gateway tells it (list changes, log messages, resource updates): they are
//! pushed here and reach the client on its `GET` stream. While the session runs in rmcp, what
//! rmcp sends on its own standalone stream is pushed here too, so the client's stream survives
//! the session being parked and restored.
//!
//! Events are numbered `1, 2, …` (rmcp's priming event is `0`) and the last [`REPLAY`] are
//! kept, so a client reconnecting with `Last-Event-ID` gets what it missed. One stream is the
//! current one; a newer `GET` takes over and the older stream stays open with nothing more to
//! say (as rmcp keeps a replaced stream open for its keep-alive pings), so a client does not
//! mistake it for a broken connection and reconnect in a loop.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures::Stream;
use rmcp::model::ServerJsonRpcMessage;
use rmcp::transport::streamable_http_server::session::ServerSseMessage;
use tokio::sync::Notify;

use super::lock;

/// How many events are kept for a reconnecting client.
pub const REPLAY: usize = 64;

#[derive(Default)]
pub struct Downlink {
    ring: Mutex<Ring>,
    wake: Notify,
}

#[derive(Default)]
struct Ring {
    /// Id of the last event pushed (0: none yet).
    last: u64,
    events: VecDeque<(u64, Arc<ServerJsonRpcMessage>)>,
    /// Which stream is the current one.
    reader: u64,
    closed: bool,
}

impl Downlink {
    /// Queues `message` for the client's stream.
    pub fn push(&self, message: ServerJsonRpcMessage) {
        let mut ring = lock(&self.ring);
        if ring.closed {
            return;
        }
        ring.last += 1;
        let id = ring.last;
        if ring.events.len() == REPLAY {
            ring.events.pop_front();
        }
        ring.events.push_back((id, Arc::new(message)));
        drop(ring);
        self.wake.notify_waiters();
    }

    /// Ends every stream (the session is over).
    pub fn close(&self) {
        lock(&self.ring).closed = true;
        self.wake.notify_waiters();
    }

    /// A new current stream: the events after `after` (a `Last-Event-ID`), or only those still
    /// to come. An id this downlink never gave out (another replica's, or one from before a
    /// restart) starts with what comes next too: what was missed is gone, and an empty stream
    /// would only make the client reconnect with the same id again and again.
    pub fn stream(
        self: &Arc<Self>,
        after: Option<&str>,
    ) -> impl Stream<Item = ServerSseMessage> + Send + Sync + 'static + use<> {
        let (cursor, generation) = {
            let mut ring = lock(&self.ring);
            let cursor = after
                .and_then(|id| id.parse::<u64>().ok())
                .filter(|id| *id <= ring.last)
                .unwrap_or(ring.last);
            ring.reader += 1;
            (cursor, ring.reader)
        };
        futures::stream::unfold(
            (self.clone(), cursor),
            move |(downlink, cursor)| async move {
                let (id, message) = downlink.next_after(cursor, generation).await?;
                let mut event = ServerSseMessage::default();
                event.event_id = Some(id.to_string());
                event.message = Some(message);
                Some((event, (downlink, id)))
            },
        )
    }

    /// The first event after `cursor`, for the stream of `generation`; `None` once closed.
    /// A stream that is no longer the current one waits (for the close) without events.
    async fn next_after(
        &self,
        cursor: u64,
        generation: u64,
    ) -> Option<(u64, Arc<ServerJsonRpcMessage>)> {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            {
                let ring = lock(&self.ring);
                if ring.closed {
                    return None;
                }
                if ring.reader == generation
                    && let Some((id, message)) = ring.events.iter().find(|(id, _)| *id > cursor)
                {
                    return Some((*id, message.clone()));
                }
            }
            woken.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use rmcp::model::{ServerNotification, ToolListChangedNotification};
    use std::time::Duration;

    fn change() -> ServerJsonRpcMessage {
        ServerJsonRpcMessage::notification(ServerNotification::ToolListChangedNotification(
            ToolListChangedNotification::default(),
        ))
    }

    async fn next_id(s: &mut (impl Stream<Item = ServerSseMessage> + Unpin)) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(2), s.next())
            .await
            .ok()
            .flatten()
            .and_then(|e| e.event_id)
    }

    #[tokio::test]
    async fn a_stream_gets_new_events_and_a_reconnect_gets_what_it_missed() {
        let downlink = Arc::new(Downlink::default());
        downlink.push(change()); // before any stream: only a resume sees it
        let mut first = Box::pin(downlink.stream(None));
        downlink.push(change());
        assert_eq!(next_id(&mut first).await.as_deref(), Some("2"));
        downlink.push(change());
        downlink.push(change());
        // Reconnecting after event 2: 3 and 4 are replayed.
        let mut again = Box::pin(downlink.stream(Some("2")));
        assert_eq!(next_id(&mut again).await.as_deref(), Some("3"));
        assert_eq!(next_id(&mut again).await.as_deref(), Some("4"));
        // The replaced stream hears nothing more, and ends with the session.
        let quiet = tokio::time::timeout(Duration::from_millis(100), first.next()).await;
        assert!(quiet.is_err(), "a replaced stream still got an event");
        downlink.close();
        assert!(first.next().await.is_none());
        assert!(again.next().await.is_none());
        // An id it never gave out starts with what comes next.
        let fresh = Arc::new(Downlink::default());
        fresh.push(change());
        let mut unknown = Box::pin(fresh.stream(Some("99")));
        fresh.push(change());
        assert_eq!(next_id(&mut unknown).await.as_deref(), Some("2"));
    }

    #[test]
    fn only_the_last_events_are_kept() {
        let downlink = Downlink::default();
        for _ in 0..REPLAY + 10 {
            downlink.push(change());
        }
        let ring = lock(&downlink.ring);
        assert_eq!(ring.events.len(), REPLAY);
        assert_eq!(ring.events.front().map(|e| e.0), Some(11));
    }
}

//! Fast calls that carry a progress token: the call reports on a channel, so that the progress
//! the upstream sends on the call's answer stream reaches the client on that call's own HTTP
//! response, as it arrives. The call runs inside the request until its first report (most calls
//! are answered before any progress: no task, no wake-up across threads); progress moves the
//! rest of it into a task of its own, which feeds the response's event stream.
//!
//! The upstream sees the call's own token (the upstream id, `mcp2-fast-N`: its session is
//! shared by many clients); [`ProgressRoute::forward`] turns each of its progress
//! notifications back into the client's, with the client's token as written. The HTTP side
//! waits for the call's first event ([`first`]): the answer is served as plain JSON; progress
//! turns the response into an event stream ([`FastStream`]) that carries every later progress
//! notification and then the answer. Dropping the stream (the client went away) aborts the
//! task, which cancels the call upstream as a dropped fast call always does.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// Why a request went to the full stack (a metrics label).
pub(super) type Reason = &'static str;

/// What the task of one call reports.
#[derive(Debug)]
pub(super) enum Event {
    /// A progress notification for the client, ready to send.
    Progress(Vec<u8>),
    /// The call's end: the client's answer, or the fast path gave up before sending it.
    Done(Result<Vec<u8>, Reason>),
}

/// Where the progress of one call goes.
#[derive(Debug, Clone)]
pub(super) struct ProgressRoute {
    /// The client's token, as it wrote it.
    client: Box<RawValue>,
    events: UnboundedSender<Event>,
    /// Notified on each progress report (the call's timeout restarts then).
    alive: Arc<Notify>,
}

impl ProgressRoute {
    /// Notified whenever the upstream reports progress on the call.
    pub(super) fn alive(&self) -> Arc<Notify> {
        self.alive.clone()
    }

    /// Sends a progress notification (its JSON) on to the client under the client's token.
    pub(super) fn forward(&self, data: &str) {
        self.alive.notify_one();
        let Ok(mut message) = serde_json::from_str::<Value>(data) else {
            return;
        };
        let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) else {
            return;
        };
        let Ok(client) = serde_json::from_str::<Value>(self.client.get()) else {
            return;
        };
        params.insert("progressToken".into(), client);
        if let Ok(bytes) = serde_json::to_vec(&message) {
            let _ = self.events.send(Event::Progress(bytes));
        }
    }

    /// Reports the end of the call.
    pub(super) fn done(&self, outcome: Result<Vec<u8>, Reason>) {
        let _ = self.events.send(Event::Done(outcome));
    }
}

/// A new route for progress under the client's token `client`, and its receiving end.
pub(super) fn route(client: &RawValue) -> (ProgressRoute, UnboundedReceiver<Event>) {
    let (events, received) = unbounded_channel();
    let route = ProgressRoute {
        client: client.to_owned(),
        events,
        alive: Arc::new(Notify::new()),
    };
    (route, received)
}

/// Aborts the call's task when dropped.
#[derive(Debug)]
pub(super) struct AbortOnDrop(pub(super) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a call with a progress token is answered, decided by its first event.
pub(super) enum First {
    Answer(Vec<u8>),
    Stream(FastStream),
    Fallback(Reason),
}

/// A call that reports on its [`ProgressRoute`] (its end included) and then returns.
pub(super) type Call = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `call` here until its first event: its answer is served as is; on progress, the rest
/// of the call moves into a task of its own and the answer becomes an event stream.
pub(super) async fn first(
    mut events: UnboundedReceiver<Event>,
    mut call: Call,
    broken: impl FnOnce() -> Vec<u8>,
) -> First {
    let mut running = true;
    let event = tokio::select! {
        biased;
        event = events.recv() => event,
        // It reported its end before it returned: that report is queued.
        () = &mut call => {
            running = false;
            events.recv().await
        }
    };
    match event {
        Some(Event::Done(Ok(answer))) => First::Answer(answer),
        Some(Event::Done(Err(reason))) => First::Fallback(reason),
        Some(Event::Progress(progress)) => First::Stream(FastStream {
            first: Some(progress),
            events,
            broken: Some(broken()),
            _task: running.then(|| AbortOnDrop(tokio::spawn(call))),
        }),
        None => First::Answer(broken()),
    }
}

/// The messages of a call answered on an event stream: progress, then the answer.
#[derive(Debug)]
pub struct FastStream {
    first: Option<Vec<u8>>,
    events: UnboundedReceiver<Event>,
    /// The answer sent if the call ends without one.
    broken: Option<Vec<u8>>,
    /// The rest of the call, unless it had already ended.
    _task: Option<AbortOnDrop>,
}

impl FastStream {
    /// Each JSON-RPC message for the client, in order; the last one is the answer.
    pub fn messages(self) -> impl Stream<Item = Vec<u8>> + Send + 'static {
        futures::stream::unfold(self, |mut this| async move {
            if let Some(first) = this.first.take() {
                return Some((first, this));
            }
            this.broken.as_ref()?;
            match this.events.recv().await {
                Some(Event::Progress(progress)) => Some((progress, this)),
                Some(Event::Done(Ok(answer))) => {
                    this.broken = None;
                    Some((answer, this))
                }
                Some(Event::Done(Err(_))) | None => {
                    let broken = this.broken.take()?;
                    Some((broken, this))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn progress_carries_the_clients_token_and_the_answer_ends_the_stream() {
        let client: Box<RawValue> = serde_json::from_str("7").unwrap();
        let (progress, events) = route(&client);
        progress.forward(
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"mcp2-fast-1","progress":1,"total":2}}"#,
        );
        progress.done(Ok(br#"{"answer":1}"#.to_vec()));
        progress.forward(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#);
        let First::Stream(stream) = first(events, Box::pin(async {}), Vec::new).await else {
            panic!("progress first makes a stream");
        };
        let messages: Vec<Vec<u8>> = stream.messages().collect().await;
        assert_eq!(messages.len(), 2, "nothing after the answer");
        let progress: Value = serde_json::from_slice(&messages[0]).unwrap();
        assert_eq!(progress["params"]["progressToken"], 7);
        assert_eq!(progress["params"]["total"], 2);
        assert_eq!(messages[1], br#"{"answer":1}"#);
    }

    #[tokio::test]
    async fn an_answer_first_is_plain_and_a_lost_task_still_answers() {
        let client: Box<RawValue> = serde_json::from_str(r#""t""#).unwrap();
        let (progress, events) = route(&client);
        progress.done(Ok(b"a".to_vec()));
        let call: Call = Box::pin(async {});
        assert!(matches!(first(events, call, Vec::new).await, First::Answer(a) if a == b"a"));
        let (progress, events) = route(&client);
        progress.forward(r#"{"method":"notifications/progress","params":{"progress":1}}"#);
        drop(progress);
        let call: Call = Box::pin(async {});
        let First::Stream(stream) = first(events, call, || b"broken".to_vec()).await else {
            panic!("a stream");
        };
        let messages: Vec<Vec<u8>> = stream.messages().collect().await;
        assert_eq!(messages.last().map(Vec::as_slice), Some(&b"broken"[..]));
    }
}

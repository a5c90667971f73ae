//! An endpoint's Streamable HTTP sessions: rmcp's session workers while a session needs one,
//! *parked* sessions while it does not.
//!
//! An rmcp session costs its worker, service loop and their channels (about 80 KiB of heap:
//! tokio allocates a channel's first 32 slots at once). Most sessions need none of it: their
//! calls and lists go through the fast path (`serve::fast`), and what the gateway tells them
//! (list changes, log messages, resource updates) needs only a way to their event stream. So
//! a session is parked as soon as rmcp has answered its `initialize`, and again once rmcp has
//! served none of its requests for a while ([`PARK_AFTER`], or a quarter of the idle timeout
//! if that is shorter): rmcp's worker is closed, and the
//! [`HubSession`] (the gateway's state of the session), what the client sent in `initialize`
//! and the session's own event stream ([`Downlink`]) stay here.
//!
//! [`EndpointSessions`] is the `SessionManager` rmcp's service calls for every request with a
//! session id, so rmcp's own checks and answers stay as they are:
//! - a parked session exists (`has_session`); a request for it (`create_stream`), or a
//!   notification other than `initialized` and `cancelled`, first restores it: a new worker
//!   under the same id, served by the same `HubSession`, with the client's `initialize`
//!   replayed (as rmcp 3.11 restores a session from a `SessionStore`);
//! - every session's `GET` stream is its [`Downlink`]: while rmcp runs the session, what rmcp
//!   sends on its own standalone stream is piped there, so the client's stream outlives the
//!   worker;
//! - `notifications/cancelled` for a parked session reaches its fast-path calls (the only ones
//!   it can have);
//! - sessions without a request for the idle timeout are ended here (rmcp's keep-alive is off:
//!   fast-path requests never reach it).
//!
//! Never parked: sessions of clients that answer server→client requests (sampling,
//! elicitation, roots: those requests need rmcp's peer) or follow tasks, and a session while
//! rmcp serves one of its requests. An ended session is removed at once; rmcp's worker, when
//! it ends by itself (drain, transport failure), ends the session too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, GetExtensions, InitializeRequest,
    InitializedNotification, NumberOrString, ServerJsonRpcMessage,
};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker,
};
use rmcp::transport::streamable_http_server::session::{EventStore, ServerSseMessage};
use rmcp::transport::streamable_http_server::{RestoreOutcome, SessionId, SessionManager};
use rmcp::transport::{TransportAdapterIdentity, WorkerTransport};
use tokio_util::sync::CancellationToken;

use super::sessions::issued_id;
use crate::gateway::downlink::Downlink;
use crate::gateway::handler::{HubSession, Unparking};
use crate::lock;
use crate::telemetry::events::SessionParking;

/// How long rmcp must have served none of a session's requests before it is parked again (or
/// a quarter of the idle timeout, if that is shorter).
pub const PARK_AFTER: Duration = Duration::from_secs(10);

tokio::task_local! {
    /// The handler rmcp's service factory built while serving this request, if any.
    static BUILT: std::cell::RefCell<Option<HubSession>>;
}

/// Runs `handle` (rmcp serving one request) so that a session it opens or restores is known
/// here with the handler the factory built for it.
pub async fn building<F: Future>(handle: F) -> F::Output {
    BUILT.scope(std::cell::RefCell::new(None), handle).await
}

/// Called by the service factory with each handler it builds.
pub fn built(hub: &HubSession) {
    let _ = BUILT.try_with(|slot| *slot.borrow_mut() = Some(hub.clone()));
}

fn take_built() -> Option<HubSession> {
    BUILT
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten()
}

#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
    #[error("a session with id {0} is already open")]
    Duplicate(SessionId),
    #[error("cannot restore parked session {0}: {1}")]
    Restore(SessionId, String),
}

/// The sessions of one endpoint and binding.
pub struct EndpointSessions {
    shared: Arc<Shared>,
}

struct Shared {
    local: LocalSessionManager,
    slots: Mutex<HashMap<Arc<str>, Arc<Slot>>>,
    /// Ends the workers of restored sessions (the service's own token ends the others).
    cancel: CancellationToken,
    /// Sessions without a request for this long are ended.
    idle: Duration,
    /// The endpoint's path, for metrics.
    endpoint: Arc<str>,
}

/// One session this replica serves.
struct Slot {
    hub: HubSession,
    downlink: Arc<Downlink>,
    state: tokio::sync::Mutex<State>,
    /// Requests and messages rmcp is serving for it now.
    busy: AtomicUsize,
    /// When it last had a request (any), and when rmcp last served one: ms since [`epoch`].
    last_request: AtomicU64,
    last_rmcp: AtomicU64,
    parkable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// rmcp runs it, on the worker of this generation (0: the one rmcp spawned itself).
    Live(u32),
    /// No worker; `next` is the generation its next worker gets.
    Parked { next: u32 },
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

impl Slot {
    fn touch(&self) {
        self.last_request.store(now_ms(), Ordering::Relaxed);
    }

    fn since(&self, at: &AtomicU64) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(at.load(Ordering::Relaxed)))
    }
}

/// Marks a slot busy while rmcp serves one of its requests (a response stream, until it ends).
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: &Arc<Slot>) -> Self {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        slot.last_rmcp.store(now_ms(), Ordering::Relaxed);
        Busy(slot.clone())
    }
}

impl Busy {
    /// `stream`, keeping the slot busy until it is dropped (read to its end or abandoned).
    fn hold<S: Stream>(self, stream: S) -> impl Stream<Item = S::Item> {
        stream.map(move |event| {
            let _busy = &self;
            event
        })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last_rmcp.store(now_ms(), Ordering::Relaxed);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl EndpointSessions {
    /// Sessions of `endpoint` kept by `local` (its keep-alive is switched off: idle sessions
    /// end here after `idle`); restored workers end with `cancel`. Starts the sweep that parks
    /// and expires.
    pub fn new(
        mut local: LocalSessionManager,
        endpoint: Arc<str>,
        idle: Duration,
        cancel: CancellationToken,
    ) -> Self {
        local.session_config.keep_alive = None;
        let shared = Arc::new(Shared {
            local,
            slots: Mutex::default(),
            cancel,
            idle,
            endpoint,
        });
        tokio::spawn(sweep(Arc::downgrade(&shared)));
        Self { shared }
    }

    /// The session's handler, for a request the fast path serves (which counts as activity).
    pub fn serving(&self, id: &str) -> Option<HubSession> {
        let slot = self.shared.slot(id)?;
        slot.touch();
        Some(slot.hub.clone())
    }

    /// Ends session `id` here, whatever state it is in (a `DELETE`, or an end another replica
    /// announced).
    /// Returns whether it was open here.
    pub async fn end(&self, id: &str) -> bool {
        self.shared.end(id).await
    }
}

impl Shared {
    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        lock(&self.slots).get(id).cloned()
    }

    async fn end(&self, id: &str) -> bool {
        let Some(slot) = lock(&self.slots).remove(id) else {
            return false;
        };
        slot.downlink.close();
        let state = *slot.state.lock().await;
        slot.hub.detach_peer();
        if matches!(state, State::Parked { .. }) {
            self.parking(false, false);
        }
        if matches!(state, State::Live(_))
            && let Err(e) = self.local.close_session(&SessionId::from(id)).await
        {
            tracing::debug!(error = %e, "closing an ended session's worker");
        }
        true
    }

    /// Worker `generation` of session `id` has ended: if it was running the session (not
    /// closed by parking), the session is over.
    async fn worker_ended(&self, id: &str, generation: u32) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        if *slot.state.lock().await == State::Live(generation) {
            self.end(id).await;
        }
    }

    /// Closes the worker of a live, quiet, parkable session.
    async fn park(&self, id: &SessionId, slot: &Arc<Slot>) {
        if !slot.parkable {
            return;
        }
        let mut state = slot.state.lock().await;
        let State::Live(generation) = *state else {
            return;
        };
        if slot.busy.load(Ordering::Acquire) > 0 {
            return;
        }
        *state = State::Parked {
            next: generation + 1,
        };
        slot.hub.detach_peer();
        if let Err(e) = self.local.close_session(id).await {
            tracing::debug!(error = %e, "closing a parked session's worker");
        }
        self.parking(true, false);
    }

    fn parking(&self, parked: bool, restored: bool) {
        SessionParking {
            endpoint: &self.endpoint,
            parked,
            restored,
        }
        .emit();
    }

    /// Makes sure rmcp runs session `id` (restoring it if parked); the slot is then busy
    /// until the returned guard is dropped.
    async fn running(
        self: &Arc<Self>,
        id: &SessionId,
        slot: &Arc<Slot>,
        parts: Option<&http::request::Parts>,
    ) -> Result<Busy, SessionsError> {
        let mut state = slot.state.lock().await;
        slot.touch();
        if let State::Parked { next } = *state {
            self.restore(id, slot, next, parts).await?;
            *state = State::Live(next);
            self.parking(false, true);
        }
        Ok(Busy::new(slot))
    }

    /// A new worker for a parked session, the client's `initialize` replayed to it.
    async fn restore(
        self: &Arc<Self>,
        id: &SessionId,
        slot: &Arc<Slot>,
        generation: u32,
        parts: Option<&http::request::Parts>,
    ) -> Result<(), SessionsError> {
        let failed = |why: String| SessionsError::Restore(id.clone(), why);
        let init = slot
            .hub
            .initialize_params()
            .ok_or_else(|| failed("its initialize was not kept".into()))?;
        let transport = match self.local.restore_session(id.clone()).await? {
            RestoreOutcome::Restored(transport) => transport,
            _ => return Err(failed("rmcp still holds a worker for it".into())),
        };
        let started = self
            .start(id, slot, generation, init, transport, parts)
            .await;
        if started.is_err() {
            // The session stays parked; the half-started worker must not stay behind it.
            let _ = self.local.close_session(id).await;
        }
        started
    }

    /// Serves the parked session on `transport` (a new worker of `generation`) and replays the
    /// client's `initialize` to it.
    async fn start(
        self: &Arc<Self>,
        id: &SessionId,
        slot: &Arc<Slot>,
        generation: u32,
        init: rmcp::model::InitializeRequestParams,
        transport: WorkerTransport<LocalSessionWorker>,
        parts: Option<&http::request::Parts>,
    ) -> Result<(), SessionsError> {
        let failed = |why: String| SessionsError::Restore(id.clone(), why);
        let (ready, started) = tokio::sync::oneshot::channel();
        tokio::spawn(run_worker(
            Arc::downgrade(self),
            id.clone(),
            generation,
            slot.hub.clone(),
            transport,
            self.cancel.child_token(),
            ready,
        ));
        let mut initialize = ClientJsonRpcMessage::request(
            ClientRequest::InitializeRequest(InitializeRequest::new(init)),
            NumberOrString::Number(0),
        );
        let mut initialized = ClientJsonRpcMessage::notification(
            ClientNotification::InitializedNotification(InitializedNotification::default()),
        );
        initialize.insert_extension(Unparking);
        if let Some(parts) = parts {
            initialize.insert_extension(parts.clone());
            initialized.insert_extension(parts.clone());
        }
        let answer = self.local.initialize_session(id, initialize).await?;
        if let ServerJsonRpcMessage::Error(e) = answer {
            return Err(failed(e.error.message.to_string()));
        }
        self.local.accept_message(id, initialized).await?;
        started
            .await
            .map_err(|_| failed("its handler did not start".into()))?;
        self.pipe(id, slot).await
    }

    /// What rmcp sends on the session's standalone stream goes to its [`Downlink`].
    async fn pipe(&self, id: &SessionId, slot: &Slot) -> Result<(), SessionsError> {
        let mut standalone = Box::pin(self.local.create_standalone_stream(id).await?);
        let downlink = Arc::downgrade(&slot.downlink);
        tokio::spawn(async move {
            while let Some(event) = standalone.next().await {
                let (Some(downlink), Some(message)) = (downlink.upgrade(), event.message) else {
                    continue;
                };
                downlink.push(Arc::unwrap_or_clone(message));
            }
        });
        Ok(())
    }
}

/// Serves a restored session until its worker ends (parked again, the session ended, or
/// the drain), then tells the sessions.
async fn run_worker(
    shared: Weak<Shared>,
    id: SessionId,
    generation: u32,
    hub: HubSession,
    transport: WorkerTransport<LocalSessionWorker>,
    cancel: CancellationToken,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let served = rmcp::service::serve_server_with_ct::<_, _, _, TransportAdapterIdentity>(
        hub, transport, cancel,
    )
    .await;
    match served {
        Ok(running) => {
            let _ = ready.send(());
            let _ = running.waiting().await;
        }
        Err(e) => tracing::warn!(error = %e, "a parked session could not be restored"),
    }
    if let Some(shared) = shared.upgrade() {
        shared.worker_ended(&id, generation).await;
    }
}

/// Parks quiet sessions and ends idle ones, a few times per idle timeout, until the sessions
/// are dropped or drained.
async fn sweep(shared: Weak<Shared>) {
    let Some((idle, cancel)) = shared.upgrade().map(|s| (s.idle, s.cancel.clone())) else {
        return;
    };
    let every = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let park_after = (idle / 4).min(PARK_AFTER);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = cancel.cancelled() => return,
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let slots: Vec<(Arc<str>, Arc<Slot>)> = lock(&shared.slots)
            .iter()
            .map(|(id, slot)| (id.clone(), slot.clone()))
            .collect();
        for (id, slot) in slots {
            if slot.busy.load(Ordering::Acquire) > 0 {
                continue;
            }
            if slot.since(&slot.last_request) >= shared.idle {
                tracing::info!("idle session closed");
                shared.end(&id).await;
            } else if slot.since(&slot.last_rmcp) >= park_after {
                shared.park(&SessionId::from(id.as_ref()), &slot).await;
            }
        }
    }
}

/// The HTTP parts rmcp attached to a client message.
fn parts_of(message: &ClientJsonRpcMessage) -> Option<&http::request::Parts> {
    match message {
        ClientJsonRpcMessage::Request(r) => r.request.extensions().get(),
        ClientJsonRpcMessage::Notification(n) => n.notification.extensions().get(),
        _ => None,
    }
}

impl SessionManager for EndpointSessions {
    type Error = SessionsError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let local = &self.shared.local;
        let Some(id) = issued_id() else {
            return Ok(local.create_session().await?);
        };
        match local.restore_session(id.clone()).await? {
            RestoreOutcome::Restored(transport) => Ok((id, transport)),
            _ => Err(SessionsError::Duplicate(id)),
        }
    }

    /// Forwards `initialize` to the new worker; once answered, the session is known here and,
    /// when it may be, parked at once.
    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let shared = &self.shared;
        let answer = shared.local.initialize_session(id, message).await?;
        let Some(hub) = take_built() else {
            // Only if a request reached rmcp outside `building`: the session then stays with
            // rmcp, unparked, and without the idle timeout.
            tracing::warn!("a session was opened without its handler being known here");
            return Ok(answer);
        };
        if matches!(answer, ServerJsonRpcMessage::Error(_)) {
            return Ok(answer);
        }
        // `per session` limits and metrics count by the id the client holds.
        hub.name_session(id);
        let downlink = Arc::new(Downlink::default());
        hub.use_downlink(downlink.clone());
        let now = now_ms();
        let slot = Arc::new(Slot {
            parkable: hub.parkable(),
            hub,
            downlink,
            state: tokio::sync::Mutex::new(State::Live(0)),
            busy: AtomicUsize::new(0),
            last_request: AtomicU64::new(now),
            last_rmcp: AtomicU64::new(now),
        });
        lock(&shared.slots).insert(id.as_ref().into(), slot.clone());
        if slot.parkable {
            shared.park(id, &slot).await;
        } else {
            shared.pipe(id, &slot).await?;
        }
        Ok(answer)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        if self.shared.slot(id).is_some() {
            return Ok(true);
        }
        Ok(self.shared.local.has_session(id).await?)
    }

    /// rmcp is done with `id`: a `DELETE` (whose caller then calls [`EndpointSessions::end`])
    /// or the end of the worker rmcp spawned for it, which ends the session unless it was
    /// closed by parking.
    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        if self.shared.slot(id).is_some() {
            self.shared.worker_ended(id, 0).await;
            return Ok(());
        }
        Ok(self.shared.local.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let shared = &self.shared;
        let Some(slot) = shared.slot(id) else {
            return Ok(shared.local.create_stream(id, message).await?.left_stream());
        };
        let busy = shared.running(id, &slot, parts_of(&message)).await?;
        let stream = shared.local.create_stream(id, message).await?;
        Ok(busy.hold(stream).right_stream())
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        let shared = &self.shared;
        let Some(slot) = shared.slot(id) else {
            return Ok(shared.local.accept_message(id, message).await?);
        };
        if matches!(*slot.state.lock().await, State::Parked { .. }) {
            slot.touch();
            match &message {
                // The handshake is done; nothing to tell a handler that is not running.
                ClientJsonRpcMessage::Notification(n)
                    if matches!(
                        n.notification,
                        ClientNotification::InitializedNotification(_)
                    ) =>
                {
                    return Ok(());
                }
                // A parked session's only calls in flight are fast-path ones.
                ClientJsonRpcMessage::Notification(n) => {
                    if let ClientNotification::CancelledNotification(c) = &n.notification {
                        if let Some(request) = &c.params.request_id {
                            slot.hub.cancel_fast(request);
                        }
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        let _busy = shared.running(id, &slot, parts_of(&message)).await?;
        Ok(shared.local.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let shared = &self.shared;
        if let Some(slot) = shared.slot(id) {
            slot.touch();
            return Ok(slot.downlink.stream(None).left_stream());
        }
        Ok(shared
            .local
            .create_standalone_stream(id)
            .await?
            .right_stream())
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let shared = &self.shared;
        let Some(slot) = shared.slot(id) else {
            let stream = shared.local.resume(id, last_event_id).await?;
            return Ok(stream.left_stream().right_stream());
        };
        slot.touch();
        // The session's own stream: what its downlink still holds.
        if !last_event_id.contains('/') {
            let stream = slot.downlink.stream(Some(&last_event_id));
            return Ok(stream.left_stream().left_stream());
        }
        // A request's stream (`index/stream`) is rmcp's, kept by the worker that ran the
        // request: gone once the session was parked (an empty stream, as rmcp answers a stream
        // it no longer has); while it lives, the session is busy until the client has read it.
        let busy = {
            let state = slot.state.lock().await;
            if matches!(*state, State::Parked { .. }) {
                return Ok(futures::stream::empty().right_stream().left_stream());
            }
            Busy::new(&slot)
        };
        let stream = shared.local.resume(id, last_event_id).await?;
        Ok(busy.hold(stream).right_stream().right_stream())
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(self.shared.local.restore_session(id).await?)
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.shared.local.event_store()
    }
}

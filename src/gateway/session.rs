//! [`ClientSession`]: what the gateway knows about one downstream client, and the way back to it.
//!
//! A session is created with its [`HubSession`](super::handler::HubSession) (one per MCP session
//! of a Streamable HTTP endpoint or SSE stream, one per stdio client, one per request of a
//! sessionless 2026-07-28 client) and lives as long as rmcp keeps the handler. It holds:
//! - the way back to the client ([`Way`]): its rmcp peer while rmcp runs the session, and for a
//!   Streamable HTTP session the session's own event stream ([`Downlink`]), which carries
//!   notifications while the session is parked (`serve::parked`);
//! - its declared capabilities and protocol version (learnt at `initialize`, or from the first
//!   request's `_meta` on the 2026-07-28 lifecycle);
//! - an outbox: notifications for this client are queued and sent by one task, in order, so a
//!   slow client never holds up the relay that serves the others;
//! - its dedicated upstream connections (`session per-client`), dropped with the session;
//! - its logging level, for the gateway to filter shared upstreams' log messages.
//!
//! State here that cannot move to another process (named for the scale-out work of design §7):
//! the peer and outbox (a live transport), the dedicated connections (children and sockets),
//! and server→client requests waiting for this client's answer.
#![allow(deprecated)] // logging, sampling and roots are deprecated by SEP-2577; still in use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rmcp::model::{
    ClientCapabilities, InitializeRequestParams, LoggingLevel, ProgressToken, ProtocolVersion,
    ServerJsonRpcMessage, ServerNotification, ServerRequest,
};
use rmcp::service::{Peer, RoleServer, SubscriptionSink};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::downlink::Downlink;
use super::{Binding, lock};
use crate::plan::UpstreamId;
use crate::plan::authz::Identity;
use crate::upstream::Dedicated;

/// How many notifications may wait for one slow client before new ones are dropped.
const OUTBOX: usize = 1024;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// What the client told us about itself.
#[derive(Debug, Clone, Default)]
pub struct ClientFacts {
    pub capabilities: ClientCapabilities,
    pub protocol: Option<ProtocolVersion>,
    pub name: Option<String>,
}

impl ClientFacts {
    /// Whether this client can answer a server→client request of this kind.
    pub fn can_answer(&self, request: &ServerRequest) -> bool {
        let caps = &self.capabilities;
        match request {
            ServerRequest::CreateMessageRequest(_) => caps.sampling.is_some(),
            ServerRequest::ElicitRequest(_) => caps.elicitation.is_some(),
            ServerRequest::ListRootsRequest(_) => caps.roots.is_some(),
            _ => true,
        }
    }

    /// On 2026-07-28 and later a server may not send requests to the client; input is asked
    /// for with `InputRequiredResult` instead.
    pub fn modern(&self) -> bool {
        self.protocol
            .as_ref()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
    }

    /// The capabilities a connection opened for this client alone may claim upstream.
    pub fn upstream_capabilities(&self) -> ClientCapabilities {
        let mut caps = ClientCapabilities::default();
        caps.sampling = self.capabilities.sampling.clone();
        caps.elicitation = self.capabilities.elicitation.clone();
        caps.roots = self.capabilities.roots.clone();
        if self.capabilities.supports_tasks() {
            caps.extensions = Some(
                [(
                    rmcp::model::TASKS_EXTENSION_ID.to_string(),
                    Default::default(),
                )]
                .into_iter()
                .collect(),
            );
        }
        caps
    }
}

pub struct ClientSession {
    id: u64,
    binding: Binding,
    endpoint: Arc<str>,
    way: Arc<Way>,
    /// Set once the client is attached (`initialize`, or a 2026-07-28 client's first request);
    /// stays set while the session is parked.
    attached: AtomicBool,
    facts: Mutex<ClientFacts>,
    /// What the client sent in `initialize`, for restoring a parked session.
    init: OnceLock<InitializeRequestParams>,
    outbox: OnceLock<mpsc::Sender<ServerNotification>>,
    /// Notifications queued and sent so far, for [`ClientSession::flush`].
    delivery: Arc<Delivery>,
    /// A 2026-07-28 client's `subscriptions/listen` stream: change notifications go there.
    listener: Arc<Mutex<Option<SubscriptionSink>>>,
    /// Dedicated upstream connections, by upstream.
    links: Mutex<HashMap<UpstreamId, Arc<Dedicated>>>,
    level: Mutex<Option<LoggingLevel>>,
    /// Progress tokens of requests forwarded to this client → where its progress goes.
    pub(super) asked: Mutex<HashMap<ProgressToken, super::ask::Asked>>,
    /// Told this session's id when it is dropped, so the gateway can tidy up.
    departure: OnceLock<mpsc::UnboundedSender<u64>>,
    /// Whether it left anything to tidy up (a subscription, a dedicated connection); most
    /// sessions (every request of a sessionless client) leave nothing.
    leaves_traces: AtomicBool,
    /// Rebuilt from a sealed id on a replica that did not open it (see `serve::sessions`).
    moved: AtomicBool,
    /// Calls of this client on the fast path, by the client's request id, so its
    /// `notifications/cancelled` reaches them (rmcp's own table does not know them).
    fast_calls: Mutex<HashMap<rmcp::model::RequestId, CancellationToken>>,
    /// Who the session's latest request was authenticated as (anonymous until one arrives).
    identity: Mutex<Arc<Identity>>,
}

/// One call of this client on the fast path; see [`ClientSession::fast_call`].
pub(super) struct FastCall {
    session: Arc<ClientSession>,
    id: rmcp::model::RequestId,
    pub(super) token: CancellationToken,
}

impl Drop for FastCall {
    fn drop(&mut self) {
        lock(&self.session.fast_calls).remove(&self.id);
    }
}

impl Drop for ClientSession {
    fn drop(&mut self) {
        if self.leaves_traces.load(Ordering::Acquire)
            && let Some(departure) = self.departure.get()
        {
            let _ = departure.send(self.id);
        }
    }
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSession")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl ClientSession {
    pub fn new(binding: Binding, endpoint: Arc<str>) -> Arc<ClientSession> {
        Arc::new(ClientSession {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            binding,
            endpoint,
            way: Arc::default(),
            attached: AtomicBool::new(false),
            facts: Mutex::new(ClientFacts::default()),
            init: OnceLock::new(),
            outbox: OnceLock::new(),
            delivery: Arc::default(),
            listener: Arc::default(),
            links: Mutex::new(HashMap::new()),
            level: Mutex::new(None),
            asked: Mutex::new(HashMap::new()),
            departure: OnceLock::new(),
            leaves_traces: AtomicBool::new(false),
            moved: AtomicBool::new(false),
            fast_calls: Mutex::new(HashMap::new()),
            identity: Mutex::new(Arc::default()),
        })
    }

    /// Who the session's requests are authenticated as.
    pub fn identity(&self) -> Arc<Identity> {
        lock(&self.identity).clone()
    }

    /// Records who the latest request was authenticated as.
    pub(crate) fn set_identity(&self, identity: &Identity) {
        let mut current = lock(&self.identity);
        if **current != *identity {
            *current = Arc::new(identity.clone());
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Enters a fast-path call; the returned token fires on the client's cancellation, and the
    /// guard takes the call out again.
    pub(super) fn fast_call(self: &Arc<Self>, id: rmcp::model::RequestId) -> FastCall {
        let token = CancellationToken::new();
        lock(&self.fast_calls).insert(id.clone(), token.clone());
        FastCall {
            session: self.clone(),
            id,
            token,
        }
    }

    /// The client cancelled request `id`: cancels it if it runs on the fast path.
    pub(super) fn cancel_fast(&self, id: &rmcp::model::RequestId) {
        if let Some(token) = lock(&self.fast_calls).remove(id) {
            token.cancel();
        }
    }

    /// Where to report this session's end.
    pub(crate) fn report_departure(&self, to: mpsc::UnboundedSender<u64>) {
        let _ = self.departure.set(to);
    }

    /// Marks that the gateway must tidy up after this session (see `sweep`).
    pub(crate) fn leave_traces(&self) {
        self.leaves_traces.store(true, Ordering::Release);
    }

    /// Marks a session rebuilt from its sealed id on another replica than the one that opened it.
    pub fn mark_moved(&self) {
        self.moved.store(true, Ordering::Release);
    }

    /// Whether this replica rebuilt the session (its per-client stdio processes are elsewhere).
    pub fn moved(&self) -> bool {
        self.moved.load(Ordering::Acquire)
    }

    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    pub fn endpoint(&self) -> &Arc<str> {
        &self.endpoint
    }

    pub fn facts(&self) -> ClientFacts {
        lock(&self.facts).clone()
    }

    /// Whether the session negotiated protocol `version` (without copying its facts).
    pub fn negotiated(&self, version: &[u8]) -> bool {
        lock(&self.facts)
            .protocol
            .as_ref()
            .is_some_and(|p| p.as_str().as_bytes() == version)
    }

    /// Whether the client is on 2026-07-28 or later (without copying its facts).
    pub fn is_modern(&self) -> bool {
        lock(&self.facts).modern()
    }

    /// Whether the client declared it can answer server→client requests (sampling,
    /// elicitation, roots), without copying its facts.
    pub fn answers_server_requests(&self) -> bool {
        let facts = lock(&self.facts);
        let caps = &facts.capabilities;
        caps.sampling.is_some() || caps.elicitation.is_some() || caps.roots.is_some()
    }

    /// Whether the client declared the tasks extension (its calls may come back as tasks,
    /// which `tasks.rs` must namespace), without copying its facts.
    pub fn follows_tasks(&self) -> bool {
        lock(&self.facts).capabilities.supports_tasks()
    }

    /// Records the client's peer (the one rmcp gives this session now; a restored session gets
    /// a new one) and what it declared (the outbox starts with the first notification).
    pub fn attach(&self, peer: &Peer<RoleServer>, facts: Option<ClientFacts>) {
        if let Some(facts) = facts {
            *lock(&self.facts) = facts;
        }
        *lock(&self.way.peer) = Some(peer.clone());
        self.attached.store(true, Ordering::Release);
    }

    /// The client's rmcp peer, while rmcp runs the session (not while it is parked).
    pub fn peer(&self) -> Option<Peer<RoleServer>> {
        lock(&self.way.peer).clone()
    }

    /// Whether rmcp runs the session now (without copying its peer).
    pub fn has_peer(&self) -> bool {
        lock(&self.way.peer).is_some()
    }

    /// Whether the client is attached: initialised, and reachable by its peer or, parked, by
    /// its own event stream.
    pub fn attached(&self) -> bool {
        self.attached.load(Ordering::Acquire)
    }

    /// Sends what the gateway tells this client on `downlink` whenever rmcp does not run the
    /// session (first call wins: a session has one stream).
    pub fn use_downlink(&self, downlink: Arc<Downlink>) {
        let _ = self.way.downlink.set(downlink);
    }

    /// rmcp no longer runs the session (parked): what follows goes to its own event stream.
    pub fn detach_peer(&self) {
        *lock(&self.way.peer) = None;
    }

    /// Keeps what the client sent in `initialize`, to replay it when a parked session is
    /// restored.
    pub fn remember_init(&self, init: &InitializeRequestParams) {
        let _ = self.init.set(init.clone());
    }

    /// What the client sent in `initialize`, if it was kept.
    pub fn init(&self) -> Option<&InitializeRequestParams> {
        self.init.get()
    }

    /// Queues a notification for this client; dropped (and logged) when the client is not
    /// reading.
    pub fn notify(&self, notification: ServerNotification) {
        if !self.attached() {
            return;
        }
        // A 2026-07-28 client hears about changes only on a `subscriptions/listen` stream.
        if is_change(&notification) && self.is_modern() && lock(&self.listener).is_none() {
            return;
        }
        // Started with the first notification: most sessions never get one, and an idle
        // session should cost no task and no channel.
        let outbox = self.outbox.get_or_init(|| {
            let (tx, rx) = mpsc::channel(OUTBOX);
            tokio::spawn(deliver(
                self.id,
                self.way.clone(),
                rx,
                self.delivery.clone(),
                self.listener.clone(),
            ));
            tx
        });
        match outbox.try_send(notification) {
            Ok(()) => {
                self.delivery.queued.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) => {
                tracing::debug!(session = self.id, error = %e, "notification for a client dropped");
            }
        }
    }

    /// Waits (at most `limit`) until every notification queued so far has been handed to the
    /// transport, so an answer sent next cannot overtake the progress that preceded it.
    pub async fn flush(&self, limit: std::time::Duration) {
        let target = self.delivery.queued.load(Ordering::Acquire);
        let wait = async {
            loop {
                let sent = self.delivery.sent.notified();
                if self.delivery.done.load(Ordering::Acquire) >= target {
                    return;
                }
                sent.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    pub fn set_level(&self, level: LoggingLevel) {
        *lock(&self.level) = Some(level);
    }

    pub fn level(&self) -> Option<LoggingLevel> {
        *lock(&self.level)
    }

    /// Whether a log message at `level` is wanted: at or above the client's level, or any
    /// message when it never set one (what a direct connection to the upstream would send).
    /// A 2026-07-28 client gets logs only when its request asked (`io.modelcontextprotocol/logLevel`).
    pub fn wants_log(&self, level: LoggingLevel) -> bool {
        match self.level() {
            Some(min) => rank(level) >= rank(min),
            None => !self.is_modern(),
        }
    }

    /// Sends change notifications on this `subscriptions/listen` stream from now on.
    pub fn set_listener(&self, sink: Option<SubscriptionSink>) {
        *lock(&self.listener) = sink;
    }

    /// The dedicated connection to `upstream`, if one is open.
    pub fn link(&self, upstream: &UpstreamId) -> Option<Arc<Dedicated>> {
        lock(&self.links).get(upstream).cloned()
    }

    pub fn links(&self) -> Vec<Arc<Dedicated>> {
        lock(&self.links).values().cloned().collect()
    }

    /// Keeps a dedicated connection (replacing one opened for an older spec).
    pub fn keep_link(&self, upstream: UpstreamId, link: Arc<Dedicated>) {
        self.leave_traces();
        lock(&self.links).insert(upstream, link);
    }
}

/// The way back to one client.
#[derive(Default)]
struct Way {
    /// rmcp's peer, while rmcp runs the session.
    peer: Mutex<Option<Peer<RoleServer>>>,
    /// The session's own event stream (Streamable HTTP sessions only).
    downlink: OnceLock<Arc<Downlink>>,
}

/// Why a notification could not be sent: the client is gone.
#[derive(Debug)]
struct Gone(String);

impl Way {
    /// Sends through rmcp while it runs the session, else on the session's own stream.
    async fn send(&self, notification: ServerNotification) -> Result<(), Gone> {
        let peer = lock(&self.peer).clone();
        let downlink = self.downlink.get();
        match (peer, downlink) {
            (Some(peer), None) => peer
                .send_notification(notification)
                .await
                .map_err(|e| Gone(e.to_string())),
            (Some(peer), Some(downlink)) => {
                // Parked meanwhile: rmcp's worker is gone, the stream is not.
                if peer.send_notification(notification.clone()).await.is_err() {
                    downlink.push(ServerJsonRpcMessage::notification(notification));
                }
                Ok(())
            }
            (None, Some(downlink)) => {
                downlink.push(ServerJsonRpcMessage::notification(notification));
                Ok(())
            }
            (None, None) => Err(Gone("no way back to the client".into())),
        }
    }
}

/// Counts of one outbox, for [`ClientSession::flush`].
#[derive(Default)]
struct Delivery {
    queued: AtomicU64,
    done: AtomicU64,
    sent: tokio::sync::Notify,
}

/// List changes and resource updates: what a `subscriptions/listen` stream carries.
fn is_change(notification: &ServerNotification) -> bool {
    matches!(
        notification,
        ServerNotification::ToolListChangedNotification(_)
            | ServerNotification::PromptListChangedNotification(_)
            | ServerNotification::ResourceListChangedNotification(_)
            | ServerNotification::ResourceUpdatedNotification(_)
    )
}

/// Sends one client's notifications in order until the session goes away.
async fn deliver(
    session: u64,
    way: Arc<Way>,
    mut rx: mpsc::Receiver<ServerNotification>,
    delivery: Arc<Delivery>,
    listener: Arc<Mutex<Option<SubscriptionSink>>>,
) {
    while let Some(notification) = rx.recv().await {
        let sink = if is_change(&notification) {
            lock(&listener).clone()
        } else {
            None
        };
        let result = match sink {
            Some(sink) => {
                if let Err(e) = sink.send(notification).await {
                    tracing::debug!(session, error = %e, "change not sent on the listen stream");
                }
                Ok(())
            }
            None => way.send(notification).await,
        };
        delivery.done.fetch_add(1, Ordering::AcqRel);
        delivery.sent.notify_waiters();
        if let Err(Gone(e)) = result {
            tracing::debug!(session, error = %e, "client gone; notifications stop");
            return;
        }
    }
}

/// Severity order of log levels (rmcp's enum has none).
pub fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// A weak handle for tables that must not keep a session alive.
pub type WeakSession = Weak<ClientSession>;

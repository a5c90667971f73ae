//! [`UpstreamHandle`]: the cheap, cloneable view of one upstream connection.
//!
//! The connection task (see `supervisor`) owns the rmcp client and publishes what it knows through
//! a `tokio::sync::watch` channel; handles only read it. The in-flight counter lets a reload drain
//! a removed upstream before stopping it. No lock here is held across an `.await`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use rmcp::model::ServerPeerInfo;
use rmcp::service::{Peer, PeerRequestOptions, RoleClient};
use tokio::sync::{Notify, watch};

use super::error::UpstreamError;
use crate::plan::{UpstreamId, UpstreamSpec};

/// What an upstream is doing now.
#[derive(Debug, Clone)]
pub enum UpstreamState {
    /// Starting the child or connecting, then the `initialize` handshake.
    Connecting,
    /// Ready for requests.
    Connected {
        since: SystemTime,
        /// What the upstream announced: negotiated protocol version, capabilities, name.
        server_info: Arc<ServerPeerInfo>,
    },
    /// Failed to start or dropped; retried at `retry_at`.
    Down {
        /// The last error, redacted (never a header or environment value).
        error: String,
        since: SystemTime,
        /// Consecutive failures since the last successful handshake.
        attempts: u32,
        retry_at: SystemTime,
    },
    /// Removed by a reload or shut down; this handle will never connect again.
    Stopped,
}

impl UpstreamState {
    pub fn is_connected(&self) -> bool {
        matches!(self, UpstreamState::Connected { .. })
    }

    /// A short name for logs and metrics labels.
    pub fn name(&self) -> &'static str {
        match self {
            UpstreamState::Connecting => "connecting",
            UpstreamState::Connected { .. } => "connected",
            UpstreamState::Down { .. } => "down",
            UpstreamState::Stopped => "stopped",
        }
    }
}

/// What the connection task publishes: the state and, while connected, the peer.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) state: UpstreamState,
    pub(crate) peer: Option<Peer<RoleClient>>,
    /// The error of the last failure, kept while the upstream tries again; cleared on connect.
    pub(crate) last_error: Option<String>,
}

/// Counters about one upstream since it was started (they survive reconnects).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpstreamStats {
    /// Successful handshakes.
    pub connects: u64,
    /// Connections that ended or attempts that failed.
    pub failures: u64,
    /// Streamable HTTP sessions that rmcp re-initialised after the upstream answered 404.
    pub session_reinits: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connects: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) session_reinits: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    spec: Arc<UpstreamSpec>,
    identity: u64,
    instance: u64,
    published: watch::Sender<Published>,
    /// The stdio child's PID, 0 when there is none.
    pid: AtomicU32,
    in_flight: AtomicUsize,
    idle: Notify,
    counters: Arc<Counters>,
    /// What the gateway's fast path needs to reach this upstream directly (HTTP only).
    lane: Arc<super::raw::Lane>,
    /// Access tokens, for an upstream with `auth oauth …`; kept across reconnects. A
    /// propagating upstream's tokens come from `caller` (a dedicated connection only).
    tokens: Option<Arc<super::oauth::TokenSource>>,
}

/// A cheap-to-clone handle on one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamHandle {
    inner: Arc<Inner>,
}

impl UpstreamHandle {
    pub(crate) fn new(
        spec: Arc<UpstreamSpec>,
        instance: u64,
        caller: Option<super::CallerToken>,
    ) -> Self {
        let (published, _) = watch::channel(Published {
            state: UpstreamState::Connecting,
            peer: None,
            last_error: None,
        });
        UpstreamHandle {
            inner: Arc::new(Inner {
                identity: spec.identity(),
                instance,
                tokens: spec
                    .auth
                    .as_ref()
                    .map(|a| Arc::new(super::oauth::TokenSource::new(spec.id.clone(), a, caller))),
                spec,
                published,
                pid: AtomicU32::new(0),
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
                counters: Arc::new(Counters::default()),
                lane: Arc::default(),
            }),
        }
    }

    pub fn id(&self) -> &UpstreamId {
        &self.inner.spec.id
    }

    pub fn spec(&self) -> &Arc<UpstreamSpec> {
        &self.inner.spec
    }

    pub(crate) fn identity(&self) -> u64 {
        self.inner.identity
    }

    /// Unique per connection started by a registry: a reload that restarts an upstream gives
    /// the new connection a new instance (see [`UpstreamEvent::State`](super::UpstreamEvent)).
    pub fn instance(&self) -> u64 {
        self.inner.instance
    }

    pub fn state(&self) -> UpstreamState {
        self.inner.published.borrow().state.clone()
    }

    /// Follows this upstream's state from now on (only the latest state is kept).
    pub fn watch_state(&self) -> StateWatch {
        StateWatch {
            rx: self.inner.published.subscribe(),
        }
    }

    /// The rmcp peer to send requests on; `None` unless connected.
    pub fn peer(&self) -> Option<Peer<RoleClient>> {
        let published = self.inner.published.borrow();
        match published.state {
            UpstreamState::Connected { .. } => published.peer.clone(),
            _ => None,
        }
    }

    /// What the upstream announced in its handshake; `None` unless connected.
    pub fn server_info(&self) -> Option<Arc<ServerPeerInfo>> {
        match &self.inner.published.borrow().state {
            UpstreamState::Connected { server_info, .. } => Some(server_info.clone()),
            _ => None,
        }
    }

    /// The PID of the stdio child while it runs.
    pub fn pid(&self) -> Option<u32> {
        match self.inner.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    pub fn stats(&self) -> UpstreamStats {
        let c = &self.inner.counters;
        UpstreamStats {
            connects: c.connects.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            session_reinits: c.session_reinits.load(Ordering::Relaxed),
        }
    }

    /// Request options carrying this upstream's per-request timeout (`spec.timeout`). Callers
    /// pass them to `Peer::send_request_with_option`; rmcp's convenience methods have no timeout.
    pub fn request_options(&self) -> PeerRequestOptions {
        PeerRequestOptions::with_timeout(self.inner.spec.timeout)
    }

    /// Waits until the upstream is connected, for at most `timeout`.
    ///
    /// Returns at once if the upstream was stopped. On timeout, a down upstream reports its
    /// last error; one still connecting reports the timeout.
    pub async fn ready(&self, timeout: Duration) -> Result<Peer<RoleClient>, UpstreamError> {
        self.wait_until(timeout, |state| {
            matches!(
                state,
                UpstreamState::Connected { .. } | UpstreamState::Stopped
            )
        })
        .await
    }

    /// Waits for the connection attempt in progress to end, for at most `timeout`: the peer
    /// when it connected, its error when it failed. Unlike [`ready`](Self::ready), it does not
    /// wait through the retries after a failure, so a request to an upstream that keeps failing
    /// gets that failure at once instead of waiting out its timeout.
    pub async fn settled(&self, timeout: Duration) -> Result<Peer<RoleClient>, UpstreamError> {
        self.wait_until(timeout, |state| !matches!(state, UpstreamState::Connecting))
            .await
    }

    async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&UpstreamState) -> bool,
    ) -> Result<Peer<RoleClient>, UpstreamError> {
        let mut rx = self.inner.published.subscribe();
        let wait = rx.wait_for(|p| done(&p.state));
        let outcome = match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(published)) => published.peer.clone(),
            // The sender lives in `Inner`, which we hold: this cannot close, but stay total.
            Ok(Err(_)) | Err(_) => None,
        };
        if let Some(peer) = outcome {
            return Ok(peer);
        }
        let upstream = self.id().to_string();
        Err(match self.state() {
            UpstreamState::Stopped => UpstreamError::Stopped { upstream },
            UpstreamState::Down { error, .. } => UpstreamError::Down { upstream, error },
            _ => UpstreamError::Timeout {
                what: "waiting for the upstream",
                after: timeout,
            },
        })
    }

    /// Marks a request in flight until the guard is dropped; a reload that removes this upstream
    /// waits for these (up to its drain time) before stopping the connection.
    pub fn begin_request(&self) -> InFlight {
        self.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            handle: self.clone(),
        }
    }

    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Acquire)
    }

    /// Waits until no request is in flight, or `limit` passes; true when drained.
    pub(crate) async fn drained(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let idle = self.inner.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    pub(crate) fn publish(&self, state: UpstreamState, peer: Option<Peer<RoleClient>>) {
        if !state.is_connected() {
            self.inner.lane.forget_session();
        }
        self.inner.published.send_modify(|published| {
            match &state {
                UpstreamState::Down { error, .. } => published.last_error = Some(error.clone()),
                UpstreamState::Connected { .. } => published.last_error = None,
                UpstreamState::Connecting | UpstreamState::Stopped => {}
            }
            published.state = state;
            published.peer = peer;
        });
    }

    /// The error of the last failure while the upstream is not connected (also while it
    /// connects again after it), for status pages; `None` once connected.
    pub fn last_error(&self) -> Option<String> {
        self.inner.published.borrow().last_error.clone()
    }

    pub(crate) fn set_pid(&self, pid: Option<u32>) {
        self.inner.pid.store(pid.unwrap_or(0), Ordering::Release);
    }

    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.inner.counters
    }

    pub(crate) fn lane(&self) -> &Arc<super::raw::Lane> {
        &self.inner.lane
    }

    /// Whether this is the registry's connection of an upstream that propagates the caller's
    /// identity: it has no caller, so it never connects (clients' own connections do).
    pub fn per_client_only(&self) -> bool {
        self.tokens().is_some_and(|t| t.lacks_caller())
    }

    pub(crate) fn tokens(&self) -> Option<&Arc<super::oauth::TokenSource>> {
        self.inner.tokens.as_ref()
    }
}

/// Follows one upstream's state; see [`UpstreamHandle::watch_state`].
#[derive(Debug)]
pub struct StateWatch {
    rx: watch::Receiver<Published>,
}

impl StateWatch {
    pub fn current(&self) -> UpstreamState {
        self.rx.borrow().state.clone()
    }

    /// Waits until the state satisfies `pred` (checked against the current state first).
    pub async fn wait_for(
        &mut self,
        mut pred: impl FnMut(&UpstreamState) -> bool,
    ) -> UpstreamState {
        match self.rx.wait_for(|p| pred(&p.state)).await {
            Ok(published) => published.state.clone(),
            Err(_) => UpstreamState::Stopped,
        }
    }
}

/// RAII guard of one in-flight request; see [`UpstreamHandle::begin_request`].
#[derive(Debug)]
#[must_use = "the request counts as in flight only while the guard lives"]
pub struct InFlight {
    handle: UpstreamHandle,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let inner = &self.handle.inner;
        if inner.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            inner.idle.notify_waiters();
        }
    }
}

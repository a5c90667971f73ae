//! Connections to upstream MCP servers: the [`Registry`] and its [`UpstreamHandle`]s.
//!
//! Input: the plan's `UpstreamSpec`s. Output: for each, a handle with its state, its rmcp
//! [`Peer`](rmcp::service::Peer) while connected, and a stream of [`UpstreamEvent`]s
//! (notifications the upstreams send, state changes). This module owns processes, sockets and
//! retries; it knows nothing of profiles, rules or downstream clients (that is `gateway/`), and
//! it neither caches lists nor applies per-request timeouts (the caller does, with
//! [`UpstreamHandle::request_options`]).
//!
//! | file            | owns                                                            |
//! |-----------------|-----------------------------------------------------------------|
//! | `mod.rs`        | the registry: reconcile (start / keep / restart / drain), lookup |
//! | `handle.rs`     | handles, states, in-flight guards                               |
//! | `supervisor.rs` | the task per connection: backoff, drop detection, liveness      |
//! | `connect.rs`    | one connection attempt and its teardown; error mapping          |
//! | `client.rs`     | the MCP client side: notifications out, server→client requests  |
//! | `stdio.rs`, `http.rs`, `sse.rs` | the three transports                            |
//! | `error.rs`      | [`UpstreamError`] and redaction                                 |
//! | `oauth.rs`, `delegated.rs`, `tokenfile.rs` | bearer tokens of `auth oauth …`: mcp2's own (client credentials), a user's (authorization code, `mcp2 login`) |
//! | `propagate.rs`  | the caller's identity (pass-through, token exchange)            |
//!
//! Every upstream runs in its own task that owns its rmcp client (and child process); handles
//! are cheap clones reading what the task publishes. Locks are std mutexes held for map edits
//! only, never across an `.await`.

mod client;
mod connect;
mod delegated;
mod era;
mod error;
mod handle;
mod http;
mod oauth;
mod propagate;
mod raw;
mod sse;
mod stdio;
mod supervisor;
pub mod tokenfile;
mod watched;

use crate::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use indexmap::IndexMap;
use rmcp::model::ClientCapabilities;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use client::{
    NotSupported, ServerRequestCall, ServerRequestHandler, UpstreamEvent, request_method,
};
pub(crate) use delegated::oauth_client;
pub use era::is_modern;
pub use error::UpstreamError;
pub(crate) use error::display_url;
pub use handle::{InFlight, StateWatch, UpstreamHandle, UpstreamState, UpstreamStats};
pub use oauth::TokenError;
pub(crate) use oauth::{http_client, metadata_urls, send, token_error};
pub use propagate::CallerToken;
pub use raw::{RawAnswer, RawHttp};
pub use stdio::INHERITED_ENV;

use crate::plan::{UpstreamId, UpstreamSpec};
use supervisor::Shared;

/// Tuning of the registry; the defaults are what `serve` uses.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// How long a removed or replaced upstream may finish its in-flight requests before it is
    /// stopped anyway.
    pub drain_timeout: Duration,
    /// First retry delay after a failure (before jitter).
    pub backoff_min: Duration,
    /// Longest retry delay (before jitter, which adds up to 100 %).
    pub backoff_max: Duration,
    /// A connection that lived this long resets the backoff when it drops.
    pub stable_after: Duration,
    /// Streamable HTTP only: how often to ping a connected upstream to notice it is gone
    /// (rmcp reconnects its event stream silently). `None` disables the probe.
    pub http_liveness_interval: Option<Duration>,
    /// What the registry's connections tell upstreams the client side can do (sampling,
    /// elicitation, roots). Only claim what the installed [`ServerRequestHandler`] can answer;
    /// the default claims nothing.
    pub client_capabilities: ClientCapabilities,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            drain_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(15),
            stable_after: Duration::from_secs(30),
            http_liveness_interval: Some(Duration::from_secs(15)),
            client_capabilities: ClientCapabilities::default(),
        }
    }
}

/// What a [`Registry::reconcile`] did, each list in the order of the new spec map (`stopped`:
/// in the old order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// New upstreams, connecting now.
    pub started: Vec<UpstreamId>,
    /// Unchanged upstreams: same connection, same child process.
    pub kept: Vec<UpstreamId>,
    /// Changed upstreams: a new connection is starting; the old one drains, then stops.
    pub restarted: Vec<UpstreamId>,
    /// Removed upstreams: draining, then stopped.
    pub stopped: Vec<UpstreamId>,
}

struct Entry {
    handle: UpstreamHandle,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

struct Inner {
    shared: Arc<Shared>,
    entries: Mutex<IndexMap<UpstreamId, Entry>>,
    /// Removed or replaced connections still draining.
    retiring: Mutex<Vec<JoinHandle<()>>>,
    /// Tasks of dedicated connections (see [`Registry::open_dedicated`]), awaited on shutdown.
    dedicated: Mutex<Vec<JoinHandle<()>>>,
    /// Reconciles and shutdown run one at a time.
    serial: tokio::sync::Mutex<()>,
    next_instance: AtomicU64,
    /// Parent of every connection's stop token: cancelled by `shutdown` or when the last
    /// registry clone is dropped.
    root: CancellationToken,
    _root_guard: DropGuard,
}

/// The set of running upstream connections. Cheap to clone; all clones are the same registry.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<UpstreamId> = lock(&self.inner.entries).keys().cloned().collect();
        f.debug_struct("Registry").field("upstreams", &ids).finish()
    }
}

impl Registry {
    /// A registry reporting to `events`: every upstream notification and state change is sent
    /// there (a send with no receiver is not an error; subscribe with `events.subscribe()`).
    pub fn new(events: broadcast::Sender<UpstreamEvent>) -> Registry {
        Registry::with_options(events, RegistryOptions::default())
    }

    pub fn with_options(
        events: broadcast::Sender<UpstreamEvent>,
        options: RegistryOptions,
    ) -> Registry {
        let handler: Arc<dyn ServerRequestHandler> = Arc::new(NotSupported);
        let root = CancellationToken::new();
        Registry {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    events,
                    handler: Arc::new(RwLock::new(handler)),
                    client_capabilities: options.client_capabilities.clone(),
                    options,
                }),
                entries: Mutex::new(IndexMap::new()),
                retiring: Mutex::new(Vec::new()),
                dedicated: Mutex::new(Vec::new()),
                serial: tokio::sync::Mutex::new(()),
                next_instance: AtomicU64::new(1),
                _root_guard: root.clone().drop_guard(),
                root,
            }),
        }
    }

    /// Routes every upstream's server→client requests (sampling, elicitation, roots) to
    /// `handler`, for running connections too.
    pub fn set_server_request_handler(&self, handler: Arc<dyn ServerRequestHandler>) {
        let mut slot = self
            .inner
            .shared
            .handler
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = handler;
    }

    /// The handler set with [`set_server_request_handler`](Self::set_server_request_handler),
    /// for server→client requests that arrive outside the rmcp clients (the gateway's fast
    /// path reads the upstream's answer stream itself).
    pub fn server_request_handler(&self) -> Arc<dyn ServerRequestHandler> {
        client::current(&self.inner.shared.handler)
    }

    /// Delivers a notification that arrived outside the rmcp clients exactly as a connection
    /// delivers its own: to the handler first, then on the events channel.
    pub fn deliver_notification(
        &self,
        upstream: &UpstreamId,
        instance: u64,
        notification: rmcp::model::ServerNotification,
    ) {
        let shared = &self.inner.shared;
        client::deliver(
            &shared.handler,
            &shared.events,
            upstream,
            instance,
            notification,
        );
    }

    pub fn get(&self, id: &str) -> Option<UpstreamHandle> {
        lock(&self.inner.entries).get(id).map(|e| e.handle.clone())
    }

    /// Every upstream, in declaration order.
    pub fn all(&self) -> Vec<UpstreamHandle> {
        lock(&self.inner.entries)
            .values()
            .map(|e| e.handle.clone())
            .collect()
    }

    /// Makes the running set match `upstreams` (at startup and on every reload): starts new
    /// specs, keeps those whose [`UpstreamSpec::identity`] is unchanged (same connection, same
    /// child), restarts changed ones and stops removed ones. Replaced and removed connections
    /// finish their in-flight requests (up to `drain_timeout`) in the background before they
    /// stop. Returns at once: new connections come up on their own; wait with
    /// [`UpstreamHandle::ready`].
    pub async fn reconcile(
        &self,
        upstreams: &IndexMap<UpstreamId, Arc<UpstreamSpec>>,
    ) -> ReconcileReport {
        let _serial = self.inner.serial.lock().await;
        let mut report = ReconcileReport::default();
        let mut retired = Vec::new();
        {
            let mut entries = lock(&self.inner.entries);
            let mut next = IndexMap::with_capacity(upstreams.len());
            for (id, spec) in upstreams {
                match entries.shift_remove(id) {
                    Some(old) if old.handle.identity() == spec.identity() => {
                        report.kept.push(id.clone());
                        next.insert(id.clone(), old);
                    }
                    Some(old) => {
                        report.restarted.push(id.clone());
                        retired.push(old);
                        next.insert(id.clone(), self.start(spec.clone()));
                    }
                    None => {
                        report.started.push(id.clone());
                        next.insert(id.clone(), self.start(spec.clone()));
                    }
                }
            }
            for (id, old) in entries.drain(..) {
                report.stopped.push(id);
                retired.push(old);
            }
            *entries = next;
        }
        let mut retiring = lock(&self.inner.retiring);
        retiring.retain(|task| !task.is_finished());
        for old in retired {
            let drain = self.inner.shared.options.drain_timeout;
            let root = self.inner.root.clone();
            retiring.push(tokio::spawn(retire(old, drain, root)));
        }
        if !(report.started.is_empty() && report.restarted.is_empty() && report.stopped.is_empty())
        {
            tracing::info!(
                started = report.started.len(),
                kept = report.kept.len(),
                restarted = report.restarted.len(),
                stopped = report.stopped.len(),
                "upstreams reconciled"
            );
        }
        report
    }

    /// Stops every upstream at once (no drain), kills and reaps every child, and waits for it.
    /// (A child still in its `initialize` handshake is terminated by its reaper task in the
    /// background instead.) The registry is finished afterwards: a later `reconcile` starts
    /// nothing that stays up.
    pub async fn shutdown(&self) {
        let _serial = self.inner.serial.lock().await;
        self.inner.root.cancel();
        let entries: Vec<Entry> = lock(&self.inner.entries)
            .drain(..)
            .map(|(_, e)| e)
            .collect();
        let retiring: Vec<JoinHandle<()>> = lock(&self.inner.retiring).drain(..).collect();
        let dedicated: Vec<JoinHandle<()>> = lock(&self.inner.dedicated).drain(..).collect();
        for entry in entries {
            let _ = entry.task.await;
        }
        for task in retiring.into_iter().chain(dedicated) {
            let _ = task.await;
        }
    }

    /// Opens a connection of its own to `spec`, outside the registry's map: for one
    /// downstream client that must not share the upstream with others (a stateful stdio
    /// server, its own child). Its server→client requests go to `handler` only, it tells the
    /// upstream it can do `capabilities`, and its notifications go to the registry's events
    /// channel under its own [`UpstreamHandle::instance`]. It reconnects like any other
    /// connection, and stops (child killed and reaped) when the returned value is dropped or
    /// the registry shuts down. `caller` is the client's newest validated access token, for an
    /// upstream that propagates the caller's identity (`auth oauth pass-through` or
    /// `token-exchange`).
    pub fn open_dedicated(
        &self,
        spec: Arc<UpstreamSpec>,
        handler: Arc<dyn ServerRequestHandler>,
        capabilities: ClientCapabilities,
        caller: Option<CallerToken>,
    ) -> Dedicated {
        let instance = self.inner.next_instance.fetch_add(1, Ordering::Relaxed);
        let handle = UpstreamHandle::new(spec, instance, caller);
        let stop = self.inner.root.child_token();
        let shared = Arc::new(Shared {
            events: self.inner.shared.events.clone(),
            handler: Arc::new(RwLock::new(handler)),
            client_capabilities: capabilities,
            options: self.inner.shared.options.clone(),
        });
        let task = tokio::spawn(supervisor::run(handle.clone(), shared, stop.clone()));
        let mut dedicated = lock(&self.inner.dedicated);
        dedicated.retain(|task| !task.is_finished());
        dedicated.push(task);
        Dedicated {
            handle,
            _stop: stop.drop_guard(),
        }
    }

    fn start(&self, spec: Arc<UpstreamSpec>) -> Entry {
        let instance = self.inner.next_instance.fetch_add(1, Ordering::Relaxed);
        let handle = UpstreamHandle::new(spec, instance, None);
        let stop = self.inner.root.child_token();
        let task = tokio::spawn(supervisor::run(
            handle.clone(),
            self.inner.shared.clone(),
            stop.clone(),
        ));
        Entry { handle, stop, task }
    }
}

/// A connection owned by one downstream client; see [`Registry::open_dedicated`]. Dropping it
/// stops the connection.
#[derive(Debug)]
pub struct Dedicated {
    handle: UpstreamHandle,
    _stop: DropGuard,
}

impl Dedicated {
    pub fn handle(&self) -> &UpstreamHandle {
        &self.handle
    }
}

/// Lets a replaced or removed connection finish its requests, then stops it.
async fn retire(entry: Entry, drain: Duration, root: CancellationToken) {
    let Entry { handle, stop, task } = entry;
    let drained = tokio::select! {
        drained = handle.drained(drain) => drained,
        _ = root.cancelled() => true,
    };
    if !drained {
        tracing::warn!(
            upstream = %handle.id(),
            in_flight = handle.in_flight(),
            drain_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX),
            "drain time over; stopping the upstream with requests in flight"
        );
    }
    stop.cancel();
    let _ = task.await;
}

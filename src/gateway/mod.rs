//! The gateway: runs a [`Plan`] over live upstream connections.
//!
//! [`Gateway`] owns the current plan (an `ArcSwap`, swapped whole on reload), the upstream
//! [`Registry`], the per-upstream [`ListCache`] and the per-binding [`View`]s built from it.
//! Requests enter through [`handler::HubSession`] (one per downstream session, an rmcp
//! `ServerHandler`); lists fan out to the binding's upstreams in parallel, each bounded by its own
//! timeout; calls are routed by public name through the view to the upstream and original name.
//! This module knows nothing of HTTP: `serve` puts sessions on transports.
//!
//! The way back (progress, server→client requests, logging, subscriptions, list changes) and
//! how downstream sessions map to upstream connections is described in `README.md` beside
//! this file.
//!
//! | file              | owns                                                          |
//! |-------------------|---------------------------------------------------------------|
//! | `handler.rs`      | the rmcp `ServerHandler` of one downstream session            |
//! | `session.rs`      | what the gateway knows about one client; its outbox           |
//! | `downlink.rs`     | a session's own event stream, while rmcp does not run it      |
//! | `ask.rs`          | server→client requests to one client, and their progress      |
//! | `forward.rs`      | sending one request upstream: connection choice, meta, cancel |
//! | `fast.rs`, `fast_reply.rs`, `fast_progress.rs` | the fast path: raw calls (progress streamed on their own response), pre-serialised lists |
//! | `calls.rs`        | the in-flight table: progress routes, attribution             |
//! | `mrtr.rs`         | server→client requests for 2026-07-28 clients, as input rounds |
//! | `routing.rs`      | server→client requests to the right client                    |
//! | `relay.rs`        | upstream notifications to the right clients; subscriptions    |
//! | `subscribe.rs`    | subscribe / unsubscribe / `subscriptions/listen`, log levels   |
//! | `announce.rs`     | `list_changed` to the clients whose view changed              |
//! | `sweep.rs`        | tidying up after clients that left                            |
//! | `lists.rs`, `view.rs` | the list cache and the per-binding views                  |

mod announce;
mod ask;
mod audited;
pub mod calls;
pub mod downlink;
pub mod error;
mod fast;
mod fast_progress;
mod fast_reply;
mod forward;
pub mod handler;
pub mod limits;
mod listens;
pub mod lists;
mod mrtr;
pub mod observe;
mod relay;
mod rounds;
mod routing;
pub mod session;
mod subscribe;
mod sweep;
pub mod tasks;
pub mod view;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures::future::join_all;
use rmcp::model::{ClientCapabilities, ServerNotification};
use tokio::sync::broadcast;

pub(crate) use crate::lock;
use crate::plan::authz::CallerClass;
use crate::plan::rules::Caller;
use crate::plan::{Plan, ProfileName, UpstreamId};
use crate::telemetry::events::CacheLookup;
use crate::upstream::{
    ReconcileReport, Registry, RegistryOptions, UpstreamEvent, UpstreamHandle, UpstreamState,
};
use calls::Calls;
pub use error::GatewayError;
pub use fast::Fast;
pub use fast_progress::FastStream;
pub use lists::{CachePolicy, ListCache, ListKind, Listed};
use session::{ClientSession, WeakSession};
pub use view::{Freshness, Route, UpstreamLists, View};

/// What an endpoint serves: a profile, or one upstream of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Binding {
    pub profile: ProfileName,
    pub only_upstream: Option<UpstreamId>,
}

struct CachedView {
    plan: Arc<Plan>,
    generation: u64,
    expires: Instant,
    view: Arc<View>,
}

pub struct Gateway {
    /// Itself, for work spawned from `&self` methods (announcements after a reload).
    me: std::sync::Weak<Gateway>,
    plan: ArcSwap<Plan>,
    registry: Registry,
    lists: ListCache,
    /// Views per binding. A std Mutex: held only to look up or store an `Arc`, never across an
    /// await.
    /// Views per binding and caller class: callers the binding's rules cannot tell apart share
    /// one view.
    views: Mutex<HashMap<(Binding, CallerClass), CachedView>>,
    /// The audit trail's sink.
    audit: crate::audit::Auditor,
    /// Collisions already warned about, so each is logged once.
    warned: Mutex<HashSet<(ProfileName, String)>>,
    events: broadcast::Sender<UpstreamEvent>,
    /// Counts requests against the profiles' rate limits.
    limiter: Box<dyn limits::Limiter>,
    /// A shared limiter (Redis, for several replicas) replacing `limiter` once set.
    shared_limiter: std::sync::OnceLock<Box<dyn limits::Limiter>>,
    /// Where list changes seen here are published for the other replicas (`cluster::bus`).
    list_changes: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<UpstreamId>>,
    /// Requests in flight, by upstream connection.
    calls: Arc<Calls>,
    /// Every downstream session, for broadcasts (logging, list changes).
    sessions: Mutex<HashMap<u64, WeakSession>>,
    /// Dedicated connections (by instance) and the session that owns each.
    owners: Mutex<HashMap<u64, WeakSession>>,
    /// Resource subscriptions by (upstream, upstream URI).
    subscriptions: Mutex<HashMap<(UpstreamId, String), Vec<relay::Subscription>>>,
    /// What each binding's clients were last shown (see `announce`).
    announced: Mutex<HashMap<(Binding, CallerClass), announce::Digest>>,
    announce_pending: AtomicBool,
    /// Calls waiting for a 2026-07-28 client's input (see `mrtr`).
    suspended: mrtr::SuspendedCalls,
    /// `subscriptions/listen` streams on upstreams of 2026-07-28 (see `listens`).
    listens: listens::Listens,
    /// Which upstream made each task a client follows (see `tasks`).
    tasks: tasks::TaskBook,
    /// Where dropped sessions report (see `sweep`).
    departed: tokio::sync::mpsc::UnboundedSender<u64>,
}

impl Gateway {
    /// Starts the gateway on `plan`: connects the plan's upstreams (in the background: an
    /// upstream that is slow or down never delays the others or the gateway).
    ///
    /// The shared connections tell upstreams they can do sampling, elicitation and roots: the
    /// gateway forwards those to the client whose request caused them, and answers with a
    /// clear error when that client cannot (see `README.md`).
    pub async fn start(plan: Plan, policy: CachePolicy) -> Arc<Gateway> {
        let (events, _) = broadcast::channel(4096);
        let options = RegistryOptions {
            client_capabilities: forwardable_capabilities(),
            ..RegistryOptions::default()
        };
        let registry = Registry::with_options(events.clone(), options);
        let upstreams = plan.upstreams.clone();
        let (departed, departures) = tokio::sync::mpsc::unbounded_channel();
        let gateway = Arc::new_cyclic(|me| Gateway {
            me: me.clone(),
            plan: ArcSwap::from_pointee(plan),
            registry,
            lists: ListCache::new(policy),
            views: Mutex::new(HashMap::new()),
            audit: Default::default(),
            warned: Mutex::new(HashSet::new()),
            events,
            limiter: Box::new(limits::MemoryLimiter::default()),
            shared_limiter: std::sync::OnceLock::new(),
            list_changes: std::sync::OnceLock::new(),
            calls: Arc::default(),
            sessions: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
            subscriptions: Mutex::new(HashMap::new()),
            announced: Mutex::new(HashMap::new()),
            announce_pending: AtomicBool::new(false),
            suspended: mrtr::SuspendedCalls::default(),
            listens: listens::Listens::default(),
            tasks: tasks::TaskBook::default(),
            departed,
        });
        tokio::spawn(sweep::run(Arc::downgrade(&gateway), departures));
        gateway
            .registry
            .set_server_request_handler(Arc::new(routing::SharedRouter {
                gateway: Arc::downgrade(&gateway),
            }));
        tokio::spawn(watch_events(
            Arc::downgrade(&gateway),
            gateway.events.subscribe(),
        ));
        gateway.registry.reconcile(&upstreams).await;
        gateway
    }

    pub fn plan(&self) -> Arc<Plan> {
        self.plan.load_full()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn limiter(&self) -> &dyn limits::Limiter {
        match self.shared_limiter.get() {
            Some(shared) => &**shared,
            None => &*self.limiter,
        }
    }

    /// Counts rate limits with `limiter` from now on (set once, at startup: a shared backend).
    pub fn use_limiter(&self, limiter: Box<dyn limits::Limiter>) {
        let _ = self.shared_limiter.set(limiter);
    }

    /// Sends the id of every upstream whose lists change here to `to` (set once, at startup).
    pub fn publish_list_changes(&self, to: tokio::sync::mpsc::UnboundedSender<UpstreamId>) {
        let _ = self.list_changes.set(to);
    }

    /// Another replica saw `upstream`'s lists change: drop them here and tell the clients whose
    /// view changed.
    pub async fn list_changed_elsewhere(&self, upstream: &UpstreamId) {
        self.lists.invalidate_upstream(upstream).await;
        self.schedule_announce();
    }

    pub fn lists(&self) -> &ListCache {
        &self.lists
    }

    /// Upstream events (notifications, state changes), for sessions that relay them.
    pub fn subscribe(&self) -> broadcast::Receiver<UpstreamEvent> {
        self.events.subscribe()
    }

    /// Swaps in a new plan: reconciles the upstreams first (new ones started, unchanged ones
    /// kept), then swaps the plan whole, and tells clients whose visible lists changed.
    ///
    /// Unchanged upstreams keep their cached lists. Those of removed and restarted upstreams
    /// are dropped: they describe a connection that is going away (the retiring connection's
    /// own state changes no longer reach the cache), and kept, they would be served for an
    /// upstream added back later before its new connection has said what it offers.
    pub async fn swap_plan(&self, plan: Plan) -> ReconcileReport {
        let report = self.registry.reconcile(&plan.upstreams).await;
        self.plan.store(Arc::new(plan));
        for gone in report.stopped.iter().chain(&report.restarted) {
            self.lists.invalidate_upstream(gone).await;
        }
        lock(&self.views).clear();
        self.schedule_announce();
        report
    }

    /// Enters a new downstream session (it leaves when dropped; the table is pruned lazily).
    pub(crate) fn register(&self, session: &Arc<ClientSession>) {
        session.report_departure(self.departed.clone());
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= 64 && sessions.len().is_power_of_two() {
            sessions.retain(|_, s| s.strong_count() > 0);
        }
        sessions.insert(session.id(), Arc::downgrade(session));
    }

    /// Sessions that are alive and have a client attached.
    pub(crate) fn live_sessions(&self) -> Vec<Arc<ClientSession>> {
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.strong_count() > 0);
        sessions
            .values()
            .filter_map(|s| s.upgrade())
            .filter(|s| s.attached())
            .collect()
    }

    /// Live sessions whose binding serves `upstream` through the shared connection.
    pub(crate) fn sessions_using(&self, upstream: &UpstreamId) -> Vec<Arc<ClientSession>> {
        let plan = self.plan();
        self.live_sessions()
            .into_iter()
            .filter(|s| {
                let b = s.binding();
                b.only_upstream.as_ref().is_none_or(|only| only == upstream)
                    && plan
                        .profile(b.profile.as_str())
                        .is_some_and(|p| p.upstreams.contains(upstream))
            })
            .collect()
    }

    /// The session that owns dedicated connection `instance`, if it is one.
    fn owner(&self, instance: u64) -> Option<Arc<ClientSession>> {
        let mut owners = lock(&self.owners);
        let owner = owners.get(&instance)?.upgrade();
        if owner.is_none() {
            owners.remove(&instance);
        }
        owner
    }

    /// Whether `instance` is the registry's current connection of `upstream`.
    fn is_shared(&self, upstream: &UpstreamId, instance: u64) -> bool {
        self.registry
            .get(upstream.as_str())
            .is_some_and(|h| h.instance() == instance)
    }

    /// Stops every upstream (children killed and reaped).
    pub async fn shutdown(&self) {
        self.registry.shutdown().await;
    }

    /// The upstreams a binding serves, in priority order.
    pub fn upstreams_of(&self, plan: &Plan, binding: &Binding) -> Vec<UpstreamHandle> {
        let Some(profile) = plan.profile(binding.profile.as_str()) else {
            return Vec::new();
        };
        profile
            .upstreams
            .iter()
            .filter(|u| binding.only_upstream.as_ref().is_none_or(|only| only == *u))
            .filter_map(|u| self.registry.get(u.as_str()))
            .collect()
    }

    /// Where audit records go.
    pub fn audit(&self) -> &crate::audit::Auditor {
        &self.audit
    }

    /// The caller's class under the binding's profile (see `plan::authz`).
    pub fn caller_class(&self, plan: &Plan, binding: &Binding, caller: Caller<'_>) -> CallerClass {
        plan.profile(binding.profile.as_str())
            .map(|p| p.rules.caller_class(caller))
            .unwrap_or_default()
    }

    /// The binding's view for this caller: cached while the plan and the lists it was built
    /// from are unchanged; otherwise rebuilt from the list cache, fetching misses in parallel.
    pub async fn view(&self, plan: &Arc<Plan>, binding: &Binding, caller: Caller<'_>) -> Arc<View> {
        let upstreams = self.upstreams_of(plan, binding);
        self.view_from(plan, binding, caller, upstreams).await
    }

    /// [`view`](Self::view), with the binding's lists fetched (on a miss) through `upstreams`
    /// (a client's own connection may stand in for a registry one).
    pub async fn view_from(
        &self,
        plan: &Arc<Plan>,
        binding: &Binding,
        caller: Caller<'_>,
        upstreams: Vec<UpstreamHandle>,
    ) -> Arc<View> {
        let generation = self.lists.generation();
        let class = self.caller_class(plan, binding, caller);
        let key = (binding.clone(), class);
        // A view with an upstream that propagates the caller's identity depends on whether
        // this caller's own connection could list it: never shared through the view cache
        // (the lists themselves are cached per upstream, as always).
        let personal = upstreams
            .iter()
            .any(|u| u.spec().auth.as_ref().is_some_and(|a| a.propagates()));
        if !personal
            && let Some(cached) = lock(&self.views).get(&key)
            && Arc::ptr_eq(&cached.plan, plan)
            && cached.generation == generation
            && cached.expires > Instant::now()
        {
            return cached.view.clone();
        }
        let Some(profile) = plan.profile(binding.profile.as_str()) else {
            return Arc::new(View::default());
        };
        let fetched = join_all(upstreams.iter().map(|u| self.fetch_lists(u))).await;
        let any_failed = fetched.iter().any(|(_, failed, _)| *failed);
        let inputs: Vec<(&UpstreamId, &UpstreamLists)> = upstreams
            .iter()
            .zip(&fetched)
            .map(|(u, (lists, _, _))| (u.id(), lists))
            .collect();
        let mut view = View::build(&profile.rules, &inputs, caller);
        self.warn_collisions(&binding.profile, &view);
        let policy = self.lists.policy();
        let ttl = if any_failed {
            policy.error_ttl
        } else {
            policy.ttl
        };
        // Never fresher than the lists it was built from (an upstream's `ttlMs` included).
        let own = Instant::now() + ttl;
        for kind in ListKind::ALL {
            let i = kind.index();
            view.freshness[i] = fetched
                .iter()
                .fold(Freshness::default(), |f, (_, _, one)| {
                    match one[i].expires {
                        Some(e) => f.and(e, one[i].private),
                        None => f,
                    }
                })
                .and(own, false);
        }
        let expires = view
            .freshness
            .iter()
            .filter_map(|f| f.expires)
            .min()
            .unwrap_or(own);
        let view = Arc::new(view);
        if personal {
            return view;
        }
        lock(&self.views).insert(
            key,
            CachedView {
                plan: plan.clone(),
                generation,
                expires,
                view: view.clone(),
            },
        );
        view
    }

    /// All four lists of one upstream from the list cache (fetched in parallel on a miss);
    /// `true` when any failed; how fresh they are. `explain` reads the lists a view was built
    /// from through it.
    pub async fn fetch_lists(
        &self,
        upstream: &UpstreamHandle,
    ) -> (UpstreamLists, bool, [Freshness; 4]) {
        let (tools, prompts, resources, templates) = tokio::join!(
            self.lists.get(upstream, ListKind::Tools),
            self.lists.get(upstream, ListKind::Prompts),
            self.lists.get(upstream, ListKind::Resources),
            self.lists.get(upstream, ListKind::Templates),
        );
        let mut lists = UpstreamLists::default();
        let mut failed = false;
        let mut freshness = [Freshness::default(); 4];
        let policy = self.lists.policy();
        for ((entry, hit), kind) in [tools, prompts, resources, templates].into_iter().zip([
            ListKind::Tools,
            ListKind::Prompts,
            ListKind::Resources,
            ListKind::Templates,
        ]) {
            CacheLookup {
                upstream: upstream.id().as_str(),
                list: kind.method(),
                hit,
            }
            .emit();
            if entry.result.is_ok() {
                let i = kind.index();
                freshness[i] = freshness[i].and(entry.expires(policy), entry.hint.private);
            }
            match &entry.result {
                Ok(Listed::Tools(t)) => lists.tools = Some(t.clone()),
                Ok(Listed::Prompts(p)) => lists.prompts = Some(p.clone()),
                Ok(Listed::Resources(r)) => lists.resources = Some(r.clone()),
                Ok(Listed::Templates(t)) => lists.templates = Some(t.clone()),
                Err(_) => failed = true,
            }
        }
        (lists, failed, freshness)
    }

    fn warn_collisions(&self, profile: &ProfileName, view: &View) {
        if view.collisions.is_empty() {
            return;
        }
        let mut warned = lock(&self.warned);
        for c in &view.collisions {
            let key = (
                profile.clone(),
                format!("{:?} {} {}", c.kind, c.name, c.moved),
            );
            if warned.insert(key) {
                tracing::warn!(
                    profile = %profile,
                    kind = %c.kind,
                    name = %c.name,
                    kept = %c.kept,
                    moved = %c.moved,
                    moved_to = c.moved_to.as_deref().unwrap_or("<hidden>"),
                    "two upstreams offer the same public name; the earlier upstream keeps it"
                );
            }
        }
    }
}

/// The upstream's client, without waiting on an upstream that is known to be down: a down
/// upstream fails at once with its last error, one still connecting is waited for up to `wait`.
pub async fn connected(
    upstream: &UpstreamHandle,
    wait: Duration,
) -> Result<rmcp::service::Peer<rmcp::service::RoleClient>, GatewayError> {
    let unavailable = |reason: String| GatewayError::Unavailable {
        upstream: upstream.id().clone(),
        reason,
    };
    match upstream.state() {
        UpstreamState::Connected { .. } => match upstream.peer() {
            Some(peer) => Ok(peer),
            None => upstream
                .ready(wait)
                .await
                .map_err(|e| unavailable(e.to_string())),
        },
        UpstreamState::Down { error, .. } => Err(unavailable(format!("down: {error}"))),
        UpstreamState::Stopped => Err(unavailable("removed from the routes".into())),
        // Only the attempt in progress: one that fails answers with its error now.
        UpstreamState::Connecting => upstream
            .settled(wait)
            .await
            .map_err(|e| unavailable(e.to_string())),
    }
}

/// The list a `list_changed` notification is about.
fn changed_list(notification: &ServerNotification) -> Option<ListKind> {
    match notification {
        ServerNotification::ToolListChangedNotification(_) => Some(ListKind::Tools),
        ServerNotification::PromptListChangedNotification(_) => Some(ListKind::Prompts),
        ServerNotification::ResourceListChangedNotification(_) => Some(ListKind::Resources),
        _ => None,
    }
}

/// Keeps the list cache honest: `list_changed` and reconnects invalidate what they affect.
async fn watch_events(
    gateway: std::sync::Weak<Gateway>,
    mut events: broadcast::Receiver<UpstreamEvent>,
) {
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "upstream events lagged; dropping every cached list"
                );
                let Some(gw) = gateway.upgrade() else { return };
                for u in gw.registry.all() {
                    gw.lists.invalidate_upstream(u.id()).await;
                }
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(gw) = gateway.upgrade() else { return };
        match event {
            UpstreamEvent::Notification {
                upstream,
                instance,
                notification,
            } => {
                if !gw.is_shared(&upstream, instance) {
                    // An upstream that propagates the caller's identity is listed through
                    // clients' own connections: their changes are the cached lists' changes.
                    if let Some(kind) = changed_list(&notification)
                        && gw
                            .registry
                            .get(upstream.as_str())
                            .is_some_and(|h| h.per_client_only())
                    {
                        gw.lists.invalidate(&upstream, kind).await;
                        if kind == ListKind::Resources {
                            gw.lists.invalidate(&upstream, ListKind::Templates).await;
                        }
                    }
                    gw.relay(&upstream, instance, notification);
                    continue;
                }
                let kind = match &notification {
                    ServerNotification::ToolListChangedNotification(_) => Some(ListKind::Tools),
                    ServerNotification::PromptListChangedNotification(_) => Some(ListKind::Prompts),
                    ServerNotification::ResourceListChangedNotification(_) => {
                        gw.lists.invalidate(&upstream, ListKind::Templates).await;
                        Some(ListKind::Resources)
                    }
                    _ => None,
                };
                if let Some(kind) = kind {
                    tracing::debug!(%upstream, method = kind.method(), "list changed upstream");
                    gw.lists.invalidate(&upstream, kind).await;
                    gw.schedule_announce();
                    if let Some(publish) = gw.list_changes.get() {
                        let _ = publish.send(upstream.clone());
                    }
                } else {
                    gw.relay(&upstream, instance, notification);
                }
            }
            UpstreamEvent::State {
                upstream,
                instance,
                state,
            } => {
                if !gw.is_shared(&upstream, instance) {
                    continue;
                }
                gw.lists.invalidate_upstream(&upstream).await;
                if matches!(
                    state,
                    UpstreamState::Connected { .. } | UpstreamState::Down { .. }
                ) {
                    gw.schedule_announce();
                }
                for (upstream, uri) in gw.prune_subscriptions() {
                    tracing::debug!(%upstream, %uri, "subscription of departed clients dropped");
                }
            }
        }
    }
}

/// What the shared connections claim the client side can do: everything the gateway knows how
/// to forward to a client, tasks included (`tasks.rs` routes them back to the upstream).
#[allow(deprecated)] // sampling and roots are deprecated by SEP-2577; upstreams still use them.
fn forwardable_capabilities() -> ClientCapabilities {
    let mut caps = ClientCapabilities::builder()
        .enable_roots()
        .enable_roots_list_changed()
        .enable_sampling()
        .enable_tasks()
        .build();
    caps.elicitation = Some(
        rmcp::model::ElicitationCapability::new()
            .with_form(Default::default())
            .with_url(Default::default()),
    );
    caps
}

/// `1.5s`, `300ms`.
pub fn fmt_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

//! Upstream notifications on their way to the clients they concern.
//!
//! | notification            | goes to                                                         |
//! |-------------------------|-----------------------------------------------------------------|
//! | `progress`              | the client whose request it reports on, under the client's token |
//! | `message` (logging)     | a dedicated connection's client; for a shared one every client bound to the upstream, each filtered by its own `logging/setLevel` |
//! | `resources/updated`     | the clients subscribed to that URI, under the URI they know      |
//! | `*/list_changed`        | shared: the list cache drops the list and clients whose view changed are told (see `announce`); dedicated: its client |
//! | `cancelled`             | nobody: rmcp cancels the server→client request it names          |
//! | anything else           | a dedicated connection's client, or the one client in flight    |
//!
//! Subscriptions are counted per upstream URI: the first client to subscribe through a shared
//! connection subscribes upstream, the last to leave unsubscribes.
#![allow(deprecated)] // logging and resources/subscribe are deprecated by SEP-2577; still in use.

use std::sync::Arc;

use rmcp::model::{ResourceUpdatedNotification, ServerNotification};

use super::calls::Attribution;
use super::session::{ClientSession, WeakSession};
use super::{Gateway, lock};
use crate::plan::UpstreamId;

/// One client's subscription to one upstream resource.
pub(super) struct Subscription {
    pub(super) session: WeakSession,
    pub(super) session_id: u64,
    /// The URI the client knows.
    pub(super) public: String,
    /// Made through the shared connection (counted for the upstream subscription).
    pub(super) shared: bool,
}

/// What a subscribe or unsubscribe must do upstream.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Upstream {
    Forward,
    Skip,
}

impl Gateway {
    /// Routes one notification from connection `instance` of `upstream`.
    pub(super) fn relay(
        &self,
        upstream: &UpstreamId,
        instance: u64,
        notification: ServerNotification,
    ) {
        let owner = self.owner(instance);
        let notification = super::tasks::namespace(upstream, notification);
        match notification {
            ServerNotification::ProgressNotification(mut progress) => {
                let token = &progress.params.progress_token;
                let Some((session, token)) = self.calls.progress_target(instance, token) else {
                    return;
                };
                progress.params.progress_token = token;
                session.notify(ServerNotification::ProgressNotification(progress));
            }
            ServerNotification::LoggingMessageNotification(log) => {
                let level = log.params.level;
                let targets = match owner {
                    Some(owner) => vec![owner],
                    None => self.sessions_using(upstream),
                };
                for session in targets.iter().filter(|s| s.wants_log(level)) {
                    session.notify(ServerNotification::LoggingMessageNotification(log.clone()));
                }
            }
            ServerNotification::ResourceUpdatedNotification(updated) => {
                self.relay_updated(upstream, owner.as_ref(), updated);
            }
            ServerNotification::ToolListChangedNotification(_)
            | ServerNotification::PromptListChangedNotification(_)
            | ServerNotification::ResourceListChangedNotification(_) => {
                // Shared connections: `watch_events` invalidates and announces.
                if let Some(owner) = owner {
                    owner.notify(notification);
                }
            }
            ServerNotification::CancelledNotification(_) => {}
            other => {
                let target = owner.or_else(|| self.task_client(&other)).or_else(|| {
                    match self.calls.attribute(instance, None) {
                        Attribution::One(call) => Some(call.session),
                        _ => None,
                    }
                });
                match target {
                    Some(session) => session.notify(other),
                    None => tracing::debug!(%upstream, "notification with no client to go to"),
                }
            }
        }
    }

    fn relay_updated(
        &self,
        upstream: &UpstreamId,
        owner: Option<&Arc<ClientSession>>,
        updated: ResourceUpdatedNotification,
    ) {
        let key = (upstream.clone(), updated.params.uri.clone());
        let targets: Vec<(Arc<ClientSession>, String)> = lock(&self.subscriptions)
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|s| owner.is_none_or(|o| o.id() == s.session_id))
            .filter_map(|s| Some((s.session.upgrade()?, s.public.clone())))
            .collect();
        for (session, public) in targets {
            let mut n = updated.clone();
            n.params.uri = public;
            session.notify(ServerNotification::ResourceUpdatedNotification(n));
        }
    }

    /// Records a subscription; says whether it must be made upstream (the first through a
    /// shared connection, or any through a dedicated one).
    pub(super) fn add_subscription(
        &self,
        session: &Arc<ClientSession>,
        upstream: &UpstreamId,
        original: &str,
        public: &str,
        shared: bool,
    ) -> Upstream {
        let mut subs = lock(&self.subscriptions);
        let list = subs
            .entry((upstream.clone(), original.to_string()))
            .or_default();
        list.retain(|s| s.session.strong_count() > 0);
        let first_shared = shared && !list.iter().any(|s| s.shared);
        if list.iter().any(|s| s.session_id == session.id()) {
            return Upstream::Skip;
        }
        session.leave_traces();
        list.push(Subscription {
            session: Arc::downgrade(session),
            session_id: session.id(),
            public: public.to_string(),
            shared,
        });
        if first_shared || !shared {
            Upstream::Forward
        } else {
            Upstream::Skip
        }
    }

    /// Drops a subscription; says whether to unsubscribe upstream (the last through a shared
    /// connection, or any through a dedicated one).
    pub(super) fn remove_subscription(
        &self,
        session: &ClientSession,
        upstream: &UpstreamId,
        original: &str,
    ) -> Upstream {
        let mut subs = lock(&self.subscriptions);
        let key = (upstream.clone(), original.to_string());
        let Some(list) = subs.get_mut(&key) else {
            return Upstream::Skip;
        };
        let Some(at) = list.iter().position(|s| s.session_id == session.id()) else {
            return Upstream::Skip;
        };
        let gone = list.remove(at);
        list.retain(|s| s.session.strong_count() > 0);
        let last_shared = gone.shared && !list.iter().any(|s| s.shared);
        if list.is_empty() {
            subs.remove(&key);
        }
        if last_shared || !gone.shared {
            Upstream::Forward
        } else {
            Upstream::Skip
        }
    }

    /// Forgets the subscriptions of sessions that are gone; returns the upstream URIs nobody
    /// subscribes to through a shared connection any more.
    pub(super) fn prune_subscriptions(&self) -> Vec<(UpstreamId, String)> {
        let mut subs = lock(&self.subscriptions);
        let mut orphaned = Vec::new();
        subs.retain(|key, list| {
            let had_shared = list.iter().any(|s| s.shared);
            list.retain(|s| s.session.strong_count() > 0);
            if had_shared && !list.iter().any(|s| s.shared) {
                orphaned.push(key.clone());
            }
            !list.is_empty()
        });
        orphaned
    }
}

//! `list_changed` to the clients whose visible lists changed.
//!
//! The gateway remembers, per binding, a digest of the lists it last let clients see. When
//! something may have changed them (an upstream's `list_changed`, an upstream connecting or
//! going down, a reload), [`Gateway::announce_changes`] rebuilds each live binding's view,
//! compares digests, and sends `tools/list_changed`, `prompts/list_changed` or
//! `resources/list_changed` only to the clients of bindings where that kind differs. Clients of
//! profiles that do not use the upstream, or whose rules hide what changed, hear nothing.
//! Announcements are coalesced: a burst of changes costs one rebuild.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rmcp::model::{
    PromptListChangedNotification, ResourceListChangedNotification, ServerNotification,
    ToolListChangedNotification,
};

use super::{Binding, Gateway, View, lock};
use crate::plan::authz::{CallerClass, Identity};

/// Changes arriving within this window are announced together (an upstream that registers
/// several tools in a row sends one `list_changed` each).
const COALESCE: Duration = Duration::from_millis(50);

/// Hashes of a view's public lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Digest {
    tools: u64,
    prompts: u64,
    resources: u64,
}

impl Digest {
    fn of(view: &View) -> Digest {
        fn hash<T: serde::Serialize>(items: &T) -> u64 {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            serde_json::to_string(items)
                .unwrap_or_default()
                .hash(&mut h);
            h.finish()
        }
        Digest {
            tools: hash(&view.tools),
            prompts: hash(&view.prompts),
            resources: hash(&(&view.resources, &view.templates)),
        }
    }

    fn changes(&self, new: &Digest) -> Vec<ServerNotification> {
        let mut out = Vec::new();
        if self.tools != new.tools {
            out.push(ServerNotification::ToolListChangedNotification(
                ToolListChangedNotification::default(),
            ));
        }
        if self.prompts != new.prompts {
            out.push(ServerNotification::PromptListChangedNotification(
                PromptListChangedNotification::default(),
            ));
        }
        if self.resources != new.resources {
            out.push(ServerNotification::ResourceListChangedNotification(
                ResourceListChangedNotification::default(),
            ));
        }
        out
    }
}

impl Gateway {
    /// Tells each connected client whose visible tools, prompts or resources changed since it
    /// was last told. Called by the gateway itself when upstream lists change or upstreams
    /// come and go, and by the reload code after [`Gateway::swap_plan`] (which calls it too).
    pub async fn announce_changes(&self) {
        let plan = self.plan();
        let sessions = self.live_sessions();
        // Sessions by what they see: binding and caller class.
        let mut groups: HashMap<(Binding, CallerClass), Vec<_>> = HashMap::new();
        for s in &sessions {
            let identity = s.identity();
            let class = self.caller_class(&plan, s.binding(), identity.caller(s.endpoint()));
            groups
                .entry((s.binding().clone(), class))
                .or_default()
                .push((s.clone(), identity));
        }
        for ((binding, class), members) in groups {
            let Some((first, identity)) = members.first() else {
                continue;
            };
            let caller = identity.caller(first.endpoint());
            let view = self.view(&plan, &binding, caller).await;
            let digest = Digest::of(&view);
            let key = (binding.clone(), class);
            let Some(old) = lock(&self.announced).insert(key, digest) else {
                continue;
            };
            let changes = old.changes(&digest);
            if changes.is_empty() {
                continue;
            }
            let told: Vec<_> = members.iter().map(|(s, _)| s).collect();
            tracing::debug!(
                profile = %binding.profile,
                clients = told.len(),
                kinds = changes.len(),
                "visible lists changed; telling the clients"
            );
            for session in told {
                for change in &changes {
                    session.notify(change.clone());
                }
            }
        }
    }

    /// Announces soon, once for a burst of calls.
    pub(super) fn schedule_announce(&self) {
        if self.announce_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let gateway = self.me.clone();
        tokio::spawn(async move {
            tokio::time::sleep(COALESCE).await;
            let Some(gateway) = gateway.upgrade() else {
                return;
            };
            gateway.announce_pending.store(false, Ordering::Release);
            gateway.announce_changes().await;
        });
    }

    /// Records what a binding's clients see now, the first time a client of it appears, so a
    /// later change has something to be compared with.
    pub(super) fn note_binding(
        &self,
        binding: &Binding,
        endpoint: &Arc<str>,
        identity: Arc<Identity>,
    ) {
        let plan = self.plan();
        let class = self.caller_class(&plan, binding, identity.caller(endpoint));
        let key = (binding.clone(), class);
        if lock(&self.announced).contains_key(&key) {
            return;
        }
        let Some(gateway) = self.me.upgrade() else {
            return;
        };
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let view = gateway
                .view(&plan, &key.0, identity.caller(&endpoint))
                .await;
            lock(&gateway.announced)
                .entry(key)
                .or_insert_with(|| Digest::of(&view));
        });
    }
}

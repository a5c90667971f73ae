//! Tasks (SEP-2663, `io.modelcontextprotocol/tasks`) followed through the hub.
//!
//! A `tools/call` an upstream answers with a task (`CreateTaskResult`) reaches the client with
//! the task id *namespaced*: `mcp2~{upstream}~{id}`, so two upstreams minting the same id never
//! collide, and the client's `tasks/get`, `tasks/update` and `tasks/cancel` find their way back.
//! The [`TaskBook`] remembers, per owner, which upstream made each public id and under which id
//! the upstream knows it; the task methods are routed there (on the same connection a call of
//! this client would use, so a `session per-client` upstream sees its own task) with the id
//! stripped, and the answer's id is namespaced again.
//!
//! The owner is the downstream session; a 2026-07-28 client over HTTP has no session that
//! outlives one request, so its tasks belong to its endpoint and credential instead. A task id
//! another owner made is unknown to this one: a client never polls or cancels someone else's
//! task through a shared upstream connection.
//!
//! The book is bounded ([`CAPACITY`] entries): an entry lives for the task's `ttlMs` (at most
//! [`LONGEST`]; a task without a ttl gets [`LONGEST`]); when full, expired entries go first,
//! then the one expiring soonest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CancelTaskParams, CancelTaskRequest, ClientRequest, CreateTaskResult, GetTaskParams,
    GetTaskRequest, GetTaskResult, ServerCapabilities, ServerNotification, UpdateTaskParams,
    UpdateTaskRequest,
};
use rmcp::service::{RequestContext, RoleServer};

use super::forward::coerce;
use super::handler::HubSession;
use super::session::ClientSession;
use super::{Gateway, lock};
use crate::plan::UpstreamId;
use crate::plan::rules::ItemKind;

/// Most tasks remembered at once, over all clients.
pub const CAPACITY: usize = 10_000;
/// Longest an entry is kept, whatever the task's `ttlMs` says.
pub const LONGEST: Duration = Duration::from_secs(24 * 60 * 60);

const PREFIX: &str = "mcp2~";

/// Where one public task id leads.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    owner: String,
    /// The downstream session that may hear of the task (`notifications/tasks`), if it has one.
    session: Option<u64>,
    upstream: UpstreamId,
    original: String,
    expires: Instant,
}

/// Tasks by public id; see the module docs.
#[derive(Default)]
pub struct TaskBook {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The public id of the task `original` made by `upstream`.
pub fn public_id(upstream: &UpstreamId, original: &str) -> String {
    format!("{PREFIX}{upstream}~{original}")
}

fn expiry(now: Instant, ttl_ms: Option<u64>) -> Instant {
    let ttl = ttl_ms.map_or(LONGEST, |ms| Duration::from_millis(ms).min(LONGEST));
    now + ttl
}

impl TaskBook {
    /// Remembers a task `upstream` made for `owner`; returns its public id.
    pub fn remember(
        &self,
        owner: &str,
        session: Option<u64>,
        upstream: &UpstreamId,
        original: &str,
        ttl_ms: Option<u64>,
        now: Instant,
    ) -> String {
        let public = public_id(upstream, original);
        let mut entries = lock(&self.entries);
        if entries.len() >= CAPACITY && !entries.contains_key(&public) {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= CAPACITY
                && let Some(soonest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&soonest);
            }
        }
        entries.insert(
            public.clone(),
            Entry {
                owner: owner.to_string(),
                session,
                upstream: upstream.clone(),
                original: original.to_string(),
                expires: expiry(now, ttl_ms),
            },
        );
        public
    }

    /// The upstream and upstream id of `owner`'s task `public`, if it is known and not expired.
    pub fn find(&self, owner: &str, public: &str, now: Instant) -> Option<(UpstreamId, String)> {
        let mut entries = lock(&self.entries);
        let entry = entries.get(public)?;
        if entry.expires <= now {
            entries.remove(public);
            return None;
        }
        (entry.owner == owner).then(|| (entry.upstream.clone(), entry.original.clone()))
    }

    /// The task's ttl changed (it may, over its life): its entry follows.
    pub fn refresh(&self, public: &str, ttl_ms: Option<u64>, created: Instant) {
        if let Some(entry) = lock(&self.entries).get_mut(public) {
            entry.expires = expiry(created, ttl_ms);
        }
    }

    /// The session to tell about task `public`, if it has one.
    pub fn session_of(&self, public: &str) -> Option<u64> {
        lock(&self.entries).get(public)?.session
    }

    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Adds the tasks extension to `caps` when `upstream` declares it.
pub fn merge_capability(caps: &mut ServerCapabilities, upstream: &ServerCapabilities) {
    let Some(theirs) = upstream
        .extensions
        .as_ref()
        .and_then(|e| e.get(rmcp::model::TASKS_EXTENSION_ID))
    else {
        return;
    };
    caps.extensions
        .get_or_insert_with(Default::default)
        .entry(rmcp::model::TASKS_EXTENSION_ID.to_string())
        .or_insert_with(|| theirs.clone());
}

/// An upstream's `notifications/tasks` with the task id the client knows.
pub(super) fn namespace(
    upstream: &UpstreamId,
    notification: ServerNotification,
) -> ServerNotification {
    match notification {
        ServerNotification::TaskStatusNotification(mut n) => {
            let task = &mut n.params.task.task;
            task.task_id = public_id(upstream, &task.task_id);
            ServerNotification::TaskStatusNotification(n)
        }
        other => other,
    }
}

impl Gateway {
    /// The client whose task a `notifications/tasks` (already [`namespace`]d) is about.
    pub(super) fn task_client(
        &self,
        notification: &ServerNotification,
    ) -> Option<Arc<ClientSession>> {
        let ServerNotification::TaskStatusNotification(n) = notification else {
            return None;
        };
        let id = self.tasks.session_of(&n.params.task.task.task_id)?;
        lock(&self.sessions).get(&id)?.upgrade()
    }
}

fn unknown(public: &str) -> McpError {
    McpError::invalid_params(
        format!("unknown task `{public}` (it expired, or was not created through this session)"),
        Some(serde_json::json!({ "source": "gateway", "taskId": public })),
    )
}

impl HubSession {
    /// Whose tasks this request may see (see the module docs), and the session to tell about
    /// them, if the owner is one.
    fn task_owner(&self, context: &RequestContext<RoleServer>) -> (String, Option<u64>) {
        if self.http && context.meta.protocol_version().is_some() {
            let identity = self.identity();
            let key = identity.key.as_deref().unwrap_or("");
            (format!("{}|{key}", self.session.endpoint()), None)
        } else {
            let id = self.session.id();
            (format!("session {id}"), Some(id))
        }
    }

    /// Namespaces the task of a `tools/call` for `public` and remembers where it came from.
    pub(super) async fn adopt_task(
        &self,
        public: &str,
        mut task: CreateTaskResult,
        context: &RequestContext<RoleServer>,
    ) -> Result<CreateTaskResult, McpError> {
        let (_, view) = self.view().await;
        let route = Self::route(&view, ItemKind::Tool, public)?;
        let (owner, session) = self.task_owner(context);
        task.task.task_id = self.gateway.tasks.remember(
            &owner,
            session,
            &route.upstream,
            &task.task.task_id,
            task.task.ttl_ms,
            Instant::now(),
        );
        Ok(task)
    }

    fn task_route(
        &self,
        public: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<(UpstreamId, String), McpError> {
        let (owner, _) = self.task_owner(context);
        self.gateway
            .tasks
            .find(&owner, public, Instant::now())
            .ok_or_else(|| unknown(public))
    }

    /// `tasks/get`, routed to the upstream that made the task.
    pub(super) async fn get_task_upstream(
        &self,
        mut request: GetTaskParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let public = std::mem::take(&mut request.task_id);
        let (upstream, original) = self.task_route(&public, context)?;
        request.task_id = original;
        let method = "tasks/get";
        let sent = ClientRequest::GetTaskRequest(GetTaskRequest::new(request));
        let answer = self.send_to(&upstream, method, sent, context).await?;
        let mut result: GetTaskResult = coerce(method, answer)?;
        let task = &mut result.task.task;
        task.task_id = public;
        if let Some(ttl) = task.ttl_ms {
            let created = chrono_age(&task.created_at).unwrap_or_else(Instant::now);
            self.gateway
                .tasks
                .refresh(&task.task_id, Some(ttl), created);
        }
        Ok(result)
    }

    /// `tasks/update`, routed to the upstream that made the task.
    pub(super) async fn update_task_upstream(
        &self,
        mut request: UpdateTaskParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (upstream, original) = self.task_route(&request.task_id, context)?;
        request.task_id = original;
        let sent = ClientRequest::UpdateTaskRequest(UpdateTaskRequest::new(request));
        self.send_to(&upstream, "tasks/update", sent, context)
            .await?;
        Ok(())
    }

    /// `tasks/cancel`, routed to the upstream that made the task.
    pub(super) async fn cancel_task_upstream(
        &self,
        mut request: CancelTaskParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (upstream, original) = self.task_route(&request.task_id, context)?;
        request.task_id = original;
        let sent = ClientRequest::CancelTaskRequest(CancelTaskRequest::new(request));
        self.send_to(&upstream, "tasks/cancel", sent, context)
            .await?;
        Ok(())
    }
}

/// When a task created at the RFC 3339 time `created` was created, as an `Instant`; `None`
/// when it does not parse or lies in the future.
fn chrono_age(created: &str) -> Option<Instant> {
    let created = chrono::DateTime::parse_from_rfc3339(created).ok()?;
    let age = (chrono::Utc::now() - created.to_utc()).to_std().ok()?;
    Instant::now().checked_sub(age)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(name: &str) -> UpstreamId {
        UpstreamId::new(name)
    }

    #[test]
    fn the_same_id_from_two_upstreams_stays_apart() {
        let book = TaskBook::default();
        let now = Instant::now();
        let a = book.remember("s1", None, &up("a"), "1", None, now);
        let b = book.remember("s1", None, &up("b"), "1", None, now);
        assert_ne!(a, b);
        assert_eq!(book.find("s1", &a, now), Some((up("a"), "1".into())));
        assert_eq!(book.find("s1", &b, now), Some((up("b"), "1".into())));
    }

    #[test]
    fn another_owner_does_not_find_the_task() {
        let book = TaskBook::default();
        let now = Instant::now();
        let id = book.remember("s1", None, &up("a"), "t", None, now);
        assert_eq!(book.find("s2", &id, now), None);
    }

    #[test]
    fn an_entry_expires_with_the_tasks_ttl() {
        let book = TaskBook::default();
        let now = Instant::now();
        let id = book.remember("s1", None, &up("a"), "t", Some(1_000), now);
        assert!(
            book.find("s1", &id, now + Duration::from_millis(999))
                .is_some()
        );
        assert_eq!(book.find("s1", &id, now + Duration::from_secs(2)), None);
        assert!(book.is_empty());
    }

    #[test]
    fn a_full_book_drops_the_entry_expiring_soonest() {
        let book = TaskBook::default();
        let now = Instant::now();
        let soon = book.remember("s", None, &up("a"), "soon", Some(10), now);
        for i in 0..CAPACITY - 1 {
            book.remember("s", None, &up("a"), &i.to_string(), None, now);
        }
        assert_eq!(book.len(), CAPACITY);
        let last = book.remember("s", None, &up("a"), "last", None, now);
        assert_eq!(book.len(), CAPACITY);
        assert!(book.find("s", &last, now).is_some());
        assert_eq!(book.find("s", &soon, now), None);
    }

    #[test]
    fn the_capability_is_advertised_only_when_an_upstream_has_it() {
        let mut ours = ServerCapabilities::builder().enable_tools().build();
        let plain = ServerCapabilities::builder().enable_tools().build();
        merge_capability(&mut ours, &plain);
        assert!(!ours.supports_tasks());
        let tasks = ServerCapabilities::builder().enable_tasks().build();
        merge_capability(&mut ours, &tasks);
        assert!(ours.supports_tasks());
    }
}

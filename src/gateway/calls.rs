//! The in-flight table: which downstream request each upstream request belongs to.
//!
//! Every request the gateway forwards is entered here for as long as it runs, under the
//! upstream connection it went to (the connection's `instance`). The table answers the two
//! questions the way back needs:
//! - **progress**: the upstream reports on its own token (rmcp gives every forwarded request a
//!   fresh one); [`Calls::progress_target`] turns it back into the client's session and the
//!   client's token, so two clients using the same token value never see each other's progress;
//! - **attribution**: a server→client request (sampling, elicitation, roots) arriving on a
//!   shared connection goes to the client whose request caused it. [`Calls::attribute`] uses the
//!   exact association when the transport gives one (a Streamable HTTP upstream sends it on the
//!   response stream of our request), else the only client with requests in flight there.
//!   Anything else is ambiguous and refused: guessing could hand one client's prompt to another.
//!
//! One std mutex, held for map edits only (never across an `.await`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{ProgressToken, RequestId};

use super::lock;
use super::session::ClientSession;

/// One forwarded request.
#[derive(Debug, Clone)]
pub struct Call {
    pub session: Arc<ClientSession>,
    /// The client's id for the request (where its answers and related requests belong).
    pub downstream: RequestId,
    /// The client's progress token, when it asked for progress.
    pub progress: Option<ProgressToken>,
    /// For a 2026-07-28 client: where its server→client requests are parked (see `mrtr`).
    pub inbox: Option<super::mrtr::Inbox>,
}

#[derive(Default)]
struct Connection {
    next: u64,
    calls: HashMap<u64, Entry>,
    by_request: HashMap<RequestId, u64>,
    by_progress: HashMap<ProgressToken, u64>,
}

struct Entry {
    call: Call,
    upstream: Option<(RequestId, ProgressToken)>,
    /// Progress was routed to the client (its answer must then wait for the outbox).
    progressed: bool,
}

/// Who should answer a server→client request.
#[derive(Debug)]
pub enum Attribution {
    /// This client, for this request of its.
    One(Call),
    /// No client request is in flight on the connection.
    Nobody,
    /// Requests of this many clients are in flight; which one caused it is unknown.
    Ambiguous(usize),
}

#[derive(Default)]
pub struct Calls {
    connections: Mutex<HashMap<u64, Connection>>,
}

impl Calls {
    /// Enters a request about to be sent on connection `instance`; it leaves the table when
    /// the guard drops.
    pub fn begin(self: &Arc<Self>, instance: u64, call: Call) -> CallGuard {
        let mut connections = lock(&self.connections);
        let connection = connections.entry(instance).or_default();
        connection.next += 1;
        let id = connection.next;
        connection.calls.insert(
            id,
            Entry {
                call,
                upstream: None,
                progressed: false,
            },
        );
        CallGuard {
            calls: self.clone(),
            instance,
            id,
        }
    }

    /// The client session and token that progress on `token` from `instance` belongs to.
    pub fn progress_target(
        &self,
        instance: u64,
        token: &ProgressToken,
    ) -> Option<(Arc<ClientSession>, ProgressToken)> {
        let mut connections = lock(&self.connections);
        let connection = connections.get_mut(&instance)?;
        let id = *connection.by_progress.get(token)?;
        let entry = connection.calls.get_mut(&id)?;
        let target = (entry.call.session.clone(), entry.call.progress.clone()?);
        entry.progressed = true;
        Some(target)
    }

    /// See the module docs. `origin` is our request id the upstream associated its request
    /// with, when the transport tells.
    pub fn attribute(&self, instance: u64, origin: Option<&RequestId>) -> Attribution {
        let connections = lock(&self.connections);
        let Some(connection) = connections.get(&instance) else {
            return Attribution::Nobody;
        };
        if let Some(entry) = origin
            .and_then(|id| connection.by_request.get(id))
            .and_then(|n| connection.calls.get(n))
        {
            return Attribution::One(entry.call.clone());
        }
        let mut latest: Option<(u64, &Entry)> = None;
        let mut sessions: Vec<u64> = Vec::new();
        for (n, entry) in &connection.calls {
            let session = entry.call.session.id();
            if !sessions.contains(&session) {
                sessions.push(session);
            }
            if latest.is_none_or(|(m, _)| *n > m) {
                latest = Some((*n, entry));
            }
        }
        match (sessions.len(), latest) {
            (0, _) | (_, None) => Attribution::Nobody,
            (1, Some((_, entry))) => Attribution::One(entry.call.clone()),
            (n, _) => Attribution::Ambiguous(n),
        }
    }

    /// The requests one client has in flight on one connection (latest first).
    pub fn of_session(&self, instance: u64, session: u64) -> Option<Call> {
        let connections = lock(&self.connections);
        let connection = connections.get(&instance)?;
        connection
            .calls
            .iter()
            .filter(|(_, e)| e.call.session.id() == session)
            .max_by_key(|(n, _)| **n)
            .map(|(_, e)| e.call.clone())
    }
}

/// Keeps one request in the table; see [`Calls::begin`].
pub struct CallGuard {
    calls: Arc<Calls>,
    instance: u64,
    id: u64,
}

impl CallGuard {
    /// Moves the request to another client request (the retry that resumes a suspended call):
    /// its progress and questions go there from now on.
    pub fn rebind(&self, call: Call) {
        let mut connections = lock(&self.calls.connections);
        if let Some(entry) = connections
            .get_mut(&self.instance)
            .and_then(|c| c.calls.get_mut(&self.id))
        {
            entry.call = call;
        }
    }

    /// Whether progress of this request was routed to its client so far.
    pub fn progressed(&self) -> bool {
        lock(&self.calls.connections)
            .get(&self.instance)
            .and_then(|c| c.calls.get(&self.id))
            .is_some_and(|e| e.progressed)
    }

    /// Records the id and progress token rmcp gave the request upstream.
    pub fn sent(&self, request: &RequestId, token: &ProgressToken) {
        let mut connections = lock(&self.calls.connections);
        let Some(connection) = connections.get_mut(&self.instance) else {
            return;
        };
        let Some(entry) = connection.calls.get_mut(&self.id) else {
            return;
        };
        entry.upstream = Some((request.clone(), token.clone()));
        connection.by_request.insert(request.clone(), self.id);
        connection.by_progress.insert(token.clone(), self.id);
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let mut connections = lock(&self.calls.connections);
        let Some(connection) = connections.get_mut(&self.instance) else {
            return;
        };
        if let Some(entry) = connection.calls.remove(&self.id)
            && let Some((request, token)) = entry.upstream
        {
            connection.by_request.remove(&request);
            connection.by_progress.remove(&token);
        }
        if connection.calls.is_empty() {
            connections.remove(&self.instance);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Binding;
    use crate::plan::ProfileName;
    use rmcp::model::NumberOrString;

    fn session() -> Arc<ClientSession> {
        let binding = Binding {
            profile: ProfileName::new("p"),
            only_upstream: None,
        };
        ClientSession::new(binding, "/mcp".into())
    }

    fn call(session: &Arc<ClientSession>, id: i64, token: Option<&str>) -> Call {
        Call {
            session: session.clone(),
            downstream: RequestId::Number(id),
            progress: token.map(|t| ProgressToken(NumberOrString::String(t.into()))),
            inbox: None,
        }
    }

    fn token(n: i64) -> ProgressToken {
        ProgressToken(NumberOrString::Number(n))
    }

    #[test]
    fn one_client_in_flight_is_attributed_two_are_ambiguous() {
        let calls = Arc::new(Calls::default());
        let (a, b) = (session(), session());
        assert!(matches!(calls.attribute(1, None), Attribution::Nobody));
        let first = calls.begin(1, call(&a, 10, None));
        let second = calls.begin(1, call(&a, 11, None));
        match calls.attribute(1, None) {
            Attribution::One(c) => {
                assert_eq!(c.session.id(), a.id());
                assert_eq!(c.downstream, RequestId::Number(11), "the latest request");
            }
            other => panic!("{other:?}"),
        }
        let other = calls.begin(1, call(&b, 10, None));
        assert!(matches!(
            calls.attribute(1, None),
            Attribution::Ambiguous(2)
        ));
        // Another connection is not affected.
        assert!(matches!(calls.attribute(2, None), Attribution::Nobody));
        drop((first, second));
        match calls.attribute(1, None) {
            Attribution::One(c) => assert_eq!(c.session.id(), b.id()),
            other => panic!("{other:?}"),
        }
        drop(other);
        assert!(matches!(calls.attribute(1, None), Attribution::Nobody));
    }

    #[test]
    fn an_associated_request_is_attributed_exactly_even_with_many_in_flight() {
        let calls = Arc::new(Calls::default());
        let (a, b) = (session(), session());
        let ga = calls.begin(1, call(&a, 1, None));
        ga.sent(&RequestId::Number(100), &token(100));
        let gb = calls.begin(1, call(&b, 1, None));
        gb.sent(&RequestId::Number(101), &token(101));
        match calls.attribute(1, Some(&RequestId::Number(100))) {
            Attribution::One(c) => assert_eq!(c.session.id(), a.id()),
            other => panic!("{other:?}"),
        }
        match calls.attribute(1, Some(&RequestId::Number(101))) {
            Attribution::One(c) => assert_eq!(c.session.id(), b.id()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn progress_goes_back_under_each_clients_own_token() {
        let calls = Arc::new(Calls::default());
        let (a, b) = (session(), session());
        // Both clients use the same token value; upstream tokens differ.
        let ga = calls.begin(1, call(&a, 1, Some("same")));
        ga.sent(&RequestId::Number(1), &token(1));
        let gb = calls.begin(1, call(&b, 1, Some("same")));
        gb.sent(&RequestId::Number(2), &token(2));
        let (to, t) = calls.progress_target(1, &token(2)).expect("routed");
        assert_eq!(to.id(), b.id());
        assert_eq!(t, ProgressToken(NumberOrString::String("same".into())));
        let (to, _) = calls.progress_target(1, &token(1)).expect("routed");
        assert_eq!(to.id(), a.id());
        drop(gb);
        assert!(calls.progress_target(1, &token(2)).is_none());
        // A client that asked for no progress gets none.
        let gc = calls.begin(1, call(&a, 2, None));
        gc.sent(&RequestId::Number(3), &token(3));
        assert!(calls.progress_target(1, &token(3)).is_none());
    }
}

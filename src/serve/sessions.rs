//! Streamable HTTP sessions any replica can serve: rmcp's session manager and session store,
//! fed by sealed ids (`cluster::seal`).
//!
//! rmcp 3.11 restores a session it does not hold in memory from a `SessionStore`: it loads the
//! client's `initialize` parameters, creates a fresh in-memory worker under the same id, and
//! replays the handshake (marked with `SessionRestoreMarker`) before serving the request. Here
//! the "store" needs no storage: the id *is* the state. [`SealStore::load`] opens the id with
//! the cluster key ([`resolve`], the one lookup every path uses) and checks it belongs to this
//! endpoint and binding; anything else is `None`, which rmcp answers with 404 before any
//! handler (and so any upstream) is involved.
//!
//! Ids are chosen before rmcp sees the `initialize` body, so [`issue`] reads it first, seals
//! the id and hands it to the session manager's `create_session` (`serve::parked`) through a
//! task-local ([`issued_id`]): rmcp calls `create_session` inline, inside the request's own
//! future.
//! With Redis too ([`Sharing::ended`]), a `DELETE` records the end for every replica
//! (`cluster::ended`) and [`SealStore::load`] refuses an ended id.
//! Without a key, nothing here changes rmcp's behaviour: random ids, local sessions only.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use rmcp::model::InitializeRequestParams;
use rmcp::transport::streamable_http_server::SessionId;
use rmcp::transport::streamable_http_server::session::{
    SessionState, SessionStore, SessionStoreError,
};

use crate::cluster::ended::EndedSessions;
use crate::cluster::seal::{SealedSession, SessionKey};
use crate::gateway::Binding;

/// How much of a session-less `POST` is read to look for `initialize`: all of it, as rmcp
/// itself reads every body whole (a smaller cap would refuse large sessionless requests of
/// 2026-07-28 clients that work without a key).
const INIT_BODY_LIMIT: usize = usize::MAX;

tokio::task_local! {
    /// The sealed id the session created by this request must get.
    static ISSUE: String;
}

/// How sessions are shared between replicas: the key that seals ids (none: local sessions),
/// and where ends are recorded (none: a `DELETE` ends a session on its replica only).
#[derive(Clone, Default)]
pub struct Sharing {
    pub key: Option<SessionKey>,
    pub ended: Option<Arc<EndedSessions>>,
}

/// The one lookup from a downstream session id to what it carries: `Some` only for an id
/// sealed under `key` for this endpoint and binding.
pub fn resolve(
    key: &SessionKey,
    id: &str,
    endpoint: &str,
    binding: &Binding,
) -> Option<SealedSession> {
    let session = key.open(id)?;
    let matches = session.endpoint == endpoint
        && session.profile == binding.profile.as_str()
        && session.only_upstream.as_deref() == binding.only_upstream.as_ref().map(|u| u.as_str());
    matches.then_some(session)
}

/// What [`issue`] needs to seal an id for one endpoint.
pub struct Issuer<'a> {
    pub key: &'a SessionKey,
    pub endpoint: &'a str,
    pub binding: &'a Binding,
}

/// For a `POST` that opens a session (an `initialize` without `Mcp-Session-Id`): reads the
/// body, seals the new session's id, and returns the request rebuilt around the same body with
/// the id to give it. Any other request passes through unread. A body too large to read is
/// answered here.
pub async fn issue(
    issuer: &Issuer<'_>,
    request: Request,
) -> Result<(Request, Option<String>), Response> {
    let opens =
        request.method() == http::Method::POST && !request.headers().contains_key("mcp-session-id");
    if !opens {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, INIT_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return Err((http::StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response()),
    };
    let id = initialize_params(&bytes).and_then(|init| {
        issuer.key.seal(&SealedSession {
            endpoint: issuer.endpoint.to_string(),
            profile: issuer.binding.profile.to_string(),
            only_upstream: issuer.binding.only_upstream.as_ref().map(|u| u.to_string()),
            init,
            issued: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        })
    });
    Ok((Request::from_parts(parts, Body::from(bytes)), id))
}

fn initialize_params(body: &[u8]) -> Option<InitializeRequestParams> {
    #[derive(serde::Deserialize)]
    struct Message {
        method: String,
        params: InitializeRequestParams,
    }
    let message: Message = serde_json::from_slice(body).ok()?;
    (message.method == "initialize").then_some(message.params)
}

/// Runs `future` (rmcp handling one request) so that a session it creates gets `id`.
pub async fn with_issued<F: Future>(id: Option<String>, future: F) -> F::Output {
    match id {
        Some(id) => ISSUE.scope(id, future).await,
        None => future.await,
    }
}

/// The sealed id [`issue`] chose for the session the current request opens, if any.
pub fn issued_id() -> Option<SessionId> {
    ISSUE.try_with(|id| SessionId::from(id.as_str())).ok()
}

/// rmcp's session store for one endpoint and binding: loading is opening the sealed id (and,
/// with Redis, checking that no replica ended it).
pub struct SealStore {
    pub key: SessionKey,
    pub endpoint: Arc<str>,
    pub binding: Binding,
    pub ended: Option<Arc<EndedSessions>>,
}

#[async_trait::async_trait]
impl SessionStore for SealStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Some(session) = resolve(&self.key, session_id, &self.endpoint, &self.binding) else {
            tracing::info!("refused a session id that is not sealed for this endpoint");
            return Ok(None);
        };
        if let Some(ended) = &self.ended
            && ended.is_ended(session_id).await
        {
            tracing::info!("refused the id of a session ended on another replica");
            return Ok(None);
        }
        Ok(Some(SessionState::new(session.init)))
    }

    /// Nothing to store: the id carries the state.
    async fn store(&self, _id: &str, _state: &SessionState) -> Result<(), SessionStoreError> {
        Ok(())
    }

    /// A `DELETE`: with Redis, the end is recorded and announced to every replica (for an id
    /// sealed for this endpoint only); without, it ends the session on this replica only.
    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        if let Some(ended) = &self.ended
            && resolve(&self.key, id, &self.endpoint, &self.binding).is_some()
        {
            ended.end(id).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ProfileName, UpstreamId};

    #[test]
    fn an_id_resolves_only_for_the_endpoint_and_binding_it_was_sealed_for() {
        let key = SessionKey::parse("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
        let init = serde_json::from_value(serde_json::json!({"protocolVersion": "2025-06-18",
            "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))
        .unwrap();
        let id = key
            .seal(&SealedSession {
                endpoint: "/mcp".into(),
                profile: "default".into(),
                only_upstream: None,
                init,
                issued: 0,
            })
            .unwrap();
        let binding = |profile: &str, only: Option<&str>| Binding {
            profile: ProfileName::new(profile),
            only_upstream: only.map(UpstreamId::new),
        };
        assert!(resolve(&key, &id, "/mcp", &binding("default", None)).is_some());
        assert!(resolve(&key, &id, "/admin", &binding("default", None)).is_none());
        assert!(resolve(&key, &id, "/mcp", &binding("admin", None)).is_none());
        assert!(resolve(&key, &id, "/mcp", &binding("default", Some("files"))).is_none());
    }
}

//! Era translation for server→client requests: an upstream of an `initialize`-era revision
//! asks its client (sampling, elicitation, roots) in the middle of a call, but a client on
//! 2026-07-28 may not be sent requests; it is asked with an `InputRequiredResult` instead and
//! answers by retrying its call with `inputResponses` and the `requestState` it was given.
//!
//! So, for a 2026-07-28 client, [`ClientSession::ask`](super::session::ClientSession::ask)
//! does not send the request: it *parks* it in the inbox of the client's call. The call
//! ([`HubSession::drive`](super::handler::HubSession)) then answers the client with an
//! `InputRequiredResult` holding every parked request, and [`Suspended`] keeps the upstream
//! request running under a fresh `requestState`. The retry finds it by that state, hands each
//! answer to the request that waits for it, and waits again for the upstream: for its answer,
//! or for more questions. A suspended call nobody resumes is dropped after [`SUSPEND_LIMIT`],
//! which cancels the upstream request.
//!
//! A `requestState` mcp2 did not issue is not ours: the call is routed as usual, so an
//! upstream of the 2026-07-28 revision can run its own rounds through mcp2 unchanged.
//! Suspended calls live in this process (state that cannot move, design §7).
#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577; upstreams still use them.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    ClientResult, CreateMessageResult, ElicitResult, ErrorCode, ErrorData, InputRequest,
    InputRequests, InputResponses, ListRootsResult, ServerRequest, ServerResult,
};
use rmcp::service::ServiceError;
use tokio::sync::{mpsc, oneshot};

use super::calls::CallGuard;
use crate::plan::UpstreamId;
use crate::upstream::{Dedicated, InFlight};

/// How long a suspended call waits for its client to come back.
pub const SUSPEND_LIMIT: Duration = Duration::from_secs(300);

/// A server→client request waiting for a 2026-07-28 client's answer.
pub struct Parked {
    pub request: ServerRequest,
    pub reply: oneshot::Sender<Result<ClientResult, ErrorData>>,
}

pub type Inbox = mpsc::UnboundedSender<Parked>;
/// The receiving end of an [`Inbox`].
pub type Questions = mpsc::UnboundedReceiver<Parked>;

/// The next parked request, or never when the call has no inbox (its client can be sent
/// requests directly).
pub async fn next_question(questions: &mut Option<Questions>) -> Option<Parked> {
    match questions {
        Some(q) => q.recv().await,
        None => std::future::pending().await,
    }
}

pub type Answer = Pin<Box<dyn Future<Output = Result<ServerResult, ServiceError>> + Send>>;

/// One upstream request in flight, with everything that must live as long as it does.
pub struct Running {
    pub upstream: UpstreamId,
    pub method: &'static str,
    pub answer: Answer,
    pub inbox: Option<Questions>,
    pub guard: CallGuard,
    pub cancel: super::forward::CancelOnDrop,
    /// Held for their `Drop`: the request counts as in flight, the dedicated link stays open.
    pub _in_flight: InFlight,
    pub _link: Option<Arc<Dedicated>>,
}

/// A [`Running`] request whose client was asked for input and has not come back yet.
pub struct Suspended {
    pub running: Running,
    /// The parked requests, under the keys the client was given.
    pub waiting: BTreeMap<String, Parked>,
    pub expires: Instant,
}

/// The request as an entry of `inputRequests`; `None` for kinds that cannot travel there.
pub fn input_request(request: &ServerRequest) -> Option<InputRequest> {
    Some(match request {
        ServerRequest::CreateMessageRequest(r) => InputRequest::CreateMessage(r.clone()),
        ServerRequest::ElicitRequest(r) => InputRequest::Elicitation(r.clone()),
        ServerRequest::ListRootsRequest(r) => InputRequest::ListRoots(r.clone()),
        _ => return None,
    })
}

/// The `InputRequiredResult` parts for parked requests: keys `r1`, `r2`, … in arrival order.
pub fn ask(parked: Vec<Parked>) -> (InputRequests, BTreeMap<String, Parked>) {
    let mut requests = InputRequests::new();
    let mut waiting = BTreeMap::new();
    for (n, parked) in parked.into_iter().enumerate() {
        let key = format!("r{}", n + 1);
        match input_request(&parked.request) {
            Some(r) => {
                requests.insert(key.clone(), r);
                waiting.insert(key, parked);
            }
            None => {
                let _ = parked.reply.send(Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    "a 2026-07-28 client can only be asked for sampling, elicitation or roots",
                    None,
                )));
            }
        }
    }
    (requests, waiting)
}

/// Hands the client's answers to the requests waiting for them; a request without an answer
/// gets an error, so the upstream never waits forever.
pub fn answer(waiting: BTreeMap<String, Parked>, responses: Option<&InputResponses>) {
    for (key, parked) in waiting {
        let reply = match responses.and_then(|r| r.get(&key)) {
            Some(value) => client_result(&parked.request, value.clone()),
            None => Err(ErrorData::new(
                ErrorCode::INVALID_PARAMS,
                format!("the client's retry did not answer input request `{key}`"),
                None,
            )),
        };
        let _ = parked.reply.send(reply);
    }
}

/// A client's answer as the result type the request asked for.
fn client_result(
    request: &ServerRequest,
    value: serde_json::Value,
) -> Result<ClientResult, ErrorData> {
    let bad = |e: serde_json::Error| {
        ErrorData::invalid_params(
            format!("the client's input response does not fit: {e}"),
            None,
        )
    };
    Ok(match request {
        ServerRequest::CreateMessageRequest(_) => ClientResult::CreateMessageResult(Box::new(
            serde_json::from_value::<CreateMessageResult>(value).map_err(bad)?,
        )),
        ServerRequest::ElicitRequest(_) => {
            ClientResult::ElicitResult(serde_json::from_value::<ElicitResult>(value).map_err(bad)?)
        }
        ServerRequest::ListRootsRequest(_) => ClientResult::ListRootsResult(
            serde_json::from_value::<ListRootsResult>(value).map_err(bad)?,
        ),
        _ => return Err(ErrorData::invalid_params("not an input request", None)),
    })
}

/// The suspended calls, by `requestState`.
#[derive(Default)]
pub struct SuspendedCalls {
    calls: std::sync::Mutex<HashMap<String, Suspended>>,
}

impl SuspendedCalls {
    /// Keeps a call until its client comes back; returns the `requestState` to give it.
    pub fn suspend(&self, suspended: Suspended) -> String {
        let state = uuid::Uuid::new_v4().simple().to_string();
        let now = Instant::now();
        let expired: Vec<Suspended> = {
            let mut calls = super::lock(&self.calls);
            let gone: Vec<String> = calls
                .iter()
                .filter(|(_, s)| s.expires <= now)
                .map(|(k, _)| k.clone())
                .collect();
            let expired = gone.iter().filter_map(|k| calls.remove(k)).collect();
            calls.insert(state.clone(), suspended);
            expired
        };
        if !expired.is_empty() {
            tracing::info!(
                count = expired.len(),
                "suspended calls expired without their client; cancelling them upstream"
            );
        }
        drop(expired);
        state
    }

    /// The call suspended under `state`, if mcp2 issued it and it has not expired.
    pub fn resume(&self, state: &str) -> Option<Suspended> {
        let suspended = super::lock(&self.calls).remove(state)?;
        (suspended.expires > Instant::now()).then_some(suspended)
    }
}

//! Input rounds an upstream of 2026-07-28 runs, for a client of an `initialize`-era revision:
//! the inverse of `mrtr.rs`.
//!
//! An upstream on 2026-07-28 may not send its client requests; when a call needs sampling,
//! elicitation or roots it answers with an `InputRequiredResult` (`inputRequests` keyed by
//! the server, an opaque `requestState`) and expects the same request again with
//! `inputResponses`. A client of an older revision knows nothing of that, but it can be asked
//! directly: each input request becomes a real server→client request to *that* client (the
//! one whose call it is, so attribution is exact however many clients share the upstream),
//! and mcp2 retries the call upstream with the answers and the state. A client of
//! 2026-07-28 gets the `InputRequiredResult` unchanged and runs the rounds itself.
//!
//! Rounds are bounded ([`MAX_ROUNDS`]): a server that keeps asking is cut off with an error
//! rather than looping forever.
#![allow(deprecated)] // sampling and roots are deprecated by SEP-2577; clients still answer them.

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientRequest, ClientResult, ErrorCode, InputRequest, InputRequiredResult, InputResponses,
    ServerRequest, ServerResult,
};
use rmcp::service::{RequestContext, RoleServer};
use tokio_util::sync::CancellationToken;

use super::calls::Call;
use super::handler::HubSession;
use crate::plan::UpstreamId;

/// How many rounds one call may take before mcp2 gives up on it.
pub const MAX_ROUNDS: usize = 16;

impl HubSession {
    /// Answers an upstream's `InputRequiredResult` by asking this client, when the client
    /// cannot run input rounds itself: `None` means the request now carries the client's
    /// answers and must be sent again; any other answer is returned as it is, for the client.
    pub(super) async fn input_round(
        &self,
        upstream: &UpstreamId,
        request: &mut ClientRequest,
        answer: ServerResult,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<ServerResult>, McpError> {
        let ServerResult::InputRequiredResult(asked) = answer else {
            return Ok(Some(answer));
        };
        if self.session.is_modern() {
            return Ok(Some(ServerResult::InputRequiredResult(asked)));
        }
        let InputRequiredResult {
            input_requests,
            request_state,
            ..
        } = asked;
        let mut responses = InputResponses::new();
        for (key, input) in input_requests.unwrap_or_default() {
            let result = self.ask_client(upstream, input, context).await?;
            let value = serde_json::to_value(&result).map_err(|e| {
                McpError::internal_error(format!("the client's answer to `{key}`: {e}"), None)
            })?;
            responses.insert(key, value);
        }
        retry_with(request, responses, request_state)?;
        Ok(None)
    }

    /// One input request, sent to this client as a real server→client request.
    async fn ask_client(
        &self,
        upstream: &UpstreamId,
        input: InputRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ClientResult, McpError> {
        let request = match input {
            InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
            InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
            InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
            other => {
                return Err(McpError::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    format!("the upstream asked for input mcp2 cannot forward: {other:?}"),
                    None,
                ));
            }
        };
        let Some(upstream_peer) = self.handle(upstream).ok().and_then(|h| h.peer()) else {
            return Err(McpError::internal_error(
                format!("upstream `{upstream}` went away while its call waited for input"),
                None,
            ));
        };
        let call = Call {
            session: self.session.clone(),
            downstream: context.id.clone(),
            progress: None,
            inbox: None,
        };
        // The client's cancellation of its call ends the question too.
        let cancelled: CancellationToken = context.ct.clone();
        self.session
            .ask(
                upstream,
                upstream_peer,
                request,
                Some(call),
                None,
                cancelled,
            )
            .await
    }
}

/// Puts the answers and the upstream's state on the request for its next round.
fn retry_with(
    request: &mut ClientRequest,
    responses: InputResponses,
    state: Option<String>,
) -> Result<(), McpError> {
    macro_rules! set {
        ($params:expr) => {{
            $params.input_responses = Some(responses);
            $params.request_state = state;
        }};
    }
    match request {
        ClientRequest::CallToolRequest(r) => set!(r.params),
        ClientRequest::GetPromptRequest(r) => set!(r.params),
        ClientRequest::ReadResourceRequest(r) => set!(r.params),
        _ => {
            return Err(McpError::new(
                ErrorCode::INTERNAL_ERROR,
                "the upstream asked for input on a request that cannot carry answers",
                None,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ListToolsRequest};

    #[test]
    fn a_retry_carries_the_answers_and_the_upstreams_state() {
        let mut request = ClientRequest::CallToolRequest(CallToolRequest::new(
            CallToolRequestParams::new("modern_sample"),
        ));
        let mut answers = InputResponses::new();
        answers.insert("sample".into(), serde_json::json!({ "action": "decline" }));
        retry_with(&mut request, answers.clone(), Some("state-1".into())).expect("a call");
        let ClientRequest::CallToolRequest(call) = request else {
            panic!("still a call");
        };
        assert_eq!(call.params.input_responses, Some(answers));
        assert_eq!(call.params.request_state.as_deref(), Some("state-1"));
    }

    #[test]
    fn a_request_that_cannot_carry_answers_is_refused() {
        let mut request = ClientRequest::ListToolsRequest(ListToolsRequest::default());
        assert!(retry_with(&mut request, InputResponses::new(), None).is_err());
    }
}

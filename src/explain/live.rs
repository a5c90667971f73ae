//! Explanations over a running gateway: its plan, its views and its list cache (`--live`,
//! `POST /_mcp2/explain`, and the debug log of real requests).

use std::sync::Arc;

use futures::future::join_all;

use super::build::{Lists, build_for, choose_endpoint};
use super::model::{EndpointTrace, Explanation, Method, Question, Source};
use crate::gateway::lists::ListKind;
use crate::gateway::{Binding, Gateway, View};
use crate::plan::Plan;
use crate::plan::authz::Identity;
use crate::plan::rules::Caller;

/// Explains `q` on the gateway's current plan, with the real lists of the endpoint's upstreams
/// (fetched through the list cache, as a client's request would).
pub async fn explain_on(gateway: &Gateway, q: &Question, source: Source) -> Explanation {
    let plan = gateway.plan();
    let (endpoint, binding) = choose_endpoint(&plan, q);
    let Some(binding) = binding else {
        return build_for(&plan, q, endpoint, None, None, source);
    };
    let upstreams = gateway.upstreams_of(&plan, &binding);
    let kinds = match q.method.kind() {
        Some(crate::plan::ItemKind::Tool) => vec![ListKind::Tools],
        Some(crate::plan::ItemKind::Prompt) => vec![ListKind::Prompts],
        Some(crate::plan::ItemKind::Resource) => vec![ListKind::Resources, ListKind::Templates],
        None => Vec::new(),
    };
    let cached = upstreams
        .iter()
        .map(|u| {
            let hit = kinds.iter().all(|k| gateway.lists().contains(u.id(), *k));
            (u.id().clone(), hit)
        })
        .collect();
    let caller: Caller<'_> = q.identity.caller(&q.endpoint);
    let view = gateway.view(&plan, &binding, caller).await;
    with_lists(gateway, &plan, q, endpoint, &binding, &view, cached, source).await
}

#[allow(clippy::too_many_arguments)]
async fn with_lists(
    gateway: &Gateway,
    plan: &Plan,
    q: &Question,
    endpoint: EndpointTrace,
    binding: &Binding,
    view: &View,
    cached: Vec<(crate::plan::UpstreamId, bool)>,
    source: Source,
) -> Explanation {
    let upstreams = gateway.upstreams_of(plan, binding);
    let fetched = join_all(upstreams.iter().map(|u| gateway.fetch_lists(u))).await;
    let inputs = upstreams
        .iter()
        .zip(fetched)
        .map(|(u, (lists, _, _))| (u.id().clone(), lists))
        .collect();
    let lists = Lists {
        inputs,
        view,
        cached,
        policy: gateway.lists().policy(),
    };
    build_for(plan, q, endpoint, Some(binding), Some(&lists), source)
}

/// A request the server is serving, as [`log_request`] explains it.
pub struct LoggedRequest<'a> {
    pub endpoint: &'a str,
    pub method: Method,
    pub target: Option<&'a str>,
    /// Who the request was authenticated as: the rules that test the caller decide with it,
    /// so the trace names the rule that really decided.
    pub identity: &'a Identity,
}

/// Logs, at debug level under target `mcp2::explain`, the explanation of a request the server
/// is serving, built by the same code as `mcp2 explain`. Costs nothing unless that level is on.
pub async fn log_request(
    gateway: &Gateway,
    plan: &Arc<Plan>,
    binding: &Binding,
    request: LoggedRequest<'_>,
    view: &View,
) {
    if !tracing::enabled!(target: "mcp2::explain", tracing::Level::DEBUG) {
        return;
    }
    let LoggedRequest {
        endpoint,
        method,
        target,
        identity,
    } = request;
    let q = Question {
        method,
        target: target.map(str::to_string),
        endpoint: endpoint.to_string(),
        headers: Vec::new(),
        identity: identity.clone(),
    };
    let trace = EndpointTrace {
        path: endpoint.to_string(),
        headers: Vec::new(),
        considered: Vec::new(),
        chosen: None,
        reason: format!(
            "the request came in on {endpoint}, bound to profile `{}`{}",
            binding.profile,
            binding
                .only_upstream
                .as_ref()
                .map(|u| format!(" (only upstream `{u}`)"))
                .unwrap_or_default()
        ),
        known_paths: Vec::new(),
    };
    let explanation = with_lists(
        gateway,
        plan,
        &q,
        trace,
        binding,
        view,
        Vec::new(),
        Source::Server,
    )
    .await;
    let json = serde_json::to_string(&explanation).unwrap_or_default();
    let caller = identity.name().unwrap_or_else(|| "anonymous".to_string());
    tracing::debug!(target: "mcp2::explain", method = %method, caller = %caller, explain = %json, "explain");
}

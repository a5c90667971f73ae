//! Calls, reads and prompt gets, routed through the caller's view with one audit record each.
//!
//! The view already holds the decision of the one pure `decide()` for this caller: an item the
//! caller may not use is absent from it, so routing fails and nothing reaches the upstream.
//! The record names the rule that decided (from the view), the upstream's answer and the time
//! taken.

use std::time::Instant;

use rmcp::model::{ClientRequest, ServerResult};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};

use super::handler::HubSession;
use crate::audit::{Record, Verdict};
use crate::plan::rules::ItemKind;

impl HubSession {
    /// Resolves `public` in the caller's view, builds the upstream request with the original
    /// name (`make`), sends it, and audits the attempt.
    pub(super) async fn forward_item(
        &self,
        kind: ItemKind,
        method: &'static str,
        public: &str,
        make: impl FnOnce(&str) -> ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        let started = Instant::now();
        let explained = match kind {
            ItemKind::Tool => crate::explain::Method::ToolsCall,
            ItemKind::Prompt => crate::explain::Method::PromptsGet,
            ItemKind::Resource => crate::explain::Method::ResourcesRead,
        };
        let (plan, view) = self.explained_view(explained, Some(public)).await;
        let identity = self.identity();
        let endpoint = self.session.endpoint().clone();
        let mut record = Record::new(method, &endpoint, &identity);
        record.profile = Some(self.binding.profile.as_str());
        record.public = Some(public);
        let routed = match kind {
            ItemKind::Resource => Self::resource_route(&view, public),
            _ => Self::route(&view, kind, public),
        };
        let route = match routed {
            Ok(route) => route,
            Err(e) => {
                let e = self.not_found(method, public, e);
                let denied = view.denied.get(&(kind, public.into()));
                let message = e.to_string();
                let mut record = record.rule(denied.and_then(|(_, r)| r.as_ref()));
                record.decision = Verdict::Deny;
                record.outcome = if denied.is_some() {
                    "denied"
                } else {
                    "unknown"
                };
                record.upstream = denied.map(|(r, _)| r.upstream.as_str());
                record.original = denied.map(|(r, _)| &*r.original);
                record.error = Some(&message);
                self.gateway
                    .audit()
                    .write(&plan, &record.took(started.elapsed()));
                return Err(e.into());
            }
        };
        let request = make(&route.original);
        let result = self
            .send(route.call(method, public), request, context)
            .await;
        let rule = view.decided.get(&(kind, public.into()));
        let mut record = record.rule(rule);
        record.upstream = Some(route.upstream.as_str());
        record.original = Some(&route.original);
        let message = result.as_ref().err().map(|e| e.message.to_string());
        let tool_error =
            matches!(&result, Ok(ServerResult::CallToolResult(r)) if r.is_error == Some(true));
        record.outcome = match (&result, tool_error) {
            (Err(_), _) | (Ok(_), true) => "error",
            _ => "ok",
        };
        record.error = message.as_deref();
        self.gateway
            .audit()
            .write(&plan, &record.took(started.elapsed()));
        result
    }
}

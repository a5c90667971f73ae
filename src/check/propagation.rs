//! Where an upstream that propagates the caller's identity (`auth oauth pass-through` or
//! `token-exchange`) may be used: only behind endpoints whose callers present a validated
//! access token (`auth oauth NAME`), and only with `session per-client`, so one connection
//! carries one caller's token. Runs once the profiles and endpoints are built.

use std::sync::Arc;

use indexmap::IndexMap;

use super::Cx;
use super::declare::Decls;
use crate::diag::{Diag, codes};
use crate::plan::{
    Endpoint, EndpointAuth, Profile, ProfileName, SessionMode, UpstreamId, UpstreamSpec,
};

/// Reports each propagating upstream that is shared, and each endpoint serving one without
/// `auth oauth`.
pub(super) fn check(
    upstreams: &IndexMap<UpstreamId, Arc<UpstreamSpec>>,
    profiles: &IndexMap<ProfileName, Arc<Profile>>,
    endpoints: &[Endpoint],
    decls: &Decls<'_>,
    cx: &mut Cx<'_>,
) {
    for (id, spec) in upstreams {
        let Some(auth) = spec.auth.as_ref().filter(|a| a.propagates()) else {
            continue;
        };
        let Some(ast_up) = decls.upstreams.get(id.as_str()) else {
            continue;
        };
        let Some(written) = &ast_up.auth else {
            continue;
        };
        let flow = auth.flow();
        if spec.session != SessionMode::PerClient {
            let mut diag = Diag::error(
                codes::PROPAGATION_SHARED,
                format!(
                    "upstream `{id}` passes the caller's identity on (`{flow}`) but its connection is shared by every client"
                ),
            )
            .at(written.flow.span, "sends the caller's token");
            if let Some(session) = &ast_up.session {
                diag = diag.also(session.span, "one connection for every caller");
            }
            cx.push(diag.help(
                "add `session per-client` (YAML `session: perClient`): a shared connection would mix callers' tokens",
            ));
        }
        for endpoint in endpoints {
            let serves = profiles
                .get(&endpoint.profile)
                .is_some_and(|p| p.upstreams.contains(id))
                && endpoint
                    .only_upstream
                    .as_ref()
                    .is_none_or(|only| only == id);
            let validated = endpoint
                .auth
                .iter()
                .any(|a| matches!(a, EndpointAuth::OAuth(_)));
            if !serves || validated {
                continue;
            }
            let mut diag = Diag::error(
                codes::PROPAGATION_WITHOUT_OAUTH,
                format!(
                    "upstream `{id}` passes the caller's token on (`{flow}`), but endpoint `{}` does not validate access tokens",
                    endpoint.path
                ),
            )
            .at(written.flow.span, "needs the caller's validated access token");
            if let Some(ast_ep) = decls.endpoints.iter().find(|e| {
                e.profile.node == endpoint.profile.as_str()
                    && (e.path.node == endpoint.path || e.path.node.contains('{'))
            }) {
                diag = diag.also(
                    ast_ep.path.span,
                    format!("serves profile `{}` without `auth oauth`", endpoint.profile),
                );
            }
            cx.push(diag.help(format!(
                "add `auth oauth NAME` to endpoint `{}` (callers then present a token this upstream can get), or serve the profile only where callers have one",
                endpoint.path
            )));
        }
    }
}

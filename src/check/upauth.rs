//! Pass 2a, part: an upstream's `auth oauth …` → [`UpstreamAuthSpec`].
//!
//! Knows which parameters each flow takes, expands `${VAR}` in them (the client secret becomes a
//! [`crate::plan::Secret`]), validates URLs, and reports a static `Authorization` header on the same upstream
//! (the two would fight over one header). `pass-through` takes no parameters; `token-exchange`
//! takes those of client credentials plus `requested-token-type`. Where a propagating upstream
//! may be used (an endpoint with `auth oauth`, `session per-client`) is checked later, by
//! `check::propagation`, which sees the endpoints.

use std::collections::BTreeMap;

use super::env::expand;
use super::{Cx, values};
use crate::diag::{Diag, codes, did_you_mean};
use crate::plan::{ClientCredentials, TokenEndpoint, TokenExchange, UpstreamAuthSpec};
use crate::source::Span;
use crate::syntax::ast;

const FLOWS: [&str; 3] = ["client-credentials", "pass-through", "token-exchange"];
const CLIENT_CREDENTIALS: &[&str] = &[
    "token-url",
    "issuer",
    "client-id",
    "client-secret",
    "scope",
    "audience",
    "resource",
];
const TOKEN_EXCHANGE: &[&str] = &[
    "token-url",
    "issuer",
    "client-id",
    "client-secret",
    "scope",
    "audience",
    "resource",
    "requested-token-type",
];

/// What a token request of mcp2's own (client credentials, token exchange) needs.
struct Common {
    token: TokenEndpoint,
    client_id: String,
    client_secret: crate::plan::Secret,
    scopes: Vec<String>,
    audience: Option<String>,
    resource: Option<String>,
    requested_token_type: Option<String>,
}

/// `None` when the block has errors (they are reported).
pub(super) fn build(
    name: &str,
    auth: &ast::UpstreamAuth,
    headers: &[ast::KeyValue],
    cx: &mut Cx<'_>,
) -> Option<UpstreamAuthSpec> {
    if let Some(h) = headers
        .iter()
        .find(|h| h.key.node.eq_ignore_ascii_case("authorization"))
    {
        cx.push(
            Diag::error(
                codes::AUTH_HEADER_CONFLICT,
                format!("upstream `{name}` has both a static `Authorization` header and OAuth"),
            )
            .at(h.key.span, "a static `Authorization` header")
            .also(auth.flow.span, "OAuth also sets `Authorization`")
            .help("remove the header: the OAuth flow sends `Authorization: Bearer <token>`"),
        );
    }
    match auth.flow.node.as_str() {
        "client-credentials" => {
            let c = common(
                name,
                auth,
                "OAuth client credentials",
                CLIENT_CREDENTIALS,
                cx,
            )?;
            Some(UpstreamAuthSpec::ClientCredentials(ClientCredentials {
                token: c.token,
                client_id: c.client_id,
                client_secret: c.client_secret,
                scopes: c.scopes,
                audience: c.audience,
                resource: c.resource,
            }))
        }
        "token-exchange" => {
            let c = common(name, auth, "OAuth token exchange", TOKEN_EXCHANGE, cx)?;
            Some(UpstreamAuthSpec::TokenExchange(TokenExchange {
                token: c.token,
                client_id: c.client_id,
                client_secret: c.client_secret,
                scopes: c.scopes,
                audience: c.audience,
                resource: c.resource,
                requested_token_type: c.requested_token_type,
            }))
        }
        "pass-through" => {
            for kv in &auth.params {
                cx.push(
                    Diag::error(
                        codes::BAD_UPSTREAM_AUTH,
                        format!("`pass-through` takes no parameters, not `{}`", kv.key.node),
                    )
                    .at(kv.key.span, "unknown parameter")
                    .help("the caller's own token is sent unchanged; remove the parameter, or use `token-exchange` to get a token for the upstream"),
                );
            }
            auth.params
                .is_empty()
                .then_some(UpstreamAuthSpec::PassThrough)
        }
        other => {
            let mut diag = Diag::error(
                codes::BAD_UPSTREAM_AUTH,
                format!("unknown OAuth flow `{other}`"),
            )
            .at(
                auth.flow.span,
                "expected `client-credentials`, `pass-through` or `token-exchange`",
            );
            if let Some(s) = did_you_mean(other, FLOWS) {
                diag = diag.help(format!("did you mean `{s}`?"));
            }
            cx.push(diag);
            None
        }
    }
}

fn common(
    name: &str,
    auth: &ast::UpstreamAuth,
    flow: &str,
    allowed: &[&str],
    cx: &mut Cx<'_>,
) -> Option<Common> {
    let errors_before = cx.error_count();
    let mut params: BTreeMap<&str, &ast::KeyValue> = BTreeMap::new();
    for kv in &auth.params {
        let key = kv.key.node.as_str();
        if !allowed.contains(&key) {
            let mut diag = Diag::error(
                codes::BAD_UPSTREAM_AUTH,
                format!("`{key}` is not a parameter of {flow}"),
            )
            .at(kv.key.span, "unknown parameter");
            diag = match did_you_mean(key, allowed.iter().copied()) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None => diag.help(format!("expected one of {}", allowed.join(", "))),
            };
            cx.push(diag);
            continue;
        }
        if let Some(first) = params.insert(key, kv) {
            cx.push(
                Diag::error(codes::BAD_UPSTREAM_AUTH, format!("`{key}` is given twice"))
                    .at(kv.key.span, "given again here")
                    .also(first.key.span, "first given here")
                    .help("remove one of them"),
            );
        }
    }
    let value = |key: &str, cx: &mut Cx<'_>| {
        let kv = params.get(key)?;
        let expanded = expand(cx, &kv.value, &format!("`{key}` of upstream `{name}`"))?;
        if expanded.value.trim().is_empty() {
            cx.push(
                Diag::error(codes::BAD_UPSTREAM_AUTH, format!("`{key}` is empty"))
                    .at(kv.value.span, "empty after expansion")
                    .help("give it a value (the variable may be unset or empty)"),
            );
            return None;
        }
        Some((expanded, kv.value.span))
    };
    let token_url = value("token-url", cx);
    let issuer = value("issuer", cx);
    let client_id = value("client-id", cx);
    let client_secret = value("client-secret", cx);
    let scope = value("scope", cx);
    let audience = value("audience", cx);
    let resource = value("resource", cx);
    let requested_token_type = value("requested-token-type", cx);
    let token = match (token_url, issuer) {
        (Some((u, at)), None) => url(&u.value, at, cx).map(TokenEndpoint::Url),
        (None, Some((u, at))) => url(&u.value, at, cx).map(TokenEndpoint::Issuer),
        (Some(_), Some((_, at))) => {
            cx.push(
                Diag::error(
                    codes::BAD_UPSTREAM_AUTH,
                    "`token-url` and `issuer` are both given",
                )
                .at(at, "the token endpoint would come from here too")
                .help("give one: `token-url` names the endpoint, `issuer` finds it"),
            );
            None
        }
        (None, None) => {
            missing(auth.flow.span, flow, "token-url", cx);
            None
        }
    };
    if !params.contains_key("client-id") {
        missing(auth.flow.span, flow, "client-id", cx);
    }
    if !params.contains_key("client-secret") {
        missing(auth.flow.span, flow, "client-secret", cx);
    }
    if cx.error_count() > errors_before {
        return None;
    }
    Some(Common {
        token: token?,
        client_id: client_id?.0.value,
        client_secret: client_secret?.0.into_secret(),
        scopes: scope
            .map(|(s, _)| s.value.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        audience: audience.map(|(a, _)| a.value),
        resource: resource.map(|(r, _)| r.value),
        requested_token_type: requested_token_type.map(|(t, _)| t.value),
    })
}

fn url(text: &str, at: Span, cx: &mut Cx<'_>) -> Option<url::Url> {
    match values::parse_http_url(text) {
        Ok(u) => Some(u),
        Err(e) => {
            cx.push(
                Diag::error(codes::BAD_UPSTREAM_AUTH, "not a usable URL")
                    .at(at, e.reason)
                    .help("write an absolute `https://…` URL"),
            );
            None
        }
    }
}

fn missing(at: Span, flow: &str, key: &str, cx: &mut Cx<'_>) {
    let help = match key {
        "token-url" => "add `token-url \"https://auth.example.com/token\"` or `issuer \"https://auth.example.com\"` (YAML `tokenUrl`, `issuer`)".to_string(),
        "client-secret" => "add `client-secret \"${CLIENT_SECRET}\"` (YAML `clientSecret`)".to_string(),
        _ => format!("add `{key} \"…\"` (YAML `clientId`)"),
    };
    cx.push(
        Diag::error(
            codes::BAD_UPSTREAM_AUTH,
            // "OAuth client credentials need", "OAuth token exchange needs".
            format!(
                "{flow} {} `{key}`",
                if flow.ends_with('s') { "need" } else { "needs" }
            ),
        )
        .at(at, format!("no `{key}`"))
        .help(help),
    );
}

//! Pass 2a, part: an upstream's `auth oauth …` → [`UpstreamAuthSpec`].
//!
//! Knows which parameters each flow takes, expands `${VAR}` in them (the client secret becomes a
//! [`crate::plan::Secret`]), validates URLs, and reports a static `Authorization` header on the same upstream
//! (the two would fight over one header).

use std::collections::BTreeMap;

use super::env::expand;
use super::{Cx, values};
use crate::diag::{Diag, codes, did_you_mean};
use crate::plan::{ClientCredentials, TokenEndpoint, UpstreamAuthSpec};
use crate::source::Span;
use crate::syntax::ast;

const FLOWS: [&str; 1] = ["client-credentials"];
const CLIENT_CREDENTIALS: [&str; 7] = [
    "token-url",
    "issuer",
    "client-id",
    "client-secret",
    "scope",
    "audience",
    "resource",
];

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
        "client-credentials" => client_credentials(name, auth, cx),
        other => {
            let mut diag = Diag::error(
                codes::BAD_UPSTREAM_AUTH,
                format!("unknown OAuth flow `{other}`"),
            )
            .at(auth.flow.span, "expected `client-credentials`");
            if let Some(s) = did_you_mean(other, FLOWS) {
                diag = diag.help(format!("did you mean `{s}`?"));
            }
            cx.push(diag);
            None
        }
    }
}

fn client_credentials(
    name: &str,
    auth: &ast::UpstreamAuth,
    cx: &mut Cx<'_>,
) -> Option<UpstreamAuthSpec> {
    let errors_before = cx.error_count();
    let mut params: BTreeMap<&str, &ast::KeyValue> = BTreeMap::new();
    for kv in &auth.params {
        let key = kv.key.node.as_str();
        if !CLIENT_CREDENTIALS.contains(&key) {
            let mut diag = Diag::error(
                codes::BAD_UPSTREAM_AUTH,
                format!("`{key}` is not a parameter of OAuth client credentials"),
            )
            .at(kv.key.span, "unknown parameter");
            diag = match did_you_mean(key, CLIENT_CREDENTIALS) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None => diag.help(format!("expected one of {}", CLIENT_CREDENTIALS.join(", "))),
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
            missing(auth.flow.span, "token-url", cx);
            None
        }
    };
    if !params.contains_key("client-id") {
        missing(auth.flow.span, "client-id", cx);
    }
    if !params.contains_key("client-secret") {
        missing(auth.flow.span, "client-secret", cx);
    }
    if cx.error_count() > errors_before {
        return None;
    }
    Some(UpstreamAuthSpec::ClientCredentials(ClientCredentials {
        token: token?,
        client_id: client_id?.0.value,
        client_secret: client_secret?.0.into_secret(),
        scopes: scope
            .map(|(s, _)| s.value.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        audience: audience.map(|(a, _)| a.value),
        resource: resource.map(|(r, _)| r.value),
    }))
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

fn missing(at: Span, key: &str, cx: &mut Cx<'_>) {
    let help = match key {
        "token-url" => "add `token-url \"https://auth.example.com/token\"` or `issuer \"https://auth.example.com\"` (YAML `tokenUrl`, `issuer`)".to_string(),
        "client-secret" => "add `client-secret \"${CLIENT_SECRET}\"` (YAML `clientSecret`)".to_string(),
        _ => format!("add `{key} \"…\"` (YAML `clientId`)"),
    };
    cx.push(
        Diag::error(
            codes::BAD_UPSTREAM_AUTH,
            format!("OAuth client credentials need `{key}`"),
        )
        .at(at, format!("no `{key}`"))
        .help(help),
    );
}

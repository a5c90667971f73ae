//! Pass 2a, part: an upstream's `auth oauth …` → [`UpstreamAuthSpec`].
//!
//! Knows which parameters each flow takes, expands `${VAR}` in them (the client secret becomes a
//! [`crate::plan::Secret`]), validates URLs, and reports a static `Authorization` header on the same upstream
//! (the two would fight over one header). The default token file of `authorization-code` is
//! resolved here from `$XDG_STATE_HOME` (else `$HOME/.local/state`), so `explain` shows it.
//! `pass-through` takes no parameters; `token-exchange` takes those of client credentials plus
//! `requested-token-type`. Where a propagating upstream may be used (an endpoint with `auth
//! oauth`, `session per-client`) is checked later, by `check::propagation`, which sees the
//! endpoints.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::env::expand;
use super::{Cx, values};
use crate::diag::{Diag, codes, did_you_mean};
use crate::plan::{
    AuthorizationCode, ClientCredentials, TokenEndpoint, TokenExchange, UpstreamAuthSpec,
};
use crate::source::Span;
use crate::syntax::ast;

const FLOWS: [&str; 4] = [
    "client-credentials",
    "authorization-code",
    "pass-through",
    "token-exchange",
];

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

const AUTHORIZATION_CODE: &[&str] = &[
    "issuer",
    "client-id",
    "client-secret",
    "client-metadata-url",
    "scope",
    "token-file",
];

/// The parameters of one `auth oauth …`, each at most once and known to the flow.
type Params<'a> = BTreeMap<&'a str, &'a ast::KeyValue>;

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
        "authorization-code" => authorization_code(name, auth, cx),
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
                "expected `client-credentials`, `authorization-code`, `pass-through` or `token-exchange`",
            );
            if let Some(s) = did_you_mean(other, FLOWS) {
                diag = diag.help(format!("did you mean `{s}`?"));
            }
            cx.push(diag);
            None
        }
    }
}

/// The block's parameters, after reporting unknown and repeated ones.
fn params<'a>(
    auth: &'a ast::UpstreamAuth,
    flow: &str,
    known: &[&str],
    cx: &mut Cx<'_>,
) -> Params<'a> {
    let mut params: Params<'a> = BTreeMap::new();
    for kv in &auth.params {
        let key = kv.key.node.as_str();
        if !known.contains(&key) {
            let mut diag = Diag::error(
                codes::BAD_UPSTREAM_AUTH,
                format!("`{key}` is not a parameter of {flow}"),
            )
            .at(kv.key.span, "unknown parameter");
            diag = match did_you_mean(key, known.iter().copied()) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None => diag.help(format!("expected one of {}", known.join(", "))),
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
    params
}

/// The expanded, non-empty value of `key`, with its span.
fn value(
    params: &Params<'_>,
    key: &str,
    name: &str,
    cx: &mut Cx<'_>,
) -> Option<(super::env::Expanded, Span)> {
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
}

fn scopes(scope: Option<(super::env::Expanded, Span)>) -> Vec<String> {
    scope
        .map(|(s, _)| s.value.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// What client credentials and token exchange share: mcp2's own client at a token endpoint.
fn common(
    name: &str,
    auth: &ast::UpstreamAuth,
    flow: &str,
    allowed: &[&str],
    cx: &mut Cx<'_>,
) -> Option<Common> {
    let errors_before = cx.error_count();
    let params = params(auth, flow, allowed, cx);
    let value = |key: &str, cx: &mut Cx<'_>| value(&params, key, name, cx);
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
        scopes: scopes(scope),
        audience: audience.map(|(a, _)| a.value),
        resource: resource.map(|(r, _)| r.value),
        requested_token_type: requested_token_type.map(|(t, _)| t.value),
    })
}

fn authorization_code(
    name: &str,
    auth: &ast::UpstreamAuth,
    cx: &mut Cx<'_>,
) -> Option<UpstreamAuthSpec> {
    let errors_before = cx.error_count();
    let params = params(auth, "OAuth authorization code", AUTHORIZATION_CODE, cx);
    let value = |key: &str, cx: &mut Cx<'_>| value(&params, key, name, cx);
    let issuer = value("issuer", cx).and_then(|(u, at)| url(&u.value, at, cx));
    let client_id = value("client-id", cx);
    let client_secret = value("client-secret", cx);
    let metadata_url = value("client-metadata-url", cx);
    let scope = value("scope", cx);
    let token_file = value("token-file", cx);
    let client_metadata_url = match (&client_id, metadata_url) {
        (Some(_), Some((_, at))) => {
            cx.push(
                Diag::error(
                    codes::BAD_UPSTREAM_AUTH,
                    "`client-id` and `client-metadata-url` are both given",
                )
                .at(at, "the client id would be this URL too")
                .help("give one: `client-id` names a registered client, `client-metadata-url` a published client metadata document"),
            );
            None
        }
        (None, Some((u, at))) => https_url(&u.value, at, cx),
        (_, None) => None,
    };
    if let (None, Some(kv)) = (params.get("client-id"), params.get("client-secret")) {
        cx.push(
            Diag::error(
                codes::BAD_UPSTREAM_AUTH,
                "`client-secret` without `client-id`",
            )
            .at(kv.key.span, "the secret of which client?")
            .help("add `client-id \"…\"` (YAML `clientId`), or remove the secret to register a client at login"),
        );
    }
    let token_file = match token_file {
        Some((path, _)) => Some(PathBuf::from(path.value)),
        None => default_token_file(name, cx),
    };
    let Some(token_file) = token_file else {
        cx.push(
            Diag::error(
                codes::BAD_UPSTREAM_AUTH,
                "no place for the tokens of `mcp2 login`",
            )
            .at(auth.flow.span, "neither $XDG_STATE_HOME nor $HOME is set")
            .help("add `token-file \"/path/to/tokens.json\"` (YAML `tokenFile`)"),
        );
        return None;
    };
    if params.contains_key("issuer") && issuer.is_none() || cx.error_count() > errors_before {
        return None;
    }
    Some(UpstreamAuthSpec::AuthorizationCode(AuthorizationCode {
        issuer,
        client_id: client_id.map(|(c, _)| c.value),
        client_secret: client_secret.map(|(s, _)| s.into_secret()),
        client_metadata_url,
        scopes: scopes(scope),
        token_file,
    }))
}

/// `$XDG_STATE_HOME/mcp2/tokens/NAME.json`, else `$HOME/.local/state/mcp2/tokens/NAME.json`.
fn default_token_file(name: &str, cx: &Cx<'_>) -> Option<PathBuf> {
    let non_empty = |var: &str| cx.env.var(var).filter(|v| !v.is_empty());
    let state = match non_empty("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty("HOME")?).join(".local/state"),
    };
    Some(state.join("mcp2/tokens").join(format!("{name}.json")))
}

/// A client metadata document's URL: HTTPS with a path, as Client ID Metadata Documents require.
fn https_url(text: &str, at: Span, cx: &mut Cx<'_>) -> Option<url::Url> {
    let u = url(text, at, cx)?;
    if u.scheme() == "https" && u.path() != "/" {
        return Some(u);
    }
    cx.push(
        Diag::error(
            codes::BAD_UPSTREAM_AUTH,
            "a client metadata document needs an `https://` URL with a path",
        )
        .at(at, "not usable as a client id")
        .help("publish the document at e.g. `https://example.com/mcp2/client.json`"),
    );
    None
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

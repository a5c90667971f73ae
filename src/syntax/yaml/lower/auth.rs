//! `oauth:`, `audit:` and `hub.auth` → the identity parts of the AST, as `.mcproute` writes
//! them: `oauth NAME { … }`, `audit { … }` and the endpoint's `auth` items.
//!
//! ```yaml
//! oauth:
//!   corp: { issuer: "https://auth.example.com", scopes: [mcp] }
//! audit: { file: /var/log/mcp2/audit.jsonl }
//! hub: { auth: { oauth: corp, keys: { ci-bot: "${CI_KEY}" } } }
//! ```

use crate::source::Spanned;
use crate::syntax::ast;
use crate::syntax::yaml::keys::Place;
use crate::syntax::yaml::read::Reader;
use crate::syntax::yaml::tree::{Node, Pair};

pub fn oauth_servers(r: &mut Reader, node: &Node) -> Vec<ast::OAuthServer> {
    r.named(
        node,
        "a mapping of authorization server names to their settings",
    )
    .into_iter()
    .map(|(name, pair)| oauth(r, name, pair))
    .collect()
}

fn oauth(r: &mut Reader, name: ast::Str, pair: &Pair) -> ast::OAuthServer {
    let mut s = ast::OAuthServer {
        name,
        issuer: None,
        jwks: None,
        resource: None,
        leeway: None,
        scopes: Vec::new(),
        introspect: None,
        client_id: None,
        client_secret: None,
        span: pair.span().into(),
    };
    let Some(f) = r.fields(&pair.value, Place::OAuth) else {
        return s;
    };
    let text = |r: &mut Reader, key: &str, what: &str| f.value(key).and_then(|n| r.string(n, what));
    s.issuer = text(r, "issuer", "the issuer's URL");
    s.jwks = text(r, "jwks", "the JWKS URL");
    s.resource = text(r, "resource", "this resource's URI");
    s.leeway = text(r, "leeway", "a duration such as `30s`");
    s.introspect = text(r, "introspect", "the introspection URL");
    s.client_id = text(r, "clientId", "a client id");
    s.client_secret = text(r, "clientSecret", "a client secret");
    if let Some(scopes) = f.value("scopes") {
        s.scopes = r.list(scopes, "a list of scopes", |r, n| r.string(n, "a scope"));
    }
    s
}

pub fn audit(r: &mut Reader, pair: &Pair) -> ast::Audit {
    let mut a = ast::Audit {
        span: pair.span().into(),
        ..ast::Audit::default()
    };
    let Some(f) = r.fields(&pair.value, Place::Audit) else {
        return a;
    };
    a.file = f.value("file").and_then(|n| r.string(n, "a file path"));
    a.stdout = f.value("stdout").and_then(|n| r.boolean(n));
    a.max_size_mb = f
        .value("maxSizeMB")
        .and_then(|n| r.integer(n, "a size in MB"));
    a.max_backups = f
        .value("maxBackups")
        .and_then(|n| r.integer(n, "a number of files"));
    a
}

/// `hub.auth: { oauth: NAME, bearer: SECRET, keys: { NAME: SECRET } }`, in the order
/// `.mcproute` prints them: oauth, bearer, keys.
pub fn hub_auth(r: &mut Reader, pair: &Pair) -> Vec<ast::EndpointAuth> {
    let mut out = Vec::new();
    let Some(f) = r.fields(&pair.value, Place::HubAuth) else {
        return out;
    };
    let kind = |p: &Pair, word: &str| Spanned::new(word.to_string(), p.key.span);
    if let Some(p) = f.get("oauth")
        && let Some(value) = r.string(&p.value, "the name of an `oauth` entry")
    {
        out.push(ast::EndpointAuth {
            kind: kind(p, "oauth"),
            name: None,
            value,
            span: p.span().into(),
        });
    }
    if let Some(p) = f.get("bearer")
        && let Some(value) = r.string(&p.value, "a secret such as \"${TOKEN}\"")
    {
        out.push(ast::EndpointAuth {
            kind: kind(p, "bearer"),
            name: None,
            value,
            span: p.span().into(),
        });
    }
    if ["oauth", "bearer", "apiKey", "keys"]
        .iter()
        .all(|k| f.get(k).is_none())
    {
        // An empty `auth:` must not quietly serve the endpoint without a credential.
        r.missing(
            pair.key.span,
            "oauth`, `bearer`, `apiKey` or `keys",
            "`auth`",
            "write `auth: { bearer: \"${HUB_TOKEN}\" }`, `auth: { apiKey: \"${HUB_KEY}\" }`, \
             named `keys: { ci-bot: \"${CI_KEY}\" }` or `oauth: NAME`; remove `auth` to serve \
             without a credential",
        );
    }
    if let Some(p) = f.get("apiKey")
        && let Some(value) = r.string(&p.value, "a secret such as \"${KEY}\"")
    {
        out.push(ast::EndpointAuth {
            kind: kind(p, "key"),
            name: None,
            value,
            span: p.span().into(),
        });
    }
    if let Some(p) = f.get("keys") {
        for (name, entry) in r.named(&p.value, "a mapping of key names to secrets") {
            if let Some(value) = r.string(&entry.value, "a secret such as \"${KEY}\"") {
                out.push(ast::EndpointAuth {
                    kind: Spanned::new("key".to_string(), name.span),
                    name: Some(name),
                    value,
                    span: entry.span().into(),
                });
            }
        }
    }
    out
}

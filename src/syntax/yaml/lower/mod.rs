//! Lowering: the marked YAML tree → [`ast::File`].
//!
//! This module reads the top level (`listen`, `logging`, `defaultProfile`, `hub`,
//! `exposePerServer`; `limits` and `cluster` in [`serving`]) and hands `servers` and `profiles` to [`server`] and [`profile`]. Items come
//! out in one canonical order whatever order the keys were written in: listen, logging, admin, limits,
//! cluster, oauth, audit, upstreams, profiles, default profile, endpoints. The hub is always served: `exposePerServer`
//! without `hub` yields the hub at `/mcp` as well as the per-server endpoints.

mod auth;
mod condition;
mod profile;
mod server;
mod serving;

use super::keys::Place;
use super::read::Reader;
use super::tree::{Node, Pair};
use crate::diag::{Diag, codes};
use crate::source::{Span, Spanned};
use crate::syntax::ast::{self, Item, Str};

/// The address served when `listen` gives only one half.
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: u64 = 8210;
/// Where `hub:` serves when it names no `path`.
const HUB_PATH: &str = "/mcp";
/// The endpoint `exposePerServer: true` adds (one per upstream of the profile).
const PER_SERVER_PATH: &str = "/servers/{upstream}/mcp";

pub fn file(r: &mut Reader, root: &Node) -> ast::File {
    let mut items = Vec::new();
    let Some(f) = r.fields(root, Place::Top) else {
        return ast::File { items };
    };
    if let Some(listen) = f.get("listen").and_then(|p| listen(r, p)) {
        items.push(Item::Listen(listen));
    }
    if let Some(pair) = f.get("logging") {
        items.push(Item::Logging(logging(r, pair)));
    }
    if let Some(pair) = f.get("admin") {
        items.push(Item::Admin(admin(r, pair)));
    }
    if let Some(pair) = f.get("limits") {
        items.push(Item::Limits(serving::limits(r, pair)));
    }
    if let Some(pair) = f.get("cluster") {
        items.push(Item::Cluster(serving::cluster(r, pair)));
    }
    if let Some(node) = f.value("oauth") {
        items.extend(auth::oauth_servers(r, node).into_iter().map(Item::OAuth));
    }
    if let Some(pair) = f.get("audit") {
        items.push(Item::Audit(auth::audit(r, pair)));
    }
    let servers = f
        .value("servers")
        .map(|n| server::servers(r, n))
        .unwrap_or(server::Servers {
            upstreams: Vec::new(),
            limits: Vec::new(),
        });
    let declared: Vec<Str> = servers.upstreams.iter().map(|u| u.name.clone()).collect();
    items.extend(servers.upstreams.into_iter().map(Item::Upstream));
    let profiles = match (f.value("profiles"), f.get("servers")) {
        (Some(n), _) => profile::profiles(r, n, &servers.limits, &declared),
        (None, Some(s)) => vec![profile::implicit_default(
            s.key.span,
            &servers.limits,
            &declared,
        )],
        (None, None) => Vec::new(),
    };
    let only_profile = match profiles.as_slice() {
        [only] => Some(only.name.node.clone()),
        _ => None,
    };
    items.extend(profiles.into_iter().map(Item::Profile));
    let default = f
        .value("defaultProfile")
        .and_then(|n| r.string(n, "a profile name"));
    if let Some(d) = &default {
        items.push(Item::DefaultProfile(d.clone()));
    }
    // The profile the hub serves when the file does not say: `defaultProfile`, else the file's
    // only profile, else `default` written at the key's span, which the checker reads as "the
    // route set's default profile".
    let served = |span: Span| match (&default, &only_profile) {
        (Some(d), _) => d.clone(),
        (None, Some(only)) => Spanned::new(only.clone(), span),
        (None, None) => Spanned::new("default".to_string(), span),
    };
    let expose = f
        .get("exposePerServer")
        .and_then(|pair| Some((pair, r.boolean(&pair.value)?)))
        .filter(|(_, on)| on.node);
    match f.get("hub") {
        Some(pair) => items.extend(hub(r, pair, served(pair.key.span)).map(Item::Endpoint)),
        // The hub is always served; without `hub:` only the checker's default `/mcp` would
        // serve it, and that default gives way to any declared endpoint.
        None => {
            if let Some((pair, _)) = expose {
                items.push(Item::Endpoint(ast::Endpoint {
                    path: Spanned::new(HUB_PATH.to_string(), pair.key.span),
                    profile: served(pair.key.span),
                    when: None,
                    auth: Vec::new(),
                    sse: None,
                    span: pair.span().into(),
                }));
            }
        }
    }
    if let Some((pair, _)) = expose {
        items.push(Item::Endpoint(ast::Endpoint {
            path: Spanned::new(PER_SERVER_PATH.to_string(), pair.value.span),
            profile: served(pair.key.span),
            when: None,
            auth: Vec::new(),
            sse: None,
            span: pair.span().into(),
        }));
    }
    ast::File { items }
}

/// `listen: { host, port }` → `host:port`, the missing half filled with the default;
/// `listen: "host:port"` as written. Nothing when neither half is given.
fn listen(r: &mut Reader, pair: &Pair) -> Option<ast::Listen> {
    if pair.value.is_scalar() {
        let addr = r.string(&pair.value, "`host:port` or `{ host, port }`")?;
        return Some(ast::Listen {
            addr,
            origins: Vec::new(),
            span: pair.span().into(),
        });
    }
    let f = r.fields(&pair.value, Place::Listen)?;
    let host = f
        .value("host")
        .and_then(|n| r.string(n, "a host name or IP address"));
    let port = f.value("port").and_then(|n| port(r, n));
    let origins = f.value("allowOrigins").map_or_else(Vec::new, |n| {
        r.list(n, "a list of origins", |r, n| {
            r.string(n, "an origin such as `https://app.example.com`")
        })
    });
    if host.is_none() && port.is_none() && origins.is_empty() {
        return None;
    }
    let host_text = host.as_ref().map_or(DEFAULT_HOST, |h| h.node.as_str());
    let host_text = if host_text.contains(':') && !host_text.starts_with('[') {
        format!("[{host_text}]")
    } else {
        host_text.to_string()
    };
    let port_value = port.as_ref().map_or(DEFAULT_PORT, |p| p.node);
    let span = host.as_ref().map(|h| h.span).or(port.map(|p| p.span));
    let span = span.unwrap_or(pair.key.span);
    Some(ast::Listen {
        addr: Spanned::new(format!("{host_text}:{port_value}"), span),
        origins,
        span: pair.span().into(),
    })
}

fn port(r: &mut Reader, node: &Node) -> Option<Spanned<u64>> {
    let port = r.integer(node, "a port number")?;
    if port.node > u64::from(u16::MAX) {
        r.push(
            Diag::error(
                codes::YAML_BAD_VALUE,
                format!("{} is not a port number", port.node),
            )
            .at(port.span, "out of range")
            .help("a port is a number from 1 to 65535 (0 lets the system choose)"),
        );
        return None;
    }
    Some(port)
}

fn logging(r: &mut Reader, pair: &Pair) -> ast::Logging {
    let mut log = ast::Logging {
        span: pair.span().into(),
        ..ast::Logging::default()
    };
    let Some(f) = r.fields(&pair.value, Place::Logging) else {
        return log;
    };
    log.level = f
        .value("level")
        .and_then(|n| r.string(n, "a level such as `info`"));
    log.file = f.value("file").and_then(|n| r.string(n, "a file path"));
    log.max_size_mb = f
        .value("maxSizeMB")
        .and_then(|n| r.integer(n, "a size in MB"));
    log.max_backups = f
        .value("maxBackups")
        .and_then(|n| r.integer(n, "a number of files"));
    log.max_age_days = f
        .value("maxAgeDays")
        .and_then(|n| r.integer(n, "a number of days"));
    log.compress = f.value("compress").and_then(|n| r.boolean(n));
    log.log_requests = f.value("logRequests").and_then(|n| r.boolean(n));
    log.log_responses = f.value("logResponses").and_then(|n| r.boolean(n));
    log.max_size_kb = f
        .value("maxSizeKB")
        .and_then(|n| r.integer(n, "a size in KB"));
    log.max_body_kb = f
        .value("maxBodyKB")
        .and_then(|n| r.integer(n, "a size in KB"));
    log.redact_keys = f
        .value("redactKeys")
        .map(|n| r.list(n, "a list of JSON keys", |r, n| r.string(n, "a JSON key")))
        .unwrap_or_default();
    log
}

/// `admin: { listen: "127.0.0.1:8211", token: "${MCP2_ADMIN_TOKEN}" }`.
fn admin(r: &mut Reader, pair: &Pair) -> ast::Admin {
    let mut admin = ast::Admin {
        span: pair.span().into(),
        ..ast::Admin::default()
    };
    let Some(f) = r.fields(&pair.value, Place::Admin) else {
        return admin;
    };
    admin.listen = f
        .value("listen")
        .and_then(|n| r.string(n, "an address such as `127.0.0.1:8211`"));
    admin.token = f
        .value("token")
        .and_then(|n| r.string(n, "a token, normally `\"${MCP2_ADMIN_TOKEN}\"`"));
    admin
}

/// `hub: { path, profile }` → an endpoint serving `profile` (default: the default profile).
fn hub(r: &mut Reader, pair: &Pair, served: Str) -> Option<ast::Endpoint> {
    let f = r.fields(&pair.value, Place::Hub)?;
    let path = f
        .value("path")
        .and_then(|n| r.string(n, "a path such as `/mcp`"))
        .unwrap_or_else(|| Spanned::new(HUB_PATH.to_string(), pair.key.span));
    let profile = f
        .value("profile")
        .and_then(|n| r.string(n, "a profile name"))
        .unwrap_or(served);
    let sse = f
        .value("ssePath")
        .and_then(|n| r.string(n, "a path such as `/sse`"));
    let auth = f
        .get("auth")
        .map(|p| auth::hub_auth(r, p))
        .unwrap_or_default();
    Some(ast::Endpoint {
        path,
        profile,
        when: None,
        auth,
        sse,
        span: pair.span().into(),
    })
}

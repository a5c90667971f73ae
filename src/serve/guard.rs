//! The checks every MCP request passes before it reaches a session: its `Origin` and the
//! endpoint's credential.
//!
//! **Origin** (DNS rebinding): a browser page on `evil.example` whose name resolves to
//! 127.0.0.1 can make the browser send requests to mcp2; the browser then sends
//! `Origin: http://evil.example`. Requests without `Origin` (every non-browser client) pass;
//! with one, it must be a loopback origin (`localhost`, `127.0.0.1`, `[::1]`, any port) or one
//! the routes allow (`listen … allow-origin …`). Anything else gets 403. (rmcp checks the
//! `Host` header of Streamable HTTP requests against loopback names too, when mcp2 listens on
//! loopback.)
//!
//! The admin routes get the same `Origin` and `Host` checks ([`browser_guard`]).
//!
//! **Credential**: checked by `oauth::authenticate` (static secrets and access tokens); this
//! module only lends it [`constant_time_eq`]. Secrets are compared in constant time and never
//! logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use crate::gateway::Gateway;

/// Rejects a request whose `Origin` is not allowed; `allowed` as in `Plan::allowed_origins`.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Box<Response>> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim().to_ascii_lowercase();
    if origin_allowed(&origin, allowed) {
        return Ok(());
    }
    tracing::warn!(%origin, "request from a browser origin that is not allowed; refused (403)");
    Err(Box::new(error(
        StatusCode::FORBIDDEN,
        &format!(
            "Origin {origin} is not allowed; add it to the routes with `listen … allow-origin \"{origin}\"`"
        ),
    )))
}

fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    if is_loopback_origin(origin) {
        return true;
    }
    allowed.iter().any(|a| matches_allowed(origin, a))
}

/// `scheme://host[:port]` → (scheme, host, port or None).
fn split(origin: &str) -> Option<(&str, &str, Option<&str>)> {
    let (scheme, rest) = origin.split_once("://")?;
    if rest.starts_with('[') {
        let end = rest.find(']')?;
        let host = &rest[..=end];
        let port = rest[end + 1..].strip_prefix(':');
        return Some((scheme, host, port));
    }
    match rest.rsplit_once(':') {
        Some((host, port)) => Some((scheme, host, Some(port))),
        None => Some((scheme, rest, None)),
    }
}

fn is_loopback_origin(origin: &str) -> bool {
    let Some((scheme, host, _)) = split(origin) else {
        return false;
    };
    (scheme == "http" || scheme == "https") && is_loopback_name(host.as_bytes())
}

/// `localhost`, `127.0.0.1` or `[::1]` (a host name without its port).
fn is_loopback_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"localhost") || name == b"127.0.0.1" || name == b"[::1]"
}

/// Whether a `Host` header names loopback ([`is_loopback_name`], any port), without
/// allocating: every MCP request is checked.
fn is_loopback_host(host: &[u8]) -> bool {
    let name = match host.iter().rposition(|&b| b == b':') {
        // `[::1]` alone has colons inside its brackets: the port comes after `]`.
        Some(colon) if !host.ends_with(b"]") => &host[..colon],
        _ => host,
    };
    is_loopback_name(name)
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    }
}

fn matches_allowed(origin: &str, allowed: &str) -> bool {
    if allowed == "null" || origin == "null" {
        return allowed == origin;
    }
    let (Some((s1, h1, p1)), Some((s2, h2, p2))) = (split(origin), split(allowed)) else {
        return false;
    };
    if s1 != s2 || h1 != h2 {
        return false;
    }
    match p2 {
        Some("*") => true,
        _ => p1.or(default_port(s1)) == p2.or(default_port(s2)),
    }
}

/// Rejects a request whose `Host` is not a loopback name while mcp2 listens on loopback (rmcp
/// does this for Streamable HTTP; this is the same check for the legacy SSE paths).
pub fn check_host(headers: &HeaderMap, loopback_only: bool) -> Result<(), Box<Response>> {
    if !loopback_only {
        return Ok(());
    }
    // Browsers always send `Host`; a request without one (an HTTP/1.0 health check from a
    // load balancer) cannot be a DNS-rebinding attack.
    let Some(host) = headers.get(header::HOST) else {
        return Ok(());
    };
    if is_loopback_host(host.as_bytes()) {
        return Ok(());
    }
    let host = host.to_str().unwrap_or("").to_ascii_lowercase();
    tracing::warn!(%host, "request for a host name that is not loopback; refused (403)");
    Err(Box::new(error(
        StatusCode::FORBIDDEN,
        &format!("Host {host} is not served here"),
    )))
}

/// Middleware for the admin routes: the `Origin` and `Host` checks of MCP requests, so that a
/// page using DNS rebinding can neither read `/_mcp2/config` nor trigger a reload (which
/// would come from loopback). `loopback` says whether the admin routes' listener is.
pub async fn browser_guard(
    State((gateway, loopback)): State<(Arc<Gateway>, bool)>,
    request: Request,
    next: Next,
) -> Response {
    let checked = check_origin(request.headers(), &gateway.plan().allowed_origins)
        .and_then(|()| check_host(request.headers(), loopback));
    match checked {
        Ok(()) => next.run(request).await,
        Err(refused) => *refused,
    }
}

/// Equal bytes, in time that depends only on the lengths.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32600, "message": message },
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_pass_others_need_to_be_allowed() {
        let allowed = vec![
            "https://app.example.com".to_string(),
            "http://dev.local:*".to_string(),
        ];
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8443",
            "https://app.example.com",
            "https://app.example.com:443",
            "http://dev.local:1234",
        ] {
            assert!(origin_allowed(ok, &allowed), "{ok}");
        }
        for refused in [
            "http://evil.example",
            "https://app.example.com:8443",
            "http://app.example.com",
            "http://localhost.evil.example",
            "null",
            "garbage",
        ] {
            assert!(!origin_allowed(refused, &allowed), "{refused}");
        }
        assert!(origin_allowed("null", &["null".to_string()]));
    }

    #[test]
    fn only_loopback_hosts_on_a_loopback_listener() {
        let with = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, host.parse().unwrap());
            h
        };
        assert!(check_host(&with("127.0.0.1:8210"), true).is_ok());
        assert!(check_host(&with("localhost"), true).is_ok());
        assert!(check_host(&with("LocalHost:1"), true).is_ok());
        assert!(check_host(&with("[::1]"), true).is_ok());
        assert!(check_host(&with("127.0.0.1.evil.example:80"), true).is_err());
        assert!(check_host(&with("localhost:1:2"), true).is_err());
        assert!(check_host(&with("[::2]:80"), true).is_err());
        assert!(check_host(&with("[::1]:8210"), true).is_ok());
        assert!(check_host(&with("evil.example:8210"), true).is_err());
        assert!(check_host(&with("evil.example:8210"), false).is_ok());
    }

    #[test]
    fn equal_secrets_only() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret!"));
    }
}

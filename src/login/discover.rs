//! Finding an upstream's authorization server, as the MCP authorization specification says:
//! the upstream's 401 (`WWW-Authenticate: Bearer resource_metadata="…", scope="…"`) names its
//! RFC 9728 protected-resource metadata (else the well-known paths under the upstream's URL,
//! then its root); that metadata's `authorization_servers[0]` is the issuer, whose RFC 8414
//! metadata (`oauth-authorization-server`, then OpenID `openid-configuration`, path-inserted
//! and path-appended) names the endpoints. The 2025-03-26 fallbacks apply when the upstream
//! publishes no resource metadata (the issuer is the upstream's origin) and when the issuer
//! publishes no metadata (`/authorize`, `/token`, `/register` at its origin).

use serde::Deserialize;
use url::Url;

use super::LoginError;
use crate::upstream::{display_url, metadata_urls};

/// What the login needs to know about the upstream and its authorization server.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub issuer: Url,
    pub metadata: ServerMetadata,
    /// RFC 8707 resource to ask tokens for.
    pub resource: Url,
    /// Scopes the upstream asks for: its 401's `scope`, else its metadata's `scopes_supported`.
    pub scopes: Option<String>,
}

/// RFC 8414 metadata, the parts a login uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerMetadata {
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    #[serde(default)]
    pub registration_endpoint: Option<Url>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub client_id_metadata_document_supported: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ResourceMetadata {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    authorization_servers: Vec<Url>,
    #[serde(default)]
    scopes_supported: Option<Vec<String>>,
}

/// The challenge of the upstream's 401, if it sent one.
#[derive(Debug, Default, PartialEq)]
struct Challenge {
    resource_metadata: Option<String>,
    scope: Option<String>,
}

/// Discovers from `upstream` (its MCP URL); `issuer`, when configured, skips the resource
/// metadata's choice.
pub async fn discover(
    http: &reqwest::Client,
    upstream: &Url,
    issuer: Option<&Url>,
) -> Result<Discovered, LoginError> {
    let challenge = challenge(http, upstream).await;
    let mut candidates = Vec::new();
    if let Some(u) = challenge
        .resource_metadata
        .as_deref()
        .and_then(|u| upstream.join(u).ok())
    {
        candidates.push(u);
    }
    candidates.extend(well_known(upstream, "oauth-protected-resource"));
    let mut prm = None;
    for url in candidates {
        if let Some(found) = get_json::<ResourceMetadata>(http, &url).await {
            prm = Some(found);
            break;
        }
    }
    let resource = match prm.as_ref().and_then(|p| p.resource.as_deref()) {
        Some(r) => {
            let r = Url::parse(r).map_err(|_| LoginError::ResourceMismatch {
                upstream: display_url(upstream),
                resource: r.to_string(),
            })?;
            if !covers(&r, upstream) {
                return Err(LoginError::ResourceMismatch {
                    upstream: display_url(upstream),
                    resource: display_url(&r),
                });
            }
            r
        }
        None => upstream.clone(),
    };
    let issuer = match (issuer, prm.as_ref()) {
        (Some(i), _) => i.clone(),
        (None, Some(p)) if !p.authorization_servers.is_empty() => {
            p.authorization_servers[0].clone()
        }
        // 2025-03-26: the upstream's own origin is the authorization server.
        _ => origin(upstream),
    };
    let metadata = server_metadata(http, &issuer).await?;
    let scopes = challenge.scope.or_else(|| {
        prm.and_then(|p| p.scopes_supported)
            .filter(|s| !s.is_empty())
            .map(|s| s.join(" "))
    });
    Ok(Discovered {
        issuer,
        metadata,
        resource,
        scopes,
    })
}

/// The upstream's answer to an unauthenticated `initialize`: its `WWW-Authenticate` challenge.
async fn challenge(http: &reqwest::Client, upstream: &Url) -> Challenge {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "mcp2", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let answer = http
        .post(upstream.as_str())
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await;
    answer
        .ok()
        .and_then(|r| {
            r.headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(parse_challenge)
        })
        .unwrap_or_default()
}

/// `Bearer resource_metadata="…", scope="…"`: the two parameters a login uses.
fn parse_challenge(header: &str) -> Challenge {
    let mut out = Challenge::default();
    let Some(params) = header
        .trim()
        .strip_prefix("Bearer")
        .or_else(|| header.trim().strip_prefix("bearer"))
    else {
        return out;
    };
    let mut rest = params.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((v, next)) => (v, next),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        match key.to_ascii_lowercase().as_str() {
            "resource_metadata" => out.resource_metadata = Some(value.to_string()),
            "scope" => out.scope = Some(value.to_string()),
            _ => {}
        }
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// RFC 8414 (then OpenID) metadata of `issuer`; none at all: the 2025-03-26 default endpoints.
async fn server_metadata(
    http: &reqwest::Client,
    issuer: &Url,
) -> Result<ServerMetadata, LoginError> {
    for url in &metadata_urls(issuer) {
        if let Some(found) = get_json::<ServerMetadata>(http, url).await {
            return Ok(found);
        }
    }
    let base = origin(issuer);
    let at = |p: &str| {
        base.join(p)
            .map_err(|_| LoginError::NoMetadata(display_url(issuer)))
    };
    Ok(ServerMetadata {
        authorization_endpoint: at("/authorize")?,
        token_endpoint: at("/token")?,
        registration_endpoint: Some(at("/register")?),
        token_endpoint_auth_methods_supported: None,
        code_challenge_methods_supported: None,
        scopes_supported: None,
        client_id_metadata_document_supported: None,
    })
}

/// `/.well-known/NAME/PATH` (path inserted) then `/.well-known/NAME` at the root.
fn well_known(base: &Url, name: &str) -> Vec<Url> {
    let path = base.path().trim_end_matches('/');
    let mut out = Vec::new();
    for p in [
        format!("/.well-known/{name}{path}"),
        format!("/.well-known/{name}"),
    ] {
        let mut u = base.clone();
        u.set_path(&p);
        u.set_query(None);
        u.set_fragment(None);
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

fn origin(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_path("/");
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// Whether tokens for `resource` may be sent to `upstream`: same origin, and a path prefix.
fn covers(resource: &Url, upstream: &Url) -> bool {
    let prefix = resource.path().trim_end_matches('/');
    resource.origin() == upstream.origin()
        && upstream.path().starts_with(prefix)
        && matches!(
            upstream.path()[prefix.len()..].chars().next(),
            None | Some('/')
        )
}

/// A JSON document at `url`, when it answers 2xx with one.
async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &Url) -> Option<T> {
    let response = http.get(url.as_str()).send().await.ok()?;
    if !response.status().is_success() {
        tracing::debug!(url = %display_url(url), status = response.status().as_u16(), "no metadata here");
        return None;
    }
    response.json().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_gives_its_metadata_url_and_scope() {
        let c = parse_challenge(
            r#"Bearer error="invalid_token", resource_metadata="http://h/.well-known/oauth-protected-resource/mcp", scope="a b""#,
        );
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("http://h/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c.scope.as_deref(), Some("a b"));
        assert_eq!(parse_challenge("Basic realm=x"), Challenge::default());
    }

    #[test]
    fn well_known_paths_insert_the_path_then_try_the_root() {
        let u = Url::parse("http://h:1/a/mcp").expect("url");
        let found: Vec<String> = well_known(&u, "oauth-protected-resource")
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(
            found,
            [
                "http://h:1/.well-known/oauth-protected-resource/a/mcp",
                "http://h:1/.well-known/oauth-protected-resource"
            ]
        );
    }

    #[test]
    fn a_resource_covers_its_own_url_and_paths_below_it_only() {
        let u = |s: &str| Url::parse(s).expect("url");
        assert!(covers(&u("http://h/mcp"), &u("http://h/mcp")));
        assert!(covers(&u("http://h/"), &u("http://h/mcp")));
        assert!(!covers(&u("http://h/mc"), &u("http://h/mcp")));
        assert!(!covers(&u("http://other/mcp"), &u("http://h/mcp")));
    }
}

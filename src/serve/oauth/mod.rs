//! mcp2 as an OAuth 2.1 protected resource (the MCP authorization specification, RFC 9728).
//!
//! For an endpoint with `auth oauth NAME`, a request must carry `Authorization: Bearer <token>`
//! with an access token of that authorization server, issued for this endpoint's resource URI.
//! Without one the answer is 401 with `WWW-Authenticate: Bearer resource_metadata="…"`, pointing
//! at the protected-resource metadata served here ([`metadata`]), from which clients discover
//! the authorization server; a token that fails gets the same with `error="invalid_token"`, one
//! lacking the configured scopes 403 `insufficient_scope`. Static API keys of the same endpoint
//! keep working beside tokens. The verified identity goes into the request's extensions as an
//! [`Identity`], which the hub session turns into the `Caller` rules see; it keeps the token
//! itself (a `Secret`) for upstreams that propagate the caller's identity.
//!
//! [`Verifiers`] keeps one [`token::Verifier`] (and its key cache) per `oauth` block across
//! reloads, as long as the block is unchanged.

pub mod jwks;
pub mod token;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::guard::constant_time_eq;
use crate::plan::authz::Identity;
use crate::plan::{Endpoint, EndpointAuth, OAuthSpec};
use token::{TokenError, Verifier};

/// The well-known path of protected-resource metadata (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// One verifier per `oauth` block, reused while the block is unchanged.
pub struct Verifiers {
    by_name: Mutex<HashMap<String, Arc<Verifier>>>,
    http: reqwest::Client,
}

impl Default for Verifiers {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            by_name: Mutex::new(HashMap::new()),
            http,
        }
    }
}

impl Verifiers {
    fn get(&self, spec: &Arc<OAuthSpec>) -> Arc<Verifier> {
        let mut map = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&spec.name) {
            Some(v) if *v.spec == **spec => v.clone(),
            _ => {
                let v = Arc::new(Verifier::new(spec.clone(), self.http.clone()));
                map.insert(spec.name.clone(), v.clone());
                v
            }
        }
    }
}

/// Why a request was refused, for the audit trail.
#[derive(Debug)]
pub struct Refused {
    pub response: Response,
    pub reason: String,
}

/// The resource URI of an endpoint: the `oauth` block's `resource`, else the endpoint's URL on
/// the listen address.
pub fn resource_uri(spec: &OAuthSpec, endpoint: &Endpoint, listen: SocketAddr) -> String {
    match &spec.resource {
        Some(r) => r.to_string(),
        None => format!("http://{listen}{}", endpoint.path),
    }
}

/// Where the endpoint's metadata is served: the well-known path with the resource's path after
/// it, on the resource's origin.
pub fn metadata_url(resource: &str) -> String {
    match url::Url::parse(resource) {
        Ok(u) => {
            let path = u.path().trim_end_matches('/');
            format!("{}{METADATA_PATH}{path}", u.origin().ascii_serialization())
        }
        Err(_) => METADATA_PATH.to_string(),
    }
}

/// Checks the request's credential against the endpoint's `auth` list. `Ok` carries who the
/// caller is (anonymous when the endpoint asks for nothing).
pub async fn authenticate(
    headers: &HeaderMap,
    endpoint: &Endpoint,
    listen: SocketAddr,
    verifiers: &Verifiers,
) -> Result<Identity, Refused> {
    if endpoint.auth.is_empty() {
        return Ok(Identity::default());
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let api_key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    // Static secrets first: cheap, and a static bearer secret is not a JWT.
    for auth in &endpoint.auth {
        match auth {
            EndpointAuth::Key { name, secret } => {
                if api_key
                    .is_some_and(|k| constant_time_eq(k.as_bytes(), secret.expose().as_bytes()))
                {
                    return Ok(Identity::from_parts(None, Some(name)));
                }
            }
            EndpointAuth::Bearer { secret } => {
                if bearer
                    .is_some_and(|k| constant_time_eq(k.as_bytes(), secret.expose().as_bytes()))
                {
                    return Ok(Identity::from_parts(None, Some("bearer")));
                }
            }
            EndpointAuth::OAuth(_) => {}
        }
    }
    let oauth = endpoint.auth.iter().find_map(|a| match a {
        EndpointAuth::OAuth(spec) => Some(spec),
        _ => None,
    });
    let Some(spec) = oauth else {
        return Err(static_refusal(
            endpoint,
            bearer.is_some() || api_key.is_some(),
        ));
    };
    let resource = resource_uri(spec, endpoint, listen);
    let challenge_base = format!("Bearer resource_metadata=\"{}\"", metadata_url(&resource));
    let Some(token) = bearer else {
        let reason = if api_key.is_some() {
            "an API key that is not valid here"
        } else {
            "no access token"
        };
        return Err(refusal(
            StatusCode::UNAUTHORIZED,
            &challenge_base,
            reason,
            endpoint,
        ));
    };
    match verifiers.get(spec).verify(token, &resource).await {
        Ok(claims) => Ok(Identity::from_parts(Some(claims), None).with_token(token)),
        Err(TokenError::InsufficientScope(missing)) => {
            let challenge = format!(
                "{challenge_base}, error=\"insufficient_scope\", scope=\"{}\"",
                missing.join(" ")
            );
            Err(refusal(
                StatusCode::FORBIDDEN,
                &challenge,
                &format!("token lacks scope {}", missing.join(" ")),
                endpoint,
            ))
        }
        Err(TokenError::Invalid(why)) => {
            let challenge = format!(
                "{challenge_base}, error=\"invalid_token\", error_description=\"{}\"",
                why.replace(['"', '\\'], "'")
            );
            Err(refusal(
                StatusCode::UNAUTHORIZED,
                &challenge,
                &why,
                endpoint,
            ))
        }
        Err(TokenError::Unavailable(why)) => {
            tracing::warn!(endpoint = %endpoint.path, error = %why, "cannot check access tokens");
            let mut r = refusal(StatusCode::SERVICE_UNAVAILABLE, "", &why, endpoint);
            r.response.headers_mut().remove(header::WWW_AUTHENTICATE);
            Err(r)
        }
    }
}

/// The RFC 9728 document for an endpoint with `auth oauth`.
pub fn metadata(spec: &OAuthSpec, endpoint: &Endpoint, listen: SocketAddr) -> serde_json::Value {
    let issuer = spec.issuer.as_str();
    let issuer = if spec.issuer.path() == "/" {
        issuer.trim_end_matches('/')
    } else {
        issuer
    };
    let mut doc = serde_json::json!({
        "resource": resource_uri(spec, endpoint, listen),
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": format!("mcp2 {}", endpoint.path),
    });
    if !spec.scopes.is_empty() {
        doc["scopes_supported"] = serde_json::json!(spec.scopes);
    }
    doc
}

/// The endpoint whose metadata a well-known path asks for: `…/oauth-protected-resource/mcp`
/// names the endpoint `/mcp`; the bare path names the only (or first) OAuth endpoint.
pub fn metadata_endpoint<'p>(
    endpoints: &'p [Endpoint],
    path: &str,
    listen: SocketAddr,
) -> Option<(&'p Endpoint, &'p Arc<OAuthSpec>)> {
    let rest = path.strip_prefix(METADATA_PATH)?;
    endpoints.iter().find_map(|e| {
        let spec = e.auth.iter().find_map(|a| match a {
            EndpointAuth::OAuth(s) => Some(s),
            _ => None,
        })?;
        let own = url::Url::parse(&resource_uri(spec, e, listen))
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        (rest.is_empty() || rest == e.path || rest == own).then_some((e, spec))
    })
}

fn static_refusal(endpoint: &Endpoint, presented: bool) -> Refused {
    let challenge = if endpoint
        .auth
        .iter()
        .any(|a| matches!(a, EndpointAuth::Bearer { .. }))
    {
        "Bearer"
    } else {
        "X-API-Key"
    };
    let reason = if presented {
        "a credential that is not valid here"
    } else {
        "no credential"
    };
    refusal(StatusCode::UNAUTHORIZED, challenge, reason, endpoint)
}

fn refusal(status: StatusCode, challenge: &str, reason: &str, endpoint: &Endpoint) -> Refused {
    tracing::info!(endpoint = %endpoint.path, %status, reason, "request refused");
    let message = match status {
        StatusCode::FORBIDDEN => format!("endpoint {} needs more scope: {reason}", endpoint.path),
        StatusCode::SERVICE_UNAVAILABLE => "access tokens cannot be checked right now".to_string(),
        _ => format!("endpoint {} needs a credential ({reason})", endpoint.path),
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32600, "message": message },
    });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(challenge)
        && !challenge.is_empty()
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    Refused {
        response,
        reason: reason.to_string(),
    }
}

//! What an endpoint requires of its callers, and where the audit trail goes.
//!
//! An endpoint may accept several credentials at once (`auth key …` lines beside one
//! `auth oauth NAME`); the first that a request carries is checked, and a request with none of
//! them is refused. [`OAuthSpec`] describes an authorization server whose JWT access tokens (or
//! opaque tokens, through introspection) the endpoint accepts, as a protected resource in the
//! sense of RFC 9728. The runtime that validates tokens lives in `serve::oauth`; this module only
//! holds the compiled settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use url::Url;

use super::Secret;
use crate::source::Location;

/// One credential an endpoint accepts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EndpointAuth {
    /// `Authorization: Bearer <secret>` (`auth bearer "…"`); the caller's key name is `bearer`.
    Bearer { secret: Secret },
    /// `X-API-Key: <secret>` (`auth key NAME "…"`; `NAME` defaults to `key`).
    Key { name: String, secret: Secret },
    /// JWT or introspected access tokens from an authorization server (`auth oauth NAME`).
    OAuth(Arc<OAuthSpec>),
}

impl EndpointAuth {
    pub fn kind(&self) -> &'static str {
        match self {
            EndpointAuth::Bearer { .. } => "bearer",
            EndpointAuth::Key { .. } => "key",
            EndpointAuth::OAuth(_) => "oauth",
        }
    }
}

/// An authorization server whose access tokens an endpoint accepts (`oauth NAME { … }`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OAuthSpec {
    pub name: String,
    /// The `iss` every token must carry; also where metadata is discovered.
    pub issuer: Url,
    /// The JWKS document; `None`: `jwks_uri` from the issuer's metadata
    /// (`/.well-known/oauth-authorization-server`, then `/.well-known/openid-configuration`).
    pub jwks: Option<Url>,
    /// The resource URI tokens must name in `aud` (RFC 8707); `None`: the endpoint's URL on the
    /// listen address (`http://127.0.0.1:8210/mcp`).
    pub resource: Option<Url>,
    /// Slack allowed on `exp` and `nbf`.
    #[serde(serialize_with = "millis")]
    pub leeway: Duration,
    /// Scopes every token must grant; a token without them gets 403 `insufficient_scope`.
    pub scopes: Vec<String>,
    /// RFC 7662 introspection for tokens that are not JWTs.
    pub introspection: Option<Introspection>,
    pub origin: Location,
}

impl OAuthSpec {
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Introspection {
    pub url: Url,
    pub client_id: String,
    pub client_secret: Secret,
}

/// Where audit records go (`audit { … }`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditSettings {
    pub sink: AuditSink,
    pub origin: Location,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AuditSink {
    Stdout,
    /// JSON lines, rotated like the log file.
    File {
        path: PathBuf,
        max_size_mb: u64,
        max_backups: u64,
    },
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{}ms", d.as_millis()))
}

//! How mcp2 obtains credentials for one upstream beyond static headers (`auth oauth …` in an
//! upstream block): the checked form of [`crate::syntax::ast::UpstreamAuth`]. The upstream layer
//! (`upstream::oauth`) turns it into tokens; nothing here talks to the network.

use std::hash::{Hash, Hasher};

use serde::Serialize;
use url::Url;

use super::Secret;

/// Credentials for one upstream. Serialized (for `/_mcp2/config` and `explain`) with every
/// secret redacted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "flow", rename_all = "kebab-case")]
pub enum UpstreamAuthSpec {
    /// OAuth 2.1 client credentials: mcp2 fetches an access token from the token endpoint with
    /// its own client id and secret, caches it until shortly before it expires, and sends it as
    /// `Authorization: Bearer` on every request to the upstream.
    ClientCredentials(ClientCredentials),
}

/// `auth oauth client-credentials …`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientCredentials {
    /// Where the token comes from: a configured token endpoint, or the issuer whose RFC 8414
    /// metadata names it.
    pub token: TokenEndpoint,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes asked for (none: the server's default).
    pub scopes: Vec<String>,
    /// `audience` parameter of the token request.
    pub audience: Option<String>,
    /// RFC 8707 `resource` parameter of the token request.
    pub resource: Option<String>,
}

/// Where an access token is requested.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum TokenEndpoint {
    /// `token-url "…"`.
    Url(Url),
    /// `issuer "…"`: the token endpoint is read from the issuer's
    /// `/.well-known/oauth-authorization-server` (or `openid-configuration`) metadata.
    Issuer(Url),
}

impl UpstreamAuthSpec {
    /// One line for `explain`: the flow and where tokens come from, never a secret.
    pub fn summary(&self) -> String {
        match self {
            UpstreamAuthSpec::ClientCredentials(cc) => {
                let from = match &cc.token {
                    TokenEndpoint::Url(u) => format!("token endpoint {u}"),
                    TokenEndpoint::Issuer(u) => format!("issuer {u}"),
                };
                format!(
                    "OAuth client credentials (client `{}`, secret {}) from {from}",
                    cc.client_id,
                    cc.client_secret.redacted()
                )
            }
        }
    }
}

impl Hash for UpstreamAuthSpec {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            UpstreamAuthSpec::ClientCredentials(cc) => {
                "client-credentials".hash(h);
                cc.token.hash(h);
                cc.client_id.hash(h);
                cc.client_secret.expose().hash(h);
                cc.scopes.hash(h);
                cc.audience.hash(h);
                cc.resource.hash(h);
            }
        }
    }
}

//! How mcp2 obtains credentials for one upstream beyond static headers (`auth oauth …` in an
//! upstream block): the checked form of [`crate::syntax::ast::UpstreamAuth`]. The upstream layer
//! (`upstream::oauth`, `upstream::delegated`, `upstream::propagate`) turns it into tokens;
//! nothing here talks to the network. `authorization-code` sends a user's tokens, stored by
//! `mcp2 login`. Two flows propagate the caller's identity instead of mcp2's own: `pass-through`
//! (the caller's validated access token, unchanged) and `token-exchange` (RFC 8693: the
//! caller's token exchanged for one scoped to the upstream).

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

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
    /// OAuth 2.1 authorization code with PKCE, for a user-delegated upstream: `mcp2 login`
    /// stores the user's tokens in [`AuthorizationCode::token_file`]; serving reads them and
    /// renews the access token with the refresh token.
    AuthorizationCode(AuthorizationCode),
    /// The caller's own validated access token, sent unchanged (the upstream trusts the same
    /// issuer). Needs a downstream `auth oauth` endpoint and `session per-client`.
    PassThrough,
    /// RFC 8693 token exchange: the caller's access token is exchanged, with mcp2's client
    /// credentials, for a token scoped to the upstream; only that one is sent. Needs a
    /// downstream `auth oauth` endpoint and `session per-client`.
    TokenExchange(TokenExchange),
}

/// `auth oauth authorization-code …`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// The authorization server; `None`: discovered from the upstream (its 401's
    /// `resource_metadata`, RFC 9728).
    pub issuer: Option<Url>,
    /// A client registered beforehand; `None`: registered by `mcp2 login` (RFC 7591).
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// `client-metadata-url`: the HTTPS URL of this client's published metadata document, used
    /// as the client id where the server supports Client ID Metadata Documents (else the login
    /// registers a client).
    pub client_metadata_url: Option<Url>,
    /// Scopes asked for (none: what the upstream's metadata asks for, else the server's default).
    pub scopes: Vec<String>,
    /// Where `mcp2 login` stores the tokens (and a registered client), mode 0600.
    pub token_file: PathBuf,
}

/// `auth oauth token-exchange …`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
pub struct TokenExchange {
    /// Where the exchange is requested.
    pub token: TokenEndpoint,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes asked for (none: the server's default).
    pub scopes: Vec<String>,
    /// `audience` parameter of the exchange (the upstream, as the server names it).
    pub audience: Option<String>,
    /// RFC 8707 `resource` parameter of the exchange.
    pub resource: Option<String>,
    /// `requested_token_type` (none: the server's default, normally an access token).
    pub requested_token_type: Option<String>,
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
            UpstreamAuthSpec::AuthorizationCode(ac) => {
                let from = match &ac.issuer {
                    Some(u) => format!("issuer {u}"),
                    None => "the authorization server the upstream names".to_string(),
                };
                let client = match (&ac.client_id, &ac.client_secret) {
                    (Some(id), Some(s)) => format!("client `{id}`, secret {}", s.redacted()),
                    (Some(id), None) => format!("client `{id}`"),
                    _ => match &ac.client_metadata_url {
                        Some(u) => {
                            format!("client metadata document {u}, else a registered client")
                        }
                        None => "a dynamically registered client".to_string(),
                    },
                };
                format!(
                    "OAuth authorization code ({client}) from {from}; tokens in {} (`mcp2 login`)",
                    ac.token_file.display()
                )
            }
            UpstreamAuthSpec::PassThrough => {
                "identity propagation: the caller's own access token, passed through unchanged"
                    .to_string()
            }
            UpstreamAuthSpec::TokenExchange(te) => {
                let from = match &te.token {
                    TokenEndpoint::Url(u) => format!("token endpoint {u}"),
                    TokenEndpoint::Issuer(u) => format!("issuer {u}"),
                };
                let target = te
                    .audience
                    .as_deref()
                    .or(te.resource.as_deref())
                    .map(|a| format!(" for `{a}`"))
                    .unwrap_or_default();
                format!(
                    "identity propagation: the caller's access token exchanged (RFC 8693){target} \
                     at {from} (client `{}`, secret {}); the caller's token is never sent",
                    te.client_id,
                    te.client_secret.redacted()
                )
            }
        }
    }

    /// Whether the upstream gets the caller's identity (`pass-through`, `token-exchange`):
    /// such an upstream needs an authenticated caller and a connection per client.
    pub fn propagates(&self) -> bool {
        matches!(
            self,
            UpstreamAuthSpec::PassThrough | UpstreamAuthSpec::TokenExchange(_)
        )
    }

    /// The flow as written in the routes.
    pub fn flow(&self) -> &'static str {
        match self {
            UpstreamAuthSpec::ClientCredentials(_) => "client-credentials",
            UpstreamAuthSpec::AuthorizationCode(_) => "authorization-code",
            UpstreamAuthSpec::PassThrough => "pass-through",
            UpstreamAuthSpec::TokenExchange(_) => "token-exchange",
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
            UpstreamAuthSpec::AuthorizationCode(ac) => {
                "authorization-code".hash(h);
                ac.issuer.hash(h);
                ac.client_id.hash(h);
                ac.client_secret.as_ref().map(|s| s.expose()).hash(h);
                ac.client_metadata_url.hash(h);
                ac.scopes.hash(h);
                ac.token_file.hash(h);
            }
            UpstreamAuthSpec::PassThrough => "pass-through".hash(h),
            UpstreamAuthSpec::TokenExchange(te) => {
                "token-exchange".hash(h);
                te.hash(h);
            }
        }
    }
}

//! Access tokens mcp2 sends to an upstream with `auth oauth …`: [`TokenSource`] is what the
//! transports ask, for tokens of mcp2's own client ([`ClientTokens`], here: client credentials,
//! or `authorization-code` tokens `mcp2 login` stored, see [`super::delegated`]) or for the
//! caller's identity (`pass-through`, `token-exchange`: `super::propagate`).
//!
//! For mcp2's own client, one token source per connection, kept across its reconnects. A token
//! is cached until shortly before it expires (a fifth of its lifetime, at most 30 s, early),
//! then fetched again; concurrent callers wait for one
//! fetch. After the upstream answers 401, [`TokenSource::refresh`] drops the token that was
//! refused (only that one: a newer token fetched meanwhile is kept) and fetches another; the
//! transports retry the request once with it.
//!
//! The token request is made by the `oauth2` crate over our `reqwest`, never following
//! redirects. The client secret and the tokens never reach a log line or an error: errors name
//! the token endpoint, the HTTP status and the server's OAuth error code only.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::error::display_url;
use super::tokenfile::TokenFileError;
use crate::plan::{
    AuthorizationCode, ClientCredentials, TokenEndpoint, UpstreamAuthSpec, UpstreamId,
};

/// The longest a token is renewed before it expires.
const MAX_MARGIN: Duration = Duration::from_secs(30);
/// Bounds one token (or metadata) request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Why no token could be obtained. Never holds a secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token request to {endpoint} failed: {reason}")]
    Request { endpoint: String, reason: String },
    #[error("token endpoint {endpoint} refused the request: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        endpoint: String,
        code: String,
        description: Option<String>,
    },
    #[error("could not find the token endpoint of issuer {issuer}: {reason}")]
    Discovery { issuer: String, reason: String },
    /// A propagating upstream reached without a caller's validated access token.
    #[error(
        "upstream `{upstream}` needs the caller's access token (`{flow}`), and this connection has none"
    )]
    NoCallerToken {
        upstream: String,
        flow: &'static str,
    },
    /// `pass-through`: the upstream refused the caller's own token.
    #[error(
        "upstream `{upstream}` refused the caller's access token (pass-through); mcp2 cannot renew \
         it: the client must obtain a new token from its authorization server"
    )]
    CallerTokenRefused { upstream: String },
    /// No token file, or tokens that can no longer be renewed.
    #[error("upstream `{upstream}` needs a login: {reason}; run `mcp2 login ROUTES {upstream}`")]
    LoginNeeded { upstream: String, reason: String },
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
}

/// What the transports ask for the `Authorization: Bearer` of an upstream with `auth oauth …`.
pub(crate) enum TokenSource {
    /// mcp2's own client's token (client credentials, or a user's from `mcp2 login`).
    Client(ClientTokens),
    /// The caller's identity (pass-through or token exchange).
    Caller(super::propagate::CallerTokens),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Client(c) => c.fmt(f),
            TokenSource::Caller(c) => c.fmt(f),
        }
    }
}

impl TokenSource {
    /// The token source for a connection to `upstream`; `caller` is the newest validated token
    /// of the client a `session per-client` connection was opened for (`None` for the shared
    /// connection, which a propagating upstream never authenticates).
    pub(crate) fn new(
        upstream: UpstreamId,
        spec: &UpstreamAuthSpec,
        caller: Option<super::propagate::CallerToken>,
    ) -> Self {
        match spec {
            UpstreamAuthSpec::ClientCredentials(cc) => TokenSource::Client(ClientTokens::new(
                upstream,
                Grant::ClientCredentials(cc.clone()),
            )),
            UpstreamAuthSpec::AuthorizationCode(ac) => {
                TokenSource::Client(ClientTokens::new(upstream, Grant::Stored(ac.clone())))
            }
            UpstreamAuthSpec::PassThrough | UpstreamAuthSpec::TokenExchange(_) => {
                TokenSource::Caller(super::propagate::CallerTokens::new(upstream, spec, caller))
            }
        }
    }

    /// Whether this propagates a caller's identity but has no caller (the registry's shared
    /// connection of such an upstream, which therefore never connects).
    pub(crate) fn lacks_caller(&self) -> bool {
        matches!(self, TokenSource::Caller(c) if !c.has_caller())
    }

    /// Whether the tokens come from `mcp2 login` (so a wider scope means logging in again).
    pub(crate) fn is_delegated(&self) -> bool {
        matches!(self, TokenSource::Client(c) if c.is_delegated())
    }

    /// A token to send now.
    pub(crate) async fn token(&self) -> Result<Arc<str>, TokenError> {
        match self {
            TokenSource::Client(c) => c.token().await,
            TokenSource::Caller(c) => c.token().await,
        }
    }

    /// The upstream refused `stale` (HTTP 401): a token other than it, or why there is none.
    pub(crate) async fn refresh(&self, stale: &str) -> Result<Arc<str>, TokenError> {
        match self {
            TokenSource::Client(c) => c.refresh(stale).await,
            TokenSource::Caller(c) => c.refresh(stale).await,
        }
    }
}

pub(super) struct Cached {
    pub(super) token: Arc<str>,
    /// When to fetch a new one; `None` when the server gave no lifetime (kept until a 401).
    pub(super) renew_at: Option<Instant>,
}

impl Cached {
    pub(super) fn fresh(&self) -> bool {
        self.renew_at.is_none_or(|at| Instant::now() < at)
    }
}

/// How [`ClientTokens`] obtains tokens.
enum Grant {
    ClientCredentials(ClientCredentials),
    /// Read from `mcp2 login`'s token file, renewed with its refresh token.
    Stored(AuthorizationCode),
}

/// mcp2's own client's tokens (client credentials, or stored by `mcp2 login`); see the module
/// docs.
pub(crate) struct ClientTokens {
    upstream: UpstreamId,
    grant: Grant,
    cached: Mutex<Option<Cached>>,
    /// The token endpoint once discovered from the issuer.
    endpoint: Mutex<Option<Url>>,
}

impl std::fmt::Debug for ClientTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTokens")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl ClientTokens {
    fn new(upstream: UpstreamId, grant: Grant) -> Self {
        ClientTokens {
            upstream,
            grant,
            cached: Mutex::new(None),
            endpoint: Mutex::new(None),
        }
    }

    /// A token to send now: the cached one while it is fresh, else a new one.
    pub(crate) async fn token(&self) -> Result<Arc<str>, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.fresh()
        {
            return Ok(c.token.clone());
        }
        let stale = cached.take().map(|c| c.token);
        let fresh = self.fetch(stale.as_deref()).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Whether the tokens come from `mcp2 login` (so a wider scope means logging in again).
    pub(crate) fn is_delegated(&self) -> bool {
        matches!(self.grant, Grant::Stored(_))
    }

    /// The upstream refused `stale` (HTTP 401): a token other than it.
    pub(crate) async fn refresh(&self, stale: &str) -> Result<Arc<str>, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && &*c.token != stale
        {
            return Ok(c.token.clone());
        }
        tracing::info!(upstream = %self.upstream, "upstream refused its access token; fetching a new one");
        *cached = None;
        let fresh = self.fetch(Some(stale)).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// A new token; `stale`, the one just dropped, is not reused.
    async fn fetch(&self, stale: Option<&str>) -> Result<Cached, TokenError> {
        let spec = match &self.grant {
            Grant::ClientCredentials(cc) => cc,
            Grant::Stored(ac) => {
                let started = Instant::now();
                let (token, lifetime) = super::delegated::fetch(&self.upstream, ac, stale).await?;
                return Ok(Cached {
                    token,
                    renew_at: lifetime.map(|l| started + l - margin(l)),
                });
            }
        };
        let endpoint = token_endpoint(&spec.token, &self.endpoint).await?;
        let shown = display_url(&endpoint);
        let failed = |reason: String| TokenError::Request {
            endpoint: shown.clone(),
            reason,
        };
        let http = http_client().map_err(|e| failed(e.to_string()))?;
        let client = BasicClient::new(ClientId::new(spec.client_id.clone()))
            .set_client_secret(ClientSecret::new(spec.client_secret.expose().to_string()))
            .set_token_uri(TokenUrl::from_url(endpoint.clone()));
        let mut request = client.exchange_client_credentials();
        for scope in &spec.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(audience) = &spec.audience {
            request = request.add_extra_param("audience", audience.clone());
        }
        if let Some(resource) = &spec.resource {
            request = request.add_extra_param("resource", resource.clone());
        }
        let send = |req: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send(&http, req).await }
        };
        let started = Instant::now();
        let response = request
            .request_async(&send)
            .await
            .map_err(|e| token_error(&shown, e))?;
        let lifetime = response.expires_in();
        tracing::info!(
            upstream = %self.upstream,
            token_endpoint = %shown,
            expires_in_s = lifetime.map(|d| d.as_secs()),
            "fetched an access token for the upstream"
        );
        Ok(Cached {
            token: Arc::from(response.access_token().secret().as_str()),
            renew_at: lifetime.map(|l| started + l - margin(l)),
        })
    }
}

/// The token endpoint `token` names, discovered (once, remembered in `known`) from an issuer.
pub(super) async fn token_endpoint(
    token: &TokenEndpoint,
    known: &Mutex<Option<Url>>,
) -> Result<Url, TokenError> {
    let issuer = match token {
        TokenEndpoint::Url(u) => return Ok(u.clone()),
        TokenEndpoint::Issuer(i) => i,
    };
    let mut known = known.lock().await;
    if let Some(u) = known.as_ref() {
        return Ok(u.clone());
    }
    let found = discover(issuer)
        .await
        .map_err(|reason| TokenError::Discovery {
            issuer: display_url(issuer),
            reason,
        })?;
    *known = Some(found.clone());
    Ok(found)
}

/// How long before expiry a token is renewed.
pub(super) fn margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(MAX_MARGIN)
}

/// The error a token request ended with. The response body may hold a token: never quoted.
pub(crate) fn token_error<E: std::error::Error>(
    endpoint: &str,
    e: RequestTokenError<E, BasicErrorResponse>,
) -> TokenError {
    let failed = |reason: String| TokenError::Request {
        endpoint: endpoint.to_string(),
        reason,
    };
    match e {
        RequestTokenError::ServerResponse(r) => TokenError::Refused {
            endpoint: endpoint.to_string(),
            code: r.error().to_string(),
            description: r.error_description().cloned(),
        },
        RequestTokenError::Request(e) => failed(e.to_string()),
        RequestTokenError::Parse(e, _) => {
            failed(format!("unreadable token response ({})", e.path()))
        }
        RequestTokenError::Other(s) => failed(s),
    }
}

/// The HTTP client of every OAuth request mcp2 makes (token, discovery, registration): built
/// once, so token requests share its connection pool and TLS set-up. No redirects followed.
pub(crate) fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let built = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    Ok(CLIENT.get_or_init(|| built).clone())
}

/// One request of the `oauth2` crate, sent with `reqwest`.
pub(crate) async fn send(
    http: &reqwest::Client,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let req = reqwest::Request::try_from(req)?;
    let response = http.execute(req).await?;
    let mut out = http::Response::builder().status(response.status());
    if let Some(headers) = out.headers_mut() {
        *headers = response.headers().clone();
    }
    let body = response.bytes().await?.to_vec();
    // Status and headers came from a valid response, so the builder cannot fail; an empty
    // response is what a broken one would look like anyway.
    Ok(out.body(body).unwrap_or_default())
}

/// RFC 8414 metadata (then OpenID discovery) of `issuer`: its `token_endpoint`.
async fn discover(issuer: &Url) -> Result<Url, String> {
    let http = http_client().map_err(|e| e.to_string())?;
    let mut last = String::new();
    for url in metadata_urls(issuer) {
        let answer = match http.get(url.as_str()).send().await {
            Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await,
            Ok(r) => {
                last = format!(
                    "{} answered HTTP {}",
                    display_url(&url),
                    r.status().as_u16()
                );
                continue;
            }
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let endpoint = answer
            .map_err(|e| e.to_string())?
            .get("token_endpoint")
            .and_then(|v| v.as_str())
            .map(Url::parse);
        return match endpoint {
            Some(Ok(u)) => Ok(u),
            Some(Err(e)) => Err(format!("its `token_endpoint` is not a URL: {e}")),
            None => Err("its metadata names no `token_endpoint`".into()),
        };
    }
    Err(last)
}

/// Where an issuer's metadata may be, in the order the MCP authorization spec asks clients to
/// try: RFC 8414 (the well-known part inserted between host and path), OpenID Connect inserted
/// the same way, then OpenID Connect appended to the path (issuers with a path only). Used by
/// every discovery in mcp2: upstream token endpoints, `mcp2 login`, the downstream JWKS.
pub(crate) fn metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut paths = vec![
        format!("/.well-known/oauth-authorization-server{path}"),
        format!("/.well-known/openid-configuration{path}"),
    ];
    if !path.is_empty() {
        paths.push(format!("{path}/.well-known/openid-configuration"));
    }
    paths
        .into_iter()
        .map(|p| {
            let mut u = issuer.clone();
            u.set_path(&p);
            u.set_query(None);
            u.set_fragment(None);
            u
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_locations_for_issuers_with_and_without_paths() {
        let plain = metadata_urls(&Url::parse("https://as.example").unwrap());
        assert_eq!(
            plain.iter().map(Url::as_str).collect::<Vec<_>>(),
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        let tenant = metadata_urls(&Url::parse("https://as.example/t1").unwrap());
        assert_eq!(
            tenant.iter().map(Url::as_str).collect::<Vec<_>>(),
            [
                "https://as.example/.well-known/oauth-authorization-server/t1",
                "https://as.example/.well-known/openid-configuration/t1",
                "https://as.example/t1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn tokens_are_renewed_a_fifth_of_their_lifetime_early_at_most_thirty_seconds() {
        assert_eq!(margin(Duration::from_secs(5)), Duration::from_secs(1));
        assert_eq!(margin(Duration::from_secs(3600)), MAX_MARGIN);
    }
}

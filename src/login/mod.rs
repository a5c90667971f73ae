//! `mcp2 login`: the OAuth 2.1 authorization-code flow with PKCE for one upstream with
//! `auth oauth authorization-code`, ending in its token file (see
//! [`crate::upstream::tokenfile`]), which serving then reads and renews.
//!
//! | file          | owns                                                                   |
//! |---------------|------------------------------------------------------------------------|
//! | `mod.rs`      | the flow: discover, register, authorize, exchange, store; [`LoginError`] |
//! | `discover.rs` | the upstream's authorization server (RFC 9728, RFC 8414, 2025-03-26 fallbacks) |
//! | `register.rs` | the client: configured, or registered (RFC 7591)                       |
//! | `callback.rs` | the loopback redirect listener and its `state` check                   |
//!
//! The authorization URL carries PKCE S256, a random `state` and the RFC 8707 `resource` (the
//! upstream's). Nothing here prints: the caller shows the URL (and may open it) through the
//! `show` callback. Tokens and client secrets never reach an error or a log line.

mod callback;
mod discover;
mod register;

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use url::Url;

use crate::plan::{TransportSpec, UpstreamAuthSpec, UpstreamSpec};
use crate::upstream::tokenfile::{self, StoredTokens, TokenFileError};
use crate::upstream::{TokenError, display_url, http_client, oauth_client, send, token_error};

pub use discover::Discovered;

/// Why a login failed. Never holds a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("upstream `{0}` has no `auth oauth authorization-code`: nothing to log in to")]
    NotAuthorizationCode(String),
    #[error("upstream `{0}` is a stdio server: only HTTP upstreams take OAuth")]
    NotHttp(String),
    #[error(
        "the upstream's metadata names resource {resource}, which is not {upstream}: refusing to ask tokens for it"
    )]
    ResourceMismatch { upstream: String, resource: String },
    #[error("no usable authorization server metadata for issuer {0}")]
    NoMetadata(String),
    #[error("the authorization server does not support PKCE with S256")]
    NoPkce,
    #[error(
        "the authorization server offers no dynamic client registration: configure `client-id` (and `client-secret` if it has one) in the upstream's `auth oauth authorization-code`"
    )]
    NoRegistration,
    #[error("client registration at {endpoint} failed: {reason}")]
    Registration { endpoint: String, reason: String },
    #[error("cannot listen for the redirect on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    #[error("no redirect came back within {}s", .0.as_secs())]
    Timeout(Duration),
    #[error("the authorization server refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        error: String,
        description: Option<String>,
    },
    #[error(
        "the redirect's `state` does not match this login's: refused (a forged or stale redirect)"
    )]
    StateMismatch,
    #[error("the redirect carries no authorization code")]
    NoCode,
    /// The code exchange failed or was refused (the token endpoint's own words, never a token).
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
}

/// What a login achieved, for the success line.
#[derive(Debug)]
pub struct LoggedIn {
    pub token_file: PathBuf,
    pub issuer: Url,
    /// The client was registered during this login (RFC 7591).
    pub registered: bool,
    pub scope: Option<String>,
    pub refreshable: bool,
}

/// Logs in to `upstream`: `show` gets the authorization URL once the redirect listener is
/// ready; the redirect is awaited at most `timeout`.
pub async fn login(
    upstream: &UpstreamSpec,
    timeout: Duration,
    show: impl FnOnce(&Url),
) -> Result<LoggedIn, LoginError> {
    let name = upstream.id.to_string();
    let Some(UpstreamAuthSpec::AuthorizationCode(spec)) = &upstream.auth else {
        return Err(LoginError::NotAuthorizationCode(name));
    };
    let url = match &upstream.transport {
        TransportSpec::Http { url } | TransportSpec::Sse { url } => url,
        TransportSpec::Stdio { .. } => return Err(LoginError::NotHttp(name)),
    };
    let http = http_client().map_err(|e| TokenError::Request {
        endpoint: display_url(url),
        reason: e.to_string(),
    })?;
    let found = discover::discover(&http, url, spec.issuer.as_ref()).await?;
    let methods = &found.metadata.code_challenge_methods_supported;
    if methods
        .as_ref()
        .is_some_and(|m| !m.iter().any(|m| m == "S256"))
    {
        return Err(LoginError::NoPkce);
    }
    let callback = callback::Callback::bind().await?;
    let redirect = callback.redirect.clone();
    let configured = spec.client_id.clone().map(|id| {
        let secret = spec.client_secret.as_ref().map(|s| s.expose().to_string());
        (id, secret)
    });
    let client = register::client(
        &http,
        &found.metadata,
        configured,
        spec.client_metadata_url.as_ref(),
        &callback.redirect,
    )
    .await?;
    let scope = scope(&spec.scopes, &found);

    let oauth = oauth_client(
        &client.id,
        client.secret.clone(),
        client.auth,
        found.metadata.token_endpoint.clone(),
    )
    .set_auth_uri(AuthUrl::from_url(
        found.metadata.authorization_endpoint.clone(),
    ))
    .set_redirect_uri(RedirectUrl::from_url(callback.redirect.clone()));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = oauth
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("resource", found.resource.as_str());
    for s in scope.iter().flat_map(|s| s.split_whitespace()) {
        request = request.add_scope(Scope::new(s.to_string()));
    }
    let (authorize, state) = request.url();
    show(&authorize);
    let code = callback.code(state.secret(), timeout).await?;

    let endpoint = display_url(&found.metadata.token_endpoint);
    let send = |req: oauth2::HttpRequest| {
        let http = http.clone();
        async move { send(&http, req).await }
    };
    let response = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(redirect)))
        .add_extra_param("resource", found.resource.as_str())
        .request_async(&send)
        .await
        .map_err(|e| LoginError::Token(token_error(&endpoint, e)))?;
    let granted = response
        .scopes()
        .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
        .or(scope);
    let mut stored = StoredTokens {
        issuer: found.issuer.to_string(),
        token_endpoint: found.metadata.token_endpoint.to_string(),
        client_id: client.id.clone(),
        client_secret: client.secret.clone().filter(|_| client.registered),
        client_auth: client.auth,
        resource: Some(found.resource.to_string()),
        scope: granted.clone(),
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|r| r.secret().clone()),
        expires_at: None,
    };
    stored.expires_in(response.expires_in());
    tokenfile::write(&spec.token_file, &stored)?;
    tracing::info!(upstream = %name, issuer = %display_url(&found.issuer), "logged in");
    Ok(LoggedIn {
        token_file: spec.token_file.clone(),
        issuer: found.issuer,
        registered: client.registered,
        scope: granted,
        refreshable: stored.refresh_token.is_some(),
    })
}

/// Scopes to ask for: the configured ones, else what the upstream asks for; with
/// `offline_access` when the server offers it (for a refresh token).
fn scope(configured: &[String], found: &Discovered) -> Option<String> {
    let mut scopes: Vec<String> = if configured.is_empty() {
        found
            .scopes
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    } else {
        configured.to_vec()
    };
    let offers_offline = found
        .metadata
        .scopes_supported
        .as_ref()
        .is_some_and(|s| s.iter().any(|s| s == "offline_access"));
    if offers_offline && !scopes.iter().any(|s| s == "offline_access") {
        scopes.push("offline_access".into());
    }
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(challenge: Option<&str>, offered: &[&str]) -> Discovered {
        let url = |p: &str| Url::parse(&format!("http://as.example{p}")).expect("url");
        Discovered {
            issuer: url("/"),
            metadata: discover::ServerMetadata {
                authorization_endpoint: url("/authorize"),
                token_endpoint: url("/token"),
                registration_endpoint: None,
                token_endpoint_auth_methods_supported: None,
                code_challenge_methods_supported: None,
                scopes_supported: Some(offered.iter().map(|s| s.to_string()).collect()),
                client_id_metadata_document_supported: None,
            },
            resource: url("/mcp"),
            scopes: challenge.map(str::to_string),
        }
    }

    #[test]
    fn configured_scopes_win_then_the_upstreams_and_offline_access_is_added_when_offered() {
        let configured = vec!["notes:read".to_string()];
        assert_eq!(
            scope(&configured, &found(Some("x"), &[])).as_deref(),
            Some("notes:read")
        );
        assert_eq!(scope(&[], &found(Some("a b"), &[])).as_deref(), Some("a b"));
        assert_eq!(
            scope(&[], &found(Some("a"), &["a", "offline_access"])).as_deref(),
            Some("a offline_access")
        );
        assert_eq!(scope(&[], &found(None, &["a"])), None);
    }
}

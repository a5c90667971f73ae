//! Access tokens of an `auth oauth authorization-code` upstream, for its [`TokenSource`]
//! (which caches them and retries a 401 once, as for client credentials).
//!
//! The tokens come from the token file `mcp2 login` wrote. Its access token is used while it
//! is fresh; an expired one (or one the upstream refused) is renewed with the refresh token
//! (`refresh_token` grant, RFC 8707 `resource` again), and the answer, with the rotated refresh
//! token when the server rotates it, is written back (mode 0600). No file, no refresh token, or
//! a refresh the server refuses as `invalid_grant`: [`TokenError::LoginNeeded`], which tells the
//! user to run `mcp2 login`.
//!
//! [`TokenSource`]: super::oauth::TokenSource

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};

use super::error::display_url;
use super::oauth::{TokenError, http_client, send, token_error};
use super::tokenfile::{self, ClientAuth, StoredTokens};
use crate::plan::{AuthorizationCode, UpstreamId};

/// A stored access token with less than this left is renewed rather than used.
const MIN_REMAINING: Duration = Duration::from_secs(2);

/// A token to send and how long it stays valid; `stale` (just refused or expired) is never
/// returned again.
pub(super) async fn fetch(
    upstream: &UpstreamId,
    spec: &AuthorizationCode,
    stale: Option<&str>,
) -> Result<(Arc<str>, Option<Duration>), TokenError> {
    let login_needed = |reason: &str| TokenError::LoginNeeded {
        upstream: upstream.to_string(),
        reason: reason.to_string(),
    };
    let Some(mut stored) = tokenfile::read(&spec.token_file)? else {
        return Err(login_needed(&format!(
            "no token file {}",
            spec.token_file.display()
        )));
    };
    let remaining = stored.remaining();
    if Some(stored.access_token.as_str()) != stale && remaining.is_none_or(|r| r > MIN_REMAINING) {
        return Ok((Arc::from(stored.access_token.as_str()), remaining));
    }
    if stored.refresh_token.is_none() {
        return Err(login_needed(
            "its access token expired and it has no refresh token",
        ));
    }
    let lifetime = refresh(spec, &mut stored).await.map_err(|e| match e {
        TokenError::Refused { code, .. } if code == "invalid_grant" => {
            login_needed("the authorization server no longer accepts its refresh token")
        }
        other => other,
    })?;
    tokenfile::write(&spec.token_file, &stored)?;
    tracing::info!(
        upstream = %upstream,
        expires_in_s = lifetime.map(|d| d.as_secs()),
        "renewed the upstream's access token with its refresh token"
    );
    Ok((Arc::from(stored.access_token.as_str()), lifetime))
}

/// One `refresh_token` grant; `stored` takes the new tokens.
async fn refresh(
    spec: &AuthorizationCode,
    stored: &mut StoredTokens,
) -> Result<Option<Duration>, TokenError> {
    let endpoint = url::Url::parse(&stored.token_endpoint).map_err(|e| TokenError::Request {
        endpoint: stored.token_endpoint.clone(),
        reason: e.to_string(),
    })?;
    let shown = display_url(&endpoint);
    let failed = |reason: String| TokenError::Request {
        endpoint: shown.clone(),
        reason,
    };
    let http = http_client().map_err(|e| failed(e.to_string()))?;
    let secret = spec
        .client_secret
        .as_ref()
        .map(|s| s.expose().to_string())
        .or_else(|| stored.client_secret.clone());
    let client = oauth_client(&stored.client_id, secret, stored.client_auth, endpoint);
    let refresh_token = RefreshToken::new(stored.refresh_token.clone().unwrap_or_default());
    let mut request = client.exchange_refresh_token(&refresh_token);
    if let Some(resource) = &stored.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    let send = |req: oauth2::HttpRequest| {
        let http = http.clone();
        async move { send(&http, req).await }
    };
    let response = request
        .request_async(&send)
        .await
        .map_err(|e| token_error(&shown, e))?;
    stored.access_token = response.access_token().secret().clone();
    if let Some(rotated) = response.refresh_token() {
        stored.refresh_token = Some(rotated.secret().clone());
    }
    if let Some(scopes) = response.scopes() {
        let granted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        stored.scope = Some(granted.join(" "));
    }
    stored.expires_in(response.expires_in());
    Ok(response.expires_in())
}

/// An `oauth2` client for the token endpoint, authenticating as `client_auth` says.
pub(crate) fn oauth_client(
    client_id: &str,
    secret: Option<String>,
    client_auth: ClientAuth,
    token_endpoint: url::Url,
) -> BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    let mut client = BasicClient::new(ClientId::new(client_id.to_string()))
        .set_token_uri(TokenUrl::from_url(token_endpoint));
    match (client_auth, secret) {
        (ClientAuth::None, _) | (_, None) => {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        (ClientAuth::Basic, Some(secret)) => {
            client = client.set_client_secret(ClientSecret::new(secret));
        }
        (ClientAuth::Post, Some(secret)) => {
            client = client
                .set_client_secret(ClientSecret::new(secret))
                .set_auth_type(AuthType::RequestBody);
        }
    }
    client
}

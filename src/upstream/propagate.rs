//! Identity propagation: the `Authorization: Bearer` of an upstream with `auth oauth
//! pass-through` or `auth oauth token-exchange`, for the one client a `session per-client`
//! connection was opened for.
//!
//! The connection reads its client's newest validated access token through a [`CallerToken`]
//! on every request, so a client that refreshed its token mid-session is represented by the
//! new one from its next request on.
//! - `pass-through` sends that token unchanged. When the upstream refuses it (401) and the
//!   client has no newer one, the request fails with [`TokenError::CallerTokenRefused`]: mcp2
//!   cannot renew a caller's token.
//! - `token-exchange` sends only the token an RFC 8693 exchange gives for it (mcp2
//!   authenticated with its own client credentials, HTTP Basic), cached per caller token (by
//!   its hash, the token itself kept to confirm a hit) until shortly before it expires. A 401
//!   drops the refused token and exchanges once more; the transports retry once with it.
//!
//! Neither the caller's token nor an exchanged one reaches a log line or an error: errors name
//! the token endpoint, the HTTP status and the server's OAuth error code only.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::{Duration, Instant};
use url::Url;

use super::error::display_url;
use super::oauth::{Cached, TokenError, http_client, margin, token_endpoint};
use crate::plan::{Secret, TokenExchange, UpstreamAuthSpec, UpstreamId};

/// The newest validated access token of the client a connection serves (`None` when it
/// presented none).
pub type CallerToken = Arc<dyn Fn() -> Option<Secret> + Send + Sync>;

/// RFC 8693 names.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Exchanged tokens kept per connection (one per caller token seen; a client refreshing its
/// token often leaves stale entries, dropped when expired or past this many).
const MAX_CACHED: usize = 16;

/// See the module docs.
pub(crate) struct CallerTokens {
    upstream: UpstreamId,
    caller: Option<CallerToken>,
    exchange: Option<Exchange>,
}

struct Exchange {
    spec: TokenExchange,
    endpoint: Mutex<Option<Url>>,
    /// By the caller token's hash: the caller token and what it was exchanged for.
    cache: Mutex<HashMap<u64, (Secret, Cached)>>,
    hasher: RandomState,
}

impl std::fmt::Debug for CallerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerTokens")
            .field("upstream", &self.upstream)
            .field("exchange", &self.exchange.is_some())
            .finish_non_exhaustive()
    }
}

impl CallerTokens {
    pub(crate) fn new(
        upstream: UpstreamId,
        spec: &UpstreamAuthSpec,
        caller: Option<CallerToken>,
    ) -> Self {
        let exchange = match spec {
            UpstreamAuthSpec::TokenExchange(te) => Some(Exchange {
                spec: te.clone(),
                endpoint: Mutex::new(None),
                cache: Mutex::new(HashMap::new()),
                hasher: RandomState::new(),
            }),
            _ => None,
        };
        CallerTokens {
            upstream,
            caller,
            exchange,
        }
    }

    pub(crate) fn has_caller(&self) -> bool {
        self.caller.is_some()
    }

    fn flow(&self) -> &'static str {
        if self.exchange.is_some() {
            "token-exchange"
        } else {
            "pass-through"
        }
    }

    fn subject(&self) -> Result<Secret, TokenError> {
        self.caller
            .as_ref()
            .and_then(|c| c())
            .ok_or_else(|| TokenError::NoCallerToken {
                upstream: self.upstream.to_string(),
                flow: self.flow(),
            })
    }

    /// The token to send now for the client's newest token.
    pub(crate) async fn token(&self) -> Result<Arc<str>, TokenError> {
        let subject = self.subject()?;
        let Some(exchange) = &self.exchange else {
            return Ok(Arc::from(subject.expose()));
        };
        let key = exchange.hasher.hash_one(subject.expose());
        let mut cache = exchange.cache.lock().await;
        if let Some((held, cached)) = cache.get(&key)
            && held == &subject
            && cached.fresh()
        {
            return Ok(cached.token.clone());
        }
        let fresh = self.exchange(exchange, &subject).await?;
        let token = fresh.token.clone();
        cache.retain(|_, (_, c)| c.fresh());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, (subject, fresh));
        Ok(token)
    }

    /// The upstream refused `stale` (HTTP 401).
    pub(crate) async fn refresh(&self, stale: &str) -> Result<Arc<str>, TokenError> {
        let subject = self.subject()?;
        let Some(exchange) = &self.exchange else {
            // A newer token from the client is worth one more try; the same one is not.
            if subject.expose() != stale {
                return Ok(Arc::from(subject.expose()));
            }
            tracing::warn!(upstream = %self.upstream, "upstream refused the caller's access token (pass-through)");
            return Err(TokenError::CallerTokenRefused {
                upstream: self.upstream.to_string(),
            });
        };
        let key = exchange.hasher.hash_one(subject.expose());
        let mut cache = exchange.cache.lock().await;
        if let Some((held, cached)) = cache.get(&key)
            && held == &subject
            && &*cached.token != stale
            && cached.fresh()
        {
            return Ok(cached.token.clone());
        }
        tracing::info!(upstream = %self.upstream, "upstream refused an exchanged token; exchanging the caller's token again");
        cache.remove(&key);
        let fresh = self.exchange(exchange, &subject).await?;
        let token = fresh.token.clone();
        cache.insert(key, (subject, fresh));
        Ok(token)
    }

    /// One RFC 8693 request.
    async fn exchange(&self, exchange: &Exchange, subject: &Secret) -> Result<Cached, TokenError> {
        let spec = &exchange.spec;
        let endpoint = token_endpoint(&spec.token, &exchange.endpoint).await?;
        let shown = display_url(&endpoint);
        let failed = |reason: String| TokenError::Request {
            endpoint: shown.clone(),
            reason,
        };
        let http = http_client().map_err(|e| failed(e.to_string()))?;
        let body = exchange_form(spec, subject);
        let started = Instant::now();
        let response = http
            .post(endpoint.as_str())
            .basic_auth(
                form_encode(&spec.client_id),
                Some(form_encode(spec.client_secret.expose())),
            )
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            // The error names the URL and the cause, never the body (which holds the token).
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if !status.is_success() {
            let refusal: Option<Refusal> = serde_json::from_slice(&body).ok();
            return Err(match refusal {
                Some(r) => TokenError::Refused {
                    endpoint: shown,
                    code: r.error,
                    description: r.error_description,
                },
                None => failed(format!("HTTP {}", status.as_u16())),
            });
        }
        // The body holds the token: a parse error is never quoted.
        let issued: Issued = serde_json::from_slice(&body)
            .map_err(|_| failed("unreadable token-exchange response".into()))?;
        let lifetime = issued.expires_in.map(Duration::from_secs);
        tracing::info!(
            upstream = %self.upstream,
            token_endpoint = %shown,
            issued_token_type = issued.issued_token_type.as_deref().unwrap_or("-"),
            expires_in_s = issued.expires_in,
            "exchanged the caller's access token for the upstream (RFC 8693)"
        );
        Ok(Cached {
            token: Arc::from(issued.access_token.as_str()),
            renew_at: lifetime.map(|l| started + l - margin(l)),
        })
    }
}

/// The RFC 8693 request body.
fn exchange_form(spec: &TokenExchange, subject: &Secret) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", GRANT_TYPE)
        .append_pair("subject_token", subject.expose())
        .append_pair("subject_token_type", ACCESS_TOKEN_TYPE);
    if let Some(audience) = &spec.audience {
        form.append_pair("audience", audience);
    }
    if let Some(resource) = &spec.resource {
        form.append_pair("resource", resource);
    }
    if !spec.scopes.is_empty() {
        form.append_pair("scope", &spec.scopes.join(" "));
    }
    if let Some(t) = &spec.requested_token_type {
        form.append_pair("requested_token_type", t);
    }
    form.finish()
}

/// RFC 6749 §2.3.1: client id and secret are form-encoded before HTTP Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Deserialize)]
struct Issued {
    access_token: String,
    issued_token_type: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Refusal {
    error: String,
    error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pass_through_sends_the_callers_newest_token_and_gives_up_when_it_is_refused() {
        let newest = Arc::new(std::sync::Mutex::new("first"));
        let read = newest.clone();
        let source = CallerTokens::new(
            UpstreamId::new("api"),
            &UpstreamAuthSpec::PassThrough,
            Some(Arc::new(move || {
                Some(Secret::new(*read.lock().unwrap(), Vec::new()))
            })),
        );
        assert_eq!(&*source.token().await.unwrap(), "first");
        let refused = source.refresh("first").await.unwrap_err();
        assert!(matches!(refused, TokenError::CallerTokenRefused { .. }));
        assert!(!refused.to_string().contains("first"));
        *newest.lock().unwrap() = "second";
        assert_eq!(&*source.refresh("first").await.unwrap(), "second");
        assert_eq!(&*source.token().await.unwrap(), "second");
    }

    #[tokio::test]
    async fn without_a_caller_token_nothing_is_sent() {
        let source =
            CallerTokens::new(UpstreamId::new("api"), &UpstreamAuthSpec::PassThrough, None);
        assert!(matches!(
            source.token().await,
            Err(TokenError::NoCallerToken { .. })
        ));
    }
}

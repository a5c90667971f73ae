//! Streamable HTTP upstreams, and the HTTP client both HTTP transports share.
//!
//! - One pooled `reqwest::Client` per upstream, kept across reconnects: keep-alive (rmcp's own
//!   default client disables pooling, which halves calls/s on loopback), `TCP_NODELAY`, the
//!   spec's `connect_timeout`, and only same-origin 307/308 redirects (a redirect elsewhere would
//!   hand our credentials to another host).
//! - The configured headers go through rmcp's `custom_headers`, which rmcp puts on EVERY request
//!   of the session (POST, the GET stream, DELETE, and a re-initialisation). Their values are
//!   marked sensitive so `Debug` never shows them.
//! - No per-request timeout on the client: it would cut the long-lived SSE streams. The caller
//!   bounds each request with `spec.timeout` (see `UpstreamHandle::request_options`).
//! - An upstream with OAuth (`auth oauth …`) gets its access token from the upstream's
//!   [`TokenSource`] on every request (rmcp sends it as `Authorization: Bearer`); a 401 fetches a
//!   new token and retries that request once. Such an upstream has no fast lane: the gateway's
//!   fast path would send requests without the token.
//! - rmcp re-initialises an expired session (HTTP 404) by itself. [`CountingClient`] sees the
//!   second `initialize` of a session go out, logs it and counts it in the upstream's stats.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use sse_stream::{Error as SseError, Sse};
use url::Url;

use super::error::{UpstreamError, display_url};
use super::handle::Counters;
use super::oauth::{TokenError, TokenSource};
use super::raw::Lane;
use crate::plan::{UpstreamId, UpstreamSpec};

/// Headers the transports set themselves; a configured one would be rejected by rmcp at request
/// time, so it is rejected here, before connecting.
const RESERVED_HEADERS: &[&str] = &["accept", "content-type", "mcp-session-id", "last-event-id"];

/// The HTTP client for one upstream (see the module docs for why each setting).
pub(crate) fn build_client(spec: &UpstreamSpec) -> Result<reqwest::Client, UpstreamError> {
    reqwest::Client::builder()
        .connect_timeout(spec.connect_timeout)
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .redirect(same_origin_redirects())
        .user_agent(concat!("mcp2/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UpstreamError::Config {
            reason: format!("could not build the HTTP client: {e}"),
        })
}

fn same_origin_redirects() -> reqwest::redirect::Policy {
    const MAX_REDIRECTS: usize = 10;
    reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// The configured headers as HTTP headers, values marked sensitive.
pub(crate) fn header_map(
    spec: &UpstreamSpec,
) -> Result<HashMap<HeaderName, HeaderValue>, UpstreamError> {
    let mut headers = HashMap::with_capacity(spec.headers.len());
    for (name, value) in &spec.headers {
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| UpstreamError::Config {
                reason: format!("`{name}` is not a valid HTTP header name"),
            })?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(UpstreamError::Config {
                reason: format!("header `{name}` is set by the transport and cannot be configured"),
            });
        }
        let mut value =
            HeaderValue::from_str(value.expose()).map_err(|_| UpstreamError::Config {
                reason: format!("the value of header `{name}` is not valid in HTTP"),
            })?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    Ok(headers)
}

/// The Streamable HTTP transport for one connection attempt.
pub(crate) fn transport(
    upstream: &UpstreamId,
    url: &Url,
    client: reqwest::Client,
    headers: HashMap<HeaderName, HeaderValue>,
    counters: Arc<Counters>,
    lane: Arc<Lane>,
    tokens: Option<Arc<TokenSource>>,
) -> StreamableHttpClientTransport<CountingClient> {
    let client = CountingClient {
        lane,
        tokens,
        inner: client,
        upstream: upstream.clone(),
        target: Arc::from(display_url(url)),
        counters,
        initialized: Arc::new(AtomicBool::new(false)),
    };
    let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
        .custom_headers(headers)
        .reinit_on_expired_session(true);
    StreamableHttpClientTransport::with_client(client, config)
}

/// `reqwest::Client` as rmcp uses it, plus a count of session re-initialisations.
#[derive(Clone)]
pub(crate) struct CountingClient {
    inner: reqwest::Client,
    upstream: UpstreamId,
    target: Arc<str>,
    counters: Arc<Counters>,
    /// Learns the upstream session id, for the gateway's fast path.
    lane: Arc<Lane>,
    /// Whether this connection's first `initialize` went out; one transport per connection.
    initialized: Arc<AtomicBool>,
    /// The upstream's access tokens, when it has OAuth.
    tokens: Option<Arc<TokenSource>>,
}

type HttpError = StreamableHttpError<reqwest::Error>;

/// A token that could not be had fails the request like a server that answered oddly; the
/// message names the token endpoint, never a secret.
fn token_error(e: TokenError) -> HttpError {
    StreamableHttpError::UnexpectedServerResponse(e.to_string().into())
}

impl CountingClient {
    /// Runs `send` with the upstream's access token when it has OAuth (else with rmcp's own
    /// `auth_header`); after a 401, once more with a new token.
    async fn authed<T, F, Fut>(&self, auth_header: Option<String>, send: F) -> Result<T, HttpError>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let Some(tokens) = &self.tokens else {
            return send(auth_header).await;
        };
        let token = tokens.token().await.map_err(token_error)?;
        match send(Some(token.to_string())).await {
            Err(StreamableHttpError::AuthRequired(_)) => {
                let token = tokens.refresh(&token).await.map_err(token_error)?;
                send(Some(token.to_string())).await
            }
            Err(StreamableHttpError::InsufficientScope(e)) if tokens.is_delegated() => {
                Err(StreamableHttpError::UnexpectedServerResponse(
                    step_up(e.required_scope.as_deref()).into(),
                ))
            }
            other => other,
        }
    }
}

/// A 403 `insufficient_scope` to a user-delegated upstream: only a new login can widen the grant.
fn step_up(required: Option<&str>) -> String {
    let needs = required
        .map(|s| format!(" (it asks for scope `{s}`)"))
        .unwrap_or_default();
    format!(
        "the upstream refused the login's token as insufficient_scope{needs}: add the scope to \
         the upstream's `scope` and run `mcp2 login` again"
    )
}

fn is_initialize(message: &ClientJsonRpcMessage) -> bool {
    matches!(message, ClientJsonRpcMessage::Request(r)
        if matches!(r.request, ClientRequest::InitializeRequest(_)))
}

type PostResult = Result<StreamableHttpPostResponse, StreamableHttpError<reqwest::Error>>;

impl StreamableHttpClient for CountingClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> PostResult {
        let limits = StreamableHttpResponseLimits::default();
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> PostResult {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> PostResult {
        self.lane.saw_session(session_id.as_ref());
        if is_initialize(&message) && self.initialized.swap(true, Ordering::AcqRel) {
            let total = self
                .counters
                .session_reinits
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            tracing::warn!(
                upstream = %self.upstream,
                target_url = %self.target,
                total,
                "upstream session expired; rmcp is re-initialising it (server-side state such as \
                 subscriptions and log level is lost)"
            );
        }
        self.authed(auth_header, |auth| {
            self.inner.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                auth,
                custom_headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<reqwest::Error>> {
        self.authed(auth_header, |auth| {
            self.inner.delete_session(
                uri.clone(),
                session_id.clone(),
                auth,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<reqwest::Error>>
    {
        self.authed(auth_header, |auth| {
            self.inner.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                auth,
                custom_headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<reqwest::Error>>
    {
        self.authed(auth_header, |auth| {
            self.inner.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                auth,
                custom_headers.clone(),
                max_sse_event_size,
            )
        })
        .await
    }
}

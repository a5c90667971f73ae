//! Legacy HTTP+SSE upstreams (MCP 2024-11-05), as an rmcp `Transport<RoleClient>`.
//!
//! rmcp has no client for this transport. The protocol: `GET` the SSE URL (`Accept:
//! text/event-stream`); the first `endpoint` event names, relative to that URL, where to `POST`
//! each JSON-RPC message; everything the server says (responses, notifications, requests)
//! arrives as `message` events on the stream. The configured headers go on the GET and on every
//! POST. The endpoint must have the SSE URL's origin: a server naming another host would
//! otherwise receive our credentials. When the stream ends, `receive` yields `None` and the
//! connection is over (the supervisor reconnects with backoff); there is no stream resumption
//! in this protocol.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use rmcp::model::ServerJsonRpcMessage;
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use sse_stream::SseStream;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

use super::error::display_url;
use super::oauth::{TokenError, TokenSource};
use crate::plan::UpstreamId;

/// Messages buffered between the stream reader and rmcp's service loop.
const CHANNEL_CAPACITY: usize = 64;
/// Largest event a server may send (bytes between two blank lines), as rmcp bounds stdio lines
/// and Streamable HTTP events: a server streaming without end ends its connection instead of
/// mcp2's memory.
pub(crate) const MAX_EVENT: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SseTransportError {
    #[error("{target} answered HTTP {status}")]
    Http { target: String, status: u16 },
    #[error("{target} did not answer with an event stream (content type {content_type:?})")]
    NotAnEventStream {
        target: String,
        content_type: Option<String>,
    },
    #[error("the event stream ended before naming its message endpoint")]
    NoEndpoint,
    #[error("the message endpoint {endpoint:?} is not valid: {reason}")]
    BadEndpoint { endpoint: String, reason: String },
    #[error("HTTP request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the event stream failed: {0}")]
    Stream(String),
    #[error("could not encode the message: {0}")]
    Encode(#[from] serde_json::Error),
}

impl SseTransportError {
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            SseTransportError::Http { status, .. } => Some(*status),
            SseTransportError::Request(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }
}

pub(crate) struct SseTransport {
    client: reqwest::Client,
    /// A POST is answered at once (202) in this protocol; one that hangs (a server that lost
    /// our session may never answer) must not hold its task forever.
    post_timeout: Duration,
    endpoint: Arc<Url>,
    headers: Arc<HeaderMap>,
    /// The upstream's access tokens, when it has OAuth.
    tokens: Option<Arc<TokenSource>>,
    rx: mpsc::Receiver<ServerJsonRpcMessage>,
    reader: CancellationToken,
    _stop_reader: DropGuard,
}

/// Opens the event stream and waits for the `endpoint` event. The caller bounds the time.
pub(crate) async fn connect(
    upstream: &UpstreamId,
    url: &Url,
    client: reqwest::Client,
    headers: HashMap<HeaderName, HeaderValue>,
    tokens: Option<Arc<TokenSource>>,
    post_timeout: Duration,
) -> Result<SseTransport, SseTransportError> {
    let headers: HeaderMap = headers.into_iter().collect();
    let target = display_url(url);
    let response = authed(tokens.as_ref(), |token| {
        let get = client
            .get(url.as_str())
            .headers(headers.clone())
            .header(ACCEPT, "text/event-stream");
        bearer(get, token).send()
    })
    .await?;
    let status = response.status();
    if !status.is_success() {
        return Err(SseTransportError::Http {
            target,
            status: status.as_u16(),
        });
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !content_type
        .as_deref()
        .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"))
    {
        return Err(SseTransportError::NotAnEventStream {
            target,
            content_type,
        });
    }

    let mut events = SseStream::from_bytes_stream(bounded(response.bytes_stream(), MAX_EVENT));
    let endpoint = loop {
        match events.next().await {
            Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                break resolve_endpoint(url, event.data.as_deref().unwrap_or_default())?;
            }
            // Comments, keep-alives and anything else before the endpoint are not ours.
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(SseTransportError::Stream(e.to_string())),
            None => return Err(SseTransportError::NoEndpoint),
        }
    };
    tracing::debug!(%upstream, endpoint = %display_url(&endpoint), "legacy SSE endpoint");

    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let reader = CancellationToken::new();
    tokio::spawn(read_messages(upstream.clone(), events, tx, reader.clone()));
    Ok(SseTransport {
        client,
        post_timeout,
        endpoint: Arc::new(endpoint),
        headers: Arc::new(headers),
        tokens,
        rx,
        _stop_reader: reader.clone().drop_guard(),
        reader,
    })
}

/// The body's chunks, failing once more than `max` bytes come without an event boundary.
fn bounded<S, D, E>(
    chunks: S,
    max: usize,
) -> Pin<Box<dyn futures::Stream<Item = Result<D, std::io::Error>> + Send>>
where
    S: futures::Stream<Item = Result<D, E>> + Send + 'static,
    D: AsRef<[u8]>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut since_boundary = 0usize;
    let mut last = 0u8;
    Box::pin(chunks.map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        for &b in chunk.as_ref() {
            match b {
                b'\r' => {}
                b'\n' if last == b'\n' => since_boundary = 0,
                _ => since_boundary += 1,
            }
            if b != b'\r' {
                last = b;
            }
        }
        if since_boundary > max {
            return Err(std::io::Error::other(format!(
                "the server sent an event longer than {max} bytes"
            )));
        }
        Ok(chunk)
    }))
}

fn resolve_endpoint(sse_url: &Url, data: &str) -> Result<Url, SseTransportError> {
    let bad = |reason: String| SseTransportError::BadEndpoint {
        endpoint: data.to_string(),
        reason,
    };
    let endpoint = sse_url.join(data.trim()).map_err(|e| bad(e.to_string()))?;
    if endpoint.origin() != sse_url.origin() {
        return Err(bad(format!(
            "it is not on {}, the origin of the event stream",
            sse_url.origin().ascii_serialization()
        )));
    }
    Ok(endpoint)
}

async fn read_messages<S>(
    upstream: UpstreamId,
    mut events: S,
    tx: mpsc::Sender<ServerJsonRpcMessage>,
    stop: CancellationToken,
) where
    S: futures::Stream<Item = Result<sse_stream::Sse, sse_stream::Error>> + Unpin,
{
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = stop.cancelled() => return,
        };
        match event {
            Some(Ok(event)) => {
                if !matches!(event.event.as_deref(), None | Some("message")) {
                    continue;
                }
                let Some(data) = event.data else { continue };
                match serde_json::from_str::<ServerJsonRpcMessage>(&data) {
                    Ok(message) => {
                        if tx.send(message).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(%upstream, error = %e, "unreadable SSE message skipped")
                    }
                }
            }
            Some(Err(e)) => {
                tracing::warn!(%upstream, error = %e, "legacy SSE stream failed");
                return;
            }
            None => {
                tracing::info!(%upstream, "legacy SSE stream closed by the upstream");
                return;
            }
        }
    }
}

fn bearer(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}

/// Sends with the upstream's access token when it has OAuth; after a 401, once more with a new
/// token (the first answer is returned when no new token can be had).
async fn authed<F, Fut>(
    tokens: Option<&Arc<TokenSource>>,
    send: F,
) -> Result<reqwest::Response, SseTransportError>
where
    F: Fn(Option<&str>) -> Fut,
    Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let Some(tokens) = tokens else {
        return Ok(send(None).await?);
    };
    let token = tokens.token().await?;
    let response = send(Some(&token)).await?;
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(response);
    }
    let _ = response.bytes().await;
    let token = tokens.refresh(&token).await?;
    Ok(send(Some(&token)).await?)
}

impl Transport<RoleClient> for SseTransport {
    type Error = SseTransportError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let client = self.client.clone();
        let endpoint = self.endpoint.clone();
        let headers = self.headers.clone();
        let tokens = self.tokens.clone();
        let timeout = self.post_timeout;
        async move {
            let body = bytes::Bytes::from(serde_json::to_vec(&item)?);
            let response = authed(tokens.as_ref(), |token| {
                let post = client
                    .post(endpoint.as_str())
                    .headers((*headers).clone())
                    .header(CONTENT_TYPE, "application/json")
                    .timeout(timeout)
                    .body(body.clone());
                bearer(post, token).send()
            })
            .await?;
            let status = response.status();
            // The answer comes on the stream; the body is only "Accepted". Read it so the
            // connection goes back to the pool.
            let _ = response.bytes().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(SseTransportError::Http {
                    target: display_url(&endpoint),
                    status: status.as_u16(),
                })
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        self.rx.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.cancel();
        self.rx.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_resolved_against_the_stream_url() {
        let sse = Url::parse("http://127.0.0.1:9000/mcp/sse").unwrap();
        let e = resolve_endpoint(&sse, "/messages/?session_id=abc").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:9000/messages/?session_id=abc");
        let e = resolve_endpoint(&sse, "message?sessionId=1").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:9000/mcp/message?sessionId=1");
        let e = resolve_endpoint(&sse, " http://127.0.0.1:9000/m \n").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:9000/m");
    }

    #[test]
    fn endpoint_on_another_origin_is_refused() {
        let sse = Url::parse("http://127.0.0.1:9000/sse").unwrap();
        let err = resolve_endpoint(&sse, "http://evil.example/messages").unwrap_err();
        assert!(
            matches!(err, SseTransportError::BadEndpoint { .. }),
            "{err}"
        );
        let err = resolve_endpoint(&sse, "http://127.0.0.1:9001/messages").unwrap_err();
        assert!(
            matches!(err, SseTransportError::BadEndpoint { .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_endless_event_ends_the_stream_events_within_the_limit_pass() {
        let chunks = |parts: Vec<&'static str>| {
            futures::stream::iter(
                parts
                    .into_iter()
                    .map(|p| Ok::<_, std::io::Error>(p.as_bytes().to_vec())),
            )
        };
        let ok: Vec<_> = bounded(chunks(vec!["data: 12345\n\n", "data: 6789\r\n\r\n"]), 12)
            .collect()
            .await;
        assert!(ok.iter().all(Result::is_ok), "{ok:?}");
        let over: Vec<_> = bounded(chunks(vec!["data: 1234", "5678\n", "data: 9"]), 12)
            .collect()
            .await;
        assert!(over.last().is_some_and(Result::is_err), "{over:?}");
    }
}

//! The raw lane of a Streamable HTTP upstream: what the gateway's fast path needs to POST a
//! JSON-RPC message itself, on the same upstream session and with the same headers as the rmcp
//! client, without going through the rmcp client's worker.
//!
//! The rmcp transport owns the upstream session; [`Lane`] only learns its id, from the requests
//! the transport sends (`CountingClient` records every session id it is handed), and forgets it
//! whenever the connection leaves `Connected`. A message POSTed here with a stale id gets the
//! upstream's 404, which the caller treats as "not sent" (the session is unknown there, so
//! nothing ran) and retries on the rmcp client, which then re-initialises the session.
//!
//! A plain `http://` upstream with no proxy in the environment is reached through hyper's own
//! pooled client, beside the rmcp transport's reqwest client: reqwest's layers (redirect
//! policy, which parses the URL twice per request, retries, timeouts) were a sixth of the fast
//! path's CPU. HTTPS upstreams and proxied ones keep reqwest (its TLS roots and proxy rules).
//! A redirect answered on the hyper lane is "not sent", like the 404: the full stack, which
//! follows same-origin redirects, takes the call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyDataStream, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use url::Url;

use super::handle::UpstreamHandle;

/// The header carrying the upstream session id.
const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// What one upstream's raw lane knows (one per handle; the session id changes per connection).
#[derive(Debug, Default)]
pub(crate) struct Lane {
    /// The pooled client, URL and configured headers, set once the first HTTP transport is made.
    fixed: OnceLock<Fixed>,
    /// The current upstream session id, while connected, and the lane built for it (built on
    /// the first fast request of the session, then shared by every later one).
    session: Mutex<Option<(Arc<str>, Option<RawHttp>)>>,
}

#[derive(Debug)]
struct Fixed {
    sender: Sender,
    headers: HeaderMap,
}

/// How a raw POST leaves.
#[derive(Debug, Clone)]
enum Sender {
    /// Plain HTTP, no proxy: hyper's pooled client.
    Direct { client: Box<Direct>, uri: http::Uri },
    /// HTTPS, or a proxy in the environment: the upstream's reqwest client.
    Reqwest { client: reqwest::Client, url: Url },
}

type Direct = HyperClient<HttpConnector, Full<Bytes>>;

/// Whether POSTs to `url` need reqwest: HTTPS (its TLS setup) or a proxy from the environment
/// (its proxy rules), which hyper's client alone would bypass.
fn needs_reqwest(url: &Url) -> bool {
    let vars = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];
    url.scheme() != "http" || vars.iter().any(|v| std::env::var_os(v).is_some())
}

fn direct_client(connect_timeout: Duration) -> Direct {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_keepalive(Some(Duration::from_secs(30)));
    HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .build(connector)
}

impl Lane {
    /// What every raw POST of this upstream shares: its client, URL and configured headers.
    pub(crate) fn set_fixed(
        &self,
        client: &reqwest::Client,
        url: &Url,
        headers: &HashMap<HeaderName, HeaderValue>,
        connect_timeout: Duration,
    ) {
        if self.fixed.get().is_some() {
            return;
        }
        let mut fixed: HeaderMap = headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let uri = (!needs_reqwest(url))
            .then(|| url.as_str().parse::<http::Uri>().ok())
            .flatten();
        let sender = match uri {
            Some(uri) => {
                fixed.insert(
                    USER_AGENT,
                    HeaderValue::from_static(concat!("mcp2/", env!("CARGO_PKG_VERSION"))),
                );
                Sender::Direct {
                    client: Box::new(direct_client(connect_timeout)),
                    uri,
                }
            }
            None => Sender::Reqwest {
                client: client.clone(),
                url: url.clone(),
            },
        };
        let _ = self.fixed.set(Fixed {
            sender,
            headers: fixed,
        });
    }

    /// Records the session id the rmcp transport is using now.
    pub(crate) fn saw_session(&self, id: Option<&Arc<str>>) {
        let Some(id) = id else { return };
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        if session.as_ref().map(|(known, _)| &**known) != Some(&**id) {
            *session = Some((id.clone(), None));
        }
    }

    pub(crate) fn forget_session(&self) {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// A ready-to-use raw lane: one connected Streamable HTTP upstream session. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RawHttp(Arc<RawSession>);

#[derive(Debug)]
pub struct RawSession {
    sender: Sender,
    headers: HeaderMap,
    /// The negotiated protocol version.
    pub protocol: Arc<str>,
}

impl std::ops::Deref for RawHttp {
    type Target = RawSession;

    fn deref(&self) -> &RawSession {
        &self.0
    }
}

/// What the upstream answered a raw POST with.
pub enum RawAnswer {
    /// 404: the upstream does not know the session, so it did not run the message (also a
    /// redirect on the hyper lane, which does not follow it).
    SessionUnknown,
    /// Any other answer.
    Response(RawResponse),
}

/// An upstream's answer as it arrives: status, media type and the body's bytes.
pub struct RawResponse {
    pub status: http::StatusCode,
    /// The `Content-Type`, lowercased (empty when there is none).
    pub content_type: Vec<u8>,
    pub body: RawBody,
}

/// The body of a [`RawResponse`], read as it arrives (a broken body is an I/O error).
pub type RawBody = BoxStream<'static, Result<Bytes, std::io::Error>>;

impl RawResponse {
    /// `content_type` as [`content_type`] gives it.
    fn new<B, E>(status: http::StatusCode, content_type: Vec<u8>, body: B) -> Self
    where
        B: futures::Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        RawResponse {
            status,
            content_type,
            body: body.map_err(std::io::Error::other).boxed(),
        }
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Vec<u8>, std::io::Error> {
        self.body
            .try_fold(Vec::new(), |mut all, chunk| {
                all.extend_from_slice(&chunk);
                futures::future::ready(Ok(all))
            })
            .await
    }
}

/// The `Content-Type` of `headers`, lowercased (empty when there is none).
fn content_type(headers: &HeaderMap) -> Vec<u8> {
    headers
        .get(CONTENT_TYPE)
        .map(|v| v.as_bytes().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Why a raw POST got no answer.
pub type RawError = Box<dyn std::error::Error + Send + Sync>;

/// hyper's error with its causes in its message ("client error (Connect): tcp connect error:
/// Connection refused"), as reqwest's message has them.
fn with_causes(error: hyper_util::client::legacy::Error) -> RawError {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message.into()
}

impl RawHttp {
    /// POSTs one JSON-RPC message on the upstream session.
    pub async fn post(&self, body: Bytes) -> Result<RawAnswer, RawError> {
        let response = match &self.sender {
            Sender::Direct { client, uri } => {
                let mut request = http::Request::new(Full::new(body));
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = uri.clone();
                *request.headers_mut() = self.headers.clone();
                let response = client.request(request).await.map_err(with_causes)?;
                if response.status().is_redirection() {
                    return Ok(RawAnswer::SessionUnknown);
                }
                let (parts, body) = response.into_parts();
                let content_type = content_type(&parts.headers);
                RawResponse::new(parts.status, content_type, BodyDataStream::new(body))
            }
            Sender::Reqwest { client, url } => {
                let response = client
                    .post(url.clone())
                    .headers(self.headers.clone())
                    .body(body)
                    .send()
                    .await?;
                let content_type = content_type(response.headers());
                RawResponse::new(response.status(), content_type, response.bytes_stream())
            }
        };
        if response.status == http::StatusCode::NOT_FOUND {
            return Ok(RawAnswer::SessionUnknown);
        }
        Ok(RawAnswer::Response(response))
    }
}

impl UpstreamHandle {
    /// The raw lane of this upstream, when it is a connected Streamable HTTP upstream whose
    /// session id is known. `None` for stdio and legacy SSE upstreams, and while connecting.
    pub fn raw_http(&self) -> Option<RawHttp> {
        let info = self.server_info()?;
        let lane = self.lane();
        let fixed = lane.fixed.get()?;
        let mut current = lane.session.lock().unwrap_or_else(|p| p.into_inner());
        let (session, built) = current.as_mut()?;
        if let Some(raw) = built
            .as_ref()
            .filter(|r| *r.protocol == *info.protocol_version.as_str())
        {
            return Some(raw.clone());
        }
        let protocol: Arc<str> = info.protocol_version.as_str().into();
        let mut headers = fixed.headers.clone();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("text/event-stream, application/json"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(SESSION_ID, HeaderValue::from_str(session).ok()?);
        headers.insert(PROTOCOL_VERSION, HeaderValue::from_str(&protocol).ok()?);
        let raw = RawHttp(Arc::new(RawSession {
            sender: fixed.sender.clone(),
            headers,
            protocol,
        }));
        *built = Some(raw.clone());
        Some(raw)
    }
}

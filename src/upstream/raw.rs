//! The raw lane of a Streamable HTTP upstream: what the gateway's fast path needs to POST a
//! JSON-RPC message itself, on the same pooled connection and the same upstream session as the
//! rmcp client, without going through the rmcp client's worker.
//!
//! The rmcp transport owns the upstream session; [`Lane`] only learns its id, from the requests
//! the transport sends (`CountingClient` records every session id it is handed), and forgets it
//! whenever the connection leaves `Connected`. A message POSTed here with a stale id gets the
//! upstream's 404, which the caller treats as "not sent" (the session is unknown there, so
//! nothing ran) and retries on the rmcp client, which then re-initialises the session.

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
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
    client: reqwest::Client,
    url: Url,
    headers: HeaderMap,
}

impl Lane {
    pub(crate) fn set_fixed(&self, client: &reqwest::Client, url: &Url, headers: HeaderMap) {
        let _ = self.fixed.set(Fixed {
            client: client.clone(),
            url: url.clone(),
            headers,
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
    client: reqwest::Client,
    url: Url,
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
#[derive(Debug)]
pub enum RawAnswer {
    /// 404: the upstream does not know the session, so it did not run the message.
    SessionUnknown,
    /// Any other answer.
    Response(reqwest::Response),
}

impl RawHttp {
    /// POSTs one JSON-RPC message on the upstream session.
    pub async fn post(&self, body: Bytes) -> Result<RawAnswer, reqwest::Error> {
        let response = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
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
            client: fixed.client.clone(),
            url: fixed.url.clone(),
            headers,
            protocol,
        }));
        *built = Some(raw.clone());
        Some(raw)
    }
}

//! An issuer's signing keys: fetched, cached, refreshed on an unknown `kid`.
//!
//! The JWKS URL is configured or discovered from the issuer's metadata (RFC 8414
//! `/.well-known/oauth-authorization-server`, then OpenID `/.well-known/openid-configuration`).
//! Keys are kept until they are older than [`MAX_AGE`]; a token naming a key the cache does not
//! hold triggers a refetch, at most once per [`REFETCH_INTERVAL`], so a flood of tokens with
//! made-up `kid`s costs the issuer one request per interval. One fetch at a time: concurrent
//! requests wait for it instead of fetching again.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::Mutex;
use url::Url;

use crate::upstream::metadata_urls;

/// How often an unknown `kid` may cause a refetch.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Keys older than this are refetched before use.
pub const MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the authorization server's keys could not be fetched: {0}")]
    Fetch(String),
    #[error("no signing key `{0}` at the authorization server")]
    UnknownKey(String),
}

pub struct JwksCache {
    issuer: Url,
    configured: Option<Url>,
    http: reqwest::Client,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    url: Option<Url>,
    keys: Option<JwkSet>,
    fetched: Option<Instant>,
}

impl JwksCache {
    pub fn new(issuer: Url, configured: Option<Url>, http: reqwest::Client) -> Self {
        Self {
            issuer,
            configured,
            http,
            state: Mutex::new(State::default()),
        }
    }

    /// The key a token names (by `kid`; the only key when the token names none).
    pub async fn key(&self, kid: Option<&str>) -> Result<Jwk, JwksError> {
        let mut state = self.state.lock().await;
        let fresh = state.fetched.is_some_and(|t| t.elapsed() < MAX_AGE);
        if fresh && let Some(found) = state.keys.as_ref().and_then(|k| pick(k, kid)) {
            return Ok(found);
        }
        let may_fetch = state
            .fetched
            .is_none_or(|t| t.elapsed() >= REFETCH_INTERVAL || !fresh);
        if may_fetch {
            let url = match &state.url {
                Some(u) => u.clone(),
                None => self.jwks_url().await?,
            };
            let fetched = self.fetch(&url).await;
            state.fetched = Some(Instant::now());
            state.url = Some(url);
            match fetched {
                Ok(keys) => state.keys = Some(keys),
                Err(e) if state.keys.is_none() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "keeping the cached signing keys"),
            }
        }
        state
            .keys
            .as_ref()
            .and_then(|k| pick(k, kid))
            .ok_or_else(|| JwksError::UnknownKey(kid.unwrap_or("(none)").to_string()))
    }

    async fn fetch(&self, url: &Url) -> Result<JwkSet, JwksError> {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| JwksError::Fetch(format!("{url}: {e}")))?;
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| JwksError::Fetch(format!("{url}: not a JWK set: {e}")))
    }

    /// The configured JWKS URL, or `jwks_uri` from the issuer's metadata.
    async fn jwks_url(&self) -> Result<Url, JwksError> {
        if let Some(u) = &self.configured {
            return Ok(u.clone());
        }
        let mut last = String::new();
        for candidate in metadata_urls(&self.issuer) {
            let got = self
                .http
                .get(candidate.clone())
                .send()
                .await
                .and_then(|r| r.error_for_status());
            let doc = match got {
                Ok(r) => r.json::<serde_json::Value>().await.ok(),
                Err(e) => {
                    last = format!("{candidate}: {e}");
                    continue;
                }
            };
            if let Some(u) = doc
                .as_ref()
                .and_then(|d| d.get("jwks_uri"))
                .and_then(|u| u.as_str())
                .and_then(|u| Url::parse(u).ok())
            {
                return Ok(u);
            }
            last = format!("{candidate}: no `jwks_uri`");
        }
        Err(JwksError::Fetch(format!(
            "no metadata with `jwks_uri` for issuer {} ({last})",
            self.issuer
        )))
    }
}

fn pick(keys: &JwkSet, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => keys.find(kid).cloned(),
        None => match keys.keys.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    }
}

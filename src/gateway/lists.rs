//! The list cache: each upstream's tools, prompts, resources and resource templates.
//!
//! Lists are cached per upstream and per kind (moka), never per profile or caller: every view of
//! an upstream shares one fetch, so adding profiles or callers never multiplies upstream calls.
//! Concurrent misses for one key are coalesced into one fetch. An entry lives until the upstream
//! says `list_changed`, the upstream reconnects, or its TTL passes; a failed fetch is remembered
//! briefly so a dead upstream does not make every list wait for its timeout.
//!
//! Caching hints (2026-07-28 upstreams): a list's `ttlMs` shortens its entry's life (never
//! lengthens it past the policy's TTL), and `cacheScope: private` is remembered, so the hub's
//! own hints ([`Hint`]) are never fresher or more public than what it was built from.
//!
//! A [`generation`](ListCache::generation) counter moves whenever an entry is added or removed;
//! views built from the cache remember the generation they saw and rebuild when it moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use rmcp::model::{CacheScope, Prompt, Resource, ResourceTemplate, ServerCapabilities, Tool};
use rmcp::service::{MergedList, Peer, RoleClient, ServiceError};

use crate::plan::UpstreamId;
use crate::upstream::UpstreamHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl ListKind {
    pub const ALL: [ListKind; 4] = [
        ListKind::Tools,
        ListKind::Prompts,
        ListKind::Resources,
        ListKind::Templates,
    ];

    /// Its place in [`ListKind::ALL`].
    pub fn index(self) -> usize {
        match self {
            ListKind::Tools => 0,
            ListKind::Prompts => 1,
            ListKind::Resources => 2,
            ListKind::Templates => 3,
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "tools/list",
            ListKind::Prompts => "prompts/list",
            ListKind::Resources => "resources/list",
            ListKind::Templates => "resources/templates/list",
        }
    }

    /// Whether the upstream said it offers this kind at all.
    fn offered_by(self, caps: &ServerCapabilities) -> bool {
        match self {
            ListKind::Tools => caps.tools.is_some(),
            ListKind::Prompts => caps.prompts.is_some(),
            ListKind::Resources | ListKind::Templates => caps.resources.is_some(),
        }
    }
}

/// One fetched list.
#[derive(Debug, Clone)]
pub enum Listed {
    Tools(Arc<Vec<Tool>>),
    Prompts(Arc<Vec<Prompt>>),
    Resources(Arc<Vec<Resource>>),
    Templates(Arc<Vec<ResourceTemplate>>),
}

/// A cache entry: the list, or why it could not be had.
#[derive(Debug)]
pub struct Entry {
    pub result: Result<Listed, String>,
    pub fetched_at: Instant,
    /// The upstream's caching hints for the list (none from `initialize`-era upstreams).
    pub hint: Hint,
}

/// Caching hints of a list (`ttlMs`, `cacheScope`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hint {
    /// How long the list may be treated as fresh; `None`: the upstream did not say.
    pub ttl: Option<Duration>,
    /// Only the requesting user's client may cache it.
    pub private: bool,
}

impl Hint {
    fn of<T>(merged: &MergedList<T>) -> Hint {
        Hint {
            ttl: merged.ttl_ms.map(Duration::from_millis),
            private: merged.cache_scope == Some(CacheScope::Private),
        }
    }
}

impl Entry {
    /// When the entry stops being fresh under `policy` and the upstream's hint.
    pub fn expires(&self, policy: CachePolicy) -> Instant {
        self.fetched_at + lifetime(&self.result, self.hint, policy)
    }
}

/// How long an entry lives: the policy's TTL (error TTL for failures), shortened by the
/// upstream's `ttlMs`.
fn lifetime(result: &Result<Listed, String>, hint: Hint, policy: CachePolicy) -> Duration {
    match result {
        Ok(_) => hint.ttl.map_or(policy.ttl, |t| t.min(policy.ttl)),
        Err(_) => policy.error_ttl,
    }
}

type Key = (UpstreamId, ListKind);

/// How long entries live.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// For lists: the upper bound when an upstream never sends `list_changed`.
    pub ttl: Duration,
    /// For failures: how long a failed fetch is remembered before the next try.
    pub error_ttl: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            error_ttl: Duration::from_secs(5),
        }
    }
}

struct EntryExpiry(CachePolicy);

impl Expiry<Key, Arc<Entry>> for EntryExpiry {
    fn expire_after_create(&self, _: &Key, value: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(lifetime(&value.result, value.hint, self.0))
    }
}

pub struct ListCache {
    cache: Cache<Key, Arc<Entry>>,
    generation: Arc<AtomicU64>,
    policy: CachePolicy,
}

impl ListCache {
    pub fn new(policy: CachePolicy) -> Self {
        let generation = Arc::new(AtomicU64::new(0));
        let on_evict = generation.clone();
        let cache = Cache::builder()
            .expire_after(EntryExpiry(policy))
            .eviction_listener(move |_, _, _| {
                on_evict.fetch_add(1, Ordering::Release);
            })
            .build();
        Self {
            cache,
            generation,
            policy,
        }
    }

    pub fn policy(&self) -> CachePolicy {
        self.policy
    }

    /// Moves whenever the cache's content may have changed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The list of one kind from one upstream: cached, or fetched now (one fetch per key however
    /// many callers wait), bounded by the upstream's timeout.
    pub async fn get(&self, upstream: &UpstreamHandle, kind: ListKind) -> (Arc<Entry>, bool) {
        let key = (upstream.id().clone(), kind);
        if let Some(hit) = self.cache.get(&key).await {
            return (hit, true);
        }
        if upstream.per_client_only() {
            // The registry's connection of an upstream that propagates the caller's identity
            // never connects; its lists come through a client's own connection. Nothing to
            // fetch, nothing to remember.
            let entry = Entry {
                result: Err("reached only through a client's own connection".into()),
                fetched_at: Instant::now(),
                hint: Hint::default(),
            };
            return (Arc::new(entry), false);
        }
        let entry = self
            .cache
            .get_with(key, async {
                let fetched = fetch(upstream, kind).await;
                tracing::debug!(upstream = %upstream.id(), method = kind.method(), ok = fetched.is_ok(), "list fetched");
                let (result, hint) = match fetched {
                    Ok((listed, hint)) => (Ok(listed), hint),
                    Err(e) => (Err(e), Hint::default()),
                };
                if let Err(error) = &result {
                    tracing::warn!(
                        upstream = %upstream.id(),
                        method = kind.method(),
                        %error,
                        "upstream left out of the list"
                    );
                }
                Arc::new(Entry {
                    result,
                    fetched_at: Instant::now(),
                    hint,
                })
            })
            .await;
        self.generation.fetch_add(1, Ordering::Release);
        (entry, false)
    }

    /// Whether one list of one upstream is cached now (without fetching or counting a lookup),
    /// for `explain`.
    pub fn contains(&self, upstream: &UpstreamId, kind: ListKind) -> bool {
        self.cache.contains_key(&(upstream.clone(), kind))
    }

    /// Forgets one kind of one upstream (on `list_changed`).
    pub async fn invalidate(&self, upstream: &UpstreamId, kind: ListKind) {
        self.cache.invalidate(&(upstream.clone(), kind)).await;
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Forgets everything of one upstream (on reconnect or removal).
    pub async fn invalidate_upstream(&self, upstream: &UpstreamId) {
        for kind in ListKind::ALL {
            self.cache.invalidate(&(upstream.clone(), kind)).await;
        }
        self.generation.fetch_add(1, Ordering::Release);
    }
}

async fn fetch(upstream: &UpstreamHandle, kind: ListKind) -> Result<(Listed, Hint), String> {
    let timeout = upstream.spec().timeout;
    let peer = crate::gateway::connected(upstream, timeout)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(info) = upstream.server_info()
        && !kind.offered_by(&info.capabilities)
    {
        return Ok((empty(kind), Hint::default()));
    }
    let _in_flight = upstream.begin_request();
    tracing::debug!(upstream = %upstream.id(), method = kind.method(), "fetching list");
    match tokio::time::timeout(timeout, list_all(&peer, kind)).await {
        Ok(Ok(listed)) => Ok(listed),
        Ok(Err(e)) => Err(format!("{} failed: {e}", kind.method())),
        Err(_) => Err(format!(
            "{} timed out after {}",
            kind.method(),
            crate::gateway::fmt_duration(timeout)
        )),
    }
}

/// Every page of one list (rmcp follows `nextCursor` and merges the pages' hints).
async fn list_all(peer: &Peer<RoleClient>, kind: ListKind) -> Result<(Listed, Hint), ServiceError> {
    Ok(match kind {
        ListKind::Tools => {
            let merged = peer.list_all_tools_with_cache_hint().await?;
            {
                let hint = Hint::of(&merged);
                (Listed::Tools(Arc::new(merged.items)), hint)
            }
        }
        ListKind::Prompts => {
            let merged = peer.list_all_prompts_with_cache_hint().await?;
            {
                let hint = Hint::of(&merged);
                (Listed::Prompts(Arc::new(merged.items)), hint)
            }
        }
        ListKind::Resources => {
            let merged = peer.list_all_resources_with_cache_hint().await?;
            {
                let hint = Hint::of(&merged);
                (Listed::Resources(Arc::new(merged.items)), hint)
            }
        }
        ListKind::Templates => {
            let merged = peer.list_all_resource_templates_with_cache_hint().await?;
            {
                let hint = Hint::of(&merged);
                (Listed::Templates(Arc::new(merged.items)), hint)
            }
        }
    })
}

fn empty(kind: ListKind) -> Listed {
    match kind {
        ListKind::Tools => Listed::Tools(Arc::default()),
        ListKind::Prompts => Listed::Prompts(Arc::default()),
        ListKind::Resources => Listed::Resources(Arc::default()),
        ListKind::Templates => Listed::Templates(Arc::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CachePolicy = CachePolicy {
        ttl: Duration::from_secs(300),
        error_ttl: Duration::from_secs(5),
    };

    fn hinted(ttl: Option<u64>) -> Hint {
        Hint {
            ttl: ttl.map(Duration::from_millis),
            private: false,
        }
    }

    #[test]
    fn an_upstream_ttl_shortens_an_entry_but_never_lengthens_it() {
        let ok = Ok(empty(ListKind::Tools));
        assert_eq!(lifetime(&ok, hinted(None), POLICY), POLICY.ttl);
        assert_eq!(
            lifetime(&ok, hinted(Some(30_000)), POLICY),
            Duration::from_secs(30)
        );
        assert_eq!(lifetime(&ok, hinted(Some(0)), POLICY), Duration::ZERO);
        assert_eq!(lifetime(&ok, hinted(Some(86_400_000)), POLICY), POLICY.ttl);
        let failed = Err("down".to_string());
        assert_eq!(
            lifetime(&failed, hinted(Some(60_000)), POLICY),
            POLICY.error_ttl
        );
    }
}

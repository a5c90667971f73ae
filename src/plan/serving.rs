//! How the HTTP server treats clients ([`ServeSettings`], `limits { … }`) and what replicas
//! share ([`ClusterSettings`], `cluster { … }`). Both are read once, at start: `mcp2 serve`
//! flags and their environment variables override them, and a reload that changes them only
//! logs that a restart is needed.

use std::time::Duration;

use serde::Serialize;

use super::Secret;

/// `limits { max-body 4MiB  header-timeout 10s  idle-timeout 30m }`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ServeSettings {
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body: usize,
    /// How long a client may take to send a request's headers.
    #[serde(with = "super::humantime_ser")]
    pub header_timeout: Duration,
    /// How long a Streamable HTTP session may go without a request before it is closed.
    #[serde(with = "super::humantime_ser")]
    pub idle_timeout: Duration,
}

impl ServeSettings {
    pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            max_body: Self::DEFAULT_MAX_BODY,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// `cluster { session-key "${VAR}"  redis "redis://…"  on-redis-unavailable allow }`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The key sealing session ids; checked to be 32 bytes as base64 or hex.
    pub session_key: Option<Secret>,
    /// The Redis URL shared by the replicas (a secret: it may carry a password).
    pub redis: Option<Secret>,
    /// What a rate-limit check does when Redis cannot answer.
    pub on_redis_unavailable: RedisUnavailable,
}

/// `on-redis-unavailable allow|deny` (also the `--redis-unavailable` flag's values).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RedisUnavailable {
    /// Admit the request (counted as a warning).
    #[default]
    Allow,
    /// Refuse the request as rate limited.
    Deny,
}

//! The compiled plan: everything the gateway runs, typed, validated and immutable.
//!
//! `check` builds a [`Plan`]; `serve` holds it in an `ArcSwap` and swaps in a new one on reload;
//! `explain` reads the very same value. Nothing here re-parses user text: names are newtypes,
//! matchers are compiled, durations are [`Duration`]s, and secrets are [`Secret`]s that cannot be
//! printed by accident. This module depends on nothing of the front-ends (no AST, no pest).

pub mod auth;
pub mod authz;
pub mod rules;
pub mod secret;
pub mod serving;
pub mod upauth;

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;
use url::Url;

pub use auth::{AuditSettings, AuditSink, EndpointAuth, Introspection, OAuthSpec};
pub use rules::{Caller, Decision, ItemKind, ItemRef, RuleTable};
pub use secret::Secret;
pub use serving::{ClusterSettings, RedisUnavailable, ServeSettings};
pub use upauth::{
    AuthorizationCode, ClientCredentials, TokenEndpoint, TokenExchange, UpstreamAuthSpec,
};

use crate::source::Location;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(s: impl AsRef<str>) -> Self {
                Self(Arc::from(s.as_ref()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// The declared name of an upstream (`github`).
    UpstreamId
);
name_type!(
    /// The declared name of a profile (`safe`).
    ProfileName
);

/// The whole compiled route set.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub listen: SocketAddr,
    /// Browser origins accepted besides loopback ones (`listen … allow-origin …`): `"null"` or
    /// `scheme://host[:port|:*]`. Requests with any other `Origin` get 403.
    pub allowed_origins: Vec<String>,
    /// In declaration order (across files, in file order).
    pub upstreams: IndexMap<UpstreamId, Arc<UpstreamSpec>>,
    pub profiles: IndexMap<ProfileName, Arc<Profile>>,
    /// The profile served at `/mcp` when no endpoint is declared, and by `serve --stdio`.
    pub default_profile: ProfileName,
    /// Endpoints in declaration order; the first whose path and condition match serves.
    pub endpoints: Vec<Endpoint>,
    pub logging: LoggingSettings,
    /// Where the `/_mcp2/*` endpoints are served and the token they need (`admin { … }`).
    pub admin: AdminSettings,
    /// The audit trail (`audit { … }`); `None`: no audit records.
    pub audit: Option<AuditSettings>,
    /// Body size and timeouts of HTTP serving (`limits { … }`).
    pub serve: ServeSettings,
    /// What replicas share (`cluster { … }`); `None`: nothing is shared.
    pub cluster: Option<ClusterSettings>,
    /// The files this plan was compiled from, for `explain` and reload.
    pub sources: Vec<PathBuf>,
}

impl Plan {
    pub fn upstream(&self, id: &str) -> Option<&Arc<UpstreamSpec>> {
        self.upstreams.get(id)
    }

    pub fn profile(&self, name: &str) -> Option<&Arc<Profile>> {
        self.profiles.get(name)
    }

    /// The plan as JSON without `origin` and `sources` fields, so that two plans compiled from
    /// different files (a YAML file and its `mcp2 convert` output) compare equal when they mean
    /// the same. Secrets appear redacted, as everywhere.
    pub fn to_comparable_json(&self) -> serde_json::Value {
        use serde_json::Value;
        // Only an `origin` holding a `Location`: a tool or env variable may well be named
        // `origin`, and its entry must stay.
        fn is_location(v: &Value) -> bool {
            v.as_object().is_some_and(|m| {
                m.len() == 3 && ["file", "line", "col"].iter().all(|k| m.contains_key(*k))
            })
        }
        fn strip(v: &mut Value) {
            match v {
                Value::Object(map) => {
                    if map.get("origin").is_some_and(is_location) {
                        map.remove("origin");
                    }
                    map.values_mut().for_each(strip);
                }
                Value::Array(items) => items.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(top) = &mut v {
            top.remove("sources");
        }
        strip(&mut v);
        v
    }
}

/// How to reach one upstream. Two specs with the same [`UpstreamSpec::identity`] are the same
/// connection: a reload that leaves it unchanged keeps the running connection (and child process).
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamSpec {
    pub id: UpstreamId,
    pub transport: TransportSpec,
    /// Sent on every HTTP request to the upstream; configured values always win over anything a
    /// client sends.
    pub headers: Vec<(String, Secret)>,
    /// Credentials mcp2 obtains and sends as `Authorization: Bearer` (OAuth), if any.
    pub auth: Option<UpstreamAuthSpec>,
    /// Per-request timeout.
    #[serde(with = "humantime_ser")]
    pub timeout: Duration,
    /// Time allowed to connect and finish the `initialize` handshake.
    #[serde(with = "humantime_ser")]
    pub connect_timeout: Duration,
    /// Whether downstream clients share one connection or each get their own.
    pub session: SessionMode,
    /// Which protocol era mcp2 speaks to it.
    pub protocol: ProtocolMode,
    pub origin: Location,
}

/// Which protocol era mcp2 speaks to one upstream (`protocol auto|initialize|2026-07-28`).
///
/// `Initialize` is the `initialize` handshake of revisions up to 2025-11-25 (one session per
/// connection). `Modern` is 2026-07-28: `server/discover`, then every request stands alone.
/// `Auto` (the default) lets the connection find out; see `upstream::era` for what it does per
/// transport. Part of the connection's identity: changing it reconnects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum ProtocolMode {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "initialize")]
    Initialize,
    #[serde(rename = "2026-07-28")]
    Modern,
}

impl fmt::Display for ProtocolMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolMode::Auto => "auto",
            ProtocolMode::Initialize => "initialize",
            ProtocolMode::Modern => "2026-07-28",
        })
    }
}

/// How downstream sessions map to connections of one upstream (`session shared|per-client`).
///
/// `Shared` (the default) is one connection for every client: cheap, and right for stateless
/// servers; a server→client request (sampling, elicitation, roots) is answered by the client
/// whose request is in flight on it, and refused when that is ambiguous. `PerClient` gives each
/// downstream session a connection of its own (its own child for stdio), opened on first use
/// and closed with the session: right for stateful servers, and every server→client request
/// has exactly one client to go to. Not part of the connection's identity: changing it in a
/// reload keeps the registry's connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionMode {
    #[default]
    Shared,
    PerClient,
}

impl fmt::Display for SessionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionMode::Shared => "shared",
            SessionMode::PerClient => "per-client",
        })
    }
}

impl UpstreamSpec {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A hash of everything that affects the connection (not the origin): equal identities mean
    /// a reload may keep the running connection.
    pub fn identity(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.id.hash(&mut h);
        self.transport.hash(&mut h);
        for (k, v) in &self.headers {
            k.hash(&mut h);
            v.expose().hash(&mut h);
        }
        self.auth.hash(&mut h);
        self.timeout.hash(&mut h);
        self.connect_timeout.hash(&mut h);
        self.protocol.hash(&mut h);
        h.finish()
    }
}

#[derive(Debug, Clone, Serialize, Hash, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TransportSpec {
    Stdio {
        command: String,
        args: Vec<String>,
        /// Only these variables (plus a minimal safe set chosen by the upstream layer) reach the
        /// child.
        env: BTreeMap<String, Secret>,
        cwd: Option<PathBuf>,
    },
    Http {
        url: Url,
    },
    Sse {
        url: Url,
    },
}

impl TransportSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            TransportSpec::Stdio { .. } => "stdio",
            TransportSpec::Http { .. } => "http",
            TransportSpec::Sse { .. } => "sse",
        }
    }
}

/// One audience's view of the upstreams.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: ProfileName,
    pub meta: Meta,
    /// Upstreams in priority order: on a public-name collision the earlier one keeps the name.
    pub upstreams: Vec<UpstreamId>,
    pub rules: RuleTable,
    pub limits: Vec<LimitSpec>,
    pub origin: Location,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            name: "mcp2".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: None,
        }
    }
}

/// A rate as `count` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Rate {
    pub count: u32,
    #[serde(with = "humantime_ser")]
    pub per: Duration,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s".to_string(),
            60 => "min".to_string(),
            3600 => "h".to_string(),
            86400 => "day".to_string(),
            _ => format!("{}s", self.per.as_secs_f64()),
        };
        write!(f, "{}/{}", self.count, unit)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitSpec {
    pub scope: LimitScopeSpec,
    pub rate: Rate,
    pub per: LimitKey,
    pub origin: Location,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LimitScopeSpec {
    Upstream { upstream: UpstreamId },
    Tool { matcher: rules::Matcher },
}

/// Who shares one rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitKey {
    /// One bucket for everyone.
    Global,
    /// One bucket per downstream session.
    Session,
    /// One bucket per API key (anonymous callers share one).
    Key,
}

/// A path bound to a profile.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    /// The HTTP path (`/mcp`). For per-upstream endpoints, the path with `{upstream}` replaced.
    pub path: String,
    pub profile: ProfileName,
    /// `Some` for a per-upstream endpoint: only this upstream of the profile is served.
    pub only_upstream: Option<UpstreamId>,
    pub when: Option<EndpointCondition>,
    /// The credentials clients may present, any one of which admits them; empty: anyone who
    /// can reach the port.
    pub auth: Vec<EndpointAuth>,
    /// Where the same endpoint is served as legacy HTTP+SSE (2024-11-05), if anywhere.
    pub legacy_sse: Option<String>,
    pub origin: Location,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndpointCondition {
    /// Header names are lower-case.
    HeaderEquals {
        name: String,
        value: String,
    },
    HeaderPresent {
        name: String,
    },
}

impl EndpointCondition {
    /// Whether a request with these headers (`name` lower-case → value) meets the condition.
    pub fn matches<'a>(&self, mut header: impl FnMut(&str) -> Option<&'a str>) -> bool {
        match self {
            EndpointCondition::HeaderEquals { name, value } => header(name) == Some(value),
            EndpointCondition::HeaderPresent { name } => header(name).is_some(),
        }
    }
}

impl fmt::Display for EndpointCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointCondition::HeaderEquals { name, value } => {
                write!(f, "header {name} == {value:?}")
            }
            EndpointCondition::HeaderPresent { name } => write!(f, "header {name}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggingSettings {
    /// An `EnvFilter` directive string (`info`, `warn,mcp2::upstream=debug`).
    pub filter: String,
    pub file: Option<PathBuf>,
    pub max_size_mb: u64,
    pub max_backups: u64,
    pub max_age_days: u64,
    pub compress: bool,
    pub log_requests: bool,
    pub log_responses: bool,
    /// A finer rotation size (`max-size-kb`); when set it replaces `max_size_mb`.
    pub max_size_kb: Option<u64>,
    /// Cap of one logged request or response body, in KiB; longer bodies are cut with a marker.
    pub max_body_kb: u64,
    /// JSON object keys whose values are redacted in logged bodies, lower-case: the built-in
    /// [`LoggingSettings::DEFAULT_REDACT_KEYS`] and the configured ones.
    pub redact_keys: Vec<String>,
}

impl LoggingSettings {
    /// Keys always redacted in logged bodies. A key matches when, lower-cased and without `-`
    /// and `_`, it ends with one of these (so `x-api-key`, `client_secret`, `access_token`).
    pub const DEFAULT_REDACT_KEYS: &[&str] = &[
        "authorization",
        "password",
        "passwd",
        "token",
        "secret",
        "api_key",
        "apikey",
        "cookie",
        "credential",
        "credentials",
        "private_key",
    ];

    /// The size at which the log file rotates, in bytes.
    pub fn max_size_bytes(&self) -> u64 {
        match self.max_size_kb {
            Some(kb) => kb.saturating_mul(1024),
            None => self.max_size_mb.saturating_mul(1024 * 1024),
        }
    }
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            file: None,
            max_size_mb: 100,
            max_backups: 3,
            max_age_days: 30,
            compress: false,
            log_requests: false,
            log_responses: false,
            max_size_kb: None,
            max_body_kb: 64,
            redact_keys: Self::DEFAULT_REDACT_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect(),
        }
    }
}

/// `admin { listen ADDR  token "${VAR}" }`. The CLI (`--admin-listen`, `--admin-token`,
/// `MCP2_ADMIN_TOKEN`) overrides both.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AdminSettings {
    /// Serve the admin endpoints on their own address; `None` serves them beside the MCP
    /// endpoints.
    pub listen: Option<SocketAddr>,
    /// When set, every admin endpoint but `health` needs `Authorization: Bearer <token>`.
    pub token: Option<Secret>,
}

pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8210);

mod humantime_ser {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }
}

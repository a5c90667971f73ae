//! The route AST: what a user wrote, with where they wrote it, and no meaning yet.
//!
//! Both front-ends (`.mcproute` and YAML) lower into these types, so one checker serves both.
//! Values the checker must interpret (durations, rates, URLs, `${VAR}` templates, globs) stay as
//! the strings the user wrote, with their spans: the checker reports their mistakes the same way
//! whichever language they came from. Equality ignores spans ([`Spanned`]), so the AST of a YAML
//! file and of its `mcp2 convert` output compare equal.

use crate::source::{NodeSpan, Spanned};

/// A string as written, after unescaping, with the span of the whole literal.
pub type Str = Spanned<String>;

/// One source file's declarations, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct File {
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Listen(Listen),
    Upstream(Upstream),
    Profile(Profile),
    Endpoint(Endpoint),
    Logging(Logging),
    /// `admin { listen ADDR  token "${VAR}" }` (YAML `admin:`).
    Admin(Admin),
    /// `oauth NAME { … }` (YAML `oauth:` entries): an authorization server.
    OAuth(OAuthServer),
    /// `audit { … }` (YAML `audit:`).
    Audit(Audit),
    /// `limits { max-body 4MiB  header-timeout 10s  idle-timeout 30m }` (YAML `limits:`).
    Limits(Limits),
    /// `cluster { session-key "${VAR}"  redis "redis://…"  on-redis-unavailable allow }`
    /// (YAML `cluster:`).
    Cluster(Cluster),
    /// `default-profile NAME` (YAML `defaultProfile`): the profile served at `/mcp` when no
    /// `endpoint` says otherwise.
    DefaultProfile(Str),
}

/// `listen 127.0.0.1:8210` (YAML `listen: {host, port}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// `host:port` as written; the checker parses it.
    pub addr: Str,
    /// `allow-origin "https://app.example.com" …`: browser origins accepted besides loopback
    /// ones, as written.
    pub origins: Vec<Str>,
    pub span: NodeSpan,
}

/// An MCP server mcp2 connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub name: Str,
    /// `None` when the block names no transport; the checker reports it.
    pub transport: Option<Spanned<Transport>>,
    /// HTTP headers sent on every request to the upstream (http and sse only).
    pub headers: Vec<KeyValue>,
    /// Environment variables for a stdio child.
    pub env: Vec<KeyValue>,
    /// Working directory of a stdio child.
    pub cwd: Option<Str>,
    /// Per-request timeout (`30s`).
    pub timeout: Option<Str>,
    /// Connect / start-up timeout (`10s`).
    pub connect_timeout: Option<Str>,
    /// How clients share the upstream (`shared`, `per-client`; YAML `perClient`), as written.
    pub session: Option<Str>,
    /// Which protocol era to speak to it (`auto`, `initialize`, `2026-07-28`), as written.
    pub protocol: Option<Str>,
    /// How mcp2 obtains credentials for it beyond static headers (`auth oauth …`).
    pub auth: Option<UpstreamAuth>,
    pub span: NodeSpan,
}

/// `auth oauth client-credentials token-url "…" client-id "…" client-secret "${S}"` (YAML
/// `auth: { oauth: clientCredentials, tokenUrl: …, clientId: …, clientSecret: … }`): credentials
/// mcp2 obtains for one upstream. The flow and the parameter names stay as written (kebab-case;
/// YAML's camelCase keys are converted by its front-end); the checker knows which parameters
/// each flow takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamAuth {
    /// `client-credentials`, as written.
    pub flow: Str,
    /// `token-url "…"`, `client-id "…"`, …: in the order written.
    pub params: Vec<KeyValue>,
    pub span: NodeSpan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `stdio "npx" "-y" "pkg"`: the command and its arguments.
    Stdio { command: Str, args: Vec<Str> },
    /// `http "https://…/mcp"`: Streamable HTTP.
    Http { url: Str },
    /// `sse "https://…/sse"`: legacy HTTP+SSE (2024-11-05).
    Sse { url: Str },
}

/// `NAME = "value"` in `header` and `env` settings. The value may hold `${VAR}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Str,
    pub value: Str,
    pub span: NodeSpan,
}

/// An audience: which upstreams it sees, through which rules, under which names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: Str,
    pub meta: Meta,
    /// Upstreams this profile aggregates, in order (order breaks name collisions). Empty means
    /// every declared upstream, in declaration order.
    pub uses: Vec<Str>,
    /// Public-name template such as `{upstream}__`.
    pub prefix: Option<Str>,
    /// Filter, rename and describe rules, in the order written.
    pub rules: Vec<Rule>,
    pub limits: Vec<Limit>,
    pub span: NodeSpan,
}

/// What a profile's `initialize` answer says about the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    pub name: Option<Str>,
    pub version: Option<Str>,
    pub description: Option<Str>,
}

/// The three kinds of things an MCP server offers that rules can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    Tool,
    Prompt,
    Resource,
}

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [ItemKind::Tool, ItemKind::Prompt, ItemKind::Resource];

    pub fn keyword(self) -> &'static str {
        match self {
            ItemKind::Tool => "tool",
            ItemKind::Prompt => "prompt",
            ItemKind::Resource => "resource",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Deny,
}

/// How a rule names items: `UPSTREAM/NAME` where both halves are globs, or `UPSTREAM matching
/// /regex/` where the name is matched by a regular expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A glob over upstream names (`*` for all).
    pub upstream: Str,
    pub name: NamePattern,
    pub span: NodeSpan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    /// A glob (`search_*`); a plain name is a glob without wildcards.
    Glob(Str),
    /// A regular expression, written `/…/` in `.mcproute`.
    Regex(Str),
}

/// One line in a profile's rule list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub kind: ItemKind,
    pub body: RuleBody,
    pub span: NodeSpan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleBody {
    /// `allow tool github/search_*`, `deny prompt * matching /^admin_/`.
    Filter {
        action: Spanned<Action>,
        target: Target,
        /// `when …` / `unless …`: the callers the rule applies to.
        condition: Option<RuleCondition>,
    },
    /// `rename tool github/search_code -> code_search`: exact original name, full public name.
    Rename { upstream: Str, name: Str, to: Str },
    /// `describe tool files/read_file "text"`: replaces the description clients see.
    Describe { upstream: Str, name: Str, text: Str },
}

/// `when claim groups contains "eng"`, `unless scope has "admin"`, `when key ci-bot`, as written;
/// the checker reads the source and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCondition {
    /// `unless`: the rule applies when the test fails.
    pub negate: bool,
    /// `claim`, `scope`, `key`, `endpoint` or `authenticated`.
    pub source: Str,
    /// The claim path (`org.team`), key name or endpoint path.
    pub subject: Option<Str>,
    /// `==`, `contains` or `has`, with the value compared.
    pub test: Option<(Str, Str)>,
    pub span: NodeSpan,
}

/// `limit github 100/min`, `limit tool github/search_* 10/s per client`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub scope: LimitScope,
    /// `100/min` as written.
    pub rate: Str,
    /// `per client` / `per session` / `per key`; `None` means shared by every caller.
    pub per: Option<Str>,
    pub span: NodeSpan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitScope {
    /// Every call to this upstream.
    Upstream(Str),
    /// Calls to the tools this target matches.
    Tool(Target),
}

/// `endpoint "/mcp" -> safe`, `endpoint "/mcp/ops" -> ops when header X-Team == "ops"`,
/// `endpoint "/servers/{upstream}/mcp" -> safe` (one endpoint per upstream of the profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub path: Str,
    pub profile: Str,
    pub when: Option<Condition>,
    /// `auth bearer "${TOKEN}"`, `auth key NAME "${KEY}"`, `auth oauth NAME`: what clients may
    /// present (any one of them).
    pub auth: Vec<EndpointAuth>,
    /// `sse "/sse"` (YAML hub `ssePath`): also serve this endpoint to legacy HTTP+SSE
    /// (2024-11-05) clients on that path.
    pub sse: Option<Str>,
    pub span: NodeSpan,
}

/// The credential an endpoint requires, as written; the checker reads the kind and expands
/// the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointAuth {
    /// `bearer`, `key` or `oauth`.
    pub kind: Str,
    /// The key's name (`auth key ci-bot "…"`).
    pub name: Option<Str>,
    /// The secret (`bearer`, `key`) or the `oauth` block's name.
    pub value: Str,
    pub span: NodeSpan,
}

/// `oauth NAME { issuer … jwks … resource … leeway … scopes … introspect … }`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthServer {
    pub name: Str,
    pub issuer: Option<Str>,
    pub jwks: Option<Str>,
    pub resource: Option<Str>,
    pub leeway: Option<Str>,
    pub scopes: Vec<Str>,
    pub introspect: Option<Str>,
    pub client_id: Option<Str>,
    pub client_secret: Option<Str>,
    pub span: NodeSpan,
}

/// `audit { file "…" max-size-mb 100 max-backups 5 }` or `audit { stdout true }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audit {
    pub file: Option<Str>,
    pub stdout: Option<Spanned<bool>>,
    pub max_size_mb: Option<Spanned<u64>>,
    pub max_backups: Option<Spanned<u64>>,
    pub span: NodeSpan,
}

/// A condition on the incoming HTTP request that selects among endpoints on one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `header NAME == "value"`.
    HeaderEquals {
        name: Str,
        value: Str,
        span: NodeSpan,
    },
    /// `header NAME` (present, any value).
    HeaderPresent { name: Str, span: NodeSpan },
}

/// `logging { … }` (YAML `logging:`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Logging {
    /// `debug|info|warn|error`, or an `EnvFilter` directive list (`info,mcp2::upstream=debug`).
    pub level: Option<Str>,
    /// JSON-lines log file; stderr only when unset.
    pub file: Option<Str>,
    pub max_size_mb: Option<Spanned<u64>>,
    /// A finer rotation size (`max-size-kb`, YAML `maxSizeKB`); exclusive with `max_size_mb`.
    pub max_size_kb: Option<Spanned<u64>>,
    pub max_backups: Option<Spanned<u64>>,
    pub max_age_days: Option<Spanned<u64>>,
    pub compress: Option<Spanned<bool>>,
    pub log_requests: Option<Spanned<bool>>,
    pub log_responses: Option<Spanned<bool>>,
    /// Cap of one logged request or response body in KiB (`max-body-kb`, YAML `maxBodyKB`).
    pub max_body_kb: Option<Spanned<u64>>,
    /// JSON object keys whose values are redacted in logged bodies, besides the built-in ones
    /// (`redact-keys "session_id" …`, YAML `redactKeys: [...]`).
    pub redact_keys: Vec<Str>,
    pub span: NodeSpan,
}

/// `limits { … }` (YAML `limits:`): what one HTTP request or session may take. Values as
/// written (`4MiB`, `10s`); the checker parses them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    /// Largest request body (`4MiB`, `512kb`, `1000000`).
    pub max_body: Option<Str>,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Option<Str>,
    /// How long a Streamable HTTP session may go without a request.
    pub idle_timeout: Option<Str>,
    pub span: NodeSpan,
}

/// `cluster { … }` (YAML `cluster:`): what replicas share. Values as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cluster {
    /// The session sealing key, normally `"${MCP2_SESSION_KEY}"`.
    pub session_key: Option<Str>,
    /// `redis://host:6379`: shared rate limits and list changes.
    pub redis: Option<Str>,
    /// `allow` or `deny`: what a rate-limit check does when Redis cannot answer.
    pub on_redis_unavailable: Option<Str>,
    pub span: NodeSpan,
}

/// `admin { … }` (YAML `admin:`): where the `/_mcp2/*` endpoints are served and their token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Admin {
    /// `host:port` as written; unset serves them beside the MCP endpoints.
    pub listen: Option<Str>,
    /// The bearer token as written (normally `"${VAR}"`); the checker expands it into a secret.
    pub token: Option<Str>,
    pub span: NodeSpan,
}

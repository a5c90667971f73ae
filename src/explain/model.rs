//! The explanation's types. Their JSON (`mcp2 explain --format json`, `POST /_mcp2/explain`) is
//! a stable format, documented in `docs/routes.md`: fields may be added, never renamed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::plan::ItemKind;
use crate::plan::rules::{RuleRef, Step};

/// The MCP methods `explain` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "initialize")]
    Initialize,
    #[serde(rename = "tools/list")]
    ToolsList,
    #[serde(rename = "tools/call")]
    ToolsCall,
    #[serde(rename = "prompts/list")]
    PromptsList,
    #[serde(rename = "prompts/get")]
    PromptsGet,
    #[serde(rename = "resources/list")]
    ResourcesList,
    #[serde(rename = "resources/read")]
    ResourcesRead,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::Initialize,
        Method::ToolsList,
        Method::ToolsCall,
        Method::PromptsList,
        Method::PromptsGet,
        Method::ResourcesList,
        Method::ResourcesRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Initialize => "initialize",
            Method::ToolsList => "tools/list",
            Method::ToolsCall => "tools/call",
            Method::PromptsList => "prompts/list",
            Method::PromptsGet => "prompts/get",
            Method::ResourcesList => "resources/list",
            Method::ResourcesRead => "resources/read",
        }
    }

    /// The kind of item the method lists or targets.
    pub fn kind(self) -> Option<ItemKind> {
        match self {
            Method::Initialize => None,
            Method::ToolsList | Method::ToolsCall => Some(ItemKind::Tool),
            Method::PromptsList | Method::PromptsGet => Some(ItemKind::Prompt),
            Method::ResourcesList | Method::ResourcesRead => Some(ItemKind::Resource),
        }
    }

    /// Whether the method names one item (and so needs a NAME or URI).
    pub fn targets_one(self) -> bool {
        matches!(
            self,
            Method::ToolsCall | Method::PromptsGet | Method::ResourcesRead
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown method `{0}`; expected one of: initialize, tools/list, tools/call, prompts/list, prompts/get, resources/list, resources/read"
)]
pub struct UnknownMethod(pub String);

impl FromStr for Method {
    type Err = UnknownMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownMethod(s.to_string()))
    }
}

/// What to explain: one request as a client would send it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Question {
    pub method: Method,
    /// The tool or prompt name, or the resource URI (for the methods that target one item).
    #[serde(default)]
    pub target: Option<String>,
    /// The endpoint path the request arrives on.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Request headers, for conditional endpoints. Their values are never echoed.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Who asks (`--claims FILE`, `--api-key NAME`); anonymous by default. The rules that test
    /// the caller decide with it, exactly as for a request authenticated that way.
    #[serde(default)]
    pub identity: crate::plan::authz::Identity,
}

fn default_endpoint() -> String {
    "/mcp".into()
}

/// Where the upstream lists came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The routes alone; no upstream was contacted.
    Offline,
    /// The upstreams, connected for this explanation.
    Live,
    /// A running mcp2's live plan, views and list cache.
    Server,
}

/// The whole explanation. See the module docs of `explain` for how it is built.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub method: Method,
    pub target: Option<String>,
    pub source: Source,
    pub endpoint: EndpointTrace,
    /// The profile the endpoint serves; `None` when no endpoint matched.
    pub profile: Option<ProfileTrace>,
    /// Every item decision consulted, in the order the server makes them.
    pub items: Vec<ItemTrace>,
    pub outcome: Outcome,
    /// The upstream the request goes to (calls), with what travels with the request.
    pub upstream: Option<UpstreamTrace>,
    /// The profile's rate limits and whether each counts this request.
    pub limits: Vec<LimitTrace>,
    pub cache: CacheTrace,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointTrace {
    pub path: String,
    /// Names of the headers given (values are never shown).
    pub headers: Vec<String>,
    /// The endpoints declared on this path, in order, as far as selection went.
    pub considered: Vec<EndpointCheck>,
    pub chosen: Option<ChosenEndpoint>,
    /// Why this endpoint (or why none).
    pub reason: String,
    /// Every served path, when none matched (for "did you mean").
    pub known_paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointCheck {
    pub profile: String,
    pub only_upstream: Option<String>,
    /// The `when` condition as written (`header x-team == "platform"`), if any.
    pub condition: Option<String>,
    pub matched: bool,
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChosenEndpoint {
    pub profile: String,
    /// `Some` on a per-upstream endpoint: only this upstream is served.
    pub only_upstream: Option<String>,
    /// `bearer` or `key` when the endpoint requires a credential (never its value).
    pub auth: Option<String>,
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileTrace {
    pub name: String,
    pub origin: String,
    /// The upstreams served on this endpoint, in priority order (earlier keeps a name).
    pub upstreams: Vec<String>,
    pub prefix: Option<String>,
    /// For list methods: how each upstream's items are decided (offline, this is all there is).
    pub policies: Vec<UpstreamPolicy>,
}

/// How one upstream's items of one kind are decided in this profile.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamPolicy {
    pub upstream: String,
    /// Filter rules of this kind whose upstream pattern covers this upstream, in order.
    pub rules: Vec<RuleLine>,
    /// Shown when no rule matches (`false`: the upstream has an allow-list).
    pub default_visible: bool,
    pub prefix: Option<String>,
    /// `original -> public` renames.
    pub renames: Vec<RenameLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleLine {
    pub rule: String,
    pub origin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenameLine {
    pub original: String,
    pub public: String,
    pub origin: String,
}

/// One item decision, with every step `decide` took.
#[derive(Debug, Clone, Serialize)]
pub struct ItemTrace {
    pub upstream: String,
    /// The upstream's own name (URI for resources; the URI template for templates).
    pub original: String,
    /// `Some(true)` when the upstream's live list has it, `Some(false)` when it does not
    /// (no decision then), `None` offline (assumed).
    pub offered: Option<bool>,
    pub steps: Vec<Step>,
    pub visible: bool,
    pub public_name: String,
    pub decided_by: Option<RuleRef>,
    /// Set when another item took the public name first.
    pub collision: Option<String>,
    /// Why there is no decision (`offered: false`): the upstream's list could not be had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// No endpoint serves the request.
    NoEndpoint,
    /// The request goes to `upstream` as `original`.
    Routed {
        upstream: String,
        original: String,
        /// Offline: the upstream must offer `original` (not checked); later entries are where
        /// the name would go otherwise, in order.
        assumed: bool,
        fallbacks: Vec<String>,
    },
    /// The name is hidden from this caller.
    Hidden {
        upstream: String,
        original: String,
        /// The rule that hid it; `None` when the default (an allow-list) or a collision did.
        rule: Option<RuleRef>,
        reason: String,
    },
    /// No upstream of the endpoint offers the name.
    Unknown {
        reason: String,
        suggestion: Option<String>,
    },
    /// A list: the names clients see (`None` offline: they depend on the upstreams).
    List { visible: Option<Vec<String>> },
    /// `initialize`: what the client is told.
    Initialize {
        server_name: String,
        server_version: String,
        upstreams: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct UpstreamTrace {
    pub upstream: String,
    pub transport: String,
    pub origin: String,
    /// Per-request timeout; it restarts whenever the upstream reports progress.
    pub timeout: String,
    pub connect_timeout: String,
    pub session: String,
    /// Header names the upstream connection adds to every request; values are `<redacted>`.
    pub headers: Vec<HeaderLine>,
    /// Environment variables a stdio child is given; values are `<redacted>`.
    pub env: Vec<HeaderLine>,
    /// How mcp2 obtains the upstream's credentials beyond static headers (OAuth), secrets
    /// redacted; `None` (and absent from the JSON) when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeaderLine {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitTrace {
    pub limit: String,
    pub origin: String,
    pub applies: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CacheTrace {
    /// Whether the answer may come from the gateway's cache.
    pub cached: bool,
    pub summary: String,
    /// Per upstream, for lists: `hit` (cached now), `miss` (fetched on the next request) or
    /// `unknown` (offline).
    pub upstreams: Vec<CacheLine>,
    /// What drops a cached list.
    pub invalidated_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CacheLine {
    pub upstream: String,
    pub state: String,
}

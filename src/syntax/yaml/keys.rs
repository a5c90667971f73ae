//! The key schema of the YAML format: which keys each mapping has, and friendly help for keys
//! people bring from elsewhere (the Go prototype, a client's `mcpServers` file, other gateways).
//!
//! Only names live here; what a key means is the lowering's business. Which keys exist is
//! not written here either: it comes from the types in [`super::schema`].

use std::sync::OnceLock;

use super::schema;

/// A kind of mapping in the format, named by where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Top,
    Listen,
    Logging,
    Admin,
    Server,
    Transport,
    RateLimit,
    Profile,
    Metadata,
    /// One entry of `profiles.P.servers`.
    ProfileServer,
    /// `tools:` / `prompts:` / `resources:` filters.
    Filter,
    /// `{ name: PATTERN, when: … }` in a filter's list.
    Pattern,
    /// The value of a pattern's `when` / `unless`.
    Condition,
    /// `rename:` / `describe:`, keyed by item kind.
    PerKind,
    Limits,
    Hub,
    /// One entry of `oauth:`.
    OAuth,
    Audit,
    /// `hub.auth`.
    HubAuth,
    /// Top-level `limits:` (body size and timeouts).
    ServeLimits,
    Cluster,
}

/// Help for a key that is not in the schema but says what its writer meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// Replaces the usual "unknown key" message when the key says more than a typo would.
    pub message: Option<String>,
    pub help: String,
}

impl Place {
    /// How messages name this mapping (`expected a mapping for a server`).
    pub fn what(self) -> &'static str {
        match self {
            Place::Top => "the top level of the file",
            Place::Listen => "`listen`",
            Place::Logging => "`logging`",
            Place::Admin => "`admin`",
            Place::Server => "a server",
            Place::Transport => "`transport`",
            Place::RateLimit => "`rateLimit`",
            Place::Profile => "a profile",
            Place::Metadata => "`metadata`",
            Place::ProfileServer => "a profile's server entry",
            Place::Filter => "a filter",
            Place::Pattern => "a pattern with a condition",
            Place::Condition => "a condition",
            Place::PerKind => "this setting",
            Place::Limits => "`limits`",
            Place::Hub => "`hub`",
            Place::OAuth => "an `oauth` entry",
            Place::Audit => "`audit`",
            Place::HubAuth => "`hub.auth`",
            Place::ServeLimits => "`limits`",
            Place::Cluster => "`cluster`",
        }
    }

    /// The keys this mapping takes, sorted: the properties of its type in [`schema`], so the
    /// front-end and the JSON Schema cannot disagree on what exists.
    pub fn keys(self) -> &'static [&'static str] {
        static KEYS: OnceLock<Vec<(Place, &'static [&'static str])>> = OnceLock::new();
        let all = KEYS.get_or_init(|| Place::ALL.iter().map(|p| (*p, p.schema_keys())).collect());
        all.iter()
            .find(|(p, _)| *p == self)
            .map(|(_, keys)| *keys)
            .unwrap_or(&[])
    }

    const ALL: [Place; 21] = [
        Place::Top,
        Place::Listen,
        Place::Logging,
        Place::Admin,
        Place::Server,
        Place::Transport,
        Place::RateLimit,
        Place::Profile,
        Place::Metadata,
        Place::ProfileServer,
        Place::Filter,
        Place::Pattern,
        Place::Condition,
        Place::PerKind,
        Place::Limits,
        Place::Hub,
        Place::OAuth,
        Place::Audit,
        Place::HubAuth,
        Place::ServeLimits,
        Place::Cluster,
    ];

    /// Computed once per place (see [`Place::keys`]); the names live for the whole process.
    fn schema_keys(self) -> &'static [&'static str] {
        let names = match self {
            Place::Top => schema::properties_of::<schema::Document>(),
            Place::Listen => schema::properties_of::<schema::ListenParts>(),
            Place::Logging => schema::properties_of::<schema::Logging>(),
            Place::Server => schema::properties_of::<schema::Server>(),
            Place::Transport => schema::properties_of::<schema::Transport>(),
            Place::RateLimit => schema::properties_of::<schema::RateLimitParts>(),
            Place::Profile => schema::properties_of::<schema::Profile>(),
            Place::Metadata => schema::properties_of::<schema::Metadata>(),
            Place::ProfileServer => schema::properties_of::<schema::ProfileServer>(),
            Place::Filter => schema::properties_of::<schema::Filter>(),
            Place::Pattern => schema::properties_of::<schema::Pattern>(),
            Place::Condition => schema::properties_of::<schema::Condition>(),
            Place::PerKind => schema::properties_of::<schema::PerKind>(),
            Place::Limits => schema::properties_of::<schema::Limits>(),
            Place::Hub => schema::properties_of::<schema::Hub>(),
            Place::Admin => schema::properties_of::<schema::Admin>(),
            Place::OAuth => schema::properties_of::<schema::OAuth>(),
            Place::Audit => schema::properties_of::<schema::Audit>(),
            Place::HubAuth => schema::properties_of::<schema::Auth>(),
            Place::ServeLimits => schema::properties_of::<schema::ServeLimits>(),
            Place::Cluster => schema::properties_of::<schema::Cluster>(),
        };
        let names: Vec<&'static str> = names
            .into_iter()
            .map(|n| &*Box::leak(n.into_boxed_str()))
            .collect();
        Box::leak(names.into_boxed_slice())
    }

    /// Friendly help for a key from another tool or a misplaced known key.
    pub fn hint(self, key: &str) -> Option<Hint> {
        let help = |h: &str| {
            Some(Hint {
                message: None,
                help: h.to_string(),
            })
        };
        match (self, key) {
            (_, "<<") => help(
                "YAML merge keys are not supported; write the keys out, or alias a whole value \
                 (`headers: *common_headers`)",
            ),
            (Place::Top, "mcpServers" | "mcp_servers" | "mcp-servers") => Some(Hint {
                message: Some(format!(
                    "`{key}` is the key of a client's server list (Claude Desktop, Cursor, VS Code), not of an mcp2 route file"
                )),
                help: "this looks like a client's mcpServers file: move each server under \
                       `servers:` as `NAME: { transport: { kind: stdio, command: …, args: [...] } }`"
                    .into(),
            }),
            (Place::Top, "upstreams" | "upstream" | "backends") => {
                help("mcp2's YAML calls them `servers`")
            }
            (Place::Top, "host" | "port" | "address" | "addr" | "bind") => {
                help("put it under `listen: { host: …, port: … }`")
            }
            (Place::Top, "log" | "logLevel" | "log_level" | "loglevel" | "logFile") => {
                help("put it under `logging:` (`level`, `file`, …)")
            }
            (Place::Top, "endpoints" | "endpoint" | "routes") => help(
                "YAML routes have `hub` and `exposePerServer`; for more endpoints write a .mcproute \
                 file beside this one (`endpoint \"/path\" -> profile`)",
            ),
            (Place::Top, "rateLimit" | "rateLimits") => help(
                "rate limits belong to a server (`servers.NAME.rateLimit`) or to a profile's server \
                 entry (`limits`)",
            ),
            (Place::Server, "transportType") => Some(Hint {
                message: Some("`transportType` is the Go prototype's key".into()),
                help: "write `transport: { kind: stdio | http | sse, … }`".into(),
            }),
            (Place::Server, "type") => help("write `transport: { kind: stdio | http | sse, … }`"),
            (Place::Server, "url" | "command" | "args" | "env" | "headers" | "cwd" | "kind") => {
                help(&format!("`{key}` belongs under `transport:`"))
            }
            (Place::Server, "disabled" | "enabled") => {
                help("to leave a server out, remove it or leave it out of the profile's `servers`")
            }
            (Place::Transport, "type" | "transportType" | "transport") => {
                help("mcp2 calls it `kind`: stdio, http or sse")
            }
            (Place::Transport, "endpoint" | "uri" | "address" | "baseUrl" | "serverUrl") => {
                help("the server's address is `url`")
            }
            (Place::Transport, "environment") => help("write `env`"),
            (Place::Transport, "arguments" | "argv") => help("write `args`"),
            (
                Place::Transport,
                "workingDir" | "working_dir" | "workdir" | "workingDirectory" | "dir",
            ) => help("write `cwd`"),
            (Place::Transport, "timeout" | "connectTimeout") => help(&format!(
                "`{key}` belongs to the server, beside `transport:`"
            )),
            (
                Place::Profile,
                "tools" | "prompts" | "resources" | "allow" | "deny" | "rename" | "describe"
                | "limits",
            ) => help(
                "filters go under the server they apply to: `servers: { NAME: { tools: { allow: [...] } } }`",
            ),
            (Place::Profile, "name" | "version") => help("put it under `metadata:`"),
            (Place::Profile, "upstreams" | "uses" | "use") => {
                help("list the profile's servers under `servers:`")
            }
            (Place::Profile, "default") => {
                help("choose the default profile with the top-level `defaultProfile`")
            }
            (
                Place::ProfileServer,
                "allow" | "deny" | "include" | "exclude" | "mode" | "filter" | "filters"
                | "toolFilter",
            ) => help(
                "say which kind it filters: `tools: { allow: [...], deny: [...] }` (or `prompts`, `resources`)",
            ),
            (Place::ProfileServer, "prefix") => {
                help("`prefix` belongs to the profile, beside its `servers`")
            }
            (Place::ProfileServer, "rateLimit") => help("write `limits: { calls: 100/min }`"),
            (Place::Filter, "mode") => help(
                "there is no filter mode: `allow` lists what is kept (everything else is hidden), \
                 `deny` lists what is hidden",
            ),
            (Place::Filter, "include" | "only" | "whitelist" | "allowlist" | "allowed") => {
                help("write `allow`")
            }
            (
                Place::Filter,
                "exclude" | "except" | "blacklist" | "denylist" | "blocked" | "block",
            ) => help("write `deny`"),
            (Place::Filter, "when" | "unless" | "if") => help(
                "a condition belongs to one pattern: `allow: [{ name: \"*\", when: authenticated }]`",
            ),
            (Place::Pattern, "pattern" | "match" | "glob" | "regex" | "tool" | "prompt" | "resource") => {
                help("write the name, glob or /regex/ as `name`")
            }
            (Place::Pattern, "if" | "only" | "condition") => help("write `when` (or `unless`)"),
            (Place::Pattern, "claim" | "scope" | "key" | "endpoint" | "authenticated") => help(&format!(
                "the condition goes under `when` (or `unless`): `{{ name: …, when: {{ {key}: … }} }}`"
            )),
            (Place::Condition, "has" | "includes" | "in") => help(
                "a claim holding a value is `{ claim: groups, contains: eng }`; a scope is `{ scope: admin }`",
            ),
            (Place::Condition, "==" | "eq" | "is" | "value" | "equal") => {
                help("write `{ claim: NAME, equals: VALUE }`")
            }
            (Place::Condition, "claims" | "groups" | "sub" | "aud" | "iss") => help(
                "name the claim as a value: `{ claim: groups, contains: eng }`, `{ claim: sub, equals: alice }`",
            ),
            (Place::Condition, "apiKey" | "api_key" | "keyName") => help("write `{ key: NAME }`"),
            (Place::Condition, "authenticated") => {
                help("write `when: authenticated` on its own, not as a key")
            }
            (Place::Limits, "requests" | "rate" | "rateLimit") => {
                help("write the rate as `calls: 100/min`")
            }
            (Place::RateLimit, "calls" | "rate") => help(
                "write `requests: 100` and `per: 1m`, or the whole rate as `rateLimit: 100/min`",
            ),
            (Place::Hub, "enabled") => {
                help("the hub is always served; choose its `path` and `profile`")
            }
            _ => None,
        }
    }
}

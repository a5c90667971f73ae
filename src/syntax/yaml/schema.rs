//! The YAML route format as types: the single source of truth for which keys exist where.
//!
//! The front-end reads YAML by hand (it needs a span on every key and value), but it does not
//! keep its own key lists: [`super::keys::Place::keys`] asks these types, so a key added here
//! is accepted by the front-end and offered by editors at once, and a key the front-end knows
//! cannot be missing from the schema. The JSON Schema editors use (`mcp2 schema`,
//! `schema/mcp2.schema.json`) is generated from the same types by `schemars`.
//!
//! What the schema cannot say (is this a valid duration, does the profile exist, …) stays the
//! checker's job; the schema describes shapes: keys, nesting, and scalar kinds. Strings the
//! front-end reads as text also accept numbers and booleans, as it does (`version: 1.10`).
//! An empty value (`logging:`) counts as an empty mapping or list, so mappings and lists may be
//! `null`; scalars may not.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_json::Value;

/// A YAML route file (`mcp2 convert` turns one into `.mcproute`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "mcp2 YAML routes")]
pub struct Document {
    /// The profile served at `/mcp` when nothing else says which.
    pub default_profile: Option<Text>,
    /// Where mcp2 listens: `{ host, port }` or `"host:port"`.
    pub listen: Option<Listen>,
    pub logging: Option<Logging>,
    /// The admin endpoints (`/_mcp2/…`): their own address and a token.
    pub admin: Option<Admin>,
    /// The MCP servers mcp2 connects to, by name.
    pub servers: Option<BTreeMap<String, Server>>,
    /// Audiences: which servers each sees and through which filters, by name.
    pub profiles: Option<BTreeMap<String, Option<Profile>>>,
    pub hub: Option<Hub>,
    /// Authorization servers whose tokens endpoints accept, by name (`hub.auth.oauth`).
    pub oauth: Option<BTreeMap<String, OAuth>>,
    /// One record per call, read, prompt get and authentication failure.
    pub audit: Option<Audit>,
    /// Also serve each server alone at `/servers/{upstream}/mcp`.
    pub expose_per_server: Option<bool>,
    /// What one HTTP request or session may take.
    pub limits: Option<ServeLimits>,
    /// What replicas share: the session key and Redis.
    pub cluster: Option<Cluster>,
}

/// A string as written; numbers and booleans are read as their text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Text {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl JsonSchema for Text {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Text".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// One value or a list of them (`allow: read_*` is `allow: [read_*]`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(Text),
    Many(Vec<Text>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Listen {
    /// `"127.0.0.1:8210"`.
    Address(Text),
    Parts(ListenParts),
}

/// `listen: { host, port }`; a missing half is defaulted (127.0.0.1, 8210).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenParts {
    pub host: Option<Text>,
    pub port: Option<u16>,
    /// Browser origins allowed besides loopback ones (DNS-rebinding protection).
    pub allow_origins: Option<Vec<Text>>,
}

/// `admin: { listen: "127.0.0.1:8211", token: "${MCP2_ADMIN_TOKEN}" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Serve the admin endpoints on this address instead of the main one.
    pub listen: Option<Text>,
    /// Bearer token the admin endpoints require; normally `${VAR}`.
    pub token: Option<Text>,
}

/// `limits: { maxBody: 4MiB, headerTimeout: 10s, idleTimeout: 30m }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServeLimits {
    /// Largest HTTP request body, such as `4MiB` (larger ones get 413).
    pub max_body: Option<Text>,
    /// How long a client may take to send a request's headers, such as `10s`.
    pub header_timeout: Option<Text>,
    /// How long a session may go without a request before it is closed, such as `30m`.
    pub idle_timeout: Option<Text>,
}

/// `cluster: { sessionKey: "${MCP2_SESSION_KEY}", redis: "redis://…", onRedisUnavailable: allow }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// Key sealing session ids (32 bytes as base64 or hex); normally `${VAR}`.
    pub session_key: Option<Text>,
    /// Redis shared by the replicas for rate limits and list changes.
    pub redis: Option<Text>,
    /// `allow` (default, counted as a warning) or `deny`: a rate-limit check when Redis cannot
    /// answer.
    pub on_redis_unavailable: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logging {
    /// `debug`, `info`, `warn`, `error`, or a filter such as `info,mcp2::upstream=debug`.
    pub level: Option<Text>,
    /// JSON-lines log file; stderr only when unset.
    pub file: Option<Text>,
    #[serde(rename = "maxSizeMB")]
    pub max_size_mb: Option<u64>,
    pub max_backups: Option<u64>,
    pub max_age_days: Option<u64>,
    pub compress: Option<bool>,
    pub log_requests: Option<bool>,
    pub log_responses: Option<bool>,
    /// Rotation size in KB (instead of `maxSizeMB`).
    #[serde(rename = "maxSizeKB")]
    pub max_size_kb: Option<u64>,
    /// Logged request/response bodies are cut after this many KB.
    #[serde(rename = "maxBodyKB")]
    pub max_body_kb: Option<u64>,
    /// JSON keys whose values are redacted in logged bodies (besides the built-in ones).
    pub redact_keys: Option<Vec<Text>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    pub transport: Transport,
    /// Per-request timeout, such as `30s`.
    pub timeout: Option<Text>,
    /// Start-up and connect timeout, such as `10s`.
    pub connect_timeout: Option<Text>,
    /// How clients share the server: `shared` or `perClient`.
    pub session: Option<Text>,
    /// Protocol era: `auto`, `initialize` or `2026-07-28`.
    pub protocol: Option<Text>,
    /// `{ requests: 100, per: 1m }` or `100/min`.
    pub rate_limit: Option<RateLimit>,
    /// Credentials mcp2 obtains for the server (OAuth), beside any static `headers`.
    pub auth: Option<ServerAuth>,
}

/// `auth: { oauth: clientCredentials, tokenUrl: …, clientId: …, clientSecret: "${SECRET}" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerAuth {
    /// The flow: `clientCredentials`, `authorizationCode` (a user's tokens from `mcp2 login`),
    /// `passThrough` (the caller's own token) or `tokenExchange` (RFC 8693: the caller's token
    /// exchanged for one for this server).
    pub oauth: Text,
    /// The authorization server's token endpoint.
    pub token_url: Option<Text>,
    /// The authorization server's issuer (its token endpoint found from its metadata).
    pub issuer: Option<Text>,
    pub client_id: Option<Text>,
    /// Normally `${VAR}`.
    pub client_secret: Option<Text>,
    /// Space-separated scopes to ask for.
    pub scope: Option<Text>,
    /// `audience` parameter of the token request.
    pub audience: Option<Text>,
    /// RFC 8707 `resource` parameter of the token request.
    pub resource: Option<Text>,
    /// `tokenExchange` only: the `requested_token_type` of the exchange.
    pub requested_token_type: Option<Text>,
    /// `authorizationCode`: the HTTPS URL of a published client metadata document, the client id
    /// where the server supports them.
    pub client_metadata_url: Option<Text>,
    /// `authorizationCode`: where `mcp2 login` stores the tokens (default under
    /// `$XDG_STATE_HOME/mcp2/tokens/`).
    pub token_file: Option<Text>,
}

/// How mcp2 reaches the server; `kind` says which keys apply.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Transport {
    /// A local command speaking MCP on stdin/stdout.
    Stdio {
        /// The program to start.
        command: Text,
        args: Option<OneOrMany>,
        /// Environment of the child; values may hold `${VAR}`.
        env: Option<BTreeMap<String, Text>>,
        /// Working directory of the child.
        cwd: Option<Text>,
    },
    /// Streamable HTTP.
    Http {
        /// The server's address.
        url: Text,
        /// HTTP headers sent on every request; values may hold `${VAR}`.
        headers: Option<BTreeMap<String, Text>>,
    },
    /// Legacy HTTP+SSE (protocol 2024-11-05).
    Sse {
        /// The server's `/sse` address.
        url: Text,
        /// HTTP headers sent on every request; values may hold `${VAR}`.
        headers: Option<BTreeMap<String, Text>>,
    },
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RateLimit {
    /// `100/min`.
    Rate(Text),
    Parts(RateLimitParts),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitParts {
    pub requests: u64,
    /// `1s`, `1m`, `1h`, `1d`, or another duration.
    pub per: Text,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Served as the description unless `metadata` has one.
    pub description: Option<Text>,
    pub metadata: Option<Metadata>,
    /// Public-name template such as `{upstream}__`.
    pub prefix: Option<Text>,
    /// The servers this profile uses, in priority order; empty means all of them.
    pub servers: Option<ProfileServers>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ProfileServers {
    /// Server names, each offered whole.
    Names(Vec<Text>),
    /// What the profile takes from each server.
    Filtered(BTreeMap<String, Option<ProfileServer>>),
}

/// What a profile's `initialize` answer says about the server.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: Option<Text>,
    pub version: Option<Text>,
    pub description: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileServer {
    pub tools: Option<Filter>,
    pub prompts: Option<Filter>,
    pub resources: Option<Filter>,
    /// Original name → public name.
    pub rename: Option<PerKind>,
    /// Original name → the description clients see.
    pub describe: Option<PerKind>,
    pub limits: Option<Limits>,
}

/// `allow` keeps only what it lists; `deny` hides what it lists. Globs, or `/regex/`; a pattern
/// that applies to some callers only is `{ name: PATTERN, when: CONDITION }` (or `unless`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub allow: Option<Patterns>,
    pub deny: Option<Patterns>,
}

/// One pattern or a list of them (`allow: read_*` is `allow: [read_*]`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Patterns {
    One(Pattern),
    Many(Vec<Pattern>),
}

/// A name, glob or `/regex/`, alone or with the callers it applies to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Pattern {
    Name(Text),
    When(WhenPattern),
    Unless(UnlessPattern),
}

/// `{ name: "deploy", when: { claim: groups, contains: eng } }`: the rule applies to callers
/// for whom the condition holds.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhenPattern {
    /// A name, glob or `/regex/`.
    pub name: Text,
    pub when: Condition,
}

/// `{ name: "delete_*", unless: { scope: admin } }`: the rule applies to callers for whom the
/// condition does not hold.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlessPattern {
    /// A name, glob or `/regex/`.
    pub name: Text,
    pub unless: Condition,
}

/// What a rule asks about the caller: `authenticated`, or one test.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    /// Any valid token or API key.
    Authenticated(Authenticated),
    ClaimContains(ClaimContains),
    ClaimEquals(ClaimEquals),
    Claim(Claim),
    Scope(Scope),
    Key(Key),
    Endpoint(EndpointCondition),
}

/// The word `authenticated`.
#[derive(Debug, Deserialize, JsonSchema)]
pub enum Authenticated {
    #[serde(rename = "authenticated")]
    Authenticated,
}

/// `{ claim: groups }`: the token has the claim.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// A claim name or dotted path (`org.team`).
    pub claim: Text,
}

/// `{ claim: groups, contains: eng }`: the claim (a list, or a space-separated string) holds
/// the value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimContains {
    /// A claim name or dotted path (`org.team`).
    pub claim: Text,
    pub contains: Text,
}

/// `{ claim: org.team, equals: infra }`: the claim is exactly the value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimEquals {
    /// A claim name or dotted path (`org.team`).
    pub claim: Text,
    pub equals: Text,
}

/// `{ scope: admin }`: the token grants the scope (`scope`/`scp`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub scope: Text,
}

/// `{ key: ci-bot }`: the caller presented the API key of that name (`hub.auth.keys`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub key: Text,
}

/// `{ endpoint: /ops }`: the caller came in through the endpoint at that path.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointCondition {
    pub endpoint: Text,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerKind {
    pub tools: Option<BTreeMap<String, Text>>,
    pub prompts: Option<BTreeMap<String, Text>>,
    pub resources: Option<BTreeMap<String, Text>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Every call to the server, such as `100/min`.
    pub calls: Option<Text>,
    /// Tool name or glob → rate.
    pub tools: Option<BTreeMap<String, Text>>,
    /// Who shares the limit: `session` or `key` (everyone when unset).
    pub per: Option<Text>,
}

/// The main endpoint.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hub {
    /// Default `/mcp`.
    pub path: Option<Text>,
    pub profile: Option<Text>,
    /// Also serve legacy HTTP+SSE clients on this path.
    pub sse_path: Option<Text>,
    /// Credentials clients must present.
    pub auth: Option<Auth>,
}

/// What clients must present; any one of the given credentials is enough.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Auth {
    /// The name of an `oauth` entry whose access tokens are accepted.
    pub oauth: Option<Text>,
    /// An `Authorization: Bearer` token.
    pub bearer: Option<Text>,
    /// An `X-API-Key` value.
    pub api_key: Option<Text>,
    /// Named `X-API-Key` values (key name → secret); rules can test the name.
    pub keys: Option<BTreeMap<String, Text>>,
}

/// An OAuth 2.1 authorization server (mcp2 validates its access tokens).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth {
    /// The issuer URL (`iss`); its metadata names the JWKS unless `jwks` is given.
    pub issuer: Option<Text>,
    pub jwks: Option<Text>,
    /// The audience tokens must name; default: the endpoint's URL.
    pub resource: Option<Text>,
    /// Clock leeway for `exp`/`nbf`, such as `30s`.
    pub leeway: Option<Text>,
    /// Scopes every token must carry.
    pub scopes: Option<Vec<Text>>,
    /// RFC 7662 introspection endpoint for opaque tokens.
    pub introspect: Option<Text>,
    pub client_id: Option<Text>,
    pub client_secret: Option<Text>,
}

/// The audit trail's sink: a rotated JSON-lines file or stdout.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audit {
    pub file: Option<Text>,
    pub stdout: Option<bool>,
    #[serde(rename = "maxSizeMB")]
    pub max_size_mb: Option<u64>,
    pub max_backups: Option<u64>,
}

/// The generated JSON Schema of a YAML route file.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = schemars::schema_for!(Document).to_value();
        no_null_scalars(&mut schema);
        schema
    })
}

/// The schema as shipped in `schema/mcp2.schema.json`.
pub fn json_text() -> String {
    let mut text = serde_json::to_string_pretty(schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The property names of `T`'s mapping, sorted (what the front-end accepts as keys there).
/// For a choice of shapes (`listen` as text or a mapping, a transport per `kind`), the keys of
/// every mapping shape.
pub fn properties_of<T: JsonSchema>() -> Vec<String> {
    let schema = schemars::schema_for!(T).to_value();
    let mut keys = object_properties(&schema);
    keys.sort();
    keys.dedup();
    keys
}

/// The keys of a transport of `kind` (`stdio`: `kind`, `command`, `args`, …), sorted; empty
/// for a kind that does not exist.
pub fn transport_keys(kind: &str) -> Vec<String> {
    let schema = schemars::schema_for!(Transport).to_value();
    let mut keys = branches(&schema)
        .find(|b| b.pointer("/properties/kind/const").and_then(Value::as_str) == Some(kind))
        .map(object_properties)
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Every transport `kind`, sorted.
pub fn transport_kinds() -> Vec<String> {
    let schema = schemars::schema_for!(Transport).to_value();
    let mut kinds: Vec<String> = branches(&schema)
        .filter_map(|b| b.pointer("/properties/kind/const").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    kinds.sort();
    kinds
}

fn object_properties(schema: &Value) -> Vec<String> {
    properties_in(schema, schema)
}

/// The properties of `schema` and of its alternatives, following `$ref`s into `root`'s `$defs`
/// (a choice of mappings refers to each mapping's definition).
fn properties_in(schema: &Value, root: &Value) -> Vec<String> {
    let own = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.keys().cloned());
    let referred = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#"))
        .and_then(|pointer| root.pointer(pointer))
        .filter(|target| !std::ptr::eq(*target, schema))
        .map(|target| properties_in(target, root))
        .unwrap_or_default();
    own.chain(referred)
        .chain(branches(schema).flat_map(|b| properties_in(b, root)))
        .collect()
}

/// The alternatives of a `oneOf`/`anyOf` schema.
fn branches(schema: &Value) -> impl Iterator<Item = &Value> {
    ["oneOf", "anyOf"]
        .into_iter()
        .filter_map(|k| schema.get(k).and_then(Value::as_array))
        .flatten()
}

/// `Option<T>` makes every optional value nullable; the front-end takes an empty value as an
/// empty mapping or list, but never as a string, number or boolean. So `null` is dropped from
/// scalar types and kept beside mappings and lists.
fn no_null_scalars(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                let collection = types.iter().any(|t| t == "object" || t == "array");
                if !collection {
                    types.retain(|t| t != "null");
                    if let [only] = types.as_slice() {
                        let only = only.clone();
                        map.insert("type".into(), only);
                    }
                }
            }
            for v in map.values_mut() {
                no_null_scalars(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(no_null_scalars),
        _ => {}
    }
}

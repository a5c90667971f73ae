//! The registry of diagnostic codes.
//!
//! Every diagnostic mcp2 can print has one stable code here, with a one-line meaning. Editors, CI
//! scripts and `--format json` consumers match on these strings, so a code is never renamed or
//! reused for another meaning once released: retire it and add a new one instead.

/// A stable diagnostic code such as `mcp2::check::unknown_upstream`.
pub type Code = &'static str;

// --- syntax: the .mcproute front-end ---------------------------------------------------------
/// The text does not follow the .mcproute grammar.
pub const SYNTAX_ERROR: Code = "mcp2::syntax::error";
/// A word where a keyword was expected that is not one (often a typo: `upstrem`).
pub const UNKNOWN_KEYWORD: Code = "mcp2::syntax::unknown_keyword";
/// A string literal with an escape sequence we do not know.
pub const BAD_ESCAPE: Code = "mcp2::syntax::bad_escape";
/// A setting given twice in one block.
pub const DUPLICATE_SETTING: Code = "mcp2::syntax::duplicate_setting";
/// A habit from YAML or JSON (`key: value`, `{`-less blocks) written in .mcproute.
pub const FOREIGN_SYNTAX: Code = "mcp2::syntax::foreign_syntax";
/// A keyword in the wrong place (`timeout` in a profile, `http` at the top level).
pub const MISPLACED_SETTING: Code = "mcp2::syntax::misplaced_setting";
/// A block whose `{` has no matching `}`.
pub const UNCLOSED_BLOCK: Code = "mcp2::syntax::unclosed_block";
/// A string literal with no closing quote on its line.
pub const UNTERMINATED_STRING: Code = "mcp2::syntax::unterminated_string";
/// A whole number too large for 64 bits.
pub const BAD_NUMBER: Code = "mcp2::syntax::bad_number";

// --- yaml: the YAML front-end ----------------------------------------------------------------
/// The file is not well-formed YAML.
pub const YAML_ERROR: Code = "mcp2::yaml::error";
/// A key the YAML format does not have.
pub const YAML_UNKNOWN_KEY: Code = "mcp2::yaml::unknown_key";
/// A value of the wrong type (a list where a map belongs, a string where a number belongs).
pub const YAML_WRONG_TYPE: Code = "mcp2::yaml::wrong_type";
/// A key the YAML format requires is missing.
pub const YAML_MISSING_KEY: Code = "mcp2::yaml::missing_key";
/// The same key twice in one YAML mapping.
pub const YAML_DUPLICATE_KEY: Code = "mcp2::yaml::duplicate_key";
/// A known key where it does not apply (a `url` on a stdio transport).
pub const YAML_MISPLACED_KEY: Code = "mcp2::yaml::misplaced_key";
/// A value outside the set its key allows (a transport `kind` other than stdio, http or sse).
pub const YAML_BAD_VALUE: Code = "mcp2::yaml::bad_value";

// --- check: AST to Plan ----------------------------------------------------------------------
/// Two declarations of the same upstream, profile or endpoint.
pub const DUPLICATE: Code = "mcp2::check::duplicate";
/// A reference to an upstream that is not declared.
pub const UNKNOWN_UPSTREAM: Code = "mcp2::check::unknown_upstream";
/// A reference to a profile that is not declared.
pub const UNKNOWN_PROFILE: Code = "mcp2::check::unknown_profile";
/// `${VAR}` names a variable that is not set and has no default.
pub const UNSET_VARIABLE: Code = "mcp2::check::unset_variable";
/// A `${` with no closing `}`, or an empty variable name.
pub const BAD_VARIABLE: Code = "mcp2::check::bad_variable";
/// A URL that does not parse, or is not http(s).
pub const BAD_URL: Code = "mcp2::check::bad_url";
/// A stdio command that is empty.
pub const BAD_COMMAND: Code = "mcp2::check::bad_command";
/// A duration such as `30s` that does not parse.
pub const BAD_DURATION: Code = "mcp2::check::bad_duration";
/// A rate such as `100/min` that does not parse.
pub const BAD_RATE: Code = "mcp2::check::bad_rate";
/// A glob that does not compile.
pub const BAD_GLOB: Code = "mcp2::check::bad_glob";
/// A regular expression that does not compile.
pub const BAD_REGEX: Code = "mcp2::check::bad_regex";
/// A rule that an earlier rule makes unreachable (warning).
pub const SHADOWED_RULE: Code = "mcp2::check::shadowed_rule";
/// Two endpoints that claim the same path under the same condition.
pub const ENDPOINT_CONFLICT: Code = "mcp2::check::endpoint_conflict";
/// An endpoint path that is not an absolute URL path, or collides with `/_mcp2/`.
pub const BAD_PATH: Code = "mcp2::check::bad_path";
/// A listen address that is not `host:port`.
pub const BAD_LISTEN: Code = "mcp2::check::bad_listen";
/// A header name or value that HTTP does not allow.
pub const BAD_HEADER: Code = "mcp2::check::bad_header";
/// A prefix template with an unknown placeholder.
pub const BAD_PREFIX: Code = "mcp2::check::bad_prefix";
/// Two renames that give the same public name, or a rename onto another item's name.
pub const NAME_COLLISION: Code = "mcp2::check::name_collision";
/// A logging setting out of range (unknown level, zero size).
pub const BAD_LOGGING: Code = "mcp2::check::bad_logging";
/// Nothing to serve: no upstream and no profile is declared (warning).
pub const EMPTY_PLAN: Code = "mcp2::check::empty_plan";
/// A setting given more than once across files (listen, logging, default profile).
pub const DUPLICATE_SETTING_ACROSS_FILES: Code = "mcp2::check::duplicate_global";
/// A profile that uses no upstream, because none is declared (warning).
pub const EMPTY_PROFILE: Code = "mcp2::check::empty_profile";
/// A rename or describe that names an upstream outside the profile.
pub const UPSTREAM_NOT_IN_PROFILE: Code = "mcp2::check::upstream_not_in_profile";
/// An upstream block that names no transport (`stdio`, `http` or `sse`).
pub const MISSING_TRANSPORT: Code = "mcp2::check::missing_transport";
/// A setting that the upstream's transport does not use (`header` on stdio, `env` on http).
pub const SETTING_NOT_FOR_TRANSPORT: Code = "mcp2::check::setting_not_for_transport";
/// A configured header the transport manages itself (`Host`, `Content-Length`, hop-by-hop) (warning).
pub const RESERVED_HEADER: Code = "mcp2::check::reserved_header";
/// An environment variable name for a stdio child that cannot be one (empty, or with `=`).
pub const BAD_ENV_NAME: Code = "mcp2::check::bad_env_name";
/// Several profiles and nothing saying which one `/mcp` serves.
pub const NO_DEFAULT_PROFILE: Code = "mcp2::check::no_default_profile";
/// An endpoint that an earlier endpoint on the same path always answers first (warning).
pub const SHADOWED_ENDPOINT: Code = "mcp2::check::shadowed_endpoint";
/// A `per` of a limit that is not `client`, `session` or `key`.
pub const BAD_LIMIT_KEY: Code = "mcp2::check::bad_limit_key";
/// An upstream `session` value other than `shared` or `per-client` (YAML `perClient`).
pub const BAD_SESSION_MODE: Code = "mcp2::check::bad_session_mode";
/// An upstream `protocol` value other than `auto`, `initialize` or `2026-07-28`.
pub const BAD_PROTOCOL_MODE: Code = "mcp2::check::bad_protocol_mode";
/// An `allow-origin` value that is not `null` or `scheme://host[:port|:*]`.
pub const BAD_ORIGIN: Code = "mcp2::check::bad_origin";
/// An endpoint `auth` of a kind other than `bearer` or `key`, or with an empty secret.
pub const BAD_AUTH: Code = "mcp2::check::bad_auth";
/// An `admin` block whose token is empty after expansion.
pub const BAD_ADMIN: Code = "mcp2::check::bad_admin";
/// A rule condition (`when …`/`unless …`) with an unknown source or a malformed test.
pub const BAD_CONDITION: Code = "mcp2::check::bad_condition";
/// A rule conditioned on the caller's identity in a profile served where no caller is
/// authenticated (warning).
pub const CONDITION_WITHOUT_AUTH: Code = "mcp2::check::condition_without_auth";
/// `auth oauth NAME` naming no `oauth NAME { … }` block.
pub const UNKNOWN_OAUTH: Code = "mcp2::check::unknown_oauth";
/// An `oauth` block without an issuer, with a bad URL, or with an incomplete introspection.
pub const BAD_OAUTH: Code = "mcp2::check::bad_oauth";
/// An `audit` block with neither or both sinks.
pub const BAD_AUDIT: Code = "mcp2::check::bad_audit";
/// An upstream `auth oauth …` with an unknown flow, an unknown, missing or repeated parameter,
/// a bad URL or an empty value, or on a stdio upstream.
pub const BAD_UPSTREAM_AUTH: Code = "mcp2::check::bad_upstream_auth";
/// An upstream with both a static `Authorization` header and an `auth oauth …`.
pub const AUTH_HEADER_CONFLICT: Code = "mcp2::check::auth_header_conflict";
/// A `limits` size (`max-body`) that is malformed, zero or too large.
pub const BAD_SIZE: Code = "mcp2::check::bad_size";
/// A `cluster` block with a session key that is not 32 bytes (or not from a variable), a bad
/// Redis URL, or an unknown `on-redis-unavailable` policy.
pub const BAD_CLUSTER: Code = "mcp2::check::bad_cluster";
/// An upstream that propagates the caller's identity (`auth oauth pass-through` or
/// `token-exchange`) served on an endpoint without downstream `auth oauth`: no validated caller
/// token to propagate.
pub const PROPAGATION_WITHOUT_OAUTH: Code = "mcp2::check::propagation_without_oauth";
/// An upstream that propagates the caller's identity without `session per-client`: a shared
/// connection would mix callers.
pub const PROPAGATION_SHARED: Code = "mcp2::check::propagation_shared";

// --- load: reading files ---------------------------------------------------------------------
/// A route path that could not be read.
pub const LOAD_ERROR: Code = "mcp2::load::error";

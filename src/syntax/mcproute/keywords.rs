//! What the recovery code knows about each keyword: where it belongs, which grammar rule parses
//! what follows it, and a one-line example of how it is written. Also the words users bring from
//! the YAML format, so `servers:` can be answered with `upstream NAME { … }`.

use super::Rule;

/// Where a keyword starts a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Top,
    Upstream,
    Profile,
    Logging,
    Admin,
    Limits,
    Cluster,
    OAuth,
    Audit,
}

impl Place {
    /// How a diagnostic names the place: "an upstream setting", "a top-level item".
    pub(super) fn noun(self) -> &'static str {
        match self {
            Place::Top => "a top-level item",
            Place::Upstream => "an upstream setting",
            Place::Profile => "a profile setting",
            Place::Logging => "a logging setting",
            Place::Admin => "an admin setting",
            Place::Limits => "a limits setting",
            Place::Cluster => "a cluster setting",
            Place::OAuth => "an oauth setting",
            Place::Audit => "an audit setting",
        }
    }

    /// The block a setting of this place goes in, as users write it.
    pub(super) fn block(self) -> &'static str {
        match self {
            Place::Top => "the top level",
            Place::Upstream => "`upstream NAME { … }`",
            Place::Profile => "`profile NAME { … }`",
            Place::Logging => "`logging { … }`",
            Place::Admin => "`admin { … }`",
            Place::Limits => "`limits { … }`",
            Place::Cluster => "`cluster { … }`",
            Place::OAuth => "`oauth NAME { … }`",
            Place::Audit => "`audit { … }`",
        }
    }
}

/// A word that starts an item or a setting.
#[derive(Debug)]
pub(super) struct Keyword {
    pub word: &'static str,
    pub place: Place,
    /// The rule that parses the whole item or setting, for re-parsing a bad line.
    pub rule: Rule,
    /// How it is written, for `help`.
    pub usage: &'static str,
}

const fn kw(word: &'static str, place: Place, rule: Rule, usage: &'static str) -> Keyword {
    Keyword {
        word,
        place,
        rule,
        usage,
    }
}

/// Every keyword that can start a line, by place.
pub(super) static KEYWORDS: &[Keyword] = &[
    kw("listen", Place::Top, Rule::listen, "listen 127.0.0.1:8210"),
    kw(
        "default-profile",
        Place::Top,
        Rule::default_profile,
        "default-profile NAME",
    ),
    kw(
        "upstream",
        Place::Top,
        Rule::upstream_block,
        "upstream NAME { … }",
    ),
    kw(
        "profile",
        Place::Top,
        Rule::profile_block,
        "profile NAME { … }",
    ),
    kw(
        "endpoint",
        Place::Top,
        Rule::endpoint,
        "endpoint \"/mcp\" -> PROFILE   (optionally: when header NAME == \"value\")",
    ),
    kw(
        "expose-per-upstream",
        Place::Top,
        Rule::expose,
        "expose-per-upstream \"/servers/{upstream}/mcp\"",
    ),
    kw("logging", Place::Top, Rule::logging_block, "logging { … }"),
    kw("admin", Place::Top, Rule::admin_block, "admin { … }"),
    kw("limits", Place::Top, Rule::limits_block, "limits { … }"),
    kw("cluster", Place::Top, Rule::cluster_block, "cluster { … }"),
    kw(
        "oauth",
        Place::Top,
        Rule::oauth_block,
        "oauth NAME { issuer \"https://…\" }",
    ),
    kw(
        "audit",
        Place::Top,
        Rule::audit_block,
        "audit { file \"/var/log/mcp2/audit.jsonl\" }",
    ),
    kw(
        "issuer",
        Place::OAuth,
        Rule::issuer,
        "issuer \"https://auth.example.com\"",
    ),
    kw(
        "jwks",
        Place::OAuth,
        Rule::jwks,
        "jwks \"https://auth.example.com/jwks.json\"",
    ),
    kw(
        "resource",
        Place::OAuth,
        Rule::resource_uri,
        "resource \"https://mcp.example.com/mcp\"",
    ),
    kw("leeway", Place::OAuth, Rule::leeway, "leeway 30s"),
    kw(
        "scopes",
        Place::OAuth,
        Rule::scopes,
        "scopes \"mcp:read\" \"mcp:call\"",
    ),
    kw(
        "introspect",
        Place::OAuth,
        Rule::introspect,
        "introspect \"https://auth.example.com/introspect\"",
    ),
    kw(
        "client-id",
        Place::OAuth,
        Rule::client_id,
        "client-id \"mcp2\"",
    ),
    kw(
        "client-secret",
        Place::OAuth,
        Rule::client_secret,
        "client-secret \"${SECRET}\"",
    ),
    kw("stdout", Place::Audit, Rule::audit_stdout, "stdout true"),
    kw(
        "http",
        Place::Upstream,
        Rule::http,
        "http \"https://host/mcp\"",
    ),
    kw(
        "sse",
        Place::Upstream,
        Rule::sse,
        "sse \"https://host/sse\"",
    ),
    kw(
        "stdio",
        Place::Upstream,
        Rule::stdio,
        "stdio \"command\" \"arg\" …",
    ),
    kw(
        "header",
        Place::Upstream,
        Rule::header,
        "header NAME = \"value\"",
    ),
    kw("env", Place::Upstream, Rule::env, "env NAME = \"value\""),
    kw("cwd", Place::Upstream, Rule::cwd, "cwd \"/path\""),
    kw("timeout", Place::Upstream, Rule::timeout, "timeout 30s"),
    kw(
        "connect-timeout",
        Place::Upstream,
        Rule::connect_timeout,
        "connect-timeout 10s",
    ),
    kw(
        "session",
        Place::Upstream,
        Rule::session,
        "session shared|per-client",
    ),
    kw(
        "protocol",
        Place::Upstream,
        Rule::protocol,
        "protocol auto|initialize|2026-07-28",
    ),
    kw(
        "meta",
        Place::Profile,
        Rule::meta,
        "meta name \"…\" version \"…\" description \"…\"",
    ),
    kw(
        "use",
        Place::Profile,
        Rule::use_list,
        "use UPSTREAM, UPSTREAM",
    ),
    kw(
        "prefix",
        Place::Profile,
        Rule::prefix,
        "prefix \"{upstream}__\"",
    ),
    kw(
        "allow",
        Place::Profile,
        Rule::filter_rule,
        "allow tool UPSTREAM/NAME   or   allow tool UPSTREAM matching /REGEX/",
    ),
    kw(
        "deny",
        Place::Profile,
        Rule::filter_rule,
        "deny tool UPSTREAM/NAME   or   deny tool UPSTREAM matching /REGEX/",
    ),
    kw(
        "rename",
        Place::Profile,
        Rule::rename_rule,
        "rename tool UPSTREAM/NAME -> NEW_NAME",
    ),
    kw(
        "describe",
        Place::Profile,
        Rule::describe_rule,
        "describe tool UPSTREAM/NAME \"description\"",
    ),
    kw(
        "limit",
        Place::Profile,
        Rule::limit,
        "limit UPSTREAM 100/min   or   limit tool UPSTREAM/NAME 10/s per client",
    ),
    kw("level", Place::Logging, Rule::level, "level info"),
    kw(
        "file",
        Place::Logging,
        Rule::log_file,
        "file \"/var/log/mcp2/mcp2.log\"",
    ),
    kw(
        "max-size-mb",
        Place::Logging,
        Rule::max_size_mb,
        "max-size-mb 100",
    ),
    kw(
        "max-backups",
        Place::Logging,
        Rule::max_backups,
        "max-backups 3",
    ),
    kw(
        "max-age-days",
        Place::Logging,
        Rule::max_age_days,
        "max-age-days 30",
    ),
    kw("compress", Place::Logging, Rule::compress, "compress true"),
    kw(
        "log-requests",
        Place::Logging,
        Rule::log_requests,
        "log-requests true",
    ),
    kw(
        "log-responses",
        Place::Logging,
        Rule::log_responses,
        "log-responses false",
    ),
    kw(
        "max-size-kb",
        Place::Logging,
        Rule::max_size_kb,
        "max-size-kb 512",
    ),
    kw(
        "max-body-kb",
        Place::Logging,
        Rule::max_body_kb,
        "max-body-kb 64",
    ),
    kw(
        "redact-keys",
        Place::Logging,
        Rule::redact_keys,
        "redact-keys session_id \"x-internal\"",
    ),
    kw(
        "listen",
        Place::Admin,
        Rule::admin_listen,
        "listen 127.0.0.1:8211",
    ),
    kw(
        "token",
        Place::Admin,
        Rule::admin_token,
        "token \"${MCP2_ADMIN_TOKEN}\"",
    ),
    kw(
        "max-body",
        Place::Limits,
        Rule::limits_max_body,
        "max-body 4MiB",
    ),
    kw(
        "header-timeout",
        Place::Limits,
        Rule::limits_header_timeout,
        "header-timeout 10s",
    ),
    kw(
        "idle-timeout",
        Place::Limits,
        Rule::limits_idle_timeout,
        "idle-timeout 30m",
    ),
    kw(
        "session-key",
        Place::Cluster,
        Rule::cluster_session_key,
        "session-key \"${MCP2_SESSION_KEY}\"",
    ),
    kw(
        "redis",
        Place::Cluster,
        Rule::cluster_redis,
        "redis \"redis://127.0.0.1:6379\"",
    ),
    kw(
        "on-redis-unavailable",
        Place::Cluster,
        Rule::cluster_on_redis_unavailable,
        "on-redis-unavailable allow",
    ),
];

/// The keyword `word` is, in any place.
pub(super) fn find(word: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.word == word)
}

/// The keyword `word` is, if it belongs in `place`.
pub(super) fn find_in(place: Place, word: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.place == place && k.word == word)
}

/// The keywords of one place, for "did you mean" and for listing them.
pub(super) fn words_in(place: Place) -> impl Iterator<Item = &'static str> {
    KEYWORDS
        .iter()
        .filter(move |k| k.place == place)
        .map(|k| k.word)
}

/// Keys of the YAML format (and close habits) with the keyword that says the same here.
static FOREIGN: &[(&str, &str)] = &[
    ("servers", "upstream"),
    ("server", "upstream"),
    ("upstreams", "upstream"),
    ("profiles", "profile"),
    ("hub", "endpoint"),
    ("endpoints", "endpoint"),
    ("exposePerServer", "expose-per-upstream"),
    ("defaultProfile", "default-profile"),
    ("url", "http"),
    ("transport", "http"),
    ("kind", "http"),
    ("command", "stdio"),
    ("args", "stdio"),
    ("headers", "header"),
    ("metadata", "meta"),
    ("rateLimit", "limit"),
    ("maxSizeMB", "max-size-mb"),
    ("maxBackups", "max-backups"),
    ("maxAgeDays", "max-age-days"),
    ("logRequests", "log-requests"),
    ("logResponses", "log-responses"),
    ("maxSizeKB", "max-size-kb"),
    ("maxBodyKB", "max-body-kb"),
    ("maxBody", "max-body"),
    ("headerTimeout", "header-timeout"),
    ("idleTimeout", "idle-timeout"),
    ("sessionKey", "session-key"),
    ("onRedisUnavailable", "on-redis-unavailable"),
    ("redactKeys", "redact-keys"),
];

/// The keyword a YAML habit stands for (`servers` → `upstream`).
pub(super) fn foreign(word: &str) -> Option<&'static Keyword> {
    FOREIGN
        .iter()
        .find(|(yaml, _)| *yaml == word)
        .and_then(|(_, ours)| find(ours))
}

/// A human name for a grammar rule, as pest's "expected …" lists should say it. `None` hides
/// the rule from those lists.
pub(super) fn describe(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        ident => "a name",
        string => "a quoted string",
        word => "a value",
        regex => "a regex `/…/`",
        duration => "a duration such as `30s`",
        rate => "a rate such as `100/min`",
        number => "a whole number",
        boolean => "`true` or `false`",
        listen_addr => "an address such as `127.0.0.1:8210`",
        path_bare => "a path such as `\"/mcp\"`",
        glob_target | upstream_glob => "a target such as `github/search_*`",
        regex_target => "`UPSTREAM matching /REGEX/`",
        name_glob => "a name after `/`",
        arrow => "`->`",
        eq => "`=`",
        eqeq => "`==`",
        comma => "`,`",
        slash => "`/` and a name",
        block_open => "`{`",
        item_kind => "`tool`, `prompt` or `resource`",
        meta_pair => "`name`, `version` or `description`",
        condition => "`when header NAME`",
        per => "`per client`, `per session` or `per key`",
        kw_listen => "`listen`",
        kw_default_profile => "`default-profile`",
        kw_upstream => "`upstream`",
        kw_profile => "`profile`",
        kw_endpoint => "`endpoint`",
        kw_expose => "`expose-per-upstream`",
        kw_logging => "`logging`",
        kw_admin => "`admin`",
        kw_limits => "`limits`",
        kw_cluster => "`cluster`",
        kw_matching => "`matching /REGEX/`",
        kw_header => "`header`",
        kw_when => "`when`",
        kw_unless => "`unless`",
        kw_oauth => "`oauth`",
        kw_audit => "`audit`",
        rule_condition => "`when …` or `unless …`",
        cond_op => "`==`, `contains` or `has`",
        kw_per => "`per`",
        kw_tool => "`tool`",
        kw_prompt => "`prompt`",
        kw_resource => "`resource`",
        kw_name => "`name`",
        kw_version => "`version`",
        kw_description => "`description`",
        _ => return None,
    })
}

/// The keywords a rule stands for, for "did you mean" when a word was found in their place.
pub(super) fn expected_words(rule: Rule) -> &'static [&'static str] {
    use Rule::*;
    match rule {
        item_kind | kw_tool | kw_prompt | kw_resource => &["tool", "prompt", "resource"],
        meta_pair | kw_name | kw_version | kw_description => &["name", "version", "description"],
        kw_matching => &["matching"],
        kw_header => &["header"],
        kw_when | condition => &["when"],
        kw_per | per => &["per"],
        boolean => &["true", "false"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_is_unique_and_places_are_disjoint() {
        for (i, a) in KEYWORDS.iter().enumerate() {
            for b in &KEYWORDS[i + 1..] {
                // `listen` is both a top-level item and an admin setting.
                assert!(
                    a.word != b.word || (a.word == "listen" && a.place != b.place),
                    "keyword `{}` listed twice",
                    a.word
                );
            }
        }
    }

    #[test]
    fn every_usage_example_parses_with_its_rule() {
        use pest::Parser;
        for kw in KEYWORDS {
            let example = kw.usage.split("   ").next().unwrap_or(kw.usage);
            let parsed = super::super::McprouteParser::parse(kw.rule, example);
            assert!(parsed.is_ok(), "{}: {:?}", kw.word, parsed.err());
            assert!(example.starts_with(kw.word), "{} != {example}", kw.word);
        }
    }

    #[test]
    fn yaml_words_point_at_real_keywords() {
        for (yaml, ours) in FOREIGN {
            assert!(find(ours).is_some(), "{yaml} -> {ours} is not a keyword");
        }
    }
}

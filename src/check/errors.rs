//! Every diagnostic the checker can report, one constructor each, with the wording in one place.
//!
//! Passes decide *when* to report; these functions decide *what the user reads*: the message, the
//! labels (both places for duplicates and shadowing) and a help that says what to write instead.
//! None of them takes a configured value that could be a secret: variables are named, values
//! never appear.

use crate::diag::{Diag, codes, with_article};
use crate::source::Span;

/// The language of the file a diagnostic points into, so that a help shows what to write there
/// (`default-profile safe` in .mcproute, `defaultProfile: safe` in YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Mcproute,
    Yaml,
}

fn did_you_mean(suggestion: Option<&str>) -> Option<String> {
    suggestion.map(|s| format!("did you mean `{s}`?"))
}

/// A name declared twice (`kind` is "upstream", "profile"; YAML calls upstreams servers).
pub fn duplicate_declaration(kind: &str, name: &str, again: Span, first: Span, lang: Lang) -> Diag {
    let kind = match (kind, lang) {
        ("upstream", Lang::Yaml) => "server",
        _ => kind,
    };
    Diag::error(
        codes::DUPLICATE,
        format!("{kind} `{name}` is declared twice"),
    )
    .at(again, "declared again here")
    .also(first, "first declared here")
    .help(format!(
        "{kind} names are shared by every route file; rename or remove one of them"
    ))
}

/// A key given twice in one list (`use`, `header`, `env`, renames of one item).
pub fn duplicate_entry(what: &str, again: Span, first: Span) -> Diag {
    Diag::error(codes::DUPLICATE, format!("{what} is given twice"))
        .at(again, "given again here")
        .also(first, "first given here")
        .help("remove one of them")
}

/// `listen`, `logging` or `default-profile` given more than once.
pub fn duplicate_global(setting: &str, again: Span, first: Span) -> Diag {
    Diag::error(
        codes::DUPLICATE_SETTING_ACROSS_FILES,
        format!("`{setting}` is given more than once"),
    )
    .at(again, "given again here")
    .also(first, "first given here")
    .help(format!(
        "a route set has one `{setting}`, whichever file it is in; keep one of them"
    ))
}

pub fn unknown_upstream(name: &str, at: Span, suggestion: Option<&str>, lang: Lang) -> Diag {
    let help = did_you_mean(suggestion).unwrap_or_else(|| match lang {
        Lang::Mcproute => {
            format!("declare it with `upstream {name} {{ … }}`, or use a declared upstream")
        }
        Lang::Yaml => format!(
            "declare it under `servers:` as `{name}: {{ transport: … }}`, or use a declared server"
        ),
    });
    // YAML calls upstreams servers.
    let noun = match lang {
        Lang::Mcproute => "upstream",
        Lang::Yaml => "server",
    };
    Diag::error(codes::UNKNOWN_UPSTREAM, format!("unknown {noun} `{name}`"))
        .at(at, format!("no {noun} has this name"))
        .help(help)
}

pub fn unknown_profile(name: &str, at: Span, suggestion: Option<&str>, lang: Lang) -> Diag {
    let help = did_you_mean(suggestion).unwrap_or_else(|| match lang {
        Lang::Mcproute => {
            format!("declare it with `profile {name} {{ … }}`, or use a declared profile")
        }
        Lang::Yaml => "declare it under `profiles:`, or use a declared profile".to_string(),
    });
    Diag::error(codes::UNKNOWN_PROFILE, format!("unknown profile `{name}`"))
        .at(at, "no profile has this name")
        .help(help)
}

/// A rename, describe or limit (error) or a filter rule (warning, it can never match) naming an
/// upstream the profile does not use.
pub fn upstream_not_in_profile(upstream: &str, profile: &str, at: Span, is_error: bool) -> Diag {
    let message = format!("profile `{profile}` does not use upstream `{upstream}`");
    let diag = if is_error {
        Diag::error(codes::UPSTREAM_NOT_IN_PROFILE, message)
    } else {
        Diag::warning(codes::UPSTREAM_NOT_IN_PROFILE, message)
    };
    diag.at(at, "not one of this profile's upstreams")
        .help(format!(
            "add `{upstream}` to the profile's `use` list, or remove this line"
        ))
}

pub fn unset_variable(var: &str, at: Span, used_in: &str) -> Diag {
    Diag::error(
        codes::UNSET_VARIABLE,
        format!("environment variable `{var}` is not set"),
    )
    .at(at, format!("used in {used_in}"))
    .help(format!(
        "set `{var}` in mcp2's environment, or give a default: `${{{var}:-default}}`"
    ))
}

pub fn bad_variable(at: Span, problem: &str, used_in: &str) -> Diag {
    Diag::error(
        codes::BAD_VARIABLE,
        format!("malformed `${{…}}` in {used_in}"),
    )
    .at(at, problem)
    .help("write `${NAME}` or `${NAME:-default}`; `$${` stands for a literal `${`")
}

/// `vars` names the variables the URL was expanded from, so a reader knows where to look.
pub fn bad_url(at: Span, reason: &str, transport: &str, vars: &[String]) -> Diag {
    let label = if vars.is_empty() {
        reason.to_string()
    } else {
        let vars: Vec<String> = vars.iter().map(|v| format!("${{{v}}}")).collect();
        format!("after expanding {}: {reason}", vars.join(", "))
    };
    Diag::error(
        codes::BAD_URL,
        format!("invalid URL for {} upstream", with_article(transport)),
    )
    .at(at, label)
    .help("write an absolute http or https URL, such as `https://api.example.com/mcp`")
}

pub fn empty_command(at: Span, lang: Lang) -> Diag {
    Diag::error(codes::BAD_COMMAND, "the stdio command is empty")
        .at(at, "no program to run")
        .help(match lang {
            Lang::Mcproute => {
                "name the program first, then its arguments: `stdio \"npx\" \"-y\" \"package\"`"
            }
            Lang::Yaml => {
                "name the program in `command` (`command: npx`) and its arguments in `args`"
            }
        })
}

pub fn missing_transport(upstream: &str, at: Span) -> Diag {
    Diag::error(
        codes::MISSING_TRANSPORT,
        format!("upstream `{upstream}` says nothing about how to reach it"),
    )
    .at(at, "no transport")
    .help("add one of `stdio \"command\" \"arg\"…`, `http \"https://…\"` or `sse \"https://…\"`")
}

/// `setting` ("header", "env", "cwd") on an upstream whose `transport` does not use it.
pub fn setting_not_for_transport(setting: &str, transport: &str, at: Span) -> Diag {
    let (works_with, help) = match setting {
        "header" => (
            "http and sse",
            "a stdio child gets settings through `env` instead",
        ),
        "env" => (
            "stdio",
            "an http or sse upstream gets settings through `header` instead",
        ),
        _ => (
            "stdio",
            "remove it: only a stdio upstream starts a process that has a working directory",
        ),
    };
    Diag::error(
        codes::SETTING_NOT_FOR_TRANSPORT,
        format!("`{setting}` only applies to {works_with} upstreams"),
    )
    .at(
        at,
        format!("ignored by {} upstream", with_article(transport)),
    )
    .help(help)
}

pub fn bad_env_name(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_ENV_NAME, "invalid environment variable name")
        .at(at, reason)
        .help("use a name such as `LOG_LEVEL`")
}

pub fn bad_duration(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_DURATION, "invalid duration")
        .at(at, reason)
        .help("write a whole number and a unit: `500ms`, `30s`, `5m`, `1h`")
}

/// A timeout of zero: well-formed, but it would fail every request.
pub fn zero_timeout(at: Span) -> Diag {
    Diag::error(codes::BAD_DURATION, "a timeout cannot be zero")
        .at(at, "every request would time out at once")
        .help("give a positive duration such as `10s`, or leave the setting out to use the default")
}

pub fn bad_rate(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_RATE, "invalid rate")
        .at(at, reason)
        .help("write calls per unit (`100/min`, `10/s`, `1000/h`, `5/day`) or per duration (`100/1m`)")
}

pub fn bad_limit_key(word: &str, at: Span, suggestion: Option<&str>, lang: Lang) -> Diag {
    Diag::error(
        codes::BAD_LIMIT_KEY,
        format!("`{word}` is not a way to share a limit"),
    )
    .at(at, "unknown")
    .help(did_you_mean(suggestion).unwrap_or_else(|| match lang {
        Lang::Mcproute => "write `per client` or `per session` (one bucket per session), `per key` (per API key), or nothing (one bucket for everyone)".into(),
        Lang::Yaml => "write `per: session` (one bucket per session), `per: key` (per API key), or leave `per` out (one bucket for everyone)".into(),
    }))
}

pub fn bad_glob(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_GLOB, "invalid glob")
        .at(at, reason)
        .help("globs use `*` (any text) and `?` (one character), `[abc]` and `{a,b}`")
}

pub fn bad_regex(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_REGEX, "invalid regular expression")
        .at(at, reason)
        .help("the syntax is Rust's `regex` crate (like RE2): no look-around or back-references")
}

pub fn shadowed_rule(rule: &str, at: Span, earlier: &str, earlier_at: Span, lang: Lang) -> Diag {
    let help = match lang {
        Lang::Mcproute => {
            "rules are tried in order and the first match decides: move this rule above the earlier one, or remove it"
        }
        Lang::Yaml => {
            "a server's `deny` patterns are tried before its `allow` patterns, each list in order, and the first match decides: remove this pattern, or narrow the earlier one"
        }
    };
    Diag::warning(codes::SHADOWED_RULE, format!("`{rule}` can never match"))
        .at(at, "never reached")
        .also(
            earlier_at,
            format!("`{earlier}` already matches everything this rule would"),
        )
        .help(help)
}

pub fn name_collision(public: &str, at: Span, first: Span) -> Diag {
    Diag::error(
        codes::NAME_COLLISION,
        format!("two items would be published as `{public}`"),
    )
    .at(at, "renamed to the same name")
    .also(first, "first renamed here")
    .help("give each rename its own public name")
}

pub fn bad_prefix(at: Span, reason: &str, suggestion: Option<&str>) -> Diag {
    Diag::error(codes::BAD_PREFIX, "invalid prefix template")
        .at(at, reason)
        .help(did_you_mean(suggestion).map_or_else(
            || "the only placeholder is `{upstream}`, as in `\"{upstream}__\"`".to_string(),
            |d| format!("{d} the only placeholder is `{{upstream}}`"),
        ))
}

pub fn bad_listen(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_LISTEN, "invalid listen address")
        .at(at, reason)
        .help("write `host:port`: `127.0.0.1:8210`, `[::1]:8210` or `localhost:8210`")
}

pub fn bad_header_name(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_HEADER, "invalid header name")
        .at(at, reason)
        .help("header names are letters, digits and `-` (and a few symbols): `X-Api-Key`")
}

/// `source` says where the bad character came from ("written here", "from `${TOKEN}`").
pub fn bad_header_value(name: &str, at: Span, source: &str) -> Diag {
    Diag::error(
        codes::BAD_HEADER,
        format!("the value of header `{name}` is not a valid HTTP header value"),
    )
    .at(
        at,
        format!("a control character (such as a line break) {source}"),
    )
    .help("header values may hold any visible text and tabs, but no line breaks or other control characters")
}

pub fn reserved_header(name: &str, at: Span, why: &str) -> Diag {
    Diag::warning(
        codes::RESERVED_HEADER,
        format!("header `{name}` would interfere with the transport"),
    )
    .at(at, why)
    .help("remove this header")
}

pub fn bad_path(at: Span, reason: &str) -> Diag {
    Diag::error(codes::BAD_PATH, "invalid endpoint path")
        .at(at, reason)
        .help("write an absolute path such as `\"/mcp\"` or `\"/servers/{upstream}/mcp\"`")
}

pub fn endpoint_conflict(path: &str, at: Span, first: Span) -> Diag {
    Diag::error(
        codes::ENDPOINT_CONFLICT,
        format!("two endpoints serve `{path}` under the same condition"),
    )
    .at(at, "this endpoint")
    .also(first, "conflicts with this one")
    .help("give one of them another path, or a `when header …` condition that tells them apart")
}

pub fn shadowed_endpoint(path: &str, at: Span, earlier: Span) -> Diag {
    Diag::warning(
        codes::SHADOWED_ENDPOINT,
        format!("this endpoint on `{path}` is never used"),
    )
    .at(at, "never reached")
    .also(
        earlier,
        "this earlier endpoint has no condition and answers every request",
    )
    .help("endpoints on one path are tried in order: put the conditional one first")
}

pub fn bad_logging(at: Span, reason: &str, help: &str) -> Diag {
    Diag::error(codes::BAD_LOGGING, "invalid logging setting")
        .at(at, reason)
        .help(help.to_string())
}

pub fn no_default_profile(profiles: &[(&str, Span)], lang: Lang) -> Diag {
    // A long list helps nobody: show a few candidates and count the rest.
    const SHOWN: usize = 4;
    let mut names: String = profiles
        .iter()
        .take(SHOWN)
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if profiles.len() > SHOWN {
        names.push_str(&format!(" and {} more", profiles.len() - SHOWN));
    }
    let mut diag = Diag::error(
        codes::NO_DEFAULT_PROFILE,
        format!(
            "{} profiles and no way to tell which one `/mcp` serves",
            profiles.len()
        ),
    );
    for (i, (_, span)) in profiles.iter().take(SHOWN).enumerate() {
        diag = if i == 0 {
            diag.at(*span, "a candidate")
        } else {
            diag.also(*span, "a candidate")
        };
    }
    diag.help(match lang {
        Lang::Mcproute => format!(
            "add `default-profile NAME` (one of {names}), name one profile `default`, or declare `endpoint \"/mcp\" -> NAME`"
        ),
        Lang::Yaml => format!(
            "add `defaultProfile: NAME` (one of {names}), or name one profile `default`"
        ),
    })
}

/// A profile with nothing to serve: only when no upstream is declared at all (an empty `use`
/// means every upstream).
pub fn empty_profile(name: &str, at: Span, lang: Lang) -> Diag {
    Diag::warning(
        codes::EMPTY_PROFILE,
        format!("profile `{name}` has no upstreams"),
    )
    .at(at, "serves nothing")
    .help(match lang {
        Lang::Mcproute => {
            "no upstream is declared: add one with `upstream NAME { http \"https://…\" }`"
        }
        Lang::Yaml => "no server is declared: add one under `servers:`",
    })
}

pub fn empty_plan() -> Diag {
    Diag::warning(
        codes::EMPTY_PLAN,
        "no upstreams are declared: nothing will be served",
    )
    .help("declare one with `upstream NAME { http \"https://…\" }` or `stdio \"command\"`")
}

//! Values: `${VAR}` expansion, URLs, commands, headers, durations, rates, listen, logging.

use super::{Checked, Routes, assert_never_shown, http_upstreams, http_upstreams_text};
use crate::diag::codes;
use crate::plan::TransportSpec;
use crate::syntax::ast::{Item, Upstream};

/// One upstream named `github`, built by `f` from its block.
fn one_upstream(
    text: &str,
    env: &[(&str, &str)],
    f: impl FnOnce(&mut super::Src, &mut Upstream),
) -> Checked {
    let mut r = Routes::new();
    r.file("r.mcproute", text, |s| {
        let mut up = s.upstream("github");
        f(s, &mut up);
        vec![Item::Upstream(up)]
    });
    r.compile(env)
}

const HEADER: &str = "upstream github {\n  http \"https://x.example/mcp\"\n  header Authorization = \"Bearer ${GITHUB_TOKEN}\"\n}\n";

#[test]
fn unset_variable_names_it_and_underlines_it_inside_the_string() {
    let c = one_upstream(HEADER, &[], |s, up| {
        up.transport = Some(s.http("https://x.example/mcp"));
        up.headers
            .push(s.kv("Authorization", "Bearer ${GITHUB_TOKEN}"));
    });
    let d = c.one(codes::UNSET_VARIABLE);
    assert_eq!(c.underlined(d), "${GITHUB_TOKEN}");
    assert!(d.message.contains("`GITHUB_TOKEN`"), "{}", d.message);
    let label = &d.primary.as_ref().unwrap().text;
    assert_eq!(label, "used in header `Authorization` of upstream `github`");
    assert!(
        d.help
            .as_deref()
            .unwrap()
            .contains("${GITHUB_TOKEN:-default}")
    );
    assert!(c.compiled.plan.is_none());
}

#[test]
fn unset_variable_after_an_escape_underlines_the_whole_literal() {
    let text = "upstream github {\n  http \"https://x.example/mcp\"\n  header X-Note = \"say \\\"hi\\\" ${NOTE}\"\n}\n";
    let c = one_upstream(text, &[], |s, up| {
        up.transport = Some(s.http("https://x.example/mcp"));
        let key = s.word("X-Note");
        let value = s.raw("\"say \\\"hi\\\" ${NOTE}\"", "say \"hi\" ${NOTE}");
        up.headers.push(crate::syntax::ast::KeyValue {
            span: key.span.to(value.span).into(),
            key,
            value,
        });
    });
    assert_eq!(
        c.underlined(c.one(codes::UNSET_VARIABLE)),
        "\"say \\\"hi\\\" ${NOTE}\""
    );
}

#[test]
fn header_values_become_secrets_that_no_output_shows() {
    let c = one_upstream(HEADER, &[("GITHUB_TOKEN", "hunter2")], |s, up| {
        up.transport = Some(s.http("https://x.example/mcp"));
        up.headers
            .push(s.kv("Authorization", "Bearer ${GITHUB_TOKEN}"));
    });
    let plan = c.compiled.plan.as_ref().expect("plan");
    assert_eq!(
        plan.upstreams["github"].headers[0].1.expose(),
        "Bearer hunter2"
    );
    assert_never_shown(&c, "hunter2");
}

#[test]
fn a_bad_character_from_a_variable_points_at_the_variable_never_the_value() {
    let c = one_upstream(
        HEADER,
        &[("GITHUB_TOKEN", "hunter2\r\nX-Evil: 1")],
        |s, up| {
            up.transport = Some(s.http("https://x.example/mcp"));
            up.headers
                .push(s.kv("Authorization", "Bearer ${GITHUB_TOKEN}"));
        },
    );
    let d = c.one(codes::BAD_HEADER);
    assert_eq!(c.underlined(d), "${GITHUB_TOKEN}");
    assert!(
        d.primary
            .as_ref()
            .unwrap()
            .text
            .contains("comes from `${GITHUB_TOKEN}`")
    );
    assert_never_shown(&c, "hunter2");
    assert_never_shown(&c, "X-Evil");
}

#[test]
fn a_bad_character_written_in_the_file_is_underlined_itself() {
    let text = "upstream github {\n  http \"https://x.example/mcp\"\n  header X-A = \"ab\u{1}cd\"\n  header X B = \"v\"\n}\n";
    let c = one_upstream(text, &[], |s, up| {
        up.transport = Some(s.http("https://x.example/mcp"));
        up.headers.push(s.kv("X-A", "ab\u{1}cd"));
        up.headers.push(s.kv("X B", "v"));
    });
    let found = c.with_code(codes::BAD_HEADER);
    assert_eq!(found.len(), 2, "{}", c.rendered());
    assert_eq!(c.underlined(found[0]), "\u{1}");
    assert_eq!(c.underlined(found[1]), " ");
    assert_eq!(found[1].message, "invalid header name");
}

#[test]
fn transport_managed_headers_are_a_warning() {
    let text = "upstream github {\n  http \"https://x.example/mcp\"\n  header Host = \"evil.example\"\n}\n";
    let c = one_upstream(text, &[], |s, up| {
        up.transport = Some(s.http("https://x.example/mcp"));
        up.headers.push(s.kv("Host", "evil.example"));
    });
    let d = c.one(codes::RESERVED_HEADER);
    assert!(!d.is_error());
    assert_eq!(c.underlined(d), "Host");
    assert!(c.compiled.plan.is_some());
}

#[test]
fn urls_are_checked_after_expansion_without_showing_the_expanded_text() {
    let text = "upstream github {\n  http \"https://${HOST}/mcp\"\n}\n";
    let c = one_upstream(text, &[("HOST", "bad host name")], |s, up| {
        up.transport = Some(s.http("https://${HOST}/mcp"));
    });
    let d = c.one(codes::BAD_URL);
    assert!(
        d.primary
            .as_ref()
            .unwrap()
            .text
            .starts_with("after expanding ${HOST}:")
    );
    assert_never_shown(&c, "bad host name");

    let c = one_upstream(text, &[("HOST", "api.example.com")], |s, up| {
        up.transport = Some(s.http("https://${HOST}/mcp"));
    });
    let plan = c.compiled.plan.expect("plan");
    assert!(
        matches!(&plan.upstreams["github"].transport, TransportSpec::Http { url } if url.as_str() == "https://api.example.com/mcp")
    );
}

#[test]
fn sse_needs_http_and_stdio_needs_a_command() {
    let text = "upstream github {\n  sse \"ws://x/sse\"\n}\n";
    let c = one_upstream(text, &[], |s, up| up.transport = Some(s.sse("ws://x/sse")));
    let d = c.one(codes::BAD_URL);
    assert!(
        d.primary.as_ref().unwrap().text.contains("`ws`"),
        "{}",
        c.rendered()
    );
    assert_eq!(d.message, "invalid URL for an `sse` upstream");

    let text = "upstream github {\n  stdio \" \"\n}\n";
    let c = one_upstream(text, &[], |s, up| up.transport = Some(s.stdio(" ", &[])));
    assert_eq!(c.underlined(c.one(codes::BAD_COMMAND)), "\" \"");
}

#[test]
fn settings_of_another_transport_are_errors() {
    let text = "upstream github {\n  stdio \"srv\"\n  header X-Key = \"k\"\n}\n";
    let c = one_upstream(text, &[], |s, up| {
        up.transport = Some(s.stdio("srv", &[]));
        up.headers.push(s.kv("X-Key", "k"));
    });
    let d = c.one(codes::SETTING_NOT_FOR_TRANSPORT);
    assert_eq!(c.underlined(d), "X-Key = \"k\"");
    assert_eq!(d.message, "`header` only applies to http and sse upstreams");
}

#[test]
fn malformed_templates_and_literal_dollar_braces() {
    let text = "upstream github {\n  stdio \"srv\" \"$${HOME}\" \"${OOPS\"\n}\n";
    let c = one_upstream(text, &[], |s, up| {
        up.transport = Some(s.stdio("srv", &["$${HOME}", "${OOPS"]))
    });
    let d = c.one(codes::BAD_VARIABLE);
    assert_eq!(c.underlined(d), "${OOPS");
    assert_eq!(
        c.compiled.diagnostics.len(),
        1,
        "`$${{` is not an error: {}",
        c.rendered()
    );

    let text = "upstream github {\n  stdio \"srv\" \"$${HOME}\"\n  env PASSWORD = \"${PW}\"\n}\n";
    let c = one_upstream(text, &[("PW", "pa55")], |s, up| {
        up.transport = Some(s.stdio("srv", &["$${HOME}"]));
        up.env.push(s.kv("PASSWORD", "${PW}"));
    });
    let plan = c.compiled.plan.as_ref().expect("plan");
    let TransportSpec::Stdio { args, env, .. } = &plan.upstreams["github"].transport else {
        panic!()
    };
    assert_eq!(args, &["${HOME}"]);
    assert_eq!(env["PASSWORD"].expose(), "pa55");
    assert_never_shown(&c, "pa55");
}

#[test]
fn durations_must_be_whole_positive_and_have_a_unit() {
    for (written, reason, help) in [
        ("1.5s", "whole numbers", "`500ms`, `30s`, `5m`, `1h`"),
        ("30", "unit is missing", "`500ms`, `30s`, `5m`, `1h`"),
        ("0ms", "time out at once", "leave the setting out"),
        ("5 weeks", "", "`500ms`, `30s`, `5m`, `1h`"),
        ("30 seconds", "`30s`", "`500ms`, `30s`, `5m`, `1h`"),
    ] {
        let text = format!("upstream github {{\n  http \"https://x/\"\n  timeout {written}\n}}\n");
        let c = one_upstream(&text, &[], |s, up| {
            up.transport = Some(s.http("https://x/"));
            up.timeout = Some(s.word(written));
        });
        let d = c.one(codes::BAD_DURATION);
        assert_eq!(c.underlined(d), written);
        assert!(
            d.primary.as_ref().unwrap().text.contains(reason),
            "{}",
            c.rendered()
        );
        assert!(
            d.help.as_deref().unwrap().contains(help),
            "{}",
            c.rendered()
        );
    }
}

fn limited(rate: &str, per: Option<&str>) -> Checked {
    let per_text = per.map_or(String::new(), |p| format!(" per {p}"));
    let text = format!(
        "{}profile p {{\n  limit a {rate}{per_text}\n}}\n",
        http_upstreams_text(&["a"])
    );
    let mut r = Routes::new();
    r.file("r.mcproute", &text, |s| {
        let mut items = http_upstreams(s, &["a"]);
        let mut p = s.profile("p");
        p.limits.push(s.limit("a", rate, per));
        items.push(Item::Profile(p));
        items
    });
    r.compile(&[])
}

#[test]
fn rates_and_limit_keys_are_checked() {
    let c = limited("0/min", None);
    assert_eq!(c.underlined(c.one(codes::BAD_RATE)), "0/min");
    let c = limited("10/fortnight", None);
    assert!(
        c.one(codes::BAD_RATE)
            .primary
            .as_ref()
            .unwrap()
            .text
            .contains("fortnight")
    );
    let c = limited("10/s", Some("clinet"));
    let d = c.one(codes::BAD_LIMIT_KEY);
    assert_eq!(c.underlined(d), "clinet");
    assert_eq!(d.help.as_deref(), Some("did you mean `client`?"));
    let c = limited("100/1m", Some("key"));
    let plan = c.compiled.plan.expect("plan");
    let limit = &plan.profiles["p"].limits[0];
    assert_eq!(limit.per, crate::plan::LimitKey::Key);
    assert_eq!(limit.rate.per.as_secs(), 60);
}

#[test]
fn listen_and_logging_values() {
    let text = "listen [::1]:99999\nlogging {\n  level inf\n  max-size-mb 0\n}\n";
    let mut r = Routes::new();
    r.file("r.mcproute", text, |s| {
        let listen = s.listen("[::1]:99999");
        let mut logging = s.logging();
        logging.level = Some(s.word("inf"));
        s.span("max-size-mb");
        logging.max_size_mb = Some(s.number(0));
        vec![listen, Item::Logging(logging)]
    });
    let c = r.compile(&[]);
    let listen = c.one(codes::BAD_LISTEN);
    assert_eq!(c.underlined(listen), "[::1]:99999");
    assert!(listen.primary.as_ref().unwrap().text.contains("65535"));
    let logging = c.with_code(codes::BAD_LOGGING);
    assert_eq!(logging.len(), 2, "{}", c.rendered());
    assert_eq!(c.underlined(logging[0]), "inf");
    assert_eq!(logging[0].help.as_deref(), Some("did you mean `info`?"));
    assert_eq!(c.underlined(logging[1]), "0");
}

#[test]
fn duplicate_env_keys_are_reported_with_both_places() {
    let text = "upstream github {\n  stdio \"srv\"\n  env A = \"1\"\n  env A = \"2\"\n}\n";
    let c = one_upstream(text, &[], |s, up| {
        up.transport = Some(s.stdio("srv", &[]));
        up.env.push(s.kv("A", "1"));
        up.env.push(s.kv("A", "2"));
    });
    let d = c.one(codes::DUPLICATE);
    assert_eq!(c.sources.location(d.primary.as_ref().unwrap().span).line, 4);
    assert_eq!(c.sources.location(d.secondary[0].span).line, 3);
}

#[test]
fn a_bad_url_does_not_hide_a_misplaced_env() {
    let text = "upstream github {\n  http \"nope\"\n  env TOKEN = \"x\"\n}\n";
    let c = one_upstream(text, &[], |s, up| {
        up.transport = Some(s.http("nope"));
        up.env.push(s.kv("TOKEN", "x"));
    });
    let mut found = c.codes();
    found.sort_unstable();
    assert_eq!(
        found,
        [codes::BAD_URL, codes::SETTING_NOT_FOR_TRANSPORT],
        "{}",
        c.rendered()
    );
}

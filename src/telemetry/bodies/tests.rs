use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::check::compile;
use crate::source::SourceSet;

const TOKEN: &str = "tok-9f8e7d6c5b4a";

fn plan(routes: &str) -> Plan {
    let mut sources = SourceSet::new();
    sources.add("routes.mcproute", routes);
    let env: HashMap<String, String> = [
        ("GH_TOKEN".to_string(), TOKEN.to_string()),
        ("ADMIN".to_string(), "admin-secret-1234".to_string()),
    ]
    .into();
    let compiled = compile(&sources, &env);
    compiled.plan.expect("the routes compile")
}

const ROUTES: &str = r#"
upstream gh {
  http "http://127.0.0.1:1/mcp"
  header Authorization = "Bearer ${GH_TOKEN}"
}
upstream local {
  stdio "server"
  env LOG_LEVEL = "warn"
  env PASSWORD = "literal-pw-5678"
}
admin { token "${ADMIN}" }
logging {
  log-requests true
  log-responses true
  max-body-kb 1
  redact-keys "session_ref"
}
"#;

fn log() -> BodyLog {
    BodyLog::new(&plan(ROUTES))
}

#[test]
fn secret_keys_are_hidden_at_any_depth_and_other_keys_kept() {
    let body = json!({
        "params": {"arguments": {
            "Password": "p4ss", "x-api-key": "k", "nested": [{"access_token": "t"}],
            "Session_Ref": "s", "max_tokens": 10, "query": "rust"
        }}
    });
    let (text, dropped) = log().render(Body::Json(&body));
    assert_eq!(dropped, 0);
    let out: Value = serde_json::from_str(&text).expect("still JSON");
    let args = &out["params"]["arguments"];
    for key in ["Password", "x-api-key", "Session_Ref"] {
        assert_eq!(args[key], REDACTED, "{key}");
    }
    assert_eq!(args["nested"][0]["access_token"], REDACTED);
    assert_eq!(args["max_tokens"], 10);
    assert_eq!(args["query"], "rust");
}

#[test]
fn secret_values_are_replaced_inside_any_string_and_raw_text() {
    let body = json!({"arguments": {"note": format!("use {TOKEN} and admin-secret-1234 or literal-pw-5678")}});
    let log = log();
    for (text, _) in [
        log.render(Body::Json(&body)),
        log.render(Body::Raw(body.to_string().as_bytes())),
        log.render(Body::Raw(format!("not json {TOKEN}").as_bytes())),
    ] {
        for secret in [TOKEN, "admin-secret-1234", "literal-pw-5678"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains(REDACTED), "{text}");
    }
    // A literal env value under an ordinary name is not a secret.
    let (text, _) = log.render(Body::Json(&json!({"level": "warn"})));
    assert!(text.contains("warn"));
}

#[test]
fn long_bodies_are_cut_with_a_marker_on_a_character_boundary() {
    let body = json!({"text": "é".repeat(2000)});
    let (text, dropped) = log().render(Body::Json(&body));
    let full = body.to_string().len();
    assert!(dropped > 0 && text.len() < full);
    assert!(
        text.ends_with(&format!("…[truncated {dropped} bytes]")),
        "{}",
        &text[text.len() - 40..]
    );
    assert_eq!(
        text.len() - format!("…[truncated {dropped} bytes]").len() + dropped,
        full
    );
}

#[test]
fn a_plan_without_body_logging_has_no_body_log() {
    let plain = Arc::new(plan("upstream a { stdio \"x\" }"));
    assert!(BodyLog::of(&plain).is_none());
    let on = Arc::new(plan(ROUTES));
    let first = BodyLog::of(&on).expect("on");
    let again = BodyLog::of(&on).expect("on");
    assert!(Arc::ptr_eq(&first, &again), "built once per plan");
}

//! `mcp2 serve` as a hub over real upstreams, driven by real clients.
//!
//! Upstreams: `@modelcontextprotocol/server-everything` over stdio AND over Streamable HTTP, a
//! legacy-SSE server built with the Python `mcp` SDK, and a Streamable HTTP server that answers
//! 401 unless it gets the `Authorization` and `X-API-Key` headers the routes build from `${ENV}`.
//! Clients: rmcp, and the Python `mcp` SDK (`tests/fixtures/clients/hub_client.py`), on the hub
//! and on the per-upstream endpoints. Needs `scripts/install-test-deps`.

mod support;

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::ErrorCode;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use support::client::*;
use support::process::{Mcp2, Routes, quoted};
use support::*;

const TOKEN: &str = "hub-token-7f3a";
const KEY: &str = "hub-key-91c2";

/// The four upstreams and their reachable servers (killed when dropped).
struct Upstreams {
    web: ServerChild,
    legacy: ServerChild,
    auth: ServerChild,
}

impl Upstreams {
    async fn start() -> Upstreams {
        let auth_env = [("EXPECTED_TOKEN", TOKEN), ("EXPECTED_KEY", KEY)];
        let (web, legacy, auth) = tokio::join!(
            spawn_everything("streamableHttp"),
            spawn_python_server("legacy_sse_server.py", &[]),
            spawn_python_server("auth_http_server.py", &auth_env),
        );
        Upstreams { web, legacy, auth }
    }

    /// The routes: a hub over all four, a prefixed profile without metadata, and a profile
    /// whose only upstream sends the wrong key.
    fn routes(&self) -> Routes {
        Routes::new(&format!(
            r#"
upstream everything {{
  stdio {everything}
  timeout 20s
}}
upstream web {{
  http "{web}"
}}
upstream legacy {{
  sse "{legacy}"
}}
upstream auth {{
  http "{auth}"
  header Authorization = "Bearer ${{HUB_TOKEN}}"
  header X-API-Key = "${{HUB_KEY}}"
}}
upstream auth-wrong {{
  http "{auth}"
  header Authorization = "Bearer ${{HUB_TOKEN}}"
  header X-API-Key = "${{WRONG_KEY}}"
  connect-timeout 5s
}}

profile default {{
  meta name "Gateway Test Hub" version "7.1.0"
  use everything, web, legacy, auth
  deny tool */get-env
  rename tool everything/get-sum -> add_numbers
  rename tool legacy/echo -> legacy_echo
}}
profile prefixed {{
  use legacy, auth
  prefix "{{upstream}}_"
}}
profile broken {{
  use auth-wrong
}}

endpoint "/mcp" -> default
endpoint "/mcp/prefixed" -> prefixed
endpoint "/mcp/broken" -> broken
expose-per-upstream "/servers/{{upstream}}/mcp"
"#,
            everything = quoted(&everything_bin()),
            web = self.web.url("/mcp"),
            legacy = self.legacy.url("/sse"),
            auth = self.auth.url("/mcp"),
        ))
    }
}

const ENV: [(&str, &str); 3] = [
    ("HUB_TOKEN", TOKEN),
    ("HUB_KEY", KEY),
    ("WRONG_KEY", "not-the-key"),
];

async fn start_hub() -> (Upstreams, Routes, Mcp2) {
    init_tracing();
    let upstreams = Upstreams::start().await;
    let routes = upstreams.routes();
    let mcp2 = Mcp2::serve(&routes, &[], &ENV).await;
    (upstreams, routes, mcp2)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_sees_one_hub_over_four_upstreams() {
    let (_upstreams, _routes, mcp2) = start_hub().await;
    let hub = connect(&mcp2.url("/mcp")).await;

    // initialize: the profile's metadata and the union of the upstreams' capabilities (logging,
    // completions and resource subscriptions come from server-everything alone).
    let server = server_info(&hub);
    assert_eq!(server.name, "Gateway Test Hub");
    assert_eq!(server.version, "7.1.0");
    let caps = &hub.peer_info().expect("initialize result").capabilities;
    assert!(caps.tools.is_some() && caps.prompts.is_some());
    assert!(caps.logging.is_some(), "{caps:?}");
    assert!(caps.completions.is_some(), "{caps:?}");
    assert_eq!(
        caps.resources.as_ref().and_then(|r| r.subscribe),
        Some(true)
    );

    // Lists: renames applied, denied tools gone from every upstream, the stdio copy of
    // server-everything (declared first) keeps the shared names and the HTTP copy gets `web__`.
    let tools = tool_names(&hub).await;
    for expected in [
        "echo",
        "add_numbers",
        "web__echo",
        "get-sum",
        "legacy_echo",
        "add",
        "whoami",
    ] {
        assert!(
            tools.iter().any(|t| t == expected),
            "{expected} missing: {tools:?}"
        );
    }
    for gone in ["get-env", "web__get-env", "web__get-sum"] {
        assert!(!tools.iter().any(|t| t == gone), "{gone} listed: {tools:?}");
    }
    let unique: std::collections::HashSet<&String> = tools.iter().collect();
    assert_eq!(
        unique.len(),
        tools.len(),
        "duplicate public names: {tools:?}"
    );

    // Calls reach the right upstream under the original name and bring its real result back.
    let sum = call_text(&hub, "add_numbers", json!({"a": 2, "b": 3})).await;
    assert_eq!(sum, "The sum of 2 and 3 is 5.");
    let sum = call_text(&hub, "get-sum", json!({"a": 40, "b": 2})).await;
    assert_eq!(sum, "The sum of 40 and 2 is 42.");
    assert_eq!(
        call_text(&hub, "web__echo", json!({"message": "via http"})).await,
        "Echo: via http"
    );
    assert_eq!(
        call_text(&hub, "legacy_echo", json!({"message": "via sse"})).await,
        "Echo: via sse"
    );
    let whoami = call_text(&hub, "whoami", json!({})).await;
    assert!(whoami.starts_with("authenticated key_sha256="), "{whoami}");

    // A denied tool is refused like an unknown one, with a clear JSON-RPC error.
    let denied = mcp_error(try_call(&hub, "get-env", json!({})).await);
    assert_eq!(denied.code, ErrorCode::INVALID_PARAMS);
    assert!(
        denied.message.contains("unknown tool `get-env`"),
        "{denied:?}"
    );
    let unknown = mcp_error(try_call(&hub, "add_number", json!({})).await);
    assert_eq!(unknown.code, ErrorCode::INVALID_PARAMS);
    assert!(
        unknown.message.contains("did you mean `add_numbers`?"),
        "{unknown:?}"
    );

    let peer = hub.peer();
    let missing = peer
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "fixture://nope",
        ))
        .await;
    let Err(rmcp::service::ServiceError::McpError(missing)) = missing else {
        panic!("reading an unknown resource: {missing:?}");
    };
    assert!(
        missing
            .message
            .contains("unknown resource `fixture://nope`"),
        "{missing:?}"
    );

    // Resources from stdio and SSE upstreams; prompts, including a moved colliding one.
    let doc = read_text(&hub, "demo://resource/static/document/architecture.md").await;
    assert!(doc.contains("Everything Server"), "{doc}");
    assert_eq!(
        read_text(&hub, "fixture://readme").await,
        "legacy SSE fixture readme"
    );
    let simple = prompt_text(&hub, "simple-prompt", json!({})).await;
    assert_eq!(simple, "This is a simple prompt without arguments.");
    let moved = prompt_text(&hub, "web__simple-prompt", json!({})).await;
    assert_eq!(moved, simple);
    assert_eq!(
        prompt_text(&hub, "greet", json!({"name": "Ada"})).await,
        "Say hello to Ada."
    );

    // The collision is warned about once, however many lists and sessions see it.
    let again = connect(&mcp2.url("/mcp")).await;
    assert_eq!(sorted(tool_names(&again).await), sorted(tools));
    let warning = "two upstreams offer the same public name";
    let echo_warnings = mcp2
        .stderr()
        .lines()
        .filter(|l| l.contains(warning) && l.contains("name=echo ") && l.contains("moved=web"))
        .count();
    assert_eq!(echo_warnings, 1, "stderr:\n{}", mcp2.stderr());
    assert!(!mcp2.stderr().contains("panicked"), "{}", mcp2.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_upstream_endpoints_prefixes_defaults_and_credentials() {
    let (_upstreams, _routes, mcp2) = start_hub().await;

    // One upstream per endpoint, with the default profile's rules.
    let only = connect(&mcp2.url("/servers/everything/mcp")).await;
    let tools = tool_names(&only).await;
    assert!(tools.iter().any(|t| t == "add_numbers"), "{tools:?}");
    assert!(tools.iter().any(|t| t == "echo"), "{tools:?}");
    assert!(
        !tools
            .iter()
            .any(|t| t.starts_with("web__") || t == "whoami" || t == "get-env"),
        "{tools:?}"
    );
    assert_eq!(
        call_text(&only, "add_numbers", json!({"a": 1, "b": 1})).await,
        "The sum of 1 and 1 is 2."
    );
    let legacy = connect(&mcp2.url("/servers/legacy/mcp")).await;
    assert_eq!(
        sorted(tool_names(&legacy).await),
        ["add", "legacy_echo"].map(String::from)
    );
    let foreign = mcp_error(try_call(&legacy, "whoami", json!({})).await);
    assert!(foreign.message.contains("unknown tool"), "{foreign:?}");

    // A profile with a prefix and no `meta`: names prefixed, metadata defaults to mcp2's own.
    let prefixed = connect(&mcp2.url("/mcp/prefixed")).await;
    let server = server_info(&prefixed);
    assert_eq!(server.name, "mcp2");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    // Its capabilities are the union over ITS upstreams: neither Python server offers logging,
    // completions or resource subscriptions.
    let caps = &prefixed
        .peer_info()
        .expect("initialize result")
        .capabilities;
    assert!(caps.tools.is_some(), "{caps:?}");
    assert!(
        caps.logging.is_none() && caps.completions.is_none(),
        "{caps:?}"
    );
    assert_ne!(
        caps.resources.as_ref().and_then(|r| r.subscribe),
        Some(true)
    );
    assert_eq!(
        sorted(tool_names(&prefixed).await),
        ["auth_whoami", "legacy_add", "legacy_echo"].map(String::from)
    );
    assert_eq!(
        call_text(&prefixed, "legacy_add", json!({"a": 20, "b": 22})).await,
        "42"
    );

    // Credentials come only from the configured headers: the wrong key is refused upstream,
    // and the readiness endpoint says which upstream is down and why.
    let http = reqwest::Client::new();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let resp = http
                .get(mcp2.url("/_mcp2/ready"))
                .send()
                .await
                .expect("GET /_mcp2/ready");
            let body: Value = resp.json().await.expect("ready JSON");
            if body["upstreams"]["auth-wrong"]["state"] == "down" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("auth-wrong reported down");
    assert_eq!(ready["upstreams"]["auth"]["state"], "connected", "{ready}");
    let error = ready["upstreams"]["auth-wrong"]["error"].to_string();
    assert!(error.contains("401"), "{error}");
    assert!(
        !mcp2.stderr().contains(KEY) && !mcp2.stderr().contains(TOKEN),
        "a secret reached the log:\n{}",
        mcp2.stderr()
    );
    let broken = connect(&mcp2.url("/mcp/broken")).await;
    assert!(tool_names(&broken).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_in_both_protocol_eras() {
    let (_upstreams, _routes, mcp2) = start_hub().await;
    let script = repo_root().join("tests/fixtures/clients/hub_client.py");
    assert!(script.exists(), "{} is missing", script.display());
    for mode in ["auto", "legacy"] {
        let output = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(python())
                .arg(&script)
                .arg(mcp2.url("/mcp"))
                .arg(mcp2.url("/servers/legacy/mcp"))
                .arg(mode)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("the Python client ({mode}) hung"))
        .expect("run the Python client");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "the Python client ({mode}) failed: {stderr}\nmcp2 stderr (end):\n{}",
            mcp2.stderr_tail(30)
        );
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {stderr}"));
        let want_protocol = if mode == "auto" {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        assert_eq!(report["protocol"], want_protocol, "{report}");
        assert_eq!(report["server"]["name"], "Gateway Test Hub", "{report}");
        assert_eq!(report["server"]["version"], "7.1.0", "{report}");
        let tools: Vec<&str> = report["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for expected in ["add_numbers", "web__echo", "legacy_echo", "whoami"] {
            assert!(tools.contains(&expected), "{mode}: {expected}: {tools:?}");
        }
        assert!(!tools.contains(&"get-env"), "{mode}: {tools:?}");
        assert_eq!(
            report["renamed_call"], "The sum of 2 and 3 is 5.",
            "{report}"
        );
        assert_eq!(report["denied"]["code"], -32602, "{report}");
        assert_eq!(report["resource"], "legacy SSE fixture readme", "{report}");
        assert_eq!(report["prompt"], "Say hello to Ada.", "{report}");
        assert_eq!(
            report["per_upstream_tools"],
            json!(["add", "legacy_echo"]),
            "{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_mode_and_listen_overrides() {
    init_tracing();
    let routes = Routes::new(&format!(
        r#"
listen 127.0.0.2:9
upstream everything {{
  stdio {everything}
}}
profile default {{
  meta name "Stdio Hub" version "3.0.0"
  use everything
  rename tool everything/get-sum -> add
}}
endpoint "/mcp" -> default
"#,
        everything = quoted(&everything_bin()),
    ));

    // --stdio: one client over stdin/stdout, the routes' default profile.
    let mut cmd = tokio::process::Command::from(Mcp2::command(
        &["serve", routes.path().to_str().expect("UTF-8"), "--stdio"],
        &[],
    ));
    cmd.stderr(std::process::Stdio::null()).kill_on_drop(true);
    let transport = TokioChildProcess::new(cmd).expect("spawn mcp2 --stdio");
    let Ok(served) = tokio::time::timeout(REQUEST_LIMIT, ().serve(transport)).await else {
        panic!("initialize over stdio hung for {REQUEST_LIMIT:?}");
    };
    let client = served.expect("initialize over stdio");
    assert_eq!(server_info(&client).name, "Stdio Hub");
    let tools = tool_names(&client).await;
    assert!(tools.iter().any(|t| t == "add"), "{tools:?}");
    assert!(!tools.iter().any(|t| t == "get-sum"), "{tools:?}");
    assert_eq!(
        call_text(&client, "add", json!({"a": 5, "b": 6})).await,
        "The sum of 5 and 6 is 11."
    );
    client.cancel().await.expect("close the stdio session");

    // --host/--port override the routes' `listen 127.0.0.2:9`.
    let mcp2 = Mcp2::serve(&routes, &["--host", "127.0.0.1"], &[]).await;
    assert_eq!(mcp2.addr().ip().to_string(), "127.0.0.1");
    assert_ne!(mcp2.addr().port(), 9);
    let hub = connect(&mcp2.url("/mcp")).await;
    assert_eq!(
        call_text(&hub, "add", json!({"a": 1, "b": 2})).await,
        "The sum of 1 and 2 is 3."
    );
}

//! Clients of both eras through the real `mcp2` binary, with upstreams of both eras behind one
//! hub: the reference server (`initialize` era, Streamable HTTP) and `modern_server.py`
//! (2026-07-28 only, stdio, `protocol auto`: it refuses `initialize`, so mcp2 must discover).
//! The Python `mcp` SDK client in its default mode (moves to 2026-07-28) and in `initialize`
//! mode run the same end-to-end checks against both upstreams and must see the same: tools,
//! a resource read, a prompt, progress, sampling and elicitation answered by the client's own
//! callbacks (the modern upstream asks with input rounds, which mcp2 turns into real requests
//! for the `initialize`-era client), and a subscription update (the modern upstream only has
//! `subscriptions/listen`). Needs `scripts/install-test-deps`.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::hub::Hub;
use support::*;
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(120);

/// Runs the eras client; its JSON report.
async fn check(url: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/fixtures/clients/eras_client.py"))
        .arg(url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(LIMIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("eras client {args:?} timed out"))
        .expect("run the eras client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "eras client {args:?} printed no report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// What every client must see, whatever its era; only 2026-07-28 clients get caching hints.
fn expected(name: &str) -> Value {
    let hints = match name {
        "modern" => json!({
            "tools": { "ttl": true, "scope": "public" },
            "prompts": { "ttl": true, "scope": "private" },
        }),
        // The SDK's defaults for results that carry no hints (ttlMs 0, private).
        _ => json!({
            "tools": { "ttl": 0, "scope": "private" },
            "prompts": { "ttl": 0, "scope": "private" },
        }),
    };
    json!({
        "hints": hints,
        "tools": { "everything": true, "modern": true },
        "echo": { "everything": "Echo: hi", "modern": "modern echo: hi" },
        "resources": { "everything": 1, "modern": ["a modern note"], "listed_modern": true },
        "prompts": { "listed": [true, true], "everything": 1, "modern": ["a modern prompt"] },
        "progress": {
            "everything": { "text": true, "reports": true },
            "modern": { "text": "modern progress done", "reports": true },
        },
        "sampling": { "everything": true, "modern": true, "asked_with_my_prompt": 2 },
        "elicitation": { "everything": true, "modern": "modern elicited: decline", "asked": 2 },
        "subscribe": { "everything": true, "modern": true },
        "protocol": name,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_both_eras_pass_the_same_checks_with_upstreams_of_both_eras() {
    init_tracing();
    let everything = spawn_everything("streamableHttp").await;
    let modern = repo_root().join("tests/fixtures/servers/modern_server.py");
    let routes = format!(
        "upstream everything {{\n  http \"{}\"\n  session per-client\n}}\n\
         upstream modern {{\n  stdio \"{}\" \"{}\"\n}}\n\
         profile default {{ use everything, modern }}\n",
        everything.url("/mcp"),
        python().display(),
        modern.display(),
    );
    let hub = Hub::start("eras", &routes).await;
    let url = hub.url("/mcp");
    // One after the other: the reference server's subscriber updates are a switch per session.
    let default_mode = check(&url, &["--name", "modern-client"]).await;
    let initialize_mode = check(&url, &["--mode", "legacy", "--name", "classic"]).await;
    assert_eq!(
        default_mode,
        expected("modern"),
        "the 2026-07-28 client through mcp2\n{}",
        hub.log()
    );
    assert_eq!(
        initialize_mode,
        expected("initialize-era"),
        "the initialize-mode client through mcp2\n{}",
        hub.log()
    );
    assert!(
        hub.log().contains("connecting with `server/discover`"),
        "the 2026-only upstream was not discovered:\n{}",
        hub.log()
    );
}

//! Real clients of both eras through the real `mcp2` binary, compared with the same client
//! talking to the reference server directly: the Python `mcp` SDK client in its default mode
//! (probes `server/discover`, moves to 2026-07-28, where mcp2 translates the upstream's
//! sampling and elicitation into input rounds), in `initialize` mode over Streamable HTTP,
//! and over legacy HTTP+SSE, all at the same time on one hub. Needs
//! `scripts/install-test-deps`.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::hub::Hub;
use support::*;
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(90);

fn client_script() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/clients/check_client.py")
}

/// Runs the Python check client; its JSON report.
async fn check(url: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(client_script())
        .arg(url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(LIMIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("check client on {url} {args:?} timed out"))
        .expect("run the check client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "check client on {url} {args:?} printed no report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The report without the facts that differ by path on purpose.
fn features(mut report: Value) -> Value {
    if let Some(map) = report.as_object_mut() {
        map.remove("protocol");
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_clients_of_both_eras_and_transports_see_what_they_see_directly() {
    init_tracing();
    assert!(Path::new(&client_script()).exists());
    let server = spawn_everything("streamableHttp").await;
    let direct = check(server.url("/mcp").as_str(), &["--mode", "legacy"]).await;
    assert_eq!(direct["protocol"], "initialize-era", "{direct}");
    assert!(
        !direct.to_string().contains("\"error\""),
        "the direct run itself failed: {direct}"
    );

    // Each session-bound client gets its own upstream session, as it would directly; the
    // 2026-07-28 client has no session and uses the shared one.
    let routes = format!(
        "upstream everything {{\n  http \"{}\"\n  session per-client\n}}\n\
         profile default {{ use everything }}\n\
         endpoint \"/mcp\" -> default sse \"/sse\"\n",
        server.url("/mcp")
    );
    let hub = Hub::start("python_clients", &routes).await;
    let (mcp, sse) = (hub.url("/mcp"), hub.url("/sse"));
    let (modern, initialize, legacy_sse) = tokio::join!(
        check(&mcp, &["--name", "modern"]),
        check(&mcp, &["--mode", "legacy", "--name", "classic"]),
        check(
            &sse,
            &["--transport", "sse", "--mode", "legacy", "--name", "old"]
        ),
    );
    assert_eq!(modern["protocol"], "modern", "{modern}");
    assert_eq!(initialize["protocol"], "initialize-era");
    assert_eq!(legacy_sse["protocol"], "initialize-era");
    let expected = features(direct);
    for (name, report) in [
        ("2026-07-28 (default mode)", modern),
        ("initialize mode", initialize),
        ("legacy SSE", legacy_sse),
    ] {
        assert_eq!(
            features(report),
            expected,
            "{name} through mcp2 differs from direct\n{}",
            hub.log()
        );
    }
}

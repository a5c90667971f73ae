//! The log file of the real `mcp2` binary as an operator meets it: rotated by size into at most
//! `max-backups` gzip files, every line JSON carrying the request fields, request and response
//! bodies logged capped and redacted, and a configured bearer token (and the admin token from
//! the routes) in nothing the test can capture. Also: names a client's view does not have and
//! timeouts are logged and counted with their own outcome. Needs `scripts/install-test-deps`.

mod support;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::client::*;
use support::process::{Mcp2, Routes, quoted};
use support::prometheus::{metrics_with, sum};
use support::*;

const TOKEN: &str = "rot-s3cret-9a8b7c6d5e";
const ADMIN: &str = "adm-s3cret-1f2e3d4c";
const ENV: &[(&str, &str)] = &[("OPS_LOG_TOKEN", TOKEN), ("OPS_ADMIN_TOKEN", ADMIN)];

/// Routes with one HTTP upstream sending `TOKEN`, `get-env` denied, a 1 s timeout, the admin
/// token from the routes, and the given logging block lines.
fn routes(url: &str, logging: &str) -> Routes {
    Routes::new(&format!(
        r#"
upstream web {{
  http "{url}"
  header Authorization = "Bearer ${{OPS_LOG_TOKEN}}"
  timeout 1s
}}
profile default {{
  use web
  deny tool web/get-env
}}
endpoint "/mcp" -> default
admin {{
  token "${{OPS_ADMIN_TOKEN}}"
}}
logging {{
{logging}
}}
"#
    ))
}

/// Every file of the log, by name, as text (rotated `.gz` files decompressed). `None` while a
/// compressed file is still being written.
fn log_files(dir: &Path) -> Option<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).ok()?;
        let text = if name.ends_with(".gz") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_string(&mut text)
                .ok()?;
            text
        } else {
            String::from_utf8(bytes).ok()?
        };
        files.push((name, text));
    }
    files.sort();
    Some(files)
}

async fn admin_text(mcp2: &Mcp2, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(mcp2.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("admin answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("admin body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_rotates_into_at_most_max_backups_gzip_files_of_json_lines_without_secrets() {
    let upstream = spawn_everything("streamableHttp").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mcp2.log");
    let logging = format!(
        "  file {}\n  max-size-kb 4\n  max-backups 2\n  compress true\n  log-requests true\n  log-responses true\n  max-body-kb 1",
        quoted(&path)
    );
    let routes = routes(upstream.url("/mcp").as_str(), &logging);
    let mcp2 = Mcp2::serve(&routes, &[], ENV).await;
    let hub = connect(&mcp2.url("/mcp")).await;

    // Each call logs a request line and two bodies (~1.5 KiB): 40 calls rotate the 4 KiB file
    // a dozen times. Every message carries the token, as a tool argument may.
    const CALLS: usize = 40;
    for i in 0..CALLS {
        let message = format!("r{i:03} {TOKEN} {}", "x".repeat(200));
        call_text(&hub, "echo", json!({ "message": message })).await;
    }
    let long = format!("long {TOKEN} {}", "y".repeat(3000));
    call_text(&hub, "echo", json!({ "message": long })).await;
    let last = format!("r{:03}", CALLS - 1);
    // Both bodies of the long call (its request and its echo) are the last lines written.
    let settled = eventually(Duration::from_secs(10), || {
        log_files(dir.path()).is_some_and(|files| {
            let cut: usize = files
                .iter()
                .map(|(_, text)| text.matches("[truncated ").count())
                .sum();
            cut >= 2 && files.iter().any(|(_, text)| text.contains(&last))
        })
    })
    .await;
    let files = log_files(dir.path()).unwrap_or_default();
    assert!(settled, "the last calls never reached the log: {files:#?}");

    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["mcp2.log", "mcp2.log.1.gz", "mcp2.log.2.gz"],
        "the live file and max-backups compressed ones"
    );
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        !all.contains("r000 "),
        "the oldest lines were removed with their file"
    );
    let mut requests = 0;
    let mut bodies = 0;
    let mut truncated = 0;
    for (name, text) in &files {
        for line in text.lines() {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {line}: {e}"));
            match v["target"].as_str() {
                Some("mcp2::request") if v["public"] == "echo" => {
                    requests += 1;
                    for (field, want) in [
                        ("endpoint", "/mcp"),
                        ("profile", "default"),
                        ("upstream", "web"),
                        ("method", "tools/call"),
                        ("original", "echo"),
                        ("outcome", "ok"),
                    ] {
                        assert_eq!(v[field], want, "{field} in {line}");
                    }
                    assert!(v["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
                }
                Some("mcp2::body") => {
                    bodies += 1;
                    assert_eq!(v["upstream"], "web", "{line}");
                    assert!(
                        ["request", "response"].contains(&v["direction"].as_str().unwrap_or(""))
                    );
                    let body = v["body"].as_str().expect("a body");
                    assert!(body.contains("<redacted>"), "{line}");
                    if v["truncated_bytes"].as_u64().is_some_and(|n| n > 0) {
                        truncated += 1;
                        assert!(body.len() < 1024 + 64, "capped at 1 KiB: {}", body.len());
                        assert!(body.contains("…[truncated "), "{line}");
                    } else {
                        serde_json::from_str::<Value>(body)
                            .unwrap_or_else(|e| panic!("an uncut body is JSON: {body}: {e}"));
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        requests >= 3 && bodies >= 6,
        "{requests} request lines, {bodies} bodies"
    );
    assert_eq!(truncated, 2, "the long request and its echo were cut");

    // The token is in nothing captured: log files, stderr, config, metrics, errors.
    let mut captured = all.clone();
    captured.push_str(&format!("{:?}", try_call(&hub, "get-env", json!({})).await));
    captured.push_str(&format!(
        "{:?}",
        try_call(
            &hub,
            "trigger-long-running-operation",
            json!({"duration": 3, "steps": 1})
        )
        .await
    ));
    for path in ["/_mcp2/config", "/_mcp2/metrics", "/_mcp2/ready"] {
        let (status, _) = admin_text(&mcp2, path, None).await;
        assert_eq!(status, 401, "{path} needs the admin token from the routes");
        let (status, text) = admin_text(&mcp2, path, Some(ADMIN)).await;
        assert!(status == 200 || status == 503, "{path}: {status}");
        captured.push_str(&text);
    }
    captured.push_str(&mcp2.stderr());
    assert!(
        captured.contains("\"admin\""),
        "config shows the admin settings"
    );
    for secret in [TOKEN, ADMIN] {
        assert!(!captured.contains(secret), "{secret} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hidden_and_timed_out_calls_are_logged_and_counted_by_outcome() {
    let upstream = spawn_everything("streamableHttp").await;
    let routes = routes(upstream.url("/mcp").as_str(), "  level info");
    let mcp2 = Mcp2::serve(&routes, &[], ENV).await;
    let hub = connect(&mcp2.url("/mcp")).await;
    call_text(&hub, "echo", json!({ "message": "warm" })).await;
    let before = metrics_with(&mcp2, Some(ADMIN)).await;

    let hidden = mcp_error(try_call(&hub, "get-env", json!({})).await);
    let unknown = mcp_error(try_call(&hub, "no-such-tool", json!({})).await);
    assert_eq!(
        hidden.code, unknown.code,
        "hidden looks exactly like unknown"
    );
    let slow = mcp_error(
        try_call(
            &hub,
            "trigger-long-running-operation",
            json!({"duration": 3, "steps": 1}),
        )
        .await,
    );
    assert!(slow.message.contains("did not answer"), "{}", slow.message);
    call_text(&hub, "echo", json!({ "message": "after" })).await;

    let after = metrics_with(&mcp2, Some(ADMIN)).await;
    let delta = |outcome: &str, extra: &[(&str, &str)]| {
        let mut labels = vec![("outcome", outcome), ("method", "tools/call")];
        labels.extend_from_slice(extra);
        sum(&after, "mcp2_requests_total", &labels) - sum(&before, "mcp2_requests_total", &labels)
    };
    assert_eq!(delta("not_found", &[("upstream", "")]), 2.0);
    assert_eq!(delta("not_found", &[("tool", "get-env")]), 1.0);
    assert_eq!(delta("timeout", &[("upstream", "web")]), 1.0);
    assert_eq!(delta("ok", &[("upstream", "web")]), 1.0);
    assert_eq!(delta("upstream_error", &[]), 0.0, "no call is mislabelled");
    let errors = sum(&after, "mcp2_request_errors_total", &[])
        - sum(&before, "mcp2_request_errors_total", &[]);
    assert_eq!(errors, 3.0);

    let stderr = mcp2.stderr();
    let line = |public: &str| {
        stderr
            .lines()
            .find(|l| l.contains("mcp2::request") && l.contains(&format!("public={public}")))
            .unwrap_or_else(|| panic!("no request line for {public}:\n{stderr}"))
            .to_string()
    };
    assert!(line("get-env").contains("outcome=\"not_found\""));
    assert!(line("no-such-tool").contains("outcome=\"not_found\""));
    assert!(line("trigger-long-running-operation").contains("outcome=\"timeout\""));
}

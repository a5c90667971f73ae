//! Operating the real `mcp2` binary: `/_mcp2/metrics` counting exactly the calls made, request
//! log lines carrying their fields, rate limits admitting exactly the burst, `/_mcp2/config`
//! and every log line free of configured secrets, and `/_mcp2/ready` following an upstream's
//! process. Needs `scripts/install-test-deps`.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::client::*;
use support::process::{Mcp2, Routes, quoted, signal};
use support::prometheus::{metrics, sum};
use support::*;

fn everything_routes(profile_extra: &str) -> Routes {
    Routes::new(&format!(
        r#"
upstream everything {{
  stdio {everything}
  timeout 20s
}}
profile default {{
  use everything
  {profile_extra}
}}
endpoint "/mcp" -> default
"#,
        everything = quoted(&everything_bin()),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_by_exactly_the_calls_made_and_each_is_logged_with_its_fields() {
    let routes = everything_routes("");
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let hub = connect(&mcp2.url("/mcp")).await;
    call_text(&hub, "echo", json!({ "message": "warm" })).await;

    let ok = [
        ("endpoint", "/mcp"),
        ("profile", "default"),
        ("upstream", "everything"),
    ];
    let echo = [("method", "tools/call"), ("tool", "echo")];
    let before = metrics(&mcp2).await;
    for i in 0..5 {
        call_text(&hub, "echo", json!({ "message": format!("m{i}") })).await;
    }
    let err = try_call(&hub, "echo", json!({ "wrong": 1 })).await;
    let after = metrics(&mcp2).await;

    let delta = |name: &str, extra: &[(&str, &str)]| {
        let labels: Vec<(&str, &str)> = ok.iter().chain(&echo).chain(extra).copied().collect();
        sum(&after, name, &labels) - sum(&before, name, &labels)
    };
    let errored = match &err {
        Ok(result) if result["isError"] == json!(true) => 0.0, // a tool error is a result
        Ok(result) => panic!("echo without a message succeeded: {result}"),
        Err(_) => 1.0,
    };
    assert_eq!(
        delta("mcp2_requests_total", &[("outcome", "ok")]),
        6.0 - errored
    );
    assert_eq!(delta("mcp2_requests_total", &[]), 6.0);
    assert_eq!(delta("mcp2_request_errors_total", &[]), errored);
    assert_eq!(delta("mcp2_request_duration_seconds_count", &[]), 6.0);
    assert_eq!(
        sum(&after, "mcp2_upstream_up", &[("upstream", "everything")]),
        1.0
    );
    assert_eq!(
        sum(&after, "mcp2_active_sessions", &[("endpoint", "/mcp")]),
        1.0
    );
    assert!(
        sum(
            &after,
            "mcp2_list_cache_misses_total",
            &[("upstream", "everything")]
        ) >= 1.0
    );
    // Lists asked again within the cache TTL are answered from the cache.
    tool_names(&hub).await;
    let hits_before = sum(&metrics(&mcp2).await, "mcp2_list_cache_hits_total", &[]);
    tool_names(&hub).await;
    tool_names(&hub).await;
    let hits_after = sum(&metrics(&mcp2).await, "mcp2_list_cache_hits_total", &[]);
    assert!(hits_after >= hits_before, "{hits_before} -> {hits_after}");

    let stderr = mcp2.stderr();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("mcp2::request") && l.contains("m3"))
        .collect();
    assert!(
        lines.is_empty(),
        "bodies are not logged unless asked: {lines:?}"
    );
    let logged = stderr
        .lines()
        .filter(|l| l.contains("mcp2::request") && l.contains("public=echo"))
        .count();
    assert_eq!(logged, 7, "one line per call:\n{}", mcp2.stderr_tail(20));
    let line = stderr
        .lines()
        .find(|l| l.contains("mcp2::request") && l.contains("public=echo"))
        .expect("a request line");
    for field in [
        "endpoint=/mcp",
        "profile=default",
        "upstream=everything",
        "method=\"tools/call\"",
        "original=echo",
        "duration_ms=",
        "outcome=\"ok\"",
    ] {
        assert!(line.contains(field), "{field} missing from: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_admit_exactly_the_burst_and_refuse_the_rest_without_reaching_the_upstream() {
    let routes =
        everything_routes("limit tool everything/echo 3/min per session\n  limit everything 5/min");
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let first = connect(&mcp2.url("/mcp")).await;
    let before = metrics(&mcp2).await;

    let mut admitted = 0;
    let mut refusal = None;
    for i in 0..6 {
        match try_call(&first, "echo", json!({ "message": format!("a{i}") })).await {
            Ok(_) => admitted += 1,
            Err(e) => refusal = Some(e),
        }
    }
    assert_eq!(admitted, 3, "the per-session burst is 3");
    let refusal = refusal.expect("a refusal");
    let rmcp::service::ServiceError::McpError(error) = refusal else {
        panic!("not a JSON-RPC error: {refusal}");
    };
    assert_eq!(error.code.0, -32029);
    assert!(error.message.contains("retry in"), "{}", error.message);
    let retry_ms = error.data.as_ref().and_then(|d| d["retryAfterMs"].as_u64());
    assert!(
        retry_ms.is_some_and(|ms| ms > 0 && ms <= 20_000),
        "retryAfterMs: {:?}",
        error.data
    );

    // Another session has its own per-session bucket, but shares the upstream's 5/min.
    let second = connect(&mcp2.url("/mcp")).await;
    let mut admitted_second = 0;
    for i in 0..4 {
        if try_call(&second, "echo", json!({ "message": format!("b{i}") }))
            .await
            .is_ok()
        {
            admitted_second += 1;
        }
    }
    assert_eq!(
        admitted_second, 2,
        "only 5 calls per minute reach the upstream"
    );

    let after = metrics(&mcp2).await;
    let forwarded = sum(&after, "mcp2_requests_total", &[("tool", "echo")])
        - sum(&before, "mcp2_requests_total", &[("tool", "echo")]);
    let limited = sum(&after, "mcp2_rate_limited_total", &[("tool", "echo")])
        - sum(&before, "mcp2_rate_limited_total", &[("tool", "echo")]);
    assert_eq!(forwarded, 5.0, "refused calls never reach the upstream");
    assert_eq!(limited, 5.0);
    assert_eq!(
        mcp2.count_in_stderr("request refused by a rate limit"),
        5,
        "{}",
        mcp2.stderr_tail(20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_bearer_token_appears_in_no_log_line_config_output_or_error() {
    const TOKEN: &str = "s3cr3t-token-4fb1c2d9";
    let http_upstream = spawn_everything("streamableHttp").await;
    let routes = Routes::new(&format!(
        r#"
upstream web {{
  http "{url}"
  header Authorization = "Bearer ${{OPS_TEST_TOKEN}}"
  timeout 10s
}}
upstream gone {{
  http "http://127.0.0.1:{dead}/mcp"
  header Authorization = "Bearer ${{OPS_TEST_TOKEN}}"
  timeout 2s
}}
profile default {{
  use web, gone
}}
endpoint "/mcp" -> default
logging {{
  level "debug"
}}
"#,
        url = http_upstream.url("/mcp"),
        dead = free_port(),
    ));
    let mcp2 = Mcp2::serve(&routes, &[], &[("OPS_TEST_TOKEN", TOKEN)]).await;
    let hub = connect(&mcp2.url("/mcp")).await;
    let mut captured = String::new();
    call_text(&hub, "echo", json!({ "message": "hello" })).await;
    captured.push_str(&format!("{:?}", try_call(&hub, "echo", json!({})).await));
    captured.push_str(&format!(
        "{:?}",
        try_call(&hub, "no_such_tool", json!({})).await
    ));
    for path in [
        "/_mcp2/config",
        "/_mcp2/ready",
        "/_mcp2/metrics",
        "/_mcp2/health",
    ] {
        let body = reqwest::get(mcp2.url(path))
            .await
            .expect("admin answers")
            .text()
            .await
            .expect("admin body");
        captured.push_str(&body);
    }
    let (_, config) = mcp2.admin(Method::GET, "/_mcp2/config").await;
    assert_eq!(config["upstreams"]["web"]["transport"]["kind"], "http");
    assert!(
        config["upstreams"]["web"]["headers"]
            .to_string()
            .contains("redacted"),
        "{config}"
    );
    captured.push_str(&mcp2.stderr());
    assert!(captured.contains("mcp2::request"), "requests were logged");
    assert!(!captured.contains(TOKEN), "the token leaked:\n{captured}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_reports_a_killed_upstream_down_within_a_second_and_connected_after_restart() {
    let routes = everything_routes("");
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let connected = eventually(Duration::from_secs(20), || {
        mcp2.child_running("mcp-server-everything").is_some()
    })
    .await;
    assert!(connected);
    let ready = |mcp2: &Mcp2| {
        let url = mcp2.url("/_mcp2/ready");
        async move {
            let r = reqwest::get(url).await.expect("ready answers");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or_default())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready(&mcp2).await.1["upstreams"]["everything"]["state"] != "connected" {
        assert!(Instant::now() < deadline, "never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = mcp2.upstream_pid("everything").await.expect("a pid");
    signal(pid, "KILL");
    let killed = Instant::now();
    let state = loop {
        let (status, body) = ready(&mcp2).await;
        let state = body["upstreams"]["everything"].clone();
        if state["state"] != "connected" {
            assert_eq!(status, 503);
            break state;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(1),
            "still connected 1 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(killed.elapsed() < Duration::from_secs(1));
    assert!(
        ["down", "restarting"].contains(&state["state"].as_str().unwrap_or("")),
        "{state}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = ready(&mcp2).await;
        if body["upstreams"]["everything"]["state"] == "connected" {
            assert_eq!(status, 200);
            assert_ne!(body["upstreams"]["everything"]["pid"], json!(pid));
            break;
        }
        assert!(Instant::now() < deadline, "not connected again: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_on_their_own_address_behind_a_token() {
    const TOKEN: &str = "adm1n-t0ken-7c1e";
    let routes = everything_routes("");
    let mcp2 = Mcp2::serve(
        &routes,
        &["--admin-listen", "127.0.0.1:0"],
        &[("MCP2_ADMIN_TOKEN", TOKEN)],
    )
    .await;
    let stderr = mcp2.stderr();
    let admin = stderr
        .lines()
        .find_map(|l| l.split("mcp2 admin listening on ").nth(1))
        .unwrap_or_else(|| panic!("no admin listening line:\n{stderr}"))
        .trim()
        .to_string();
    let http = reqwest::Client::new();
    let get = |url: String, token: Option<&str>| {
        let mut request = http.get(url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        async move { request.send().await.expect("answers").status().as_u16() }
    };
    assert_eq!(
        get(mcp2.url("/_mcp2/ready"), Some(TOKEN)).await,
        404,
        "not on the MCP address"
    );
    assert_eq!(get(format!("{admin}/_mcp2/health"), None).await, 200);
    for path in ["/_mcp2/ready", "/_mcp2/metrics", "/_mcp2/config"] {
        assert_eq!(get(format!("{admin}{path}"), None).await, 401, "{path}");
        assert_eq!(
            get(format!("{admin}{path}"), Some("wrong")).await,
            401,
            "{path}"
        );
        let status = get(format!("{admin}{path}"), Some(TOKEN)).await;
        assert!(status == 200 || status == 503, "{path}: {status}");
    }
    let hub = connect(&mcp2.url("/mcp")).await;
    call_text(&hub, "echo", json!({ "message": "x" })).await;
    assert!(!mcp2.stderr().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_file_holds_json_lines_with_the_request_fields() {
    let logs = tempfile::tempdir().expect("tempdir");
    let path = logs.path().join("logs").join("mcp2.log");
    let routes = everything_routes(&format!(
        "}}\nlogging {{\n  file {}\n  max-size-mb 1\n  max-backups 2\n  compress true\n",
        quoted(&path)
    ));
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let hub = connect(&mcp2.url("/mcp")).await;
    for i in 0..3 {
        call_text(&hub, "echo", json!({ "message": format!("f{i}") })).await;
    }
    let read = || std::fs::read_to_string(&path).unwrap_or_default();
    let logged = eventually(Duration::from_secs(5), || {
        read()
            .lines()
            .filter(|l| l.contains("\"public\":\"echo\""))
            .count()
            == 3
    })
    .await;
    assert!(logged, "three request lines in the file:\n{}", read());
    for line in read().lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["public"] == "echo" {
            assert_eq!(v["target"], "mcp2::request");
            assert_eq!(v["endpoint"], "/mcp");
            assert_eq!(v["profile"], "default");
            assert_eq!(v["upstream"], "everything");
            assert_eq!(v["method"], "tools/call");
            assert_eq!(v["original"], "echo");
            assert_eq!(v["outcome"], "ok");
            assert!(
                v["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
                "{line}"
            );
        }
    }
    assert!(
        mcp2.stderr().contains("mcp2::request"),
        "stderr still has the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_refused_by_a_rate_limit_never_arrive_at_the_upstream() {
    let server = spawn_python_server("slow_server.py", &[("SERVERS", "counted=0")]).await;
    let routes = Routes::new(&format!(
        r#"
upstream counted {{
  http "{url}"
}}
profile default {{
  use counted
  limit tool counted/whoami 3/min per session
}}
endpoint "/mcp" -> default
"#,
        url = server.url("/mcp"),
    ));
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let hub = connect(&mcp2.url("/mcp")).await;
    let mut admitted = 0;
    for _ in 0..7 {
        match try_call(&hub, "whoami", json!({})).await {
            Ok(_) => admitted += 1,
            Err(e) => {
                let error = mcp_error(Err(e));
                assert_eq!(error.code.0, -32029, "{error:?}");
                assert!(error.message.contains("retry in"), "{}", error.message);
            }
        }
    }
    assert_eq!(admitted, 3, "exactly the burst is admitted");
    // The upstream's own count: the 3 admitted calls and this one.
    let count = call_text(&hub, "call_count", json!({})).await;
    assert_eq!(
        count, "tools/call requests=4",
        "refused calls reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_block_of_the_routes_sets_address_and_token_and_the_cli_overrides_the_token() {
    const ROUTES_TOKEN: &str = "routes-adm1n-5d6e";
    const CLI_TOKEN: &str = "cli-adm1n-8a9b";
    let routes =
        everything_routes("}\nadmin {\n  listen 127.0.0.1:0\n  token \"${OPS_ROUTES_ADMIN}\"\n");
    let env = [("OPS_ROUTES_ADMIN", ROUTES_TOKEN)];
    let status = |url: String, token: &'static str| async move {
        let response = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await;
        response.expect("answers").status().as_u16()
    };
    let admin_of = |mcp2: &Mcp2| {
        let stderr = mcp2.stderr();
        stderr
            .lines()
            .find_map(|l| l.split("mcp2 admin listening on ").nth(1))
            .unwrap_or_else(|| panic!("no admin listening line:\n{stderr}"))
            .trim()
            .to_string()
    };

    let mcp2 = Mcp2::serve(&routes, &[], &env).await;
    let admin = admin_of(&mcp2);
    assert_eq!(status(mcp2.url("/_mcp2/ready"), ROUTES_TOKEN).await, 404);
    assert_eq!(status(format!("{admin}/_mcp2/config"), "wrong").await, 401);
    assert_eq!(
        status(format!("{admin}/_mcp2/config"), ROUTES_TOKEN).await,
        200
    );
    let config = reqwest::Client::new()
        .get(format!("{admin}/_mcp2/config"))
        .bearer_auth(ROUTES_TOKEN)
        .send()
        .await
        .expect("config")
        .text()
        .await
        .expect("config body");
    assert!(
        config.contains("OPS_ROUTES_ADMIN"),
        "names where it came from: {config}"
    );
    assert!(!config.contains(ROUTES_TOKEN) && !mcp2.stderr().contains(ROUTES_TOKEN));
    drop(mcp2);

    let mcp2 = Mcp2::serve(&routes, &["--admin-token", CLI_TOKEN], &env).await;
    let admin = admin_of(&mcp2);
    assert_eq!(
        status(format!("{admin}/_mcp2/config"), ROUTES_TOKEN).await,
        401
    );
    assert_eq!(
        status(format!("{admin}/_mcp2/config"), CLI_TOKEN).await,
        200
    );
}

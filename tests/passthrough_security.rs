//! The HTTP endpoints' guards through the real `mcp2` binary: browser `Origin`s (DNS
//! rebinding), the `Host` header, and per-endpoint credentials. Needs
//! `scripts/install-test-deps`.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::hub::Hub;
use support::*;

fn routes() -> String {
    format!(
        "listen 127.0.0.1:8210 allow-origin \"https://app.example.com\"\n\
         upstream everything {{ stdio {:?} }}\n\
         profile default {{ use everything }}\n\
         endpoint \"/mcp\" -> default sse \"/sse\"\n\
         endpoint \"/bearer\" -> default auth bearer \"${{HUB_TOKEN}}\"\n\
         endpoint \"/key\" -> default auth key \"${{HUB_KEY}}\"\n",
        everything_bin().display().to_string()
    )
}

/// Status of an `initialize` POST with extra headers.
async fn initialize(url: &str, headers: &[(&str, &str)]) -> StatusCode {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "guard-test", "version": "1" }
        }
    });
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("POST").status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_hosts_and_credentials_are_checked() {
    init_tracing();
    let env = [("HUB_TOKEN", "t0ken-123"), ("HUB_KEY", "k3y-456")];
    let hub = Hub::start_with("security", &routes(), &env).await;
    let mcp = hub.url("/mcp");

    // No Origin (a non-browser client), a loopback one, or an allowed one: served.
    assert_eq!(initialize(&mcp, &[]).await, StatusCode::OK);
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1",
        "https://app.example.com",
    ] {
        assert_eq!(
            initialize(&mcp, &[("origin", origin)]).await,
            StatusCode::OK,
            "{origin}"
        );
    }
    // A page elsewhere (DNS rebinding), or a port the allowed origin does not name: 403.
    for origin in [
        "http://evil.example",
        "https://app.example.com:8443",
        "null",
    ] {
        assert_eq!(
            initialize(&mcp, &[("origin", origin)]).await,
            StatusCode::FORBIDDEN,
            "{origin}"
        );
    }
    // The conformance suite's rebinding probe: foreign Host and Origin together.
    let rebinding = [
        ("host", "evil.example:80"),
        ("origin", "http://evil.example:80"),
    ];
    assert_eq!(initialize(&mcp, &rebinding).await, StatusCode::FORBIDDEN);

    // Credentials per endpoint.
    let bearer = hub.url("/bearer");
    assert_eq!(initialize(&bearer, &[]).await, StatusCode::UNAUTHORIZED);
    let wrong = [("authorization", "Bearer nope")];
    assert_eq!(initialize(&bearer, &wrong).await, StatusCode::UNAUTHORIZED);
    let right = [("authorization", "Bearer t0ken-123")];
    assert_eq!(initialize(&bearer, &right).await, StatusCode::OK);
    let key = hub.url("/key");
    assert_eq!(initialize(&key, &right).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        initialize(&key, &[("x-api-key", "k3y-456")]).await,
        StatusCode::OK
    );
    // The legacy SSE path is guarded alike.
    let sse = hub.url("/sse");
    let open_stream = |headers: Vec<(&'static str, &'static str)>| {
        let sse = sse.clone();
        async move {
            let mut request = reqwest::Client::new().get(&sse);
            for (k, v) in headers {
                request = request.header(k, v);
            }
            request.send().await.expect("GET /sse").status()
        }
    };
    assert_eq!(open_stream(vec![]).await, StatusCode::OK);
    assert_eq!(
        open_stream(vec![("origin", "http://evil.example")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        open_stream(vec![("host", "evil.example")]).await,
        StatusCode::FORBIDDEN
    );

    // The open endpoint stays open; secrets never reach the log.
    assert_eq!(initialize(&mcp, &[]).await, StatusCode::OK);
    let log = hub.log();
    assert!(
        !log.contains("t0ken-123") && !log.contains("k3y-456"),
        "{log}"
    );
}

#[test]
fn a_bad_origin_or_auth_kind_is_reported_where_it_was_written() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_guards");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("routes.mcproute"),
        "listen 127.0.0.1:8210 allow-origin \"ftp://files.example\"\n\
         upstream a { http \"http://127.0.0.1:1/mcp\" }\n\
         profile default { use a }\n\
         endpoint \"/mcp\" -> default auth password \"x\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp2"))
        .current_dir(&dir)
        .args(["check", "routes.mcproute", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"mcp2::check::bad_origin"), "{v}");
    assert!(codes.contains(&"mcp2::check::bad_auth"), "{v}");
}

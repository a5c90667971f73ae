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
    open(url, headers).await.0
}

/// An `initialize` POST with extra headers: its status and the session it opened.
async fn open(url: &str, headers: &[(&str, &str)]) -> (StatusCode, Option<String>) {
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
    let response = request.send().await.expect("POST");
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (response.status(), session)
}

/// Status of a `tools/list` POST on an open session (the requests mcp2 serves on its fast
/// path, before its router), with extra headers.
async fn list_in(url: &str, session: &str, headers: &[(&str, &str)]) -> StatusCode {
    let client = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        let mut request = client
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(initialized).await.expect("POST");
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    post(list).await.expect("POST").status()
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
    // Requests of an open session (served before the router when they can be) get the same
    // checks: the session id opens nothing by itself.
    let (status, session) = open(&mcp, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let session = session.expect("a session id");
    assert_eq!(list_in(&mcp, &session, &[]).await, StatusCode::OK);
    let evil = [("origin", "http://evil.example")];
    assert_eq!(list_in(&mcp, &session, &evil).await, StatusCode::FORBIDDEN);
    assert_eq!(
        list_in(&mcp, &session, &rebinding).await,
        StatusCode::FORBIDDEN
    );
    let (status, session) = open(&bearer, &right).await;
    assert_eq!(status, StatusCode::OK);
    let session = session.expect("a session id");
    assert_eq!(list_in(&bearer, &session, &right).await, StatusCode::OK);
    assert_eq!(
        list_in(&bearer, &session, &wrong).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        list_in(&bearer, &session, &[]).await,
        StatusCode::UNAUTHORIZED
    );
    // A session of one endpoint is not one of another.
    assert_ne!(
        list_in(&key, &session, &[("x-api-key", "k3y-456")]).await,
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

    // The admin routes get the same browser checks: a rebinding page cannot read the config.
    let config = hub.url("/_mcp2/config");
    let admin = |headers: Vec<(&'static str, &'static str)>| {
        let config = config.clone();
        async move {
            let mut request = reqwest::Client::new().get(&config);
            for (k, v) in headers {
                request = request.header(k, v);
            }
            request.send().await.expect("GET /_mcp2/config").status()
        }
    };
    assert_eq!(admin(vec![]).await, StatusCode::OK);
    assert_eq!(
        admin(vec![("origin", "http://evil.example")]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin(vec![("host", "evil.example:8210")]).await,
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

/// A client's own `Authorization` and `X-API-Key` headers (here: the credential of mcp2's
/// endpoint, and a made-up key) never reach an upstream nor replace the credentials configured
/// for it: the upstream, which refuses anything but its own token and key, still serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_headers_cannot_override_upstream_credentials() {
    use support::process::{Mcp2, Routes};
    init_tracing();
    let upstream_env = [("EXPECTED_TOKEN", "up-t0ken"), ("EXPECTED_KEY", "up-k3y")];
    let auth = spawn_python_server("auth_http_server.py", &upstream_env).await;
    let routes = Routes::new(&format!(
        "upstream auth {{\n  http \"{}\"\n  header Authorization = \"Bearer ${{UP_TOKEN}}\"\n  \
         header X-API-Key = \"${{UP_KEY}}\"\n}}\n\
         profile default {{ use auth }}\n\
         endpoint \"/mcp\" -> default auth bearer \"${{CLIENT_TOKEN}}\"\n",
        auth.url("/mcp")
    ));
    let env = [
        ("UP_TOKEN", "up-t0ken"),
        ("UP_KEY", "up-k3y"),
        ("CLIENT_TOKEN", "client-t0ken"),
    ];
    let mcp2 = Mcp2::serve(&routes, &[], &env).await;
    let url = mcp2.url("/mcp");
    let client = reqwest::Client::new();
    let post = |session: Option<String>, body: serde_json::Value| {
        let mut request = client
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("authorization", "Bearer client-t0ken")
            .header("x-api-key", "client-made-up-key")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body);
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        request.send()
    };
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "header-test", "version": "1" }
        }
    });
    let response = post(None, init).await.expect("initialize");
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = response.text().await;
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(Some(session.clone()), note)
        .await
        .expect("initialized");
    let call = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "whoami", "arguments": {} }
    });
    let response = post(Some(session), call).await.expect("tools/call");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("authenticated key_sha256=") && !text.contains("\"isError\":true"),
        "{text}"
    );
    let log = mcp2.stderr();
    for secret in ["up-t0ken", "up-k3y", "client-t0ken"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

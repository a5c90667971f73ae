//! Bad downstream input through the real `mcp2` binary: malformed JSON, wrong JSON-RPC shapes,
//! unknown methods, huge bodies, slow-loris, idle and foreign session ids over HTTP, and bad
//! lines on stdio. Each gets its HTTP status or JSON-RPC error code; nothing panics; a good
//! client keeps working meanwhile. Needs `scripts/install-test-deps`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::client::*;
use support::process::{Mcp2, Routes, quoted};
use support::*;

fn routes() -> Routes {
    Routes::new(&format!(
        "upstream everything {{ stdio {} }}\n\
         profile default {{ use everything }}\n\
         endpoint \"/mcp\" -> default\n\
         endpoint \"/other\" -> default\n",
        quoted(&everything_bin())
    ))
}

const ACCEPT: &str = "application/json, text/event-stream";

/// A raw `POST` of `body` with an optional session id: (status, body text).
async fn post(
    url: &str,
    session: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .timeout(Duration::from_secs(30))
        .body(body);
    if let Some(id) = session {
        request = request.header("mcp-session-id", id);
    }
    let response = request.send().await.expect("POST");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

/// The JSON-RPC error code in a body (plain JSON or one SSE `data:` line).
fn error_code(body: &str) -> Option<i64> {
    let json = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .find(|l| l.contains("\"error\""))
        .unwrap_or(body.trim());
    serde_json::from_str::<Value>(json).ok()?["error"]["code"].as_i64()
}

/// A raw session: `initialize` then `notifications/initialized`; its id.
async fn raw_session(url: &str) -> String {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "raw", "version": "1" }
        }
    });
    let response = reqwest::Client::new()
        .post(url)
        .header("accept", ACCEPT)
        .json(&body)
        .send()
        .await
        .expect("initialize");
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_string();
    let _ = response.text().await;
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _) = post(url, Some(&id), note.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    id
}

async fn good_client_works(hub: &Client) {
    assert_eq!(
        call_text(hub, "get-sum", json!({"a": 2, "b": 3})).await,
        "The sum of 2 and 3 is 5."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_http_input_gets_its_status_and_code_while_a_good_client_works() {
    init_tracing();
    let routes = routes();
    let args = ["--max-body", "65536", "--header-timeout", "2s"];
    let mcp2 = Mcp2::serve(&routes, &args, &[]).await;
    let url = mcp2.url("/mcp");
    let hub = connect(&url).await;
    good_client_works(&hub).await;

    // Not JSON: 400 and a parse error; JSON that is no JSON-RPC message: 400, invalid request.
    let cases = [
        ("{not json", -32700),
        ("", -32700),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, -32600),
        (r#"{"jsonrpc":"2.0","id":1}"#, -32600),
        (r#"{"jsonrpc":"2.0","id":1,"method":42}"#, -32600),
        (r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, -32600),
        (r#""just a string""#, -32600),
    ];
    for (body, code) in cases {
        let (status, text) = post(&url, None, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert_eq!(error_code(&text), Some(code), "{body}: {text}");
    }

    // In a session: an unknown method is -32601, a known one with wrong params -32602.
    let session = raw_session(&url).await;
    let unknown = r#"{"jsonrpc":"2.0","id":2,"method":"no/such-method"}"#;
    let (status, text) = post(&url, Some(&session), unknown).await;
    assert_eq!(
        (status, error_code(&text)),
        (StatusCode::OK, Some(-32601)),
        "{text}"
    );
    let bad_params = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":5}}"#;
    let (status, text) = post(&url, Some(&session), bad_params).await;
    assert_eq!(
        (status, error_code(&text)),
        (StatusCode::OK, Some(-32602)),
        "{text}"
    );

    // Bodies over --max-body: 413, with or without a Content-Length.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{}"}}}}}}"#,
        "x".repeat(100_000)
    );
    let (status, text) = post(&url, Some(&session), huge.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("65536"), "{text}");
    let chunks = futures::stream::iter(
        huge.into_bytes()
            .chunks(8192)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let (status, _) = post(&url, Some(&session), reqwest::Body::wrap_stream(chunks)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // The session that sent them still works.
    let ping = r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#;
    let (status, text) = post(&url, Some(&session), ping).await;
    assert_eq!(status, StatusCode::OK, "{text}");

    // A made-up session id, or one from another endpoint: 404 saying so — also for the
    // requests the fast path serves (a list, a call), which must not reach this session.
    let list = r#"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#;
    let call = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}"#;
    for (at, id) in [
        (&url, "made-up-id"),
        (&mcp2.url("/other"), session.as_str()),
    ] {
        for body in [ping, list, call] {
            let (status, text) = post(at, Some(id), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{at} {id} {body}: {text}");
            assert!(text.contains("Session not found"), "{text}");
        }
    }

    // Slow-loris: headers that never finish; the connection is closed after --header-timeout.
    let started = Instant::now();
    let mut slow = std::net::TcpStream::connect(mcp2.addr()).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(read.is_ok(), "the slow connection was not closed: {read:?}");
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );

    good_client_works(&hub).await;
    assert!(
        !mcp2.stderr().contains("panicked"),
        "{}",
        mcp2.stderr_tail(40)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire_and_their_id_gets_404() {
    init_tracing();
    let routes = routes();
    let mcp2 = Mcp2::serve(&routes, &["--idle-timeout", "3s"], &[]).await;
    let url = mcp2.url("/mcp");
    // Warm: the upstream is connected before the sessions under test start their clocks.
    good_client_works(&connect(&url).await).await;
    let idle: Vec<String> = futures::future::join_all((0..20).map(|_| raw_session(&url))).await;
    let active = raw_session(&url).await;
    let ping = r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#;

    // The active session pings every 500 ms and stays; the idle ones expire. (A request to
    // a live idle session would restart its clock: each round waits longer than the timeout.)
    let mut alive = idle.clone();
    for _round in 0..3 {
        for _ in 0..10 {
            let (status, text) = post(&url, Some(&active), ping).await;
            assert_eq!(status, StatusCode::OK, "the active session expired: {text}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut still = Vec::new();
        for id in alive {
            let (status, text) = post(&url, Some(&id), ping).await;
            if status == StatusCode::NOT_FOUND {
                assert!(text.contains("Session not found"), "{text}");
            } else {
                still.push(id);
            }
        }
        alive = still;
        if alive.is_empty() {
            break;
        }
    }
    assert!(
        alive.is_empty(),
        "{} idle sessions did not expire",
        alive.len()
    );
    // A client whose session expired initializes again and is served.
    let hub = connect(&url).await;
    good_client_works(&hub).await;
}

#[test]
fn bad_stdio_lines_get_errors_and_serving_goes_on() {
    let routes = routes();
    let mut child = Mcp2::command(&["serve", routes.path().to_str().unwrap(), "--stdio"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mcp2 --stdio");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("an answer on stdout");
        serde_json::from_str::<Value>(&line).expect("JSON on stdout")
    };
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "stdio", "version": "1" }
        }
    });
    writeln!(stdin, "{{not json").unwrap();
    assert_eq!(next()["error"]["code"], json!(-32700));
    writeln!(stdin, "{init}").unwrap();
    assert!(next()["result"]["serverInfo"].is_object());
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(stdin, "[1, 2]").unwrap();
    assert_eq!(next()["error"]["code"], json!(-32600));
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":2,"method":"no/such-method"}}"#
    )
    .unwrap();
    let unknown = next();
    assert_eq!(unknown["id"], json!(2));
    assert_eq!(unknown["error"]["code"], json!(-32601));
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":3,"method":"ping"}}"#).unwrap();
    assert_eq!(next(), json!({"jsonrpc": "2.0", "id": 3, "result": {}}));
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "mcp2 --stdio did not exit at EOF"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

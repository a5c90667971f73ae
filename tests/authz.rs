//! mcp2 as an OAuth 2.1 protected resource, with caller-based rules and the audit trail,
//! through the real binary: a Python authorization server issuing RS256 JWTs from a JWKS
//! endpoint (`tests/fixtures/servers/oauth_server.py`), an upstream that logs every call it
//! receives, and the Python `mcp` SDK's OAuth client (`ClientCredentialsOAuthProvider`), which
//! discovers mcp2's protected-resource metadata, then the authorization server, and obtains a
//! token. Needs `scripts/install-test-deps`.

mod support;

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::process::{Mcp2, Routes};
use support::*;

const CLIENT_LIMIT: Duration = Duration::from_secs(90);

fn routes(issuer: &str, upstream: &str, audit: &Path) -> String {
    format!(
        "upstream ops {{\n  http \"{upstream}\"\n}}\n\
         oauth corp {{\n  issuer \"{issuer}\"\n}}\n\
         profile team {{\n  use ops\n\
         \x20 deny tool ops/deploy unless claim groups contains \"eng\"\n\
         \x20 deny tool ops/delete_repo unless scope has \"admin\"\n}}\n\
         endpoint \"/mcp\" -> team auth oauth corp auth key ci-bot \"${{CI_KEY}}\"\n\
         audit {{\n  file \"{}\"\n}}\n",
        audit.display()
    )
}

/// Runs the SDK's OAuth client as `client_id`; what it saw.
async fn sdk_client(mcp_url: &str, issuer: &str, id: &str, secret: &str, tools: &[&str]) -> Value {
    let script = repo_root().join("tests/fixtures/clients/oauth_client.py");
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(script)
        .args([mcp_url, issuer, id, secret])
        .args(tools)
        .kill_on_drop(true);
    let out = tokio::time::timeout(CLIENT_LIMIT, cmd.output())
        .await
        .expect("the SDK client finishes")
        .expect("run the SDK client");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reasons: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("oauth_client.py:"))
        .collect();
    assert!(
        out.status.success(),
        "the SDK client failed: {reasons:#?}\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("client output {stdout:?}: {e}"))
}

/// A token from the authorization server's test minting endpoint.
async fn mint(issuer: &str, claims: Value) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{issuer}/_test/mint"))
        .json(&claims)
        .send()
        .await
        .expect("mint")
        .json()
        .await
        .expect("mint json");
    answer["access_token"]
        .as_str()
        .expect("a token")
        .to_string()
}

/// Status and `WWW-Authenticate` of an `initialize` POST with these headers.
async fn initialize(url: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "authz-test", "version": "1" }
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
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (response.status(), challenge)
}

async fn with_token(url: &str, token: &str) -> (StatusCode, String) {
    initialize(url, &[("authorization", &format!("Bearer {token}"))]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_callers_get_what_their_claims_allow_and_every_call_is_audited() {
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let call_log = dir.path().join("calls.log");
    let audit = dir.path().join("audit.jsonl");
    let auth_server = spawn_python_server(
        "oauth_server.py",
        &[("CLIENTS", "alice:s1:eng,ops bob:s2:sales")],
    )
    .await;
    let upstream = spawn_python_server(
        "call_log_server.py",
        &[("CALL_LOG", call_log.to_str().expect("utf-8 path"))],
    )
    .await;
    let issuer = auth_server
        .url("")
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let text = routes(&issuer, upstream.url("/mcp").as_str(), &audit);
    let routes = Routes::new(&text);
    let mcp2 = Mcp2::serve(&routes, &[], &[("CI_KEY", "k-123")]).await;
    let url = mcp2.url("/mcp");
    let ready = eventually(Duration::from_secs(30), || {
        mcp2.stderr().contains("upstream connected")
    })
    .await;
    assert!(ready, "the upstream connects:\n{}", mcp2.stderr_tail(20));

    // No token: 401 pointing at the resource metadata, which names the authorization server.
    let (status, challenge) = initialize(&url, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let metadata_url = mcp2.url("/.well-known/oauth-protected-resource/mcp");
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );
    let metadata: Value = reqwest::get(&metadata_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], json!(url));
    assert_eq!(metadata["authorization_servers"], json!([issuer]));

    // The SDK client discovers everything and connects; the two callers' groups differ.
    let alice = sdk_client(&url, &issuer, "alice", "s1", &["deploy", "status"]).await;
    assert_eq!(alice["tools"], json!(["deploy", "status"]), "{alice}");
    assert_eq!(alice["calls"]["deploy"]["text"], json!("deploy done"));
    let bob = sdk_client(&url, &issuer, "bob", "s2", &["deploy", "status"]).await;
    assert_eq!(bob["tools"], json!(["status"]), "{bob}");
    assert!(
        bob["calls"]["deploy"]["code"].is_i64(),
        "refused with a JSON-RPC error: {bob}"
    );
    assert_eq!(bob["calls"]["status"]["text"], json!("status done"));
    // Bob's refused call never reached the upstream.
    let reached = std::fs::read_to_string(&call_log).expect("call log");
    assert_eq!(
        reached.lines().collect::<Vec<_>>(),
        ["deploy", "status", "status"]
    );

    // Tokens that must be refused, each with `invalid_token`.
    let good = json!({"aud": url, "groups": ["eng"]});
    let cases = [
        ("wrong audience", json!({"aud": "http://other.example/mcp"})),
        (
            "wrong issuer",
            json!({"aud": url, "iss": "http://evil.example"}),
        ),
        ("expired", json!({"aud": url, "exp_in": -600})),
        ("unknown key", json!({"aud": url, "sign_with": "stray"})),
    ];
    for (what, claims) in cases {
        let (status, challenge) = with_token(&url, &mint(&issuer, claims).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert!(
            challenge.contains("resource_metadata="),
            "{what}: {challenge}"
        );
    }
    assert_eq!(
        with_token(&url, &mint(&issuer, good.clone()).await).await.0,
        StatusCode::OK
    );
    // The API key works beside tokens.
    assert_eq!(
        initialize(&url, &[("x-api-key", "k-123")]).await.0,
        StatusCode::OK
    );

    // Key rotation at the issuer: a token signed with the new key is accepted without a
    // restart (the unknown `kid` triggers a refetch, rate-limited to one per few seconds).
    reqwest::Client::new()
        .post(format!("{issuer}/_test/rotate"))
        .send()
        .await
        .expect("rotate");
    let rotated = mint(&issuer, good).await;
    let mut accepted = false;
    for _ in 0..40 {
        if with_token(&url, &rotated).await.0 == StatusCode::OK {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(accepted, "a token of the rotated key was never accepted");

    // One audit record per call, allowed and denied, with the fields; no token in it.
    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .expect("audit file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let calls: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "tools/call")
        .collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    for r in &calls {
        for field in [
            "time",
            "caller",
            "endpoint",
            "profile",
            "public",
            "upstream",
            "decision",
            "outcome",
            "duration_ms",
        ] {
            assert!(!r[field].is_null(), "{field} missing in {r}");
        }
    }
    let denied: Vec<&&Value> = calls.iter().filter(|r| r["decision"] == "deny").collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["caller"], "bob");
    assert_eq!(denied[0]["public"], "deploy");
    let rule_at = denied[0]["rule_at"].as_str().unwrap_or_default();
    assert!(
        rule_at.ends_with("routes.mcproute:9"),
        "the deny rule's line: {rule_at}"
    );
    assert_eq!(
        denied[0]["rule"],
        "deny tool ops/deploy unless claim groups contains \"eng\""
    );
    let failures = records
        .iter()
        .filter(|r| r["event"] == "authenticate")
        .count();
    assert!(
        failures >= 6,
        "authentication failures are audited: {failures}"
    );
    let all = std::fs::read_to_string(&audit).unwrap();
    assert!(!all.contains("eyJ"), "no token in the audit trail");
}

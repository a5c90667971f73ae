//! Opaque access tokens checked by RFC 7662 introspection, through the real binary: the Python
//! authorization server (`tests/fixtures/servers/oauth_server.py`) issues opaque tokens and
//! answers `/introspect` for an authenticated client; mcp2, configured with `introspect`,
//! `client-id` and `client-secret`, asks it about every token that is not a JWT, and the claims
//! it answers drive `when claim groups contains …` rules like a JWT's would. Needs
//! `scripts/install-test-deps`.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use support::client::{Client, REQUEST_LIMIT, mcp_error, tool_names, try_call};
use support::process::{Mcp2, Routes};
use support::*;

/// The introspection client's secret: it must never be shown anywhere. Its `%`, `+` and `/`
/// must be form-urlencoded in HTTP Basic credentials (RFC 6749 section 2.3.1).
const SECRET: &str = "introspect-s3cret+never/shown%21";

fn routes(issuer: &str, upstream: &str, audit: &std::path::Path) -> String {
    format!(
        "logging {{\n  level \"debug\"\n  log-requests true\n  log-responses true\n}}\n\
         upstream ops {{\n  http \"{upstream}\"\n}}\n\
         oauth corp {{\n  issuer \"{issuer}\"\n  introspect \"{issuer}/introspect\"\n\
         \x20 client-id \"gateway\"\n  client-secret \"${{INTROSPECT_SECRET}}\"\n}}\n\
         profile team {{\n  use ops\n\
         \x20 allow tool ops/deploy when claim groups contains \"eng\"\n\
         \x20 deny tool ops/deploy\n\
         \x20 allow tool ops/*\n}}\n\
         endpoint \"/mcp\" -> team auth oauth corp\n\
         audit {{\n  file \"{}\"\n}}\n",
        audit.display()
    )
}

/// POSTs JSON to one of the authorization server's test endpoints.
async fn test_post(issuer: &str, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{issuer}{path}"))
        .json(&body)
        .send()
        .await
        .expect("the authorization server answers")
        .json()
        .await
        .expect("JSON")
}

/// An opaque token for `sub` in `groups`, naming `aud`.
async fn opaque(issuer: &str, sub: &str, groups: &[&str], aud: &str) -> String {
    let answer = test_post(
        issuer,
        "/_test/mint_opaque",
        json!({"sub": sub, "groups": groups, "aud": aud}),
    )
    .await;
    let token = answer["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    assert!(!token.starts_with("eyJ"), "an opaque token, not a JWT");
    token
}

async fn connect_with(url: &str, token: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token);
    let transport = StreamableHttpClientTransport::from_config(config);
    tokio::time::timeout(REQUEST_LIMIT, ().serve(transport))
        .await
        .expect("initialize does not hang")
        .expect("initialize with an active token")
}

/// Status and `WWW-Authenticate` of an `initialize` POST carrying `token`.
async fn initialize(url: &str, token: &str) -> (StatusCode, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": { "name": "introspection-test", "version": "1" }
        }
    });
    let response = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (response.status(), challenge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_and_their_claims_drive_the_rules() {
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let call_log = dir.path().join("calls.log");
    let audit = dir.path().join("audit.jsonl");
    let auth_server = spawn_python_server(
        "oauth_server.py",
        &[("CLIENTS", &format!("gateway:{SECRET}:"))],
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
    let routes = Routes::new(&routes(&issuer, upstream.url("/mcp").as_str(), &audit));
    let mcp2 = Mcp2::serve(&routes, &[], &[("INTROSPECT_SECRET", SECRET)]).await;
    let url = mcp2.url("/mcp");
    let ready = mcp2
        .wait_for_stderr("upstream connected", Duration::from_secs(60))
        .await;
    assert!(ready, "the upstream connects:\n{}", mcp2.stderr_tail(20));

    // Two callers with active opaque tokens: the introspected `groups` decide what each sees
    // and may call.
    let alice_token = opaque(&issuer, "alice", &["eng", "ops"], &url).await;
    let bob_token = opaque(&issuer, "bob", &["sales"], &url).await;
    let alice = connect_with(&url, &alice_token).await;
    let bob = connect_with(&url, &bob_token).await;
    let mut alice_tools = tool_names(alice.peer()).await;
    alice_tools.sort();
    assert_eq!(alice_tools, ["delete_repo", "deploy", "status"]);
    let mut bob_tools = tool_names(bob.peer()).await;
    bob_tools.sort();
    assert_eq!(bob_tools, ["delete_repo", "status"]);
    let done = try_call(alice.peer(), "deploy", json!({}))
        .await
        .expect("alice may deploy");
    assert!(done.to_string().contains("deploy done"), "{done}");
    let refused = mcp_error(try_call(bob.peer(), "deploy", json!({})).await);
    assert!(
        refused.message.contains("unknown tool"),
        "bob is refused as if deploy did not exist: {refused:?}"
    );
    try_call(bob.peer(), "status", json!({}))
        .await
        .expect("bob may ask for status");
    let reached = std::fs::read_to_string(&call_log).expect("call log");
    assert_eq!(
        reached.lines().collect::<Vec<_>>(),
        ["deploy", "status"],
        "bob's refused call never reached the upstream"
    );
    // The server's debug explain trace decides as the caller did, naming the rule that did.
    let log = mcp2.stderr();
    let trace = |caller: &str| -> String {
        log.lines()
            .find(|l| {
                l.contains("mcp2::explain")
                    && l.contains(&format!("caller={caller} "))
                    && l.contains(r#""target":"deploy""#)
            })
            .unwrap_or_else(|| panic!("no explain trace of {caller}'s call:\n{log}"))
            .to_string()
    };
    let alice_trace = trace("alice");
    assert!(
        alice_trace.contains(r#""outcome":{"kind":"routed""#)
            && alice_trace.contains(
                r#""decided_by":{"text":"allow tool ops/deploy when claim groups contains \"eng\"""#
            ),
        "{alice_trace}"
    );
    let bob_trace = trace("bob");
    assert!(
        bob_trace.contains(r#""outcome":{"kind":"hidden""#)
            && bob_trace.contains(r#""decided_by":{"text":"deny tool ops/deploy""#),
        "{bob_trace}"
    );
    let asked: Value = reqwest::get(format!("{issuer}/_test/introspections"))
        .await
        .expect("the authorization server answers")
        .json()
        .await
        .expect("JSON");
    assert!(
        asked["answered"].as_u64().unwrap_or_default() >= 2,
        "the tokens were introspected: {asked}"
    );
    assert_eq!(asked["refused"], 0, "mcp2 authenticates as the client");

    // Inactive tokens get 401 pointing at the resource metadata: one the issuer never issued,
    // one revoked (its session too), one expired, one for another resource.
    let metadata = format!(
        "resource_metadata=\"{}\"",
        mcp2.url("/.well-known/oauth-protected-resource/mcp")
    );
    let revoked = test_post(
        &issuer,
        "/_test/revoke_opaque",
        json!({"token": alice_token}),
    )
    .await;
    assert_eq!(revoked["revoked"], true);
    let expired = test_post(
        &issuer,
        "/_test/mint_opaque",
        json!({"sub": "carol", "groups": ["eng"], "aud": url, "exp_in": -60}),
    )
    .await["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    let elsewhere = opaque(&issuer, "dave", &["eng"], "http://other.example/mcp").await;
    for (what, token) in [
        ("never issued", "opaque-made-up"),
        ("revoked", alice_token.as_str()),
        ("expired", expired.as_str()),
        ("another resource", elsewhere.as_str()),
    ] {
        let (status, challenge) = initialize(&url, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(challenge.starts_with("Bearer "), "{what}: {challenge}");
        assert!(challenge.contains(&metadata), "{what}: {challenge}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
    }
    let after = tokio::time::timeout(REQUEST_LIMIT, alice.peer().list_all_tools())
        .await
        .expect("tools/list does not hang");
    assert!(after.is_err(), "a revoked token's session is refused");
    assert_eq!(
        std::fs::read_to_string(&call_log)
            .expect("call log")
            .lines()
            .count(),
        2
    );

    // The introspection secret is shown nowhere: logs at debug level with request logging,
    // the admin config, the audit trail, `mcp2 explain`.
    let mut captured = mcp2.stderr();
    let (status, config) = mcp2.admin(reqwest::Method::GET, "/_mcp2/config").await;
    assert_eq!(status, 200);
    assert!(
        config.to_string().contains("introspect"),
        "the config shows introspection: {config}"
    );
    assert!(config.to_string().contains("<redacted"), "{config}");
    captured.push_str(&config.to_string());
    captured.push_str(&std::fs::read_to_string(&audit).expect("audit file"));
    let explain = Mcp2::command(
        &[
            "explain",
            routes.path().to_str().expect("utf-8"),
            "tools/call",
            "deploy",
        ],
        &[("INTROSPECT_SECRET", SECRET)],
    )
    .output()
    .expect("run mcp2 explain");
    captured.push_str(&String::from_utf8_lossy(&explain.stdout));
    captured.push_str(&String::from_utf8_lossy(&explain.stderr));
    assert!(
        !captured.contains(SECRET),
        "the introspection secret leaked"
    );
    for token in [&alice_token, &bob_token] {
        assert!(!captured.contains(token.as_str()), "a token leaked");
    }
}

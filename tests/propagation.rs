//! Identity propagation through the real binary: a caller with an access token from a Python
//! authorization server (`tests/fixtures/servers/oauth_server.py`) reaches mcp2's endpoint with
//! `auth oauth`, and an upstream that accepts only that server's tokens
//! (`oauth_upstream_server.py`, which logs every bearer token it receives) sees:
//! - `auth oauth pass-through`: exactly the caller's token, the newest one once the client
//!   refreshes it mid-session, and a refusal of it comes back as a clear JSON-RPC error;
//! - `auth oauth token-exchange`: only a token exchanged for the caller's (RFC 8693; another
//!   audience, the caller's subject, mcp2 as actor), never the caller's own, cached, and
//!   exchanged again after the upstream refuses it.
//!
//! No token shows in mcp2's logs, `/_mcp2/config` or `explain`. Needs
//! `scripts/install-test-deps`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use support::process::{Mcp2, Routes};
use support::*;

const MCP2_RESOURCE: &str = "https://mcp2.example/mcp";
const UPSTREAM_AUDIENCE: &str = "https://upstream.example/mcp";
const ALICE_SECRET: &str = "alice-secret-77c1";
const MCP2_SECRET: &str = "tx-secret-5be0d3";

/// `transport`: `http` (Streamable HTTP at `upstream`) or `sse` (legacy HTTP+SSE).
fn routes(issuer: &str, transport: &str, upstream: &str, auth: &str) -> String {
    format!(
        "upstream api {{\n  {transport} \"{upstream}\"\n  session per-client\n  {auth}\n}}\n\
         oauth corp {{\n  issuer \"{issuer}\"\n  resource \"{MCP2_RESOURCE}\"\n}}\n\
         profile default {{\n  use api\n}}\n\
         endpoint \"/mcp\" -> default auth oauth corp\n\
         logging {{\n  level \"debug\"\n}}\n"
    )
}

/// A fresh token for `alice` from the authorization server, for mcp2's endpoint.
async fn caller_token(issuer: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("alice", Some(ALICE_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&resource={}",
            url::form_urlencoded::byte_serialize(MCP2_RESOURCE.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    answer["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

/// A JWT's payload, decoded (no signature check: the upstream did that).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A Streamable HTTP client whose bearer token can change between requests, as a client
/// refreshing its token mid-session does.
struct RawClient {
    url: String,
    session: Option<String>,
    http: reqwest::Client,
    next_id: u64,
}

impl RawClient {
    async fn open(url: &str, token: &str) -> RawClient {
        let mut client = RawClient {
            url: url.to_string(),
            session: None,
            http: reqwest::Client::new(),
            next_id: 1,
        };
        let init = client
            .request(
                token,
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": { "name": "propagation-test", "version": "1" }
                }),
            )
            .await;
        assert!(init.get("result").is_some(), "initialize: {init}");
        client
            .post(
                token,
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        client
    }

    async fn post(&mut self, token: &str, body: Value) -> Option<Value> {
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = &self.session {
            request = request
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        let response = tokio::time::timeout(Duration::from_secs(60), request.send())
            .await
            .expect("mcp2 answers in time")
            .expect("mcp2 answers");
        assert!(
            response.status().is_success(),
            "HTTP {} for {body}",
            response.status()
        );
        if let Some(s) = response.headers().get("mcp-session-id") {
            self.session = Some(s.to_str().expect("session id").to_string());
        }
        let text = tokio::time::timeout(Duration::from_secs(60), response.text())
            .await
            .expect("the body in time")
            .expect("a body");
        // JSON, or SSE events whose last `data:` is the answer.
        let json = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .rfind(|d| !d.trim().is_empty())
            .map(str::to_string)
            .unwrap_or(text);
        serde_json::from_str(json.trim()).ok()
    }

    async fn request(&mut self, token: &str, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.post(token, body).await.expect("a JSON-RPC answer")
    }

    /// `whoami`'s text, or the JSON-RPC error.
    async fn whoami(&mut self, token: &str) -> Result<String, Value> {
        let answer = self
            .request(
                token,
                "tools/call",
                json!({"name": "whoami", "arguments": {}}),
            )
            .await;
        match answer.get("result") {
            Some(r) => Ok(r["content"][0]["text"]
                .as_str()
                .expect("text content")
                .to_string()),
            None => Err(answer["error"].clone()),
        }
    }
}

/// Every bearer token the upstream received, one per request.
fn received(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// What an operator can see: mcp2's stderr, `/_mcp2/config`, `explain` of a call.
async fn visible(mcp2: &Mcp2, routes: &Routes) -> String {
    let mut seen = mcp2.stderr();
    let (status, config) = mcp2.admin(Method::GET, "/_mcp2/config").await;
    assert_eq!(status, 200);
    seen.push_str(&config.to_string());
    let explain = Command::new(env!("CARGO_BIN_EXE_mcp2"))
        .arg("explain")
        .arg(routes.path())
        .args(["tools/call", "whoami"])
        .env("TX_SECRET", MCP2_SECRET)
        .env_remove("RUST_LOG")
        .output()
        .expect("run mcp2 explain");
    let explained = String::from_utf8_lossy(&explain.stdout).to_string();
    assert!(
        explained.contains("identity propagation"),
        "explain says how the upstream is authenticated: {explained}"
    );
    seen.push_str(&explained);
    seen.push_str(&String::from_utf8_lossy(&explain.stderr));
    seen
}

struct Setup {
    issuer: String,
    _auth_server: ServerChild,
    _upstream: ServerChild,
    mcp2: Mcp2,
    routes: Routes,
    log: tempfile::TempDir,
}

async fn setup(upstream_audience: &str, auth: &str) -> Setup {
    setup_on("http", upstream_audience, auth).await
}

async fn setup_on(transport: &str, upstream_audience: &str, auth: &str) -> Setup {
    init_tracing();
    let auth_server = spawn_python_server(
        "oauth_server.py",
        &[(
            "CLIENTS",
            &format!("alice:{ALICE_SECRET}:eng mcp2:{MCP2_SECRET}:"),
        )],
    )
    .await;
    let issuer = auth_server
        .url("")
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let log = tempfile::tempdir().expect("a temp dir");
    let token_log = log.path().join("tokens.log");
    let upstream = spawn_python_server(
        "oauth_upstream_server.py",
        &[
            ("ISSUER", &issuer),
            ("AUDIENCE", upstream_audience),
            ("TOKEN_LOG", token_log.to_str().expect("utf-8 path")),
            ("TRANSPORT", transport),
        ],
    )
    .await;
    let auth = auth.replace("{issuer}", &issuer);
    let path = if transport == "sse" { "/sse" } else { "/mcp" };
    let text = routes(&issuer, transport, upstream.url(path).as_str(), &auth);
    let routes = Routes::new(&text);
    let mcp2 = Mcp2::serve(&routes, &[], &[("TX_SECRET", MCP2_SECRET)]).await;
    Setup {
        issuer,
        _auth_server: auth_server,
        _upstream: upstream,
        mcp2,
        routes,
        log,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_sends_the_callers_own_newest_token_upstream() {
    // The upstream trusts the same issuer and accepts tokens for mcp2's resource.
    let s = setup(MCP2_RESOURCE, "auth oauth pass-through").await;
    let log = s.log.path().join("tokens.log");
    let first = caller_token(&s.issuer).await;
    let mut client = RawClient::open(&s.mcp2.url("/mcp"), &first).await;
    let tools = client.request(&first, "tools/list", json!({})).await;
    assert!(
        tools.to_string().contains("whoami"),
        "the caller sees the upstream's tools through its own connection: {tools}\n{}",
        s.mcp2.stderr_tail(30)
    );
    let answer = client.whoami(&first).await.expect("the call succeeds");
    assert!(answer.starts_with("sub=alice "), "{answer}");
    let seen = received(&log);
    assert!(!seen.is_empty(), "the upstream was reached");
    assert!(
        seen.iter().all(|t| *t == first),
        "the upstream received exactly the caller's token, and nothing else"
    );

    // The client refreshes its token mid-session: the upstream gets the new one from then on.
    let second = caller_token(&s.issuer).await;
    assert_ne!(first, second);
    let before = received(&log).len();
    client.whoami(&second).await.expect("the call succeeds");
    let later = received(&log);
    assert!(later.len() > before);
    assert!(
        later[before..].iter().all(|t| *t == second),
        "after the refresh, only the newest token goes upstream"
    );

    // The upstream refuses the caller's token: a clear JSON-RPC error, nothing mcp2 can fix.
    reqwest::Client::new()
        .post(s._upstream.url("/_test/revoke"))
        .send()
        .await
        .expect("revoke");
    let error = client
        .whoami(&second)
        .await
        .expect_err("the refused token fails the call");
    let message = error.to_string();
    assert!(
        message.contains("refused the caller's access token"),
        "the error says why: {message}"
    );
    assert!(!message.contains("eyJ"), "no token in the error: {message}");

    let seen = visible(&s.mcp2, &s.routes).await;
    assert!(seen.contains("pass-through"), "the config names the flow");
    assert!(!seen.contains(&first) && !seen.contains(&second));
    assert!(!seen.contains("eyJ"), "a token leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchange_sends_only_the_exchanged_token_upstream() {
    // The upstream accepts only tokens for its own audience: the caller's would be refused.
    let s = setup(
        UPSTREAM_AUDIENCE,
        &format!(
            "auth oauth token-exchange issuer \"{{issuer}}\" client-id \"mcp2\" \
             client-secret \"${{TX_SECRET}}\" audience \"{UPSTREAM_AUDIENCE}\""
        ),
    )
    .await;
    let log = s.log.path().join("tokens.log");
    let caller = caller_token(&s.issuer).await;
    let mut client = RawClient::open(&s.mcp2.url("/mcp"), &caller).await;
    for _ in 0..3 {
        let answer = client
            .whoami(&caller)
            .await
            .unwrap_or_else(|e| panic!("the call succeeds: {e}\n{}", s.mcp2.stderr_tail(30)));
        assert!(answer.starts_with("sub=alice "), "{answer}");
    }
    let seen = received(&log);
    assert!(!seen.is_empty(), "the upstream was reached");
    assert!(
        !seen.contains(&caller),
        "the caller's own token never reached the upstream"
    );
    for token in &seen {
        let c = claims(token);
        assert_eq!(c["aud"], UPSTREAM_AUDIENCE, "scoped to the upstream: {c}");
        assert_eq!(c["sub"], "alice", "on behalf of the caller: {c}");
        assert_eq!(c["act"]["sub"], "mcp2", "with mcp2 as the actor: {c}");
    }
    let exchanged = |issuer: String| async move {
        let v: Value = reqwest::get(format!("{issuer}/_test/exchanged"))
            .await
            .expect("exchanged")
            .json()
            .await
            .expect("exchanged json");
        v["exchanged"].as_u64().expect("a count")
    };
    assert_eq!(
        exchanged(s.issuer.clone()).await,
        1,
        "one exchange, cached across the session's requests"
    );

    // The client refreshes its token mid-session: the new one is exchanged (once).
    let refreshed = caller_token(&s.issuer).await;
    for _ in 0..2 {
        client.whoami(&refreshed).await.expect("the call succeeds");
    }
    assert_eq!(
        exchanged(s.issuer.clone()).await,
        2,
        "the newest caller token is exchanged, once"
    );

    // The upstream refuses the exchanged token: one new exchange, one retry, the call works.
    reqwest::Client::new()
        .post(s._upstream.url("/_test/revoke"))
        .send()
        .await
        .expect("revoke");
    let answer = client
        .whoami(&refreshed)
        .await
        .expect("retried with a new exchange");
    assert!(answer.starts_with("sub=alice "), "{answer}");
    assert_eq!(exchanged(s.issuer.clone()).await, 3);
    let all = received(&log);
    assert!(!all.contains(&caller) && !all.contains(&refreshed));

    let seen = visible(&s.mcp2, &s.routes).await;
    assert!(seen.contains("token-exchange"), "the config names the flow");
    assert!(!seen.contains(MCP2_SECRET), "the client secret leaked");
    assert!(!seen.contains(&caller) && !seen.contains(&refreshed));
    assert!(!seen.contains("eyJ"), "a token leaked");
}

/// Legacy HTTP+SSE: the exchanged token goes on the event stream's GET and on every POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_sse_upstream_gets_only_the_exchanged_token() {
    let s = setup_on(
        "sse",
        UPSTREAM_AUDIENCE,
        &format!(
            "auth oauth token-exchange token-url \"{{issuer}}/token\" client-id \"mcp2\" \
             client-secret \"${{TX_SECRET}}\" resource \"{UPSTREAM_AUDIENCE}\""
        ),
    )
    .await;
    let log = s.log.path().join("tokens.log");
    let caller = caller_token(&s.issuer).await;
    let mut client = RawClient::open(&s.mcp2.url("/mcp"), &caller).await;
    let answer = client
        .whoami(&caller)
        .await
        .unwrap_or_else(|e| panic!("the call succeeds: {e}\n{}", s.mcp2.stderr_tail(30)));
    assert!(answer.starts_with("sub=alice "), "{answer}");
    let seen = received(&log);
    assert!(
        seen.len() >= 2,
        "the stream's GET and the POSTs: {}",
        seen.len()
    );
    assert!(
        !seen.contains(&caller),
        "the caller's token never reached the upstream"
    );
    assert!(
        seen.iter().all(|t| claims(t)["aud"] == UPSTREAM_AUDIENCE),
        "every request carried the exchanged token"
    );
    assert!(!s.mcp2.stderr().contains("eyJ"), "a token leaked");
}

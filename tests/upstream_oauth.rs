//! Upstream OAuth client credentials, through the real binary: a Python authorization server
//! (`tests/fixtures/servers/oauth_server.py`) issuing short-lived RS256 JWTs, and an upstream
//! (`oauth_upstream_server.py`) that accepts only valid tokens from it. mcp2 finds the token
//! endpoint from the issuer's metadata, fetches a token, renews it before it expires, fetches
//! a new one when the upstream refuses the old one (after a key rotation), and never shows a
//! token or the client secret in its logs, errors, `explain` or `/_mcp2/config`. Needs
//! `scripts/install-test-deps`.

mod support;

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::client::{call_text, connect};
use support::process::{Mcp2, Routes};
use support::*;

const SECRET: &str = "cc-secret-4f1d2a9b";
const AUDIENCE: &str = "https://upstream.example/mcp";
/// Seconds: tokens are renewed a fifth of that early, so a few seconds see several tokens.
const LIFETIME: &str = "5";

fn routes(issuer: &str, upstream: &str) -> String {
    format!(
        "upstream api {{\n  http \"{upstream}\"\n\
         \x20 auth oauth client-credentials issuer \"{issuer}\" client-id \"mcp2\" \
         client-secret \"${{CC_SECRET}}\" scope \"mcp\" resource \"{AUDIENCE}\"\n}}\n\
         profile default {{\n  use api\n}}\n\
         endpoint \"/mcp\" -> default\n\
         logging {{\n  level \"debug\"\n}}\n"
    )
}

/// `sub=… tokens=N refused=M` from the upstream's `whoami`.
fn counts(answer: &str) -> (String, u64, u64) {
    let field = |name: &str| {
        answer
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {answer:?}"))
            .to_string()
    };
    let number = |name: &str| field(name).parse::<u64>().expect("a count");
    (field("sub="), number("tokens="), number("refused="))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_behind_oauth_is_reachable_with_renewed_tokens_that_are_never_shown() {
    init_tracing();
    let auth_server = spawn_python_server(
        "oauth_server.py",
        &[
            ("CLIENTS", &format!("mcp2:{SECRET}:")),
            ("TOKEN_LIFETIME", LIFETIME),
        ],
    )
    .await;
    let issuer = auth_server
        .url("")
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let upstream = spawn_python_server(
        "oauth_upstream_server.py",
        &[("ISSUER", &issuer), ("AUDIENCE", AUDIENCE)],
    )
    .await;
    let text = routes(&issuer, upstream.url("/mcp").as_str());
    let routes = Routes::new(&text);
    let mcp2 = Mcp2::serve(&routes, &[], &[("CC_SECRET", SECRET)]).await;
    let ready = mcp2
        .wait_for_stderr("upstream connected", Duration::from_secs(60))
        .await;
    assert!(ready, "the upstream connects:\n{}", mcp2.stderr_tail(30));

    let hub = connect(&mcp2.url("/mcp")).await;
    let (sub, first_tokens, refused) = counts(&call_text(&hub, "whoami", json!({})).await);
    assert_eq!(sub, "mcp2", "the upstream saw mcp2's client token");
    assert_eq!(refused, 0, "no request went without a valid token");

    // Mid-session, the token expires: mcp2 renews it before the upstream would refuse it.
    let mut tokens = first_tokens;
    for _ in 0..30 {
        let (_, t, refused) = counts(&call_text(&hub, "whoami", json!({})).await);
        assert_eq!(refused, 0, "renewed before expiry, never refused");
        tokens = t;
        if tokens > first_tokens {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        tokens > first_tokens,
        "a new token after the old one expired"
    );

    // The upstream revokes the token (fresh: seconds before mcp2 would renew it): it refuses
    // it, mcp2 fetches a new one and retries, and the call succeeds.
    reqwest::Client::new()
        .post(upstream.url("/_test/revoke"))
        .send()
        .await
        .expect("revoke");
    let (_, after, refused) = counts(&call_text(&hub, "whoami", json!({})).await);
    assert!(refused >= 1, "the stale token was refused once");
    assert!(after > tokens, "a new token after the 401");
    let issued: Value = reqwest::get(format!("{issuer}/_test/issued"))
        .await
        .expect("issued")
        .json()
        .await
        .expect("issued json");
    let issued = issued["issued"].as_u64().expect("a count");
    assert!(
        issued <= after + 2,
        "tokens are cached, not fetched per request: {issued} issued for {after} used"
    );

    // Nothing a user or operator can see holds a token or the secret.
    let mut captured = mcp2.stderr();
    let (status, config) = mcp2.admin(Method::GET, "/_mcp2/config").await;
    assert_eq!(status, 200);
    captured.push_str(&config.to_string());
    assert!(
        config.to_string().contains("client-credentials"),
        "the config shows the flow: {config}"
    );
    let explain = Command::new(env!("CARGO_BIN_EXE_mcp2"))
        .arg("explain")
        .arg(routes.path())
        .args(["tools/call", "whoami"])
        .env("CC_SECRET", SECRET)
        .env_remove("RUST_LOG")
        .output()
        .expect("run mcp2 explain");
    let explained = String::from_utf8_lossy(&explain.stdout).to_string();
    assert!(
        explained.contains("OAuth client credentials"),
        "explain names the credentials: {explained}"
    );
    captured.push_str(&explained);
    captured.push_str(&String::from_utf8_lossy(&explain.stderr));
    assert!(!captured.contains(SECRET), "the client secret leaked");
    // Every access token is a JWT, and every JWT starts with `eyJ` (`{"`).
    assert!(!captured.contains("eyJ"), "a token leaked");
    assert!(
        captured.contains("fetched an access token"),
        "fetches are logged (without the token)"
    );
}

/// Legacy HTTP+SSE: the token goes on the event stream's GET and on every POST, and a refused
/// POST is retried once with a new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_sse_upstream_behind_oauth_gets_the_token_on_every_request() {
    init_tracing();
    let auth_server = spawn_python_server(
        "oauth_server.py",
        &[("CLIENTS", &format!("mcp2:{SECRET}:"))],
    )
    .await;
    let issuer = auth_server
        .url("")
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let upstream = spawn_python_server(
        "oauth_upstream_server.py",
        &[
            ("ISSUER", &issuer),
            ("AUDIENCE", AUDIENCE),
            ("TRANSPORT", "sse"),
        ],
    )
    .await;
    let text = routes(&issuer, upstream.url("/sse").as_str()).replace("http \"", "sse \"");
    let routes = Routes::new(&text);
    let mcp2 = Mcp2::serve(&routes, &[], &[("CC_SECRET", SECRET)]).await;
    let ready = mcp2
        .wait_for_stderr("upstream connected", Duration::from_secs(60))
        .await;
    assert!(ready, "the upstream connects:\n{}", mcp2.stderr_tail(30));
    let hub = connect(&mcp2.url("/mcp")).await;
    let (sub, tokens, refused) = counts(&call_text(&hub, "whoami", json!({})).await);
    assert_eq!((sub.as_str(), tokens, refused), ("mcp2", 1, 0));

    reqwest::Client::new()
        .post(upstream.url("/_test/revoke"))
        .send()
        .await
        .expect("revoke");
    let (_, tokens, refused) = counts(&call_text(&hub, "whoami", json!({})).await);
    assert_eq!((tokens, refused), (2, 1), "one refusal, then a new token");
    let captured = mcp2.stderr();
    assert!(!captured.contains(SECRET) && !captured.contains("eyJ"));
}

//! Scale-out acceptance (issue 12): three `mcp2` replicas on one routes directory, behind a real
//! HAProxy (round-robin, no stickiness), sharing a real Redis; all started here on free
//! 127.0.0.1 ports. Needs `redis-server` and `haproxy` (`scripts/install-test-deps` installs
//! them).
//!
//! - one client session (rmcp, and the Python SDK) runs mixed requests through HAProxy and every
//!   replica serves part of it; killing a replica mid-session loses nothing but what was in
//!   flight on it;
//! - tampered, truncated, foreign and unknown session ids get 404 and never reach the upstream;
//! - a rate limit with the Redis backend admits N in total, not N per replica; with Redis gone
//!   the failure policy holds, and limits resume when Redis is back;
//! - a list change one replica sees is visible through every replica within a second.

mod support;

use std::time::Duration;

use mcp2::cluster::seal::{SealedSession, SessionKey};
use serde_json::{Value, json};
use support::client::{Client, connect, read_text, tool_names, try_call};
use support::cluster::{
    Cluster, KEY, OTHER_KEY, Upstream, all_served, open_session, post, status_with_session,
};
use support::process::{Mcp2, Routes};
use support::{eventually, free_port, python, repo_root};
use tokio::process::Command;

/// One mixed request of the rmcp session, checked; `Err` with the client's error.
async fn mixed(client: &Client, i: usize) -> Result<(), String> {
    let text = |v: &Value| v["content"][0]["text"].as_str().unwrap_or("").to_string();
    match i % 5 {
        0 => {
            let tools = tool_names(client).await;
            assert!(tools.contains(&"echo".to_string()), "{tools:?}");
        }
        1 => {
            let got = try_call(client, "echo", json!({"message": format!("rs{i}")}))
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(text(&got), format!("echo: rs{i}"));
        }
        2 => {
            let got = try_call(client, "add", json!({"a": i, "b": 2}))
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(text(&got), (i + 2).to_string());
        }
        3 => {
            let got = read_text(client, "scale://hello").await;
            assert_eq!(got, "hello from the scale fixture");
        }
        _ => {
            let got = try_call(client, "progress", json!({"steps": 3}))
                .await
                .map_err(|e| e.to_string())?;
            assert_eq!(text(&got), "done 3");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_is_served_by_every_replica_and_survives_losing_one() {
    let mut cluster = Cluster::start("", &[]).await;

    // The Python SDK: one session, 50 mixed requests, round-robin across the replicas.
    let before = cluster.served();
    let out = Command::new(python())
        .arg(repo_root().join("tests/fixtures/clients/scale_client.py"))
        .arg(cluster.url())
        .arg("50")
        .output()
        .await
        .expect("run the Python client");
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the client's JSON report");
    assert_eq!(report["ok"], 50, "{report}");
    assert!(report["progress"].as_u64() > Some(0), "{report}");
    let after = cluster.served();
    assert!(
        all_served(&before, &after),
        "every replica serves the Python session: {before:?} → {after:?}"
    );

    // rmcp: 30 requests on three replicas, then one replica dies and 30 more run on the others.
    let client = connect(&cluster.url()).await;
    let before = cluster.served();
    for i in 0..30 {
        mixed(&client, i).await.expect("every request succeeds");
    }
    let after = cluster.served();
    assert!(
        all_served(&before, &after),
        "every replica serves the rmcp session: {before:?} → {after:?}"
    );
    cluster.kill(2);
    let mut failures = Vec::new();
    for i in 30..60 {
        if let Err(e) = mixed(&client, i).await {
            failures.push(e);
        }
    }
    // Nothing was in flight when the replica died, so nothing may be lost.
    assert!(failures.is_empty(), "requests lost: {failures:?}");
    let last = cluster.served();
    assert!(
        last[0] > after[0] && last[1] > after[1],
        "the two survivors carry on: {after:?} → {last:?}"
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_session_ids_get_404_and_never_reach_the_upstream() {
    let cluster = Cluster::start("", &[]).await;
    let url = cluster.url();
    let id = open_session(&url).await;
    assert!(id.starts_with("m2s1."), "a sealed id: {id}");
    // The real id works on every replica (round-robin: three requests, three replicas).
    for _ in 0..3 {
        assert_eq!(status_with_session(&url, &id).await, 200);
    }

    let mut tampered = id.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    let truncated = id[..id.len() - 6].to_string();
    let init = serde_json::from_value(json!({"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "forger", "version": "1"}}))
    .expect("init params");
    let foreign = SessionKey::parse(OTHER_KEY)
        .expect("a key")
        .seal(&SealedSession {
            endpoint: "/mcp".into(),
            profile: "default".into(),
            only_upstream: None,
            init,
            issued: 0,
        })
        .expect("sealed");
    let quiet = cluster.upstream.requests();
    for (what, forged) in [
        ("tampered", tampered.as_str()),
        ("truncated", truncated.as_str()),
        ("foreign", foreign.as_str()),
        ("unknown", "5b1f3f8e-2a7c-4f1e-9d9a-3c2b1a0f9e8d"),
    ] {
        for _ in 0..3 {
            assert_eq!(status_with_session(&url, forged).await, 404, "{what} id");
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cluster.upstream.requests(),
        quiet,
        "a forged id never reaches the upstream"
    );
}

async fn admitted(client: &Client, calls: usize) -> usize {
    let mut n = 0;
    for i in 0..calls {
        if try_call(client, "add", json!({"a": i, "b": 0}))
            .await
            .is_ok()
        {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_across_replicas_and_lists_stay_coherent() {
    let mut cluster = Cluster::start("limit tool scale/add 5/min", &[]).await;
    let client = connect(&cluster.url()).await;

    // 5/min across three replicas: 5 in total, not 15.
    assert_eq!(admitted(&client, 15).await, 5, "the limit is shared");

    // Redis gone: the default policy admits (fail open) and counts a warning.
    cluster.redis.stop().await;
    assert_eq!(
        admitted(&client, 6).await,
        6,
        "fail open while Redis is down"
    );
    let warned = eventually(Duration::from_secs(5), || {
        (0..3).any(|i| {
            cluster
                .replica(i)
                .stderr()
                .contains("rate-limit backend is unavailable")
        })
    })
    .await;
    assert!(warned, "an unavailable backend is reported");

    // Redis back (empty): limits resume.
    cluster.redis.restart().await;
    let mut refused = false;
    for i in 0..30 {
        if try_call(&client, "add", json!({"a": i, "b": 0}))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "limits resume once Redis is back");

    // Lists: warm every replica's cache, then change the tools through one replica.
    let mut direct: Vec<Client> = Vec::new();
    for i in 0..3 {
        direct.push(connect(&cluster.replica(i).url("/mcp")).await);
    }
    for c in &direct {
        assert!(!tool_names(c).await.contains(&"fresh".to_string()));
    }
    try_call(&direct[0], "grow", json!({"name": "fresh"}))
        .await
        .expect("grow");
    let changed = std::time::Instant::now();
    for (i, c) in direct.iter().enumerate() {
        loop {
            if tool_names(c).await.contains(&"fresh".to_string()) {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "replica {i} still lists the old tools a second after the change"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_unreachable_the_deny_policy_refuses_limited_calls_only() {
    let upstream = Upstream::start().await;
    let routes = Routes::new(&format!(
        "upstream scale {{\n  http \"http://127.0.0.1:{}/mcp\"\n}}\n\
         profile default {{\n  use scale\n  limit tool scale/add 100/min\n}}\nendpoint \"/mcp\" -> default\n",
        upstream.port
    ));
    let closed = format!("redis://127.0.0.1:{}", free_port());
    let args = ["--redis", closed.as_str(), "--redis-unavailable", "deny"];
    let mcp2 = Mcp2::serve(&routes, &args, &[]).await;
    let client = connect(&mcp2.url("/mcp")).await;
    let refused = try_call(&client, "add", json!({"a": 1, "b": 2}))
        .await
        .expect_err("deny: a limited call is refused");
    assert!(refused.to_string().contains("rate limit"), "{refused}");
    try_call(&client, "echo", json!({"message": "hi"}))
        .await
        .expect("an unlimited call goes through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_client_stdio_upstream_stays_on_its_replica_and_elsewhere_the_error_says_why() {
    let routes = Routes::new(&format!(
        "upstream every {{\n  stdio {}\n  session per-client\n  timeout 20s\n}}\n\
         profile default {{\n  use every\n}}\nendpoint \"/mcp\" -> default\n",
        support::process::quoted(&support::everything_bin())
    ));
    let env = [("MCP2_SESSION_KEY", KEY)];
    let a = Mcp2::serve(&routes, &["--no-watch"], &env).await;
    let b = Mcp2::serve(&routes, &["--no-watch"], &env).await;
    let id = open_session(&a.url("/mcp")).await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(&a.url("/mcp"), &id, initialized.clone()).await.0, 202);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "here"}}});

    let (status, body) = post(&a.url("/mcp"), &id, call.clone()).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Echo: here"),
        "the opening replica runs it: {body}"
    );

    // B never saw the session: it rebuilds it from the id, lists work, the stdio process cannot.
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let (status, body) = post(&b.url("/mcp"), &id, list).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("\"echo\""),
        "lists are served anywhere: {body}"
    );
    let (status, body) =
        tokio::time::timeout(Duration::from_secs(30), post(&b.url("/mcp"), &id, call))
            .await
            .expect("an answer, not a hang");
    assert_eq!(status, 200);
    assert!(
        body.contains("\"error\"") && body.contains("opened on another mcp2 replica"),
        "a clear JSON-RPC error: {body}"
    );
    // Each replica keeps one shared process for lists; only A opened one for this client.
    assert!(
        b.children().len() < a.children().len(),
        "no per-client process on the other replica: A {:?}, B {:?}",
        a.children(),
        b.children()
    );
}

//! Scale-out (issue 12): a replica SIGKILLed while it is serving a request. Three `mcp2`
//! replicas behind a real HAProxy (round-robin, no stickiness) sharing a real Redis
//! (`support::cluster`); one client session (rmcp, then the Python SDK) has a slow call in
//! flight on replica X — found from HAProxy's own stats — when X is killed.
//!
//! What the user must see: that one call fails, at once, with an error (never a hang, never a
//! made-up result); every later request of the same session succeeds on the survivors with the
//! right result. HAProxy never re-sends the `POST` that reached X (it may have run there).
//! The rmcp call had no event yet when X died (its stream just breaks); the Python call had
//! one (a progress notification), so the SDK tries to resume the stream on a survivor, which
//! refuses (405) rather than have it reconnect forever.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::client::{Client, connect, try_call};
use support::cluster::Cluster;
use support::{python, repo_root};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// How long the slow call would take if its replica lived.
const SLOW: u64 = 8;
/// How soon after the kill the call in flight must have failed: well before it could finish.
const FAILS_WITHIN: Duration = Duration::from_secs(5);

async fn echo_and_add(client: &Client, i: usize) -> Result<(), String> {
    let text = |v: &Value| v["content"][0]["text"].as_str().unwrap_or("").to_string();
    let got = try_call(client, "echo", json!({"message": format!("rs{i}")}))
        .await
        .map_err(|e| e.to_string())?;
    if text(&got) != format!("echo: rs{i}") {
        return Err(format!("wrong echo: {got}"));
    }
    let got = try_call(client, "add", json!({"a": i, "b": 2}))
        .await
        .map_err(|e| e.to_string())?;
    if text(&got) != (i + 2).to_string() {
        return Err(format!("wrong sum: {got}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_a_call_in_flight_on_a_killed_replica_fails_and_the_session_goes_on() {
    let mut cluster = Cluster::start("", &[]).await;
    let client = connect(&cluster.url()).await;
    for i in 0..3 {
        echo_and_add(&client, i).await.expect("warm-up");
    }

    let before = cluster.in_progress().await;
    let peer = client.peer().clone();
    let slow =
        tokio::spawn(async move { try_call(&peer, "slow", json!({ "seconds": SLOW })).await });
    let x = cluster
        .replica_serving(&before, Duration::from_secs(10))
        .await
        .expect("HAProxy shows the slow call in progress on one replica");
    cluster.kill(x);
    let killed = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(30), slow)
        .await
        .expect("the call in flight ends: an answer or an error, never a hang")
        .expect("the call's task");
    let failed_after = killed.elapsed();
    let error = outcome.expect_err("a call whose replica died cannot have an answer");
    eprintln!("rmcp sees, {failed_after:?} after the kill: {error} ({error:?})");
    assert!(
        failed_after < FAILS_WITHIN,
        "the error comes at once, not after {failed_after:?}"
    );
    // What rmcp makes of a response stream cut before its answer (the replica cannot say more:
    // it is dead): this request's transport closed; the session itself is fine, see below.
    assert!(
        matches!(error, rmcp::service::ServiceError::TransportClosed),
        "{error:?}"
    );

    // The same session goes on: every request succeeds, on the two survivors.
    let served = cluster.served();
    for i in 10..22 {
        echo_and_add(&client, i)
            .await
            .unwrap_or_else(|e| panic!("request {i} after the kill failed: {e}"));
    }
    let after = cluster.served();
    let survivors: Vec<usize> = (0..3).filter(|&i| i != x).collect();
    for &i in &survivors {
        assert!(
            after[i] > served[i],
            "survivor {i} serves the session: {served:?} → {after:?}"
        );
    }
    // HAProxy did not re-send the slow call to a survivor: the upstream ran it once.
    assert_eq!(
        cluster.upstream.logged("CALL slow"),
        1,
        "the slow call ran once"
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_a_call_in_flight_on_a_killed_replica_fails_and_the_session_goes_on() {
    let mut cluster = Cluster::start("", &[]).await;
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/fixtures/clients/scale_kill_client.py"))
        .arg(cluster.url())
        .arg(SLOW.to_string())
        .arg("12")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run the Python client");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut go = child.stdin.take().expect("piped stdin");
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the client's session is open")
        .expect("read the client")
        .expect("a line");
    assert!(ready.contains("ready"), "{ready}");
    // What is in progress now (the session's own event stream), before the slow call starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cluster.in_progress().await;
    go.write_all(b"go\n")
        .await
        .expect("tell the client to call");
    let x = cluster
        .replica_serving(&before, Duration::from_secs(10))
        .await
        .expect("HAProxy shows the slow call in progress on one replica");
    eprintln!(
        "killing replica {x}: {before:?} → {:?}",
        cluster.in_progress().await
    );
    cluster.kill(x);
    let report = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the client finishes: the call in flight does not hang")
        .expect("read the client")
        .expect("the report");
    let report: Value = serde_json::from_str(&report).expect("the client's JSON report");
    eprintln!("the Python SDK sees: {report}");
    assert_eq!(report["slow"], "failed", "{report}");
    assert_eq!(
        report["progress"], 1,
        "the call's stream had an event: the SDK tried to resume it on a survivor: {report}"
    );
    let failed_after = report["failed_after"].as_f64().unwrap_or(f64::MAX);
    assert!(
        failed_after < (SLOW as f64),
        "the error comes before the call could have finished: {report}"
    );
    assert_eq!(
        report["failures"],
        json!([]),
        "the session goes on: {report}"
    );
    assert_eq!(report["ok"], 12, "{report}");
    assert_eq!(
        cluster.upstream.logged("CALL slow"),
        1,
        "the slow call ran once"
    );
}

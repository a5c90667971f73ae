//! Scale-out (issue 12): what one session means across three replicas sharing a Redis
//! (`support::cluster`: real `redis-server`, real HAProxy, three `mcp2` replicas).
//!
//! - a `DELETE` on one replica ends the session on every replica: one that holds it in memory
//!   closes it, one that never saw it refuses to rebuild it; both answer 404 and no upstream is
//!   contacted;
//! - a `per session` rate limit of N admits N for one session however its requests are spread
//!   over the replicas, and another session has its own N.

mod support;

use std::time::Duration;

use serde_json::json;
use support::client::{Client, connect, try_call};
use support::cluster::{Cluster, open_session, post, status_with_session};

async fn delete(url: &str, id: &str) -> u16 {
    reqwest::Client::new()
        .delete(url)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .expect("a response")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_on_one_replica_is_ended_on_every_replica() {
    let cluster = Cluster::start("", &[]).await;
    let on = |i: usize| cluster.replica(i).url("/mcp");
    let id = open_session(&on(0)).await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(&on(0), &id, initialized).await.0, 202);
    // Replicas 0 and 1 hold the session in memory; replica 2 never sees it before the end.
    assert_eq!(status_with_session(&on(0), &id).await, 200);
    assert_eq!(status_with_session(&on(1), &id).await, 200);

    assert_eq!(delete(&on(0), &id).await, 204, "the session is ended");
    // Replica 1 closes its copy when the end is announced (milliseconds).
    let closed = cluster
        .replica(1)
        .wait_for_stderr(
            "closed a session ended on another replica",
            Duration::from_secs(5),
        )
        .await;
    assert!(closed, "replica 1 hears of the end");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let quiet = cluster.upstream.requests();
    for i in 0..3 {
        assert_eq!(
            status_with_session(&on(i), &id).await,
            404,
            "the ended session on replica {i}"
        );
    }
    for _ in 0..3 {
        assert_eq!(
            status_with_session(&cluster.url(), &id).await,
            404,
            "through HAProxy"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cluster.upstream.requests(),
        quiet,
        "an ended session never reaches the upstream"
    );
    assert!(
        cluster
            .replica(2)
            .stderr()
            .contains("refused the id of a session ended on another replica"),
        "replica 2 refused to rebuild it"
    );

    // Another session is not affected.
    let other = open_session(&on(1)).await;
    assert_eq!(status_with_session(&on(2), &other).await, 200);
}

/// How many of 12 `add` calls the session's limit admits.
async fn admitted(client: &Client) -> usize {
    let mut n = 0;
    for i in 0..12 {
        if try_call(client, "add", json!({"a": i, "b": 1}))
            .await
            .is_ok()
        {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_session_limit_counts_one_session_across_replicas_and_each_session_apart() {
    let cluster = Cluster::start("limit tool scale/add 4/min per session", &[]).await;
    // Two sessions, each the first its replica serves (replicas number their sessions alike).
    let a = connect(&cluster.replica(0).url("/mcp")).await;
    let b = connect(&cluster.replica(1).url("/mcp")).await;
    assert_eq!(admitted(&a).await, 4, "4/min per session");
    assert_eq!(admitted(&b).await, 4, "another session has its own 4");

    // One session through HAProxy: its calls land on every replica, and count together.
    let before = cluster.served();
    let c = connect(&cluster.url()).await;
    assert_eq!(
        admitted(&c).await,
        4,
        "4 for this session in total, not 4 per replica"
    );
    let after = cluster.served();
    assert!(
        (0..3).all(|i| after[i] > before[i]),
        "the session's calls were spread over every replica: {before:?} → {after:?}"
    );
    try_call(&c, "echo", json!({"message": "still here"}))
        .await
        .expect("calls the limit does not cover go through");
}

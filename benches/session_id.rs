//! Sealed session id against a session kept in Redis: what a replica pays to resolve a session
//! it does not hold (issue 12 asks to measure both before choosing).
//!
//! ```text
//! cargo bench --bench session_id      # needs redis-server (scripts/install-test-deps)
//! ```
//!
//! Prints the mean time of: sealing an id, opening it, refusing a tampered one, and a Redis
//! `GET` of the same state (as JSON) from a `redis-server` this bench starts on a free
//! 127.0.0.1 port. Run by `cargo test` (no `--bench` argument) it only checks that sealing
//! round-trips.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcp2::cluster::seal::{SealedSession, SessionKey};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn session() -> SealedSession {
    let init = serde_json::from_value(serde_json::json!({
        "protocolVersion": "2025-11-25",
        "capabilities": {"sampling": {}, "elicitation": {"form": {}}, "roots": {"listChanged": true}},
        "clientInfo": {"name": "claude-code", "version": "2.1.0"}
    }))
    .expect("init params");
    SealedSession {
        endpoint: "/mcp".into(),
        profile: "default".into(),
        only_upstream: None,
        init,
        issued: 1_790_000_000,
    }
}

fn mean(n: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

fn main() {
    let key = SessionKey::parse(KEY).expect("key");
    let s = session();
    let id = key.seal(&s).expect("seal");
    assert_eq!(key.open(&id), Some(s.clone()));
    if !std::env::args().any(|a| a == "--bench") {
        println!("session_id: smoke run ok (id of {} bytes)", id.len());
        return;
    }
    let n = 20_000;
    let seal = mean(n, || {
        std::hint::black_box(key.seal(&s));
    });
    let open = mean(n, || {
        std::hint::black_box(key.open(&id));
    });
    let mut bad = id.clone().into_bytes();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    let bad = String::from_utf8(bad).unwrap_or_default();
    let refuse = mean(n, || {
        std::hint::black_box(key.open(&bad));
    });
    println!("sealed id: {} bytes", id.len());
    println!("seal                 {:>8.2} µs", seal.as_secs_f64() * 1e6);
    println!("open                 {:>8.2} µs", open.as_secs_f64() * 1e6);
    println!(
        "refuse a tampered id {:>8.2} µs",
        refuse.as_secs_f64() * 1e6
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (scripts/install-test-deps)");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("url");
        let mut conn = None;
        for _ in 0..100 {
            if let Ok(c) = client.get_multiplexed_async_connection().await {
                conn = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut conn = conn.expect("redis-server did not start");
        let state = serde_json::to_string(&s).expect("json");
        let _: () = redis::cmd("SET")
            .arg("mcp2:session:x")
            .arg(&state)
            .query_async(&mut conn)
            .await
            .expect("SET");
        let n = 5_000;
        let start = Instant::now();
        for _ in 0..n {
            let got: String = redis::cmd("GET")
                .arg("mcp2:session:x")
                .query_async(&mut conn)
                .await
                .expect("GET");
            let back: SealedSession = serde_json::from_str(&got).expect("state");
            std::hint::black_box(back);
        }
        let get = start.elapsed() / n;
        println!(
            "Redis GET + decode    {:>8.2} µs (loopback, same host)",
            get.as_secs_f64() * 1e6
        );
    });
    let _ = redis.kill();
    let _ = redis.wait();
}

//! `mcp2 explain --live` against a real upstream (server-everything over stdio), and
//! `mcp2 explain --server` against a running mcp2 (`POST /_mcp2/explain`), whose list cache a
//! client has just filled: the explanation says the list comes from the cache.

mod support;

use std::process::{Command, Output};

use serde_json::json;
use support::client::*;
use support::process::{Mcp2, Routes, quoted};
use support::*;

const TOKEN: &str = "explain-admin-token";

fn routes() -> Routes {
    Routes::new(&format!(
        r#"
upstream everything {{
  stdio {everything}
  timeout 20s
}}
profile default {{
  deny tool everything/*env*
}}
logging {{
  level "info,mcp2::explain=debug"
}}
"#,
        everything = quoted(&everything_bin()),
    ))
}

fn explain(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp2"))
        .arg("explain")
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("MCP2_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .output()
        .expect("run mcp2 explain")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "mcp2 explain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn live_shows_the_real_names_and_the_decision_for_each() {
    let routes = routes();
    let dir = routes.path().to_str().expect("utf-8 path");

    let list = stdout(&explain(&[dir, "--live", "tools/list"], &[]));
    assert!(list.contains("(live: "), "{list}");
    assert!(
        list.contains("- everything/echo: visible as `echo`"),
        "{list}"
    );
    assert!(list.contains("- everything/get-env: hidden"), "{list}");
    assert!(
        list.contains("decided by `deny tool everything/*env*`"),
        "{list}"
    );

    let call = stdout(&explain(&[dir, "--live", "tools/call", "echo"], &[]));
    assert!(
        call.contains("routed to upstream `everything` as `echo`\n"),
        "a live route is not a guess:\n{call}"
    );
    assert!(call.contains("timeout: 20s per request"), "{call}");

    let hidden = stdout(&explain(&[dir, "--live", "tools/call", "get-env"], &[]));
    assert!(
        hidden.contains("hidden by `deny tool everything/*env*`"),
        "{hidden}"
    );

    let unknown = stdout(&explain(&[dir, "--live", "tools/call", "ech"], &[]));
    assert!(
        unknown.contains("everything/ech: not offered by the upstream"),
        "{unknown}"
    );
    assert!(unknown.contains("did you mean `echo`?"), "{unknown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_answers_with_its_live_lists_and_cache() {
    let routes = routes();
    let mcp2 = Mcp2::serve(&routes, &[], &[("MCP2_ADMIN_TOKEN", TOKEN)]).await;
    let base = mcp2.url("");
    let base = base.trim_end_matches('/').to_string();

    // Without the admin token the endpoint refuses, like /_mcp2/config.
    let refused = tokio::task::spawn_blocking({
        let base = base.clone();
        move || explain(&["--server", &base, "tools/list"], &[])
    })
    .await
    .expect("join");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));

    // A client lists the tools and calls one: the list is now cached per upstream. (An
    // upstream may still announce a list change right after connecting, which empties the
    // cache; the client then lists again, a bounded number of times.)
    let client = connect(&mcp2.url("/mcp")).await;
    let echoed = call_text(&client, "echo", json!({ "message": "hi" })).await;
    assert!(echoed.contains("hi"));
    let env = [("MCP2_ADMIN_TOKEN", TOKEN)];
    let mut human = String::new();
    for _ in 0..3 {
        let names = tool_names(&client).await;
        assert!(names.contains(&"echo".to_string()));
        let base = base.clone();
        human = tokio::task::spawn_blocking(move || {
            stdout(&explain(&["--server", &base, "tools/list"], &env))
        })
        .await
        .expect("join");
        if human.contains("- everything: hit") {
            break;
        }
    }
    assert!(
        human.contains("(server: asked the running mcp2)"),
        "{human}"
    );
    assert!(human.contains("- everything: hit"), "{human}");
    assert!(human.contains("- everything/get-env: hidden"), "{human}");
    // The golden covers everything but the upstream's own tool list, which is the fixture's
    // business: the decisions kept are the ones the routes name.
    let dir = routes.path().to_str().expect("utf-8 path");
    let golden: String = human
        .replace(dir, "[routes]")
        .lines()
        .filter(|l| {
            !l.starts_with("   - everything/") || l.contains("/echo:") || l.contains("/get-env:")
        })
        .map(|l| match l.split_once(" visible: ") {
            Some(_) => "   [n] visible: [names]\n".to_string(),
            None => format!("{l}\n"),
        })
        .collect();
    insta::assert_snapshot!(golden);
    let json_out = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            stdout(&explain(
                &["--server", &base, "--format", "json", "tools/call", "echo"],
                &env,
            ))
        }
    })
    .await
    .expect("join");
    let v: serde_json::Value = serde_json::from_str(&json_out).expect("JSON");
    assert_eq!(v["source"], "server");
    assert_eq!(v["outcome"]["kind"], "routed");
    assert_eq!(v["outcome"]["original"], "echo");
    assert_eq!(v["outcome"]["assumed"], false);

    // The server logged its own explanation of the real call, from the same code.
    assert!(
        mcp2.wait_for_stderr("mcp2::explain", std::time::Duration::from_secs(10))
            .await,
        "no explain trace in the server log:\n{}",
        mcp2.stderr_tail(20)
    );
    assert!(
        mcp2.stderr().contains(r#"\"kind\":\"routed\""#)
            || mcp2.stderr().contains(r#""kind":"routed""#)
    );
    client.cancel().await.ok();
}

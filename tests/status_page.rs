//! The status page at `/_mcp2/`, loaded in a real headless Chromium against a running mcp2
//! with two upstreams, one of them down: what a person would see, and a screenshot.
//!
//! Needs Debian's `chromium` (`scripts/install-test-deps` installs it).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::client::*;
use support::process::{Mcp2, Routes, quoted};
use support::*;

/// How long Chromium may take to load and render the page.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| {
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(move |dir| dir.join(name))
        })
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("chromium is not installed: run scripts/install-test-deps"))
}

/// Runs headless Chromium with `args` and `url`, bounded; returns its stdout.
fn browse(profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = std::time::Instant::now() + BROWSER_LIMIT;
    loop {
        if child.try_wait().expect("wait for chromium").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("chromium output")
}

/// The table row (`<tr …>` to `</tr>`) holding `needle` in the dumped DOM.
fn row_with<'a>(dom: &'a str, needle: &str) -> &'a str {
    let at = dom
        .find(needle)
        .unwrap_or_else(|| panic!("no `{needle}` on the page:\n{dom}"));
    let start = dom[..at].rfind("<tr").unwrap_or(0);
    let end = dom[at..].find("</tr>").map_or(dom.len(), |e| at + e);
    &dom[start..end]
}

fn upstream_row<'a>(dom: &'a str, name: &str) -> &'a str {
    row_with(dom, &format!("data-upstream=\"{name}\""))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_shows_upstreams_errors_tools_and_reloads_in_a_browser() {
    let down_port = free_port();
    let routes = Routes::new(&format!(
        "upstream everything {{\n  stdio {}\n}}\n\
         upstream broken {{\n  http \"http://127.0.0.1:{down_port}/mcp\"\n  connect-timeout 2s\n}}\n\
         profile default {{\n  use everything, broken\n  prefix \"{{upstream}}__\"\n}}\n\
         endpoint \"/mcp\" -> default\n",
        quoted(&everything_bin()),
    ));
    let mcp2 = Mcp2::serve(&routes, &["--no-watch"], &[]).await;

    // Wait until both upstreams have settled: one connected, one down.
    let mut settled = false;
    for _ in 0..300 {
        let (_, ready) = mcp2.admin(Method::GET, "/_mcp2/ready").await;
        if ready["upstreams"]["everything"]["state"] == "connected"
            && ready["upstreams"]["broken"]["state"] == "down"
        {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        settled,
        "upstreams did not settle:\n{}",
        mcp2.stderr_tail(40)
    );

    // One call, so the counters move; one rejected reload, so the history has diagnostics.
    let hub = connect(&mcp2.url("/mcp")).await;
    call_text(&hub, "everything__echo", json!({ "message": "hi" })).await;
    std::fs::write(
        routes.path().join("routes.mcproute"),
        "upstream everything {\n  stdio \"x\"\n  timeout forever\n}\n",
    )
    .expect("break the routes");
    let (code, _) = mcp2.admin(Method::POST, "/_mcp2/reload").await;
    assert_eq!(code, 422);

    let tmp = tempfile::tempdir().expect("temp dir");
    let url = mcp2.url("/_mcp2/");
    let dom = browse(&tmp.path().join("profile"), &["--dump-dom"], &url);
    assert!(dom.contains("mcp2 status"), "{dom}");

    let everything = upstream_row(&dom, "everything");
    assert!(everything.contains(">connected<"), "{everything}");
    // Between its retries the broken upstream is down; during one, restarting. Either way
    // its error shows.
    let broken = upstream_row(&dom, "broken");
    assert!(
        broken.contains(">down<") || broken.contains(">restarting<"),
        "{broken}"
    );
    assert!(
        broken.contains("class=\"error\"") && broken.contains(&down_port.to_string()),
        "the down upstream shows its error: {broken}"
    );
    // Tools with their upstream and original name.
    let echo = row_with(&dom, "<code>everything__echo</code>");
    assert!(
        echo.contains("<td>everything</td>") && echo.contains("<code>echo</code>"),
        "{echo}"
    );
    // The call was counted; the rejected reload shows its diagnostic.
    assert!(everything.contains("<td>1</td>"), "{everything}");
    assert!(
        dom.contains(">rejected<") && dom.contains("forever"),
        "{dom}"
    );

    let shot = tmp.path().join("status.png");
    browse(
        &tmp.path().join("profile2"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,900",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
    if let Some(dir) = std::env::var_os("MCP2_SCREENSHOT_DIR") {
        let _ = std::fs::copy(&shot, Path::new(&dir).join("status.png"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_needs_the_admin_token_when_one_is_set() {
    let routes = Routes::new("upstream a {\n  http \"http://127.0.0.1:9/mcp\"\n}\n");
    let mcp2 = Mcp2::serve(
        &routes,
        &["--no-watch"],
        &[("MCP2_ADMIN_TOKEN", "s3cret-admin")],
    )
    .await;
    let client = reqwest::Client::new();
    let without = client
        .get(mcp2.url("/_mcp2/"))
        .send()
        .await
        .expect("answer");
    assert_eq!(without.status().as_u16(), 401);
    let with = client
        .get(mcp2.url("/_mcp2/"))
        .bearer_auth("s3cret-admin")
        .send()
        .await
        .expect("answer");
    assert_eq!(with.status().as_u16(), 200);
    let body = with.text().await.expect("body");
    assert!(body.contains("data-upstream=\"a\""), "{body}");
}

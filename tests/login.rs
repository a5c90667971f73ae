//! `mcp2 login` and serving a user-delegated upstream (`auth oauth authorization-code`),
//! through the real binary: the Python authorization server (`oauth_server.py`: auto-approving
//! `/authorize`, PKCE-checking `/token`, RFC 7591 `/register`, short-lived tokens) and the
//! upstream that accepts only its tokens (`oauth_upstream_server.py`). The browser is
//! `tests/fixtures/clients/follow_login.py`, run by `--open-with`. Needs
//! `scripts/install-test-deps`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::client::{call_text, connect};
use support::process::{Mcp2, Routes};
use support::*;

/// Seconds: short, so a session sees the access token renewed with the refresh token.
const LIFETIME: &str = "4";

struct Setup {
    _auth: ServerChild,
    _upstream: ServerChild,
    issuer: String,
    upstream_url: String,
    state: tempfile::TempDir,
}

impl Setup {
    async fn start(auth_env: &[(&str, &str)]) -> Setup {
        let mut env = vec![("TOKEN_LIFETIME", LIFETIME)];
        env.extend_from_slice(auth_env);
        let auth = spawn_python_server("oauth_server.py", &env).await;
        let issuer = auth.url("").to_string().trim_end_matches('/').to_string();
        // The upstream's audience is its own URL (the RFC 8707 resource mcp2 asks tokens for),
        // so its port is chosen first.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let upstream_url = format!("http://127.0.0.1:{port}/mcp");
        let upstream = spawn_python_server_on(
            "oauth_upstream_server.py",
            port,
            &[("ISSUER", &issuer), ("AUDIENCE", &upstream_url)],
        )
        .await;
        Setup {
            _auth: auth,
            _upstream: upstream,
            issuer,
            upstream_url,
            state: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn token_file(&self) -> PathBuf {
        self.state.path().join("tokens/api.json")
    }

    fn routes(&self, client: &str) -> Routes {
        Routes::new(&format!(
            "upstream api {{\n  http \"{}\"\n  auth oauth authorization-code issuer \"{}\" {client} token-file \"{}\"\n}}\n\
             profile default {{\n  use api\n}}\nendpoint \"/mcp\" -> default\nlogging {{\n  level \"debug\"\n}}\n",
            self.upstream_url,
            self.issuer,
            self.token_file().display()
        ))
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.issuer))
            .await
            .expect("GET the authorization server")
            .json()
            .await
            .expect("json")
    }
}

fn follow(tamper: bool) -> String {
    let script = repo_root().join("tests/fixtures/clients/follow_login.py");
    let flag = if tamper { " --tamper-state" } else { "" };
    format!("{} {}{flag}", python().display(), script.display())
}

async fn login(routes: &Routes, open_with: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp2"));
    cmd.arg("login")
        .arg(routes.path())
        .arg("api")
        .args(["--timeout", "60s", "--open-with", open_with])
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run mcp2 login"))
        .await
        .expect("join")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stored(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the token file")).expect("json")
}

/// Every secret of the token file, none of which may appear in output.
fn secrets(tokens: &Value) -> Vec<String> {
    ["access_token", "refresh_token", "client_secret"]
        .iter()
        .filter_map(|k| tokens[k].as_str().map(str::to_string))
        .collect()
}

fn assert_no_secret(captured: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !captured.contains(s.as_str()),
            "a secret leaked into:\n{captured}"
        );
    }
    assert!(!captured.contains("eyJ"), "a JWT leaked into:\n{captured}");
}

/// `whoami` → `(sub, tokens accepted, requests refused)`.
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
async fn a_login_with_a_registered_client_serves_the_upstream_and_renews_its_token() {
    init_tracing();
    let setup = Setup::start(&[]).await;
    let routes = setup.routes("");
    let out = login(&routes, &follow(false), &[]).await;
    let printed = text(&out);
    assert!(out.status.success(), "login succeeds:\n{printed}");
    assert!(printed.contains("code_challenge_method=S256") && printed.contains("resource="));
    assert!(printed.contains(&setup.token_file().display().to_string()));
    assert!(printed.contains("registered"), "{printed}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(setup.token_file())
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's only");
    }
    let first = stored(&setup.token_file());
    assert!(
        first["client_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("dyn-"))
    );
    assert!(first["refresh_token"].is_string() && first["client_secret"].is_string());
    let mut captured = printed;

    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let ready = mcp2
        .wait_for_stderr("upstream connected", Duration::from_secs(60))
        .await;
    assert!(ready, "the upstream connects:\n{}", mcp2.stderr_tail(30));
    let hub = connect(&mcp2.url("/mcp")).await;
    // The login's discovery probed the upstream without a token: those refusals came before.
    let (sub, first_tokens, probes) = counts(&call_text(&hub, "whoami", json!({})).await);
    assert_eq!(sub, "alice", "the user's token reaches the upstream");
    // The access token expires mid-session: mcp2 renews it with the refresh token.
    let mut tokens = first_tokens;
    for _ in 0..40 {
        let (_, t, refused) = counts(&call_text(&hub, "whoami", json!({})).await);
        assert_eq!(refused, probes, "renewed before expiry, never refused");
        tokens = t;
        if tokens > first_tokens {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        tokens > first_tokens,
        "a new access token after the first expired"
    );
    assert!(setup.get("/_test/refreshed").await["refreshed"].as_u64() >= Some(1));
    let rotated = stored(&setup.token_file());
    assert_ne!(
        rotated["refresh_token"], first["refresh_token"],
        "the rotated refresh token is stored"
    );

    captured.push_str(&mcp2.stderr());
    let (_, config) = mcp2.admin(Method::GET, "/_mcp2/config").await;
    assert!(
        config.to_string().contains("authorization-code"),
        "{config}"
    );
    captured.push_str(&config.to_string());
    let mut all = secrets(&first);
    all.extend(secrets(&rotated));
    assert_no_secret(&captured, &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_registered_client_logs_in_where_registration_is_off() {
    init_tracing();
    let setup = Setup::start(&[("CLIENTS", "web:web-secret-77:"), ("REGISTRATION", "0")]).await;
    let routes = setup.routes("client-id \"web\" client-secret \"${WEB_SECRET}\"");
    let out = login(&routes, &follow(false), &[("WEB_SECRET", "web-secret-77")]).await;
    let printed = text(&out);
    assert!(out.status.success(), "login succeeds:\n{printed}");
    assert!(!printed.contains("registered"), "{printed}");
    let tokens = stored(&setup.token_file());
    assert_eq!(tokens["client_id"], "web");
    assert!(
        tokens.get("client_secret").is_none(),
        "a configured secret stays in the routes"
    );
    assert_no_secret(&printed, &secrets(&tokens));
    assert!(!printed.contains("web-secret-77"));

    let mcp2 = Mcp2::serve(&routes, &[], &[("WEB_SECRET", "web-secret-77")]).await;
    let ready = mcp2
        .wait_for_stderr("upstream connected", Duration::from_secs(60))
        .await;
    assert!(ready, "the upstream connects:\n{}", mcp2.stderr_tail(30));
    let hub = connect(&mcp2.url("/mcp")).await;
    let (sub, _, _) = counts(&call_text(&hub, "whoami", json!({})).await);
    assert_eq!(sub, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_a_forged_state_is_refused_and_nothing_is_stored() {
    init_tracing();
    let setup = Setup::start(&[]).await;
    let routes = setup.routes("");
    let out = login(&routes, &follow(true), &[]).await;
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("`state` does not match"), "{printed}");
    assert!(!setup.token_file().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_registration_or_a_client_id_the_login_says_to_configure_one() {
    init_tracing();
    let setup = Setup::start(&[("REGISTRATION", "0")]).await;
    let routes = setup.routes("");
    let out = login(&routes, &follow(false), &[]).await;
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("configure `client-id`"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_nobody_logged_in_to_is_down_with_the_command_to_run() {
    init_tracing();
    let setup = Setup::start(&[]).await;
    let routes = setup.routes("");
    let mcp2 = Mcp2::serve(&routes, &[], &[]).await;
    let said = mcp2
        .wait_for_stderr("mcp2 login", Duration::from_secs(60))
        .await;
    assert!(said, "the log says to log in:\n{}", mcp2.stderr_tail(30));
    let (_, ready) = mcp2.admin(Method::GET, "/_mcp2/ready").await;
    assert!(ready.to_string().contains("mcp2 login"), "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_authorization_is_reported_with_the_servers_error() {
    init_tracing();
    let setup = Setup::start(&[("AUTHORIZE_DENY", "1")]).await;
    let routes = setup.routes("");
    let out = login(&routes, &follow(false), &[]).await;
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("refused: access_denied"), "{printed}");
    assert!(!setup.token_file().exists());
}

//! `mcp2 login ROUTES UPSTREAM`: logs the user in to an upstream with
//! `auth oauth authorization-code` (see `crate::login`). Prints the authorization URL on stdout
//! (what to do with it on stderr), waits for the browser's redirect to 127.0.0.1, and ends with
//! one line naming the token file, never a token. Exit 0 logged in, 1 the routes have errors or
//! the login failed, 2 usage errors.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Args;

use super::output::{err, out, print_diagnostics};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::check::values::positive_duration_flag;
use crate::check::{self, ProcessEnv};
use crate::diag::did_you_mean;
use crate::source::SourceSet;

/// Log in to an upstream that needs a user's OAuth authorization.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// A route file or directory.
    pub routes: PathBuf,
    /// The upstream to log in to (one with `auth oauth authorization-code`).
    pub upstream: String,
    /// How long to wait for the browser's redirect.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = positive_duration_flag)]
    pub timeout: Duration,
    /// Run this command with the URL as its last argument instead of waiting for a person to
    /// open it (split on whitespace; for tests and scripted logins).
    #[arg(long, env = "MCP2_LOGIN_OPEN_WITH", value_name = "CMD", hide = true)]
    pub open_with: Option<String>,
}

pub fn run(args: LoginArgs) -> ExitCode {
    let sources = match SourceSet::load(&args.routes) {
        Ok(s) => s,
        Err(e) => {
            err(format!("error: {e}"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let compiled = check::compile(&sources, &ProcessEnv);
    print_diagnostics(&compiled.diagnostics, &sources);
    let Some(plan) = compiled.plan else {
        return ExitCode::from(EXIT_FINDINGS);
    };
    let Some(upstream) = plan.upstreams.get(args.upstream.as_str()).cloned() else {
        let known: Vec<&str> = plan.upstreams.keys().map(|k| k.as_str()).collect();
        let hint = did_you_mean(&args.upstream, known.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        err(format!(
            "error: no upstream `{}` in the routes{hint}",
            args.upstream
        ));
        return ExitCode::from(EXIT_USAGE);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            err(format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut opened: Option<Child> = None;
    let timeout = args.timeout;
    let name = args.upstream.clone();
    let result = runtime.block_on(crate::login::login(&upstream, timeout, |url| {
        err(format!(
            "To log in to upstream `{name}`, open this URL in a browser (waiting up to {}s for its redirect to 127.0.0.1):",
            timeout.as_secs()
        ));
        out(url.as_str());
        if let Some(cmd) = &args.open_with {
            opened = open_with(cmd, url.as_str());
        }
    }));
    if let Some(mut child) = opened {
        let _ = child.kill();
        let _ = child.wait();
    }
    match result {
        Ok(done) => {
            let refresh = if done.refreshable {
                "with a refresh token"
            } else {
                "without a refresh token: log in again when it expires"
            };
            out(format!(
                "Logged in to upstream `{name}` at {} ({refresh}); tokens saved in {} (mode 0600){}",
                done.issuer,
                done.token_file.display(),
                if done.registered {
                    ", with the client registered for mcp2"
                } else {
                    ""
                }
            ));
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            err(format!("error: login to upstream `{name}` failed: {e}"));
            ExitCode::from(EXIT_FINDINGS)
        }
    }
}

/// Starts `cmd URL`; a command that cannot start is reported, and the login still waits.
fn open_with(cmd: &str, url: &str) -> Option<Child> {
    let mut words = cmd.split_whitespace();
    let program = words.next()?;
    match Command::new(program)
        .args(words)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
    {
        Ok(child) => Some(child),
        Err(e) => {
            err(format!("warning: cannot run `{program}`: {e}"));
            None
        }
    }
}

//! `mcp2 explain ROUTES [--endpoint PATH] [--header K=V …] METHOD [NAME|URI]`: how a request
//! would be routed, and why (see `crate::explain`). Offline by default; `--live` connects to the
//! upstreams; `--server URL` asks a running mcp2 (`POST /_mcp2/explain`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::admin_token::AdminToken;
use super::output::{out, print_diagnostics};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::check::{self, ProcessEnv};
use crate::explain::{self, Method, Question, Source, Style};
use crate::gateway::{CachePolicy, Gateway};
use crate::source::SourceSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Explain how a request is routed.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// `ROUTES METHOD [NAME|URI]`; with `--server`, `METHOD [NAME|URI]`. METHOD is one of
    /// initialize, tools/list, tools/call, prompts/list, prompts/get, resources/list,
    /// resources/read.
    #[arg(required = true, num_args = 1..=3, value_name = "ROUTES METHOD [NAME|URI]")]
    pub args: Vec<String>,
    /// The endpoint path the request arrives on.
    #[arg(long, default_value = "/mcp", value_name = "PATH")]
    pub endpoint: String,
    /// A request header (`K=V` or `K: V`), for conditional endpoints; repeatable. Values are
    /// never printed.
    #[arg(long = "header", value_name = "K=V")]
    pub headers: Vec<String>,
    /// Connect to the upstreams to show the real names and the decision for each.
    #[arg(long, conflicts_with = "server")]
    pub live: bool,
    /// Explain for a caller with these verified token claims (a JSON object file), for rules
    /// with `when claim …`, `scope has …` or `authenticated`.
    #[arg(long, value_name = "FILE")]
    pub claims: Option<std::path::PathBuf>,
    /// Explain for a caller that presented the API key of this name (`auth key NAME …`).
    #[arg(long, value_name = "NAME")]
    pub api_key: Option<String>,
    /// Ask a running mcp2 at this base URL (`http://127.0.0.1:8210`) over its admin endpoint.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    #[command(flatten)]
    pub admin: AdminToken,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

pub fn run(args: ExplainArgs) -> ExitCode {
    let (routes, rest) = match args.server {
        Some(_) => (None, &args.args[..]),
        None => match args.args.split_first() {
            Some((routes, rest)) => (Some(PathBuf::from(routes)), rest),
            None => return usage("missing ROUTES"),
        },
    };
    let question = match question(rest, &args) {
        Ok(q) => q,
        Err(e) => return usage(&e),
    };
    let style = if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style {
            color: true,
            unicode: true,
        }
    } else {
        Style::default()
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    if let Some(url) = &args.server {
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
        };
        return match rt.block_on(ask_server(
            url,
            args.admin.get(),
            &question,
            args.format,
            style,
        )) {
            Ok(text) => {
                out(text);
                ExitCode::from(EXIT_OK)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    let Some(routes) = routes else {
        return usage("missing ROUTES");
    };
    let sources = match SourceSet::load(&routes) {
        Ok(s) => s,
        Err(e) => return usage(&e.to_string()),
    };
    let compiled = check::compile(&sources, &ProcessEnv);
    print_diagnostics(&compiled.diagnostics, &sources);
    let Some(plan) = compiled.plan else {
        eprintln!("error: the routes have errors; nothing to explain");
        return ExitCode::from(EXIT_FINDINGS);
    };
    let explanation = if args.live {
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
        };
        // Connecting to real upstreams takes seconds: a bar on a terminal, nothing otherwise.
        let progress = super::progress::Progress::new(3, "explain --live");
        let explanation = rt.block_on(async {
            progress.step(format!("connecting to {} upstreams", plan.upstreams.len()));
            let gateway = Gateway::start(plan, CachePolicy::default()).await;
            progress.suspend(|| ());
            progress.step("listing what they offer");
            let e = explain::explain_on(&gateway, &question, Source::Live).await;
            progress.suspend(|| ());
            progress.step("stopping upstreams");
            gateway.shutdown().await;
            e
        });
        progress.finish();
        explanation
    } else {
        explain::build(&plan, &question, None, Source::Offline)
    };
    out(match args.format {
        Format::Json => json(&explanation),
        Format::Human => explain::render(&explanation, style),
    });
    ExitCode::from(EXIT_OK)
}

fn json(e: &explain::Explanation) -> String {
    serde_json::to_string_pretty(e).unwrap_or_default() + "\n"
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

fn question(rest: &[String], args: &ExplainArgs) -> Result<Question, String> {
    let (method, target) = match rest {
        [method] => (method, None),
        [method, target] => (method, Some(target.clone())),
        [] => return Err("missing METHOD".into()),
        _ => return Err("too many arguments: expected METHOD [NAME|URI]".into()),
    };
    let method: Method = method
        .parse()
        .map_err(|e: explain::UnknownMethod| e.to_string())?;
    match (method.targets_one(), &target) {
        (true, None) => return Err(format!("{method} needs a name (or URI)")),
        (false, Some(t)) => return Err(format!("{method} takes no name, got `{t}`")),
        _ => {}
    }
    let headers = args
        .headers
        .iter()
        .map(|h| {
            // Whichever separator comes first: `K=V` or `K: V` (a value may hold either).
            h.find(['=', ':'])
                .map(|at| (h[..at].trim().to_string(), h[at + 1..].trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| "a --header is not K=V".to_string())
        })
        .collect::<Result<_, _>>()?;
    let identity =
        crate::plan::authz::load_identity(args.claims.as_deref(), args.api_key.as_deref())
            .map_err(|e| e.to_string())?;
    Ok(Question {
        method,
        target,
        endpoint: args.endpoint.clone(),
        headers,
        identity,
    })
}

/// Asks a running mcp2; returns what to print.
async fn ask_server(
    url: &str,
    token: Option<&str>,
    q: &Question,
    format: Format,
    style: Style,
) -> Result<String, String> {
    let endpoint = format!("{}/_mcp2/explain", url.trim_end_matches('/'));
    let body = serde_json::json!({
        "question": q,
        "format": match format { Format::Json => "json", Format::Human => "human" },
        "color": style.color,
        "unicode": style.unicode,
    });
    let client = reqwest::Client::new();
    let mut request = client.post(&endpoint).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("reading the answer of {endpoint}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{endpoint} answered {status}: {}", text.trim()));
    }
    Ok(match format {
        Format::Json => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => serde_json::to_string_pretty(&v).unwrap_or(text) + "\n",
            Err(_) => text,
        },
        Format::Human => text,
    })
}

//! The load benchmark: mcp2 against talking to the upstream directly, in the same run.
//!
//! ```text
//! scripts/bench-load [SCENARIO…] [--duration S] [--rounds N] [--sessions 1,16,64] …
//! cargo bench --bench load -- [same arguments]
//! ```
//!
//! Every scenario (see `scenarios::ALL`) starts its own upstream fixture (this executable again,
//! with `--fixture-server`, see `fixture.rs`) and its own mcp2 (the `mcp2` binary cargo built
//! beside this bench, or `--mcp2 PATH`), then measures the same client work direct and through
//! mcp2 and prints both with their ratio, the CPU each process spent per request and the targets
//! of the performance issue. Everything binds 127.0.0.1; every child is killed by PID when its
//! scenario ends (and on drop), and fixtures exit when this process's pipe to them closes.
//!
//! Run by `cargo test` (no `--bench` argument), it does a seconds-long smoke run of every
//! scenario and of `floor` instead: the figures mean nothing there, but a wrong answer fails the
//! test.

mod bare_proxy;
mod child;
mod client;
mod fixture;
mod gateway;
mod procinfo;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rmcp::model::ProtocolVersion;

use crate::report::RunReport;
use crate::scenarios::Settings;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("usage: {0}")]
    Usage(String),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("{0}")]
    Process(String),
    #[error("client: {0}")]
    Client(String),
}

/// Load benchmark: direct-to-upstream vs. through mcp2, side by side.
#[derive(Debug, Parser)]
#[command(name = "load")]
struct Cli {
    /// Scenarios to run (default: all): echo, big, list-1000, hub-list, sessions, startup.
    scenarios: Vec<String>,
    /// Measured seconds per side for each timed load.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds per side before each timed load.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Alternating slices per side (direct, mcp2, direct, mcp2, …).
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// Concurrent sessions for the echo scenario.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16, 64])]
    sessions: Vec<usize>,
    /// Restarts measured for cold lists and start-up.
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Sessions opened in the `sessions` scenario.
    #[arg(long, default_value_t = 1000)]
    many_sessions: usize,
    /// The mcp2 binary (default: the one cargo built with this bench).
    #[arg(long)]
    mcp2: Option<PathBuf>,
    /// Where to write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Tiny settings, for checking the benchmark itself (what `cargo test` runs).
    #[arg(long)]
    quick: bool,
    /// The protocol revision the load generator's sessions ask for in `initialize`:
    /// 2025-11-25 (what shipped clients speak) or 2026-07-28 (rmcp's default).
    #[arg(long, default_value = "2025-11-25", value_parser = ["2025-11-25", "2025-06-18", "2026-07-28"])]
    client_protocol: String,
    /// Set by `cargo bench`; without it the run is a `--quick` smoke run.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Cli {
    fn settings(&self) -> Settings {
        let mcp2 = self
            .mcp2
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mcp2")));
        let secs = |s: f64| Duration::from_secs_f64(s.clamp(0.0, 600.0));
        if self.quick || !self.bench {
            return Settings {
                mcp2,
                duration: Duration::from_millis(300),
                warmup: Duration::from_millis(100),
                rounds: 1,
                sessions: vec![1, 4],
                samples: 1,
                many_sessions: 20,
                hub_upstreams: 3,
                hub_delay: Duration::from_millis(20),
                list_tools: 250,
                big_bytes: 64 * 1024,
            };
        }
        Settings {
            mcp2,
            duration: secs(self.duration),
            warmup: secs(self.warmup),
            rounds: self.rounds.max(1),
            sessions: self.sessions.clone(),
            samples: self.samples.max(1),
            many_sessions: self.many_sessions.max(1),
            hub_upstreams: 20,
            hub_delay: Duration::from_millis(100),
            list_tools: 1000,
            big_bytes: 1024 * 1024,
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--fixture-server") {
        return run_fixture(&args[2..]);
    }
    if args.get(1).map(String::as_str) == Some("--bare-proxy") {
        return run_bare_proxy(args.get(2).map(String::as_str));
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(cli))
}

fn run_fixture(args: &[String]) -> ExitCode {
    match fixture::FixtureOpts::parse(args) {
        Ok(opts) => run_child("fixture", fixture::serve(opts)),
        Err(e) => {
            eprintln!("fixture: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_bare_proxy(upstream_port: Option<&str>) -> ExitCode {
    match upstream_port.and_then(|p| p.parse::<u16>().ok()) {
        Some(port) => run_child("bare proxy", bare_proxy::serve(port)),
        None => {
            eprintln!("bare proxy: usage: load --bare-proxy UPSTREAM_PORT");
            ExitCode::from(2)
        }
    }
}

/// Runs one of the bench's child processes (`what`) on a runtime of its own until it ends.
fn run_child(what: &str, serve: impl Future<Output = Result<(), BenchError>>) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime.map(|r| r.block_on(serve)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("{what}: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{what}: cannot start the async runtime: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    let settings = cli.settings();
    let loadavg_start = loadavg();
    let smoke = cli.quick || !cli.bench;
    let names: Vec<String> = if cli.scenarios.is_empty() {
        let mut names: Vec<String> = scenarios::ALL.iter().map(|s| s.to_string()).collect();
        // The smoke run checks the proxies of `floor` too (haproxy: scripts/install-test-deps).
        if smoke {
            names.push("floor".into());
        }
        names
    } else {
        cli.scenarios.clone()
    };
    let known = |n: &String| {
        scenarios::ALL.contains(&n.as_str()) || scenarios::BY_NAME.contains(&n.as_str())
    };
    if let Some(bad) = names.iter().find(|n| !known(n)) {
        eprintln!(
            "error: unknown scenario `{bad}` (known: {}, {})",
            scenarios::ALL.join(", "),
            scenarios::BY_NAME.join(", ")
        );
        return ExitCode::from(2);
    }
    client::set_protocol(match cli.client_protocol.as_str() {
        "2026-07-28" => ProtocolVersion::V_2026_07_28,
        "2025-06-18" => ProtocolVersion::V_2025_06_18,
        _ => ProtocolVersion::V_2025_11_25,
    });
    if smoke {
        println!("load bench: smoke run (tiny settings; the figures are not measurements)");
    }
    println!(
        "mcp2: {}\nclients ask for protocol {}\ncores: {}, load average at start: {}",
        settings.mcp2.display(),
        cli.client_protocol,
        cores(),
        loadavg_start
    );
    let mut tables = Vec::new();
    let mut failed = Vec::new();
    for name in &names {
        match scenarios::run(name, &settings).await {
            Ok(ts) => {
                for t in ts {
                    print!("{}", t.render());
                    tables.push(t);
                }
            }
            Err(e) => {
                eprintln!("\nscenario {name} failed: {e}");
                failed.push(name.clone());
            }
        }
    }
    let errors: u64 = tables.iter().map(|t| t.errors).sum();
    println!("\nload average at end: {}", loadavg());
    if let Some(path) = &cli.json {
        let report = RunReport {
            settings: settings.to_json(),
            machine: serde_json::json!({
                "cores": cores(),
                "loadavg_start": loadavg_start,
                "loadavg_end": loadavg(),
            }),
            tables,
        };
        match serde_json::to_string_pretty(&report) {
            Ok(text) => match std::fs::write(path, text) {
                Ok(()) => println!("results written to {}", path.display()),
                Err(e) => eprintln!("cannot write {}: {e}", path.display()),
            },
            Err(e) => eprintln!("cannot serialise the results: {e}"),
        }
    }
    if !failed.is_empty() {
        eprintln!("failed scenarios: {}", failed.join(", "));
        return ExitCode::from(2);
    }
    if errors > 0 {
        eprintln!("{errors} requests failed or were answered wrongly: the figures are not valid");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

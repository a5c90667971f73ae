//! `mcp2 check PATH`: compile the routes and report every finding.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::output::{count, err, out, print_diagnostics, summary_json, summary_lines};
use super::progress::Progress;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::check::{Compiled, ProcessEnv, compile};
use crate::diag::{Diag, Diagnostics, codes};
use crate::source::{LoadError, SourceKind, SourceSet};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A route file (`.mcproute`, `.yaml`, `.yml`), a directory of them (one route set), or a
    /// directory of such directories (each checked as its own route set, like `examples/`).
    pub path: PathBuf,
    /// How to report: `human` draws each problem with its source lines on stderr and a summary
    /// on stdout; `json` prints one object `{"ok", "diagnostics", "summary"}` on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Drawn diagnostics and a summary, for people.
    Human,
    /// One JSON object, for editors and CI.
    Json,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let sets = route_set_dirs(&args.path);
    if sets.is_empty() {
        return run_one(args);
    }
    // Each subdirectory is its own route set; the worst exit code wins.
    let mut worst = EXIT_OK;
    let progress = Progress::new(sets.len() as u64, "checking");
    for dir in sets {
        progress.step(dir.display().to_string());
        let code = progress.suspend(|| {
            if args.format == Format::Human {
                out(format!("== {}\n", dir.display()));
            }
            run_one(CheckArgs {
                path: dir.clone(),
                format: args.format,
            })
        });
        worst = worst.max(if code == ExitCode::from(EXIT_USAGE) {
            EXIT_USAGE
        } else if code == ExitCode::from(EXIT_FINDINGS) {
            EXIT_FINDINGS
        } else {
            EXIT_OK
        });
    }
    progress.finish();
    ExitCode::from(worst)
}

/// The subdirectories holding route files, when `path` is a directory with no route files of its
/// own; empty otherwise.
fn route_set_dirs(path: &std::path::Path) -> Vec<PathBuf> {
    let is_route_file = |p: &std::path::Path| p.is_file() && SourceKind::of(p).is_some();
    let Ok(entries) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    if entries.iter().any(|p| is_route_file(p)) {
        return Vec::new();
    }
    let mut dirs: Vec<PathBuf> = entries
        .into_iter()
        .filter(|d| {
            d.is_dir()
                && std::fs::read_dir(d)
                    .map(|mut rd| rd.any(|e| e.is_ok_and(|e| is_route_file(&e.path()))))
                    .unwrap_or(false)
        })
        .collect();
    dirs.sort();
    dirs
}

fn run_one(args: CheckArgs) -> ExitCode {
    let CheckArgs { path, format } = args;
    // `SourceSet::load` judges the extension first; a path that is not there at all deserves
    // "cannot read", not "not a route file".
    let loaded = match std::fs::metadata(&path) {
        Err(source) => Err(LoadError::Io {
            path: path.clone(),
            source,
        }),
        Ok(_) => SourceSet::load(&path),
    };
    let sources = match loaded {
        Ok(s) => s,
        Err(e) => {
            match format {
                Format::Human => err(format!("error: {e}\n")),
                Format::Json => {
                    let diags: Diagnostics = [Diag::error(codes::LOAD_ERROR, e.to_string())]
                        .into_iter()
                        .collect();
                    let report = serde_json::json!({
                        "ok": false,
                        "diagnostics": diags.to_json(&SourceSet::new()),
                        "summary": null,
                    });
                    out(format!("{report}\n"));
                }
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let compiled = compile(&sources, &ProcessEnv);
    match format {
        Format::Human => human(&compiled, &sources),
        Format::Json => json(&compiled, &sources),
    }
    ExitCode::from(if compiled.diagnostics.has_errors() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

fn human(compiled: &Compiled, sources: &SourceSet) {
    let Compiled { plan, diagnostics } = compiled;
    print_diagnostics(diagnostics, sources);
    if let Some(plan) = plan {
        for line in summary_lines(plan) {
            out(format!("{line}\n"));
        }
    }
    let verdict = if diagnostics.has_errors() {
        "failed"
    } else {
        "ok"
    };
    out(format!(
        "{verdict}: {}, {}\n",
        count(diagnostics.error_count(), "error"),
        count(diagnostics.warning_count(), "warning")
    ));
}

fn json(compiled: &Compiled, sources: &SourceSet) {
    let Compiled { plan, diagnostics } = compiled;
    let report = serde_json::json!({
        "ok": !diagnostics.has_errors(),
        "diagnostics": diagnostics.to_json(sources),
        "summary": plan.as_ref().map(summary_json),
    });
    out(format!("{report}\n"));
}

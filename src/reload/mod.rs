//! Hot reload: recompile the routes off to the side and swap the whole plan, or keep the old one.
//!
//! Every trigger (a change under the routes path, SIGHUP, `POST /_mcp2/reload`) ends in
//! [`Reloader::reload`]. It reads and compiles the routes without touching what is serving; with
//! errors, the running plan stays, the rendered diagnostics are logged and returned, and the
//! failure is counted. A clean plan is handed to the gateway, which reconnects only the upstreams
//! whose spec changed (unchanged ones keep their connection and child process), swaps the plan
//! atomically and drains removed upstreams. Reloads run one at a time.
//!
//! Routes that are empty (every file blank) are rejected rather than applied: that is what a
//! file looks like between an editor truncating it and writing it, and applying it would stop
//! every upstream and show clients empty lists. (Starting on empty routes stays allowed.)

pub mod watch;

use crate::lock;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::check::{self, Env};
use crate::diag::{self, Diagnostics, RenderOptions};
use crate::gateway::Gateway;
use crate::plan::Plan;
use crate::source::SourceSet;

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    FileChange,
    Signal,
    Http,
}

/// How a reload ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The new plan is serving.
    Applied {
        upstreams_started: Vec<String>,
        upstreams_restarted: Vec<String>,
        upstreams_stopped: Vec<String>,
        upstreams_kept: usize,
        /// Warnings of the new plan, rendered.
        warnings: Vec<String>,
        /// Settings that only take effect after a restart (a changed `listen`, `admin`, `limits`
        /// or `cluster`).
        needs_restart: Vec<String>,
    },
    /// The routes have errors (or could not be read); the previous plan keeps serving.
    Rejected {
        errors: usize,
        /// Every diagnostic, rendered as `mcp2 check` prints them.
        rendered: Vec<String>,
        /// The same as JSON (`mcp2 check --format json`).
        diagnostics: serde_json::Value,
    },
}

impl ReloadOutcome {
    pub fn applied(&self) -> bool {
        matches!(self, ReloadOutcome::Applied { .. })
    }
}

/// One past reload, for the admin endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadRecord {
    pub at: SystemTime,
    pub trigger: Trigger,
    pub duration_ms: f64,
    #[serde(flatten)]
    pub outcome: ReloadOutcome,
}

/// Diagnostics in logs and JSON answers: plain ASCII, no colour.
const LOG_RENDER: RenderOptions = RenderOptions {
    color: false,
    unicode: false,
    width: 100,
};

/// How many past reloads are remembered.
const HISTORY: usize = 20;

pub struct Reloader {
    gateway: Arc<Gateway>,
    routes: PathBuf,
    env: Box<dyn Env + Send + Sync>,
    /// The `listen` the process started with (changing it needs a restart).
    listen: SocketAddr,
    /// The plan the process started with: its `admin { … }`, `limits { … }` and `cluster { … }`
    /// are read once, so every reload whose routes differ from them says a restart is needed
    /// (compared with the start, not the previous reload, which already swapped them in).
    started: Arc<Plan>,
    /// One reload at a time: a trigger during a reload waits, then compiles the newest files.
    running: tokio::sync::Mutex<()>,
    history: Mutex<VecDeque<ReloadRecord>>,
    applied: AtomicU64,
    rejected: AtomicU64,
}

impl Reloader {
    pub fn new(
        gateway: Arc<Gateway>,
        routes: PathBuf,
        env: Box<dyn Env + Send + Sync>,
        listen: SocketAddr,
    ) -> Arc<Self> {
        Arc::new(Self {
            started: gateway.plan(),
            gateway,
            routes,
            env,
            listen,
            running: tokio::sync::Mutex::new(()),
            history: Mutex::new(VecDeque::new()),
            applied: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        })
    }

    pub fn routes(&self) -> &std::path::Path {
        &self.routes
    }

    /// Reloads counted so far: (applied, rejected).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.applied.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
        )
    }

    /// The most recent reloads, newest last.
    pub fn history(&self) -> Vec<ReloadRecord> {
        lock(&self.history).iter().cloned().collect()
    }

    pub async fn reload(self: &Arc<Self>, trigger: Trigger) -> ReloadOutcome {
        let _one_at_a_time = self.running.lock().await;
        let started = Instant::now();
        let this = Arc::clone(self);
        let compiled = tokio::task::spawn_blocking(move || this.compile()).await;
        let outcome = match compiled {
            Ok(Ok((plan, warnings))) => self.apply(plan, warnings).await,
            Ok(Err(rejected)) => *rejected,
            Err(join) => rejected_with(format!("the compiler crashed: {join}")),
        };
        let duration = started.elapsed();
        self.record(trigger, duration, &outcome);
        outcome
    }

    /// Reads and compiles the routes: the plan and its rendered warnings, or the rejection.
    fn compile(&self) -> Result<(Plan, Vec<String>), Box<ReloadOutcome>> {
        let sources =
            SourceSet::load(&self.routes).map_err(|e| Box::new(rejected_with(e.to_string())))?;
        if sources.files().iter().all(|f| f.text.trim().is_empty()) {
            return Err(Box::new(rejected_with(format!(
                "{} is empty (a file caught while it is being written?)",
                self.routes.display()
            ))));
        }
        let compiled = check::compile(&sources, self.env.as_ref());
        let rendered = |d: &Diagnostics| -> Vec<String> {
            d.sorted()
                .into_iter()
                .map(|d| diag::render(d, &sources, LOG_RENDER))
                .collect()
        };
        match compiled.plan {
            Some(plan) if !compiled.diagnostics.has_errors() => {
                Ok((plan, rendered(&compiled.diagnostics)))
            }
            _ => Err(Box::new(ReloadOutcome::Rejected {
                errors: compiled.diagnostics.error_count(),
                rendered: rendered(&compiled.diagnostics),
                diagnostics: compiled.diagnostics.to_json(&sources),
            })),
        }
    }

    async fn apply(&self, plan: Plan, warnings: Vec<String>) -> ReloadOutcome {
        let mut needs_restart = Vec::new();
        if plan.listen != self.listen {
            needs_restart.push(format!(
                "listen changed from {} to {}; restart mcp2 to move it",
                self.listen, plan.listen
            ));
        }
        if plan.admin != self.started.admin {
            needs_restart.push(
                "the admin block changed; restart mcp2 to apply it (the running one stays)".into(),
            );
        }
        if plan.serve != self.started.serve {
            needs_restart.push(
                "the limits block changed; restart mcp2 to apply it (the running limits stay)"
                    .into(),
            );
        }
        if plan.cluster != self.started.cluster {
            needs_restart.push(
                "the cluster block changed; restart mcp2 to apply it (the running session key and Redis stay)"
                    .into(),
            );
        }
        let report = self.gateway.swap_plan(plan).await;
        let names = |v: &[crate::plan::UpstreamId]| v.iter().map(|u| u.to_string()).collect();
        ReloadOutcome::Applied {
            upstreams_started: names(&report.started),
            upstreams_restarted: names(&report.restarted),
            upstreams_stopped: names(&report.stopped),
            upstreams_kept: report.kept.len(),
            warnings,
            needs_restart,
        }
    }

    fn record(&self, trigger: Trigger, duration: Duration, outcome: &ReloadOutcome) {
        let ms = duration.as_secs_f64() * 1000.0;
        match outcome {
            ReloadOutcome::Applied {
                upstreams_started,
                upstreams_restarted,
                upstreams_stopped,
                upstreams_kept,
                warnings,
                needs_restart,
            } => {
                self.applied.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    ?trigger,
                    duration_ms = ms,
                    started = ?upstreams_started,
                    restarted = ?upstreams_restarted,
                    stopped = ?upstreams_stopped,
                    kept = upstreams_kept,
                    "routes reloaded"
                );
                for w in warnings {
                    tracing::warn!("reloaded routes have a warning:\n{w}");
                }
                for r in needs_restart {
                    tracing::warn!("{r}");
                }
            }
            ReloadOutcome::Rejected {
                errors, rendered, ..
            } => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    ?trigger,
                    errors,
                    "reload rejected; the previous routes keep serving:\n{}",
                    rendered.join("\n")
                );
            }
        }
        let mut history = lock(&self.history);
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(ReloadRecord {
            at: SystemTime::now(),
            trigger,
            duration_ms: ms,
            outcome: outcome.clone(),
        });
    }
}

fn rejected_with(message: String) -> ReloadOutcome {
    ReloadOutcome::Rejected {
        errors: 1,
        rendered: vec![message.clone()],
        diagnostics: serde_json::json!([{ "code": diag::codes::LOAD_ERROR, "severity": "error", "message": message }]),
    }
}

//! The audit trail: one JSON line per decision that matters — every tool call, resource read
//! and prompt get (allowed or denied) and every authentication failure — to its own sink, a
//! rotated file or standard output, configured by `audit { … }` in the routes.
//!
//! Records are written whatever the log level: this is not `tracing`. A record names the caller
//! by token subject or API key name, never by a secret. [`Auditor`] follows the plan: a reload
//! that changes the `audit` block reopens the sink; one that removes it stops the records.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::plan::authz::Identity;
use crate::plan::rules::RuleRef;
use crate::plan::{AuditSettings, AuditSink, Endpoint, Plan};
use crate::telemetry::file::{RotatingFile, Rotation};

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
}

/// One audit record.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// `tools/call`, `resources/read`, `prompts/get`, or `authenticate`.
    pub event: &'a str,
    /// Token subject, or `key:NAME`; absent for anonymous callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    pub endpoint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<&'a str>,
    /// The name (or URI) the client used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<&'a str>,
    /// The name (or URI) the upstream knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<&'a str>,
    pub decision: Verdict,
    /// The rule that decided, as written, and where (`file:line`); absent when a default did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_at: Option<String>,
    /// `ok`, `error` (the upstream answered with an error), `denied`, `unknown` (no such
    /// item), `refused` (authentication failed).
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    pub duration_ms: f64,
}

impl<'a> Record<'a> {
    /// A record for a request on `endpoint` by `identity`, to be completed by the caller.
    pub fn new(event: &'a str, endpoint: &'a str, identity: &Identity) -> Self {
        Record {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            event,
            caller: identity.name(),
            endpoint,
            profile: None,
            public: None,
            upstream: None,
            original: None,
            decision: Verdict::Allow,
            rule: None,
            rule_at: None,
            outcome: "ok",
            error: None,
            duration_ms: 0.0,
        }
    }

    pub fn rule(mut self, rule: Option<&'a RuleRef>) -> Self {
        if let Some(r) = rule {
            self.rule = Some(&r.text);
            self.rule_at = Some(format!("{}:{}", r.origin.file, r.origin.line));
        }
        self
    }

    pub fn took(mut self, d: Duration) -> Self {
        self.duration_ms = (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        self
    }
}

enum Sink {
    Stdout,
    File(Box<RotatingFile>),
}

/// Writes audit records to the sink the current plan names.
#[derive(Default)]
pub struct Auditor {
    open: Mutex<Option<(AuditSettings, Sink)>>,
}

impl Auditor {
    /// Writes one record, if the plan has an audit sink. A sink that cannot be written is
    /// reported in the log, never to the client.
    pub fn write(&self, plan: &Plan, record: &Record<'_>) {
        let Some(settings) = &plan.audit else {
            return;
        };
        let mut line = match serde_json::to_vec(record) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "audit record could not be encoded");
                return;
            }
        };
        line.push(b'\n');
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.as_ref().is_none_or(|(s, _)| s != settings) {
            match open_sink(settings) {
                Ok(sink) => *open = Some((settings.clone(), sink)),
                Err(e) => {
                    tracing::error!(error = %e, "the audit file cannot be opened; record lost");
                    *open = None;
                    return;
                }
            }
        }
        let written = match open.as_mut().map(|(_, s)| s) {
            Some(Sink::File(f)) => f.write_all(&line).and_then(|()| f.flush()),
            Some(Sink::Stdout) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&line).and_then(|()| out.flush())
            }
            None => Ok(()),
        };
        if let Err(e) = written {
            tracing::error!(error = %e, "an audit record could not be written");
        }
    }

    /// Records a refused authentication.
    pub fn auth_failure(&self, plan: &Plan, endpoint: &Endpoint, reason: &str) {
        let mut record = Record::new("authenticate", &endpoint.path, &Identity::default());
        record.profile = Some(endpoint.profile.as_str());
        record.decision = Verdict::Deny;
        record.outcome = "refused";
        record.error = Some(reason);
        self.write(plan, &record);
    }
}

fn open_sink(settings: &AuditSettings) -> Result<Sink, crate::telemetry::file::LogFileError> {
    match &settings.sink {
        AuditSink::Stdout => Ok(Sink::Stdout),
        AuditSink::File {
            path,
            max_size_mb,
            max_backups,
        } => {
            let rotation = Rotation {
                max_bytes: usize::try_from(max_size_mb.saturating_mul(1024 * 1024))
                    .unwrap_or(usize::MAX),
                max_backups: usize::try_from(*max_backups).unwrap_or(usize::MAX).max(1),
                max_age: None,
                compress: false,
            };
            RotatingFile::open(path, rotation).map(|f| Sink::File(Box::new(f)))
        }
    }
}

//! Results: one table per scenario with the direct figure, the mcp2 figure, their ratio and
//! the target, printed as text and written as JSON.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// A goal for the mcp2 column, from the performance issue.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// mcp2 / direct must not exceed this.
    RatioAtMost(f64),
    /// mcp2 / direct must reach this.
    RatioAtLeast(f64),
    /// The mcp2 figure itself must not exceed this.
    AtMost(f64),
}

impl Target {
    fn met(self, direct: Option<f64>, mcp2: Option<f64>) -> Option<bool> {
        let m = mcp2?;
        match self {
            Target::AtMost(limit) => Some(m <= limit),
            Target::RatioAtMost(limit) => ratio(direct, Some(m)).map(|r| r <= limit),
            Target::RatioAtLeast(limit) => ratio(direct, Some(m)).map(|r| r >= limit),
        }
    }

    fn describe(self) -> String {
        match self {
            Target::AtMost(v) => format!("≤ {}", number(v)),
            Target::RatioAtMost(v) => format!("≤ {v}×"),
            Target::RatioAtLeast(v) => format!("≥ {v}×"),
        }
    }
}

fn ratio(direct: Option<f64>, mcp2: Option<f64>) -> Option<f64> {
    match (direct, mcp2) {
        (Some(d), Some(m)) if d > 0.0 => Some(m / d),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub direct: Option<f64>,
    pub mcp2: Option<f64>,
    pub ratio: Option<f64>,
    pub target: Option<Target>,
    pub target_met: Option<bool>,
}

impl Row {
    pub fn new(metric: impl Into<String>, direct: Option<f64>, mcp2: Option<f64>) -> Self {
        Self {
            metric: metric.into(),
            direct,
            mcp2,
            ratio: ratio(direct, mcp2),
            target: None,
            target_met: None,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self.target_met = target.met(self.direct, self.mcp2);
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub scenario: String,
    pub title: String,
    pub rows: Vec<Row>,
    /// Requests answered wrongly or failed, both sides together; a run with any is not valid.
    pub errors: u64,
    pub notes: Vec<String>,
}

impl Table {
    pub fn new(scenario: &str, title: impl Into<String>) -> Self {
        Self {
            scenario: scenario.into(),
            title: title.into(),
            rows: Vec::new(),
            errors: 0,
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n== {} ==", self.title);
        let width = self
            .rows
            .iter()
            .map(|r| r.metric.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>12}  {:>12}  {:>8}  target",
            "metric", "direct", "mcp2", "ratio"
        );
        for r in &self.rows {
            let target = match (r.target, r.target_met) {
                (Some(t), Some(true)) => format!("{}  ok", t.describe()),
                (Some(t), Some(false)) => format!("{}  MISSED", t.describe()),
                (Some(t), None) => t.describe(),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {:>12}  {:>12}  {:>8}  {}",
                r.metric,
                cell(r.direct),
                cell(r.mcp2),
                r.ratio
                    .map(|x| format!("{x:.2}×"))
                    .unwrap_or_else(|| "—".into()),
                target
            );
        }
        if self.errors > 0 {
            let _ = writeln!(
                out,
                "  !! {} requests failed or answered wrongly",
                self.errors
            );
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out
    }
}

fn cell(v: Option<f64>) -> String {
    v.map(number).unwrap_or_else(|| "—".into())
}

/// A figure with as many decimals as it deserves.
fn number(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A quantile of a µs histogram, in µs (`None` when it is empty).
pub fn quantile_us(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64)
}

/// A quantile of a µs histogram, in ms.
pub fn quantile_ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    quantile_us(h, q).map(|us| us / 1000.0)
}

/// The whole run, as written to JSON.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub settings: serde_json::Value,
    pub machine: serde_json::Value,
    pub tables: Vec<Table>,
}

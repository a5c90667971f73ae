//! The request metrics of one label set, found again by the label values.
//!
//! Recording a request through the `metrics` macros builds its label set every time (a dozen
//! string copies) and the recorder hashes it to find the series. Here the handles of each
//! label set are kept, found by a hash of the borrowed values, and each outcome's counters are
//! registered the first time that outcome happens (a series appears in `/_mcp2/metrics` only
//! once it has counted something, as before). The number of label sets kept is bounded: past
//! [`MAX_SERIES`] (a client naming ever new unknown tools), requests are recorded through the
//! macros, uncached, exactly as before.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, OnceLock};

use metrics::{Counter, Histogram, counter, histogram};

use super::events::{Outcome, RequestFields};
use super::metrics as m;

/// Label sets kept at most.
pub const MAX_SERIES: usize = 4096;

const OUTCOMES: usize = Outcome::ALL.len();

struct Series {
    labels: [(&'static str, String); 5],
    requests: [Option<Counter>; OUTCOMES],
    errors: [Option<Counter>; OUTCOMES],
    duration: Histogram,
}

impl Series {
    fn has(&self, values: &[&str; 5]) -> bool {
        self.labels
            .iter()
            .map(|(_, v)| v.as_str())
            .eq(values.iter().copied())
    }
}

#[derive(Default)]
struct Table {
    hasher: RandomState,
    by_hash: HashMap<u64, Vec<Series>>,
    len: usize,
}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Counts one request of `fields` that ended with `outcome` after `seconds`.
pub fn record(fields: &RequestFields, outcome: Outcome, seconds: f64) {
    // Without a recorder every handle is a no-op; keeping no-op handles would hide the
    // requests from a recorder installed later.
    if !m::installed() {
        return uncached(fields, outcome, seconds);
    }
    let values = fields.label_values();
    let mut table = table();
    let hash = table.hasher.hash_one(values);
    let position = table
        .by_hash
        .get(&hash)
        .and_then(|bucket| bucket.iter().position(|s| s.has(&values)));
    let series = match position {
        Some(p) => table.by_hash.get_mut(&hash).and_then(|b| b.get_mut(p)),
        None if table.len < MAX_SERIES => {
            let labels = fields.labels();
            let series = Series {
                duration: histogram!(m::DURATION, &labels),
                labels,
                requests: Default::default(),
                errors: Default::default(),
            };
            table.len += 1;
            let bucket = table.by_hash.entry(hash).or_default();
            bucket.push(series);
            bucket.last_mut()
        }
        None => None,
    };
    let Some(series) = series else {
        drop(table);
        return uncached(fields, outcome, seconds);
    };
    let i = outcome.index();
    let labels = &series.labels;
    let with_outcome = || {
        let mut labels = labels.to_vec();
        labels.push(("outcome", outcome.as_str().to_string()));
        labels
    };
    series.requests[i]
        .get_or_insert_with(|| counter!(m::REQUESTS, &with_outcome()))
        .increment(1);
    if outcome != Outcome::Ok {
        series.errors[i]
            .get_or_insert_with(|| counter!(m::ERRORS, &with_outcome()))
            .increment(1);
    }
    series.duration.record(seconds);
}

fn uncached(fields: &RequestFields, outcome: Outcome, seconds: f64) {
    let labels = fields.labels();
    let mut with_outcome = labels.to_vec();
    with_outcome.push(("outcome", outcome.as_str().to_string()));
    counter!(m::REQUESTS, &with_outcome).increment(1);
    if outcome != Outcome::Ok {
        counter!(m::ERRORS, &with_outcome).increment(1);
    }
    histogram!(m::DURATION, &labels).record(seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_index_their_own_place() {
        for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome.index(), i, "{outcome:?}");
        }
    }

    fn line<'a>(text: &'a str, metric: &str, outcome: &str) -> Option<&'a str> {
        text.lines().find(|l| {
            l.starts_with(metric)
                && l.contains(r#"endpoint="/series-test""#)
                && l.contains(&format!(r#"outcome="{outcome}""#))
        })
    }

    #[test]
    fn cached_series_count_like_the_macros_and_only_outcomes_that_happened_appear() {
        m::install();
        let fields = RequestFields {
            endpoint: "/series-test".into(),
            profile: "p".into(),
            upstream: "u".into(),
            method: "tools/call",
            public: "u__echo".into(),
            original: "echo".into(),
        };
        record(&fields, Outcome::Ok, 0.001);
        record(&fields, Outcome::Ok, 0.002);
        record(&fields, Outcome::Timeout, 0.5);
        let text = m::render().expect("a recorder");
        let ok = line(&text, m::REQUESTS, "ok").expect("ok counted");
        assert!(
            ok.ends_with(" 2") && ok.contains(r#"tool="u__echo""#),
            "{ok}"
        );
        assert!(line(&text, m::REQUESTS, "timeout").is_some_and(|l| l.ends_with(" 1")));
        assert!(line(&text, m::ERRORS, "timeout").is_some_and(|l| l.ends_with(" 1")));
        assert!(
            line(&text, m::ERRORS, "ok").is_none(),
            "no error series for ok"
        );
        assert!(line(&text, m::REQUESTS, "cancelled").is_none());
        let count = format!("{}_count", m::DURATION);
        let durations = text
            .lines()
            .find(|l| l.starts_with(&count) && l.contains(r#"endpoint="/series-test""#))
            .expect("durations");
        assert!(durations.ends_with(" 3"), "{durations}");
    }
}

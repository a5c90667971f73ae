//! The Prometheus text of `/_mcp2/metrics`, parsed strictly, and sums over label sets.

use std::collections::BTreeMap;

use super::process::Mcp2;

/// Parses the Prometheus text format strictly: every sample line is `name{labels} value`, every
/// comment is `# HELP`/`# TYPE`. Keys are `name{labels as written}`.
pub fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "bad comment line: {line}"
            );
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line: {line}"));
        let name_end = key.find('{').unwrap_or(key.len());
        let name = &key[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in: {line}"
        );
        if name_end < key.len() {
            assert!(key.ends_with('}'), "unterminated labels in: {line}");
        }
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in: {line}")),
        };
        samples.insert(key.to_string(), value);
    }
    samples
}

pub async fn metrics(mcp2: &Mcp2) -> BTreeMap<String, f64> {
    metrics_with(mcp2, None).await
}

/// [`metrics`] with the admin token, when the admin endpoints need one.
pub async fn metrics_with(mcp2: &Mcp2, token: Option<&str>) -> BTreeMap<String, f64> {
    let mut request = reqwest::Client::new().get(mcp2.url("/_mcp2/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("metrics answer");
    assert_eq!(response.status(), 200);
    parse_prometheus(&response.text().await.expect("metrics body"))
}

/// The sum of every sample of `name` whose labels include all of `labels`.
pub fn sum(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) || k.as_str() == name)
        .filter(|(k, _)| {
            labels
                .iter()
                .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| v)
        .sum()
}

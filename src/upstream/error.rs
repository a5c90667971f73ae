//! [`UpstreamError`]: why an upstream could not be reached, started or used.
//!
//! Every message is built here from our own words plus the cause's text, and the cause's text is
//! passed through [`Redactor`] first: header values and child environment values are credentials,
//! and a server may echo a request back in an error body. URLs are shown without user info and
//! query string for the same reason.

use std::time::Duration;

use url::Url;

use crate::plan::{TransportSpec, UpstreamSpec};

/// Why an upstream is unusable. Cheap to clone: the state of a down upstream keeps one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The stdio child could not be started (missing program, permission, bad cwd).
    #[error("could not start `{command}`: {reason}")]
    Spawn { command: String, reason: String },
    /// The HTTP or SSE endpoint could not be reached, or the transport failed.
    #[error("could not connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    /// The transport worked but the MCP `initialize` exchange did not.
    #[error("MCP handshake failed: {reason}")]
    Handshake { reason: String },
    /// The upstream answered with an HTTP error status.
    #[error("{target} answered HTTP {status}")]
    Http { target: String, status: u16 },
    /// Connecting (or waiting for a connection) took longer than allowed.
    #[error("{what} timed out after {}", humanize(*after))]
    Timeout { what: &'static str, after: Duration },
    /// An established connection ended (child exited, stream closed, liveness probe failed).
    #[error("connection closed: {reason}")]
    Closed { reason: String },
    /// The upstream is down and will be retried; `error` is its last error.
    #[error("upstream `{upstream}` is down: {error}")]
    Down { upstream: String, error: String },
    /// The upstream was removed by a reload or the registry was shut down.
    #[error("upstream `{upstream}` was stopped")]
    Stopped { upstream: String },
    /// The spec cannot be used as written (a header the transport owns, a header value that is
    /// not valid in HTTP). The checker should have caught it; this is the last line of defence.
    #[error("invalid upstream configuration: {reason}")]
    Config { reason: String },
}

fn humanize(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// A URL as it may be shown: scheme, host, port and path, never user info or query.
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Replaces every configured secret value found in a text with `<redacted>`.
///
/// Built once per upstream from its spec. Very short values (under 4 bytes) are not searched
/// for: they would redact ordinary words, and are not credentials anyone should rely on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    const MIN_LEN: usize = 4;

    pub(crate) fn for_spec(spec: &UpstreamSpec) -> Self {
        let mut secrets: Vec<String> = spec
            .headers
            .iter()
            .map(|(_, v)| v.expose().to_string())
            .collect();
        if let TransportSpec::Stdio { env, .. } = &spec.transport {
            secrets.extend(env.values().map(|v| v.expose().to_string()));
        }
        // A header such as `Bearer abc123` also leaks if only `abc123` is echoed.
        let parts: Vec<String> = secrets
            .iter()
            .flat_map(|s| s.split_whitespace().skip(1).map(str::to_string))
            .collect();
        secrets.extend(parts);
        secrets.retain(|s| s.len() >= Self::MIN_LEN);
        // Longest first, so a value containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub(crate) fn clean(&self, text: impl Into<String>) -> String {
        let mut text = text.into();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text
    }

    /// The text of an error and all its sources, joined with `: `, then cleaned.
    pub(crate) fn chain(&self, error: &(dyn std::error::Error + 'static)) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let more = cause.to_string();
            if !text.contains(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            source = cause.source();
        }
        self.clean(text)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::{Secret, UpstreamId};
    use crate::source::Location;

    fn spec() -> UpstreamSpec {
        let mut env = BTreeMap::new();
        env.insert("API_KEY".to_string(), Secret::new("envsecret-42", vec![]));
        UpstreamSpec {
            id: UpstreamId::new("u"),
            transport: TransportSpec::Stdio {
                command: "x".into(),
                args: vec![],
                env,
                cwd: None,
            },
            headers: vec![(
                "Authorization".into(),
                Secret::new("Bearer tok-123456", vec![]),
            )],
            auth: None,
            timeout: UpstreamSpec::DEFAULT_TIMEOUT,
            connect_timeout: UpstreamSpec::DEFAULT_CONNECT_TIMEOUT,
            session: Default::default(),
            protocol: Default::default(),
            origin: Location {
                file: "f".into(),
                line: 1,
                col: 1,
            },
        }
    }

    #[test]
    fn redacts_header_values_their_tokens_and_env_values() {
        let r = Redactor::for_spec(&spec());
        let out = r.clean("sent Bearer tok-123456, echoed tok-123456 and envsecret-42");
        assert!(!out.contains("tok-123456"), "{out}");
        assert!(!out.contains("envsecret-42"), "{out}");
        assert_eq!(out, "sent <redacted>, echoed <redacted> and <redacted>");
    }

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        let url = Url::parse("https://user:pw@example.com:8443/mcp?key=abc#x").unwrap();
        assert_eq!(display_url(&url), "https://example.com:8443/mcp");
    }
}

//! Request and response bodies in the log (`log-requests`, `log-responses`): redacted, capped,
//! one line each with the target `mcp2::body`.
//!
//! [`BodyLog::of`] answers `None` at the cost of two boolean reads when neither setting is on,
//! so a disabled body log serializes nothing. When on, a body (a JSON value, or the raw bytes
//! of a JSON-RPC message for callers that never parse it) goes through [`Redactor`] first:
//! the value of every object key matching the configured secret names becomes `<redacted>`,
//! and every secret value the plan knows (upstream header values, child env values that came
//! from `${VARS}` or sit under a secret-looking name, endpoint credentials, the admin token) is
//! replaced wherever it appears in the text, tool arguments included. Then the text is cut at
//! the configured cap with a marker saying how many bytes were dropped.

use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;

use super::events::RequestFields;
use crate::plan::{EndpointAuth, LoggingSettings, Plan, Secret, TransportSpec};

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Secret values shorter than this are not searched for in text (they would match everywhere
/// and are no secret anyway).
const MIN_SECRET_LEN: usize = 4;
/// A word of a multi-word secret (`Bearer abc…`) this long is searched for on its own too, so a
/// token is caught without its scheme.
const MIN_WORD_LEN: usize = 8;

/// A body to log: parsed, or the raw bytes of one JSON-RPC message.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Json(&'a Value),
    Raw(&'a [u8]),
}

/// Which way a body travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → upstream.
    Request,
    /// Upstream → client.
    Response,
}

/// The body log of one plan.
#[derive(Debug)]
pub struct BodyLog {
    requests: bool,
    responses: bool,
    max_bytes: usize,
    redactor: Redactor,
}

impl BodyLog {
    /// The body log of `plan`, or `None` when it logs no bodies. Built once per plan.
    pub fn of(plan: &Arc<Plan>) -> Option<Arc<BodyLog>> {
        if !plan.logging.log_requests && !plan.logging.log_responses {
            return None;
        }
        static CACHE: Mutex<Option<(Weak<Plan>, Arc<BodyLog>)>> = Mutex::new(None);
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((owner, log)) = cache.as_ref()
            && std::ptr::eq(owner.as_ptr(), Arc::as_ptr(plan))
        {
            return Some(log.clone());
        }
        let log = Arc::new(BodyLog::new(plan));
        *cache = Some((Arc::downgrade(plan), log.clone()));
        Some(log)
    }

    pub fn new(plan: &Plan) -> BodyLog {
        let LoggingSettings {
            log_requests,
            log_responses,
            max_body_kb,
            ..
        } = &plan.logging;
        BodyLog {
            requests: *log_requests,
            responses: *log_responses,
            max_bytes: usize::try_from(max_body_kb.saturating_mul(1024)).unwrap_or(usize::MAX),
            redactor: Redactor::of_plan(plan),
        }
    }

    /// Whether bodies going this way are logged.
    pub fn logs(&self, direction: Direction) -> bool {
        match direction {
            Direction::Request => self.requests,
            Direction::Response => self.responses,
        }
    }

    /// Logs a request body (when requests are logged).
    pub fn request(&self, fields: &RequestFields, body: Body<'_>) {
        self.log(Direction::Request, fields, body);
    }

    /// Logs a response body (when responses are logged).
    pub fn response(&self, fields: &RequestFields, body: Body<'_>) {
        self.log(Direction::Response, fields, body);
    }

    fn log(&self, direction: Direction, fields: &RequestFields, body: Body<'_>) {
        // Redacting and rendering a body costs; skip it when the line would be dropped.
        if !self.logs(direction) || !tracing::enabled!(target: "mcp2::body", tracing::Level::INFO) {
            return;
        }
        let (body, dropped) = self.render(body);
        let direction = match direction {
            Direction::Request => "request",
            Direction::Response => "response",
        };
        let f = fields;
        tracing::info!(
            target: "mcp2::body",
            endpoint = %f.endpoint, profile = %f.profile, upstream = %f.upstream,
            method = f.method, public = %f.public, original = %f.original,
            direction, truncated_bytes = dropped, body = %body, "{direction} body"
        );
    }

    /// The text logged for `body`: redacted, then cut at the cap. Also how many bytes were cut.
    pub fn render(&self, body: Body<'_>) -> (String, usize) {
        let text = match body {
            Body::Json(value) => self.redactor.json_text(value.clone()),
            Body::Raw(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => self.redactor.json_text(value),
                Err(_) => self.redactor.text(&String::from_utf8_lossy(bytes)),
            },
        };
        cap(text, self.max_bytes)
    }
}

/// Cuts `text` at `max` bytes (on a character boundary) and says how many bytes were dropped.
fn cap(mut text: String, max: usize) -> (String, usize) {
    if text.len() <= max {
        return (text, 0);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.push_str(&format!("…[truncated {dropped} bytes]"));
    (text, dropped)
}

/// Finds and hides secrets in bodies.
#[derive(Debug, Default)]
pub struct Redactor {
    /// Secret values, longest first (so a value containing another is replaced whole).
    values: Vec<String>,
    /// Secret key names, lower-case without `-` and `_`.
    keys: Vec<String>,
}

impl Redactor {
    /// `keys`: JSON object keys to hide (matched case-insensitively, ignoring `-` and `_`, as a
    /// suffix: `api_key` also hides `x-api-key`); `values`: secret values to hide in any text.
    pub fn new<'a>(
        keys: impl IntoIterator<Item = &'a str>,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Redactor {
        let mut keys: Vec<String> = keys.into_iter().map(normalize_key).collect();
        keys.retain(|k| !k.is_empty());
        keys.sort();
        keys.dedup();
        let mut found = Vec::new();
        for value in values {
            found.push(value.to_string());
            let words: Vec<&str> = value.split_whitespace().collect();
            if words.len() > 1 {
                found.extend(
                    words
                        .into_iter()
                        .filter(|w| w.len() >= MIN_WORD_LEN)
                        .map(str::to_string),
                );
            }
        }
        found.retain(|v| v.len() >= MIN_SECRET_LEN);
        found.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        found.dedup();
        Redactor {
            values: found,
            keys,
        }
    }

    /// The secrets of `plan` and its configured secret key names.
    pub fn of_plan(plan: &Plan) -> Redactor {
        let keys: Vec<&str> = plan
            .logging
            .redact_keys
            .iter()
            .map(String::as_str)
            .collect();
        let looks_secret = Redactor::new(keys.iter().copied(), std::iter::empty());
        let mut values: Vec<&Secret> = Vec::new();
        for spec in plan.upstreams.values() {
            values.extend(spec.headers.iter().map(|(_, v)| v));
            if let TransportSpec::Stdio { env, .. } = &spec.transport {
                values.extend(
                    env.iter()
                        .filter(|(k, v)| !v.vars().is_empty() || looks_secret.is_secret_key(k))
                        .map(|(_, v)| v),
                );
            }
        }
        for endpoint in &plan.endpoints {
            for auth in &endpoint.auth {
                match auth {
                    EndpointAuth::Bearer { secret } | EndpointAuth::Key { secret, .. } => {
                        values.push(secret)
                    }
                    EndpointAuth::OAuth(spec) => {
                        values.extend(spec.introspection.as_ref().map(|i| &i.client_secret))
                    }
                }
            }
        }
        values.extend(plan.admin.token.as_ref());
        Redactor::new(keys, values.into_iter().map(Secret::expose))
    }

    /// Whether the value under the object key `key` is hidden.
    pub fn is_secret_key(&self, key: &str) -> bool {
        let key = normalize_key(key);
        self.keys.iter().any(|k| key.ends_with(k.as_str()))
    }

    /// `value` as JSON text with secret keys' values and secret values hidden.
    pub fn json_text(&self, mut value: Value) -> String {
        self.redact_value(&mut value);
        let text = serde_json::to_string(&value).unwrap_or_default();
        // Object keys may hold a secret too; the text pass catches them.
        self.text(&text)
    }

    /// `text` with every secret value replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    fn redact_value(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if self.is_secret_key(key) && !v.is_null() {
                        *v = Value::String(REDACTED.into());
                    } else {
                        self.redact_value(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::String(s) if self.values.iter().any(|secret| s.contains(secret.as_str())) => {
                *s = self.text(s);
            }
            _ => {}
        }
    }
}

fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests;

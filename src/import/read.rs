//! The client's JSON → [`ClientServer`]s, with a [`Note`] for everything not carried over.
//!
//! Accepted shapes: `{"mcpServers": {NAME: SERVER}}` (Claude Desktop, Cursor, Windsurf, Claude
//! Code) and `{"servers": {NAME: SERVER}}` (VS Code's `mcp.json`). A server is stdio
//! (`command`, `args`, `env`, `cwd`) or remote (`url`, `headers`), with an optional `type`
//! (`stdio`, `http`, `streamable-http`, `sse`) and `disabled`. Any other field is reported
//! with its JSON path instead of being dropped silently.

use indexmap::IndexMap;
use serde::Deserialize;

use super::secrets::{self, Value as Classified};
use super::{ClientServer, ClientTransport, ImportError, Imported, Note, Severity, names};

/// Fields of a server this module reads.
const SERVER_FIELDS: [&str; 8] = [
    "command", "args", "env", "cwd", "url", "headers", "type", "disabled",
];

/// JSON that keeps the order objects were written in (serde_json's own map sorts keys, and
/// server order is priority order in routes).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Object(IndexMap<String, Value>),
    Array(Vec<Value>),
    Scalar(serde_json::Value),
}

type Map<K, V> = IndexMap<K, V>;

impl Value {
    fn as_object(&self) -> Option<&Map<String, Value>> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Value::Scalar(serde_json::Value::Null))
    }

    /// A string, number or boolean as text.
    fn text(&self) -> Option<String> {
        match self {
            Value::Scalar(serde_json::Value::String(s)) => Some(s.clone()),
            Value::Scalar(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                Some(v.to_string())
            }
            _ => None,
        }
    }
}

pub fn servers(json: &Value) -> Result<Imported, ImportError> {
    let top = json.as_object().ok_or(ImportError::NoServers)?;
    let (key, list) = ["mcpServers", "servers"]
        .into_iter()
        .find_map(|k| top.get(k).and_then(Value::as_object).map(|m| (k, m)))
        .ok_or(ImportError::NoServers)?;
    let mut imported = Imported::default();
    for other in top.keys().filter(|k| k.as_str() != key) {
        imported.note(
            Severity::Warning,
            path(&[other]),
            "not imported: mcp2 has no equivalent (only the server list is read)",
        );
    }
    let mut taken: Vec<String> = Vec::new();
    for (raw, server) in list {
        let at = path(&[key, raw]);
        let name = names::sanitize(raw, &taken);
        taken.push(name.clone());
        if name != *raw {
            imported.note(
                Severity::Info,
                at.clone(),
                format!("renamed to `{name}` (upstream names are letters, digits, `_`, `-`, `.`)"),
            );
        }
        let Some(fields) = server.as_object() else {
            imported.note(
                Severity::Error,
                at,
                "expected an object describing the server",
            );
            continue;
        };
        if matches!(
            fields.get("disabled"),
            Some(Value::Scalar(serde_json::Value::Bool(true)))
        ) {
            imported.note(
                Severity::Warning,
                at,
                "disabled in the client, so left out; import it by removing `disabled`",
            );
            continue;
        }
        for field in fields
            .keys()
            .filter(|f| !SERVER_FIELDS.contains(&f.as_str()))
        {
            imported.note(
                Severity::Warning,
                path(&[key, raw, field]),
                "unknown field, not imported",
            );
        }
        if let Some(server) = one(&mut imported, &at, &name, fields) {
            imported.servers.push(server);
        }
    }
    Ok(imported)
}

impl Imported {
    fn note(&mut self, severity: Severity, path: String, message: impl Into<String>) {
        self.notes.push(Note {
            severity,
            path,
            message: message.into(),
        });
    }
}

fn one(
    imported: &mut Imported,
    at: &str,
    name: &str,
    fields: &Map<String, Value>,
) -> Option<ClientServer> {
    let text = |imported: &mut Imported, key: &str| -> Option<String> {
        let value = fields.get(key)?;
        let text = value.text();
        if text.is_none() {
            imported.note(Severity::Error, format!("{at}.{key}"), "expected a string");
        }
        text
    };
    let command = text(imported, "command");
    let url = text(imported, "url");
    let kind = text(imported, "type");
    let transport = match (kind.as_deref(), command, url) {
        (Some("stdio") | None, Some(command), None) => ClientTransport::Stdio {
            command,
            args: strings(imported, fields.get("args"), &format!("{at}.args")),
        },
        (Some("http" | "streamable-http" | "streamableHttp"), None, Some(url)) => {
            ClientTransport::Http { url }
        }
        (Some("sse"), None, Some(url)) => ClientTransport::Sse { url },
        (None, None, Some(url)) => {
            let sse = url.trim_end_matches('/').ends_with("/sse");
            imported.note(
                Severity::Info,
                at.to_string(),
                if sse {
                    "no `type`: the URL ends in /sse, imported as legacy HTTP+SSE (`sse`)"
                } else {
                    "no `type`: imported as Streamable HTTP (`http`)"
                },
            );
            if sse {
                ClientTransport::Sse { url }
            } else {
                ClientTransport::Http { url }
            }
        }
        (Some(other), _, _)
            if !["stdio", "http", "streamable-http", "streamableHttp", "sse"].contains(&other) =>
        {
            imported.note(
                Severity::Error,
                format!("{at}.type"),
                format!("unknown type `{other}`: expected stdio, http, streamable-http or sse"),
            );
            return None;
        }
        (_, Some(_), Some(_)) => {
            imported.note(
                Severity::Error,
                at.to_string(),
                "has both `command` and `url`; a server is either local (stdio) or remote",
            );
            return None;
        }
        _ => {
            imported.note(
                Severity::Error,
                at.to_string(),
                "needs `command` (a local stdio server) or `url` (a remote one) matching its `type`",
            );
            return None;
        }
    };
    let env = pairs(
        imported,
        fields.get("env"),
        &format!("{at}.env"),
        name,
        true,
    );
    let headers = pairs(
        imported,
        fields.get("headers"),
        &format!("{at}.headers"),
        name,
        false,
    );
    if matches!(transport, ClientTransport::Stdio { .. }) && !headers.is_empty() {
        imported.note(
            Severity::Warning,
            format!("{at}.headers"),
            "a stdio server sends no HTTP headers; not imported",
        );
    }
    if !matches!(transport, ClientTransport::Stdio { .. }) && !env.is_empty() {
        imported.note(
            Severity::Warning,
            format!("{at}.env"),
            "a remote server has no environment; not imported",
        );
    }
    let stdio = matches!(transport, ClientTransport::Stdio { .. });
    Some(ClientServer {
        name: name.to_string(),
        transport,
        env: if stdio { env } else { Vec::new() },
        headers: if stdio { Vec::new() } else { headers },
        cwd: text(imported, "cwd"),
    })
}

fn strings(imported: &mut Imported, value: Option<&Value>, at: &str) -> Vec<String> {
    match value {
        None => Vec::new(),
        Some(v) if v.is_null() => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let text = v.text();
                if text.is_none() {
                    imported.note(Severity::Error, format!("{at}[{i}]"), "expected a string");
                }
                text
            })
            .collect(),
        Some(_) => {
            imported.note(
                Severity::Error,
                at.to_string(),
                "expected a list of strings",
            );
            Vec::new()
        }
    }
}

/// `env` / `headers`: each value classified, secrets replaced and their variables recorded.
fn pairs(
    imported: &mut Imported,
    value: Option<&Value>,
    at: &str,
    server: &str,
    is_env: bool,
) -> Vec<(String, String)> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Vec::new();
    };
    let Some(map) = value.as_object() else {
        imported.note(
            Severity::Error,
            at.to_string(),
            "expected an object of names to values",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, v) in map {
        let here = format!("{at}{}", path_segment(key));
        let Some(text) = v.text() else {
            imported.note(Severity::Error, here, "expected a string");
            continue;
        };
        let wanted = secrets::var_name(server, key, is_env);
        let var = unique_var(imported, wanted);
        match secrets::classify(key, &text, &var) {
            Classified::Plain(text) => out.push((key.clone(), text)),
            Classified::Secret { replacement, var } => {
                if !imported.variables.iter().any(|(v, _)| *v == var) {
                    imported.variables.push((var.clone(), here.clone()));
                }
                imported.note(
                    Severity::Info,
                    here,
                    format!(
                        "a secret: the routes read it from ${{{var}}}; set {var} where mcp2 runs"
                    ),
                );
                out.push((key.clone(), replacement));
            }
        }
    }
    out
}

/// `wanted`, or `wanted_2`, … when another secret already uses that variable.
fn unique_var(imported: &Imported, wanted: String) -> String {
    let used = |v: &str| imported.variables.iter().any(|(u, _)| u == v);
    if !used(&wanted) {
        return wanted;
    }
    (2..)
        .map(|n| format!("{wanted}_{n}"))
        .find(|v| !used(v))
        .unwrap_or(wanted)
}

/// `mcpServers.github.env` style, with `["…"]` for keys that are not plain words.
fn path(segments: &[&str]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        let seg = path_segment(s);
        out.push_str(if i == 0 {
            seg.trim_start_matches('.')
        } else {
            &seg
        });
    }
    out
}

fn path_segment(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!(".{key}")
    } else {
        format!("[{}]", serde_json::Value::String(key.to_string()))
    }
}

//! `mcpServers` JSON (Claude Desktop, Cursor, VS Code, …) → the same servers as routes.
//!
//! [`read`] turns the client's file into a list of [`ClientServer`]s and [`Note`]s about what
//! could not be carried over (unknown fields with their JSON path, disabled servers, inferred
//! transports); [`names`] makes server names valid upstream names; [`secrets`] replaces
//! secrets written into `env` and `headers` with `${VAR}` references, never keeping the value;
//! [`emit`] builds the route AST (printed by [`crate::syntax::print`], exactly what
//! `mcp2 convert` would print) or the YAML format. Nothing here prints or decides exit codes:
//! that is `cli::import`'s job.

pub mod emit;
pub mod names;
pub mod read;
pub mod secrets;

#[cfg(test)]
mod tests;

use std::fmt;

/// One server of the client's file, ready to become an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientServer {
    /// A valid upstream name (see [`names`]).
    pub name: String,
    pub transport: ClientTransport,
    /// `NAME = value` pairs; secret values already replaced by `${VAR}`.
    pub env: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTransport {
    Stdio { command: String, args: Vec<String> },
    Http { url: String },
    Sse { url: String },
}

/// What the user should know about the import, with where in the JSON it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub severity: Severity,
    /// JSON path such as `mcpServers.github.autoApprove`.
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Carried over, but the user has something to do or know (set a variable, a rename).
    Info,
    /// Not carried over (an unknown field, a disabled server).
    Warning,
    /// A server that cannot be imported at all.
    Error,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Info => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{level}: {}: {}", self.path, self.message)
    }
}

/// The result of reading a client's file.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub servers: Vec<ClientServer>,
    pub notes: Vec<Note>,
    /// Environment variables the routes now reference and the user must set, in first-use
    /// order, each with the JSON path of the secret it replaces.
    pub variables: Vec<(String, String)>,
}

impl Imported {
    pub fn has_errors(&self) -> bool {
        self.notes.iter().any(|n| n.severity == Severity::Error)
    }
}

/// Why a file could not be read as a client's server list at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "no server list found: expected an object with `mcpServers` (Claude Desktop, Cursor) or `servers` (VS Code's mcp.json)"
    )]
    NoServers,
}

/// Reads a client's `mcpServers` file.
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let json: read::Value = serde_json::from_str(text)?;
    read::servers(&json)
}

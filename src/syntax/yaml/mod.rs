//! The YAML front-end: the seed spec's YAML format → the same [`ast::File`] `.mcproute` gives.
//!
//! Three steps, one module each: [`events`] runs libyaml (the parser `yaml_serde` is built on)
//! and yields events with byte marks; [`tree`] builds a marked tree from them (every scalar, key
//! and collection with its span); [`lower`] reads that tree with [`read`] against the key schema
//! in [`keys`] (whose key lists come from the types in [`schema`]) and produces the AST. Every mistake becomes a [`Diag`](crate::diag::Diag) at the
//! exact key or value, and reading goes on with the next key, so one run reports them all. Only
//! text that is not YAML at all stops the file (libyaml cannot resume after a syntax error).
//!
//! # The format
//!
//! ```yaml
//! defaultProfile: safe                    # → default-profile safe
//! listen: { host: 127.0.0.1, port: 8210 } # → listen 127.0.0.1:8210 (a missing half is defaulted;
//!                                         #   `listen: "host:port"` also works)
//! logging: { level: info, file: /var/log/mcp2.log, maxSizeMB: 100, maxBackups: 3,
//!            maxAgeDays: 30, compress: true, logRequests: true, logResponses: false }
//! servers:                                # → one upstream each, in file order
//!   github:
//!     transport:
//!       kind: http                        # stdio | http (Streamable HTTP) | sse (legacy HTTP+SSE)
//!       url: "https://api.example.com/mcp"           # http, sse (required)
//!       headers: { Authorization: "Bearer ${GITHUB_TOKEN:-}" }   # http, sse
//!     timeout: 30s
//!     connectTimeout: 10s
//!     rateLimit: { requests: 100, per: 1m }          # or `rateLimit: 100/min`
//!   files:
//!     transport: { kind: stdio, command: npx, args: [-y, pkg], env: { K: v }, cwd: /srv }
//! profiles:
//!   safe:
//!     description: "…"                   # the served description unless metadata has one
//!     metadata: { name: "Safe Hub", version: 1.2.0, description: "…" }
//!     prefix: "{upstream}__"
//!     servers:                            # → uses, in this order; `[github, files]` also works
//!       github: {}                        # everything the server offers
//!       files:
//!         tools:     { allow: ["read_*"], deny: ["*write*"] }  # globs; "/…/" is a regex
//!         prompts:   { allow: [...], deny: [...] }
//!         resources: { allow: ["file:///srv/*"] }
//!         rename:    { tools: { read_file: fs_read } }          # also prompts, resources
//!         describe:  { tools: { read_file: "Read a file" } }
//!         limits:    { calls: 100/min, tools: { "search_*": 10/s }, per: session }
//! hub: { path: /mcp, profile: safe }      # → endpoint "/mcp" -> safe
//! exposePerServer: true                   # → endpoint "/servers/{upstream}/mcp" (and the hub at
//!                                         #   `/mcp` when there is no `hub:`)
//! ```
//!
//! # Lowering decisions
//!
//! - A filter means "its `allow` list minus its `deny` list": it becomes `deny` rules, then
//!   `allow` rules (first match wins), each targeting `SERVER/PATTERN`. An `allow` list hides
//!   the rest of that server's items of that kind; a `deny` list alone hides only what it names.
//! - A profile without `servers` (or with an empty one) uses every server, as an empty `use`
//!   does in `.mcproute`.
//! - A file with `servers` but no `profiles` gets one profile named `default` using every
//!   server, and no `default-profile` item (the checker serves `default` unless told otherwise).
//!   A file with neither (say, only `logging`) declares no profile, so it can sit beside
//!   `.mcproute` files.
//! - The hub is always served: at `hub.path` (default `/mcp`), also when only
//!   `exposePerServer` is given (with neither, the checker's default `/mcp` serves it).
//! - `hub` and `exposePerServer` serve `hub.profile`, else `defaultProfile`, else the file's
//!   only profile, else `default` (written at the key, so the checker reads it as the route
//!   set's default profile).
//! - A server's `rateLimit` becomes `limit SERVER RATE` in every profile that uses the server
//!   (in the implicit `default` profile too). `per: 1m` becomes the unit `min` (likewise `s`,
//!   `h`, `day`); other periods stay as written (`100/30s`) for the checker.
//! - Values keep the text written: `version: 1.10` is `"1.10"`, `args: [--port, 3000]` is two
//!   strings. Durations, rates, URLs and `${VAR}` templates are the checker's to interpret.
//! - Items come out as listen, logging, upstreams, profiles, default profile, endpoints.

mod events;
mod keys;
mod lower;
mod read;
pub mod schema;
mod syntax_error;
mod tree;

#[cfg(test)]
mod tests;

use super::ast;
use crate::diag::Diagnostics;
use crate::source::SourceFile;

/// Parses one YAML route file. Problems go to `diags`; the AST holds everything that could be
/// read (empty when the text is not YAML).
pub fn parse(file: &SourceFile, diags: &mut Diagnostics) -> ast::File {
    let Some(root) = tree::load(file, diags) else {
        return ast::File::default();
    };
    let mut reader = read::Reader { diags };
    lower::file(&mut reader, &root)
}

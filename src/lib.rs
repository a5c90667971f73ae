//! mcp2: a production MCP gateway.
//!
//! mcp2 is a compiler in front of a proxy. Route files are compiled into one immutable [`plan::Plan`],
//! and the gateway runs that plan. Each stage is a module with its own input and output types, and
//! no module reaches backwards along the arrow:
//!
//! ```text
//!  routes/*.mcproute ─┐                                   ┌─ /mcp, /mcp/{profile}  (hubs)
//!  routes/*.yaml ─────┼─ syntax ─► AST ─► check ─► Plan ──┼─ /servers/{id}/mcp     (one upstream)
//!  ${ENV} values ─────┘  (spans)         (diag)   (Arc)   ├─ stdio                  (one client)
//!                                                          └─ /_mcp2/*              (admin)
//! ```
//!
//! | stage      | module      | input → output                                   |
//! |------------|-------------|--------------------------------------------------|
//! | load       | [`source`]  | path → [`source::SourceSet`]                     |
//! | parse      | [`syntax`]  | source file → [`syntax::ast::File`]              |
//! | check      | [`check`]   | ASTs → [`plan::Plan`] or [`diag::Diagnostics`]   |
//! | plan       | [`plan`]    | the compiled rules and the pure `decide()`       |
//!
//! Only [`cli`] renders diagnostics and chooses exit codes.

pub mod audit;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod diag;
pub mod explain;
pub mod gateway;
pub mod import;
pub mod login;
pub mod plan;
pub mod reload;
pub mod serve;
pub mod source;
pub mod syntax;
pub mod telemetry;
pub mod upstream;

/// Locks a std mutex, recovering from poisoning: what these mutexes guard stays consistent
/// between statements, and a panic elsewhere must not take serving down.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

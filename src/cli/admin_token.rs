//! `--admin-token` (or `MCP2_ADMIN_TOKEN`), declared once for the subcommands that take it:
//! `serve` requires it on its admin endpoints, `explain --server` presents it. One declaration
//! keeps the flag, its variable and its secrecy (`hide_env_values`) the same in both.

use clap::Args;

#[derive(Debug, Clone, Default, Args)]
pub struct AdminToken {
    /// The bearer token of the admin endpoints (`/_mcp2/*`): `serve` requires it on every one
    /// but `health`, `explain --server` sends it. Prefer the environment variable: a command
    /// line is visible to every local user.
    #[arg(
        long,
        env = "MCP2_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
}

impl AdminToken {
    /// The token given, if any.
    pub fn get(&self) -> Option<&str> {
        self.admin_token.as_deref()
    }
}

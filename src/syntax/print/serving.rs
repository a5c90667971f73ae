//! Printing of the `limits { … }` and `cluster { … }` blocks.

use super::{Bare, bare_or_quoted, quote};
use crate::syntax::ast;

/// `max-body 4MiB`, `header-timeout 10s`, `idle-timeout 30m`: bare when they lex as a word.
pub(super) fn limits_lines(limits: &ast::Limits) -> Vec<String> {
    let ast::Limits {
        max_body,
        header_timeout,
        idle_timeout,
        span: _,
    } = limits;
    [
        ("max-body", max_body),
        ("header-timeout", header_timeout),
        ("idle-timeout", idle_timeout),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        let value = value.as_ref()?;
        Some(format!("{key} {}", bare_or_quoted(Bare::Word, value)))
    })
    .collect()
}

/// `session-key "…"` and `redis "…"` always quoted; `on-redis-unavailable` bare when it can be.
pub(super) fn cluster_lines(cluster: &ast::Cluster) -> Vec<String> {
    let ast::Cluster {
        session_key,
        redis,
        on_redis_unavailable,
        span: _,
    } = cluster;
    let mut lines = Vec::new();
    if let Some(key) = session_key {
        lines.push(format!("session-key {}", quote(key)));
    }
    if let Some(url) = redis {
        lines.push(format!("redis {}", quote(url)));
    }
    if let Some(policy) = on_redis_unavailable {
        lines.push(format!(
            "on-redis-unavailable {}",
            bare_or_quoted(Bare::Word, policy)
        ));
    }
    lines
}

//! Pass 2b: the file-global settings, `listen` and `logging`.
//!
//! Absent settings take the plan's defaults ([`DEFAULT_LISTEN`], [`LoggingSettings::default`]).
//! Returns `None` only when the setting was given and is wrong (the error is reported).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::declare::Decls;
use super::env::expand;
use super::{Cx, errors, values};
use crate::diag::did_you_mean;
use crate::plan::{DEFAULT_LISTEN, LoggingSettings};
use crate::source::Spanned;
use crate::syntax::ast;

pub(super) fn listen(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Option<SocketAddr> {
    let Some(ast::Listen {
        addr,
        origins: _,
        span: _,
    }) = decls.listen
    else {
        return Some(DEFAULT_LISTEN);
    };
    match values::parse_listen(&addr.node) {
        Ok(a) => Some(a),
        Err(e) => {
            cx.push(errors::bad_listen(addr.span, &e.reason));
            None
        }
    }
}

pub(super) fn logging(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Option<LoggingSettings> {
    let defaults = LoggingSettings::default();
    let Some(logging) = decls.logging else {
        return Some(defaults);
    };
    let ast::Logging {
        level,
        file,
        max_size_mb,
        max_backups,
        max_age_days,
        compress,
        log_requests,
        log_responses,
        span: _,
    } = logging;
    let errors_before = cx.error_count();
    if let Some(level) = level {
        check_level(level, cx);
    }
    let file = file
        .as_ref()
        .and_then(|f| expand(cx, f, "the log file").map(|e| PathBuf::from(e.value)));
    let at_least_one = |v: &Option<Spanned<u64>>, what: &str, default: u64, cx: &mut Cx<'_>| match v
    {
        Some(n) if n.node == 0 => {
            cx.push(errors::bad_logging(
                n.span,
                &format!("{what} must be at least 1"),
                "leave the setting out to use the default",
            ));
            default
        }
        Some(n) => n.node,
        None => default,
    };
    let settings = LoggingSettings {
        filter: level
            .as_ref()
            .map_or(defaults.filter, |l| l.node.trim().to_string()),
        file,
        max_size_mb: at_least_one(max_size_mb, "the maximum size", defaults.max_size_mb, cx),
        max_backups: max_backups.map_or(defaults.max_backups, |n| n.node),
        max_age_days: at_least_one(max_age_days, "the maximum age", defaults.max_age_days, cx),
        compress: compress.map_or(defaults.compress, |b| b.node),
        log_requests: log_requests.map_or(defaults.log_requests, |b| b.node),
        log_responses: log_responses.map_or(defaults.log_responses, |b| b.node),
    };
    (cx.error_count() == errors_before).then_some(settings)
}

fn check_level(level: &ast::Str, cx: &mut Cx<'_>) {
    let Err(e) = values::check_log_filter(&level.node) else {
        return;
    };
    let word = level.node.trim();
    let help = match did_you_mean(word, values::LEVELS) {
        Some(s) if !word.contains(['=', ',']) => format!("did you mean `{s}`?"),
        _ => "write a level (`error`, `warn`, `info`, `debug`, `trace`) or directives such as `warn,mcp2::upstream=debug`".to_string(),
    };
    let at = e.at.map_or(level.span, |r| cx.sub_span(level, r));
    cx.push(errors::bad_logging(at, &e.reason, &help));
}

/// `listen … allow-origin ORIGIN…`: each `null` or `scheme://host[:port|:*]` (http or https, no
/// path); a bad one is reported and left out.
pub(super) fn origins(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Vec<String> {
    let Some(listen) = decls.listen else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for origin in &listen.origins {
        match values::parse_origin(&origin.node) {
            Ok(o) => out.push(o),
            Err(reason) => cx.push(
                crate::diag::Diag::error(
                    crate::diag::codes::BAD_ORIGIN,
                    format!("`{}` is not a browser origin", origin.node),
                )
                .at(origin.span, reason)
                .help("write `https://app.example.com`, `http://dev.local:8080`, `http://dev.local:*` or `null`"),
            ),
        }
    }
    out
}

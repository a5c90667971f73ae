//! Pass 2b: the file-global settings, `listen`, `logging` and `admin`.
//!
//! Absent settings take the plan's defaults ([`DEFAULT_LISTEN`], [`LoggingSettings::default`]).
//! Returns `None` only when the setting was given and is wrong (the error is reported).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::declare::Decls;
use super::env::expand;
use super::{Cx, errors, values};
use crate::diag::did_you_mean;
use crate::diag::{Diag, codes};
use crate::plan::{AdminSettings, DEFAULT_LISTEN, LoggingSettings};
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
        max_size_kb,
        max_backups,
        max_age_days,
        compress,
        log_requests,
        log_responses,
        max_body_kb,
        redact_keys,
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
    if let (Some(mb), Some(kb)) = (max_size_mb, max_size_kb) {
        cx.push(
            errors::bad_logging(
                kb.span,
                "`max-size-mb` and `max-size-kb` both set the rotation size",
                "keep only one of them",
            )
            .also(mb.span, "also set here"),
        );
    }
    let mut keys = defaults.redact_keys.clone();
    for key in redact_keys {
        let key = key.node.trim().to_lowercase();
        if !key.is_empty() && !keys.contains(&key) {
            keys.push(key);
        }
    }
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
        max_size_kb: max_size_kb
            .as_ref()
            .map(|_| at_least_one(max_size_kb, "the maximum size", 1, cx)),
        max_body_kb: at_least_one(max_body_kb, "the body cap", defaults.max_body_kb, cx),
        redact_keys: keys,
    };
    (cx.error_count() == errors_before).then_some(settings)
}

/// `admin { listen …  token … }`: the address parsed, the token expanded into a secret.
pub(super) fn admin(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Option<AdminSettings> {
    let Some(ast::Admin {
        listen,
        token,
        span: _,
    }) = decls.admin
    else {
        return Some(AdminSettings::default());
    };
    let errors_before = cx.error_count();
    let listen = listen
        .as_ref()
        .and_then(|addr| match values::parse_listen(&addr.node) {
            Ok(a) => Some(a),
            Err(e) => {
                cx.push(errors::bad_listen(addr.span, &e.reason));
                None
            }
        });
    let token = token.as_ref().and_then(|t| {
        let expanded = expand(cx, t, "the admin token")?;
        if expanded.value.trim().is_empty() {
            cx.push(
                Diag::error(codes::BAD_ADMIN, "the admin token may not be empty")
                    .at(t.span, "empty after expansion")
                    .help("set the variable, or remove `token` to serve the admin endpoints without one"),
            );
            return None;
        }
        Some(expanded.into_secret())
    });
    (cx.error_count() == errors_before).then_some(AdminSettings { listen, token })
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

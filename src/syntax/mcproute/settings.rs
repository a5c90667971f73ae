//! Lowering of the file-global setting blocks: `logging { … }`, `admin { … }`, `limits { … }`
//! and `cluster { … }`.
//!
//! Each setting is allowed once per block (a second one is reported with both places); values
//! stay as written for the checker.

use pest::iterators::Pair;

use super::keywords::Place;
use super::lower::{bool_of, number_of, set_with, str_of};
use super::{Cx, Rule, blocks};
use crate::syntax::ast;

type P<'i> = Pair<'i, Rule>;

pub(super) fn lower_logging(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Logging> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let mut block = blocks::Block::new(cx.span_of(&kw), "logging");
    let mut log = ast::Logging {
        span: span.into(),
        ..ast::Logging::default()
    };
    for p in it {
        let b = &mut block;
        match p.as_rule() {
            Rule::level => b.set(cx, &mut log.level, "level", p),
            Rule::log_file => b.set(cx, &mut log.file, "file", p),
            Rule::max_size_mb => set_with(cx, b, &mut log.max_size_mb, "max-size-mb", p, number_of),
            Rule::max_size_kb => set_with(cx, b, &mut log.max_size_kb, "max-size-kb", p, number_of),
            Rule::max_backups => set_with(cx, b, &mut log.max_backups, "max-backups", p, number_of),
            Rule::max_age_days => {
                set_with(cx, b, &mut log.max_age_days, "max-age-days", p, number_of)
            }
            Rule::max_body_kb => set_with(cx, b, &mut log.max_body_kb, "max-body-kb", p, number_of),
            Rule::compress => set_with(cx, b, &mut log.compress, "compress", p, flag),
            Rule::log_requests => set_with(cx, b, &mut log.log_requests, "log-requests", p, flag),
            Rule::log_responses => {
                set_with(cx, b, &mut log.log_responses, "log-responses", p, flag)
            }
            Rule::redact_keys => {
                let mut keys = None;
                set_with(cx, b, &mut keys, "redact-keys", p, |cx, p| {
                    Some(p.into_inner().skip(1).map(|k| str_of(cx, k)).collect())
                });
                if let Some(keys) = keys {
                    log.redact_keys = keys;
                }
            }
            _ => block.other(cx, p, Place::Logging),
        }
    }
    Some(log)
}

fn flag(cx: &mut Cx<'_>, p: P<'_>) -> Option<crate::source::Spanned<bool>> {
    bool_of(cx, p)
}

pub(super) fn lower_admin(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Admin> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let mut block = blocks::Block::new(cx.span_of(&kw), "admin");
    let mut admin = ast::Admin {
        span: span.into(),
        ..ast::Admin::default()
    };
    for p in it {
        match p.as_rule() {
            Rule::admin_listen => block.set(cx, &mut admin.listen, "listen", p),
            Rule::admin_token => block.set(cx, &mut admin.token, "token", p),
            _ => block.other(cx, p, Place::Admin),
        }
    }
    Some(admin)
}

pub(super) fn lower_limits(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Limits> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let mut block = blocks::Block::new(cx.span_of(&kw), "limits");
    let mut limits = ast::Limits {
        span: span.into(),
        ..ast::Limits::default()
    };
    for p in it {
        let b = &mut block;
        match p.as_rule() {
            Rule::limits_max_body => b.set(cx, &mut limits.max_body, "max-body", p),
            Rule::limits_header_timeout => {
                b.set(cx, &mut limits.header_timeout, "header-timeout", p)
            }
            Rule::limits_idle_timeout => b.set(cx, &mut limits.idle_timeout, "idle-timeout", p),
            _ => block.other(cx, p, Place::Limits),
        }
    }
    Some(limits)
}

pub(super) fn lower_cluster(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Cluster> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let mut block = blocks::Block::new(cx.span_of(&kw), "cluster");
    let mut cluster = ast::Cluster {
        span: span.into(),
        ..ast::Cluster::default()
    };
    for p in it {
        let b = &mut block;
        match p.as_rule() {
            Rule::cluster_session_key => b.set(cx, &mut cluster.session_key, "session-key", p),
            Rule::cluster_redis => b.set(cx, &mut cluster.redis, "redis", p),
            Rule::cluster_on_redis_unavailable => b.set(
                cx,
                &mut cluster.on_redis_unavailable,
                "on-redis-unavailable",
                p,
            ),
            _ => block.other(cx, p, Place::Cluster),
        }
    }
    Some(cluster)
}

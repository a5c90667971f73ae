//! Span erasure for comparing ASTs.
//!
//! `Spanned<T>` ignores its span in `==`, but AST nodes also carry plain `span: Span` fields,
//! which derived equality compares. Tests that compare ASTs from different texts erase those
//! first. Every struct is destructured without `..`, so a new span field cannot be missed.

use crate::source::Span;
use crate::syntax::ast::*;

pub(crate) fn erase_spans(file: &mut File) {
    let File { items } = file;
    for item in items {
        match item {
            Item::Listen(Listen {
                addr: _,
                origins: _,
                span,
            }) => *span = Span::default().into(),
            Item::Upstream(up) => upstream(up),
            Item::Profile(p) => profile(p),
            Item::Endpoint(e) => endpoint(e),
            Item::Logging(l) => logging(l),
            Item::DefaultProfile(_) => {}
        }
    }
}

fn upstream(up: &mut Upstream) {
    let Upstream {
        name: _,
        transport: _,
        headers,
        env,
        cwd: _,
        timeout: _,
        connect_timeout: _,
        session: _,
        span,
    } = up;
    *span = Span::default().into();
    for KeyValue {
        key: _,
        value: _,
        span,
    } in headers.iter_mut().chain(env.iter_mut())
    {
        *span = Span::default().into();
    }
}

fn profile(p: &mut Profile) {
    let Profile {
        name: _,
        meta: _,
        uses: _,
        prefix: _,
        rules,
        limits,
        span,
    } = p;
    *span = Span::default().into();
    for Rule {
        kind: _,
        body,
        span,
    } in rules
    {
        *span = Span::default().into();
        match body {
            RuleBody::Filter { action: _, target } => self::target(target),
            RuleBody::Rename { .. } | RuleBody::Describe { .. } => {}
        }
    }
    for Limit {
        scope,
        rate: _,
        per: _,
        span,
    } in limits
    {
        *span = Span::default().into();
        if let LimitScope::Tool(t) = scope {
            target(t);
        }
    }
}

fn target(t: &mut Target) {
    let Target {
        upstream: _,
        name: _,
        span,
    } = t;
    *span = Span::default().into();
}

fn endpoint(e: &mut Endpoint) {
    let Endpoint {
        path: _,
        profile: _,
        when,
        auth,
        sse: _,
        span,
    } = e;
    *span = Span::default().into();
    if let Some(EndpointAuth { span, .. }) = auth {
        *span = Span::default().into();
    }
    match when {
        Some(Condition::HeaderEquals { span, .. } | Condition::HeaderPresent { span, .. }) => {
            *span = Span::default().into()
        }
        None => {}
    }
}

fn logging(l: &mut Logging) {
    let Logging {
        level: _,
        file: _,
        max_size_mb: _,
        max_backups: _,
        max_age_days: _,
        compress: _,
        log_requests: _,
        log_responses: _,
        span,
    } = l;
    *span = Span::default().into();
}

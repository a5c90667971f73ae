//! Lowering of the identity blocks: `oauth NAME { … }` (an authorization server endpoints accept
//! tokens from) and `audit { … }` (where audit records go).

use pest::iterators::Pair;

use super::keywords::Place;
use super::lower::{bool_of, number_of, set_with, str_of};
use super::{Cx, Rule, blocks};
use crate::syntax::ast;

type P<'i> = Pair<'i, Rule>;

pub(super) fn lower_oauth(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::OAuthServer> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let name = str_of(cx, it.next()?);
    let mut block = blocks::Block::new(cx.span_of(&kw).to(name.span), "oauth");
    let mut server = ast::OAuthServer {
        name,
        issuer: None,
        jwks: None,
        resource: None,
        leeway: None,
        scopes: Vec::new(),
        introspect: None,
        client_id: None,
        client_secret: None,
        span: span.into(),
    };
    for p in it {
        match p.as_rule() {
            Rule::issuer => block.set(cx, &mut server.issuer, "issuer", p),
            Rule::jwks => block.set(cx, &mut server.jwks, "jwks", p),
            Rule::resource_uri => block.set(cx, &mut server.resource, "resource", p),
            Rule::leeway => block.set(cx, &mut server.leeway, "leeway", p),
            Rule::introspect => block.set(cx, &mut server.introspect, "introspect", p),
            Rule::client_id => block.set(cx, &mut server.client_id, "client-id", p),
            Rule::client_secret => block.set(cx, &mut server.client_secret, "client-secret", p),
            Rule::scopes => {
                let at = cx.span_of(&p);
                if block.first(cx, "scopes".into(), "`scopes`", at) {
                    let values: Vec<P<'_>> = p.into_inner().skip(1).collect();
                    server.scopes = values.into_iter().map(|v| str_of(cx, v)).collect();
                }
            }
            _ => block.other(cx, p, Place::OAuth),
        }
    }
    Some(server)
}

pub(super) fn lower_audit(cx: &mut Cx<'_>, pair: P<'_>) -> Option<ast::Audit> {
    let span = cx.span_of(&pair);
    let mut it = pair.into_inner();
    let kw = it.next()?;
    let mut block = blocks::Block::new(cx.span_of(&kw), "audit");
    let mut audit = ast::Audit {
        span: span.into(),
        ..ast::Audit::default()
    };
    for p in it {
        match p.as_rule() {
            Rule::log_file => block.set(cx, &mut audit.file, "file", p),
            Rule::audit_stdout => {
                set_with(cx, &mut block, &mut audit.stdout, "stdout", p, |cx, p| {
                    bool_of(cx, p)
                })
            }
            Rule::max_size_mb => set_with(
                cx,
                &mut block,
                &mut audit.max_size_mb,
                "max-size-mb",
                p,
                number_of,
            ),
            Rule::max_backups => set_with(
                cx,
                &mut block,
                &mut audit.max_backups,
                "max-backups",
                p,
                number_of,
            ),
            _ => block.other(cx, p, Place::Audit),
        }
    }
    Some(audit)
}

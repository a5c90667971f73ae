//! Printing of the identity parts: endpoint credentials, rule conditions, `oauth` and `audit`
//! blocks.

use super::{Bare, bare_or_quoted, name, quote};
use crate::syntax::ast;

/// `auth KIND [NAME] VALUE`; an `oauth` reference is a name, secrets are always quoted.
pub(super) fn endpoint_auth(a: &ast::EndpointAuth) -> String {
    let value = if a.kind.node == "oauth" && a.name.is_none() {
        name(&a.value)
    } else {
        quote(&a.value)
    };
    match &a.name {
        Some(n) => format!("auth {} {} {value}", name(&a.kind), name(n)),
        None => format!("auth {} {value}", name(&a.kind)),
    }
}

/// `when|unless SOURCE [SUBJECT] [OP VALUE]`.
/// A rule condition as `.mcproute` text (`when claim groups contains "eng"`); also how
/// diagnostics and `explain` show one.
pub(crate) fn condition(c: &ast::RuleCondition) -> String {
    let mut text = format!(
        "{} {}",
        if c.negate { "unless" } else { "when" },
        name(&c.source)
    );
    if let Some(subject) = &c.subject {
        text.push(' ');
        let bare = bare_or_quoted(Bare::Word, subject);
        // A bare subject must not read as an operator.
        if matches!(bare.as_str(), "contains" | "has" | "==") || bare.starts_with("==") {
            text.push_str(&quote(subject));
        } else {
            text.push_str(&bare);
        }
    }
    if let Some((op, value)) = &c.test {
        text.push(' ');
        text.push_str(&op.node);
        text.push(' ');
        text.push_str(&quote(value));
    }
    text
}

pub(super) fn oauth_lines(s: &ast::OAuthServer) -> Vec<String> {
    let ast::OAuthServer {
        name: _,
        issuer,
        jwks,
        resource,
        leeway,
        scopes,
        introspect,
        client_id,
        client_secret,
        span: _,
    } = s;
    let mut lines = Vec::new();
    let mut push = |word: &str, v: &Option<ast::Str>| {
        if let Some(v) = v {
            lines.push(format!("{word} {}", quote(v)));
        }
    };
    push("issuer", issuer);
    push("jwks", jwks);
    push("resource", resource);
    if let Some(l) = leeway {
        lines.push(format!("leeway {}", bare_or_quoted(Bare::Duration, l)));
    }
    if !scopes.is_empty() {
        let list: Vec<String> = scopes.iter().map(|s| quote(s)).collect();
        lines.push(format!("scopes {}", list.join(" ")));
    }
    let mut push = |word: &str, v: &Option<ast::Str>| {
        if let Some(v) = v {
            lines.push(format!("{word} {}", quote(v)));
        }
    };
    push("introspect", introspect);
    push("client-id", client_id);
    push("client-secret", client_secret);
    lines
}

pub(super) fn audit_lines(a: &ast::Audit) -> Vec<String> {
    let ast::Audit {
        file,
        stdout,
        max_size_mb,
        max_backups,
        span: _,
    } = a;
    let mut lines = Vec::new();
    if let Some(f) = file {
        lines.push(format!("file {}", quote(f)));
    }
    if let Some(s) = stdout {
        lines.push(format!("stdout {}", s.node));
    }
    if let Some(n) = max_size_mb {
        lines.push(format!("max-size-mb {}", n.node));
    }
    if let Some(n) = max_backups {
        lines.push(format!("max-backups {}", n.node));
    }
    lines
}

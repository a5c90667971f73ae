//! The identity parts of a route set: `oauth` blocks → [`OAuthSpec`]s, `audit` → the audit
//! sink, rule conditions → [`CallerCondition`]s, and the check that a profile whose rules read
//! the caller's identity is served only where callers are authenticated.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

use super::declare::Decls;
use super::env::expand;
use super::errors::Lang;
use super::{Cx, values};
use crate::diag::{Diag, codes, did_you_mean};
use crate::plan::authz::{CallerCondition, CallerTest, ClaimOp};
use crate::plan::{
    AuditSettings, AuditSink, Endpoint, Introspection, OAuthSpec, Profile, ProfileName, Secret,
};
use crate::syntax::ast;

/// The condition sources rules may name.
const SOURCES: &[&str] = &["claim", "scope", "key", "endpoint", "authenticated"];

/// Every `oauth` block, by name; `None` for a block with errors (reported).
pub(super) fn oauth_servers(decls: &Decls<'_>, cx: &mut Cx<'_>) -> super::endpoints::OAuthServers {
    decls
        .oauth
        .iter()
        .map(|(name, s)| (name.to_string(), oauth(s, cx).map(Arc::new)))
        .collect()
}

fn oauth(s: &ast::OAuthServer, cx: &mut Cx<'_>) -> Option<OAuthSpec> {
    let what = format!("oauth `{}`", s.name.node);
    let url = |v: &ast::Str, cx: &mut Cx<'_>| {
        let text = expand(cx, v, &what)?.value;
        match values::parse_http_url(&text) {
            Ok(u) => Some(u),
            Err(e) => {
                cx.push(
                    Diag::error(codes::BAD_OAUTH, format!("not a usable URL: {}", e.reason))
                        .at(v.span, "expected an http(s) URL"),
                );
                None
            }
        }
    };
    let Some(issuer_text) = &s.issuer else {
        cx.push(
            Diag::error(codes::BAD_OAUTH, format!("{what} has no issuer"))
                .at(s.name.span, "no `issuer` in this block")
                .help("add `issuer \"https://auth.example.com\"`: tokens must carry it in `iss`"),
        );
        return None;
    };
    let errors_before = cx.error_count();
    let issuer = url(issuer_text, cx);
    let jwks = s.jwks.as_ref().and_then(|j| url(j, cx));
    let resource = s.resource.as_ref().and_then(|r| url(r, cx));
    let leeway = match &s.leeway {
        None => Some(OAuthSpec::DEFAULT_LEEWAY),
        Some(l) => match values::parse_duration(&l.node) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.push(
                    Diag::error(codes::BAD_DURATION, format!("bad leeway: {}", e.reason))
                        .at(l.span, "expected a duration such as `30s`"),
                );
                None
            }
        },
    };
    let introspection = match (&s.introspect, &s.client_id, &s.client_secret) {
        (None, None, None) => None,
        (Some(u), Some(id), Some(secret)) => {
            let url = url(u, cx);
            let id = expand(cx, id, &what).map(|e| e.value);
            let secret = expand(cx, secret, &what).map(|e| Secret::new(e.value, e.vars));
            match (url, id, secret) {
                (Some(url), Some(client_id), Some(client_secret)) => Some(Introspection {
                    url,
                    client_id,
                    client_secret,
                }),
                _ => None,
            }
        }
        (first, id, secret) => {
            let at = first
                .as_ref()
                .or(id.as_ref())
                .or(secret.as_ref())
                .map_or(s.name.span, |v| v.span);
            cx.push(
                Diag::error(codes::BAD_OAUTH, "introspection needs all of `introspect`, `client-id` and `client-secret`")
                    .at(at, "incomplete introspection settings")
                    .help("give the introspection endpoint and the client credentials mcp2 authenticates to it with"),
            );
            None
        }
    };
    if cx.error_count() > errors_before {
        return None;
    }
    Some(OAuthSpec {
        name: s.name.node.clone(),
        issuer: issuer?,
        jwks,
        resource,
        leeway: leeway?,
        scopes: s.scopes.iter().map(|s| s.node.clone()).collect(),
        introspection,
        origin: cx.location(*s.span),
    })
}

/// `audit { … }` → where audit records go; `Err(())` when it is wrong (reported).
pub(super) fn audit(decls: &Decls<'_>, cx: &mut Cx<'_>) -> Result<Option<AuditSettings>, ()> {
    let Some(a) = decls.audit else {
        return Ok(None);
    };
    let stdout = a.stdout.as_ref().is_some_and(|s| s.node);
    let origin = cx.location(*a.span);
    let sink = match (&a.file, stdout) {
        (Some(f), false) => {
            let path = expand(cx, f, "the audit file").ok_or(())?.value;
            AuditSink::File {
                path: PathBuf::from(path),
                max_size_mb: a.max_size_mb.as_ref().map_or(100, |n| n.node.max(1)),
                max_backups: a.max_backups.as_ref().map_or(5, |n| n.node.max(1)),
            }
        }
        (None, true) => AuditSink::Stdout,
        (Some(f), true) => {
            cx.push(
                Diag::error(
                    codes::BAD_AUDIT,
                    "audit records go to a file or to stdout, not both",
                )
                .at(f.span, "a file here")
                .help("keep `file \"…\"` or `stdout true`"),
            );
            return Err(());
        }
        (None, false) => {
            cx.push(
                Diag::error(codes::BAD_AUDIT, "this audit block says nowhere to write")
                    .at(*a.span, "no `file` and no `stdout true`")
                    .help("add `file \"/var/log/mcp2/audit.jsonl\"` or `stdout true`"),
            );
            return Err(());
        }
    };
    Ok(Some(AuditSettings { sink, origin }))
}

/// `when|unless SOURCE [SUBJECT] [OP VALUE]` → a [`CallerCondition`].
pub(super) fn condition(c: &ast::RuleCondition, cx: &mut Cx<'_>) -> Option<CallerCondition> {
    let bad = |cx: &mut Cx<'_>, at, label: &str, help: &str| {
        cx.push(
            Diag::error(
                codes::BAD_CONDITION,
                format!("this rule condition cannot be read: {label}"),
            )
            .at(at, label.to_string())
            .help(help.to_string()),
        );
    };
    let subject = c.subject.as_ref().map(|s| s.node.as_str());
    let test = c
        .test
        .as_ref()
        .map(|(op, v)| (op.node.as_str(), v.node.as_str()));
    let t = match (c.source.node.as_str(), subject, test) {
        ("claim", Some(path), None) => CallerTest::Claim {
            path: claim_path(path),
            op: ClaimOp::Present,
        },
        ("claim", Some(path), Some(("==", v))) => CallerTest::Claim {
            path: claim_path(path),
            op: ClaimOp::Equals(v.to_string()),
        },
        ("claim", Some(path), Some(("contains" | "has", v))) => CallerTest::Claim {
            path: claim_path(path),
            op: ClaimOp::Contains(v.to_string()),
        },
        ("claim", None, _) => {
            bad(
                cx,
                c.source.span,
                "`claim` needs the claim's name",
                "write `when claim groups contains \"eng\"` or `when claim org.team == \"infra\"`",
            );
            return None;
        }
        ("scope", None, Some(("has" | "contains", v))) => CallerTest::Scope(v.to_string()),
        ("scope", _, _) => {
            bad(
                cx,
                *c.span,
                "`scope` takes `has \"SCOPE\"`",
                "write `unless scope has \"admin\"`",
            );
            return None;
        }
        ("key", Some(name), None) => CallerTest::Key(name.to_string()),
        ("key", _, _) => {
            bad(
                cx,
                *c.span,
                "`key` takes the API key's name",
                "write `when key ci-bot` (the name given in `auth key ci-bot \"…\"`)",
            );
            return None;
        }
        ("endpoint", Some(path), None) => CallerTest::Endpoint(path.to_string()),
        ("endpoint", _, _) => {
            bad(
                cx,
                *c.span,
                "`endpoint` takes a path",
                "write `when endpoint \"/ops\"`",
            );
            return None;
        }
        ("authenticated", None, None) => CallerTest::Authenticated,
        ("authenticated", _, _) => {
            bad(
                cx,
                *c.span,
                "`authenticated` takes nothing after it",
                "write `when authenticated`",
            );
            return None;
        }
        (other, _, _) => {
            let mut diag = Diag::error(
                codes::BAD_CONDITION,
                format!("`{other}` is not something a rule can ask about the caller"),
            )
            .at(c.source.span, "unknown condition source");
            diag = match did_you_mean(other, SOURCES.iter().copied()) {
                Some(s) => diag.help(format!("did you mean `{s}`? A condition starts with `claim`, `scope`, `key`, `endpoint` or `authenticated`")),
                None => diag.help(format!("a condition starts with `claim NAME`, `scope has \"…\"`, `key NAME`, `endpoint \"/path\"` or `authenticated`; to test the claim `{other}` write `claim {other} …`")),
            };
            cx.push(diag);
            return None;
        }
    };
    Some(CallerCondition {
        negate: c.negate,
        test: t,
        text: crate::syntax::print::condition(c).into(),
    })
}

fn claim_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

/// Warns about each identity condition in a profile that some endpoint serves without any
/// credential: there, no caller has claims or a key, so the condition is decided in advance.
pub(super) fn check_reachable(
    profiles: &IndexMap<ProfileName, Arc<Profile>>,
    endpoints: &[Endpoint],
    decls: &Decls<'_>,
    cx: &mut Cx<'_>,
) {
    for (name, profile) in profiles {
        let Some(open) = endpoints
            .iter()
            .find(|e| &e.profile == name && e.auth.is_empty())
        else {
            continue;
        };
        let Some(ast_profile) = decls.profiles.get(name.as_str()) else {
            continue;
        };
        for rule in &ast_profile.rules {
            let ast::RuleBody::Filter {
                condition: Some(c), ..
            } = &rule.body
            else {
                continue;
            };
            if c.source.node == "endpoint" {
                continue;
            }
            cx.push(
                Diag::warning(
                    codes::CONDITION_WITHOUT_AUTH,
                    format!(
                        "profile `{name}` is served at `{}` without authentication, where this condition never sees a caller identity",
                        open.path
                    ),
                )
                .at(*c.span, "reads the caller's identity")
                .help(match cx.lang(*c.span) {
                    Lang::Mcproute => format!(
                        "add `auth oauth NAME` or `auth key NAME \"…\"` to the endpoint `{}`, or condition on `endpoint` instead",
                        open.path
                    ),
                    Lang::Yaml => format!(
                        "give `hub` (served at `{}`) an `auth: {{ oauth: NAME }}` or `auth: {{ keys: {{ NAME: \"…\" }} }}`, or condition on `{{ endpoint: PATH }}` instead",
                        open.path
                    ),
                }),
            );
        }
        let _ = profile;
    }
}

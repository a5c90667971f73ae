//! How long the checker takes on a large route set: 200 upstreams, 50 profiles with several
//! rules each, and their endpoints.
//!
//! The route set is generated in memory twice over: as `.mcproute` text (benchmark
//! `compile/text`, parse + check, what `mcp2 check` and a reload do) and, alongside it, as the AST
//! with spans into that text (benchmark `compile/ast`, the checker alone via `compile_parsed`).

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp2::check::{compile, compile_parsed};
use mcp2::source::{FileId, SourceSet, Span, Spanned};
use mcp2::syntax::ast::{self, Item, Str};

const UPSTREAMS: usize = 200;
const PROFILES: usize = 50;
const USES_PER_PROFILE: usize = 8;

/// Writes text and the AST nodes over it at once, so spans are real.
struct Gen {
    file: FileId,
    text: String,
}

impl Gen {
    fn raw(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span::new(self.file, start, self.text.len())
    }

    fn word(&mut self, s: &str) -> Str {
        Spanned::new(s.to_string(), self.raw(s))
    }

    fn lit(&mut self, s: &str) -> Str {
        let span = self.raw(&format!("\"{s}\""));
        Spanned::new(s.to_string(), span)
    }

    fn upstream(&mut self, i: usize) -> Item {
        let start = self.raw("upstream ").start;
        let name = self.word(&format!("up{i}"));
        self.raw(" {\n  ");
        let (transport, headers) = if i % 4 == 3 {
            let kw = self.raw("stdio ");
            let command = self.lit("npx");
            self.raw(" ");
            let arg = self.lit(&format!("server-{i}"));
            let t = ast::Transport::Stdio {
                command,
                args: vec![arg.clone()],
            };
            (Spanned::new(t, kw.to(arg.span)), vec![])
        } else {
            let kw = self.raw(if i % 4 == 2 { "sse " } else { "http " });
            let url = self.lit(&format!("https://up{i}.example.com/mcp"));
            let t = if i % 4 == 2 {
                ast::Transport::Sse { url: url.clone() }
            } else {
                ast::Transport::Http { url: url.clone() }
            };
            self.raw("\n  header ");
            let key = self.word("Authorization");
            self.raw(" = ");
            let value = self.lit("Bearer ${TOKEN}");
            let kv = ast::KeyValue {
                span: key.span.to(value.span).into(),
                key,
                value,
            };
            (Spanned::new(t, kw.to(url.span)), vec![kv])
        };
        self.raw("\n  timeout ");
        let timeout = self.word("30s");
        let end = self.raw("\n}\n").end;
        Item::Upstream(ast::Upstream {
            name,
            transport: Some(transport),
            headers,
            env: vec![],
            cwd: None,
            timeout: Some(timeout),
            connect_timeout: None,
            session: None,
            span: (Span::new(self.file, start as usize, end as usize)).into(),
        })
    }

    fn target(&mut self, upstream: &str, name: &str) -> ast::Target {
        let upstream = self.word(upstream);
        self.raw("/");
        let name = self.word(name);
        ast::Target {
            span: upstream.span.to(name.span).into(),
            upstream,
            name: ast::NamePattern::Glob(name),
        }
    }

    fn filter(&mut self, action: ast::Action, upstream: &str, name: &str) -> ast::Rule {
        let action = self.action(action);
        self.raw(" tool ");
        let target = self.target(upstream, name);
        self.raw("\n");
        ast::Rule {
            kind: ast::ItemKind::Tool,
            span: action.span.to(*target.span).into(),
            body: ast::RuleBody::Filter { action, target },
        }
    }

    fn action(&mut self, action: ast::Action) -> Spanned<ast::Action> {
        self.raw("  ");
        let word = match action {
            ast::Action::Allow => "allow",
            ast::Action::Deny => "deny",
        };
        Spanned::new(action, self.raw(word))
    }

    fn filter_re(&mut self, action: ast::Action, upstream: &str, re: &str) -> ast::Rule {
        let action = self.action(action);
        self.raw(" tool ");
        let upstream = self.word(upstream);
        self.raw(" matching ");
        let re = Spanned::new(re.to_string(), self.raw(&format!("/{re}/")));
        self.raw("\n");
        let target = ast::Target {
            span: upstream.span.to(re.span).into(),
            upstream,
            name: ast::NamePattern::Regex(re),
        };
        ast::Rule {
            kind: ast::ItemKind::Tool,
            span: action.span.to(*target.span).into(),
            body: ast::RuleBody::Filter { action, target },
        }
    }

    fn rename(&mut self, upstream: &str, name: &str, to: &str) -> ast::Rule {
        let start = self.raw("  rename tool ");
        let upstream = self.word(upstream);
        self.raw("/");
        let name = self.word(name);
        self.raw(" -> ");
        let to = self.word(to);
        self.raw("\n");
        ast::Rule {
            kind: ast::ItemKind::Tool,
            span: (Span::new(self.file, start.start as usize + 2, to.span.end as usize)).into(),
            body: ast::RuleBody::Rename { upstream, name, to },
        }
    }

    fn profile(&mut self, p: usize) -> Item {
        let start = self.raw("profile ").start;
        let name = self.word(&format!("p{p}"));
        self.raw(" {\n  use ");
        let uses: Vec<Str> = (0..USES_PER_PROFILE)
            .map(|k| {
                if k > 0 {
                    self.raw(", ");
                }
                self.word(&format!("up{}", (p * 4 + k) % UPSTREAMS))
            })
            .collect();
        let first = uses[0].node.clone();
        let second = uses[1].node.clone();
        self.raw("\n  prefix ");
        let prefix = self.lit("{upstream}__");
        self.raw("\n");
        let mut rules = vec![
            self.filter(ast::Action::Deny, &first, "*delete*"),
            self.filter(ast::Action::Allow, &first, "search_*"),
            self.filter(ast::Action::Allow, "*", "read_*"),
            self.filter(ast::Action::Deny, &second, "*write*"),
        ];
        rules.push(self.filter_re(ast::Action::Deny, "*", "^admin_[a-z]+$"));
        rules.push(self.rename(&first, "search_code", &format!("code_search_{p}")));
        self.raw("  limit ");
        let lu = self.word(&first);
        self.raw(" ");
        let rate = self.word("100/min");
        self.raw(" per ");
        let per = self.word("client");
        let limit = ast::Limit {
            span: lu.span.to(per.span).into(),
            scope: ast::LimitScope::Upstream(lu),
            rate,
            per: Some(per),
        };
        let end = self.raw("\n}\n").end;
        Item::Profile(ast::Profile {
            name,
            meta: ast::Meta::default(),
            uses,
            prefix: Some(prefix),
            rules,
            limits: vec![limit],
            span: (Span::new(self.file, start as usize, end as usize)).into(),
        })
    }

    fn endpoint(&mut self, path: &str, profile: &str) -> Item {
        let start = self.raw("endpoint ");
        let path = self.lit(path);
        self.raw(" -> ");
        let profile = self.word(profile);
        self.raw("\n");
        Item::Endpoint(ast::Endpoint {
            span: start.to(profile.span).into(),
            path,
            profile,
            when: None,
            auth: None,
            sse: None,
        })
    }
}

/// The route set as text and as the AST of that text.
fn route_set() -> (String, ast::File) {
    let mut g = Gen {
        file: FileId(0),
        text: String::new(),
    };
    let mut items: Vec<Item> = (0..UPSTREAMS).map(|i| g.upstream(i)).collect();
    items.extend((0..PROFILES).map(|p| g.profile(p)));
    items.push(g.endpoint("/mcp", "p0"));
    items.extend((0..PROFILES).map(|p| g.endpoint(&format!("/mcp/p{p}"), &format!("p{p}"))));
    items.push(g.endpoint("/servers/{upstream}/mcp", "p1"));
    (g.text, ast::File { items })
}

fn bench(c: &mut Criterion) {
    let (text, file) = route_set();
    let mut sources = SourceSet::new();
    sources.add("bench.mcproute", text);
    let env: HashMap<String, String> = [("TOKEN".to_string(), "t0ken".to_string())].into();
    let files = [file];

    // The AST must check clean, or the benchmark would measure error reporting.
    let checked = compile_parsed(&sources, &files, &env);
    assert!(
        checked.plan.is_some(),
        "benchmark routes do not check: {:?}",
        checked.diagnostics
    );

    // The text must parse and check as well (with the front-end stubbed out it parses to
    // nothing, which still gives a plan).
    let from_text = compile(&sources, &env);
    assert!(
        from_text.plan.is_some(),
        "benchmark text does not check: {:?}",
        from_text.diagnostics
    );

    let mut group = c.benchmark_group("compile");
    group.bench_function("ast", |b| {
        b.iter(|| compile_parsed(black_box(&sources), black_box(&files), &env))
    });
    group.bench_function("text", |b| b.iter(|| compile(black_box(&sources), &env)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

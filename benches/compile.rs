//! How long compiling a large route set takes: 200 upstreams, 50 profiles with several rules
//! and a limit each, and their endpoints (`/mcp`, one per profile, one per upstream of a profile).
//!
//! The route set is generated as `.mcproute` text and, alongside it, as the AST with spans into
//! that text. Benchmarks, fastest path last:
//!
//! - `compile/dir`: what `mcp2 check DIR` and a reload do. The text is written as a directory of
//!   ten files (upstreams, profiles, endpoints); each iteration loads it with `SourceSet::load`
//!   (reading the files), parses and checks it into a plan.
//! - `compile/dir-yaml`: the same upstreams and profiles as a directory of YAML files.
//! - `compile/text`: parse + check of the text already in memory.
//! - `compile/ast`: the checker alone, on the prebuilt AST (`compile_parsed`).
//!
//! After criterion's report, `report` times `compile/dir` and `compile/dir-yaml` 50 more times
//! each and prints min / median / max in milliseconds, the figures the issue asks for.

#[path = "compile/yaml_routes.rs"]
mod yaml_routes;

use std::collections::HashMap;
use std::hint::black_box;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mcp2::check::{Compiled, compile, compile_parsed};
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
            protocol: None,
            auth: None,
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
            body: ast::RuleBody::Filter {
                action,
                target,
                condition: None,
            },
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
            body: ast::RuleBody::Filter {
                action,
                target,
                condition: None,
            },
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
            auth: Vec::new(),
            sse: None,
        })
    }
}

/// The route set as text, as the AST of that text, and how to cut the text into files:
/// (file name, byte range), each range a run of whole items.
fn route_set() -> (String, ast::File, Vec<(String, Range<usize>)>) {
    let mut g = Gen {
        file: FileId(0),
        text: String::new(),
    };
    let mut chunks = Vec::new();
    let mut chunk = |name: String, g: &Gen, start: usize| chunks.push((name, start..g.text.len()));
    let mut items: Vec<Item> = Vec::new();
    for part in 0..4 {
        let start = g.text.len();
        let per = UPSTREAMS / 4;
        items.extend((part * per..(part + 1) * per).map(|i| g.upstream(i)));
        chunk(format!("upstreams-{part}.mcproute"), &g, start);
    }
    for part in 0..5 {
        let start = g.text.len();
        let per = PROFILES / 5;
        items.extend((part * per..(part + 1) * per).map(|p| g.profile(p)));
        chunk(format!("profiles-{part}.mcproute"), &g, start);
    }
    let start = g.text.len();
    items.push(g.endpoint("/mcp", "p0"));
    items.extend((0..PROFILES).map(|p| g.endpoint(&format!("/mcp/p{p}"), &format!("p{p}"))));
    items.push(g.endpoint("/servers/{upstream}/mcp", "p1"));
    chunk("endpoints.mcproute".to_string(), &g, start);
    (g.text, ast::File { items }, chunks)
}

/// A fresh directory under Cargo's target tmp dir holding `files`.
fn write_dir(name: &str, files: &[(String, String)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear the benchmark dir");
    }
    std::fs::create_dir_all(&dir).expect("create the benchmark dir");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write a benchmark file");
    }
    dir
}

/// What `mcp2 check DIR` does before printing: load the files, parse and check them.
fn compile_dir(dir: &Path, env: &HashMap<String, String>) -> Compiled {
    let sources = SourceSet::load(dir).expect("the benchmark dir loads");
    compile(&sources, env)
}

/// A clean plan, or the diagnostics that say why not.
fn assert_clean(what: &str, compiled: &Compiled) {
    assert!(
        compiled.plan.is_some() && !compiled.diagnostics.has_errors(),
        "{what} does not check: {:?}",
        compiled.diagnostics
    );
}

fn env() -> HashMap<String, String> {
    [("TOKEN".to_string(), "t0ken".to_string())].into()
}

fn bench(c: &mut Criterion) {
    let (text, file, chunks) = route_set();
    let mut sources = SourceSet::new();
    sources.add("bench.mcproute", text.as_str());
    let env = env();
    let files = [file];
    let dir_files: Vec<(String, String)> = chunks
        .iter()
        .map(|(name, range)| (name.clone(), text[range.clone()].to_string()))
        .collect();
    let dir = write_dir("compile-bench-mcproute", &dir_files);
    let yaml_dir = write_dir(
        "compile-bench-yaml",
        &yaml_routes::files(UPSTREAMS, PROFILES, USES_PER_PROFILE),
    );

    // Every path must check clean, or the benchmark would measure error reporting; and all of
    // them must mean the same routes.
    let from_ast = compile_parsed(&sources, &files, &env);
    assert_clean("the AST", &from_ast);
    let from_text = compile(&sources, &env);
    assert_clean("the text", &from_text);
    let from_dir = compile_dir(&dir, &env);
    assert_clean("the directory", &from_dir);
    assert_clean("the YAML directory", &compile_dir(&yaml_dir, &env));
    let plan = |c: &Compiled| c.plan.as_ref().map(|p| p.to_comparable_json());
    assert_eq!(plan(&from_ast), plan(&from_text), "text and AST differ");
    assert_eq!(
        plan(&from_text),
        plan(&from_dir),
        "text and directory differ"
    );
    let summary = |c: &Compiled| {
        c.plan
            .as_ref()
            .map(|p| (p.upstreams.len(), p.profiles.len(), p.endpoints.len()))
    };
    assert_eq!(
        summary(&from_dir),
        Some((UPSTREAMS, PROFILES, 1 + PROFILES + USES_PER_PROFILE))
    );

    let mut group = c.benchmark_group("compile");
    group.bench_function("dir", |b| b.iter(|| compile_dir(black_box(&dir), &env)));
    group.bench_function("dir-yaml", |b| {
        b.iter(|| compile_dir(black_box(&yaml_dir), &env))
    });
    group.bench_function("text", |b| b.iter(|| compile(black_box(&sources), &env)));
    group.bench_function("ast", |b| {
        b.iter(|| compile_parsed(black_box(&sources), black_box(&files), &env))
    });
    group.finish();

    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs each benchmark once, in a
    // debug build, where these timings would mean nothing.
    if std::env::args().any(|a| a == "--bench") {
        report("compile/dir", &dir, &env);
        report("compile/dir-yaml", &yaml_dir, &env);
    }
}

/// Times `runs` compiles of a directory and prints min / median / max.
fn report(name: &str, dir: &Path, env: &HashMap<String, String>) {
    const RUNS: usize = 50;
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(compile_dir(dir, env));
            start.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: {UPSTREAMS} upstreams, {PROFILES} profiles, {RUNS} runs: min {:.2} ms, median {:.2} ms, max {:.2} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1]),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

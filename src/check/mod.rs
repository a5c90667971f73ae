//! The checker: ASTs → [`Plan`], or every diagnostic at once.
//!
//! [`compile`] parses every file of a [`SourceSet`] and runs the passes in order, each pushing its
//! findings and going on, so that `mcp2 check` shows every problem, not only the first:
//!
//! | pass      | modules                   | does                                                  |
//! |-----------|---------------------------|-------------------------------------------------------|
//! | declare   | `declare`                 | names across files; duplicates with both places       |
//! | values    | `upstreams`, `settings`   | `${VAR}` expansion ([`mod@env`]), URLs, durations, headers, listen, logging ([`values`]) |
//! | resolve   | `resolve`                 | every name used is declared; the default profile      |
//! | rules     | `profiles`, [`rules`]     | matchers, rule tables, shadowed rules, collisions     |
//! | endpoints | `endpoints`               | paths, per-upstream expansion, conflicts              |
//! | identity  | `auth`, `propagation`     | conditions served without auth; where identity propagation may be used |
//!
//! The name-dependent passes (resolve, rules, endpoints) are skipped when a file has syntax
//! errors: a declaration the parser had to drop would otherwise show up as a cascade of "unknown
//! upstream" errors. Likewise a declaration the front-end already complained about is not
//! reported again for what that complaint implies (a YAML server whose `transport` was unreadable
//! is not also "missing a transport"): see [`Cx::front_end_reported`]. A plan is returned only
//! when there are no errors at all. The messages live in [`errors`]; this module never renders
//! anything (that is `cli/`'s job).

mod auth;
mod cover;
mod declare;
mod endpoints;
pub mod env;
pub mod errors;
mod profiles;
mod propagation;
mod resolve;
pub mod rules;
pub mod serving;
mod settings;
mod upauth;
mod upstreams;
pub mod values;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use globset::GlobMatcher;
use regex::Regex;

use crate::diag::{Diag, Diagnostics};
use crate::plan::Plan;
use crate::source::{Location, SourceSet, Span};
use crate::syntax::{self, ast};

/// Where `${VAR}` values come from. The process environment in production; a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// The outcome of one compile: a plan when there were no errors, and every diagnostic (warnings
/// may come with a plan).
#[derive(Debug)]
pub struct Compiled {
    pub plan: Option<Plan>,
    pub diagnostics: Diagnostics,
}

/// Parses every file of `sources` and checks them together.
pub fn compile(sources: &SourceSet, env: &dyn Env) -> Compiled {
    let mut parse_diags = Diagnostics::new();
    let files: Vec<ast::File> = sources
        .files()
        .iter()
        .map(|f| syntax::parse_file(f, &mut parse_diags))
        .collect();
    let front_errors: Vec<Span> = parse_diags
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.primary.as_ref().map(|l| l.span))
        .collect();
    let mut compiled = run(sources, &files, env, &front_errors);
    parse_diags.extend(compiled.diagnostics);
    compiled.diagnostics = parse_diags;
    compiled
}

/// The checker proper, on ASTs already parsed: `files[i]` is the AST of `sources.files()[i]`.
/// Tests and benchmarks build ASTs directly and call this.
pub fn compile_parsed(sources: &SourceSet, files: &[ast::File], env: &dyn Env) -> Compiled {
    run(sources, files, env, &[])
}

/// `front_errors`: where the front-ends reported errors (empty when the files parsed cleanly).
fn run(sources: &SourceSet, files: &[ast::File], env: &dyn Env, front_errors: &[Span]) -> Compiled {
    let syntax_ok = front_errors.is_empty();
    let mut cx = Cx::new(sources, env, front_errors);
    let decls = declare::collect(files, &mut cx);
    let upstreams = upstreams::build(&decls, &mut cx);
    let listen = settings::listen(&decls, &mut cx);
    let allowed_origins = settings::origins(&decls, &mut cx);
    let logging = settings::logging(&decls, &mut cx);
    let admin = settings::admin(&decls, &mut cx);
    let oauth = auth::oauth_servers(&decls, &mut cx);
    let audit = auth::audit(&decls, &mut cx);
    let serve = serving::limits(&decls, &mut cx);
    let cluster = serving::cluster(&decls, &mut cx);
    if !syntax_ok {
        return Compiled {
            plan: None,
            diagnostics: cx.diags,
        };
    }
    // With profiles declared, each of them says so at its place (`empty_profile`) instead.
    if decls.upstreams.is_empty() && decls.profiles.is_empty() {
        cx.push(errors::empty_plan());
    }
    let resolved = resolve::resolve(&decls, &mut cx);
    let profiles = profiles::build(&decls, &resolved, &mut cx);
    let endpoints = endpoints::build(&decls, &resolved, &oauth, &mut cx);
    auth::check_reachable(&profiles, &endpoints, &decls, &mut cx);
    propagation::check(&upstreams, &profiles, &endpoints, &decls, &mut cx);
    let plan = match (
        resolved.default_profile,
        listen,
        logging,
        admin,
        audit,
        serve,
        cluster,
    ) {
        (
            Some(default_profile),
            Some(listen),
            Some(logging),
            Some(admin),
            Ok(audit),
            Some(serve),
            Some(cluster),
        ) if !cx.diags.has_errors() => Some(Plan {
            listen,
            allowed_origins,
            upstreams,
            profiles,
            default_profile,
            endpoints,
            logging,
            admin,
            audit,
            serve,
            cluster,
            sources: sources.files().iter().map(|f| f.path.clone()).collect(),
        }),
        _ => None,
    };
    Compiled {
        plan,
        diagnostics: cx.diags,
    }
}

/// What every pass needs: the sources (for locations), the environment, and the findings so far.
pub(crate) struct Cx<'a> {
    sources: &'a SourceSet,
    env: &'a dyn Env,
    diags: Diagnostics,
    /// Per file: its name and where each line starts, so a location is a binary search rather
    /// than a scan of the file (a plan records one per upstream, profile, rule and endpoint).
    lines: Vec<(Arc<str>, Vec<usize>)>,
    /// Globs and regexes compiled so far, by text: route sets repeat `*` and names a lot.
    globs: HashMap<String, GlobMatcher>,
    regexes: HashMap<String, Regex>,
    /// Where the front-ends reported errors.
    front_errors: &'a [Span],
}

impl<'a> Cx<'a> {
    fn new(sources: &'a SourceSet, env: &'a dyn Env, front_errors: &'a [Span]) -> Self {
        let lines = sources
            .files()
            .iter()
            .map(|f| {
                let starts = std::iter::once(0)
                    .chain(f.text.match_indices('\n').map(|(i, _)| i + 1))
                    .collect();
                (Arc::from(f.path.display().to_string()), starts)
            })
            .collect();
        Self {
            sources,
            env,
            diags: Diagnostics::new(),
            lines,
            globs: HashMap::new(),
            regexes: HashMap::new(),
            front_errors,
        }
    }

    /// Whether a front-end already reported an error inside `span` (a declaration): what the
    /// checker would say about a part it could not read would only repeat that error.
    fn front_end_reported(&self, span: Span) -> bool {
        self.front_errors
            .iter()
            .any(|e| e.file == span.file && e.start >= span.start && e.end <= span.end)
    }

    /// Records a finding, once: the YAML front-end writes one server name into every rule it
    /// lowers from that server's entry, so the same name at the same place can be checked
    /// several times, and the reader needs to hear about it once.
    fn push(&mut self, diag: Diag) {
        if !self.diags.iter().any(|d| *d == diag) {
            self.diags.push(diag);
        }
    }

    fn error_count(&self) -> usize {
        self.diags.error_count()
    }

    /// The language of the file `span` points into.
    fn lang(&self, span: Span) -> errors::Lang {
        match self.sources.get(span.file).and_then(|f| f.kind()) {
            Some(crate::source::SourceKind::Yaml) => errors::Lang::Yaml,
            _ => errors::Lang::Mcproute,
        }
    }

    /// The source text under a span.
    fn written(&self, span: Span) -> Option<&'a str> {
        let file = self.sources.get(span.file)?;
        file.text.get(span.start as usize..span.end as usize)
    }

    /// The same as [`SourceSet::location`], faster.
    fn location(&self, span: Span) -> Location {
        let (Some(file), Some((name, starts))) = (
            self.sources.get(span.file),
            self.lines.get(span.file.0 as usize),
        ) else {
            return self.sources.location(span);
        };
        let mut offset = (span.start as usize).min(file.text.len());
        while !file.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = starts.partition_point(|&s| s <= offset).max(1);
        let line_start = starts[line - 1];
        let col = file.text[line_start..offset].chars().count() + 1;
        Location {
            file: name.clone(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
        }
    }

    /// The span of bytes `range` of a string's value, when the literal in the source spells those
    /// bytes verbatim (no escape before them, no folding); otherwise the whole literal. Lets a
    /// diagnostic underline `${TOKEN}` inside `"Bearer ${TOKEN}"` rather than the whole string.
    fn sub_span(&self, s: &ast::Str, range: Range<usize>) -> Span {
        let whole = s.span;
        let Some(raw) = self
            .sources
            .get(whole.file)
            .and_then(|f| f.text.get(whole.start as usize..whole.end as usize))
        else {
            return whole;
        };
        let Some(prefix) = s.node.get(..range.end) else {
            return whole;
        };
        let delimited = raw.len() >= 2
            && matches!(raw.as_bytes()[0], b'"' | b'\'' | b'/')
            && raw.as_bytes()[0] == raw.as_bytes()[raw.len() - 1];
        let skips: &[usize] = if delimited { &[1, 0] } else { &[0] };
        for &skip in skips {
            if raw.get(skip..skip + range.end) == Some(prefix) {
                let start = whole.start as usize + skip;
                return Span::new(whole.file, start + range.start, start + range.end);
            }
        }
        whole
    }
}

/// Where built-in items (the default `/mcp` endpoint, a synthesized `default` profile) come from.
fn builtin_location() -> Location {
    Location {
        file: "<built-in>".into(),
        line: 0,
        col: 0,
    }
}

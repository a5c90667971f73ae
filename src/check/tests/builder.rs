//! Builds ASTs over real source text, so diagnostics point at what a reader sees.
//!
//! A test writes the route file as text, then walks it in order with [`Src`], which finds each
//! piece after the previous one and returns AST nodes whose spans cover exactly that piece. The
//! text need not be parseable by the front-end; it only has to contain the pieces in order.

use std::collections::HashMap;

use crate::check::{Compiled, compile_parsed, run};
use crate::diag::{Diag, RenderOptions, render_all};
use crate::source::{FileId, SourceSet, Span, Spanned};
use crate::syntax::ast::{self, Str};

/// A route set under construction: files with their text and AST items.
#[derive(Default)]
pub struct Routes {
    pub sources: SourceSet,
    files: Vec<ast::File>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file: `build` walks its text and returns its items.
    pub fn file(
        &mut self,
        path: &str,
        text: &str,
        build: impl FnOnce(&mut Src) -> Vec<ast::Item>,
    ) -> &mut Self {
        let id = self.sources.add(path, text);
        let mut src = Src {
            id,
            text: text.to_string(),
            cursor: 0,
        };
        let items = build(&mut src);
        self.files.push(ast::File { items });
        self
    }

    pub fn compile(&self, env: &[(&str, &str)]) -> Checked {
        self.compile_with(env, true)
    }

    /// As the checker runs when the front-end reported syntax errors in some file.
    pub fn compile_after_syntax_errors(&self, env: &[(&str, &str)]) -> Checked {
        self.compile_with(env, false)
    }

    fn compile_with(&self, env: &[(&str, &str)], syntax_ok: bool) -> Checked {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let compiled = if syntax_ok {
            compile_parsed(&self.sources, &self.files, &env)
        } else {
            // A front-end error somewhere no declaration is.
            let elsewhere = crate::source::Span::new(crate::source::FileId(u32::MAX), 0, 0);
            run(&self.sources, &self.files, &env, &[elsewhere])
        };
        Checked {
            compiled,
            sources: self.sources.clone(),
        }
    }
}

/// A compile result with its sources, to look at diagnostics as users see them.
pub struct Checked {
    pub compiled: Compiled,
    pub sources: SourceSet,
}

impl Checked {
    /// Every diagnostic rendered as `mcp2 check` prints it (no colour).
    pub fn rendered(&self) -> String {
        render_all(
            &self.compiled.diagnostics,
            &self.sources,
            RenderOptions::plain(),
        )
    }

    /// The diagnostics with this code.
    pub fn with_code(&self, code: &str) -> Vec<&Diag> {
        self.compiled
            .diagnostics
            .iter()
            .filter(|d| d.code == code)
            .collect()
    }

    /// The one diagnostic with this code; fails the test when there is not exactly one.
    pub fn one(&self, code: &str) -> &Diag {
        let found = self.with_code(code);
        assert_eq!(
            found.len(),
            1,
            "expected one {code}, got:\n{}",
            self.rendered()
        );
        found[0]
    }

    /// Every diagnostic's code, in the order reported.
    pub fn codes(&self) -> Vec<&str> {
        self.compiled.diagnostics.iter().map(|d| d.code).collect()
    }

    /// The source text under a span.
    pub fn text(&self, span: Span) -> &str {
        let file = self.sources.get(span.file).expect("file");
        &file.text[span.start as usize..span.end as usize]
    }

    /// The text under a diagnostic's primary label.
    pub fn underlined(&self, diag: &Diag) -> &str {
        self.text(diag.primary.as_ref().expect("primary label").span)
    }
}

/// A cursor over one file's text.
pub struct Src {
    id: FileId,
    text: String,
    cursor: usize,
}

impl Src {
    /// The span of the next occurrence of `needle`; the cursor moves past it.
    pub fn span(&mut self, needle: &str) -> Span {
        let at = self.text[self.cursor..]
            .find(needle)
            .map(|i| self.cursor + i)
            .unwrap_or_else(|| panic!("`{needle}` not found after byte {}", self.cursor));
        self.cursor = at + needle.len();
        Span::new(self.id, at, at + needle.len())
    }

    /// A bare word.
    pub fn word(&mut self, word: &str) -> Str {
        Spanned::new(word.to_string(), self.span(word))
    }

    /// A `"quoted"` literal whose value is `value` (written without escapes).
    pub fn lit(&mut self, value: &str) -> Str {
        Spanned::new(value.to_string(), self.span(&format!("\"{value}\"")))
    }

    /// A literal written as `raw` in the text (with its quotes and escapes), meaning `value`.
    pub fn raw(&mut self, raw: &str, value: &str) -> Str {
        Spanned::new(value.to_string(), self.span(raw))
    }

    /// A block from `head` to the next `}` at the start of a line.
    fn block(&mut self, head: &str) -> Span {
        let start = self.span(head);
        let end = self.text[start.start as usize..]
            .find("\n}")
            .map_or(start.end as usize, |i| start.start as usize + i + 2);
        Span::new(self.id, start.start as usize, end)
    }

    /// `upstream NAME {` … `}`, with no settings yet.
    pub fn upstream(&mut self, name: &str) -> ast::Upstream {
        let span = self.block(&format!("upstream {name} {{"));
        self.cursor = span.start as usize;
        self.span("upstream");
        ast::Upstream {
            name: self.word(name),
            transport: None,
            headers: vec![],
            env: vec![],
            cwd: None,
            timeout: None,
            connect_timeout: None,
            session: None,
            protocol: None,
            auth: None,
            span: span.into(),
        }
    }

    pub fn http(&mut self, url: &str) -> Spanned<ast::Transport> {
        let kw = self.span("http");
        let url = self.lit(url);
        Spanned::new(ast::Transport::Http { url: url.clone() }, kw.to(url.span))
    }

    pub fn sse(&mut self, url: &str) -> Spanned<ast::Transport> {
        let kw = self.span("sse");
        let url = self.lit(url);
        Spanned::new(ast::Transport::Sse { url: url.clone() }, kw.to(url.span))
    }

    pub fn stdio(&mut self, command: &str, args: &[&str]) -> Spanned<ast::Transport> {
        let kw = self.span("stdio");
        let command = self.lit(command);
        let args: Vec<Str> = args.iter().map(|a| self.lit(a)).collect();
        let end = args.last().map_or(command.span, |a| a.span);
        Spanned::new(ast::Transport::Stdio { command, args }, kw.to(end))
    }

    /// `KEY = "value"` (after `header` or `env`).
    pub fn kv(&mut self, key: &str, value: &str) -> ast::KeyValue {
        let key = self.word(key);
        let value = self.lit(value);
        ast::KeyValue {
            span: key.span.to(value.span).into(),
            key,
            value,
        }
    }

    /// `profile NAME {` … `}`, empty.
    pub fn profile(&mut self, name: &str) -> ast::Profile {
        let span = self.block(&format!("profile {name} {{"));
        self.cursor = span.start as usize;
        self.span("profile");
        ast::Profile {
            name: self.word(name),
            meta: ast::Meta::default(),
            uses: vec![],
            prefix: None,
            rules: vec![],
            limits: vec![],
            span: span.into(),
        }
    }

    /// `UPSTREAM/NAME` (both globs).
    pub fn target(&mut self, upstream: &str, name: &str) -> ast::Target {
        let upstream = self.word(upstream);
        let name = self.word(name);
        ast::Target {
            span: upstream.span.to(name.span).into(),
            upstream,
            name: ast::NamePattern::Glob(name),
        }
    }

    /// `UPSTREAM matching /REGEX/`.
    pub fn target_re(&mut self, upstream: &str, regex: &str) -> ast::Target {
        let upstream = self.word(upstream);
        self.span("matching");
        let re = self.raw(&format!("/{regex}/"), regex);
        ast::Target {
            span: upstream.span.to(re.span).into(),
            upstream,
            name: ast::NamePattern::Regex(re),
        }
    }

    fn action(&mut self, action: &str) -> Spanned<ast::Action> {
        let a = match action {
            "allow" => ast::Action::Allow,
            "deny" => ast::Action::Deny,
            other => panic!("unknown action {other}"),
        };
        Spanned::new(a, self.span(action))
    }

    fn kind(&mut self, kind: &str) -> ast::ItemKind {
        self.span(kind);
        match kind {
            "tool" => ast::ItemKind::Tool,
            "prompt" => ast::ItemKind::Prompt,
            "resource" => ast::ItemKind::Resource,
            other => panic!("unknown kind {other}"),
        }
    }

    /// `ACTION KIND UPSTREAM/NAME`.
    pub fn filter(&mut self, action: &str, kind: &str, upstream: &str, name: &str) -> ast::Rule {
        let action = self.action(action);
        let kind = self.kind(kind);
        let target = self.target(upstream, name);
        ast::Rule {
            kind,
            span: action.span.to(*target.span).into(),
            body: ast::RuleBody::Filter {
                action,
                target,
                condition: None,
            },
        }
    }

    /// `ACTION KIND UPSTREAM matching /REGEX/`.
    pub fn filter_re(
        &mut self,
        action: &str,
        kind: &str,
        upstream: &str,
        regex: &str,
    ) -> ast::Rule {
        let action = self.action(action);
        let kind = self.kind(kind);
        let target = self.target_re(upstream, regex);
        ast::Rule {
            kind,
            span: action.span.to(*target.span).into(),
            body: ast::RuleBody::Filter {
                action,
                target,
                condition: None,
            },
        }
    }

    /// `rename KIND UPSTREAM/NAME -> TO`.
    pub fn rename(&mut self, kind: &str, upstream: &str, name: &str, to: &str) -> ast::Rule {
        let start = self.span("rename");
        let kind = self.kind(kind);
        let upstream = self.word(upstream);
        let name = self.word(name);
        self.span("->");
        let to = self.word(to);
        ast::Rule {
            kind,
            span: start.to(to.span).into(),
            body: ast::RuleBody::Rename { upstream, name, to },
        }
    }

    /// `describe KIND UPSTREAM/NAME "TEXT"`.
    pub fn describe(&mut self, kind: &str, upstream: &str, name: &str, text: &str) -> ast::Rule {
        let start = self.span("describe");
        let kind = self.kind(kind);
        let upstream = self.word(upstream);
        let name = self.word(name);
        let text = self.lit(text);
        ast::Rule {
            kind,
            span: start.to(text.span).into(),
            body: ast::RuleBody::Describe {
                upstream,
                name,
                text,
            },
        }
    }

    /// `limit UPSTREAM RATE [per WHO]`.
    pub fn limit(&mut self, upstream: &str, rate: &str, per: Option<&str>) -> ast::Limit {
        let start = self.span("limit");
        let upstream = self.word(upstream);
        self.limit_rest(start, ast::LimitScope::Upstream(upstream), rate, per)
    }

    /// `limit tool UPSTREAM/NAME RATE [per WHO]`.
    pub fn limit_tool(
        &mut self,
        upstream: &str,
        name: &str,
        rate: &str,
        per: Option<&str>,
    ) -> ast::Limit {
        let start = self.span("limit");
        self.span("tool");
        let target = self.target(upstream, name);
        self.limit_rest(start, ast::LimitScope::Tool(target), rate, per)
    }

    fn limit_rest(
        &mut self,
        start: Span,
        scope: ast::LimitScope,
        rate: &str,
        per: Option<&str>,
    ) -> ast::Limit {
        let rate = self.word(rate);
        let per = per.map(|p| {
            self.span("per");
            self.word(p)
        });
        let end = per.as_ref().map_or(rate.span, |p| p.span);
        ast::Limit {
            scope,
            rate,
            per,
            span: start.to(end).into(),
        }
    }

    /// `endpoint "PATH" -> PROFILE`.
    pub fn endpoint(&mut self, path: &str, profile: &str) -> ast::Endpoint {
        let start = self.span("endpoint");
        let path = self.lit(path);
        self.span("->");
        let profile = self.word(profile);
        ast::Endpoint {
            span: start.to(profile.span).into(),
            path,
            profile,
            when: None,
            auth: Vec::new(),
            sse: None,
        }
    }

    /// `endpoint "PATH" -> PROFILE when header NAME == "VALUE"`.
    pub fn endpoint_when(
        &mut self,
        path: &str,
        profile: &str,
        header: &str,
        value: &str,
    ) -> ast::Endpoint {
        let mut ep = self.endpoint(path, profile);
        let start = self.span("when");
        let name = self.word(header);
        let value = self.lit(value);
        let span = start.to(value.span);
        ep.span = ep.span.to(span).into();
        ep.when = Some(ast::Condition::HeaderEquals {
            name,
            value,
            span: span.into(),
        });
        ep
    }

    /// `listen ADDR`.
    pub fn listen(&mut self, addr: &str) -> ast::Item {
        let start = self.span("listen");
        let addr = self.word(addr);
        ast::Item::Listen(ast::Listen {
            span: start.to(addr.span).into(),
            addr,
            origins: vec![],
        })
    }

    /// `default-profile NAME`.
    pub fn default_profile(&mut self, name: &str) -> ast::Item {
        self.span("default-profile");
        ast::Item::DefaultProfile(self.word(name))
    }

    /// `logging {` … `}`, empty.
    pub fn logging(&mut self) -> ast::Logging {
        let span = self.block("logging {");
        ast::Logging {
            span: span.into(),
            ..Default::default()
        }
    }

    /// A number written in the text.
    pub fn number(&mut self, n: u64) -> Spanned<u64> {
        Spanned::new(n, self.span(&n.to_string()))
    }
}

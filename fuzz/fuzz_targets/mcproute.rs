//! The `.mcproute` front-end and the checker behind it, on any text: no panic, and every
//! diagnostic renders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp2::check::compile;
use mcp2::diag::{RenderOptions, render_all};
use mcp2::source::SourceSet;

fuzz_target!(|text: &str| {
    let mut sources = SourceSet::new();
    sources.add("fuzz.mcproute", text);
    let env: std::collections::HashMap<String, String> =
        [("TOKEN".to_string(), "t".to_string())].into_iter().collect();
    let compiled = compile(&sources, &env);
    let _ = render_all(&compiled.diagnostics, &sources, RenderOptions::plain());
});

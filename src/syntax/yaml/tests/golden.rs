//! Rendered diagnostics for each bad file under `fixtures/`, as `mcp2 check` would print them
//! (insta snapshots under `snapshots/`; review changes with `cargo insta review`).

use super::parse;
use crate::diag::{RenderOptions, render_all};

#[test]
fn bad_files_render_as_expected() {
    insta::glob!("fixtures/*.yaml", |path| {
        let text = std::fs::read_to_string(path).expect("a readable fixture");
        let parsed = parse(&text);
        assert!(
            parsed.diags.has_errors(),
            "{} has no errors",
            path.display()
        );
        insta::assert_snapshot!(render_all(
            &parsed.diags,
            &parsed.sources,
            RenderOptions::plain()
        ));
    });
}

//! Progress for long CLI operations, drawn on stderr only when stderr is a terminal.
//!
//! Piped or redirected output (CI, editors, `2>file`) never sees a bar or its escape codes: the
//! bar draws to a hidden target there. Whatever a command prints while a bar is up goes through
//! [`Progress::suspend`], so its lines are not torn by a redraw.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `len` steps, or nothing visible when stderr is not a terminal.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar that says `what` it is doing (`checking`) and counts `len` steps.
    pub fn new(len: u64, what: &str) -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    /// Whether anything is drawn (false when stderr is not a terminal).
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Names the step being worked on.
    pub fn step(&self, name: impl Into<String>) {
        self.bar.set_message(name.into());
    }

    /// Runs `f` with the bar cleared, so `f` can print; then counts one step done.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let r = self.bar.suspend(f);
        self.bar.inc(1);
        r
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_drawn_when_stderr_is_not_a_terminal() {
        // `cargo test` captures stderr through a pipe.
        if std::io::stderr().is_terminal() {
            return;
        }
        let progress = Progress::new(3, "checking");
        assert!(!progress.is_visible());
        assert_eq!(progress.suspend(|| 7), 7);
        progress.finish();
    }
}

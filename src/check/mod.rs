//! The checker: ASTs → [`Plan`], or every diagnostic at once (to be written).

use std::collections::HashMap;

use crate::diag::Diagnostics;
use crate::plan::Plan;
use crate::source::SourceSet;

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

pub fn compile(_sources: &SourceSet, _env: &dyn Env) -> Compiled {
    Compiled {
        plan: None,
        diagnostics: Diagnostics::new(),
    }
}

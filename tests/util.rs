//! A small harness that runs the real `mcp2` binary, after ripgrep's `tests/util.rs`.
//!
//! [`Dir`] is a fresh directory per test (under Cargo's target tmp dir) to write route files
//! into; [`Dir::command`] gives a [`TestCommand`] that runs `mcp2` there with a clean, known
//! environment; [`Outcome`] holds what came back, so a test reads as a story:
//!
//! ```ignore
//! let dir = Dir::new("check_ok");
//! dir.create("routes.mcproute", "upstream a { http \"https://a.example/mcp\" }\n");
//! let out = dir.command().args(["check", "routes.mcproute"]).run();
//! out.assert_exit(0);
//! ```
//!
//! Also compiled as its own (empty) test crate by Cargo, hence `allow(dead_code)`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory, emptied when created.
pub struct Dir {
    root: PathBuf,
}

impl Dir {
    /// `name` must be unique among tests (use the test's name).
    pub fn new(name: &str) -> Dir {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("cli")
            .join(name);
        if root.exists() {
            std::fs::remove_dir_all(&root).expect("clear test dir");
        }
        std::fs::create_dir_all(&root).expect("create test dir");
        Dir { root }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Writes a file (creating parent directories) relative to the root.
    pub fn create(&self, path: &str, contents: &str) -> &Dir {
        let full = self.root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(full, contents).expect("write test file");
        self
    }

    pub fn create_dir(&self, path: &str) -> &Dir {
        std::fs::create_dir_all(self.root.join(path)).expect("create dir");
        self
    }

    /// `mcp2` run in this directory, with colour off and no inherited route variables.
    pub fn command(&self) -> TestCommand {
        command_in(&self.root)
    }
}

/// `mcp2` run in an existing directory (a checked-in tree of fixtures), colour off.
pub fn command_in(dir: &Path) -> TestCommand {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp2"));
    cmd.current_dir(dir)
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1");
    TestCommand { cmd }
}

pub struct TestCommand {
    cmd: Command,
}

impl TestCommand {
    pub fn arg(mut self, arg: &str) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// Runs with exactly `vars` as the environment (and `NO_COLOR=1`), nothing inherited, so
    /// that `${VAR}` in the routes expands the same on every machine.
    pub fn only_env(mut self, vars: &[(&str, &str)]) -> Self {
        self.cmd
            .env_clear()
            .env("NO_COLOR", "1")
            .envs(vars.iter().copied());
        self
    }

    /// Runs to completion (stdout and stderr are pipes, never a terminal).
    pub fn run(mut self) -> Outcome {
        let out = self.cmd.output().expect("run mcp2");
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            command: format!("{:?}", self.cmd),
        }
    }
}

/// What a run of `mcp2` produced.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    command: String,
}

impl Outcome {
    /// Fails with everything printed when the exit code is not `code`.
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout parsed as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// stdout and stderr together, for "never shown anywhere" checks.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

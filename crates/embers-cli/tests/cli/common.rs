//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `embers` with `args`.
pub fn embers(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embers"))
        .args(args)
        .output()
        .expect("embers runs")
}

/// Runs `embers`, asserting success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = embers(args);
    assert!(
        out.status.success(),
        "embers {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `embers`, asserting exit code 1 and a one-line error; returns stderr.
pub fn fails(args: &[&str]) -> String {
    let out = embers(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "embers {args:?} should fail with 1"
    );
    let err = String::from_utf8(out.stderr).expect("UTF-8 output");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one-line error expected: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Folder of third-party test data fetched by `scripts/fetch-testdata.sh`.
pub fn testdata() -> PathBuf {
    embers_testkit::testdata("gensim")
}

/// A path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

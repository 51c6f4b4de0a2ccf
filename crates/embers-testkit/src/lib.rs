//! Test support shared by every test of the embers workspace (a dev-dependency only): where the
//! third-party test data is, and which Python interpreter runs the reference implementations.
//!
//! `scripts/test.sh` prepares both and exports them as `EMBERS_TESTDATA` and `EMBERS_PYTHON`.
//! When a test runs without them (plain `cargo test`), the project-local defaults are used if
//! they exist (`testdata-fetched/`, `.venv/bin/python`); otherwise the test fails with a message
//! that names the command to run. A reference that is missing or broken is a failure, never a
//! skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (two levels above this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder of third-party test data fetched by `scripts/fetch-testdata.sh`, checked to hold
/// `needs` (a file or folder below it, such as `"gensim"` or `"minilm/model.safetensors"`).
///
/// # Panics
/// When the data is missing, with the folder and the command that fetches it.
pub fn testdata(needs: &str) -> PathBuf {
    let dir = std::env::var_os("EMBERS_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("testdata-fetched"));
    assert!(
        dir.join(needs).exists(),
        "test data missing: {} not found in {} (run scripts/test.sh, which fetches it)",
        needs,
        dir.display()
    );
    dir
}

/// The interpreter of the project-local Python environment: `$EMBERS_PYTHON`, else
/// `.venv/bin/python` in the workspace. Never `python3` from `PATH`, whose packages are unknown.
///
/// # Panics
/// When neither exists, naming the command that creates the environment.
pub fn python_path() -> PathBuf {
    let path = std::env::var_os("EMBERS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "the tests' Python environment is missing: {} not found (run scripts/test.sh, which \
         creates it with the pinned packages of scripts/requirements-test.txt)",
        path.display()
    );
    path
}

/// A `Command` that runs the reference Python interpreter (see [`python_path`]).
pub fn python() -> Command {
    Command::new(python_path())
}

/// Runs the reference script `scripts/NAME` with `args`, writes `input` to its standard input
/// and returns its standard output (the tests' references speak JSON on both).
///
/// # Panics
/// When the script cannot start or fails, with its standard error in the message.
pub fn run_script(name: &str, args: &[&std::ffi::OsStr], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let script = workspace().join("scripts").join(name);
    let mut child = python()
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", script.display()));
    // A script that fails early closes its input; its exit status and stderr tell why.
    let _ = child.stdin.take().expect("piped").write_all(input);
    let out = child.wait_with_output().expect("the script's output");
    assert!(
        out.status.success(),
        "{name} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

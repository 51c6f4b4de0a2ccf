//! Faults from the outside: out-of-range arguments, inputs that are not regular files, and a
//! second Ctrl-C during GloVe training. Each used to crash, hang or leave files behind.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{fails, s, testdata};

/// Runs `embers args`, killing it after `secs` (then the test fails: it hung).
fn run_within(args: &[&str], secs: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_embers"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("embers {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Asserts a one-line error with exit code 1 that contains `needle`.
fn one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn small_corpus(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("small.txt");
    let line = "the quick brown fox jumps over the lazy dog and the cat\n";
    std::fs::write(&p, line.repeat(60)).unwrap();
    p
}

/// Every numeric argument has a documented range; outside it is one line and exit code 1,
/// before any work. These used to segfault (the GloVe dim), abort (threads), run for ever
/// (negative), be accepted (window) or answer nothing with exit 0 (ef 0).
#[test]
fn out_of_range_arguments_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = small_corpus(dir.path());
    let out = dir.path().join("out.safetensors");
    let (c, o) = (s(&corpus), s(&out));
    for (args, field) in [
        (
            vec!["train", "glove", c, "-o", o, "--dim", "2305843009213693952"],
            "`dim`",
        ),
        (
            vec!["train", "glove", c, "-o", o, "--threads", "100000"],
            "`threads`",
        ),
        (
            vec!["train", "glove", c, "-o", o, "--window", "1000000"],
            "`window`",
        ),
        (
            vec!["train", "glove", c, "-o", o, "--memory", "1K"],
            "`memory`",
        ),
        (
            vec!["train", "word2vec", c, "-o", o, "--threads", "1000000"],
            "`threads`",
        ),
        (
            vec!["train", "word2vec", c, "-o", o, "--negative", "1000000000"],
            "`negative`",
        ),
        (
            vec!["train", "word2vec", c, "-o", o, "--window", "4294967296"],
            "`window`",
        ),
        (
            vec!["train", "word2vec", c, "-o", o, "--dim", "100000000"],
            "`dim`",
        ),
        (
            vec!["train", "fasttext", c, "-o", o, "--epochs", "4000000000"],
            "`epochs`",
        ),
        (
            vec!["train", "fasttext", c, "-o", o, "--maxn", "1000"],
            "`maxn`",
        ),
    ] {
        let err = fails(&args);
        assert!(err.contains(field), "{args:?}: {err}");
        assert!(!out.exists());
    }
    // Queries and the index: a tiny embedding file in word2vec text format.
    let vec = dir.path().join("tiny.vec");
    std::fs::write(&vec, "3 2\na 1 0\nb 0 1\nc 1 1\n").unwrap();
    let v = s(&vec);
    for (args, field) in [
        (
            vec!["index", "build", v, "--threads", "100000"],
            "`threads`",
        ),
        (vec!["index", "build", v, "--m", "0"], "`m`"),
        (vec!["index", "build", v, "--ef", "0"], "`ef`"),
        (vec!["similar", v, "a", "--ann", "--ef", "0"], "`ef`"),
    ] {
        let err = fails(&args);
        assert!(err.contains(field), "{args:?}: {err}");
    }
}

/// `info` and `convert` on a FIFO used to block for ever (opening it waits for a writer);
/// `verify` on a folder said "No such device". Both are one-line errors now.
#[cfg(unix)]
#[test]
fn fifos_and_folders_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = dir.path().join("out.vec");
    for args in [
        vec!["info", s(&fifo)],
        vec!["convert", s(&fifo), s(&out)],
        // The named text formats look for gzip's magic bytes before anything else.
        vec!["convert", "--from", "word2vec-text", s(&fifo), s(&out)],
        vec!["convert", "--from", "glove", s(&fifo), s(&out)],
        vec!["verify", s(&fifo)],
        vec!["lookup", s(&fifo), "a"],
    ] {
        one_line_error(&run_within(&args, 20), "not a regular file");
    }
    assert!(!out.exists());
    for args in [vec!["verify", s(dir.path())], vec!["info", s(dir.path())]] {
        one_line_error(&run_within(&args, 20), "is a folder");
    }
}

/// A second Ctrl-C during GloVe training used to `_exit` at once, leaving the spill folder
/// (run and bucket files) behind. Now it removes the folder first, then exits with 130.
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_still_removes_glove_temporary_files() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let corpus = testdata().join("gensim/lee_background.cor");
    let out = dir.path().join("glove.safetensors");
    let mut child = Command::new(env!("CARGO_BIN_EXE_embers"))
        .args([
            "train",
            "glove",
            s(&corpus),
            "-o",
            s(&out),
            "--dim",
            "16",
            "--window",
            "5",
            "--iter",
            "10000",
            "--threads",
            "2",
            "--memory",
            "256K",
            "--progress",
            "json",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("\"iteration\"") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    let names = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(names().iter().any(|n| n.starts_with(".embers-glove")));
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).unwrap();
        rest
    });
    for _ in 0..2 {
        // SAFETY: sending a signal to our own child process.
        assert_eq!(
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
            0
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("embers train glove did not stop on two SIGINTs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest = reader.join().unwrap();
    // Either the first Ctrl-C already finished the clean stop (1) or the second one did (130).
    assert!(matches!(status.code(), Some(1) | Some(130)), "{rest}");
    assert!(!rest.contains("panicked"), "{rest}");
    assert!(names().is_empty(), "{:?} {rest}", names());
}

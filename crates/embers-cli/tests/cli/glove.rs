//! `embers train glove` end to end: counting, training, output file, progress events, errors.

use crate::common::{embers, fails, ok, s, testdata};

#[test]
fn train_glove_on_lee_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = testdata().join("gensim/lee_background.cor");
    let out = dir.path().join("glove.safetensors");
    // A 256 KiB budget forces the counts to disk and the entries into bucket files.
    let run = embers(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--dim",
        "16",
        "--window",
        "5",
        "--min-count",
        "5",
        "--iter",
        "3",
        "--threads",
        "2",
        "--memory",
        "256K",
        "--progress",
        "json",
    ]);
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(run.status.success(), "{stderr}");
    let losses: Vec<f64> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "iteration")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 3, "{stderr}");
    assert!(losses[2] < losses[0], "{losses:?}");
    assert!(stderr.contains("sorted runs on disk"), "{stderr}");
    assert!(stderr.contains("buckets on disk"), "{stderr}");
    let info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&out), "--json"]).trim()).unwrap();
    // Python's Counter over line.split() finds 1762 tokens seen at least 5 times.
    assert_eq!(info["rows"], 1762);
    assert_eq!(info["dims"], 16);
    assert_eq!(info["metadata"]["trainer"], "glove");
    // No temporary files left next to the output.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["glove.safetensors".to_string()]);
}

#[test]
fn train_glove_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.txt");
    std::fs::write(&corpus, "a b c\n").unwrap();
    let out = dir.path().join("o.safetensors");
    let err = fails(&[
        "train",
        "glove",
        s(&dir.path().join("missing.txt")),
        "-o",
        s(&out),
    ]);
    assert!(err.contains("missing.txt"), "{err}");
    let err = fails(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--min-count",
        "5",
    ]);
    assert!(err.contains("min_count"), "{err}");
    let err = fails(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--min-count",
        "1",
        "--x-max",
        "0",
    ]);
    assert!(err.contains("x_max"), "{err}");
    let bad = embers(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--memory",
        "12Q",
    ]);
    assert!(!bad.status.success());
    assert!(!out.exists());
}

/// Ctrl-C (SIGINT) during training: exit code 1 with one message, no output file, and no
/// spilled runs or bucket files left in the output's folder.
#[cfg(unix)]
#[test]
fn train_glove_stops_cleanly_on_ctrl_c() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let corpus = testdata().join("gensim/lee_background.cor");
    let out = dir.path().join("glove.safetensors");
    // Far more iterations than the test waits for; a small budget puts runs and buckets on disk.
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
    // Wait until training is under way (two iterations done), then interrupt.
    let mut iterations = 0;
    while iterations < 2 {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        if line.contains("\"iteration\"") {
            iterations += 1;
        }
        seen.push_str(&line);
    }
    // The entries are in bucket files next to the output while training runs.
    let temporary: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        temporary.iter().any(|n| n.starts_with(".embers-glove")),
        "{temporary:?}"
    );
    // SAFETY: sending a signal to our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    // Drain stderr meanwhile, so the child never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).unwrap();
        rest
    });
    // Stopping takes a moment (the current pieces of 65,536 entries end); a run that goes on
    // for a minute did not stop.
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("embers train glove did not stop on SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let rest = reader.join().unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    let last = rest.trim_end().lines().last().unwrap_or("");
    assert!(
        last.contains("training interrupted; nothing written to"),
        "{rest}"
    );
    assert!(!rest.contains("panicked"), "{rest}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

//! `embers predict`, `embers test`, `embers train supervised` and `embers quantize` on supervised
//! models, against fastText's own tool (Debian's `fasttext`, installed by the test setup) on the
//! real language-identification model `lid.176.ftz` and a corpus from Debian's fortunes.

use std::path::Path;
use std::process::Command;

use crate::common::{fails, ok, s};

/// `fasttext predict-prob MODEL FILE k` (the reference), stdout.
fn fasttext_predict(model: &Path, file: &Path, k: usize) -> String {
    let out = Command::new("fasttext")
        .args(["predict-prob", s(model), s(file), &k.to_string()])
        .output()
        .expect("the fastText tool (Debian package fasttext) runs; scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "fasttext predict-prob failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Asserts the same labels, in the same order, on every line, and probabilities within `tol`
/// (fastText prints 6 significant digits).
fn assert_same_predictions(ours: &str, theirs: &str, tol: f64) -> usize {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    assert_eq!(a.len(), b.len(), "number of lines");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let (x, y): (Vec<&str>, Vec<&str>) = (x.split(' ').collect(), y.split(' ').collect());
        let labels = |v: &[&str]| {
            v.iter()
                .step_by(2)
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(labels(&x), labels(&y), "line {}: labels differ", i + 1);
        for (p, q) in x.iter().skip(1).step_by(2).zip(y.iter().skip(1).step_by(2)) {
            let (p, q): (f64, f64) = (p.parse().unwrap(), q.parse().unwrap());
            assert!(
                (p - q).abs() <= tol,
                "line {}: probability {p} vs {q}",
                i + 1
            );
        }
    }
    a.len()
}

#[test]
fn lid176_predictions_equal_fasttext() {
    let data = embers_testkit::testdata("lid/lid.176.ftz");
    let model = data.join("lid/lid.176.ftz");
    let lines = embers_testkit::testdata("fortunes/lines.txt").join("fortunes/lines.txt");
    let ours = ok(&["predict", s(&model), "--file", s(&lines), "-k", "3"]);
    let theirs = fasttext_predict(&model, &lines, 3);
    let n = assert_same_predictions(&ours, &theirs, 1e-5);
    assert!(n > 5000, "{n} lines");
    // Tokenisation edge cases: tabs, carriage returns, NUL, runs of spaces, label tokens,
    // an empty line, invalid UTF-8, and a last line without a newline (no end-of-line token).
    let dir = tempfile::tempdir().unwrap();
    let edge = dir.path().join("edge.txt");
    std::fs::write(
        &edge,
        b"Bonjour\tle  monde\r\n\nhello __label__en world\n\x00ceci est\x0bun test\nna\xefve caf\xc3\xa9\nder letzte Satz",
    )
    .unwrap();
    let ours = ok(&["predict", s(&model), "--file", s(&edge), "-k", "5"]);
    assert_same_predictions(&ours, &fasttext_predict(&model, &edge, 5), 1e-5);
    // Threshold and k beyond the labels; JSON; text arguments get the end-of-line token.
    let ours = ok(&[
        "predict",
        s(&model),
        "--file",
        s(&lines),
        "-k",
        "200",
        "--threshold",
        "0.05",
    ]);
    let out = Command::new("fasttext")
        .args(["predict-prob", s(&model), s(&lines), "200", "0.05"])
        .output()
        .unwrap();
    assert_same_predictions(&ours, &String::from_utf8(out.stdout).unwrap(), 1e-5);
    let json = ok(&[
        "predict",
        s(&model),
        "Das ist ein Haus",
        "--json",
        "-k",
        "2",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["labels"][0], "__label__de");
    // Only one label: hs prunes the rest, whose probability is below fastText's floor (as
    // fastText does; the comparison below checks it).
    assert_eq!(v["probs"].as_array().unwrap().len(), 1);
    let one = dir.path().join("one.txt");
    std::fs::write(&one, "Das ist ein Haus\n").unwrap();
    let plain = ok(&["predict", s(&model), "Das ist ein Haus", "-k", "2"]);
    assert_same_predictions(&plain, &fasttext_predict(&model, &one, 2), 1e-5);
}

#[test]
fn bad_models_and_arguments_fail_cleanly() {
    let data = embers_testkit::testdata("lid/lid.176.ftz");
    let model = data.join("lid/lid.176.ftz");
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&model).unwrap();
    for cut in [10, 200, 5000, bytes.len() / 2, bytes.len() - 3] {
        let p = dir.path().join(format!("cut{cut}.ftz"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let err = fails(&["predict", s(&p), "hello"]);
        assert!(err.contains(&format!("cut{cut}.ftz")), "{err}");
    }
    let extra = dir.path().join("extra.ftz");
    let mut b = bytes.clone();
    b.push(0);
    std::fs::write(&extra, &b).unwrap();
    assert!(fails(&["predict", s(&extra), "hello"]).contains("unexpected data"));
    let unsup = embers_testkit::testdata("gensim").join("gensim/lee_fasttext_new.bin");
    assert!(fails(&["predict", s(&unsup), "hello"]).contains("not supervised"));
    assert!(fails(&["predict", s(&model), "hello", "-k", "0"]).contains("-k"));
}

#[test]
fn train_test_quantize_round_trip_through_fasttext() {
    let data = embers_testkit::testdata("fortunes/train.txt");
    let train = data.join("fortunes/train.txt");
    let test = data.join("fortunes/test.txt");
    let lines = data.join("fortunes/lines.txt");
    let dir = tempfile::tempdir().unwrap();
    for (loss, extra) in [
        ("softmax", vec!["--word-ngrams", "2", "--bucket", "20000"]),
        (
            "hs",
            vec!["--minn", "2", "--maxn", "3", "--bucket", "20000"],
        ),
        ("ova", vec![]),
        ("ns", vec!["--neg", "3"]),
    ] {
        let bin = dir.path().join(format!("{loss}.bin"));
        let mut args = vec![
            "train",
            "supervised",
            s(&train),
            "-o",
            s(&bin),
            "--dim",
            "16",
            "--epoch",
            "3",
            "--loss",
            loss,
            "--thread",
            "2",
            "--lr",
            "0.5",
        ];
        args.extend(extra.iter().copied());
        ok(&args);
        // fastText loads the file and predicts exactly what embers predicts.
        let theirs = fasttext_predict(&bin, &lines, 2);
        let ours = ok(&["predict", s(&bin), "--file", s(&lines), "-k", "2"]);
        assert_same_predictions(&ours, &theirs, 1e-5);
        // `embers test` prints what `fasttext test` prints.
        let ours = ok(&["test", s(&bin), s(&test)]);
        let out = Command::new("fasttext")
            .args(["test", s(&bin), s(&test)])
            .output()
            .unwrap();
        assert_eq!(ours, String::from_utf8(out.stdout).unwrap(), "{loss}");
        let p1: f64 = ours
            .lines()
            .nth(1)
            .unwrap()
            .split('\t')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert!(p1 > 0.8, "{loss}: P@1 {p1}");
    }
    // Quantize with pruning, retraining, qnorm and qout; fastText loads the .ftz and agrees.
    let bin = dir.path().join("softmax.bin");
    let ftz = dir.path().join("softmax.ftz");
    ok(&[
        "quantize",
        s(&bin),
        s(&ftz),
        "--cutoff",
        "3000",
        "--retrain",
        "--input",
        s(&train),
        "--qnorm",
        "--dsub",
        "2",
        "--epoch",
        "1",
        "--thread",
        "2",
    ]);
    let theirs = fasttext_predict(&ftz, &lines, 2);
    let ours = ok(&["predict", s(&ftz), "--file", s(&lines), "-k", "2"]);
    assert_same_predictions(&ours, &theirs, 1e-5);
    let ours = ok(&["test", s(&ftz), s(&test)]);
    let p1: f64 = ours
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(p1 > 0.8, "quantized P@1 {p1}");
}

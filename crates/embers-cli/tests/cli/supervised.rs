//! `embers predict`, `embers test`, `embers train supervised` and `embers quantize` on supervised
//! models, against fastText's own tool (Debian's `fasttext`, installed by the test setup) on the
//! real language-identification model `lid.176.ftz` and a corpus from Debian's fortunes.

use std::path::Path;
use std::process::Command;

use crate::common::{fails, ok, s};

/// `fasttext predict-prob MODEL FILE k` (the reference), stdout.
pub(crate) fn fasttext_predict(model: &Path, file: &Path, k: usize) -> String {
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
pub(crate) fn assert_same_predictions(ours: &str, theirs: &str, tol: f64) -> usize {
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

/// Runs the `fasttext` tool with `args`, asserting success; returns stdout.
fn fasttext_ok(args: &[&str]) -> String {
    let out = Command::new("fasttext")
        .args(args)
        .output()
        .expect("the fastText tool (Debian package fasttext) runs; scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "fasttext {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The P@1 that `embers test` prints.
fn precision_at_1(model: &Path, test: &Path) -> f64 {
    let out = ok(&["test", s(model), s(test)]);
    out.lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Asserts two `fasttext dump MODEL dict` outputs hold the same entries (word, count, type),
/// each in fastText's order: words before labels, counts not increasing. The order among
/// equal counts is left out: it differs (fastText sorts with libstdc++'s unstable
/// `std::sort`, whose tie order embers does not reproduce).
fn assert_same_entries(ours: &str, theirs: &str) {
    let entries = |d: &str| -> Vec<(String, i64, String)> {
        d.lines()
            .skip(1)
            .map(|l| {
                let mut f = l.rsplitn(3, ' ');
                let kind = f.next().unwrap().to_string();
                let count = f.next().unwrap().parse().unwrap();
                (f.next().unwrap().to_string(), count, kind)
            })
            .collect()
    };
    let (mut a, mut b) = (entries(ours), entries(theirs));
    for e in [&a, &b] {
        assert!(e
            .windows(2)
            .all(|w| (w[0].2 == w[1].2 && w[0].1 >= w[1].1)
                || (w[0].2 == "word" && w[1].2 == "label")));
    }
    a.sort();
    b.sort();
    assert_eq!(a.len(), b.len(), "number of entries");
    let diff: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).take(5).collect();
    assert!(
        diff.is_empty(),
        "entries differ (ours, fastText's): {diff:?}"
    );
}

/// The first `n` lines of `src` written to `dst` with the label prefix `__label__` replaced.
fn relabelled(src: &Path, dst: &Path, n: usize, prefix: &str) {
    let text = std::fs::read_to_string(src).unwrap();
    let out: String = text
        .lines()
        .take(n)
        .map(|l| l.replace("__label__", prefix) + "\n")
        .collect();
    std::fs::write(dst, out).unwrap();
}

/// `src` with each line's label made finer, `__label__<language>_<first character of the
/// text>` (about 1,000 labels: product-quantizing the output matrix needs at least 256 rows).
fn first_character_labels(src: &Path, dst: &Path) {
    let text = std::fs::read_to_string(src).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let (labels, words): (Vec<&str>, Vec<&str>) = line
            .split_ascii_whitespace()
            .partition(|t| t.starts_with("__label__"));
        let (Some(label), Some(first)) = (labels.first(), words.first()) else {
            continue;
        };
        let c: String = first.chars().next().unwrap().to_lowercase().collect();
        out.push_str(&format!("{label}_{c} {}\n", words.join(" ")));
    }
    std::fs::write(dst, out).unwrap();
}

/// The `.ftz` without `--qout` is read by fastText as such, and with `--qout` (the output
/// matrix product-quantized, which fastText refuses below 256 labels and so does embers).
#[test]
fn quantize_qout_loads_in_fasttext_like_its_own_qout() {
    let data = embers_testkit::testdata("fortunes/train.txt");
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.txt"), dir.path().join("test.txt"));
    first_character_labels(&data.join("fortunes/train.txt"), &train);
    first_character_labels(&data.join("fortunes/test.txt"), &test);
    let bin = dir.path().join("m.bin");
    ok(&[
        "train",
        "supervised",
        s(&train),
        "-o",
        s(&bin),
        "--dim",
        "16",
        "--epoch",
        "2",
        "--lr",
        "0.5",
        "--thread",
        "2",
        "--progress",
        "none",
    ]);
    let nlabels = fasttext_ok(&["dump", s(&bin), "dict"])
        .lines()
        .filter(|l| l.ends_with(" label"))
        .count();
    assert!(nlabels > 300, "{nlabels} labels");
    let ftz = dir.path().join("ours.ftz");
    ok(&[
        "quantize",
        s(&bin),
        s(&ftz),
        "--qout",
        "--qnorm",
        "--cutoff",
        "5000",
        "--retrain",
        "--input",
        s(&train),
        "--epoch",
        "1",
        "--thread",
        "2",
        "--progress",
        "none",
    ]);
    // fastText loads the file and predicts and tests exactly as embers does.
    let theirs = fasttext_predict(&ftz, &test, 3);
    let ours = ok(&["predict", s(&ftz), "--file", s(&test), "-k", "3"]);
    assert!(assert_same_predictions(&ours, &theirs, 1e-5) > 5000);
    assert_eq!(
        ok(&["test", s(&ftz), s(&test)]),
        fasttext_ok(&["test", s(&ftz), s(&test)])
    );
    // fastText's own `quantize -qout` of the same .bin: a file of the same layout (same rows
    // kept, both matrices product-quantized: the size differs by a few bytes of dictionary at
    // most) and about the same precision.
    std::fs::copy(&bin, dir.path().join("theirs.bin")).unwrap();
    let prefix = dir.path().join("theirs");
    fasttext_ok(&[
        "quantize",
        "-input",
        s(&train),
        "-output",
        s(&prefix),
        "-qout",
        "-qnorm",
        "-cutoff",
        "5000",
        "-retrain",
        "-epoch",
        "1",
        "-thread",
        "2",
        "-verbose",
        "0",
    ]);
    let theirs_ftz = dir.path().join("theirs.ftz");
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64;
    let (a, b) = (size(&ftz), size(&theirs_ftz));
    assert!((a / b - 1.0).abs() < 0.005, "sizes {a} vs fastText's {b}");
    // Without --qout the output stays dense: nlabels × 16 floats, instead of 8 codes and a
    // norm code per label, 256 centroids of each of the 8 sub-spaces and 256 norm centroids.
    let plain = dir.path().join("plain.ftz");
    ok(&[
        "quantize",
        s(&bin),
        s(&plain),
        "--qnorm",
        "--cutoff",
        "5000",
        "--retrain",
        "--input",
        s(&train),
        "--epoch",
        "1",
        "--thread",
        "2",
        "--progress",
        "none",
    ]);
    let saved = (nlabels * 16 * 4) as f64 - (nlabels * 9 + 16 * 256 * 4 + 256 * 4) as f64;
    let got = size(&plain) - a;
    assert!(
        (got - saved).abs() < 128.0,
        "--qout saves {got} bytes, expected {saved}"
    );
    let (p_ours, p_theirs) = (
        precision_at_1(&ftz, &test),
        precision_at_1(&theirs_ftz, &test),
    );
    assert!(
        (p_ours - p_theirs).abs() < 0.03,
        "P@1 {p_ours} vs fastText's {p_theirs}"
    );
    // 12 labels are too few for --qout, for fastText and embers alike: a clear error.
    let few = dir.path().join("few.bin");
    ok(&[
        "train",
        "supervised",
        s(&data.join("fortunes/test.txt")),
        "-o",
        s(&few),
        "--dim",
        "8",
        "--epoch",
        "1",
        "--thread",
        "1",
        "--progress",
        "none",
    ]);
    let err = fails(&[
        "quantize",
        s(&few),
        s(&dir.path().join("few.ftz")),
        "--qout",
    ]);
    assert!(err.contains("256 rows"), "{err}");
}

#[test]
fn pretrained_vectors_join_the_dictionary_and_rows_as_in_fasttext() {
    let data = embers_testkit::testdata("fortunes/train.txt");
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.txt");
    relabelled(&data.join("fortunes/train.txt"), &train, 3000, "__label__");
    // Vectors for 300 training words and two words the data does not have (fastText adds
    // those to the dictionary too), 4-decimal values so fastText's 6-digit dump is exact.
    let text = std::fs::read_to_string(&train).unwrap();
    let mut words: Vec<&str> = Vec::new();
    for w in text.split_ascii_whitespace() {
        if !w.starts_with("__label__") && !words.contains(&w) {
            words.push(w);
            if words.len() == 300 {
                break;
            }
        }
    }
    words.extend(["zzpretrainedonly", "qqalsonew"]);
    let dim = 8;
    let value = |i: usize, j: usize| ((i * 37 + j * 11) % 97) as f64 / 97.0 - 0.5;
    let mut vec_text = format!("{} {dim}\n", words.len());
    for (i, w) in words.iter().enumerate() {
        vec_text.push_str(w);
        for j in 0..dim {
            vec_text.push_str(&format!(" {:.4}", value(i, j)));
        }
        vec_text.push('\n');
    }
    let vecs = dir.path().join("pre.vec");
    std::fs::write(&vecs, vec_text).unwrap();
    // A learning rate of 1e-9: the input rows stay the pretrained values (to 1e-6).
    let ours = dir.path().join("ours.bin");
    ok(&[
        "train",
        "supervised",
        s(&train),
        "-o",
        s(&ours),
        "--dim",
        "8",
        "--epoch",
        "1",
        "--lr",
        "1e-9",
        "--thread",
        "1",
        "--pretrained-vectors",
        s(&vecs),
        "--progress",
        "none",
    ]);
    let prefix = dir.path().join("theirs");
    fasttext_ok(&[
        "supervised",
        "-input",
        s(&train),
        "-output",
        s(&prefix),
        "-dim",
        "8",
        "-epoch",
        "1",
        "-lr",
        "1e-9",
        "-thread",
        "1",
        "-pretrainedVectors",
        s(&vecs),
        "-verbose",
        "0",
    ]);
    let theirs = dir.path().join("theirs.bin");
    // The same dictionary (words, counts with the pretrained words added, labels), read from
    // both files by fastText.
    let dict = fasttext_ok(&["dump", s(&ours), "dict"]);
    assert_same_entries(&dict, &fasttext_ok(&["dump", s(&theirs), "dict"]));
    assert!(dict.contains("zzpretrainedonly 1 word"), "{}", &dict[..200]);
    // The pretrained words' input rows are the file's values, in both models.
    let rows = |model: &Path| -> std::collections::HashMap<String, Vec<f64>> {
        let dump = fasttext_ok(&["dump", s(model), "input"]);
        let dict = fasttext_ok(&["dump", s(model), "dict"]);
        let names: Vec<String> = dict
            .lines()
            .skip(1)
            .filter(|l| l.ends_with(" word"))
            .map(|l| l.rsplitn(3, ' ').nth(2).unwrap().to_string())
            .collect();
        dump.lines()
            .skip(1)
            .zip(names)
            .map(|(l, w)| {
                let v = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
                (w, v)
            })
            .collect()
    };
    let (r_ours, r_theirs) = (rows(&ours), rows(&theirs));
    for (i, w) in words.iter().enumerate() {
        let want: Vec<f64> = (0..dim)
            .map(|j| (value(i, j) * 1e4).round() / 1e4)
            .collect();
        for (name, r) in [("embers", &r_ours), ("fastText", &r_theirs)] {
            let got = &r[*w];
            assert!(
                got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5),
                "{name}: row of {w:?} {got:?}, file {want:?}"
            );
        }
    }
    // Trained for real from the pretrained rows, the model predicts in fastText as in embers.
    ok(&[
        "train",
        "supervised",
        s(&train),
        "-o",
        s(&ours),
        "--dim",
        "8",
        "--epoch",
        "2",
        "--lr",
        "0.5",
        "--thread",
        "1",
        "--pretrained-vectors",
        s(&vecs),
        "--progress",
        "none",
    ]);
    let test = data.join("fortunes/test.txt");
    let theirs_pred = fasttext_predict(&ours, &test, 2);
    let ours_pred = ok(&["predict", s(&ours), "--file", s(&test), "-k", "2"]);
    assert_same_predictions(&ours_pred, &theirs_pred, 1e-5);
    // A dimension that differs from the file's is one clear error naming the file.
    let err = fails(&[
        "train",
        "supervised",
        s(&train),
        "-o",
        s(&ours),
        "--dim",
        "10",
        "--pretrained-vectors",
        s(&vecs),
    ]);
    assert!(err.contains("pre.vec") && err.contains("dim"), "{err}");
}

#[test]
fn custom_label_prefix_trains_tests_and_predicts_as_fasttext() {
    let data = embers_testkit::testdata("fortunes/train.txt");
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.txt"), dir.path().join("test.txt"));
    relabelled(&data.join("fortunes/train.txt"), &train, 6000, "lang=");
    relabelled(&data.join("fortunes/test.txt"), &test, 2000, "lang=");
    let ours = dir.path().join("ours.bin");
    ok(&[
        "train",
        "supervised",
        s(&train),
        "-o",
        s(&ours),
        "--dim",
        "16",
        "--epoch",
        "5",
        "--lr",
        "0.5",
        "--thread",
        "1",
        "--label",
        "lang=",
        "--progress",
        "none",
    ]);
    let prefix = dir.path().join("theirs");
    fasttext_ok(&[
        "supervised",
        "-input",
        s(&train),
        "-output",
        s(&prefix),
        "-dim",
        "16",
        "-epoch",
        "5",
        "-lr",
        "0.5",
        "-thread",
        "1",
        "-label",
        "lang=",
        "-verbose",
        "0",
    ]);
    let theirs = dir.path().join("theirs.bin");
    // Same dictionary: the `lang=` tokens are labels, everything else words.
    let dict = fasttext_ok(&["dump", s(&ours), "dict"]);
    assert_same_entries(&dict, &fasttext_ok(&["dump", s(&theirs), "dict"]));
    assert!(
        dict.contains("lang=en") && dict.contains(" label"),
        "{dict:.300}"
    );
    assert!(!dict.contains("__label__"));
    // fastText reads our file and predicts and tests as embers does.
    let theirs_pred = fasttext_predict(&ours, &test, 2);
    let ours_pred = ok(&["predict", s(&ours), "--file", s(&test), "-k", "2"]);
    assert_same_predictions(&ours_pred, &theirs_pred, 1e-5);
    assert!(ours_pred.starts_with("lang="), "{ours_pred:.100}");
    assert_eq!(
        ok(&["test", s(&ours), s(&test)]),
        fasttext_ok(&["test", s(&ours), s(&test)])
    );
    // And it learns as well as fastText's own run.
    let (p_ours, p_theirs) = (precision_at_1(&ours, &test), precision_at_1(&theirs, &test));
    assert!(
        p_ours > 0.8 && (p_ours - p_theirs).abs() < 0.03,
        "P@1 {p_ours} vs fastText's {p_theirs}"
    );
}

//! `embers export --to milvus`: through the Python package into Milvus Lite; every word is
//! there, and Milvus's top 10 agrees with `embers similar`.

use std::process::Command;

use crate::common::ok;

#[test]
fn export_to_milvus_lite_every_word_and_recall() {
    let dir = tempfile::tempdir().unwrap();
    let file = embers_testkit::testdata("gensim/lee_fasttext.vec").join("gensim/lee_fasttext.vec");
    let uri = dir.path().join("vectors.db");
    let python = embers_testkit::python_path();
    let out = Command::new(env!("CARGO_BIN_EXE_embers"))
        .args(["export", file.to_str().unwrap(), "--to", "milvus", "--uri"])
        .arg(&uri)
        .args([
            "--collection",
            "words",
            "--batch",
            "500",
            "--progress",
            "json",
        ])
        .env("EMBERS_PYTHON", &python)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1762 rows x 10 dims") && stdout.contains("rows/s"),
        "{stdout}"
    );
    assert!(stderr.contains(r#""event": "done""#), "{stderr}");

    // embers' exact answers for 1,000 words, from the CLI.
    let words: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .skip(1)
        .take(1000)
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let mut args = vec!["similar", file.to_str().unwrap(), "-k", "10", "--json"];
    args.extend(words.iter().map(String::as_str));
    let exact = dir.path().join("exact.jsonl");
    std::fs::write(&exact, ok(&args)).unwrap();

    let check = Command::new(&python)
        .args(["-c", CHECK])
        .arg(&uri)
        .arg(&exact)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let recall: f64 = String::from_utf8_lossy(&check.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(recall >= 0.95, "recall@10 {recall}");

    // A second export into the same collection is refused with one line, exit code 1.
    let again = Command::new(env!("CARGO_BIN_EXE_embers"))
        .args(["export", file.to_str().unwrap(), "--to", "milvus", "--uri"])
        .arg(&uri)
        .args(["--collection", "words"])
        .env("EMBERS_PYTHON", &python)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn export_without_the_python_package_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let file = embers_testkit::testdata("gensim/lee_fasttext.vec").join("gensim/lee_fasttext.vec");
    let out = Command::new(env!("CARGO_BIN_EXE_embers"))
        .args(["export", file.to_str().unwrap(), "--to", "milvus", "--uri"])
        .arg(dir.path().join("v.db"))
        .args(["--collection", "c"])
        .env("EMBERS_PYTHON", "/bin/false")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pip install"), "{stderr}");
    // The same for Parquet output, which also runs through the Python package.
    let out = Command::new(env!("CARGO_BIN_EXE_embers"))
        .args(["convert", file.to_str().unwrap()])
        .arg(dir.path().join("v.parquet"))
        .env("EMBERS_PYTHON", "/bin/false")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pip install ./python pyarrow") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
    assert!(!dir.path().join("v.parquet").exists());
}

/// Reads every row back from Milvus Lite and computes recall@10 of Milvus's search against
/// the exact neighbours of `embers similar --json`.
const CHECK: &str = r#"
import json, sys
import numpy as np
from pymilvus import MilvusClient
uri, exact = sys.argv[1], sys.argv[2]
answers = [json.loads(l) for l in open(exact, encoding="utf-8") if l.strip()]
c = MilvusClient(uri)
c.load_collection("words")  # a new Milvus Lite process opens the collection released
rows = c.query("words", filter="", output_fields=["word", "vector"], limit=16384)
vec = {r["word"]: r["vector"] for r in rows}
assert len(vec) == 1762, len(vec)
queries = [a["query"] for a in answers]
assert len(queries) == 1000
hits = c.search("words", data=[vec[q] for q in queries], limit=11, output_fields=["word"],
                search_params={"metric_type": "COSINE", "params": {"ef": 128}})
found = 0
for a, res in zip(answers, hits):
    theirs = [h["entity"]["word"] for h in res if h["entity"]["word"] != a["query"]][:10]
    found += len(set(theirs) & {n["word"] for n in a["neighbors"]})
c.close()
print(found / (10 * len(answers)))
"#;

/// Reads the Parquet file back with pyarrow and the source word2vec text file with plain
/// Python (no embers): same words in the same order, same float32 values, Arrow types
/// `string` and `fixed_size_list<float32>[dims]`. Prints the number of rows.
const PARQUET_CHECK: &str = r#"
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

parquet, source, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(source, encoding="utf-8").read().splitlines()
rows, dims = map(int, lines[0].split())
body = [l.rstrip(" ").split(" ") for l in lines[1 : 1 + min(rows, limit)]]
words = [f[0] for f in body]
want = np.array([[float(x) for x in f[1:]] for f in body], dtype=np.float64)
t = pq.read_table(parquet)
assert t.schema.field("word").type == pa.string(), t.schema
assert t.schema.field("vector").type == pa.list_(pa.float32(), dims), t.schema
assert t.column("word").to_pylist() == words
got = np.asarray(t.column("vector").combine_chunks().flatten()).reshape(len(words), dims)
assert got.dtype == np.float32
np.testing.assert_allclose(got.astype(np.float64), want, rtol=1.2e-7, atol=0)
print(t.num_rows)
"#;

#[test]
fn convert_to_parquet_read_back_by_pyarrow() {
    let dir = tempfile::tempdir().unwrap();
    let file = embers_testkit::testdata("gensim/lee_fasttext.vec").join("gensim/lee_fasttext.vec");
    let python = embers_testkit::python_path();
    let convert = |out: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_embers"))
            .args(["convert", file.to_str().unwrap()])
            .arg(out)
            .args(extra)
            .env("EMBERS_PYTHON", &python)
            .output()
            .unwrap()
    };
    let check = |out: &std::path::Path, limit: usize| -> String {
        let c = Command::new(&python)
            .args(["-c", PARQUET_CHECK])
            .arg(out)
            .arg(&file)
            .arg(limit.to_string())
            .output()
            .unwrap();
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
        String::from_utf8(c.stdout).unwrap().trim().to_string()
    };
    let all = dir.path().join("lee.parquet");
    let out = convert(&all, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1762 × 10"));
    assert_eq!(check(&all, usize::MAX), "1762");
    // --limit, and --to parquet whatever the extension.
    let some = dir.path().join("some.data");
    let out = convert(&some, &["--limit", "100", "--to", "parquet", "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(check(&some, 100), "100");
    // A bad input file: one line naming it, and no output left behind.
    let bad = dir.path().join("bad.vec");
    std::fs::write(&bad, "2 3\na 1 2 3\nb 1 x 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_embers"))
        .args(["convert", bad.to_str().unwrap()])
        .arg(dir.path().join("bad.parquet"))
        .env("EMBERS_PYTHON", &python)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.vec") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(!dir.path().join("bad.parquet").exists());
}

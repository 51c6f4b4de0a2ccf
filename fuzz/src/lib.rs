//! Shared helpers of the fuzz targets: a per-process scratch file for the input bytes (the
//! readers take paths), the option combinations every reader is run with, and a check that
//! whatever a reader returns as `Ok` can be used without panicking.

use std::path::{Path, PathBuf};

use embers::embeddings::Embeddings;
use embers::io::{Format, ReadOptions};

/// Separator between the two files of a two-file input (npy + vocabulary, safetensors +
/// tokenizer file). Without it, the second file is empty.
pub const SEP: &[u8] = b"\n--8<--\n";

/// A scratch directory private to this process.
pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("embers-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cannot create the scratch directory");
    dir
}

/// Writes `bytes` to `name` in the scratch directory and returns its path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, bytes).expect("cannot write the scratch file");
    path
}

/// Splits a two-file input at the first [`SEP`].
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(SEP.len()).position(|w| w == SEP) {
        Some(i) => (&data[..i], &data[i + SEP.len()..]),
        None => (data, &[]),
    }
}

/// The option combinations each reader is run with: strict, lossy + non-finite allowed,
/// and lossy with a row limit.
pub fn option_sets() -> [ReadOptions; 3] {
    [
        ReadOptions::default(),
        ReadOptions {
            lossy: true,
            allow_nonfinite: true,
            ..ReadOptions::default()
        },
        ReadOptions {
            lossy: true,
            limit: Some(2),
            ..ReadOptions::default()
        },
    ]
}

/// Uses what a reader accepted: every vector (up to a bound), the norms, word lookups and,
/// with subwords, an out-of-vocabulary vector. None of this may panic.
pub fn exercise(emb: &Embeddings) {
    let n = emb.len().min(64);
    for id in 0..n as u32 {
        let v = emb
            .vector(id)
            .expect("a row of an accepted file cannot be read");
        assert_eq!(v.len(), emb.dims());
    }
    if emb.len() <= 4096 {
        let _ = emb.norms();
    }
    if let Some(w) = emb.vocab().words().get(0) {
        let w = w.to_string();
        assert!(emb.get(&w).is_some(), "first word {w:?} not found");
    }
    let _ = emb.lookup("zzz-not-a-word", true);
    if let Some(sub) = emb.subwords() {
        let _ = sub.oov_vector("fuzzing");
    }
}

/// Reads `path` through `io::read_with_report` (the entry point that also applies `limit`)
/// with `base` (its format, and tensor/vocabulary for checkpoints) under every option set, and
/// exercises what is accepted.
pub fn run_reader(path: &Path, base: &ReadOptions) {
    for opts in option_sets() {
        let opts = ReadOptions {
            lossy: opts.lossy,
            allow_nonfinite: opts.allow_nonfinite,
            limit: opts.limit,
            ..base.clone()
        };
        if let Ok((emb, _)) = embers::io::read_with_report(path, &opts) {
            if let Some(limit) = opts.limit {
                assert!(
                    emb.len() <= limit,
                    "limit {limit} ignored: {} rows",
                    emb.len()
                );
            }
            exercise(&emb);
        }
    }
}

/// Options reading `format`.
pub fn format(format: Format) -> ReadOptions {
    ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    }
}

/// The model the `hnsw` target's indexes are for: 300 rows × 8 dims from a fixed xorshift
/// sequence (the same in every run, so seed indexes stay valid).
pub fn hnsw_model() -> Embeddings {
    let rows = 300;
    let dims = 8;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data = (0..rows * dims)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let words = (0..rows).map(|i| format!("w{i}")).collect();
    embers::embeddings::Embeddings::new(
        embers::vocab::Vocab::from_words(words).expect("distinct words"),
        embers::storage::DenseMatrix::new(rows, dims, data).expect("shape"),
    )
    .expect("rows match")
}

/// libFuzzer's panic hook aborts on every panic, even one the code under test catches. The
/// `tokenizers` crate panics on some malformed `tokenizer.json` files, and embers catches that
/// at its one parse point (`transformer::tokenize::parse_tokenizer`) and returns a format
/// error, which is the behaviour under test. This hook lets panics raised inside the
/// `tokenizers` crate unwind to that catch; every other panic still goes to libFuzzer's hook
/// and is a crash. If embers stopped catching them, the panic would unwind out of the target
/// and libFuzzer would report it.
pub fn let_embers_catch_tokenizers_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_tokenizers = info
                .location()
                .is_some_and(|l| l.file().contains("/tokenizers-"));
            if !in_tokenizers {
                fuzzer_hook(info);
            }
        }));
    });
}

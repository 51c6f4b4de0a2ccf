//! Mutation fuzzing of every reader, in plain Rust (no libFuzzer, so it runs on stable in CI):
//! the third-party files are cut, bit-flipped, spliced and given random headers, and each
//! reader must return `Ok` or an `Error` — never panic. `EMBERS_FUZZ_ITERS` sets the number of
//! mutants per seed file (default 150); `EMBERS_FUZZ_SEED` the seed.

use std::path::PathBuf;

use embers::io::{self, Format, ReadOptions};
use embers::rng::Rng;

fn testdata() -> PathBuf {
    embers_testkit::testdata("gensim")
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len().max(1);
        match rng.below(8) {
            0 => b.truncate(rng.below(len as u64) as usize),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    if !b.is_empty() {
                        let i = rng.below(b.len() as u64) as usize;
                        b[i] ^= 1 << rng.below(8);
                    }
                }
            }
            2 => {
                let i = rng.below(len as u64) as usize;
                let bytes = [b' ', b'\n', b'\t', 0, 0xff, b'-', b'e', b'9', b'.', 0x80];
                let x = bytes[rng.below(bytes.len() as u64) as usize];
                b.insert(i.min(b.len()), x);
            }
            3 => {
                // Random header line.
                let rows = [0u64, 1, 2, 3, 1 << 40, u64::MAX][rng.below(6) as usize];
                let dims = [0u64, 1, 10, 1 << 33, u64::MAX][rng.below(5) as usize];
                let nl = b.iter().position(|&c| c == b'\n').unwrap_or(0);
                let mut h = format!("{rows} {dims}").into_bytes();
                h.extend_from_slice(&b[nl..]);
                b = h;
            }
            4 => {
                // Overwrite 4 or 8 bytes with an extreme integer (binary headers, counts).
                if b.len() >= 8 {
                    let i = rng.below((b.len() - 8) as u64) as usize;
                    let v = [0u64, u64::MAX, 1 << 31, 0x7fff_ffff, 0x8000_0000_0000_0000]
                        [rng.below(5) as usize];
                    let w = if rng.below(2) == 0 { 4 } else { 8 };
                    b[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
                }
            }
            5 => {
                // Duplicate a slice somewhere else.
                if b.len() > 2 {
                    let i = rng.below(b.len() as u64) as usize;
                    let j = i + rng.below((b.len() - i).min(64) as u64) as usize;
                    let piece = b[i..j].to_vec();
                    let at = rng.below(b.len() as u64) as usize;
                    b.splice(at..at, piece);
                }
            }
            6 => {
                if !b.is_empty() {
                    let i = rng.below(b.len() as u64) as usize;
                    let j = (i + rng.below(32) as usize).min(b.len());
                    b.drain(i..j);
                }
            }
            _ => {
                let nan = [&b"nan"[..], b"inf", b"-1e99", b"1e-99", b"0x1p3", b""];
                let i = rng.below(len as u64) as usize;
                let s = nan[rng.below(nan.len() as u64) as usize];
                b.splice(i.min(b.len())..i.min(b.len()), s.iter().copied());
            }
        }
    }
    b
}

#[test]
fn readers_never_panic_on_mutated_files() {
    let iters: u64 = std::env::var("EMBERS_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("EMBERS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let g = testdata().join("gensim");
    let dir = tempfile::tempdir().unwrap();
    // Small seeds keep each iteration fast; the fastText ones are whole models.
    let head = |p: &str, n: usize| {
        let b = std::fs::read(g.join(p)).unwrap();
        b[..b.len().min(n)].to_vec()
    };
    let seeds: Vec<(&str, Vec<u8>, Format)> = vec![
        (
            "w2v.txt",
            head("word2vec_pre_kv_c", 3000),
            Format::Word2VecText,
        ),
        (
            "w2v.bin",
            head("euclidean_vectors.bin", 4000),
            Format::Word2VecBinary,
        ),
        ("glove.txt", head("test_glove.txt", 4000), Format::Glove),
        (
            "ft.bin",
            std::fs::read(g.join("crime-and-punishment.bin")).unwrap(),
            Format::FastTextBin,
        ),
        (
            "ftold.bin",
            std::fs::read(g.join("cp852_fasttext.bin")).unwrap(),
            Format::FastTextBin,
        ),
        ("m.npy", npy_seed(), Format::Npy),
    ];
    std::fs::write(dir.path().join("m.vocab.txt"), "a\nb\nc\n").unwrap();
    let mut rng = Rng::new(seed);
    let mut errors = 0u64;
    let mut oks = 0u64;
    for (name, bytes, format) in &seeds {
        let path = dir.path().join(name);
        for i in 0..iters {
            let m = mutate(bytes, &mut rng);
            std::fs::write(&path, &m).unwrap();
            for opts in [
                ReadOptions {
                    format: Some(*format),
                    ..Default::default()
                },
                ReadOptions {
                    format: None,
                    lossy: true,
                    limit: Some(2),
                    ..Default::default()
                },
                ReadOptions {
                    format: Some(*format),
                    allow_nonfinite: true,
                    ..Default::default()
                },
            ] {
                let r = std::panic::catch_unwind(|| io::read(&path, &opts).map(|e| e.len()));
                match r {
                    Ok(Ok(_)) => oks += 1,
                    Ok(Err(_)) => errors += 1,
                    Err(_) => {
                        let keep = std::env::temp_dir().join(format!("embers-fuzz-crash-{name}"));
                        std::fs::write(&keep, &m).unwrap();
                        panic!(
                            "{name} mutant {i} panicked with {opts:?}; input saved at {}",
                            keep.display()
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "fuzz: {} mutants, {oks} read, {errors} errors",
        iters * seeds.len() as u64
    );
}

fn npy_seed() -> Vec<u8> {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    let mut h = header.to_string();
    h.push_str(&" ".repeat((64 - (10 + header.len() + 1) % 64) % 64));
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    for v in [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

// ---- the formats the server maps: native (f32, f16, int8, PQ), HNSW, Hugging Face ----------

use embers::io::safetensors::{self as st, Dtype, TensorOut};
use embers::quant::{PqConfig, Target};
use embers::query::hnsw::{Hnsw, HnswParams};
use embers::storage::DenseMatrix;
use embers::transformer::InputEmbeddings;
use embers::{Embeddings, Vocab};

/// 60 words × 8 dims with seeded values and an unknown token.
fn small_embeddings() -> Embeddings {
    let mut rng = Rng::new(11);
    let mut words: Vec<String> = (0..59).map(|i| format!("w{i}")).collect();
    words.push("<unk>".into());
    let data = (0..60 * 8).map(|_| rng.normal()).collect();
    let mut e = Embeddings::new(
        Vocab::from_words(words).unwrap(),
        DenseMatrix::new(60, 8, data).unwrap(),
    )
    .unwrap();
    e.vocab_mut().set_unk("<unk>").unwrap();
    e
}

/// Uses what a reader accepted: rows, norms, lookups and an exact neighbour query.
fn exercise(emb: &Embeddings) {
    for id in 0..emb.len().min(64) as u32 {
        assert_eq!(emb.vector(id).unwrap().len(), emb.dims());
    }
    let _ = emb.norms();
    let _ = emb.lookup("w1", true);
    let _ = emb.lookup("zzz", true);
    if !emb.is_empty() && emb.dims() > 0 {
        let _ = embers::query::most_similar(emb, &["w1"], &[], 3, None);
    }
}

/// A GPT-2 style folder (F32 weights) small enough to mutate: 18 tokens, 8 positions, 4 dims.
fn write_hf_folder(dir: &std::path::Path) {
    let (vocab, positions, h) = (18usize, 8usize, 4usize);
    let f32s = |n: usize, seed: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|k| ((((seed * 31 + k * 7) % 11) as f32) / 9.0 - 0.5).to_le_bytes())
            .collect()
    };
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 0, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": {"<|endoftext|>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "Ġ": 5, "w": 6, "r": 7,
                            "d": 8, "he": 9, "ll": 10, "hell": 11, "hello": 12, "Ġw": 13, "or": 14,
                            "Ġwor": 15, "ld": 16, "Ġworld": 17},
                  "merges": ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"]}
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::json!({"model_type": "gpt2", "n_embd": h, "n_positions": positions,
                           "vocab_size": vocab, "layer_norm_epsilon": 1e-5})
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    st::write(
        dir.join("model.safetensors"),
        &[
            TensorOut::new(
                "transformer.wte.weight",
                Dtype::F32,
                vec![vocab, h],
                f32s(vocab * h, 1),
            ),
            TensorOut::new(
                "transformer.wpe.weight",
                Dtype::F32,
                vec![positions, h],
                f32s(positions * h, 2),
            ),
        ],
        &Default::default(),
        None,
    )
    .unwrap();
}

/// Recomputes the CRC of an HNSW file (after a mutation of its body), so the structure checks
/// behind the checksum are reached too.
fn reseal_hnsw(b: &mut [u8]) {
    if b.len() >= 16 {
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 8]);
        b[n - 8..n - 4].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Runs `f` and turns a panic into a test failure that keeps the input.
fn guarded<T>(name: &str, i: u64, input: &[u8], f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            let keep = std::env::temp_dir().join(format!("embers-fuzz-crash-{name}"));
            std::fs::write(&keep, input).unwrap();
            panic!(
                "{name} mutant {i} panicked; input saved at {}",
                keep.display()
            );
        }
    }
}

#[test]
fn mapped_formats_never_panic_and_some_mutants_parse() {
    let iters: u64 = std::env::var("EMBERS_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("EMBERS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let base = small_embeddings();
    let silent = &embers::progress::silent;
    let pq = Target::Pq(PqConfig {
        subquantizers: 2,
        bits: 4,
        sample: 60,
        iterations: 5,
        seed: 3,
        rotation: None,
    });
    let mut seeds: Vec<(String, Vec<u8>, Format)> = Vec::new();
    for (name, target) in [
        ("f32", Target::F32),
        ("f16", Target::F16),
        ("int8", Target::Int8 { affine: false }),
        ("int8a", Target::Int8 { affine: true }),
        ("pq", pq),
    ] {
        let e = embers::quant::quantize(&base, &target, silent).unwrap();
        let p = dir.path().join(format!("{name}.embers"));
        io::native::write(&p, &e).unwrap();
        seeds.push((name.into(), std::fs::read(&p).unwrap(), Format::Native));
    }
    let hf = dir.path().join("hf");
    write_hf_folder(&hf);
    seeds.push((
        "checkpoint".into(),
        std::fs::read(hf.join("model.safetensors")).unwrap(),
        Format::Safetensors,
    ));

    let mut rng = Rng::new(seed);
    let mut parsed = std::collections::BTreeMap::<String, u64>::new();
    // Native files and one tensor of a checkpoint, through the generic reader and the native
    // entry points (info, verify).
    for (name, bytes, format) in &seeds {
        let path = if *format == Format::Safetensors {
            hf.join("fuzzed.safetensors")
        } else {
            dir.path().join(format!("m-{name}.embers"))
        };
        let opts = ReadOptions {
            format: Some(*format),
            tensor: (*format == Format::Safetensors).then(|| "transformer.wte.weight".into()),
            vocab: (*format == Format::Safetensors).then(|| hf.join("tokenizer.json")),
            ..Default::default()
        };
        // The seed itself reads: a reader that refused everything would make this test empty.
        std::fs::write(&path, bytes).unwrap();
        io::read(&path, &opts).unwrap_or_else(|e| panic!("seed {name}: {e}"));
        for i in 0..iters {
            let m = mutate(bytes, &mut rng);
            std::fs::write(&path, &m).unwrap();
            let ok = guarded(name, i, &m, || {
                if *format == Format::Native {
                    let _ = io::native::info(&path);
                    let _ = io::native::verify(&path);
                }
                match io::read(&path, &opts) {
                    Ok(e) => {
                        exercise(&e);
                        true
                    }
                    Err(_) => false,
                }
            });
            *parsed.entry(name.clone()).or_default() += ok as u64;
        }
    }

    // HNSW: mutants of an index over `base`, half of them resealed (valid CRC) so the
    // structure checks are what stands between the bytes and a search.
    let index = Hnsw::build(
        &base,
        &HnswParams {
            m: 4,
            ef_construction: 20,
            seed: 5,
            threads: 1,
        },
    )
    .unwrap();
    let ipath = dir.path().join("m.hnsw");
    index.save(&ipath).unwrap();
    let ibytes = std::fs::read(&ipath).unwrap();
    Hnsw::open(&ipath, &base).expect("the seed index opens");
    let q = embers::query::unit_row(&base, 2);
    for i in 0..iters * 2 {
        let mut m = mutate(&ibytes, &mut rng);
        if i % 2 == 0 {
            reseal_hnsw(&mut m);
        }
        std::fs::write(&ipath, &m).unwrap();
        let ok = guarded("hnsw", i, &m, || match Hnsw::open(&ipath, &base) {
            Ok(ix) => {
                for (k, ef) in [(0, 0), (1, 1), (5, 40), (60, 200)] {
                    let _ = ix.search(&base, &q, k, ef, &[2]).unwrap();
                }
                true
            }
            Err(_) => false,
        });
        *parsed.entry("hnsw".into()).or_default() += ok as u64;
    }

    // Hugging Face folders: one of the three files mutated at a time, then an embedding.
    let originals: Vec<(&str, Vec<u8>)> = ["config.json", "tokenizer.json", "model.safetensors"]
        .into_iter()
        .map(|f| (f, std::fs::read(hf.join(f)).unwrap()))
        .collect();
    InputEmbeddings::from_dir(&hf).expect("the seed folder opens");
    for i in 0..iters * 3 {
        let (file, bytes) = &originals[(i % 3) as usize];
        let m = mutate(bytes, &mut rng);
        std::fs::write(hf.join(file), &m).unwrap();
        let ok = guarded(
            &format!("hf-{file}"),
            i,
            &m,
            || match InputEmbeddings::from_dir(&hf) {
                Ok(layer) => {
                    let _ = layer.embed_text("hello world", None);
                    let _ = layer.embed_text("hello", Some("world hello"));
                    true
                }
                Err(_) => false,
            },
        );
        *parsed.entry(format!("hf-{file}")).or_default() += ok as u64;
        std::fs::write(hf.join(file), bytes).unwrap();
    }
    eprintln!("mapped formats: mutants parsed per seed {parsed:?}");
    // Each family must accept some mutants (those that changed only values or metadata the
    // reader ignores): a reader rejecting everything at byte 0 would pass the panic checks
    // without testing anything.
    for (name, n) in &parsed {
        assert!(
            *n > 0,
            "no mutant of {name} parsed: the test exercises nothing"
        );
    }
}

//! The corruption part of the fault campaign (issue 15): mutants of every file the server maps
//! — native f32, f16, int8 and PQ files, an HNSW index, a Hugging Face folder — each taken
//! through what `embers info`, `verify`, `lookup`, `similar` and `serve` start-up do, in this
//! process, with a watchdog. Counts panics (caught), hangs (a mutant taking over 10 s), and
//! whether `verify` refused every mutant that changed only the data section.
//!
//! ```sh
//! cargo run --release -p embers-server --example fault_corruption -- 10000 [SEED]
//! ```
//! prints one line per family and a final `panics=0 hangs=0 ...` summary; exits 1 on any
//! panic, hang or missed data change.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use embers::io::safetensors::{self as st, Dtype, TensorOut};
use embers::io::{self, Format, ReadOptions};
use embers::quant::{PqConfig, Target};
use embers::query::hnsw::{Hnsw, HnswParams};
use embers::rng::Rng;
use embers::storage::DenseMatrix;
use embers::transformer::InputEmbeddings;
use embers::{Embeddings, Vocab};
use embers_server::Registry;

/// A model like a small real one: 2,000 words × 32 dims, clustered, with `<unk>`.
fn model() -> Embeddings {
    let mut rng = Rng::new(7);
    let (rows, dims) = (2000, 32);
    let centres: Vec<Vec<f32>> = (0..20)
        .map(|_| (0..dims).map(|_| rng.normal()).collect())
        .collect();
    let mut data = Vec::with_capacity(rows * dims);
    for _ in 0..rows {
        let c = &centres[rng.below(20) as usize];
        data.extend(c.iter().map(|x| x + 0.5 * rng.normal()));
    }
    let mut words: Vec<String> = (0..rows - 1).map(|i| format!("w{i}")).collect();
    words.push("<unk>".into());
    let mut e = Embeddings::new(
        Vocab::from_words(words).unwrap(),
        DenseMatrix::new(rows, dims, data).unwrap(),
    )
    .unwrap();
    e.vocab_mut().set_unk("<unk>").unwrap();
    e
}

/// One mutation step of many kinds: bit flips, byte overwrites with extreme integers (sizes,
/// offsets, counts), cuts, insertions, deletions, duplicated slices, and edits of the JSON
/// header (numbers and dtype names replaced).
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = b.len().max(1) as u64;
        match rng.below(9) {
            0 => b.truncate(rng.below(len) as usize),
            1 | 2 => {
                for _ in 0..1 + rng.below(4) {
                    if !b.is_empty() {
                        let i = rng.below(b.len() as u64) as usize;
                        b[i] ^= 1 << rng.below(8);
                    }
                }
            }
            3 => {
                if b.len() >= 8 {
                    let i = rng.below((b.len() - 8) as u64) as usize;
                    let v = [0u64, 1, u64::MAX, 1 << 31, 0x7fff_ffff, 1 << 40, 255]
                        [rng.below(7) as usize];
                    let w = [1usize, 2, 4, 8][rng.below(4) as usize];
                    b[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
                }
            }
            4 => {
                let i = rng.below(len) as usize;
                let j = (i + rng.below(64) as usize).min(b.len());
                b.drain(i.min(b.len())..j);
            }
            5 => {
                if b.len() > 2 {
                    let i = rng.below(b.len() as u64) as usize;
                    let j = i + rng.below((b.len() - i).min(64) as u64) as usize;
                    let piece = b[i..j].to_vec();
                    let at = rng.below(b.len() as u64) as usize;
                    b.splice(at..at, piece);
                }
            }
            6 | 7 => {
                // A number or a dtype name inside the JSON header replaced by another.
                let head = b.len().min(4096);
                let digits: Vec<usize> = (0..head).filter(|&i| b[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let i = digits[rng.below(digits.len() as u64) as usize];
                    let mut j = i;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    let v = [
                        "0",
                        "1",
                        "3",
                        "99999999999",
                        "18446744073709551615",
                        "-1",
                        "2.5",
                        "8",
                    ][rng.below(8) as usize];
                    b.splice(i..j, v.bytes());
                }
            }
            _ => {
                let names: [&[u8]; 6] = [b"F32", b"F16", b"I8", b"U8", b"I64", b"U64"];
                let head = b.len().min(4096);
                for (k, name) in names.iter().enumerate() {
                    if let Some(p) = b[..head].windows(name.len()).position(|w| w == *name) {
                        if rng.below(3) == 0 {
                            let other = names[(k + 1 + rng.below(5) as usize) % 6];
                            b.splice(p..p + name.len(), other.iter().copied());
                            break;
                        }
                    }
                }
            }
        }
    }
    b
}

/// What a mutant did.
#[derive(Default)]
struct Tally {
    mutants: u64,
    parsed: u64,
    data_only: u64,
    verify_caught: u64,
    verify_missed: u64,
    slowest: Duration,
}

static PANICS: AtomicU64 = AtomicU64::new(0);
/// Mutants done, watched by the watchdog.
static BEAT: AtomicU64 = AtomicU64::new(0);

/// Runs `f`, counting a panic (and printing where the input was kept).
fn guarded(family: &str, i: u64, input: &[u8], out: &Path, f: impl FnOnce() -> bool) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(ok) => ok,
        Err(_) => {
            PANICS.fetch_add(1, Ordering::Relaxed);
            let keep = out.join(format!("panic-{family}-{i}"));
            let _ = std::fs::write(&keep, input);
            eprintln!("PANIC {family} mutant {i}: kept at {}", keep.display());
            false
        }
    }
}

/// What `embers lookup` and `embers similar` do with an accepted model.
fn use_model(e: &Embeddings) {
    let _ = e.lookup("w1", true);
    let _ = e.lookup("not-a-word", true);
    let _ = embers::query::most_similar(e, &["w1"], &[], 10, None);
    let _ = embers::query::most_similar(e, &["w2", "w3"], &["w4"], 5, None);
}

/// What `embers serve` does at start-up: load, attach the index, start the search thread.
fn serve_start(path: &Path, index: Option<&Path>) -> bool {
    let Ok(e) = io::read(path, &ReadOptions::default()) else {
        return false;
    };
    let ix = index.and_then(|p| Hnsw::open(p, &e).ok());
    let mut r = Registry::new();
    r.add_embeddings_with_index("m", path, e, ix).is_ok()
}

/// Byte range of a safetensors file's data section.
fn data_start(b: &[u8]) -> Option<usize> {
    let n = u64::from_le_bytes(b.get(..8)?.try_into().ok()?) as usize;
    n.checked_add(8)
}

fn native_family(name: &str, seed: &[u8], n: u64, rng: &mut Rng, dir: &Path, out: &Path) -> Tally {
    let path = dir.join(format!("{name}.embers"));
    let start = data_start(seed).unwrap();
    let mut t = Tally::default();
    for i in 0..n {
        let m = mutate(seed, rng);
        std::fs::write(&path, &m).unwrap();
        let data_only = m.len() == seed.len() && m[..start] == seed[..start] && m != seed;
        let began = Instant::now();
        let mut verified = false;
        let ok = guarded(name, i, &m, out, || {
            let _ = io::native::info(&path);
            verified = io::native::verify(&path).is_ok();
            let ok = match io::read(&path, &ReadOptions::default()) {
                Ok(e) => {
                    use_model(&e);
                    true
                }
                Err(_) => false,
            };
            serve_start(&path, None);
            ok
        });
        BEAT.fetch_add(1, Ordering::Relaxed);
        t.slowest = t.slowest.max(began.elapsed());
        t.mutants += 1;
        t.parsed += ok as u64;
        if data_only {
            t.data_only += 1;
            if verified {
                t.verify_missed += 1;
                let keep = out.join(format!("missed-{name}-{i}"));
                let _ = std::fs::write(&keep, &m);
                eprintln!(
                    "MISSED {name} mutant {i}: verify passed a data change ({})",
                    keep.display()
                );
            } else {
                t.verify_caught += 1;
            }
        }
    }
    t
}

fn write_hf_folder(dir: &Path) {
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
        "post_processor": null, "decoder": null,
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
            TensorOut::new("transformer.ln_f.weight", Dtype::F32, vec![h], f32s(h, 3)),
        ],
        &Default::default(),
        None,
    )
    .unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seed: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20261203);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = std::env::temp_dir().join("embers-fault-corruption");
    std::fs::create_dir_all(&out).unwrap();
    // Panics are counted, not printed one by one with a backtrace.
    std::panic::set_hook(Box::new(|_| {}));

    // Watchdog: a mutant that takes longer than 10 s is a hang.
    {
        let beat = &BEAT;
        std::thread::spawn(move || {
            let mut last = (u64::MAX, Instant::now());
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let b = beat.load(Ordering::Relaxed);
                if b != last.0 {
                    last = (b, Instant::now());
                } else if last.1.elapsed() > Duration::from_secs(10) {
                    eprintln!("HANG: no progress for 10 s at step {b}; stopping");
                    println!("panics={} hangs=1", PANICS.load(Ordering::Relaxed));
                    std::process::exit(1);
                }
            }
        });
    }

    let base = model();
    let silent = &embers::progress::silent;
    let mut rng = Rng::new(seed);
    let mut failed = false;
    let mut report = |family: &str, t: &Tally, secs: f64| {
        println!(
            "{family:10} mutants={:6} parsed={:6} data-only={:5} verify-caught={:5} verify-missed={} slowest={:.1} ms  ({secs:.0} s)",
            t.mutants, t.parsed, t.data_only, t.verify_caught, t.verify_missed,
            t.slowest.as_secs_f64() * 1e3
        );
        if t.verify_missed > 0 || t.parsed == 0 {
            failed = true;
        }
    };
    let pq = Target::Pq(PqConfig {
        subquantizers: 8,
        bits: 8,
        sample: 2000,
        iterations: 5,
        seed: 3,
        rotation: None,
    });
    for (name, target) in [
        ("f32", Target::F32),
        ("f16", Target::F16),
        ("int8", Target::Int8 { affine: true }),
        ("pq", pq),
    ] {
        let began = Instant::now();
        let e = embers::quant::quantize(&base, &target, silent).unwrap();
        let p = dir.join(format!("seed-{name}.embers"));
        io::native::write(&p, &e).unwrap();
        let seed_bytes = std::fs::read(&p).unwrap();
        let t = native_family(name, &seed_bytes, n, &mut rng, dir, &out);
        BEAT.fetch_add(1, Ordering::Relaxed);
        report(name, &t, began.elapsed().as_secs_f64());
    }

    // HNSW: an index over the f32 model; half the mutants resealed (valid CRC).
    let began = Instant::now();
    let fpath = dir.join("hnsw-model.embers");
    io::native::write(&fpath, &base).unwrap();
    let emb = io::read(
        &fpath,
        &ReadOptions {
            format: Some(Format::Native),
            ..Default::default()
        },
    )
    .unwrap();
    let ipath = Hnsw::path_for(&fpath);
    Hnsw::build(
        &emb,
        &HnswParams {
            m: 8,
            ef_construction: 64,
            seed: 1,
            threads: 1,
        },
    )
    .unwrap()
    .save(&ipath)
    .unwrap();
    let iseed = std::fs::read(&ipath).unwrap();
    let q = embers::query::unit_row(&emb, 5);
    let mut t = Tally::default();
    for i in 0..n {
        let mut m = mutate(&iseed, &mut rng);
        if i % 2 == 0 && m.len() >= 16 {
            let len = m.len();
            let crc = crc32fast::hash(&m[..len - 8]);
            m[len - 8..len - 4].copy_from_slice(&crc.to_le_bytes());
        }
        std::fs::write(&ipath, &m).unwrap();
        let began = Instant::now();
        let ok = guarded("hnsw", i, &m, &out, || {
            let ok = match Hnsw::open(&ipath, &emb) {
                Ok(ix) => {
                    for (k, ef) in [(1, 1), (10, 100), (100, 400)] {
                        let _ = ix.search(&emb, &q, k, ef, &[5]);
                    }
                    true
                }
                Err(_) => false,
            };
            serve_start(&fpath, Some(&ipath));
            ok
        });
        BEAT.fetch_add(1, Ordering::Relaxed);
        t.slowest = t.slowest.max(began.elapsed());
        t.mutants += 1;
        t.parsed += ok as u64;
    }
    report("hnsw", &t, began.elapsed().as_secs_f64());

    // Hugging Face folders: one file of three mutated per mutant, then an embedding.
    let began = Instant::now();
    let hf = dir.join("hf");
    write_hf_folder(&hf);
    let originals: Vec<(&str, Vec<u8>)> = ["config.json", "tokenizer.json", "model.safetensors"]
        .into_iter()
        .map(|f| (f, std::fs::read(hf.join(f)).unwrap()))
        .collect();
    let mut t = Tally::default();
    for i in 0..n {
        let (file, bytes) = &originals[(i % 3) as usize];
        let m = mutate(bytes, &mut rng);
        std::fs::write(hf.join(file), &m).unwrap();
        let began = Instant::now();
        let ok = guarded(
            &format!("hf-{file}"),
            i,
            &m,
            &out,
            || match InputEmbeddings::from_dir(&hf) {
                Ok(layer) => {
                    let _ = layer.embed_text("hello world", None);
                    let _ = layer.embed_text("hello", Some("world hello"));
                    let mut r = Registry::new();
                    r.add_transformer("t", &hf, layer).is_ok()
                }
                Err(_) => false,
            },
        );
        BEAT.fetch_add(1, Ordering::Relaxed);
        t.slowest = t.slowest.max(began.elapsed());
        t.mutants += 1;
        t.parsed += ok as u64;
        std::fs::write(hf.join(file), bytes).unwrap();
    }
    report("hf-folder", &t, began.elapsed().as_secs_f64());

    let panics = PANICS.load(Ordering::Relaxed);
    println!("panics={panics} hangs=0 seed={seed} per-family={n}");
    if panics > 0 || failed {
        std::process::exit(1);
    }
}

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

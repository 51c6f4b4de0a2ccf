//! Fuzzes the HNSW index reader: the input is an index file for a fixed 300 × 8 model (built
//! in the target, seeded); its checksum is recomputed when the first input byte is odd, so
//! the structure checks behind it are reached. Whatever opens is searched.
#![no_main]

use std::sync::OnceLock;

use embers::embeddings::Embeddings;
use embers::query::hnsw::Hnsw;
use libfuzzer_sys::fuzz_target;

/// The model; with `EMBERS_FUZZ_WRITE_SEED=PATH` also writes a seed index for it there
/// (`fuzz/seed.sh` does, running the target once).
fn model() -> &'static Embeddings {
    static M: OnceLock<Embeddings> = OnceLock::new();
    M.get_or_init(|| {
        let emb = embers_fuzz::hnsw_model();
        if let Ok(path) = std::env::var("EMBERS_FUZZ_WRITE_SEED") {
            let params = embers::query::hnsw::HnswParams {
                m: 4,
                ef_construction: 40,
                seed: 1,
                threads: 1,
            };
            Hnsw::build(&emb, &params)
                .and_then(|ix| ix.save(&path))
                .expect("cannot write the seed index");
        }
        emb
    })
}

fuzz_target!(|data: &[u8]| {
    let emb = model();
    let mut bytes = data.to_vec();
    if data.first().is_some_and(|b| b & 1 == 1) && bytes.len() >= 16 {
        let n = bytes.len();
        let crc = crc32fast::hash(&bytes[..n - 8]);
        bytes[n - 8..n - 4].copy_from_slice(&crc.to_le_bytes());
    }
    let path = embers_fuzz::scratch_file("in.hnsw", &bytes);
    if let Ok(ix) = Hnsw::open(&path, emb) {
        let q = embers::query::unit_row(emb, 3);
        for (k, ef) in [(0, 0), (1, 1), (10, 50), (300, 400)] {
            let hits = ix.search(emb, &q, k, ef, &[3]).expect("shapes match");
            assert!(hits.len() <= k);
            assert!(hits.iter().all(|h| (h.id as usize) < emb.len() && h.id != 3));
        }
    }
});

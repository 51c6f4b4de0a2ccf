//! Fuzzes native files of the compressed kinds (f16, int8 with and without offsets, PQ with
//! and without a rotation): `native::{info, verify, open}` and every use of what opens,
//! including exact neighbour queries scored on the codes. The seeds (`fuzz/seed.sh`) are
//! quantized files; the target is the native one with its own corpus.
#![no_main]

use embers::io::native;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = embers_fuzz::scratch_file("in-q.embers", data);
    let _ = native::info(&path);
    let _ = native::verify(&path);
    if let Ok(emb) = native::open(&path) {
        embers_fuzz::exercise(&emb);
        if !emb.is_empty() && emb.len() <= 4096 {
            let q = emb.vector(0).expect("row 0");
            let _ = embers::query::similar_by_vector(&emb, &q, 5, None);
        }
    }
});

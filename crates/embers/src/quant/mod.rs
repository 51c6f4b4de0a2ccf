//! Compression of embedding matrices: f16, int8 (symmetric or affine, per-row scales), product
//! quantization (seeded k-means codebooks) and residual quantization (additive codes, beam
//! search), producing [`Storage`] kinds that answer
//! similarity queries from their codes (optionally with an optimised-PQ rotation); plus exact
//! re-ranking of the top candidates.
//!
//! ```
//! use embers::{Embeddings, Vocab, layer::{init_matrix, Init}};
//! use embers::quant::{quantize, Target};
//! let vocab = Vocab::from_words((0..300).map(|i| format!("w{i}")).collect()).unwrap();
//! let m = init_matrix(300, 16, Init::Normal { mean: 0.0, std: 1.0 }, 1).unwrap();
//! let emb = Embeddings::new(vocab, m).unwrap();
//! let small = quantize(&emb, &Target::Int8 { affine: false }, &embers::progress::silent).unwrap();
//! assert_eq!(small.storage().kind(), "int8");
//! assert!(small.storage().stored_bytes() * 3 < emb.storage().stored_bytes());
//! ```

pub mod format;
pub mod kmeans;
pub mod linalg;
pub(crate) mod lsq;
pub mod pq;
pub mod rerank;
pub mod rq;
pub mod scalar;

pub use pq::{OpqReport, OpqStart, PqConfig, Rotation};
pub use rerank::{rerank, search_reranked};
pub use rq::RqConfig;
pub use scalar::{to_f16, to_int8};

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::progress::ProgressFn;
use crate::storage::{DenseMatrix, Storage};

/// The storage kind to compress to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Plain f32 (decompresses a quantized model).
    F32,
    /// Half precision.
    F16,
    /// 8-bit codes with a per-row scale; `affine` adds a per-row offset.
    Int8 { affine: bool },
    /// Product quantization.
    Pq(PqConfig),
    /// Residual (additive) quantization.
    Rq(RqConfig),
}

impl Target {
    /// Parses `f32`, `f16`, `int8`, `pq` or `rq` (PQ and RQ with the defaults for `dims`).
    pub fn from_name(name: &str, dims: usize) -> Result<Self> {
        Ok(match name {
            "f32" => Target::F32,
            "f16" => Target::F16,
            "int8" => Target::Int8 { affine: false },
            "pq" => Target::Pq(PqConfig::for_dims(dims)),
            "rq" => Target::Rq(RqConfig::for_dims(dims)),
            // Additive codes trained by local search (LSQ++), stored as rq.
            "lsq" => Target::Rq(RqConfig {
                local_search: RqConfig::DEFAULT_LOCAL_SEARCH,
                ..RqConfig::for_dims(dims)
            }),
            other => {
                return Err(Error::invalid(
                    "to",
                    format!(
                        "unknown storage kind {other:?}: expected f32, f16, int8, pq, rq or lsq"
                    ),
                ))
            }
        })
    }

    /// The settings as stored in the `quantizer` metadata entry (JSON).
    pub fn describe(&self) -> String {
        match self {
            Target::F32 => r#"{"kind":"f32"}"#.into(),
            Target::F16 => r#"{"kind":"f16"}"#.into(),
            Target::Int8 { affine } => format!(r#"{{"kind":"int8","affine":{affine}}}"#),
            Target::Pq(c) => {
                let mut v = serde_json::to_value(c).expect("plain struct");
                v["kind"] = "pq".into();
                v.to_string()
            }
            Target::Rq(c) => {
                let mut v = serde_json::to_value(c).expect("plain struct");
                v["kind"] = "rq".into();
                v.to_string()
            }
        }
    }
}

/// Compresses the rows of `matrix`.
pub fn compress(matrix: &DenseMatrix, target: &Target, progress: &ProgressFn) -> Result<Storage> {
    compress_reporting(matrix, target, progress).map(|(s, _)| s)
}

/// [`compress`], with what OPQ's training did (PQ with a rotation only).
fn compress_reporting(
    matrix: &DenseMatrix,
    target: &Target,
    progress: &ProgressFn,
) -> Result<(Storage, Option<OpqReport>)> {
    Ok(match target {
        Target::F32 => (Storage::Dense(matrix.clone()), None),
        Target::F16 => (to_f16(matrix)?.into(), None),
        Target::Int8 { affine } => (to_int8(matrix, *affine)?.into(), None),
        Target::Pq(cfg) => {
            let (p, report) = pq::train_reporting(matrix, cfg, progress)?;
            (p.into(), report)
        }
        Target::Rq(cfg) => (rq::train(matrix, cfg, progress)?.into(), None),
    })
}

/// The same model with its rows compressed to `target`: vocabulary, subwords (kept in f32) and
/// metadata carried over, the settings recorded under the `quantizer` metadata key (with an OPQ
/// rotation, also the start kept and every trained start's error on the training sample:
/// `"rotation":{"kind":"opq",…,"kept":"pca","sample_errors":{"pca":…,"random":…}}`), and the row
/// norms recomputed from the compressed rows so cosine scores are those of the decoded vectors.
pub fn quantize(
    embeddings: &Embeddings,
    target: &Target,
    progress: &ProgressFn,
) -> Result<Embeddings> {
    quantize_with(embeddings, target, false, progress)
}

/// [`quantize`], optionally scaling every row to unit length first (`normalize`). Normalized
/// models keep only directions: cosine neighbours, analogies and similarities are unchanged, the
/// quantizer spends nothing on lengths (PQ error drops markedly), and lookups return unit
/// vectors. Recorded as `"normalized":true` in the `quantizer` metadata.
pub fn quantize_with(
    embeddings: &Embeddings,
    target: &Target,
    normalize: bool,
    progress: &ProgressFn,
) -> Result<Embeddings> {
    let mut dense = embeddings.storage().to_dense()?;
    if normalize {
        let d = dense.dims().max(1);
        dense.as_mut_slice().par_chunks_mut(d).for_each(|r| {
            crate::kernels::normalize(r);
        });
    }
    let (storage, opq) = compress_reporting(&dense, target, progress)?;
    drop(dense);
    let norms = row_norms(&storage);
    let mut out = Embeddings::new(embeddings.vocab().clone(), storage)?.with_norms(norms)?;
    if let Some(s) = embeddings.subwords() {
        out = out.with_subwords(s.clone())?;
    }
    for (k, v) in embeddings.metadata() {
        out.metadata_mut().insert(k.clone(), v.clone());
    }
    if *target == Target::F32 {
        out.metadata_mut().remove("quantizer");
    } else {
        let mut desc = target.describe();
        if let Some(r) = opq {
            let mut v: serde_json::Value = serde_json::from_str(&desc).expect("valid JSON");
            v["rotation"]["kept"] = r.kept.name().into();
            v["rotation"]["sample_errors"] = r
                .sample_errors
                .iter()
                .map(|(s, e)| (s.name().to_string(), serde_json::Value::from(*e)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            desc = v.to_string();
        }
        if normalize {
            desc = format!("{},\"normalized\":true}}", &desc[..desc.len() - 1]);
        }
        out.metadata_mut().insert("quantizer".into(), desc);
    }
    Ok(out)
}

/// L2 norm of every decoded row, in parallel ([`Storage::row_norms`]).
pub fn row_norms(storage: &Storage) -> Vec<f32> {
    storage.row_norms()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::silent;
    use crate::rng::Rng;
    use crate::storage::{Buffer, PqMatrix};
    use crate::vocab::Vocab;

    fn random(rows: usize, dims: usize, seed: u64) -> DenseMatrix {
        let mut rng = Rng::new(seed);
        DenseMatrix::new(rows, dims, (0..rows * dims).map(|_| rng.normal()).collect()).unwrap()
    }

    /// Rows drawn around `k` random centres, with noise of standard deviation `noise`.
    fn clustered(rows: usize, dims: usize, k: usize, noise: f32, seed: u64) -> DenseMatrix {
        let mut rng = Rng::new(seed);
        let centres: Vec<f32> = (0..k * dims).map(|_| rng.normal()).collect();
        let mut data = Vec::with_capacity(rows * dims);
        for _ in 0..rows {
            let c = rng.below(k as u64) as usize;
            data.extend(
                centres[c * dims..(c + 1) * dims]
                    .iter()
                    .map(|v| v + noise * rng.normal()),
            );
        }
        DenseMatrix::new(rows, dims, data).unwrap()
    }

    fn dot64(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// A random orthogonal matrix (Gram–Schmidt on Gaussian rows, in f64).
    fn orthogonal(d: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let mut rows: Vec<Vec<f64>> = Vec::new();
        while rows.len() < d {
            let mut v: Vec<f64> = (0..d).map(|_| rng.normal() as f64).collect();
            for r in &rows {
                let p: f64 = v.iter().zip(r).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(r).for_each(|(a, b)| *a -= p * b);
            }
            let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if n > 1e-6 {
                rows.push(v.into_iter().map(|a| a / n).collect());
            }
        }
        rows.concat().into_iter().map(|a| a as f32).collect()
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn dot_all_equals_dot_products_of_decoded_rows_for_every_kind() {
        let (rows, dims) = (700, 48);
        let m = random(rows, dims, 1);
        let pq = PqConfig {
            subquantizers: 12,
            bits: 8,
            sample: 700,
            iterations: 8,
            seed: 5,
            rotation: None,
        };
        let mut kinds: Vec<Storage> = [
            Target::F32,
            Target::F16,
            Target::Int8 { affine: false },
            Target::Int8 { affine: true },
            Target::Pq(pq.clone()),
            Target::Pq(PqConfig {
                bits: 3,
                ..pq.clone()
            }),
            Target::Pq(PqConfig {
                rotation: Some(Rotation::opq(2, OpqStart::Auto)),
                ..pq
            }),
            Target::Rq(RqConfig {
                subquantizers: 6,
                bits: 8,
                beam: 2,
                sample: 700,
                iterations: 4,
                refine: 1,
                seed: 5,
                objective: Default::default(),
                codebook_dtype: Default::default(),
                local_search: 1,
            }),
        ]
        .iter()
        .map(|t| compress(&m, t, &silent).unwrap())
        .collect();
        // PQ with a rotation, built by hand: codes of the rotated rows decode through Rᵀ.
        let Storage::Pq(p) = &kinds[4] else { panic!() };
        let rotated = PqMatrix::new(
            rows,
            dims,
            12,
            8,
            p.codes().to_vec(),
            p.centroids().to_vec(),
            Some(Buffer::Owned(orthogonal(dims, 9))),
        )
        .unwrap();
        kinds.push(rotated.into());

        let mut rng = Rng::new(2);
        for s in &kinds {
            let decoded = s.to_dense().unwrap();
            for _ in 0..5 {
                let q: Vec<f32> = (0..dims).map(|_| rng.normal()).collect();
                let qmax = q.iter().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
                let mut out = vec![0.0; rows];
                s.dot_all(&q, &mut out);
                for i in 0..rows {
                    let row = decoded.row(i);
                    let want = dot64(row, &q);
                    let l1: f64 = row.iter().map(|v| v.abs() as f64).sum();
                    // int8 also rounds the query: at most max|q|/254 per value.
                    let tol = if s.kind() == "int8" {
                        l1 * qmax / 254.0 + 1e-3
                    } else {
                        1e-4 * (1.0 + l1)
                    };
                    assert!(
                        (out[i] as f64 - want).abs() <= tol,
                        "{} row {i}: {} vs {want}",
                        s.kind(),
                        out[i]
                    );
                }
            }
        }
    }

    #[test]
    fn int8_scores_are_exact_integer_arithmetic_against_f64_reference() {
        // Independent of the kernels: recompute offset·Σq + scale·qscale·Σ code·qcode in f64.
        let m = random(300, 301, 3);
        let mut rng = Rng::new(4);
        for affine in [false, true] {
            let s = to_int8(&m, affine).unwrap();
            let q: Vec<f32> = (0..301).map(|_| rng.normal()).collect();
            let qmax = q.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let qs = qmax / 127.0;
            let qc: Vec<f64> = q.iter().map(|v| (v / qs).round() as f64).collect();
            let qsum: f64 = q.iter().map(|v| *v as f64).sum();
            let mut out = vec![0.0; 300];
            Storage::Int8(s.clone()).dot_all(&q, &mut out);
            for i in 0..300 {
                let codes = &s.codes()[i * 301..(i + 1) * 301];
                let idot: f64 = codes.iter().zip(&qc).map(|(&c, &b)| c as f64 * b).sum();
                let off = s.offsets().map_or(0.0, |o| o[i] as f64);
                let want = s.scales()[i] as f64 * qs as f64 * idot + off * qsum;
                assert!(
                    (out[i] as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{affine} {i}: {} vs {want}",
                    out[i]
                );
            }
        }
    }

    #[test]
    fn f16_matches_numpy_float16_bit_for_bit() {
        // Reference: numpy's float32 → float16 conversion (round to nearest even), run here.
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(6);
        let mut vals: Vec<f32> = (0..2000).map(|_| rng.normal() * 10.0).collect();
        vals.extend([
            0.0,
            -0.0,
            1e-8,
            -3e-6,
            6.1e-5,
            65504.0,
            -65504.0,
            0.1,
            1.0 / 3.0,
            2049.0,
            2051.0,
        ]);
        let input = dir.path().join("in.f32");
        let output = dir.path().join("out.f16");
        std::fs::write(
            &input,
            vals.iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let status = embers_testkit::python()
            .arg("-c")
            .arg(
                "import numpy as np, sys\n\
                 x = np.fromfile(sys.argv[1], dtype='<f4')\n\
                 x.astype('<f2').tofile(sys.argv[2])\n",
            )
            .arg(&input)
            .arg(&output)
            .status()
            .expect("the reference Python runs (scripts/test.sh sets it up)");
        assert!(status.success(), "numpy conversion failed");
        let want: Vec<u16> = std::fs::read(&output)
            .unwrap()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let m = DenseMatrix::new(1, vals.len(), vals.clone()).unwrap();
        let h = to_f16(&m).unwrap();
        let got: Vec<u16> = h.as_slice().iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want);
        // Relative error of normal values ≤ 2^-11 < 1e-3.
        let mut back = vec![0.0; vals.len()];
        h.row_into(0, &mut back);
        for (a, b) in vals.iter().zip(&back) {
            if a.abs() > 6.2e-5 {
                assert!(((a - b) / a).abs() <= 1e-3, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn pq_reconstructs_clustered_data_and_keeps_neighbours() {
        let (rows, dims) = (4000, 32);
        let m = clustered(rows, dims, 200, 0.3, 7);
        let cfg = PqConfig {
            subquantizers: 8,
            bits: 8,
            sample: 4000,
            iterations: 20,
            seed: 1,
            rotation: None,
        };
        let s = compress(&m, &Target::Pq(cfg), &silent).unwrap();
        assert_eq!(s.stored_bytes(), rows * 8 + 8 * 256 * 4 * 4);
        let d = s.to_dense().unwrap();
        let (mut err, mut total) = (0.0f64, 0.0f64);
        for i in 0..rows {
            err += crate::kernels::scalar::l2_sq(m.row(i), d.row(i)) as f64;
            total += dot64(m.row(i), m.row(i));
        }
        // The noise alone is 0.3² · 32 ≈ 2.9 of ≈ 34.9 per row (8.3%): storing each row's exact
        // cluster centre would leave that much. PQ in 8 bytes a row must beat it (measured 4.9%).
        let rel = err / total;
        assert!(rel < 0.06, "relative squared error {rel}");

        // Top-10 cosine neighbours on codes versus exact f32 search.
        let vocab = Vocab::from_words((0..rows).map(|i| format!("w{i}")).collect()).unwrap();
        let exact = Embeddings::new(vocab.clone(), m.clone()).unwrap();
        let compressed = quantize(
            &exact,
            &Target::Pq(PqConfig {
                subquantizers: 8,
                bits: 8,
                sample: 4000,
                iterations: 20,
                seed: 1,
                rotation: None,
            }),
            &silent,
        )
        .unwrap();
        assert_eq!(
            compressed.metadata()["quantizer"],
            r#"{"bits":8,"iterations":20,"kind":"pq","sample":4000,"seed":1,"subquantizers":8}"#
        );
        let (mut hits, mut hits_rr) = (0, 0);
        for qi in (0..rows).step_by(97) {
            let q = m.row(qi).to_vec();
            let truth: Vec<u32> = rerank::candidates(&exact, &q, 10, &[qi as u32])
                .unwrap()
                .iter()
                .map(|c| c.0)
                .collect();
            let approx = rerank::candidates(&compressed, &q, 10, &[qi as u32]).unwrap();
            hits += approx.iter().filter(|c| truth.contains(&c.0)).count();
            let rr = search_reranked(&compressed, Some(exact.storage()), &q, 10, 50, &[qi as u32])
                .unwrap();
            hits_rr += rr.iter().filter(|c| truth.contains(&c.0)).count();
        }
        let queries = (0..rows).step_by(97).count();
        let overlap = hits as f64 / (10 * queries) as f64;
        let overlap_rr = hits_rr as f64 / (10 * queries) as f64;
        assert!(overlap >= 0.65, "top-10 overlap {overlap}"); // measured 0.75
        assert!(
            overlap_rr >= 0.95 && overlap_rr >= overlap,
            "re-ranked {overlap_rr}"
        );
    }

    #[test]
    fn quantize_keeps_vocab_and_norms_of_decoded_rows() {
        let m = random(300, 20, 8);
        let vocab = Vocab::from_words((0..300).map(|i| format!("w{i}")).collect()).unwrap();
        let e = Embeddings::new(vocab, m).unwrap();
        for name in ["f16", "int8", "pq", "rq", "f32"] {
            let t = Target::from_name(name, 20).unwrap();
            let q = quantize(&e, &t, &silent).unwrap();
            assert_eq!(q.storage().kind(), name);
            assert_eq!(q.vocab(), e.vocab());
            for i in [0usize, 17, 299] {
                let row = q.storage().row_vec(i);
                assert!((q.norms()[i] - crate::kernels::norm(&row)).abs() < 1e-5);
            }
            let mut t = q.clone();
            t.truncate(10);
            assert_eq!(t.storage().rows(), 10);
            assert_eq!(t.storage().row_vec(9), q.storage().row_vec(9));
        }
        assert!(Target::from_name("int4", 20).is_err());
        // Normalized: unit rows (up to the quantizer's error), cosines unchanged.
        let n = quantize_with(&e, &Target::F16, true, &silent).unwrap();
        assert_eq!(
            n.metadata()["quantizer"],
            r#"{"kind":"f16","normalized":true}"#
        );
        assert!((n.norms()[5] - 1.0).abs() < 1e-3);
        let (a, b) = (e.storage().row_vec(3), e.storage().row_vec(4));
        let (c, d) = (n.storage().row_vec(3), n.storage().row_vec(4));
        let cos = |x: &[f32], y: &[f32]| crate::kernels::cosine(x, y);
        assert!((cos(&a, &b) - cos(&c, &d)).abs() < 1e-3);
        // An OPQ rotation is recorded in the settings; settings without one (older files) read
        // back as no rotation.
        let opq = PqConfig {
            subquantizers: 4,
            sample: 300,
            rotation: Some(Rotation::opq(2, OpqStart::Auto)),
            ..PqConfig::for_dims(20)
        };
        let q = quantize(&e, &Target::Pq(opq.clone()), &silent).unwrap();
        let desc = &q.metadata()["quantizer"];
        let v: serde_json::Value = serde_json::from_str(desc).unwrap();
        assert_eq!(v["rotation"]["kind"], "opq", "{desc}");
        assert_eq!(v["rotation"]["iterations"], 2, "{desc}");
        assert!(v["rotation"]["start"].is_null(), "{desc}");
        let errs = &v["rotation"]["sample_errors"];
        let (er, ep) = (
            errs["random"].as_f64().unwrap(),
            errs["pca"].as_f64().unwrap(),
        );
        assert_eq!(
            v["rotation"]["kept"],
            if ep < er { "pca" } else { "random" },
            "{desc}"
        );
        // The record of what was kept does not stop the settings from reading back.
        assert_eq!(serde_json::from_str::<PqConfig>(desc).unwrap(), opq);
        // A forced start is recorded as such and reads back.
        let forced = PqConfig {
            rotation: Some(Rotation::opq(2, OpqStart::Pca)),
            ..opq.clone()
        };
        let fd = Target::Pq(forced.clone()).describe();
        assert!(
            fd.contains(r#""rotation":{"iterations":2,"kind":"opq","start":"pca"}"#),
            "{fd}"
        );
        assert_eq!(serde_json::from_str::<PqConfig>(&fd).unwrap(), forced);
        assert!(serde_json::from_str::<PqConfig>(
            r#"{"bits":8,"iterations":25,"kind":"pq","rotation":{"iterations":2,"kind":"opq","start":"best"},"sample":300,"seed":42,"subquantizers":4}"#
        )
        .is_err());
        let old: PqConfig = serde_json::from_str(
            r#"{"bits":8,"iterations":20,"kind":"pq","sample":4000,"seed":1,"subquantizers":8}"#,
        )
        .unwrap();
        assert_eq!(old.rotation, None);
        let Storage::Pq(p) = q.storage() else {
            panic!("pq storage")
        };
        assert_eq!(p.rotation().map(<[f32]>::len), Some(400));
        // Norms from the codes (centroid-norm table, rotation orthogonal) are those of the
        // decoded rows, computed here in f64.
        for i in (0..300).step_by(7) {
            let row = q.storage().row_vec(i);
            let want = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            assert!(
                (q.norms()[i] as f64 - want).abs() <= 1e-5 * want.max(1.0),
                "row {i}: {} vs {want}",
                q.norms()[i]
            );
        }
        // Lookups decode through Rᵀ: the decoded row is near the original (error ≤ PQ's).
        let (x, y) = (e.storage().row_vec(7), q.storage().row_vec(7));
        let err = crate::kernels::scalar::l2_sq(&x, &y) / crate::kernels::norm(&x).powi(2);
        assert!(err < 0.5, "{err}");

        // Quantizing is deterministic for a seed.
        let t = Target::from_name("pq", 20).unwrap();
        let a = quantize(&e, &t, &silent).unwrap();
        let b = quantize(&e, &t, &silent).unwrap();
        assert_eq!(
            a.storage().to_dense().unwrap(),
            b.storage().to_dense().unwrap()
        );
    }
}

//! `embers quantize`: compress an embedding file to f16, int8, product-quantized (optionally
//! with an optimised-PQ rotation) or residual-quantized storage in the native format, and report the size ratio
//! and reconstruction error.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Args as ClapArgs;
use embers::quant::{self, OpqStart, PqConfig, Rotation, RqConfig, Target};
use rayon::prelude::*;

use super::info::ReadArgs;
use crate::progress::{Mode, Reporter};

#[derive(ClapArgs)]
pub struct Args {
    /// Input embedding file (any readable format).
    input: PathBuf,
    /// Output file (native format).
    output: PathBuf,
    /// Storage kind: f16, int8, pq, rq, lsq (additive codes like rq, trained by local search as
    /// LSQ++: slower to encode, lower error) or f32 to decompress. Not used for supervised
    /// fastText models, which become `.ftz` files (see the supervised options below).
    #[arg(long)]
    to: Option<String>,
    /// The input is a supervised fastText model: write a quantized `.ftz` as `fasttext
    /// quantize` does (also detected from the file).
    #[arg(long)]
    supervised: bool,
    #[command(flatten)]
    sup: super::supervised::QuantArgs,
    /// int8: store a per-row offset too (affine quantization), for rows not centred on zero.
    #[arg(long)]
    affine: bool,
    /// Scale rows to unit length first: cosine queries are unchanged, lengths are dropped, and
    /// the quantizer spends its bits on directions only (much lower PQ error).
    #[arg(long)]
    normalize: bool,
    /// pq: number of subquantizers (code bytes per row); must divide the dims.
    /// rq: number of stages (code bytes per row), any number.
    /// Default: the most that keep at least 5 dims each (rq: the same number).
    #[arg(long, short = 'm')]
    subquantizers: Option<usize>,
    /// pq, rq: bits per code, 1..=8 (2^bits centroids per subquantizer or stage).
    #[arg(long)]
    bits: Option<u32>,
    /// pq, rq: rows sampled to train the codebooks.
    #[arg(long)]
    sample: Option<usize>,
    /// pq, rq: most k-means iterations.
    #[arg(long)]
    iterations: Option<usize>,
    /// pq, rq: random seed of the sample and k-means++.
    #[arg(long)]
    seed: Option<u64>,
    /// pq: learn an orthogonal rotation before splitting rows into subspaces: `opq` (optimised
    /// PQ, lower error when dimensions are correlated) or `none`. Stored in the file and applied
    /// to queries.
    #[arg(long)]
    rotation: Option<String>,
    /// pq with --rotation opq: rounds of alternating codebook and rotation updates (default 50,
    /// as faiss).
    #[arg(long)]
    opq_iterations: Option<usize>,
    /// pq with --rotation opq: where the rotation starts: `random` (a seeded random orthogonal
    /// matrix, as faiss), `pca` (the principal axes dealt to the subspaces by eigenvalue
    /// allocation) or `auto` (default: both trained on the same sample, at the same time, and
    /// the one with the lower error on that sample kept; about twice the training work).
    #[arg(long)]
    opq_start: Option<String>,
    /// rq: partial encodings kept per row at each stage of the beam search (1: greedy;
    /// default 5).
    #[arg(long)]
    beam: Option<usize>,
    /// rq: codebook refinement passes (least squares for the final codes, then re-encoding
    /// the training sample; default 2, 0 for none).
    #[arg(long)]
    refine: Option<usize>,
    /// rq: what the encoder minimises: `l2` (squared error, default) or `cosine` (the
    /// direction of the reconstruction, which is all cosine queries use: beam search by an
    /// anisotropic loss weighting the error along the row by --parallel-weight, and the beam's
    /// encoding of largest cosine kept).
    #[arg(long)]
    objective: Option<String>,
    /// rq with --objective cosine: weight of the error along the row, 0..=1 (1: squared error
    /// in the beam, cosine only for the final pick; default 0.5).
    #[arg(long)]
    parallel_weight: Option<f32>,
    /// rq: how the codebooks are stored: `f32` (default), `f16` (half the bytes) or `int8`
    /// (a byte a value and an f32 scale a codeword); the codes are chosen for the rounded
    /// codebooks.
    #[arg(long)]
    codebook_dtype: Option<String>,
    /// rq/lsq: rounds of local search training (lsq: default 25; rq: 0, residual training): the
    /// codebooks solved jointly by least squares and every code improved by iterated
    /// conditional modes with random perturbations (LSQ++); each stored row is searched the
    /// same way from its beam encoding. Squared-error objective only.
    #[arg(long)]
    local_search: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

impl Args {
    /// Validates the flags against the kind and the model's dims.
    fn target(&self, dims: usize) -> Result<Target> {
        let Some(to) = self.to.as_deref() else {
            bail!("--to is required (f16, int8, pq, rq, lsq or f32)");
        };
        let mut target = Target::from_name(to, dims)?;
        let shared_flags = self.subquantizers.is_some()
            || self.bits.is_some()
            || self.sample.is_some()
            || self.iterations.is_some()
            || self.seed.is_some();
        let pq_flags =
            self.rotation.is_some() || self.opq_iterations.is_some() || self.opq_start.is_some();
        let rq_flags = self.beam.is_some()
            || self.refine.is_some()
            || self.objective.is_some()
            || self.parallel_weight.is_some()
            || self.codebook_dtype.is_some()
            || self.local_search.is_some();
        match &mut target {
            Target::Pq(cfg) => {
                let d = PqConfig::for_dims(dims);
                *cfg = PqConfig {
                    subquantizers: self.subquantizers.unwrap_or(d.subquantizers),
                    bits: self.bits.unwrap_or(d.bits),
                    sample: self.sample.unwrap_or(d.sample),
                    iterations: self.iterations.unwrap_or(d.iterations),
                    seed: self.seed.unwrap_or(d.seed),
                    rotation: match self.rotation.as_deref() {
                        Some("opq") => Some(Rotation::opq(
                            self.opq_iterations
                                .unwrap_or(Rotation::DEFAULT_OPQ_ITERATIONS),
                            match self.opq_start.as_deref() {
                                None => OpqStart::Auto,
                                Some(s) => OpqStart::from_name(s).map_err(|_| {
                                    anyhow::anyhow!(
                                        "unknown --opq-start {s:?}: expected {}",
                                        OpqStart::NAMES
                                    )
                                })?,
                            },
                        )),
                        None | Some("none") => None,
                        Some(other) => {
                            bail!("unknown --rotation {other:?}: expected none or opq")
                        }
                    },
                };
            }
            Target::Rq(cfg) => {
                // `rq` or `lsq` (which differ in their local search rounds).
                let d = cfg.clone();
                *cfg = RqConfig {
                    subquantizers: self.subquantizers.unwrap_or(d.subquantizers),
                    bits: self.bits.unwrap_or(d.bits),
                    beam: self.beam.unwrap_or(d.beam),
                    sample: self.sample.unwrap_or(d.sample),
                    iterations: self.iterations.unwrap_or(d.iterations),
                    refine: self.refine.unwrap_or(d.refine),
                    seed: self.seed.unwrap_or(d.seed),
                    objective: {
                        let w = self
                            .parallel_weight
                            .unwrap_or(quant::rq::Objective::DEFAULT_PARALLEL_WEIGHT);
                        if !(0.0..=1.0).contains(&w) {
                            bail!("--parallel-weight {w}: expected a number in 0..=1");
                        }
                        match self.objective.as_deref() {
                            None | Some("l2") if self.parallel_weight.is_some() => {
                                bail!("--parallel-weight only applies with --objective cosine")
                            }
                            None => d.objective,
                            Some(o) => quant::rq::Objective::from_name(o, w).map_err(|_| {
                                anyhow::anyhow!("unknown --objective {o:?}: expected l2 or cosine")
                            })?,
                        }
                    },
                    codebook_dtype: match self.codebook_dtype.as_deref() {
                        None => d.codebook_dtype,
                        Some(t) => embers::storage::CodebookDtype::from_name(t).map_err(|_| {
                            anyhow::anyhow!(
                                "unknown --codebook-dtype {t:?}: expected f32, f16 or int8"
                            )
                        })?,
                    },
                    local_search: self.local_search.unwrap_or(d.local_search),
                };
            }
            Target::Int8 { affine } => *affine = self.affine,
            _ => {}
        }
        if shared_flags && !matches!(target, Target::Pq(_) | Target::Rq(_)) {
            bail!(
                "--subquantizers, --bits, --sample, --iterations and --seed only apply to \
                 --to pq and --to rq"
            );
        }
        if pq_flags && !matches!(target, Target::Pq(_)) {
            bail!("--rotation, --opq-iterations and --opq-start only apply to --to pq");
        }
        if rq_flags && !matches!(target, Target::Rq(_)) {
            bail!(
                "--beam, --refine, --objective, --parallel-weight and --codebook-dtype only \
                 apply to --to rq"
            );
        }
        if self.opq_iterations.is_some() && self.rotation.as_deref() != Some("opq") {
            bail!("--opq-iterations only applies with --rotation opq");
        }
        if self.opq_start.is_some() && self.rotation.as_deref() != Some("opq") {
            bail!("--opq-start only applies with --rotation opq");
        }
        if self.affine && !matches!(target, Target::Int8 { .. }) {
            bail!("--affine only applies to --to int8");
        }
        Ok(target)
    }
}

pub fn run(a: Args, progress: Mode) -> Result<()> {
    if a.supervised || super::supervised::is_supervised_model(&a.input) {
        if a.to.is_some() {
            bail!("--to does not apply to supervised fastText models (they become .ftz files)");
        }
        return super::supervised::quantize_run(&a.input, &a.output, &a.sup, progress);
    }
    if a.sup.is_set() {
        bail!(
            "--cutoff, --retrain, --qnorm, --qout, --dsub, --input, --epoch, --lr and --thread \
             only apply to supervised fastText models"
        );
    }
    let start = Instant::now();
    let emb = a.read.load(&a.input)?;
    let target = a.target(emb.dims())?;
    match &target {
        Target::Pq(cfg) => quant::pq::check_config(emb.len(), emb.dims(), cfg)?,
        Target::Rq(cfg) => quant::rq::check_config(emb.len(), emb.dims(), cfg)?,
        _ => {}
    }
    let loaded = start.elapsed().as_secs_f64();
    let reporter = Reporter::new(progress, "quantize");
    let t = Instant::now();
    let q = quant::quantize_with(&emb, &target, a.normalize, &|p| reporter.report(p))?;
    reporter.finish();
    let seconds = t.elapsed().as_secs_f64();

    // Reconstruction error: ‖x − x̂‖² / ‖x‖² over the whole matrix (of unit rows when
    // normalizing, so only the quantizer's error counts).
    let mut original = emb.storage().to_dense()?;
    if a.normalize {
        for r in original.as_mut_slice().chunks_mut(emb.dims().max(1)) {
            embers::kernels::normalize(r);
        }
    }
    let decoded = q.storage().to_dense()?;
    // Blocks of rows summed in parallel, the block sums added in row order: rayon's `reduce`
    // associates by how the work was stolen, which moved the last bit between runs.
    let d = emb.dims().max(1);
    const BLOCK: usize = 4096;
    let (err, total) = original
        .as_slice()
        .par_chunks(d * BLOCK)
        .zip(decoded.as_slice().par_chunks(d * BLOCK))
        .map(|(xs, ys)| {
            let e: f64 = xs
                .iter()
                .zip(ys)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum();
            let n: f64 = xs.iter().map(|a| (*a as f64).powi(2)).sum();
            (e, n)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let rel = if total > 0.0 { err / total } else { 0.0 };
    embers::io::native::write(&a.output, &q)?;

    // Sizes as `embers info` counts them: everything the rows take (codes, scales, codebooks,
    // rotation); compressed files store no norms (they are derived from the codes).
    let f32_bytes = emb.len() * emb.dims() * 4;
    let bytes = q.storage().stored_bytes();
    let ratio = bytes as f64 / f32_bytes.max(1) as f64;
    let settings = q
        .metadata()
        .get("quantizer")
        .cloned()
        .unwrap_or_else(|| target.describe());
    if a.json {
        let v = serde_json::json!({
            "output": a.output,
            "storage": q.storage().kind(),
            "quantizer": serde_json::from_str::<serde_json::Value>(&settings)?,
            "rows": q.len(),
            "dims": q.dims(),
            "vector_bytes": bytes,
            "f32_bytes": f32_bytes,
            "ratio": ratio,
            "relative_squared_error": rel,
            "load_seconds": loaded,
            "quantize_seconds": seconds,
        });
        println!("{v}");
    } else {
        println!(
            "{} × {} → {} ({}): {} bytes of vectors, {:.4}× f32 ({:.1}× smaller), relative squared error {:.5}, quantized in {:.2} s",
            q.len(),
            q.dims(),
            a.output.display(),
            settings,
            bytes,
            ratio,
            1.0 / ratio.max(f64::MIN_POSITIVE),
            rel,
            seconds
        );
    }
    Ok(())
}

//! Quantization of supervised models, fastText's `quantize` command: optionally keep only the
//! `cutoff` input rows of largest norm (words first, `</s>` always kept; the kept n-gram buckets
//! become the prune index), optionally retrain on the pruned model, then product-quantize the
//! input rows (sub-spaces of `dsub` columns, 256 centroids each, k-means of 25 iterations on at
//! most 65,536 rows per sub-space), with `qnorm` the row norms separately (a one-dimensional
//! quantizer), and with `qout` the output rows too (`dsub` 2). The result is an `.ftz` model.

use std::sync::atomic::AtomicBool;

use super::dict::{Dictionary, EOS};
use super::matrix::{Matrix, ProductQuantizer, QuantMatrix, KSUB};
use super::train::{fit, SupervisedConfig};
use super::Classifier;
use crate::error::{Error, Result};
use crate::progress::ProgressFn;
use crate::rng::Rng;
use crate::storage::DenseMatrix;

/// Settings of `quantize`, with fastText's names and defaults.
#[derive(Debug, Clone)]
pub struct QuantizeConfig {
    /// Keep this many input rows (0: all, no pruning).
    pub cutoff: usize,
    /// Retrain after pruning (needs the training data).
    pub retrain: bool,
    /// Quantize the norms separately.
    pub qnorm: bool,
    /// Quantize the output matrix too.
    pub qout: bool,
    /// Columns per sub-quantizer (2).
    pub dsub: usize,
    /// Settings of the retraining (lr, epoch, threads, seed).
    pub train: SupervisedConfig,
    /// Seed of the k-means sampling and initialisation.
    pub seed: u64,
}

impl Default for QuantizeConfig {
    fn default() -> Self {
        QuantizeConfig {
            cutoff: 0,
            retrain: false,
            qnorm: false,
            qout: false,
            dsub: 2,
            train: SupervisedConfig::default(),
            seed: 0,
        }
    }
}

const NITER: usize = 25;
const MAX_POINTS: usize = 256 * KSUB;

/// Lloyd's k-means with fastText's choices: 256 centroids started at random distinct points,
/// 25 rounds, an empty cluster takes a perturbed copy of a large one.
#[allow(clippy::needless_range_loop)]
fn kmeans(x: &[f32], d: usize, centroids: &mut [f32], rng: &mut Rng) {
    let n = x.len() / d;
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        perm.swap(i, j);
    }
    for k in 0..KSUB {
        centroids[k * d..(k + 1) * d].copy_from_slice(&x[perm[k] * d..(perm[k] + 1) * d]);
    }
    let mut codes = vec![0u8; n];
    let mut counts = vec![0usize; KSUB];
    for _ in 0..NITER {
        for (i, c) in codes.iter_mut().enumerate() {
            *c = nearest(&x[i * d..(i + 1) * d], centroids, d);
        }
        centroids.fill(0.0);
        counts.fill(0);
        for (i, &c) in codes.iter().enumerate() {
            let c = c as usize;
            for j in 0..d {
                centroids[c * d + j] += x[i * d + j];
            }
            counts[c] += 1;
        }
        for k in 0..KSUB {
            if counts[k] > 0 {
                for v in &mut centroids[k * d..(k + 1) * d] {
                    *v /= counts[k] as f32;
                }
            }
        }
        const EPS: f32 = 1e-7;
        for k in 0..KSUB {
            if counts[k] == 0 {
                // Split a cluster chosen with probability growing with its size.
                let mut m = 0usize;
                while rng.uniform_f64() * (n - KSUB) as f64 >= counts[m] as f64 - 1.0 {
                    m = (m + 1) % KSUB;
                }
                let (a, b) = (k * d, m * d);
                for j in 0..d {
                    let sign = ((j % 2) as f32) * 2.0 - 1.0;
                    centroids[a + j] = centroids[b + j] + sign * EPS;
                    centroids[b + j] -= sign * EPS;
                }
                counts[k] = counts[m] / 2;
                counts[m] -= counts[k];
            }
        }
    }
}

#[inline]
fn nearest(x: &[f32], centroids: &[f32], d: usize) -> u8 {
    let mut best = 0u8;
    let mut bd = f32::INFINITY;
    for k in 0..KSUB {
        let c = &centroids[k * d..(k + 1) * d];
        let mut dist = 0f32;
        for (a, b) in x.iter().zip(c) {
            let t = a - b;
            dist += t * t;
        }
        if dist < bd {
            bd = dist;
            best = k as u8;
        }
    }
    best
}

/// Trains a product quantizer of `dsub` columns per sub-space on the rows of `x` (`n × dim`)
/// and encodes them. Needs at least 256 rows.
pub fn product_quantize(
    x: &[f32],
    dim: usize,
    dsub: usize,
    rng: &mut Rng,
) -> Result<(ProductQuantizer, Vec<u8>)> {
    let n = x.len() / dim.max(1);
    if n < KSUB {
        return Err(Error::invalid(
            "matrix",
            format!("{n} rows: product quantization needs at least {KSUB} rows"),
        ));
    }
    let mut pq = ProductQuantizer::layout(dim, dsub)?;
    let np = n.min(MAX_POINTS);
    let mut perm: Vec<usize> = (0..n).collect();
    let parts: Vec<Vec<f32>> = (0..pq.nsubq)
        .map(|m| {
            let d = pq.width(m);
            if np != n {
                for i in (1..n).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    perm.swap(i, j);
                }
            }
            let mut slice = vec![0f32; np * d];
            for j in 0..np {
                let src = perm[j] * dim + m * pq.dsub;
                slice[j * d..(j + 1) * d].copy_from_slice(&x[src..src + d]);
            }
            slice
        })
        .collect();
    {
        use rayon::prelude::*;
        let seeds: Vec<Rng> = (0..pq.nsubq).map(|m| rng.fork(m as u64)).collect();
        let mut cents: Vec<Vec<f32>> = (0..pq.nsubq)
            .map(|m| vec![0f32; KSUB * pq.width(m)])
            .collect();
        cents
            .par_iter_mut()
            .zip(parts.par_iter())
            .zip(seeds)
            .enumerate()
            .for_each(|(m, ((c, part), mut r))| {
                let d = if m + 1 == pq.nsubq {
                    pq.lastdsub
                } else {
                    pq.dsub
                };
                kmeans(part, d, c, &mut r);
            });
        for (m, c) in cents.iter().enumerate() {
            let at = pq.centroid_at(m, 0);
            pq.centroids[at..at + c.len()].copy_from_slice(c);
        }
    }
    let codes = {
        use rayon::prelude::*;
        let mut codes = vec![0u8; n * pq.nsubq];
        codes
            .par_chunks_mut(pq.nsubq)
            .enumerate()
            .for_each(|(i, code)| {
                for (m, c) in code.iter_mut().enumerate() {
                    let d = pq.width(m);
                    let at = pq.centroid_at(m, 0);
                    let src = i * dim + m * pq.dsub;
                    *c = nearest(&x[src..src + d], &pq.centroids[at..at + KSUB * d], d);
                }
            });
        codes
    };
    Ok((pq, codes))
}

/// A quantized matrix of `m` (with `qnorm`: rows scaled to unit norm, norms quantized apart).
pub fn quantize_matrix(
    m: &DenseMatrix,
    dsub: usize,
    qnorm: bool,
    rng: &mut Rng,
) -> Result<QuantMatrix> {
    let dim = m.dims();
    let mut data = m.as_slice().to_vec();
    let norms = if qnorm {
        let mut norms = vec![0f32; m.rows()];
        for (i, row) in data.chunks_mut(dim).enumerate() {
            let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            norms[i] = n;
            if n > 0.0 {
                for v in row.iter_mut() {
                    *v /= n;
                }
            }
        }
        let (npq, ncodes) = product_quantize(&norms, 1, 1, rng)?;
        Some((ncodes, npq))
    } else {
        None
    };
    let (pq, codes) = product_quantize(&data, dim, dsub, rng)?;
    Ok(QuantMatrix {
        rows: m.rows(),
        dims: dim,
        codes,
        pq,
        norms,
    })
}

/// fastText's `selectEmbeddings`: the `cutoff` rows of largest norm, `</s>` first.
fn select_rows(input: &DenseMatrix, eos: Option<usize>, cutoff: usize) -> Vec<usize> {
    let norms: Vec<f32> = (0..input.rows())
        .map(|i| input.row(i).iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect();
    let mut idx: Vec<usize> = (0..input.rows()).collect();
    idx.sort_by(|&a, &b| {
        let ka = (Some(a) != eos, std::cmp::Reverse(ordered(norms[a])));
        let kb = (Some(b) != eos, std::cmp::Reverse(ordered(norms[b])));
        ka.cmp(&kb).then(a.cmp(&b))
    });
    idx.truncate(cutoff);
    idx
}

fn ordered(x: f32) -> u32 {
    // Total order on finite floats (norms are non-negative).
    x.to_bits()
}

/// Quantizes a dense supervised model; `train_data` (the training lines) is needed for
/// `retrain` with a cutoff.
pub fn quantize(
    model: &Classifier,
    config: &QuantizeConfig,
    train_data: Option<&[u8]>,
    progress: Option<&ProgressFn<'_>>,
    cancel: Option<&AtomicBool>,
) -> Result<Classifier> {
    let (input, output) = match (&model.input, &model.output) {
        (Matrix::Dense(i), Matrix::Dense(o)) => (i, o),
        _ => {
            return Err(Error::invalid(
                "model",
                "the model is already quantized; quantize its .bin",
            ))
        }
    };
    if config.dsub == 0 {
        return Err(Error::invalid("dsub", "must be at least 1"));
    }
    let mut rng = Rng::new(config.seed);
    let mut m = model.clone();
    if config.cutoff > 0 && config.cutoff < input.rows() {
        let d = &model.dict;
        let nwords = d.nwords();
        let eos = d.find(EOS, crate::subword::fasttext_hash(EOS));
        let idx = select_rows(input, eos, config.cutoff);
        let mut words: Vec<usize> = idx.iter().copied().filter(|&i| i < nwords).collect();
        words.sort_unstable();
        let ngrams: Vec<usize> = idx.iter().copied().filter(|&i| i >= nwords).collect();
        let prune: Vec<(i32, i32)> = ngrams
            .iter()
            .enumerate()
            .map(|(j, &g)| ((g - nwords) as i32, j as i32))
            .collect();
        let mut entries = Vec::with_capacity(words.len() + d.nlabels());
        let mut raw = Vec::with_capacity(entries.capacity());
        for &w in &words {
            entries.push(d.entries[w].clone());
            raw.push(d.raw[w].clone());
        }
        for i in nwords..d.entries.len() {
            entries.push(d.entries[i].clone());
            raw.push(d.raw[i].clone());
        }
        let dim = input.dims();
        let mut rows = Vec::with_capacity((words.len() + ngrams.len()) * dim);
        for &r in words.iter().chain(&ngrams) {
            rows.extend_from_slice(input.row(r));
        }
        let dict = Dictionary::new(
            entries,
            raw,
            d.ntokens,
            prune.len() as i64,
            prune,
            &model.args,
        )?;
        m = Classifier::new(
            model.args,
            model.version,
            dict,
            Matrix::Dense(DenseMatrix::new(words.len() + ngrams.len(), dim, rows)?),
            Matrix::Dense(output.clone()),
        )?;
        if config.retrain {
            let data = train_data.ok_or_else(|| {
                Error::invalid("retrain", "retraining needs the training data (--input)")
            })?;
            let mut tc = config.train.clone();
            tc.epoch = tc.epoch.max(1);
            fit(&mut m, data, &tc, progress, cancel)?;
        }
    }
    let (inp, out) = match (&m.input, &m.output) {
        (Matrix::Dense(i), Matrix::Dense(o)) => (i.clone(), o.clone()),
        _ => unreachable!("dense until here"),
    };
    let qin = quantize_matrix(&inp, config.dsub, config.qnorm, &mut rng)?;
    m.input = Matrix::Quant(qin);
    if config.qout {
        m.output = Matrix::Quant(quantize_matrix(&out, 2, config.qnorm, &mut rng)?);
    }
    Ok(m)
}

//! Quality against size: evaluates a model reduced to several dimensions ([`crate::reduce`])
//! and stored in several ways (f32, f16, int8, product quantization), to answer "which dimension,
//! which storage?" with measurements on the user's own model.
//!
//! Each variant is measured as `embers eval` and `embers similar` would measure the file it
//! stands for: bytes a row (everything a native file stores for the vectors: matrix or codes,
//! codebooks, scales; norms for f32), analogy accuracy and word-pair Spearman correlations (gensim's
//! protocols), recall@10 of each query word's neighbours against the original model's exact
//! neighbours, and the mean time of one top-10 query. [`svg`] draws the points as a chart.

pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::eval::{self, AnalogyOptions, PairsOptions};
use crate::progress::{Progress, ProgressFn};
use crate::quant::{self, PqConfig, Target};
use crate::query::exact;
use crate::reduce::{self, Method, Projection, ReduceOptions};
use crate::rng::Rng;
use crate::search::{self, Screening, Search};

/// The training sample of a sweep's PQ codebooks holds at most this many values (rows ×
/// dims): the default 65,536 rows up to 64 dims (GloVe 50d's codebooks are trained as
/// `embers quantize` trains them), 20,971 rows at 200 dims, and from 256 dims up the floor of
/// 64 rows a centroid, 16,384. k-means time grows with sample × dims (at 25 and 50 dims it
/// was already a sixth of a PQ-and-f16 sweep's CPU time).
pub const PQ_SAMPLE_VALUES: usize = 1 << 22;

/// How a variant stores its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    F32,
    F16,
    Int8,
    /// Product quantization with the most subquantizers that keep at least this many values
    /// each (so the code takes about `dims / values_per_code` bytes), 8-bit codes.
    Pq {
        values_per_code: usize,
    },
}

impl Kind {
    /// Parses `f32`, `f16`, `int8`, `pq` (5 values a code byte) or `pq:N`.
    pub fn from_name(name: &str) -> Result<Kind> {
        Ok(match name {
            "f32" => Kind::F32,
            "f16" => Kind::F16,
            "int8" => Kind::Int8,
            "pq" => Kind::Pq { values_per_code: 5 },
            other => match other.strip_prefix("pq:").map(str::parse::<usize>) {
                Some(Ok(n)) if (1..=1024).contains(&n) => Kind::Pq { values_per_code: n },
                _ => {
                    return Err(Error::invalid(
                        "to",
                        format!(
                            "unknown kind {other:?}: expected f32, f16, int8, pq or pq:N \
                             (N = 1..=1024 values a code byte)"
                        ),
                    ))
                }
            },
        })
    }

    /// The name as parsed by [`Kind::from_name`].
    pub fn name(&self) -> String {
        match self {
            Kind::F32 => "f32".into(),
            Kind::F16 => "f16".into(),
            Kind::Int8 => "int8".into(),
            Kind::Pq { values_per_code } => format!("pq:{values_per_code}"),
        }
    }

    /// The quantization target for rows of `dims` values (PQ seeded with `seed`).
    pub fn target(&self, dims: usize, seed: u64) -> Target {
        match *self {
            Kind::F32 => Target::F32,
            Kind::F16 => Target::F16,
            Kind::Int8 => Target::Int8 { affine: false },
            Kind::Pq { values_per_code } => {
                let m = (1..=(dims / values_per_code).max(1))
                    .rev()
                    .find(|m| dims.is_multiple_of(*m))
                    .unwrap_or(1);
                let defaults = PqConfig::for_dims(dims);
                let ksub = 1usize << defaults.bits;
                Target::Pq(PqConfig {
                    subquantizers: m,
                    seed,
                    // k-means time grows with sample × dims: at most PQ_SAMPLE_VALUES values,
                    // but never under 64 rows a centroid.
                    sample: (PQ_SAMPLE_VALUES / dims.max(1)).clamp(64 * ksub, defaults.sample),
                    ..defaults
                })
            }
        }
    }
}

/// What to measure and how.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Reduced dimensions to try (each at most the model's); the model's own dimension means
    /// the original rows, unprojected.
    pub dims: Vec<usize>,
    pub kinds: Vec<Kind>,
    pub method: Method,
    /// Fit PCA on a seeded sample of this many rows (`None`: all rows).
    pub sample: Option<usize>,
    pub seed: u64,
    /// Analogy questions (`questions-words.txt` format).
    pub analogies: Option<PathBuf>,
    /// Word-pair files (WordSim-353, SimLex-999, ...).
    pub pairs: Vec<PathBuf>,
    /// gensim's `restrict_vocab` for the benchmarks (as `embers eval`'s default: 300,000).
    pub restrict_vocab: usize,
    /// Query words for recall@10 and the query time (a seeded sample of the first
    /// `restrict_vocab` words).
    pub queries: usize,
    /// Write every variant as a native file into this folder.
    pub keep: Option<PathBuf>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            dims: Vec::new(),
            kinds: vec![
                Kind::F32,
                Kind::F16,
                Kind::Int8,
                Kind::Pq { values_per_code: 5 },
            ],
            method: Method::Pca,
            sample: None,
            seed: 42,
            analogies: None,
            pairs: Vec::new(),
            restrict_vocab: 300_000,
            queries: 1000,
            keep: None,
        }
    }
}

/// One measured variant.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Point {
    /// The chart's line this point belongs to: `"{method} {kind}"` (such as `pca int8`; the
    /// model's own dimension is on its method's line) or `"trained {kind}"`.
    pub series: String,
    /// `pca`, `truncate`, `original` (the unprojected rows) or `trained`.
    pub method: String,
    pub kind: String,
    pub dims: usize,
    /// Bytes a row as `embers info` counts them: matrix or codes, codebooks, scales (and norms,
    /// which only f32 files store).
    pub bytes_per_row: f64,
    /// Share of the original variance kept by the projection (PCA only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explained_variance: Option<f64>,
    /// Analogy accuracy (gensim's `evaluate_word_analogies` score).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analogy: Option<f64>,
    /// Spearman correlation per word-pair file, by file stem.
    pub pairs: BTreeMap<String, f64>,
    /// Mean share of each query's exact top-10 (on the original) found in its top-10 here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_at_10: Option<f64>,
    /// Mean wall time of one top-10 query, in milliseconds.
    pub query_ms: f64,
    /// Seconds spent building and measuring the variant.
    pub seconds: f64,
    /// Where the variant was written (with `keep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// The exact top-10 of some query words on the original model, which recall is measured
/// against.
#[derive(Debug, Clone)]
pub struct Reference {
    words: Vec<String>,
    neighbours: Vec<Vec<String>>,
}

const K: usize = 10;

impl Reference {
    /// Picks `queries` words (seeded, among the first `restrict_vocab`) and finds their exact
    /// top-10 in `original`, query word excluded.
    pub fn new(original: &Embeddings, queries: usize, restrict_vocab: usize, seed: u64) -> Self {
        let pool = original.len().min(restrict_vocab);
        let mut ids: Vec<u32> = (0..pool as u32).collect();
        let mut rng = Rng::new(seed ^ 0x5eed_7e57);
        let take = queries.min(pool);
        for i in 0..take {
            let j = i + rng.below((pool - i) as u64) as usize;
            ids.swap(i, j);
        }
        ids.truncate(take);
        ids.sort_unstable();
        let words: Vec<String> = ids
            .iter()
            .map(|&i| original.vocab().token(i).unwrap_or_default().to_string())
            .collect();
        let neighbours = top10(&*search::default_for(original, Screening::Lazy), &ids, pool)
            .into_iter()
            .map(|hits| {
                hits.iter()
                    .map(|&i| original.vocab().token(i).unwrap_or_default().to_string())
                    .collect()
            })
            .collect();
        Reference { words, neighbours }
    }

    /// Mean recall@10 of the neighbours `search` finds for the reference words in its
    /// embeddings (matched by word; a query word missing from them counts as recall 0).
    pub fn recall(&self, search: &dyn Search, restrict_vocab: usize) -> f64 {
        let emb = search.embeddings();
        if self.words.is_empty() {
            return 0.0;
        }
        let pool = emb.len().min(restrict_vocab);
        let ids: Vec<Option<u32>> = self.words.iter().map(|w| emb.vocab().id(w)).collect();
        let present: Vec<u32> = ids.iter().flatten().copied().collect();
        let mut found = top10(search, &present, pool).into_iter();
        let mut total = 0.0;
        for (id, truth) in ids.iter().zip(&self.neighbours) {
            if id.is_none() || truth.is_empty() {
                continue;
            }
            let hits = found.next().unwrap_or_default();
            let got: Vec<&str> = hits.iter().filter_map(|&i| emb.vocab().token(i)).collect();
            let n = truth.iter().filter(|w| got.contains(&w.as_str())).count();
            total += n as f64 / truth.len() as f64;
        }
        total / self.words.len() as f64
    }
}

/// Exact top-10 ids (query excluded) of each row `ids` among the first `pool` rows, by
/// `search` (as `embers similar` searches: the fast scan for 4-bit PQ, the same answers as the
/// f32-table scan).
fn top10(search: &dyn Search, ids: &[u32], pool: usize) -> Vec<Vec<u32>> {
    let emb = search.embeddings();
    let dims = emb.dims();
    let mut queries = Vec::with_capacity(ids.len() * dims);
    for &i in ids {
        queries.extend(crate::query::unit_row(emb, i));
    }
    let exclude: Vec<Vec<u32>> = ids.iter().map(|&i| vec![i]).collect();
    let found = search
        .search(&queries, K, pool, &exclude)
        .unwrap_or_else(|_| exact::top_k_batch(emb, &queries, K, pool, &exclude));
    found
        .into_iter()
        .map(|hits| hits.into_iter().map(|h| h.id).collect())
        .collect()
}

/// Measures one model as it stands (its storage as it is): the point's numbers.
pub fn measure(
    emb: &Embeddings,
    reference: Option<&Reference>,
    opts: &SweepOptions,
) -> Result<Point> {
    let started = Instant::now();
    let analogy = match &opts.analogies {
        Some(p) => Some(
            eval::evaluate_analogies(
                emb,
                p,
                &AnalogyOptions {
                    restrict_vocab: opts.restrict_vocab,
                    case_insensitive: true,
                    dummy4unknown: false,
                },
            )?
            .accuracy,
        ),
        None => None,
    };
    let mut pairs = BTreeMap::new();
    for p in &opts.pairs {
        let report = eval::evaluate_pairs(
            emb,
            p,
            &PairsOptions {
                restrict_vocab: opts.restrict_vocab,
                case_insensitive: true,
                dummy4unknown: false,
                ..Default::default()
            },
        )?;
        pairs.insert(stem(p), report.spearman);
    }
    // One search object for both, so its caches (int8 screen, fast-scan index) are built once.
    let search = search::default_for(emb, Screening::Lazy);
    let recall_at_10 = reference.map(|r| r.recall(&*search, opts.restrict_vocab));
    let query_ms = query_time(&*search, reference, opts.restrict_vocab);
    let rows = emb.len().max(1) as f64;
    Ok(Point {
        series: String::new(),
        method: String::new(),
        kind: String::new(),
        dims: emb.dims(),
        // As `embers info` counts a written file: f32 files carry a norm a row, compressed
        // ones derive their norms from the codes.
        bytes_per_row: (emb.storage().stored_bytes()
            + if emb.storage().as_dense().is_some() {
                4 * emb.len()
            } else {
                0
            }) as f64
            / rows,
        explained_variance: None,
        analogy,
        pairs,
        recall_at_10,
        query_ms,
        seconds: started.elapsed().as_secs_f64(),
        file: None,
    })
}

/// Mean milliseconds of one top-10 query by `search` (the reference's words, one at a time, as
/// `embers similar` runs them), at most 200 queries.
fn query_time(search: &dyn Search, reference: Option<&Reference>, restrict_vocab: usize) -> f64 {
    let emb = search.embeddings();
    let pool = emb.len().min(restrict_vocab);
    let ids: Vec<u32> = match reference {
        Some(r) => r.words.iter().filter_map(|w| emb.vocab().id(w)).collect(),
        None => (0..pool.min(200) as u32).collect(),
    };
    let ids = &ids[..ids.len().min(200)];
    if ids.is_empty() {
        return 0.0;
    }
    let queries: Vec<Vec<f32>> = ids
        .iter()
        .map(|&i| crate::query::unit_row(emb, i))
        .collect();
    // Its caches (int8 screen, fast-scan index) built by two untimed queries first.
    for (q, &i) in queries.iter().zip(ids).cycle().take(2) {
        let _ = search.search_one(q, K, pool, &[i]);
    }
    let t = Instant::now();
    for (q, &i) in queries.iter().zip(ids) {
        let _ = std::hint::black_box(search.search_one(q, K, pool, &[i]));
    }
    t.elapsed().as_secs_f64() * 1e3 / ids.len() as f64
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reduces `emb` to every dimension of `opts.dims`, stores each in every kind of `opts.kinds`,
/// and measures each variant. PCA is fitted once, at the largest dimension asked for.
pub fn sweep(emb: &Embeddings, opts: &SweepOptions, progress: &ProgressFn) -> Result<Vec<Point>> {
    let d = emb.dims();
    let mut dims = opts.dims.clone();
    if dims.is_empty() {
        dims = default_dims(d);
    }
    dims.sort_unstable();
    dims.dedup();
    if let Some(&bad) = dims.iter().find(|&&x| x == 0 || x > d) {
        return Err(Error::invalid(
            "dims",
            format!("{bad} is not between 1 and the model's {d} dimensions"),
        ));
    }
    if opts.kinds.is_empty() {
        return Err(Error::invalid("to", "no storage kind to measure"));
    }
    if let Some(dir) = &opts.keep {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let total = (dims.len() * opts.kinds.len()) as u64;
    let report = |done: u64| progress(&Progress::new("sweep", done, Some(total), "variants"));
    report(0);
    let reference = Reference::new(emb, opts.queries, opts.restrict_vocab, opts.seed);
    let largest = *dims.iter().filter(|&&x| x < d).max().unwrap_or(&d);
    let fitted = if largest < d {
        let dense = emb.storage().to_dense()?;
        Some(Projection::fit(
            &dense,
            &ReduceOptions {
                dims: largest,
                method: opts.method,
                sample: opts.sample,
                seed: opts.seed,
            },
        )?)
    } else {
        None
    };
    let mut points = Vec::new();
    for &dim in &dims {
        let (base, method, explained) = match &fitted {
            Some(p) if dim < d => {
                let proj = p.leading(dim)?;
                let explained = (proj.method == Method::Pca).then(|| proj.explained_ratio());
                (reduce::apply(emb, &proj)?, opts.method.name(), explained)
            }
            _ => (f32_copy(emb)?, "original", None),
        };
        for kind in &opts.kinds {
            let started = Instant::now();
            let variant = quant::quantize(
                &base,
                &kind.target(dim, opts.seed),
                &crate::progress::silent,
            )?;
            let file = match &opts.keep {
                Some(dir) => {
                    let path = dir.join(format!(
                        "{method}-{dim}-{}.safetensors",
                        kind.name().replace(':', "")
                    ));
                    crate::io::native::write(&path, &variant)?;
                    Some(path)
                }
                None => None,
            };
            let mut point = measure(&variant, Some(&reference), opts)?;
            // The unprojected rows end the method's line: one line per kind.
            point.series = format!("{} {}", opts.method.name(), kind.name());
            point.method = method.into();
            point.kind = kind.name();
            point.explained_variance = explained;
            point.seconds = started.elapsed().as_secs_f64();
            point.file = file;
            points.push(point);
            report(points.len() as u64);
        }
    }
    Ok(points)
}

/// The same model with its rows as an owned f32 matrix (the original dimension's variant).
fn f32_copy(emb: &Embeddings) -> Result<Embeddings> {
    quant::quantize(emb, &Target::F32, &crate::progress::silent)
}

/// Dimensions tried when none are given: halvings of the model's, down to at least 8, and the
/// model's own (for 300: 300, 150, 75, 37, 18, 9).
pub fn default_dims(d: usize) -> Vec<usize> {
    let mut out = vec![d];
    let mut x = d / 2;
    while x >= 8 && out.len() < 6 {
        out.push(x);
        x /= 2;
    }
    out.reverse();
    out
}

/// Measures models trained at several dimensions (`embers sweep --train`): each stored in every
/// kind, recall measured against `reference` (the largest model's neighbours when no original
/// model is given).
pub fn measure_trained(
    models: &[Embeddings],
    reference: &Reference,
    opts: &SweepOptions,
    progress: &ProgressFn,
) -> Result<Vec<Point>> {
    let total = (models.len() * opts.kinds.len()) as u64;
    let mut points = Vec::new();
    for emb in models {
        for kind in &opts.kinds {
            let started = Instant::now();
            let variant = quant::quantize(
                emb,
                &kind.target(emb.dims(), opts.seed),
                &crate::progress::silent,
            )?;
            let file = match &opts.keep {
                Some(dir) => {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                    let path = dir.join(format!(
                        "trained-{}-{}.safetensors",
                        emb.dims(),
                        kind.name().replace(':', "")
                    ));
                    crate::io::native::write(&path, &variant)?;
                    Some(path)
                }
                None => None,
            };
            let mut point = measure(&variant, Some(reference), opts)?;
            point.series = format!("trained {}", kind.name());
            point.method = "trained".into();
            point.kind = kind.name();
            point.seconds = started.elapsed().as_secs_f64();
            point.file = file;
            points.push(point);
            progress(&Progress::new(
                "sweep",
                points.len() as u64,
                Some(total),
                "variants",
            ));
        }
    }
    Ok(points)
}

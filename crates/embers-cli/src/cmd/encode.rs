//! `embers encode`: one vector per text, from a static model folder (model2vec /
//! sentence-transformers `StaticEmbedding`), a sentence-transformers transformer folder (BERT
//! family, run on the CPU) or any embers word model (mean or SIF pooling).
//! Output as text lines, JSON lines, a float32 `.npy`, or a native embers file whose rows are
//! the texts (searchable with `embers similar`, compressible with `embers quantize`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use embers::sentence::{Pooler, Pooling, SentenceTransformer, StaticModel};
use embers::{DenseMatrix, Embeddings, Vocab};

use super::tokens::{write_npy, LineReader};
use super::vocab::TokenizerArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// A static model folder (model2vec: config.json, model.safetensors, tokenizer.json), a
    /// sentence-transformers folder with a BERT-family transformer (modules.json, config.json,
    /// model.safetensors, tokenizer.json), or an embedding file of any format (its token vectors
    /// are pooled).
    model: PathBuf,
    /// Texts to encode.
    texts: Vec<String>,
    /// Encode every line of this file (plain or .gz) instead.
    #[arg(long, conflicts_with = "texts")]
    file: Option<PathBuf>,
    /// With --file: only the first N lines.
    #[arg(long, requires = "file")]
    limit: Option<usize>,
    /// One JSON object per text: {"text", "tokens", "embedding"}.
    #[arg(long)]
    json: bool,
    /// Write the vectors (one row per text, in order) to a float32 .npy file.
    #[arg(long, value_name = "OUT")]
    npy: Option<PathBuf>,
    /// Write a native embers file whose rows are the texts (a repeated or empty text gets
    /// " #LINE" appended), for `embers similar`, `quantize`, `index build`.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// Divide every vector by its norm (static models: overrides the config's `normalize`).
    #[arg(long)]
    normalize: bool,
    /// Word models: how token vectors are pooled. SIF needs a component fitted with --fit-sif.
    #[arg(long, value_enum, default_value_t = PoolingArg::Mean)]
    pooling: PoolingArg,
    /// Word models: fit SIF's principal component on this corpus (one text a line, plain or
    /// .gz) and store it with `a` in MODEL's metadata (MODEL must be a native file; rewritten
    /// atomically). Texts given too are then encoded with it.
    #[arg(long, value_name = "CORPUS")]
    fit_sif: Option<PathBuf>,
    /// SIF's a (weight a / (a + p(w))).
    #[arg(long, default_value_t = embers::sentence::DEFAULT_SIF_A)]
    sif_a: f64,
    /// Static models: the maximum number of tokens per text (0: no limit; default: the config's).
    /// Transformers: max_seq_length (default: sentence_bert_config.json's, else the model's).
    #[arg(long)]
    max_length: Option<usize>,
    /// Transformers: texts per encoder batch.
    #[arg(long, default_value_t = embers::sentence::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PoolingArg {
    Mean,
    Sif,
}

// One value per process: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Model {
    Static(StaticModel),
    Transformer(SentenceTransformer),
    Words(Embeddings),
}

pub fn run(a: Args, progress: crate::progress::Mode) -> Result<()> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()?;
    let mut model = if a.model.is_dir() && embers::sentence::is_static_model_dir(&a.model) {
        if a.pooling != PoolingArg::Mean || a.fit_sif.is_some() {
            bail!("--pooling sif and --fit-sif are for word models; a static model pools as its config says");
        }
        let mut m = StaticModel::load(&a.model)?;
        if a.normalize {
            m.set_normalize(true);
        }
        if let Some(n) = a.max_length {
            m.set_max_length(if n == 0 { None } else { Some(n) })?;
        }
        Model::Static(m)
    } else if a.model.is_dir() && embers::sentence::is_transformer_dir(&a.model) {
        if a.pooling != PoolingArg::Mean || a.fit_sif.is_some() {
            bail!("--pooling sif and --fit-sif are for word models; a transformer pools as its 1_Pooling config says");
        }
        let mut m = pool.install(|| SentenceTransformer::load(&a.model))?;
        if a.normalize {
            m.set_normalize(true);
        }
        if let Some(n) = a.max_length {
            if n == 0 {
                bail!("--max-length must be at least 1 for a transformer");
            }
            m.set_max_seq_length(n)?;
        }
        m.set_batch_size(a.batch_size)?;
        Model::Transformer(m)
    } else {
        if a.max_length.is_some() {
            bail!("--max-length is for static models and transformers");
        }
        let emb = embers::io::read(&a.model, &embers::io::ReadOptions::default())
            .with_context(|| format!("reading {}", a.model.display()))?;
        Model::Words(emb)
    };

    if let Some(corpus) = &a.fit_sif {
        let Model::Words(emb) = &mut model else {
            unreachable!("checked above")
        };
        if !embers::io::native::is_native(&a.model) {
            bail!(
                "--fit-sif stores the component in MODEL's metadata, so MODEL must be a native \
                 embers file: convert it first (embers convert {} model.safetensors)",
                a.model.display()
            );
        }
        let mut reader = LineReader::open(corpus, None)?;
        let mut lines = Vec::new();
        let mut chunk = Vec::new();
        loop {
            reader.read(&mut chunk, 65536)?;
            if chunk.is_empty() {
                break;
            }
            lines.append(&mut chunk);
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let tok = a.tokenizer.tokenizer();
        let sif = pool.install(|| embers::sentence::fit_sif(emb, &tok, &refs, a.sif_a))?;
        embers::sentence::store_sif(emb, &sif)?;
        embers::io::native::write(&a.model, emb)
            .with_context(|| format!("storing the SIF component in {}", a.model.display()))?;
        eprintln!(
            "fitted SIF (a = {}) on {} lines of {}; component stored in {}",
            sif.a,
            lines.len(),
            corpus.display(),
            a.model.display()
        );
        if a.texts.is_empty() && a.file.is_none() {
            return Ok(());
        }
    }

    let pooler = match &model {
        Model::Words(emb) => {
            let pooling = match a.pooling {
                PoolingArg::Mean => Pooling::Mean,
                PoolingArg::Sif => Pooling::Sif,
            };
            let mut p = Pooler::new(emb, a.tokenizer.tokenizer(), pooling)?;
            p.set_normalize(a.normalize);
            Some(p)
        }
        Model::Static(_) | Model::Transformer(_) => None,
    };
    let encode = |texts: &[&str]| -> Result<(DenseMatrix, Vec<usize>)> {
        pool.install(|| match (&model, &pooler) {
            (Model::Static(m), _) => {
                let counts = texts
                    .iter()
                    .map(|t| m.tokenize(t).map(|ids| ids.len()))
                    .collect::<embers::Result<Vec<_>>>()?;
                Ok((m.encode(texts)?, counts))
            }
            (Model::Transformer(m), _) => {
                use rayon::prelude::*;
                let encodings = texts
                    .par_iter()
                    .map(|t| m.tokenize(t))
                    .collect::<embers::Result<Vec<_>>>()?;
                let counts = encodings.iter().map(|e| e.len()).collect();
                Ok((m.encode_tokenized(&encodings)?, counts))
            }
            (Model::Words(emb), Some(p)) => {
                let tok = a.tokenizer.tokenizer();
                let counts = texts
                    .iter()
                    .map(|t| {
                        let mut n = 0;
                        tok.for_each_token(t, |w| {
                            if emb.get(&w).is_some() {
                                n += 1
                            }
                        });
                        n
                    })
                    .collect();
                Ok((p.encode(texts)?, counts))
            }
            (Model::Words(_), None) => unreachable!("pooler built for word models"),
        })
    };

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let keep_all = a.npy.is_some() || a.output.is_some();
    let quiet = keep_all && !a.json;
    let mut all_rows: Vec<f32> = Vec::new();
    let mut all_texts: Vec<String> = Vec::new();
    let mut dims = 0usize;
    let mut emit = |texts: Vec<String>, first_line: usize| -> Result<()> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (m, counts) = encode(&refs).with_context(|| match &a.file {
            Some(f) => format!("{}: lines {first_line}..", f.display()),
            None => "encoding".to_string(),
        })?;
        dims = m.dims();
        if !quiet {
            for (i, text) in texts.iter().enumerate() {
                if a.json {
                    let v = serde_json::json!({
                        "text": text,
                        "tokens": counts[i],
                        "embedding": m.row(i),
                    });
                    writeln!(out, "{v}")?;
                } else {
                    let values: Vec<String> = m.row(i).iter().map(|x| x.to_string()).collect();
                    writeln!(
                        out,
                        "{}\t{}",
                        text.replace(['\t', '\n'], " "),
                        values.join(" ")
                    )?;
                }
            }
        }
        if keep_all {
            all_rows.extend_from_slice(m.as_slice());
            all_texts.extend(texts);
        }
        Ok(())
    };

    if let Some(file) = &a.file {
        let start = Instant::now();
        let reporter = crate::progress::Reporter::new(progress, "encode");
        let mut reader = LineReader::open(file, a.limit)?;
        let mut chunk = Vec::new();
        loop {
            let first = reader.read(&mut chunk, 8192)?;
            if chunk.is_empty() {
                break;
            }
            emit(std::mem::take(&mut chunk), first)?;
            let mut p = embers::progress::Progress::new(
                "encode",
                reader.lines_read as u64,
                a.limit.map(|l| l as u64),
                "lines",
            );
            p.rate = Some(reader.lines_read as f64 / start.elapsed().as_secs_f64());
            reporter.report(&p);
        }
        reporter.finish();
    } else {
        if a.texts.is_empty() {
            bail!("give texts, or --file LINES");
        }
        emit(a.texts.clone(), 1)?;
    }
    out.flush()?;
    drop(out);
    let rows = all_texts.len();
    if let Some(path) = &a.npy {
        write_npy(path, rows, dims, &all_rows)?;
    }
    if let Some(path) = &a.output {
        write_native(path, &a.model, all_texts, rows, dims, all_rows)?;
        eprintln!("wrote {rows} texts × {dims} dims to {}", path.display());
    }
    Ok(())
}

/// The texts as the vocabulary of a native file: repeated or empty texts get " #LINE".
fn write_native(
    path: &Path,
    model: &Path,
    texts: Vec<String>,
    rows: usize,
    dims: usize,
    data: Vec<f32>,
) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(texts.len());
    let mut names = Vec::with_capacity(texts.len());
    for (i, t) in texts.into_iter().enumerate() {
        let mut name = t.replace(['\n', '\r'], " ");
        if name.trim().is_empty() || seen.contains(&name) {
            name = format!("{name} #{}", i + 1);
        }
        seen.insert(name.clone());
        names.push(name);
    }
    let vocab = Vocab::from_words(names)?;
    let mut emb = Embeddings::new(vocab, DenseMatrix::new(rows, dims, data)?)?;
    emb.metadata_mut()
        .insert("sentence.model".into(), model.display().to_string());
    embers::io::native::write(path, &emb)?;
    Ok(())
}

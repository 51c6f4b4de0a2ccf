//! `embers sweep`: quality against bytes a row for a model reduced to several dimensions and
//! stored in several ways (and, with --train, for models trained at several dimensions), as a
//! table, JSON lines and an SVG chart.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use embers::reduce::Method;
use embers::sweep::{self, svg, Kind, Point, Reference, SweepOptions};
use embers::text::Corpus;
use embers::train::word2vec::{self, Control, Word2VecConfig};

use super::info::ReadArgs;
use crate::cmd::vocab::TokenizerArgs;
use crate::progress::{Mode, Reporter};

#[derive(ClapArgs)]
pub struct Args {
    /// The model to reduce and compress (any readable format); optional with --train.
    input: Option<PathBuf>,
    /// Folder of the benchmarks: questions-words.txt, wordsim353.tsv, simlex999.txt (those
    /// present are used).
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Analogy questions (instead of, or in addition to, --eval's).
    #[arg(long)]
    analogies: Option<PathBuf>,
    /// Word-pair files (instead of, or in addition to, --eval's).
    #[arg(long, num_args = 1..)]
    pairs: Vec<PathBuf>,
    /// Dimensions, comma separated (default: the model's and its halvings down to 8).
    #[arg(long, value_delimiter = ',')]
    dims: Vec<usize>,
    /// Storage kinds, comma separated: f32, f16, int8, pq (5 values a code byte) or pq:N.
    #[arg(long, value_delimiter = ',', default_value = "f32,f16,int8,pq")]
    to: Vec<String>,
    /// pca or truncate.
    #[arg(long, default_value = "pca")]
    method: String,
    /// pca: fit on a seeded sample of this many rows.
    #[arg(long)]
    sample: Option<usize>,
    /// Seed of the PCA sample, the PQ codebooks, the query words and training.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Query words for recall@10 and the query time.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// gensim's restrict_vocab for the benchmarks and the neighbour search.
    #[arg(long, default_value_t = 300_000)]
    restrict_vocab: usize,
    /// Write every variant as a native file into this folder.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Write the chart here. Named STEM.sweep.svg beside the model (glove.embers →
    /// glove.sweep.svg), `embers serve` shows it on its page.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// What the chart plots: analogy, recall, or a word-pair file's stem (e.g. simlex999).
    #[arg(long)]
    metric: Option<String>,
    /// Write one JSON object a variant here (`-` for standard output, instead of the table).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also train a skip-gram model per --train-dims on these corpus files and add them.
    #[arg(long, num_args = 1..)]
    train: Vec<PathBuf>,
    /// Dimensions of the trained models (default 50,100,200,300).
    #[arg(long, value_delimiter = ',')]
    train_dims: Vec<usize>,
    /// Training passes.
    #[arg(long, default_value_t = 5)]
    epochs: u32,
    /// Training: drop words seen fewer times.
    #[arg(long, default_value_t = 5)]
    min_count: u64,
    /// Training threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
    #[command(flatten)]
    read: ReadArgs,
}

/// Benchmark files of an --eval folder, by the names gensim's test data and embers use.
fn eval_files(dir: &Path) -> Result<(Option<PathBuf>, Vec<PathBuf>)> {
    if !dir.is_dir() {
        bail!("--eval {}: not a folder", dir.display());
    }
    let analogies = Some(dir.join("questions-words.txt")).filter(|p| p.is_file());
    let pairs: Vec<PathBuf> = ["wordsim353.tsv", "simlex999.txt"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file())
        .collect();
    if analogies.is_none() && pairs.is_empty() {
        bail!(
            "--eval {}: none of questions-words.txt, wordsim353.tsv, simlex999.txt is there",
            dir.display()
        );
    }
    Ok((analogies, pairs))
}

pub fn run(a: Args, progress: Mode) -> Result<()> {
    let started = Instant::now();
    if a.input.is_none() && a.train.is_empty() {
        bail!("nothing to sweep: give a model file and/or --train CORPUS");
    }
    let mut opts = SweepOptions {
        dims: a.dims.clone(),
        kinds: a
            .to
            .iter()
            .map(|k| Kind::from_name(k))
            .collect::<Result<_, _>>()?,
        method: Method::from_name(&a.method)?,
        sample: a.sample,
        seed: a.seed,
        restrict_vocab: a.restrict_vocab,
        queries: a.queries,
        keep: a.keep.clone(),
        ..SweepOptions::default()
    };
    if let Some(dir) = &a.eval {
        let (an, pairs) = eval_files(dir)?;
        opts.analogies = an;
        opts.pairs = pairs;
    }
    if a.analogies.is_some() {
        opts.analogies = a.analogies.clone();
    }
    opts.pairs.extend(a.pairs.iter().cloned());
    if opts.analogies.is_none() && opts.pairs.is_empty() {
        bail!("no benchmark: give --eval DIR, --analogies FILE or --pairs FILE...");
    }
    let mut points: Vec<Point> = Vec::new();
    let mut reference = None;
    if let Some(input) = &a.input {
        let emb = a.read.load(input)?;
        let reporter = Reporter::new(progress, "sweep");
        points = sweep::sweep(&emb, &opts, &|p| reporter.report(p))?;
        reporter.finish();
        reference = Some(Reference::new(
            &emb,
            opts.queries,
            opts.restrict_vocab,
            opts.seed,
        ));
    }
    if !a.train.is_empty() {
        let mut dims = if a.train_dims.is_empty() {
            vec![50, 100, 200, 300]
        } else {
            a.train_dims.clone()
        };
        dims.sort_unstable();
        dims.dedup();
        let corpus = Corpus::new(&a.train, a.tokenizer.tokenizer())?;
        let mut models = Vec::new();
        for &dim in &dims {
            let config = Word2VecConfig {
                dim,
                epochs: a.epochs,
                min_count: a.min_count,
                threads: a.threads,
                seed: a.seed,
                ..Word2VecConfig::default()
            };
            config.validate()?;
            let reporter = Reporter::new(progress, &format!("train {dim}d"));
            let sink = |p: &embers::progress::Progress| reporter.report(p);
            let emb = word2vec::train(
                &corpus,
                &config,
                Control {
                    progress: Some(&sink),
                    cancel: None,
                },
            )
            .with_context(|| format!("training the {dim}-dimensional model"))?;
            reporter.finish();
            models.push(emb);
        }
        let reference = match reference {
            Some(r) => r,
            None => Reference::new(
                models.last().expect("at least one dimension"),
                opts.queries,
                opts.restrict_vocab,
                opts.seed,
            ),
        };
        let reporter = Reporter::new(progress, "sweep trained");
        points.extend(sweep::measure_trained(&models, &reference, &opts, &|p| {
            reporter.report(p)
        })?);
        reporter.finish();
    }
    let metric = match &a.metric {
        Some(m) => svg::Metric::from_name(m),
        None => svg::Metric::default_for(&points),
    };
    if let Some(path) = &a.svg {
        let title = format!(
            "{} — {} against bytes a row",
            a.input
                .as_deref()
                .or(a.train.first().map(PathBuf::as_path))
                .and_then(|p| p.file_name())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            metric.label()
        );
        let text = svg::render(&points, &metric, &title);
        embers::io::write_bytes(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    match a.json.as_deref() {
        Some(p) if p == Path::new("-") => {
            for pt in &points {
                println!("{}", serde_json::to_string(pt)?);
            }
        }
        other => {
            if let Some(p) = other {
                let mut text = String::new();
                for pt in &points {
                    text.push_str(&serde_json::to_string(pt)?);
                    text.push('\n');
                }
                embers::io::write_bytes(p, text.as_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            print_table(&points, &opts)?;
            eprintln!(
                "{} variants in {:.1} s",
                points.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn print_table(points: &[Point], opts: &SweepOptions) -> Result<()> {
    let stems: Vec<String> = opts
        .pairs
        .iter()
        .map(|p| {
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{:<16} {:>5} {:>9} {:>8}",
        "series", "dims", "bytes/row", "var"
    )?;
    if opts.analogies.is_some() {
        write!(out, " {:>8}", "analogy")?;
    }
    for s in &stems {
        write!(out, " {:>10}", truncate(s, 10))?;
    }
    writeln!(out, " {:>9} {:>9}", "recall@10", "query ms")?;
    for p in points {
        let var = p
            .explained_variance
            .map_or("-".to_string(), |v| format!("{:.3}", v));
        write!(
            out,
            "{:<16} {:>5} {:>9.1} {:>8}",
            p.series, p.dims, p.bytes_per_row, var
        )?;
        if opts.analogies.is_some() {
            write!(out, " {:>8.4}", p.analogy.unwrap_or(f64::NAN))?;
        }
        for s in &stems {
            write!(
                out,
                " {:>10.4}",
                p.pairs.get(s).copied().unwrap_or(f64::NAN)
            )?;
        }
        writeln!(
            out,
            " {:>9.4} {:>9.3}",
            p.recall_at_10.unwrap_or(f64::NAN),
            p.query_ms
        )?;
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

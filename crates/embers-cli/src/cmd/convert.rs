//! `embers convert`: read an embedding file in one format and write it in another.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use embers::io::{self, Format};

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Input file (format sniffed unless --from is given), or a Hugging Face model folder
    /// (config.json, tokenizer.json, model.safetensors) whose token embedding matrix and
    /// vocabulary are exported.
    input: PathBuf,
    /// Output file (format from its extension unless --to is given: .embers/.safetensors
    /// native, .vec/.txt word2vec text, .bin word2vec binary or fastText when the input has
    /// subwords, .ftbin fastText, .glove GloVe, .npy numpy + .vocab.txt, .parquet Parquet
    /// with columns word and vector, written through the Python package and pyarrow).
    output: PathBuf,
    /// Output format.
    #[arg(long)]
    to: Option<String>,
    /// Replace each whitespace character inside tokens by this string when writing (text
    /// formats separate fields with spaces and refuse such tokens otherwise); an error if two
    /// tokens become equal.
    #[arg(long, value_name = "STR")]
    replace_spaces: Option<String>,
    /// Do not print what was written.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    read: ReadArgs,
}

/// True when the output is Parquet: `--to parquet`, or a `.parquet` file without `--to`.
fn is_parquet(a: &Args) -> bool {
    match &a.to {
        Some(t) => t.eq_ignore_ascii_case("parquet"),
        None => a
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet")),
    }
}

/// Parquet (`word` string, `vector` fixed-size list of float32) through the Python package's
/// `embers.parquet`, i.e. pyarrow: the Arrow writer for Rust (the `parquet` crate with its
/// `arrow` feature) would add a long build for every user of the CLI; see BENCHMARKS.md.
fn to_parquet(a: &Args) -> Result<()> {
    if a.input.is_dir() || a.read.tensor.is_some() || a.read.vocab.is_some() {
        bail!(
            "Parquet output takes an embedding file; convert a model folder or checkpoint to \
             .embers first, then that file to .parquet"
        );
    }
    if a.replace_spaces.is_some() {
        bail!("--replace-spaces does not apply to Parquet (words are strings in their column)");
    }
    if !a.input.exists() {
        bail!("{}: no such file", a.input.display());
    }
    let mut cmd = super::export::python_module(
        "embers.parquet",
        "embers.parquet, pyarrow",
        "Parquet output",
        "pip install ./python pyarrow",
    )?;
    cmd.arg(&a.input).arg(&a.output);
    if let Some(f) = &a.read.from {
        cmd.args(["--format", f]);
    }
    if let Some(n) = a.read.limit {
        cmd.args(["--limit", &n.to_string()]);
    }
    if a.read.lossy {
        cmd.arg("--lossy");
    }
    if a.read.allow_nonfinite {
        cmd.arg("--allow-nonfinite");
    }
    if a.quiet {
        cmd.arg("--quiet");
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run python -m embers.parquet")?;
    if !out.status.success() {
        // One line: the module's own `error: ...` line, else the traceback's last line.
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.trim().lines().last().unwrap_or("").trim();
        bail!(
            "writing {}: {}",
            a.output.display(),
            last.strip_prefix("error: ").unwrap_or(last)
        );
    }
    std::io::Write::write_all(&mut std::io::stdout(), &out.stdout)?;
    Ok(())
}

pub fn run(a: Args) -> Result<()> {
    let started = std::time::Instant::now();
    if is_parquet(&a) {
        return to_parquet(&a);
    }
    if a.input.is_dir() {
        return export_model(&a, started);
    }
    let options = a.read.options()?;
    let from = match options.format {
        Some(f) => f,
        None => io::sniff(&a.input)?,
    };
    let (mut emb, report) = io::read_with_report(&a.input, &options)?;
    for d in &report.duplicates {
        eprintln!(
            "embers: warning: {}: {}: duplicate word {:?} dropped (first occurrence kept)",
            a.input.display(),
            d.position,
            d.word
        );
    }
    if let Some(with) = &a.replace_spaces {
        let vocab = emb.vocab().replace_whitespace(with)?;
        *emb.vocab_mut() = vocab;
    }
    let read_time = started.elapsed();
    let to = match &a.to {
        Some(name) => Format::from_name(name)?,
        None => io::output_format(&a.output, &emb)?,
    };
    io::write(&a.output, &emb, to)?;
    if !a.quiet {
        println!(
            "{} ({}) -> {} ({}): {} × {}, read in {:.3} s, total {:.3} s",
            a.input.display(),
            from.name(),
            a.output.display(),
            to.name(),
            emb.len(),
            emb.dims(),
            read_time.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A transformer folder: its token embedding matrix with the tokenizer's vocabulary.
fn export_model(a: &Args, started: std::time::Instant) -> Result<()> {
    let mut emb = embers::transformer::export_token_embeddings(&a.input)?;
    if let Some(limit) = a.read.limit {
        emb.truncate(limit);
    }
    let to = match &a.to {
        Some(name) => Format::from_name(name)?,
        None => io::output_format(&a.output, &emb)?,
    };
    io::write(&a.output, &emb, to)?;
    if !a.quiet {
        println!(
            "{} (model folder) -> {} ({}): {} × {} token embeddings, total {:.3} s",
            a.input.display(),
            a.output.display(),
            to.name(),
            emb.len(),
            emb.dims(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

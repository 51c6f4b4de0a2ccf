//! `embers convert`: read an embedding file in one format and write it in another.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args as ClapArgs;
use embers::io::{self, Format};

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Input file (format sniffed unless --from is given).
    input: PathBuf,
    /// Output file (format from its extension unless --to is given: .embers/.safetensors
    /// native, .vec/.txt word2vec text, .bin word2vec binary or fastText when the input has
    /// subwords, .ftbin fastText, .glove GloVe, .npy numpy + .vocab.txt).
    output: PathBuf,
    /// Output format.
    #[arg(long)]
    to: Option<String>,
    /// Do not print what was written.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    read: ReadArgs,
}

pub fn run(a: Args) -> Result<()> {
    let options = a.read.options()?;
    let from = match options.format {
        Some(f) => f,
        None => io::sniff(&a.input)?,
    };
    let started = std::time::Instant::now();
    let (emb, report) = io::read_with_report(&a.input, &options)?;
    for d in &report.duplicates {
        eprintln!(
            "embers: warning: {}: {}: duplicate word {:?} dropped (first occurrence kept)",
            a.input.display(),
            d.position,
            d.word
        );
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

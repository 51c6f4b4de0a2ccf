//! `embers eval`: analogy and word-pair benchmarks with gensim's protocols.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args as ClapArgs;
use embers::eval::{self, AnalogyOptions, PairsOptions};

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Embedding file (any supported format).
    file: PathBuf,
    /// Analogy questions (`questions-words.txt` format).
    #[arg(long)]
    analogies: Option<PathBuf>,
    /// Word-pair similarity files (`word1<TAB>word2<TAB>score`, `#` comments).
    #[arg(long, num_args = 1..)]
    pairs: Vec<PathBuf>,
    /// Only the first N words of the vocabulary count (gensim's restrict_vocab).
    #[arg(long, default_value_t = 300_000)]
    restrict_vocab: usize,
    /// Compare words as they are instead of uppercased.
    #[arg(long)]
    case_sensitive: bool,
    /// Count questions and pairs with unknown words (as wrong / similarity 0) instead of
    /// skipping them.
    #[arg(long)]
    dummy4unknown: bool,
    /// One JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

pub fn run(a: Args) -> Result<()> {
    if a.analogies.is_none() && a.pairs.is_empty() {
        anyhow::bail!("nothing to evaluate: give --analogies FILE and/or --pairs FILE...");
    }
    let emb = a.read.load(&a.file)?;
    let analogies = match &a.analogies {
        Some(p) => Some(eval::evaluate_analogies(
            &emb,
            p,
            &AnalogyOptions {
                restrict_vocab: a.restrict_vocab,
                case_insensitive: !a.case_sensitive,
                dummy4unknown: a.dummy4unknown,
            },
        )?),
        None => None,
    };
    let popts = PairsOptions {
        restrict_vocab: a.restrict_vocab,
        case_insensitive: !a.case_sensitive,
        dummy4unknown: a.dummy4unknown,
        ..Default::default()
    };
    let pairs = a
        .pairs
        .iter()
        .map(|p| eval::evaluate_pairs(&emb, p, &popts))
        .collect::<embers::Result<Vec<_>>>()?;
    if a.json {
        let v = serde_json::json!({ "analogies": analogies, "pairs": pairs });
        println!("{v}");
        return Ok(());
    }
    if let Some(r) = &analogies {
        println!(
            "{:<32} {:>9} {:>7} {:>7}",
            "analogy section", "accuracy", "correct", "total"
        );
        for s in &r.sections {
            println!(
                "{:<32} {:>8.2}% {:>7} {:>7}",
                s.section,
                100.0 * s.accuracy,
                s.correct,
                s.total
            );
        }
        println!(
            "{:<32} {:>8.2}% {:>7} {:>7}",
            "Total accuracy",
            100.0 * r.accuracy,
            r.correct,
            r.total
        );
        println!(
            "questions with unknown words: {} of {} ({:.1}%){}",
            r.skipped,
            r.questions,
            100.0 * r.skipped as f64 / r.questions.max(1) as f64,
            if a.dummy4unknown {
                ", counted wrong"
            } else {
                ", skipped"
            }
        );
    }
    if !pairs.is_empty() {
        if analogies.is_some() {
            println!();
        }
        println!(
            "{:<40} {:>8} {:>8} {:>6} {:>6}",
            "word pairs", "pearson", "spearman", "pairs", "oov%"
        );
        for p in &pairs {
            println!(
                "{:<40} {:>8.4} {:>8.4} {:>6} {:>5.1}%",
                p.file.display(),
                p.pearson,
                p.spearman,
                p.pairs,
                p.oov_ratio
            );
        }
    }
    Ok(())
}

//! `embers vocab build|from-wordlist`: vocabularies from a corpus or a word list.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args as ClapArgs, Subcommand};
use embers::progress::Progress;
use embers::text::{Corpus, Punctuation, WordTokenizer};
use embers::{Vocab, VocabBuilder};

use crate::progress::{Mode, Reporter};

#[derive(Subcommand)]
pub enum VocabCommand {
    /// Count the tokens of one or more corpus files (plain or .gz) and keep the frequent ones.
    Build(BuildArgs),
    /// Make a vocabulary from a word list, one word a line.
    FromWordlist(WordlistArgs),
}

/// Tokenizer settings shared by commands that read a corpus.
#[derive(ClapArgs, Clone, Debug)]
pub struct TokenizerArgs {
    /// Lowercase tokens.
    #[arg(long)]
    pub lowercase: bool,
    /// What to do with punctuation.
    #[arg(long, value_enum, default_value_t = PunctArg::Keep)]
    pub punctuation: PunctArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PunctArg {
    /// Split on whitespace only.
    Keep,
    /// Punctuation characters become tokens of their own.
    Split,
    /// Punctuation characters are removed.
    Strip,
}

impl TokenizerArgs {
    pub fn tokenizer(&self) -> WordTokenizer {
        let p = match self.punctuation {
            PunctArg::Keep => Punctuation::Keep,
            PunctArg::Split => Punctuation::Split,
            PunctArg::Strip => Punctuation::Strip,
        };
        WordTokenizer::new(self.lowercase, p)
    }
}

#[derive(ClapArgs)]
pub struct BuildArgs {
    /// Corpus files, one sentence per line, plain or gzip.
    #[arg(required = true)]
    corpus: Vec<PathBuf>,
    /// Output vocabulary (token<TAB>count lines).
    #[arg(short, long)]
    output: PathBuf,
    /// Leave out tokens seen fewer times.
    #[arg(long, default_value_t = 1)]
    min_count: u64,
    /// Keep at most this many tokens (special tokens included).
    #[arg(long)]
    max_size: Option<usize>,
    /// Special tokens at the front with fixed ids, comma separated (e.g. "<pad>,<unk>").
    #[arg(long, value_delimiter = ',')]
    specials: Vec<String>,
    /// Counting threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

#[derive(ClapArgs)]
pub struct WordlistArgs {
    /// Word list, one word a line (e.g. /usr/share/dict/words).
    file: PathBuf,
    /// Output vocabulary.
    #[arg(short, long)]
    output: PathBuf,
    /// Special tokens put first, comma separated.
    #[arg(long, value_delimiter = ',')]
    specials: Vec<String>,
}

pub fn run(cmd: VocabCommand, progress: Mode) -> Result<()> {
    match cmd {
        VocabCommand::Build(a) => build(a, progress),
        VocabCommand::FromWordlist(a) => from_wordlist(a),
    }
}

fn build(a: BuildArgs, progress: Mode) -> Result<()> {
    let corpus = Corpus::new(&a.corpus, a.tokenizer.tokenizer())?;
    let start = Instant::now();
    let reporter = Reporter::new(progress, "counting");
    let total = corpus.size_on_disk();
    let gz = a
        .corpus
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "gz"));
    let mut builder = VocabBuilder::new()
        .min_count(a.min_count)
        .max_size(a.max_size)
        .specials(a.specials)
        .threads(a.threads);
    let tokens = builder.count_corpus(&corpus, |done| {
        // The size on disk of gzip input is compressed; show a spinner-like count then.
        reporter.report(&Progress::new(
            "count",
            done,
            (!gz).then_some(total),
            "bytes",
        ));
    })?;
    reporter.finish();
    let distinct = builder.distinct();
    let vocab = builder.build()?;
    vocab.save(&a.output)?;
    eprintln!(
        "counted {tokens} tokens ({distinct} distinct) in {:.2}s; kept {} → {}",
        start.elapsed().as_secs_f64(),
        vocab.len(),
        a.output.display()
    );
    Ok(())
}

fn from_wordlist(a: WordlistArgs) -> Result<()> {
    let (list, duplicates) = Vocab::from_wordlist(&a.file)?;
    let vocab = if a.specials.is_empty() {
        list
    } else {
        let mut words = a.specials.clone();
        words.extend(
            list.words()
                .iter()
                .filter(|w| !a.specials.iter().any(|s| s == w))
                .map(str::to_owned),
        );
        Vocab::from_words(words)?
    };
    vocab.save(&a.output)?;
    eprintln!(
        "{} words ({duplicates} duplicate lines skipped) → {}",
        vocab.len(),
        a.output.display()
    );
    Ok(())
}

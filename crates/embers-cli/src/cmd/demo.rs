//! `embers demo`: the main job on built-in data, no download needed.
//!
//! The walk-through of an embedding layer: a vocabulary (from a word list built into the
//! binary), a 100-dimensional matrix initialised like `torch.randn`, the vector of "king", and
//! what an unknown word gets; then training: word2vec on a generated corpus with planted
//! structure, the neighbours of "king" and the answer to king − man + woman.

use anyhow::Result;
use clap::Args as ClapArgs;
use embers::layer::{init_matrix, Init};
use embers::{Embeddings, Source, Vocab};

use crate::progress::Mode;

#[derive(ClapArgs)]
pub struct Args {
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write the generated training corpus (one sentence a line) to this file.
    #[arg(long)]
    write_corpus: Option<std::path::PathBuf>,
    /// Training threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// A small word list shipped in the binary: special tokens, then common English words.
const WORDS: &str = "<pad> <unk> the of and to in a is that for it as was with be by on not he i \
this are or his from at which but have an they you were her she there been one all we their \
king queen man woman prince princess boy girl father mother son daughter brother sister husband \
wife uncle aunt nephew niece emperor empress lord lady actor actress hero heroine \
france paris germany berlin italy rome spain madrid japan tokyo china beijing russia moscow \
egypt cairo greece athens canada ottawa england london \
city town country village river mountain sea ocean island forest \
cat cats dog dogs horse horses bird birds tree trees house houses book books car cars \
good better best bad worse worst big bigger biggest small smaller smallest \
walk walked walking run ran running swim swam swimming write wrote writing \
red green blue black white two three four five six seven eight nine ten";

pub fn run(a: Args, progress: Mode) -> Result<()> {
    let words: Vec<String> = WORDS.split_whitespace().map(str::to_string).collect();
    let mut vocab = Vocab::from_words(words)?;
    vocab.set_unk("<unk>")?;
    println!(
        "1. vocabulary: {} tokens from the built-in word list",
        vocab.len()
    );
    for w in ["<pad>", "<unk>", "the", "king", "queen"] {
        println!(
            "     {w:>7} → id {}",
            vocab.id(w).expect("in the built-in list")
        );
    }

    let dims = 100;
    let matrix = init_matrix(
        vocab.len(),
        dims,
        Init::Normal {
            mean: 0.0,
            std: 1.0,
        },
        a.seed,
    )?;
    let emb = Embeddings::new(vocab, matrix)?;
    println!(
        "2. embedding matrix E: {} × {} (V × d), normal(0, 1) like torch.randn, seed {}",
        emb.len(),
        emb.dims(),
        a.seed
    );

    let king = emb.vocab().id("king").expect("in the list");
    let v = emb.vector(king)?;
    println!("3. e_king = E[{king}] = {}", preview(&v));
    println!(
        "     ‖e_king‖ = {:.4} (about √d = {:.1} for normal(0, 1) rows)",
        embers::kernels::norm(&v),
        (dims as f32).sqrt()
    );

    let word = "kingdomz";
    match emb.lookup(word, false) {
        None => println!("4. {word:?} is not in the vocabulary: lookup gives None"),
        Some(_) => unreachable!("not in the built-in list"),
    }
    if let Some((v, Source::Unk(id))) = emb.lookup(word, true) {
        println!(
            "     asked to fall back, it gets the <unk> row E[{id}] = {}",
            preview(&v)
        );
    }
    let queen = emb.get("queen").expect("in the list");
    println!(
        "5. cosine(king, queen) = {:.4}: untrained rows are unrelated; training (embers train) gives them meaning",
        embers::kernels::cosine(&emb.vector(king)?, &queen)
    );
    train_part(&a, progress)
}

/// Step 6: train word2vec on the planted corpus and query it.
fn train_part(a: &Args, progress: Mode) -> Result<()> {
    use embers::train::synthetic::{Synthetic, SyntheticConfig};
    use embers::train::word2vec::{self, Control, Model, Word2VecConfig};
    let dir = tempfile_dir()?;
    let path = match &a.write_corpus {
        Some(p) => p.clone(),
        None => dir.join("planted.txt"),
    };
    let synth = SyntheticConfig {
        seed: a.seed,
        sentences: 20_000,
        ..Default::default()
    };
    Synthetic::write(synth, &path)?;
    let corpus = embers::text::Corpus::new(&[&path], Default::default())?;
    let config = Word2VecConfig {
        model: Model::SkipGram,
        dim: 50,
        window: 4,
        min_count: 5,
        epochs: 5,
        threads: a.threads,
        seed: a.seed,
        ..Default::default()
    };
    let reporter = crate::progress::Reporter::new(progress, "training");
    let sink = |p: &embers::progress::Progress| reporter.report(p);
    let start = std::time::Instant::now();
    let trained = word2vec::train(
        &corpus,
        &config,
        Control {
            progress: Some(&sink),
            cancel: None,
        },
    )?;
    reporter.finish();
    if a.write_corpus.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "6. trained word2vec skip-gram ({} dims) on 20,000 generated sentences ({} words, {} distinct) in {:.2}s",
        trained.dims(),
        trained.vocab().total_count(),
        trained.len(),
        start.elapsed().as_secs_f64()
    );
    // Neighbours and analogies with gensim's semantics (cosine over unit rows, query words left out).
    let list: Vec<String> = embers::query::most_similar(&trained, &["king"], &[], 5, None)?
        .iter()
        .map(|n| format!("{} {:.3}", n.word, n.score))
        .collect();
    println!("     neighbours of king: {}", list.join(", "));
    for (p1, n, p2) in [("king", "man", "woman"), ("paris", "france", "italy")] {
        let best = embers::query::most_similar(&trained, &[p1, p2], &[n], 1, None)?;
        if let Some(b) = best.first() {
            println!(
                "     {p1} − {n} + {p2} = {} (cosine {:.3})",
                b.word, b.score
            );
        }
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("embers-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn preview(v: &[f32]) -> String {
    let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:.4}")).collect();
    let tail: Vec<String> = v
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|x| format!("{x:.4}"))
        .collect();
    format!("[{}, ..., {}]", head.join(", "), tail.join(", "))
}

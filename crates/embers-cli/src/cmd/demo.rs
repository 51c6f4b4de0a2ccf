//! `embers demo`: the main job on built-in data, no download needed.
//!
//! The walk-through of an embedding layer: a vocabulary (from a word list built into the
//! binary), a 100-dimensional matrix initialised like `torch.randn`, the vector of "king", and
//! what an unknown word gets.

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

pub fn run(a: Args, _progress: Mode) -> Result<()> {
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
    Ok(())
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

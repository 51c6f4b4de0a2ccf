//! embers' co-occurrence counts written as the records of Stanford GloVe's `cooccur` (i32 word,
//! i32 context, f64 count, little-endian), numbered by Stanford's vocabulary file (1-based, one
//! `word count` a line), so the two tools' counts can be compared record by record
//! (`bench/glove_cooc_check.sh`). Counts with min_count 5 and a symmetric window, as
//! `embers train glove` does.
//! Usage: cooc_stanford CORPUS STANFORD_VOCAB WINDOW OUT
use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};

use embers::text::{Corpus, WordTokenizer};
use embers::train::cooccur::{self, CooccurConfig};
use embers::VocabBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, corpus, svocab, window, out] = &args[..] else {
        return Err("usage: cooc_stanford CORPUS STANFORD_VOCAB WINDOW OUT".into());
    };
    let mut ids: HashMap<String, i32> = HashMap::new();
    for (i, line) in std::io::BufReader::new(std::fs::File::open(svocab)?)
        .lines()
        .enumerate()
    {
        let line = line?;
        let word = line.split(' ').next().unwrap_or_default().to_string();
        ids.insert(word, i32::try_from(i + 1)?);
    }
    let corpus = Corpus::new(&[corpus], WordTokenizer::default())?;
    let mut builder = VocabBuilder::new().min_count(5);
    builder.count_corpus(&corpus, |_| {})?;
    let vocab = builder.build()?;
    eprintln!("vocabulary: embers {}, Stanford {}", vocab.len(), ids.len());
    let stanford_id: Vec<i32> = (0..vocab.len() as u32)
        .map(|i| {
            let w = vocab.token(i).unwrap_or_default();
            ids.get(w)
                .copied()
                .ok_or(format!("{w:?} is not in {svocab}"))
        })
        .collect::<Result<_, _>>()?;
    let config = CooccurConfig {
        window: window.parse()?,
        ..CooccurConfig::default()
    };
    let counts = cooccur::count(&corpus, &vocab, &config, &|_| {}, None)?;
    let mut w = BufWriter::new(std::fs::File::create(out)?);
    let mut n = 0u64;
    counts.try_for_each(|e| {
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&stanford_id[e.word as usize].to_le_bytes());
        rec[4..8].copy_from_slice(&stanford_id[e.context as usize].to_le_bytes());
        rec[8..16].copy_from_slice(&e.count.to_le_bytes());
        n += 1;
        w.write_all(&rec)
            .map_err(|err| embers::Error::Other(err.to_string()))
    })?;
    w.flush()?;
    eprintln!("records: {n}");
    Ok(())
}

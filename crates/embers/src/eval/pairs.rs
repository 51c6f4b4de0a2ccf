//! The word-pair similarity benchmark exactly as gensim 4.4's `evaluate_word_pairs` runs it:
//! `word1<TAB>word2<TAB>score` lines (`#` comments), words uppercased, pairs with a word outside
//! the first `restrict_vocab` rows skipped (or scored 0 with `dummy4unknown`); Pearson and
//! Spearman correlation of the model's cosines with the human scores, and the OOV ratio.

use std::path::{Path, PathBuf};

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::eval::{stats, upper};
use crate::kernels;
use crate::query::unit_row;

/// Settings of the word-pair benchmark; the defaults are gensim's.
#[derive(Debug, Clone)]
pub struct PairsOptions {
    /// Field separator (a tab).
    pub delimiter: char,
    /// Only the first this many rows count as known words (300,000).
    pub restrict_vocab: usize,
    /// Compare words uppercased (true).
    pub case_insensitive: bool,
    /// Score pairs with unknown words as 0 instead of skipping them (false).
    pub dummy4unknown: bool,
}

impl Default for PairsOptions {
    fn default() -> Self {
        PairsOptions {
            delimiter: '\t',
            restrict_vocab: 300_000,
            case_insensitive: true,
            dummy4unknown: false,
        }
    }
}

/// Result of one word-pair file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairsReport {
    pub file: PathBuf,
    /// Pearson correlation coefficient.
    pub pearson: f64,
    /// Spearman rank correlation (average ranks for ties).
    pub spearman: f64,
    /// Percentage of pairs with an unknown word, as gensim reports it.
    pub oov_ratio: f64,
    /// Pairs scored.
    pub pairs: usize,
    /// Pairs with an unknown word.
    pub oov: usize,
}

/// Runs the word-pair benchmark in `path` on `emb`. A line that is not two words and a number
/// is an error naming the line; blank lines and lines starting with `#` are ignored.
pub fn evaluate_pairs(
    emb: &Embeddings,
    path: impl AsRef<Path>,
    options: &PairsOptions,
) -> Result<PairsReport> {
    let path = path.as_ref();
    let (text, vocab) =
        super::open_benchmark(emb, path, options.restrict_vocab, options.case_insensitive)?;
    let text = text.as_str();
    let mut gold = Vec::new();
    let mut model = Vec::new();
    let mut oov = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_no = i as u64 + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(options.delimiter).collect();
        let [a, b, score] = fields[..] else {
            return Err(Error::at_line(
                path,
                line_no,
                format!(
                    "expected 3 fields separated by {:?}, found {}",
                    options.delimiter,
                    fields.len()
                ),
            ));
        };
        let score: f64 = score.trim().parse().map_err(|_| {
            Error::at_line(
                path,
                line_no,
                format!("score {:?} is not a number", score.trim()),
            )
        })?;
        let (a, b) = if options.case_insensitive {
            (upper(a), upper(b))
        } else {
            (a.to_string(), b.to_string())
        };
        match (vocab.get(&a), vocab.get(&b)) {
            (Some(&ia), Some(&ib)) => {
                gold.push(score);
                model.push(kernels::dot(&unit_row(emb, ia), &unit_row(emb, ib)) as f64);
            }
            _ => {
                oov += 1;
                if options.dummy4unknown {
                    gold.push(score);
                    model.push(0.0);
                }
            }
        }
    }
    if gold.len() < 2 {
        // gensim (through scipy) refuses correlations of fewer than two values too.
        return Err(Error::Other(format!(
            "{}: {} pair(s) could be scored, a correlation needs at least 2 (unknown words: {oov})",
            path.display(),
            gold.len()
        )));
    }
    let oov_ratio = if options.dummy4unknown {
        oov as f64 / gold.len() as f64 * 100.0
    } else {
        oov as f64 / (gold.len() + oov) as f64 * 100.0
    };
    Ok(PairsReport {
        file: path.to_path_buf(),
        pearson: stats::pearson(&gold, &model),
        spearman: stats::spearman(&gold, &model),
        oov_ratio,
        pairs: gold.len(),
        oov,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DenseMatrix;
    use crate::vocab::Vocab;

    #[test]
    fn scores_skips_and_errors() {
        let words = ["a", "b", "c", "d"];
        let data = vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.0];
        let emb = Embeddings::new(
            Vocab::from_words(words.iter().map(|s| s.to_string()).collect()).unwrap(),
            DenseMatrix::new(4, 2, data).unwrap(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pairs.tsv");
        // cosines: a-b 0, a-c 0.7071, a-d -1, B-C 0.7071; x is unknown.
        std::fs::write(
            &p,
            "# comment\na\tb\t5\na\tc\t7\n\na\td\t1\nB\tC\t6.5\nx\ta\t3\n",
        )
        .unwrap();
        let r = evaluate_pairs(&emb, &p, &PairsOptions::default()).unwrap();
        assert_eq!((r.pairs, r.oov), (4, 1));
        assert!((r.oov_ratio - 20.0).abs() < 1e-12);
        let model = [0.0, 0.5f64.sqrt(), -1.0, 0.5f64.sqrt()];
        let gold = [5.0, 7.0, 1.0, 6.5];
        assert!((r.pearson - stats::pearson(&gold, &model)).abs() < 1e-6);
        // gold ranks 2,4,1,3; model ranks 2,3.5,1,3.5.
        let want = stats::pearson(&[2.0, 4.0, 1.0, 3.0], &[2.0, 3.5, 1.0, 3.5]);
        assert!((r.spearman - want).abs() < 1e-12);
        let d = PairsOptions {
            dummy4unknown: true,
            ..Default::default()
        };
        let r = evaluate_pairs(&emb, &p, &d).unwrap();
        assert_eq!(r.pairs, 5);
        assert!((r.oov_ratio - 20.0).abs() < 1e-12);

        std::fs::write(&p, "a\tb\t5\na b 3\n").unwrap();
        let e = evaluate_pairs(&emb, &p, &PairsOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        std::fs::write(&p, "a\tb\tfive\n").unwrap();
        let e = evaluate_pairs(&emb, &p, &PairsOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        std::fs::write(&p, "x\ty\t1\n").unwrap();
        assert!(evaluate_pairs(&emb, &p, &PairsOptions::default()).is_err());
    }
}

//! The word-analogy benchmark exactly as gensim 4.4's `evaluate_word_analogies` runs it:
//! `: section` lines and `a b c d` questions; words uppercased; questions with a word outside
//! the first `restrict_vocab` rows skipped (or counted wrong with `dummy4unknown`); the answer
//! is the best of the top 5 by 3CosAdd over the restricted rows that is not a question word.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::eval::upper;
use crate::query::{self, exact};

/// Settings of the analogy benchmark; the defaults are gensim's.
#[derive(Debug, Clone)]
pub struct AnalogyOptions {
    /// Only the first this many rows are candidates and question words (300,000).
    pub restrict_vocab: usize,
    /// Compare words uppercased (true).
    pub case_insensitive: bool,
    /// Count questions with unknown words as wrong instead of skipping them (false).
    pub dummy4unknown: bool,
}

impl Default for AnalogyOptions {
    fn default() -> Self {
        AnalogyOptions {
            restrict_vocab: 300_000,
            case_insensitive: true,
            dummy4unknown: false,
        }
    }
}

/// The score of one section (or of all, as gensim's "Total accuracy").
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SectionScore {
    pub section: String,
    pub correct: usize,
    /// Questions answered (correct + incorrect).
    pub total: usize,
    /// `correct / total`, 0 when nothing was answered.
    pub accuracy: f64,
}

impl SectionScore {
    fn new(section: String, correct: usize, total: usize) -> Self {
        let accuracy = if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        };
        SectionScore {
            section,
            correct,
            total,
            accuracy,
        }
    }
}

/// Result of the analogy benchmark.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnalogyReport {
    /// Overall accuracy (gensim's returned score).
    pub accuracy: f64,
    pub correct: usize,
    /// Questions answered.
    pub total: usize,
    /// Questions with a word outside the restricted vocabulary.
    pub skipped: usize,
    /// All well-formed questions in the file.
    pub questions: usize,
    /// Per section, in file order.
    pub sections: Vec<SectionScore>,
    /// For each question, in file order: `[a, b, c, expected, predicted]` (uppercased when
    /// case-insensitive; predicted empty for skipped questions). Not part of the JSON output.
    #[serde(skip)]
    pub answers: Vec<[String; 5]>,
    /// For each question, in file order: the index of its section in `sections`, and whether
    /// it was asked (false: skipped for a word outside the restricted vocabulary). Not part of
    /// the JSON output.
    #[serde(skip)]
    pub answer_sections: Vec<(usize, bool)>,
}

struct Question {
    section: usize,
    words: [String; 4],
    ids: Option<[u32; 3]>,
}

/// Runs the analogy benchmark in `path` on `emb`. A question line without exactly four
/// words, or a question before the first section header, is an error naming the line.
pub fn evaluate_analogies(
    emb: &Embeddings,
    path: impl AsRef<Path>,
    options: &AnalogyOptions,
) -> Result<AnalogyReport> {
    let path = path.as_ref();
    let (text, vocab) =
        super::open_benchmark(emb, path, options.restrict_vocab, options.case_insensitive)?;
    let text = text.as_str();
    let norm = |w: &str| {
        if options.case_insensitive {
            upper(w)
        } else {
            w.to_string()
        }
    };
    let mut names: Vec<String> = Vec::new();
    let mut questions: Vec<Question> = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_no = i as u64 + 1;
        if let Some(rest) = line.strip_prefix(": ") {
            names.push(rest.trim_start_matches([':', ' ']).trim().to_string());
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if names.is_empty() {
            return Err(Error::at_line(
                path,
                line_no,
                "question before the first `: section` header",
            ));
        }
        let [a, b, c, d] = words[..] else {
            return Err(Error::at_line(
                path,
                line_no,
                format!("expected 4 words (a b c d), found {}", words.len()),
            ));
        };
        let words = [norm(a), norm(b), norm(c), norm(d)];
        let ids = match (
            vocab.get(&words[0]),
            vocab.get(&words[1]),
            vocab.get(&words[2]),
            vocab.contains_key(&words[3]),
        ) {
            (Some(&a), Some(&b), Some(&c), true) => Some([a, b, c]),
            _ => None,
        };
        questions.push(Question {
            section: names.len() - 1,
            words,
            ids,
        });
    }

    // All answerable questions at once: 3CosAdd, b + c − a, top 5 without a, b, c. Ranked by
    // the sum of the rows' cosines with the distinct question words (see
    // `exact::top_k_combined`: gensim's order up to the rounding of near-ties).
    let asked: Vec<&Question> = questions.iter().filter(|q| q.ids.is_some()).collect();
    let mut unit_of: HashMap<u32, u32> = HashMap::new();
    let mut units: Vec<f32> = Vec::new();
    let mut terms = Vec::with_capacity(asked.len());
    let mut exclude = Vec::with_capacity(asked.len());
    for q in &asked {
        let ids = q.ids.expect("filtered");
        let term = ids.map(|id| {
            let next = unit_of.len() as u32;
            *unit_of.entry(id).or_insert_with(|| {
                units.extend(query::unit_row(emb, id));
                next
            })
        });
        terms.push(term);
        exclude.push(ids.to_vec());
    }
    let limit = options.restrict_vocab.min(emb.len());
    let hits = exact::top_k_combined(emb, &units, &terms, 5, limit, &exclude);

    let mut correct = vec![0usize; names.len()];
    let mut total = vec![0usize; names.len()];
    let mut skipped = 0;
    let mut answers = Vec::with_capacity(questions.len());
    let mut answer_sections = Vec::with_capacity(questions.len());
    let mut hits = hits.into_iter();
    for q in &questions {
        let mut predicted = String::new();
        if q.ids.is_some() {
            let ignore: HashSet<&str> = q.words[..3].iter().map(String::as_str).collect();
            for h in hits.next().expect("one answer per asked question") {
                predicted = norm(emb.vocab().token(h.id).unwrap_or_default());
                if vocab.contains_key(&predicted) && !ignore.contains(predicted.as_str()) {
                    break;
                }
            }
            total[q.section] += 1;
            if predicted == q.words[3] {
                correct[q.section] += 1;
            }
        } else {
            skipped += 1;
            if options.dummy4unknown {
                total[q.section] += 1;
            }
        }
        let [a, b, c, d] = q.words.clone();
        answers.push([a, b, c, d, predicted]);
        answer_sections.push((q.section, q.ids.is_some()));
    }
    let sections: Vec<SectionScore> = names
        .into_iter()
        .enumerate()
        .map(|(i, n)| SectionScore::new(n, correct[i], total[i]))
        .collect();
    let all = SectionScore::new(
        "Total accuracy".into(),
        correct.iter().sum(),
        total.iter().sum(),
    );
    Ok(AnalogyReport {
        accuracy: all.accuracy,
        correct: all.correct,
        total: all.total,
        skipped,
        questions: questions.len(),
        sections,
        answers,
        answer_sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DenseMatrix;
    use crate::vocab::Vocab;

    fn emb() -> Embeddings {
        // man→woman and king→queen share the offset (0, 1); "Woman" is a case variant.
        let words = ["man", "woman", "king", "queen", "Woman", "apple"];
        let data = vec![
            1.0, 0.0, 1.0, 1.0, 3.0, 0.1, 3.0, 1.1, 1.0, 1.05, -1.0, -1.0,
        ];
        Embeddings::new(
            Vocab::from_words(words.iter().map(|s| s.to_string()).collect()).unwrap(),
            DenseMatrix::new(6, 2, data).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn sections_skips_and_case_folding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.txt");
        std::fs::write(
            &p,
            ": family\nman woman king queen\nMAN WOMAN KING QUEEN\nman woman king prince\n: other\n\nwoman man queen king\n",
        )
        .unwrap();
        let r = evaluate_analogies(&emb(), &p, &AnalogyOptions::default()).unwrap();
        assert_eq!((r.questions, r.skipped, r.total), (4, 1, 3));
        assert_eq!(r.sections[0].section, "family");
        assert_eq!((r.sections[0].correct, r.sections[0].total), (2, 2));
        assert_eq!(r.answers[0][4], "QUEEN");
        assert_eq!(r.answers[2][4], "");
        // "Woman" (id 4) ranks first for the first question, but uppercased it is a question
        // word, so gensim passes over it to QUEEN.
        let top = query::most_similar(&emb(), &["woman", "king"], &["man"], 1, None).unwrap();
        assert_eq!(top[0].word, "Woman");
        assert_eq!(r.answers[3][4], "KING");
        assert_eq!((r.sections[1].correct, r.sections[1].total), (1, 1));
        let d = AnalogyOptions {
            dummy4unknown: true,
            ..Default::default()
        };
        assert_eq!(evaluate_analogies(&emb(), &p, &d).unwrap().total, 4);
        // Restricting to 2 rows leaves no answerable question.
        let small = AnalogyOptions {
            restrict_vocab: 2,
            ..Default::default()
        };
        let r = evaluate_analogies(&emb(), &p, &small).unwrap();
        assert_eq!((r.total, r.skipped, r.accuracy), (0, 4, 0.0));
    }

    #[test]
    fn malformed_files_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.txt");
        std::fs::write(&p, ": s\nman woman king\n").unwrap();
        let e = evaluate_analogies(&emb(), &p, &AnalogyOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        std::fs::write(&p, "man woman king queen\n").unwrap();
        let e = evaluate_analogies(&emb(), &p, &AnalogyOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = evaluate_analogies(&emb(), dir.path().join("none"), &AnalogyOptions::default());
        assert!(matches!(e, Err(Error::Io { .. })));
    }
}

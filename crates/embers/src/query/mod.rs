//! Similarity queries with gensim's semantics: [`similarity`], [`most_similar`] (3CosAdd),
//! [`similar_by_vector`], [`most_similar_cosmul`] (3CosMul), [`doesnt_match`]. Neighbours are
//! found through [`crate::search`]: the `*_in` forms take any [`Search`] (exact with its screen,
//! compressed, HNSW); the plain forms make a one-shot exact search without a screen. `exact`
//! and `hnsw` are re-exported from there for older callers.
//!
//! Scores are cosines computed as gensim does: the query is a unit vector and each row's dot
//! product with it is divided by the row's cached norm. Results are ordered by score
//! descending, ties by vocabulary id ascending; words of the query never appear in the answer.

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::kernels;
use crate::search::{Screening, Search};

pub use crate::search::{exact, hnsw};
pub use exact::{top_k, top_k_batch, Hit, TopK};

/// A neighbour: the word, its row id and its score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Neighbor {
    pub word: String,
    pub id: u32,
    pub score: f32,
}

/// The ids of `words`, or [`Error::UnknownTokens`] listing every word not in the vocabulary.
pub fn ids_of(emb: &Embeddings, words: &[&str]) -> Result<Vec<u32>> {
    let mut ids = Vec::with_capacity(words.len());
    let mut unknown = Vec::new();
    for w in words {
        match emb.vocab().id(w) {
            Some(id) => ids.push(id),
            None => {
                if !unknown.iter().any(|u: &String| u == w) {
                    unknown.push(w.to_string());
                }
            }
        }
    }
    if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(Error::UnknownTokens(unknown))
    }
}

/// Checks `k` against the vocabulary: it must be in `1..=len`.
pub fn check_k(emb: &Embeddings, k: usize) -> Result<()> {
    if k == 0 || k > emb.len() {
        return Err(Error::invalid(
            "k",
            format!(
                "must be between 1 and the vocabulary size {}, got {k}",
                emb.len()
            ),
        ));
    }
    Ok(())
}

/// Number of rows searched: all, or the first `restrict_vocab` (which must be at least 1).
pub fn search_limit(emb: &Embeddings, restrict_vocab: Option<usize>) -> Result<usize> {
    match restrict_vocab {
        None => Ok(emb.len()),
        Some(0) => Err(Error::invalid("restrict_vocab", "must be at least 1")),
        Some(n) => Ok(n.min(emb.len())),
    }
}

/// Row `id` scaled to unit length by its cached norm (a zero row stays zero).
pub fn unit_row(emb: &Embeddings, id: u32) -> Vec<f32> {
    emb.unit_row(id)
}

/// Turns hits into neighbours with their words.
pub fn named(emb: &Embeddings, hits: Vec<Hit>) -> Vec<Neighbor> {
    hits.into_iter()
        .map(|h| Neighbor {
            word: emb.vocab().token(h.id).unwrap_or_default().to_string(),
            id: h.id,
            score: h.score,
        })
        .collect()
}

/// Cosine similarity of two words (gensim's `similarity`).
pub fn similarity(emb: &Embeddings, a: &str, b: &str) -> Result<f32> {
    let ids = ids_of(emb, &[a, b])?;
    Ok(kernels::dot(&unit_row(emb, ids[0]), &unit_row(emb, ids[1])))
}

/// gensim's query vector for `positive` and `negative` row ids: the weighted mean (weights +1
/// and −1, divided by the number of terms) of the rows' unit vectors, scaled to unit length.
pub fn mean_query(emb: &Embeddings, positive: &[u32], negative: &[u32]) -> Result<Vec<f32>> {
    if positive.is_empty() && negative.is_empty() {
        return Err(Error::invalid("words", "no query words given"));
    }
    let mut mean = vec![0.0f32; emb.dims()];
    for &id in positive {
        kernels::axpy(1.0, &unit_row(emb, id), &mut mean);
    }
    for &id in negative {
        kernels::axpy(-1.0, &unit_row(emb, id), &mut mean);
    }
    let total = (positive.len() + negative.len()) as f32;
    kernels::scale(1.0 / total, &mut mean);
    kernels::normalize(&mut mean);
    Ok(mean)
}

/// The `k` words closest to the mean of `positive` minus `negative` (gensim's `most_similar`),
/// searching the first `restrict_vocab` rows (all when `None`); query words are excluded.
/// One-shot: an exact search without a screen; see [`most_similar_in`] to keep one.
pub fn most_similar(
    emb: &Embeddings,
    positive: &[&str],
    negative: &[&str],
    k: usize,
    restrict_vocab: Option<usize>,
) -> Result<Vec<Neighbor>> {
    let search = crate::search::default_for(emb, Screening::Off);
    most_similar_in(search.as_ref(), positive, negative, k, restrict_vocab)
}

/// [`most_similar`] through `search` (its embeddings, its caches, its approximation).
pub fn most_similar_in(
    search: &dyn Search,
    positive: &[&str],
    negative: &[&str],
    k: usize,
    restrict_vocab: Option<usize>,
) -> Result<Vec<Neighbor>> {
    let emb = search.embeddings();
    let all: Vec<&str> = positive.iter().chain(negative).copied().collect();
    let ids = ids_of(emb, &all)?;
    check_k(emb, k)?;
    let limit = search_limit(emb, restrict_vocab)?;
    let (pos, neg) = ids.split_at(positive.len());
    let query = mean_query(emb, pos, neg)?;
    Ok(named(emb, search.search_one(&query, k, limit, &ids)?))
}

/// The `k` words closest to `vector` (gensim's `similar_by_vector`: the vector is scaled to
/// unit length, nothing is excluded).
pub fn similar_by_vector(
    emb: &Embeddings,
    vector: &[f32],
    k: usize,
    restrict_vocab: Option<usize>,
) -> Result<Vec<Neighbor>> {
    let search = crate::search::default_for(emb, Screening::Off);
    similar_by_vector_in(search.as_ref(), vector, k, restrict_vocab)
}

/// [`similar_by_vector`] through `search`.
pub fn similar_by_vector_in(
    search: &dyn Search,
    vector: &[f32],
    k: usize,
    restrict_vocab: Option<usize>,
) -> Result<Vec<Neighbor>> {
    let emb = search.embeddings();
    if vector.len() != emb.dims() {
        return Err(Error::shape("query vector", emb.dims(), vector.len()));
    }
    if vector.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid("vector", "contains NaN or infinite values"));
    }
    check_k(emb, k)?;
    let limit = search_limit(emb, restrict_vocab)?;
    let mut query = vector.to_vec();
    kernels::normalize(&mut query);
    Ok(named(emb, search.search_one(&query, k, limit, &[])?))
}

/// The neighbours of many words at once (each word's unit vector; the word itself excluded),
/// in one batched search: what `embers similar` and the server answer.
pub fn neighbors_of_words(
    search: &dyn Search,
    words: &[&str],
    k: usize,
    restrict_vocab: Option<usize>,
) -> Result<Vec<Vec<Neighbor>>> {
    let emb = search.embeddings();
    let ids = ids_of(emb, words)?;
    check_k(emb, k)?;
    let limit = search_limit(emb, restrict_vocab)?;
    let mut flat = Vec::with_capacity(ids.len() * emb.dims());
    for &id in &ids {
        flat.extend(emb.unit_row(id));
    }
    let exclude: Vec<Vec<u32>> = ids.iter().map(|&id| vec![id]).collect();
    Ok(search
        .search(&flat, k, limit, &exclude)?
        .into_iter()
        .map(|h| named(emb, h))
        .collect())
}

/// The `k` best words by 3CosMul (gensim's `most_similar_cosmul`, Levy & Goldberg 2014): the
/// product of `(1 + cos)/2` over `positive` divided by the product over `negative` plus 1e-6.
/// Unlike gensim 4.4, which ignores it here, `restrict_vocab` limits the rows searched.
pub fn most_similar_cosmul(
    emb: &Embeddings,
    positive: &[&str],
    negative: &[&str],
    k: usize,
    restrict_vocab: Option<usize>,
) -> Result<Vec<Neighbor>> {
    if positive.is_empty() {
        return Err(Error::invalid(
            "positive",
            "cannot compute similarity with no input",
        ));
    }
    let all: Vec<&str> = positive.iter().chain(negative).copied().collect();
    let ids = ids_of(emb, &all)?;
    check_k(emb, k)?;
    let limit = search_limit(emb, restrict_vocab)?;
    let (pos, neg) = ids.split_at(positive.len());
    let shifted = |id: u32| -> Vec<f32> {
        let mut c = exact::cosines(emb, &unit_row(emb, id), limit);
        for x in &mut c {
            *x = (1.0 + *x) / 2.0;
        }
        c
    };
    let mut num = vec![1.0f32; limit];
    for &id in pos {
        for (n, c) in num.iter_mut().zip(shifted(id)) {
            *n *= c;
        }
    }
    let mut den = vec![1.0f32; limit];
    for &id in neg {
        for (d, c) in den.iter_mut().zip(shifted(id)) {
            *d *= c;
        }
    }
    let scores: Vec<f32> = num
        .iter()
        .zip(&den)
        .map(|(n, d)| n / (d + 0.000_001))
        .collect();
    Ok(named(emb, exact::select(&scores, k, &ids)))
}

/// The word furthest from the others (gensim's `doesnt_match`): the lowest cosine with the
/// normalised mean of the words' unit vectors; ties go to the alphabetically smallest word.
pub fn doesnt_match<'w>(emb: &Embeddings, words: &[&'w str]) -> Result<&'w str> {
    if words.is_empty() {
        return Err(Error::invalid(
            "words",
            "cannot select a word from an empty list",
        ));
    }
    let ids = ids_of(emb, words)?;
    let units: Vec<Vec<f32>> = ids.iter().map(|&id| unit_row(emb, id)).collect();
    let mut mean = vec![0.0f32; emb.dims()];
    for u in &units {
        kernels::axpy(1.0, u, &mut mean);
    }
    kernels::scale(1.0 / units.len() as f32, &mut mean);
    kernels::normalize(&mut mean);
    let mut worst: Option<(f32, &'w str)> = None;
    for (u, w) in units.iter().zip(words) {
        let d = kernels::dot(u, &mean);
        let replace = match worst {
            None => true,
            Some((wd, ww)) => d < wd || (d == wd && *w < ww),
        };
        if replace {
            worst = Some((d, w));
        }
    }
    Ok(worst.expect("non-empty").1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DenseMatrix;
    use crate::vocab::Vocab;

    fn toy() -> Embeddings {
        // Hand-made 2-D vectors: angles make the expected answers obvious.
        let words = ["king", "queen", "man", "woman", "apple", "zero"];
        let data = vec![
            2.0, 2.0, // king: 45°
            0.0, 3.0, // queen: 90°
            1.0, 0.0, // man: 0°
            -0.5, 0.5, // woman: 135°
            0.0, -1.0, // apple: -90°
            0.0, 0.0, // zero
        ];
        Embeddings::new(
            Vocab::from_words(words.iter().map(|s| s.to_string()).collect()).unwrap(),
            DenseMatrix::new(6, 2, data).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn gensim_semantics_on_hand_made_vectors() {
        let e = toy();
        let r = 0.5f32.sqrt();
        assert!((similarity(&e, "king", "queen").unwrap() - r).abs() < 1e-6);
        // man→woman (+135°) applied to king: king+woman-man ∝ (r,r)+(-r,r)-(1,0) → (-1, 1.41..).
        let got = most_similar(&e, &["king", "woman"], &["man"], 2, None).unwrap();
        assert_eq!(got[0].word, "queen");
        let q = [r - r - 1.0, r + r];
        let qn = (q[0] * q[0] + q[1] * q[1]).sqrt();
        assert!((got[0].score - q[1] / qn).abs() < 1e-6);
        assert_eq!(got[1].word, "apple");
        // The zero row never ranks; asking for all rows returns only the scorable ones.
        let all = most_similar(&e, &["man"], &[], 5, None).unwrap();
        assert_eq!(
            all.iter().map(|n| n.word.as_str()).collect::<Vec<_>>(),
            ["king", "queen", "apple", "woman"]
        );
        assert!(most_similar(&e, &["man"], &[], 3, Some(3)).unwrap().len() == 2);
        let v = similar_by_vector(&e, &[0.0, 5.0], 1, None).unwrap();
        assert_eq!((v[0].word.as_str(), v[0].score), ("queen", 1.0));
        assert_eq!(
            doesnt_match(&e, &["king", "queen", "man", "apple"]).unwrap(),
            "apple"
        );
        // 3CosMul by hand for candidate queen: ((1+cos(q,king))/2 · (1+cos(q,woman))/2) /
        // ((1+cos(q,man))/2 + 1e-6).
        let cm = most_similar_cosmul(&e, &["king", "woman"], &["man"], 1, None).unwrap();
        let want = ((1.0 + r) / 2.0) * ((1.0 + r) / 2.0) / (0.5 + 1e-6);
        assert_eq!(cm[0].word, "queen");
        assert!((cm[0].score - want).abs() < 1e-6);
    }

    #[test]
    fn bad_queries_are_errors() {
        let e = toy();
        match most_similar(&e, &["king", "prince", "duke"], &["prince"], 3, None) {
            Err(Error::UnknownTokens(w)) => assert_eq!(w, ["prince", "duke"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            most_similar(&e, &["king"], &[], 0, None),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(most_similar(&e, &["king"], &[], 7, None).is_err());
        assert!(most_similar(&e, &[], &[], 1, None).is_err());
        assert!(similar_by_vector(&e, &[1.0], 1, None).is_err());
        assert!(doesnt_match(&e, &[]).is_err());
        assert!(most_similar_cosmul(&e, &[], &["man"], 1, None).is_err());
    }
}

//! Prediction exactly as fastText computes it: tokens split on ASCII whitespace (and NUL), the
//! end-of-line token `</s>`, each known word's own and n-gram rows, unknown words' n-gram rows,
//! hashed word n-grams, the mean of all those input rows, then the loss's scores and fastText's
//! top-k heap (same tie order as libstdc++'s heap algorithms).

use super::dict::EOS;
use super::{Classifier, Node};
use crate::io::fasttext::{loss, EntryType};
use crate::subword::fasttext_hash;

/// One predicted label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Label index (0-based among labels; [`Classifier::label`] names it).
    pub label: usize,
    /// fastText's probability: `exp(log(p + 1e-5))` in `f32`, as `predict` reports it.
    pub prob: f32,
}

/// Reusable buffers for [`Classifier::predict_with`] (one per thread).
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    rows: Vec<i32>,
    hashes: Vec<i32>,
    hidden: Vec<f32>,
    output: Vec<f32>,
    heap: Vec<(f32, i32)>,
    stack: Vec<(i32, f32)>,
    /// The labels found on the last line read.
    pub labels: Vec<i32>,
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

/// fastText's `std_log`: `log(x + 1e-5)` in double, rounded to `f32`.
#[inline]
pub(crate) fn std_log(x: f32) -> f32 {
    ((x as f64) + 1e-5).ln() as f32
}

// libstdc++'s heap algorithms with fastText's comparator (`a.0 > b.0`: a min-heap on scores),
// reproduced so that ties come out in fastText's order.
#[inline]
fn comp(a: (f32, i32), b: (f32, i32)) -> bool {
    a.0 > b.0
}

fn push_hole(h: &mut [(f32, i32)], mut hole: usize, top: usize, value: (f32, i32)) {
    while hole > top {
        let parent = (hole - 1) / 2;
        if !comp(h[parent], value) {
            break;
        }
        h[hole] = h[parent];
        hole = parent;
    }
    h[hole] = value;
}

fn adjust_heap(h: &mut [(f32, i32)], mut hole: usize, len: usize, value: (f32, i32)) {
    let top = hole;
    let mut child = hole;
    while len >= 2 && child < (len - 1) / 2 {
        child = 2 * (child + 1);
        if comp(h[child], h[child - 1]) {
            child -= 1;
        }
        h[hole] = h[child];
        hole = child;
    }
    if len & 1 == 0 && len >= 2 && child == (len - 2) / 2 {
        child = 2 * (child + 1);
        h[hole] = h[child - 1];
        hole = child - 1;
    }
    push_hole(h, hole, top, value);
}

pub(crate) fn push_heap(h: &mut [(f32, i32)]) {
    let n = h.len();
    if n > 1 {
        let v = h[n - 1];
        push_hole(h, n - 1, 0, v);
    }
}

/// Moves the front to the last place and restores the heap on the rest.
pub(crate) fn pop_heap(h: &mut [(f32, i32)]) {
    let n = h.len();
    if n > 1 {
        let value = h[n - 1];
        h[n - 1] = h[0];
        adjust_heap(h, 0, n - 1, value);
    }
}

pub(crate) fn sort_heap(h: &mut [(f32, i32)]) {
    let mut n = h.len();
    while n > 1 {
        pop_heap(&mut h[..n]);
        n -= 1;
    }
}

/// Pushes `(score, id)` into a heap of at most `k` (fastText's `findKBest` step).
#[inline]
fn offer(heap: &mut Vec<(f32, i32)>, k: usize, score: f32, id: i32) {
    heap.push((score, id));
    push_heap(heap);
    if heap.len() > k {
        pop_heap(heap);
        heap.pop();
    }
}

impl Classifier {
    /// The input rows of one line (fastText's `getLine` + `addSubwords` + `addWordNgrams`):
    /// tokens are split on whitespace; with `eos`, a line end follows the text (as fastText's
    /// Python `predict` adds "\n"); a `\n` inside the text ends the line there. Label tokens
    /// known to the model go to `labels` (label indices), unknown ones are skipped.
    pub fn line_rows(
        &self,
        text: &[u8],
        eos: bool,
        rows: &mut Vec<i32>,
        hashes: &mut Vec<i32>,
        labels: &mut Vec<i32>,
    ) {
        rows.clear();
        hashes.clear();
        labels.clear();
        let d = &self.dict;
        let prefix = super::LABEL_PREFIX.as_bytes();
        let nwords = d.nwords() as i32;
        let add =
            |tok: &[u8], rows: &mut Vec<i32>, hashes: &mut Vec<i32>, labels: &mut Vec<i32>| {
                let h = fasttext_hash(tok);
                let wid = d.find(tok, h);
                let is_word = match wid {
                    Some(w) => d.entries[w].entry_type == EntryType::Word,
                    None => !tok.starts_with(prefix),
                };
                if !is_word {
                    if let Some(w) = wid {
                        labels.push(w as i32 - nwords);
                    }
                    return;
                }
                match wid {
                    Some(w) => {
                        if self.args.maxn <= 0 {
                            rows.push(w as i32);
                        } else {
                            rows.extend_from_slice(d.word_rows(w));
                        }
                    }
                    None => {
                        if tok != EOS {
                            d.push_char_ngrams(tok, rows);
                        }
                    }
                }
                hashes.push(h as i32);
            };
        let mut i = 0;
        let n = text.len();
        let mut ended = false;
        while i < n {
            let b = text[i];
            if is_space(b) {
                if b == b'\n' {
                    add(EOS, rows, hashes, labels);
                    ended = true;
                    break;
                }
                i += 1;
                continue;
            }
            let start = i;
            while i < n && !is_space(text[i]) {
                i += 1;
            }
            add(&text[start..i], rows, hashes, labels);
        }
        if eos && !ended {
            add(EOS, rows, hashes, labels);
        }
        let ngrams = self.args.word_ngrams.max(1) as usize;
        if ngrams > 1 {
            let bucket = self.args.bucket.max(0) as u64;
            if bucket > 0 {
                for (i, &hi) in hashes.iter().enumerate() {
                    let mut h = hi as i64 as u64;
                    for &hj in hashes
                        .iter()
                        .take((i + ngrams).min(hashes.len()))
                        .skip(i + 1)
                    {
                        h = h.wrapping_mul(116_049_371).wrapping_add(hj as i64 as u64);
                        if let Some(r) = d.ngram_row((h % bucket) as u32) {
                            rows.push(r);
                        }
                    }
                }
            }
        }
    }

    /// The hidden vector of a set of input rows: their mean (fastText's `computeHidden`).
    pub fn hidden_into(&self, rows: &[i32], hidden: &mut Vec<f32>) {
        hidden.clear();
        hidden.resize(self.args.dim as usize, 0.0);
        for &r in rows {
            self.input.add_row(r as usize, hidden);
        }
        let scale = (1.0f64 / rows.len() as f64) as f32;
        for h in hidden.iter_mut() {
            *h *= scale;
        }
    }

    /// fastText's table sigmoid.
    #[inline]
    pub(crate) fn table_sigmoid(&self, x: f32) -> f32 {
        if x < -8.0 {
            0.0
        } else if x > 8.0 {
            1.0
        } else {
            let i = ((x + 8.0) * 512.0 / 8.0 / 2.0) as i64;
            self.sigmoid[i as usize]
        }
    }

    /// The `k` most probable labels of one line with probability at least `threshold`, most
    /// probable first, as fastText's `predict` gives them (the line gets its end-of-line token).
    pub fn predict(&self, line: &str, k: usize, threshold: f32) -> Vec<Prediction> {
        let mut s = Scratch::default();
        self.predict_with(line.as_bytes(), true, k, threshold, &mut s)
    }

    /// [`Classifier::predict`] on bytes with reusable buffers; `eos` adds the end-of-line token
    /// (fastText's command line does not for a last line without a newline).
    pub fn predict_with(
        &self,
        text: &[u8],
        eos: bool,
        k: usize,
        threshold: f32,
        s: &mut Scratch,
    ) -> Vec<Prediction> {
        let Scratch {
            rows,
            hashes,
            hidden,
            output,
            heap,
            stack,
            labels,
        } = s;
        self.line_rows(text, eos, rows, hashes, labels);
        heap.clear();
        if rows.is_empty() || k == 0 {
            return Vec::new();
        }
        self.hidden_into(rows, hidden);
        match self.args.loss {
            loss::HS => self.hs_search(k, threshold, hidden, heap, stack),
            l => {
                let nout = self.output.rows();
                output.clear();
                output.extend((0..nout).map(|i| self.output.dot_row(i, hidden)));
                if l == loss::SOFTMAX {
                    let max = output.iter().copied().fold(output[0], f32::max);
                    let mut z = 0f32;
                    for o in output.iter_mut() {
                        *o = ((*o - max) as f64).exp() as f32;
                        z += *o;
                    }
                    for o in output.iter_mut() {
                        *o /= z;
                    }
                } else {
                    for o in output.iter_mut() {
                        *o = self.table_sigmoid(*o);
                    }
                }
                for (i, &o) in output.iter().enumerate() {
                    if o < threshold {
                        continue;
                    }
                    let sc = std_log(o);
                    if heap.len() == k && sc < heap[0].0 {
                        continue;
                    }
                    offer(heap, k, sc, i as i32);
                }
            }
        }
        sort_heap(heap);
        heap.iter()
            .map(|&(sc, i)| Prediction {
                label: i as usize,
                prob: sc.exp(),
            })
            .collect()
    }

    /// fastText's depth-first search of the label tree (left child first), pruned by the
    /// threshold and the current k-th best score.
    fn hs_search(
        &self,
        k: usize,
        threshold: f32,
        hidden: &[f32],
        heap: &mut Vec<(f32, i32)>,
        stack: &mut Vec<(i32, f32)>,
    ) {
        let osz = self.nlabels() as i32;
        let tree: &[Node] = &self.tree;
        let floor = std_log(threshold);
        stack.clear();
        stack.push((2 * osz - 2, 0.0));
        while let Some((node, score)) = stack.pop() {
            if score < floor {
                continue;
            }
            if heap.len() == k && score < heap[0].0 {
                continue;
            }
            let t = tree[node as usize];
            if t.left == -1 && t.right == -1 {
                offer(heap, k, score, node);
                continue;
            }
            let f = self.output.dot_row((node - osz) as usize, hidden);
            let f = (1.0f64 / (1.0f32 + (-f).exp()) as f64) as f32;
            // Right is pushed first so that left is visited first.
            stack.push((t.right, score + std_log(f)));
            stack.push((t.left, score + std_log((1.0f64 - f as f64) as f32)));
        }
    }
}

/// Counts of `fasttext test`: lines with labels and words (`n`), gold labels, predictions
/// made and correct predictions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestReport {
    /// Examples scored.
    pub n: u64,
    /// Gold labels over all examples.
    pub gold: u64,
    /// Predictions made.
    pub predicted: u64,
    /// Predictions that are gold labels.
    pub predicted_gold: u64,
}

impl TestReport {
    /// Precision at k.
    pub fn precision(&self) -> f64 {
        self.predicted_gold as f64 / self.predicted as f64
    }
    /// Recall at k.
    pub fn recall(&self) -> f64 {
        self.predicted_gold as f64 / self.gold as f64
    }
}

/// Splits `data` into lines as fastText's command line reads a file: every line ending in
/// `\n` gets the end-of-line token, a last line without one does not, and nothing follows a
/// final `\n`. Yields `(line, eos)`.
pub fn lines(data: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let l = &rest[..i];
                rest = &rest[i + 1..];
                Some((l, true))
            }
            None => {
                let l = rest;
                rest = &[];
                Some((l, false))
            }
        }
    })
}

impl Classifier {
    /// Predictions for every line of `data` (see [`lines`]), in order, on all cores.
    pub fn predict_lines(&self, data: &[u8], k: usize, threshold: f32) -> Vec<Vec<Prediction>> {
        use rayon::prelude::*;
        let all: Vec<(&[u8], bool)> = lines(data).collect();
        all.par_chunks(256)
            .flat_map_iter(|chunk| {
                let mut s = Scratch::default();
                chunk
                    .iter()
                    .map(|&(l, eos)| self.predict_with(l, eos, k, threshold, &mut s))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `fasttext test`: precision and recall at `k` over the labelled lines of `data`.
    pub fn test(&self, data: &[u8], k: usize, threshold: f32) -> TestReport {
        use rayon::prelude::*;
        let all: Vec<(&[u8], bool)> = lines(data).collect();
        all.par_chunks(256)
            .map(|chunk| {
                let mut s = Scratch::default();
                let mut r = TestReport::default();
                for &(l, eos) in chunk {
                    let preds = self.predict_with(l, eos, k, threshold, &mut s);
                    if s.labels.is_empty() || s.rows.is_empty() {
                        continue;
                    }
                    r.n += 1;
                    r.gold += s.labels.len() as u64;
                    r.predicted += preds.len() as u64;
                    r.predicted_gold += preds
                        .iter()
                        .filter(|p| s.labels.contains(&(p.label as i32)))
                        .count() as u64;
                }
                r
            })
            .reduce(TestReport::default, |a, b| TestReport {
                n: a.n + b.n,
                gold: a.gold + b.gold,
                predicted: a.predicted + b.predicted,
                predicted_gold: a.predicted_gold + b.predicted_gold,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_keeps_k_best_and_sorts_descending() {
        let mut h = Vec::new();
        for (i, s) in [0.1f32, 0.5, 0.3, 0.9, 0.2].iter().enumerate() {
            offer(&mut h, 3, *s, i as i32);
        }
        sort_heap(&mut h);
        assert_eq!(h.iter().map(|x| x.1).collect::<Vec<_>>(), vec![3, 1, 2]);
        // Ties with k = 1: the later one wins (fastText pops the older front).
        let mut h = Vec::new();
        offer(&mut h, 1, 0.5, 0);
        offer(&mut h, 1, 0.5, 1);
        assert_eq!(h, vec![(0.5, 1)]);
    }
}

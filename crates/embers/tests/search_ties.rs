//! Near-ties through every exact path: duplicated rows, rows scaled by powers of two (the same
//! cosine, bit for bit, for any consistent kernel), near-duplicates a rounding step apart, and
//! equal scores straddling the k-th place. One query alone (full scan), many at once (blocked
//! product), through the int8 screen, and in small screened batches must give the same hits —
//! ids and score bits — with ties broken by id; scores agree with an f64 oracle.

use embers::query;
use embers::search::{exact, Exact, Hit, Screening, Search};
use embers::{DenseMatrix, Embeddings, Vocab};

/// Deterministic pseudo-normal values (xorshift + Box–Muller), independent of the crate's RNG.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.next().max(1e-12), self.next());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// The tie groups: every row of a group has the same direction as its first row.
const GROUPS: [&[(usize, f32)]; 3] = [
    &[
        (37, 1.0),
        (100, 1.0),
        (640, 2.0),
        (641, 0.5),
        (1500, 4.0),
        (2999, 0.125),
    ],
    &[(5, 1.0), (6, 1.0), (7, 1.0), (8, 2.0)],
    &[(900, 1.0), (12, 8.0), (2000, 0.25)],
];

fn model(rows: usize, dims: usize, seed: u64) -> Embeddings {
    let mut g = Gen(seed);
    let mut data: Vec<f32> = (0..rows * dims).map(|_| g.normal()).collect();
    for group in GROUPS {
        let base: Vec<f32> = (0..dims).map(|_| g.normal()).collect();
        for &(id, scale) in group {
            for d in 0..dims {
                data[id * dims + d] = base[d] * scale;
            }
        }
    }
    // Near-duplicates of group 0's direction: one unit in the last place away.
    let base = data[37 * dims..38 * dims].to_vec();
    for (id, bump) in [(300usize, 1u32), (301, 2)] {
        for d in 0..dims {
            data[id * dims + d] = base[d];
        }
        let x = &mut data[id * dims];
        *x = f32::from_bits(x.to_bits() + bump);
    }
    // A zero row never ranks.
    data[50 * dims..51 * dims].fill(0.0);
    let words = (0..rows).map(|i| format!("w{i}")).collect();
    Embeddings::new(
        Vocab::from_words(words).unwrap(),
        DenseMatrix::new(rows, dims, data).unwrap(),
    )
    .unwrap()
}

/// Cosines in f64, sorted by score then id: the oracle of the scores.
fn oracle(emb: &Embeddings, q: &[f32], limit: usize, ex: &[u32]) -> Vec<(u32, f64)> {
    let mut all: Vec<(u32, f64)> = (0..limit as u32)
        .filter(|i| !ex.contains(i))
        .filter_map(|i| {
            let r = emb.vector(i).unwrap();
            let n = r.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            (n > 0.0).then(|| {
                let d: f64 = r.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum();
                (i, d / n)
            })
        })
        .collect();
    all.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    all
}

#[test]
fn single_batched_and_screened_answers_are_identical_with_ties_by_id() {
    for (rows, dims) in [(3000usize, 50usize), (3000, 19), (3000, 300)] {
        let emb = model(rows, dims, 7 + dims as u64);
        let scan = Exact::new(&emb, Screening::Off);
        let screened = Exact::new(&emb, Screening::Eager);
        assert!(screened.has_screen());
        // Queries: each group's direction (every member ties at the top), a near-duplicate,
        // and random directions.
        let mut g = Gen(99);
        let mut queries: Vec<Vec<f32>> = [37u32, 5, 12, 300, 2999]
            .iter()
            .map(|&id| emb.unit_row(id))
            .collect();
        for _ in 0..12 {
            let mut q: Vec<f32> = (0..dims).map(|_| g.normal()).collect();
            embers::kernels::normalize(&mut q);
            queries.push(q);
        }
        let flat: Vec<f32> = queries.concat();
        for (k, limit) in [(1, rows), (3, rows), (4, rows), (10, rows), (7, 1000)] {
            let exclude: Vec<Vec<u32>> = (0..queries.len())
                .map(|i| if i % 3 == 1 { vec![37, 5] } else { Vec::new() })
                .collect();
            let batched = exact::top_k_batch(&emb, &flat, k, limit, &exclude);
            let via_trait = screened.search(&flat, k, limit, &exclude).unwrap();
            for (i, q) in queries.iter().enumerate() {
                let ex = &exclude[i];
                let single = scan.top_k(q, k, limit, ex);
                let what = format!("{rows}x{dims} query {i} k {k} limit {limit}");
                assert_eq!(single, batched[i], "batched: {what}");
                assert_eq!(single, screened.top_k(q, k, limit, ex), "screened: {what}");
                assert_eq!(single, via_trait[i], "trait: {what}");
                // A small batch goes query by query through the screen.
                let small = screened.top_k_batch(&flat[..3 * dims], k, limit, &exclude[..3]);
                for (j, s) in small.iter().enumerate() {
                    assert_eq!(s, &scan.top_k(&queries[j], k, limit, &exclude[j]), "{what}");
                }
                check_against_scores(&emb, q, k, limit, ex, &single, &what);
            }
        }
        // Group 0 is a six-way exact tie for its own direction: equal score bits, ids
        // ascending (the near-duplicates, 1–2 ulps away, rank by their own scores).
        let q = emb.unit_row(37);
        let all: Vec<Hit> = scan.top_k(&q, 8, rows, &[]);
        let group: Vec<&Hit> = all
            .iter()
            .filter(|h| GROUPS[0].iter().any(|g| g.0 == h.id as usize))
            .collect();
        let ids: Vec<u32> = group.iter().map(|h| h.id).collect();
        assert_eq!(
            ids,
            [37, 100, 640, 641, 1500, 2999],
            "{rows}x{dims}: {all:?}"
        );
        assert!(
            group
                .iter()
                .all(|h| h.score.to_bits() == group[0].score.to_bits()),
            "{all:?}"
        );
    }
}

/// The hits are the best `k` of the full list of scores (the same kernel's, via
/// `exact::cosines`), ties — also at the k-th place — by lower id; scores match the f64 oracle.
fn check_against_scores(
    emb: &Embeddings,
    q: &[f32],
    k: usize,
    limit: usize,
    ex: &[u32],
    hits: &[Hit],
    what: &str,
) {
    let scores = exact::cosines(emb, q, limit);
    let mut all: Vec<(u32, f32)> = scores
        .iter()
        .enumerate()
        .filter(|(i, s)| !s.is_nan() && !ex.contains(&(*i as u32)))
        .map(|(i, &s)| (i as u32, s))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    let got: Vec<(u32, f32)> = hits.iter().map(|h| (h.id, h.score)).collect();
    assert_eq!(got, all, "{what}");
    let want = oracle(emb, q, limit, ex);
    for (h, w) in hits.iter().zip(&want) {
        assert!(
            (h.score as f64 - w.1).abs() < 1e-5,
            "{what}: {h:?} vs {w:?}"
        );
    }
}

#[test]
fn query_functions_go_through_the_search_layer() {
    let emb = model(3000, 50, 3);
    let screened = Exact::new(&emb, Screening::Eager);
    // w37's neighbours: its tie group first (ids ascending), then its near-duplicates.
    let plain = query::most_similar(&emb, &["w37"], &[], 8, None).unwrap();
    let via = query::most_similar_in(&screened, &["w37"], &[], 8, None).unwrap();
    assert_eq!(plain, via);
    let group: Vec<&str> = plain
        .iter()
        .map(|n| n.word.as_str())
        .filter(|w| !w.starts_with("w30"))
        .collect();
    assert_eq!(&group[..5], ["w100", "w640", "w641", "w1500", "w2999"]);
    // `similar` of words (the CLI's and the server's query: the word's unit row, itself
    // excluded), in one batch, through the screen and without it.
    let batch = query::neighbors_of_words(&screened, &["w37", "w5", "w12"], 8, None).unwrap();
    let scan = Exact::new(&emb, Screening::Off);
    let alone = query::neighbors_of_words(&scan, &["w37"], 8, None).unwrap();
    assert_eq!(batch[0], alone[0]);
    let direct = query::named(&emb, scan.top_k(&emb.unit_row(37), 8, emb.len(), &[37]));
    assert_eq!(alone[0], direct);
}

/// Compressed storage (f16, int8 symmetric and affine, PQ plain, OPQ and at 3 bits, RQ): one query
/// alone (`Storage::dot_all`, a row at a time) and many at once (rows decoded or codes read
/// once a block for a tile of queries) give the same hits, ids and score bits, ties by id.
/// The tie groups survive compression (duplicated rows get equal codes), so the top of each
/// group's own query is an exact tie broken by id.
#[test]
fn compressed_single_and_batched_answers_are_identical_with_ties_by_id() {
    use embers::quant::{quantize, OpqStart, PqConfig, Rotation, RqConfig, Target};
    // 1100 dims: int8 rows too wide for exact f32 integer sums, scored a query at a time.
    for (rows, dims) in [(3000usize, 50usize), (3000, 19), (3000, 300), (3000, 1100)] {
        let emb = model(rows, dims, 11 + dims as u64);
        let m = [10usize, 8, 5, 4, 2, 1]
            .into_iter()
            .find(|m| dims % m == 0)
            .unwrap();
        let pq = PqConfig {
            subquantizers: m,
            bits: 8,
            sample: 1000,
            iterations: 4,
            seed: 3,
            rotation: None,
        };
        let mut targets = vec![
            Target::F16,
            Target::Int8 { affine: false },
            Target::Int8 { affine: true },
            Target::Pq(pq.clone()),
            Target::Pq(PqConfig {
                bits: 3,
                ..pq.clone()
            }),
        ];
        if dims <= 50 {
            targets.push(Target::Pq(PqConfig {
                rotation: Some(Rotation::opq(1, OpqStart::Auto)),
                ..pq
            }));
            targets.push(Target::Rq(RqConfig {
                subquantizers: 3,
                bits: 8,
                beam: 2,
                sample: 1000,
                iterations: 4,
                refine: 0,
                seed: 3,
                objective: Default::default(),
                codebook_dtype: Default::default(),
                local_search: 0,
            }));
        }
        let mut g = Gen(5);
        let mut queries: Vec<Vec<f32>> = [37u32, 5, 12, 300, 2000]
            .iter()
            .map(|&id| emb.unit_row(id))
            .collect();
        // 40 queries: several tiles of 16 and a partial one.
        for _ in 0..35 {
            let mut q: Vec<f32> = (0..dims).map(|_| g.normal()).collect();
            embers::kernels::normalize(&mut q);
            queries.push(q);
        }
        let flat: Vec<f32> = queries.concat();
        for target in &targets {
            let c = quantize(&emb, target, &embers::progress::silent).unwrap();
            let kind = c.storage().kind();
            for (k, limit) in [(1, rows), (5, rows), (10, 1000)] {
                let exclude: Vec<Vec<u32>> = (0..queries.len())
                    .map(|i| if i % 3 == 1 { vec![37, 5] } else { Vec::new() })
                    .collect();
                let batched = exact::top_k_batch(&c, &flat, k, limit, &exclude);
                for (i, q) in queries.iter().enumerate() {
                    let what = format!("{kind} {target:?} {rows}x{dims} query {i} k {k}");
                    let single = exact::top_k(&c, q, k, limit, &exclude[i]);
                    assert_eq!(single, batched[i], "{what}");
                    // And both are the best k of the single-query scores, ties by id.
                    let scores = exact::cosines(&c, q, limit);
                    let mut all: Vec<(u32, f32)> = scores
                        .iter()
                        .enumerate()
                        .filter(|(j, s)| !s.is_nan() && !exclude[i].contains(&(*j as u32)))
                        .map(|(j, &s)| (j as u32, s))
                        .collect();
                    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    all.truncate(k);
                    let got: Vec<(u32, f32)> = single.iter().map(|h| (h.id, h.score)).collect();
                    assert_eq!(got, all, "{what}");
                }
            }
            // Group 1's rows 5, 6, 7 are one row three times: equal codes, equal scores, and
            // the query of row 5 ranks them by id wherever they stand.
            let q = c.unit_row(5);
            let hits = exact::top_k_batch(&c, &[q.clone(), q].concat(), 20, rows, &[]);
            let dup: Vec<&Hit> = hits[0].iter().filter(|h| (5..8).contains(&h.id)).collect();
            assert_eq!(
                dup.iter().map(|h| h.id).collect::<Vec<_>>(),
                [5, 6, 7],
                "{kind}"
            );
            assert!(dup
                .iter()
                .all(|h| h.score.to_bits() == dup[0].score.to_bits()));
            assert_eq!(hits[0], hits[1]);
        }
    }
}

/// Analogies from cosines (`exact::top_k_combined`, the path of `evaluate_analogies`): for
/// every storage kind, each question's hits are the best k of `(cos b + cos c) − cos a` over
/// the rows, computed here one unit at a time as a single query scores it (int8: the decoded
/// rows against the f32 unit), ids and score bits, ties by id, exclusions and zero rows
/// honoured — across the first rows scored apart from the rest, blocks and runs of rows,
/// and limits that cut a block. On f32 rows, the ranking is gensim's (the dot product with
/// the normalised `b + c − a`, here in f64) wherever that is not a near-tie.
#[test]
fn combined_analogy_scores_are_the_best_of_summed_cosines() {
    use embers::quant::{quantize, PqConfig, RqConfig, Target};
    let (rows, dims) = (20_000usize, 24usize);
    let emb = model(rows, dims, 77);
    let mut g = Gen(21);
    // Units: rows of the tie groups, the near-duplicates and random rows (some repeated).
    let mut unit_ids: Vec<u32> = vec![37, 100, 5, 6, 12, 300, 301, 2000, 9];
    for _ in 0..40 {
        unit_ids.push((g.next() * rows as f64) as u32);
    }
    let pick = |g: &mut Gen| (g.next() * unit_ids.len() as f64) as u32;
    let mut terms: Vec<[u32; 3]> = vec![[0, 1, 2], [2, 2, 3], [4, 0, 0], [5, 6, 1]];
    for _ in 0..120 {
        terms.push([pick(&mut g), pick(&mut g), pick(&mut g)]);
    }
    let pq = PqConfig {
        subquantizers: 6,
        bits: 8,
        sample: 2000,
        iterations: 4,
        seed: 3,
        rotation: None,
    };
    let targets = [
        Target::F32,
        Target::F16,
        Target::Int8 { affine: false },
        Target::Int8 { affine: true },
        Target::Pq(pq),
        Target::Rq(RqConfig {
            subquantizers: 4,
            bits: 8,
            beam: 2,
            sample: 2000,
            iterations: 4,
            refine: 0,
            seed: 3,
            objective: Default::default(),
            codebook_dtype: Default::default(),
            local_search: 0,
        }),
    ];
    for target in &targets {
        let c = quantize(&emb, target, &embers::progress::silent).unwrap();
        let kind = c.storage().kind();
        let units: Vec<f32> = unit_ids.iter().flat_map(|&id| c.unit_row(id)).collect();
        let exclude: Vec<Vec<u32>> = terms
            .iter()
            .map(|t| t.iter().map(|&u| unit_ids[u as usize]).collect())
            .collect();
        for (k, limit) in [(5usize, rows), (1, rows), (12, 16_500), (3, 777)] {
            // Each unit's cosines with the first `limit` rows, as one query scores them.
            let cos: Vec<Vec<f32>> = (0..unit_ids.len())
                .map(|u| {
                    let unit = &units[u * dims..(u + 1) * dims];
                    if kind == "int8" {
                        (0..limit as u32)
                            .map(|r| {
                                let row = c.vector(r).unwrap();
                                embers::kernels::dot_exact(&row, unit) / c.norms()[r as usize]
                            })
                            .collect()
                    } else {
                        exact::cosines(&c, unit, limit)
                    }
                })
                .collect();
            let got = exact::top_k_combined(&c, &units, &terms, k, limit, &exclude);
            assert_eq!(got.len(), terms.len());
            for (q, &[a, b, cc]) in terms.iter().enumerate() {
                let (a, b, cc) = (a as usize, b as usize, cc as usize);
                let mut all: Vec<(u32, f32)> = (0..limit)
                    .map(|r| (r as u32, (cos[b][r] + cos[cc][r]) - cos[a][r]))
                    .filter(|(r, s)| !s.is_nan() && !exclude[q].contains(r))
                    .collect();
                all.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                all.truncate(k);
                let hits: Vec<(u32, u32)> =
                    got[q].iter().map(|h| (h.id, h.score.to_bits())).collect();
                let want: Vec<(u32, u32)> = all.iter().map(|&(r, s)| (r, s.to_bits())).collect();
                assert_eq!(
                    hits, want,
                    "{kind} {target:?} question {q} k {k} limit {limit}"
                );
                // Row 9 is zero: it never ranks where it decodes to zero (RQ encodes it as a
                // sum of codewords that need not cancel exactly, so its decoded row may rank).
                assert!(
                    c.norms()[9] != 0.0 || hits.iter().all(|&(r, _)| r != 9),
                    "the zero row never ranks"
                );
                if kind == "f32" {
                    gensim_order(&c, &unit_ids, [a, b, cc], &got[q], &exclude[q], limit);
                }
            }
        }
    }
    // Degenerate requests answer empty lists.
    let units = emb.unit_row(3);
    assert_eq!(
        exact::top_k_combined(&emb, &units, &[[0, 0, 0]], 0, rows, &[]),
        vec![Vec::<Hit>::new()]
    );
    assert!(exact::top_k_combined(&emb, &units, &[], 5, rows, &[]).is_empty());
}

/// The hits of one question against gensim's score in f64 (`row · normalize(b + c − a) /
/// ‖row‖`, the question words' unit vectors): the same rows in the same order except where
/// gensim's scores are within 1e-6 (a near-tie the rounding of either may swap).
fn gensim_order(
    emb: &Embeddings,
    ids: &[u32],
    [a, b, c]: [usize; 3],
    hits: &[Hit],
    ex: &[u32],
    limit: usize,
) {
    let unit = |u: usize| -> Vec<f64> {
        let v = emb.vector(ids[u]).unwrap();
        let n = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
        v.iter().map(|&x| x as f64 / n).collect()
    };
    let (ua, ub, uc) = (unit(a), unit(b), unit(c));
    let mut q: Vec<f64> = (0..ua.len()).map(|i| ub[i] + uc[i] - ua[i]).collect();
    let n = q.iter().map(|x| x * x).sum::<f64>().sqrt();
    q.iter_mut().for_each(|x| *x /= n);
    let score = |r: u32| -> f64 {
        let v = emb.vector(r).unwrap();
        let n = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
        v.iter().zip(&q).map(|(&x, y)| x as f64 * y).sum::<f64>() / n
    };
    let mut all: Vec<(u32, f64)> = (0..limit as u32)
        .filter(|r| !ex.contains(r) && *r != 50)
        .map(|r| (r, score(r)))
        .collect();
    all.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    for (i, h) in hits.iter().enumerate() {
        if h.id != all[i].0 {
            let s = score(h.id);
            assert!(
                (s - all[i].1).abs() < 1e-6,
                "hit {i}: row {} vs gensim's {}",
                h.id,
                all[i].0
            );
        }
    }
}

//! Seeded k-means for codebook training: k-means++ or splitting (Linde–Buzo–Gray)
//! initialisation, then Lloyd iterations until no assignment changes. An emptied cluster takes
//! half of the largest one. Deterministic for a given seed, independent of the thread count.

use rayon::prelude::*;

use crate::rng::Rng;

/// Points a parallel work item assigns in [`refine`].
const ASSIGN_CHUNK: usize = 1024;

/// Centroids in two layouts: row-major (k × d, for decoding) and transposed (d × k, so the
/// distance to all centroids is a few vector passes).
#[derive(Debug, Clone)]
pub struct Codebook {
    /// Values per centroid.
    pub d: usize,
    /// Number of centroids.
    pub k: usize,
    /// k × d, row-major.
    pub centroids: Vec<f32>,
    transposed: Vec<f32>,
}

impl Codebook {
    /// A codebook from k × d row-major centroids.
    pub fn new(d: usize, k: usize, centroids: Vec<f32>) -> Self {
        assert_eq!(centroids.len(), d * k, "k × d centroids");
        let mut transposed = vec![0.0; d * k];
        for c in 0..k {
            for t in 0..d {
                transposed[t * k + c] = centroids[c * d + t];
            }
        }
        Codebook {
            d,
            k,
            centroids,
            transposed,
        }
    }

    /// The index of the centroid nearest to `x` (ties: lowest index) and its squared distance.
    /// `scratch` must hold `k` values.
    pub fn nearest(&self, x: &[f32], scratch: &mut [f32]) -> (usize, f32) {
        self.distances(x, scratch);
        let mut best = (0, f32::INFINITY);
        for (c, &s) in scratch[..self.k].iter().enumerate() {
            if s < best.1 {
                best = (c, s);
            }
        }
        best
    }

    /// `out[c]` = the dot product of `x` with centroid `c`, for all `k` centroids (`out` holds
    /// at least `k` values).
    pub fn dots(&self, x: &[f32], out: &mut [f32]) {
        debug_assert_eq!(x.len(), self.d);
        let out = &mut out[..self.k];
        out.fill(0.0);
        for (t, &xt) in x.iter().enumerate() {
            let row = &self.transposed[t * self.k..(t + 1) * self.k];
            for (s, &c) in out.iter_mut().zip(row) {
                *s += xt * c;
            }
        }
    }

    /// `out[c]` = the squared distance from `x` to centroid `c`, for all `k` centroids (`out`
    /// holds at least `k` values).
    pub fn distances(&self, x: &[f32], out: &mut [f32]) {
        debug_assert_eq!(x.len(), self.d);
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::avx2_fma() {
            // SAFETY: `crate::cpu` detected AVX2 and FMA at runtime.
            return unsafe { distances_avx2(&self.transposed, self.k, x, out) };
        }
        distances_body(&self.transposed, self.k, x, out)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn distances_avx2(ct: &[f32], k: usize, x: &[f32], dist: &mut [f32]) {
    distances_body(ct, k, x, dist)
}

/// Squared distances from `x` to all `k` centroids (stored d × k). Written as plain loops over
/// contiguous arrays so the compiler vectorizes them for the enabled features.
#[inline(always)]
fn distances_body(ct: &[f32], k: usize, x: &[f32], dist: &mut [f32]) {
    let dist = &mut dist[..k];
    dist.fill(0.0);
    for (t, &xt) in x.iter().enumerate() {
        let row = &ct[t * k..(t + 1) * k];
        for (s, &c) in dist.iter_mut().zip(row) {
            let e = xt - c;
            *s += e * e;
        }
    }
}

/// k-means++ seeding: the first centroid uniformly, each next one with probability proportional
/// to the squared distance to the nearest centroid chosen so far.
fn plus_plus(points: &[f32], d: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let n = points.len() / d;
    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.below(n as u64) as usize;
    centroids.extend_from_slice(&points[first * d..(first + 1) * d]);
    let mut dist: Vec<f64> = points
        .chunks_exact(d)
        .map(|p| crate::kernels::scalar::l2_sq(p, &centroids[..d]) as f64)
        .collect();
    for _ in 1..k {
        let total: f64 = dist.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.uniform_f64() * total;
            let mut pick = n - 1;
            for (i, &w) in dist.iter().enumerate() {
                if target < w {
                    pick = i;
                    break;
                }
                target -= w;
            }
            pick
        } else {
            // Fewer distinct points than centroids: repeat one.
            rng.below(n as u64) as usize
        };
        let c = &points[pick * d..(pick + 1) * d];
        centroids.extend_from_slice(c);
        // Each point's distance is its own: the same values whatever the thread count.
        dist.par_chunks_mut(ASSIGN_CHUNK)
            .zip(points.par_chunks(ASSIGN_CHUNK * d))
            .for_each(|(w, p)| {
                for (p, w) in p.chunks_exact(d).zip(w) {
                    let e = crate::kernels::scalar::l2_sq(p, c) as f64;
                    if e < *w {
                        *w = e;
                    }
                }
            });
    }
    centroids
}

/// Clusters `points` (n × d row-major, n ≥ 1) into `k` centroids with k-means++ seeding and at
/// most `iterations` Lloyd steps (see [`refine`] for emptied clusters). Returns the codebook;
/// the result depends only on the inputs and `rng`.
pub fn kmeans(points: &[f32], d: usize, k: usize, iterations: usize, rng: &mut Rng) -> Codebook {
    let n = points.len() / d;
    assert!(n >= 1 && d >= 1 && k >= 1, "non-empty k-means input");
    let book = Codebook::new(d, k, plus_plus(points, d, k, rng));
    refine(points, book, iterations)
}

/// Lloyd steps between two doublings of [`kmeans_split`].
const SPLIT_STEPS: usize = 2;

/// How far a split moves the two halves: this fraction of the offset from the centroid to a
/// random member of its cluster, one half each way.
const SPLIT_STEP: f32 = 0.1;

/// Clusters `points` like [`kmeans`], but seeded by splitting (Linde, Buzo and Gray 1980): one
/// centroid at the mean, then every centroid split in two — moved each way by a tenth of the
/// offset to a random member of its cluster — with [`SPLIT_STEPS`] Lloyd steps after each
/// doubling (the largest clusters split first when `k` is not a power of two), then at most
/// `iterations` Lloyd steps at `k`. On residuals of high-dimensional rows, where points seeded
/// far apart lose their clusters to central centroids, this finds much better codebooks than
/// k-means++ (see the residual quantizer).
pub fn kmeans_split(
    points: &[f32],
    d: usize,
    k: usize,
    iterations: usize,
    rng: &mut Rng,
) -> Codebook {
    let n = points.len() / d;
    assert!(n >= 1 && d >= 1 && k >= 1, "non-empty k-means input");
    let mut sums = vec![0.0f64; d];
    for p in points.chunks_exact(d) {
        sums.iter_mut().zip(p).for_each(|(s, &v)| *s += v as f64);
    }
    let mut book = Codebook::new(d, 1, sums.iter().map(|s| (s / n as f64) as f32).collect());
    while book.k < k {
        let cur = book.k;
        let splits = cur.min(k - cur);
        let assign = assignments(points, &book);
        let mut counts = vec![0usize; cur];
        assign.iter().for_each(|&a| counts[a as usize] += 1);
        // The `splits` largest clusters (ties: lower index) each split along the offset to one
        // of their members, drawn uniformly.
        let mut order: Vec<usize> = (0..cur).collect();
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        order.truncate(splits);
        order.sort_unstable();
        let mut pick = vec![usize::MAX; cur];
        for &c in &order {
            if counts[c] > 0 {
                pick[c] = rng.below(counts[c] as u64) as usize;
            }
        }
        let mut member = vec![usize::MAX; cur];
        let mut seen = vec![0usize; cur];
        for (i, &a) in assign.iter().enumerate() {
            let a = a as usize;
            if seen[a] == pick[a] {
                member[a] = i;
            }
            seen[a] += 1;
        }
        // Each split centroid moves by the offset `o` and its new twin (appended) by `−o`.
        let mut centroids = book.centroids.clone();
        let mut twins = Vec::with_capacity(splits * d);
        for &c in &order {
            let p = (member[c] != usize::MAX).then(|| &points[member[c] * d..(member[c] + 1) * d]);
            for (t, v) in centroids[c * d..(c + 1) * d].iter_mut().enumerate() {
                let o = p.map_or(0.0, |p| SPLIT_STEP * (p[t] - *v));
                twins.push(*v - o);
                *v += o;
            }
        }
        centroids.extend(twins);
        book = refine(
            points,
            Codebook::new(d, cur + splits, centroids),
            SPLIT_STEPS,
        );
    }
    refine(points, book, iterations)
}

/// Clusters `points` from both seedings, k-means++ ([`kmeans`], with `rng` as given) and
/// splitting ([`kmeans_split`], with a stream forked from `rng`), and keeps the codebook of the
/// lower [`distortion`] on `points` (ties: k-means++). Neither seeding wins everywhere: on the
/// subvectors of product quantization splitting found lower error at 30 and 75 dimensions (a
/// 300-d word2vec model), k-means++ at 2 (GloVe's 50 in 25 parts). Costs both runs.
pub fn kmeans_best(
    points: &[f32],
    d: usize,
    k: usize,
    iterations: usize,
    rng: &mut Rng,
) -> Codebook {
    let mut split_rng = rng.fork(SPLIT_STREAM);
    let plus = kmeans(points, d, k, iterations, rng);
    let split = kmeans_split(points, d, k, iterations, &mut split_rng);
    if distortion(points, &split) < distortion(points, &plus) {
        split
    } else {
        plus
    }
}

/// The stream [`kmeans_best`] forks for its splitting run.
const SPLIT_STREAM: u64 = 0x5_9117;

/// `Σ ‖p − c(p)‖²` over `points`, each against its nearest centroid of `book`, in f64: each
/// chunk's sum is formed alone and the chunks are added in order, so the figure is the same
/// whatever the thread count.
pub fn distortion(points: &[f32], book: &Codebook) -> f64 {
    let parts: Vec<f64> = points
        .par_chunks(ASSIGN_CHUNK * book.d)
        .map(|p| {
            let mut scratch = vec![0.0f32; book.k];
            p.chunks_exact(book.d)
                .map(|p| book.nearest(p, &mut scratch).1 as f64)
                .sum()
        })
        .collect();
    parts.iter().sum()
}

/// The nearest centroid of every point (ties: lowest index), on all cores: each point's
/// answer does not depend on the others, so it is the same whatever the thread count.
fn assignments(points: &[f32], book: &Codebook) -> Vec<u32> {
    let mut assign = vec![0u32; points.len() / book.d];
    assign
        .par_chunks_mut(ASSIGN_CHUNK)
        .zip(points.par_chunks(ASSIGN_CHUNK * book.d))
        .for_each(|(a, p)| {
            let mut scratch = vec![0.0f32; book.k];
            for (a, p) in a.iter_mut().zip(p.chunks_exact(book.d)) {
                *a = book.nearest(p, &mut scratch).0 as u32;
            }
        });
    assign
}

/// Relative change of each value when an emptied cluster takes half of another: the two
/// centroids become `c ⊙ (1 ± ε s)` with `s` alternating +1, −1 over the dimensions.
const EMPTY_SPLIT_EPS: f32 = 1.0 / 1024.0;

/// At most `iterations` Lloyd steps on `points` (n × `book.d`, n ≥ 1) starting from the
/// centroids of `book` (a warm start, as when the points moved a little). A cluster left empty
/// by a step takes half of the largest cluster (ties: lower index): the two centroids are
/// moved apart by [`EMPTY_SPLIT_EPS`] and the next step shares the points between them. (The
/// point farthest from its centroid, the older rule, is often an outlier that keeps the
/// centroid to itself.)
pub fn refine(points: &[f32], mut book: Codebook, iterations: usize) -> Codebook {
    let (d, k) = (book.d, book.k);
    let n = points.len() / d;
    assert!(n >= 1, "non-empty k-means input");
    let mut assign = vec![u32::MAX; n];
    for _ in 0..iterations {
        let next = assignments(points, &book);
        if next == assign {
            break;
        }
        assign = next;
        let mut sums = vec![0.0f64; k * d];
        let mut counts = vec![0usize; k];
        for (i, p) in points.chunks_exact(d).enumerate() {
            let c = assign[i] as usize;
            counts[c] += 1;
            for (s, &v) in sums[c * d..(c + 1) * d].iter_mut().zip(p) {
                *s += v as f64;
            }
        }
        let mut centroids = book.centroids.clone();
        for c in 0..k {
            if counts[c] > 0 {
                for t in 0..d {
                    centroids[c * d + t] = (sums[c * d + t] / counts[c] as f64) as f32;
                }
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                let big = (0..k)
                    .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
                    .expect("k ≥ 1");
                if counts[big] < 2 {
                    // Fewer distinct groups than centroids: nothing to share.
                    break;
                }
                for t in 0..d {
                    let e = if t % 2 == 0 {
                        EMPTY_SPLIT_EPS
                    } else {
                        -EMPTY_SPLIT_EPS
                    };
                    let v = centroids[big * d + t];
                    centroids[c * d + t] = v * (1.0 + e);
                    centroids[big * d + t] = v * (1.0 - e);
                }
                counts[c] = counts[big] / 2;
                counts[big] -= counts[c];
            }
        }
        book = Codebook::new(d, k, centroids);
    }
    book
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_matches_brute_force_oracle() {
        let mut rng = Rng::new(3);
        for (d, k) in [(1, 2), (5, 256), (3, 17), (12, 64)] {
            let cents: Vec<f32> = (0..d * k).map(|_| rng.normal()).collect();
            let book = Codebook::new(d, k, cents.clone());
            let mut scratch = vec![0.0; k];
            for _ in 0..50 {
                let x: Vec<f32> = (0..d).map(|_| rng.normal()).collect();
                let oracle = (0..k)
                    .map(|c| {
                        let e: f64 = (0..d)
                            .map(|t| (x[t] as f64 - cents[c * d + t] as f64).powi(2))
                            .sum();
                        (c, e)
                    })
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap();
                let (c, e) = book.nearest(&x, &mut scratch);
                assert!((e as f64 - oracle.1).abs() < 1e-4, "{e} vs {}", oracle.1);
                if c != oracle.0 {
                    // Only a near-tie may pick another centroid.
                    assert!((e as f64 - oracle.1).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn finds_well_separated_clusters_deterministically() {
        // Four blobs far apart; k-means with k = 4 must put one centroid on each blob mean.
        let centers = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]];
        let mut rng = Rng::new(11);
        let mut points = Vec::new();
        let mut sums = [[0.0f64; 2]; 4];
        for i in 0..400 {
            let c = centers[i % 4];
            let p = [c[0] + rng.normal() * 0.5, c[1] + rng.normal() * 0.5];
            sums[i % 4][0] += p[0] as f64 / 100.0;
            sums[i % 4][1] += p[1] as f64 / 100.0;
            points.extend_from_slice(&p);
        }
        let a = kmeans(&points, 2, 4, 50, &mut Rng::new(5));
        let b = kmeans(&points, 2, 4, 50, &mut Rng::new(5));
        assert_eq!(a.centroids, b.centroids);
        for mean in sums {
            let hit = a.centroids.chunks_exact(2).any(|c| {
                (c[0] as f64 - mean[0]).abs() < 1e-3 && (c[1] as f64 - mean[1]).abs() < 1e-3
            });
            assert!(hit, "no centroid at blob mean {mean:?}: {:?}", a.centroids);
        }
        // More centroids than distinct points still works (duplicates allowed).
        let few = kmeans(&[1.0, 1.0, 2.0, 2.0], 2, 4, 10, &mut Rng::new(1));
        assert_eq!(few.k, 4);
    }

    /// Points around `centers` (`per` each, normal noise of sd 0.5), and each blob's mean.
    fn blobs(centers: &[[f32; 2]], per: usize, rng: &mut Rng) -> (Vec<f32>, Vec<[f64; 2]>) {
        let mut points = Vec::new();
        let mut means = vec![[0.0f64; 2]; centers.len()];
        for i in 0..centers.len() * per {
            let c = centers[i % centers.len()];
            let p = [c[0] + rng.normal() * 0.5, c[1] + rng.normal() * 0.5];
            means[i % centers.len()][0] += p[0] as f64 / per as f64;
            means[i % centers.len()][1] += p[1] as f64 / per as f64;
            points.extend_from_slice(&p);
        }
        (points, means)
    }

    #[test]
    fn splitting_finds_separated_clusters_for_any_k() {
        // k = 5 is not a power of two: the last doubling splits only the largest clusters.
        let centers = [
            [0.0, 0.0],
            [20.0, 0.0],
            [0.0, 20.0],
            [20.0, 20.0],
            [40.0, 10.0],
        ];
        let (points, means) = blobs(&centers, 80, &mut Rng::new(7));
        let a = kmeans_split(&points, 2, 5, 50, &mut Rng::new(5));
        let b = kmeans_split(&points, 2, 5, 50, &mut Rng::new(5));
        assert_eq!(a.centroids, b.centroids, "deterministic for a seed");
        assert_eq!(a.k, 5);
        for mean in means {
            let hit = a.centroids.chunks_exact(2).any(|c| {
                (c[0] as f64 - mean[0]).abs() < 1e-3 && (c[1] as f64 - mean[1]).abs() < 1e-3
            });
            assert!(hit, "no centroid at blob mean {mean:?}: {:?}", a.centroids);
        }
        // Fewer distinct points than centroids, and a single point: no panic, k centroids.
        let few = kmeans_split(&[1.0, 1.0, 2.0, 2.0], 2, 4, 10, &mut Rng::new(1));
        assert_eq!(few.centroids.len(), 8);
        let one = kmeans_split(&[3.0, -1.0], 2, 3, 10, &mut Rng::new(1));
        assert_eq!(one.centroids, vec![3.0, -1.0, 3.0, -1.0, 3.0, -1.0]);
    }

    #[test]
    fn an_emptied_cluster_takes_half_of_the_largest_not_an_outlier() {
        // Two blobs of 300 and 100 points and one far outlier; the third centroid starts where
        // no point is nearest, so the first step empties it.
        let (mut points, _) = blobs(&[[0.0, 0.0]], 300, &mut Rng::new(3));
        let (more, _) = blobs(&[[10.0, 0.0]], 100, &mut Rng::new(4));
        points.extend_from_slice(&more);
        points.extend_from_slice(&[60.0, 60.0]);
        let start = Codebook::new(2, 3, vec![0.0, 0.0, 10.0, 0.0, -500.0, -500.0]);
        let book = refine(&points, start, 30);
        let c = &book.centroids;
        // The emptied centroid went into the 300-point blob, which both centroids now share;
        // the outlier did not get a centroid of its own.
        let near_big = c
            .chunks_exact(2)
            .filter(|c| c[0].abs() < 2.0 && c[1].abs() < 2.0);
        assert_eq!(near_big.count(), 2, "{c:?}");
        assert!(
            c.chunks_exact(2).all(|c| c[0] < 20.0 && c[1] < 20.0),
            "{c:?}"
        );
        // And the split pair is no longer one point: it lowered the error.
        assert!((c[0] - c[4]).abs() + (c[1] - c[5]).abs() > 0.1, "{c:?}");
    }

    #[test]
    fn distortion_matches_an_f64_oracle() {
        let mut rng = Rng::new(11);
        let points: Vec<f32> = (0..3000 * 3).map(|_| rng.normal()).collect();
        let book = kmeans(&points, 3, 8, 5, &mut Rng::new(2));
        let oracle: f64 = points
            .chunks_exact(3)
            .map(|p| {
                book.centroids
                    .chunks_exact(3)
                    .map(|c| {
                        (0..3)
                            .map(|t| (p[t] as f64 - c[t] as f64).powi(2))
                            .sum::<f64>()
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .sum();
        let got = distortion(&points, &book);
        assert!((got - oracle).abs() <= 1e-5 * oracle, "{got} vs {oracle}");
    }

    #[test]
    fn best_of_both_seedings_keeps_the_lower_error() {
        // Gaussian points in 2 and in 24 dimensions, several seeds: the kept codebook is one of
        // the two runs (the same rng streams as `kmeans_best` uses) and the one of lower error.
        let mut taken = [0usize; 2];
        for (d, seed) in [(2, 1), (2, 2), (2, 3), (24, 1), (24, 2), (24, 3)] {
            let mut rng = Rng::new(100 + seed);
            let points: Vec<f32> = (0..2000 * d).map(|_| rng.normal()).collect();
            let root = Rng::new(seed);
            let plus = kmeans(&points, d, 32, 20, &mut root.clone());
            let split = kmeans_split(&points, d, 32, 20, &mut root.fork(SPLIT_STREAM));
            let best = kmeans_best(&points, d, 32, 20, &mut root.clone());
            let (ep, es) = (distortion(&points, &plus), distortion(&points, &split));
            assert_ne!(ep, es, "d {d} seed {seed}: the two runs differ");
            let (want, which) = if es < ep { (&split, 1) } else { (&plus, 0) };
            assert_eq!(best.centroids, want.centroids, "d {d} seed {seed}");
            taken[which] += 1;
        }
        // On these cases each seeding wins three times: both branches are exercised.
        assert_eq!(
            taken,
            [3, 3],
            "cases kept from k-means++ and from splitting"
        );
    }
}

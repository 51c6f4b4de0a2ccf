//! Seeded k-means for codebook training: k-means++ initialisation, then Lloyd iterations until
//! no assignment changes. Deterministic for a given seed, independent of the thread count.

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
/// most `iterations` Lloyd steps. An emptied cluster is re-seeded at the point farthest from
/// its centroid. Returns the codebook; the result depends only on the inputs and `rng`.
pub fn kmeans(points: &[f32], d: usize, k: usize, iterations: usize, rng: &mut Rng) -> Codebook {
    let n = points.len() / d;
    assert!(n >= 1 && d >= 1 && k >= 1, "non-empty k-means input");
    let book = Codebook::new(d, k, plus_plus(points, d, k, rng));
    refine(points, book, iterations)
}

/// At most `iterations` Lloyd steps on `points` (n × `book.d`, n ≥ 1) starting from the
/// centroids of `book` (a warm start, as when the points moved a little); the same rules as
/// [`kmeans`] otherwise.
pub fn refine(points: &[f32], mut book: Codebook, iterations: usize) -> Codebook {
    let (d, k) = (book.d, book.k);
    let n = points.len() / d;
    assert!(n >= 1, "non-empty k-means input");
    let mut assign = vec![usize::MAX; n];
    let mut err = vec![0.0f32; n];
    for _ in 0..iterations {
        // Assignments on all cores: each point's nearest centroid does not depend on the
        // others, so the result is the same whatever the thread count.
        let changed: usize = assign
            .par_chunks_mut(ASSIGN_CHUNK)
            .zip(err.par_chunks_mut(ASSIGN_CHUNK))
            .zip(points.par_chunks(ASSIGN_CHUNK * d))
            .map(|((a, e), p)| {
                let mut scratch = vec![0.0f32; k];
                let mut changed = 0usize;
                for ((a, e), p) in a.iter_mut().zip(e.iter_mut()).zip(p.chunks_exact(d)) {
                    let (c, dist) = book.nearest(p, &mut scratch);
                    if *a != c {
                        *a = c;
                        changed += 1;
                    }
                    *e = dist;
                }
                changed
            })
            .sum();
        if changed == 0 {
            break;
        }
        let mut sums = vec![0.0f64; k * d];
        let mut counts = vec![0usize; k];
        for (i, p) in points.chunks_exact(d).enumerate() {
            let c = assign[i];
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
                // Move the empty centroid onto the worst-served point, which then leaves its
                // old cluster.
                let far = (0..n)
                    .max_by(|&a, &b| err[a].total_cmp(&err[b]).then(b.cmp(&a)))
                    .expect("n ≥ 1");
                centroids[c * d..(c + 1) * d].copy_from_slice(&points[far * d..(far + 1) * d]);
                err[far] = 0.0;
                assign[far] = c;
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
}

//! Principal component analysis to two dimensions, for plotting a handful of vectors (a word
//! and its neighbours) on the web page. Power iteration on the centred data, in f64.

/// A 2-D placement of the input vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// One `[x, y]` per input vector: its coordinates along the first two principal axes.
    pub points: Vec<[f64; 2]>,
    /// Share of the total variance along each of the two axes (each in 0..=1).
    pub explained: [f64; 2],
}

/// Projects `vectors` (all of the same length) onto their first two principal components.
///
/// The axes are the top eigenvectors of the covariance of the centred vectors; each axis is
/// signed so that its largest-magnitude component is positive, so the answer is deterministic.
/// Degenerate inputs (one vector, identical vectors, one dimension) give zero coordinates on
/// the missing axes. Never panics on equal-length input; returns `None` if lengths differ.
pub fn pca2(vectors: &[&[f32]]) -> Option<Projection> {
    let n = vectors.len();
    let d = vectors.first().map_or(0, |v| v.len());
    if vectors.iter().any(|v| v.len() != d) {
        return None;
    }
    let mut mean = vec![0.0f64; d];
    for v in vectors {
        for (m, &x) in mean.iter_mut().zip(v.iter()) {
            *m += x as f64;
        }
    }
    for m in &mut mean {
        *m /= n.max(1) as f64;
    }
    let centred: Vec<Vec<f64>> = vectors
        .iter()
        .map(|v| v.iter().zip(&mean).map(|(&x, m)| x as f64 - m).collect())
        .collect();
    let total: f64 = centred.iter().flatten().map(|x| x * x).sum();

    let mut axes: Vec<Vec<f64>> = Vec::new();
    let mut variances = [0.0f64; 2];
    for (k, variance) in variances.iter_mut().enumerate() {
        if d <= k || total <= 0.0 {
            break;
        }
        let Some((axis, var)) = top_axis(&centred, d, &axes, k as u64) else {
            break;
        };
        *variance = var;
        axes.push(axis);
    }
    let points = centred
        .iter()
        .map(|row| {
            let mut p = [0.0; 2];
            for (c, axis) in p.iter_mut().zip(&axes) {
                *c = dot(row, axis);
            }
            p
        })
        .collect();
    let explained = if total > 0.0 {
        [variances[0] / total, variances[1] / total]
    } else {
        [0.0, 0.0]
    };
    Some(Projection { points, explained })
}

/// The unit direction of largest variance orthogonal to `previous`, and the variance along it
/// (sum of squared coordinates); `None` when no variance is left.
fn top_axis(
    rows: &[Vec<f64>],
    d: usize,
    previous: &[Vec<f64>],
    seed: u64,
) -> Option<(Vec<f64>, f64)> {
    let mut rng = embers::rng::Rng::new(0x5eed_0000 + seed);
    let mut v: Vec<f64> = (0..d).map(|_| rng.uniform_f64() - 0.5).collect();
    orthogonalise(&mut v, previous);
    if normalise(&mut v) == 0.0 {
        return None;
    }
    let mut lambda = 0.0;
    for _ in 0..1000 {
        // w = Xᵀ (X v): the covariance applied to v, without forming the d × d matrix.
        let mut w = vec![0.0f64; d];
        for row in rows {
            let s = dot(row, &v);
            for (wi, &ri) in w.iter_mut().zip(row) {
                *wi += s * ri;
            }
        }
        orthogonalise(&mut w, previous);
        let new_lambda = normalise(&mut w);
        if new_lambda == 0.0 {
            return None;
        }
        let change: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        v = w;
        let converged = (new_lambda - lambda).abs() <= 1e-12 * new_lambda && change < 1e-9;
        lambda = new_lambda;
        if converged {
            break;
        }
    }
    // Deterministic sign: the largest-magnitude component is positive.
    let big = v
        .iter()
        .copied()
        .fold(0.0f64, |acc, x| if x.abs() > acc.abs() { x } else { acc });
    if big < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    let variance: f64 = rows.iter().map(|r| dot(r, &v).powi(2)).sum();
    Some((v, variance))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn orthogonalise(v: &mut [f64], basis: &[Vec<f64>]) {
    for b in basis {
        let p = dot(v, b);
        v.iter_mut().zip(b).for_each(|(x, y)| *x -= p * y);
    }
}

/// Scales to unit length; returns the former length (0 leaves `v` as it was).
fn normalise(v: &mut [f64]) -> f64 {
    let n = dot(v, v).sqrt();
    if n > 1e-300 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    if n > 1e-300 {
        n
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points built as `c + a·u + b·w` with orthonormal `u`, `w` in 6-D and `a`, `b`
    /// uncorrelated: the principal axes are `u` and `w` (variance of `a` larger than of `b`), so
    /// the coordinates must be the centred `a` and `b` themselves (signs fixed by the rule), and
    /// the explained variance sums to 1.
    #[test]
    fn recovers_a_known_plane() {
        let s = 0.5f32;
        let u = [s, s, s, s, 0.0, 0.0];
        let w = [0.0, 0.0, 0.0, 0.0, 0.8, -0.6];
        let c = [1.0f32, -2.0, 3.0, 0.5, 4.0, 1.0];
        // Uncorrelated in the sample (Σ a·b = 0), so the sample axes are exactly u and w.
        let ab = [
            (3.0f32, 0.5f32),
            (-3.0, 0.5),
            (1.0, -1.0),
            (-1.0, -1.0),
            (0.0, 1.0),
        ];
        let vectors: Vec<Vec<f32>> = ab
            .iter()
            .map(|&(a, b)| (0..6).map(|i| c[i] + a * u[i] + b * w[i]).collect())
            .collect();
        let refs: Vec<&[f32]> = vectors.iter().map(|v| v.as_slice()).collect();
        let p = pca2(&refs).unwrap();
        let ma = ab.iter().map(|x| x.0).sum::<f32>() / 5.0;
        let mb = ab.iter().map(|x| x.1).sum::<f32>() / 5.0;
        // Signs: u's components are all positive; w's largest-magnitude component is +0.8.
        for (pt, &(a, b)) in p.points.iter().zip(&ab) {
            assert!((pt[0] - (a - ma) as f64).abs() < 1e-4, "{pt:?} vs {a}");
            assert!((pt[1] - (b - mb) as f64).abs() < 1e-4, "{pt:?} vs {b}");
        }
        let va: f64 = ab.iter().map(|x| ((x.0 - ma) as f64).powi(2)).sum();
        let vb: f64 = ab.iter().map(|x| ((x.1 - mb) as f64).powi(2)).sum();
        assert!((p.explained[0] - va / (va + vb)).abs() < 1e-6);
        assert!((p.explained[1] - vb / (va + vb)).abs() < 1e-6);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let one = [1.0f32, 2.0];
        let p = pca2(&[&one]).unwrap();
        assert_eq!(p.points, vec![[0.0, 0.0]]);
        let p = pca2(&[&one, &one]).unwrap();
        assert_eq!(p.explained, [0.0, 0.0]);
        let line = [[0.0f32], [2.0]];
        let p = pca2(&[&line[0], &line[1]]).unwrap();
        assert_eq!(p.points, vec![[-1.0, 0.0], [1.0, 0.0]]);
        assert!(pca2(&[&one, &[1.0f32][..]]).is_none());
        assert!(pca2(&[]).unwrap().points.is_empty());
    }
}

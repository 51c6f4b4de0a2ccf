//! Small dense linear algebra in f64 for the OPQ rotation: the orthogonal Procrustes solution
//! and the principal axes of a sample (both through faer's SVD and self-adjoint
//! eigendecomposition), and a singular value decomposition by one-sided Jacobi rotations
//! (Hestenes' method; used by sentence pooling, and as Procrustes' fallback). Matrices are
//! row-major `Vec<f64>`; sizes are those of embedding dims (≤ a few thousand), where an O(n³)
//! method per call is cheap next to training the codebooks.

/// A singular value decomposition `A = U · diag(s) · Vᵀ` of an `rows × cols` matrix with
/// `rows ≥ cols`: `u` is `rows × cols` with orthonormal columns, `s` the `cols` singular values
/// in decreasing order (all ≥ 0), `v` is `cols × cols` orthogonal. All row-major.
#[derive(Debug, Clone)]
pub struct Svd {
    /// Rows of `A` (and of `U`).
    pub rows: usize,
    /// Columns of `A` (and the order of `V`).
    pub cols: usize,
    /// `rows × cols`, orthonormal columns.
    pub u: Vec<f64>,
    /// Singular values, largest first.
    pub s: Vec<f64>,
    /// `cols × cols`, orthogonal.
    pub v: Vec<f64>,
}

/// Largest number of Jacobi sweeps; convergence is quadratic and takes 6–12 sweeps in practice.
const MAX_SWEEPS: usize = 80;

/// The SVD of `a` (`rows × cols`, row-major, `rows ≥ cols ≥ 1`, finite values).
///
/// One-sided Jacobi: the columns of `A` are made pairwise orthogonal by plane rotations applied
/// on the right (accumulated in `V`); the column norms are then the singular values and the
/// normalised columns the left singular vectors. Columns of a rank-deficient matrix (singular
/// value 0) get left vectors that complete `U` to orthonormal columns. Deterministic.
///
/// Panics when the shape is not `rows ≥ cols ≥ 1` or `a.len() != rows · cols`.
pub fn svd(a: &[f64], rows: usize, cols: usize) -> Svd {
    assert!(
        rows >= cols && cols >= 1 && a.len() == rows * cols,
        "svd of a {rows} × {cols} matrix from {} values",
        a.len()
    );
    // Work on columns: w[j] is column j of A (contiguous), vt[j] column j of V.
    let mut w: Vec<Vec<f64>> = (0..cols)
        .map(|j| (0..rows).map(|i| a[i * cols + j]).collect())
        .collect();
    let mut vt: Vec<Vec<f64>> = (0..cols)
        .map(|j| (0..cols).map(|i| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>();
    let tiny = scale * f64::EPSILON * f64::EPSILON;
    for _ in 0..MAX_SWEEPS {
        let mut rotated = false;
        for p in 0..cols {
            for q in p + 1..cols {
                let (alpha, beta, gamma) = {
                    let (x, y) = (&w[p], &w[q]);
                    let mut s = (0.0, 0.0, 0.0);
                    for (a, b) in x.iter().zip(y) {
                        s.0 += a * a;
                        s.1 += b * b;
                        s.2 += a * b;
                    }
                    s
                };
                // Columns already orthogonal to working precision, or one of them is zero.
                if alpha <= tiny
                    || beta <= tiny
                    || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt()
                {
                    continue;
                }
                rotated = true;
                // The rotation that zeroes the (p, q) entry of AᵀA: t = tan θ is the smaller
                // root of t² + 2ζt − 1 = 0 (signum(+0) = 1 picks t = 1 when ζ = 0).
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                rotate(&mut w, p, q, c, s);
                rotate(&mut vt, p, q, c, s);
            }
        }
        if !rotated {
            break;
        }
    }
    // Singular values are the column norms; sort largest first (stable, so ties keep order).
    let norms: Vec<f64> = w
        .iter()
        .map(|c| c.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let mut order: Vec<usize> = (0..cols).collect();
    order.sort_by(|&i, &j| norms[j].total_cmp(&norms[i]));
    let largest = norms[order[0]];
    let mut ucols: Vec<Vec<f64>> = Vec::with_capacity(cols);
    let mut s = Vec::with_capacity(cols);
    let mut vcols = Vec::with_capacity(cols);
    for &j in &order {
        let n = norms[j];
        // Relative to the largest: below this the column is numerical noise (rank deficient).
        if n > largest * 1e-13 && n > 0.0 {
            ucols.push(w[j].iter().map(|x| x / n).collect());
            s.push(n);
        } else {
            ucols.push(Vec::new());
            s.push(0.0);
        }
        vcols.push(vt[j].clone());
    }
    complete_orthonormal(&mut ucols, rows);
    let mut u = vec![0.0; rows * cols];
    let mut v = vec![0.0; cols * cols];
    for (j, (uc, vc)) in ucols.iter().zip(&vcols).enumerate() {
        for i in 0..rows {
            u[i * cols + j] = uc[i];
        }
        for i in 0..cols {
            v[i * cols + j] = vc[i];
        }
    }
    Svd {
        rows,
        cols,
        u,
        s,
        v,
    }
}

/// Applies the plane rotation `(c, s)` to columns `p` and `q`.
fn rotate(cols: &mut [Vec<f64>], p: usize, q: usize, c: f64, s: f64) {
    let (lo, hi) = cols.split_at_mut(q);
    for (x, y) in lo[p].iter_mut().zip(hi[0].iter_mut()) {
        let (a, b) = (*x, *y);
        *x = c * a - s * b;
        *y = s * a + c * b;
    }
}

/// Fills the empty columns of `cols` (each of length `n` once filled) with unit vectors
/// orthogonal to all others: Gram–Schmidt (twice, for stability) on the standard basis vectors,
/// taking the first that keeps enough length.
fn complete_orthonormal(cols: &mut [Vec<f64>], n: usize) {
    let mut next_basis = 0;
    for j in 0..cols.len() {
        if !cols[j].is_empty() {
            continue;
        }
        loop {
            assert!(next_basis < n, "fewer than n orthonormal vectors in R^n");
            let mut x = vec![0.0; n];
            x[next_basis] = 1.0;
            next_basis += 1;
            for _ in 0..2 {
                for c in cols.iter().filter(|c| !c.is_empty()) {
                    let p: f64 = x.iter().zip(c).map(|(a, b)| a * b).sum();
                    x.iter_mut().zip(c).for_each(|(a, b)| *a -= p * b);
                }
            }
            let norm = x.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm > 1e-6 {
                cols[j] = x.into_iter().map(|a| a / norm).collect();
                break;
            }
        }
    }
}

/// The orthogonal `d × d` matrix `R` maximising `trace(Rᵀ · M)` for a `d × d` matrix `M`
/// (row-major), i.e. `R = U · Vᵀ` from `M = U · S · Vᵀ`. With `M = Xᵀ · Y` this is the rotation
/// minimising `‖X · R − Y‖` (orthogonal Procrustes). The SVD is faer's; should it fail to
/// converge (non-finite input), the one-sided Jacobi [`svd`] of this module is used instead.
pub fn procrustes(m: &[f64], d: usize) -> Vec<f64> {
    assert_eq!(m.len(), d * d, "d × d matrix");
    let a = faer::Mat::<f64>::from_fn(d, d, |i, j| m[i * d + j]);
    let (u, v): (Vec<f64>, Vec<f64>) = match a.svd() {
        Ok(f) => (
            (0..d * d).map(|x| f.U()[(x / d, x % d)]).collect(),
            (0..d * d).map(|x| f.V()[(x / d, x % d)]).collect(),
        ),
        Err(_) => {
            let f = svd(m, d, d);
            (f.u, f.v)
        }
    };
    let mut r = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            r[i * d + j] = (0..d).map(|k| u[i * d + k] * v[j * d + k]).sum();
        }
    }
    r
}

/// The eigenvectors of the covariance of the rows of `x` (`d` values each, centred on their
/// mean, in f64), as the columns of a row-major `d × d` matrix, with their eigenvalues; in
/// decreasing order of eigenvalue. `None` when the decomposition fails (non-finite input).
pub fn principal_axes(x: &[f32], d: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let n = x.len() / d.max(1);
    if n == 0 {
        return None;
    }
    let mut mean = vec![0.0f64; d];
    for r in x.chunks_exact(d) {
        mean.iter_mut().zip(r).for_each(|(m, v)| *m += *v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<f32> = x
        .chunks_exact(d)
        .flat_map(|r| r.iter().zip(&mean).map(|(v, m)| (*v as f64 - m) as f32))
        .collect();
    let cov = at_b(&centred, &centred, d, d);
    let a = faer::Mat::<f64>::from_fn(d, d, |i, j| cov[i * d + j] / n as f64);
    let eig = a.self_adjoint_eigen(faer::Side::Lower).ok()?;
    let (s, u) = (eig.S().column_vector(), eig.U());
    // faer orders eigenvalues increasingly: reverse.
    let mut vectors = vec![0.0f64; d * d];
    let mut values = Vec::with_capacity(d);
    for (c, src) in (0..d).rev().enumerate() {
        values.push(s[src].max(0.0));
        for i in 0..d {
            vectors[i * d + c] = u[(i, src)];
        }
    }
    Some((vectors, values))
}

/// `Aᵀ · B` for `a` (`n × p`) and `b` (`n × q`), row-major f32 inputs, accumulated in f64.
pub fn at_b(a: &[f32], b: &[f32], p: usize, q: usize) -> Vec<f64> {
    debug_assert_eq!(a.len() / p, b.len() / q);
    let mut out = vec![0.0f64; p * q];
    for (x, y) in a.chunks_exact(p).zip(b.chunks_exact(q)) {
        for (i, &xi) in x.iter().enumerate() {
            let xi = xi as f64;
            for (o, &yj) in out[i * q..(i + 1) * q].iter_mut().zip(y) {
                *o += xi * yj as f64;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Checks `UᵀU = I`, `VᵀV = I`, `U·diag(s)·Vᵀ = A` and `s` sorted non-negative.
    fn check(a: &[f64], rows: usize, cols: usize, f: &Svd) {
        let tol = 1e-10 * (1.0 + a.iter().fold(0.0f64, |m, x| m.max(x.abs())));
        for i in 0..cols {
            for j in 0..cols {
                let want = if i == j { 1.0 } else { 0.0 };
                let utu: f64 = (0..rows)
                    .map(|k| f.u[k * cols + i] * f.u[k * cols + j])
                    .sum();
                let vtv: f64 = (0..cols)
                    .map(|k| f.v[k * cols + i] * f.v[k * cols + j])
                    .sum();
                assert!((utu - want).abs() < 1e-10, "UᵀU[{i},{j}] = {utu}");
                assert!((vtv - want).abs() < 1e-10, "VᵀV[{i},{j}] = {vtv}");
            }
        }
        for i in 0..rows {
            for j in 0..cols {
                let usv: f64 = (0..cols)
                    .map(|k| f.u[i * cols + k] * f.s[k] * f.v[j * cols + k])
                    .sum();
                assert!((usv - a[i * cols + j]).abs() < tol, "({i},{j}): {usv}");
            }
        }
        assert!(f.s.windows(2).all(|w| w[0] >= w[1]) && f.s.iter().all(|&x| x >= 0.0));
    }

    #[test]
    fn singular_values_of_hand_made_matrices() {
        // [[3, 0], [4, 5]]: AᵀA = [[25, 20], [20, 25]] has eigenvalues 45 and 5.
        let a = [3.0, 0.0, 4.0, 5.0];
        let f = svd(&a, 2, 2);
        check(&a, 2, 2, &f);
        assert!((f.s[0] - 45f64.sqrt()).abs() < 1e-12 && (f.s[1] - 5f64.sqrt()).abs() < 1e-12);

        // Rank 1: [[1, 2], [2, 4]] = 5 · (1, 2)/√5 · (1, 2)ᵀ/√5; U still orthonormal.
        let a = [1.0, 2.0, 2.0, 4.0];
        let f = svd(&a, 2, 2);
        check(&a, 2, 2, &f);
        assert!((f.s[0] - 5.0).abs() < 1e-12 && f.s[1] == 0.0, "{:?}", f.s);

        // A tall 3 × 2 matrix with orthogonal columns of lengths 3 and 2 (reordered by size):
        // columns (0, 2, 0) and (3, 0, 0) → singular values 3, 2; v swaps the columns.
        let a = [0.0, 3.0, 2.0, 0.0, 0.0, 0.0];
        let f = svd(&a, 3, 2);
        check(&a, 3, 2, &f);
        assert_eq!(f.s, vec![3.0, 2.0]);

        // A diagonal matrix with a negative entry: singular values are the absolute values.
        let a = [-7.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 2.0];
        let f = svd(&a, 3, 3);
        check(&a, 3, 3, &f);
        assert_eq!(f.s, vec![7.0, 2.0, 0.5]);

        // The zero matrix: s = 0, U and V orthogonal anyway.
        let a = [0.0; 9];
        let f = svd(&a, 3, 3);
        check(&a, 3, 3, &f);
        assert_eq!(f.s, vec![0.0; 3]);
    }

    #[test]
    fn random_matrices_decompose_and_match_numpy() {
        let mut rng = Rng::new(5);
        for (rows, cols) in [(1, 1), (7, 5), (30, 30), (64, 48)] {
            let a: Vec<f64> = (0..rows * cols).map(|_| rng.normal() as f64).collect();
            let f = svd(&a, rows, cols);
            check(&a, rows, cols, &f);
        }
        // Reference singular values from numpy.linalg.svd (LAPACK gesdd), run here.
        let (rows, cols) = (12, 9);
        let a: Vec<f64> = (0..rows * cols)
            .map(|i| ((i * 7919) % 23) as f64 - 11.0)
            .collect();
        let text: Vec<String> = a.iter().map(|x| format!("{x}")).collect();
        let out = embers_testkit::python()
            .arg("-c")
            .arg(format!(
                "import numpy as np\n\
                 a = np.array([{}], dtype=np.float64).reshape({rows}, {cols})\n\
                 print(' '.join(repr(float(x)) for x in np.linalg.svd(a, compute_uv=False)))\n",
                text.join(",")
            ))
            .output()
            .expect("the reference Python runs (scripts/test.sh sets it up)");
        assert!(out.status.success(), "numpy failed");
        let want: Vec<f64> = String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        let f = svd(&a, rows, cols);
        check(&a, rows, cols, &f);
        assert_eq!(want.len(), cols);
        for (g, w) in f.s.iter().zip(&want) {
            assert!((g - w).abs() < 1e-9 * (1.0 + w), "{g} vs numpy {w}");
        }
    }

    #[test]
    fn procrustes_and_principal_axes_match_numpy() {
        // Reference: numpy's U·Vᵀ from np.linalg.svd of M, and np.linalg.eigh of the covariance
        // of the centred rows (eigenvectors up to sign), run here.
        let (n, d) = (40, 7);
        let mut rng = Rng::new(11);
        let x: Vec<f32> = (0..n * d)
            .map(|i| rng.normal() * (1.0 + (i % d) as f32) + 0.3)
            .collect();
        let m: Vec<f64> = (0..d * d).map(|_| rng.normal() as f64).collect();
        let fmt = |v: Vec<String>| v.join(",");
        let out = embers_testkit::python()
            .arg("-c")
            .arg(format!(
                "import numpy as np\n\
                 m = np.array([{}], dtype=np.float64).reshape({d}, {d})\n\
                 u, s, vt = np.linalg.svd(m)\n\
                 print(' '.join(repr(float(v)) for v in (u @ vt).ravel()))\n\
                 x = np.array([{}], dtype=np.float32).astype(np.float64).reshape({n}, {d})\n\
                 c = x - x.mean(axis=0)\n\
                 w, v = np.linalg.eigh(c.T @ c / {n})\n\
                 print(' '.join(repr(float(a)) for a in w[::-1]))\n\
                 print(' '.join(repr(float(a)) for a in v[:, ::-1].ravel()))\n",
                fmt(m.iter().map(|v| format!("{v:?}")).collect()),
                fmt(x.iter().map(|v| format!("{v:?}")).collect()),
            ))
            .output()
            .expect("the reference Python runs (scripts/test.sh sets it up)");
        assert!(out.status.success(), "numpy failed");
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<Vec<f64>> = text
            .lines()
            .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
            .collect();
        let r = procrustes(&m, d);
        for (a, b) in r.iter().zip(&lines[0]) {
            assert!((a - b).abs() < 1e-9, "procrustes {a} vs numpy {b}");
        }
        let (vectors, values) = principal_axes(&x, d).unwrap();
        for (a, b) in values.iter().zip(&lines[1]) {
            assert!(
                (a - b).abs() < 1e-6 * (1.0 + b.abs()),
                "eigenvalue {a} vs numpy {b}"
            );
        }
        for c in 0..d {
            let dot: f64 = (0..d)
                .map(|i| vectors[i * d + c] * lines[2][i * d + c])
                .sum();
            assert!(
                (dot.abs() - 1.0).abs() < 1e-6,
                "axis {c}: |cos| = {}",
                dot.abs()
            );
        }
    }

    #[test]
    fn procrustes_recovers_a_known_rotation() {
        // Y = X · Q for an orthogonal Q: the Procrustes solution of Xᵀ·Y is Q itself.
        let (n, d) = (200, 6);
        let mut rng = Rng::new(8);
        let x: Vec<f32> = (0..n * d).map(|_| rng.normal()).collect();
        // Q = the orthogonal factor of a random matrix (U·Vᵀ is orthogonal).
        let g: Vec<f64> = (0..d * d).map(|_| rng.normal() as f64).collect();
        let q = procrustes(&g, d);
        let y: Vec<f32> = x
            .chunks_exact(d)
            .flat_map(|row| {
                (0..d)
                    .map(|j| (0..d).map(|k| row[k] as f64 * q[k * d + j]).sum::<f64>() as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        let r = procrustes(&at_b(&x, &y, d, d), d);
        for (a, b) in r.iter().zip(&q) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // Orthogonal: RᵀR = I.
        for i in 0..d {
            for j in 0..d {
                let dot: f64 = (0..d).map(|k| r[k * d + i] * r[k * d + j]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}

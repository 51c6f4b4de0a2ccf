//! Correlation coefficients as scipy computes them: Pearson's r, and Spearman's rho as the
//! Pearson correlation of average ranks (ties share the mean of their positions).

/// Pearson correlation of two equally long samples, in f64; NaN when either is constant or
/// shorter than 2.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// 1-based ranks with ties given their average rank (scipy's `rankdata(method="average")`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman rank correlation (Pearson of average ranks), as `scipy.stats.spearmanr`.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_worked_by_hand() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 5.0]),
            vec![2.5, 4.0, 2.5, 1.0]
        );
        // x = 1..5, y = x²: perfectly monotone, Pearson by hand = 0.9811...
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 4.0, 9.0, 16.0, 25.0];
        assert!((spearman(&x, &y) - 1.0).abs() < 1e-12);
        // Σdxdy = 60, Σdx² = 10, Σdy² = 374 → 60/√3740.
        assert!((pearson(&x, &y) - 60.0 / 3740f64.sqrt()).abs() < 1e-12);
        // With ties: ranks x = [1,2,3,4], y = [1.5,1.5,3,4] → Pearson of those.
        let s = spearman(&[1.0, 2.0, 3.0, 4.0], &[7.0, 7.0, 8.0, 9.0]);
        let want = pearson(&[1.0, 2.0, 3.0, 4.0], &[1.5, 1.5, 3.0, 4.0]);
        assert!((s - want).abs() < 1e-12 && (want - 0.9486832980505138).abs() < 1e-12);
        assert!(pearson(&[1.0, 1.0], &[2.0, 3.0]).is_nan());
    }
}

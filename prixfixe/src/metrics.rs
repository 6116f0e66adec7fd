//! Correlation metrics used by the DREAM Challenge (paper, Table 2 and Methods "Evaluation").
//!
//! All functions take plain slices, compute in f64 and return `None` when the value is
//! undefined (fewer than 2 points, different lengths, zero variance or a non-finite input).

/// Pearson correlation coefficient r.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Squared Pearson correlation r² (the challenge's "Pearson r²").
pub fn pearson_r2(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(x, y).map(|r| r * r)
}

/// Ranks 1..=n with ties given their average rank (as `scipy.stats.rankdata(method="average")`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && x[idx[j]] == x[idx[i]] {
            j += 1;
        }
        // positions i..j (0-based) share ranks i+1..=j
        let avg = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = avg;
        }
        i = j;
    }
    ranks
}

/// Spearman rank correlation ρ: Pearson r of average ranks (ties averaged).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Mean squared error.
pub fn mse(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.is_empty() {
        return None;
    }
    Some(x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / x.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_hand_computed() {
        // x = 1,2,3,4 ; y = 2,4,5,4 : sxy = 3.5, sxx = 5, syy = 4.75 -> r = 3.5/sqrt(23.75)
        let r = pearson(&[1., 2., 3., 4.], &[2., 4., 5., 4.]).unwrap();
        assert!((r - 3.5 / 23.75f64.sqrt()).abs() < 1e-12);
        assert!((pearson_r2(&[1., 2., 3., 4.], &[2., 4., 5., 4.]).unwrap() - 12.25 / 23.75).abs() < 1e-12);
        assert_eq!(pearson(&[1., 1.], &[1., 2.]), None);
        assert_eq!(pearson(&[1.], &[1.]), None);
        assert_eq!(pearson(&[1., f64::NAN], &[1., 2.]), None);
    }

    #[test]
    fn spearman_with_ties_uses_average_ranks() {
        assert_eq!(average_ranks(&[10., 20., 20., 5.]), vec![2.0, 3.5, 3.5, 1.0]);
        // ranks x = 1,2,3,4 ; y = 1,2.5,4,2.5 -> pearson of ranks
        let rho = spearman(&[1., 2., 3., 4.], &[1., 5., 9., 5.]).unwrap();
        let expect = pearson(&[1., 2., 3., 4.], &[1., 2.5, 4., 2.5]).unwrap();
        assert!((rho - expect).abs() < 1e-12);
        // by hand: rank deviations x = -1.5,-.5,.5,1.5 ; y = -1.5,0,1.5,0 -> 3 / sqrt(5 * 4.5)
        assert!((rho - 3.0 / 22.5f64.sqrt()).abs() < 1e-12);
        // monotone but non-linear -> rho = 1
        assert!((spearman(&[1., 2., 3.], &[1., 10., 1000.]).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mse_known() {
        assert_eq!(mse(&[1., 2.], &[3., 2.]), Some(2.0));
    }
}

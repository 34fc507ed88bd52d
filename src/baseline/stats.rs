//! Robust statistics over small samples (rings of at most a few hundred values).

/// Median, MAD (unscaled) and 95th percentile (nearest rank) of `v`; zeros when empty.
pub fn robust(v: &[f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = quantile_sorted(&s, 0.5);
    let p95 = s[((s.len() as f64 * 0.95).ceil() as usize).clamp(1, s.len()) - 1];
    let mut dev: Vec<f64> = s.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    (med, quantile_sorted(&dev, 0.5), p95)
}

/// Linear-interpolated quantile of sorted values.
pub fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// RITA's regularity of a series (intervals or sizes): the mean of 1 - |Bowley skew| and
/// (median - MAD) / median, each within 0..1. Bowley skew counts as 0 when the quartiles
/// are too close to say anything (RITA: IQR below 10, or the median on a quartile).
pub fn regularity(v: &[f64]) -> f64 {
    if v.len() < 3 {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let (q1, q2, q3) = (
        quantile_sorted(&s, 0.25),
        quantile_sorted(&s, 0.5),
        quantile_sorted(&s, 0.75),
    );
    let iqr = q3 - q1;
    let skew = if iqr < 10.0 || q2 == q1 || q2 == q3 {
        0.0
    } else {
        (q1 + q3 - 2.0 * q2) / iqr
    };
    let (_, mad, _) = robust(&s);
    let disp = if q2 > 0.0 {
        ((q2 - mad) / q2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    ((1.0 - skew.abs()) + disp) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_mad_p95() {
        let (m, d, p) = robust(&[1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(m, 3.0);
        assert_eq!(d, 1.0);
        assert_eq!(p, 100.0);
        assert_eq!(robust(&[]), (0.0, 0.0, 0.0));
    }

    #[test]
    fn regular_series_score_high_random_low() {
        let regular: Vec<f64> = (0..30).map(|i| 60.0 + (i % 5) as f64 * 2.0 - 4.0).collect();
        assert!(regularity(&regular) > 0.9, "{}", regularity(&regular));
        let mut x = 7u64;
        let random: Vec<f64> = (0..30)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Exponential-ish gaps: 1..600 s.
                1.0 + ((x >> 33) % 600) as f64 * ((x >> 20) % 3) as f64
            })
            .collect();
        assert!(regularity(&random) < 0.6, "{}", regularity(&random));
    }
}

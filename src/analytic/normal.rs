//! The standard normal CDF and its inverse, accurate to a few ulps.
//!
//! `Φ(x) = erfc(−x / √2) / 2` with `libm`'s `erfc` (the FreeBSD/musl implementation, error below
//! one ulp), so small tail probabilities keep their relative precision. `Φ⁻¹` starts from
//! `statrs` (good to about `1e-10` relative in the tails) and takes two Halley steps on the
//! accurate `Φ`, which brings it to rounding level. The analytic engine needs this: its tests
//! compare probabilities to `1e-12`.

use statrs::distribution::{ContinuousCDF, Normal};

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `Φ(x)`.
pub fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// `φ(x)`.
pub fn pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// `Φ⁻¹(p)`, `-inf` at `p <= 0` and `+inf` at `p >= 1`.
pub fn inverse(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let mut x = Normal::standard().inverse_cdf(p);
    for _ in 0..2 {
        // Halley: with e = Φ(x) − p and u = e / φ(x), x ← x − u / (1 + x u / 2).
        let e = if x < 0.0 { cdf(x) - p } else { (1.0 - p) - cdf(-x) };
        let u = -e / pdf(x);
        x += u / (1.0 + 0.5 * x * u);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Φ(-1.959963984540054) = 0.025 and Φ⁻¹(0.01) = -2.3263478740408408 (standard tables,
        // 16 digits).
        assert!((cdf(-1.959_963_984_540_054) - 0.025).abs() < 1e-17);
        assert!((inverse(0.01) - (-2.326_347_874_040_840_8)).abs() < 1e-15);
        for p in [1e-12, 1e-5, 0.01, 0.3, 0.5, 0.9, 0.999] {
            let x = inverse(p);
            // Relative condition number of Φ at x is about x² (x rounding to an ulp).
            assert!((cdf(x) - p).abs() <= 1e-14 * p, "p {p}: {}", cdf(x));
        }
    }
}

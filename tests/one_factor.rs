//! The homogeneous one-factor pool against closed forms: the mean loss against `p x LGD`, and
//! `P(no default)` against `∫ (1 - p(z))^N φ(z) dz` computed here by quadrature.

mod common;

use common::{data, num, run_summary};
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

/// `tests/data/one-factor.toml`: N = 20 firms of 1,000,000, one year, one period, pd 5%,
/// rho 0.2, fixed recovery 40% of the claim, no interest, no tiers, no notes.
const N: i32 = 20;
const P: f64 = 0.05;
const RHO: f64 = 0.2;
const LGD: f64 = 0.6;
const EXPOSURE: f64 = 1_000_000.0;

/// `P(no default) = ∫ (1 - p(z))^N φ(z) dz` with `p(z) = Φ((Φ⁻¹(p) - √ρ z) / √(1-ρ))`, by
/// composite Simpson's rule on [-12, 12] with 24,000 intervals (error far below 1e-10).
fn p_no_default() -> f64 {
    let n = Normal::standard();
    let c = n.inverse_cdf(P);
    let f = |z: f64| {
        let pz = n.cdf((c - RHO.sqrt() * z) / (1.0 - RHO).sqrt());
        (1.0 - pz).powi(N) * n.pdf(z)
    };
    let (a, b, m) = (-12.0, 12.0, 24_000);
    let h = (b - a) / m as f64;
    let mut s = f(a) + f(b);
    for i in 1..m {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        s += w * f(a + i as f64 * h);
    }
    s * h / 3.0
}

#[test]
fn homogeneous_pool_matches_closed_forms() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_summary(&data("one-factor.toml"), dir.path(), &[]);
    let n = num(&s, "paths");

    // E[loss] = N p LGD E, within 4 standard errors of the mean.
    let expect = f64::from(N) * P * LGD * EXPOSURE;
    let mean = num(&s, "pool_loss/mean");
    let se = num(&s, "pool_loss/se_mean");
    assert!(se > 0.0);
    assert!(
        (mean - expect).abs() <= 4.0 * se,
        "mean loss {mean} vs {expect} (se {se})"
    );
    // With no guarantors and no interest, the gross loss is the pool loss.
    assert_eq!(num(&s, "gross_default_loss/mean"), mean);
    // E[defaults] = N p.
    let d = num(&s, "defaults/mean");
    let d_se = num(&s, "defaults/se_mean");
    assert!(
        (d - f64::from(N) * P).abs() <= 4.0 * d_se,
        "defaults {d} (se {d_se})"
    );

    // P(no default), with its binomial standard error.
    let q = p_no_default();
    let got = 1.0 - num(&s, "p_any_default");
    let q_se = (q * (1.0 - q) / n).sqrt();
    assert!(
        (got - q).abs() <= 4.0 * q_se,
        "P(no default) {got} vs quadrature {q} (se {q_se})"
    );
    // The correlation matters: independence would give (1 - p)^N, far outside the band.
    let independent = (1.0 - P).powi(N);
    assert!((independent - q).abs() > 10.0 * q_se);
}

//! The Vasicek large homogeneous pool (LHP) limit of the one-factor Gaussian model.
//!
//! With `N → ∞` identical firms (default probability `p`, asset correlation `ρ`, loss given
//! default `ℓ` as a fraction of the pool), the pool loss fraction given the factor is
//! `L(z) = ℓ p(z)`, `p(z) = Φ((Φ⁻¹(p) − √ρ z) / √(1 − ρ))`, so (Vasicek 2002, *Risk* 15(12))
//!
//! ```text
//! P(L ≤ x) = Φ( (√(1 − ρ) Φ⁻¹(x / ℓ) − Φ⁻¹(p)) / √ρ ),   0 < x < ℓ,
//! VaR_q    = ℓ Φ( (Φ⁻¹(p) + √ρ Φ⁻¹(q)) / √(1 − ρ) ),
//! ES_q     = (1 / (1 − q)) ∫_{y_q}^∞ ℓ Φ((Φ⁻¹(p) + √ρ y) / √(1 − ρ)) φ(y) dy,   y_q = Φ⁻¹(q),
//! ```
//!
//! and a tranche `[a, d]` has expected loss `E[min((L − a)⁺, d − a)] = ∫ min((ℓ p(z) − a)⁺, d − a) φ(z) dz`.
//! The integrals are taken by composite Simpson's rule on pieces split where the integrand has
//! a kink (where `ℓ p(z)` crosses `a` or `d`), so the error is far below `1e-10`.

use super::normal;

/// A large homogeneous pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lhp {
    /// Default probability by the horizon, in `(0, 1)`.
    pub pd: f64,
    /// Asset correlation, in `(0, 1)`.
    pub rho: f64,
    /// Loss given default as a fraction of the pool notional, `> 0`.
    pub lgd: f64,
}

fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, intervals: usize) -> f64 {
    if b <= a {
        return 0.0;
    }
    let m = intervals.max(2) & !1;
    let h = (b - a) / m as f64;
    let mut s = f(a) + f(b);
    for i in 1..m {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + h * i as f64);
    }
    s * h / 3.0
}

impl Lhp {
    fn c(&self) -> f64 {
        normal::inverse(self.pd)
    }

    /// The conditional loss fraction `ℓ p(z)`.
    pub fn conditional_loss(&self, z: f64) -> f64 {
        self.lgd * normal::cdf((self.c() - self.rho.sqrt() * z) / (1.0 - self.rho).sqrt())
    }

    /// Expected loss fraction `ℓ p`.
    pub fn mean(&self) -> f64 {
        self.lgd * self.pd
    }

    /// `P(L ≤ x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x >= self.lgd {
            return 1.0;
        }
        normal::cdf(((1.0 - self.rho).sqrt() * normal::inverse(x / self.lgd) - self.c()) / self.rho.sqrt())
    }

    /// `VaR_q`.
    pub fn quantile(&self, q: f64) -> f64 {
        self.lgd * normal::cdf((self.c() + self.rho.sqrt() * normal::inverse(q)) / (1.0 - self.rho).sqrt())
    }

    /// `ES_q`.
    pub fn expected_shortfall(&self, q: f64) -> f64 {
        let yq = normal::inverse(q);
        let f = |y: f64| self.conditional_loss(-y) * normal::pdf(y);
        simpson(f, yq, yq.max(0.0) + 40.0, 40_000) / (1.0 - q)
    }

    /// The factor value where `ℓ p(z) = x` (`p(z)` decreases in `z`).
    fn z_at(&self, x: f64) -> f64 {
        (self.c() - (1.0 - self.rho).sqrt() * normal::inverse(x / self.lgd)) / self.rho.sqrt()
    }

    /// `E[min((L − a)⁺, d − a)]`, `a ≤ d` fractions of the pool.
    pub fn tranche_expected_loss(&self, attach: f64, detach: f64) -> f64 {
        let width = detach - attach;
        if width <= 0.0 || attach >= self.lgd {
            return 0.0;
        }
        let f = |z: f64| (self.conditional_loss(z) - attach).clamp(0.0, width) * normal::pdf(z);
        // L(z) > a for z < z_a; L(z) >= d for z < z_d (z_d < z_a).
        let (lo, hi) = (-40.0, 40.0);
        let za = if attach > 0.0 {
            self.z_at(attach).clamp(lo, hi)
        } else {
            hi
        };
        let zd = if detach < self.lgd {
            self.z_at(detach).clamp(lo, za)
        } else {
            lo
        };
        // On (lo, zd) the integrand is width · φ(z): exactly width · Φ(zd).
        width * normal::cdf(zd) + simpson(f, zd, za, 40_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_inverts_cdf_and_mean_is_pl() {
        let l = Lhp {
            pd: 0.02,
            rho: 0.15,
            lgd: 0.6,
        };
        for q in [0.5, 0.9, 0.99, 0.999] {
            let x = l.quantile(q);
            assert!((l.cdf(x) - q).abs() < 1e-13, "q {q}: {}", l.cdf(x));
        }
        // The whole tranche [0, 1] is the expected loss.
        assert!((l.tranche_expected_loss(0.0, 1.0) - l.mean()).abs() < 1e-12);
        // Tranches add up.
        let parts: f64 = [(0.0, 0.03), (0.03, 0.07), (0.07, 0.15), (0.15, 1.0)]
            .iter()
            .map(|&(a, d)| l.tranche_expected_loss(a, d))
            .sum();
        assert!((parts - l.mean()).abs() < 1e-12);
        // ES at q = 0 is the mean.
        assert!((l.expected_shortfall(1e-15) - l.mean()).abs() < 1e-10);
        assert!(l.expected_shortfall(0.99) > l.quantile(0.99));
    }
}

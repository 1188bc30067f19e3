//! Quadrature rules for the expectations over the copula's common variables.
//!
//! * **Gauss–Hermite** for a standard normal factor: nodes `x_k` and weights `w_k` with
//!   `E[f(Z)] ≈ Σ w_k f(x_k)`, `Z ~ N(0, 1)` (the probabilists' weight `φ(x)`). Computed by the
//!   Golub–Welsch algorithm (Golub & Welsch 1969): the nodes are the eigenvalues of the symmetric
//!   tridiagonal Jacobi matrix of the monic Hermite recurrence `He_{k+1} = x He_k − k He_{k−1}`,
//!   i.e. zero diagonal and off-diagonal `sqrt(k)`, `k = 1 .. n−1`; the weights are the squared
//!   first components of the normalised eigenvectors (the weight function has total mass 1). The
//!   rule is exact for polynomials of degree `≤ 2n − 1`.
//! * **The chi-square mixing variable** of the Student-t copula, `W ~ chi2(ν)`: the trapezoid rule
//!   in `u = ln(W / 2)`. With `W = 2 e^u`, `u` has density `exp((ν/2) u − e^u) / Γ(ν/2)`, smooth on
//!   the whole line and decaying exponentially to the left and doubly exponentially to the right;
//!   for an integrand analytic in a strip the trapezoid rule converges geometrically in the
//!   number of nodes (Trefethen & Weideman 2014, *SIAM Review* 56(3), §5). The weights are
//!   normalised to sum to exactly 1 (the raw sum differs from 1 by less than `1e-14` for the
//!   default node counts; the unit test checks it).

use nalgebra::{DMatrix, SymmetricEigen};
use statrs::function::gamma::ln_gamma;

/// A one-dimensional rule: `E[f(X)] ≈ Σ weights[k] f(nodes[k])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub nodes: Vec<f64>,
    /// Positive, summing to 1.
    pub weights: Vec<f64>,
}

impl Rule {
    /// The one-point rule at `x` (a variable that is not random).
    pub fn point(x: f64) -> Rule {
        Rule {
            nodes: vec![x],
            weights: vec![1.0],
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the rule has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// The `n`-point Gauss–Hermite rule for `Z ~ N(0, 1)` (Golub–Welsch), nodes ascending.
///
/// Weights below `1e-300` (far tails of large rules) are dropped together with their nodes.
pub fn gauss_hermite(n: usize) -> Rule {
    if n <= 1 {
        return Rule::point(0.0);
    }
    let mut j = DMatrix::<f64>::zeros(n, n);
    for k in 1..n {
        let b = (k as f64).sqrt();
        j[(k, k - 1)] = b;
        j[(k - 1, k)] = b;
    }
    let eig = SymmetricEigen::new(j);
    let mut pairs: Vec<(f64, f64)> = (0..n)
        .map(|k| (eig.eigenvalues[k], eig.eigenvectors[(0, k)].powi(2)))
        .collect();
    // Symmetrise: the rule is symmetric in exact arithmetic, and a symmetric rule integrates
    // odd functions to exactly 0.
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let sym: Vec<(f64, f64)> = (0..n)
        .map(|k| {
            let (x, w) = pairs[k];
            let (y, v) = pairs[n - 1 - k];
            (0.5 * (x - y), 0.5 * (w + v))
        })
        .collect();
    let total: f64 = sym.iter().map(|p| p.1).sum();
    let (nodes, weights) = sym
        .into_iter()
        .filter(|&(_, w)| w > 1e-300)
        .map(|(x, w)| (x, w / total))
        .unzip();
    Rule { nodes, weights }
}

/// The trapezoid rule for `Z ~ N(0, 1)` with step `h` on `[-8.5, 8.5]` (the normal density
/// beyond is below `1e-16`), weights `h φ(x_k)` normalised to sum to 1. Its accuracy for
/// integrands analytic in a strip is geometric in `1 / h`, like Gauss–Hermite, but its spacing is
/// chosen directly: the Gauss–Hermite spacing near the centre shrinks only like `π / sqrt(n)`, so
/// resolving a sharply peaked conditional distribution (a large pool) would need `(π / h)^2` nodes.
pub fn normal_trapezoid(h: f64) -> Rule {
    let half = (8.5 / h).ceil() as i64;
    let (nodes, raw): (Vec<f64>, Vec<f64>) = (-half..=half)
        .map(|k| {
            let x = k as f64 * h;
            (x, (-0.5 * x * x).exp())
        })
        .unzip();
    let total: f64 = raw.iter().sum();
    Rule {
        nodes,
        weights: raw.iter().map(|w| w / total).collect(),
    }
}

/// Largest trapezoid step in `u = ln(W / 2)`: the integrands are analytic in the strip
/// `|Im u| < π/2`, so the error is of order `exp(−π² / h)` (below `1e-21` at `h = 0.2`).
pub const MAX_STEP: f64 = 0.2;

/// The rule for the Student-t scale `s = sqrt(W / ν)`, `W ~ chi2(ν)`: at least `n` trapezoid nodes (and steps of at most [`MAX_STEP`]) in
/// `u = ln(W / 2)` over the range where the density of `u` exceeds `1e-17` of its peak (see the
/// module docs). Returns nodes `s_k` and weights summing to 1.
pub fn chi_square_scale(nu: f64, n: usize) -> Rule {
    chi_square_scale_with(nu, n, MAX_STEP)
}

/// [`chi_square_scale`] with steps of at most `max_step` (capped at [`MAX_STEP`]).
pub fn chi_square_scale_with(nu: f64, n: usize, max_step: f64) -> Rule {
    let (nodes, raw) = chi_square_scale_raw(nu, n, max_step.min(MAX_STEP));
    let total: f64 = raw.iter().sum();
    Rule {
        nodes,
        weights: raw.iter().map(|w| w / total).collect(),
    }
}

/// The nodes `s_k` and the raw trapezoid weights `h · density(u_k)` of [`chi_square_scale`].
fn chi_square_scale_raw(nu: f64, n: usize, max_step: f64) -> (Vec<f64>, Vec<f64>) {
    let a = 0.5 * nu; // u has density exp(a u - e^u) / Γ(a), peak at u = ln a.
    let log_density = |u: f64| a * u - u.exp() - ln_gamma(a);
    let peak = log_density(a.ln());
    let cut = peak - 17.0 * std::f64::consts::LN_10;
    // The ends of the range, by bisection on the exact log density (rising to the left of the
    // peak, falling to its right).
    let solve = |mut lo: f64, mut hi: f64, rising: bool| {
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if (log_density(mid) > cut) == rising {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let left = solve(a.ln() - 50.0 / a.min(1.0) - 50.0, a.ln(), true);
    let right = solve(a.ln(), a.ln() + 10.0, false);
    let n = n.max(2).max(((right - left) / max_step).ceil() as usize + 1);
    let h = (right - left) / (n - 1) as f64;
    (0..n)
        .map(|k| {
            let u = left + h * k as f64;
            ((2.0 * u.exp() / nu).sqrt(), h * log_density(u).exp())
        })
        .unzip()
}

/// The raw total weight of [`chi_square_scale`] before normalisation: how far the trapezoid
/// rule is from integrating the density to 1.
pub fn chi_square_scale_raw_mass(nu: f64, n: usize) -> f64 {
    chi_square_scale_raw(nu, n, MAX_STEP).1.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytic::normal;
    use statrs::distribution::{ContinuousCDF, StudentsT};

    /// E[Z^(2k)] = (2k - 1)!!.
    #[test]
    fn gauss_hermite_integrates_normal_moments() {
        for n in [2usize, 5, 16, 64] {
            let r = gauss_hermite(n);
            assert!((r.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
            let mut double_factorial = 1.0;
            for k in 1..n.min(12) {
                // degree 2k <= 2n - 1
                double_factorial *= (2 * k - 1) as f64;
                let m: f64 = r
                    .nodes
                    .iter()
                    .zip(&r.weights)
                    .map(|(x, w)| w * x.powi(2 * k as i32))
                    .sum();
                assert!(
                    (m - double_factorial).abs() <= 1e-11 * double_factorial,
                    "n {n}, E[Z^{}] = {m}, expected {double_factorial}",
                    2 * k
                );
            }
        }
    }

    #[test]
    fn two_point_rule_is_plus_minus_one() {
        let r = gauss_hermite(2);
        assert!((r.nodes[0] + 1.0).abs() < 1e-15 && (r.nodes[1] - 1.0).abs() < 1e-15);
        assert!((r.weights[0] - 0.5).abs() < 1e-15);
    }

    /// E[Phi((c - sqrt(rho) Z) / sqrt(1 - rho))] = Phi(c): the one-factor model keeps its
    /// marginal default probability.
    #[test]
    fn gauss_hermite_recovers_the_marginal_default_probability() {
        let r = gauss_hermite(64);
        for (p, rho) in [(0.01, 0.3), (0.001, 0.2), (0.1, 0.05), (0.05, 0.5)] {
            let c = normal::inverse(p);
            let got: f64 = r
                .nodes
                .iter()
                .zip(&r.weights)
                .map(|(z, w)| w * normal::cdf((c - f64::sqrt(rho) * z) / f64::sqrt(1.0 - rho)))
                .sum();
            let want = p;
            assert!(
                (got - want).abs() < 1e-13 * want,
                "p {p} rho {rho}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn chi_square_rule_has_unit_mass_and_the_right_moments() {
        for nu in [1.0, 3.0, 5.0, 12.0, 40.0] {
            let raw = chi_square_scale_raw_mass(nu, 96);
            assert!((raw - 1.0).abs() < 1e-13, "nu {nu}: raw mass {raw}");
            let r = chi_square_scale(nu, 96);
            // E[s^2] = E[W] / nu = 1 and E[s^4] = E[W^2] / nu^2 = (nu^2 + 2 nu) / nu^2.
            let m2: f64 = r.nodes.iter().zip(&r.weights).map(|(s, w)| w * s * s).sum();
            let m4: f64 = r.nodes.iter().zip(&r.weights).map(|(s, w)| w * s.powi(4)).sum();
            assert!((m2 - 1.0).abs() < 1e-12, "nu {nu}: E[s^2] {m2}");
            assert!((m4 - (1.0 + 2.0 / nu)).abs() < 1e-12, "nu {nu}: E[s^4] {m4}");
        }
    }

    /// The t marginal: P(Z / s <= t) = E[Phi(t s)] equals the Student-t CDF.
    #[test]
    fn mixing_rule_reproduces_the_student_t_cdf() {
        for nu in [3.0, 5.0, 10.0] {
            let t = StudentsT::new(0.0, 1.0, nu).unwrap();
            let r = chi_square_scale(nu, 96);
            for x in [-6.0, -3.0, -1.0, 0.5, 2.0] {
                let got: f64 = r
                    .nodes
                    .iter()
                    .zip(&r.weights)
                    .map(|(s, w)| w * normal::cdf(x * s))
                    .sum();
                let want = t.cdf(x);
                assert!(
                    (got - want).abs() < 1e-12 * want.max(1e-3),
                    "nu {nu}, x {x}: {got} vs {want}"
                );
            }
        }
    }
}

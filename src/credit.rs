//! The credit model: sector factors, the copula's marginal, and default-time thresholds.
//!
//! A firm's latent variable is `X_i = sqrt(rho_i) Z_s(i) + sqrt(1 - rho_i) eps_i` with sector
//! factors `Z ~ N(0, C)`. Under the Student-t copula the latent used is `Y_i = X_i / sqrt(W / nu)`
//! with one `W ~ chi2(nu)` per path; under the Gaussian copula `Y_i = X_i`. With `F` the marginal
//! CDF of `Y` (`Phi`, or Student-t with `nu` degrees of freedom) the default time is
//!
//! ```text
//! tau_i = -ln(1 - F(Y_i)) / h_i,   so   P(tau_i <= t) = 1 - exp(-h_i t).
//! ```
//!
//! Periods are right-closed, so the firm defaults in period `k` (of `1/m` years) iff
//! `(k-1)/m < tau_i <= k/m`. Because `tau` is increasing in `F(Y)`, "defaulted by the end of period
//! `k`" is the single comparison `Y_i <= T_{i,k}` with the precomputed threshold
//! `T_{i,k} = F^-1(1 - exp(-h_i k / m))`; the hot loop compares, and computes `tau` itself only for
//! the firms that default (for the patent-value shock).

use nalgebra::{DMatrix, SymmetricEigen};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::model::{Copula, Deal};

/// The loading matrix `A` with `A A^T = C`: sector factors are `Z = A z`, `z ~ N(0, I)`.
///
/// Plain Cholesky (lower triangular) when `C` is positive definite; for a singular positive
/// semi-definite `C` (e.g. a correlation of 1) the symmetric eigen-decomposition
/// `A = V diag(sqrt(max(lambda, 0)))`.
#[derive(Debug, Clone, PartialEq)]
pub struct SectorLoadings {
    sectors: usize,
    /// Row-major `sectors x sectors`.
    a: Vec<f64>,
    /// With at most [`SMALL_SECTORS`] sectors, column `j` of `A` padded with zeros: what
    /// [`SectorLoadings::apply`] reads (empty otherwise).
    columns: Vec<[f64; SMALL_SECTORS]>,
}

/// Up to this many sectors, [`SectorLoadings::apply`] works on fixed-size columns.
const SMALL_SECTORS: usize = 8;

impl SectorLoadings {
    /// Factors the row-major correlation matrix `corr` of `sectors` sectors (already validated as
    /// symmetric and positive semi-definite).
    pub fn new(corr: &[f64], sectors: usize) -> Self {
        let c = DMatrix::from_row_slice(sectors, sectors, corr);
        let a = match c.clone().cholesky() {
            Some(ch) => ch.l(),
            None => {
                let eig = SymmetricEigen::new(c);
                let mut v = eig.eigenvectors;
                for (j, lambda) in eig.eigenvalues.iter().enumerate() {
                    let s = lambda.max(0.0).sqrt();
                    v.column_mut(j).scale_mut(s);
                }
                v
            }
        };
        let mut rows = Vec::with_capacity(sectors * sectors);
        for i in 0..sectors {
            for j in 0..sectors {
                rows.push(a[(i, j)]);
            }
        }
        let columns = if sectors <= SMALL_SECTORS {
            (0..sectors)
                .map(|j| {
                    let mut col = [0.0; SMALL_SECTORS];
                    for (i, c) in col.iter_mut().enumerate().take(sectors) {
                        *c = rows[i * sectors + j];
                    }
                    col
                })
                .collect()
        } else {
            Vec::new()
        };
        SectorLoadings {
            sectors,
            a: rows,
            columns,
        }
    }

    /// Number of sectors.
    pub fn sectors(&self) -> usize {
        self.sectors
    }

    /// The length of an `out` buffer for [`SectorLoadings::apply`] that it fills fastest: the
    /// sectors, padded to [`SMALL_SECTORS`] when there are fewer (one fixed-size copy then).
    pub fn factors_len(&self) -> usize {
        if self.sectors <= SMALL_SECTORS {
            SMALL_SECTORS
        } else {
            self.sectors
        }
    }

    /// `out = A z`: `out_i = sum_j a_ij z_j`, summed over `j = 0, 1, ..` from `-0.0` (as
    /// `Iterator::sum` does). With few sectors the sums are built column by column, all rows at
    /// once in fixed-size arrays (the same additions in the same order for each `out_i`); an
    /// `out` longer than the sectors gets padding after them (zeros up to sign).
    #[inline]
    pub fn apply(&self, z: &[f64], out: &mut [f64]) {
        if self.sectors <= SMALL_SECTORS {
            match out.first_chunk_mut::<SMALL_SECTORS>() {
                Some(sums) => self.column_sums(z, sums),
                None => {
                    let mut sums = [0.0; SMALL_SECTORS];
                    self.column_sums(z, &mut sums);
                    out.iter_mut().zip(&sums).for_each(|(o, s)| *o = *s);
                }
            }
            return;
        }
        for (o, row) in out.iter_mut().zip(self.a.chunks_exact(self.sectors)) {
            *o = row.iter().zip(z).map(|(a, z)| a * z).sum();
        }
    }

    /// `A z` with at most [`SMALL_SECTORS`] sectors, built column by column in `sums` (padded).
    #[inline(always)]
    fn column_sums(&self, z: &[f64], sums: &mut [f64; SMALL_SECTORS]) {
        *sums = [-0.0; SMALL_SECTORS];
        for (col, zj) in self.columns.iter().zip(z) {
            for (s, a) in sums.iter_mut().zip(col) {
                *s += a * zj;
            }
        }
    }

    /// Entry `(i, j)` of `A`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.a[i * self.sectors + j]
    }
}

/// The marginal distribution `F` of the latent variable `Y`.
#[derive(Debug, Clone)]
pub enum Marginal {
    /// `Phi`.
    Gaussian,
    /// Student-t with `nu` degrees of freedom.
    StudentT(StudentsT),
}

impl Marginal {
    /// The marginal of the copula.
    pub fn of(copula: Copula) -> Self {
        match copula {
            Copula::Gaussian => Marginal::Gaussian,
            Copula::StudentT { dof } => match StudentsT::new(0.0, 1.0, dof) {
                Ok(t) => Marginal::StudentT(t),
                // dof > 0 is validated; keep a total function anyway.
                Err(_) => Marginal::Gaussian,
            },
        }
    }

    /// `F^-1(p)`, with `-inf` at `p <= 0` and `+inf` at `p >= 1`.
    pub fn inverse(&self, p: f64) -> f64 {
        if p <= 0.0 {
            return f64::NEG_INFINITY;
        }
        if p >= 1.0 {
            return f64::INFINITY;
        }
        match self {
            Marginal::Gaussian => Normal::standard().inverse_cdf(p),
            Marginal::StudentT(t) => t.inverse_cdf(p),
        }
    }

    /// The lower tail `F(y)`, computed as the upper tail of `-y` (both marginals are symmetric)
    /// so that small probabilities keep their relative precision.
    pub fn cdf(&self, y: f64) -> f64 {
        match self {
            Marginal::Gaussian => Normal::standard().cdf(y),
            Marginal::StudentT(t) => t.cdf(y),
        }
    }

    /// `1 - F(y)` without cancellation.
    pub fn sf(&self, y: f64) -> f64 {
        self.cdf(-y)
    }
}

/// Probability of default by time `t` years at annual hazard `h`: `1 - exp(-h t)`.
#[inline]
pub fn default_probability(h: f64, t: f64) -> f64 {
    if h.is_infinite() {
        return 1.0;
    }
    -(-h * t).exp_m1()
}

/// The thresholds `T_k = F^-1(1 - exp(-h k / m))` for `k = 1..=T`: defaulted by the end of
/// period `k` iff `Y <= T_k`.
pub fn default_thresholds(hazard: f64, deal: &Deal, marginal: &Marginal) -> Vec<f64> {
    (1..=deal.term_periods)
        .map(|k| {
            let t = f64::from(k) / f64::from(deal.periods_per_year);
            marginal.inverse(default_probability(hazard, t))
        })
        .collect()
}

/// The default period (1-based) of a latent `y` against increasing thresholds, or 0 for no
/// default within the term: the first `k` with `y <= T_k`.
#[inline]
pub fn default_period(y: f64, thresholds: &[f64]) -> u32 {
    // Callers test the last threshold first; this scan runs for defaulters only.
    for (k, t) in thresholds.iter().enumerate() {
        if y <= *t {
            return k as u32 + 1;
        }
    }
    0
}

/// The default time in years of a defaulted latent `y`: `tau = -ln(1 - F(y)) / h`, clamped into
/// its default period `((d-1)/m, d/m]` so that the time and the period agree to the last bit.
pub fn default_time(y: f64, hazard: f64, period: u32, deal: &Deal, marginal: &Marginal) -> f64 {
    let m = f64::from(deal.periods_per_year);
    let lo = f64::from(period - 1) / m;
    let hi = f64::from(period) / m;
    if hazard <= 0.0 || !hazard.is_finite() {
        return hi.min(lo.max(0.0));
    }
    let tau = -marginal.sf(y).ln() / hazard;
    tau.clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(m: u32, t: u32) -> Deal {
        Deal {
            periods_per_year: m,
            term_periods: t,
        }
    }

    #[test]
    fn loadings_reproduce_the_matrix() {
        let c = [1.0, 0.5, 0.3, 0.5, 1.0, 0.2, 0.3, 0.2, 1.0];
        let l = SectorLoadings::new(&c, 3);
        for i in 0..3 {
            for j in 0..3 {
                let cij: f64 = (0..3).map(|k| l.get(i, k) * l.get(j, k)).sum();
                assert!((cij - c[i * 3 + j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn singular_matrix_is_factored_by_eigen() {
        // Perfect correlation: every sector carries the same factor.
        let c = [1.0; 9];
        let l = SectorLoadings::new(&c, 3);
        let mut out = [0.0; 3];
        l.apply(&[0.3, -1.2, 0.7], &mut out);
        assert!((out[0] - out[1]).abs() < 1e-12 && (out[1] - out[2]).abs() < 1e-12);
        // Variance one: A A^T diagonal.
        let v: f64 = (0..3).map(|k| l.get(0, k).powi(2)).sum();
        assert!((v - 1.0).abs() < 1e-12);
    }

    #[test]
    fn gaussian_one_year_threshold_is_probit_of_pd() {
        // annual_pd 1% -> h = -ln(0.99); after four quarters P = 1 - 0.99 = 0.01, and
        // Phi^-1(0.01) = -2.326347874040841 (standard tables).
        let h = -(0.99f64).ln();
        let th = default_thresholds(h, &deal(4, 4), &Marginal::Gaussian);
        assert!((th[3] - (-2.326_347_874_040_841)).abs() < 1e-9);
        assert!(th.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn student_t_threshold_matches_table() {
        // t with 5 dof: the 1% quantile is -3.364929997 (standard tables).
        let m = Marginal::of(Copula::StudentT { dof: 5.0 });
        assert!((m.inverse(0.01) - (-3.364_929_997)).abs() < 1e-6);
    }

    #[test]
    fn zero_hazard_never_defaults_and_period_is_right_closed() {
        let th = default_thresholds(0.0, &deal(4, 4), &Marginal::Gaussian);
        assert!(th.iter().all(|t| *t == f64::NEG_INFINITY));
        assert_eq!(default_period(-50.0, &th), 0);
        // A latent exactly on a threshold belongs to that period.
        let th = [-1.0, 0.0, 1.0];
        assert_eq!(default_period(0.0, &th), 2);
        assert_eq!(default_period(1.0000001, &th), 0);
    }

    #[test]
    fn default_time_inverts_the_cdf() {
        // tau = -ln(1 - Phi(y)) / h; at y = 0, Phi = 0.5 -> tau = ln 2 / h.
        let h = 2.0;
        let d = deal(1, 1);
        let tau = default_time(0.0, h, 1, &d, &Marginal::Gaussian);
        assert!((tau - std::f64::consts::LN_2 / h).abs() < 1e-12);
    }
}

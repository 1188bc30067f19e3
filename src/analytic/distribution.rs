//! Statistics of a distribution on a lattice `{0, u, 2u, …}`, with the same definitions as the
//! Monte Carlo statistics in the limit of infinitely many paths.
//!
//! With `F` the CDF and `p_j = P(X = j u)`:
//! * `VaR_q = min { x : F(x) ≥ q − 1e-12 }` — the limit of `x(ceil(q n))`; the `1e-12` absorbs
//!   the rounding of the summed probabilities so that an atom ending exactly at `q` is found;
//! * `ES_q = ( E[X 1{X > VaR_q}] + VaR_q (F(VaR_q) − q) ) / (1 − q)` (Acerbi & Tasche 2002,
//!   *J. Banking & Finance* 26, Prop. 3.2) — the limit of the mean of the largest
//!   `ceil((1 − q) n)` samples, atoms included;
//! * a tranche `[a, d]` of the loss has expected loss `E[min((X − a)⁺, d − a)]`.

use crate::stats::{ES_LEVEL, QUANTILE_LEVELS};

/// Slack on `F(x) ≥ q` (see the module docs).
pub const CDF_SLACK: f64 = 1e-12;

/// A probability distribution on `{0, u, 2u, …}`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatticeDistribution {
    /// Lattice unit.
    pub unit: f64,
    /// `pmf[j] = P(X = j · unit)`.
    pub pmf: Vec<f64>,
}

/// A decimal level string as `f64`.
pub fn level(q: &str) -> f64 {
    q.parse().unwrap_or(f64::NAN)
}

impl LatticeDistribution {
    /// The distribution `pmf` on the lattice of unit `unit`.
    pub fn new(unit: f64, pmf: Vec<f64>) -> Self {
        LatticeDistribution { unit, pmf }
    }

    /// The value of lattice point `j`.
    pub fn value(&self, j: usize) -> f64 {
        j as f64 * self.unit
    }

    /// `Σ p_j` (1 up to rounding).
    pub fn total(&self) -> f64 {
        crate::stats::compensated_sum(&self.pmf)
    }

    /// `E[X]`.
    pub fn mean(&self) -> f64 {
        let terms: Vec<f64> = self
            .pmf
            .iter()
            .enumerate()
            .map(|(j, p)| p * self.value(j))
            .collect();
        crate::stats::compensated_sum(&terms)
    }

    /// `sqrt(Var X)`.
    pub fn std(&self) -> f64 {
        let m = self.mean();
        let terms: Vec<f64> = self
            .pmf
            .iter()
            .enumerate()
            .map(|(j, p)| p * (self.value(j) - m).powi(2))
            .collect();
        crate::stats::compensated_sum(&terms).max(0.0).sqrt()
    }

    /// `P(X ≤ j u)` for every `j`.
    pub fn cdf(&self) -> Vec<f64> {
        let mut acc = crate::stats::CompensatedSum::new();
        self.pmf
            .iter()
            .map(|&p| {
                acc.add(p);
                acc.total()
            })
            .collect()
    }

    /// The lattice index of `VaR_q`.
    pub fn quantile_index(&self, q: f64) -> usize {
        let cdf = self.cdf();
        cdf.iter()
            .position(|&f| f >= q - CDF_SLACK)
            .unwrap_or(self.pmf.len().saturating_sub(1))
    }

    /// `VaR_q`.
    pub fn quantile(&self, q: f64) -> f64 {
        self.value(self.quantile_index(q))
    }

    /// `ES_q` (see the module docs).
    pub fn expected_shortfall(&self, q: f64) -> f64 {
        let v = self.quantile_index(q);
        let f_v: f64 = self.cdf()[v];
        let above: Vec<f64> = self.pmf[v + 1..]
            .iter()
            .enumerate()
            .map(|(i, p)| p * self.value(v + 1 + i))
            .collect();
        let tail = crate::stats::compensated_sum(&above) + self.value(v) * (f_v - q).max(0.0);
        tail / (1.0 - q)
    }

    /// `P(X ≥ j u)` for `j = 0 ..= len`.
    pub fn at_least(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.pmf.len()];
        let mut acc = crate::stats::CompensatedSum::new();
        for j in (0..self.pmf.len()).rev() {
            acc.add(self.pmf[j]);
            out[j] = acc.total();
        }
        out
    }

    /// `E[min((X − a)⁺, d − a)]` for `0 ≤ a ≤ d`, in money.
    pub fn tranche_expected_loss(&self, attach: f64, detach: f64) -> f64 {
        let width = (detach - attach).max(0.0);
        let terms: Vec<f64> = self
            .pmf
            .iter()
            .enumerate()
            .map(|(j, p)| p * (self.value(j) - attach).clamp(0.0, width))
            .collect();
        crate::stats::compensated_sum(&terms)
    }

    /// The largest value with positive probability.
    pub fn max(&self) -> f64 {
        self.value(self.pmf.iter().rposition(|&p| p > 0.0).unwrap_or(0))
    }

    /// The reported quantiles: `(level, VaR)` for every level of [`QUANTILE_LEVELS`].
    pub fn quantiles(&self) -> Vec<(&'static str, f64)> {
        QUANTILE_LEVELS
            .iter()
            .map(|&q| (q, self.quantile(level(q))))
            .collect()
    }

    /// `ES` at the reported level [`ES_LEVEL`].
    pub fn es_99(&self) -> f64 {
        self.expected_shortfall(level(ES_LEVEL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fair die on {1..6} (unit 1): the textbook numbers.
    fn die() -> LatticeDistribution {
        let mut pmf = vec![0.0; 7];
        for p in pmf.iter_mut().skip(1) {
            *p = 1.0 / 6.0;
        }
        LatticeDistribution::new(1.0, pmf)
    }

    #[test]
    fn die_moments_and_quantiles() {
        let d = die();
        assert!((d.mean() - 3.5).abs() < 1e-15);
        // Var = 35 / 12.
        assert!((d.std() - (35.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert_eq!(d.quantile(0.5), 3.0);
        assert_eq!(d.quantile(0.51), 4.0);
        assert_eq!(d.quantile(0.99), 6.0);
        // ES_0.5 = mean of the top half = (4 + 5 + 6) / 3 = 5.
        assert!((d.expected_shortfall(0.5) - 5.0).abs() < 1e-12);
        // ES_0.9: the top 10% all sit at 6.
        assert!((d.expected_shortfall(0.9) - 6.0).abs() < 1e-12);
        // Tranche [2, 4]: E[min((X-2)+, 2)] = (0+0+1+2+2+2)/6 = 7/6.
        assert!((d.tranche_expected_loss(2.0, 4.0) - 7.0 / 6.0).abs() < 1e-15);
        assert!((d.at_least()[5] - 2.0 / 6.0).abs() < 1e-15);
    }

    /// ES at a level inside an atom: X = 0 w.p. 0.95, 10 w.p. 0.05; ES_0.9 averages the top
    /// 10%: half zeros, half tens -> 5.
    #[test]
    fn es_splits_an_atom() {
        let mut pmf = vec![0.0; 11];
        pmf[0] = 0.95;
        pmf[10] = 0.05;
        let d = LatticeDistribution::new(1.0, pmf);
        assert_eq!(d.quantile(0.9), 0.0);
        assert!((d.expected_shortfall(0.9) - 5.0).abs() < 1e-12);
    }
}

//! Monte Carlo against the exact distribution: a z-score for every comparable figure.
//!
//! * a mean (of the loss, of the number of defaults, of a loss slice):
//!   `z = (mean_MC − exact) / se_MC`, `se_MC = std / sqrt(n)`;
//! * a probability `P(defaults ≥ k)`: `z = (p̂ − p) / sqrt(p (1 − p) / n)` with the exact `p`
//!   (the binomial standard error under the hypothesis that the engine is right);
//! * `ES_0.99`: `z = (ES_MC − ES) / se`, `se` the Manistre–Hancock standard error;
//! * a quantile `VaR_q`: with `k = ceil(q n)` and the exact `x_q`, the number of samples below
//!   `x_q` is binomial(n, F(x_q−)); the MC quantile agrees with `x_q` when
//!   `#{x < x_q} < k ≤ #{x ≤ x_q}`. Otherwise `z = (k − #{x ≤ x_q}) / s` (MC above) or
//!   `z = (k − #{x < x_q} − 1) / s` (MC below), `s = sqrt(n q (1 − q))`. `|z| ≤ 1.96` is exactly
//!   "inside the 95% order-statistic interval" of [`crate::stats::order_statistic_ci`].
//!
//! Values are compared with a tolerance of the lattice rounding bound plus `1e-9` of the pool
//! notional (the engine adds money in `f64`).

use super::Analytic;
use super::distribution::level;
use crate::stats::{Distribution, ES_LEVEL, QUANTILE_LEVELS};

/// `|z|` above this is reported as a warning.
pub const WARN_Z: f64 = 4.0;

/// One compared figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// e.g. `gross_default_loss.quantiles.0.99`.
    pub metric: String,
    pub monte_carlo: f64,
    pub exact: f64,
    /// The MC standard error (means, probabilities, ES); for a quantile, the half-width of its
    /// 95% order-statistic interval over 1.96 (a standard error in money).
    pub se: f64,
    pub z: f64,
}

impl Row {
    /// Whether `|z| > WARN_Z`.
    pub fn warns(&self) -> bool {
        self.z.abs() > WARN_Z
    }
}

fn z_of(diff: f64, se: f64, tol: f64) -> f64 {
    if diff.abs() <= tol {
        0.0
    } else if se > 0.0 {
        diff / se
    } else {
        f64::INFINITY.copysign(diff)
    }
}

/// The rank z-score of the exact quantile `x` among `sorted` samples at level `q` (module docs).
pub fn quantile_z(sorted: &[f64], q: &str, x: f64, tol: f64) -> f64 {
    let n = sorted.len() as u64;
    if n == 0 {
        return 0.0;
    }
    let k = crate::stats::ceil_fraction_of(q, n).clamp(1, n);
    let below = sorted.partition_point(|&v| v < x - tol) as u64;
    let at_most = sorted.partition_point(|&v| v <= x + tol) as u64;
    let qf = level(q);
    let s = (n as f64 * qf * (1.0 - qf)).sqrt().max(0.5);
    if below < k && k <= at_most {
        0.0
    } else if k > at_most {
        (k - at_most) as f64 / s
    } else {
        -((below + 1 - k) as f64) / s
    }
}

fn distribution_rows(
    rows: &mut Vec<Row>,
    name: &str,
    sorted: &[f64],
    d: &Distribution,
    exact: &super::LatticeDistribution,
    tol: f64,
) {
    rows.push(Row {
        metric: format!("{name}.mean"),
        monte_carlo: d.mean,
        exact: exact.mean(),
        se: d.se_mean,
        z: z_of(d.mean - exact.mean(), d.se_mean, tol),
    });
    for (&q, &(_, lo, hi)) in QUANTILE_LEVELS.iter().zip(&d.quantiles_ci) {
        let x = exact.quantile(level(q));
        rows.push(Row {
            metric: format!("{name}.quantiles.{q}"),
            monte_carlo: d.quantile(q).unwrap_or(0.0),
            exact: x,
            se: (hi - lo) / (2.0 * crate::stats::Z_95),
            z: quantile_z(sorted, q, x, tol),
        });
    }
    let es = exact.expected_shortfall(level(ES_LEVEL));
    rows.push(Row {
        metric: format!("{name}.es_0.99"),
        monte_carlo: d.es_99,
        exact: es,
        se: d.es_99_se,
        z: z_of(d.es_99 - es, d.es_99_se, tol),
    });
}

/// Compares the per-path `gross` losses and `defaults` of a run (any order) with `a`.
pub fn compare(a: &Analytic, gross: &[f64], defaults: &[f64]) -> Vec<Row> {
    let n = gross.len();
    let tol = a.solved.rounding_bound + 1e-9 * a.pool_notional.max(1.0);
    let mut rows = Vec::new();
    let mut g = gross.to_vec();
    let dg = Distribution::from_samples(&mut g);
    distribution_rows(&mut rows, "gross_default_loss", &g, &dg, &a.gross, tol);
    let mut d = defaults.to_vec();
    let dd = Distribution::from_samples(&mut d);
    distribution_rows(&mut rows, "defaults", &d, &dd, &a.defaults, 1e-9);

    // P(defaults >= k) for k = 1 up to the exact 99.9% quantile (at least k = 1).
    let at_least = a.defaults.at_least();
    let top = a
        .defaults
        .quantile_index(0.999)
        .max(1)
        .min(at_least.len().saturating_sub(1));
    for (k, &p) in at_least.iter().enumerate().take(top + 1).skip(1) {
        let count = d.len() - d.partition_point(|&x| x < k as f64 - 0.5);
        let phat = count as f64 / n.max(1) as f64;
        let se = (p * (1.0 - p) / n.max(1) as f64).sqrt();
        rows.push(Row {
            metric: format!("p_defaults_at_least.{k}"),
            monte_carlo: phat,
            exact: p,
            se,
            z: z_of(phat - p, se, 1e-15),
        });
    }

    for s in &a.slices {
        let width = s.detach - s.attach;
        let mut slice: Vec<f64> = gross.iter().map(|&x| (x - s.attach).clamp(0.0, width)).collect();
        let ds = Distribution::from_samples(&mut slice);
        rows.push(Row {
            metric: format!("tranche[{}].expected_loss", s.name),
            monte_carlo: ds.mean,
            exact: s.expected_loss,
            se: ds.se_mean,
            z: z_of(ds.mean - s.expected_loss, ds.se_mean, tol),
        });
    }
    rows
}

//! `analytic.json` and the table `ipabs analytic` prints: the exact distributions of
//! [`crate::analytic`] in the shape of `summary.json`.
//!
//! Distributions carry `mean`, `std`, `quantiles` (`VaR_q = min{x : F(x) ≥ q}`), `es_0.99`,
//! `min` and `max`, like `summary.json` (no standard errors: nothing here is sampled).
//! `p_defaults_at_least[k]` is `P(defaults ≥ k)`, `k = 0 ..= firms`. Tranche figures are slices
//! `[attach, detach]` (money) of the gross default loss; `expected_loss_frac` is over the slice
//! width.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::table::{grouped, percent};
use crate::analytic::{Analytic, LatticeDistribution, Lhp};
use crate::stats::QUANTILE_LEVELS;

/// An exact distribution as written to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExactJson {
    pub mean: f64,
    pub std: f64,
    pub quantiles: BTreeMap<&'static str, f64>,
    #[serde(rename = "es_0.99")]
    pub es_99: f64,
    pub min: f64,
    pub max: f64,
}

impl ExactJson {
    fn of(d: &LatticeDistribution, scale: f64) -> Self {
        let min = d.pmf.iter().position(|&p| p > 0.0).map_or(0.0, |j| d.value(j));
        ExactJson {
            mean: d.mean() / scale,
            std: d.std() / scale,
            quantiles: d.quantiles().into_iter().map(|(q, v)| (q, v / scale)).collect(),
            es_99: d.es_99() / scale,
            min: min / scale,
            max: d.max() / scale,
        }
    }
}

/// A loss slice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceJson {
    pub name: String,
    pub attach: f64,
    pub detach: f64,
    pub expected_loss: f64,
    pub expected_loss_frac: f64,
    pub lhp_expected_loss: Option<f64>,
}

/// The Vasicek limit, in fractions of the pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LhpJson {
    pub pd: f64,
    pub rho: f64,
    pub lgd_frac: f64,
    pub mean_frac: f64,
    pub quantiles_frac: BTreeMap<&'static str, f64>,
    #[serde(rename = "es_0.99_frac")]
    pub es_99_frac: f64,
}

impl From<&Lhp> for LhpJson {
    fn from(l: &Lhp) -> Self {
        LhpJson {
            pd: l.pd,
            rho: l.rho,
            lgd_frac: l.lgd,
            mean_frac: l.mean(),
            quantiles_frac: QUANTILE_LEVELS
                .iter()
                .map(|&q| (q, l.quantile(crate::analytic::distribution::level(q))))
                .collect(),
            es_99_frac: l.expected_shortfall(0.99),
        }
    }
}

/// Lattice and quadrature facts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodJson {
    pub lattice_unit: f64,
    pub lattice_exact: bool,
    /// Largest difference between a path's lattice loss and its true loss (money).
    pub rounding_bound: f64,
    pub factor_dims: usize,
    /// `"gauss-hermite"`, or `"trapezoid"` where a large pool needs finer spacing.
    pub factor_rule: &'static str,
    pub nodes_per_factor: usize,
    pub mixing_nodes: usize,
    pub quadrature_nodes: usize,
    /// `Σ P(L = x)`, 1 up to rounding.
    pub total_probability: f64,
}

/// The whole of `analytic.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticJson {
    pub scenario: String,
    pub currency: String,
    pub pool_notional: f64,
    pub method: MethodJson,
    /// `Σ_i E[L_i]` from the marginals alone.
    pub expected_loss_exact: f64,
    pub gross_default_loss: ExactJson,
    pub gross_default_loss_frac: ExactJson,
    /// The gross loss again when there are no guarantor tiers (then they are equal); else `null`.
    pub pool_loss: Option<ExactJson>,
    pub pool_loss_frac: Option<ExactJson>,
    pub defaults: ExactJson,
    pub p_any_default: f64,
    pub p_defaults_at_least: Vec<f64>,
    pub tranches: Vec<SliceJson>,
    pub vasicek_lhp: Option<LhpJson>,
    pub notes: Vec<String>,
}

impl AnalyticJson {
    /// The JSON view of `a` for scenario `name`.
    pub fn new(name: &str, currency: &str, a: &Analytic) -> Self {
        let n = a.pool_notional;
        let gross = ExactJson::of(&a.gross, 1.0);
        let frac = ExactJson::of(&a.gross, n);
        let at_least = a.defaults.at_least();
        AnalyticJson {
            scenario: name.to_owned(),
            currency: currency.to_owned(),
            pool_notional: n,
            method: MethodJson {
                lattice_unit: a.solved.unit,
                lattice_exact: a.solved.exact,
                rounding_bound: a.solved.rounding_bound,
                factor_dims: a.solved.factor_dims,
                factor_rule: a.solved.factor_rule,
                nodes_per_factor: a.solved.hermite_nodes,
                mixing_nodes: a.solved.mixing_nodes,
                quadrature_nodes: a.solved.nodes,
                total_probability: a.gross.total(),
            },
            expected_loss_exact: a.expected_loss_exact,
            pool_loss: a.pool_loss_is_gross.then(|| gross.clone()),
            pool_loss_frac: a.pool_loss_is_gross.then(|| frac.clone()),
            gross_default_loss: gross,
            gross_default_loss_frac: frac,
            defaults: ExactJson::of(&a.defaults, 1.0),
            p_any_default: at_least.get(1).copied().unwrap_or(0.0),
            p_defaults_at_least: at_least,
            tranches: a
                .slices
                .iter()
                .map(|s| SliceJson {
                    name: s.name.clone(),
                    attach: s.attach,
                    detach: s.detach,
                    expected_loss: s.expected_loss,
                    expected_loss_frac: if s.detach > s.attach {
                        s.expected_loss / (s.detach - s.attach)
                    } else {
                        0.0
                    },
                    lhp_expected_loss: s.lhp_expected_loss,
                })
                .collect(),
            vasicek_lhp: a.lhp.as_ref().map(LhpJson::from),
            notes: a.notes.clone(),
        }
    }

    /// Pretty-printed JSON bytes with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The printed table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let m = &self.method;
        let _ = writeln!(
            out,
            "{}: exact distribution, lattice unit {} {}{}, {} quadrature nodes ({} factor dims x {} {}, {} mixing)",
            self.scenario,
            grouped(m.lattice_unit, 2),
            self.currency,
            if m.lattice_exact { "" } else { " (rounded)" },
            m.quadrature_nodes,
            m.factor_dims,
            m.nodes_per_factor,
            m.factor_rule,
            m.mixing_nodes
        );
        let _ = writeln!(
            out,
            "pool {} {}; total probability 1 {:+.1e}; P(any default) {}\n",
            grouped(self.pool_notional, 0),
            self.currency,
            m.total_probability - 1.0,
            percent(self.p_any_default, 4)
        );
        let _ = writeln!(
            out,
            "  {:<26} {:>15} {:>15} {:>15} {:>15} {:>15}",
            self.currency, "mean", "std", "VaR 99%", "VaR 99.9%", "ES 99%"
        );
        let row = |out: &mut String, label: &str, d: &ExactJson, decimals: usize| {
            let q = |k: &str| d.quantiles.get(k).copied().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "  {label:<26} {:>15} {:>15} {:>15} {:>15} {:>15}",
                grouped(d.mean, decimals),
                grouped(d.std, decimals),
                grouped(q("0.99"), decimals),
                grouped(q("0.999"), decimals),
                grouped(d.es_99, decimals)
            );
        };
        row(&mut out, "gross default loss", &self.gross_default_loss, 0);
        if let Some(p) = &self.pool_loss {
            row(&mut out, "pool loss", p, 0);
        }
        row(&mut out, "defaults", &self.defaults, 3);
        if let Some(l) = &self.vasicek_lhp {
            let q = |k: &str| l.quantiles_frac.get(k).copied().unwrap_or(0.0) * self.pool_notional;
            let _ = writeln!(
                out,
                "  {:<26} {:>15} {:>15} {:>15} {:>15} {:>15}",
                "Vasicek limit (LHP)",
                grouped(l.mean_frac * self.pool_notional, 0),
                "",
                grouped(q("0.99"), 0),
                grouped(q("0.999"), 0),
                grouped(l.es_99_frac * self.pool_notional, 0)
            );
        }
        if !self.tranches.is_empty() {
            let _ = writeln!(
                out,
                "\n  {:<26} {:>15} {:>15} {:>15} {:>15}",
                "slice of gross loss", "attach", "detach", "EL", "EL / width"
            );
            for t in &self.tranches {
                let _ = writeln!(
                    out,
                    "  {:<26} {:>15} {:>15} {:>15} {:>15}",
                    t.name,
                    grouped(t.attach, 0),
                    grouped(t.detach, 0),
                    grouped(t.expected_loss, 0),
                    percent(t.expected_loss_frac, 4)
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "\nnote: {n}");
        }
        out
    }
}

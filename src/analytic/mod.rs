//! Exact loss distributions for the pools mathematics can solve — the independent oracle the
//! Monte Carlo engine is held against.
//!
//! A pure module: no I/O, no randomness, no threads. Given a scenario whose recoveries are fixed
//! (a fixed `[recovery] rate` and no `value_vol`), every firm's contribution to
//! `gross_default_loss = M − R` is a fixed amount `L_i(k)` for a default in period `k`
//! ([`pool`]). The copula makes defaults independent given the common variables, so
//!
//! ```text
//! P(L = x) = E_{z, s}[ P(L = x | z, s) ],   P(L = x | z, s) = (⊛_i conditional outcome of firm i)(x),
//! ```
//!
//! computed exactly on a loss lattice by convolution ([`lattice`]): a conditional binomial for
//! each group of identical firms, a convolution over the rest. The expectation is a quadrature
//! ([`quadrature`]): Gauss–Hermite on each independent normal that carries correlation (a
//! product grid over the sector factors, `Z = A z` with `A` the sector loadings), and under the
//! Student-t copula also over the chi-square mixing variable `W` (`s = sqrt(W / ν)`). With
//! `ρ = 0` under the Gaussian copula no quadrature is needed and the result is the exact
//! (Poisson-)binomial. [`vasicek`] adds the large homogeneous pool limit.
//!
//! [`analyse`] puts it together for a scenario; [`distribution`] gives the statistics with the
//! same definitions as [`crate::stats`].
//!
//! What the analytic view covers: `gross_default_loss` and `defaults` of every scenario with
//! fixed recoveries, whatever its term, amortisation, guarantors, undertaker or notes (none of
//! which change `M − R`); `pool_loss` only when there are no guarantor tiers (then it equals the
//! gross loss). Tranche expected losses are those of `[a, d]` slices of the gross loss
//! distribution — principal loss of a tranche protected by nothing but subordination, without
//! guarantors, interest or timing.

pub mod compare;
pub mod distribution;
pub mod lattice;
pub mod normal;
pub mod pool;
pub mod quadrature;
pub mod vasicek;

pub use distribution::LatticeDistribution;
pub use lattice::{Settings, Solved, SolvedInfo};
pub use pool::{Pool, PoolFirm, Unsupported};
pub use vasicek::Lhp;

#[cfg(test)]
mod tests;

use crate::model::{Copula, Scenario};
use crate::money::Amount;

/// A loss slice `[attach, detach]` in money.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub name: String,
    pub attach: f64,
    pub detach: f64,
    /// `E[min((L − a)⁺, d − a)]` of the gross loss.
    pub expected_loss: f64,
    /// The same in the Vasicek limit, when it applies.
    pub lhp_expected_loss: Option<f64>,
}

/// The analytic results for a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytic {
    pub pool_notional: f64,
    /// The gross default loss distribution (money).
    pub gross: LatticeDistribution,
    /// The distribution of the number of defaults within the term.
    pub defaults: LatticeDistribution,
    /// `Σ_i E[L_i]`, computed from the marginals alone (no quadrature, no lattice).
    pub expected_loss_exact: f64,
    /// `Σ_i P_i`.
    pub expected_defaults_exact: f64,
    /// How it was solved.
    pub solved: SolvedInfo,
    /// Whether `pool_loss` has this same distribution (no guarantor tiers).
    pub pool_loss_is_gross: bool,
    pub slices: Vec<Slice>,
    /// The Vasicek limit for a homogeneous one-sector Gaussian pool with a default-by-horizon loss.
    pub lhp: Option<Lhp>,
    /// What the reader should know (features ignored, rounding).
    pub notes: Vec<String>,
}

/// The scenario's notes as loss slices, bottom up: the most junior tranche attaches at the
/// part of the pool not covered by notes, the senior one detaches at the pool notional.
pub fn note_slices(scenario: &Scenario) -> Vec<(String, f64, f64)> {
    let pool = f64::from_decimal(scenario.pool_notional());
    let mut detach = pool;
    scenario
        .tranches
        .iter()
        .map(|t| {
            let n = f64::from_decimal(t.notional);
            let s = (t.name.clone(), (detach - n).max(0.0), detach);
            detach -= n;
            s
        })
        .collect()
}

/// The large-pool parameters of `pool`, if it is homogeneous: Gaussian copula, one sector with
/// firms, one `p` and one `ρ` in `(0, 1)`, every firm's loss independent of the default period.
pub fn lhp_of(pool: &Pool) -> Option<Lhp> {
    if !matches!(pool.copula, Copula::Gaussian) || pool.notional <= 0.0 {
        return None;
    }
    let first = pool.firms.first()?;
    let pd = first.pd();
    let same = pool.firms.iter().all(|f| {
        f.sector == first.sector
            && f.rho == first.rho
            && f.pd() == pd
            && f.loss.windows(2).all(|w| w[0] == w[1])
    });
    if !(same && pd > 0.0 && pd < 1.0 && first.rho > 0.0 && first.rho < 1.0) {
        return None;
    }
    let lgd: f64 = pool
        .firms
        .iter()
        .map(|f| f64::from_decimal(f.loss[0]))
        .sum::<f64>()
        / pool.notional;
    (lgd > 0.0).then_some(Lhp {
        pd,
        rho: first.rho,
        lgd,
    })
}

/// Solves `scenario` analytically; `slices` are extra `[a, d]` loss slices as fractions of the
/// pool notional (the scenario's notes are always included).
///
/// # Errors
/// [`Unsupported`] naming the feature that prevents an exact solution.
pub fn analyse(
    scenario: &Scenario,
    slices: &[(f64, f64)],
    settings: &Settings,
) -> Result<Analytic, Unsupported> {
    let pool = Pool::from_scenario(scenario)?;
    let solved = lattice::solve(&pool, settings)?;
    let mut notes = Vec::new();
    if !scenario.tiers.is_empty() {
        notes.push(
            "guarantor tiers are present: pool_loss differs from the gross default loss and is not solved; gross_default_loss and defaults are exact".to_owned(),
        );
    }
    if scenario.undertaker.is_some() || !scenario.tranches.is_empty() {
        notes.push(
            "tranche figures are slices of the gross default loss (subordination only: no guarantors, undertaker, interest or timing)".to_owned(),
        );
    }
    if !solved.info.exact {
        notes.push(format!(
            "losses were rounded to a lattice of {:.2}; every path's loss is within {:.2} of its true value",
            solved.info.unit, solved.info.rounding_bound
        ));
    }
    let lhp = lhp_of(&pool);
    let gross = LatticeDistribution::new(solved.info.unit, solved.loss.clone());
    let notional = pool.notional;
    let mut all: Vec<(String, f64, f64)> = note_slices(scenario);
    all.extend(
        slices
            .iter()
            .map(|&(a, d)| (format!("{a}-{d}"), a * notional, d * notional)),
    );
    let slices = all
        .into_iter()
        .map(|(name, a, d)| Slice {
            expected_loss: gross.tranche_expected_loss(a, d),
            lhp_expected_loss: lhp.map(|l| l.tranche_expected_loss(a / notional, d / notional) * notional),
            name,
            attach: a,
            detach: d,
        })
        .collect();
    Ok(Analytic {
        pool_notional: notional,
        defaults: LatticeDistribution::new(1.0, solved.defaults.clone()),
        gross,
        expected_loss_exact: pool.expected_loss(),
        expected_defaults_exact: pool.expected_defaults(),
        solved: solved.info,
        pool_loss_is_gross: scenario.tiers.is_empty(),
        slices,
        lhp,
        notes,
    })
}

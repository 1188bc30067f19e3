//! The pool as the analytic engine sees it: per firm, its sector and loading, its cumulative
//! default probabilities by the end of each period, and the (fixed) loss it causes if it defaults
//! in each period — and the checks that decide whether a scenario has such a pool.
//!
//! A firm defaulting in period `d` misses every scheduled payment from `d` on,
//! `M_i(d) = Σ_{k ≥ d} (principal_k + interest_k)`, and recovers
//! `R_i(d) = min(rate × base_i, claim_i(d))` (base: the appraised value, or the claim), received
//! in period `min(d + lag, T)` — always within the term. So its contribution to
//! `gross_default_loss = M − R` is the fixed number `L_i(d) = M_i(d) − R_i(d)` whenever the
//! recovery rate is fixed and the appraised value is not shocked. Guarantors, the undertaker and
//! the notes do not change `M − R` or the number of defaults, so those two distributions are
//! solvable for every such scenario; `pool_loss` equals `gross_default_loss` only when there are
//! no guarantor tiers.

use rust_decimal::Decimal;
use thiserror::Error;

use crate::credit::{Marginal, SectorLoadings, default_probability};
use crate::model::{Copula, RecoveryRate, Scenario};
use crate::money::Amount;
use crate::schedule::FirmSchedule;

/// Why a scenario has no analytic solution.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// Recovery rates drawn from a Beta distribution.
    #[error(
        "Beta recovery rates: the analytic loss lattice needs a fixed recovery rate ([recovery] rate = ...)"
    )]
    BetaRecovery,
    /// The patent-value shock makes recoveries random.
    #[error(
        "[recovery] value_vol = {0}: the patent-value shock makes recoveries random; the analytic loss lattice needs fixed recoveries (remove value_vol or set it to 0)"
    )]
    ValueShock(f64),
    /// Too many independent sector factors for a product quadrature grid.
    #[error(
        "{dims} independent sector factors carry firm correlation: the analytic product grid integrates at most {max} (merge sectors, or use Monte Carlo)"
    )]
    TooManyFactors { dims: usize, max: usize },
    /// The computation would take too long.
    #[error(
        "the analytic computation would need about {work:.1e} operations ({nodes} quadrature nodes x a loss lattice of {points} points over {firms} firms), more than the limit {limit:.0e}"
    )]
    TooExpensive {
        work: f64,
        nodes: usize,
        points: usize,
        firms: usize,
        limit: f64,
    },
}

/// One firm of an analytic pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolFirm {
    /// Sector index (row of the sector loadings).
    pub sector: usize,
    /// Asset correlation `rho` in `[0, 1]`.
    pub rho: f64,
    /// `P(tau <= end of period k)`, `k = 1 ..= T`, non-decreasing, each in `[0, 1]`.
    pub cumulative_pd: Vec<f64>,
    /// The loss if the firm defaults in period `k` (`k = 1 ..= T`), in money, `>= 0`.
    pub loss: Vec<Decimal>,
}

impl PoolFirm {
    /// A firm with a single horizon: default probability `pd` by the horizon, loss `lgd`.
    pub fn single(sector: usize, rho: f64, pd: f64, lgd: Decimal) -> PoolFirm {
        PoolFirm {
            sector,
            rho,
            cumulative_pd: vec![pd],
            loss: vec![lgd],
        }
    }

    /// `P(default within the term)`.
    pub fn pd(&self) -> f64 {
        self.cumulative_pd.last().copied().unwrap_or(0.0)
    }

    /// The exact expected loss `Σ_k (P_k − P_{k−1}) L(k)`.
    pub fn expected_loss(&self) -> f64 {
        let mut prev = 0.0;
        let mut el = 0.0;
        for (p, l) in self.cumulative_pd.iter().zip(&self.loss) {
            el += (p - prev) * f64::from_decimal(*l);
            prev = *p;
        }
        el
    }
}

/// A pool the analytic engine can solve.
#[derive(Debug, Clone)]
pub struct Pool {
    pub copula: Copula,
    pub loadings: SectorLoadings,
    pub firms: Vec<PoolFirm>,
    /// The denominator of `_frac` figures.
    pub notional: f64,
}

impl Pool {
    /// A pool from its parts; `corr` is the row-major sector correlation matrix (symmetric,
    /// positive semi-definite) of `sectors` sectors.
    pub fn new(copula: Copula, corr: &[f64], sectors: usize, firms: Vec<PoolFirm>, notional: f64) -> Pool {
        Pool {
            copula,
            loadings: SectorLoadings::new(corr, sectors),
            firms,
            notional,
        }
    }

    /// The analytic pool of `scenario`'s `gross_default_loss` and `defaults`.
    ///
    /// # Errors
    /// [`Unsupported`] naming the feature that makes recoveries random.
    pub fn from_scenario(scenario: &Scenario) -> Result<Pool, Unsupported> {
        let rate = match scenario.recovery.rate {
            RecoveryRate::Fixed(r) => r,
            RecoveryRate::Beta { .. } => return Err(Unsupported::BetaRecovery),
        };
        if let Some(v) = scenario.recovery.value_vol
            && v > 0.0
        {
            return Err(Unsupported::ValueShock(v));
        }
        let deal = scenario.deal;
        let rate = Decimal::from_f64(rate);
        let firms = scenario
            .firms
            .iter()
            .map(|f| {
                let schedule: FirmSchedule<Decimal> = FirmSchedule::new(f, &deal);
                let t = deal.term_periods as usize;
                let hazard = f.credit.hazard();
                let cumulative_pd = (1..=deal.term_periods)
                    .map(|k| default_probability(hazard, f64::from(k) / f64::from(deal.periods_per_year)))
                    .collect();
                let appraised = f.patents.as_ref().and_then(|p| p.appraised_value);
                let loss = (0..t)
                    .map(|d| {
                        let missed: Decimal = (d..t).map(|k| schedule.payment(k)).sum();
                        let claim = schedule.outstanding[d];
                        let base = appraised.unwrap_or(claim);
                        let recovery = (rate * base).min(claim).max(Decimal::ZERO);
                        (missed - recovery).max(Decimal::ZERO)
                    })
                    .collect();
                PoolFirm {
                    sector: f.sector,
                    rho: f.asset_correlation,
                    cumulative_pd,
                    loss,
                }
            })
            .collect();
        Ok(Pool::new(
            scenario.credit.copula,
            &scenario.credit.sector_correlation,
            scenario.credit.sectors.len(),
            firms,
            f64::from_decimal(scenario.pool_notional()),
        ))
    }

    /// The copula's marginal `F`.
    pub fn marginal(&self) -> Marginal {
        Marginal::of(self.copula)
    }

    /// Number of periods (the longest firm schedule).
    pub fn periods(&self) -> usize {
        self.firms
            .iter()
            .map(|f| f.cumulative_pd.len())
            .max()
            .unwrap_or(0)
    }

    /// The exact expected loss `Σ_i Σ_k (P_ik − P_i,k−1) L_i(k)`.
    pub fn expected_loss(&self) -> f64 {
        self.firms.iter().map(PoolFirm::expected_loss).sum()
    }

    /// The exact expected number of defaults `Σ_i P_i`.
    pub fn expected_defaults(&self) -> f64 {
        self.firms.iter().map(PoolFirm::pd).sum()
    }
}

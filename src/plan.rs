//! The compiled form of a [`Scenario`] for the Monte Carlo hot loop: every schedule, threshold
//! and loading precomputed once, in `f64`, in flat arrays.

use rand_distr::{Beta, ChiSquared};

use crate::credit::{Marginal, SectorLoadings, default_thresholds};
use crate::guarantee::LossSharing;
use crate::model::{Copula, Deal, OwnDefault, Recovery, RecoveryRate, Scenario};
use crate::money::Amount;
use crate::schedule::FirmSchedule;
use crate::waterfall::Notes;

mod sole;
pub use sole::SoleDefaults;

/// One firm, compiled.
#[derive(Debug, Clone)]
pub struct FirmPlan {
    /// Sector index.
    pub sector: usize,
    /// `sqrt(rho)`.
    pub load: f64,
    /// `sqrt(1 - rho)`.
    pub idio: f64,
    /// Annual hazard `h`.
    pub hazard: f64,
    /// `T_{i,k}` for `k = 1..=T` (see [`crate::credit`]).
    pub thresholds: Vec<f64>,
    /// `T_{i,T}`: the firm defaults within the term iff `Y <= last_threshold`.
    pub last_threshold: f64,
    /// Appraised value of its patents, if any.
    pub appraised_value: Option<f64>,
    pub schedule: FirmSchedule<f64>,
}

/// What the latent pass of a path needs of one firm, packed together for the hot loop: the
/// latent `Y = (load Z_s + idio eps) scale` defaults within the term iff `Y <= last_threshold`
/// (the same values as the firm's [`FirmPlan`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirmLatent {
    pub sector: usize,
    pub load: f64,
    pub idio: f64,
    pub last_threshold: f64,
}

/// What a firm is scheduled to pay in one period: what a default misses then.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Due {
    pub principal: f64,
    pub interest: f64,
}

/// The own-default model of a party or of the undertaker, compiled.
#[derive(Debug, Clone)]
pub struct OwnDefaultPlan {
    /// Sector index it loads on; `None`: independent of everything (Gaussian, no mixing variable).
    pub sector: Option<usize>,
    pub load: f64,
    pub idio: f64,
    pub thresholds: Vec<f64>,
}

impl OwnDefaultPlan {
    fn new(d: &OwnDefault, deal: &Deal, marginal: &Marginal) -> Self {
        let (sector, rho) = match d.sector {
            Some(s) => (Some(s), d.asset_correlation),
            None => (None, 0.0),
        };
        let marginal = if sector.is_some() {
            marginal.clone()
        } else {
            Marginal::Gaussian
        };
        OwnDefaultPlan {
            sector,
            load: rho.sqrt(),
            idio: (1.0 - rho).sqrt(),
            thresholds: default_thresholds(d.hazard(), deal, &marginal),
        }
    }
}

/// How a recovery rate is obtained, compiled from [`RecoveryRate`].
#[derive(Debug, Clone)]
pub enum RateDraw {
    /// A fixed rate; nothing is drawn.
    Fixed(f64),
    /// `Beta(a, b)` with integer `a, b` and `a + b - 1 <= 16`: the `a`-th smallest of
    /// `n = a + b - 1` independent uniforms, which is exactly `Beta(a, b)` distributed (and far
    /// cheaper than the general sampler).
    OrderStatistic { k: usize, n: usize },
    /// Any other `Beta(a, b)`: `rand_distr`'s sampler.
    Beta(Beta<f64>),
}

impl RateDraw {
    /// Most uniforms [`RateDraw::OrderStatistic`] uses.
    pub const MAX_UNIFORMS: usize = 16;

    fn new(rate: RecoveryRate) -> Self {
        match rate {
            RecoveryRate::Fixed(r) => RateDraw::Fixed(r),
            RecoveryRate::Beta { a, b } => {
                let integer = |x: f64| x.fract() == 0.0 && x >= 1.0 && x <= Self::MAX_UNIFORMS as f64;
                if integer(a) && integer(b) && a + b - 1.0 <= Self::MAX_UNIFORMS as f64 {
                    RateDraw::OrderStatistic {
                        k: a as usize,
                        n: (a + b - 1.0) as usize,
                    }
                } else {
                    // a, b > 0 is validated, so construction succeeds.
                    Beta::new(a, b)
                        .map(RateDraw::Beta)
                        .unwrap_or(RateDraw::Fixed(a / (a + b)))
                }
            }
        }
    }

    /// Whether a rate is drawn at all.
    pub fn is_random(&self) -> bool {
        !matches!(self, RateDraw::Fixed(_))
    }
}

/// A scenario compiled for simulation.
#[derive(Debug, Clone)]
pub struct Plan {
    pub deal: Deal,
    /// `T` as `usize`.
    pub periods: usize,
    pub copula: Copula,
    pub marginal: Marginal,
    /// The mixing distribution `chi2(nu)` of the t copula; `None` under the Gaussian copula.
    pub mixing: Option<ChiSquared<f64>>,
    /// How a defaulting firm's recovery rate is obtained.
    pub recovery_rate: RateDraw,
    pub loadings: SectorLoadings,
    pub firms: Vec<FirmPlan>,
    /// `firms`' latent parameters, in firm order.
    pub latent: Vec<FirmLatent>,
    /// Each firm's scheduled payment of each period, firm by firm: firm `i`'s in period `k`
    /// at `i * T + k - 1` (the same values as its [`FirmPlan::schedule`]).
    pub dues: Vec<Due>,
    /// Total scheduled firm payments of each period.
    pub pool_payment: Vec<f64>,
    pub pool_notional: f64,
    pub recovery: Recovery,
    pub sharing: LossSharing<f64>,
    /// The tiers' work on every one-default path shape, done once (empty for large pools).
    pub sole_defaults: SoleDefaults,
    /// Own default of each party (report order), if any.
    pub party_defaults: Vec<Option<OwnDefaultPlan>>,
    pub undertaker_default: Option<OwnDefaultPlan>,
    pub notes: Notes<f64>,
}

impl Plan {
    /// Compiles `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        let deal = scenario.deal;
        let marginal = Marginal::of(scenario.credit.copula);
        let firms: Vec<FirmPlan> = scenario
            .firms
            .iter()
            .map(|f| {
                let hazard = f.credit.hazard();
                let thresholds = default_thresholds(hazard, &deal, &marginal);
                FirmPlan {
                    sector: f.sector,
                    load: f.asset_correlation.sqrt(),
                    idio: (1.0 - f.asset_correlation).sqrt(),
                    hazard,
                    last_threshold: *thresholds.last().unwrap_or(&f64::NEG_INFINITY),
                    thresholds,
                    appraised_value: f
                        .patents
                        .as_ref()
                        .and_then(|p| p.appraised_value)
                        .map(f64::from_decimal),
                    schedule: FirmSchedule::new(f, &deal),
                }
            })
            .collect();
        let latent = firms
            .iter()
            .map(|f| FirmLatent {
                sector: f.sector,
                load: f.load,
                idio: f.idio,
                last_threshold: f.last_threshold,
            })
            .collect();
        let periods = deal.term_periods as usize;
        let pool_payment = (0..periods)
            .map(|k| firms.iter().map(|f| f.schedule.payment(k)).sum())
            .collect();
        let dues: Vec<Due> = firms
            .iter()
            .flat_map(|f| {
                let s = &f.schedule;
                s.principal
                    .iter()
                    .zip(&s.interest)
                    .map(|(&principal, &interest)| Due { principal, interest })
            })
            .collect();
        let sharing = LossSharing::new(&scenario.tiers, firms.len());
        let sole_defaults = SoleDefaults::new(&sharing, &dues, firms.len(), periods);
        Plan {
            deal,
            periods,
            dues,
            copula: scenario.credit.copula,
            // Parameters are validated (dof > 0, a > 0, b > 0), so construction succeeds.
            mixing: match scenario.credit.copula {
                Copula::StudentT { dof } => ChiSquared::new(dof).ok(),
                Copula::Gaussian => None,
            },
            recovery_rate: RateDraw::new(scenario.recovery.rate),
            loadings: SectorLoadings::new(&scenario.credit.sector_correlation, scenario.credit.sectors.len()),
            pool_payment,
            pool_notional: f64::from_decimal(scenario.pool_notional()),
            recovery: scenario.recovery,
            sharing,
            sole_defaults,
            party_defaults: scenario
                .parties()
                .map(|(_, p)| {
                    p.own_default
                        .as_ref()
                        .map(|d| OwnDefaultPlan::new(d, &deal, &marginal))
                })
                .collect(),
            undertaker_default: scenario
                .undertaker
                .as_ref()
                .and_then(|u| u.own_default.as_ref())
                .map(|d| OwnDefaultPlan::new(d, &deal, &marginal)),
            notes: Notes::new(scenario),
            firms,
            latent,
            marginal,
        }
    }

    /// Number of sectors.
    pub fn sectors(&self) -> usize {
        self.loadings.sectors()
    }

    /// Number of guarantor parties.
    pub fn parties(&self) -> usize {
        self.sharing.parties()
    }

    /// Firm `firm`'s scheduled payments of periods `1..=T`.
    #[inline]
    pub fn dues_of(&self, firm: usize) -> &[Due] {
        &self.dues[firm * self.periods..(firm + 1) * self.periods]
    }

    /// Number of tranches.
    pub fn tranches(&self) -> usize {
        self.notes.tranches.len()
    }

    /// Whether coupon coverage is defined: there is a senior tranche with a coupon, so period 1
    /// always has senior interest due.
    pub fn has_coverage(&self) -> bool {
        self.notes
            .tranches
            .first()
            .is_some_and(|t| t.period_coupon > 0.0 && t.notional > 0.0)
    }
}

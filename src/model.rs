//! The validated scenario: what a deal *is*, after every rule of the scenario file has been
//! checked.
//!
//! Nothing in this module reads files or knows the TOML format (that is [`crate::scenario`]);
//! nothing here draws random numbers (that is [`crate::credit`] and [`crate::path`]). A value of
//! [`Scenario`] is only built by the loader, which guarantees the invariants documented on each
//! field, so the engine never checks them again.
//!
//! Money is kept exactly, as [`Decimal`], because the deterministic cash-flow statement needs the
//! cents the user typed; the Monte Carlo engine converts it once to `f64` when it compiles its
//! [`crate::plan::Plan`]. Rates, shares, probabilities and correlations are `f64`.

use rust_decimal::Decimal;

/// A whole deal or pledge-loan programme, ready to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The scenario's name (the file stem when the file gives none).
    pub name: String,
    /// Free text describing the scenario, for reports.
    pub description: Option<String>,
    /// Currency code used in reports, e.g. `"CNY"`.
    pub currency: String,
    pub deal: Deal,
    pub simulation: Simulation,
    pub credit: Credit,
    pub recovery: Recovery,
    /// The obligors, in file order (at least one).
    pub firms: Vec<Firm>,
    /// Loss-sharing tiers in the order a loss meets them (may be empty).
    pub tiers: Vec<Tier>,
    /// The differential payment undertaker, if any.
    pub undertaker: Option<Undertaker>,
    /// Note tranches, most senior first (may be empty: a pledge-loan programme).
    pub tranches: Vec<Tranche>,
    pub fees: Fees,
    /// How reports are drawn (not part of the model; kept with the scenario for convenience).
    pub report: ReportSettings,
}

/// The language of chart titles, axis labels and the memo report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// English (the default).
    #[default]
    En,
    /// Simplified Chinese; needs a CJK-capable font for PNG charts.
    Zh,
}

impl Language {
    /// Parses `"en"` or `"zh"`.
    pub fn parse(code: &str) -> Option<Language> {
        match code {
            "en" => Some(Language::En),
            "zh" => Some(Language::Zh),
            _ => None,
        }
    }

    /// The code, `"en"` or `"zh"`.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }
}

/// Settings of the `[report]` table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportSettings {
    /// A font file (TrueType/OpenType, first face of a collection) for chart text; relative
    /// paths are resolved against the scenario file's folder by the loader.
    pub font: Option<std::path::PathBuf>,
    pub language: Language,
}

/// The time grid: `term_periods` periods of `1 / periods_per_year` years each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deal {
    /// 1, 2, 4 or 12.
    pub periods_per_year: u32,
    /// At least 1.
    pub term_periods: u32,
}

impl Deal {
    /// Length of one period in years, `1 / m`.
    pub fn period_years(&self) -> f64 {
        1.0 / f64::from(self.periods_per_year)
    }

    /// The deal's term in years, `T / m`.
    pub fn term_years(&self) -> f64 {
        f64::from(self.term_periods) / f64::from(self.periods_per_year)
    }
}

/// How many paths to simulate and from which seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// At least 1 (with a precision target: the first, smallest run).
    pub paths: u64,
    pub seed: u64,
    /// Keep adding paths until a statistic is this precise.
    pub target_se: Option<TargetSe>,
    /// Importance sampling of the path's normals (see [`crate::importance`]); `None`: plain.
    pub importance: Option<ImportanceSpec>,
    /// The most memory, in bytes, a stored run may take; a larger run is streamed (see
    /// [`crate::job::Storage`]). `None`: 80% of available memory is the only bound.
    pub max_memory: Option<u64>,
}

/// How `[simulation] importance` chooses the mean shift.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportanceSpec {
    /// Chosen by the cross-entropy pilot for this metric's tail (`auto`: the senior tranche's
    /// `p_loss`; see [`crate::importance::Target::parse`]).
    Metric(String),
    /// Given: one value per sector, or one per coordinate (sectors, firms, parties, undertaker).
    Shift(Vec<f64>),
}

/// A precision target: run until the standard error of `metric` is at most `value`.
///
/// `metric` is a path into `summary.json` to an estimate that has a standard error beside it:
/// `pool_loss.mean` (whose error is `pool_loss.se_mean`), `p_any_default` (`p_any_default_se`),
/// `tranches.senior.expected_loss` (`expected_loss_se`), `tranches.senior.p_loss`,
/// `guarantors.district guarantor.payout.mean`, … — arrays are indexed by name.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSe {
    pub metric: String,
    /// `> 0`, in the metric's unit.
    pub value: f64,
    /// The most paths to run (default 64 x `paths`).
    pub max_paths: Option<u64>,
}

/// The dependence model of default times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Copula {
    /// Gaussian copula: `X = sqrt(rho) Z_s + sqrt(1 - rho) eps`.
    Gaussian,
    /// Student-t copula: the Gaussian `X` divided by `sqrt(W / dof)`, one `W ~ chi2(dof)` per path.
    StudentT {
        /// Degrees of freedom, `> 0`.
        dof: f64,
    },
}

/// Credit-model settings shared by all firms.
#[derive(Debug, Clone, PartialEq)]
pub struct Credit {
    pub copula: Copula,
    /// Default asset correlation `rho` in `[0, 1]` for firms (and parties) that do not override it.
    pub asset_correlation: f64,
    /// Sector names; a firm's `sector` indexes this list.
    pub sectors: Vec<String>,
    /// The sector correlation matrix, row-major, `sectors.len()` squared entries; symmetric, unit
    /// diagonal, positive semi-definite (minimum eigenvalue `>= -1e-10`).
    pub sector_correlation: Vec<f64>,
}

impl Credit {
    /// Entry `(i, j)` of the sector correlation matrix.
    pub fn sector_corr(&self, i: usize, j: usize) -> f64 {
        self.sector_correlation[i * self.sectors.len() + j]
    }
}

/// The recovery rate applied to a defaulting firm's recovery base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RecoveryRate {
    /// A fixed rate in `[0, 1]`.
    Fixed(f64),
    /// Drawn independently per defaulting firm from `Beta(a, b)`, `a, b > 0`.
    Beta { a: f64, b: f64 },
}

impl RecoveryRate {
    /// The mean recovery rate: the fixed rate, or `a / (a + b)`.
    pub fn mean(&self) -> f64 {
        match *self {
            RecoveryRate::Fixed(r) => r,
            RecoveryRate::Beta { a, b } => a / (a + b),
        }
    }
}

/// What happens when a firm defaults: its pledged patents are sold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recovery {
    pub rate: RecoveryRate,
    /// Periods between the default period and the period the recovery is received.
    pub lag_periods: u32,
    /// Whether recoveries first repay the guarantors that paid for the firm (default `true`).
    pub reimburse_guarantors: bool,
    /// Annual lognormal volatility of the patent-value shock (loaded on the sector factor), `>= 0`.
    pub value_vol: Option<f64>,
}

impl Default for Recovery {
    /// No `[recovery]` table: nothing is recovered.
    fn default() -> Self {
        Recovery {
            rate: RecoveryRate::Fixed(0.0),
            lag_periods: 0,
            reimburse_guarantors: true,
            value_vol: None,
        }
    }
}

/// How a principal (or a note's notional) is repaid over the term.
#[derive(Debug, Clone, PartialEq)]
pub enum Amortisation {
    /// All principal in the last period.
    Bullet,
    /// Equal principal every period (`principal / T`, the last period taking any remainder).
    Level,
    /// Explicit per-period principal amounts: exactly `term_periods` entries, non-negative,
    /// summing to the principal within `1e-9` relative.
    Explicit(Vec<Decimal>),
}

/// A firm's credit input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CreditInput {
    /// One-year default probability `p` in `[0, 1)`; the hazard is `-ln(1 - p)`.
    AnnualPd(f64),
    /// Constant annual default intensity `h >= 0`.
    Hazard(f64),
}

impl CreditInput {
    /// The annual hazard rate `h`: `-ln(1 - p)` for an annual PD, or the hazard itself.
    pub fn hazard(&self) -> f64 {
        match *self {
            CreditInput::AnnualPd(p) => -(-p).ln_1p(),
            CreditInput::Hazard(h) => h,
        }
    }
}

/// The patents a firm pledges.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Patents {
    pub invention: u32,
    pub utility_model: u32,
    pub design: u32,
    /// Appraised value of the pledged patents; `None` means the recovery base is the claim.
    pub appraised_value: Option<Decimal>,
}

/// An obligor: a firm paying licence fees into the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Firm {
    /// Unique among firms.
    pub id: String,
    /// Index into [`Credit::sectors`].
    pub sector: usize,
    /// The licence-fee receivable, `> 0`.
    pub principal: Decimal,
    /// Annual interest component of the licence fee, on outstanding principal.
    pub rate: f64,
    pub amortisation: Amortisation,
    pub credit: CreditInput,
    /// This firm's `rho` in `[0, 1]` (the deal's unless overridden).
    pub asset_correlation: f64,
    pub patents: Option<Patents>,
}

/// An optional own default of a guarantor party or of the undertaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OwnDefault {
    /// One-year default probability in `[0, 1)`.
    pub annual_pd: f64,
    /// The sector whose factor the party loads on; `None`: independent of everything.
    pub sector: Option<usize>,
    /// Loading `rho` in `[0, 1]` on the sector factor (ignored without a sector).
    pub asset_correlation: f64,
}

impl OwnDefault {
    /// The annual hazard `-ln(1 - p)`.
    pub fn hazard(&self) -> f64 {
        -(-self.annual_pd).ln_1p()
    }
}

/// One party of a loss-sharing tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub name: String,
    /// Share of the loss reaching the tier, in `[0, 1]`; shares in a tier sum to 1.
    pub share: f64,
    /// Aggregate cap on gross payouts; `None` is unlimited. `Some(0)` pays nothing.
    pub cap: Option<Decimal>,
    pub own_default: Option<OwnDefault>,
    /// Indices of the firms it covers; `None` covers every firm.
    pub firms: Option<Vec<usize>>,
    /// Covers missed principal only (missed interest falls to the next tier).
    pub principal_only: bool,
}

impl Party {
    /// Whether this party covers firm `firm`.
    pub fn covers(&self, firm: usize) -> bool {
        self.firms.as_ref().is_none_or(|f| f.contains(&firm))
    }
}

/// A loss-sharing tier: parties acting in parallel on what reaches the tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub name: String,
    /// At least one party.
    pub parties: Vec<Party>,
}

/// The differential payment undertaker (差额支付承诺人).
#[derive(Debug, Clone, PartialEq)]
pub struct Undertaker {
    pub name: String,
    /// Aggregate cap; `None` is unlimited.
    pub cap: Option<Decimal>,
    pub own_default: Option<OwnDefault>,
}

/// A note tranche.
#[derive(Debug, Clone, PartialEq)]
pub struct Tranche {
    pub name: String,
    /// `> 0`; the tranches together do not exceed the pool notional.
    pub notional: Decimal,
    /// Fixed annual coupon on the outstanding balance.
    pub coupon: f64,
    pub amortisation: Amortisation,
}

/// Senior fees.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Fees {
    /// Annual rate on the outstanding note balance, `>= 0`.
    pub annual_rate: f64,
}

impl Scenario {
    /// The pool notional: the sum of firm principals (the denominator of every pool `_frac`).
    pub fn pool_notional(&self) -> Decimal {
        self.firms.iter().map(|f| f.principal).sum()
    }

    /// The total notional of the notes.
    pub fn notes_notional(&self) -> Decimal {
        self.tranches.iter().map(|t| t.notional).sum()
    }

    /// Every guarantor party with its tier number (1-based), in report order.
    pub fn parties(&self) -> impl Iterator<Item = (usize, &Party)> {
        self.tiers
            .iter()
            .enumerate()
            .flat_map(|(t, tier)| tier.parties.iter().map(move |p| (t + 1, p)))
    }
}

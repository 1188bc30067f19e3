//! `summary.json`: the contract other tools read (DESIGN §3). Field names here are fixed; new
//! fields may be added, none renamed.
//!
//! Every distribution has the shape of [`DistributionJson`]: `mean`, `std`, `se_mean`,
//! `quantiles` (`"0.5"` … `"0.999"`, `VaR_q = x(ceil(q n))`), `es_0.99`, plus `min` and `max`,
//! and their precision: `quantiles_ci` (the 95% order-statistic interval `[lo, hi]` of each
//! quantile) and `es_0.99_se`.
//! Money is in the scenario's currency; `_frac` fields are fractions of the pool notional, except
//! inside `tranches`, where they are fractions of the tranche's notional. The order statistics of
//! a money distribution (`quantiles`, `quantiles_ci`, `min`, `max`) are snapped to the whole cent
//! they are within floating-point rounding of ([`DistributionJson::snapped_to_cents`]); its
//! `mean`, `std`, `se_mean` and `es_0.99` are estimates and are left as computed. Every probability comes
//! with its standard error `sqrt(p (1 - p) / n)`.
//!
//! [`Summary::build`] first hands an [`Outcomes`] the whole list of what it will ask for
//! ([`Requests`]), then assembles the answers. A stored run computes all of it up front on the
//! run's threads, the chart data beside it ([`Summary::with_derived`]): first everything that
//! reads the columns in path order, then everything that permutes them, as one list of tasks
//! taken largest first; each column sees the same operations in the same order as one thread
//! would do them, so every figure is the same bit for bit (see the private module `summary::stored`).

mod stored;

use stored::Stored;

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::exposure::PayerFigures;
use crate::importance::{Choice, Tilt, effective_sample_size};
use crate::model::{Copula, Deal, Scenario, Tranche};
use crate::money::{Amount, snap_to_cent};
use crate::runner::{
    BLOCK_PATHS, COVERAGE_FLOOR, Column, GENERATOR, Layout, PartyColumn, Simulation, TrancheColumn, Weights,
    in_pool,
};
use crate::schedule::{principal_schedule, weighted_average_life};
use crate::stats::histogram::{Bounded, Event};
use crate::stats::weighted::WeightSums;
use crate::stats::weighted::weighted_quantile_at;
use crate::stats::{Distribution, Z_95, quantiles_by_selection};

/// A distribution as written to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistributionJson {
    pub mean: f64,
    pub std: f64,
    pub se_mean: f64,
    pub quantiles: BTreeMap<&'static str, f64>,
    #[serde(rename = "es_0.99")]
    pub es_99: f64,
    /// Standard error of `es_0.99` (Manistre & Hancock 2005; see [`crate::stats`]).
    #[serde(rename = "es_0.99_se")]
    pub es_99_se: f64,
    /// 95% order-statistic confidence interval `[lo, hi]` of each quantile.
    pub quantiles_ci: BTreeMap<&'static str, [f64; 2]>,
    pub min: f64,
    pub max: f64,
    /// Streamed runs only: `|VaR_q - exact VaR_q| <=` this bound, per level (see
    /// [`crate::stats::histogram`]); absent for stored runs, whose quantiles are exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantiles_error_bound: Option<BTreeMap<&'static str, f64>>,
    /// Streamed runs only: `|ES_0.99 - exact ES_0.99| <=` this bound.
    #[serde(rename = "es_0.99_error_bound", skip_serializing_if = "Option::is_none")]
    pub es_99_error_bound: Option<f64>,
}

impl DistributionJson {
    /// A money distribution with its order statistics (`quantiles`, `quantiles_ci`, `min`,
    /// `max`) snapped to the whole cent each is within floating-point rounding of
    /// ([`snap_to_cent`]): each is the amount of one path, which the `f64` engine adds up in
    /// binary floating point (`723599.9999999981` for 723,600.00). Amounts that are not whole
    /// cents, and the estimates (mean, std, ES), are left as computed.
    fn snapped_to_cents(mut self) -> Self {
        self.quantiles.values_mut().for_each(|v| *v = snap_to_cent(*v));
        self.quantiles_ci
            .values_mut()
            .for_each(|[lo, hi]| (*lo, *hi) = (snap_to_cent(*lo), snap_to_cent(*hi)));
        self.min = snap_to_cent(self.min);
        self.max = snap_to_cent(self.max);
        self
    }

    /// The same distribution divided by `denominator` (for `_frac` fields).
    fn scaled(&self, denominator: f64) -> Self {
        let s = |x: f64| if denominator > 0.0 { x / denominator } else { 0.0 };
        DistributionJson {
            mean: s(self.mean),
            std: s(self.std),
            se_mean: s(self.se_mean),
            quantiles: self.quantiles.iter().map(|(k, v)| (*k, s(*v))).collect(),
            es_99: s(self.es_99),
            es_99_se: s(self.es_99_se),
            quantiles_ci: self
                .quantiles_ci
                .iter()
                .map(|(k, v)| (*k, [s(v[0]), s(v[1])]))
                .collect(),
            min: s(self.min),
            max: s(self.max),
            quantiles_error_bound: self
                .quantiles_error_bound
                .as_ref()
                .map(|b| b.iter().map(|(k, v)| (*k, s(*v))).collect()),
            es_99_error_bound: self.es_99_error_bound.map(s),
        }
    }
}

impl From<&Distribution> for DistributionJson {
    fn from(d: &Distribution) -> Self {
        DistributionJson {
            mean: d.mean,
            std: d.std,
            se_mean: d.se_mean,
            quantiles: d.quantiles.iter().copied().collect(),
            es_99: d.es_99,
            es_99_se: d.es_99_se,
            quantiles_ci: d.quantiles_ci.iter().map(|&(q, lo, hi)| (q, [lo, hi])).collect(),
            min: d.min,
            max: d.max,
            quantiles_error_bound: None,
            es_99_error_bound: None,
        }
    }
}

impl From<Bounded> for DistributionJson {
    /// A distribution answered from bins, with its error bounds.
    fn from(b: Bounded) -> Self {
        let mut json = DistributionJson::from(&b.distribution);
        json.quantiles_error_bound = Some(b.quantile_bounds.into_iter().collect());
        json.es_99_error_bound = Some(b.es_bound);
        json
    }
}

/// What a summary is built from: the stored per-path columns of a [`Simulation`],
/// or the accumulators of a streamed run ([`crate::streaming::StreamedRun`]). Column `c` is a
/// column of [`Outcomes::layout`]; `layout.len() + j` is tranche `j`'s loss (interest shortfall
/// plus principal loss, path by path).
///
/// [`Summary::build`] first hands the whole of what it will ask for to [`Outcomes::prepare`]
/// (a stored run computes it there, on its threads, see the module `summary::stored`), then asks for each figure.
pub trait Outcomes {
    fn paths(&self) -> u64;
    fn seed(&self) -> u64;
    fn threads(&self) -> usize;
    fn layout(&self) -> Layout;
    /// Computes up front what [`Summary::build`] will ask for; nothing by default (a stored run
    /// does it as it is built, [`Summary::with_derived`]).
    fn prepare(&mut self, requests: &Requests) {
        let _ = requests;
    }
    /// Column `c`'s distribution (stored runs may permute the column in place).
    fn distribution_json(&mut self, c: usize) -> DistributionJson;
    /// `(p, se)` of `event` on column `c`.
    fn event_probability(&self, c: usize, event: Event) -> (f64, f64);
    /// Mean and standard error of column `c` over the first `n` paths, `n` one of
    /// [`convergence_paths`].
    fn prefix_estimate(&self, c: usize, n: u64) -> (f64, f64);
    /// [`Outcomes::prefix_estimate`] for each of `ns` (ascending).
    fn prefix_estimates(&self, c: usize, ns: &[u64]) -> Vec<(f64, f64)> {
        ns.iter().map(|&n| self.prefix_estimate(c, n)).collect()
    }
    /// Number of periods of the coverage counts.
    fn periods(&self) -> usize;
    /// `(p, se)` that period `k`'s coverage is below 1.
    fn period_probability(&self, k: usize) -> (f64, f64);
    /// The per-period coverage bands and the number of sampled paths.
    fn coverage_bands(&mut self) -> (Vec<BTreeMap<&'static str, Option<f64>>>, u64);
    /// The likelihood-ratio weights of an importance-sampled run.
    fn weights(&self) -> Option<&Weights>;
    /// The exposure view of each guarantor party and of the undertaker over `periods` periods
    /// (weighted under importance sampling); `None` when the run cannot give it (streamed runs,
    /// a scenario without an undertaker). A stored run computes them up front, permuting the
    /// payers' payout columns after their distributions.
    fn exposures(&mut self, periods: usize) -> (Vec<Option<PayerFigures>>, Option<PayerFigures>);
}

/// One guarantor party.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuarantorJson {
    /// Tier number, 1-based.
    pub tier: usize,
    pub name: String,
    pub share: f64,
    /// `null`: unlimited.
    pub cap: Option<f64>,
    pub payout: DistributionJson,
    pub net_payout: DistributionJson,
    pub shortfall: DistributionJson,
    pub p_cap_exhausted: f64,
    pub p_cap_exhausted_se: f64,
    /// P(payout > 0).
    pub p_called: f64,
    pub p_called_se: f64,
    /// The exposure view of its payouts: VaR and ES at 99% and 99.9%, when its cap runs out,
    /// the capacity that would have met its obligation on 99% and 99.9% of paths; weighted by
    /// the likelihood ratios under importance sampling. `null` in streamed runs (the
    /// accumulators do not keep each path's obligation beside its payout).
    pub exposure: Option<PayerFigures>,
}

/// The differential payment undertaker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndertakerJson {
    pub name: String,
    pub cap: Option<f64>,
    pub p_drawn: f64,
    pub p_drawn_se: f64,
    /// P(the draw reached the cap); 0 when unlimited.
    pub p_cap_exhausted: f64,
    pub p_cap_exhausted_se: f64,
    /// The exposure view of its draws (as for a guarantor party); its obligation on a path is
    /// its draw plus tranche 1's loss ([`crate::exposure::undertaker_obligation`]). Weighted
    /// under importance sampling; `null` in streamed runs.
    pub exposure: Option<PayerFigures>,
}

/// Coupon coverage of the senior tranche.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageJson {
    pub min_ratio: DistributionJson,
    pub p_below_1: f64,
    pub p_below_1_se: f64,
    pub per_period_p_below_1: Vec<f64>,
    pub per_period_p_below_1_se: Vec<f64>,
    /// Per period, the coverage quantiles at [`COVERAGE_BAND_LEVELS`] (`VaR_q = x(ceil(q n))`)
    /// over the first `per_period_sample_paths` paths; `null` where the quantile is infinite
    /// (no senior interest due on those paths). The fan chart draws these.
    pub per_period_quantiles: Vec<BTreeMap<&'static str, Option<f64>>>,
    pub per_period_sample_paths: u64,
}

/// The quantile levels of the per-period coverage bands.
pub const COVERAGE_BAND_LEVELS: [&str; 5] = ["0.05", "0.25", "0.5", "0.75", "0.95"];

/// Per period, the coverage bands of the sample ([`coverage_band`]), the periods in parallel on
/// `threads` threads.
pub(crate) fn coverage_bands(
    sample: &mut [Vec<f64>],
    weights: Option<&[f64]>,
    threads: usize,
) -> Vec<BTreeMap<&'static str, Option<f64>>> {
    in_pool(threads, || {
        sample
            .par_iter_mut()
            .map(|period| coverage_band(period, weights))
            .collect()
    })
}

/// One period's coverage bands: by selection when unweighted (permuting the period's sample),
/// from the weighted empirical distribution with `weights` (one per sampled path) under
/// importance sampling.
pub(crate) fn coverage_band(
    period: &mut [f64],
    weights: Option<&[f64]>,
) -> BTreeMap<&'static str, Option<f64>> {
    let values: Vec<f64> = match weights {
        Some(w) => COVERAGE_BAND_LEVELS
            .iter()
            .map(|&q| weighted_quantile_at(period, w, q))
            .collect(),
        None => quantiles_by_selection(period, &COVERAGE_BAND_LEVELS),
    };
    COVERAGE_BAND_LEVELS
        .iter()
        .zip(values)
        .map(|(&q, v)| (q, (v.is_finite() && !period.is_empty()).then_some(v)))
        .collect()
}

/// One tranche.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrancheJson {
    pub name: String,
    pub notional: f64,
    pub coupon: f64,
    /// E[interest shortfall + principal loss].
    pub expected_loss: f64,
    pub expected_loss_se: f64,
    /// `expected_loss` over the tranche's notional.
    pub expected_loss_frac: f64,
    /// P(loss > 1e-9 x notional).
    pub p_loss: f64,
    pub p_loss_se: f64,
    pub p_interest_shortfall: f64,
    pub p_interest_shortfall_se: f64,
    pub loss: DistributionJson,
    pub interest_shortfall: DistributionJson,
    pub principal_loss: DistributionJson,
    /// Weighted-average life of its scheduled principal repayments, in years
    /// ([`crate::schedule::weighted_average_life`]).
    pub wal_years: f64,
}

/// One point of a convergence series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConvergencePoint {
    pub paths: u64,
    pub estimate: f64,
    pub se: f64,
    /// `estimate -/+ 1.96 se`.
    pub ci_95: [f64; 2],
}

/// The running estimate of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConvergenceJson {
    /// The metric as a path into summary.json, e.g. `pool_loss.mean`.
    pub metric: String,
    pub points: Vec<ConvergencePoint>,
}

/// What a run with a precision target did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrecisionTargetJson {
    pub metric: String,
    /// The standard error asked for.
    pub target_se: f64,
    /// The standard error reached.
    pub se: f64,
    pub reached: bool,
    pub max_paths: u64,
}

/// How the paths were importance sampled (see [`crate::importance`]): every statistic of the
/// summary is weighted by the paths' likelihood ratios.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportanceJson {
    /// The metric the shift was chosen for (`null` for a given shift).
    pub metric: Option<String>,
    /// `cross_entropy` (chosen by the pilot) or `given`.
    pub method: &'static str,
    /// The mean shift of the sector normals `z` (`Z = A z`), one per sector.
    pub factor_shift: Vec<f64>,
    /// The shift of each firm's idiosyncratic normal (file order).
    pub firm_shift: Vec<f64>,
    /// The shift of each party's own-default normal (report order; 0 for a party without one).
    pub party_shift: Vec<f64>,
    /// The shift of the undertaker's own-default normal.
    pub undertaker_shift: f64,
    /// `|mu|`.
    pub shift_norm: f64,
    /// The components of a defensive mixture of shifts, each path drawn under one of them with
    /// probability `weight` (the fields above are the first's); one of weight 1 for a single
    /// shift. The zero-shift component, if any, is last.
    pub components: Vec<ShiftJson>,
    /// Kish's effective sample size `(sum w)^2 / sum w^2`.
    pub effective_sample_size: f64,
    /// `effective_sample_size / paths`.
    pub effective_sample_fraction: f64,
    /// `(1/n) sum w` (1 in expectation) and its standard error: a check of the weights.
    pub mean_weight: f64,
    pub mean_weight_se: f64,
    /// The largest weight of a path.
    pub max_weight: f64,
    /// Paths the cross-entropy pilot simulated (on its own streams), its iterations, and
    /// whether it reached the metric's tail itself (else only towards it).
    pub pilot_paths: u64,
    pub pilot_iterations: usize,
    pub pilot_reached_tail: bool,
}

/// One component of a mixture of shifts: its weight and its shift, split as in
/// [`ImportanceJson`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShiftJson {
    pub weight: f64,
    pub factor_shift: Vec<f64>,
    pub firm_shift: Vec<f64>,
    pub party_shift: Vec<f64>,
    pub undertaker_shift: f64,
    /// The defaulted exposure (sum of the defaulting firms' scheduled payments) the component's
    /// twist of the firms' conditional default probabilities aims at; `null`: no twist.
    pub twist_exposure: Option<f64>,
}

impl ImportanceJson {
    /// The weight figures of `w`; [`ImportanceJson::describe`] adds the shift and the pilot.
    fn of_weights(w: &Weights) -> Self {
        let n = w.all.count.max(1) as f64;
        let mean = w.all.sum / n;
        let var = (w.all.sum_sq / n - mean * mean).max(0.0);
        let ess = effective_sample_size(&w.all);
        let largest_baseline = w.baseline.iter().map(WeightSums::mean).fold(0.0, f64::max);
        ImportanceJson {
            metric: None,
            method: "given",
            factor_shift: Vec::new(),
            firm_shift: Vec::new(),
            party_shift: Vec::new(),
            undertaker_shift: 0.0,
            shift_norm: 0.0,
            components: Vec::new(),
            effective_sample_size: ess,
            effective_sample_fraction: ess / n,
            mean_weight: mean,
            mean_weight_se: (var / n).sqrt(),
            max_weight: w.stored.iter().copied().fold(largest_baseline, f64::max),
            pilot_paths: 0,
            pilot_iterations: 0,
            pilot_reached_tail: false,
        }
    }

    /// Records the shift `tilt`, the metric it aims at and, when a pilot chose it, the pilot.
    pub fn describe(&mut self, tilt: &Tilt, metric: Option<&str>, pilot: Option<&Choice>) {
        let d = tilt.dims();
        let mu = tilt.shift();
        let (firms, parties) = (d.factors + d.firms, d.factors + d.firms + d.parties);
        self.factor_shift = mu[..d.factors].to_vec();
        self.firm_shift = mu[d.factors..firms].to_vec();
        self.party_shift = mu[firms..parties].to_vec();
        self.undertaker_shift = mu[parties];
        self.shift_norm = tilt.norm();
        self.components = tilt
            .components()
            .iter()
            .map(|c| ShiftJson {
                weight: c.weight,
                factor_shift: c.shift[..d.factors].to_vec(),
                firm_shift: c.shift[d.factors..firms].to_vec(),
                party_shift: c.shift[firms..parties].to_vec(),
                undertaker_shift: c.shift[parties],
                twist_exposure: c.twist,
            })
            .collect();
        self.metric = metric.map(str::to_owned);
        if let Some(c) = pilot {
            self.method = "cross_entropy";
            self.pilot_paths = c.pilot_paths;
            self.pilot_iterations = c.iterations;
            self.pilot_reached_tail = c.reached_tail;
        }
    }
}

/// How a streamed run (`ipabs run --streaming`, or a run too large to store) summarised its
/// paths: every column folded into a [`crate::stats::histogram::ColumnAccumulator`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamingJson {
    /// `requested` (`--streaming`), `memory` (the stored run would not fit in 80% of available
    /// memory) or `max_memory` (it would not fit in the user's smaller `max_memory`).
    pub reason: &'static str,
    /// Bins per binade `[2^e, 2^(e+1))`.
    pub bins_per_binade: u64,
    /// The largest relative width of a bin: every quantile is within half of it, relatively,
    /// of the exact order statistic (`quantiles_error_bound` of each distribution gives the
    /// bound of each quantile).
    pub relative_bin_width: f64,
    /// Values below this in magnitude share one bin (absolute error at most this).
    pub central_bin_half_width: f64,
    /// Non-empty bins over all columns (the memory the histograms used, in counts).
    pub bins_used: u64,
    /// The estimate of the per-path storage a stored run would have needed, MiB.
    pub stored_memory_needed_mib: u64,
    pub note: &'static str,
}

/// How the numbers were produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub ipabs_version: &'static str,
    pub scenario_sha256: String,
    pub seed: u64,
    pub paths: u64,
    pub generator: &'static str,
    pub block_paths: u64,
    pub rand_version: &'static str,
    pub rand_distr_version: &'static str,
}

/// The model assumptions, echoed for the reader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssumptionsJson {
    pub copula: &'static str,
    pub dof: Option<f64>,
    pub asset_correlation: f64,
    pub sectors: Vec<String>,
    pub firms: usize,
    pub periods_per_year: u32,
    pub term_periods: u32,
    pub mean_annual_pd: f64,
    pub recovery_mean_rate: f64,
    pub recovery_lag_periods: u32,
    pub reimburse_guarantors: bool,
    pub value_vol: Option<f64>,
}

/// The whole of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub description: Option<String>,
    pub currency: String,
    pub paths: u64,
    pub seed: u64,
    pub pool_notional: f64,
    pub notes_notional: f64,
    pub pool_loss: DistributionJson,
    pub pool_loss_frac: DistributionJson,
    pub gross_default_loss: DistributionJson,
    pub gross_default_loss_frac: DistributionJson,
    pub defaults: DistributionJson,
    pub p_any_default: f64,
    pub p_any_default_se: f64,
    pub guarantors: Vec<GuarantorJson>,
    pub guarantor_shortfall: DistributionJson,
    pub undertaker_draw: DistributionJson,
    pub undertaker: Option<UndertakerJson>,
    pub coupon_coverage: Option<CoverageJson>,
    pub tranches: Vec<TrancheJson>,
    pub assumptions: AssumptionsJson,
    /// Estimates against paths, for the convergence chart: each metric's mean over the first
    /// `n` paths for block-aligned `n` doubling up to all paths.
    pub convergence: Vec<ConvergenceJson>,
    /// The precision target of the run, if it had one.
    pub precision_target: Option<PrecisionTargetJson>,
    /// How the paths were importance sampled; `null` for plain Monte Carlo.
    pub importance_sampling: Option<ImportanceJson>,
    /// Streamed runs only (absent otherwise): how the statistics were accumulated without
    /// per-path storage, and their error bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingJson>,
    pub manifest: Manifest,
    pub elapsed_s: f64,
    pub threads: usize,
}

/// What [`Summary::build`] asks of its [`Outcomes`], so that a stored run can compute it all up
/// front ([`Outcomes::prepare`]). Columns as in [`Outcomes`].
#[derive(Debug, Clone, PartialEq)]
pub struct Requests {
    /// Whether column `c`'s distribution is reported (each tranche's loss included).
    pub distributions: Vec<bool>,
    /// The convergence series: the metric and its column.
    pub convergence: Vec<(String, usize)>,
    /// The path counts of their points: `4096 * 2^k` below the run's paths, then its paths.
    pub convergence_paths: Vec<u64>,
    /// The reported events ([`reported_events`]).
    pub events: Vec<(usize, Event)>,
    /// The term of the exposure figures, in periods.
    pub periods: usize,
    /// Whether the coverage bands are reported (the senior tranche pays a coupon).
    pub coverage: bool,
    /// Whether the scenario has an undertaker (whose obligation is a derived column).
    pub undertaker: bool,
}

impl Requests {
    /// What the summary of `scenario` over `paths` paths with columns `layout` reports.
    pub fn of(scenario: &Scenario, layout: Layout, paths: u64) -> Requests {
        let coverage = scenario.tranches.first().is_some_and(|t| t.coupon > 0.0);
        let mut distributions = reported_columns(layout, coverage);
        distributions.resize(layout.len() + layout.tranches, true);
        Requests {
            distributions,
            convergence: convergence_series(scenario, layout),
            convergence_paths: convergence_paths(paths),
            events: reported_events(scenario, layout),
            periods: scenario.deal.term_periods as usize,
            coverage,
            undertaker: scenario.undertaker.is_some(),
        }
    }
}

/// The columns [`Summary::build`] reports distributions of, by index of `layout`: the pool's,
/// and each party's and tranche's (the minimum coverage when `coverage`).
fn reported_columns(layout: Layout, coverage: bool) -> Vec<bool> {
    let mut wanted = vec![false; layout.len()];
    let fixed = [
        Column::PoolLoss,
        Column::GrossDefaultLoss,
        Column::Defaults,
        Column::GuarantorShortfall,
        Column::UndertakerDraw,
    ];
    for c in fixed {
        wanted[layout.fixed(c)] = true;
    }
    wanted[layout.fixed(Column::MinCoverage)] = coverage;
    for p in 0..layout.parties {
        for c in [
            PartyColumn::Payout,
            PartyColumn::NetPayout,
            PartyColumn::Shortfall,
        ] {
            wanted[layout.party(p, c)] = true;
        }
    }
    for j in 0..layout.tranches {
        for c in [TrancheColumn::InterestShortfall, TrancheColumn::PrincipalLoss] {
            wanted[layout.tranche(j, c)] = true;
        }
    }
    wanted
}

impl TrancheJson {
    /// Tranche `j`'s figures (its loss is column `layout.len() + j` of [`Outcomes`]).
    fn new(t: &Tranche, j: usize, sim: &mut impl Outcomes, deal: &Deal) -> Self {
        let notional = f64::from_decimal(t.notional);
        let floor = Event::Above(1e-9 * notional);
        let layout = sim.layout();
        let (ci, cp, cl) = (
            layout.tranche(j, TrancheColumn::InterestShortfall),
            layout.tranche(j, TrancheColumn::PrincipalLoss),
            layout.len() + j,
        );
        let p_loss = sim.event_probability(cl, floor);
        let p_interest = sim.event_probability(ci, floor);
        let loss = sim.distribution_json(cl).snapped_to_cents();
        TrancheJson {
            name: t.name.clone(),
            notional,
            coupon: t.coupon,
            expected_loss: loss.mean,
            expected_loss_se: loss.se_mean,
            expected_loss_frac: loss.mean / notional,
            p_loss: p_loss.0,
            p_loss_se: p_loss.1,
            p_interest_shortfall: p_interest.0,
            p_interest_shortfall_se: p_interest.1,
            loss,
            interest_shortfall: sim.distribution_json(ci).snapped_to_cents(),
            principal_loss: sim.distribution_json(cp).snapped_to_cents(),
            wal_years: weighted_average_life(
                &principal_schedule(notional, &t.amortisation, deal.term_periods),
                deal.periods_per_year,
            ),
        }
    }
}

/// The path counts of a convergence series: `4096 * 2^k` below `paths`, then `paths`.
pub(crate) fn convergence_paths(paths: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut n = BLOCK_PATHS;
    while n < paths {
        out.push(n);
        n *= 2;
    }
    out.push(paths);
    out
}

/// The running means of the loss metrics: pool loss, gross default loss, guarantor shortfall and
/// each tranche's expected loss, as `(metric, column)` (columns as in [`Outcomes`]).
fn convergence_series(scenario: &Scenario, layout: Layout) -> Vec<(String, usize)> {
    let mut series: Vec<(String, usize)> = [
        ("pool_loss.mean", Column::PoolLoss),
        ("gross_default_loss.mean", Column::GrossDefaultLoss),
        ("guarantor_shortfall.mean", Column::GuarantorShortfall),
    ]
    .into_iter()
    .map(|(name, c)| (name.to_owned(), layout.fixed(c)))
    .collect();
    for (j, t) in scenario.tranches.iter().enumerate() {
        series.push((format!("tranches.{}.expected_loss", t.name), layout.len() + j));
    }
    series
}

/// The convergence series of `requests`, over the first `n` paths for each `n` of
/// [`convergence_paths`]: the points of a series from [`Outcomes::prefix_estimates`] (of a
/// stored plain run, one running sum, computed up front).
fn convergence(requests: &Requests, sim: &impl Outcomes) -> Vec<ConvergenceJson> {
    let ns = &requests.convergence_paths;
    requests
        .convergence
        .iter()
        .map(|(metric, c)| ConvergenceJson {
            metric: metric.clone(),
            points: ns
                .iter()
                .zip(sim.prefix_estimates(*c, ns))
                .map(|(&n, (estimate, se))| ConvergencePoint {
                    paths: n,
                    estimate,
                    se,
                    ci_95: [estimate - Z_95 * se, estimate + Z_95 * se],
                })
                .collect(),
        })
        .collect()
}

/// The events whose probabilities the summary reports, as `(column, event)` (columns as in
/// [`Outcomes`]): a streamed run counts exactly these.
pub fn reported_events(scenario: &Scenario, layout: Layout) -> Vec<(usize, Event)> {
    let mut out = vec![(layout.fixed(Column::Defaults), Event::Above(0.0))];
    if let Some(u) = &scenario.undertaker {
        let draws = layout.fixed(Column::UndertakerDraw);
        out.push((draws, Event::Above(0.0)));
        if let Some(c) = u.cap.map(f64::from_decimal) {
            out.push((draws, undertaker_exhausted(c)));
        }
    }
    for p in 0..layout.parties {
        out.push((layout.party(p, PartyColumn::CapExhausted), Event::Above(0.5)));
        out.push((layout.party(p, PartyColumn::Payout), Event::Above(0.0)));
    }
    out.push((layout.fixed(Column::MinCoverage), Event::Below(COVERAGE_FLOOR)));
    for (j, t) in scenario.tranches.iter().enumerate() {
        let floor = Event::Above(1e-9 * f64::from_decimal(t.notional));
        out.push((layout.len() + j, floor));
        out.push((layout.tranche(j, TrancheColumn::InterestShortfall), floor));
    }
    out
}

/// The undertaker's draw reached its cap `c` (to `1e-12` relative).
fn undertaker_exhausted(c: f64) -> Event {
    Event::AtLeast(c * (1.0 - 1e-12))
}

impl Summary {
    /// The estimate named by `metric` (a path into summary.json, arrays indexed by name) and its
    /// standard error: the sibling `se_mean` of a `mean`, else the sibling `<key>_se`.
    ///
    /// # Errors
    /// A message naming what was not found.
    pub fn estimate(&self, metric: &str) -> Result<(f64, f64), String> {
        let root = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let parts: Vec<&str> = metric.split('.').collect();
        let Some((last, parents)) = parts.split_last() else {
            return Err("empty metric".into());
        };
        let mut node = &root;
        for part in parents {
            node = match node {
                serde_json::Value::Array(items) => items
                    .iter()
                    .find(|x| x["name"] == *part)
                    .ok_or_else(|| format!("no entry named {part:?} in {metric:?}"))?,
                other => other
                    .get(*part)
                    .ok_or_else(|| format!("no {part:?} in {metric:?}"))?,
            };
        }
        let se_key = if *last == "mean" {
            "se_mean".to_owned()
        } else {
            format!("{last}_se")
        };
        let value = node.get(*last).and_then(|v| v.as_f64());
        let se = node.get(&se_key).and_then(|v| v.as_f64());
        match (value, se) {
            (Some(v), Some(se)) => Ok((v, se)),
            (None, _) => Err(format!("{metric:?} is not a number in summary.json")),
            (Some(_), None) => Err(format!("{metric:?} has no standard error ({se_key}) beside it")),
        }
    }
}

impl Summary {
    /// Builds the summary of `sim` for `scenario`. Consumes the per-path columns: the row-wise
    /// quantities are taken first, then the columns are permuted in place for the quantiles.
    pub fn new(scenario: &Scenario, sim: Simulation, scenario_sha256: String, elapsed_s: f64) -> Summary {
        Summary::with_derived(scenario, sim, scenario_sha256, elapsed_s, |_| ()).0
    }

    /// [`Summary::new`], with `derive(&sim)` (the chart data, copies of columns, ...) computed
    /// beside the statistics that read the columns in path order, before any is permuted, on
    /// the run's threads (see the private module `summary::stored`).
    pub fn with_derived<T: Send>(
        scenario: &Scenario,
        sim: Simulation,
        scenario_sha256: String,
        elapsed_s: f64,
        derive: impl FnOnce(&Simulation) -> T + Send,
    ) -> (Summary, T) {
        let requests = Requests::of(scenario, sim.layout, sim.paths);
        let (mut stored, derived) = Stored::new(sim, &requests, derive);
        let summary = Summary::assemble(scenario, &mut stored, &requests, scenario_sha256, elapsed_s);
        (summary, derived)
    }

    /// Builds the summary of `sim` (stored columns or streamed accumulators) for `scenario`.
    pub fn build(
        scenario: &Scenario,
        sim: &mut (impl Outcomes + Sync),
        scenario_sha256: String,
        elapsed_s: f64,
    ) -> Summary {
        let requests = Requests::of(scenario, sim.layout(), sim.paths());
        sim.prepare(&requests);
        Summary::assemble(scenario, sim, &requests, scenario_sha256, elapsed_s)
    }

    /// The summary from `sim`'s answers to `requests` (prepared).
    fn assemble(
        scenario: &Scenario,
        sim: &mut impl Outcomes,
        requests: &Requests,
        scenario_sha256: String,
        elapsed_s: f64,
    ) -> Summary {
        let n = sim.paths();
        let pool_notional = f64::from_decimal(scenario.pool_notional());
        let layout = sim.layout();
        let convergence = convergence(requests, sim);
        let (periods, has_coverage) = (requests.periods, requests.coverage);
        let p_any_default = sim.event_probability(layout.fixed(Column::Defaults), Event::Above(0.0));
        let (mut party_exposures, mut undertaker_exposure) = sim.exposures(periods);
        let undertaker = scenario.undertaker.as_ref().map(|u| {
            let draws = layout.fixed(Column::UndertakerDraw);
            let exposure = undertaker_exposure.take();
            let cap = u.cap.map(f64::from_decimal);
            let drawn = sim.event_probability(draws, Event::Above(0.0));
            let exhausted = match cap {
                Some(c) => sim.event_probability(draws, undertaker_exhausted(c)),
                None => (0.0, 0.0),
            };
            UndertakerJson {
                name: u.name.clone(),
                cap,
                p_drawn: drawn.0,
                p_drawn_se: drawn.1,
                p_cap_exhausted: exhausted.0,
                p_cap_exhausted_se: exhausted.1,
                exposure,
            }
        });

        let guarantors = scenario
            .parties()
            .enumerate()
            .map(|(p, (tier, party))| {
                let col = |c| layout.party(p, c);
                let exhausted = sim.event_probability(col(PartyColumn::CapExhausted), Event::Above(0.5));
                let called = sim.event_probability(col(PartyColumn::Payout), Event::Above(0.0));
                let exposure = party_exposures[p].take();
                GuarantorJson {
                    tier,
                    name: party.name.clone(),
                    share: party.share,
                    cap: party.cap.map(f64::from_decimal),
                    payout: sim.distribution_json(col(PartyColumn::Payout)).snapped_to_cents(),
                    net_payout: sim
                        .distribution_json(col(PartyColumn::NetPayout))
                        .snapped_to_cents(),
                    shortfall: sim
                        .distribution_json(col(PartyColumn::Shortfall))
                        .snapped_to_cents(),
                    p_cap_exhausted: exhausted.0,
                    p_cap_exhausted_se: exhausted.1,
                    p_called: called.0,
                    p_called_se: called.1,
                    exposure,
                }
            })
            .collect();

        let coupon_coverage = has_coverage.then(|| {
            let min = layout.fixed(Column::MinCoverage);
            let below = sim.event_probability(min, Event::Below(COVERAGE_FLOOR));
            let per: Vec<(f64, f64)> = (0..sim.periods()).map(|k| sim.period_probability(k)).collect();
            let (per_period_quantiles, per_period_sample_paths) = sim.coverage_bands();
            CoverageJson {
                per_period_quantiles,
                per_period_sample_paths,
                min_ratio: sim.distribution_json(min),
                p_below_1: below.0,
                p_below_1_se: below.1,
                per_period_p_below_1: per.iter().map(|x| x.0).collect(),
                per_period_p_below_1_se: per.iter().map(|x| x.1).collect(),
            }
        });

        let tranches = scenario
            .tranches
            .iter()
            .enumerate()
            .map(|(j, t)| TrancheJson::new(t, j, sim, &scenario.deal))
            .collect();

        let pool_loss = sim
            .distribution_json(layout.fixed(Column::PoolLoss))
            .snapped_to_cents();
        let gross = sim
            .distribution_json(layout.fixed(Column::GrossDefaultLoss))
            .snapped_to_cents();
        let c = &scenario.credit;
        Summary {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            currency: scenario.currency.clone(),
            paths: n,
            seed: sim.seed(),
            pool_notional,
            notes_notional: f64::from_decimal(scenario.notes_notional()),
            pool_loss_frac: pool_loss.scaled(pool_notional),
            pool_loss,
            gross_default_loss_frac: gross.scaled(pool_notional),
            gross_default_loss: gross,
            defaults: sim.distribution_json(layout.fixed(Column::Defaults)),
            p_any_default: p_any_default.0,
            p_any_default_se: p_any_default.1,
            guarantors,
            guarantor_shortfall: sim
                .distribution_json(layout.fixed(Column::GuarantorShortfall))
                .snapped_to_cents(),
            undertaker_draw: sim
                .distribution_json(layout.fixed(Column::UndertakerDraw))
                .snapped_to_cents(),
            undertaker,
            coupon_coverage,
            tranches,
            assumptions: AssumptionsJson {
                copula: match c.copula {
                    Copula::Gaussian => "gaussian",
                    Copula::StudentT { .. } => "t",
                },
                dof: match c.copula {
                    Copula::Gaussian => None,
                    Copula::StudentT { dof } => Some(dof),
                },
                asset_correlation: c.asset_correlation,
                sectors: c.sectors.clone(),
                firms: scenario.firms.len(),
                periods_per_year: scenario.deal.periods_per_year,
                term_periods: scenario.deal.term_periods,
                mean_annual_pd: scenario
                    .firms
                    .iter()
                    .map(|f| -(-f.credit.hazard()).exp_m1())
                    .sum::<f64>()
                    / scenario.firms.len().max(1) as f64,
                recovery_mean_rate: scenario.recovery.rate.mean(),
                recovery_lag_periods: scenario.recovery.lag_periods,
                reimburse_guarantors: scenario.recovery.reimburse_guarantors,
                value_vol: scenario.recovery.value_vol,
            },
            convergence,
            precision_target: None,
            importance_sampling: sim.weights().map(ImportanceJson::of_weights),
            streaming: None,
            manifest: Manifest {
                ipabs_version: env!("CARGO_PKG_VERSION"),
                scenario_sha256,
                seed: sim.seed(),
                paths: n,
                generator: GENERATOR,
                block_paths: BLOCK_PATHS,
                rand_version: env!("IPABS_RAND_VERSION"),
                rand_distr_version: env!("IPABS_RAND_DISTR_VERSION"),
            },
            elapsed_s,
            threads: sim.threads(),
        }
    }

    /// The summary as pretty-printed JSON bytes (with a final newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

//! The runner: simulates many paths in parallel, reproducibly.
//!
//! Paths are cut into fixed blocks of [`BLOCK_PATHS`] paths. Block `b` draws from its own
//! generator, [`block_rng`]`(seed, b)`, and its paths are simulated in order; block results are
//! merged in block order. So the per-path outcomes, and every statistic computed from them, are
//! bit-identical whatever the number of threads (the threads only decide *when* a block runs).
//! The submodule `record` hands the blocks out and joins their results, writing each stored
//! value once.
//!
//! **Generator.** Xoshiro256++ (`rand::rngs::Xoshiro256PlusPlus`, a named portable generator of
//! `rand` 0.10). Block `b`'s 256-bit state is the outputs `4b+1 .. 4b+4` of SplitMix64 started
//! at `seed` (Steele, Lea & Flood 2014), little-endian. Within a path the draws follow the order
//! of [`crate::path`] (a defaulting firm's recovery rate from its own generator keyed by the
//! path key and the firm's index). Normals are `rand_distr` 0.6's `StandardNormal` (ziggurat),
//! drawn by the same algorithm on the same tables in `path`'s own copy, bit for bit; chi-square
//! and Beta are `rand_distr`'s; their versions are recorded in every run's manifest because a
//! new `rand_distr` may change values.

use std::ops::Range;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use thiserror::Error;

mod record;
use record::{Assembly, Room, SampleRows, Shape};

use crate::importance::{Tilt, TiltState};
use crate::path::{GOLDEN_GAMMA, PathOutcome, Scratch, draw_path, simulate_path, splitmix64_mix};
use crate::plan::Plan;
use crate::stats::weighted::{WeightSums, WeightedColumn, probability_of};
use crate::stats::{Distribution, Proportion, mean_and_se};

/// Paths per block (and per random stream).
pub const BLOCK_PATHS: u64 = 4096;

/// The generator every path draws from.
pub type PathRng = Xoshiro256PlusPlus;

/// Name of the generator, for manifests.
pub const GENERATOR: &str = "Xoshiro256PlusPlus per block of 4096 paths, state = SplitMix64(seed) outputs 4b+1..4b+4; \
     recovery rate of firm i from Xoshiro256PlusPlus::seed_from_u64(SplitMix64(path key) output i+1), path key one u64 per path";

/// The generator of block `block` for `seed` (see the module docs).
pub fn block_rng(seed: u64, block: u64) -> PathRng {
    let mut bytes = [0u8; 32];
    for (j, chunk) in bytes.chunks_exact_mut(8).enumerate() {
        let n = block.wrapping_mul(4).wrapping_add(j as u64 + 1);
        let word = splitmix64_mix(seed.wrapping_add(n.wrapping_mul(GOLDEN_GAMMA)));
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    PathRng::from_seed(bytes)
}

/// Errors of a simulation run.
#[derive(Debug, Error)]
pub enum RunError {
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {reason}")]
    Threads { threads: usize, reason: String },
    /// [`Progress::cancelled`] asked the run to stop.
    #[error("interrupted")]
    Cancelled,
}

/// Receives progress from the runner, and may ask it to stop; every method defaults to doing
/// nothing.
pub trait Progress: Sync {
    /// A run of `paths` paths starts (called by [`crate::job::run`] before each run of its
    /// precision-target loop).
    fn start(&self, _paths: u64) {}

    /// `paths` more paths are done.
    fn advance(&self, _paths: u64) {}

    /// Whether the run should stop (checked before each block); a stopped run returns
    /// [`RunError::Cancelled`].
    fn cancelled(&self) -> bool {
        false
    }
}

/// A [`Progress`] that reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// The per-path outputs kept as columns, in this order: the fixed columns, then six per party,
/// then two per tranche.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub parties: usize,
    pub tranches: usize,
}

/// The fixed columns of a [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    PoolLoss,
    GrossDefaultLoss,
    Defaults,
    GuarantorShortfall,
    UndertakerDraw,
    MinCoverage,
    Residual,
    Missed,
    GuarantorPaid,
    Recovered,
    Reimbursed,
    /// The period the undertaker's draws reached its cap (0: never).
    UndertakerCapOutPeriod,
}

/// Per-party columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyColumn {
    Payout,
    NetPayout,
    Shortfall,
    Obligation,
    CapExhausted,
    /// The period its cap first bound (0: never).
    CapOutPeriod,
}

/// Per-tranche columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrancheColumn {
    InterestShortfall,
    PrincipalLoss,
}

const FIXED: [(Column, &str); 12] = [
    (Column::PoolLoss, "pool_loss"),
    (Column::GrossDefaultLoss, "gross_default_loss"),
    (Column::Defaults, "defaults"),
    (Column::GuarantorShortfall, "guarantor_shortfall"),
    (Column::UndertakerDraw, "undertaker_draw"),
    (Column::MinCoverage, "min_coverage"),
    (Column::Residual, "residual"),
    (Column::Missed, "missed"),
    (Column::GuarantorPaid, "guarantor_paid"),
    (Column::Recovered, "recovered"),
    (Column::Reimbursed, "reimbursed"),
    (Column::UndertakerCapOutPeriod, "undertaker_cap_out_period"),
];
const PARTY: [(PartyColumn, &str); 6] = [
    (PartyColumn::Payout, "payout"),
    (PartyColumn::NetPayout, "net_payout"),
    (PartyColumn::Shortfall, "shortfall"),
    (PartyColumn::Obligation, "obligation"),
    (PartyColumn::CapExhausted, "cap_exhausted"),
    (PartyColumn::CapOutPeriod, "cap_out_period"),
];
const TRANCHE: [(TrancheColumn, &str); 2] = [
    (TrancheColumn::InterestShortfall, "interest_shortfall"),
    (TrancheColumn::PrincipalLoss, "principal_loss"),
];

impl Layout {
    /// The layout of `plan`'s outputs.
    pub fn of(plan: &Plan) -> Self {
        Layout {
            parties: plan.parties(),
            tranches: plan.tranches(),
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        FIXED.len() + PARTY.len() * self.parties + TRANCHE.len() * self.tranches
    }

    /// Always false: there are fixed columns.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Index of a fixed column.
    pub fn fixed(&self, c: Column) -> usize {
        c as usize
    }

    /// Index of party `p`'s column.
    pub fn party(&self, p: usize, c: PartyColumn) -> usize {
        FIXED.len() + PARTY.len() * p + c as usize
    }

    /// Index of tranche `j`'s column.
    pub fn tranche(&self, j: usize, c: TrancheColumn) -> usize {
        FIXED.len() + PARTY.len() * self.parties + TRANCHE.len() * j + c as usize
    }

    /// Column names (`party3.payout`, `tranche0.principal_loss`, ...), in column order.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = FIXED.iter().map(|(_, n)| n.to_string()).collect();
        for p in 0..self.parties {
            out.extend(PARTY.iter().map(|(_, n)| format!("party{p}.{n}")));
        }
        for j in 0..self.tranches {
            out.extend(TRANCHE.iter().map(|(_, n)| format!("tranche{j}.{n}")));
        }
        out
    }

    /// Appends `o` as a row of the column buffers `cols`.
    fn push(&self, o: &PathOutcome, cols: &mut [Vec<f64>]) {
        self.for_each_value(o, |c, v| cols[c].push(v));
    }

    /// Calls `f(column, value)` for every column of outcome `o`.
    pub(crate) fn for_each_value(&self, o: &PathOutcome, mut f: impl FnMut(usize, f64)) {
        let fixed = [
            o.pool_loss,
            o.gross_default_loss,
            f64::from(o.defaults),
            o.guarantor_shortfall,
            o.undertaker_draw,
            o.min_coverage,
            o.residual,
            o.missed,
            o.guarantor_paid,
            o.recovered,
            o.reimbursed,
            f64::from(o.undertaker_cap_out_period),
        ];
        for (c, v) in fixed.into_iter().enumerate() {
            f(c, v);
        }
        for (p, po) in o.parties.iter().enumerate() {
            let vals = [
                po.payout,
                po.net_payout,
                po.shortfall,
                po.obligation,
                if po.cap_exhausted { 1.0 } else { 0.0 },
                f64::from(po.cap_out_period),
            ];
            for (c, v) in vals.into_iter().enumerate() {
                f(FIXED.len() + PARTY.len() * p + c, v);
            }
        }
        for (j, t) in o.tranches.iter().enumerate() {
            let base = self.tranche(j, TrancheColumn::InterestShortfall);
            f(base, t.interest_shortfall);
            f(base + 1, t.principal_loss);
        }
    }

    /// The outcome `o` as one row of values, in column order.
    fn row(&self, o: &PathOutcome) -> Vec<f64> {
        let mut row = vec![0.0; self.len()];
        self.for_each_value(o, |c, v| row[c] = v);
        row
    }
}

/// Per-path outputs of a whole run, with the few counts that are not columns.
///
/// Most paths of a good deal see no default: they all share one outcome, the *baseline*, which
/// is stored once with its count. Only the other paths are stored, as columns in path order
/// (`stored[i]` is the path index of row `i`). [`Simulation::distribution`] and
/// [`Simulation::count`] see all `paths` paths; [`Simulation::full_column`] expands one column.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Paths of the whole run.
    pub paths: u64,
    pub seed: u64,
    /// The blocks simulated here: all of them, or one shard's.
    pub blocks: Range<u64>,
    pub threads: usize,
    pub layout: Layout,
    /// The baseline outcome, one value per column.
    pub baseline: Vec<f64>,
    /// Number of baseline paths.
    pub baseline_count: u64,
    /// Path indices of the stored (non-baseline) paths, ascending.
    pub stored: Vec<u64>,
    /// One vector per column of `layout`, over the stored paths.
    pub columns: Vec<Vec<f64>>,
    /// Per period: paths whose coverage in that period was below `1 - 1e-9`.
    pub coverage_below_one: Vec<u64>,
    /// Per period: the coverage of each of the first [`coverage_sample_paths`] paths (`+inf` where
    /// tranche 1 had no interest due), for per-period bands such as a fan chart.
    pub coverage_sample: Vec<Vec<f64>>,
    /// Importance sampling: every path's likelihood ratio; `None` for plain Monte Carlo.
    pub weights: Option<Weights>,
}

/// The likelihood-ratio weights of an importance-sampled run (see [`crate::importance`]), kept
/// beside the columns: one per stored path, and sums for the baseline paths.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Weights {
    /// The weight of each stored path (row order).
    pub stored: Vec<f64>,
    /// Per block simulated here, in block order: the weights of its baseline paths.
    pub baseline: Vec<WeightSums>,
    /// Per period: the weights of the paths whose coverage was below `1 - 1e-9`.
    pub coverage_below_one: Vec<WeightSums>,
    /// The weight of each path of the coverage sample.
    pub coverage_sample: Vec<f64>,
    /// Every path's weight.
    pub all: WeightSums,
}

impl Weights {
    /// The weights of all baseline paths.
    pub fn baseline_total(&self) -> WeightSums {
        self.baseline
            .iter()
            .fold(WeightSums::default(), |a, b| a.merged(b))
    }
}

/// One column's samples over all paths, as the runner keeps them: the stored paths' values plus
/// `count` copies of the baseline value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Samples<'a> {
    pub stored: &'a [f64],
    pub baseline: f64,
    pub count: u64,
}

impl<'a> Samples<'a> {
    /// Plain samples, no baseline copies.
    pub fn plain(values: &'a [f64]) -> Self {
        Samples {
            stored: values,
            baseline: 0.0,
            count: 0,
        }
    }

    /// Number of samples.
    pub fn n(&self) -> u64 {
        self.stored.len() as u64 + self.count
    }

    /// The smallest and largest sample; `None` when empty.
    pub fn min_max(&self) -> Option<(f64, f64)> {
        let init = if self.count > 0 {
            (self.baseline, self.baseline)
        } else {
            (f64::INFINITY, f64::NEG_INFINITY)
        };
        let (lo, hi) = self.stored.iter().fold(init, |(a, b), &x| (a.min(x), b.max(x)));
        (self.n() > 0).then_some((lo, hi))
    }

    /// Number of samples `x` with `pred(x)`.
    pub fn count_where(&self, pred: impl Fn(f64) -> bool) -> u64 {
        let stored = self.stored.iter().filter(|&&x| pred(x)).count() as u64;
        stored
            + if self.count > 0 && pred(self.baseline) {
                self.count
            } else {
                0
            }
    }
}

/// Why shards could not be merged.
#[derive(Debug, Error, PartialEq)]
pub enum MergeError {
    #[error("no partial results to merge")]
    Empty,
    #[error("the partial results are of different runs ({what} differs)")]
    Mismatch { what: &'static str },
    #[error("blocks {missing_from}..{missing_to} are missing (a shard is missing)")]
    Missing { missing_from: u64, missing_to: u64 },
    #[error("blocks from {from} are given twice (a shard is repeated or the layouts differ)")]
    Overlap { from: u64 },
}

impl Simulation {
    /// Whether this holds every block of the run.
    pub fn is_complete(&self) -> bool {
        self.blocks == (0..block_count(self.paths))
    }

    /// Joins the shards of one run into the whole run: identical, bit for bit, to simulating
    /// all the blocks at once. The parts may come in any order; they must tile the blocks.
    ///
    /// # Errors
    /// [`MergeError`] when the parts belong to different runs, miss blocks or overlap.
    pub fn merge(mut parts: Vec<Simulation>) -> Result<Simulation, MergeError> {
        parts.sort_by_key(|p| p.blocks.start);
        let first = parts.first().ok_or(MergeError::Empty)?;
        for p in &parts {
            let what = if p.paths != first.paths {
                "paths"
            } else if p.seed != first.seed {
                "seed"
            } else if p.layout != first.layout || p.coverage_sample.len() != first.coverage_sample.len() {
                "layout"
            } else if p
                .baseline
                .iter()
                .zip(&first.baseline)
                .any(|(a, b)| a.to_bits() != b.to_bits())
            {
                "baseline"
            } else {
                continue;
            };
            return Err(MergeError::Mismatch { what });
        }
        let mut next = 0;
        for p in &parts {
            if p.blocks.start > next {
                return Err(MergeError::Missing {
                    missing_from: next,
                    missing_to: p.blocks.start,
                });
            }
            if p.blocks.start < next {
                return Err(MergeError::Overlap { from: p.blocks.start });
            }
            next = p.blocks.end;
        }
        let total = block_count(first.paths);
        if next < total {
            return Err(MergeError::Missing {
                missing_from: next,
                missing_to: total,
            });
        }
        let mut parts = parts.into_iter();
        let mut whole = parts.next().ok_or(MergeError::Empty)?;
        for p in parts {
            whole.blocks.end = p.blocks.end;
            whole.threads = whole.threads.max(p.threads);
            whole.baseline_count += p.baseline_count;
            whole.stored.extend_from_slice(&p.stored);
            for (a, b) in whole.columns.iter_mut().zip(&p.columns) {
                a.extend_from_slice(b);
            }
            for (a, b) in whole.coverage_below_one.iter_mut().zip(&p.coverage_below_one) {
                *a += b;
            }
            for (a, b) in whole.coverage_sample.iter_mut().zip(&p.coverage_sample) {
                a.extend_from_slice(b);
            }
            if let (Some(a), Some(b)) = (&mut whole.weights, &p.weights) {
                a.stored.extend_from_slice(&b.stored);
                a.baseline.extend_from_slice(&b.baseline);
                for (x, y) in a.coverage_below_one.iter_mut().zip(&b.coverage_below_one) {
                    *x = x.merged(y);
                }
                a.coverage_sample.extend_from_slice(&b.coverage_sample);
                a.all = a.all.merged(&b.all);
            }
        }
        Ok(whole)
    }

    /// Column `c`'s samples over all paths.
    pub fn samples(&self, c: usize) -> Samples<'_> {
        Samples {
            stored: &self.columns[c],
            baseline: self.baseline[c],
            count: self.baseline_count,
        }
    }

    /// Summary statistics of column `c` over all paths. Permutes that column's stored values in
    /// place, so take any joint quantity of several columns (by row) before. Weighted by the
    /// likelihood ratios under importance sampling.
    pub fn distribution(&mut self, c: usize) -> Distribution {
        let baseline = self.baseline[c];
        let (columns, weights) = (&mut self.columns, &self.weights);
        distribution_of(weights.as_ref(), &mut columns[c], baseline, self.baseline_count)
    }

    /// [`Simulation::distribution`] of a column derived row by row from the stored columns
    /// (`values`, in row order) with baseline value `baseline`. Sorts `values` in place.
    pub fn derived_distribution(&self, values: &mut [f64], baseline: f64) -> Distribution {
        distribution_of(self.weights.as_ref(), values, baseline, self.baseline_count)
    }

    /// `(p, se)` of `pred` on column `c`: `count / n` and `sqrt(p (1 - p) / n)`, or their
    /// weighted forms under importance sampling ([`crate::stats::weighted`]).
    pub fn probability(&self, c: usize, pred: impl Fn(f64) -> bool) -> (f64, f64) {
        self.derived_probability(&self.columns[c], self.baseline[c], pred)
    }

    /// [`Simulation::probability`] of a derived column (see [`Simulation::derived_distribution`]).
    pub fn derived_probability(
        &self,
        values: &[f64],
        baseline: f64,
        pred: impl Fn(f64) -> bool,
    ) -> (f64, f64) {
        match &self.weights {
            Some(w) => WeightedColumn {
                values,
                weights: &w.stored,
                baseline_value: baseline,
                baseline: w.baseline_total(),
            }
            .probability(pred),
            None => {
                let stored = values.iter().filter(|&&x| pred(x)).count() as u64;
                let base = if pred(baseline) { self.baseline_count } else { 0 };
                let p = Proportion::new(stored + base, self.paths);
                (p.p, p.se)
            }
        }
    }

    /// `(p, se)` that period `k`'s (0-based) coverage is below 1.
    pub fn coverage_probability(&self, k: usize) -> (f64, f64) {
        match &self.weights {
            Some(w) => probability_of(&w.coverage_below_one[k], self.paths),
            None => {
                let p = Proportion::new(self.coverage_below_one[k], self.paths);
                (p.p, p.se)
            }
        }
    }

    /// Mean and standard error over the first `n` paths (`n` a multiple of [`BLOCK_PATHS`] or
    /// all paths) of a column or derived column `values` with baseline value `baseline`.
    pub fn prefix_mean_and_se(&self, values: &[f64], baseline: f64, n: u64) -> (f64, f64) {
        let s = self.stored.partition_point(|&i| i < n);
        match &self.weights {
            Some(w) => {
                let blocks = (n.div_ceil(BLOCK_PATHS).saturating_sub(self.blocks.start)) as usize;
                let base = w.baseline[..blocks.min(w.baseline.len())]
                    .iter()
                    .fold(WeightSums::default(), |a, b| a.merged(b));
                WeightedColumn {
                    values: &values[..s],
                    weights: &w.stored[..s],
                    baseline_value: baseline,
                    baseline: base,
                }
                .mean_and_se()
            }
            None => mean_and_se(&values[..s], baseline, n - s as u64),
        }
    }

    /// Number of paths whose value in column `c` satisfies `pred`.
    pub fn count(&self, c: usize, pred: impl Fn(f64) -> bool) -> u64 {
        let stored = self.columns[c].iter().filter(|&&x| pred(x)).count() as u64;
        stored
            + if pred(self.baseline[c]) {
                self.baseline_count
            } else {
                0
            }
    }

    /// Column `c` over every path, in path order.
    pub fn full_column(&self, c: usize) -> Vec<f64> {
        let mut out = vec![self.baseline[c]; self.paths as usize];
        for (i, v) in self.stored.iter().zip(&self.columns[c]) {
            out[*i as usize] = *v;
        }
        out
    }
}

/// Summary of `values` and `count` baseline paths of value `baseline`, weighted when `weights`.
pub(crate) fn distribution_of(
    weights: Option<&Weights>,
    values: &mut [f64],
    baseline: f64,
    count: u64,
) -> Distribution {
    match weights {
        Some(w) => WeightedColumn {
            values,
            weights: &w.stored,
            baseline_value: baseline,
            baseline: w.baseline_total(),
        }
        .distribution(),
        None => Distribution::with_baseline(values, baseline, count),
    }
}

/// Runs `f` on a pool of `threads` threads (0: every core), so that its rayon calls use that
/// many: on the current pool when called from a thread of a pool of that many threads (as the
/// chart data is, beside the summary's statistics: one pool for the whole phase after the
/// paths), else on a new pool; on the calling thread if no pool can be started.
pub fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() && rayon::current_num_threads() == threads {
        return f();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// A pool of `threads` threads (0: every core) for a run's blocks.
///
/// # Errors
/// [`RunError::Threads`] when the pool cannot be started.
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, RunError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| RunError::Threads {
            threads,
            reason: e.to_string(),
        })
}

/// Coverage below this counts as "below 1".
pub const COVERAGE_FLOOR: f64 = 1.0 - 1e-9;

/// The share of paths a run stores (those that are not baseline paths), estimated from above:
/// `P(any default)` with independent firms, `1 - prod (1 - p_i)`, an upper bound for the
/// positively correlated pools ipabs models, plus 1% for paths on which only the undertaker's
/// default matters; at most 1.
pub fn stored_share(plan: &Plan) -> f64 {
    let term = plan.deal.term_years();
    let survive: f64 = plan.firms.iter().map(|f| (-f.hazard * term).exp()).product();
    ((1.0 - survive) + 0.01).min(1.0)
}

/// The stored paths of a run of `paths` paths by the estimate [`stored_share`] (all of them
/// under importance sampling, whose shift makes most paths default).
fn stored_estimate(plan: &Plan, paths: u64, tilted: bool) -> u64 {
    if tilted {
        paths
    } else {
        (paths as f64 * stored_share(plan)).ceil() as u64
    }
}

/// The bytes a run of `paths` paths records: the stored paths' columns and indices (`8 (L + 1)`
/// a stored path for `L` columns, [`stored_estimate`] of them) and the coverage sample
/// (`8 T` a sampled path for `T` periods), each written once.
pub fn rows_needed(plan: &Plan, paths: u64) -> u64 {
    let per_path = (Layout::of(plan).len() as u64 + 1) * 8;
    let coverage = coverage_sample_paths(plan.periods, paths) * plan.periods as u64 * 8;
    stored_estimate(plan, paths, false)
        .saturating_mul(per_path)
        .saturating_add(coverage)
}

/// Columns the summary derives row by row from a plain stored run, beside its own: each
/// tranche's loss and the undertaker's need (counted whether or not there is an undertaker).
fn derived_columns(plan: &Plan) -> u64 {
    plan.tranches() as u64 + 1
}

/// An estimate of the bytes of per-path storage a stored run of `paths` paths takes at its
/// peak: [`rows_needed`] (the run writes its rows once, into columns reserved once), plus the
/// summary's derived columns, `8 D` a stored path ([`derived_columns`]). The statistics permute
/// the columns in place. From above by the share [`stored_share`]: with the program's 32 MiB
/// ([`crate::job::PROGRAM_MEMORY`]) it is 19-47% above the measured peak resident memory of the
/// flagship and the peer pool at 1 and 4 million paths (`benches/README.md`).
pub fn memory_needed(plan: &Plan, paths: u64) -> u64 {
    let derived = stored_estimate(plan, paths, false).saturating_mul(derived_columns(plan) * 8);
    rows_needed(plan, paths).saturating_add(derived)
}

/// [`memory_needed`] for an importance-sampled run: every path is counted as stored, with its
/// weight, and the whole counted twice, for the weighted statistics' working copies (pairs of
/// value and weight sorted together).
pub fn memory_needed_tilted(plan: &Plan, paths: u64) -> u64 {
    let per_path = (Layout::of(plan).len() as u64 + 2) * 8;
    let coverage = coverage_sample_paths(plan.periods, paths) * (plan.periods as u64 + 1) * 8;
    paths
        .saturating_mul(per_path)
        .saturating_add(coverage)
        .saturating_mul(2)
}

/// Most per-period coverage values kept per run (periods x paths), 128 MiB of `f64`.
pub const COVERAGE_SAMPLE_VALUES: u64 = 16 << 20;

/// How many paths' per-period coverage a run keeps: every path while `periods x paths` fits in
/// [`COVERAGE_SAMPLE_VALUES`], otherwise the first whole blocks that fit (at least one block).
/// The same paths whatever the thread count.
pub fn coverage_sample_paths(periods: usize, paths: u64) -> u64 {
    let fit = COVERAGE_SAMPLE_VALUES / (periods.max(1) as u64);
    if paths <= fit {
        paths
    } else {
        ((fit / BLOCK_PATHS).max(1) * BLOCK_PATHS).min(paths)
    }
}

/// Simulates the paths of block `block` in order, handing each path's index, buffers and
/// whether it is a baseline path to `sink`.
pub(crate) fn run_block(
    plan: &Plan,
    seed: u64,
    block: u64,
    paths: u64,
    scratch: &mut Scratch,
    sink: impl FnMut(u64, &Scratch, bool),
) {
    run_block_with(plan, seed, block, paths, scratch, simulate_path, sink);
}

/// [`run_block`] with `simulate` ([`simulate_path`] or [`draw_path`]) simulating each path.
fn run_block_with(
    plan: &Plan,
    seed: u64,
    block: u64,
    paths: u64,
    scratch: &mut Scratch,
    simulate: fn(&Plan, &mut PathRng, &mut Scratch) -> bool,
    mut sink: impl FnMut(u64, &Scratch, bool),
) {
    let mut rng = block_rng(seed, block);
    let first = block * BLOCK_PATHS;
    let end = paths.min(first + BLOCK_PATHS);
    for index in first..end {
        let baseline = simulate(plan, &mut rng, scratch);
        sink(index, scratch, baseline);
    }
}

pub(crate) fn block_count(paths: u64) -> u64 {
    paths.div_ceil(BLOCK_PATHS)
}

/// Replays paths `0..paths` in order on the calling thread, with the very streams of
/// [`simulate`], handing each path's index and buffers to `visit`. For audits and tests.
pub fn replay(plan: &Plan, seed: u64, paths: u64, mut visit: impl FnMut(u64, &Scratch)) {
    let mut scratch = Scratch::new(plan);
    for b in 0..block_count(paths) {
        run_block(plan, seed, b, paths, &mut scratch, |i, s, _| visit(i, s));
    }
}

/// [`replay`] with [`Scratch::recording`] buffers: `visit` can also read what each party paid
/// for each firm and when its cap ran out. The same paths as [`simulate`].
pub fn replay_recording(plan: &Plan, seed: u64, paths: u64, mut visit: impl FnMut(u64, &Scratch)) {
    let mut scratch = Scratch::recording(plan);
    for b in 0..block_count(paths) {
        run_block(plan, seed, b, paths, &mut scratch, |i, s, _| visit(i, s));
    }
}

/// Simulates `paths` paths of `plan` from `seed` on `threads` threads (0: all cores).
pub fn simulate(
    plan: &Plan,
    paths: u64,
    seed: u64,
    threads: usize,
    progress: &dyn Progress,
) -> Result<Simulation, RunError> {
    simulate_blocks(plan, paths, seed, 0..block_count(paths), threads, progress)
}

/// The blocks of shard `shard` (1-based) of `shards` for a run of `paths` paths: a contiguous
/// range, `floor((shard - 1) B / N) .. floor(shard B / N)` of the `B` blocks. Shards `1..=N`
/// tile the blocks in order.
pub fn shard_blocks(paths: u64, shard: u64, shards: u64) -> Range<u64> {
    let b = u128::from(block_count(paths));
    let (i, n) = (u128::from(shard.max(1)), u128::from(shards.max(1)));
    ((i - 1) * b / n) as u64..(i * b / n).min(b) as u64
}

/// Simulates only the blocks `blocks` of a run of `paths` paths (a shard). The result holds
/// those blocks' paths; [`Simulation::merge`] of all the shards in order is the whole run, bit
/// for bit.
pub fn simulate_blocks(
    plan: &Plan,
    paths: u64,
    seed: u64,
    blocks: Range<u64>,
    threads: usize,
    progress: &dyn Progress,
) -> Result<Simulation, RunError> {
    simulate_blocks_tilted(plan, paths, seed, blocks, threads, progress, None)
}

/// [`simulate`] under importance sampling with `tilt` ([`crate::importance`]): the same
/// streams, every draw shifted, every path weighted by its likelihood ratio. A zero tilt (or
/// `None`) is plain Monte Carlo, bit for bit.
pub fn simulate_tilted(
    plan: &Plan,
    paths: u64,
    seed: u64,
    threads: usize,
    progress: &dyn Progress,
    tilt: Option<&Tilt>,
) -> Result<Simulation, RunError> {
    simulate_blocks_tilted(plan, paths, seed, 0..block_count(paths), threads, progress, tilt)
}

/// [`simulate_blocks`] under importance sampling with `tilt` (see [`simulate_tilted`]).
pub fn simulate_blocks_tilted(
    plan: &Plan,
    paths: u64,
    seed: u64,
    blocks: Range<u64>,
    threads: usize,
    progress: &dyn Progress,
    tilt: Option<&Tilt>,
) -> Result<Simulation, RunError> {
    let tilt = tilt.filter(|t| !t.is_zero());
    let block_range = blocks.start.min(block_count(paths))..blocks.end.min(block_count(paths));
    let pool = thread_pool(threads)?;
    let layout = Layout::of(plan);
    let shape = Shape {
        columns: layout.len(),
        periods: plan.periods,
        weighted: tilt.is_some(),
    };
    let paths_from = |block: u64| (block * BLOCK_PATHS).min(paths);
    let block_len = |block: u64| (paths_from(block + 1) - paths_from(block)) as usize;
    // The coverage sample: the paths of this run's blocks among the first `sampled` paths (whole
    // blocks), allocated once and written in place by their blocks.
    let sampled = coverage_sample_paths(plan.periods, paths);
    let sample_len = sampled
        .min(paths_from(block_range.end))
        .saturating_sub(paths_from(block_range.start)) as usize;
    let mut coverage_sample: Vec<Vec<f64>> = (0..plan.periods).map(|_| vec![0.0; sample_len]).collect();
    let mut sample_weights = tilt.map(|_| vec![0.0; sample_len]);
    // The columns' room: never past the stored paths of the run's memory estimate.
    let run_paths = paths_from(block_range.end) - paths_from(block_range.start);
    let room = Room {
        paths: run_paths,
        most: usize::try_from(stored_estimate(plan, run_paths, tilt.is_some())).unwrap_or(usize::MAX),
    };
    let assembly = Assembly::new(
        block_range.clone(),
        shape,
        room,
        SampleRows::of(&mut coverage_sample, sample_weights.as_deref_mut()),
    );
    let finished = pool.broadcast(|_| {
        let mut scratch = match tilt {
            Some(t) => Scratch::new(plan).with_tilt(TiltState::new(t.clone(), false)),
            None => Scratch::new(plan),
        };
        let mut record = assembly.record();
        let mut rows = SampleRows::default();
        loop {
            if progress.cancelled() {
                return Err(RunError::Cancelled);
            }
            let Some(b) = assembly.claim(block_len, &mut rows) else {
                return Ok(());
            };
            record.start(b);
            let first = b * BLOCK_PATHS;
            // A baseline path's outcome is the baseline's: it is only counted.
            let lazy = draw_path::<PathRng>;
            run_block_with(plan, seed, b, paths, &mut scratch, lazy, |index, s, baseline| {
                let weight = tilt.map(|_| s.log_weight().exp());
                let outcome = if baseline { s.baseline() } else { &s.outcome };
                rows.write((index - first) as usize, &outcome.coverage, weight);
                record.add(&layout, index, s, baseline, weight);
            });
            progress.advance(block_len(b) as u64);
            record = assembly.finish(record);
        }
    });
    finished.into_iter().collect::<Result<(), RunError>>()?;
    let run = assembly.into_run();

    // The baseline paths' share of the per-period counts (and sums) of coverage below 1.
    let base = Scratch::new(plan);
    let below = |c: &f64| *c < COVERAGE_FLOOR;
    let mut coverage_below_one = run.coverage_below_one;
    for (n, c) in coverage_below_one.iter_mut().zip(&base.baseline().coverage) {
        if below(c) {
            *n += run.baseline_count;
        }
    }
    let weights = run.weights.map(|mut w| {
        let baseline = w.baseline_total();
        for (x, c) in w.coverage_below_one.iter_mut().zip(&base.baseline().coverage) {
            if below(c) {
                *x = x.merged(&baseline);
            }
        }
        w.coverage_sample = sample_weights.unwrap_or_default();
        w
    });
    Ok(Simulation {
        paths,
        seed,
        blocks: block_range,
        threads: pool.current_num_threads(),
        layout,
        baseline: layout.row(base.baseline()),
        baseline_count: run.baseline_count,
        stored: run.stored,
        columns: run.columns,
        coverage_below_one,
        coverage_sample,
        weights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn block_streams_are_distinct_and_stable() {
        let mut a = block_rng(7, 0);
        let mut b = block_rng(7, 1);
        let mut c = block_rng(8, 0);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert!(x != y && x != z && y != z);
        assert_eq!(block_rng(7, 0).next_u64(), x);
    }

    #[test]
    fn shards_tile_the_blocks() {
        for (paths, n) in [(1u64, 3u64), (4096 * 10, 3), (4096 * 7 + 5, 7), (100_000, 1)] {
            let mut next = 0;
            for i in 1..=n {
                let r = shard_blocks(paths, i, n);
                assert_eq!(r.start, next);
                next = r.end;
            }
            assert_eq!(next, block_count(paths));
        }
    }

    #[test]
    fn coverage_sample_is_whole_blocks() {
        assert_eq!(coverage_sample_paths(4, 1_000_000), 1_000_000);
        // 360 periods: 16Mi / 360 = 46,603 values per period -> 11 whole blocks.
        assert_eq!(coverage_sample_paths(360, 1_000_000), 11 * BLOCK_PATHS);
        assert_eq!(coverage_sample_paths(100_000_000, 10_000), BLOCK_PATHS);
        assert_eq!(coverage_sample_paths(100_000_000, 100), 100);
    }

    /// Asks to stop once `after` blocks are done; counts the paths reported done.
    struct CancelAfter {
        after: u64,
        done: std::sync::atomic::AtomicU64,
    }

    impl Progress for CancelAfter {
        fn advance(&self, paths: u64) {
            self.done.fetch_add(paths, std::sync::atomic::Ordering::Relaxed);
        }
        fn cancelled(&self) -> bool {
            self.done.load(std::sync::atomic::Ordering::Relaxed) >= self.after.saturating_mul(BLOCK_PATHS)
        }
    }

    #[test]
    fn a_run_reports_every_path_and_stops_when_cancelled() {
        let scenario = crate::scenario::load("scenarios/yuhang-2023.toml".as_ref()).expect("loads");
        let plan = Plan::new(&scenario);
        let paths = 20 * BLOCK_PATHS + 7;
        let full = CancelAfter {
            after: u64::MAX,
            done: 0.into(),
        };
        let sim = simulate(&plan, paths, 1, 2, &full).expect("a run");
        assert_eq!(full.done.into_inner(), paths);
        assert_eq!(sim.stored.len() as u64 + sim.baseline_count, paths);
        assert!(sim.stored.windows(2).all(|w| w[0] < w[1]));
        assert!(sim.columns.iter().all(|c| c.len() == sim.stored.len()));
        // Each of the 2 workers finishes at most the block it holds once 2 blocks are done.
        let stop = CancelAfter {
            after: 2,
            done: 0.into(),
        };
        assert!(matches!(
            simulate(&plan, paths, 1, 2, &stop),
            Err(RunError::Cancelled)
        ));
        assert!(stop.done.into_inner() <= 4 * BLOCK_PATHS);
    }

    #[test]
    fn the_memory_estimate_counts_each_stored_row_once_from_above() {
        for file in ["scenarios/yuhang-2023.toml", "scenarios/bench/peer-pool.toml"] {
            let scenario = crate::scenario::load(file.as_ref()).expect("loads");
            let plan = Plan::new(&scenario);
            let paths = 50 * BLOCK_PATHS;
            let sim = simulate(&plan, paths, 3, 2, &Silent).expect("a run");
            // What the run and its summary hold: each stored row once (its columns and its
            // index), each tranche's loss and the undertaker's need, and the coverage sample.
            let per_row = sim.layout.len() + 1 + plan.tranches() + 1;
            let sample: usize = sim.coverage_sample.iter().map(Vec::len).sum();
            let held = ((sim.stored.len() * per_row + sample) * 8) as f64;
            // The share's bound (independent firms, +1%) is 10-20% above these pools' share.
            let estimate = memory_needed(&plan, paths) as f64;
            assert!(
                estimate >= held && estimate <= 1.3 * held,
                "{file}: estimate {estimate} for {held} bytes held"
            );
            assert!(sim.columns.iter().all(|c| c.len() == sim.stored.len()));
        }
    }

    #[test]
    fn splitmix_matches_reference() {
        // SplitMix64 seeded with 0: first output 0xE220A8397B1DCDAF (reference implementation).
        assert_eq!(splitmix64_mix(GOLDEN_GAMMA), 0xE220_A839_7B1D_CDAF);
    }
}

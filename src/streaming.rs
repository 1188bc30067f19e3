//! Streamed runs: the paths of [`crate::runner`] (the same blocks, streams and outcomes) folded
//! block by block into one [`ColumnAccumulator`] per column, so a run of any number of paths
//! needs memory for the bins and the coverage sample only, never per-path rows.
//!
//! Blocks are simulated in parallel in chunks of [`CHUNK_BLOCKS`]; each block folds its own
//! paths in path order, and the blocks' accumulators are merged in block order. So every number
//! is the same, bit for bit, whatever the thread count. Means, standard deviations and
//! probabilities equal a stored run's to rounding (the sums are taken in another order);
//! quantiles and ES are within the bounds of [`crate::stats::histogram`], reported beside them.
//! Importance-sampled runs are not streamed (their weights are per path).

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::exposure::PayerFigures;
use crate::path::Scratch;
use crate::plan::Plan;
use crate::report::summary::{DistributionJson, Outcomes, convergence_paths, coverage_bands};
use crate::runner::{
    BLOCK_PATHS, COVERAGE_FLOOR, Layout, Progress, RunError, Weights, block_count, coverage_sample_paths,
    run_block, thread_pool,
};
use crate::stats::Proportion;
use crate::stats::histogram::{ColumnAccumulator, Event};

/// Blocks simulated in parallel before their accumulators are merged (bounds the memory of
/// blocks waiting to be merged).
pub const CHUNK_BLOCKS: u64 = 64;

/// A run summarised as it went: per column (the columns of [`Layout`], then one loss column per
/// tranche) an accumulator, the coverage counts and sample, and the running means the
/// convergence series needs.
#[derive(Debug, Clone)]
pub struct StreamedRun {
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
    pub layout: Layout,
    /// One per column of `layout`, then tranche `j`'s loss at `layout.len() + j`.
    pub columns: Vec<ColumnAccumulator>,
    /// Per period: paths whose coverage in that period was below `1 - 1e-9`.
    pub coverage_below_one: Vec<u64>,
    /// As [`crate::runner::Simulation::coverage_sample`].
    pub coverage_sample: Vec<Vec<f64>>,
    /// `(n, per column (mean, se))` after the first `n` paths, for each `n` of
    /// [`convergence_paths`].
    pub prefix: Vec<(u64, Vec<(f64, f64)>)>,
}

/// Bytes of dense bin counts allowed each column in [`memory_needed`]: 160 binades of 1,024
/// 8-byte counts, a column of values of both signs from 2^-40 (the central bin) to 2^40.
const BINS_PER_COLUMN: u64 = 160 * 1024 * 8;

/// An estimate of the bytes a streamed run of `paths` paths of `plan` takes beside the program,
/// flat in the number of paths once the coverage sample is full:
/// - the coverage sample: `8 T` a sampled path for `T` periods ([`coverage_sample_paths`]),
///   reserved once;
/// - the blocks of a chunk awaiting their merge, [`CHUNK_BLOCKS`] at most: each holds the bin
///   keys of its stored paths' values, at most `8 C` a stored path for `C` columns (a value
///   equal to the baseline's is only counted), [`crate::runner::stored_share`] of its paths,
///   and its rows of the coverage sample, `8 T` a path;
/// - the run's bins: [`BINS_PER_COLUMN`] a column.
pub fn memory_needed(plan: &Plan, paths: u64) -> u64 {
    let periods = plan.periods as u64;
    let columns = (Layout::of(plan).len() + plan.tranches()) as u64;
    let sampled = coverage_sample_paths(plan.periods, paths);
    let coverage = sampled * periods * 8;
    let chunk = CHUNK_BLOCKS.min(block_count(paths));
    let block_paths = paths.min(BLOCK_PATHS);
    let keys = (block_paths as f64 * crate::runner::stored_share(plan)).ceil() as u64 * columns * 8;
    let rows = CHUNK_BLOCKS.min(block_count(sampled)) * block_paths * periods * 8;
    coverage
        .saturating_add(chunk * keys)
        .saturating_add(rows)
        .saturating_add(columns * BINS_PER_COLUMN)
}

struct BlockFold {
    columns: Vec<ColumnAccumulator>,
    coverage_below_one: Vec<u64>,
    coverage: Vec<Vec<f64>>,
}

/// Simulates `paths` paths of `plan` from `seed` on `threads` threads (0: all cores), folding
/// them into a [`StreamedRun`]; `events` are the `(column, event)` pairs to count exactly (see
/// [`crate::report::summary::reported_events`]).
///
/// # Errors
/// [`RunError::Threads`], or [`RunError::Cancelled`] when `progress` asks to stop.
pub fn simulate_streaming(
    plan: &Plan,
    paths: u64,
    seed: u64,
    threads: usize,
    progress: &dyn Progress,
    events: &[(usize, Event)],
) -> Result<StreamedRun, RunError> {
    let pool = thread_pool(threads)?;
    let layout = Layout::of(plan);
    let base = Scratch::new(plan);
    let mut baseline = vec![0.0; layout.len()];
    layout.for_each_value(base.baseline(), |c, v| baseline[c] = v);
    for t in &base.baseline().tranches {
        baseline.push(t.interest_shortfall + t.principal_loss);
    }
    let empty: Vec<ColumnAccumulator> = baseline
        .iter()
        .enumerate()
        .map(|(c, &b)| {
            let ev: Vec<Event> = events.iter().filter(|e| e.0 == c).map(|e| e.1).collect();
            ColumnAccumulator::new(b, &ev)
        })
        .collect();
    let sampled = coverage_sample_paths(plan.periods, paths);
    let checkpoints = convergence_paths(paths);
    let mut run = StreamedRun {
        paths,
        seed,
        threads: pool.current_num_threads(),
        layout,
        columns: empty.clone(),
        coverage_below_one: vec![0; plan.periods],
        // Reserved once at its size: the blocks' rows are appended without regrowing.
        coverage_sample: (0..plan.periods)
            .map(|_| Vec::with_capacity(sampled as usize))
            .collect(),
        prefix: Vec::new(),
    };
    let blocks = block_count(paths);
    let mut next = 0;
    while next < blocks {
        let chunk = next..(next + CHUNK_BLOCKS).min(blocks);
        let start = chunk.start;
        next = chunk.end;
        let folds: Option<Vec<BlockFold>> = pool.install(|| {
            chunk
                .into_par_iter()
                .map_init(
                    || Scratch::new(plan),
                    |scratch, b| {
                        if progress.cancelled() {
                            return None;
                        }
                        let fold = fold_block(plan, seed, b, paths, sampled, scratch, &empty);
                        progress.advance(paths.min((b + 1) * BLOCK_PATHS) - b * BLOCK_PATHS);
                        Some(fold)
                    },
                )
                .collect()
        });
        let Some(folds) = folds else {
            return Err(RunError::Cancelled);
        };
        for (i, f) in folds.into_iter().enumerate() {
            for (a, b) in run.columns.iter_mut().zip(&f.columns) {
                a.merge(b);
            }
            for (a, b) in run.coverage_below_one.iter_mut().zip(&f.coverage_below_one) {
                *a += b;
            }
            for (a, b) in run.coverage_sample.iter_mut().zip(f.coverage) {
                a.extend(b);
            }
            let done = paths.min((start + i as u64 + 1) * BLOCK_PATHS);
            if checkpoints.contains(&done) {
                run.prefix.push((
                    done,
                    run.columns.iter().map(ColumnAccumulator::mean_and_se).collect(),
                ));
            }
        }
    }
    Ok(run)
}

/// Folds the paths of block `b` in path order.
fn fold_block(
    plan: &Plan,
    seed: u64,
    b: u64,
    paths: u64,
    sampled: u64,
    scratch: &mut Scratch,
    empty: &[ColumnAccumulator],
) -> BlockFold {
    let first = b * BLOCK_PATHS;
    let len = (paths.min(first + BLOCK_PATHS) - first) as usize;
    let keep = if first < sampled { len } else { 0 };
    let layout = Layout::of(plan);
    let mut f = BlockFold {
        columns: empty.to_vec(),
        coverage_below_one: vec![0; plan.periods],
        coverage: vec![vec![0.0; keep]; plan.periods],
    };
    let mut baseline_paths = 0;
    run_block(plan, seed, b, paths, scratch, |index, s, baseline| {
        let o = &s.outcome;
        if keep > 0 {
            for (k, c) in o.coverage.iter().enumerate() {
                f.coverage[k][(index - first) as usize] = *c;
            }
        }
        if baseline {
            baseline_paths += 1;
            return;
        }
        layout.for_each_value(o, |c, v| f.columns[c].add(v));
        for (j, t) in o.tranches.iter().enumerate() {
            f.columns[layout.len() + j].add(t.interest_shortfall + t.principal_loss);
        }
        for (k, c) in o.coverage.iter().enumerate() {
            if *c < COVERAGE_FLOOR {
                f.coverage_below_one[k] += 1;
            }
        }
    });
    for c in &mut f.columns {
        c.add_baseline(baseline_paths);
    }
    if baseline_paths > 0 {
        for (k, c) in scratch.baseline().coverage.iter().enumerate() {
            if *c < COVERAGE_FLOOR {
                f.coverage_below_one[k] += baseline_paths;
            }
        }
    }
    f
}

impl StreamedRun {
    /// Non-empty bins over all columns.
    pub fn bins_used(&mut self) -> u64 {
        self.columns.iter_mut().map(|c| c.bins_used() as u64).sum()
    }
}

impl Outcomes for StreamedRun {
    fn paths(&self) -> u64 {
        self.paths
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn threads(&self) -> usize {
        self.threads
    }
    fn layout(&self) -> Layout {
        self.layout
    }
    fn distribution_json(&mut self, c: usize) -> DistributionJson {
        DistributionJson::from(self.columns[c].distribution())
    }
    /// Counted exactly for the events of [`crate::report::summary::reported_events`]; `(0, 0)`
    /// for any other (none is asked).
    fn event_probability(&self, c: usize, event: Event) -> (f64, f64) {
        let count = self.columns[c].event_count(event).unwrap_or(0);
        let p = Proportion::new(count, self.paths);
        (p.p, p.se)
    }
    fn prefix_estimate(&self, c: usize, n: u64) -> (f64, f64) {
        self.prefix
            .iter()
            .find(|(m, _)| *m == n)
            .map_or((0.0, 0.0), |(_, v)| v[c])
    }
    fn periods(&self) -> usize {
        self.coverage_below_one.len()
    }
    fn period_probability(&self, k: usize) -> (f64, f64) {
        let p = Proportion::new(self.coverage_below_one[k], self.paths);
        (p.p, p.se)
    }
    fn coverage_bands(&mut self) -> (Vec<BTreeMap<&'static str, Option<f64>>>, u64) {
        let sample_paths = self.coverage_sample.first().map_or(0, |v| v.len() as u64);
        (
            coverage_bands(&mut self.coverage_sample, None, self.threads),
            sample_paths,
        )
    }
    fn weights(&self) -> Option<&Weights> {
        None
    }
    /// Not given: the exposure view needs each path's obligation beside its payout, which the
    /// accumulators do not keep.
    fn exposures(&mut self, _periods: usize) -> (Vec<Option<PayerFigures>>, Option<PayerFigures>) {
        (vec![None; self.layout.parties], None)
    }
}

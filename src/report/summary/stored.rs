//! A stored run as [`Outcomes`]: the per-path columns of a [`Simulation`], with everything
//! [`super::Summary::build`] asks of them ([`Requests`]) computed up front on the run's threads.
//!
//! **The phase after the paths on every thread.** [`Stored::new`] does all of it on one pool of
//! the run's `threads` threads ([`in_pool`]; the chart data, and anything else the caller
//! derives from the run, joins that pool instead of starting its own), in two steps:
//!
//! 1. *reading*, nothing permuted: the caller's `derive` (the chart data; copies of columns)
//!    beside the summary's reading work: each tranche's loss (a row-wise sum), then the
//!    undertaker's obligation (its draw plus tranche 1's loss), then as a list of independent
//!    tasks each convergence series, each reported event probability, each payer's cap-out
//!    tally (an importance-sampled run's exposure figures, which read their columns in path
//!    order beside the weights), and the cost estimates of step 2;
//! 2. *permuting*: one list of tasks: each reported column's distribution, each tranche's loss
//!    distribution, each period's coverage band, and per payer (each guarantor party, the
//!    undertaker) two tasks: its payout column's distribution followed by the payout figures
//!    of its exposure (on the column as the distribution left it), and the capacities from its
//!    obligations.
//!
//! The lists are taken largest first (by estimated time) by each thread as it comes free
//! ([`largest_first`]), each thread running first any work pending on the pool (the pieces of
//! the chart data, which cannot be split further): so the big pieces go first and the last to
//! end are small, and the threads end each step close together. Step 2 waits for the end of
//! step 1 (the caller's `derive` may read any column); nothing else waits.
//!
//! Each column goes through the same operations on the same data in the same order as when
//! these phases ran one after another (every reading of a column in path order before any
//! permutation of it; a payout column's distribution before its exposure figures), and each
//! task is computed by one thread alone, so the results are the same bit for bit whatever the
//! thread count and whichever thread takes a task.
//!
//! Measured with `valgrind --tool=callgrind --separate-threads=yes --fair-sched=yes` on
//! `examples/after_paths.rs` (peer pool, 2 threads): the busier thread does 50-51% of the
//! phase's instructions, the main thread 0.1%.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use super::{DistributionJson, Outcomes, Requests, coverage_band};
use crate::exposure::{
    PayerColumn, PayerFigures, PayoutFigures, cap_out_tally, capacities_in_place, undertaker_obligation,
};
use crate::runner::{
    Column, Layout, PartyColumn, Samples, Simulation, TrancheColumn, Weights, distribution_of, in_pool,
};
use crate::stats::histogram::Event;
use crate::stats::{Distribution, prefix_means_and_se};

/// A stored run as [`Outcomes`], every requested statistic computed (see the module docs).
/// Asked for something not requested, it computes it from the columns as they are then.
pub(super) struct Stored {
    sim: Simulation,
    /// Tranche `j`'s loss on each stored path and on the baseline ([`tranche_loss`]).
    losses: Vec<(Vec<f64>, f64)>,
    /// The undertaker's obligation, with an undertaker only.
    undertaker_need: Option<Need>,
    /// The distributions, at their column's index (derived columns after the layout's); taken
    /// when reported.
    prepared: Vec<Option<Distribution>>,
    /// The convergence estimates of a column at each of `prefix_paths`.
    prefixes: Vec<Option<Vec<(f64, f64)>>>,
    prefix_paths: Vec<u64>,
    /// The requested events' `(p, se)`.
    events: Vec<((usize, Event), (f64, f64))>,
    /// The payers' exposure figures over `periods` periods; taken when asked for.
    exposures: Option<(Vec<Option<PayerFigures>>, Option<PayerFigures>)>,
    periods: usize,
    /// The coverage bands; taken when asked for.
    bands: Option<Vec<BTreeMap<&'static str, Option<f64>>>>,
}

/// The undertaker's obligation on the stored paths: on each of them, in path order, when the
/// run is importance-sampled (each beside its weight); otherwise only those that differ from
/// the baseline's obligation (all the exposure figures need), the others counted in `left_out`.
struct Need {
    values: Vec<f64>,
    baseline: f64,
    left_out: u64,
}

/// Tranche `j`'s loss (interest shortfall plus principal loss) on each stored path, in path
/// order, and on the baseline: a row-wise sum, so taken before the columns are permuted.
fn tranche_loss(sim: &Simulation, j: usize) -> (Vec<f64>, f64) {
    let (ci, cp) = (
        sim.layout.tranche(j, TrancheColumn::InterestShortfall),
        sim.layout.tranche(j, TrancheColumn::PrincipalLoss),
    );
    let loss = sim.columns[ci]
        .iter()
        .zip(&sim.columns[cp])
        .map(|(a, b)| a + b)
        .collect();
    (loss, sim.baseline[ci] + sim.baseline[cp])
}

/// The undertaker's obligation ([`undertaker_obligation`]) from its draws and tranche 1's loss
/// `senior` ([`tranche_loss`]; none without tranches).
fn undertaker_need(sim: &Simulation, senior: Option<&(Vec<f64>, f64)>) -> Need {
    let draws = sim.layout.fixed(Column::UndertakerDraw);
    let (senior, senior_baseline) = senior.map_or((None, 0.0), |(l, b)| (Some(l), *b));
    let baseline = undertaker_obligation(sim.baseline[draws], senior_baseline);
    let all = sim.columns[draws]
        .iter()
        .enumerate()
        .map(|(i, &d)| undertaker_obligation(d, senior.map_or(0.0, |l| l[i])));
    let values: Vec<f64> = match sim.weights {
        Some(_) => all.collect(),
        None => all.filter(|x| x.to_bits() != baseline.to_bits()).collect(),
    };
    Need {
        left_out: (sim.columns[draws].len() - values.len()) as u64,
        values,
        baseline,
    }
}

/// The run's columns and derived columns, read in path order.
#[derive(Clone, Copy)]
struct View<'a> {
    sim: &'a Simulation,
    losses: &'a [(Vec<f64>, f64)],
    need: Option<&'a Need>,
}

impl<'a> View<'a> {
    /// Column `c` of [`Outcomes`] (a tranche's loss past the layout's columns) and its baseline.
    fn values(&self, c: usize) -> (&'a [f64], f64) {
        match c.checked_sub(self.sim.layout.len()) {
            Some(j) => (self.losses[j].0.as_slice(), self.losses[j].1),
            None => (self.sim.columns[c].as_slice(), self.sim.baseline[c]),
        }
    }

    /// `(p, se)` of `event` on column `c`.
    fn probability(&self, c: usize, event: Event) -> (f64, f64) {
        let (values, baseline) = self.values(c);
        self.sim.derived_probability(values, baseline, |x| event.holds(x))
    }

    /// Mean and standard error of column `c` over the first `n` paths, for each of `ns`: a plain
    /// run's from one compensated sum over the column ([`prefix_means_and_se`], bit for bit the
    /// estimate of each prefix alone).
    fn prefixes(&self, c: usize, ns: &[u64]) -> Vec<(f64, f64)> {
        let sim = self.sim;
        let (values, baseline) = self.values(c);
        if sim.weights.is_some() {
            return ns
                .par_iter()
                .map(|&n| sim.prefix_mean_and_se(values, baseline, n))
                .collect();
        }
        // The stored paths among the first n, the others baseline paths.
        let prefixes: Vec<(usize, u64)> = ns
            .iter()
            .map(|&n| {
                let s = sim.stored.partition_point(|&i| i < n);
                (s, n - s as u64)
            })
            .collect();
        prefix_means_and_se(values, baseline, &prefixes)
    }

    /// An importance-sampled run's exposure figures of payer `p` (the parties, then the
    /// undertaker) over `periods` periods, read beside the weights `w`.
    fn weighted_payer(&self, p: usize, w: &Weights, periods: usize) -> Option<PayerFigures> {
        let sim = self.sim;
        if p < sim.layout.parties {
            let col = |c| sim.samples(sim.layout.party(p, c));
            let (payout, obligation, out) = (
                col(PartyColumn::Payout),
                col(PartyColumn::Obligation),
                col(PartyColumn::CapOutPeriod),
            );
            return Some(PayerFigures::weighted(payout, obligation, out, w, periods));
        }
        let need = self.need?;
        let draws = sim.samples(sim.layout.fixed(Column::UndertakerDraw));
        let need = Samples {
            stored: &need.values,
            baseline: need.baseline,
            count: sim.baseline_count + need.left_out,
        };
        let out = sim.samples(sim.layout.fixed(Column::UndertakerCapOutPeriod));
        Some(PayerFigures::weighted(draws, need, out, w, periods))
    }

    /// A plain run's cap-out tally of payer `p` ([`cap_out_tally`]); `None` for an undertaker
    /// the scenario does not have.
    fn tally(&self, p: usize, periods: usize) -> Option<Vec<u64>> {
        let sim = self.sim;
        let column = if p < sim.layout.parties {
            sim.layout.party(p, PartyColumn::CapOutPeriod)
        } else {
            self.need?;
            sim.layout.fixed(Column::UndertakerCapOutPeriod)
        };
        Some(cap_out_tally(sim.samples(column), periods))
    }

    /// The share of column `c`'s stored values off its baseline value, from [`COST_SAMPLES`]
    /// runs of [`COST_RUN`] values spread evenly over the column (a cost estimate only).
    fn off_baseline(&self, c: usize) -> f64 {
        let (values, baseline) = self.values(c);
        let (mut n, mut off) = (0, 0);
        for k in 0..COST_SAMPLES {
            let from = values.len() * k / COST_SAMPLES;
            let run = &values[from..values.len().min(from + COST_RUN)];
            n += run.len();
            off += run.iter().filter(|x| x.to_bits() != baseline.to_bits()).count();
        }
        off as f64 / n.max(1) as f64
    }
}

/// How many runs of how many values [`View::off_baseline`] reads.
const COST_SAMPLES: usize = 8;
const COST_RUN: usize = 512;

/// One reading task of step 1.
#[derive(Clone, Copy)]
enum Read {
    /// The convergence series of requested series `i`.
    Series(usize),
    /// Requested event `i`.
    Event(usize),
    /// Payer `p`'s cap-out tally (plain runs) or exposure figures (weighted runs).
    Payer(usize),
    /// Column `c`'s share of values off the baseline.
    Cost(usize),
}

/// The answer to a [`Read`].
enum Reading {
    Series(usize, Vec<(f64, f64)>),
    Event(usize, (f64, f64)),
    Tally(usize, Option<Vec<u64>>),
    Weighted(usize, Option<PayerFigures>),
    Cost(usize, f64),
}

/// What step 1 read.
struct Readings {
    losses: Vec<(Vec<f64>, f64)>,
    need: Option<Need>,
    /// Per column (derived ones included): its convergence estimates, if requested.
    prefixes: Vec<Option<Vec<(f64, f64)>>>,
    events: Vec<((usize, Event), (f64, f64))>,
    /// Per payer (the parties, then the undertaker): its cap-out tally (plain runs) or its
    /// exposure figures (weighted runs).
    tallies: Vec<Option<Vec<u64>>>,
    weighted: Vec<Option<PayerFigures>>,
    /// Per column (derived ones included): the share of its values off the baseline.
    off_baseline: Vec<f64>,
}

/// Which payer's which column.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Payout,
    Obligation,
}

/// One permuting task of step 2.
enum Job<'a> {
    /// Column `c`'s distribution (of its stored values with this baseline value).
    Distribution(usize, &'a mut [f64], f64),
    /// Payer `p`'s payout or obligation column: its distribution when column `Some(c)` is
    /// reported, then its part of the exposure figures.
    Payer(usize, Part, Option<usize>, PayerColumn<'a>),
    /// Period `k`'s coverage band.
    Band(usize, &'a mut [f64]),
}

/// The result of a [`Job`].
enum Done {
    Distribution(usize, Distribution),
    Paid(usize, Option<(usize, Distribution)>, PayoutFigures),
    Capacities(usize, Option<(usize, Distribution)>, [f64; 2]),
    Band(usize, BTreeMap<&'static str, Option<f64>>),
}

/// The estimated cost of the tasks, in nanoseconds a stored value on one core (measured on the
/// peer pool at 1,000,000 and 4,000,000 paths, one thread): only their order matters (largest
/// first). A task on a column reads every stored value (`PER_VALUE`), moves those off the
/// baseline value when there are any (`FOLD_COST`, each value), and selects and sums those off
/// it (`..._COST` times the share off it); a coverage band selects among all its values; an
/// importance-sampled distribution sorts its values with their weights.
const PER_VALUE: f64 = 0.65;
const FOLD_COST: f64 = 1.2;
const DISTRIBUTION_COST: f64 = 6.5;
const WEIGHTED_DISTRIBUTION_COST: f64 = 40.0;
const PAYOUT_COST: f64 = 3.0;
const CAPACITY_COST: f64 = 2.2;
const BAND_COST: f64 = 2.8;
const SERIES_COST: f64 = 8.0;
const EVENT_COST: f64 = 0.8;
const TALLY_COST: f64 = 2.0;
const WEIGHTED_PAYER_COST: f64 = 60.0;

/// The estimated cost a stored value of a column with a share `off` of its values off the
/// baseline value, for a task costing `cost` a value off it.
fn per_value(off: f64, cost: f64) -> f64 {
    PER_VALUE + if off > 0.0 { FOLD_COST } else { 0.0 } + cost * off
}

impl Stored {
    /// The summary's statistics `requests` of `sim`, with `derive(&sim)` computed beside them
    /// (see the module docs), all on a pool of the run's threads.
    pub(super) fn new<T: Send>(
        sim: Simulation,
        requests: &Requests,
        derive: impl FnOnce(&Simulation) -> T + Send,
    ) -> (Stored, T) {
        let mut stored = Stored {
            losses: Vec::new(),
            undertaker_need: None,
            prepared: Vec::new(),
            prefixes: Vec::new(),
            prefix_paths: requests.convergence_paths.clone(),
            events: Vec::new(),
            exposures: None,
            periods: requests.periods,
            bands: None,
            sim,
        };
        let derived = in_pool(stored.sim.threads, || {
            let sim = &stored.sim;
            let (readings, derived) = rayon::join(|| read(sim, requests), || derive(sim));
            stored.permute(requests, readings);
            derived
        });
        (stored, derived)
    }
}

/// Runs `jobs` on the current rayon pool, each thread taking the next job as it comes free, in
/// order of decreasing estimated cost (ties in the given order): greedy list scheduling largest
/// first, so the last jobs to end are small and the threads end close together. The results
/// come in the order of `jobs`.
fn largest_first<J: Send, R: Send>(jobs: Vec<(f64, J)>, run: impl Fn(J) -> R + Sync) -> Vec<R> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| jobs[b].0.total_cmp(&jobs[a].0));
    let slots: Vec<Mutex<Option<J>>> = jobs.into_iter().map(|(_, j)| Mutex::new(Some(j))).collect();
    let results: Vec<Mutex<Option<R>>> = slots.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    rayon::broadcast(|_| {
        loop {
            // Work pending on the pool first: the pieces of what runs beside the jobs (the chart
            // data's histograms and curves, which cannot be split further), so that the jobs,
            // largest first, are what is left to balance the end.
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                continue;
            }
            let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let job = slots[i].lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(job) = job {
                let done = run(job);
                *results[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(done);
            }
        }
    });
    results
        .into_iter()
        .filter_map(|r| r.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// Step 1: the row-wise quantities (each tranche's loss, then the undertaker's obligation), then
/// the reading tasks in parallel.
fn read(sim: &Simulation, requests: &Requests) -> Readings {
    let (layout, weights) = (sim.layout, sim.weights.as_ref());
    let losses: Vec<(Vec<f64>, f64)> = (0..layout.tranches)
        .into_par_iter()
        .map(|j| tranche_loss(sim, j))
        .collect();
    let need = requests.undertaker.then(|| undertaker_need(sim, losses.first()));
    let view = View {
        sim,
        losses: &losses,
        need: need.as_ref(),
    };
    let (payers, columns) = (layout.parties + 1, layout.len() + layout.tranches);
    // The columns of step 2's tasks: the reported ones and the payers'.
    let mut costed = requests.distributions.clone();
    costed.resize(columns, false);
    for p in 0..layout.parties {
        costed[layout.party(p, PartyColumn::Payout)] = true;
        costed[layout.party(p, PartyColumn::Obligation)] = true;
    }
    let costed = |c: usize| costed[c];
    let tasks: Vec<Read> = (0..requests.convergence.len())
        .map(Read::Series)
        .chain((0..requests.events.len()).map(Read::Event))
        .chain((0..payers).map(Read::Payer))
        .chain((0..columns).filter(|&c| costed(c)).map(Read::Cost))
        .collect();
    let (periods, ns) = (requests.periods, &requests.convergence_paths);
    let len = |c: usize| view.values(c).0.len() as f64;
    let payer_len = |p: usize| {
        let c = match p < layout.parties {
            true => layout.party(p, PartyColumn::Payout),
            false => layout.fixed(Column::UndertakerDraw),
        };
        len(c)
    };
    let tasks: Vec<(f64, Read)> = tasks
        .into_iter()
        .map(|task| {
            let cost = match task {
                Read::Series(i) => SERIES_COST * len(requests.convergence[i].1),
                Read::Event(i) => EVENT_COST * len(requests.events[i].0),
                Read::Payer(p) => match weights {
                    Some(_) => WEIGHTED_PAYER_COST * payer_len(p),
                    None => TALLY_COST * payer_len(p),
                },
                Read::Cost(_) => (COST_SAMPLES * COST_RUN) as f64,
            };
            (cost, task)
        })
        .collect();
    let answers: Vec<Reading> = largest_first(tasks, |task| match task {
        Read::Series(i) => Reading::Series(i, view.prefixes(requests.convergence[i].1, ns)),
        Read::Event(i) => {
            let (c, event) = requests.events[i];
            Reading::Event(i, view.probability(c, event))
        }
        Read::Payer(p) => match weights {
            Some(w) => Reading::Weighted(p, view.weighted_payer(p, w, periods)),
            None => Reading::Tally(p, view.tally(p, periods)),
        },
        Read::Cost(c) => Reading::Cost(c, view.off_baseline(c)),
    });
    let mut readings = Readings {
        prefixes: vec![None; columns],
        events: Vec::with_capacity(requests.events.len()),
        tallies: vec![None; payers],
        weighted: vec![None; payers],
        off_baseline: vec![1.0; columns],
        losses: Vec::new(),
        need: None,
    };
    for answer in answers {
        match answer {
            Reading::Series(i, points) => readings.prefixes[requests.convergence[i].1] = Some(points),
            Reading::Event(i, p) => readings.events.push((requests.events[i], p)),
            Reading::Tally(p, tally) => readings.tallies[p] = tally,
            Reading::Weighted(p, figures) => readings.weighted[p] = figures,
            Reading::Cost(c, share) => readings.off_baseline[c] = share,
        }
    }
    readings.losses = losses;
    readings.need = need;
    readings
}

impl Stored {
    /// Step 2: the permuting tasks, largest first, on the current pool; keeps every result.
    fn permute(&mut self, requests: &Requests, readings: Readings) {
        let Readings {
            losses,
            need,
            prefixes,
            events,
            tallies,
            weighted,
            off_baseline,
        } = readings;
        (self.losses, self.undertaker_need) = (losses, need);
        (self.prefixes, self.events) = (prefixes, events);
        let sim = &mut self.sim;
        let (layout, count) = (sim.layout, sim.baseline_count);
        let weights = sim.weights.as_ref();
        let band_weights = weights.map(|w| w.coverage_sample.as_slice());
        let wanted = |c: usize| requests.distributions.get(c).copied().unwrap_or(false);
        // The payers' columns (plain runs: a weighted run's exposure figures were read in step 1).
        let mut roles = vec![None; layout.len()];
        if weights.is_none() {
            for p in 0..layout.parties {
                roles[layout.party(p, PartyColumn::Payout)] = Some((p, Part::Payout));
                roles[layout.party(p, PartyColumn::Obligation)] = Some((p, Part::Obligation));
            }
            if self.undertaker_need.is_some() {
                roles[layout.fixed(Column::UndertakerDraw)] = Some((layout.parties, Part::Payout));
            }
        }
        let distribution_cost = |len: usize, off: f64| match weights {
            Some(_) => WEIGHTED_DISTRIBUTION_COST * len as f64,
            None => len as f64 * per_value(off, DISTRIBUTION_COST),
        };
        let mut jobs: Vec<(f64, Job<'_>)> = Vec::new();
        for (c, column) in sim.columns.iter_mut().enumerate() {
            let (len, off, baseline) = (column.len(), off_baseline[c], sim.baseline[c]);
            let distribution = wanted(c).then_some(c);
            let first = distribution.map_or(0.0, |_| distribution_cost(len, off));
            match roles[c] {
                Some((p, part)) => {
                    let cost = match part {
                        Part::Payout => PAYOUT_COST,
                        Part::Obligation => CAPACITY_COST,
                    };
                    let column = PayerColumn {
                        stored: column,
                        baseline,
                        count,
                    };
                    let cost = first + len as f64 * per_value(off, cost);
                    jobs.push((cost, Job::Payer(p, part, distribution, column)));
                }
                None if distribution.is_some() => jobs.push((first, Job::Distribution(c, column, baseline))),
                None => {}
            }
        }
        for (j, (loss, baseline)) in self.losses.iter_mut().enumerate() {
            let c = layout.len() + j;
            if wanted(c) {
                let cost = distribution_cost(loss.len(), off_baseline[c]);
                jobs.push((cost, Job::Distribution(c, loss, *baseline)));
            }
        }
        if let (Some(need), None) = (&mut self.undertaker_need, weights) {
            let column = PayerColumn {
                stored: &mut need.values,
                baseline: need.baseline,
                count: count + need.left_out,
            };
            let cost = column.stored.len() as f64 * per_value(1.0, CAPACITY_COST);
            jobs.push((cost, Job::Payer(layout.parties, Part::Obligation, None, column)));
        }
        if requests.coverage {
            for (k, period) in sim.coverage_sample.iter_mut().enumerate() {
                jobs.push((BAND_COST * period.len() as f64, Job::Band(k, period)));
            }
        }
        let distribution = |c: usize, values: &mut [f64], baseline: f64| {
            (c, distribution_of(weights, values, baseline, count))
        };
        let done = largest_first(jobs, |job| match job {
            Job::Distribution(c, values, baseline) => {
                let (c, d) = distribution(c, values, baseline);
                Done::Distribution(c, d)
            }
            Job::Payer(p, part, reported, column) => {
                let d = reported.map(|c| distribution(c, column.stored, column.baseline));
                match part {
                    Part::Payout => Done::Paid(p, d, PayoutFigures::in_place(column)),
                    Part::Obligation => Done::Capacities(p, d, capacities_in_place(column)),
                }
            }
            Job::Band(k, period) => Done::Band(k, coverage_band(period, band_weights)),
        });

        let payers = layout.parties + 1;
        self.prepared = vec![None; layout.len() + layout.tranches];
        let mut paid = vec![None; payers];
        let mut capacities = vec![None; payers];
        let mut bands = vec![BTreeMap::new(); sim.coverage_sample.len()];
        for d in done {
            let (c, distribution) = match d {
                Done::Distribution(c, d) => (c, d),
                Done::Paid(p, d, figures) => {
                    paid[p] = Some(figures);
                    let Some(d) = d else { continue };
                    d
                }
                Done::Capacities(p, d, figures) => {
                    capacities[p] = Some(figures);
                    let Some(d) = d else { continue };
                    d
                }
                Done::Band(k, band) => {
                    bands[k] = band;
                    continue;
                }
            };
            self.prepared[c] = Some(distribution);
        }
        self.bands = requests.coverage.then_some(bands);
        let mut figures: Vec<Option<PayerFigures>> = match weights {
            Some(_) => weighted,
            None => (0..payers)
                .map(|p| match (paid[p], capacities[p], &tallies[p]) {
                    (Some(paid), Some(capacities), Some(tally)) => {
                        Some(PayerFigures::of_parts(paid, capacities, tally))
                    }
                    _ => None,
                })
                .collect(),
        };
        let undertaker = figures.pop().flatten();
        self.exposures = Some((figures, undertaker));
    }
}

impl Outcomes for Stored {
    fn paths(&self) -> u64 {
        self.sim.paths
    }
    fn seed(&self) -> u64 {
        self.sim.seed
    }
    fn threads(&self) -> usize {
        self.sim.threads
    }
    fn layout(&self) -> Layout {
        self.sim.layout
    }
    fn distribution_json(&mut self, c: usize) -> DistributionJson {
        if let Some(d) = self.prepared.get_mut(c).and_then(Option::take) {
            return DistributionJson::from(&d);
        }
        let d = match c.checked_sub(self.sim.layout.len()) {
            Some(j) => {
                let (loss, baseline) = &mut self.losses[j];
                self.sim.derived_distribution(loss, *baseline)
            }
            None => self.sim.distribution(c),
        };
        DistributionJson::from(&d)
    }
    fn event_probability(&self, c: usize, event: Event) -> (f64, f64) {
        match self.events.iter().find(|(e, _)| *e == (c, event)) {
            Some((_, p)) => *p,
            None => self.view().probability(c, event),
        }
    }
    fn prefix_estimate(&self, c: usize, n: u64) -> (f64, f64) {
        let (values, baseline) = self.view().values(c);
        self.sim.prefix_mean_and_se(values, baseline, n)
    }
    fn prefix_estimates(&self, c: usize, ns: &[u64]) -> Vec<(f64, f64)> {
        match self.prefixes.get(c) {
            Some(Some(points)) if ns == self.prefix_paths => points.clone(),
            _ => self.view().prefixes(c, ns),
        }
    }
    fn periods(&self) -> usize {
        self.sim.coverage_below_one.len()
    }
    fn period_probability(&self, k: usize) -> (f64, f64) {
        self.sim.coverage_probability(k)
    }
    fn coverage_bands(&mut self) -> (Vec<BTreeMap<&'static str, Option<f64>>>, u64) {
        let sim = &mut self.sim;
        let sample_paths = sim.coverage_sample.first().map_or(0, |v| v.len() as u64);
        let bands = self.bands.take().unwrap_or_else(|| {
            let weights = sim.weights.as_ref().map(|w| w.coverage_sample.as_slice());
            super::coverage_bands(&mut sim.coverage_sample, weights, sim.threads)
        });
        (bands, sample_paths)
    }
    fn weights(&self) -> Option<&Weights> {
        self.sim.weights.as_ref()
    }
    /// The figures computed up front for the requested term; `None` for each payer when asked
    /// again or for another term (only [`super::Summary::build`]'s one request is prepared).
    fn exposures(&mut self, periods: usize) -> (Vec<Option<PayerFigures>>, Option<PayerFigures>) {
        match self.exposures.take() {
            Some(figures) if periods == self.periods => figures,
            _ => (vec![None; self.sim.layout.parties], None),
        }
    }
}

impl Stored {
    /// The columns as they are now.
    fn view(&self) -> View<'_> {
        View {
            sim: &self.sim,
            losses: &self.losses,
            need: self.undertaker_need.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::data::ChartData;
    use crate::importance::Tilt;
    use crate::model::Scenario;
    use crate::plan::Plan;
    use crate::runner::{self, Silent};

    #[test]
    fn largest_first_runs_every_job_once_and_keeps_their_order() {
        let runs = AtomicUsize::new(0);
        let jobs: Vec<(f64, u64)> = (0..40u32)
            .map(|i| (f64::from((i * 7) % 13), u64::from(i)))
            .collect();
        for threads in [1, 2, 3] {
            let out = in_pool(threads, || {
                largest_first(jobs.clone(), |i| {
                    runs.fetch_add(1, Ordering::Relaxed);
                    i * i
                })
            });
            assert_eq!(out, (0..40).map(|i| i * i).collect::<Vec<u64>>());
        }
        assert_eq!(runs.into_inner(), 120);
    }

    /// What [`Stored`] answers, computed the way the summary did before it prepared anything,
    /// one step after another on one thread: the convergence series prefix by prefix, the
    /// events, then every reported distribution in column order, then each payer's exposure
    /// figures on its columns as the distributions left them, then the coverage bands.
    struct OneByOne {
        prefixes: Vec<Vec<(f64, f64)>>,
        events: Vec<(f64, f64)>,
        distributions: Vec<Option<DistributionJson>>,
        exposures: (Vec<Option<PayerFigures>>, Option<PayerFigures>),
        bands: Vec<BTreeMap<&'static str, Option<f64>>>,
    }

    fn one_by_one(mut sim: Simulation, requests: &Requests) -> OneByOne {
        let layout = sim.layout;
        let mut losses: Vec<(Vec<f64>, f64)> = (0..layout.tranches).map(|j| tranche_loss(&sim, j)).collect();
        let mut need = requests.undertaker.then(|| undertaker_need(&sim, losses.first()));
        let values =
            |sim: &Simulation, losses: &[(Vec<f64>, f64)], c: usize| match c.checked_sub(layout.len()) {
                Some(j) => losses[j].clone(),
                None => (sim.columns[c].clone(), sim.baseline[c]),
            };
        let prefixes = requests
            .convergence
            .iter()
            .map(|&(_, c)| {
                let (v, b) = values(&sim, &losses, c);
                let ns = &requests.convergence_paths;
                ns.iter().map(|&n| sim.prefix_mean_and_se(&v, b, n)).collect()
            })
            .collect();
        let events = requests
            .events
            .iter()
            .map(|&(c, e)| {
                let (v, b) = values(&sim, &losses, c);
                sim.derived_probability(&v, b, |x| e.holds(x))
            })
            .collect();
        let mut distributions = Vec::new();
        for (c, &wanted) in requests.distributions.iter().enumerate() {
            let d = wanted.then(|| match c.checked_sub(layout.len()) {
                Some(j) => {
                    let (loss, baseline) = &mut losses[j];
                    sim.derived_distribution(loss, *baseline)
                }
                None => sim.distribution(c),
            });
            distributions.push(d.as_ref().map(DistributionJson::from));
        }
        let periods = requests.periods;
        let count = sim.baseline_count;
        let exposures = match sim.weights.clone() {
            Some(w) => {
                let view = View {
                    sim: &sim,
                    losses: &losses,
                    need: need.as_ref(),
                };
                let mut all: Vec<_> = (0..=layout.parties)
                    .map(|p| view.weighted_payer(p, &w, periods))
                    .collect();
                let undertaker = all.pop().flatten();
                (all, undertaker)
            }
            None => {
                let mut payer = |payout: usize, obligation: Option<usize>, out: usize| {
                    let tally = cap_out_tally(sim.samples(out), periods);
                    let capacities = match obligation {
                        Some(o) => capacities_in_place(PayerColumn {
                            baseline: sim.baseline[o],
                            stored: &mut sim.columns[o],
                            count,
                        }),
                        None => {
                            let need = need.as_mut()?;
                            capacities_in_place(PayerColumn {
                                stored: &mut need.values,
                                baseline: need.baseline,
                                count: count + need.left_out,
                            })
                        }
                    };
                    let paid = PayoutFigures::in_place(PayerColumn {
                        baseline: sim.baseline[payout],
                        stored: &mut sim.columns[payout],
                        count,
                    });
                    Some(PayerFigures::of_parts(paid, capacities, &tally))
                };
                let parties = (0..layout.parties)
                    .map(|p| {
                        let c = |k| layout.party(p, k);
                        let obligation = Some(c(PartyColumn::Obligation));
                        payer(c(PartyColumn::Payout), obligation, c(PartyColumn::CapOutPeriod))
                    })
                    .collect();
                let (draws, out) = (
                    layout.fixed(Column::UndertakerDraw),
                    layout.fixed(Column::UndertakerCapOutPeriod),
                );
                (parties, payer(draws, None, out))
            }
        };
        let weights = sim.weights.as_ref().map(|w| w.coverage_sample.as_slice());
        let bands = match requests.coverage {
            true => sim
                .coverage_sample
                .iter_mut()
                .map(|period| coverage_band(period, weights))
                .collect(),
            false => Vec::new(),
        };
        OneByOne {
            prefixes,
            events,
            distributions,
            exposures,
            bands,
        }
    }

    /// Every figure [`Stored`] prepares, whatever the thread count, is the one computed one step
    /// after another ([`one_by_one`]), bit for bit; and the chart data computed beside them is
    /// the chart data of the run before any column is permuted.
    fn check(scenario: &Scenario, sim: &Simulation) {
        let requests = Requests::of(scenario, sim.layout, sim.paths);
        assert!(requests.coverage && requests.undertaker && sim.layout.parties == 2);
        let expected = one_by_one(sim.clone(), &requests);
        let chart = ChartData::new(scenario, sim);
        for threads in [1, 2, 3] {
            let mut copy = sim.clone();
            copy.threads = threads;
            let (mut stored, derived) = Stored::new(copy, &requests, |s| ChartData::new(scenario, s));
            assert_eq!(derived, chart, "{threads} threads");
            for (&(_, c), points) in requests.convergence.iter().zip(&expected.prefixes) {
                assert_eq!(&stored.prefix_estimates(c, &requests.convergence_paths), points);
            }
            for (&(c, e), p) in requests.events.iter().zip(&expected.events) {
                assert_eq!(stored.event_probability(c, e), *p, "column {c}, {e:?}");
            }
            for (c, d) in expected.distributions.iter().enumerate() {
                if let Some(d) = d {
                    assert_eq!(&stored.distribution_json(c), d, "column {c}, {threads} threads");
                }
            }
            assert_eq!(stored.exposures(requests.periods), expected.exposures);
            assert_eq!(stored.coverage_bands().0, expected.bands);
        }
    }

    fn flagship() -> (Scenario, Plan) {
        let scenario = crate::scenario::load("scenarios/yuhang-2023.toml".as_ref()).expect("the flagship");
        let plan = Plan::new(&scenario);
        (scenario, plan)
    }

    #[test]
    fn prepared_figures_are_those_computed_one_after_another() {
        let (scenario, plan) = flagship();
        let sim = runner::simulate(&plan, 30_000, 11, 2, &Silent).expect("a run");
        assert!(sim.weights.is_none() && !sim.stored.is_empty());
        check(&scenario, &sim);
    }

    #[test]
    fn weighted_figures_are_those_computed_one_after_another() {
        let (scenario, plan) = flagship();
        let shift = vec![-0.6; scenario.credit.sectors.len()];
        let tilt = Tilt::new(&plan, &shift).expect("a shift of the factors");
        let sim = runner::simulate_tilted(&plan, 20_000, 11, 2, &Silent, Some(&tilt)).expect("a run");
        assert!(sim.weights.is_some());
        check(&scenario, &sim);
    }
}

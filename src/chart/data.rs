//! The numbers behind the charts that `summary.json` does not hold: histograms, exceedance
//! curves and the default-count distribution, computed from the per-path columns of a
//! [`Simulation`] before the summary permutes them: `ipabs run` and `ipabs merge` compute them
//! beside the summary's statistics that read the columns in path order, on the run's threads
//! ([`crate::report::summary::Summary::with_derived`]).
//!
//! Markers (mean, VaR, ES, caps, probabilities) are not here: the charts take them from the
//! [`crate::report::summary::Summary`], so they sit exactly at the reported numbers.
//!
//! Under importance sampling every path carries its likelihood ratio `w_i` (a plain path
//! weighs 1), and each number here is the weighted one of [`crate::stats::weighted`], so the
//! charts show the real distribution, not the tilted one the paths were drawn from: a bin's
//! height is `(1/n) sum w_i 1{x_i in bin}`, `P(X > x) = (1/n) sum w_i 1{x_i > x}` with the
//! band of [`tail_band`] from the standard error of [`probability_of`] (the plain run's Wilson
//! band when every `w_i = 1`), the default-count distribution `P(D = k) = (1/n) sum w_i 1{D_i = k}`.

use crate::model::Scenario;
use crate::money::Amount;
use rayon::prelude::*;

use crate::runner::{Column, PartyColumn, Samples, Simulation, in_pool};
use crate::stats::weighted::{WeightSums, probability_of};
use crate::streaming::StreamedRun;

/// Bins of a histogram over `[lo, hi]`.
pub const BINS: usize = 40;

/// Points of an exceedance curve.
pub const EXCEEDANCE_POINTS: usize = 160;

pub use crate::stats::Z_95;

/// One column's samples with each path's likelihood-ratio weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedSamples<'a> {
    pub samples: Samples<'a>,
    /// The weight of each stored path and the weights of the baseline's copies; `None`: every
    /// path weighs 1 (a plain run).
    pub weights: Option<(&'a [f64], WeightSums)>,
}

impl<'a> From<Samples<'a>> for WeightedSamples<'a> {
    fn from(samples: Samples<'a>) -> Self {
        WeightedSamples {
            samples,
            weights: None,
        }
    }
}

impl<'a> WeightedSamples<'a> {
    /// Column `c` of `sim`, weighted when `sim` is importance-sampled.
    pub fn of(sim: &'a Simulation, c: usize) -> Self {
        WeightedSamples {
            samples: sim.samples(c),
            weights: sim
                .weights
                .as_ref()
                .map(|w| (w.stored.as_slice(), w.baseline_total())),
        }
    }

    /// The stored paths as `(value, weight)`.
    fn stored(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let w = self.weights.map(|(w, _)| w);
        self.samples
            .stored
            .iter()
            .enumerate()
            .map(move |(i, &x)| (x, w.map_or(1.0, |w| w[i])))
    }

    /// The weights of the baseline's copies.
    fn baseline(&self) -> WeightSums {
        match self.weights {
            Some((_, b)) => b,
            None => WeightSums::of_unit_weights(self.samples.count),
        }
    }
}

/// A histogram of equal-width bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub lo: f64,
    /// Upper edge of the last bin (`> lo`, even when every sample is equal).
    pub hi: f64,
    /// Summed weight of the paths in each bin (the number of paths when every path weighs 1);
    /// sample `x` falls in bin `floor((x - lo) / width)`, the top edge in the last. Bin `i`'s
    /// probability is `weights[i] / n`.
    pub weights: Vec<f64>,
    /// Number of samples.
    pub n: u64,
    /// The smallest and largest sample.
    pub min: f64,
    pub max: f64,
}

impl Histogram {
    /// `bins` bins spanning `[min(samples, lo), max(samples, hi)]`; with no spread, a unit-wide
    /// range around the value.
    pub fn new<'a>(samples: impl Into<WeightedSamples<'a>>, lo: f64, hi: f64, bins: usize) -> Histogram {
        let samples = samples.into();
        Histogram::of_range(samples, samples.samples.min_max(), lo, hi, bins)
    }

    /// [`Histogram::new`] of samples whose smallest and largest are `range` (`None`: empty).
    fn of_range(
        samples: WeightedSamples<'_>,
        range: Option<(f64, f64)>,
        lo: f64,
        hi: f64,
        bins: usize,
    ) -> Histogram {
        let bins = bins.max(1);
        let (min, max) = range.unwrap_or((0.0, 0.0));
        let mut lo = lo.min(min);
        let mut hi = hi.max(max);
        if hi <= lo {
            lo -= 0.5;
            hi += 0.5;
        }
        let width = (hi - lo) / bins as f64;
        let bin = |x: f64| (((x - lo) / width) as usize).min(bins - 1);
        let mut weights = vec![0.0; bins];
        match samples.weights {
            None => samples
                .samples
                .stored
                .iter()
                .for_each(|&x| weights[bin(x)] += 1.0),
            Some((w, _)) => {
                for (&x, &w) in samples.samples.stored.iter().zip(w) {
                    weights[bin(x)] += w;
                }
            }
        }
        if samples.samples.count > 0 {
            weights[bin(samples.samples.baseline)] += samples.baseline().sum;
        }
        Histogram {
            lo,
            hi,
            weights,
            n: samples.samples.n(),
            min,
            max,
        }
    }

    /// `bins` bins as [`Histogram::new`] draws them, from binned samples `(value, count)` in
    /// ascending order (a streamed run's, [`crate::stats::histogram::ColumnAccumulator::binned`]).
    pub fn from_binned(binned: &[(f64, u64)], lo: f64, hi: f64, bins: usize) -> Histogram {
        let bins = bins.max(1);
        let (min, max) = match (binned.first(), binned.last()) {
            (Some(a), Some(b)) => (a.0, b.0),
            _ => (0.0, 0.0),
        };
        let (mut lo, mut hi) = (lo.min(min), hi.max(max));
        if hi <= lo {
            lo -= 0.5;
            hi += 0.5;
        }
        let width = (hi - lo) / bins as f64;
        let mut weights = vec![0.0; bins];
        for &(x, c) in binned {
            weights[(((x - lo) / width) as usize).min(bins - 1)] += c as f64;
        }
        Histogram {
            lo,
            hi,
            weights,
            n: binned.iter().map(|b| b.1).sum(),
            min,
            max,
        }
    }

    /// Width of a bin.
    pub fn width(&self) -> f64 {
        (self.hi - self.lo) / self.weights.len() as f64
    }

    /// The probability of each bin, `weights[i] / n`.
    pub fn probabilities(&self) -> Vec<f64> {
        let n = self.n.max(1) as f64;
        self.weights.iter().map(|w| w / n).collect()
    }

    /// The smallest positive bin probability; `None` when every bin is empty.
    pub fn smallest_probability(&self) -> Option<f64> {
        smallest_positive(self.probabilities())
    }

    /// Whether every sample is the same value (nothing to show but that).
    pub fn is_degenerate(&self) -> bool {
        self.min == self.max
    }
}

/// One point of an exceedance curve: `P(X > x)` with its 95% interval ([`tail_band`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exceedance {
    pub x: f64,
    pub p: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The Wilson score interval of a proportion `count / n` at `z`:
/// `(p + z^2/2n ± z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`. Never below 0 or above 1, and
/// not empty at `p = 0`, which a log axis needs.
pub fn wilson(count: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let nf = n as f64;
    let p = count as f64 / nf;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * nf);
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    let d = 1.0 + z2 / nf;
    (((centre - half) / d).max(0.0), ((centre + half) / d).min(1.0))
}

/// `(p, lo, hi)` of a tail event whose paths' weights are `above`, out of `n` paths:
/// `p = sum w / n`. Plain paths (`weighted` false) get the [`wilson`] interval of the count;
/// weighted ones the normal interval of `ln p`, `p exp(±1.96 se / p)` (`hi` at most 1), with
/// `se` the standard error of a weighted probability that summary.json reports
/// ([`probability_of`]): on a log axis it is symmetric and stays above 0, where `p ± 1.96 se`
/// would fall to 0 wherever few tilted paths carry the tail.
pub fn tail_band(above: &WeightSums, n: u64, weighted: bool) -> (f64, f64, f64) {
    if !weighted {
        let (lo, hi) = wilson(above.count, n, Z_95);
        return (above.count as f64 / n.max(1) as f64, lo, hi);
    }
    let (p, se) = probability_of(above, n);
    if p <= 0.0 {
        return (0.0, 0.0, 0.0);
    }
    let r = (Z_95 * se / p).exp();
    (p, p / r, (p * r).min(1.0))
}

/// `P(X > x)` on an even grid of `points` values from the smallest to the largest sample,
/// weighted under importance sampling (module docs).
///
/// No sort: each stored value `v` is put in the cell `j(v)`, the number of grid points below it,
/// first by arithmetic (`floor((v - min) (points - 1) / (max - min)) + 1`) and then corrected by
/// comparing it with the very grid values that are returned, so `j(v) = #{i : x_i < v}`
/// exactly (the grid is nondecreasing). The paths above `x_i` are those of the cells `j > i`:
/// a sum from the top cell down, one linear pass over the column and no copy of it. Plain
/// paths are counted (their weight sums are those counts, exactly); weighted paths' weights are
/// summed per cell in path order, then cell by cell from the top.
pub fn exceedance<'a>(samples: impl Into<WeightedSamples<'a>>, points: usize) -> Vec<Exceedance> {
    let samples = samples.into();
    exceedance_of_range(samples, samples.samples.min_max(), points)
}

/// [`exceedance`] of samples whose smallest and largest are `range` (`None`: empty).
fn exceedance_of_range(
    samples: WeightedSamples<'_>,
    range: Option<(f64, f64)>,
    points: usize,
) -> Vec<Exceedance> {
    let Some((min, max)) = range else {
        return Vec::new();
    };
    let points = points.max(2);
    let grid: Vec<f64> = (0..points)
        .map(|i| min + (max - min) * i as f64 / (points - 1) as f64)
        .collect();
    let cell = grid_cell(&grid, min, max);
    // cells[j]: the weights of the stored values with `j` grid points below them.
    let cells: Vec<WeightSums> = match samples.weights {
        None => {
            let mut counts = vec![0u64; points + 1];
            for &v in samples.samples.stored {
                counts[cell(v)] += 1;
            }
            counts.into_iter().map(WeightSums::of_unit_weights).collect()
        }
        Some((w, _)) => {
            let mut cells = vec![WeightSums::default(); points + 1];
            for (&v, &w) in samples.samples.stored.iter().zip(w) {
                cells[cell(v)].add(w);
            }
            cells
        }
    };
    let baseline = samples.baseline();
    let n = samples.samples.n();
    let weighted = samples.weights.is_some();
    let mut above = WeightSums::default();
    let mut curve: Vec<Exceedance> = (0..points)
        .rev()
        .map(|i| {
            let x = grid[i];
            above = above.merged(&cells[i + 1]);
            let mut tail = above;
            if samples.samples.baseline > x {
                tail = tail.merged(&baseline);
            }
            let (p, lo, hi) = tail_band(&tail, n, weighted);
            Exceedance { x, p, lo, hi }
        })
        .collect();
    curve.reverse();
    curve
}

/// `v -> #{i : grid[i] < v}` for a nondecreasing `grid` of even steps from `min` to `max`: the
/// cell `floor((v - min) / step) + 1` found by arithmetic, then moved down while the grid point below is not below `v` and up
/// while the one at it is (so exact whatever the rounding of the guess; a NaN falls in cell 0).
fn grid_cell(grid: &[f64], min: f64, max: f64) -> impl Fn(f64) -> usize + '_ {
    let last = grid.len();
    let scale = (last - 1) as f64 / (max - min);
    move |v: f64| {
        // Between grid points `j - 1` and `j` when `t` is not whole (a saturating cast).
        let t = (v - min) * scale;
        let mut j = if t >= 0.0 {
            (t as usize).min(last - 1) + 1
        } else {
            0
        };
        while j > 0 && grid[j - 1].partial_cmp(&v) != Some(std::cmp::Ordering::Less) {
            j -= 1;
        }
        while j < last && grid[j] < v {
            j += 1;
        }
        j
    }
}

/// The smallest positive value of `values`.
pub fn smallest_positive(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().filter(|&p| p > 0.0).min_by(f64::total_cmp)
}

/// [`exceedance`] of binned samples `(value, count)` in ascending order (each value within its
/// bin's half-width of the samples it stands for).
pub fn exceedance_binned(binned: &[(f64, u64)], points: usize) -> Vec<Exceedance> {
    let (Some(&(min, _)), Some(&(max, _))) = (binned.first(), binned.last()) else {
        return Vec::new();
    };
    let n: u64 = binned.iter().map(|b| b.1).sum();
    // above[i]: samples in cells i.. .
    let mut above = vec![0u64; binned.len() + 1];
    for i in (0..binned.len()).rev() {
        above[i] = above[i + 1] + binned[i].1;
    }
    let points = points.max(2);
    (0..points)
        .map(|i| {
            let x = min + (max - min) * i as f64 / (points - 1) as f64;
            let count = above[binned.partition_point(|b| b.0 <= x)];
            let (lo, hi) = wilson(count, n, Z_95);
            Exceedance {
                x,
                p: count as f64 / n.max(1) as f64,
                lo,
                hi,
            }
        })
        .collect()
}

/// The distribution of the number of defaults if firms defaulted independently, each with its
/// own probability `p_i` (a Poisson-binomial; a binomial when the `p_i` are equal):
/// `P(D = k)` for `k = 0..=N`, by the recursion `P_i(k) = P_{i-1}(k)(1 - p_i) + P_{i-1}(k-1) p_i`.
pub fn independent_defaults(pds: &[f64]) -> Vec<f64> {
    let mut pmf = vec![0.0; pds.len() + 1];
    pmf[0] = 1.0;
    for (i, &p) in pds.iter().enumerate() {
        for k in (0..=i + 1).rev() {
            let stay = pmf[k] * (1.0 - p);
            let moved = if k > 0 { pmf[k - 1] * p } else { 0.0 };
            pmf[k] = stay + moved;
        }
    }
    pmf
}

/// One guarantor party's (or the undertaker's) payout histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutData {
    pub histogram: Histogram,
    /// The cap drawn on the chart (`None`: unlimited).
    pub cap: Option<f64>,
    /// Whether the cap is inside the drawn range.
    pub cap_on_scale: bool,
}

/// Everything the charts need beyond the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub pool_loss: Histogram,
    pub pool_loss_exceedance: Vec<Exceedance>,
    pub gross_loss_exceedance: Vec<Exceedance>,
    /// One per guarantor party, in report order.
    pub payouts: Vec<PayoutData>,
    pub undertaker: Option<PayoutData>,
    /// `P(draw > x)` of the undertaker's draws.
    pub undertaker_exceedance: Vec<Exceedance>,
    /// `default_weights[k]`: the summed weight of the paths with `k` defaults, `k = 0..=firms`
    /// (their number in a plain run); `P(D = k) = default_weights[k] / paths`.
    pub default_weights: Vec<f64>,
    /// `P(D = k)` under independent defaults with each firm's own term PD.
    pub independent: Vec<f64>,
    pub paths: u64,
}

/// A payout histogram from 0 to the largest payout, stretched to the cap when the cap is no
/// more than 1.5 times the largest payout (so the cap line is drawn where it is).
pub fn payout<'a>(samples: impl Into<WeightedSamples<'a>>, cap: Option<f64>) -> PayoutData {
    let samples = samples.into();
    payout_of_range(samples, samples.samples.min_max(), cap)
}

/// [`payout`] of samples whose smallest and largest are `range` (`None`: empty).
fn payout_of_range(samples: WeightedSamples<'_>, range: Option<(f64, f64)>, cap: Option<f64>) -> PayoutData {
    let max = range.map_or(0.0, |(_, hi)| hi.max(0.0));
    payout_with(max, cap, |hi| Histogram::of_range(samples, range, 0.0, hi, BINS))
}

/// [`payout`] around `histogram(hi)`, for the largest payout `max`.
fn payout_with(max: f64, cap: Option<f64>, histogram: impl FnOnce(f64) -> Histogram) -> PayoutData {
    let cap_on_scale = cap.is_some_and(|c| c > 0.0 && c <= 1.5 * max.max(0.0) && max > 0.0);
    let hi = match cap {
        Some(c) if cap_on_scale => c.max(max) * 1.04,
        _ => max,
    };
    PayoutData {
        histogram: histogram(hi),
        cap,
        cap_on_scale,
    }
}

/// [`payout`] of binned samples.
fn payout_binned(binned: &[(f64, u64)], cap: Option<f64>) -> PayoutData {
    let max = binned.last().map_or(0.0, |b| b.0.max(0.0));
    payout_with(max, cap, |hi| Histogram::from_binned(binned, 0.0, hi, BINS))
}

impl ChartData {
    /// Computes the chart data of `sim` (does not reorder its columns). The histograms, curves
    /// and counts are independent of one another, so they are computed in parallel on the run's
    /// number of threads (on the current pool when called from one of that many threads, as
    /// beside the summary's statistics); each is the one computed alone.
    pub fn new(scenario: &Scenario, sim: &Simulation) -> ChartData {
        in_pool(sim.threads, || ChartData::in_parallel(scenario, sim))
    }

    /// [`ChartData::new`] in the current rayon pool.
    fn in_parallel(scenario: &Scenario, sim: &Simulation) -> ChartData {
        let column = |c| WeightedSamples::of(sim, c);
        let pool = column(sim.layout.fixed(Column::PoolLoss));
        let gross = column(sim.layout.fixed(Column::GrossDefaultLoss));
        let draws = column(sim.layout.fixed(Column::UndertakerDraw));
        let parties: Vec<_> = scenario.parties().collect();
        let pool_loss = || {
            let range = pool.samples.min_max();
            rayon::join(
                || Histogram::of_range(pool, range, 0.0, 0.0, BINS),
                || exceedance_of_range(pool, range, EXCEEDANCE_POINTS),
            )
        };
        let payouts = || -> Vec<PayoutData> {
            parties
                .par_iter()
                .enumerate()
                .map(|(p, (_, party))| {
                    let col = column(sim.layout.party(p, PartyColumn::Payout));
                    payout(col, party.cap.map(f64::from_decimal))
                })
                .collect()
        };
        let undertaker = || match &scenario.undertaker {
            Some(u) => {
                let range = draws.samples.min_max();
                rayon::join(
                    || Some(payout_of_range(draws, range, u.cap.map(f64::from_decimal))),
                    || exceedance_of_range(draws, range, EXCEEDANCE_POINTS),
                )
            }
            None => (None, Vec::new()),
        };
        let default_weights = || {
            let firms = scenario.firms.len();
            let mut weights = vec![0.0; firms + 1];
            let defaults = column(sim.layout.fixed(Column::Defaults));
            for (d, w) in defaults.stored() {
                weights[(d as usize).min(firms)] += w;
            }
            weights[(defaults.samples.baseline as usize).min(firms)] += defaults.baseline().sum;
            weights
        };
        let (
            ((pool_loss, pool_loss_exceedance), gross_loss_exceedance),
            (payouts, ((undertaker, undertaker_exceedance), default_weights)),
        ) = rayon::join(
            || rayon::join(pool_loss, || exceedance(gross, EXCEEDANCE_POINTS)),
            || rayon::join(payouts, || rayon::join(undertaker, default_weights)),
        );
        ChartData {
            pool_loss,
            pool_loss_exceedance,
            gross_loss_exceedance,
            payouts,
            undertaker,
            undertaker_exceedance,
            default_weights,
            independent: independent_pmf(scenario),
            paths: sim.paths,
        }
    }

    /// The chart data of a streamed run, from its fine bins: each sample drawn at its bin's
    /// midpoint (within `2^-11` relative of its value, far below a chart's resolution).
    pub fn from_streamed(scenario: &Scenario, run: &mut StreamedRun) -> ChartData {
        let layout = run.layout;
        let mut binned = |c: usize| run.columns[c].binned();
        let pool = binned(layout.fixed(Column::PoolLoss));
        let gross = binned(layout.fixed(Column::GrossDefaultLoss));
        let payouts = scenario
            .parties()
            .enumerate()
            .map(|(p, (_, party))| {
                payout_binned(
                    &binned(layout.party(p, PartyColumn::Payout)),
                    party.cap.map(f64::from_decimal),
                )
            })
            .collect();
        let draws = binned(layout.fixed(Column::UndertakerDraw));
        let undertaker = scenario
            .undertaker
            .as_ref()
            .map(|u| payout_binned(&draws, u.cap.map(f64::from_decimal)));
        let undertaker_exceedance = if undertaker.is_some() {
            exceedance_binned(&draws, EXCEEDANCE_POINTS)
        } else {
            Vec::new()
        };
        let firms = scenario.firms.len();
        let mut default_weights = vec![0.0; firms + 1];
        for (d, c) in binned(layout.fixed(Column::Defaults)) {
            default_weights[(d.round().max(0.0) as usize).min(firms)] += c as f64;
        }
        ChartData {
            pool_loss: Histogram::from_binned(&pool, 0.0, 0.0, BINS),
            pool_loss_exceedance: exceedance_binned(&pool, EXCEEDANCE_POINTS),
            gross_loss_exceedance: exceedance_binned(&gross, EXCEEDANCE_POINTS),
            payouts,
            undertaker,
            undertaker_exceedance,
            default_weights,
            independent: independent_pmf(scenario),
            paths: run.paths,
        }
    }
}

/// [`independent_defaults`] with each firm's own term PD.
fn independent_pmf(scenario: &Scenario) -> Vec<f64> {
    let years = scenario.deal.term_years();
    let pds: Vec<f64> = scenario
        .firms
        .iter()
        .map(|f| -(-f.credit.hazard() * years).exp_m1())
        .collect();
    independent_defaults(&pds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_and_degenerate_ranges() {
        let h = Histogram::new(Samples::plain(&[0.0, 1.0, 2.0, 10.0]), 0.0, 0.0, 10);
        assert_eq!(h.weights.iter().sum::<f64>(), 4.0);
        assert_eq!(h.weights[0], 1.0);
        assert_eq!(h.weights[9], 1.0, "the top edge goes in the last bin");
        let z = Histogram::new(Samples::plain(&[0.0; 5]), 0.0, 0.0, 10);
        assert!(z.is_degenerate() && z.hi > z.lo);
        assert_eq!(z.weights.iter().sum::<f64>(), 5.0);
    }

    #[test]
    fn poisson_binomial_is_binomial_for_equal_pds() {
        let pmf = independent_defaults(&[0.1; 4]);
        let binom = [0.6561, 0.2916, 0.0486, 0.0036, 0.0001];
        for (a, b) in pmf.iter().zip(binom) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn wilson_is_inside_unit_interval_and_covers_zero() {
        let (lo, hi) = wilson(0, 1000, Z_95);
        assert!(lo.abs() < 1e-15);
        assert!(hi > 0.0 && hi < 0.01);
        let (lo, hi) = wilson(500, 1000, Z_95);
        assert!(lo < 0.5 && hi > 0.5);
    }

    /// Values on and between the grid points (the grid of 0..=9 over 10 points is the integers),
    /// with ties, a baseline and weights: the counts and weight sums strictly above each grid
    /// point, recounted path by path.
    #[test]
    fn exceedance_matches_a_count_at_each_grid_point() {
        let values: Vec<f64> = (0..500).map(|i| f64::from((i * 37) % 19) * 0.5).collect();
        let weights: Vec<f64> = (0..500).map(|i| 0.25 + f64::from(i % 7) * 0.125).collect();
        let samples = Samples {
            stored: &values,
            baseline: 3.0,
            count: 40,
        };
        let base = WeightSums {
            count: 40,
            sum: 30.0,
            sum_sq: 25.0,
        };
        let plain = exceedance(samples, 10);
        let weighted = exceedance(
            WeightedSamples {
                samples,
                weights: Some((&weights, base)),
            },
            10,
        );
        for (i, (e, ew)) in plain.iter().zip(&weighted).enumerate() {
            assert_eq!(e.x, i as f64);
            let (above, base_above) = (|v: f64| v > e.x, 3.0 > e.x);
            let count = values.iter().filter(|&&v| above(v)).count() + if base_above { 40 } else { 0 };
            assert_eq!(e.p, count as f64 / 540.0, "x = {}", e.x);
            // Every weight is a multiple of 1/8, so the sums are exact in any order.
            let sum: f64 = values
                .iter()
                .zip(&weights)
                .filter(|p| above(*p.0))
                .map(|p| p.1)
                .sum::<f64>()
                + if base_above { 30.0 } else { 0.0 };
            assert_eq!(ew.p, sum / 540.0, "x = {}", e.x);
        }
    }

    #[test]
    fn exceedance_counts_strictly_above() {
        let e = exceedance(Samples::plain(&[0.0, 0.0, 1.0, 2.0]), 3);
        assert_eq!(e[0].p, 0.5);
        assert_eq!(e[1].p, 0.25);
        assert_eq!(e[2].p, 0.0);
    }
}

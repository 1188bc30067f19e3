//! Streaming accumulators: one column of per-path outputs folded value by value into bounded
//! memory, from which the statistics of [`crate::stats`] are rebuilt — means, standard
//! deviations and probabilities exactly (to rounding), order statistics within a stated bound.
//!
//! **Bins.** A finite value `x` with `|x| >= TINY = 2^-40` falls in the bin of the top 22 bits
//! of `|x|`'s IEEE-754 representation (sign apart): 11 exponent bits and the first
//! [`MANTISSA_BITS`] `= 10` bits of the mantissa. Each binade `[2^e, 2^(e+1))` is so cut into
//! 1024 equal bins, of relative width at most `2^-10`: a bin `[lo, hi)` has
//! `hi - lo = 2^(e-10) <= 2^-10 lo`. Values with `|x| < TINY` share one bin `[-TINY, TINY]`.
//! Negative values use the mirror bins. The bins are numbered (a signed key, ascending with
//! the value) and counted in a dense vector over the keys seen, so memory grows with the range
//! of the values (1024 counts per binade), never with the number of values.
//!
//! **Atoms.** Four values are counted exactly beside the bins: the column's *baseline* value
//! (the outcome of the paths where nothing happens, usually most paths), `0`, `+inf` and
//! `-inf`. A rank that falls on an atom alone is answered exactly.
//!
//! **Bounds.** `VaR_q = x(k)`, `k = max(1, ceil(q n))`, is answered by the cell (bin or atom)
//! holding rank `k` in ascending order: its midpoint `(lo + hi) / 2` clamped to `[min, max]`,
//! with the bound `|estimate - x(k)| <= (hi - lo) / 2 <= 2^-11 |x(k)|` (or `TINY` in the
//! central bin; 0 on an atom). `ES_q`, the mean of the `m` largest samples, is estimated from the
//! cells' midpoints, with the bound the mean half-width over those `m` samples. The 95% interval
//! of `VaR_q` is `[x(lo) - b_lo, x(hi) + b_hi]` (order-statistic ranks of
//! [`order_statistic_ci`], each end widened by its own bound, then clamped to `[min, max]`), so
//! it still covers the exact interval. The standard error of `ES_q` is computed from midpoints
//! and is approximate: with every tail value moved by at most `d` (its bin's half-width plus
//! that of `VaR_q`) and the tail spread `D = max - VaR_q + d`, its square moves by at most
//! `2 (2 D d + d^2) / m`; where `ES_q - VaR_q` is small (a capped payout) that can be a few
//! percent of it.
//!
//! **Sums.** The mean and variance come from compensated sums of `d = x - baseline` and `d^2`
//! (baseline paths add exactly 0), `var = (S2 - S1^2 / n) / (n - 1)`; per block in path order,
//! and blocks merged in block order, so they do not depend on the thread count. Counts, minimum,
//! maximum and bin counts are exact and order-free.

use super::{
    CompensatedSum, Distribution, ES_LEVEL, QUANTILE_LEVELS, Z_95, ceil_complement_of, ceil_fraction_of,
    order_statistic_ci,
};

/// Mantissa bits kept in a bin number: `2^10` bins per binade.
pub const MANTISSA_BITS: u32 = 10;

/// The largest relative width of a bin, `(hi - lo) / lo <= 2^-MANTISSA_BITS`.
pub const RELATIVE_BIN_WIDTH: f64 = 1.0 / (1u64 << MANTISSA_BITS) as f64;

/// Values of magnitude below this share the central bin (absolute error at most `TINY`).
pub const TINY: f64 = 1.0 / (1u64 << 40) as f64;

const SHIFT: u32 = 52 - MANTISSA_BITS;

/// Bin number of `|x| >= TINY`: 1 for the first bin above `TINY`, ascending.
#[inline]
fn magnitude_key(a: f64) -> i64 {
    ((a.to_bits() >> SHIFT) - (TINY.to_bits() >> SHIFT)) as i64 + 1
}

/// The signed key of finite `x`: 0 for `|x| < TINY`, `+k` / `-k` by sign otherwise.
#[inline]
fn key_of(x: f64) -> i64 {
    let a = x.abs();
    if a < TINY {
        0
    } else if x > 0.0 {
        magnitude_key(a)
    } else {
        -magnitude_key(a)
    }
}

/// The range `[lo, hi]` of the bin with key `key`.
fn bin_range(key: i64) -> (f64, f64) {
    if key == 0 {
        return (-TINY, TINY);
    }
    let k = key.unsigned_abs() - 1 + (TINY.to_bits() >> SHIFT);
    let lo = f64::from_bits(k << SHIFT);
    let hi = f64::from_bits((k + 1) << SHIFT);
    if key > 0 { (lo, hi) } else { (-hi, -lo) }
}

/// Counts per bin over a dense range of keys `offset .. offset + counts.len()`; a block's
/// values wait in `pending` (their keys) until [`BinCounts::flush`], so a block never
/// allocates the dense range.
#[derive(Debug, Clone, Default, PartialEq)]
struct BinCounts {
    offset: i64,
    counts: Vec<u64>,
    pending: Vec<i64>,
}

impl BinCounts {
    fn add_count(&mut self, key: i64, count: u64) {
        if self.counts.is_empty() {
            self.offset = key;
            self.counts.push(0);
        }
        if key < self.offset {
            let grow = (self.offset - key) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = key;
        }
        let i = (key - self.offset) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += count;
    }

    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if let (Some(lo), Some(hi)) = (pending.iter().min(), pending.iter().max()) {
            self.add_count(*lo, 0);
            self.add_count(*hi, 0);
        }
        for k in pending {
            self.counts[(k - self.offset) as usize] += 1;
        }
    }

    fn merge(&mut self, other: &BinCounts) {
        for (i, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                self.add_count(other.offset + i as i64, c);
            }
        }
        for &k in &other.pending {
            self.add_count(k, 1);
        }
    }

    fn nonzero(&self) -> usize {
        self.counts.iter().filter(|&&c| c > 0).count()
    }
}

/// An event whose probability the summary reports, counted exactly per value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// `x > t`.
    Above(f64),
    /// `x >= t`.
    AtLeast(f64),
    /// `x < t`.
    Below(f64),
}

impl Event {
    /// Whether `x` is in the event.
    #[inline]
    pub fn holds(self, x: f64) -> bool {
        match self {
            Event::Above(t) => x > t,
            Event::AtLeast(t) => x >= t,
            Event::Below(t) => x < t,
        }
    }
}

/// One column folded: counts, compensated sums, extremes, event counts and fine bins.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnAccumulator {
    /// The baseline value (an exact atom, and the shift of the sums).
    baseline: f64,
    n: u64,
    s1: CompensatedSum,
    s2: CompensatedSum,
    min: f64,
    max: f64,
    baseline_count: u64,
    zeros: u64,
    pos_inf: u64,
    neg_inf: u64,
    /// The events and how many values were in each.
    events: Vec<(Event, u64)>,
    bins: BinCounts,
}

/// A value or bin as seen when walking the sorted samples: `count` samples, each within
/// `bound` of `value`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    count: u64,
    value: f64,
    bound: f64,
}

/// A statistic answered from bins, with its error bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded {
    /// The statistics, in the form [`crate::stats`] gives them for stored samples.
    pub distribution: Distribution,
    /// `(q, b)`: `|VaR_q - exact VaR_q| <= b`, for every level of [`QUANTILE_LEVELS`].
    pub quantile_bounds: Vec<(&'static str, f64)>,
    /// `|ES_0.99 - exact ES_0.99| <= es_bound`.
    pub es_bound: f64,
}

impl ColumnAccumulator {
    /// An empty accumulator for a column whose baseline value is `baseline`, counting `events`.
    pub fn new(baseline: f64, events: &[Event]) -> Self {
        ColumnAccumulator {
            baseline,
            n: 0,
            s1: CompensatedSum::new(),
            s2: CompensatedSum::new(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            baseline_count: 0,
            zeros: 0,
            pos_inf: 0,
            neg_inf: 0,
            events: events.iter().map(|&e| (e, 0)).collect(),
            bins: BinCounts::default(),
        }
    }

    /// Number of values.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Adds one value (a NaN counts as `+inf`; the runner produces none).
    #[inline]
    pub fn add(&mut self, x: f64) {
        if x.to_bits() == self.baseline.to_bits() {
            self.add_baseline(1);
            return;
        }
        let x = if x.is_nan() { f64::INFINITY } else { x };
        self.n += 1;
        let d = x - self.baseline;
        self.s1.add(d);
        self.s2.add(d * d);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        for (e, c) in &mut self.events {
            if e.holds(x) {
                *c += 1;
            }
        }
        if x == 0.0 {
            self.zeros += 1;
        } else if x == f64::INFINITY {
            self.pos_inf += 1;
        } else if x == f64::NEG_INFINITY {
            self.neg_inf += 1;
        } else {
            self.bins.pending.push(key_of(x));
        }
    }

    /// Adds `count` copies of the baseline value.
    pub fn add_baseline(&mut self, count: u64) {
        if count == 0 {
            return;
        }
        self.n += count;
        self.baseline_count += count;
        self.min = self.min.min(self.baseline);
        self.max = self.max.max(self.baseline);
        for (e, c) in &mut self.events {
            if e.holds(self.baseline) {
                *c += count;
            }
        }
    }

    /// Folds `other` (the next block, in block order) into this one.
    pub fn merge(&mut self, other: &ColumnAccumulator) {
        self.n += other.n;
        self.s1.add(other.s1.sum);
        self.s1.add(other.s1.correction);
        self.s2.add(other.s2.sum);
        self.s2.add(other.s2.correction);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.baseline_count += other.baseline_count;
        self.zeros += other.zeros;
        self.pos_inf += other.pos_inf;
        self.neg_inf += other.neg_inf;
        for ((_, a), (_, b)) in self.events.iter_mut().zip(&other.events) {
            *a += b;
        }
        self.bins.flush();
        self.bins.merge(&other.bins);
    }

    /// Number of values in `event` (`None` when it is not one of the counted events).
    pub fn event_count(&self, event: Event) -> Option<u64> {
        self.events.iter().find(|(e, _)| *e == event).map(|(_, c)| *c)
    }

    /// Number of non-empty bins (a measure of the memory used).
    pub fn bins_used(&mut self) -> usize {
        self.bins.flush();
        self.bins.nonzero()
    }

    /// `(mean, se_mean)`: `mean = baseline + S1 / n`, `se = sqrt(var / n)`; `(0, 0)` when empty.
    pub fn mean_and_se(&self) -> (f64, f64) {
        if self.n == 0 {
            return (0.0, 0.0);
        }
        let nf = self.n as f64;
        let s1 = self.s1.total();
        let mean = self.baseline + s1 / nf;
        (mean, (self.variance() / nf).sqrt())
    }

    /// `(S2 - S1^2 / n) / (n - 1)`, at least 0; 0 when `n < 2` or all values are equal.
    fn variance(&self) -> f64 {
        if self.n < 2 || self.min == self.max {
            return 0.0;
        }
        let nf = self.n as f64;
        let s1 = self.s1.total();
        let v = ((self.s2.total() - s1 * s1 / nf) / (nf - 1.0)).max(0.0);
        if v.is_nan() { f64::INFINITY } else { v }
    }

    /// The cells in ascending order of value.
    fn cells(&mut self) -> Vec<Cell> {
        self.bins.flush();
        let (lo_clamp, hi_clamp) = (self.min, self.max);
        // Atoms as (key, value, count); keys of the infinities beyond every bin.
        let mut atoms: Vec<(i64, f64, u64)> = Vec::with_capacity(4);
        let mut atom = |key: i64, value: f64, count: u64| {
            if count == 0 {
                return;
            }
            match atoms.iter_mut().find(|a| a.0 == key) {
                Some(a) if a.1.to_bits() == value.to_bits() => a.2 += count,
                // Two atoms of different value in one bin: report the bin.
                Some(a) => {
                    a.1 = f64::NAN;
                    a.2 += count;
                }
                None => atoms.push((key, value, count)),
            }
        };
        let atom_key = |x: f64| {
            if x == f64::INFINITY {
                i64::MAX
            } else if x == f64::NEG_INFINITY {
                i64::MIN
            } else {
                key_of(x)
            }
        };
        atom(i64::MIN, f64::NEG_INFINITY, self.neg_inf);
        atom(0, 0.0, self.zeros);
        atom(i64::MAX, f64::INFINITY, self.pos_inf);
        atom(atom_key(self.baseline), self.baseline, self.baseline_count);
        atoms.sort_by_key(|a| a.0);

        let bin_cell = |key: i64, count: u64| {
            let (lo, hi) = bin_range(key);
            let mid = lo + 0.5 * (hi - lo);
            Cell {
                count,
                value: mid.clamp(lo_clamp.min(hi_clamp), hi_clamp),
                bound: 0.5 * (hi - lo),
            }
        };
        let mut out = Vec::with_capacity(self.bins.nonzero() + atoms.len());
        let mut atoms = atoms.into_iter().peekable();
        for (i, &c) in self.bins.counts.iter().enumerate() {
            let key = self.bins.offset + i as i64;
            while let Some(a) = atoms.next_if(|a| a.0 < key) {
                out.push(atom_cell(a, bin_cell));
            }
            let here = atoms.next_if(|a| a.0 == key);
            match (c, here) {
                (0, None) => {}
                (0, Some(a)) => out.push(atom_cell(a, bin_cell)),
                (c, None) => out.push(bin_cell(key, c)),
                (c, Some(a)) => out.push(bin_cell(key, c + a.2)),
            }
        }
        out.extend(atoms.map(|a| atom_cell(a, bin_cell)));
        out
    }

    /// The statistics of [`Distribution`] from the sums and the cells, with their bounds (see
    /// the module docs).
    pub fn distribution(&mut self) -> Bounded {
        let n = self.n;
        let cells = self.cells();
        if n == 0 || cells.is_empty() {
            return Bounded {
                distribution: Distribution::from_samples(&mut []),
                quantile_bounds: QUANTILE_LEVELS.iter().map(|&q| (q, 0.0)).collect(),
                es_bound: 0.0,
            };
        }
        let (min, max) = (self.min, self.max);
        let at = |k: u64| -> (f64, f64) {
            let mut seen = 0;
            for c in &cells {
                seen += c.count;
                if seen >= k {
                    return (c.value, c.bound);
                }
            }
            (max, 0.0)
        };
        let (mean, _) = self.mean_and_se();
        let mean = if mean < min {
            min
        } else if mean > max {
            max
        } else {
            mean
        };
        let std = self.variance().sqrt();
        let level = |q: &str| q.parse::<f64>().unwrap_or(0.0);
        let quantile = |q: &str| at(ceil_fraction_of(q, n).clamp(1, n));
        let quantiles: Vec<(&'static str, f64, f64)> = QUANTILE_LEVELS
            .iter()
            .map(|&q| {
                let (v, b) = quantile(q);
                (q, v, b)
            })
            .collect();
        let quantiles_ci = QUANTILE_LEVELS
            .iter()
            .map(|&q| {
                let (lo, hi) = order_statistic_ci(n, level(q), Z_95);
                let ((a, ba), (b, bb)) = (at(lo), at(hi));
                (q, (a - ba).max(min), (b + bb).min(max))
            })
            .collect();

        // ES: the m largest samples, walked from the top.
        let m = ceil_complement_of(ES_LEVEL, n).clamp(1, n);
        let mut sum = CompensatedSum::new();
        let mut bound = CompensatedSum::new();
        let mut tail: Vec<(f64, u64)> = Vec::new();
        let mut left = m;
        for c in cells.iter().rev() {
            if left == 0 {
                break;
            }
            let take = c.count.min(left);
            left -= take;
            sum.add(c.value * take as f64);
            bound.add(c.bound * take as f64);
            tail.push((c.value, take));
        }
        let var_q = quantile(ES_LEVEL).0;
        let first_tail = at(n - m + 1).0;
        let es = (sum.total() / m as f64).clamp(first_tail.min(max), max);
        let es_bound = bound.total() / m as f64;
        let es_se = if m < 2 {
            0.0
        } else {
            let mut dev = CompensatedSum::new();
            for &(v, c) in &tail {
                dev.add((v - es) * (v - es) * c as f64);
            }
            let var_tail = (dev.total() / (m - 1) as f64).max(0.0);
            let q = level(ES_LEVEL);
            ((var_tail + q * (es - var_q).powi(2)) / m as f64).sqrt()
        };
        Bounded {
            distribution: Distribution {
                n,
                mean,
                std,
                se_mean: std / (n as f64).sqrt(),
                min,
                max,
                quantiles: quantiles.iter().map(|&(q, v, _)| (q, v)).collect(),
                es_99: es,
                quantiles_ci,
                es_99_se: if es_se.is_finite() { es_se } else { 0.0 },
            },
            quantile_bounds: quantiles.iter().map(|&(q, _, b)| (q, b)).collect(),
            es_bound: if es_bound.is_finite() { es_bound } else { 0.0 },
        }
    }

    /// The samples as `(value, count)` pairs in ascending order, each value within its bin's
    /// half-width of the samples it stands for (for charts).
    pub fn binned(&mut self) -> Vec<(f64, u64)> {
        self.cells().iter().map(|c| (c.value, c.count)).collect()
    }
}

/// The cell of an atom `(key, value, count)`: exact, or its bin when two atoms shared it.
fn atom_cell(a: (i64, f64, u64), bin_cell: impl Fn(i64, u64) -> Cell) -> Cell {
    if a.1.is_nan() {
        bin_cell(a.0, a.2)
    } else {
        Cell {
            count: a.2,
            value: a.1,
            bound: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{quantile_ci_sorted, quantile_sorted};

    /// A skewed sample with an atom at 0 and at a baseline, both signs, many binades.
    fn sample(n: usize) -> Vec<f64> {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                match i % 10 {
                    0..=5 => 0.0,
                    6 => 3.0,
                    7 => -1e3 * u,
                    _ => 1e6 * (-(1.0 - u).ln()).powi(3),
                }
            })
            .collect()
    }

    #[test]
    fn bins_are_ordered_and_relative_width_is_bounded() {
        let mut last = f64::NEG_INFINITY;
        for key in [-5000, -3, -1, 0, 1, 2, 1000, 40_000] {
            let (lo, hi) = bin_range(key);
            assert!(lo >= last - 1e-300 && hi > lo, "{key}");
            last = hi;
            if key != 0 {
                assert!(hi - lo <= RELATIVE_BIN_WIDTH * lo.abs().min(hi.abs()) * (1.0 + 1e-12));
            }
        }
        for x in [1e-9, 0.3, 1.0, 3.0, 7e8, -2.5] {
            let (lo, hi) = bin_range(key_of(x));
            assert!(lo <= x && x <= hi, "{x} in [{lo}, {hi}]");
        }
    }

    #[test]
    fn quantiles_are_within_their_bound_of_the_exact_ones() {
        let values = sample(100_000);
        let mut acc = ColumnAccumulator::new(3.0, &[Event::Above(0.0)]);
        values.iter().for_each(|&x| acc.add(x));
        let b = acc.distribution();
        let mut sorted = values.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let exact = Distribution::from_sorted(&sorted);
        for ((q, v), (_, bound)) in b.distribution.quantiles.iter().zip(&b.quantile_bounds) {
            let x = quantile_sorted(&sorted, q);
            assert!((v - x).abs() <= *bound, "{q}: {v} vs {x} (bound {bound})");
            assert!(
                *bound <= RELATIVE_BIN_WIDTH * x.abs() / 2.0 + TINY,
                "{q}: bound {bound}"
            );
            let (lo, hi) = quantile_ci_sorted(&sorted, q);
            let ci = b.distribution.quantiles_ci.iter().find(|c| c.0 == *q).unwrap();
            assert!(ci.1 <= lo && ci.2 >= hi, "{q}: CI {ci:?} covers [{lo}, {hi}]");
        }
        let d = &b.distribution;
        assert!(
            (d.es_99 - exact.es_99).abs() <= b.es_bound * (1.0 + 1e-9),
            "{} {}",
            d.es_99,
            exact.es_99
        );
        assert!(b.es_bound > 0.0 && b.es_bound <= exact.es_99 * RELATIVE_BIN_WIDTH);
        assert!((d.mean - exact.mean).abs() <= 1e-12 * exact.mean.abs());
        assert!((d.std - exact.std).abs() <= 1e-10 * exact.std);
        assert_eq!((d.min, d.max, d.n), (exact.min, exact.max, exact.n));
        assert!((d.es_99_se - exact.es_99_se).abs() <= 1e-2 * exact.es_99_se);
        let positive = values.iter().filter(|&&x| x > 0.0).count() as u64;
        assert_eq!(acc.event_count(Event::Above(0.0)), Some(positive));
    }

    #[test]
    fn merged_blocks_equal_one_pass_and_atoms_are_exact() {
        let values = sample(20_000);
        let mut whole = ColumnAccumulator::new(3.0, &[]);
        values.iter().for_each(|&x| whole.add(x));
        let mut merged = ColumnAccumulator::new(3.0, &[]);
        for chunk in values.chunks(4096) {
            let mut block = ColumnAccumulator::new(3.0, &[]);
            chunk.iter().for_each(|&x| block.add(x));
            merged.merge(&block);
        }
        let (a, b) = (whole.distribution(), merged.distribution());
        assert_eq!(a.quantile_bounds, b.quantile_bounds);
        assert_eq!(a.distribution.quantiles, b.distribution.quantiles);
        assert!((a.distribution.mean - b.distribution.mean).abs() <= 1e-12 * a.distribution.mean.abs());
        // The median is the atom 0: exact.
        let median = b.distribution.quantiles.iter().find(|q| q.0 == "0.5").unwrap().1;
        assert_eq!(median, 0.0);
        assert_eq!(b.quantile_bounds[0], ("0.5", 0.0));
    }

    #[test]
    fn empty_and_constant_columns() {
        let mut empty = ColumnAccumulator::new(0.0, &[]);
        assert_eq!(empty.distribution().distribution.n, 0);
        let mut constant = ColumnAccumulator::new(2.0, &[Event::Below(1.0)]);
        constant.add_baseline(10);
        let d = constant.distribution();
        assert_eq!(d.distribution.quantiles[3].1, 2.0);
        assert_eq!((d.distribution.std, d.es_bound), (0.0, 0.0));
        assert_eq!(constant.event_count(Event::Below(1.0)), Some(0));
    }
}

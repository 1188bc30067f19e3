//! Statistics of Monte Carlo samples.
//!
//! A pure module: no I/O, no randomness, no threads. Every function is deterministic — the same
//! input gives bit-identical output — because the order statistics are found by a deterministic
//! sort or selection and every sum is taken in a fixed order.
//!
//! [`Distribution::with_baseline`] does not sort. It first moves the samples equal to the
//! baseline value to the end and counts them as copies of it (one pass; most paths share a
//! value), then puts in place only the order statistics it reports (`x(1)`, `x(n)`, each `VaR_q`
//! and the ends of its interval, the first rank of the `ES` tail) by recursive selection
//! ([`slice::select_nth_unstable_by`] at the wanted rank nearest the middle, then on each side):
//! a few linear passes instead of `n log2(n)` comparisons. Each selected rank splits the slice
//! into the smaller and the larger samples, so a tail's samples are the slice from its first rank
//! on, and sums over them do not need their order.
//!
//! Definitions (fixed; the tests and the reports rely on them). With `n` sorted samples
//! `x(1) <= ... <= x(n)`:
//!
//! * `VaR_q = x(k)` with `k = max(1, ceil(q n))` (1-based);
//! * `ES_q` = mean of the largest `m = max(1, ceil((1 - q) n))` samples;
//! * `std = sqrt( sum (x(i) - mean)^2 / (n - 1) )`, and `std = 0` when `n = 1`;
//! * `se_mean = std / sqrt(n)`;
//! * a proportion `p = count / n` has standard error `sqrt(p (1 - p) / n)`;
//! * the 95% confidence interval of `VaR_q` is `[x(lo), x(hi)]` with the ranks of
//!   [`order_statistic_ci`] at `z = 1.959964` (distribution-free: the number of samples below
//!   the true quantile is binomial(n, q));
//! * the standard error of `ES_q` is `sqrt((s_m^2 + q (ES_q - VaR_q)^2) / m)`, `s_m^2` the
//!   sample variance (`m - 1`) of the `m` largest samples (Manistre & Hancock 2005, "Variance of
//!   the CTE estimator", *North American Actuarial Journal* 9(2), eq. 7: the tail variance
//!   plus the uncertainty of where the tail starts).
//!
//! `ceil(q n)` and `ceil((1 - q) n)` are computed exactly in integers from the decimal string of
//! `q`: `"0.99"` is `99 / 100`, so for `n = 200000` the ES at 0.99 averages the top 2,000
//! samples. (In floating point `(1 - 0.99) * 200000 = 2000.0000000000018`, whose ceiling would be
//! 2,001.)
//!
//! Sums are compensated (Neumaier) and the variance uses the two-pass formula (mean first, then
//! the sum of squared deviations), so results are accurate for `10^7` samples and are never NaN
//! for finite inputs.

pub mod histogram;
pub mod weighted;

/// The quantile levels every distribution reports, as exact decimal strings.
pub const QUANTILE_LEVELS: [&str; 6] = ["0.5", "0.9", "0.95", "0.99", "0.995", "0.999"];

/// The level of the expected shortfall every distribution reports.
pub const ES_LEVEL: &str = "0.99";

/// Summary of one output's samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// Number of samples.
    pub n: u64,
    /// `sum x(i) / n` (compensated sum).
    pub mean: f64,
    /// `sqrt( sum (x(i) - mean)^2 / (n - 1) )`; 0 when `n <= 1`.
    pub std: f64,
    /// Monte Carlo standard error of the mean, `std / sqrt(n)`.
    pub se_mean: f64,
    /// `x(1)`.
    pub min: f64,
    /// `x(n)`.
    pub max: f64,
    /// `(q, VaR_q)` for every `q` of [`QUANTILE_LEVELS`], in that order.
    pub quantiles: Vec<(&'static str, f64)>,
    /// `ES_q` at `q =` [`ES_LEVEL`].
    pub es_99: f64,
    /// `(q, lo, hi)`: the 95% order-statistic interval of `VaR_q` for every reported level.
    pub quantiles_ci: Vec<(&'static str, f64, f64)>,
    /// Standard error of `es_99` (see the module docs).
    pub es_99_se: f64,
}

impl Distribution {
    /// Summarises `samples`, sorting them in place (ascending, by [`f64::total_cmp`]).
    ///
    /// Never panics. With no samples every number is 0 and `n = 0` (the quantile levels are
    /// still listed).
    pub fn from_samples(samples: &mut [f64]) -> Distribution {
        samples.sort_unstable_by(f64::total_cmp);
        Distribution::from_sorted(samples)
    }

    /// Summarises `samples` together with `count` more samples all equal to `baseline` (the
    /// paths on which nothing happened share one outcome, which is stored once). Permutes
    /// `samples` in place, selecting only the order statistics it reports (module docs). Equal to
    /// [`Distribution::from_samples`] of the concatenation, except that the sums (mean, standard
    /// deviation, `ES`) are taken in another order and may differ in the last bits.
    pub fn with_baseline(samples: &mut [f64], baseline: f64, count: u64) -> Distribution {
        let n = samples.len() as u64 + count;
        Distribution::from_runs(&Runs::folded(samples, baseline, count, &summary_ranks(n)))
    }

    /// Summarises samples that are already sorted ascending (as [`f64::total_cmp`] sorts them).
    ///
    /// Never panics; if `sorted` is not sorted the order statistics are meaningless.
    pub fn from_sorted(sorted: &[f64]) -> Distribution {
        Distribution::from_runs(&Runs::new(sorted, 0.0, 0))
    }

    fn from_runs(r: &Runs<'_>) -> Distribution {
        let n = r.n();
        if n == 0 {
            return Distribution {
                n: 0,
                mean: 0.0,
                std: 0.0,
                se_mean: 0.0,
                min: 0.0,
                max: 0.0,
                quantiles: QUANTILE_LEVELS.iter().map(|&q| (q, 0.0)).collect(),
                es_99: 0.0,
                quantiles_ci: QUANTILE_LEVELS.iter().map(|&q| (q, 0.0, 0.0)).collect(),
                es_99_se: 0.0,
            };
        }
        let min = r.at(1);
        let max = r.at(n);
        let mean = clamp_to(r.mean(), min, max);
        let std = r.std_dev_about(mean, min, max);
        let se_mean = std / (n as f64).sqrt();
        let quantiles = QUANTILE_LEVELS.iter().map(|&q| (q, r.quantile(q))).collect();
        let es_99 = r.expected_shortfall(ES_LEVEL);
        let quantiles_ci = QUANTILE_LEVELS
            .iter()
            .map(|&q| {
                let (lo, hi) = r.quantile_ci(q);
                (q, lo, hi)
            })
            .collect();
        let es_99_se = r.expected_shortfall_se(ES_LEVEL);
        Distribution {
            n,
            mean,
            std,
            se_mean,
            min,
            max,
            quantiles,
            es_99,
            quantiles_ci,
            es_99_se,
        }
    }

    /// The reported quantile at level `q` (one of [`QUANTILE_LEVELS`]), if reported.
    pub fn quantile(&self, q: &str) -> Option<f64> {
        self.quantiles
            .iter()
            .find(|(level, _)| *level == q)
            .map(|&(_, v)| v)
    }
}

/// An estimated probability with its Monte Carlo standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    /// Number of paths where the event happened.
    pub count: u64,
    /// Number of paths.
    pub n: u64,
    /// `count / n`.
    pub p: f64,
    /// `sqrt(p (1 - p) / n)`.
    pub se: f64,
}

impl Proportion {
    /// `p = count / n`, `se = sqrt(p (1 - p) / n)`; `n = 0` gives `p = 0`, `se = 0`.
    ///
    /// `count <= n` is expected; should it not hold, `p (1 - p)` is clamped at 0 so `se` is
    /// never NaN.
    pub fn new(count: u64, n: u64) -> Proportion {
        if n == 0 {
            return Proportion {
                count,
                n,
                p: 0.0,
                se: 0.0,
            };
        }
        let nf = n as f64;
        let p = count as f64 / nf;
        let se = ((p * (1.0 - p)).max(0.0) / nf).sqrt();
        Proportion { count, n, p, se }
    }
}

/// `VaR_q = x(k)`, `k = max(1, ceil(q n))`, of samples sorted ascending; 0 when empty.
///
/// # Panics
/// If `q` is not a decimal string in `[0, 1]` (see [`ceil_fraction_of`]).
pub fn quantile_sorted(sorted: &[f64], q: &str) -> f64 {
    Runs::new(sorted, 0.0, 0).quantile(q)
}

/// `ES_q` = mean of the largest `m = max(1, ceil((1 - q) n))` samples of samples sorted
/// ascending; 0 when empty.
///
/// # Panics
/// If `q` is not a decimal string in `[0, 1]` (see [`ceil_fraction_of`]).
pub fn expected_shortfall_sorted(sorted: &[f64], q: &str) -> f64 {
    Runs::new(sorted, 0.0, 0).expected_shortfall(q)
}

/// `(VaR_q, ES_q)` at each of `levels` of `samples` together with `count` copies of `baseline`
/// (the runner's stored paths and its baseline paths): `VaR_q = x(ceil(q n))`, `ES_q` = mean of
/// the largest `ceil((1 - q) n)`. No full sort of `samples`: the entry of the lowest rank read,
/// `k = max(1, ceil(q n))` of the smallest level, is put in place by selection and only the
/// entries above it are sorted. The ranks `k..=n` then read the very
/// values, and `ES` sums them in the very order, of a full sort: the result is bit-identical to
/// reading the fully sorted `samples` (permutes `samples`; `(0, 0)` when empty).
///
/// # Panics
/// If a level is not a decimal string in `[0, 1]` (see [`ceil_fraction_of`]).
pub fn var_es_of_tail<const N: usize>(
    samples: &mut [f64],
    baseline: f64,
    count: u64,
    levels: [&str; N],
) -> [(f64, f64); N] {
    let (split, order) = if count == 0 {
        (samples.len(), Order::Total)
    } else {
        (below_by_total_cmp(samples, baseline), Order::Total)
    };
    var_es_of_split(samples, baseline, count, split, order, levels)
}

/// [`var_es_of_tail`] of a [`Folded`] sample: its kept entries and its copies of the value,
/// with the count below the value and the order the fold found.
pub(crate) fn var_es_of_folded<const N: usize>(f: Folded<'_>, levels: [&str; N]) -> [(f64, f64); N] {
    var_es_of_split(f.kept, f.value, f.copies, f.below, f.order, levels)
}

/// [`var_es_of_tail`] given `split`, the number of entries of `samples` below `baseline` (any
/// value when `count = 0`), and an [`Order`] valid for `samples`.
fn var_es_of_split<const N: usize>(
    samples: &mut [f64],
    baseline: f64,
    count: u64,
    split: usize,
    order: Order,
    levels: [&str; N],
) -> [(f64, f64); N] {
    let n = samples.len() as u64 + count;
    let Some(k) = levels
        .iter()
        .map(|q| ceil_fraction_of(q, n).clamp(1, n.max(1)))
        .min()
    else {
        return [(0.0, 0.0); N];
    };
    let split = if count == 0 { samples.len() } else { split };
    // The place of rank k among the entries below the copies, or else of the first entry at
    // or above it: every entry before it is smaller, so the ranks `k..=n` lie from it on.
    let i = k.saturating_sub(1);
    let from = if i < split as u64 {
        i as usize
    } else {
        (i.saturating_sub(count) as usize).max(split)
    };
    if from < samples.len() {
        order.select_then_sort_above(samples, from);
    }
    let r = Runs {
        sorted: samples,
        value: baseline,
        count,
        split,
    };
    levels.map(|q| (r.quantile(q), r.expected_shortfall(q)))
}

/// How a selection compares the entries of a slice: by [`f64::total_cmp`], or by plain `<`
/// when no entry is NaN or `-0.0`. For such entries `a < b` exactly when `total_cmp(a, b)` is
/// `Less` (the total order differs from `<` only on NaN and in putting `-0.0` below `0.0`), and
/// the standard library's selection and sort see the order only through that test, so either
/// makes the very same moves and leaves the very same arrangement; `<` is one instruction
/// where `total_cmp` takes several on each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Total,
    Plain,
}

/// `a < b` as an [`std::cmp::Ordering`] (`Equal` when unordered): the comparison of
/// [`Order::Plain`].
fn plain_cmp(a: &f64, b: &f64) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

impl Order {
    /// `v.select_nth_unstable_by(place, ..)` in this order; returns the entries below and above.
    fn select(self, v: &mut [f64], place: usize) -> (&mut [f64], &mut [f64]) {
        let (below, _, above) = match self {
            Order::Total => v.select_nth_unstable_by(place, f64::total_cmp),
            Order::Plain => v.select_nth_unstable_by(place, plain_cmp),
        };
        (below, above)
    }

    /// [`Order::select`] at `place`, then sorts the entries above it in this order.
    fn select_then_sort_above(self, v: &mut [f64], place: usize) {
        let (_, above) = self.select(v, place);
        match self {
            Order::Total => above.sort_unstable_by(f64::total_cmp),
            Order::Plain => above.sort_unstable_by(plain_cmp),
        }
    }
}

/// Number of entries of `samples` below `value` by [`f64::total_cmp`].
fn below_by_total_cmp(samples: &[f64], value: f64) -> usize {
    samples.iter().filter(|x| x.total_cmp(&value).is_lt()).count()
}

/// The entries of a slice that differ from `value`, folded to its front ([`fold_out`]), and what
/// the fold learnt of them.
pub(crate) struct Folded<'a> {
    /// The entries that differ from `value`, in their order.
    pub kept: &'a mut [f64],
    pub value: f64,
    /// The paths at `value`: the slice's entries equal to it and the copies given.
    pub copies: u64,
    /// Number of `kept` entries below `value` by [`f64::total_cmp`].
    pub below: usize,
    /// An order valid for `kept`.
    pub order: Order,
}

impl<'a> Folded<'a> {
    /// [`fold_out`] of `samples` with `count` more copies of `value`.
    pub(crate) fn new(samples: &'a mut [f64], value: f64, count: u64) -> Self {
        let kept = fold_out(samples, value);
        let copies = count + (samples.len() - kept) as u64;
        let kept = &mut samples[..kept];
        let (below, order) = tally(kept, value);
        Folded {
            kept,
            value,
            copies,
            below,
            order,
        }
    }
}

/// The number of entries of `kept` (none of them `value` bit for bit) below `value` by
/// [`f64::total_cmp`], and an [`Order`] valid for them, in one pass the compiler vectorises:
/// with `value` not NaN, every entry is either `<` or `>` it exactly when none is NaN and none
/// is the zero of the other sign (the only entries that compare equal to it without being it),
/// and then `#(x < value)` is the count by `total_cmp`; [`Order::Plain`] needs in addition
/// that no entry is `-0.0` (the `zero_signs` of the zeros). Otherwise the entries are counted
/// by `total_cmp` and compared by it.
fn tally(kept: &[f64], value: f64) -> (usize, Order) {
    let (mut lt, mut gt, mut zero_signs) = (0usize, 0usize, 0u64);
    for &x in kept {
        lt += usize::from(x < value);
        gt += usize::from(x > value);
        zero_signs |= if x == 0.0 { x.to_bits() } else { 0 };
    }
    if value.is_nan() || lt + gt != kept.len() || zero_signs != 0 {
        (below_by_total_cmp(kept, value), Order::Total)
    } else {
        (lt, Order::Plain)
    }
}

/// A sorted sample seen as the sorted slice `sorted` with `count` copies of `value` inserted at
/// their place: `x(1) <= ... <= x(n)`, `n = sorted.len() + count`. Ranks are 1-based.
///
/// Built by [`Runs::selected`], `sorted` is only ordered at the ranks asked for (and at the
/// place of the copies): [`Runs::at`] is exact there, and the samples of ranks `lo..=n` are
/// the slice's entries from `lo`'s place on whenever `lo` is one of those ranks.
struct Runs<'a> {
    sorted: &'a [f64],
    value: f64,
    count: u64,
    /// Number of entries of `sorted` below `value`: the copies occupy ranks
    /// `split + 1 ..= split + count`.
    split: usize,
}

impl<'a> Runs<'a> {
    fn new(sorted: &'a [f64], value: f64, count: u64) -> Self {
        let split = if count == 0 {
            sorted.len()
        } else {
            sorted.partition_point(|x| x.total_cmp(&value).is_lt())
        };
        Runs {
            sorted,
            value,
            count,
            split,
        }
    }

    /// [`Runs::selected`] after moving the entries of `samples` equal to `value` (or, with no
    /// copies, to the first entry) to its end and counting them as copies: a Monte Carlo output
    /// often takes one value on most paths, and then only the others need selecting.
    fn folded(samples: &'a mut [f64], value: f64, count: u64, ranks: &[u64]) -> Self {
        let value = match samples.first() {
            Some(&first) if count == 0 => first,
            _ => value,
        };
        Runs::selected(Folded::new(samples, value, count), ranks)
    }

    /// The [`Folded`] sample with the order statistics of the (1-based) `ranks` put in place
    /// by selection (see the module docs).
    fn selected(f: Folded<'a>, ranks: &[u64]) -> Self {
        let (samples, value, count) = (f.kept, f.value, f.copies);
        let split = if count == 0 { samples.len() } else { f.below };
        // Rank k is the entry of place k - 1 below the copies, a copy, or place k - 1 - count.
        let mut places: Vec<usize> = ranks
            .iter()
            .filter_map(|&k| {
                let i = k.checked_sub(1)?;
                if i < split as u64 {
                    Some(i as usize)
                } else if i < split as u64 + count {
                    None
                } else {
                    usize::try_from(i - count).ok().filter(|&p| p < samples.len())
                }
            })
            .collect();
        if count > 0 && split < samples.len() {
            // The copies' place: every entry before it is below `value`, none after it.
            places.push(split);
        }
        places.sort_unstable();
        places.dedup();
        select_places(samples, &places, 0, f.order);
        Runs {
            sorted: samples,
            value,
            count,
            split,
        }
    }

    fn n(&self) -> u64 {
        self.sorted.len() as u64 + self.count
    }

    /// `x(k)` for `1 <= k <= n`.
    fn at(&self, k: u64) -> f64 {
        let i = k - 1;
        let split = self.split as u64;
        if i < split {
            self.sorted[i as usize]
        } else if i < split + self.count {
            self.value
        } else {
            self.sorted[(i - self.count) as usize]
        }
    }

    /// Compensated sum of `x(lo) + ... + x(hi)` (1-based, inclusive) and the number of terms.
    fn sum_ranks(&self, lo: u64, hi: u64) -> CompensatedSum {
        let mut acc = CompensatedSum::new();
        if lo > hi {
            return acc;
        }
        let split = self.split as u64;
        // Below the copies: ranks a..=b are the entries a - 1..b.
        let (a, b) = (lo, hi.min(split));
        if a <= b {
            self.sorted[(a - 1) as usize..b as usize]
                .iter()
                .for_each(|&x| acc.add(x));
        }
        // The copies.
        let (a, b) = (lo.max(split + 1), hi.min(split + self.count));
        if a <= b {
            acc.add(self.value * (b - a + 1) as f64);
        }
        // Above the copies: ranks a..=b are the entries a - count - 1..b - count.
        let (a, b) = (lo.max(split + self.count + 1), hi);
        if a <= b {
            self.sorted[(a - self.count - 1) as usize..(b - self.count) as usize]
                .iter()
                .for_each(|&x| acc.add(x));
        }
        acc
    }

    /// `sum x / n`, compensated. If the sum of finite samples would overflow, the samples are
    /// summed scaled by `2^-64` (exact) and the mean scaled back.
    fn mean(&self) -> f64 {
        let n = self.n();
        let nf = n as f64;
        let total = self.sum_ranks(1, n).total();
        if total.is_finite() || !self.sorted.iter().all(|x| x.is_finite()) || !self.value.is_finite() {
            return total / nf;
        }
        let down = pow2(-64);
        let mut acc = CompensatedSum::new();
        for &x in self.sorted {
            acc.add(x * down);
        }
        acc.add(self.value * down * self.count as f64);
        (acc.total() / nf) * pow2(64)
    }

    /// `VaR_q = x(max(1, ceil(q n)))`; 0 when empty.
    fn quantile(&self, q: &str) -> f64 {
        let n = self.n();
        if n == 0 {
            return 0.0;
        }
        self.at(ceil_fraction_of(q, n).clamp(1, n))
    }

    /// `ES_q`: mean of the largest `m = max(1, ceil((1 - q) n))` samples; 0 when empty.
    fn expected_shortfall(&self, q: &str) -> f64 {
        let n = self.n();
        if n == 0 {
            return 0.0;
        }
        let m = ceil_complement_of(q, n).clamp(1, n);
        let lo = n - m + 1;
        clamp_to(self.sum_ranks(lo, n).total() / m as f64, self.at(lo), self.at(n))
    }

    /// The 95% interval `[x(lo), x(hi)]` of `VaR_q`, ranks from [`order_statistic_ci`].
    fn quantile_ci(&self, q: &str) -> (f64, f64) {
        let n = self.n();
        if n == 0 {
            return (0.0, 0.0);
        }
        let (num, den) = parse_unit_decimal(q);
        let (lo, hi) = order_statistic_ci(n, num as f64 / den as f64, Z_95);
        (self.at(lo), self.at(hi))
    }

    /// The standard error of `ES_q`, `sqrt((s_m^2 + q (ES_q - VaR_q)^2) / m)` (module docs).
    fn expected_shortfall_se(&self, q: &str) -> f64 {
        let n = self.n();
        if n == 0 {
            return 0.0;
        }
        let m = ceil_complement_of(q, n).clamp(1, n);
        if m < 2 {
            return 0.0;
        }
        let lo = n - m + 1;
        let tail = Runs::tail(self, lo);
        let es = self.expected_shortfall(q);
        let (first, last) = (self.at(lo), self.at(n));
        let var_tail = tail.std_dev_about(es, first, last).powi(2);
        let (num, den) = parse_unit_decimal(q);
        let qf = num as f64 / den as f64;
        ((var_tail + qf * (es - self.quantile(q)).powi(2)) / m as f64).sqrt()
    }

    /// The samples of ranks `lo..=n`, as a [`Runs`] of their own.
    fn tail(&self, lo: u64) -> Runs<'a> {
        let split = self.split as u64;
        let (sorted_from, count) = if lo <= split {
            ((lo - 1) as usize, self.count)
        } else if lo <= split + self.count {
            (self.split, split + self.count - lo + 1)
        } else {
            ((lo - 1 - self.count) as usize, 0)
        };
        let sorted = &self.sorted[sorted_from..];
        Runs {
            sorted,
            value: self.value,
            count,
            split: if count == 0 {
                sorted.len()
            } else {
                self.split - sorted_from.min(self.split)
            },
        }
    }

    /// Sample standard deviation about `mean`, with `n - 1`:
    /// `sqrt( (S2 - S1^2 / n) / (n - 1) )` where `S1 = sum d(i)`, `S2 = sum d(i)^2`,
    /// `d(i) = x(i) - mean` (the corrected two-pass formula; `S1` is 0 up to rounding). Both sums
    /// are compensated; the copies of `value` contribute `count d` and `count d^2`.
    ///
    /// The deviations are scaled by a power of two near the largest one (exact) so the squares
    /// can neither overflow nor underflow; if `max - min` itself overflows, the deviations are
    /// taken halved. A variance that rounds below 0 is clamped to 0. Returns 0 when `n <= 1` or
    /// when all samples are equal.
    fn std_dev_about(&self, mean: f64, min: f64, max: f64) -> f64 {
        let n = self.n();
        if n < 2 || min == max {
            return 0.0;
        }
        let halve = !(max - min).is_finite();
        let dev = |x: f64| {
            if halve { 0.5 * x - 0.5 * mean } else { x - mean }
        };
        // Rounding is monotone, so the largest |deviation| is at one end.
        let largest = dev(min).abs().max(dev(max).abs());
        if largest == 0.0 || largest.is_nan() {
            return if largest == 0.0 { 0.0 } else { f64::NAN };
        }
        let exponent = binary_exponent(largest).clamp(-1022, 1022);
        let down = pow2(-exponent);
        // S1 and S2 side by side.
        let mut sums = CompensatedPair::default();
        sums.add_all(self.sorted.iter().map(|&x| {
            let d = dev(x) * down;
            [d, d * d]
        }));
        if self.count > 0 {
            let d = dev(self.value) * down;
            let c = self.count as f64;
            sums.add_all(std::iter::once([c * d, c * d * d]));
        }
        let [s1, s2] = sums.sums();
        let nf = n as f64;
        let s1 = s1.total();
        let variance = ((s2.total() - s1 * s1 / nf) / (nf - 1.0)).max(0.0);
        let std = variance.sqrt() * pow2(exponent);
        if halve { std * 2.0 } else { std }
    }
}

/// Entries a fold looks at together: a block of them is tested in one go (the compiler turns
/// the test into vector instructions), then gone through one by one only if it needs it.
const FOLD_BLOCK: usize = 8;

/// Moves the entries of `samples` that differ from `value` (bit for bit) to its front, in their
/// order, and writes `value` over the rest; returns their number. The entries equal to
/// `value` are rewritten as `value` (`total_cmp` equality is bit equality): the very
/// arrangement of swapping each equal entry up.
///
/// The entries before the first equal one stay where they are (a column folded
/// before is passed over at the cost of a comparison per entry), and so do the equal ones up to
/// the next entry that differs: if none does, the slice is already folded (a column at the
/// baseline value on every path is only read). From there each entry that differs is written
/// at the next place; a block of entries all equal to `value` is passed over without writing
/// (the places such entries would write are written again later, by an entry that differs or
/// by the final fill), the others written unconditionally, which leaves no branch to
/// mispredict.
pub fn fold_out(samples: &mut [f64], value: f64) -> usize {
    type Block = [f64; FOLD_BLOCK];
    let bits = value.to_bits();
    let differs = |x: &f64| x.to_bits() != bits;
    let block_at = |v: &[f64], i: usize| -> Block { v[i..i + FOLD_BLOCK].try_into().expect("a whole block") };
    let all_equal = |block: &Block| !block.iter().fold(false, |any, x| any | differs(x));
    // Passed over once writing: a block all equal to `value`. Tested first as numbers, which the
    // compiler does on a whole block in a few vector instructions and one branch (bit equality
    // it tests entry by entry, a branch each, which costs more than it saves on mixed blocks);
    // that is bit equality unless `value` is a zero (NaN equals nothing), so then bit equality
    // is checked too, on the blocks that passed (nearly always all equal).
    let all_equal_as_numbers = |block: &Block| block.iter().fold(true, |all, &x| all & (x == value));
    let passed_over = |block: &Block| all_equal_as_numbers(block) && (value != 0.0 || all_equal(block));
    // `x == value` holds for every entry equal to `value` bit for bit unless `value` is NaN (and
    // for the other zero when `value` is one): a block with none may be passed over.
    let none_equal =
        |block: &Block| !value.is_nan() && !block.iter().fold(false, |any, &x| any | (x == value));
    let len = samples.len();
    let mut first = 0;
    while first + FOLD_BLOCK <= len && none_equal(&block_at(samples, first)) {
        first += FOLD_BLOCK;
    }
    first += samples[first..]
        .iter()
        .position(|x| !differs(x))
        .unwrap_or(len - first);
    let mut next = first;
    while next + FOLD_BLOCK <= len && all_equal(&block_at(samples, next)) {
        next += FOLD_BLOCK;
    }
    let Some(next) = samples[next..].iter().position(differs).map(|p| next + p) else {
        return first;
    };
    // Every place written is below the next entry read (`kept < j`, as in one pass over the
    // entries), and a block is copied before its entries are written.
    let mut kept = first;
    let mut i = next;
    let mut write = |samples: &mut [f64], x: f64| {
        samples[kept] = x;
        kept += usize::from(differs(&x));
    };
    while i + FOLD_BLOCK <= len {
        if !passed_over(&block_at(samples, i)) {
            block_at(samples, i).into_iter().for_each(|x| write(samples, x));
        }
        i += FOLD_BLOCK;
    }
    for j in i..len {
        write(samples, samples[j]);
    }
    samples[kept..].fill(value);
    kept
}

/// The (1-based) ranks a [`Distribution`] of `n` samples reads: `1` and `n`, every reported
/// `VaR_q` and the ends of its interval, and the first rank `n - m + 1` of the `ES` tail.
fn summary_ranks(n: u64) -> Vec<u64> {
    if n == 0 {
        return Vec::new();
    }
    let mut ranks = vec![1, n];
    for q in QUANTILE_LEVELS {
        let (num, den) = parse_unit_decimal(q);
        let (lo, hi) = order_statistic_ci(n, num as f64 / den as f64, Z_95);
        ranks.extend([ceil_fraction_of(q, n).clamp(1, n), lo, hi]);
    }
    ranks.push(n - ceil_complement_of(ES_LEVEL, n).clamp(1, n) + 1);
    ranks
}

/// Puts into `v` (the entries from place `offset` of a larger slice) the entry each of `places`
/// (ascending, distinct, within `v`) would hold if sorted by [`f64::total_cmp`], with smaller
/// entries before each and larger after (compared in `order`, valid for `v`): select the wanted place nearest the middle of `v`,
/// then recurse on each side. The wanted ranks cluster in the upper tail, so the first selection
/// leaves them in a small slice (and the minimum alone in the other, a linear scan).
fn select_places(v: &mut [f64], places: &[usize], offset: usize, order: Order) {
    if places.is_empty() {
        return;
    }
    let middle = offset + v.len() / 2;
    let after = places.partition_point(|&p| p < middle).min(places.len() - 1);
    let mid = if after > 0 && middle - places[after - 1] < places[after].abs_diff(middle) {
        after - 1
    } else {
        after
    };
    let place = places[mid];
    let (below, above) = order.select(v, place - offset);
    select_places(below, &places[..mid], offset, order);
    select_places(above, &places[mid + 1..], place + 1, order);
}

/// `VaR_q = x(max(1, ceil(q n)))` of `samples` for each level of `levels`, by selection
/// (permutes `samples`; see the module docs); 0 when empty.
///
/// # Panics
/// If a level is not a decimal string in `[0, 1]` (see [`ceil_fraction_of`]).
pub fn quantiles_by_selection(samples: &mut [f64], levels: &[&str]) -> Vec<f64> {
    let n = samples.len() as u64;
    let ranks: Vec<u64> = levels
        .iter()
        .map(|q| ceil_fraction_of(q, n).clamp(1, n.max(1)))
        .collect();
    let runs = Runs::folded(samples, 0.0, 0, &ranks);
    levels.iter().map(|q| runs.quantile(q)).collect()
}

/// Mean and its standard error `std / sqrt(n)` of `samples` together with `count` copies of
/// `baseline`, without sorting: compensated two-pass sums in slice order. `(0, 0)` when empty.
pub fn mean_and_se(samples: &[f64], baseline: f64, count: u64) -> (f64, f64) {
    let mut acc = CompensatedSum::new();
    samples.iter().for_each(|&x| acc.add(x));
    mean_and_se_after(samples, acc, baseline, count)
}

/// [`mean_and_se`] of each prefix `samples[..s]` together with `count` copies of `baseline`,
/// for each `(s, count)` of `prefixes` (`s` ascending, within `samples`): the compensated sum
/// over the samples is taken once, in slice order, and read at the end of each prefix, so each
/// result is bit for bit [`mean_and_se`] of its prefix. The deviations (about each prefix's own
/// mean) are summed per prefix, two prefixes side by side ([`CompensatedPair`]: the longest with
/// the next longest over the shorter one's samples, then the longer alone, and so on), each sum
/// taking its terms in slice order.
pub fn prefix_means_and_se(samples: &[f64], baseline: f64, prefixes: &[(usize, u64)]) -> Vec<(f64, f64)> {
    let mut acc = CompensatedSum::new();
    let mut from = 0;
    let means: Vec<(usize, u64, Option<f64>)> = prefixes
        .iter()
        .map(|&(s, count)| {
            let to = s.clamp(from, samples.len());
            samples[from..to].iter().for_each(|&x| acc.add(x));
            from = to;
            let len = s.min(samples.len());
            (len, count, mean_after(len, acc, baseline, count))
        })
        .collect();
    // The prefixes with a standard error to take, longest first.
    let mut wanted: Vec<usize> = (0..prefixes.len())
        .filter(|&k| means[k].0 as u64 + means[k].1 >= 2)
        .collect();
    wanted.sort_by_key(|&k| std::cmp::Reverse(means[k].0));
    let mut squares = vec![CompensatedSum::new(); prefixes.len()];
    let mean_of = |k: usize| means[k].2.unwrap_or(0.0);
    for pair in wanted.chunks(2) {
        let (long, short) = (pair[0], pair.get(1).copied());
        let mut from = 0;
        if let Some(short) = short {
            let (a, b) = (mean_of(long), mean_of(short));
            let mut sums = CompensatedPair::default();
            from = means[short].0;
            sums.add_all(
                samples[..from]
                    .iter()
                    .map(|&x| [(x - a) * (x - a), (x - b) * (x - b)]),
            );
            [squares[long], squares[short]] = sums.sums();
        }
        add_squared_deviations(&mut squares[long], &samples[from..means[long].0], mean_of(long));
    }
    means
        .iter()
        .zip(squares)
        .map(|(&(len, count, mean), sq)| match mean {
            None => (0.0, 0.0),
            Some(mean) => (mean, se_after(sq, mean, baseline, len as u64 + count, count)),
        })
        .collect()
}

/// [`mean_and_se`] of `samples` and `count` copies of `baseline`, given `acc`, the compensated
/// sum of `samples` in slice order.
fn mean_and_se_after(samples: &[f64], acc: CompensatedSum, baseline: f64, count: u64) -> (f64, f64) {
    let Some(mean) = mean_after(samples.len(), acc, baseline, count) else {
        return (0.0, 0.0);
    };
    let n = samples.len() as u64 + count;
    let mut sq = CompensatedSum::new();
    if n >= 2 {
        add_squared_deviations(&mut sq, samples, mean);
    }
    (mean, se_after(sq, mean, baseline, n, count))
}

/// The mean of `len` samples of compensated sum `acc` and `count` copies of `baseline`:
/// `baseline count` added to `acc`, over `n = len + count`; `None` when `n = 0`.
fn mean_after(len: usize, mut acc: CompensatedSum, baseline: f64, count: u64) -> Option<f64> {
    let n = len as u64 + count;
    (n > 0).then(|| {
        acc.add(baseline * count as f64);
        acc.total() / n as f64
    })
}

/// Adds `(x - mean)^2` of each of `samples` to `sq`, in slice order.
fn add_squared_deviations(sq: &mut CompensatedSum, samples: &[f64], mean: f64) {
    samples.iter().for_each(|&x| sq.add((x - mean) * (x - mean)));
}

/// The standard error of a mean of `n` paths, `count` of them copies of `baseline`, given `sq`,
/// the compensated sum of the other samples' `(x - mean)^2`: `(baseline - mean)^2 count` added,
/// `sqrt(sq / (n - 1) / n)` (0 when `n < 2`).
fn se_after(mut sq: CompensatedSum, mean: f64, baseline: f64, n: u64, count: u64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let nf = n as f64;
    sq.add((baseline - mean) * (baseline - mean) * count as f64);
    let var = (sq.total() / (nf - 1.0)).max(0.0);
    (var / nf).sqrt()
}

/// `z` of a two-sided 95% normal interval, `Φ⁻¹(0.975)`.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The 95% confidence interval `[x(lo), x(hi)]` of `VaR_q` from samples sorted ascending, with
/// the ranks of [`order_statistic_ci`]; `(0, 0)` when empty.
///
/// # Panics
/// If `q` is not a decimal string in `[0, 1]`.
pub fn quantile_ci_sorted(sorted: &[f64], q: &str) -> (f64, f64) {
    Runs::new(sorted, 0.0, 0).quantile_ci(q)
}

/// The standard error of `ES_q` from samples sorted ascending (see the module docs); 0 when
/// fewer than two samples are in the tail.
///
/// # Panics
/// If `q` is not a decimal string in `[0, 1]`.
pub fn expected_shortfall_se_sorted(sorted: &[f64], q: &str) -> f64 {
    Runs::new(sorted, 0.0, 0).expected_shortfall_se(q)
}

/// `ceil(q n)`, exactly, for a decimal string `q` in `[0, 1]` (e.g. `"0.995"`, read as
/// `995 / 1000`): with `q = a / 10^d`, the result is `(a n + 10^d - 1) div 10^d` in `u128`.
///
/// # Panics
/// If `q` is not of the form `digits[.digits]` (or `.digits`), is above 1, or has more than 18
/// significant decimals.
pub fn ceil_fraction_of(q: &str, n: u64) -> u64 {
    let (num, den) = parse_unit_decimal(q);
    ceil_div(num * u128::from(n), den)
}

/// `ceil((1 - q) n)`, exactly, for a decimal string `q` in `[0, 1]`: with `q = a / 10^d`, the
/// result is `ceil((10^d - a) n / 10^d)` in `u128`.
///
/// # Panics
/// As [`ceil_fraction_of`].
pub fn ceil_complement_of(q: &str, n: u64) -> u64 {
    let (num, den) = parse_unit_decimal(q);
    ceil_div((den - num) * u128::from(n), den)
}

/// Compensated mean `(sum x(i)) / n` (Neumaier summation, in slice order); 0 when empty.
///
/// If the sum of finite samples would overflow, the samples are summed scaled by `2^-64`
/// (exact) and the mean scaled back, so the mean of finite samples is always finite.
pub fn mean(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let nf = samples.len() as f64;
    let total = compensated_sum(samples);
    if total.is_finite() || !samples.iter().all(|x| x.is_finite()) {
        return total / nf;
    }
    let down = pow2(-64);
    let up = pow2(64);
    let mut acc = CompensatedSum::new();
    for &x in samples {
        acc.add(x * down);
    }
    (acc.total() / nf) * up
}

/// Compensated (Neumaier) sum of `values`, in slice order.
pub fn compensated_sum(values: &[f64]) -> f64 {
    let mut acc = CompensatedSum::new();
    for &x in values {
        acc.add(x);
    }
    acc.total()
}

/// Neumaier's compensated summation: a running sum `s` and a correction `c` that collects the
/// low-order bits each addition rounds away.
///
/// Adding `x`: `t = s + x`; `c += (s - t) + x` if `|s| >= |x|`, else `c += (x - t) + s`;
/// `s = t`. The total is `s + c`.
///
/// The error term `s + x - t` is taken by Knuth's branch-free TwoSum, `z = t - s`,
/// `e = (s - (t - z)) + (x - z)`, instead of Neumaier's branch: both are exact (the error of a
/// rounded binary addition is a float, and both formulas find it without rounding whenever `t`
/// is finite), so `c` receives the very same values and every total is the same bit for bit
/// (an `e` of either sign of zero leaves `c`, which is never `-0`, unchanged). Once `t`
/// overflows, the total is the running sum alone, whatever `c` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CompensatedSum {
    sum: f64,
    correction: f64,
}

impl CompensatedSum {
    /// An empty sum (0).
    pub fn new() -> CompensatedSum {
        CompensatedSum::default()
    }

    /// Adds `x`.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let (t, e) = two_sum(self.sum, x);
        self.correction += e;
        self.sum = t;
    }

    /// `s + c`; if the running sum is no longer finite (overflow, infinite or NaN terms), that
    /// running sum itself.
    pub fn total(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.correction
        } else {
            self.sum
        }
    }
}

/// Knuth's TwoSum: `t = s + x` rounded and its error `e = (s - (t - z)) + (x - z)`,
/// `z = t - s`, which is exactly `s + x - t` whenever `t` is finite.
#[inline]
fn two_sum(s: f64, x: f64) -> (f64, f64) {
    let t = s + x;
    let z = t - s;
    (t, (s - (t - z)) + (x - z))
}

/// Two [`CompensatedSum`]s side by side, each adding its own terms in its own order: lane by
/// lane the very operations of [`CompensatedSum::add`] ([`two_sum`], then the error added to
/// the correction), so the same sums bit for bit. On x86-64 the two lanes are one SSE2
/// register and each operation one vector instruction (the compiler does not pair them by
/// itself); elsewhere the lanes are done one after the other.
#[derive(Debug, Clone, Copy, Default)]
struct CompensatedPair {
    sum: [f64; 2],
    correction: [f64; 2],
}

impl CompensatedPair {
    /// Adds every `[x0, x1]` of `terms`: `x0` to the first sum and `x1` to the second.
    #[inline]
    fn add_all(&mut self, terms: impl Iterator<Item = [f64; 2]>) {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: SSE2 is enabled (every x86-64 processor has it); each store writes two f64
        // into an array of two.
        unsafe {
            use std::arch::x86_64::{_mm_add_pd, _mm_set_pd, _mm_storeu_pd, _mm_sub_pd};
            let [s0, s1] = self.sum;
            let [c0, c1] = self.correction;
            let (mut s, mut c) = (_mm_set_pd(s1, s0), _mm_set_pd(c1, c0));
            for [x0, x1] in terms {
                let x = _mm_set_pd(x1, x0);
                let t = _mm_add_pd(s, x);
                let z = _mm_sub_pd(t, s);
                let e = _mm_add_pd(_mm_sub_pd(s, _mm_sub_pd(t, z)), _mm_sub_pd(x, z));
                c = _mm_add_pd(c, e);
                s = t;
            }
            _mm_storeu_pd(self.sum.as_mut_ptr(), s);
            _mm_storeu_pd(self.correction.as_mut_ptr(), c);
        }
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        for x in terms {
            for k in 0..2 {
                let (t, e) = two_sum(self.sum[k], x[k]);
                self.correction[k] += e;
                self.sum[k] = t;
            }
        }
    }

    /// The two sums.
    fn sums(&self) -> [CompensatedSum; 2] {
        [0, 1].map(|k| CompensatedSum {
            sum: self.sum[k],
            correction: self.correction[k],
        })
    }
}

/// The distribution-free confidence interval for the `q`-quantile of `n` samples, as 1-based
/// ranks `(lo, hi)` into the sorted samples: `lo = floor(n q - z s)`, `hi = ceil(n q + z s)`,
/// `s = sqrt(n q (1 - q))`, each clamped to `[1, n]`.
///
/// `q` is clamped to `[0, 1]` and `|z|` is used. `n = 0` gives `(0, 0)`; a NaN `q` or `z`
/// gives the whole range `(1, n)`.
pub fn order_statistic_ci(n: u64, q: f64, z: f64) -> (u64, u64) {
    if n == 0 {
        return (0, 0);
    }
    if q.is_nan() || z.is_nan() {
        return (1, n);
    }
    let q = q.clamp(0.0, 1.0);
    let nf = n as f64;
    let centre = nf * q;
    let half_width = z.abs() * (nf * q * (1.0 - q)).max(0.0).sqrt();
    // `as u64` saturates: negative values become 0, values above u64::MAX become u64::MAX.
    let lo = (centre - half_width).floor() as u64;
    let hi = (centre + half_width).ceil() as u64;
    (lo.clamp(1, n), hi.clamp(1, n))
}

/// `min(max(x, lo), hi)` without panicking on NaN (a NaN `x` is returned as is).
fn clamp_to(x: f64, lo: f64, hi: f64) -> f64 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// `floor(log2 |x|)` for normal `x` (the stored exponent); -1023 for 0 and subnormals, 1024 for
/// infinities and NaN.
fn binary_exponent(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// `2^e` exactly, for `e` in `[-1022, 1023]`.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `ceil(a / b)` for `b > 0`, returned as `u64` (the callers guarantee it fits: it is at most
/// `n`).
fn ceil_div(a: u128, b: u128) -> u64 {
    let q = a.div_ceil(b);
    u64::try_from(q).expect("ceil(q n) <= n fits in u64")
}

/// Parses a decimal string `q` in `[0, 1]` into `(a, 10^d)` with `q = a / 10^d` exactly.
///
/// Accepted: `digits`, `digits.digits`, `.digits` (ASCII digits, no sign, no exponent). Trailing
/// zeros of the fraction are dropped, and at most 18 significant decimals are allowed, so that
/// `a n` fits in `u128` for every `u64` `n`.
fn parse_unit_decimal(q: &str) -> (u128, u128) {
    let bad = || -> ! { panic!("not a decimal probability in [0, 1]: {q:?}") };
    let (int_part, frac_part) = match q.split_once('.') {
        Some((i, f)) => (i, f),
        None => (q, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        bad();
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        bad();
    }
    let frac_part = frac_part.trim_end_matches('0');
    if frac_part.len() > 18 {
        bad();
    }
    let int_part = int_part.trim_start_matches('0');
    let int_value: u128 = match int_part {
        "" => 0,
        "1" => 1,
        _ => bad(),
    };
    let den = 10u128.pow(frac_part.len() as u32);
    let frac_value: u128 = if frac_part.is_empty() {
        0
    } else {
        frac_part.parse().unwrap_or_else(|_| bad())
    };
    let num = int_value * den + frac_value;
    if num > den {
        bad();
    }
    (num, den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_ci_and_es_se_of_one_to_thousand() {
        let mut x: Vec<f64> = (1..=1000).map(f64::from).collect();
        let d = Distribution::from_samples(&mut x);
        // q = 0.5: ranks floor(500 - 1.96 sqrt(250)) = 469 and ceil(500 + 30.99) = 531.
        let (_, lo, hi) = d.quantiles_ci[0];
        assert_eq!((lo, hi), (469.0, 531.0));
        // ES_0.99 over 991..=1000: tail variance (with m - 1) 10 * 11 / 12, ES 995.5,
        // VaR 990; se = sqrt((110 / 12 + 0.99 * 5.5^2) / 10).
        let want = ((110.0 / 12.0 + 0.99 * 5.5f64.powi(2)) / 10.0).sqrt();
        assert!((d.es_99_se - want).abs() < 1e-12, "{} vs {want}", d.es_99_se);
    }

    /// 1..=n in a scrambled order: position i holds (i * 7919 mod n) + 1; 7919 is prime and
    /// does not divide n, so this is a permutation.
    fn scrambled_one_to(n: u64) -> Vec<f64> {
        assert_ne!(n % 7919, 0);
        (0..n).map(|i| ((i * 7919) % n + 1) as f64).collect()
    }

    fn assert_close(actual: f64, expected: f64, rel: f64) {
        let tol = rel * expected.abs().max(1e-300);
        assert!(
            (actual - expected).abs() <= tol,
            "actual {actual:e}, expected {expected:e}"
        );
    }

    // ---- a baseline value with multiplicity ----

    #[test]
    fn baseline_copies_equal_the_concatenation() {
        // 1..=1000 scrambled, plus 3000 copies of 0 (and, separately, of 500.5 and of 2000):
        // every statistic equals the one of the explicit concatenation.
        // The copies below, inside and above the tail, and a tail starting below the copies.
        let cases = [
            (0.0, 3000),
            (500.5, 3000),
            (995.5, 3000),
            (2000.0, 3000),
            (-1.0, 3000),
            (993.5, 5),
        ];
        for (baseline, count) in cases {
            let stored = scrambled_one_to(1000);
            let mut all = stored.clone();
            all.extend(std::iter::repeat_n(baseline, count));
            let whole = Distribution::from_samples(&mut all);
            let mut part = stored.clone();
            let split = Distribution::with_baseline(&mut part, baseline, count as u64);
            assert_eq!(split.n, whole.n);
            assert_eq!(split.quantiles, whole.quantiles, "baseline {baseline}");
            assert_eq!((split.min, split.max), (whole.min, whole.max));
            assert_close(split.mean, whole.mean, 1e-14);
            assert_close(split.std, whole.std, 1e-12);
            assert_close(split.es_99, whole.es_99, 1e-14);
            assert_eq!(split.quantiles_ci, whole.quantiles_ci, "baseline {baseline}");
            assert_close(split.es_99_se, whole.es_99_se, 1e-12);
        }
        // Only copies: a constant distribution.
        let d = Distribution::with_baseline(&mut [], 7.0, 10);
        assert_eq!((d.mean, d.std, d.es_99, d.quantiles[5].1), (7.0, 0.0, 7.0, 7.0));
    }

    #[test]
    fn selection_gives_the_order_statistics_of_a_full_sort() {
        // Sizes around the tail ranks, many ties, the copies anywhere: every order statistic
        // equals the sorted one, the sums agree to rounding.
        for n in [1usize, 2, 3, 7, 10, 99, 100, 101, 1000, 4097] {
            for (baseline, count) in [(0.0, 0u64), (3.0, 1), (-1.0, 50), (3.5, 5000), (9.0, 7)] {
                let stored: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 * 0.5).collect();
                let mut all = stored.clone();
                all.extend(std::iter::repeat_n(baseline, count as usize));
                let whole = Distribution::from_samples(&mut all);
                let mut part = stored.clone();
                let d = Distribution::with_baseline(&mut part, baseline, count);
                let case = format!("n {n}, baseline {baseline} x {count}");
                assert_eq!(d.quantiles, whole.quantiles, "{case}");
                assert_eq!(d.quantiles_ci, whole.quantiles_ci, "{case}");
                assert_eq!((d.n, d.min, d.max), (whole.n, whole.min, whole.max), "{case}");
                assert_close(d.mean, whole.mean, 1e-14);
                assert_close(d.std, whole.std, 1e-12);
                assert_close(d.es_99, whole.es_99, 1e-14);
                assert_close(d.es_99_se, whole.es_99_se, 1e-12);
                // A permutation of the input.
                let mut a = part.clone();
                let mut b = stored.clone();
                a.sort_unstable_by(f64::total_cmp);
                b.sort_unstable_by(f64::total_cmp);
                assert_eq!(a, b, "{case}");
            }
        }
        let mut s = scrambled_one_to(1000);
        let levels = ["0.05", "0.25", "0.5", "0.75", "0.95"];
        let sorted = {
            let mut v = s.clone();
            v.sort_unstable_by(f64::total_cmp);
            v
        };
        let expect: Vec<f64> = levels.iter().map(|q| quantile_sorted(&sorted, q)).collect();
        assert_eq!(quantiles_by_selection(&mut s, &levels), expect);
        assert_eq!(expect, vec![50.0, 250.0, 500.0, 750.0, 950.0]);
        assert_eq!(quantiles_by_selection(&mut [], &levels), vec![0.0; 5]);
    }

    #[test]
    fn var_es_of_tail_is_the_full_sort_bit_for_bit() {
        // The copies below, inside, at and above the tail, many ties and distinct values: VaR
        // and ES at both levels equal those of the fully sorted samples to the bit.
        for n in [0usize, 1, 2, 3, 10, 99, 100, 101, 1000, 4097] {
            for (baseline, count) in [
                (0.0, 0u64),
                (3.0, 1),
                (-1.0, 50),
                (3.5, 5000),
                (9.0, 7),
                (0.0, 20_000),
            ] {
                let stored: Vec<f64> = (0..n)
                    .map(|i| ((i * 7919) % 13) as f64 * 0.5 + ((i * 104_729) % 1009) as f64 * 1e-3)
                    .collect();
                let mut sorted = stored.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let levels = ["0.99", "0.999", "0.5"];
                let full = Runs::new(&sorted, baseline, count);
                let want = levels.map(|q| (full.quantile(q), full.expected_shortfall(q)));
                let got = var_es_of_tail(&mut stored.clone(), baseline, count, levels);
                let bits = |v: [(f64, f64); 3]| v.map(|(a, b)| (a.to_bits(), b.to_bits()));
                assert_eq!(bits(got), bits(want), "n {n}, baseline {baseline} x {count}");
            }
        }
        // By hand: 1..=1000 scrambled, VaR_0.99 = 990, ES_0.99 = mean(991..=1000) = 995.5.
        let got = var_es_of_tail(&mut scrambled_one_to(1000), 0.0, 0, ["0.99", "0.999"]);
        assert_eq!(got, [(990.0, 995.5), (999.0, 1000.0)]);
    }

    #[test]
    fn mean_and_se_by_hand() {
        // {1, 2, 3} and two copies of 4: mean 14/5 = 2.8, squared deviations
        // 3.24 + 0.64 + 0.04 + 2 * 1.44 = 6.8, variance 6.8 / 4 = 1.7, se sqrt(1.7 / 5).
        let (m, se) = mean_and_se(&[1.0, 2.0, 3.0], 4.0, 2);
        assert_close(m, 2.8, 1e-15);
        assert_close(se, (1.7f64 / 5.0).sqrt(), 1e-14);
        assert_eq!(mean_and_se(&[], 0.0, 0), (0.0, 0.0));
    }

    /// SplitMix64: a deterministic stream for the tests below.
    fn split_mix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Awkward finite doubles: any binade from the subnormals to near overflow (or, with
    /// `spread` small, near 1), both signs, both zeros, and repeats of earlier values.
    fn awkward(n: usize, seed: u64, spread: u64) -> Vec<f64> {
        let mut state = seed;
        let mut out: Vec<f64> = Vec::with_capacity(n);
        for _ in 0..n {
            let r = split_mix(&mut state);
            let x = match r % 16 {
                0 => 0.0,
                1 => -0.0,
                2 if !out.is_empty() => out[(r >> 8) as usize % out.len()],
                3 if !out.is_empty() => -out[(r >> 8) as usize % out.len()],
                _ => {
                    let exponent = 1023 + (r >> 12) % (2 * spread + 1) - spread;
                    let bits = (r >> 63) << 63 | (exponent.min(2046) << 52) | (split_mix(&mut state) >> 12);
                    f64::from_bits(bits)
                }
            };
            out.push(x);
        }
        out
    }

    /// Neumaier's summation with its branch, as [`CompensatedSum`] was first written.
    #[derive(Default)]
    struct BranchedNeumaier {
        sum: f64,
        correction: f64,
    }

    impl BranchedNeumaier {
        fn add(&mut self, x: f64) {
            let t = self.sum + x;
            if self.sum.abs() >= x.abs() {
                self.correction += (self.sum - t) + x;
            } else {
                self.correction += (x - t) + self.sum;
            }
            self.sum = t;
        }
    }

    #[test]
    fn two_sum_gives_neumaiers_sums_bit_for_bit() {
        let mut cases: Vec<Vec<f64>> = vec![
            vec![1e16, 1.0, -1e16, 1.0, 1e100, 1.0, -1e100],
            vec![f64::MAX, -f64::MAX, f64::MAX, f64::MAX * 0.5, -f64::MAX],
            vec![5e-324, -1e-323, 2.2e-308, -2.2250738585072014e-308, 0.0, -0.0],
            vec![-0.0, -0.0, 0.0, -0.0],
            vec![f64::MAX, f64::MAX, 1.0],
            vec![1.0, f64::INFINITY, -1.0, f64::NEG_INFINITY, 2.0],
        ];
        for seed in 0..60 {
            for spread in [4, 60, 1022] {
                cases.push(awkward(2000, seed, spread));
            }
        }
        for case in &cases {
            let (mut two, mut reference) = (CompensatedSum::new(), BranchedNeumaier::default());
            for &x in case {
                two.add(x);
                reference.add(x);
                assert_eq!(two.sum.to_bits(), reference.sum.to_bits(), "{case:?}");
                if reference.sum.is_finite() {
                    assert_eq!(
                        two.correction.to_bits(),
                        reference.correction.to_bits(),
                        "{case:?}"
                    );
                }
                let reference_total = if reference.sum.is_finite() {
                    reference.sum + reference.correction
                } else {
                    reference.sum
                };
                assert_eq!(two.total().to_bits(), reference_total.to_bits(), "{case:?}");
            }
        }
    }

    #[test]
    fn a_pair_of_sums_is_two_sums_bit_for_bit() {
        for seed in 0..30 {
            let (a, b) = (awkward(3000, seed, 60), awkward(3000, seed + 1000, 1022));
            let (mut pair, mut one, mut two) = (
                CompensatedPair::default(),
                CompensatedSum::new(),
                CompensatedSum::new(),
            );
            pair.add_all(a.iter().zip(&b).map(|(&x, &y)| [x, y]));
            a.iter().for_each(|&x| one.add(x));
            b.iter().for_each(|&y| two.add(y));
            let [p, q] = pair.sums();
            let bits = |c: CompensatedSum| (c.sum.to_bits(), c.correction.to_bits(), c.total().to_bits());
            assert_eq!((bits(p), bits(q)), (bits(one), bits(two)));
        }
    }

    /// [`fold_out`] as first written: one branch-free pass writing every entry.
    fn fold_entry_by_entry(samples: &mut [f64], value: f64) -> usize {
        let differs = |x: &f64| x.to_bits() != value.to_bits();
        let mut kept = 0;
        for i in 0..samples.len() {
            let x = samples[i];
            samples[kept] = x;
            kept += usize::from(differs(&x));
        }
        samples[kept..].fill(value);
        kept
    }

    #[test]
    fn fold_gives_the_arrangement_of_the_plain_pass() {
        let mut state = 7;
        for len in (0..70).chain([255, 256, 257, 1000]) {
            for value in [0.0, -0.0, 2.5, f64::NAN, f64::INFINITY] {
                // Runs of entries equal to `value` and of others, of random lengths, and the
                // other zero and NaN among the others.
                for _ in 0..12 {
                    let mut v = Vec::with_capacity(len);
                    let share = split_mix(&mut state) % 5;
                    while v.len() < len {
                        let r = split_mix(&mut state);
                        let run = 1 + (r % 20) as usize;
                        let x = match (r >> 8) % 8 {
                            k if k < share => value,
                            5 => -value,
                            6 => f64::NAN,
                            _ => ((r >> 16) % 7) as f64 - 3.0,
                        };
                        v.extend(std::iter::repeat_n(x, run.min(len - v.len())));
                    }
                    let mut want = v.clone();
                    let kept_want = fold_entry_by_entry(&mut want, value);
                    let mut got = v.clone();
                    let kept_got = fold_out(&mut got, value);
                    assert_eq!(kept_got, kept_want, "{v:?} {value}");
                    assert_eq!(got.map_bits(), want.map_bits(), "{v:?} {value}");
                }
            }
        }
    }

    trait Bits {
        fn map_bits(&self) -> Vec<u64>;
    }

    impl Bits for [f64] {
        fn map_bits(&self) -> Vec<u64> {
            self.iter().map(|x| x.to_bits()).collect()
        }
    }

    #[test]
    fn tally_counts_by_total_cmp_and_allows_plain_only_where_it_agrees() {
        let mut plain_seen = 0;
        for seed in 0..200 {
            let mut v = awkward(1 + (seed as usize * 7) % 90, seed, 3);
            if seed.is_multiple_of(5) {
                v.push(f64::NAN);
            }
            if seed.is_multiple_of(7) {
                v.retain(|x| x.to_bits() != (-0.0f64).to_bits());
            }
            for value in [0.0, -0.0, 1.0, -1.5, v[0], f64::NAN] {
                let kept: Vec<f64> = v
                    .iter()
                    .copied()
                    .filter(|x| x.to_bits() != value.to_bits())
                    .collect();
                let (below, order) = tally(&kept, value);
                assert_eq!(below, below_by_total_cmp(&kept, value), "{kept:?} {value}");
                if order == Order::Plain {
                    plain_seen += 1;
                    for a in &kept {
                        for b in &kept {
                            assert_eq!(a < b, a.total_cmp(b).is_lt(), "{a} {b}");
                        }
                    }
                }
            }
        }
        assert!(plain_seen > 100, "{plain_seen}");
        assert_eq!(tally(&[1.0, -0.0, 2.0], 5.0).1, Order::Total);
        assert_eq!(tally(&[1.0, f64::NAN], 5.0).1, Order::Total);
        assert_eq!(tally(&[1.0, 0.0, 7.0], 5.0), (2, Order::Plain));
    }

    #[test]
    fn plain_order_selects_and_sorts_into_the_same_arrangement() {
        // Many ties, negative and positive values and +0.0: the arrangement left by the
        // selections and the sort is the one `total_cmp` leaves, bit for bit.
        for seed in 0..40 {
            let n = 50 + seed as usize * 97;
            let mut state = seed;
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    let r = split_mix(&mut state);
                    if r.is_multiple_of(3) {
                        0.0
                    } else {
                        ((r >> 8) % 41) as f64 * 0.25 - 3.0 + (r % 2) as f64 * 1e-9
                    }
                })
                .collect();
            assert_eq!(tally(&v, 99.0).1, Order::Plain);
            let ranks = summary_ranks(n as u64);
            let mut places: Vec<usize> = ranks.iter().map(|&k| k as usize - 1).collect();
            places.sort_unstable();
            places.dedup();
            let (mut total, mut plain) = (v.clone(), v.clone());
            select_places(&mut total, &places, 0, Order::Total);
            select_places(&mut plain, &places, 0, Order::Plain);
            assert_eq!(plain.map_bits(), total.map_bits());
            let (mut total, mut plain) = (v.clone(), v.clone());
            Order::Total.select_then_sort_above(&mut total, n * 9 / 10);
            Order::Plain.select_then_sort_above(&mut plain, n * 9 / 10);
            assert_eq!(plain.map_bits(), total.map_bits());
        }
    }

    #[test]
    fn fold_out_keeps_the_order_of_the_others() {
        let mut v = [1.0, 2.0, 0.0, 3.0, -0.0, 0.0, 4.0];
        // -0.0 is not 0.0 bit for bit: it stays among the others.
        assert_eq!(fold_out(&mut v, 0.0), 5);
        assert_eq!(
            v.map(f64::to_bits),
            [1.0, 2.0, 3.0, -0.0, 4.0, 0.0, 0.0].map(f64::to_bits)
        );
        let mut w = [0.0, 0.0];
        assert_eq!(fold_out(&mut w, 0.0), 0);
        let mut u = [5.0, 6.0];
        assert_eq!(fold_out(&mut u, 0.0), 2);
        assert_eq!(u, [5.0, 6.0]);
        let mut t = [7.0, 0.0, 0.0];
        assert_eq!(fold_out(&mut t, 0.0), 1);
        assert_eq!(t, [7.0, 0.0, 0.0]);
        let mut r = [0.0, 0.0, 8.0, 0.0, 9.0];
        assert_eq!(fold_out(&mut r, 0.0), 2);
        assert_eq!(r, [8.0, 9.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn prefix_means_are_those_of_each_prefix_bit_for_bit() {
        let values: Vec<f64> = (0..3000)
            .map(|i| (f64::from(i) * 0.37).sin() * 1e3 + 1e9)
            .collect();
        // Odd and even numbers of prefixes (paired side by side, longest first), prefixes of
        // equal length, of one path and of none.
        let cases: [&[(usize, u64)]; 4] = [
            &[(0, 5), (1, 0), (700, 100), (700, 300), (2999, 1), (3000, 9)],
            &[
                (0, 0),
                (1, 1),
                (47, 2),
                (94, 4),
                (188, 8),
                (376, 16),
                (752, 32),
                (1504, 64),
                (3000, 128),
            ],
            &[(0, 0), (0, 1), (1, 0)],
            &[(3000, 0)],
        ];
        for prefixes in cases {
            let together = prefix_means_and_se(&values, 2.5, prefixes);
            for (&(s, count), got) in prefixes.iter().zip(together) {
                let alone = mean_and_se(&values[..s], 2.5, count);
                assert_eq!(
                    (got.0.to_bits(), got.1.to_bits()),
                    (alone.0.to_bits(), alone.1.to_bits()),
                    "{s} {count}"
                );
            }
        }
    }

    // ---- exact index arithmetic ----

    #[test]
    fn ceil_fraction_exact_values() {
        assert_eq!(ceil_fraction_of("0.5", 10), 5);
        assert_eq!(ceil_fraction_of("0.999", 1000), 999);
        assert_eq!(ceil_fraction_of("0.995", 201), 200); // ceil(199.995)
        assert_eq!(ceil_fraction_of("0.99", 200_000), 198_000);
        assert_eq!(ceil_fraction_of("0.995", 200_000), 199_000);
        assert_eq!(ceil_fraction_of("0.999", 200_000), 199_800);
        assert_eq!(ceil_fraction_of("0.5", 3), 2); // ceil(1.5)
        assert_eq!(ceil_fraction_of("0.9", 3), 3); // ceil(2.7)
        assert_eq!(ceil_fraction_of("0.95", 3), 3); // ceil(2.85)
        assert_eq!(ceil_fraction_of("0.9", 10), 9); // exact multiple
        assert_eq!(ceil_fraction_of("0.95", 10), 10); // ceil(9.5)
        assert_eq!(ceil_fraction_of("0.999", 1), 1);
        assert_eq!(ceil_fraction_of("0.001", 1), 1); // ceil(0.001)
        assert_eq!(ceil_fraction_of("0.5", 0), 0);
        assert_eq!(ceil_fraction_of("0", 17), 0);
        assert_eq!(ceil_fraction_of("1", 17), 17);
        assert_eq!(ceil_fraction_of("1.000", 17), 17);
        assert_eq!(ceil_fraction_of(".25", 8), 2);
        assert_eq!(ceil_fraction_of("0.9900", 200_000), 198_000); // trailing zeros
        // (2^64 - 1) / 2 = 2^63 - 0.5, whose ceiling is 2^63.
        assert_eq!(ceil_fraction_of("0.5", u64::MAX), 1 << 63);
        // (1 - 1e-18) (2^64 - 1) = 2^64 - 1 - 18.4467..., whose ceiling is 2^64 - 1 - 18.
        assert_eq!(ceil_fraction_of("0.999999999999999999", u64::MAX), u64::MAX - 18);
    }

    #[test]
    fn ceil_complement_exact_values() {
        assert_eq!(ceil_complement_of("0.99", 200_000), 2_000);
        assert_eq!(ceil_complement_of("0.5", 10), 5);
        assert_eq!(ceil_complement_of("0.999", 1000), 1); // exact: 1.000
        assert_eq!(ceil_complement_of("0.995", 201), 2); // ceil(1.005)
        assert_eq!(ceil_complement_of("0.99", 3), 1); // ceil(0.03)
        assert_eq!(ceil_complement_of("0.99", 100), 1); // exact: 1.00
        assert_eq!(ceil_complement_of("0.99", 101), 2); // ceil(1.01)
        assert_eq!(ceil_complement_of("0.9", 10), 1);
        assert_eq!(ceil_complement_of("0.99", 1000), 10);
        assert_eq!(ceil_complement_of("0", 7), 7);
        assert_eq!(ceil_complement_of("1", 7), 0);
        assert_eq!(ceil_complement_of("0.5", u64::MAX), 1 << 63);
    }

    #[test]
    fn float_arithmetic_would_get_the_tail_count_wrong() {
        // The reason the index arithmetic is done in integers.
        assert_eq!(((1.0 - 0.99) * 200_000.0_f64).ceil(), 2001.0);
        assert_eq!(ceil_complement_of("0.99", 200_000), 2000);
    }

    #[test]
    #[should_panic]
    fn ceil_rejects_above_one() {
        ceil_fraction_of("1.5", 10);
    }

    #[test]
    #[should_panic]
    fn ceil_rejects_non_decimal() {
        ceil_fraction_of("1e-2", 10);
    }

    #[test]
    #[should_panic]
    fn ceil_rejects_negative() {
        ceil_complement_of("-0.5", 10);
    }

    #[test]
    #[should_panic]
    fn ceil_rejects_empty() {
        ceil_fraction_of(".", 10);
    }

    // ---- distributions ----

    #[test]
    fn one_to_two_hundred_thousand() {
        let mut samples = scrambled_one_to(200_000);
        let d = Distribution::from_samples(&mut samples);
        assert!(samples.windows(2).all(|w| w[0] <= w[1]), "sorted in place");
        assert_eq!(d.n, 200_000);
        assert_eq!(d.min, 1.0);
        assert_eq!(d.max, 200_000.0);
        // (1 + 200000) / 2
        assert_eq!(d.mean, 100_000.5);
        // Variance of 1..=N with n - 1 is N (N + 1) / 12 = 200000 * 200001 / 12 = 3333350000;
        // every step is exact in f64.
        assert_eq!(d.std, 3_333_350_000.0_f64.sqrt());
        assert_eq!(d.se_mean, 3_333_350_000.0_f64.sqrt() / 200_000.0_f64.sqrt());
        let expected = [
            ("0.5", 100_000.0),
            ("0.9", 180_000.0),
            ("0.95", 190_000.0),
            ("0.99", 198_000.0),
            ("0.995", 199_000.0),
            ("0.999", 199_800.0),
        ];
        assert_eq!(d.quantiles, expected.to_vec());
        assert_eq!(d.quantile("0.99"), Some(198_000.0));
        assert_eq!(d.quantile("0.75"), None);
        // Top 2000 samples: 198001..=200000, mean (198001 + 200000) / 2.
        assert_eq!(d.es_99, 199_000.5);
        // The top 2001 (198000..=200000) would have given 199000.
        assert_ne!(d.es_99, 199_000.0);
    }

    #[test]
    fn one_sample() {
        let d = Distribution::from_samples(&mut [42.25]);
        assert_eq!(d.n, 1);
        assert_eq!(d.mean, 42.25);
        assert_eq!(d.std, 0.0);
        assert_eq!(d.se_mean, 0.0);
        assert_eq!(d.min, 42.25);
        assert_eq!(d.max, 42.25);
        assert!(d.quantiles.iter().all(|&(_, v)| v == 42.25));
        assert_eq!(d.es_99, 42.25);
    }

    #[test]
    fn three_samples_by_hand() {
        // Sorted: 1, 3, 5. Indices: ceil(0.5*3) = 2 -> 3; ceil(0.9*3) = ceil(2.7) = 3 -> 5;
        // 0.95, 0.99, 0.995, 0.999 all give 3 -> 5. ES: ceil(0.01*3) = 1 sample -> 5.
        // Mean 3; deviations -2, 0, 2; sum of squares 8; variance 8/2 = 4; std 2.
        let d = Distribution::from_samples(&mut [5.0, 1.0, 3.0]);
        assert_eq!(d.n, 3);
        assert_eq!(d.mean, 3.0);
        assert_eq!(d.std, 2.0);
        assert_eq!(d.se_mean, 2.0 / 3.0_f64.sqrt());
        let values: Vec<f64> = d.quantiles.iter().map(|&(_, v)| v).collect();
        assert_eq!(values, vec![3.0, 5.0, 5.0, 5.0, 5.0, 5.0]);
        let levels: Vec<&str> = d.quantiles.iter().map(|&(q, _)| q).collect();
        assert_eq!(levels, QUANTILE_LEVELS.to_vec());
        assert_eq!(d.es_99, 5.0);
    }

    #[test]
    fn ten_samples_by_hand() {
        // 1..=10: ceil(5) = 5 -> 5; ceil(9) = 9 -> 9; ceil(9.5) = 10 -> 10; the rest 10.
        let mut s: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let d = Distribution::from_samples(&mut s);
        let values: Vec<f64> = d.quantiles.iter().map(|&(_, v)| v).collect();
        assert_eq!(values, vec![5.0, 9.0, 10.0, 10.0, 10.0, 10.0]);
        assert_eq!(d.es_99, 10.0); // ceil(0.1) = 1 sample
        assert_eq!(d.mean, 5.5);
        // Sum of squared deviations 2 * (0.25 + 2.25 + 6.25 + 12.25 + 20.25) = 82.5; / 9.
        assert_eq!(d.std, (82.5_f64 / 9.0).sqrt());
    }

    #[test]
    fn thousand_samples_by_hand() {
        // 1..=1000: 0.999 -> x(999) = 999; 0.995 -> x(995) = 995; 0.99 -> x(990) = 990;
        // ES: ceil(0.01 * 1000) = 10 samples, 991..=1000, mean 995.5.
        let mut s: Vec<f64> = scrambled_one_to(1000);
        let d = Distribution::from_samples(&mut s);
        assert_eq!(d.quantile("0.999"), Some(999.0));
        assert_eq!(d.quantile("0.995"), Some(995.0));
        assert_eq!(d.quantile("0.99"), Some(990.0));
        assert_eq!(d.quantile("0.5"), Some(500.0));
        assert_eq!(d.es_99, 995.5);
    }

    #[test]
    fn no_samples() {
        let d = Distribution::from_samples(&mut []);
        assert_eq!(d.n, 0);
        assert_eq!(
            (d.mean, d.std, d.se_mean, d.min, d.max, d.es_99),
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(d.quantiles.len(), QUANTILE_LEVELS.len());
        assert!(d.quantiles.iter().all(|&(_, v)| v == 0.0));
        assert_eq!(mean(&[]), 0.0);
        assert_eq!(quantile_sorted(&[], "0.5"), 0.0);
        assert_eq!(expected_shortfall_sorted(&[], "0.99"), 0.0);
    }

    #[test]
    fn std_against_hand_value() {
        // Mean 5; squared deviations 9, 1, 1, 1, 0, 0, 4, 16 sum to 32; variance 32 / 7.
        let d = Distribution::from_samples(&mut [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(d.mean, 5.0);
        assert_eq!(d.std, (32.0_f64 / 7.0).sqrt());
        assert_eq!(d.se_mean, (32.0_f64 / 7.0).sqrt() / 8.0_f64.sqrt());
    }

    #[test]
    fn std_with_large_offset_is_two_pass_accurate() {
        // 1e9 + {4, 7, 13, 16}: mean 1e9 + 10, deviations -6, -3, 3, 6, sum of squares 90,
        // variance 90 / 3 = 30. E[x^2] - E[x]^2 would lose all of it at this offset.
        let mut s = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0];
        let d = Distribution::from_samples(&mut s);
        assert_eq!(d.mean, 1e9 + 10.0);
        assert_eq!(d.std, 30.0_f64.sqrt());
        let naive_var = (s.iter().map(|x| x * x).sum::<f64>() / 4.0 - d.mean * d.mean) * 4.0 / 3.0;
        assert_ne!(naive_var, 30.0);
    }

    #[test]
    fn constant_samples_have_zero_std() {
        let mut s = vec![0.1; 1001];
        let d = Distribution::from_samples(&mut s);
        assert_eq!(d.mean, 0.1);
        assert_eq!(d.std, 0.0);
        assert_eq!(d.se_mean, 0.0);
        assert_eq!(d.es_99, 0.1);
    }

    #[test]
    fn input_order_does_not_matter() {
        let forward: Vec<f64> = (0..5000).map(|i| (f64::from(i) * 0.37).sin() * 1e6).collect();
        let mut a = forward.clone();
        let mut b: Vec<f64> = forward.into_iter().rev().collect();
        let da = Distribution::from_samples(&mut a);
        let db = Distribution::from_samples(&mut b);
        assert_eq!(da.mean.to_bits(), db.mean.to_bits());
        assert_eq!(da.std.to_bits(), db.std.to_bits());
        assert_eq!(da.es_99.to_bits(), db.es_99.to_bits());
        assert_eq!(da, db);
    }

    #[test]
    fn extreme_finite_inputs_never_give_nan() {
        let cases: Vec<Vec<f64>> = vec![
            vec![f64::MAX, -f64::MAX],
            vec![f64::MAX, f64::MAX, f64::MAX],
            vec![f64::MAX, f64::MAX * 0.5],
            vec![f64::MAX, 0.0, -f64::MAX, 1.0],
            vec![5e-324, 1e-323],
            vec![5e-324, -5e-324, 0.0],
            vec![-0.0, 0.0],
            vec![1e300, 1e-300, -1e300],
        ];
        for mut case in cases {
            let d = Distribution::from_samples(&mut case);
            for v in [d.mean, d.std, d.se_mean, d.es_99] {
                assert!(!v.is_nan(), "{case:?} -> {d:?}");
            }
            assert!(d.mean.is_finite(), "{case:?} -> {d:?}");
            assert!(d.quantiles.iter().all(|&(_, v)| !v.is_nan()));
        }
        let d = Distribution::from_samples(&mut [f64::MAX, f64::MAX * 0.5]);
        assert_eq!(d.mean, f64::MAX * 0.75);
        // std = |MAX - MAX/2| / sqrt(2) = MAX / (2 sqrt 2), finite.
        assert_close(d.std, f64::MAX / (2.0 * 2.0_f64.sqrt()), 1e-15);
        let d = Distribution::from_samples(&mut [f64::MAX; 3]);
        assert_eq!((d.mean, d.std), (f64::MAX, 0.0));
        let d = Distribution::from_samples(&mut [5e-324, 1e-323]);
        // Subnormal deviations still give a positive, finite std.
        assert!(d.std > 0.0 && d.std.is_finite());
    }

    #[test]
    fn non_finite_inputs_do_not_panic() {
        let mut s = [1.0, f64::NAN, f64::INFINITY, -f64::INFINITY, 2.0];
        let d = Distribution::from_samples(&mut s);
        assert_eq!(d.n, 5);
        let mut s = [1.0, f64::INFINITY];
        let d = Distribution::from_samples(&mut s);
        assert_eq!(d.mean, f64::INFINITY);
        assert_eq!(d.max, f64::INFINITY);
    }

    // ---- sums and means ----

    #[test]
    fn neumaier_beats_naive_on_cancellation() {
        // Naive: 1e16 + 1 rounds back to 1e16 (ulp 2, tie to even), so each triple sums to 0.
        let mut values = Vec::new();
        for _ in 0..1000 {
            values.extend_from_slice(&[1e16, 1.0, -1e16]);
        }
        let naive: f64 = values.iter().sum();
        assert_eq!(naive, 0.0);
        assert_eq!(compensated_sum(&values), 1000.0);
        assert_eq!(mean(&values), 1000.0 / 3000.0);
        // Neumaier (unlike plain Kahan) also gets this one.
        assert_eq!(compensated_sum(&[1.0, 1e100, 1.0, -1e100]), 2.0);
    }

    #[test]
    fn mean_of_ten_million() {
        let values = vec![0.1; 10_000_000];
        let naive = values.iter().sum::<f64>() / 1e7;
        assert_ne!(naive, 0.1);
        assert_eq!(mean(&values), 0.1);
    }

    #[test]
    fn mean_survives_an_overflowing_sum() {
        let values = [f64::MAX, f64::MAX, f64::MAX, f64::MAX];
        assert_eq!(mean(&values), f64::MAX);
        assert_eq!(mean(&[f64::MAX, -f64::MAX, f64::MAX]), f64::MAX / 3.0);
        assert_eq!(mean(&[f64::INFINITY, 1.0]), f64::INFINITY);
    }

    #[test]
    fn compensated_sum_accumulator() {
        let mut acc = CompensatedSum::new();
        assert_eq!(acc.total(), 0.0);
        for x in [0.1, 0.2, 0.3] {
            acc.add(x);
        }
        // 0.1 + 0.2 + 0.3 naively is 0.6000000000000001.
        assert_eq!(acc.total(), 0.6);
    }

    // ---- proportions ----

    #[test]
    fn proportion_by_hand() {
        // p = 1/4; p (1 - p) = 3/16 = 0.1875; / 4 = 0.046875 (all exact).
        let p = Proportion::new(1, 4);
        assert_eq!((p.count, p.n, p.p), (1, 4, 0.25));
        assert_eq!(p.se, 0.046875_f64.sqrt());
        // p = 0.3, se = sqrt(0.3 * 0.7 / 10) = sqrt(0.021).
        let p = Proportion::new(3, 10);
        assert_eq!(p.p, 0.3);
        assert_close(p.se, 0.021_f64.sqrt(), 1e-15);
        // p = 0.01 at n = 200000: se = sqrt(0.0099 / 200000) = sqrt(4.95e-8).
        let p = Proportion::new(2000, 200_000);
        assert_eq!(p.p, 0.01);
        assert_close(p.se, 4.95e-8_f64.sqrt(), 1e-15);
    }

    #[test]
    fn proportion_edges() {
        assert_eq!(
            Proportion::new(0, 0),
            Proportion {
                count: 0,
                n: 0,
                p: 0.0,
                se: 0.0
            }
        );
        let p = Proportion::new(0, 10);
        assert_eq!((p.p, p.se), (0.0, 0.0));
        let p = Proportion::new(10, 10);
        assert_eq!((p.p, p.se), (1.0, 0.0));
        let p = Proportion::new(11, 10);
        assert!(!p.se.is_nan());
    }

    // ---- order-statistic confidence interval ----

    #[test]
    fn order_statistic_ci_by_hand() {
        // n q = 50, s = sqrt(100 * 0.25) = 5, z s = 9.8: floor(40.2) = 40, ceil(59.8) = 60.
        assert_eq!(order_statistic_ci(100, 0.5, 1.96), (40, 60));
        // z = 0: both ends at n q = 50.
        assert_eq!(order_statistic_ci(100, 0.5, 0.0), (50, 50));
        // n q = 9.9, s = sqrt(0.099) = 0.31464, z s = 0.61670: floor(9.2833) = 9,
        // ceil(10.5167) = 11, clamped to 10.
        assert_eq!(order_statistic_ci(10, 0.99, 1.96), (9, 10));
        // n q = 198000, s = sqrt(1980) = 44.4972, z s = 87.2145:
        // floor(197912.79) = 197912, ceil(198087.21) = 198088.
        assert_eq!(order_statistic_ci(200_000, 0.99, 1.96), (197_912, 198_088));
        // Clamped at the bottom: n q = 0.1, z s = 1.96 * sqrt(0.099) = 0.6167.
        assert_eq!(order_statistic_ci(10, 0.01, 1.96), (1, 1));
        assert_eq!(
            order_statistic_ci(10, 0.5, -1.96),
            order_statistic_ci(10, 0.5, 1.96)
        );
        assert_eq!(order_statistic_ci(0, 0.5, 1.96), (0, 0));
        assert_eq!(order_statistic_ci(10, f64::NAN, 1.96), (1, 10));
        assert_eq!(order_statistic_ci(1, 0.99, 1.96), (1, 1));
    }
}

//! Statistics of importance-sampled paths: every path `i` of `n` carries its likelihood ratio
//! `w_i` (see [`crate::importance`]), and each estimate is the plain one with `w_i` folded in.
//! With every `w_i = 1` they reduce to the definitions of [`crate::stats`] (the quantile and the
//! ES exactly; the intervals and standard errors to their large-sample forms).
//!
//! With `y_i = w_i x_i`:
//!
//! * `mean = (1/n) sum y_i`, `se_mean = sqrt( sum (y_i - mean)^2 / (n - 1) / n )` (the plain
//!   formulas applied to `y`: the estimator is a plain mean of the `y_i`);
//! * `std = sqrt( (n / (n - 1)) max(0, (1/n) sum w_i x_i^2 - mean^2) )`;
//! * a probability `p = (1/n) sum w_i 1{A_i}` has `se = sqrt( max(0, (1/n) sum w_i^2 1{A_i} - p^2) / n )`
//!   (`sqrt(p (1 - p) / n)` when `w = 1`);
//! * the tail function `T(x) = sum w_i 1{x_i > x}` (in paths); `VaR_q` is the smallest sample
//!   value `x` with `T(x) <= (1 - q) n` — for `w = 1` exactly `x(ceil(q n))`;
//! * its 95% interval inverts the interval of the tail probability (Woodruff's interval): with
//!   `s` the standard error of `T(VaR_q) / n` (as a probability above), `lo` is the quantile at
//!   tail mass `(1 - q + 1.96 s) n` and `hi` the one at `(1 - q - 1.96 s) n`; for `w = 1` this is
//!   the order-statistic interval of [`crate::stats::order_statistic_ci`] up to rounding of ranks.
//!   No density estimate is needed, and it holds on atoms (a cap) where a delta-method
//!   interval would not;
//! * `ES_q`: taking samples from the largest down until their summed weight reaches
//!   `(1 - q) n`, the weight-averaged value of those taken (`w = 1`: the mean of the largest
//!   `ceil((1 - q) n)`); its standard error is `sd(w_i (x_i - VaR_q)^+) / (sqrt(n) (1 - q))`, which
//!   for `w = 1` is Manistre & Hancock's `sqrt((s_m^2 + q (ES - VaR)^2) / m)` to first order.
//!
//! The paths with no default share one *baseline* value; their weights are kept as a count, a
//! sum and a sum of squares ([`WeightSums`]), which is all the means and probabilities need. In
//! the order statistics (quantile, ES) the baseline's copies count with their mean weight.
//!
//! Every sum is compensated and taken in a fixed order (sorts are stable), so results are
//! deterministic.

use super::{CompensatedSum, Distribution, ES_LEVEL, QUANTILE_LEVELS, Z_95, parse_unit_decimal};

/// Count, sum and sum of squares of some paths' weights.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WeightSums {
    pub count: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl WeightSums {
    /// Adds a path of weight `w`.
    #[inline]
    pub fn add(&mut self, w: f64) {
        self.count += 1;
        self.sum += w;
        self.sum_sq += w * w;
    }

    /// The sums of `count` paths of weight 1: `count`, `count`, `count` (exact below `2^53`, as
    /// adding the weights one by one gives).
    pub fn of_unit_weights(count: u64) -> WeightSums {
        WeightSums {
            count,
            sum: count as f64,
            sum_sq: count as f64,
        }
    }

    /// Both together.
    pub fn merged(&self, other: &WeightSums) -> WeightSums {
        WeightSums {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            sum_sq: self.sum_sq + other.sum_sq,
        }
    }

    /// The mean weight; 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// One output over weighted paths: `values[i]` with weight `weights[i]`, plus `baseline.count`
/// paths of value `baseline_value` whose weights are summed in `baseline`.
#[derive(Debug, Clone, Copy)]
pub struct WeightedColumn<'a> {
    pub values: &'a [f64],
    pub weights: &'a [f64],
    pub baseline_value: f64,
    pub baseline: WeightSums,
}

/// A sorted atom: value, weight, squared weight, paths.
#[derive(Debug, Clone, Copy)]
struct Atom {
    x: f64,
    w: f64,
    w2: f64,
    count: u64,
}

impl<'a> WeightedColumn<'a> {
    /// Number of paths.
    pub fn n(&self) -> u64 {
        self.values.len() as u64 + self.baseline.count
    }

    /// `(mean, se_mean)` of the module docs; `(0, 0)` when empty.
    pub fn mean_and_se(&self) -> (f64, f64) {
        let n = self.n();
        if n == 0 {
            return (0.0, 0.0);
        }
        let nf = n as f64;
        let mut acc = CompensatedSum::new();
        for (x, w) in self.values.iter().zip(self.weights) {
            acc.add(w * x);
        }
        acc.add(self.baseline_value * self.baseline.sum);
        let mean = acc.total() / nf;
        if n < 2 {
            return (mean, 0.0);
        }
        let mut sq = CompensatedSum::new();
        for (x, w) in self.values.iter().zip(self.weights) {
            let d = w * x - mean;
            sq.add(d * d);
        }
        // sum over the baseline paths of (w_k b - mean)^2.
        let b = self.baseline_value;
        sq.add(
            b * b * self.baseline.sum_sq - 2.0 * mean * b * self.baseline.sum
                + self.baseline.count as f64 * mean * mean,
        );
        let var = (sq.total() / (nf - 1.0)).max(0.0);
        (mean, (var / nf).sqrt())
    }

    /// `(p, se)` of the event `pred(x)` (module docs); `(0, 0)` when empty.
    pub fn probability(&self, pred: impl Fn(f64) -> bool) -> (f64, f64) {
        let mut sums = WeightSums::default();
        for (x, w) in self.values.iter().zip(self.weights) {
            if pred(*x) {
                sums.add(*w);
            }
        }
        if self.baseline.count > 0 && pred(self.baseline_value) {
            sums = sums.merged(&self.baseline);
        }
        probability_of(&sums, self.n())
    }

    /// `(VaR_q, ES_q)` at the decimal level `q` (module docs); `(0, 0)` when empty.
    pub fn var_es(&self, q: &str) -> (f64, f64) {
        let n = self.n();
        if n == 0 {
            return (0.0, 0.0);
        }
        let atoms = self.sorted_atoms();
        (
            quantile_at_mass(&atoms, tail_mass(q, n)),
            expected_shortfall(&atoms, q, n).0,
        )
    }

    /// Every statistic of [`Distribution`], weighted (module docs).
    pub fn distribution(&self) -> Distribution {
        let n = self.n();
        let empty = Distribution::from_samples(&mut []);
        if n == 0 {
            return empty;
        }
        let atoms = self.sorted_atoms();
        let (mean, se_mean) = self.mean_and_se();
        let nf = n as f64;
        let mut second = CompensatedSum::new();
        for a in &atoms {
            second.add(a.w * a.x * a.x);
        }
        let std = if n < 2 {
            0.0
        } else {
            ((second.total() / nf - mean * mean).max(0.0) * nf / (nf - 1.0)).sqrt()
        };
        let mut positive = atoms.iter().filter(|a| a.w > 0.0);
        let min = positive.clone().next().map_or(0.0, |a| a.x);
        let max = positive.next_back().map_or(0.0, |a| a.x);
        let mut quantiles = Vec::new();
        let mut quantiles_ci = Vec::new();
        for &q in &QUANTILE_LEVELS {
            let mass = tail_mass(q, n);
            let var = quantile_at_mass(&atoms, mass);
            let s = tail_probability_se(&atoms, var, n);
            let lo = quantile_at_mass(&atoms, mass + Z_95 * s * nf);
            let hi = quantile_at_mass(&atoms, (mass - Z_95 * s * nf).max(0.0));
            quantiles.push((q, var));
            quantiles_ci.push((q, lo, hi));
        }
        let (es_99, es_99_se) = expected_shortfall(&atoms, ES_LEVEL, n);
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

    /// The atoms sorted ascending by value (stable: the baseline first among equals, then the
    /// stored paths in order).
    fn sorted_atoms(&self) -> Vec<Atom> {
        let mut atoms = Vec::with_capacity(self.values.len() + 1);
        if self.baseline.count > 0 {
            atoms.push(Atom {
                x: self.baseline_value,
                w: self.baseline.sum,
                w2: self.baseline.sum_sq,
                count: self.baseline.count,
            });
        }
        atoms.extend(self.values.iter().zip(self.weights).map(|(&x, &w)| Atom {
            x,
            w,
            w2: w * w,
            count: 1,
        }));
        atoms.sort_by(|a, b| a.x.total_cmp(&b.x));
        atoms
    }
}

/// `(p, se)` of an event whose paths' weights are `sums`, out of `n` paths.
pub fn probability_of(sums: &WeightSums, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    let nf = n as f64;
    let p = sums.sum / nf;
    let se = ((sums.sum_sq / nf - p * p).max(0.0) / nf).sqrt();
    (p, se)
}

/// `(1 - q) n` for the decimal level `q`, as exactly as `f64` allows.
fn tail_mass(q: &str, n: u64) -> f64 {
    let (num, den) = parse_unit_decimal(q);
    ((den - num) * u128::from(n)) as f64 / den as f64
}

/// The smallest atom value `x` with `T(x) = sum of weights above x <= mass`.
fn quantile_at_mass(atoms: &[Atom], mass: f64) -> f64 {
    let Some(last) = atoms.last() else {
        return 0.0;
    };
    let mut answer = last.x;
    let mut above = 0.0;
    let mut i = atoms.len();
    while i > 0 {
        let v = atoms[i - 1].x;
        if above > mass {
            break;
        }
        answer = v;
        // The whole group of value v.
        while i > 0 && atoms[i - 1].x.total_cmp(&v).is_eq() {
            above += atoms[i - 1].w;
            i -= 1;
        }
    }
    answer
}

/// Standard error of `T(x) / n` (module docs).
fn tail_probability_se(atoms: &[Atom], x: f64, n: u64) -> f64 {
    let mut sums = WeightSums::default();
    for a in atoms.iter().rev().take_while(|a| a.x > x) {
        sums.sum += a.w;
        sums.sum_sq += a.w2;
        sums.count += a.count;
    }
    probability_of(&sums, n).1
}

/// `(ES_q, se)` (module docs).
fn expected_shortfall(atoms: &[Atom], q: &str, n: u64) -> (f64, f64) {
    let mass = tail_mass(q, n);
    let var = quantile_at_mass(atoms, mass);
    let mut taken_w = CompensatedSum::new();
    let mut taken_wx = CompensatedSum::new();
    for a in atoms.iter().rev() {
        let have = taken_w.total();
        if have >= mass && have > 0.0 {
            break;
        }
        if a.count > 1 {
            // The baseline's copies, at their mean weight: as many as reach the mass.
            let each = a.w / a.count as f64;
            let k = if each > 0.0 {
                (((mass - have) / each).ceil().max(1.0) as u64).min(a.count)
            } else {
                a.count
            };
            taken_w.add(each * k as f64);
            taken_wx.add(each * k as f64 * a.x);
        } else {
            taken_w.add(a.w);
            taken_wx.add(a.w * a.x);
        }
    }
    let tw = taken_w.total();
    let es = if tw > 0.0 { taken_wx.total() / tw } else { var };
    // se: sd of y = w (x - VaR)^+ over the n paths, over sqrt(n) (1 - q).
    let nf = n as f64;
    let (mut s1, mut s2) = (CompensatedSum::new(), CompensatedSum::new());
    for a in atoms.iter().rev().take_while(|a| a.x > var) {
        let d = a.x - var;
        s1.add(a.w * d);
        s2.add(a.w2 * d * d);
    }
    let m1 = s1.total() / nf;
    let var_y = (s2.total() / nf - m1 * m1).max(0.0);
    let tail = mass / nf;
    let se = if tail > 0.0 {
        (var_y / nf).sqrt() / tail
    } else {
        0.0
    };
    (es, se)
}

/// The `q`-quantile (`q` in (0, 1)) of `values` weighted by `weights` (the smallest value with
/// `sum w 1{x > value} <= (1 - q) n`, `n = values.len()`); 0 when empty. For the pilot.
pub fn weighted_quantile(values: &[f64], weights: &[f64], q: f64) -> f64 {
    let col = WeightedColumn {
        values,
        weights,
        baseline_value: 0.0,
        baseline: WeightSums::default(),
    };
    let atoms = col.sorted_atoms();
    quantile_at_mass(&atoms, (1.0 - q) * values.len() as f64)
}

/// The `q`-quantile (decimal level) of `values` weighted by `weights`, as [`WeightedColumn`]
/// defines it; 0 when empty.
pub fn weighted_quantile_at(values: &[f64], weights: &[f64], q: &str) -> f64 {
    let col = WeightedColumn {
        values,
        weights,
        baseline_value: 0.0,
        baseline: WeightSums::default(),
    };
    quantile_at_mass(&col.sorted_atoms(), tail_mass(q, values.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(values: &[f64]) -> Vec<f64> {
        vec![1.0; values.len()]
    }

    #[test]
    fn unit_weights_give_the_plain_quantiles_es_and_mean() {
        // Ties, a baseline atom and an awkward n.
        let mut values: Vec<f64> = (0..997).map(|i| ((i * 37) % 101) as f64).collect();
        values.extend([500.0; 7]);
        let base = WeightSums {
            count: 311,
            sum: 311.0,
            sum_sq: 311.0,
        };
        let w = unit(&values);
        let col = WeightedColumn {
            values: &values,
            weights: &w,
            baseline_value: 3.0,
            baseline: base,
        };
        let weighted = col.distribution();
        let mut plain = values.clone();
        let plain = Distribution::with_baseline(&mut plain, 3.0, 311);
        assert_eq!(weighted.quantiles, plain.quantiles);
        assert!((weighted.es_99 - plain.es_99).abs() <= 1e-12 * plain.es_99.abs());
        assert!((weighted.mean - plain.mean).abs() <= 1e-12 * plain.mean.abs());
        assert!((weighted.se_mean - plain.se_mean).abs() <= 1e-9 * plain.se_mean);
        assert!((weighted.std - plain.std).abs() <= 1e-9 * plain.std);
        assert_eq!((weighted.min, weighted.max), (plain.min, plain.max));
        // ES se: Manistre-Hancock to first order.
        assert!((weighted.es_99_se - plain.es_99_se).abs() <= 0.2 * plain.es_99_se);
    }

    #[test]
    fn probability_se_is_binomial_for_unit_weights() {
        let values = [0.0, 1.0, 2.0, 3.0];
        let w = unit(&values);
        let col = WeightedColumn {
            values: &values,
            weights: &w,
            baseline_value: 0.0,
            baseline: WeightSums {
                count: 4,
                sum: 4.0,
                sum_sq: 4.0,
            },
        };
        let (p, se) = col.probability(|x| x > 1.5);
        assert_eq!(p, 0.25);
        assert!((se - (0.25f64 * 0.75 / 8.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn weights_move_the_quantile() {
        // Two values; the upper one carries 10% of the mass by weight though it is half the
        // paths: the 0.95 quantile is the upper value, the 0.85 one the lower.
        let values = [1.0, 1.0, 2.0, 2.0];
        let weights = [1.8, 1.8, 0.2, 0.2];
        assert_eq!(weighted_quantile(&values, &weights, 0.95), 2.0);
        assert_eq!(weighted_quantile(&values, &weights, 0.85), 1.0);
        assert_eq!(weighted_quantile_at(&values, &weights, "0.95"), 2.0);
    }
}

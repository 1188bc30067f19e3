//! The guarantor's exposure view: for each guarantor party and the undertaker, how often it is
//! called, what it pays (mean, VaR, ES), how often and when its cap runs out, the capacity that
//! would have covered 99% and 99.9% of paths, and each firm's Euler contribution to the party's
//! expected payout and ES 99%.
//!
//! **Euler allocation.** A party's payout on a path is the sum of what it paid for each firm,
//! `X = sum_i X_i`. The expected payout is allocated as `E[X_i]`; ES 99% (the mean of the
//! `k = ceil(0.01 n)` largest payouts, ties broken by path index) as the mean of `X_i` over those
//! same `k` tail paths. Both allocations add up to the party's figure (to rounding of the sums).
//!
//! The figures that need no per-firm record ([`PayerFigures`]: P(called), mean, VaR and ES
//! of payouts, cap exhaustion and its timing, capacities) are computed from the runner's
//! per-path columns, so every `ipabs run` reports them in `summary.json`; the Euler
//! contributions need what each party paid for each firm, which only this module's replay keeps.
//! Those figures come in three independent parts, each from one column ([`PayoutFigures`] of
//! the payouts, [`capacities_in_place`] of the obligations, [`cap_out_tally`] of the cap-out
//! periods), which the summary computes as separate tasks on the run's threads and joins with
//! [`PayerFigures::of_parts`].
//!
//! Two passes over the very paths of [`runner::simulate`] ([`runner::replay_recording`]), on one
//! thread: the first finds each party's payouts and tail paths, the second sums the firms'
//! payments over the tail.

use serde::Serialize;

use crate::model::Scenario;
use crate::money::{Amount, snap_to_cent};
use crate::plan::Plan;
use crate::runner::{self, Samples, Weights};
use crate::stats::weighted::WeightedColumn;
use crate::stats::{Folded, Proportion, ceil_complement_of, mean_and_se, var_es_of_folded};

/// One payer's exposure (a guarantor party's payouts, or the undertaker's draws) over all
/// paths, from its per-path payout, obligation and cap-out period.
///
/// - `p_called` = P(payout > 0); `expected_payout` = E[payout] with its standard error
///   (compensated sums in path order, [`mean_and_se`]);
/// - `var_q` = `x(ceil(q n))` and `es_q` = mean of the largest `ceil((1 - q) n)` payouts, at
///   q = 0.99 and 0.999;
/// - `p_cap_exhausted` = P(the cap bound), `p_cap_exhausted_in_period[k-1]` = P(it first bound
///   in period k), `p_cap_exhausted_by_period[k-1]` = P(it had bound by the end of period k)
///   (so the last entry is `p_cap_exhausted`);
/// - `capacity_q` = VaR_q of the obligation: the cap that would have met the obligation in full
///   on a share q of paths.
///
/// `var_q` and `capacity_q` are one path's amount, snapped to the whole cent they are within
/// floating-point rounding of ([`snap_to_cent`]); the means and `es_q` are left as computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PayerFigures {
    pub p_called: f64,
    pub p_called_se: f64,
    pub expected_payout: f64,
    pub expected_payout_se: f64,
    #[serde(rename = "var_0.99")]
    pub var_99: f64,
    #[serde(rename = "var_0.999")]
    pub var_999: f64,
    #[serde(rename = "es_0.99")]
    pub es_99: f64,
    #[serde(rename = "es_0.999")]
    pub es_999: f64,
    pub p_cap_exhausted: f64,
    pub p_cap_exhausted_se: f64,
    pub p_cap_exhausted_in_period: Vec<f64>,
    pub p_cap_exhausted_by_period: Vec<f64>,
    #[serde(rename = "capacity_0.99")]
    pub capacity_99: f64,
    #[serde(rename = "capacity_0.999")]
    pub capacity_999: f64,
}

impl PayerFigures {
    /// The figures of per-path `payout`, `obligation` and `cap_out_period` (the period the cap
    /// first bound, 0: never) over a term of `periods` periods. The three must cover the same
    /// paths. Copies the stored payouts and obligations that differ from their baseline value
    /// and works on the copies ([`PayerFigures::in_place`]).
    pub fn new(
        payout: Samples<'_>,
        obligation: Samples<'_>,
        cap_out_period: Samples<'_>,
        periods: usize,
    ) -> Self {
        let kept = |s: Samples<'_>| -> Vec<f64> {
            s.stored
                .iter()
                .copied()
                .filter(|x| x.to_bits() != s.baseline.to_bits())
                .collect()
        };
        let (mut xs, mut os) = (kept(payout), kept(obligation));
        fn column<'b>(s: Samples<'_>, kept: &'b mut [f64]) -> PayerColumn<'b> {
            PayerColumn {
                count: s.count + (s.stored.len() - kept.len()) as u64,
                baseline: s.baseline,
                stored: kept,
            }
        }
        PayerFigures::in_place(
            column(payout, &mut xs),
            column(obligation, &mut os),
            cap_out_period,
            periods,
        )
    }

    /// [`PayerFigures::new`] permuting the stored payouts and obligations in place instead of
    /// copying them (the values that differ from the baseline value end first, in no given
    /// order).
    ///
    /// No full sort: VaR, ES and the capacities read only the ranks from `ceil(0.99 n)` on, put
    /// in place by [`var_es_of_folded`] (selection, then a sort of the entries above).
    pub fn in_place(
        payout: PayerColumn<'_>,
        obligation: PayerColumn<'_>,
        cap_out_period: Samples<'_>,
        periods: usize,
    ) -> Self {
        let paid = PayoutFigures::in_place(payout);
        let capacities = capacities_in_place(obligation);
        PayerFigures::of_parts(paid, capacities, &cap_out_tally(cap_out_period, periods))
    }

    /// The figures of a payer from its three independent parts, each computed on its own column
    /// (so a caller may compute them concurrently): the payout figures, the capacities
    /// (`[capacity_99, capacity_999]`) and the cap-out tally `first[k-1]` (paths whose cap first
    /// bound in period k, [`cap_out_tally`]).
    pub fn of_parts(paid: PayoutFigures, [capacity_99, capacity_999]: [f64; 2], first: &[u64]) -> Self {
        let n = paid.n;
        let exhausted = Proportion::new(first.iter().sum(), n);
        let called = Proportion::new(paid.called, n);
        let mut by = 0;
        PayerFigures {
            p_called: called.p,
            p_called_se: called.se,
            expected_payout: paid.mean,
            expected_payout_se: paid.mean_se,
            var_99: paid.var_es[0].0,
            var_999: paid.var_es[1].0,
            es_99: paid.var_es[0].1,
            es_999: paid.var_es[1].1,
            p_cap_exhausted: exhausted.p,
            p_cap_exhausted_se: exhausted.se,
            p_cap_exhausted_in_period: first.iter().map(|&c| Proportion::new(c, n).p).collect(),
            p_cap_exhausted_by_period: first
                .iter()
                .map(|&c| {
                    by += c;
                    Proportion::new(by, n).p
                })
                .collect(),
            capacity_99,
            capacity_999,
        }
        .snapped_to_cents()
    }

    /// The order statistics (VaR and capacities: each the amount of one path) snapped to the
    /// whole cent they are within floating-point rounding of ([`snap_to_cent`]).
    fn snapped_to_cents(mut self) -> Self {
        for x in [
            &mut self.var_99,
            &mut self.var_999,
            &mut self.capacity_99,
            &mut self.capacity_999,
        ] {
            *x = snap_to_cent(*x);
        }
        self
    }
}

/// A payer's per-path amounts, to be permuted in place: its stored paths' values and `count`
/// copies of `baseline`.
#[derive(Debug)]
pub struct PayerColumn<'a> {
    pub stored: &'a mut [f64],
    pub baseline: f64,
    pub count: u64,
}

impl<'a> PayerColumn<'a> {
    /// Number of paths.
    fn n(&self) -> u64 {
        self.stored.len() as u64 + self.count
    }
}

/// Number of paths with an amount above 0 in a folded column: its kept entries above 0, and its
/// copies when the value is.
fn count_above_zero(f: &Folded<'_>) -> u64 {
    let kept = f.kept.iter().filter(|&&x| x > 0.0).count() as u64;
    kept + if f.value > 0.0 { f.copies } else { 0 }
}

/// The exposure quantiles of [`PayerFigures`].
const LEVELS: [&str; 2] = ["0.99", "0.999"];

/// The figures of a payer's payout column alone (the first part of [`PayerFigures::in_place`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PayoutFigures {
    /// Number of paths.
    pub n: u64,
    /// Paths with a payout above 0.
    pub called: u64,
    /// `E[payout]` and its standard error.
    pub mean: f64,
    pub mean_se: f64,
    /// `(VaR_q, ES_q)` at q = 0.99 and 0.999.
    pub var_es: [(f64, f64); 2],
}

impl PayoutFigures {
    /// The payout figures of `payout`, permuting it in place. The stored paths that differ from
    /// the baseline value come first, in their order, the others counted as copies of it (most
    /// payers pay nothing on most paths): `(samples, copies)`. The order statistics are
    /// unchanged; an ES tail reaching the baseline value adds its copies as one term, which for
    /// the payouts' baseline 0 is the sum of the full sort bit for bit.
    pub fn in_place(payout: PayerColumn<'_>) -> Self {
        let n = payout.n();
        let xs = Folded::new(payout.stored, payout.baseline, payout.count);
        let called = count_above_zero(&xs);
        let (mean, mean_se) = mean_and_se(xs.kept, xs.value, xs.copies);
        let var_es = var_es_of_folded(xs, LEVELS);
        PayoutFigures {
            n,
            called,
            mean,
            mean_se,
            var_es,
        }
    }
}

/// `[capacity_99, capacity_999]`: VaR 99% and 99.9% of a payer's obligations, permuting them in
/// place (the second part of [`PayerFigures::in_place`]).
pub fn capacities_in_place(obligation: PayerColumn<'_>) -> [f64; 2] {
    let os = Folded::new(obligation.stored, obligation.baseline, obligation.count);
    let [(capacity_99, _), (capacity_999, _)] = var_es_of_folded(os, LEVELS);
    [capacity_99, capacity_999]
}

/// `first[k-1]`: the paths whose cap first bound in period `k`, `k = 1..=periods`, from each
/// path's cap-out period (0: never; the third part of [`PayerFigures::in_place`]).
pub fn cap_out_tally(cap_out_period: Samples<'_>, periods: usize) -> Vec<u64> {
    let mut first = vec![0u64; periods];
    let mut tally = |k: f64, c: u64| {
        if k >= 1.0 && (k as usize) <= periods {
            first[k as usize - 1] += c;
        }
    };
    // Most paths' caps never bind (0): a block of eight with none at 1 or above is passed over
    // in one vectorised test.
    let (blocks, rest) = cap_out_period.stored.as_chunks::<8>();
    for block in blocks {
        if block.iter().fold(false, |any, &k| any | (k >= 1.0)) {
            block.iter().for_each(|&k| tally(k, 1));
        }
    }
    rest.iter().for_each(|&k| tally(k, 1));
    tally(cap_out_period.baseline, cap_out_period.count);
    first
}

impl PayerFigures {
    /// [`PayerFigures::new`] over importance-sampled paths with likelihood ratios `weights`:
    /// every probability is `(1/n) sum w_i 1{A_i}`, the expected payout `(1/n) sum w_i x_i`,
    /// VaR, ES and the capacities are read off the weighted tail function, each with the
    /// definitions and standard errors of [`crate::stats::weighted`] (with every `w_i = 1` the
    /// plain figures).
    pub fn weighted<'a>(
        payout: Samples<'a>,
        obligation: Samples<'a>,
        cap_out_period: Samples<'a>,
        weights: &'a Weights,
        periods: usize,
    ) -> Self {
        let column = |s: Samples<'a>| WeightedColumn {
            values: s.stored,
            weights: &weights.stored,
            baseline_value: s.baseline,
            baseline: weights.baseline_total(),
        };
        let (payout, obligation, out) = (column(payout), column(obligation), column(cap_out_period));
        let (p_called, p_called_se) = payout.probability(|x| x > 0.0);
        let (expected_payout, expected_payout_se) = payout.mean_and_se();
        let ((var_99, es_99), (var_999, es_999)) = (payout.var_es("0.99"), payout.var_es("0.999"));
        let last = periods as f64;
        let (p_cap_exhausted, p_cap_exhausted_se) = out.probability(|k| (1.0..=last).contains(&k));
        PayerFigures {
            p_called,
            p_called_se,
            expected_payout,
            expected_payout_se,
            var_99,
            var_999,
            es_99,
            es_999,
            p_cap_exhausted,
            p_cap_exhausted_se,
            p_cap_exhausted_in_period: (1..=periods)
                .map(|k| out.probability(|x| x == k as f64).0)
                .collect(),
            p_cap_exhausted_by_period: (1..=periods)
                .map(|k| out.probability(|x| (1.0..=k as f64).contains(&x)).0)
                .collect(),
            capacity_99: obligation.var_es("0.99").0,
            capacity_999: obligation.var_es("0.999").0,
        }
        .snapped_to_cents()
    }
}

/// One firm's share of a party's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirmContribution {
    pub firm: String,
    /// `E[X_i]`: its contribution to the expected payout.
    pub expected_payout: f64,
    /// Mean of `X_i` over the party's ES 99% tail paths: its contribution to ES 99%.
    pub es_99: f64,
}

/// One guarantor party's exposure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartyExposure {
    pub tier: usize,
    pub name: String,
    /// `null`: unlimited.
    pub cap: Option<f64>,
    /// Its payout figures; the capacities are VaR 99% and 99.9% of its obligation.
    #[serde(flatten)]
    pub figures: PayerFigures,
    /// Euler contributions, in firm order.
    pub contributions: Vec<FirmContribution>,
}

/// The undertaker's exposure (its draws are not per firm, so not allocated). Its obligation on
/// a path is its draw plus tranche 1's loss (see [`undertaker_obligation`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndertakerExposure {
    pub name: String,
    pub cap: Option<f64>,
    #[serde(flatten)]
    pub figures: PayerFigures,
    /// `expected_payout` under its earlier name.
    pub expected_draw: f64,
    pub expected_draw_se: f64,
}

/// The undertaker's obligation on a path: what tranche 1 lacked after the waterfall, i.e. its
/// draw plus tranche 1's interest shortfall and principal loss. Exact when tranche 1's interest
/// due does not depend on the undertaker's earlier payments (a bullet senior tranche, or a cap
/// that never binds); for an amortising senior tranche whose unpaid principal keeps accruing
/// interest it is an upper bound.
pub fn undertaker_obligation(draw: f64, tranche1_loss: f64) -> f64 {
    draw + tranche1_loss
}

/// The exposure view of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    pub scenario: String,
    pub currency: String,
    pub paths: u64,
    pub seed: u64,
    pub parties: Vec<PartyExposure>,
    pub undertaker: Option<UndertakerExposure>,
    /// The undertaker's draw on each path (for its chart; not written to JSON).
    #[serde(skip)]
    pub undertaker_draws: Vec<f64>,
}

/// Indices of the `k` largest values, ties broken by the smaller index.
fn tail_indices(x: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// The exposure view of `scenario` over `paths` paths from `seed`.
pub fn exposure(scenario: &Scenario, paths: u64, seed: u64) -> Exposure {
    let plan = Plan::new(scenario);
    let n = paths as usize;
    let firms = plan.firms.len();
    let parties = plan.parties();
    let periods = plan.periods;
    let mut payout = vec![vec![0.0; n]; parties];
    let mut obligation = vec![vec![0.0; n]; parties];
    let mut out_period = vec![vec![0.0; n]; parties];
    let mut firm_sum = vec![vec![0.0; firms]; parties];
    let mut draw = vec![0.0; n];
    let mut need = vec![0.0; n];
    let mut draw_out = vec![0.0; n];
    runner::replay_recording(&plan, seed, paths, |j, s| {
        let j = j as usize;
        for p in 0..parties {
            let mut x = 0.0;
            for d in s.defaults() {
                let v = s.paid_for(p, d.firm);
                x += v;
                firm_sum[p][d.firm] += v;
            }
            payout[p][j] = x;
            let po = &s.outcome.parties[p];
            obligation[p][j] = po.obligation;
            out_period[p][j] = f64::from(po.cap_out_period);
        }
        let o = &s.outcome;
        draw[j] = o.undertaker_draw;
        need[j] = undertaker_obligation(o.undertaker_draw, o.tranches.first().map_or(0.0, |t| t.loss()));
        draw_out[j] = f64::from(o.undertaker_cap_out_period);
    });

    let k = ceil_complement_of("0.99", paths).max(1) as usize;
    let tails: Vec<Vec<bool>> = payout
        .iter()
        .map(|x| {
            let mut in_tail = vec![false; n];
            for i in tail_indices(x, k) {
                in_tail[i] = true;
            }
            in_tail
        })
        .collect();
    let mut tail_sum = vec![vec![0.0; firms]; parties];
    runner::replay_recording(&plan, seed, paths, |j, s| {
        for p in 0..parties {
            if tails[p][j as usize] {
                for d in s.defaults() {
                    tail_sum[p][d.firm] += s.paid_for(p, d.firm);
                }
            }
        }
    });

    let party_list: Vec<_> = scenario.parties().collect();
    let plain = Samples::plain;
    let out_parties = (0..parties)
        .map(|p| {
            let (tier, party) = party_list[p];
            PartyExposure {
                tier,
                name: party.name.clone(),
                cap: party.cap.map(f64::from_decimal),
                figures: PayerFigures::new(
                    plain(&payout[p]),
                    plain(&obligation[p]),
                    plain(&out_period[p]),
                    periods,
                ),
                contributions: scenario
                    .firms
                    .iter()
                    .enumerate()
                    .map(|(i, f)| FirmContribution {
                        firm: f.id.clone(),
                        expected_payout: firm_sum[p][i] / paths as f64,
                        es_99: tail_sum[p][i] / k as f64,
                    })
                    .collect(),
            }
        })
        .collect();

    let undertaker = scenario.undertaker.as_ref().map(|u| {
        let figures = PayerFigures::new(plain(&draw), plain(&need), plain(&draw_out), periods);
        UndertakerExposure {
            name: u.name.clone(),
            cap: u.cap.map(f64::from_decimal),
            expected_draw: figures.expected_payout,
            expected_draw_se: figures.expected_payout_se,
            figures,
        }
    });

    Exposure {
        scenario: scenario.name.clone(),
        currency: scenario.currency.clone(),
        paths,
        seed,
        parties: out_parties,
        undertaker_draws: if undertaker.is_some() { draw } else { Vec::new() },
        undertaker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payer_figures_by_hand() {
        // Ten paths: six baseline paths paying 0, and four stored ones.
        let payout = Samples {
            stored: &[4.0, 0.0, 10.0, 6.0],
            baseline: 0.0,
            count: 6,
        };
        let obligation = Samples {
            stored: &[4.0, 1.0, 12.0, 6.0],
            baseline: 0.0,
            count: 6,
        };
        let out = Samples {
            stored: &[0.0, 0.0, 2.0, 3.0],
            baseline: 0.0,
            count: 6,
        };
        let f = PayerFigures::new(payout, obligation, out, 3);
        assert_eq!(f.p_called, 0.3);
        assert!((f.expected_payout - 2.0).abs() < 1e-15);
        // n = 10: VaR_0.99 = x(ceil(9.9)) = x(10) = 10, ES_0.99 = mean of the top ceil(0.1) = 1.
        assert_eq!((f.var_99, f.es_99, f.var_999, f.es_999), (10.0, 10.0, 10.0, 10.0));
        assert_eq!((f.capacity_99, f.capacity_999), (12.0, 12.0));
        assert_eq!(f.p_cap_exhausted, 0.2);
        assert_eq!(f.p_cap_exhausted_in_period, vec![0.0, 0.1, 0.1]);
        assert_eq!(f.p_cap_exhausted_by_period, vec![0.0, 0.1, 0.2]);
        // 1,000 paths: VaR_0.99 = x(990), ES_0.99 = mean of the top 10, ES_0.999 = the top one.
        let xs: Vec<f64> = (1..=1000).map(f64::from).collect();
        let zeros = vec![0.0; 1000];
        let f = PayerFigures::new(
            Samples::plain(&xs),
            Samples::plain(&xs),
            Samples::plain(&zeros),
            1,
        );
        assert_eq!(f.var_99, 990.0);
        assert!((f.es_99 - 995.5).abs() < 1e-12);
        assert_eq!((f.var_999, f.es_999), (999.0, 1000.0));
        assert_eq!(f.capacity_99, 990.0);
        assert_eq!(f.p_cap_exhausted_by_period, vec![0.0]);
    }

    #[test]
    fn paths_called_of_a_folded_column_are_those_of_the_column() {
        // The stored values (some at the baseline value) and the copies, counted directly.
        let stored = [0.0, 2.0, 3.0, 0.0, -1.0, 3.0, 3.0, 4.0];
        for baseline in [0.0, 3.0, -1.0] {
            let direct =
                stored.iter().filter(|&&x| x > 0.0).count() as u64 + if baseline > 0.0 { 5 } else { 0 };
            let mut column = stored;
            let folded = Folded::new(&mut column, baseline, 5);
            assert_eq!(count_above_zero(&folded), direct, "baseline {baseline}");
        }
    }

    #[test]
    fn in_place_gives_the_figures_of_the_copies() {
        // Payouts at the baseline value 0 among the stored paths, as a runner column holds them.
        let pay: Vec<f64> = (0..500)
            .map(|i| f64::from((i * 7) % 11) * 0.5 * f64::from(i % 3 == 0))
            .collect();
        let owe: Vec<f64> = pay.iter().map(|x| x * 1.25 + 0.5).collect();
        let out: Vec<f64> = (0..500).map(|i| f64::from(i % 5)).collect();
        let samples = |v| Samples {
            stored: v,
            baseline: 0.0,
            count: 300,
        };
        let copied = PayerFigures::new(samples(&pay), samples(&owe), samples(&out), 4);
        let (mut pay2, mut owe2) = (pay.clone(), owe.clone());
        let column = |stored| PayerColumn {
            stored,
            baseline: 0.0,
            count: 300,
        };
        let folded = PayerFigures::in_place(column(&mut pay2), column(&mut owe2), samples(&out), 4);
        assert_eq!(folded, copied);
        assert!(copied.p_called > 0.0 && copied.p_called < 1.0);
    }
}

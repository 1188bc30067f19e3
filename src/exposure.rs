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
//! Two passes over the very paths of [`runner::simulate`] ([`runner::replay_recording`]), on one
//! thread: the first finds each party's payouts and tail paths, the second sums the firms'
//! payments over the tail.

use serde::Serialize;

use crate::model::Scenario;
use crate::money::Amount;
use crate::plan::Plan;
use crate::runner;
use crate::stats::{Proportion, ceil_complement_of, mean_and_se, quantile_sorted};

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
    /// P(payout > 0).
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
    pub p_cap_exhausted: f64,
    pub p_cap_exhausted_se: f64,
    /// P(the cap first binds in period k), k = 1 .. T.
    pub p_cap_exhausted_in_period: Vec<f64>,
    /// VaR 99% and 99.9% of the party's obligation: the cap that would have met it in full on
    /// 99% (99.9%) of paths.
    #[serde(rename = "capacity_0.99")]
    pub capacity_99: f64,
    #[serde(rename = "capacity_0.999")]
    pub capacity_999: f64,
    /// Euler contributions, in firm order.
    pub contributions: Vec<FirmContribution>,
}

/// The undertaker's exposure (its draws are not per firm, so not allocated).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndertakerExposure {
    pub name: String,
    pub cap: Option<f64>,
    pub p_called: f64,
    pub p_called_se: f64,
    pub expected_draw: f64,
    pub expected_draw_se: f64,
    #[serde(rename = "var_0.99")]
    pub var_99: f64,
    #[serde(rename = "var_0.999")]
    pub var_999: f64,
    #[serde(rename = "es_0.99")]
    pub es_99: f64,
    pub p_cap_exhausted: f64,
    pub p_cap_exhausted_se: f64,
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
}

/// Indices of the `k` largest values, ties broken by the smaller index.
fn tail_indices(x: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

fn sorted(x: &[f64]) -> Vec<f64> {
    let mut s = x.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    s
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
    let mut exhausted = vec![0u64; parties];
    let mut out_period = vec![vec![0u64; periods]; parties];
    let mut firm_sum = vec![vec![0.0; firms]; parties];
    let mut draw = vec![0.0; n];
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
            if po.cap_exhausted {
                exhausted[p] += 1;
            }
            let k = s.cap_out_period(p);
            if k > 0 {
                out_period[p][(k - 1) as usize] += 1;
            }
        }
        draw[j] = s.outcome.undertaker_draw;
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

    let prop = |c: u64| Proportion::new(c, paths);
    let party_list: Vec<_> = scenario.parties().collect();
    let out_parties = (0..parties)
        .map(|p| {
            let (tier, party) = party_list[p];
            let x = &payout[p];
            let (mean, se) = mean_and_se(x, 0.0, 0);
            let xs = sorted(x);
            let os = sorted(&obligation[p]);
            let tail: Vec<usize> = tail_indices(x, k);
            let es = tail.iter().map(|&i| x[i]).sum::<f64>() / k as f64;
            let called = prop(x.iter().filter(|v| **v > 0.0).count() as u64);
            let ex = prop(exhausted[p]);
            PartyExposure {
                tier,
                name: party.name.clone(),
                cap: party.cap.map(f64::from_decimal),
                p_called: called.p,
                p_called_se: called.se,
                expected_payout: mean,
                expected_payout_se: se,
                var_99: quantile_sorted(&xs, "0.99"),
                var_999: quantile_sorted(&xs, "0.999"),
                es_99: es,
                p_cap_exhausted: ex.p,
                p_cap_exhausted_se: ex.se,
                p_cap_exhausted_in_period: out_period[p].iter().map(|c| prop(*c).p).collect(),
                capacity_99: quantile_sorted(&os, "0.99"),
                capacity_999: quantile_sorted(&os, "0.999"),
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
        let cap = u.cap.map(f64::from_decimal);
        let (mean, se) = mean_and_se(&draw, 0.0, 0);
        let ds = sorted(&draw);
        let es = ds[n.saturating_sub(k)..].iter().sum::<f64>() / k as f64;
        let called = prop(draw.iter().filter(|v| **v > 0.0).count() as u64);
        let ex = prop(match cap {
            Some(c) if c > 0.0 => draw.iter().filter(|v| **v >= c * (1.0 - 1e-12)).count() as u64,
            Some(_) => 0,
            None => 0,
        });
        UndertakerExposure {
            name: u.name.clone(),
            cap,
            p_called: called.p,
            p_called_se: called.se,
            expected_draw: mean,
            expected_draw_se: se,
            var_99: quantile_sorted(&ds, "0.99"),
            var_999: quantile_sorted(&ds, "0.999"),
            es_99: es,
            p_cap_exhausted: ex.p,
            p_cap_exhausted_se: ex.se,
        }
    });

    Exposure {
        scenario: scenario.name.clone(),
        currency: scenario.currency.clone(),
        paths,
        seed,
        parties: out_parties,
        undertaker,
    }
}

//! Importance sampling (issue 5, item 5): a mean shift of the path's normals with likelihood
//! ratio weights in every statistic.
//!
//! * A zero shift is plain Monte Carlo, bit for bit; an importance-sampled run is the same at 1
//!   and 2 threads.
//! * Closed form: on a one-factor homogeneous pool (100 loans, pd 5%, rho 0.1) the weighted
//!   estimate of `P(L > VaR_0.999)` (VaR from the exact lattice) agrees with the exact value
//!   within 4 se, and its variance is at least 10x below plain Monte Carlo's `p (1 - p) / n`.
//! * The flagship: P(senior loss > 0) and the senior expected loss agree with a 100x longer
//!   plain run (pinned in `tests/data/importance/yuhang-2023-plain-20m.json`, with the command
//!   that made it) within 4 combined standard errors, at 10x lower variance or better than
//!   plain Monte Carlo at the same paths (plain variance per path from the long run). The 99.9%
//!   quantile of the municipal guarantor's payout (sampled under a defensive mixture, one
//!   component per route into its tail, each twisting the firms' conditional default
//!   probabilities) agrees within 4 se; over replications its variance is at least 10x below
//!   plain Monte Carlo's (see benches/README.md for the 24-run figures). Under that mixture,
//!   figures of the body of the distribution (P(any default), mean pool loss, each guarantor's
//!   P(called)) agree with a plain run within 4 combined se: the weights are right everywhere,
//!   not only in the tail aimed at.
//! * The Student-t copula: on a 40-loan t pool the twisted mixture's `P(L > VaR_0.999)` agrees
//!   with the exact lattice within 4 se at 5x lower variance or better (measured 11.6x).
//! * A twisted mixture (the municipal quantile's, in the thread test) is the same at 1 and 2
//!   threads.
//! * The `exposure` blocks are weighted: under the municipal quantile's mixture each payer's
//!   P(called), expected payout, P(cap exhausted) and payout VaR agree with a 5x longer plain
//!   run within 4 combined se.
//!
//! Seeds are fixed, so the tests are deterministic; 4 se makes a false alarm unlikely.

use std::path::PathBuf;

use ipabs::analytic::{self, Settings};
use ipabs::importance::{self, Pilot, Target, Tilt};
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner::{self, Column, Silent};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn flagship() -> ipabs::model::Scenario {
    ipabs::scenario::load(&root().join("scenarios/yuhang-2023.toml")).unwrap()
}

/// The tilt the cross-entropy pilot chooses for `metric`.
fn chosen(plan: &Plan, scenario: &ipabs::model::Scenario, metric: &str, seed: u64) -> Tilt {
    let target = Target::parse(metric, scenario).unwrap();
    let pilot = Pilot::new(seed, scenario.firms.len());
    importance::cross_entropy(plan, &target, &pilot, |b| runner::block_rng(pilot.seed, b)).tilt
}

fn summary(scenario: &ipabs::model::Scenario, sim: runner::Simulation) -> Summary {
    let mut s = Summary::new(scenario, sim, String::new(), 0.0);
    s.threads = 0;
    s
}

#[test]
fn a_zero_shift_is_plain_monte_carlo_bit_for_bit() {
    let scenario = flagship();
    let plan = Plan::new(&scenario);
    let zero = Tilt::new(&plan, &[0.0; 5]).unwrap();
    assert!(zero.is_zero());
    let plain = runner::simulate(&plan, 20_000, 3, 2, &Silent).unwrap();
    let tilted = runner::simulate_tilted(&plan, 20_000, 3, 2, &Silent, Some(&zero)).unwrap();
    assert!(tilted.weights.is_none());
    assert_eq!(
        summary(&scenario, plain).to_json(),
        summary(&scenario, tilted).to_json()
    );

    // Path by path: the zero tilt draws the same outcomes with weight exactly 1.
    let mut a = ipabs::path::Scratch::new(&plan);
    let mut b = ipabs::path::Scratch::new(&plan).with_tilt(importance::TiltState::new(zero, false));
    let (mut ra, mut rb) = (runner::block_rng(3, 0), runner::block_rng(3, 0));
    for _ in 0..4096 {
        ipabs::path::simulate_path(&plan, &mut ra, &mut a);
        ipabs::path::simulate_path(&plan, &mut rb, &mut b);
        assert_eq!(a.outcome, b.outcome);
        assert_eq!(b.log_weight().exp(), 1.0);
    }
}

#[test]
fn importance_sampled_runs_do_not_depend_on_threads() {
    let scenario = flagship();
    let plan = Plan::new(&scenario);
    let tilt = chosen(&plan, &scenario, "tranches.senior.p_loss", 5);
    let one = runner::simulate_tilted(&plan, 30_000, 5, 1, &Silent, Some(&tilt)).unwrap();
    let two = runner::simulate_tilted(&plan, 30_000, 5, 2, &Silent, Some(&tilt)).unwrap();
    assert_eq!(one.weights, two.weights);
    assert_eq!(
        summary(&scenario, one).to_json(),
        summary(&scenario, two).to_json()
    );
    // The pilot itself runs on its own streams on one thread: the same shift again.
    assert_eq!(chosen(&plan, &scenario, "tranches.senior.p_loss", 5), tilt);
    // A mixture of shifts draws its component inside the path's stream: the same too.
    let metric = "guarantors.municipal guarantor.payout.quantiles.0.999";
    let mixture = chosen(&plan, &scenario, metric, 5);
    assert!(mixture.components().len() >= 2);
    let one = runner::simulate_tilted(&plan, 30_000, 5, 1, &Silent, Some(&mixture)).unwrap();
    let two = runner::simulate_tilted(&plan, 30_000, 5, 2, &Silent, Some(&mixture)).unwrap();
    assert_eq!(one.weights, two.weights);
    assert_eq!(
        summary(&scenario, one).to_json(),
        summary(&scenario, two).to_json()
    );
}

/// Samples the pool of `file` (under tests/data/analytic) for `n` paths from `seed` with the
/// pilot's tilt for its gross loss's 99.9% quantile (checked by `check_tilt`), and asserts that
/// the weighted `P(L > VaR_0.999)` agrees with the exact lattice's within 4 se at a variance at
/// least `min_ratio` times below plain Monte Carlo's `p (1 - p) / n`, and that the weighted mean
/// agrees with the exact expected loss within 4 se (a check of the weights, not of variance
/// reduction: the tilt aims at the tail).
fn tail_matches_the_exact_lattice(file: &str, seed: u64, n: u64, min_ratio: f64, check_tilt: impl Fn(&Tilt)) {
    let path = root().join("tests/data/analytic").join(file);
    let scenario = ipabs::scenario::load(&path).unwrap();
    let exact = analytic::analyse(&scenario, &[], &Settings::default()).unwrap();
    let plan = Plan::new(&scenario);
    let level = exact.gross.quantile(0.999);
    // P(L > level), exactly.
    let p_exact: f64 = (0..exact.gross.pmf.len())
        .filter(|&j| exact.gross.value(j) > level * (1.0 + 1e-12))
        .map(|j| exact.gross.pmf[j])
        .sum();
    let tilt = chosen(&plan, &scenario, "gross_default_loss.quantiles.0.999", seed);
    check_tilt(&tilt);
    let sim = runner::simulate_tilted(&plan, n, seed, 0, &Silent, Some(&tilt)).unwrap();
    let col = sim.layout.fixed(Column::GrossDefaultLoss);
    let (p, se) = sim.probability(col, |x| x > level * (1.0 + 1e-12));
    let plain_se = (p_exact * (1.0 - p_exact) / n as f64).sqrt();
    let ratio = (plain_se / se).powi(2);
    println!(
        "{file}: P(L > {level}) = {p:.6e} ± {se:.2e}, exact {p_exact:.6e}, plain se {plain_se:.2e}, variance ratio {ratio:.1}"
    );
    assert!((p - p_exact).abs() <= 4.0 * se, "{p} vs exact {p_exact}, se {se}");
    assert!(ratio >= min_ratio, "variance ratio {ratio}");
    let (mean, mean_se) = sim.prefix_mean_and_se(&sim.columns[col], sim.baseline[col], n);
    assert!(
        (mean - exact.expected_loss_exact).abs() <= 4.0 * mean_se,
        "EL {mean} ± {mean_se} vs {}",
        exact.expected_loss_exact
    );
}

#[test]
fn one_factor_pool_tail_matches_the_exact_lattice_at_ten_times_lower_variance() {
    tail_matches_the_exact_lattice("pool-100-gaussian.toml", 12, 100_000, 10.0, |tilt| {
        assert!(
            tilt.shift()[0] < -1.0,
            "the factor is shifted into the loss tail: {:?}",
            &tilt.shift()[..1]
        );
    });
}

/// The Student-t copula under importance sampling: the pilot's mixture twists the firms'
/// default probabilities given the factor *and* the path's chi-square scale, which it does not
/// tilt. On a 40-loan pool (pd 3%, rho 0.2, 5 degrees of freedom) the weighted `P(L > VaR_0.999)`
/// agrees with the exact lattice (which integrates over the scale) within 4 se, the weighted
/// mean with the exact expected loss, and the variance is at least 5x below plain Monte Carlo's
/// (measured 11.6 on this seed: the scale is not tilted, so the gain is below the Gaussian
/// pool's, and 5 leaves room for the noise of one run's se).
#[test]
fn student_t_pool_tail_matches_the_exact_lattice_under_the_twisted_mixture() {
    tail_matches_the_exact_lattice("pool-40-student.toml", 15, 60_000, 5.0, |tilt| {
        assert!(tilt.twists(), "a pool of 40 firms is sampled by twisting");
    });
}

/// The pinned 100x plain reference of the flagship.
struct Reference {
    p_loss: f64,
    p_loss_se: f64,
    el: f64,
    el_se: f64,
    loss_std: f64,
    q999: f64,
    q999_ci: [f64; 2],
}

fn reference() -> Reference {
    let text =
        std::fs::read_to_string(root().join("tests/data/importance/yuhang-2023-plain-20m.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let f = |k: &str| v[k].as_f64().unwrap();
    Reference {
        p_loss: f("senior_p_loss"),
        p_loss_se: f("senior_p_loss_se"),
        el: f("senior_expected_loss"),
        el_se: f("senior_expected_loss_se"),
        loss_std: f("senior_loss_std"),
        q999: f("municipal_payout_q999"),
        q999_ci: [
            v["municipal_payout_q999_ci"][0].as_f64().unwrap(),
            v["municipal_payout_q999_ci"][1].as_f64().unwrap(),
        ],
    }
}

const FLAGSHIP_PATHS: u64 = 200_000;

#[test]
fn flagship_senior_tail_converges_at_ten_times_lower_variance() {
    let scenario = flagship();
    let plan = Plan::new(&scenario);
    let r = reference();
    let n = FLAGSHIP_PATHS;
    let tilt = chosen(&plan, &scenario, "tranches.senior.p_loss", 7);
    let sim = runner::simulate_tilted(&plan, n, 7, 0, &Silent, Some(&tilt)).unwrap();
    let s = summary(&scenario, sim);
    let senior = &s.tranches[0];

    let plain_p_se = (r.p_loss * (1.0 - r.p_loss) / n as f64).sqrt();
    let plain_el_se = r.loss_std / (n as f64).sqrt();
    let ratio_p = (plain_p_se / senior.p_loss_se).powi(2);
    let ratio_el = (plain_el_se / senior.expected_loss_se).powi(2);
    println!(
        "P(senior loss > 0) = {:.4e} ± {:.2e} (plain se at {n} paths {plain_p_se:.2e}, ratio {ratio_p:.0}); reference {:.4e} ± {:.2e}",
        senior.p_loss, senior.p_loss_se, r.p_loss, r.p_loss_se
    );
    println!(
        "senior EL = {:.4} ± {:.3} (plain se {plain_el_se:.3}, ratio {ratio_el:.0}); reference {:.4} ± {:.3}",
        senior.expected_loss, senior.expected_loss_se, r.el, r.el_se
    );
    let within = |x: f64, se: f64, y: f64, se_y: f64| (x - y).abs() <= 4.0 * (se * se + se_y * se_y).sqrt();
    assert!(within(senior.p_loss, senior.p_loss_se, r.p_loss, r.p_loss_se));
    assert!(within(
        senior.expected_loss,
        senior.expected_loss_se,
        r.el,
        r.el_se
    ));
    assert!(ratio_p >= 10.0, "P(senior loss) variance ratio {ratio_p}");
    assert!(ratio_el >= 10.0, "senior EL variance ratio {ratio_el}");
    let is = s.importance_sampling.as_ref().expect("weighted run");
    assert!(is.effective_sample_size > 0.0 && is.effective_sample_size <= n as f64);
    // The weights average 1 (the likelihood ratio's expectation).
    assert!((is.mean_weight - 1.0).abs() <= 4.0 * is.mean_weight_se);
}

#[test]
fn flagship_guarantor_payout_quantile_agrees_with_the_long_plain_run() {
    let scenario = flagship();
    let plan = Plan::new(&scenario);
    let r = reference();
    let metric = "guarantors.municipal guarantor.payout.quantiles.0.999";
    let tilt = chosen(&plan, &scenario, metric, 7);
    let n = FLAGSHIP_PATHS;
    let weighted = runner::simulate_tilted(&plan, n, 7, 0, &Silent, Some(&tilt)).unwrap();
    let plain = runner::simulate(&plan, n, 7, 0, &Silent).unwrap();
    let q = |s: &Summary| {
        let p = &s.guarantors[1].payout;
        let ci = p.quantiles_ci["0.999"];
        // The 95% interval's half width over 1.96: the quantile's standard error.
        (p.quantiles["0.999"], (ci[1] - ci[0]) / (2.0 * 1.959_964))
    };
    let (sw, sp) = (summary(&scenario, weighted), summary(&scenario, plain));
    let (qi, se_i) = q(&sw);
    let (qp, se_p) = q(&sp);
    // The body of the distribution under the tail's mixture, against the plain run of the
    // same size (independent draws): 4 combined standard errors.
    let close = |what: &str, (a, sa): (f64, f64), (b, sb): (f64, f64)| {
        println!("{what}: weighted {a:.6e} ± {sa:.2e}, plain {b:.6e} ± {sb:.2e}");
        assert!(
            (a - b).abs() <= 4.0 * (sa * sa + sb * sb).sqrt(),
            "{what}: {a} vs {b}"
        );
    };
    close(
        "P(any default)",
        (sw.p_any_default, sw.p_any_default_se),
        (sp.p_any_default, sp.p_any_default_se),
    );
    close(
        "pool loss mean",
        (sw.pool_loss.mean, sw.pool_loss.se_mean),
        (sp.pool_loss.mean, sp.pool_loss.se_mean),
    );
    for (gw, gp) in sw.guarantors.iter().zip(&sp.guarantors) {
        close(
            &format!("{} P(called)", gw.name),
            (gw.p_called, gw.p_called_se),
            (gp.p_called, gp.p_called_se),
        );
    }
    let is = sw.importance_sampling.as_ref().expect("weighted run");
    assert!((is.mean_weight - 1.0).abs() <= 4.0 * is.mean_weight_se);
    assert!(tilt.twists(), "a small pool's mixture twists the firms' defaults");
    let se_ref = (r.q999_ci[1] - r.q999_ci[0]) / (2.0 * 1.959_964);
    println!(
        "municipal payout VaR 0.999: weighted {qi:.0} ± {se_i:.0}, plain {qp:.0} ± {se_p:.0} (variance ratio {:.1}); reference {:.0} ± {se_ref:.0}",
        (se_p / se_i).powi(2),
        r.q999
    );
    assert!((qi - r.q999).abs() <= 4.0 * (se_i * se_i + se_ref * se_ref).sqrt());
    assert!(se_i > 0.0);
}

#[test]
fn flagship_guarantor_payout_quantile_mixture_beats_plain_over_replications() {
    // 12 runs of 25,000 paths each, importance sampled (each choosing its own mixture) and
    // plain: the spread of the estimates over runs is the honest error of one run. With 12
    // runs each, the ratio of the two sample variances is within a factor ~2.9 of the truth at
    // 95% (F(11, 11)). The twisted mixture measures ~250x here and ~87x over 24 runs of
    // 200,000 paths (benches/README.md); the mixture of shifts without the twist measured
    // ~4x: 10x (issue 5's figure) is what a lost twist or wrong weights fail.
    let scenario = flagship();
    let plan = Plan::new(&scenario);
    let metric = "guarantors.municipal guarantor.payout.quantiles.0.999";
    let n = 25_000;
    let q = |sim: runner::Simulation| summary(&scenario, sim).guarantors[1].payout.quantiles["0.999"];
    let (mut weighted, mut plain) = (Vec::new(), Vec::new());
    for k in 1..=12u64 {
        let seed = 104_729 * k;
        let tilt = chosen(&plan, &scenario, metric, seed);
        assert!(
            tilt.components().len() >= 2,
            "a mixture: {:?}",
            tilt.components().len()
        );
        weighted.push(q(runner::simulate_tilted(
            &plan,
            n,
            seed,
            0,
            &Silent,
            Some(&tilt),
        )
        .unwrap()));
        plain.push(q(runner::simulate(&plan, n, seed, 0, &Silent).unwrap()));
    }
    let var = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
    };
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let ratio = var(&plain) / var(&weighted);
    println!(
        "municipal payout VaR 0.999 over 12 runs of {n}: mixture {:.0} sd {:.0}, plain {:.0} sd {:.0}, variance ratio {ratio:.1}",
        mean(&weighted),
        var(&weighted).sqrt(),
        mean(&plain),
        var(&plain).sqrt()
    );
    assert!(ratio >= 10.0, "variance ratio {ratio}");
    let r = reference();
    // The mean of 12 runs against the reference: 4 combined standard errors (sd / sqrt 12 and
    // the reference's 95% half width / 1.96).
    let se_ref = (r.q999_ci[1] - r.q999_ci[0]) / (2.0 * 1.959_964);
    let se = (var(&weighted) / 12.0 + se_ref * se_ref).sqrt();
    assert!(
        (mean(&weighted) - r.q999).abs() <= 4.0 * se,
        "{} vs {}",
        mean(&weighted),
        r.q999
    );
}

#[test]
fn flagship_exposure_blocks_are_weighted_and_agree_with_a_long_plain_run() {
    // Under the municipal quantile's twisted mixture (200,000 paths) against a plain run five
    // times longer (1,000,000 paths, another seed): each payer's P(called), expected payout and
    // P(cap exhausted) within 4 combined standard errors, VaR 99% / 99.9% within 4 combined se
    // of their order-statistic intervals (or with overlapping intervals, the payouts having
    // atoms), and the block's own arithmetic.
    let scenario = flagship();
    let plan = Plan::new(&scenario);
    let metric = "guarantors.municipal guarantor.payout.quantiles.0.999";
    let tilt = chosen(&plan, &scenario, metric, 7);
    let sw = summary(
        &scenario,
        runner::simulate_tilted(&plan, FLAGSHIP_PATHS, 7, 0, &Silent, Some(&tilt)).unwrap(),
    );
    let sp = summary(
        &scenario,
        runner::simulate(&plan, 1_000_000, 11, 0, &Silent).unwrap(),
    );
    let close = |what: &str, (a, sa): (f64, f64), (b, sb): (f64, f64)| {
        println!("{what}: weighted {a:.6e} ± {sa:.2e}, plain {b:.6e} ± {sb:.2e}");
        assert!(
            (a - b).abs() <= 4.0 * (sa * sa + sb * sb).sqrt(),
            "{what}: {a} vs {b}"
        );
    };
    let mut payers: Vec<(
        String,
        &ipabs::exposure::PayerFigures,
        &ipabs::exposure::PayerFigures,
    )> = sw
        .guarantors
        .iter()
        .zip(&sp.guarantors)
        .map(|(w, p)| {
            let block = "an exposure block";
            (
                w.name.clone(),
                w.exposure.as_ref().expect(block),
                p.exposure.as_ref().expect(block),
            )
        })
        .collect();
    let (uw, up) = (sw.undertaker.as_ref().unwrap(), sp.undertaker.as_ref().unwrap());
    payers.push((
        uw.name.clone(),
        uw.exposure.as_ref().expect("a weighted undertaker block"),
        up.exposure.as_ref().unwrap(),
    ));
    for (name, w, p) in &payers {
        close(
            &format!("{name} P(called)"),
            (w.p_called, w.p_called_se),
            (p.p_called, p.p_called_se),
        );
        close(
            &format!("{name} expected payout"),
            (w.expected_payout, w.expected_payout_se),
            (p.expected_payout, p.expected_payout_se),
        );
        close(
            &format!("{name} P(cap exhausted)"),
            (w.p_cap_exhausted, w.p_cap_exhausted_se),
            (p.p_cap_exhausted, p.p_cap_exhausted_se),
        );
        // The periods add up to the whole, and "by period" ends at it.
        let sum: f64 = w.p_cap_exhausted_in_period.iter().sum();
        assert!((sum - w.p_cap_exhausted).abs() <= 1e-12 * w.p_cap_exhausted.max(1e-300));
        assert_eq!(w.p_cap_exhausted_by_period.last(), Some(&w.p_cap_exhausted));
        // The obligation is at least the payout on every path, so are its quantiles.
        assert!(w.capacity_99 >= w.var_99 && w.capacity_999 >= w.var_999, "{name}");
        assert!(w.es_99 >= w.var_99 && w.es_999 >= w.var_999, "{name}");
    }
    // VaR of each guarantor's payout: the block's figures are the weighted distribution's, and
    // agree with the plain run's.
    for (gw, gp) in sw.guarantors.iter().zip(&sp.guarantors) {
        let (ew, dw, dp) = (gw.exposure.as_ref().unwrap(), &gw.payout, &gp.payout);
        assert_eq!(ew.var_99, dw.quantiles["0.99"], "{}", gw.name);
        assert_eq!(ew.var_999, dw.quantiles["0.999"], "{}", gw.name);
        assert_eq!(ew.es_99, dw.es_99, "{}", gw.name);
        for q in ["0.99", "0.999"] {
            let se = |ci: [f64; 2]| (ci[1] - ci[0]) / (2.0 * 1.959_964);
            let (cw, cp) = (dw.quantiles_ci[q], dp.quantiles_ci[q]);
            let (a, b) = (dw.quantiles[q], dp.quantiles[q]);
            println!("{} VaR {q}: weighted {a:.0} {cw:?}, plain {b:.0} {cp:?}", gw.name);
            let overlap = cw[0] <= cp[1] && cp[0] <= cw[1];
            assert!(
                overlap || (a - b).abs() <= 4.0 * (se(cw).powi(2) + se(cp).powi(2)).sqrt(),
                "{} VaR {q}: {a} vs {b}",
                gw.name
            );
        }
    }
}

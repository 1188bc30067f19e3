//! Monte Carlo against the exact loss distribution (issue 4), on the pools of
//! `tests/data/analytic/` (written by `make_pools.py` there): N from 14 to 1,000, pd 1%–10%, rho
//! 0–0.3, Gaussian and Student-t copulas, one and two sectors, one period and four quarters.
//!
//! For every pool and every figure of [`ipabs::analytic::compare`] — the mean, the six
//! quantiles and ES 0.99 of the gross loss and of the number of defaults, `P(defaults ≥ k)` up
//! to the 99.9% quantile, and the expected loss of loss slices — `|z| ≤ 4`: means and ES within
//! 4 standard errors, probabilities within 4 binomial standard errors, quantiles inside the
//! order-statistic interval at z = 4. The seeds are fixed, so the test is deterministic; the
//! threshold 4 makes a false alarm on a correct engine unlikely (two-sided 6e-5 per figure).
//!
//! Run `cargo test --release --test analytic -- --nocapture` to see the z-scores per pool.

mod common;

use std::path::PathBuf;

use common::{ipabs_ok, ipabs_refused, read_json, root};
use ipabs::analytic::{self, Settings, compare};
use ipabs::plan::Plan;
use ipabs::runner::{self, Column, Silent};

fn pool(name: &str) -> PathBuf {
    common::data(&format!("analytic/{name}.toml"))
}

const POOLS: [&str; 7] = [
    "pool-14-quarterly",
    "pool-100-gaussian",
    "pool-1000-gaussian",
    "pool-50-independent",
    "pool-40-student",
    "pool-60-two-sectors",
    "pool-24-student-two-sectors",
];

/// Slices of the gross loss checked on every pool (fractions of the pool notional).
const SLICES: [(f64, f64); 3] = [(0.0, 0.03), (0.03, 0.07), (0.07, 0.2)];

#[test]
fn monte_carlo_agrees_with_the_exact_distribution() {
    let mut failures = Vec::new();
    println!(
        "{:<30} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "pool", "paths", "figures", "z(EL)", "z(ES99)", "z(VaR99)", "max|z|", "exact EL"
    );
    for name in POOLS {
        let scenario = ipabs::scenario::load(&pool(name)).unwrap();
        let a = analytic::analyse(&scenario, &SLICES, &Settings::default()).unwrap();

        // Exactness checks that need no simulation.
        let total = a.gross.total();
        assert!(
            (total - 1.0).abs() < 1e-12,
            "{name}: probabilities sum to {total}"
        );
        assert!((a.defaults.total() - 1.0).abs() < 1e-12);
        let el = a.gross.mean();
        assert!(
            (el - a.expected_loss_exact).abs() <= 1e-12 * a.expected_loss_exact,
            "{name}: lattice mean {el} vs sum of p_i LGD_i {}",
            a.expected_loss_exact
        );
        assert!((a.defaults.mean() - a.expected_defaults_exact).abs() <= 1e-12 * a.expected_defaults_exact);

        let plan = Plan::new(&scenario);
        let sim = runner::simulate(
            &plan,
            scenario.simulation.paths,
            scenario.simulation.seed,
            0,
            &Silent,
        )
        .unwrap();
        let rows = compare::compare(
            &a,
            &sim.full_column(sim.layout.fixed(Column::GrossDefaultLoss)),
            &sim.full_column(sim.layout.fixed(Column::Defaults)),
        );
        let z = |m: &str| rows.iter().find(|r| r.metric == m).map_or(f64::NAN, |r| r.z);
        let worst = rows.iter().map(|r| r.z.abs()).fold(0.0, f64::max);
        println!(
            "{:<30} {:>8} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.0}",
            name,
            sim.paths,
            rows.len(),
            z("gross_default_loss.mean"),
            z("gross_default_loss.es_0.99"),
            z("gross_default_loss.quantiles.0.99"),
            worst,
            a.expected_loss_exact
        );
        failures.extend(rows.iter().filter(|r| r.warns()).map(|r| {
            format!(
                "{name}: {} MC {} exact {} z {:.2}",
                r.metric, r.monte_carlo, r.exact, r.z
            )
        }));
    }
    assert!(failures.is_empty(), "|z| > 4:\n{}", failures.join("\n"));
}

/// With rho = 0 under the Gaussian copula the number of defaults is binomial(N, p), exactly.
#[test]
fn independent_pool_is_binomial() {
    use statrs::distribution::{Binomial, Discrete};
    let scenario = ipabs::scenario::load(&pool("pool-50-independent")).unwrap();
    let a = analytic::analyse(&scenario, &[], &Settings::default()).unwrap();
    let b = Binomial::new(0.10, 50).unwrap();
    for k in 0..=50u64 {
        let got = a.defaults.pmf[k as usize];
        assert!((got - b.pmf(k)).abs() < 1e-12, "k {k}: {got} vs {}", b.pmf(k));
        // Every default loses 60% of 200,000.
        assert!((a.gross.pmf[k as usize] - b.pmf(k)).abs() < 1e-12);
    }
    assert_eq!(a.solved.unit, 120_000.0);
}

/// The CLI: `ipabs analytic` writes analytic.json; an unsolvable scenario gets a message naming
/// the feature; `ipabs run --check-analytic` prints the comparison.
#[test]
fn command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    ipabs_ok(&[
        "analytic",
        pool("pool-100-gaussian").to_str().unwrap(),
        "--out",
        out,
        "--slices",
        "0-0.03,0.03-0.06",
        "-q",
    ]);
    let v = read_json(&dir.path().join("analytic.json"));
    assert!((v["gross_default_loss"]["mean"].as_f64().unwrap() - 3_000_000.0).abs() < 1e-6);
    assert_eq!(v["p_defaults_at_least"].as_array().unwrap().len(), 101);
    assert!(v["vasicek_lhp"]["mean_frac"].as_f64().unwrap() > 0.0);
    assert_eq!(v["tranches"].as_array().unwrap().len(), 2);

    let flagship = root().join("scenarios/yuhang-2023.toml");
    let err = ipabs_refused(&["analytic", flagship.to_str().unwrap(), "--out", out]);
    assert!(err.contains("Beta recovery rates"), "{err}");

    let run = ipabs_ok(&[
        "run",
        pool("pool-14-quarterly").to_str().unwrap(),
        "--paths",
        "20000",
        "-q",
        "--check-analytic",
        "--out",
        out,
    ]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.contains("gross_default_loss.mean") && text.contains("figures within |z| <= 4"),
        "{text}"
    );
    assert!(dir.path().join("summary.json").exists() && dir.path().join("analytic.json").exists());
}

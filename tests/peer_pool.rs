//! ipabs on `scenarios/bench/peer-pool.toml` against the aggregates the NumPy peer published for
//! the same model (`tests/data/peer/`), at hazard multipliers 1, 8 and 50: every mean and
//! probability within 4 combined standard errors, `z = (a - b) / sqrt(se_a^2 + se_b^2)`.

use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;
use serde_json::Value;

/// The peer-pool scenario with every firm's hazard multiplied by `mult`.
fn peer_pool(mult: f64) -> ipabs::model::Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/bench/peer-pool.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let scaled: String = text
        .lines()
        .map(|l| match l.strip_prefix("hazard = ") {
            Some(h) => format!("hazard = {:?}", h.parse::<f64>().unwrap() * mult),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    ipabs::scenario::parse(path, &scaled, "peer-pool").unwrap()
}

fn peer(name: &str) -> Value {
    let path = format!("{}/tests/data/peer/numpy_{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Asserts `|a - b| <= 4 sqrt(se_a^2 + se_b^2)`; with both errors zero, exact agreement.
fn agree(what: &str, a: f64, se_a: f64, b: f64, se_b: f64, worst: &mut f64) {
    let se = (se_a * se_a + se_b * se_b).sqrt();
    if se == 0.0 {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            "{what}: {a} vs peer {b}, both exact"
        );
        return;
    }
    let z = (a - b) / se;
    *worst = worst.max(z.abs());
    assert!(
        z.abs() <= 4.0,
        "{what}: ipabs {a} (se {se_a}) vs peer {b} (se {se_b}): z = {z:.2}"
    );
}

fn check(mult: f64, file: &str) {
    let s = peer_pool(mult);
    let plan = Plan::new(&s);
    // 1,000,000 paths: standard errors half the peer's 4,000,000-path ones, so the combined error
    // is dominated by ours and a 4-sigma band is a sharp test.
    let sim = runner::simulate(&plan, 1_000_000, 20261122, 0, &runner::Silent).unwrap();
    let ours = Summary::new(&s, sim, String::new(), 0.0);
    let p = peer(file);
    let m = &p["metrics"];
    let f = |v: &Value| v.as_f64().unwrap();
    let mut worst = 0.0f64;
    let mean = |name: &str, d: &ipabs::report::summary::DistributionJson, key: &str, worst: &mut f64| {
        agree(
            &format!("x{mult} {name}"),
            d.mean,
            d.se_mean,
            f(&m[key]["mean"]),
            f(&m[key]["se"]),
            worst,
        )
    };
    mean(
        "gross_default_loss",
        &ours.gross_default_loss,
        "pool_loss",
        &mut worst,
    );
    mean(
        "guarantor_shortfall",
        &ours.guarantor_shortfall,
        "guarantor_shortfall",
        &mut worst,
    );
    mean(
        "district payout",
        &ours.guarantors[0].payout,
        "district_payout",
        &mut worst,
    );
    mean(
        "municipal payout",
        &ours.guarantors[2].payout,
        "municipal_payout",
        &mut worst,
    );
    let cov = ours.coupon_coverage.as_ref().unwrap();
    mean("min coverage", &cov.min_ratio, "min_coverage", &mut worst);
    let t = &ours.tranches[0];
    agree(
        &format!("x{mult} senior loss"),
        t.expected_loss,
        t.expected_loss_se,
        f(&m["senior_loss"]["mean"]),
        f(&m["senior_loss"]["se"]),
        &mut worst,
    );
    let prob = |name: &str, a: f64, se: f64, key: &str, worst: &mut f64| {
        agree(
            &format!("x{mult} {name}"),
            a,
            se,
            f(&m[key]["p"]),
            f(&m[key]["se"]),
            worst,
        )
    };
    prob(
        "P(senior loss)",
        t.p_loss,
        t.p_loss_se,
        "p_senior_loss",
        &mut worst,
    );
    prob(
        "P(min coverage < 1)",
        cov.p_below_1,
        cov.p_below_1_se,
        "p_min_coverage_lt_1",
        &mut worst,
    );
    prob(
        "P(any default)",
        ours.p_any_default,
        ours.p_any_default_se,
        "p_any_default",
        &mut worst,
    );
    eprintln!("hazard x{mult}: max |z| = {worst:.2}");
}

#[test]
fn base_hazards_agree_with_the_peer() {
    check(1.0, "base");
}

#[test]
fn hazards_times_8_agree_with_the_peer() {
    check(8.0, "stress8");
}

#[test]
fn hazards_times_50_agree_with_the_peer() {
    check(50.0, "stress50");
}

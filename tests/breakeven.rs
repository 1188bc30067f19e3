//! Breakeven PD multipliers on common random numbers: a direct run at the breakeven shows the
//! target, and the interval brackets it.

mod common;

use std::path::Path;

use common::{ipabs_ok, ipabs_refused, read_json, root};
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;
use ipabs::stress::breakeven::{Lever, Settings, Target, breakeven};
use ipabs::stress::shock::Shock;

const PATHS: u64 = 20_000;

fn settings(seed: u64) -> Settings {
    Settings {
        paths: PATHS,
        seed,
        threads: 0,
        rel_tol: 1e-3,
        max_pd_multiplier: 1024.0,
        at_pd_multiplier: 1.0,
    }
}

/// Senior P(loss) and its standard error from a plain run at PD multiplier `m`.
fn direct(scenario: &ipabs::model::Scenario, m: f64) -> (f64, f64) {
    let shocked = Shock {
        pd_multiplier: m,
        ..Shock::default()
    }
    .apply(scenario);
    let sim = runner::simulate(
        &Plan::new(&shocked),
        PATHS,
        scenario.simulation.seed,
        0,
        &runner::Silent,
    )
    .unwrap();
    let s = Summary::new(&shocked, sim, String::new(), 0.0);
    (s.tranches[0].p_loss, s.tranches[0].p_loss_se)
}

#[test]
fn flagship_senior_breakevens_match_direct_runs() {
    let scenario = ipabs::scenario::load(&root().join("scenarios/yuhang-2023.toml")).unwrap();
    let seed = scenario.simulation.seed;

    // First loss of any size: the smallest multiplier with one losing path in PATHS.
    let first = breakeven(
        &scenario,
        0,
        Target::FirstLoss,
        Lever::PdMultiplier,
        settings(seed),
        &runner::Silent,
    )
    .unwrap();
    let m = first.value.expect("the senior tranche loses at some multiplier");
    assert!(direct(&scenario, m).0 >= 1.0 / PATHS as f64);
    assert_eq!(
        direct(&scenario, m * (1.0 - 2e-3)).0,
        0.0,
        "not the smallest multiplier: {m}"
    );

    // P(loss) = 0.1%: a direct run at the breakeven shows P(loss) within 3 se of the target.
    let b = breakeven(
        &scenario,
        0,
        Target::PLoss(0.001),
        Lever::PdMultiplier,
        settings(seed),
        &runner::Silent,
    )
    .unwrap();
    let m = b.value.expect("reached");
    let (p, se) = direct(&scenario, m);
    assert!(
        (p - 0.001).abs() <= 3.0 * se.max((0.001f64 * 0.999 / PATHS as f64).sqrt()),
        "P(loss) {p} ± {se} at {m}"
    );
    let (lo, hi) = (b.ci.0.unwrap(), b.ci.1.unwrap());
    assert!(lo <= m && m <= hi, "{lo} <= {m} <= {hi}");
    assert!(
        m > first.value.unwrap(),
        "0.1% needs more stress than a first loss"
    );
    let dr = b.pool_default_rate.unwrap();
    assert!(dr > 0.0 && dr < 1.0);
}

/// `ipabs breakeven <flagship> --paths 8192 --targets first_loss --out <out> <extra...>`,
/// asserted to succeed; returns breakeven.json.
fn first_loss_breakevens(out: &Path, extra: &[&str]) -> serde_json::Value {
    let scenario = root().join("scenarios/yuhang-2023.toml");
    let mut args = vec![
        "breakeven",
        scenario.to_str().unwrap(),
        "--paths",
        "8192",
        "--targets",
        "first_loss",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ipabs_ok(&args);
    read_json(&out.join("breakeven.json"))
}

#[test]
fn the_breakeven_verb_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("be");
    let json = first_loss_breakevens(&out, &[]);
    let items = json["breakevens"].as_array().unwrap();
    assert_eq!(items.len(), 3, "PD, correlation and recovery levers");
    assert_eq!(items[0]["lever"], "pd_multiplier");
    assert!(items[0]["value"].as_f64().unwrap() > 1.0);
    // At 8 x the hazards a first senior loss is there at the base correlation already.
    let json = first_loss_breakevens(&out, &["--at-pd-multiplier", "8", "--quiet"]);
    assert_eq!(json["correlation_and_recovery_at_pd_multiplier"], 8.0);
    assert_eq!(json["breakevens"][1]["lever"], "correlation");
    assert!(json["breakevens"][1]["value"].as_f64().is_some());
    let scenario = root().join("scenarios/yuhang-2023.toml");
    ipabs_refused(&["breakeven", scenario.to_str().unwrap(), "--targets", "p_loss=7"]);
}

//! The exposure view: Euler contributions add up to each party's expected payout and ES 99%,
//! and the party figures agree with summary.json on the same paths.

mod common;

use common::{ipabs_ok, read_json, root};
use ipabs::exposure::{PayerFigures, exposure};
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// Two computations of one payer's figures agree: counts exactly, sums to rounding.
fn same_figures(a: &PayerFigures, b: &PayerFigures, what: &str) {
    assert_eq!(a.p_called, b.p_called, "{what}");
    assert_eq!(a.p_cap_exhausted, b.p_cap_exhausted, "{what}");
    assert_eq!(a.p_cap_exhausted_in_period, b.p_cap_exhausted_in_period, "{what}");
    assert_eq!(a.p_cap_exhausted_by_period, b.p_cap_exhausted_by_period, "{what}");
    for (x, y, name) in [
        (a.expected_payout, b.expected_payout, "mean"),
        (a.var_99, b.var_99, "VaR 99%"),
        (a.var_999, b.var_999, "VaR 99.9%"),
        (a.es_99, b.es_99, "ES 99%"),
        (a.es_999, b.es_999, "ES 99.9%"),
        (a.capacity_99, b.capacity_99, "capacity 99%"),
        (a.capacity_999, b.capacity_999, "capacity 99.9%"),
    ] {
        assert!(rel(x, y) <= 1e-9, "{what} {name}: {x} vs {y}");
    }
    // P(cap out by period k) accumulates P(first binds in k) and ends at P(cap exhausted).
    let mut acc = 0.0;
    for (by, first) in b
        .p_cap_exhausted_by_period
        .iter()
        .zip(&b.p_cap_exhausted_in_period)
    {
        acc += first;
        assert!((by - acc).abs() < 1e-12, "{what}");
    }
    assert!((acc - b.p_cap_exhausted).abs() < 1e-12, "{what}");
    assert!(
        b.var_999 >= b.var_99 && b.es_999 >= b.es_99 && b.es_99 >= b.var_99,
        "{what}"
    );
}

fn check(file: &str, paths: u64) {
    let scenario = ipabs::scenario::load(&root().join("scenarios").join(file)).unwrap();
    let seed = scenario.simulation.seed;
    let e = exposure(&scenario, paths, seed);
    let sim = runner::simulate(&Plan::new(&scenario), paths, seed, 0, &runner::Silent).unwrap();
    let summary = Summary::new(&scenario, sim, String::new(), 0.0);
    assert_eq!(e.parties.len(), summary.guarantors.len());
    let mut any = false;
    for (p, g) in e.parties.iter().zip(&summary.guarantors) {
        let mean: f64 = p.contributions.iter().map(|c| c.expected_payout).sum();
        let es: f64 = p.contributions.iter().map(|c| c.es_99).sum();
        assert!(
            rel(mean, p.figures.expected_payout) <= 1e-9,
            "{file} {}: {mean} vs {}",
            p.name,
            p.figures.expected_payout
        );
        assert!(
            rel(es, p.figures.es_99) <= 1e-9,
            "{file} {}: {es} vs {}",
            p.name,
            p.figures.es_99
        );
        // The same paths as a run: the party's own figures agree with summary.json.
        assert!(
            rel(p.figures.expected_payout, g.payout.mean) <= 1e-9,
            "{file} {}",
            p.name
        );
        assert!(rel(p.figures.es_99, g.payout.es_99) <= 1e-9, "{file} {}", p.name);
        assert!(
            rel(p.figures.var_99, g.payout.quantiles["0.99"]) <= 1e-9,
            "{file} {}",
            p.name
        );
        assert_eq!(p.figures.p_cap_exhausted, g.p_cap_exhausted, "{file} {}", p.name);
        assert_eq!(p.figures.p_called, g.p_called, "{file} {}", p.name);
        let by_period: f64 = p.figures.p_cap_exhausted_in_period.iter().sum();
        assert!(
            (by_period - p.figures.p_cap_exhausted).abs() < 1e-12,
            "{file} {}",
            p.name
        );
        assert!(p.figures.capacity_999 >= p.figures.capacity_99);
        any |= p.figures.expected_payout > 0.0;
        // summary.json's exposure block (from the runner's columns) is the replay's figures.
        let figures = g.exposure.as_ref().expect("a plain run has the exposure view");
        same_figures(&p.figures, figures, &format!("{file} {}", p.name));
    }
    assert!(any, "{file}: no party pays");
    if let (Some(u), Some(s)) = (&e.undertaker, &summary.undertaker) {
        assert_eq!(u.figures.p_called, s.p_drawn);
        assert!(rel(u.expected_draw, summary.undertaker_draw.mean) <= 1e-9);
        let figures = s.exposure.as_ref().expect("a plain run has the exposure view");
        same_figures(&u.figures, figures, &format!("{file} undertaker"));
        assert_eq!(figures.p_cap_exhausted, s.p_cap_exhausted, "{file} undertaker");
    }
}

#[test]
fn euler_contributions_sum_to_the_party_figures_on_the_flagship() {
    check("yuhang-2023.toml", 20_000);
}

#[test]
fn euler_contributions_sum_on_restricted_and_multi_party_tiers() {
    check("yongjia-collective-20.toml", 8_192);
    check("chongqing-hechuan-22222.toml", 8_192);
}

#[test]
fn the_exposure_verb_writes_json_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let scenario = root().join("scenarios/yuhang-2023.toml");
    let o = ipabs_ok(&[
        "exposure",
        scenario.to_str().unwrap(),
        "--paths",
        "10000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let json = read_json(&out.join("exposure.json"));
    assert_eq!(json["parties"].as_array().unwrap().len(), 2);
    assert!(json["parties"][0]["contributions"].as_array().unwrap().len() == 14);
    assert!(out.join("exposure_party1.png").exists() && out.join("exposure_party1.svg").exists());
    for stem in ["cap_exhaustion", "undertaker"] {
        assert!(out.join(format!("{stem}.png")).exists() && out.join(format!("{stem}.svg")).exists());
    }
    assert_eq!(
        json["undertaker"]["p_cap_exhausted_by_period"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("Euler"));
}

/// A deal whose caps run out in known periods: one firm that defaults in period 1 (hazard 50 a
/// year, quarterly: P = 1 - exp(-12.5)), paying CNY 250,000 of principal a quarter and no
/// interest. The guarantor (cap 600,000) pays 250,000, 250,000, then only 100,000: its cap binds
/// in period 3. The trust so collects 600,000 against the bullet note's 1,000,000 due in period
/// 4; the undertaker (cap 300,000) pays 300,000 there, its cap reached in period 4, and the note
/// loses 100,000: the undertaker's obligation is 400,000.
#[test]
fn caps_run_out_in_the_periods_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caps.toml");
    std::fs::write(
        &path,
        r#"
[deal]
periods_per_year = 4
term_periods = 4
[simulation]
paths = 4096
seed = 3
[credit]
asset_correlation = 0.2
sectors = ["a"]
[[firms]]
id = "F1"
sector = "a"
principal = 1000000
amortisation = "level"
hazard = 50.0
[[tiers]]
parties = [{ name = "fund", share = 1.0, cap = 600000 }]
[undertaker]
name = "platform"
cap = 300000
[[tranches]]
name = "senior"
notional = 1000000
coupon = 0.0
"#,
    )
    .unwrap();
    let scenario = ipabs::scenario::load(&path).unwrap();
    let sim = runner::simulate(&Plan::new(&scenario), 4096, 3, 1, &runner::Silent).unwrap();
    let s = Summary::new(&scenario, sim, String::new(), 0.0);
    let g = s.guarantors[0]
        .exposure
        .as_ref()
        .expect("a plain run has the exposure view");
    let u = s
        .undertaker
        .as_ref()
        .and_then(|u| u.exposure.as_ref())
        .expect("a plain run has the exposure view");
    // Paths defaulting in period 1 (all but a handful, if any: 4096 x 3.7e-6 expected otherwise).
    let early = g.p_cap_exhausted_in_period[2];
    assert!(early >= 0.999, "{:?}", g.p_cap_exhausted_in_period);
    assert_eq!(
        g.p_cap_exhausted_in_period[0] + g.p_cap_exhausted_in_period[1],
        0.0
    );
    assert_eq!(g.p_cap_exhausted, 1.0);
    assert_eq!(g.capacity_99, 1_000_000.0, "its obligation: the whole principal");
    assert_eq!(g.var_99, 600_000.0);
    assert_eq!(u.p_cap_exhausted_in_period[3], early);
    assert_eq!(u.var_99, 300_000.0);
    assert_eq!(u.capacity_99, 400_000.0);
    assert_eq!(s.tranches[0].wal_years, 1.0, "a one-year bullet");
}

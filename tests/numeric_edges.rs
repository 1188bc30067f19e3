//! Numeric edges: probabilities at 0 and next to 1, correlations 0 and 0.999, a Student-t with
//! 2.1 degrees of freedom, amounts from 0.01 to 1e13, one firm and 10,000 firms, 30 years of
//! monthly periods, caps of 0 and above the pool. No output may be NaN or infinite.

mod common;

use common::assert_no_null;
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;

/// A pool of `firms` firms written as TOML; `firm(i)` gives each firm's extra keys.
fn scenario(head: &str, firms: usize, firm: impl Fn(usize) -> String, tail: &str) -> String {
    let mut s = head.to_owned();
    for i in 0..firms {
        s += &format!("[[firms]]\nid = \"F{i}\"\nsector = \"a\"\n{}\n", firm(i));
    }
    s + tail
}

fn head(m: u32, t: u32, credit: &str) -> String {
    format!(
        "[deal]\nperiods_per_year = {m}\nterm_periods = {t}\n[simulation]\npaths = 2000\nseed = 9\n\
         [credit]\nsectors = [\"a\"]\n{credit}\n[recovery]\nbeta = {{ a = 0.5, b = 0.5 }}\nlag_periods = 3\nvalue_vol = 1.5\n"
    )
}

const TAIL: &str = "[[tiers]]\nparties = [{ name = \"none\", share = 0.5, cap = 0 }, { name = \"huge\", share = 0.5, cap = 1e17 }]\n\
[[tiers]]\nparties = [{ name = \"small\", share = 1.0, cap = 0.01, annual_pd = 0.999999999999, sector = \"a\" }]\n\
[undertaker]\ncap = 0\n[[tranches]]\nname = \"A\"\nnotional = 0.01\ncoupon = 0.2\n[fees]\nannual_rate = 0.5\n";

/// Runs the scenario and checks that the summary has no missing number.
fn run(text: &str, paths: u64) -> Summary {
    let s = ipabs::scenario::parse("edge.toml", text, "edge").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let plan = Plan::new(&s);
    let sim = runner::simulate(&plan, paths, 9, 0, &runner::Silent).unwrap();
    let summary = Summary::new(&s, sim, String::new(), 0.0);
    assert_no_null(&serde_json::to_value(&summary).unwrap(), "");
    summary
}

#[test]
fn probabilities_at_zero_and_next_to_one() {
    let pd = |p: &'static str| move |i: usize| format!("principal = {}\nannual_pd = {p}", 1000 + i);
    let none = run(
        &scenario(&head(4, 4, "asset_correlation = 0.3"), 5, pd("0.0"), TAIL),
        2000,
    );
    assert_eq!(none.defaults.max, 0.0);
    assert_eq!(none.pool_loss.mean, 0.0);
    let all = run(
        &scenario(
            &head(4, 4, "asset_correlation = 0.3"),
            5,
            pd("0.999999999999"),
            TAIL,
        ),
        2000,
    );
    assert!(all.defaults.mean > 4.99);
}

#[test]
fn correlations_zero_and_near_one_and_a_fat_student_t() {
    let f = |i: usize| format!("principal = {}\nannual_pd = 0.05", 1e6 + i as f64);
    for credit in [
        "asset_correlation = 0.0",
        "asset_correlation = 0.999",
        "copula = \"t\"\ndof = 2.1\nasset_correlation = 0.999",
        "copula = \"t\"\ndof = 2.1\nasset_correlation = 0.0",
    ] {
        let s = run(&scenario(&head(4, 4, credit), 20, f, TAIL), 2000);
        assert!(s.defaults.mean > 0.0, "{credit}");
    }
}

#[test]
fn amounts_from_a_cent_to_ten_trillion() {
    let f = |i: usize| {
        let p = ["0.01", "1e13", "\"1234.56\"", "10000000000000", "0.02"][i % 5];
        format!(
            "principal = {p}\nrate = 0.3\namortisation = \"level\"\nannual_pd = 0.2\npatents = {{ appraised_value = 0.01 }}"
        )
    };
    run(
        &scenario(&head(12, 12, "asset_correlation = 0.5"), 10, f, TAIL),
        2000,
    );
}

#[test]
fn one_firm_and_ten_thousand_firms() {
    let f = |_| "principal = 100\nannual_pd = 0.3".to_owned();
    run(
        &scenario(&head(4, 4, "asset_correlation = 0.2"), 1, f, TAIL),
        2000,
    );
    let f = |i: usize| format!("principal = {}\nannual_pd = 0.01", 100 + i % 7);
    let s = run(
        &scenario(&head(4, 4, "asset_correlation = 0.2"), 10_000, f, TAIL),
        300,
    );
    // 10,000 firms at 1%: about 100 defaults a path.
    assert!((s.defaults.mean - 100.0).abs() < 30.0, "{}", s.defaults.mean);
}

#[test]
fn thirty_years_of_monthly_periods() {
    let f = |i: usize| {
        format!(
            "principal = {}\nrate = 0.05\namortisation = \"level\"\nannual_pd = 0.03",
            1e6 * (1 + i) as f64
        )
    };
    let tail = TAIL.replace("coupon = 0.2", "coupon = 0.03\namortisation = \"level\"");
    let s = run(
        &scenario(&head(12, 360, "asset_correlation = 0.2"), 20, f, &tail),
        500,
    );
    assert_eq!(
        s.coupon_coverage.as_ref().unwrap().per_period_p_below_1.len(),
        360
    );
}

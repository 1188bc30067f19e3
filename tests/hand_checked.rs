//! Small deals whose every path has the same outcome, checked against figures worked out by hand
//! in the comments. They run the real binary on the files in `tests/data/`.

mod common;

use common::{assert_close, data, num, run_summary};
use serde_json::Value;

/// Every statistic of a constant distribution equals the constant, with zero spread.
fn assert_constant(s: &Value, path: &str, expect: f64) {
    let tol = 1e-9;
    assert_close(
        &format!("{path}/mean"),
        num(s, &format!("{path}/mean")),
        expect,
        tol,
    );
    assert_close(&format!("{path}/std"), num(s, &format!("{path}/std")), 0.0, tol);
    for q in ["0.5", "0.9", "0.95", "0.99", "0.995", "0.999"] {
        assert_close(
            &format!("{path} q{q}"),
            num(s, &format!("{path}/quantiles/{q}")),
            expect,
            tol,
        );
    }
    assert_close(
        &format!("{path}/es"),
        num(s, &format!("{path}/es_0.99")),
        expect,
        tol,
    );
}

/// `tests/data/hand-note.toml`, quarterly, one year.
///
/// Firm A: 6,000,000 at 4%, bullet: pays 60,000 a quarter and 6,000,000 in Q4; never defaults.
/// Firm B: 4,000,000 at 4%, bullet, defaults in Q1: misses 40,000 in Q1-Q3 and 4,040,000 in Q4,
/// so M = 4,160,000. Recovery 25% of the claim 4,000,000 (no appraised value) = 1,000,000,
/// received in Q3 (lag 2).
///
/// Guarantor (cap 1,500,000) pays 40,000 in Q1, Q2, Q3; the Q3 recovery first repays it the
/// 120,000 it paid for B, the trust keeps 880,000; in Q4 it owes 4,040,000 and pays the
/// 1,380,000 left of its cap (cap bound). G = 1,500,000, Rg = 120,000, R = 1,000,000.
/// pool_loss = M - G - (R - Rg) = 4,160,000 - 1,500,000 - 880,000 = 1,780,000;
/// gross = M - R = 3,160,000; guarantor shortfall = M - G = 2,660,000 (= its own shortfall).
///
/// Senior 9,000,000 at 3%: 67,500 interest a quarter. Collections 100,000 in Q1 and Q2 (coverage
/// 100,000 / 67,500 = 1.48148), 980,000 in Q3, 7,440,000 in Q4. Cash carried: 32,500, 65,000,
/// 977,500; Q4 cash 8,417,500 pays 67,500 interest and 8,350,000 of the 9,000,000 principal. The
/// undertaker pays 500,000 (its cap) of the missing 650,000: principal loss 150,000 = 1/60 of the
/// notional; no interest shortfall.
#[test]
fn hand_note_deal() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_summary(&data("hand-note.toml"), dir.path(), &[]);
    assert_eq!(s["paths"], 5000);
    assert_close("pool_notional", num(&s, "pool_notional"), 10_000_000.0, 0.0);
    assert_constant(&s, "defaults", 1.0);
    assert_constant(&s, "pool_loss", 1_780_000.0);
    assert_constant(&s, "pool_loss_frac", 0.178);
    assert_constant(&s, "gross_default_loss", 3_160_000.0);
    assert_constant(&s, "guarantor_shortfall", 2_660_000.0);
    assert_constant(&s, "guarantors/0/payout", 1_500_000.0);
    assert_constant(&s, "guarantors/0/net_payout", 1_380_000.0);
    assert_constant(&s, "guarantors/0/shortfall", 2_660_000.0);
    assert_eq!(num(&s, "guarantors/0/p_cap_exhausted"), 1.0);
    assert_eq!(num(&s, "guarantors/0/p_cap_exhausted_se"), 0.0);
    assert_constant(&s, "undertaker_draw", 500_000.0);
    assert_eq!(num(&s, "undertaker/p_cap_exhausted"), 1.0);
    assert_constant(&s, "coupon_coverage/min_ratio", 100_000.0 / 67_500.0);
    assert_eq!(num(&s, "coupon_coverage/p_below_1"), 0.0);
    let t = &s["tranches"][0];
    assert_close("expected_loss", num(t, "expected_loss"), 150_000.0, 1e-9);
    assert_close(
        "expected_loss_frac",
        num(t, "expected_loss_frac"),
        1.0 / 60.0,
        1e-9,
    );
    assert_eq!(num(t, "p_loss"), 1.0);
    assert_eq!(num(t, "p_interest_shortfall"), 0.0);
    assert_constant(t, "principal_loss", 150_000.0);
}

/// `tests/data/hand-pledge.toml`, annual, two years, no notes.
///
/// F1: 1,000,000 at 5%, level: owes 550,000 in year 1 (500,000 + 50,000) and 525,000 in year 2.
/// F3: 500,000 at 10%, bullet: owes 50,000 then 550,000. Both default in year 1; F2 never does.
/// M = 600,000 + 1,075,000 = 1,675,000.
///
/// Year 1, tier 1: the county pays 20% of F1's principal only = 100,000; the bank (cap 0) refuses
/// its 80% of everything, 480,000. Reaching tier 2: F1 400,000 + 50,000, F3 50,000 = 500,000;
/// the fund (cap 300,000) pays 60% of each piece: 270,000 for F1, 30,000 for F3.
/// Year 2: the county pays 100,000; the bank refuses 860,000; the fund, exhausted, refuses
/// 975,000. G = 200,000 + 300,000 = 500,000.
///
/// Recoveries (rate 50%, lag 0, year 1): F1 min(0.5 x 300,000 appraised, 1,000,000) = 150,000,
/// repaying county and fund pro rata to the 100,000 and 270,000 they paid for F1 (county
/// 40,540.54, fund 109,459.46); F3 has no patents: min(0.5 x 500,000, 500,000) = 250,000, of which
/// 30,000 repays the fund and 220,000 goes to the trust. R = 400,000, Rg = 180,000.
/// pool_loss = 1,675,000 - 500,000 - 220,000 = 955,000; gross = 1,675,000 - 400,000 = 1,275,000;
/// guarantor shortfall = 1,175,000.
#[test]
fn hand_pledge_programme() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_summary(&data("hand-pledge.toml"), dir.path(), &[]);
    assert_constant(&s, "defaults", 2.0);
    assert_constant(&s, "pool_loss", 955_000.0);
    assert_constant(&s, "gross_default_loss", 1_275_000.0);
    assert_constant(&s, "guarantor_shortfall", 1_175_000.0);
    let county = 150_000.0 * 100_000.0 / 370_000.0;
    let fund = 150_000.0 * 270_000.0 / 370_000.0 + 30_000.0;
    assert_constant(&s, "guarantors/0/payout", 200_000.0);
    assert_constant(&s, "guarantors/0/net_payout", 200_000.0 - county);
    assert_constant(&s, "guarantors/0/shortfall", 0.0);
    assert_eq!(num(&s, "guarantors/0/p_cap_exhausted"), 0.0);
    assert_constant(&s, "guarantors/1/payout", 0.0);
    assert_constant(&s, "guarantors/1/shortfall", 1_340_000.0);
    assert_eq!(num(&s, "guarantors/1/p_cap_exhausted"), 1.0);
    assert_constant(&s, "guarantors/2/payout", 300_000.0);
    assert_constant(&s, "guarantors/2/net_payout", 300_000.0 - fund);
    assert_constant(&s, "guarantors/2/shortfall", 1_175_000.0);
    assert_eq!(num(&s, "guarantors/2/p_cap_exhausted"), 1.0);
    assert!(s["coupon_coverage"].is_null());
    assert_eq!(s["tranches"].as_array().unwrap().len(), 0);
}

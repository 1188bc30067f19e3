//! The exact cash-flow statement: it balances to the cent every period, it agrees with the Monte
//! Carlo engine run on the same forced defaults, and its exports hold numbers.

mod common;

use std::io::Read;
use std::path::Path;

use ipabs::ledger::{Case, Statement};
use ipabs::plan::Plan;
use ipabs::runner;
use rust_decimal::Decimal;

use common::{data, ipabs_ok, ipabs_refused, root};

fn load(path: &Path) -> ipabs::model::Scenario {
    ipabs::scenario::load(path).expect("scenario loads")
}

fn statement(path: &Path, defaults: &str, parties: &str, recovery: Option<&str>) -> Statement {
    let s = load(path);
    let case = Case::parse(&s, defaults, parties, recovery).expect("case parses");
    Statement::new(&s, &case)
}

/// Every money amount of the statement, with where it is.
fn money_cells(s: &Statement) -> Vec<(String, Decimal)> {
    let mut out = Vec::new();
    for p in &s.periods {
        for (name, x) in [
            ("cash_carried_in", p.cash_carried_in),
            ("firm_payments", p.firm_payments),
            ("guarantor_payments", p.guarantor_payments),
            ("recoveries", p.recoveries),
            ("recoveries_to_guarantors", p.recoveries_to_guarantors),
            ("collections", p.collections),
            ("undertaker_draw", p.undertaker_draw),
            ("fees_due", p.fees_due),
            ("fees_paid", p.fees_paid),
            ("interest_paid", p.interest_paid),
            ("principal_paid", p.principal_paid),
            ("cash_carried_out", p.cash_carried_out),
        ] {
            out.push((format!("period {} {name}", p.period), x));
        }
    }
    for f in &s.firms {
        for x in [
            f.paid,
            f.guaranteed,
            f.recovery,
            f.recovery_to_guarantors,
            f.scheduled_interest,
        ] {
            out.push((format!("period {} firm {}", f.period, f.firm), x));
        }
    }
    for p in &s.parties {
        for x in [p.obligation, p.paid, p.reimbursed] {
            out.push((format!("period {} party {}", p.period, p.party), x));
        }
    }
    for t in &s.tranches {
        for x in [
            t.interest_due,
            t.interest_paid,
            t.principal_paid,
            t.closing_balance,
        ] {
            out.push((format!("period {} tranche {}", t.period, t.tranche), x));
        }
    }
    out
}

/// Cash in = cash out + retained, exactly, every period; every amount is whole cents.
fn assert_balanced_to_the_cent(s: &Statement) {
    assert!(!s.periods.is_empty());
    for p in &s.periods {
        assert_eq!(
            p.cash_in(),
            p.cash_out() + p.cash_carried_out,
            "{} ({}): period {} does not balance: in {} out {} retained {}",
            s.scenario,
            s.case_label,
            p.period,
            p.cash_in(),
            p.cash_out(),
            p.cash_carried_out
        );
        assert!(p.imbalance().is_zero());
        // Collections are exactly their three sources.
        assert_eq!(
            p.collections,
            p.firm_payments + p.guarantor_payments + p.recoveries - p.recoveries_to_guarantors
        );
    }
    for (what, x) in money_cells(s) {
        assert_eq!(x, x.round_dp(2), "{what} = {x} is not whole cents");
    }
    assert!(s.is_balanced());
    // Guarantor payments by party add up to the trust's receipts, period by period.
    for p in &s.periods {
        let by_party: Decimal = s
            .parties
            .iter()
            .filter(|r| r.period == p.period)
            .map(|r| r.paid)
            .sum();
        let by_firm: Decimal = s
            .firms
            .iter()
            .filter(|r| r.period == p.period)
            .map(|r| r.guaranteed)
            .sum();
        assert_eq!(by_party, p.guarantor_payments);
        assert_eq!(by_firm, p.guarantor_payments);
    }
    // The loss identities of the design hold exactly.
    let t = &s.totals;
    assert_eq!(
        t.pool_loss,
        t.missed - t.guarantor_paid - (t.recovered - t.reimbursed)
    );
    assert_eq!(t.guarantor_shortfall, t.missed - t.guarantor_paid);
}

#[test]
fn yuhang_statement_balances_to_the_cent() {
    let path = root().join("scenarios/yuhang-2023.toml");
    for (defaults, parties, recovery) in [
        ("", "", None),
        ("F03@2,F11@3", "", None),
        ("F03@2,F11@3", "", Some("0.2")),
        (
            "F01@1,F02@1,F04@2,F06@2,F09@3,F12@4",
            "district guarantor@2",
            None,
        ),
        (
            "F01@1,F02@1,F04@1,F06@1,F08@1,F09@1,F12@1",
            "municipal guarantor@3,platform (differential payment undertaker)@4",
            Some("0.05"),
        ),
    ] {
        let s = statement(&path, defaults, parties, recovery);
        assert_balanced_to_the_cent(&s);
    }
    let none = statement(&path, "", "", None);
    assert!(none.totals.missed.is_zero() && none.totals.pool_loss.is_zero());
    assert_eq!(none.case_label, "no defaults");
}

#[test]
fn multi_tier_multi_tranche_statements_balance_to_the_cent() {
    // stressed.toml: two tiers of two parties (a zero-cap lender, a principal-only county fund
    // on some firms), explicit and level amortisation, Beta recovery (its mean 0.4 is used),
    // fees and two tranches.
    let stressed = data("stressed.toml");
    for (defaults, parties) in [
        ("A@1", ""),
        ("A@2,C@3", "district guarantor@4"),
        ("A@1,B@2,C@3,D@6", "municipal guarantor@5,platform@3"),
        ("B@6,D@1", ""),
    ] {
        let s = statement(&stressed, defaults, parties, None);
        assert_eq!(s.recovery_rate, Decimal::new(4, 1));
        assert_balanced_to_the_cent(&s);
    }
    let s = statement(&data("forced.toml"), "A@1,B@1", "", None);
    assert_balanced_to_the_cent(&s);
    assert!(
        s.totals.undertaker_draw > Decimal::ZERO,
        "the case exercises the undertaker"
    );
    assert!(
        s.totals.parties.iter().all(|p| p.cap_exhausted),
        "every cap binds"
    );
}

/// Compares the statement's totals with the engine's outcome of every one of a few paths:
/// `|engine - ledger| <= rel x |ledger| + abs`.
fn cross_check(path: &Path, defaults: &str, rel: f64, abs: f64) {
    let scenario = load(path);
    let case = Case::parse(&scenario, defaults, "", None).unwrap();
    let st = Statement::new(&scenario, &case);
    let t = &st.totals;
    let f = |x: Decimal| -> f64 { x.to_string().parse().unwrap() };
    let plan = Plan::new(&scenario);
    let close_within = |what: &str, engine: f64, ledger: Decimal, path: u64, abs: f64| {
        let l = f(ledger);
        assert!(
            (engine - l).abs() <= rel * l.abs() + abs,
            "{}: path {path}: {what}: engine {engine}, ledger {l}",
            scenario.name
        );
    };
    let close =
        |what: &str, engine: f64, ledger: Decimal, path: u64| close_within(what, engine, ledger, path, abs);
    let mut seen = 0;
    runner::replay(&plan, scenario.simulation.seed, 50, |i, s| {
        seen += 1;
        let o = &s.outcome;
        assert_eq!(
            o.defaults as usize,
            case.defaults.len(),
            "the forced firms default on every path"
        );
        close("missed", o.missed, t.missed, i);
        close("guarantor_paid", o.guarantor_paid, t.guarantor_paid, i);
        close("recovered", o.recovered, t.recovered, i);
        close("reimbursed", o.reimbursed, t.reimbursed, i);
        close("pool_loss", o.pool_loss, t.pool_loss, i);
        close(
            "gross_default_loss",
            o.gross_default_loss,
            t.gross_default_loss,
            i,
        );
        close(
            "guarantor_shortfall",
            o.guarantor_shortfall,
            t.guarantor_shortfall,
            i,
        );
        close("undertaker_draw", o.undertaker_draw, t.undertaker_draw, i);
        close("residual", o.residual, t.residual, i);
        for (p, (po, pt)) in o.parties.iter().zip(&t.parties).enumerate() {
            close(&format!("party {p} payout"), po.payout, pt.payout, i);
            close(&format!("party {p} obligation"), po.obligation, pt.obligation, i);
            close(&format!("party {p} shortfall"), po.shortfall, pt.shortfall, i);
            // Reimbursements are split pro rata and rounded to the cent party by party.
            close_within(
                &format!("party {p} net payout"),
                po.net_payout,
                pt.net_payout,
                i,
                abs + 0.01,
            );
            assert_eq!(po.cap_exhausted, pt.cap_exhausted);
        }
        for (j, (to, tt)) in o.tranches.iter().zip(&t.tranches).enumerate() {
            close(
                &format!("tranche {j} interest shortfall"),
                to.interest_shortfall,
                tt.interest_shortfall,
                i,
            );
            close(
                &format!("tranche {j} principal loss"),
                to.principal_loss,
                tt.principal_loss,
                i,
            );
        }
    });
    assert_eq!(seen, 50);
}

#[test]
fn statement_agrees_with_the_engine_on_forced_defaults() {
    // hand-note: firm B defaults in quarter 1 on every path; no amount of this case needs
    // rounding, so the totals agree to 1e-9 relative.
    cross_check(&data("hand-note.toml"), "B@1", 1e-9, 0.0);
    // forced: the ledger rounds interest and reimbursement pieces to the cent where the engine
    // keeps fractions of a cent, so the totals agree to 1e-9 relative plus a cent per period.
    cross_check(&data("forced.toml"), "A@1,B@1", 1e-9, 0.04);
}

#[test]
fn bad_cases_are_clear_errors() {
    let s = load(&root().join("scenarios/yuhang-2023.toml"));
    let err = |d: &str, p: &str, r: Option<&str>| Case::parse(&s, d, p, r).unwrap_err().to_string();
    assert!(err("F99@2", "", None).contains("unknown firm \"F99\""));
    assert!(err("F03@0", "", None).contains("outside the term (1 to 4)"));
    assert!(err("F03@5", "", None).contains("outside the term"));
    assert!(err("F03-2", "", None).contains("NAME@PERIOD"));
    assert!(err("F03@2,F03@3", "", None).contains("more than once"));
    assert!(err("", "nobody@1", None).contains("unknown party or undertaker"));
    assert!(err("", "", Some("1.5")).contains("--recovery"));
    assert!(err("", "", Some("abc")).contains("--recovery"));
}

#[test]
fn cli_writes_csv_and_xlsx_with_numbers_frozen_headers_and_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cf");
    let o = ipabs_ok(&[
        "cashflows",
        "scenarios/yuhang-2023.toml",
        "--defaults",
        "F03@2,F11@3",
        "--recovery",
        "0.2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("F03@2, F11@3"), "{stdout}");
    for f in [
        "periods.csv",
        "firms.csv",
        "guarantors.csv",
        "tranches.csv",
        "totals.csv",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let periods = std::fs::read_to_string(out.join("periods.csv")).unwrap();
    assert!(periods.starts_with("period,cash_carried_in,"));
    // Money has exactly two decimals; the imbalance column is 0.00 in every period.
    let mut lines = periods.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let imb = header.iter().position(|h| *h == "imbalance").unwrap();
    for line in lines {
        assert_eq!(line.split(',').nth(imb), Some("0.00"), "{line}");
    }

    let file = std::fs::File::open(out.join("cashflows.xlsx")).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("xl/charts/chart")),
        "{names:?}"
    );
    let mut sheet1 = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet1)
        .unwrap();
    assert!(sheet1.contains("state=\"frozen\""), "header row frozen");
    // Firm payments (C2) and collections (G2) of period 1 are numbers, not strings.
    for cell in ["C2", "G2"] {
        let at = sheet1
            .find(&format!("<c r=\"{cell}\""))
            .unwrap_or_else(|| panic!("{cell}"));
        let tag = &sheet1[at..at + sheet1[at..].find('>').unwrap()];
        assert!(!tag.contains("t=\"s\""), "{cell} is text: {tag}");
        assert!(tag.contains(" s=\""), "{cell} has a number format: {tag}");
        let value = &sheet1[at..];
        let v = &value[value.find("<v>").unwrap() + 3..value.find("</v>").unwrap()];
        v.parse::<f64>().unwrap_or_else(|_| panic!("{cell} value {v}"));
    }
    // The money format is defined.
    let mut styles = String::new();
    zip.by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    assert!(styles.contains("#,##0.00"));
    // One sheet per table.
    let mut book = String::new();
    zip.by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut book)
        .unwrap();
    for name in ["periods", "firms", "guarantors", "tranches", "totals"] {
        assert!(book.contains(&format!("name=\"{name}\"")), "sheet {name}");
    }
}

#[test]
fn cli_rejects_bad_defaults_with_status_2() {
    for (arg, expect) in [
        ("F99@1", "unknown firm"),
        ("F01@7", "outside the term"),
        ("F01", "NAME@PERIOD"),
    ] {
        let err = ipabs_refused(&["cashflows", "scenarios/yuhang-2023.toml", "--defaults", arg]);
        assert!(err.contains(expect), "{arg}: {err}");
    }
}

#[test]
fn the_workbook_is_the_same_bytes_every_time() {
    let s = statement(&data("forced.toml"), "A@1", "", None);
    let tables = ipabs::report::cashflows::tables(&s);
    let a = ipabs::report::cashflows::xlsx(&s, &tables).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = ipabs::report::cashflows::xlsx(&s, &tables).unwrap();
    assert_eq!(a, b);
}

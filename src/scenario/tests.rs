//! Tests of the scenario loader: defaults, the three spellings of money, every rule, problems
//! reported together, inputs that must not panic, and the files in `tests/bad_scenarios/`.

use rust_decimal::Decimal;

use super::{Problem, parse};
use crate::model::{Amortisation, Copula, CreditInput, Recovery, RecoveryRate};

/// The smallest valid scenario: only required keys.
const MINIMAL: &str = r#"
[deal]
periods_per_year = 4
term_periods = 4

[simulation]
paths = 1000
seed = 7

[credit]
asset_correlation = 0.2
sectors = ["iot"]

[[firms]]
id = "F01"
sector = "iot"
principal = 9500000
annual_pd = 0.02
"#;

/// A scenario using every key (one key per line, so tests can swap single lines).
const FULL: &str = r#"
name = "yuhang-2023"
currency = "CNY"
description = "Hangzhou Yuhang, first issue"

[deal]
periods_per_year = 4
term_periods = 4

[simulation]
paths = 200000
seed = 7

[credit]
copula = "t"
dof = 5
asset_correlation = 0.20
sectors = ["iot", "it", "bio"]
sector_correlation = [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]

[recovery]
beta = { a = 2.0, b = 3.0 }
lag_periods = 2
reimburse_guarantors = false
value_vol = 0.30

[[firms]]
id = "F01"
sector = "iot"
principal = 9500000.0
rate = 0.045
amortisation = "level"
annual_pd = 0.02
asset_correlation = 0.25
patents = { invention = 4, utility_model = 6, design = 1, appraised_value = "12400000.50" }

[[firms]]
id = "F02"
sector = "bio"
principal = "4000000.00"
amortisation = [1000000, 1000000.0, "1000000", 1000000]
hazard = 0.0202

[[tiers]]
name = "district"
parties = [ { name = "district guarantor", share = 1, cap = 13300000.0, annual_pd = 0.01, sector = "it", asset_correlation = 0.3 } ]

[[tiers]]
parties = [ { name = "fund", share = 0.4, cap = 0, firms = ["F02"], principal_only = true }, { name = "bank", share = 0.6 } ]

[undertaker]
name = "platform"
cap = 10000000.0
annual_pd = 0.005

[[tranches]]
name = "senior"
notional = 12000000.0
coupon = 0.027
amortisation = "bullet"

[[tranches]]
name = "junior"
notional = 1500000
coupon = 0

[fees]
annual_rate = 0.003
"#;

fn money(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// The problems of `text` (panics if it loads).
fn problems(text: &str) -> Vec<Problem> {
    match parse("t.toml", text, "t") {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(e) => {
            assert_eq!(e.file, "t.toml");
            assert!(!e.problems.is_empty());
            e.problems
        }
    }
}

/// `text` has a problem at `key` whose message contains `fragment`, on `line` if given.
fn assert_problem(text: &str, key: &str, fragment: &str, line: Option<usize>) {
    let found = problems(text);
    let hit = found
        .iter()
        .any(|p| p.key == key && p.message.contains(fragment) && (line.is_none() || p.line == line));
    assert!(
        hit,
        "no problem at {key:?} containing {fragment:?} (line {line:?}); got {found:#?}\nin:\n{text}"
    );
}

/// `FULL` with `old` (which must occur) replaced by `new`.
fn full_with(old: &str, new: &str) -> String {
    assert!(FULL.contains(old), "{old:?} not in FULL");
    FULL.replacen(old, new, 1)
}

#[test]
fn minimal_scenario_gets_the_documented_defaults() {
    let s = parse("min.toml", MINIMAL, "my-stem").unwrap();
    assert_eq!(s.name, "my-stem");
    assert_eq!(s.currency, "CNY");
    assert_eq!((s.deal.periods_per_year, s.deal.term_periods), (4, 4));
    assert_eq!((s.simulation.paths, s.simulation.seed), (1000, 7));
    assert_eq!(s.credit.copula, Copula::Gaussian);
    assert_eq!(s.credit.sectors, vec!["iot"]);
    assert_eq!(s.credit.sector_correlation, vec![1.0]);
    assert_eq!(s.recovery, Recovery::default());
    let firm = &s.firms[0];
    assert_eq!(firm.id, "F01");
    assert_eq!(firm.sector, 0);
    assert_eq!(firm.principal, money("9500000"));
    assert_eq!(firm.rate, 0.0);
    assert_eq!(firm.amortisation, Amortisation::Bullet);
    assert_eq!(firm.credit, CreditInput::AnnualPd(0.02));
    assert_eq!(firm.asset_correlation, 0.2);
    assert_eq!(firm.patents, None);
    assert!(s.tiers.is_empty());
    assert!(s.undertaker.is_none());
    assert!(s.tranches.is_empty());
    assert_eq!(s.fees.annual_rate, 0.0);
}

#[test]
fn full_scenario_reads_every_key() {
    let s = parse("full.toml", FULL, "stem").unwrap();
    assert_eq!(s.name, "yuhang-2023");
    assert_eq!(s.credit.copula, Copula::StudentT { dof: 5.0 });
    assert_eq!(s.credit.sector_corr(0, 1), 0.5);
    assert_eq!(s.credit.sector_corr(2, 1), 0.3);
    assert_eq!(s.recovery.rate, RecoveryRate::Beta { a: 2.0, b: 3.0 });
    assert_eq!(s.recovery.lag_periods, 2);
    assert!(!s.recovery.reimburse_guarantors);
    assert_eq!(s.recovery.value_vol, Some(0.3));

    let f1 = &s.firms[0];
    assert_eq!(f1.amortisation, Amortisation::Level);
    assert_eq!(f1.asset_correlation, 0.25);
    let patents = f1.patents.as_ref().unwrap();
    assert_eq!(
        (patents.invention, patents.utility_model, patents.design),
        (4, 6, 1)
    );
    assert_eq!(patents.appraised_value, Some(money("12400000.5")));
    let f2 = &s.firms[1];
    assert_eq!(f2.sector, 2);
    assert_eq!(f2.credit, CreditInput::Hazard(0.0202));
    assert_eq!(f2.asset_correlation, 0.2);
    assert_eq!(f2.amortisation, Amortisation::Explicit(vec![money("1000000"); 4]));

    assert_eq!(s.tiers.len(), 2);
    assert_eq!(s.tiers[0].name, "district");
    let guarantor = &s.tiers[0].parties[0];
    let own = guarantor.own_default.unwrap();
    assert_eq!(
        (own.annual_pd, own.sector, own.asset_correlation),
        (0.01, Some(1), 0.3)
    );
    assert_eq!(guarantor.cap, Some(money("13300000")));
    assert_eq!(s.tiers[1].name, "tier 2");
    let fund = &s.tiers[1].parties[0];
    assert_eq!(fund.cap, Some(Decimal::ZERO));
    assert_eq!(fund.firms, Some(vec![1]));
    assert!(fund.principal_only);
    let bank = &s.tiers[1].parties[1];
    assert_eq!(
        (bank.cap, bank.firms.as_ref(), bank.principal_only),
        (None, None, false)
    );

    let undertaker = s.undertaker.as_ref().unwrap();
    assert_eq!(undertaker.name, "platform");
    let own = undertaker.own_default.unwrap();
    assert_eq!(
        (own.annual_pd, own.sector, own.asset_correlation),
        (0.005, None, 0.2)
    );

    assert_eq!(s.tranches[1].coupon, 0.0);
    assert_eq!(s.tranches[1].amortisation, Amortisation::Bullet);
    assert_eq!(s.fees.annual_rate, 0.003);
    assert_eq!(s.pool_notional(), money("13500000"));
}

#[test]
fn money_in_all_three_forms_is_the_identical_decimal() {
    let read = |spelling: &str| {
        let text = MINIMAL.replace("principal = 9500000", &format!("principal = {spelling}"));
        parse("m.toml", &text, "m").unwrap().firms[0].principal
    };
    let forms = ["9500000", "9500000.0", "\"9500000.00\"", "9.5e6", "9_500_000"];
    let amounts: Vec<Decimal> = forms.iter().map(|f| read(f)).collect();
    for (form, amount) in forms.iter().zip(&amounts) {
        assert_eq!(*amount, amounts[0], "{form}");
        // Identical, not merely equal: same digits and scale.
        assert_eq!(amount.serialize(), amounts[0].serialize(), "{form}");
    }
    // Floats go by their shortest round-trip text.
    assert_eq!(read("0.1"), money("0.1"));
    assert_eq!(read("\"0.10\""), money("0.1"));
    assert_eq!(read("1234567.89"), money("1234567.89"));
}

#[test]
fn scalar_sector_correlation_fills_the_off_diagonal() {
    let text = MINIMAL.replace(
        "sectors = [\"iot\"]",
        "sectors = [\"iot\", \"bio\", \"it\"]\nsector_correlation = 0.5",
    );
    let s = parse("c.toml", &text, "c").unwrap();
    assert_eq!(
        s.credit.sector_correlation,
        vec![1.0, 0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 1.0]
    );
    // All-ones is singular but allowed.
    let ones = text.replace("sector_correlation = 0.5", "sector_correlation = 1");
    assert!(parse("c.toml", &ones, "c").is_ok());
}

#[test]
fn max_memory_is_a_size_or_bytes() {
    let read = |value: &str| {
        let text = MINIMAL.replace("seed = 7", &format!("seed = 7\nmax_memory = {value}"));
        parse("m.toml", &text, "m").unwrap().simulation.max_memory
    };
    assert_eq!(parse("m.toml", MINIMAL, "m").unwrap().simulation.max_memory, None);
    assert_eq!(read("\"512MiB\""), Some(512 << 20));
    assert_eq!(read("\"2GB\""), Some(2_000_000_000));
    assert_eq!(read("1073741824"), Some(1 << 30));
}

#[test]
fn recovery_rate_and_copula_variants() {
    let text = format!("{MINIMAL}\n[recovery]\nrate = 0.35\n");
    let s = parse("r.toml", &text, "r").unwrap();
    assert_eq!(s.recovery.rate, RecoveryRate::Fixed(0.35));
    assert_eq!(s.recovery.lag_periods, 0);
    assert!(s.recovery.reimburse_guarantors);
    assert_eq!(s.recovery.value_vol, None);
}

/// Every rule, as (line of FULL to replace, replacement, key path, message fragment).
#[rustfmt::skip]
const RULES: &[(&str, &str, &str, &str)] = &[
    // Top level.
    ("name = \"yuhang-2023\"", "name = \"../x\"", "name", "must not contain"),
    ("name = \"yuhang-2023\"", "name = \"a/b\"", "name", "report folder"),
    ("name = \"yuhang-2023\"", "name = \"\"", "name", "must not be empty"),
    ("currency = \"CNY\"", "currency = 3", "currency", "must be a string, got an integer"),
    ("description = \"Hangzhou Yuhang, first issue\"", "descr = 1", "descr", "unknown key (allowed: name, currency, description,"),
    // Deal and simulation.
    ("periods_per_year = 4", "periods_per_yr = 4", "deal.periods_per_yr", "unknown key (allowed: periods_per_year, term_periods)"),
    ("periods_per_year = 4", "periods_per_yr = 4", "deal.periods_per_year", "missing required key"),
    ("periods_per_year = 4", "periods_per_year = 3", "deal.periods_per_year", "must be one of 1, 2, 4 or 12, got 3"),
    ("periods_per_year = 4", "periods_per_year = 0", "deal.periods_per_year", "must be one of 1, 2, 4 or 12"),
    ("periods_per_year = 4", "periods_per_year = 4.0", "deal.periods_per_year", "must be an integer, got a float"),
    ("term_periods = 4", "term_periods = 0", "deal.term_periods", "must be an integer >= 1, got 0"),
    ("term_periods = 4", "term_periods = 99999999999", "deal.term_periods", "must be an integer <= 4294967295"),
    ("paths = 200000", "paths = 0", "simulation.paths", "must be an integer >= 1, got 0"),
    ("paths = 200000", "paths = \"many\"", "simulation.paths", "must be an integer, got a string"),
    ("seed = 7", "seed = -1", "simulation.seed", "must be an integer >= 0, got -1"),
    ("seed = 7", "seed = 9223372036854775807", "", ""),
    ("seed = 7", "seed = 7\nmax_memory = \"lots\"", "simulation.max_memory", "expected a size such as 512MiB, 2GB or a number of bytes (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got \"lots\""),
    ("seed = 7", "seed = 7\nmax_memory = \"1..5GB\"", "simulation.max_memory", "expected a size such as 512MiB, 2GB or a number of bytes, got \"1..5GB\""),
    ("seed = 7", "seed = 7\nmax_memory = 0", "simulation.max_memory", "must be an integer >= 1, got 0"),
    ("seed = 7", "seed = 7\nmax_memory = \"0MiB\"", "simulation.max_memory", "must be at least 1 byte"),
    ("seed = 7", "seed = 7\nmax_memory = 1.5", "simulation.max_memory", "must be a size such as \"512MiB\" or \"2GB\", or an integer number of bytes, got a float"),
    ("seed = 7", "seed = 7\nmax_memory = \"1.5GiB\"", "", ""),
    // Credit.
    ("copula = \"t\"", "copula = \"clayton\"", "credit.copula", "must be \"gaussian\" or \"t\", got \"clayton\""),
    ("copula = \"t\"", "copula = \"gaussian\"", "credit.dof", "only allowed with copula = \"t\""),
    ("dof = 5", "", "credit.dof", "missing required key"),
    ("dof = 5", "dof = 0", "credit.dof", "must be > 0, got 0"),
    ("dof = 5", "dof = inf", "credit.dof", "must be a finite number, got inf"),
    ("asset_correlation = 0.20", "asset_correlation = 1.2", "credit.asset_correlation", "must be in [0, 1], got 1.2"),
    ("asset_correlation = 0.20", "asset_correlation = nan", "credit.asset_correlation", "must be a finite number, got nan"),
    ("asset_correlation = 0.20", "asset_correlation = \"0.2\"", "credit.asset_correlation", "must be a number, got a string"),
    ("sectors = [\"iot\", \"it\", \"bio\"]", "sectors = []", "credit.sectors", "at least one sector"),
    ("sectors = [\"iot\", \"it\", \"bio\"]", "sectors = [\"iot\", \"it\", \"iot\"]", "credit.sectors[2]", "duplicate sector \"iot\" (first given at credit.sectors[0])"),
    ("sector_correlation = [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "sector_correlation = 1.5", "credit.sector_correlation", "must be in [-1, 1], got 1.5"),
    ("sector_correlation = [[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "sector_correlation = -0.6", "credit.sector_correlation", "not positive semi-definite"),
    ("[0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "[0.4, 1.0, 0.3], [0.2, 0.3, 1.0]]", "credit.sector_correlation[0][1]", "must be symmetric"),
    ("[0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "[0.5, 0.9, 0.3], [0.2, 0.3, 1.0]]", "credit.sector_correlation[1][1]", "diagonal entries must be 1"),
    ("[0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "[0.5, 1.0, 0.3]]", "credit.sector_correlation", "has 2 rows, but there are 3 sectors"),
    ("[0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "[0.5, 1.0], [0.2, 0.3, 1.0]]", "credit.sector_correlation[1]", "has 2 entries"),
    ("[0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "[0.5, 1.0, 2], [0.2, 0.3, 1.0]]", "credit.sector_correlation[1][2]", "must be in [-1, 1], got 2"),
    ("[[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]", "[[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]", "credit.sector_correlation", "not positive semi-definite"),
    // Recovery.
    ("beta = { a = 2.0, b = 3.0 }", "", "recovery.rate", "missing required key (give rate = 0.35 or beta"),
    ("beta = { a = 2.0, b = 3.0 }", "rate = 0.3\nbeta = { a = 2.0, b = 3.0 }", "recovery.beta", "give either rate or beta, not both"),
    ("beta = { a = 2.0, b = 3.0 }", "rate = 1.5", "recovery.rate", "must be in [0, 1], got 1.5"),
    ("beta = { a = 2.0, b = 3.0 }", "beta = { a = 0, b = 3.0 }", "recovery.beta.a", "must be > 0, got 0"),
    ("beta = { a = 2.0, b = 3.0 }", "beta = { a = 2.0 }", "recovery.beta.b", "missing required key"),
    ("beta = { a = 2.0, b = 3.0 }", "beta = { a = 2.0, b = 3.0, c = 1 }", "recovery.beta.c", "unknown key (allowed: a, b)"),
    ("lag_periods = 2", "lag_periods = -1", "recovery.lag_periods", "must be an integer >= 0, got -1"),
    ("reimburse_guarantors = false", "reimburse_guarantors = \"no\"", "recovery.reimburse_guarantors", "must be true or false"),
    ("value_vol = 0.30", "value_vol = -0.3", "recovery.value_vol", "must be >= 0, got -0.3"),
    // Firms.
    ("id = \"F02\"", "id = \"F01\"", "firms[1].id", "duplicate firm id \"F01\" (first given at firms[0].id)"),
    ("id = \"F02\"", "", "firms[1].id", "missing required key"),
    ("sector = \"bio\"", "sector = \"pharma\"", "firms[1].sector", "unknown sector \"pharma\" (known: iot, it, bio)"),
    ("principal = 9500000.0", "principal = 0", "firms[0].principal", "must be > 0, got 0"),
    ("principal = 9500000.0", "principal = -5.5", "firms[0].principal", "must be > 0, got -5.5"),
    ("principal = 9500000.0", "principal = \"9.5m\"", "firms[0].principal", "must be an amount such as"),
    ("principal = 9500000.0", "principal = -inf", "firms[0].principal", "must be a finite number, got -inf"),
    ("principal = 9500000.0", "principal = 1e19", "firms[0].principal", "must be at most 1000000000000000000"),
    ("principal = 9500000.0", "principal = true", "firms[0].principal", "got a boolean"),
    ("rate = 0.045", "rate = -0.01", "firms[0].rate", "must be >= 0, got -0.01"),
    ("amortisation = \"level\"", "amortisation = \"linear\"", "firms[0].amortisation", "must be \"bullet\", \"level\" or a list of per-period amounts, got \"linear\""),
    ("amortisation = [1000000, 1000000.0, \"1000000\", 1000000]", "amortisation = [1000000, 1000000, 2000000]", "firms[1].amortisation", "has 3 amounts but deal.term_periods is 4"),
    ("amortisation = [1000000, 1000000.0, \"1000000\", 1000000]", "amortisation = [1000000, 1000000, 1000000, 999999]", "firms[1].amortisation", "sum to 3999999, but the principal is 4000000"),
    ("amortisation = [1000000, 1000000.0, \"1000000\", 1000000]", "amortisation = [2000000, 1000000, 2000000, -1000000]", "firms[1].amortisation[3]", "must be >= 0"),
    ("annual_pd = 0.02", "annual_pd = 1.5", "firms[0].annual_pd", "must be in [0, 1), got 1.5"),
    ("annual_pd = 0.02", "annual_pd = 1", "firms[0].annual_pd", "must be in [0, 1), got 1"),
    ("annual_pd = 0.02", "annual_pd = 0.02\nhazard = 0.1", "firms[0].hazard", "give either annual_pd or hazard, not both"),
    ("annual_pd = 0.02", "", "firms[0].annual_pd", "missing required key (give annual_pd = 0.02 or hazard"),
    ("hazard = 0.0202", "hazard = -1", "firms[1].hazard", "must be >= 0, got -1"),
    ("asset_correlation = 0.25", "asset_correlation = -0.1", "firms[0].asset_correlation", "must be in [0, 1]"),
    ("design = 1", "design = -1", "firms[0].patents.design", "must be an integer >= 0"),
    ("design = 1", "desing = 1", "firms[0].patents.desing", "unknown key (allowed: invention, utility_model, design, appraised_value)"),
    ("appraised_value = \"12400000.50\"", "appraised_value = -1", "firms[0].patents.appraised_value", "must be >= 0, got -1"),
    ("patents = {", "patent = {", "firms[0].patent", "unknown key"),
    // Tiers.
    ("share = 1, cap = 13300000.0", "share = 0.9, cap = 13300000.0", "tiers[0].parties", "shares sum to 0.9, but must sum to 1"),
    ("share = 1, cap = 13300000.0", "share = 1.1, cap = 13300000.0", "tiers[0].parties[0].share", "must be in [0, 1], got 1.1"),
    ("cap = 13300000.0", "cap = -1", "tiers[0].parties[0].cap", "must be >= 0, got -1"),
    ("annual_pd = 0.01", "annual_pd = 1", "tiers[0].parties[0].annual_pd", "must be in [0, 1), got 1"),
    ("annual_pd = 0.01, ", "", "tiers[0].parties[0].sector", "only allowed together with annual_pd"),
    ("sector = \"it\", ", "", "", ""),
    ("annual_pd = 0.01, sector = \"it\", ", "", "tiers[0].parties[0].asset_correlation", "only allowed together with annual_pd"),
    ("sector = \"it\"", "sector = \"retail\"", "tiers[0].parties[0].sector", "unknown sector \"retail\""),
    ("firms = [\"F02\"]", "firms = [\"F03\"]", "tiers[1].parties[0].firms[0]", "unknown firm id \"F03\" (known: F01, F02)"),
    ("firms = [\"F02\"]", "firms = [\"F02\", \"F02\"]", "tiers[1].parties[0].firms[1]", "duplicate firm id \"F02\""),
    ("firms = [\"F02\"]", "firms = []", "tiers[1].parties[0].firms", "at least one firm id"),
    ("principal_only = true", "principal_only = 1", "tiers[1].parties[0].principal_only", "must be true or false, got an integer"),
    ("{ name = \"bank\", share = 0.6 }", "{ share = 0.6 }", "tiers[1].parties[1].name", "missing required key"),
    ("{ name = \"bank\", share = 0.6 }", "{ name = \"bank\", shar = 0.6 }", "tiers[1].parties[1].shar", "unknown key (allowed: name, share, cap,"),
    ("parties = [ { name = \"fund\"", "partys = [ { name = \"fund\"", "tiers[1].parties", "missing required key"),
    ("parties = [ { name = \"district", "parties = [] #", "tiers[0].parties", "at least one party"),
    // Undertaker, tranches, fees.
    ("cap = 10000000.0", "cap = -10000000.0", "undertaker.cap", "must be >= 0"),
    ("annual_pd = 0.005", "annual_pd = 0.005\nshare = 1", "undertaker.share", "unknown key (allowed: name, cap, annual_pd, sector, asset_correlation)"),
    ("notional = 12000000.0", "notional = 0", "tranches[0].notional", "must be > 0, got 0"),
    ("notional = 12000000.0", "notional = 13000000.0", "tranches", "total notional 14500000 exceeds the pool notional 13500000"),
    ("coupon = 0.027", "coupon = -0.01", "tranches[0].coupon", "must be >= 0, got -0.01"),
    ("coupon = 0.027", "", "tranches[0].coupon", "missing required key"),
    ("amortisation = \"bullet\"", "amortisation = [12000000]", "tranches[0].amortisation", "has 1 amounts but deal.term_periods is 4"),
    ("annual_rate = 0.003", "annual_rate = -0.003", "fees.annual_rate", "must be >= 0, got -0.003"),
    ("annual_rate = 0.003", "rate = 0.003", "fees.rate", "unknown key (allowed: annual_rate)"),
];

#[test]
fn every_rule_fires() {
    for &(old, new, key, fragment) in RULES {
        let text = full_with(old, new);
        if key.is_empty() {
            // A boundary value that must be accepted.
            if let Err(e) = parse("t.toml", &text, "t") {
                panic!("{old:?} -> {new:?} should load, got:\n{e}");
            }
        } else {
            assert_problem(&text, key, fragment, None);
        }
    }
}

#[test]
fn the_full_scenario_is_valid_so_each_rule_is_the_only_cause() {
    assert!(parse("full.toml", FULL, "full").is_ok());
}

#[test]
fn missing_sections_and_wrong_kinds_of_tables() {
    assert_problem("", "deal", "missing required key", Some(1));
    assert_problem(
        "",
        "firms",
        "missing required key (at least one [[firms]] table)",
        Some(1),
    );
    let text = MINIMAL.replace("[deal]", "[[deal]]");
    assert_problem(&text, "deal", "must be a table, got an array", Some(2));
    let text = MINIMAL.replace("[[firms]]", "[firms]");
    assert_problem(
        &text,
        "firms",
        "must be an array of tables ([[firms]]), got a table",
        Some(14),
    );
    assert_problem(
        &format!("firms = []\n{}", &MINIMAL[..MINIMAL.find("[[firms]]").unwrap()]),
        "firms",
        "at least one firm",
        Some(1),
    );
    assert_problem(
        &format!("{MINIMAL}\n[recovery]\nlag_periods = 1\n"),
        "recovery.rate",
        "missing required key",
        Some(20),
    );
    assert_problem(
        &format!("undertaker = 5{MINIMAL}"),
        "undertaker",
        "must be a table, got an integer",
        Some(1),
    );
    assert_problem(
        &format!("tranches = [1]{MINIMAL}"),
        "tranches[0]",
        "must be a table, got an integer",
        Some(1),
    );
    assert_problem(
        &format!("tiers = {{}}{MINIMAL}"),
        "tiers",
        "must be an array of tables ([[tiers]]), got a table",
        Some(1),
    );
    let text = format!("{MINIMAL}\n[[tiers]]\nname = \"x\"\n");
    assert_problem(&text, "tiers[0].parties", "missing required key", Some(20));
}

#[test]
fn a_missing_key_points_at_its_table_header() {
    let text = MINIMAL.replace("term_periods = 4\n", "");
    assert_problem(&text, "deal.term_periods", "missing required key", Some(2));
    let p = problems(&text);
    assert_eq!((p[0].line, p[0].column), (Some(2), Some(1)));
}

#[test]
fn all_problems_are_reported_together_in_file_order() {
    let text = r#"name = "a/b"

[deal]
periods_per_year = 5
term_periods = 0

[simulation]
paths = 0
seed = 7
speed = 3

[credit]
asset_correlation = 2
sectors = ["iot"]

[[firms]]
id = "F01"
sector = "bio"
principal = -1
annual_pd = 1.5

[[firms]]
id = "F01"
sector = "iot"
principal = 100
hazard = nan
"#;
    let found = problems(text);
    let summary: Vec<(Option<usize>, Option<usize>, &str)> =
        found.iter().map(|p| (p.line, p.column, p.key.as_str())).collect();
    assert_eq!(
        summary,
        vec![
            (Some(1), Some(8), "name"),
            (Some(4), Some(20), "deal.periods_per_year"),
            (Some(5), Some(16), "deal.term_periods"),
            (Some(8), Some(9), "simulation.paths"),
            (Some(10), Some(1), "simulation.speed"),
            (Some(13), Some(21), "credit.asset_correlation"),
            (Some(18), Some(10), "firms[0].sector"),
            (Some(19), Some(13), "firms[0].principal"),
            (Some(20), Some(13), "firms[0].annual_pd"),
            (Some(23), Some(6), "firms[1].id"),
            (Some(26), Some(10), "firms[1].hazard"),
        ]
    );
    let shown = parse("bad.toml", text, "bad").unwrap_err().to_string();
    assert_eq!(shown.lines().count(), found.len());
    assert!(shown.starts_with("bad.toml:1:8: name: must not contain"));
    assert!(shown.contains("bad.toml:20:13: firms[0].annual_pd: must be in [0, 1), got 1.5"));
    assert!(shown.contains(
        "bad.toml:10:1: simulation.speed: unknown key (allowed: paths, seed, target_se, importance, max_memory)"
    ));
}

#[test]
fn a_syntax_error_is_one_problem_at_its_place() {
    let text = MINIMAL.replace("term_periods = 4", "term_periods = = 4");
    let found = problems(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key, "");
    assert_eq!(found[0].line, Some(4));
    assert!(found[0].message.starts_with("invalid TOML: "), "{found:?}");
    // A duplicate key is a TOML error too.
    let found = problems(&MINIMAL.replace("seed = 7", "seed = 7\nseed = 8"));
    assert_eq!((found.len(), found[0].line), (1, Some(9)));
    assert!(found[0].message.contains("duplicate key"));
}

#[test]
fn absurd_inputs_do_not_panic() {
    let deep_array = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_table = format!("a = {}1{}", "{b=".repeat(50_000), "}".repeat(50_000));
    let deep_dotted = format!("x{} = 1", ".b".repeat(50_000));
    let deep_header = format!("[x{}]", ".b".repeat(50_000));
    let inputs = [
        String::new(),
        "\u{feff}".to_owned(),
        "\0\u{1}\u{2}".to_owned(),
        "[[deal]]\n[[deal]]\n[[simulation]]\n[[credit]]\n[[firms]]".to_owned(),
        "deal = 1\nsimulation = \"x\"\ncredit = []\nfirms = [[]]\ntiers = [[]]\nrecovery = 1979-05-27"
            .to_owned(),
        "name = 1979-05-27T07:32:00Z".to_owned(),
        MINIMAL.replace("paths = 1000", "paths = 99999999999999999999999"),
        MINIMAL.replace("paths = 1000", "paths = 0xffffffffffffffffff"),
        MINIMAL.replace("principal = 9500000", "principal = 99999999999999999999999"),
        MINIMAL.replace("principal = 9500000", "principal = 1e308"),
        MINIMAL.replace("principal = 9500000", "principal = 1e-300"),
        MINIMAL.replace(
            "principal = 9500000",
            "principal = \"79228162514264337593543950336\"",
        ),
        MINIMAL.replace("annual_pd = 0.02", "annual_pd = 99999999999999999999999"),
        MINIMAL.replace(
            "sectors = [\"iot\"]",
            "sectors = [\"iot\"]\nsector_correlation = [[[[1]]]]",
        ),
        MINIMAL.replace("sectors = [\"iot\"]", "sectors = [[\"iot\"]]"),
        MINIMAL.replace(
            "sectors = [\"iot\"]",
            "sectors = []\nsector_correlation = [[1, 0], [0, 1]]",
        ),
        MINIMAL.replace("sectors = [\"iot\"]", "sector_correlation = []"),
        format!("{MINIMAL}\n[[tiers]]\nparties = [1, [], {{}}]\n"),
        format!("{MINIMAL}\n[[tranches]]\n[[tranches]]\n[fees]\n[undertaker]\n"),
        deep_array,
        deep_table,
        deep_dotted,
        deep_header,
    ];
    for text in &inputs {
        let result = std::panic::catch_unwind(|| parse("x.toml", text, "x"));
        let preview: String = text.chars().take(80).collect();
        match result {
            Ok(Ok(_)) => panic!("should not load: {preview:?}"),
            Ok(Err(e)) => assert!(!e.problems.is_empty(), "{preview:?}"),
            Err(_) => panic!("panicked on {preview:?}"),
        }
    }
    // The largest TOML integer is a valid path count.
    let most = MINIMAL.replace("paths = 1000", "paths = 9223372036854775807");
    assert_eq!(
        parse("x.toml", &most, "x").unwrap().simulation.paths,
        9_223_372_036_854_775_807
    );
    // A huge sector list is refused before any n x n matrix is built.
    let many: Vec<String> = (0..5000).map(|i| format!("\"s{i}\"")).collect();
    let text = MINIMAL.replace(
        "sectors = [\"iot\"]",
        &format!("sectors = [\"iot\", {}]", many.join(", ")),
    );
    assert_problem(&text, "credit.sectors", "at most 1000 sectors", Some(12));
}

#[test]
fn load_reads_files_and_reports_io_errors() {
    let dir = std::env::temp_dir().join(format!("ipabs-scenario-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pledge-pool.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let s = super::load(&path).unwrap();
    assert_eq!(s.name, "pledge-pool");
    let missing = dir.join("nope.toml");
    let e = super::load(&missing).unwrap_err();
    assert_eq!(e.file, missing.display().to_string());
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].line, None);
    assert!(e.to_string().contains("cannot read the file"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mutated_scenarios_never_panic() {
    // A small deterministic generator (64-bit LCG) picks lines to drop, repeat or change.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap() % n
    };
    let values = [
        "-1",
        "0",
        "1",
        "1.5",
        "nan",
        "-inf",
        "1e400",
        "\"x\"",
        "\"\"",
        "[]",
        "[[]]",
        "{}",
        "true",
        "9223372036854775807",
        "-9223372036854775808",
        "\"-0.00\"",
        "[1, 2]",
        "{ a = 1 }",
        "1979-05-27",
    ];
    let lines: Vec<&str> = FULL.lines().collect();
    for _ in 0..3000 {
        let mut mutated: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        for _ in 0..1 + next(3) {
            let at = next(mutated.len());
            match next(4) {
                0 => {
                    mutated.remove(at);
                }
                1 => {
                    let copy = mutated[at].clone();
                    mutated.insert(at, copy);
                }
                _ => {
                    if let Some((key, _)) = mutated[at].split_once(" = ") {
                        mutated[at] = format!("{key} = {}", values[next(values.len())]);
                    }
                }
            }
            if mutated.is_empty() {
                break;
            }
        }
        let text = mutated.join("\n");
        let outcome = std::panic::catch_unwind(|| parse("m.toml", &text, "m"));
        match outcome {
            Err(_) => panic!("panicked on:\n{text}"),
            Ok(Err(e)) => {
                assert!(!e.problems.is_empty());
                for p in &e.problems {
                    assert!(!p.message.is_empty() && !p.message.contains('\n'), "{p:?}");
                }
            }
            Ok(Ok(_)) => {}
        }
    }
}

#[test]
fn report_table_reads_font_and_language() {
    use crate::model::Language;
    let s = parse("t.toml", MINIMAL, "t").unwrap();
    assert_eq!(s.report.language, Language::En);
    assert_eq!(s.report.font, None);
    let text = format!("{MINIMAL}\n[report]\nfont = \"fonts/wqy.ttc\"\nlanguage = \"zh\"\n");
    let s = parse("t.toml", &text, "t").unwrap();
    assert_eq!(s.report.language, Language::Zh);
    assert_eq!(
        s.report.font.as_deref(),
        Some(std::path::Path::new("fonts/wqy.ttc"))
    );
    let bad = format!("{MINIMAL}\n[report]\nlanguage = \"fr\"\n");
    assert_problem(&bad, "report.language", "must be \"en\" or \"zh\"", Some(21));
    let bad = format!("{MINIMAL}\n[report]\nlang = \"zh\"\n");
    assert_problem(&bad, "report.lang", "unknown key", None);
    let bad = format!("{MINIMAL}\n[report]\nfont = 3\n");
    assert_problem(&bad, "report.font", "string", None);
}

#[test]
fn load_resolves_the_font_against_the_scenario_folder() {
    let dir = std::env::temp_dir().join(format!("ipabs-scenario-font-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("with-font.toml");
    std::fs::write(&path, format!("{MINIMAL}\n[report]\nfont = \"f.ttf\"\n")).unwrap();
    let s = super::load(&path).unwrap();
    assert_eq!(s.report.font, Some(dir.join("f.ttf")));
    std::fs::remove_dir_all(&dir).unwrap();
}

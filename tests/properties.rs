//! Property tests: random valid scenarios never panic, keep the per-path invariants (cash
//! conservation, caps, shares, seniority, no NaN) and are monotone in the hazard on common random
//! numbers; random edits of valid files (truncation, inserted bytes, swapped values) never panic.

use ipabs::model::Scenario;
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner::{self, replay};
use proptest::prelude::*;

mod common;
use common::assert_no_null;

/// One party: share, cap (None = unlimited), principal only, own default, first firm only.
#[derive(Debug, Clone)]
struct PartySpec {
    cap: Option<f64>,
    principal_only: bool,
    own_pd: Option<(f64, bool)>,
    first_firm_only: bool,
}

#[derive(Debug, Clone)]
struct FirmSpec {
    principal: f64,
    rate: f64,
    level: bool,
    credit: (bool, f64),
    appraised: Option<f64>,
    sector: usize,
}

/// `[recovery]`: Beta parameters (or none: the fixed rate), fixed rate, lag, reimburse, value vol.
type RecoverySpec = (Option<(f64, f64)>, f64, u32, bool, Option<f64>);

#[derive(Debug, Clone)]
struct Spec {
    periods_per_year: u32,
    term: u32,
    t_dof: Option<f64>,
    rho: f64,
    sectors: usize,
    sector_corr: f64,
    recovery: Option<RecoverySpec>,
    firms: Vec<FirmSpec>,
    tiers: Vec<(Vec<f64>, Vec<PartySpec>)>,
    undertaker: Option<(Option<f64>, Option<f64>)>,
    tranches: Vec<(f64, f64, bool)>,
    fees: f64,
}

fn firm() -> impl Strategy<Value = FirmSpec> {
    (
        prop_oneof![Just(0.01), Just(1000.0), Just(2.5e6), Just(1e13)],
        prop_oneof![Just(0.0), Just(0.05), Just(0.3)],
        any::<bool>(),
        (
            any::<bool>(),
            prop_oneof![Just(0.0), Just(0.01), Just(0.3), Just(0.999999999999), Just(5.0)],
        ),
        prop_oneof![Just(None), Just(Some(0.0)), Just(Some(1.3)), Just(Some(40.0))],
        0usize..3,
    )
        .prop_map(|(principal, rate, level, (pd, x), appraised, sector)| FirmSpec {
            principal,
            rate,
            level,
            // An annual PD must stay below 1; 5.0 is only a hazard.
            credit: (pd && x < 1.0, x),
            appraised: appraised.map(|m| m * principal),
            sector,
        })
}

fn party() -> impl Strategy<Value = PartySpec> {
    (
        prop_oneof![Just(None), Just(Some(0.0)), Just(Some(0.05)), Just(Some(3.0))],
        any::<bool>(),
        prop_oneof![Just(None), Just(Some((0.3, false))), Just(Some((0.3, true)))],
        any::<bool>(),
    )
        .prop_map(|(cap, principal_only, own_pd, first_firm_only)| PartySpec {
            cap,
            principal_only,
            own_pd,
            first_firm_only,
        })
}

fn tier() -> impl Strategy<Value = (Vec<f64>, Vec<PartySpec>)> {
    prop_oneof![Just(vec![1.0]), Just(vec![0.5, 0.5]), Just(vec![0.4, 0.4, 0.2])].prop_flat_map(|shares| {
        let n = shares.len();
        (Just(shares), prop::collection::vec(party(), n))
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (prop_oneof![Just(1u32), Just(4), Just(12)], 1u32..7),
        prop_oneof![Just(None), Just(Some(2.1)), Just(Some(5.0))],
        prop_oneof![Just(0.0), Just(0.3), Just(0.999)],
        (1usize..4, prop_oneof![Just(0.0), Just(0.5), Just(1.0)]),
        prop_oneof![
            Just(None),
            (
                prop_oneof![Just(None), Just(Some((2.0, 3.0))), Just(Some((0.5, 0.7)))],
                prop_oneof![Just(0.0), Just(0.4), Just(1.0)],
                0u32..4,
                any::<bool>(),
                prop_oneof![Just(None), Just(Some(0.5))],
            )
                .prop_map(Some)
        ],
        prop::collection::vec(firm(), 1..6),
        prop::collection::vec(tier(), 0..3),
        prop_oneof![
            Just(None),
            (
                prop_oneof![Just(None), Just(Some(0.0)), Just(Some(0.1))],
                prop_oneof![Just(None), Just(Some(0.2))]
            )
                .prop_map(Some)
        ],
        prop::collection::vec(
            (
                prop_oneof![Just(0.2), Just(0.5)],
                prop_oneof![Just(0.0), Just(0.03), Just(0.2)],
                any::<bool>(),
            ),
            0..3,
        ),
        prop_oneof![Just(0.0), Just(0.01)],
    )
        .prop_map(
            |(
                (m, term),
                t_dof,
                rho,
                (sectors, sector_corr),
                recovery,
                firms,
                tiers,
                undertaker,
                tranches,
                fees,
            )| {
                Spec {
                    periods_per_year: m,
                    term,
                    t_dof,
                    rho,
                    sectors,
                    sector_corr,
                    recovery,
                    firms,
                    tiers,
                    undertaker,
                    tranches,
                    fees,
                }
            },
        )
}

/// The scenario file for `spec` (always valid).
fn toml(spec: &Spec) -> String {
    let pool: f64 = spec.firms.iter().map(|f| f.principal).sum();
    let mut s = format!(
        "[deal]\nperiods_per_year = {}\nterm_periods = {}\n[simulation]\npaths = 300\nseed = 1\n[credit]\n",
        spec.periods_per_year, spec.term
    );
    if let Some(dof) = spec.t_dof {
        s += &format!("copula = \"t\"\ndof = {dof}\n");
    }
    let sectors: Vec<String> = (0..spec.sectors).map(|i| format!("\"s{i}\"")).collect();
    s += &format!(
        "asset_correlation = {}\nsectors = [{}]\nsector_correlation = {}\n",
        spec.rho,
        sectors.join(", "),
        spec.sector_corr
    );
    if let Some((beta, rate, lag, reimburse, vol)) = &spec.recovery {
        s += "[recovery]\n";
        match beta {
            Some((a, b)) => s += &format!("beta = {{ a = {a}, b = {b} }}\n"),
            None => s += &format!("rate = {rate}\n"),
        }
        s += &format!("lag_periods = {lag}\nreimburse_guarantors = {reimburse}\n");
        if let Some(v) = vol {
            s += &format!("value_vol = {v}\n");
        }
    }
    for (i, f) in spec.firms.iter().enumerate() {
        s += &format!(
            "[[firms]]\nid = \"F{i}\"\nsector = \"s{}\"\nprincipal = {:?}\nrate = {}\namortisation = \"{}\"\n",
            f.sector % spec.sectors,
            f.principal,
            f.rate,
            if f.level { "level" } else { "bullet" }
        );
        s += &if f.credit.0 {
            format!("annual_pd = {}\n", f.credit.1)
        } else {
            format!("hazard = {}\n", f.credit.1)
        };
        if let Some(v) = f.appraised {
            s += &format!("patents = {{ invention = 1, appraised_value = {v:?} }}\n");
        }
    }
    for (t, (shares, parties)) in spec.tiers.iter().enumerate() {
        s += &format!("[[tiers]]\nname = \"t{t}\"\nparties = [\n");
        for (p, (share, party)) in shares.iter().zip(parties).enumerate() {
            s += &format!("  {{ name = \"p{t}{p}\", share = {share}");
            if let Some(c) = party.cap {
                s += &format!(", cap = {:?}", c * pool);
            }
            if party.principal_only {
                s += ", principal_only = true";
            }
            if let Some((pd, sector)) = party.own_pd {
                s += &format!(", annual_pd = {pd}");
                if sector {
                    s += ", sector = \"s0\"";
                }
            }
            if party.first_firm_only {
                s += ", firms = [\"F0\"]";
            }
            s += " },\n";
        }
        s += "]\n";
    }
    if let Some((cap, pd)) = spec.undertaker {
        s += "[undertaker]\n";
        if let Some(c) = cap {
            s += &format!("cap = {:?}\n", c * pool);
        }
        if let Some(pd) = pd {
            s += &format!("annual_pd = {pd}\nsector = \"s0\"\n");
        }
    }
    // Tranche notionals: shares of what is left of the pool, so the total never exceeds it.
    let mut left = pool;
    for (j, (frac, coupon, level)) in spec.tranches.iter().enumerate() {
        let notional = left * frac;
        left -= notional;
        s += &format!(
            "[[tranches]]\nname = \"T{j}\"\nnotional = {notional:?}\ncoupon = {coupon}\namortisation = \"{}\"\n",
            if *level { "level" } else { "bullet" }
        );
    }
    s += &format!("[fees]\nannual_rate = {}\n", spec.fees);
    s
}

fn check_invariants(s: &Scenario) {
    let plan = Plan::new(s);
    let scale: f64 = s.firms.iter().map(|f| f64::try_from(f.principal).unwrap()).sum();
    let tol = 1e-9 * scale.max(1.0) * (1.0 + s.deal.term_periods as f64);
    let caps: Vec<Option<f64>> = s
        .parties()
        .map(|(_, p)| p.cap.map(|c| f64::try_from(c).unwrap()))
        .collect();
    let bullets = s
        .tranches
        .iter()
        .all(|t| t.amortisation == ipabs::model::Amortisation::Bullet);
    let notionals: Vec<f64> = s
        .tranches
        .iter()
        .map(|t| f64::try_from(t.notional).unwrap())
        .collect();
    replay(&plan, 1, 300, |i, sc| {
        let o = &sc.outcome;
        for x in [
            o.pool_loss,
            o.gross_default_loss,
            o.missed,
            o.guarantor_paid,
            o.recovered,
            o.undertaker_draw,
        ] {
            assert!(x.is_finite(), "path {i}: non-finite output");
        }
        let out = o.fees_paid + o.interest_paid + o.principal_paid + o.residual;
        assert!(
            (o.collections - out).abs() <= tol,
            "path {i}: cash in {} != out {out}",
            o.collections
        );
        assert!(o.guarantor_paid <= o.missed + tol);
        for (po, cap) in o.parties.iter().zip(&caps) {
            if let Some(c) = cap {
                assert!(po.payout <= c * (1.0 + 1e-12) + tol, "path {i}: cap exceeded");
            }
            assert!(po.payout <= po.obligation + tol, "path {i}: share exceeded");
        }
        for (t, n) in o.tranches.iter().zip(&notionals) {
            assert!(t.principal_loss >= 0.0 && t.principal_loss <= n + tol);
            assert!(t.interest_shortfall >= 0.0);
        }
        if bullets {
            for (pair, junior_notional) in o.tranches.windows(2).zip(notionals.iter().skip(1)) {
                if pair[0].principal_loss > tol {
                    assert!(
                        (pair[1].principal_loss - junior_notional).abs() <= tol,
                        "path {i}: seniority"
                    );
                }
            }
        }
    });
    let sim = runner::simulate(&plan, 300, 1, 2, &runner::Silent).unwrap();
    let summary = Summary::new(s, sim, String::new(), 0.0);
    assert_no_null(&serde_json::to_value(&summary).unwrap(), "");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_scenarios_keep_the_invariants(spec in spec()) {
        let text = toml(&spec);
        let s = ipabs::scenario::parse("random.toml", &text, "random")
            .unwrap_or_else(|e| panic!("generated scenario rejected: {e}\n{text}"));
        check_invariants(&s);
    }

    #[test]
    fn higher_hazards_never_lower_missed_payments(spec in spec(), mult in 1.0f64..4.0) {
        let text = toml(&spec);
        let lo = ipabs::scenario::parse("random.toml", &text, "random").unwrap();
        let mut hi = lo.clone();
        for f in &mut hi.firms {
            f.credit = ipabs::model::CreditInput::Hazard(f.credit.hazard() * mult);
        }
        let mut missed = Vec::new();
        replay(&Plan::new(&lo), 3, 200, |_, s| missed.push((s.outcome.missed, s.outcome.defaults)));
        replay(&Plan::new(&hi), 3, 200, |i, s| {
            let (m, d) = missed[i as usize];
            assert!(s.outcome.defaults >= d, "path {i}: fewer defaults at higher hazard");
            assert!(s.outcome.missed >= m * (1.0 - 1e-12) - 1e-9, "path {i}: fewer missed payments");
        });
    }

    #[test]
    fn edited_files_never_panic(cut in 0usize..6000, at in 0usize..6000, junk in "\\PC{0,12}", which in 0usize..6) {
        let files = [
            "scenarios/yuhang-2023.toml",
            "scenarios/chongqing-hechuan-22222.toml",
            "scenarios/yongjia-collective-20.toml",
            "tests/data/stressed.toml",
            "tests/data/hand-pledge.toml",
            "scenarios/bench/peer-pool.toml",
        ];
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(files[which]);
        let text = std::fs::read_to_string(path).unwrap();
        let floor = |mut i: usize| { i = i.min(text.len()); while !text.is_char_boundary(i) { i -= 1; } i };
        // Truncated, and with random characters inserted somewhere.
        let truncated = &text[..floor(cut)];
        let (a, b) = text.split_at(floor(at));
        let inserted = format!("{a}{junk}{b}");
        for edited in [truncated.to_owned(), inserted] {
            if let Ok(s) = ipabs::scenario::parse("edited.toml", &edited, "edited") {
                let plan = Plan::new(&s);
                let sim = runner::simulate(&plan, 64, 1, 1, &runner::Silent).unwrap();
                let _ = Summary::new(&s, sim, String::new(), 0.0);
            }
        }
    }
}

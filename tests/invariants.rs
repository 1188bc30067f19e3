//! Per-path invariants over a whole run of a stressed deal, replaying the very paths the runner
//! simulates: cash is conserved, no party pays above its cap or its share, and a junior tranche
//! loses before a senior one.

mod common;

use ipabs::model::Scenario;
use ipabs::plan::Plan;
use ipabs::runner::replay;

fn stressed() -> Scenario {
    let path = common::data("stressed.toml");
    ipabs::scenario::load(&path).expect("stressed.toml loads")
}

/// Relative tolerance for sums of a few dozen f64 terms of size ~1e7.
const TOL: f64 = 1e-6;

#[test]
fn every_path_keeps_the_invariants() {
    let scenario = stressed();
    let plan = Plan::new(&scenario);
    let parties: Vec<_> = scenario.parties().map(|(_, p)| p.clone()).collect();
    let senior = scenario.tranches[0].notional.try_into().unwrap_or(0.0f64);
    let junior_notional: f64 = scenario.tranches[1].notional.try_into().unwrap_or(0.0);
    let mut seen = Seen::default();

    replay(
        &plan,
        scenario.simulation.seed,
        scenario.simulation.paths,
        |i, s| {
            let o = &s.outcome;
            // Cash in (firm payments + guarantors + recoveries kept + undertaker) equals cash out
            // (fees + interest + principal + residual).
            let paid_out = o.fees_paid + o.interest_paid + o.principal_paid + o.residual;
            assert!(
                (o.collections - paid_out).abs() <= TOL,
                "path {i}: cash in {} vs out {paid_out}",
                o.collections
            );
            // Loss identities.
            assert!(
                (o.pool_loss - (o.missed - o.guarantor_paid - (o.recovered - o.reimbursed))).abs() <= TOL
            );
            assert!(
                o.guarantor_paid <= o.missed + TOL,
                "path {i}: guarantors paid more than was missed"
            );
            assert!(o.reimbursed <= o.recovered + TOL && o.reimbursed <= o.guarantor_paid + TOL);
            let total_paid: f64 = o.parties.iter().map(|p| p.payout).sum();
            assert!((total_paid - o.guarantor_paid).abs() <= TOL);
            // Caps and shares.
            for (p, (po, party)) in o.parties.iter().zip(&parties).enumerate() {
                if let Some(cap) = party.cap {
                    let cap: f64 = cap.try_into().unwrap();
                    assert!(
                        po.payout <= cap * (1.0 + 1e-12) + TOL,
                        "path {i}: party {p} paid {} over cap {cap}",
                        po.payout
                    );
                }
                assert!(
                    po.payout <= po.obligation + TOL,
                    "path {i}: party {p} paid above its share"
                );
                assert!(po.net_payout >= -TOL && po.net_payout <= po.payout + TOL);
                seen.cap_bound |= po.cap_exhausted;
            }
            // Seniority: both tranches are bullets, so any senior principal loss means the junior
            // received no principal at all.
            let (sr, jr) = (&o.tranches[0], &o.tranches[1]);
            if sr.principal_loss > TOL {
                assert!(
                    (jr.principal_loss - junior_notional).abs() <= TOL,
                    "path {i}: junior repaid while senior lost"
                );
                seen.senior_loss = true;
            }
            if jr.principal_loss > TOL {
                seen.junior_loss = true;
            }
            assert!(sr.principal_loss <= senior + TOL);
            seen.undertaker |= o.undertaker_draw > 0.0;
            seen.defaults |= o.defaults > 1;
        },
    );
    // The scenario is stressed enough to exercise every branch checked above.
    assert!(
        seen.cap_bound && seen.junior_loss && seen.undertaker && seen.defaults,
        "{seen:?}"
    );
    assert!(seen.senior_loss, "no path reached the senior tranche: {seen:?}");
}

#[derive(Debug, Default)]
struct Seen {
    cap_bound: bool,
    senior_loss: bool,
    junior_loss: bool,
    undertaker: bool,
    defaults: bool,
}

//! Model features checked against closed forms or exact symmetries, through the library and the
//! very paths the runner simulates: the Student-t copula keeps the marginal default probability,
//! a perfectly correlated pair of sectors is one sector, and the patent-value shock is a
//! mean-one martingale without wrong-way dependence but lowers recoveries with it.

use ipabs::model::Scenario;
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner::{self, replay};
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

/// A pool of `n` identical one-period firms of 1,000,000 with no interest, written as TOML.
fn pool(
    n: usize,
    pd: f64,
    credit: &str,
    recovery: &str,
    patents: &str,
    sector_of: impl Fn(usize) -> &'static str,
) -> String {
    let mut s = format!(
        "[deal]\nperiods_per_year = 1\nterm_periods = 1\n[simulation]\npaths = 100000\nseed = 3\n[credit]\n{credit}\n{recovery}\n"
    );
    for i in 0..n {
        s += &format!(
            "[[firms]]\nid = \"F{i}\"\nsector = \"{}\"\nprincipal = 1000000\nannual_pd = {pd}\n{patents}\n",
            sector_of(i)
        );
    }
    s
}

fn parse(text: &str) -> Scenario {
    ipabs::scenario::parse("test.toml", text, "test").unwrap_or_else(|e| panic!("{e}"))
}

fn summary(s: &Scenario) -> Summary {
    let plan = Plan::new(s);
    let sim = runner::simulate(&plan, s.simulation.paths, s.simulation.seed, 0, &runner::Silent).unwrap();
    Summary::new(s, sim, String::new(), 0.0)
}

/// `∫ (1 - p(z))^N φ(z) dz`, one Gaussian factor, by Simpson's rule (error far below 1e-10).
fn p_no_default_gaussian(n: i32, p: f64, rho: f64) -> f64 {
    let g = Normal::standard();
    let c = g.inverse_cdf(p);
    let f = |z: f64| (1.0 - g.cdf((c - rho.sqrt() * z) / (1.0 - rho).sqrt())).powi(n) * g.pdf(z);
    let (a, b, m) = (-12.0, 12.0, 24_000);
    let h = (b - a) / f64::from(m);
    let mut s = f(a) + f(b);
    for i in 1..m {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + f64::from(i) * h);
    }
    s * h / 3.0
}

#[test]
fn student_t_copula_keeps_marginal_pd_and_fattens_the_joint_tail() {
    let (n, pd) = (25usize, 0.04);
    let t = parse(&pool(
        n,
        pd,
        "copula = \"t\"\ndof = 3\nasset_correlation = 0.25\nsectors = [\"a\"]",
        "",
        "",
        |_| "a",
    ));
    let g = parse(&pool(
        n,
        pd,
        "asset_correlation = 0.25\nsectors = [\"a\"]",
        "",
        "",
        |_| "a",
    ));
    let (st, sg) = (summary(&t), summary(&g));
    // E[defaults] = N p under either copula: the t marginal is used for the thresholds.
    for s in [&st, &sg] {
        let (m, se) = (s.defaults.mean, s.defaults.se_mean);
        assert!(
            (m - n as f64 * pd).abs() <= 4.0 * se,
            "mean defaults {m} (se {se})"
        );
    }
    // The t copula with 3 dof puts more mass on many joint defaults at the same correlation.
    let q = |s: &Summary| s.defaults.quantiles["0.999"];
    assert!(
        q(&st) > q(&sg),
        "t 99.9% defaults {} vs Gaussian {}",
        q(&st),
        q(&sg)
    );
}

#[test]
fn perfectly_correlated_sectors_act_as_one_factor() {
    // Two sectors with correlation 1 (a singular matrix, factored by eigen-decomposition) must
    // give the one-factor P(no default).
    let (n, pd, rho) = (12usize, 0.05, 0.3);
    let s = parse(&pool(
        n,
        pd,
        "asset_correlation = 0.3\nsectors = [\"a\", \"b\"]\nsector_correlation = 1.0",
        "",
        "",
        |i| if i % 2 == 0 { "a" } else { "b" },
    ));
    let sum = summary(&s);
    let expect = p_no_default_gaussian(n as i32, pd, rho);
    let got = 1.0 - sum.p_any_default;
    let se = (expect * (1.0 - expect) / sum.paths as f64).sqrt();
    assert!(
        (got - expect).abs() <= 4.0 * se,
        "P(no default) {got} vs {expect} (se {se})"
    );
}

/// Mean recovery per default with the patent-value shock. With rate 1% of an appraised value
/// equal to the claim, `min(0.01 V shock, claim)` never binds (it would need shock > 100).
fn recovery_per_default(rho: f64) -> (f64, f64) {
    let s = parse(&pool(
        30,
        0.2,
        &format!("asset_correlation = {rho}\nsectors = [\"a\"]"),
        "[recovery]\nrate = 0.01\nvalue_vol = 0.6",
        "patents = { invention = 1, appraised_value = 1000000 }",
        |_| "a",
    ));
    let plan = Plan::new(&s);
    let (mut sum, mut sum2, mut count) = (0.0, 0.0, 0u64);
    replay(&plan, 11, 40_000, |_, scratch| {
        for d in scratch.defaults() {
            let r = d.recovery / 10_000.0; // the shock itself
            sum += r;
            sum2 += r * r;
            count += 1;
        }
    });
    let mean = sum / count as f64;
    let var = sum2 / count as f64 - mean * mean;
    (mean, (var / count as f64).sqrt())
}

#[test]
fn patent_value_shock_is_mean_one_without_wrong_way_risk() {
    // rho = 0: the firm's default is independent of its sector factor, so E[shock | default] = 1.
    // (Defaults within a path are then independent too, so the per-default standard error is
    // the plain one.)
    let (m, se) = recovery_per_default(0.0);
    assert!((m - 1.0).abs() <= 4.0 * se, "E[shock | default] = {m} (se {se})");
    // rho = 0.5: defaults happen when the sector factor is low, and so does the patent value.
    let (m_wrong, _) = recovery_per_default(0.5);
    assert!(
        m_wrong < 1.0 - 10.0 * se,
        "wrong-way shock mean {m_wrong} should be well below 1"
    );
}

/// Common random numbers: with every hazard raised, the same streams make every firm that
/// defaulted still default, no later, on every path; so missed payments never fall and the
/// expected pool loss rises.
#[test]
fn higher_hazards_on_common_random_numbers_never_lower_losses() {
    let base = ipabs::scenario::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/stressed.toml"),
    )
    .unwrap();
    let mut stressed = base.clone();
    for f in &mut stressed.firms {
        f.credit = ipabs::model::CreditInput::Hazard(f.credit.hazard() * 1.5);
    }
    let (lo, hi) = (Plan::new(&base), Plan::new(&stressed));
    let paths = 20_000;
    let mut lo_paths = Vec::with_capacity(paths as usize);
    replay(&lo, 17, paths, |_, s| {
        lo_paths.push((s.defaults().to_vec(), s.outcome.missed, s.outcome.pool_loss))
    });
    let (mut sum_lo, mut sum_hi) = (0.0, 0.0);
    replay(&hi, 17, paths, |i, s| {
        let (defaults, missed, loss) = &lo_paths[i as usize];
        for d in defaults {
            let again = s.defaults().iter().find(|e| e.firm == d.firm);
            assert!(
                again.is_some_and(|e| e.period <= d.period),
                "path {i}: firm {} no longer defaults",
                d.firm
            );
        }
        assert!(s.outcome.missed >= missed - 1e-6, "path {i}: missed fell");
        sum_lo += loss;
        sum_hi += s.outcome.pool_loss;
    });
    assert!(sum_hi > sum_lo, "expected pool loss fell: {sum_hi} vs {sum_lo}");
}

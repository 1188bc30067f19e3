//! Unit tests of the analytic engine against independent oracles: the binomial law, exact
//! marginals, and brute-force integrals.

use rust_decimal::Decimal;
use statrs::distribution::{Continuous, ContinuousCDF, Normal, StudentsT};

use super::*;
use crate::model::Copula;

fn homogeneous(n: usize, pd: f64, rho: f64, lgd: i64, copula: Copula) -> Pool {
    let firms = (0..n)
        .map(|_| PoolFirm::single(0, rho, pd, Decimal::from(lgd)))
        .collect();
    Pool::new(copula, &[1.0], 1, firms, n as f64 * 100.0)
}

fn binomial_pmf(n: u64, p: f64, k: u64) -> f64 {
    use statrs::distribution::{Binomial, Discrete};
    Binomial::new(p, n).unwrap().pmf(k)
}

#[test]
fn rho_zero_is_the_binomial() {
    for (n, p) in [(14usize, 0.03), (100, 0.05), (1000, 0.01)] {
        let pool = homogeneous(n, p, 0.0, 60, Copula::Gaussian);
        let s = lattice::solve(&pool, &Settings::default()).unwrap();
        assert_eq!(s.info.nodes, 1);
        assert_eq!(s.info.unit, 60.0);
        for k in 0..=n {
            let want = binomial_pmf(n as u64, p, k as u64);
            assert!(
                (s.defaults[k] - want).abs() < 1e-12,
                "n {n} k {k}: {} vs {want}",
                s.defaults[k]
            );
            assert!((s.loss[k] - want).abs() < 1e-12);
        }
    }
}

#[test]
fn probabilities_sum_to_one_and_mean_is_p_times_lgd() {
    let cases = [
        (homogeneous(50, 0.02, 0.2, 60, Copula::Gaussian), "gaussian"),
        (
            homogeneous(30, 0.05, 0.3, 45, Copula::StudentT { dof: 5.0 }),
            "t5",
        ),
        (
            homogeneous(200, 0.01, 0.1, 1, Copula::StudentT { dof: 3.0 }),
            "t3",
        ),
    ];
    for (pool, what) in cases {
        let s = lattice::solve(&pool, &Settings::default()).unwrap();
        let d = LatticeDistribution::new(s.info.unit, s.loss.clone());
        assert!((d.total() - 1.0).abs() < 1e-12, "{what}: total {}", d.total());
        let el = pool.expected_loss();
        assert!(
            (d.mean() - el).abs() < 1e-12 * el,
            "{what}: mean {} vs {el}",
            d.mean()
        );
        let dd = LatticeDistribution::new(1.0, s.defaults.clone());
        assert!((dd.total() - 1.0).abs() < 1e-12);
    }
}

/// Heterogeneous exposures in two correlated sectors: the lattice unit is the gcd, the mean
/// is exact, and the distribution sums to 1.
#[test]
fn heterogeneous_two_sector_pool() {
    let firms = vec![
        PoolFirm::single(0, 0.2, 0.03, Decimal::from(60_000)),
        PoolFirm::single(0, 0.2, 0.05, Decimal::from(45_000)),
        PoolFirm::single(1, 0.1, 0.02, Decimal::from(90_000)),
        PoolFirm::single(1, 0.25, 0.08, Decimal::from(30_000)),
    ];
    let pool = Pool::new(Copula::Gaussian, &[1.0, 0.4, 0.4, 1.0], 2, firms, 400_000.0);
    let s = lattice::solve(&pool, &Settings::default()).unwrap();
    assert_eq!(s.info.unit, 15_000.0);
    assert!(s.info.exact);
    assert_eq!(s.info.factor_dims, 2);
    let d = LatticeDistribution::new(s.info.unit, s.loss.clone());
    assert!((d.total() - 1.0).abs() < 1e-12);
    assert!((d.mean() - pool.expected_loss()).abs() < 1e-12 * pool.expected_loss());
    // P(no loss) by a brute-force double integral over the two correlated factors.
    let nd = Normal::standard();
    let c = 0.4f64;
    let p0 = |z1: f64, z2: f64| {
        let f1 = z1;
        let f2 = c * z1 + (1.0 - c * c).sqrt() * z2;
        let cond =
            |pd: f64, rho: f64, f: f64| nd.cdf((nd.inverse_cdf(pd) - rho.sqrt() * f) / (1.0 - rho).sqrt());
        (1.0 - cond(0.03, 0.2, f1))
            * (1.0 - cond(0.05, 0.2, f1))
            * (1.0 - cond(0.02, 0.1, f2))
            * (1.0 - cond(0.08, 0.25, f2))
    };
    let (a, b, m) = (-9.0, 9.0, 600);
    let h = (b - a) / m as f64;
    let mut total = 0.0;
    for i in 0..=m {
        for j in 0..=m {
            let wi = if i == 0 || i == m {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            let wj = if j == 0 || j == m {
                1.0
            } else if j % 2 == 1 {
                4.0
            } else {
                2.0
            };
            let (z1, z2) = (a + h * i as f64, a + h * j as f64);
            total += wi * wj * p0(z1, z2) * nd.pdf(z1) * nd.pdf(z2);
        }
    }
    total *= h * h / 9.0;
    assert!(
        (s.loss[0] - total).abs() < 1e-10,
        "P(L=0) {} vs brute force {total}",
        s.loss[0]
    );
}

/// The t copula against a brute-force double integral over the factor and W: P(no default)
/// and P(all default) of a small pool.
#[test]
fn student_t_matches_brute_force() {
    let (n, pd, rho, nu) = (5usize, 0.04, 0.25, 4.0);
    let pool = homogeneous(n, pd, rho, 1, Copula::StudentT { dof: nu });
    let s = lattice::solve(&pool, &Settings::default()).unwrap();
    let nd = Normal::standard();
    let t = StudentsT::new(0.0, 1.0, nu).unwrap();
    let th = t.inverse_cdf(pd);
    let chi = statrs::distribution::ChiSquared::new(nu).unwrap();
    // E over z and W of the conditional probability p(z, s)^k (1 - p)^(n-k), by Simpson on
    // z in [-10, 10] and on v = sqrt(W) in [0, 11] (W = v^2, dW = 2 v dv: the integrand is
    // smooth in v, not in W).
    let brute = |k: i32, mz: usize, mw: usize| {
        let (za, zb, wa, wb) = (-10.0, 10.0, 0.0, 11.0);
        let (hz, hw) = ((zb - za) / mz as f64, (wb - wa) / mw as f64);
        let simpson_w = |i: usize, m: usize| {
            if i == 0 || i == m {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            }
        };
        let mut total = 0.0;
        for j in 0..=mw {
            let v = wa + hw * j as f64;
            let w = v * v;
            let dw = if w == 0.0 { 0.0 } else { chi.pdf(w) * 2.0 * v };
            if dw == 0.0 {
                continue;
            }
            let sc = (w / nu).sqrt();
            for i in 0..=mz {
                let z = za + hz * i as f64;
                let p = nd.cdf((th * sc - rho.sqrt() * z) / (1.0 - rho).sqrt());
                let f = p.powi(k) * (1.0 - p).powi(n as i32 - k);
                total += simpson_w(i, mz) * simpson_w(j, mw) * f * nd.pdf(z) * dw;
            }
        }
        total * hz * hw / 9.0
    };
    // Simpson with 800 x 4000 intervals: halving the steps moves P(all) by 2e-9 relative,
    // so the brute force is good to well below 1e-9 here.
    let p_none = brute(0, 800, 4000);
    let p_all = brute(n as i32, 800, 4000);
    assert!(
        (s.loss[0] - p_none).abs() < 1e-11,
        "P(0) {} vs {p_none}",
        s.loss[0]
    );
    assert!(
        (s.loss[n] - p_all).abs() < 1e-9 * p_all,
        "P(all) {} vs {p_all}",
        s.loss[n]
    );
}

/// Period-dependent losses: a firm that defaults in period 1 loses 2 units, in period 2 one
/// unit. With rho = 0 the distribution is exact: P(2) = p1, P(1) = p2 - p1.
#[test]
fn period_dependent_loss_of_one_firm() {
    let firm = PoolFirm {
        sector: 0,
        rho: 0.0,
        cumulative_pd: vec![0.1, 0.25],
        loss: vec![Decimal::from(200), Decimal::from(100)],
    };
    let pool = Pool::new(Copula::Gaussian, &[1.0], 1, vec![firm], 200.0);
    let s = lattice::solve(&pool, &Settings::default()).unwrap();
    assert_eq!(s.info.unit, 100.0);
    assert!((s.loss[0] - 0.75).abs() < 1e-15);
    assert!((s.loss[1] - 0.15).abs() < 1e-15);
    assert!((s.loss[2] - 0.10).abs() < 1e-15);
    assert!((s.defaults[1] - 0.25).abs() < 1e-15);
}

/// A lattice too fine for the budget is coarsened, with the stated rounding bound.
#[test]
fn coarse_lattice_reports_its_rounding_bound() {
    let firms = vec![
        PoolFirm::single(0, 0.0, 0.1, Decimal::new(1_000_001, 2)),
        PoolFirm::single(0, 0.0, 0.1, Decimal::new(999_999, 2)),
    ];
    let pool = Pool::new(Copula::Gaussian, &[1.0], 1, firms, 20_000.0);
    let settings = Settings {
        max_points: 1000,
        ..Settings::default()
    };
    let s = lattice::solve(&pool, &settings).unwrap();
    assert!(!s.info.exact);
    assert!(s.loss.len() <= 1000);
    // Each firm's loss moved by at most half a unit.
    assert!(
        s.info.rounding_bound <= s.info.unit + 1e-9,
        "bound {} unit {}",
        s.info.rounding_bound,
        s.info.unit
    );
    let d = LatticeDistribution::new(s.info.unit, s.loss.clone());
    assert!((d.mean() - pool.expected_loss()).abs() <= 0.1 * s.info.rounding_bound + 1e-9);
}

#[test]
fn lhp_is_the_limit_of_large_pools() {
    let (pd, rho) = (0.02, 0.2);
    let pool = homogeneous(1000, pd, rho, 60, Copula::Gaussian);
    let lhp = lhp_of(&pool).unwrap();
    assert!((lhp.lgd - 0.6).abs() < 1e-12);
    let s = lattice::solve(&pool, &Settings::default()).unwrap();
    let d = LatticeDistribution::new(s.info.unit, s.loss.clone());
    // The 99% quantile of the loss fraction: finite pool within 5% of the limit.
    let finite = d.quantile(0.99) / pool.notional;
    let limit = lhp.quantile(0.99);
    assert!((finite - limit).abs() < 0.05 * limit, "{finite} vs {limit}");
}

/// The quadrature resolves large pools: halving the step moves no probability by more than
/// 1e-6 of the largest one (a coarse Gauss–Hermite rule leaves ripples of several percent in
/// P(defaults >= k) of a 1,000-firm pool).
#[test]
fn halving_the_step_changes_nothing_visible() {
    for (n, pd, rho, copula) in [
        (1000usize, 0.01, 0.3, Copula::Gaussian),
        (40, 0.03, 0.2, Copula::StudentT { dof: 5.0 }),
    ] {
        let pool = homogeneous(n, pd, rho, 60, copula);
        let a = lattice::solve(&pool, &Settings::default()).unwrap();
        let fine = Settings {
            resolution_scale: 0.5,
            ..Settings::default()
        };
        let b = lattice::solve(&pool, &fine).unwrap();
        let top = a.defaults.iter().copied().fold(0.0, f64::max);
        let worst = a
            .defaults
            .iter()
            .zip(&b.defaults)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-6 * top, "n {n}: max change {worst:e} of {top:e}");
    }
}

//! The exact loss lattice and the conditional convolution.
//!
//! **Lattice.** Every per-firm loss `L_i(k)` is rounded to whole cents and the lattice unit `u`
//! is the greatest common divisor of all of them, so every pool loss is an exact multiple of
//! `u` and its distribution is a vector of probabilities indexed by `loss / u`. If that vector
//! would be longer than the point budget, the unit is coarsened to `u' = c · u` and each loss is
//! rounded to the nearest multiple of `u'`; then every path's loss is off by at most
//! `Σ_i max_k |L_i(k) − round(L_i(k))|` (the `rounding_bound`, reported; 0 on an exact lattice,
//! apart from the rounding to cents, which is also counted).
//!
//! **Conditional independence.** Given the sector factors `Z = A z` and, under the t copula,
//! the scale `s = sqrt(W / ν)`, firms default independently:
//!
//! ```text
//! P(τ_i ≤ t_k | z, s) = Φ((T_ik s − sqrt(ρ_i) Z_s(i)) / sqrt(1 − ρ_i)),   T_ik = F⁻¹(P_ik),
//! ```
//!
//! (`s = 1` under the Gaussian copula). The conditional loss distribution is the convolution of
//! the firms' conditional outcome distributions (no default, or default in period `k` with loss
//! `L_i(k)`); firms with the same sector, loading, thresholds and losses form a group, and a
//! group whose loss does not depend on the default period is one conditional binomial. The
//! unconditional distribution is the quadrature-weighted sum over the nodes.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::normal;
use super::pool::{Pool, Unsupported};
use super::quadrature::{Rule, chi_square_scale_with, gauss_hermite, normal_trapezoid};
use crate::credit::Marginal;
use crate::model::Copula;

/// Settings of the analytic computation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Gauss–Hermite nodes per sector factor with one factor; with `d` factors the per-factor
    /// count is reduced (see [`Settings::hermite_nodes`]).
    pub hermite_nodes_one_factor: usize,
    /// Trapezoid nodes for the chi-square mixing variable of the t copula.
    pub mixing_nodes: usize,
    /// Largest lattice (number of loss points) before the unit is coarsened.
    pub max_points: usize,
    /// Upper bound on the estimated operation count.
    pub max_work: f64,
    /// Multiplies the resolving quadrature step (1 by default; 0.5 halves it, for tests).
    pub resolution_scale: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hermite_nodes_one_factor: 96,
            mixing_nodes: 96,
            max_points: 1 << 20,
            max_work: 2e11,
            resolution_scale: 1.0,
        }
    }
}

/// Most sector factors integrated on a product grid.
pub const MAX_FACTORS: usize = 4;

impl Settings {
    /// Gauss–Hermite nodes per factor with `dims` factors: the one-factor count, then 48, 24, 16.
    pub fn hermite_nodes(&self, dims: usize) -> usize {
        match dims {
            0 => 1,
            1 => self.hermite_nodes_one_factor,
            2 => 48,
            3 => 24,
            _ => 16,
        }
    }
}

/// The unconditional distributions of the pool loss and of the number of defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Solved {
    /// `loss[j]` = P(loss = j · unit).
    pub loss: Vec<f64>,
    /// `defaults[k]` = P(k defaults within the term).
    pub defaults: Vec<f64>,
    /// The lattice and quadrature behind them.
    pub info: SolvedInfo,
}

/// Quadrature and lattice facts of a solution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolvedInfo {
    /// Lattice unit in money.
    pub unit: f64,
    /// Whether the lattice holds every loss exactly (to the cent).
    pub exact: bool,
    /// Largest possible difference between a path's lattice loss and its true loss, in money.
    pub rounding_bound: f64,
    /// Number of quadrature nodes (product of all rules).
    pub nodes: usize,
    /// Sector factors integrated.
    pub factor_dims: usize,
    /// Nodes per factor.
    pub hermite_nodes: usize,
    /// The rule per factor: `"gauss-hermite"` or `"trapezoid"` (see [`resolution`]).
    pub factor_rule: &'static str,
    /// Mixing nodes (1 under the Gaussian copula).
    pub mixing_nodes: usize,
}

/// A group of identical firms.
#[derive(Debug, Clone)]
struct Group {
    count: usize,
    sector: usize,
    load: f64,
    idio: f64,
    /// `T_ik` for each period.
    thresholds: Vec<f64>,
    /// Marginal cumulative probabilities (used when the firm carries no factor and s = 1).
    cumulative_pd: Vec<f64>,
    /// Loss in lattice units for a default in each period.
    units: Vec<usize>,
    /// Whether `units` is the same for every period.
    constant: bool,
}

/// Whole cents of a non-negative money amount.
fn cents(x: Decimal) -> u128 {
    (x * Decimal::ONE_HUNDRED)
        .round()
        .max(Decimal::ZERO)
        .to_u128()
        .unwrap_or(0)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The lattice: unit in cents, each firm's per-period units, exactness and rounding bound.
struct Lattice {
    unit_cents: u128,
    units: Vec<Vec<usize>>,
    exact: bool,
    rounding_bound: f64,
    points: usize,
}

fn lattice(pool: &Pool, max_points: usize) -> Lattice {
    let cents_of: Vec<Vec<u128>> = pool
        .firms
        .iter()
        .map(|f| f.loss.iter().map(|l| cents(*l)).collect())
        .collect();
    let cent_rounding: f64 = pool
        .firms
        .iter()
        .map(|f| {
            f.loss
                .iter()
                .map(|l| ((*l * Decimal::ONE_HUNDRED).round() - *l * Decimal::ONE_HUNDRED).abs())
                .max()
                .and_then(|d| d.to_f64())
                .unwrap_or(0.0)
                / 100.0
        })
        .sum();
    let g = cents_of.iter().flatten().fold(0u128, |g, &c| gcd(g, c));
    let max_total: u128 = cents_of
        .iter()
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .sum();
    if g == 0 {
        return Lattice {
            unit_cents: 1,
            units: cents_of.iter().map(|c| vec![0; c.len()]).collect(),
            exact: cent_rounding == 0.0,
            rounding_bound: cent_rounding,
            points: 1,
        };
    }
    let budget = max_points.max(2) as u128 - 1;
    let (unit, exact) = if max_total / g <= budget {
        (g, true)
    } else {
        // Coarsen: the smallest multiple of g whose lattice fits (rounding may push the top up
        // by at most one unit per firm, so leave room for that).
        let firms = pool.firms.len() as u128;
        let target = budget.saturating_sub(firms).max(1);
        let c = max_total.div_ceil(g * target).max(2);
        (g * c, false)
    };
    let mut bound = cent_rounding;
    let units: Vec<Vec<usize>> = cents_of
        .iter()
        .map(|c| {
            let mut worst = 0u128;
            let u: Vec<usize> = c
                .iter()
                .map(|&x| {
                    let q = (x + unit / 2) / unit;
                    worst = worst.max((q * unit).abs_diff(x));
                    q as usize
                })
                .collect();
            bound += worst as f64 / 100.0;
            u
        })
        .collect();
    let points = units
        .iter()
        .map(|u| u.iter().copied().max().unwrap_or(0))
        .sum::<usize>()
        + 1;
    Lattice {
        unit_cents: unit,
        units,
        exact: exact && cent_rounding == 0.0,
        rounding_bound: bound,
        points,
    }
}

/// `F⁻¹(p)`: the accurate [`normal::inverse`] under the Gaussian copula.
fn threshold(marginal: &Marginal, p: f64) -> f64 {
    match marginal {
        Marginal::Gaussian => normal::inverse(p),
        Marginal::StudentT(_) => marginal.inverse(p),
    }
}

/// Groups identical firms (same sector, loading, thresholds and units), in first-seen order.
fn groups(pool: &Pool, units: &[Vec<usize>], marginal: &Marginal) -> Vec<Group> {
    let mut index: BTreeMap<(usize, u64, Vec<u64>, Vec<usize>), usize> = BTreeMap::new();
    let mut out: Vec<Group> = Vec::new();
    for (f, u) in pool.firms.iter().zip(units) {
        let key = (
            f.sector,
            f.rho.to_bits(),
            f.cumulative_pd.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
            u.clone(),
        );
        if let Some(&g) = index.get(&key) {
            out[g].count += 1;
            continue;
        }
        index.insert(key, out.len());
        out.push(Group {
            count: 1,
            sector: f.sector,
            load: f.rho.sqrt(),
            idio: (1.0 - f.rho).max(0.0).sqrt(),
            thresholds: f.cumulative_pd.iter().map(|&p| threshold(marginal, p)).collect(),
            cumulative_pd: f.cumulative_pd.clone(),
            constant: u.windows(2).all(|w| w[0] == w[1]),
            units: u.clone(),
        });
    }
    out
}

/// The independent normals that carry correlation: columns `j` of `A` with a non-zero entry in
/// the row of a sector holding a firm with `rho > 0`.
fn active_factors(pool: &Pool) -> Vec<usize> {
    let s = pool.loadings.sectors();
    let mut used = vec![false; s];
    for f in &pool.firms {
        if f.rho > 0.0 && f.pd() > 0.0 {
            used[f.sector] = true;
        }
    }
    (0..s)
        .filter(|&j| (0..s).any(|i| used[i] && pool.loadings.get(i, j) != 0.0))
        .collect()
}

/// The binomial(n, p) probabilities, computed from the mode outwards by the ratio recurrence
/// and normalised to sum to 1; terms below `1e-300` of the mode are dropped (set to 0).
fn binomial(n: usize, p: f64, out: &mut Vec<f64>) {
    out.clear();
    out.resize(n + 1, 0.0);
    if p <= 0.0 {
        out[0] = 1.0;
        return;
    }
    if p >= 1.0 {
        out[n] = 1.0;
        return;
    }
    let mode = (((n + 1) as f64) * p).floor().min(n as f64) as usize;
    let odds = p / (1.0 - p);
    out[mode] = 1.0;
    for k in mode..n {
        let next = out[k] * ((n - k) as f64 / (k + 1) as f64) * odds;
        if next < 1e-300 {
            break;
        }
        out[k + 1] = next;
    }
    for k in (1..=mode).rev() {
        let prev = out[k] * (k as f64 / (n - k + 1) as f64) / odds;
        if prev < 1e-300 {
            break;
        }
        out[k - 1] = prev;
    }
    let total: f64 = out.iter().sum();
    for x in out.iter_mut() {
        *x /= total;
    }
}

/// Scratch buffers for one node.
struct Work {
    dist: Vec<f64>,
    next: Vec<f64>,
    count: Vec<f64>,
    count_next: Vec<f64>,
    pmf: Vec<f64>,
    outcome: Vec<f64>,
}

/// `dst = src ⊛ (pmf at stride)`, where `pmf[j]` is the probability of `j · stride` more;
/// `len` is the support length of `src`; returns the new support length.
fn convolve_stride(src: &[f64], len: usize, pmf: &[f64], stride: usize, dst: &mut [f64]) -> usize {
    let new_len = len + (pmf.len() - 1) * stride;
    dst[..new_len].iter_mut().for_each(|x| *x = 0.0);
    for (j, &b) in pmf.iter().enumerate() {
        if b == 0.0 {
            continue;
        }
        let off = j * stride;
        for (d, s) in dst[off..off + len].iter_mut().zip(&src[..len]) {
            *d += s * b;
        }
    }
    new_len
}

/// The spacing that resolves the conditional distribution: moving a factor by `h` moves the
/// conditional mean number of defaults of `n` firms by about `n p'(z) h`, with
/// `p'(z) ≤ 0.8 sqrt(p (1 − p)) sqrt(ρ / (1 − ρ))`; asking for two fifths of the conditional
/// standard deviation `sqrt(n p (1 − p))` gives `h = 0.5 / (sqrt(n) sqrt(ρ / (1 − ρ)))`, `n`
/// the largest number of firms in one sector. For the mixing variable (`u = ln(W / 2)`,
/// `dp/du = φ(x) T s / 2`) the same reasoning with `|T s| / 2 ≲ 1` gives `h = 0.5 / sqrt(n)`.
/// Coarser grids make the exact distribution ripple around the truth in large pools (a mixture
/// of too few narrow conditional binomials); the unit tests check that halving `h` moves no
/// probability by more than `1e-6` of the largest one.
fn resolution(groups: &[Group]) -> (f64, f64) {
    let mut per_sector: BTreeMap<usize, usize> = BTreeMap::new();
    for g in groups {
        *per_sector.entry(g.sector).or_default() += g.count;
    }
    let n = per_sector.values().copied().max().unwrap_or(1);
    let ratio = groups
        .iter()
        .filter(|g| g.idio > 0.0)
        .map(|g| g.load / g.idio)
        .fold(0.0f64, f64::max);
    let root_n = (n.max(1) as f64).sqrt();
    let hz = if ratio > 0.0 {
        0.5 / (root_n * ratio)
    } else {
        f64::INFINITY
    };
    (hz, 0.5 / root_n)
}

/// The rule per factor dimension and the mixing rule: Gauss–Hermite while its central spacing
/// resolves the conditional distribution (see [`resolution`]), else the trapezoid rule at the
/// resolving step.
fn rules(pool: &Pool, groups: &[Group], dims: usize, settings: &Settings) -> (Rule, Rule) {
    let (hz, hu) = resolution(groups);
    let (hz, hu) = (hz * settings.resolution_scale, hu * settings.resolution_scale);
    let z = if dims == 0 {
        Rule::point(0.0)
    } else {
        let gh = gauss_hermite(settings.hermite_nodes(dims));
        let mid = gh.len() / 2;
        let spacing = if gh.len() > 1 {
            gh.nodes[mid] - gh.nodes[mid - 1]
        } else {
            f64::INFINITY
        };
        if hz < spacing { normal_trapezoid(hz) } else { gh }
    };
    let mix = match pool.copula {
        Copula::Gaussian => Rule::point(1.0),
        Copula::StudentT { dof } => chi_square_scale_with(dof, settings.mixing_nodes, hu),
    };
    (z, mix)
}

/// Solves `pool` on the default settings' quadrature.
///
/// # Errors
/// [`Unsupported::TooManyFactors`] or [`Unsupported::TooExpensive`].
pub fn solve(pool: &Pool, settings: &Settings) -> Result<Solved, Unsupported> {
    let marginal = pool.marginal();
    let lat = lattice(pool, settings.max_points);
    let groups = groups(pool, &lat.units, &marginal);
    let dims_idx = active_factors(pool);
    let dims = dims_idx.len();
    if dims > MAX_FACTORS {
        return Err(Unsupported::TooManyFactors {
            dims,
            max: MAX_FACTORS,
        });
    }
    let (gh, mix) = rules(pool, &groups, dims, settings);
    let nodes = gh.len().pow(dims as u32) * mix.len();
    let firms = pool.firms.len();
    let max_defaults = firms;
    // Work per node: each group convolves its outcomes into the running support.
    let per_node: f64 = groups
        .iter()
        .map(|g| {
            let outcomes = if g.constant {
                g.count + 1
            } else {
                g.count * (g.units.len() + 1)
            };
            lat.points as f64 * outcomes as f64 + (max_defaults as f64) * (g.count as f64 + 1.0)
        })
        .sum();
    let work = per_node * nodes as f64;
    if work > settings.max_work {
        return Err(Unsupported::TooExpensive {
            work,
            nodes,
            points: lat.points,
            firms,
            limit: settings.max_work,
        });
    }

    // Every node of the product grid: weight, scale s and the sector factors Z = A z.
    let sectors = pool.loadings.sectors();
    let mut grid = Grid {
        weights: Vec::with_capacity(nodes),
        scales: Vec::with_capacity(nodes),
        factors: Vec::with_capacity(nodes * sectors),
        sectors,
    };
    let mut z = vec![0.0; sectors];
    let mut factors = vec![0.0; sectors];
    let mut idx = vec![0usize; dims];
    'grid: loop {
        let mut weight = 1.0;
        z.iter_mut().for_each(|x| *x = 0.0);
        for (d, &j) in dims_idx.iter().enumerate() {
            z[j] = gh.nodes[idx[d]];
            weight *= gh.weights[idx[d]];
        }
        pool.loadings.apply(&z, &mut factors);
        for (s, ws) in mix.nodes.iter().zip(&mix.weights) {
            grid.weights.push(weight * ws);
            grid.scales.push(*s);
            grid.factors.extend_from_slice(&factors);
        }
        let mut d = 0;
        loop {
            if d == dims {
                break 'grid;
            }
            idx[d] += 1;
            if idx[d] < gh.len() {
                break;
            }
            idx[d] = 0;
            d += 1;
        }
    }
    let gaussian = matches!(pool.copula, Copula::Gaussian);
    let mut groups = groups;
    for g in groups.iter_mut() {
        if !(g.load == 0.0 && gaussian) && g.idio > 0.0 {
            for k in 0..g.thresholds.len() {
                g.thresholds[k] = calibrate(g, k, &grid);
            }
        }
    }

    let mut loss = vec![0.0; lat.points];
    let mut defaults = vec![0.0; max_defaults + 1];
    let mut w = Work {
        dist: vec![0.0; lat.points],
        next: vec![0.0; lat.points],
        count: vec![0.0; max_defaults + 1],
        count_next: vec![0.0; max_defaults + 1],
        pmf: Vec::new(),
        outcome: Vec::new(),
    };
    let mut cond = vec![0.0; groups.iter().map(|g| g.thresholds.len()).max().unwrap_or(0)];
    for node in 0..grid.weights.len() {
        let weight = grid.weights[node];
        let s = grid.scales[node];
        let factors = grid.factors_of(node);
        w.dist[0] = 1.0;
        let mut len = 1;
        w.count[0] = 1.0;
        let mut clen = 1;
        for g in &groups {
            // Conditional cumulative default probabilities by the end of each period.
            for (k, c) in cond.iter_mut().enumerate().take(g.thresholds.len()) {
                *c = if g.load == 0.0 && gaussian {
                    g.cumulative_pd[k]
                } else {
                    conditional(g.thresholds[k], s, g.load * factors[g.sector], g.idio)
                };
            }
            let periods = g.thresholds.len();
            let p_term = if periods > 0 { cond[periods - 1] } else { 0.0 };
            binomial(g.count, p_term, &mut w.pmf);
            clen = convolve_stride(&w.count, clen, &w.pmf, 1, &mut w.count_next);
            std::mem::swap(&mut w.count, &mut w.count_next);
            if g.constant {
                let stride = g.units.first().copied().unwrap_or(0);
                if stride == 0 {
                    continue;
                }
                len = convolve_stride(&w.dist, len, &w.pmf, stride, &mut w.next);
                std::mem::swap(&mut w.dist, &mut w.next);
            } else {
                // One firm at a time: outcome j has probability P(default in period j).
                let top = g.units.iter().copied().max().unwrap_or(0);
                w.outcome.clear();
                w.outcome.resize(top + 1, 0.0);
                w.outcome[0] = 1.0 - p_term;
                let mut prev = 0.0;
                for (k, &u) in g.units.iter().enumerate() {
                    w.outcome[u] += (cond[k] - prev).max(0.0);
                    prev = cond[k].max(prev);
                }
                for _ in 0..g.count {
                    len = convolve_stride(&w.dist, len, &w.outcome, 1, &mut w.next);
                    std::mem::swap(&mut w.dist, &mut w.next);
                }
            }
        }
        for (acc, x) in loss.iter_mut().zip(&w.dist[..len]) {
            *acc += weight * x;
        }
        for (acc, x) in defaults.iter_mut().zip(&w.count[..clen]) {
            *acc += weight * x;
        }
    }
    Ok(Solved {
        loss,
        defaults,
        info: SolvedInfo {
            unit: lat.unit_cents as f64 / 100.0,
            exact: lat.exact,
            rounding_bound: lat.rounding_bound,
            nodes,
            factor_dims: dims,
            hermite_nodes: if dims == 0 { 1 } else { gh.len() },
            factor_rule: if gh.len() > 1
                && (gh.nodes[1] - gh.nodes[0] - (gh.nodes[gh.len() - 1] - gh.nodes[gh.len() - 2])).abs()
                    < 1e-12
            {
                "trapezoid"
            } else {
                "gauss-hermite"
            },
            mixing_nodes: mix.len(),
        },
    })
}

/// The quadrature nodes, flattened.
struct Grid {
    weights: Vec<f64>,
    scales: Vec<f64>,
    /// `sectors` values per node.
    factors: Vec<f64>,
    sectors: usize,
}

impl Grid {
    fn factors_of(&self, node: usize) -> &[f64] {
        &self.factors[node * self.sectors..(node + 1) * self.sectors]
    }
}

/// `P(Y ≤ t | factor, s) = Φ((t s − loaded factor) / idio)`, with the limits of infinite
/// thresholds and of `idio = 0` (`ρ = 1`: a step).
fn conditional(t: f64, s: f64, loaded: f64, idio: f64) -> f64 {
    if t == f64::NEG_INFINITY {
        return 0.0;
    }
    if t == f64::INFINITY {
        return 1.0;
    }
    let x = t * s - loaded;
    if idio == 0.0 {
        return if x >= 0.0 { 1.0 } else { 0.0 };
    }
    normal::cdf(x / idio)
}

/// The threshold `T'` for which the quadrature reproduces the marginal exactly:
/// `Σ_nodes w Φ((T' s − √ρ Z) / √(1 − ρ)) = P_k`, by Newton's method from `T = F⁻¹(P_k)`.
///
/// The copula threshold `F⁻¹(P_k)` gives the marginal only up to the quadrature error and the
/// error of the inverse CDF (`statrs`' `Φ⁻¹` is good to about `1e-10` relative); matching the
/// marginal on the grid makes `E[L] = Σ_i p_i LGD_i` hold to rounding while leaving the
/// dependence structure as integrated.
fn calibrate(g: &Group, k: usize, grid: &Grid) -> f64 {
    let target = g.cumulative_pd[k];
    let mut t = g.thresholds[k];
    if !t.is_finite() || target <= 0.0 || target >= 1.0 {
        return t;
    }
    for _ in 0..8 {
        let (mut f, mut df) = (crate::stats::CompensatedSum::new(), 0.0);
        for node in 0..grid.weights.len() {
            let s = grid.scales[node];
            let x = (t * s - g.load * grid.factors_of(node)[g.sector]) / g.idio;
            f.add(grid.weights[node] * normal::cdf(x));
            df += grid.weights[node] * normal::pdf(x) * s / g.idio;
        }
        let err = f.total() - target;
        if df <= 0.0 || !df.is_finite() {
            break;
        }
        let step = err / df;
        t -= step;
        if step.abs() <= 1e-15 * t.abs().max(1.0) {
            break;
        }
    }
    t
}

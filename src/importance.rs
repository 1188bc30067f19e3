//! Importance sampling: a mean shift of the path's standard normals (and, on small pools, a
//! twist of the firms' conditional default probabilities), its likelihood ratio, and the
//! automatic choice of both for a metric's tail.
//!
//! A pure module: no I/O and no threads; randomness enters only through generators handed in.
//!
//! **The tilt.** A path draws independent standard normals in the order of [`crate::path`]:
//! the `S` sector normals `z` (the factors are `Z = A z`), one `eps_i` per firm, one `eta_p` per
//! guarantor party with an own default and one for an undertaker with an own default. These are
//! the *coordinates* of the tilt, indexed `[factors 0..S | firms S..S+N | parties S+N..S+N+P |
//! undertaker S+N+P]` (a party without an own default draws nothing; its shift is 0). Under
//! importance sampling each drawn normal `x_j` becomes `y_j = x_j + mu_j`, i.e. `y ~ N(mu, I)`
//! instead of `N(0, I)`; the stream of draws is unchanged, so results stay thread-count
//! invariant. The path carries the likelihood ratio of the nominal to the sampling density,
//!
//! ```text
//! w = phi(y) / phi(y - mu) = exp(-mu·y + |mu|^2 / 2) = exp(-mu·x - |mu|^2 / 2),
//! ```
//!
//! and every estimate is `E[h(Y)] = E_mu[w h(Y)]` (see [`crate::stats::weighted`]). Shifting the
//! sector normals is Glasserman & Li's first step (Glasserman & Li 2005, "Importance sampling for
//! portfolio credit risk", *Management Science* 51(11)); shifting the firms' `eps_i` and the
//! parties' `eta_p` plays the part of their second step (raising the conditional default
//! probabilities `P(default | z)`, here by a shift of the idiosyncratic normal, which is exact
//! for any path function and keeps the draws in order). On a pool of a dozen firms the second
//! step matters: a senior loss needs a guarantor's own default, which no factor shift can make
//! likely, since the guarantors of the flagship are independent of the factors.
//!
//! **The automatic shift** ([`cross_entropy`]) is the cross-entropy method for a Gaussian mean
//! (Rubinstein & Kroese 2004, *The Cross-Entropy Method*; de Boer, Kroese, Mannor & Rubinstein
//! 2005): the zero-variance sampling density of an estimate `E[h]` is `g* ∝ h phi`, and the mean
//! shift closest to `g*` in Kullback–Leibler divergence is its mean,
//!
//! ```text
//! mu* = E[h(Y) Y] / E[h(Y)],   estimated as   mu = sum_i w_i h_i y_i / sum_i w_i h_i
//! ```
//!
//! over pilot paths drawn under the current shift. With `h = 1{tail}` this is the mean of the
//! normals given the tail, which for a one-factor pool is Glasserman & Li's mode of
//! `P(tail | z) phi(z)` up to the curvature of `P(tail | z)`. `h` is the metric's indicator
//! (a probability), its value (a mean of a non-negative loss), or the indicator of exceeding the
//! current estimate of the quantile (a quantile or an ES). A tail too rare for the pilot is
//! reached in levels: while fewer than `rho N` pilot paths are in it, `h` is the indicator of
//! the `rho N` most severe paths, ranked by the metric's value and then by pool loss, guarantor
//! shortfall and missed payments.
//!
//! **A mixture of shifts** ([`mixture_steps`]), after the single shift: a tail reached by
//! several routes (on the flagship, the district guarantor's own default with one large firm
//! default, or many firm defaults without it) is covered badly by one mean. The pilot's tail
//! paths are grouped by route (which guarantors' and the undertaker's own defaults they hold),
//! each route gets its own cross-entropy shift `mu_k` and a weight `pi_k` by its share of the
//! tail, and a zero shift of weight 0.1 is added (Hesterberg's defensive mixture). Each path
//! then draws one uniform `u` *before its first normal* (only when the tilt is a mixture; one
//! shift and plain runs draw nothing more) and uses the first component with
//! `u < pi_1 + ... + pi_k`; its weight is the nominal over the mixture density,
//!
//! ```text
//! w = phi(y) / sum_k pi_k phi(y - mu_k) = 1 / sum_k pi_k exp(mu_k·y - |mu_k|^2 / 2) <= 1 / pi_0,
//! ```
//!
//! whichever component drew it. The pilot uses its own streams ([`Pilot::seed`]) and runs on
//! one thread in path order, so the shift depends on the seed only.
//!
//! **Twisting the firms' defaults** ([`TiltState::condition`]; pools of at most
//! [`Pilot::MAX_IDIOSYNCRATIC`] firms, every metric). A mean shift of the firms' normals makes
//! the firms it favours default often and lowers the density of every other combination of
//! defaults: a tail that is a union of many combinations (on the flagship, any firms whose
//! scheduled payments add up past the guarantors' caps) gets weights above 1 off the favoured
//! corner, which is what held the mixture of shifts to ~4x on the municipal guarantor's 99.9%
//! payout quantile. So each route's component instead keeps the firms' normals unshifted and
//! twists their default indicators given the factors (Glasserman & Li's second step as they
//! state it): with `p_i(z)` firm `i`'s conditional default probability over the term and `c_i`
//! its scheduled payments,
//!
//! ```text
//! q_ki(z) = p_i e^{theta c_i} / (1 - p_i + p_i e^{theta c_i}),   sum_i c_i q_ki(z) = x_k,
//! ```
//!
//! where `x_k` is the route's cross-entropy statistic: the mean defaulted exposure
//! `sum_i c_i 1{i defaults}` of its tail paths (`theta = 0` where the factors already give
//! that much). The weight of a path depends on which firms defaulted only through
//! `theta c_i`, i.e. through the defaulted exposure, so every combination reaching the tail
//! gets about the same weight. A firm's normal is drawn from the same nominal draw `x`
//! (`u = Phi(x)`): `Phi^-1(u p / q)` if `u < q` (a default, with the nominal law given a
//! default, so its default period and recovery keep theirs), else
//! `Phi^-1(p + (u - q)(1 - p) / (1 - q))`; the stream of draws does not change. Component
//! `k`'s density over the nominal one is `exp(mu_k·y - |mu_k|^2 / 2)` over the factor and
//! party normals times `prod_i (q_ki / p_i)^{D_i} ((1 - q_ki) / (1 - p_i))^{1 - D_i}`, and the
//! weight is the nominal density over the mixture's as above. On the flagship (24 runs of
//! 200,000 paths, `benches/README.md`) this lowers the variance of the municipal payout's
//! 99.9% quantile ~280x below plain Monte Carlo (from ~3-5x without the twist), and of
//! P(senior loss > 0) and the senior EL far more than the shifts did; a path costs ~3x more
//! (`Phi`, `Phi^-1` and the solve for `theta` per component). On larger pools the firms keep
//! their nominal law (the factors alone are shifted): there one `theta` solve over all firms
//! per component and path would cost more than it saves.

use std::fmt;

use rand::{Rng, RngExt, SeedableRng};

use crate::model::Scenario;
use crate::path::{PathOutcome, Scratch, simulate_path};
use crate::plan::Plan;
use crate::stats::weighted::{WeightSums, weighted_quantile};

/// One normal the path draws, as a coordinate of the tilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coord {
    /// Sector normal `z_j`.
    Factor(usize),
    /// Firm `i`'s `eps_i`.
    Firm(usize),
    /// Party `p`'s `eta_p` (report order).
    Party(usize),
    /// The undertaker's `eta`.
    Undertaker,
}

/// The number of coordinates of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub factors: usize,
    pub firms: usize,
    pub parties: usize,
}

impl Dims {
    /// The coordinates of `plan`.
    pub fn of(plan: &Plan) -> Dims {
        Dims {
            factors: plan.sectors(),
            firms: plan.firms.len(),
            parties: plan.parties(),
        }
    }

    /// The coordinates of `scenario` (the same as its plan's).
    pub fn of_scenario(scenario: &Scenario) -> Dims {
        Dims {
            factors: scenario.credit.sectors.len(),
            firms: scenario.firms.len(),
            parties: scenario.parties().count(),
        }
    }

    /// `S + N + P + 1`.
    pub fn len(&self) -> usize {
        self.factors + self.firms + self.parties + 1
    }

    /// Never: there is always the undertaker's coordinate.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Index of `c`.
    #[inline]
    pub fn index(&self, c: Coord) -> usize {
        match c {
            Coord::Factor(j) => j,
            Coord::Firm(i) => self.factors + i,
            Coord::Party(p) => self.factors + self.firms + p,
            Coord::Undertaker => self.factors + self.firms + self.parties,
        }
    }
}

/// Why a shift cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TiltError {
    #[error(
        "the shift has {got} values; give {factors} (one per sector) or {full} (sectors, firms, parties, undertaker)"
    )]
    Length { got: usize, factors: usize, full: usize },
    #[error("shift value {index} is not finite")]
    NotFinite { index: usize },
    #[error("shift value {index} is for {what}, which has no own default (so draws nothing): it must be 0")]
    Undrawn { index: usize, what: String },
    #[error(
        "shift value {index} is {value}: a shift beyond ±{max} standard deviations gives useless weights"
    )]
    TooLarge { index: usize, value: f64, max: f64 },
}

/// A mean shift `mu` of the path's normals, or a defensive mixture of shifts (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Tilt {
    dims: Dims,
    shift: Vec<f64>,
    /// `|mu|^2 / 2`.
    half_norm_sq: f64,
    /// A mixture's components `(pi_k, mu_k)`, the first being `shift`; empty for one shift.
    mixture: Vec<Component>,
}

/// One component of a mixture of shifts: drawn with probability `weight`, it shifts the
/// normals by `shift`.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub weight: f64,
    pub shift: Vec<f64>,
    /// The twist of the firms' defaults given the factors: the target `x_k` of the expected
    /// defaulted exposure `sum_i c_i q_i(z)` (see [`TiltState::condition`]); `None`: the firms'
    /// defaults keep their nominal conditional probabilities (and their normals `shift`).
    pub twist: Option<f64>,
    /// `ln pi_k - |mu_k|^2 / 2`.
    log_offset: f64,
}

impl Tilt {
    /// Largest `|mu_j|` accepted.
    pub const MAX_SHIFT: f64 = 8.0;

    /// The tilt `shift` for `plan`: `S` values (the sector normals only) or one per coordinate.
    ///
    /// # Errors
    /// [`TiltError`] for a wrong length, a non-finite or huge value, or a non-zero shift of a
    /// party or undertaker that draws no normal.
    pub fn new(plan: &Plan, shift: &[f64]) -> Result<Tilt, TiltError> {
        let dims = Dims::of(plan);
        let drawn_party: Vec<bool> = plan.party_defaults.iter().map(Option::is_some).collect();
        Tilt::checked(dims, shift, &drawn_party, plan.undertaker_default.is_some())
    }

    /// [`Tilt::new`] from what draws: `drawn_party[p]`, `drawn_undertaker`.
    fn checked(
        dims: Dims,
        shift: &[f64],
        drawn_party: &[bool],
        drawn_undertaker: bool,
    ) -> Result<Tilt, TiltError> {
        let mut full = vec![0.0; dims.len()];
        if shift.len() == dims.factors {
            full[..dims.factors].copy_from_slice(shift);
        } else if shift.len() == dims.len() {
            full.copy_from_slice(shift);
        } else {
            return Err(TiltError::Length {
                got: shift.len(),
                factors: dims.factors,
                full: dims.len(),
            });
        }
        for (index, &v) in full.iter().enumerate() {
            if !v.is_finite() {
                return Err(TiltError::NotFinite { index });
            }
            if v.abs() > Tilt::MAX_SHIFT {
                return Err(TiltError::TooLarge {
                    index,
                    value: v,
                    max: Tilt::MAX_SHIFT,
                });
            }
        }
        for (p, drawn) in drawn_party.iter().enumerate() {
            let index = dims.index(Coord::Party(p));
            if !drawn && full[index] != 0.0 {
                return Err(TiltError::Undrawn {
                    index,
                    what: format!("party {}", p + 1),
                });
            }
        }
        let index = dims.index(Coord::Undertaker);
        if !drawn_undertaker && full[index] != 0.0 {
            return Err(TiltError::Undrawn {
                index,
                what: "the undertaker".into(),
            });
        }
        Ok(Tilt::from_full(dims, full))
    }

    /// Checks a shift against a scenario (for the loader): as [`Tilt::new`] on its plan.
    ///
    /// # Errors
    /// As [`Tilt::new`].
    pub fn check_for_scenario(scenario: &Scenario, shift: &[f64]) -> Result<(), TiltError> {
        let drawn: Vec<bool> = scenario.parties().map(|(_, p)| p.own_default.is_some()).collect();
        let undertaker = scenario
            .undertaker
            .as_ref()
            .is_some_and(|u| u.own_default.is_some());
        Tilt::checked(Dims::of_scenario(scenario), shift, &drawn, undertaker).map(|_| ())
    }

    fn from_full(dims: Dims, shift: Vec<f64>) -> Tilt {
        let half_norm_sq = half_norm_sq(&shift);
        Tilt {
            dims,
            shift,
            half_norm_sq,
            mixture: Vec::new(),
        }
    }

    /// The mixture `sum_k pi_k N(mu_k, I)` of `parts = [(pi_k, mu_k)]` (full-length shifts; the
    /// weights are normalised, components of weight 0 dropped). One component is a plain shift.
    fn from_mixture(dims: Dims, parts: Vec<Part>) -> Tilt {
        let total: f64 = parts.iter().map(|p| p.weight).sum();
        let mut mixture: Vec<Component> = parts
            .into_iter()
            .filter(|p| p.weight > 0.0)
            .map(|p| Component {
                weight: p.weight / total,
                log_offset: (p.weight / total).ln() - half_norm_sq(&p.shift),
                shift: p.shift,
                twist: p.twist,
            })
            .collect();
        let mut tilt = Tilt::from_full(dims, mixture[0].shift.clone());
        if mixture.len() > 1 || mixture[0].twist.is_some() {
            tilt.mixture = std::mem::take(&mut mixture);
        }
        tilt
    }

    /// Whether a component twists the firms' conditional default probabilities.
    pub fn twists(&self) -> bool {
        self.mixture.iter().any(|c| c.twist.is_some())
    }

    /// Whether every `mu_j` of every component is 0 (then the run is plain Monte Carlo).
    pub fn is_zero(&self) -> bool {
        self.components()
            .iter()
            .all(|c| c.twist.is_none() && c.shift.iter().all(|&m| m == 0.0))
    }

    /// `mu`, one value per coordinate (a mixture's first component).
    pub fn shift(&self) -> &[f64] {
        &self.shift
    }

    /// The components `(pi_k, mu_k)`: one of weight 1 for a single shift.
    pub fn components(&self) -> std::borrow::Cow<'_, [Component]> {
        if self.mixture.is_empty() {
            std::borrow::Cow::Owned(vec![Component {
                weight: 1.0,
                shift: self.shift.clone(),
                twist: None,
                log_offset: -self.half_norm_sq,
            }])
        } else {
            std::borrow::Cow::Borrowed(&self.mixture)
        }
    }

    /// The coordinates.
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// `|mu|`.
    pub fn norm(&self) -> f64 {
        (2.0 * self.half_norm_sq).sqrt()
    }
}

/// A mixture component being built: weight, shift and twist target (see [`Component`]).
#[derive(Debug, Clone, PartialEq)]
struct Part {
    weight: f64,
    shift: Vec<f64>,
    twist: Option<f64>,
}

/// `|mu|^2 / 2`.
fn half_norm_sq(shift: &[f64]) -> f64 {
    0.5 * shift.iter().map(|m| m * m).sum::<f64>()
}

/// `(q, ln(1 - p + p e^t))` for `q = p e^t / (1 - p + p e^t)`, the default probability `p`
/// twisted by `t`: then `ln(q / p) = t - ln(..)` and `ln((1 - q) / (1 - p)) = -ln(..)`.
fn twisted_probability(p: f64, t: f64) -> (f64, f64) {
    if t < 20.0 {
        let m = p * t.exp_m1();
        (p * t.exp() / (1.0 + m), m.ln_1p())
    } else {
        // Large t (no overflow): 1 - p + p e^t = p e^t (1 + r), r = (1 - p) e^{-t} / p.
        let r = (1.0 - p) / p * (-t).exp();
        (1.0 / (1.0 + r), p.ln() + t + r.ln_1p())
    }
}

/// The twist `theta >= 0` with `sum_i c_i q_i(theta) = x` for `q_i` of [`twisted_probability`]
/// at `t = theta c_i` (only firms with `0 < p_i < 1` are twisted): 0 when `sum_i c_i p_i >= x`;
/// safeguarded Newton steps on a bracket, to 1e-4 of `x` (any `theta` gives a valid sampling
/// law; the precision only tunes it). When even every firm defaulting falls short of `x`,
/// `THETA_MAX / x`.
fn twist_theta(p: &[f64], c: &[f64], x: f64) -> f64 {
    const THETA_MAX: f64 = 64.0;
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    // In units of x: a_i = c_i / x, target 1.
    let f = |theta: f64| -> (f64, f64) {
        let (mut v, mut dv) = (-1.0, 0.0);
        for (&pi, &ci) in p.iter().zip(c) {
            if pi > 0.0 && pi < 1.0 {
                let a = ci / x;
                // q = p e^t / (1 - p + p e^t), one exp (the bracket keeps t <= THETA_MAX a).
                let e = (theta * a).exp();
                let q = if e.is_finite() {
                    pi * e / (1.0 - pi + pi * e)
                } else {
                    1.0
                };
                v += a * q;
                dv += a * a * q * (1.0 - q);
            } else if pi >= 1.0 {
                v += ci / x;
            }
        }
        (v, dv)
    };
    let (v0, dv0) = f(0.0);
    if v0 >= 0.0 {
        return 0.0;
    }
    // As theta grows every twisted firm defaults: sum over p_i > 0 of a_i is the supremum.
    let reachable: f64 = p
        .iter()
        .zip(c)
        .filter(|(p, _)| **p > 0.0)
        .map(|(_, c)| c / x)
        .sum();
    if reachable <= 1.0 + 1e-4 {
        return THETA_MAX / x;
    }
    let (mut lo, mut hi) = (0.0, THETA_MAX);
    let (mut theta, mut v, mut dv) = (0.0, v0, dv0);
    for _ in 0..100 {
        let newton = theta - v / dv;
        theta = if dv > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        (v, dv) = f(theta);
        if v.abs() < 1e-4 || hi - lo < 1e-9 * hi {
            break;
        }
        if v < 0.0 {
            lo = theta;
        } else {
            hi = theta;
        }
    }
    theta / x
}

/// The normal `x` redrawn so that it falls below `Phi^-1(p)` with probability `q` (keeping its
/// nominal distribution on each side): with `u = Phi(x)`, `Phi^-1(u p / q)` if `u < q`, else
/// `Phi^-1(p + (u - q)(1 - p) / (1 - q))`.
fn twisted_normal(x: f64, p: f64, q: f64) -> f64 {
    use crate::analytic::normal::cdf;
    use statrs::distribution::{ContinuousCDF, Normal};
    let u = cdf(x);
    // q = 1 (a twist so strong that the default is certain): below the threshold whatever u.
    let v = if u < q || q >= 1.0 {
        u / q * p
    } else {
        p + (u - q) / (1.0 - q) * (1.0 - p)
    };
    Normal::standard().inverse_cdf(v.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON))
}

/// A path's view of a [`Tilt`]: picks a mixture's component, shifts each draw and accumulates
/// `-mu·x` (one shift) or every `mu_k·y` (a mixture); optionally records the shifted draws `y`
/// (for the pilot).
#[derive(Debug, Clone)]
pub struct TiltState {
    tilt: Tilt,
    /// The current path's component (0 for one shift).
    active: usize,
    /// One shift: `-sum_j mu_j x_j` over the draws of the current path.
    dot: f64,
    /// A mixture: `ln` of each component's density over the nominal one over the draws of the
    /// current path, less its constant `-|mu_k|^2 / 2`: `mu_k·y` plus the twist's terms.
    dots: Vec<f64>,
    /// With recording: the current path's `y`, one per coordinate (0 where nothing was drawn).
    draws: Option<Vec<f64>>,
    /// The firms' defaults given the path's factors: with a twist or recording only.
    given: Option<Given>,
}

/// The firms' conditional defaults on the current path (see [`TiltState::condition`]).
#[derive(Debug, Clone, Default)]
struct Given {
    /// `load_i F_{s(i)}`, `idio_i`, the last threshold `T_i` and the copula's scale: firm `i`
    /// defaults iff `(load_i F + idio_i eps_i) scale <= T_i` (the path's own test).
    load_f: Vec<f64>,
    idio: Vec<f64>,
    threshold: Vec<f64>,
    scale: f64,
    /// `c_i`: the firm's scheduled payments over the term.
    exposure: Vec<f64>,
    /// `p_i(z)`, and per component `k` (at `k N + i`): `q_ki(z)`, `ln(q/p)`, `ln((1-q)/(1-p))`.
    p: Vec<f64>,
    q: Vec<f64>,
    ln_up: Vec<f64>,
    ln_down: Vec<f64>,
    /// `sum_i c_i 1{firm i defaulted}` over the firms drawn so far.
    defaulted_exposure: f64,
}

impl TiltState {
    /// The state of `tilt`; `record` keeps each path's shifted draws.
    pub fn new(tilt: Tilt, record: bool) -> Self {
        let n = tilt.dims.len();
        let k = tilt.mixture.len();
        let given = (record || tilt.twists()).then(Given::default);
        TiltState {
            tilt,
            active: 0,
            dot: 0.0,
            dots: vec![0.0; k],
            draws: record.then(|| vec![0.0; n]),
            given,
        }
    }

    /// Starts a path. A mixture picks the path's component here, from one uniform
    /// `u = rng.random::<f64>()` drawn before any of the path's normals (the first component
    /// `k` with `u < pi_1 + ... + pi_k`); a single shift draws nothing.
    #[inline]
    pub fn start<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.dot = 0.0;
        if !self.tilt.mixture.is_empty() {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let last = self.tilt.mixture.len() - 1;
            self.active = last;
            for (k, c) in self.tilt.mixture[..last].iter().enumerate() {
                acc += c.weight;
                if u < acc {
                    self.active = k;
                    break;
                }
            }
            self.dots.iter_mut().for_each(|d| *d = 0.0);
        }
        if let Some(d) = &mut self.draws {
            d.iter_mut().for_each(|x| *x = 0.0);
        }
    }

    /// The path's factors `F = A z` and the copula's scale are known (called before the firms'
    /// draws). Under a twist, firm `i`'s conditional default probability
    /// `p_i(z) = Phi((T_i / scale - load_i F) / idio_i)` becomes, in component `k`,
    ///
    /// ```text
    /// q_ki = p_i e^{theta_k c_i} / (1 - p_i + p_i e^{theta_k c_i}),
    /// theta_k >= 0 solving sum_i c_i q_ki = x_k (theta_k = 0 if sum_i c_i p_i >= x_k)
    /// ```
    ///
    /// (Glasserman & Li's exponential twist of the default indicators, aimed at the defaulted
    /// exposure `x_k`; `c_i` is the firm's scheduled payments). Then the firm's normal is drawn
    /// as `Phi^-1(u p_i / q_ki)` with probability `q_ki` (a default, its nominal distribution
    /// given the default kept) and `Phi^-1(p_i + (u - q_ki)(1 - p_i) / (1 - q_ki))` else, from
    /// `u = Phi(x)` of the nominal draw `x`; the path's density over the nominal one gains
    /// `q_ki / p_i` for a default and `(1 - q_ki) / (1 - p_i)` for none.
    pub fn condition(&mut self, plan: &Plan, factors: &[f64], scale: f64) {
        let Some(g) = &mut self.given else {
            return;
        };
        let n = plan.firms.len();
        if g.exposure.len() != n {
            g.exposure = plan
                .firms
                .iter()
                .map(|f| f.schedule.principal.iter().sum::<f64>() + f.schedule.interest.iter().sum::<f64>())
                .collect();
            g.idio = plan.firms.iter().map(|f| f.idio).collect();
            g.threshold = plan.firms.iter().map(|f| f.last_threshold).collect();
            g.load_f = vec![0.0; n];
        }
        for (lf, f) in g.load_f.iter_mut().zip(&plan.firms) {
            *lf = f.load * factors[f.sector];
        }
        g.scale = scale;
        g.defaulted_exposure = 0.0;
        if !self.tilt.twists() {
            return;
        }
        let k = self.tilt.mixture.len();
        g.p.resize(n, 0.0);
        g.q.resize(k * n, 0.0);
        g.ln_up.resize(k * n, 0.0);
        g.ln_down.resize(k * n, 0.0);
        for i in 0..n {
            g.p[i] = if g.idio[i] > 0.0 {
                crate::analytic::normal::cdf((g.threshold[i] / scale - g.load_f[i]) / g.idio[i])
            } else if g.load_f[i] * scale <= g.threshold[i] {
                1.0
            } else {
                0.0
            };
        }
        for (k, comp) in self.tilt.mixture.iter().enumerate() {
            let theta = comp.twist.map_or(0.0, |x| twist_theta(&g.p, &g.exposure, x));
            for i in 0..n {
                let p = g.p[i];
                let (q, up, down) = if theta == 0.0 || p <= 0.0 || p >= 1.0 {
                    (p, 0.0, 0.0)
                } else {
                    let t = theta * g.exposure[i];
                    let (q, log_norm) = twisted_probability(p, t);
                    (q, t - log_norm, -log_norm)
                };
                g.q[k * n + i] = q;
                g.ln_up[k * n + i] = up;
                g.ln_down[k * n + i] = down;
            }
        }
    }

    /// The draw `x` of coordinate `c` becomes `y = x + mu_c` (of the path's component), or for
    /// a twisted firm the draw of [`TiltState::condition`].
    #[inline]
    pub fn draw(&mut self, c: Coord, x: f64) -> f64 {
        let j = self.tilt.dims.index(c);
        let y = if self.tilt.mixture.is_empty() {
            let mu = self.tilt.shift[j];
            self.dot -= mu * x;
            x + mu
        } else {
            let mut y = x + self.tilt.mixture[self.active].shift[j];
            if let (Coord::Firm(i), Some(g)) = (c, &self.given)
                && !g.p.is_empty()
            {
                let (p, q) = (g.p[i], g.q[self.active * g.p.len() + i]);
                if q != p {
                    y = twisted_normal(x, p, q);
                }
            }
            for (d, comp) in self.dots.iter_mut().zip(&self.tilt.mixture) {
                *d += comp.shift[j] * y;
            }
            y
        };
        if let (Coord::Firm(i), Some(g)) = (c, &mut self.given)
            && i < g.load_f.len()
        {
            let defaulted = (g.load_f[i] + g.idio[i] * y) * g.scale <= g.threshold[i];
            if defaulted {
                g.defaulted_exposure += g.exposure[i];
            }
            if !g.p.is_empty() {
                let n = g.p.len();
                let terms = if defaulted { &g.ln_up } else { &g.ln_down };
                for (k, d) in self.dots.iter_mut().enumerate() {
                    *d += terms[k * n + i];
                }
            }
        }
        if let Some(d) = &mut self.draws {
            d[j] = y;
        }
        y
    }

    /// `sum_i c_i` over the firms that defaulted on the current path (0 unless recording or
    /// twisting).
    pub fn defaulted_exposure(&self) -> f64 {
        self.given.as_ref().map_or(0.0, |g| g.defaulted_exposure)
    }

    /// `ln w` of the current path: `-mu·x - |mu|^2 / 2` for one shift; for a mixture
    /// `-ln sum_k pi_k exp(mu_k·y - |mu_k|^2 / 2)` (the nominal density over the mixture's,
    /// whatever component drew the path), summed stably from its largest term.
    #[inline]
    pub fn log_weight(&self) -> f64 {
        if self.tilt.mixture.is_empty() {
            return self.dot - self.tilt.half_norm_sq;
        }
        let terms = self
            .dots
            .iter()
            .zip(&self.tilt.mixture)
            .map(|(d, c)| d + c.log_offset);
        let top = terms.clone().fold(f64::NEG_INFINITY, f64::max);
        -(top + terms.map(|a| (a - top).exp()).sum::<f64>().ln())
    }

    /// The current path's shifted draws, if recorded.
    pub fn draws(&self) -> Option<&[f64]> {
        self.draws.as_deref()
    }

    /// The tilt.
    pub fn tilt(&self) -> &Tilt {
        &self.tilt
    }
}

/// What a metric estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// `E[score]` (a mean of a non-negative quantity).
    Mean,
    /// `P(score > threshold)`.
    Probability { threshold: f64 },
    /// The `q`-quantile (or the ES above it) of the score.
    Quantile { q: f64 },
}

/// The per-path quantity a metric is about.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Score {
    PoolLoss,
    GrossDefaultLoss,
    GuarantorShortfall,
    UndertakerDraw,
    Defaults,
    /// Minus the minimum coupon coverage (larger is worse).
    NegMinCoverage,
    Payout(usize),
    NetPayout(usize),
    PartyShortfall(usize),
    CapExhausted(usize),
    TrancheLoss(usize),
    TrancheInterest(usize),
    TranchePrincipal(usize),
}

impl Score {
    fn of(self, o: &PathOutcome) -> f64 {
        match self {
            Score::PoolLoss => o.pool_loss,
            Score::GrossDefaultLoss => o.gross_default_loss,
            Score::GuarantorShortfall => o.guarantor_shortfall,
            Score::UndertakerDraw => o.undertaker_draw,
            Score::Defaults => f64::from(o.defaults),
            Score::NegMinCoverage => -o.min_coverage,
            Score::Payout(p) => o.parties[p].payout,
            Score::NetPayout(p) => o.parties[p].net_payout,
            Score::PartyShortfall(p) => o.parties[p].shortfall,
            Score::CapExhausted(p) => f64::from(u8::from(o.parties[p].cap_exhausted)),
            Score::TrancheLoss(j) => o.tranches[j].loss(),
            Score::TrancheInterest(j) => o.tranches[j].interest_shortfall,
            Score::TranchePrincipal(j) => o.tranches[j].principal_loss,
        }
    }
}

/// A metric of `summary.json` whose tail the automatic shift aims at.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The metric as given, e.g. `tranches.senior.p_loss`.
    pub metric: String,
    pub statistic: Statistic,
    score: Score,
}

/// The metric forms [`Target::parse`] understands.
pub const METRIC_FORMS: &str = "auto, pool_loss|gross_default_loss|guarantor_shortfall|undertaker_draw|defaults.(mean|quantiles.Q|es_0.99), \
p_any_default, undertaker.p_drawn, coupon_coverage.p_below_1, \
guarantors.NAME.(payout|net_payout|shortfall).(mean|quantiles.Q|es_0.99), guarantors.NAME.(p_called|p_cap_exhausted), \
tranches.NAME.(expected_loss|p_loss|p_interest_shortfall), tranches.NAME.(loss|interest_shortfall|principal_loss).(mean|quantiles.Q|es_0.99)";

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.metric)
    }
}

impl Target {
    /// The metric `metric` of `scenario` (arrays indexed by name, as in `summary.json`). `auto`
    /// is the most senior tranche's `p_loss`, or `pool_loss.quantiles.0.999` without tranches.
    ///
    /// # Errors
    /// A message naming what is not understood, with the forms that are.
    pub fn parse(metric: &str, scenario: &Scenario) -> Result<Target, String> {
        if metric == "auto" {
            let auto = match scenario.tranches.first() {
                Some(t) => format!("tranches.{}.p_loss", t.name),
                None => "pool_loss.quantiles.0.999".to_owned(),
            };
            return Target::parse(&auto, scenario);
        }
        let bad = || {
            format!("{metric:?} is not a metric importance sampling can aim at; use one of: {METRIC_FORMS}")
        };
        let distribution = |score: Score, rest: &str| -> Result<Target, String> {
            let statistic = match rest {
                "mean" => Statistic::Mean,
                "es_0.99" => Statistic::Quantile { q: 0.99 },
                _ => {
                    let q = rest.strip_prefix("quantiles.").ok_or_else(bad)?;
                    let q: f64 = q.parse().map_err(|_| bad())?;
                    if !(q > 0.0 && q < 1.0) {
                        return Err(format!("{metric:?}: the quantile level must be in (0, 1)"));
                    }
                    Statistic::Quantile { q }
                }
            };
            Ok(Target {
                metric: metric.to_owned(),
                statistic,
                score,
            })
        };
        let probability = |score: Score, threshold: f64| Target {
            metric: metric.to_owned(),
            statistic: Statistic::Probability { threshold },
            score,
        };
        match metric {
            "p_any_default" => return Ok(probability(Score::Defaults, 0.5)),
            "undertaker.p_drawn" => return Ok(probability(Score::UndertakerDraw, 0.0)),
            "coupon_coverage.p_below_1" => {
                return Ok(probability(Score::NegMinCoverage, -crate::runner::COVERAGE_FLOOR));
            }
            _ => {}
        }
        let (head, rest) = metric.split_once('.').ok_or_else(bad)?;
        let fixed = match head {
            "pool_loss" => Some(Score::PoolLoss),
            "gross_default_loss" => Some(Score::GrossDefaultLoss),
            "guarantor_shortfall" => Some(Score::GuarantorShortfall),
            "undertaker_draw" => Some(Score::UndertakerDraw),
            "defaults" => Some(Score::Defaults),
            _ => None,
        };
        if let Some(score) = fixed {
            return distribution(score, rest);
        }
        let (name, field) = rest.split_once('.').ok_or_else(bad)?;
        let (field, tail) = match field.split_once('.') {
            Some((f, t)) => (f, Some(t)),
            None => (field, None),
        };
        match head {
            "guarantors" => {
                let p = scenario
                    .parties()
                    .position(|(_, party)| party.name == name)
                    .ok_or_else(|| format!("{metric:?}: no guarantor named {name:?}"))?;
                match (field, tail) {
                    ("p_called", None) => Ok(probability(Score::Payout(p), 0.0)),
                    ("p_cap_exhausted", None) => Ok(probability(Score::CapExhausted(p), 0.5)),
                    ("payout", Some(t)) => distribution(Score::Payout(p), t),
                    ("net_payout", Some(t)) => distribution(Score::NetPayout(p), t),
                    ("shortfall", Some(t)) => distribution(Score::PartyShortfall(p), t),
                    _ => Err(bad()),
                }
            }
            "tranches" => {
                let (j, t) = scenario
                    .tranches
                    .iter()
                    .enumerate()
                    .find(|(_, t)| t.name == name)
                    .ok_or_else(|| format!("{metric:?}: no tranche named {name:?}"))?;
                let floor = 1e-9 * <f64 as crate::money::Amount>::from_decimal(t.notional);
                match (field, tail) {
                    ("expected_loss", None) => distribution(Score::TrancheLoss(j), "mean"),
                    ("p_loss", None) => Ok(probability(Score::TrancheLoss(j), floor)),
                    ("p_interest_shortfall", None) => Ok(probability(Score::TrancheInterest(j), floor)),
                    ("loss", Some(r)) => distribution(Score::TrancheLoss(j), r),
                    ("interest_shortfall", Some(r)) => distribution(Score::TrancheInterest(j), r),
                    ("principal_loss", Some(r)) => distribution(Score::TranchePrincipal(j), r),
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }

    /// The metric's per-path quantity on outcome `o`.
    pub fn score(&self, o: &PathOutcome) -> f64 {
        self.score.of(o)
    }
}

/// Settings of the cross-entropy pilot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pilot {
    /// Paths per iteration.
    pub paths: u64,
    /// Most iterations.
    pub iterations: usize,
    /// Elite fraction `rho`.
    pub elite: f64,
    /// The seed of the pilot's streams (derived from the run's seed by [`Pilot::seed`]).
    pub seed: u64,
    /// Whether the firms' idiosyncratic normals are shifted too (else only the sector and the
    /// parties' normals).
    pub idiosyncratic: bool,
    /// Most routes into the metric's tail, each a component of a defensive mixture (1: one
    /// shift; see [`mixture_steps`]).
    pub routes: usize,
    /// The weight of the mixture's zero-shift component.
    pub defensive: f64,
    /// Whether the mixture's components twist the firms' conditional default probabilities
    /// (see [`TiltState::condition`]) instead of shifting their normals.
    pub twist: bool,
}

impl Pilot {
    /// Pools of at most this many firms get the second step (their idiosyncratic normals
    /// shifted in the single shift, their defaults twisted in the mixture): on a small pool it
    /// pays (a single large default matters), on a large one the pool's loss is the factors'
    /// and the per-firm work costs more than it saves.
    pub const MAX_IDIOSYNCRATIC: usize = 64;

    /// The default pilot for a run with seed `seed` of a pool of `firms` firms: at most 12
    /// iterations of 32,768 paths, `rho = 0.1`.
    pub fn new(seed: u64, firms: usize) -> Pilot {
        Pilot {
            paths: 32_768,
            iterations: 12,
            elite: 0.1,
            seed: Pilot::seed(seed),
            idiosyncratic: firms <= Pilot::MAX_IDIOSYNCRATIC,
            routes: 4,
            defensive: 0.1,
            twist: firms <= Pilot::MAX_IDIOSYNCRATIC,
        }
    }

    /// Pilot iterations under the mixture after the tail paths are first clustered.
    pub const MIXTURE_STEPS: usize = 3;

    /// The pilot's seed: `seed` xor a fixed constant, so its streams are not the run's.
    pub fn seed(seed: u64) -> u64 {
        seed ^ 0x1D5A_6E11_C0FF_EE15
    }
}

/// What the pilot found.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub tilt: Tilt,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the last iterations had at least `rho N` pilot paths in the metric's tail (else
    /// the shift only reaches towards it).
    pub reached_tail: bool,
    /// Paths simulated by the pilot.
    pub pilot_paths: u64,
}

/// One pilot path: shifted draws, log weight, score and severity.
struct PilotPath {
    y: Vec<f64>,
    log_w: f64,
    score: f64,
    /// `(pool loss, guarantor shortfall, missed)`: ranks paths outside the tail.
    severity: [f64; 3],
    /// The path's route: bit `p` for party `p`'s own default, the next bit for the undertaker's.
    route: u64,
    /// `sum_i c_i` over the defaulted firms (see [`TiltState::condition`]).
    exposure: f64,
}

/// Chooses the shift for `target` by the cross-entropy method (module docs). `stream(i)` is the
/// generator of pilot block `i` (4,096 paths each); the result depends on nothing else. With
/// `pilot.routes > 1` (the default), the single shift found is then split into a defensive
/// mixture ([`mixture_steps`]).
pub fn cross_entropy<R: Rng + SeedableRng + Clone>(
    plan: &Plan,
    target: &Target,
    pilot: &Pilot,
    stream: impl Fn(u64) -> R,
) -> Choice {
    let dims = Dims::of(plan);
    let drawn_party: Vec<bool> = plan.party_defaults.iter().map(Option::is_some).collect();
    // Quantiles keep the firms' normals unshifted: their tail is a union of corners (one
    // large default with a guarantor's, or many defaults) that per-firm shifts chase noisily,
    // spreading the weights (measured on the flagship: worse than the factors alone).
    let shift_firms = pilot.idiosyncratic && !matches!(target.statistic, Statistic::Quantile { .. });
    // Which coordinates may move: firms as above; parties and the undertaker only if drawn.
    let movable: Vec<bool> = (0..dims.len())
        .map(|j| {
            let firm = j >= dims.factors && j < dims.factors + dims.firms;
            let party = j >= dims.index(Coord::Party(0)) && j < dims.index(Coord::Undertaker);
            if firm {
                shift_firms
            } else if party {
                drawn_party[j - dims.index(Coord::Party(0))]
            } else if j == dims.index(Coord::Undertaker) {
                plan.undertaker_default.is_some()
            } else {
                true
            }
        })
        .collect();
    let mut mu = vec![0.0; dims.len()];
    let mut reached = 0;
    let mut iterations = 0;
    let mut sampler = PilotSampler {
        plan,
        target,
        blocks: pilot.paths.div_ceil(PilotSampler::BLOCK).max(1),
        next_block: 0,
    };
    let mut last = Vec::new();
    for _ in 0..pilot.iterations {
        iterations += 1;
        let sample = sampler.run(Tilt::from_full(dims, mu.clone()), &stream);
        let (h, in_tail) = cross_entropy_weights(target, &sample, pilot.elite);
        reached = if in_tail { reached + 1 } else { 0 };
        if let Some(m) = weighted_mean(&sample, &h, None) {
            for ((out, m), &free) in mu.iter_mut().zip(m).zip(&movable) {
                *out = if free && m.is_finite() {
                    m.clamp(-Tilt::MAX_SHIFT, Tilt::MAX_SHIFT)
                } else {
                    0.0
                };
            }
        }
        last = sample.into_iter().zip(h).filter(|(_, h)| *h > 0.0).collect();
        if reached >= 2 {
            break;
        }
    }
    let mut tilt = Tilt::from_full(dims, mu);
    if pilot.routes > 1 {
        // Within a route the firms' normals move too (if the pool is small enough).
        let movable: Vec<bool> = (0..dims.len())
            .map(|j| {
                let firm = j >= dims.factors && j < dims.factors + dims.firms;
                if pilot.twist {
                    movable[j] && !firm
                } else {
                    movable[j] || (pilot.idiosyncratic && firm)
                }
            })
            .collect();
        let (mixed, steps, in_tail) = mixture_steps(&mut sampler, &stream, pilot, &movable, last);
        tilt = mixed;
        iterations += steps;
        reached = usize::from(in_tail);
    }
    Choice {
        tilt,
        iterations,
        reached_tail: reached > 0,
        pilot_paths: sampler.next_block * PilotSampler::BLOCK,
    }
}

/// Simulates the pilot's paths, block after block on the pilot's streams.
struct PilotSampler<'a> {
    plan: &'a Plan,
    target: &'a Target,
    /// Blocks per iteration.
    blocks: u64,
    /// The next block's index (blocks are never reused).
    next_block: u64,
}

impl PilotSampler<'_> {
    const BLOCK: u64 = 4096;

    /// One iteration's paths drawn under `tilt`.
    fn run<R: Rng + SeedableRng + Clone>(
        &mut self,
        tilt: Tilt,
        stream: &impl Fn(u64) -> R,
    ) -> Vec<PilotPath> {
        let mut scratch = Scratch::new(self.plan).with_tilt(TiltState::new(tilt, true));
        let mut sample = Vec::with_capacity((self.blocks * Self::BLOCK) as usize);
        for _ in 0..self.blocks {
            let mut rng = stream(self.next_block);
            self.next_block += 1;
            for _ in 0..Self::BLOCK {
                simulate_path(self.plan, &mut rng, &mut scratch);
                let o = &scratch.outcome;
                let t = scratch.tilt_state().expect("the pilot's scratch is tilted");
                sample.push(PilotPath {
                    y: t.draws().map(<[f64]>::to_vec).unwrap_or_default(),
                    log_w: t.log_weight(),
                    score: self.target.score(o),
                    severity: [o.pool_loss, o.guarantor_shortfall, o.missed],
                    route: route(o),
                    exposure: t.defaulted_exposure(),
                });
            }
        }
        sample
    }
}

/// Bit `p` for party `p`'s own default (the first 63 parties), bit 63 for the undertaker's.
fn route(o: &PathOutcome) -> u64 {
    let parties = o
        .parties
        .iter()
        .take(63)
        .enumerate()
        .filter(|(_, p)| p.defaulted)
        .fold(0, |acc, (p, _)| acc | 1 << p);
    parties | u64::from(o.undertaker_defaulted) << 63
}

/// `sum_i h_i y_i / sum_i h_i` over the paths with `h_i > 0` (and, given `member`, only those
/// with `member[i]`); `None` without mass.
fn weighted_mean(sample: &[PilotPath], h: &[f64], member: Option<&[bool]>) -> Option<Vec<f64>> {
    let dim = sample.first()?.y.len();
    let mut num = vec![0.0; dim];
    let mut den = 0.0;
    for (i, (p, &hi)) in sample.iter().zip(h).enumerate() {
        if hi > 0.0 && member.is_none_or(|m| m[i]) {
            den += hi;
            for (n, y) in num.iter_mut().zip(&p.y) {
                *n += hi * y;
            }
        }
    }
    (den > 0.0 && den.is_finite()).then(|| num.into_iter().map(|n| n / den).collect())
}

/// The defensive mixture for a tail with several routes (Hesterberg 1995, "Weighted average
/// importance sampling and defensive mixture distributions", *Technometrics* 37(2); the
/// cross-entropy method for mixtures, Kurtz & Song 2013, *Structural Safety* 42).
///
/// A *route* into the tail is the set of own defaults (guarantor parties and the undertaker)
/// on a tail path: these normals are independent of the pool, so the tail is a union of
/// corners — e.g. a guarantor's own default with one large firm default, or none and many
/// firm defaults — that one mean shift cannot cover together. The tail paths
/// `elite = [(path, h_i)]` of the single-shift pilot are grouped by route; each route with at
/// least 2% of `sum h` (at most `pilot.routes`, the heaviest) becomes a component whose shift
/// `mu_k` is its paths' `h`-weighted mean `y` (the cross-entropy shift of that route) and whose
/// weight is its share of `sum h` (the route's share of the tail's probability) times
/// `1 - pilot.defensive`. A zero shift of weight `pilot.defensive` bounds every path's weight
/// by `1 / pilot.defensive`. Then [`Pilot::MIXTURE_STEPS`] more pilot iterations draw under the
/// mixture and re-estimate the routes from their tail paths. Returns the mixture, the
/// iterations run and whether the last reached the tail itself.
fn mixture_steps<R: Rng + SeedableRng + Clone>(
    sampler: &mut PilotSampler<'_>,
    stream: &impl Fn(u64) -> R,
    pilot: &Pilot,
    movable: &[bool],
    elite: Vec<(PilotPath, f64)>,
) -> (Tilt, usize, bool) {
    let twist = pilot.twist;
    let dims = Dims::of(sampler.plan);
    let (mut sample, mut h): (Vec<PilotPath>, Vec<f64>) = elite.into_iter().unzip();
    let mut steps = 0;
    let mut in_tail = true;
    let mut parts;
    loop {
        // The routes by their share of the tail, heaviest first (ties by route).
        let mut routes: Vec<(u64, f64)> = Vec::new();
        for (p, &hi) in sample.iter().zip(&h) {
            match routes.iter_mut().find(|(r, _)| *r == p.route) {
                Some((_, mass)) => *mass += hi,
                None => routes.push((p.route, hi)),
            }
        }
        let total: f64 = routes.iter().map(|(_, m)| m).sum();
        routes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        routes.retain(|(_, m)| *m > 0.02 * total);
        routes.truncate(pilot.routes);
        let kept: f64 = routes.iter().map(|(_, m)| m).sum();
        parts = vec![Part {
            weight: pilot.defensive,
            shift: vec![0.0; dims.len()],
            twist: None,
        }];
        for &(route, mass) in &routes {
            let member: Vec<bool> = sample.iter().map(|p| p.route == route).collect();
            if let Some(m) = weighted_mean(&sample, &h, Some(&member)) {
                let shift = m
                    .iter()
                    .zip(movable)
                    .map(|(&m, &free)| {
                        if free {
                            m.clamp(-Tilt::MAX_SHIFT, Tilt::MAX_SHIFT)
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let twist = twist
                    .then(|| weighted_exposure(&sample, &h, &member))
                    .filter(|x| *x > 0.0);
                parts.push(Part {
                    weight: (1.0 - pilot.defensive) * mass / kept,
                    shift,
                    twist,
                });
            }
        }
        if steps == Pilot::MIXTURE_STEPS {
            break;
        }
        steps += 1;
        let drawn = sampler.run(Tilt::from_mixture(dims, parts.clone()), stream);
        let (weights, reached) = cross_entropy_weights(sampler.target, &drawn, pilot.elite);
        in_tail = reached;
        (sample, h) = drawn.into_iter().zip(weights).filter(|(_, h)| *h > 0.0).unzip();
        if sample.is_empty() {
            break;
        }
    }
    // The routes first (largest weight first), the defensive zero shift last.
    let zero = parts.remove(0);
    parts.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    parts.push(zero);
    (Tilt::from_mixture(dims, parts), steps, in_tail)
}

/// `sum_i h_i e_i / sum_i h_i` of the defaulted exposures `e_i` over the members; 0 without mass.
fn weighted_exposure(sample: &[PilotPath], h: &[f64], member: &[bool]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for ((p, &hi), &m) in sample.iter().zip(h).zip(member) {
        if m && hi > 0.0 {
            num += hi * p.exposure;
            den += hi;
        }
    }
    if den > 0.0 { num / den } else { 0.0 }
}

/// The cross-entropy weights `w_i h_i` of the pilot paths and whether the tail itself was used
/// (else the `rho N` most severe paths stand in for it).
fn cross_entropy_weights(target: &Target, sample: &[PilotPath], rho: f64) -> (Vec<f64>, bool) {
    let n = sample.len();
    let w: Vec<f64> = sample.iter().map(|p| p.log_w.exp()).collect();
    let need = ((rho * n as f64).ceil() as usize).max(1);
    let scores: Vec<f64> = sample.iter().map(|p| p.score).collect();
    let (event, value): (Vec<bool>, bool) = match target.statistic {
        Statistic::Probability { threshold } => (scores.iter().map(|&x| x > threshold).collect(), false),
        Statistic::Mean => (scores.iter().map(|&x| x > 0.0).collect(), true),
        Statistic::Quantile { q } => {
            let level = weighted_quantile(&scores, &w, q);
            (scores.iter().map(|&x| x >= level && x > 0.0).collect(), false)
        }
    };
    let in_tail = event.iter().filter(|&&e| e).count();
    if in_tail >= need {
        let h = scores
            .iter()
            .zip(&w)
            .zip(&event)
            .map(|((&x, &wi), &e)| {
                if !e {
                    0.0
                } else if value {
                    wi * x
                } else {
                    wi
                }
            })
            .collect();
        return (h, true);
    }
    // Not enough of the tail yet: the most severe `need` paths, by (score, severity), in a
    // deterministic order (ties by path index).
    let mut order: Vec<usize> = (0..n).collect();
    let key = |i: usize| {
        let p = &sample[i];
        [p.score, p.severity[0], p.severity[1], p.severity[2]]
    };
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(a), key(b));
        kb.iter()
            .zip(&ka)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(a.cmp(&b))
    });
    let mut h = vec![0.0; n];
    for &i in order.iter().take(need) {
        h[i] = w[i];
    }
    (h, false)
}

/// The effective sample size `(sum w)^2 / sum w^2` of weights summed in `sums` (Kish); `n` for
/// equal weights.
pub fn effective_sample_size(sums: &WeightSums) -> f64 {
    if sums.sum_sq > 0.0 {
        sums.sum * sums.sum / sums.sum_sq
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_weight_is_the_gaussian_likelihood_ratio() {
        let dims = Dims {
            factors: 2,
            firms: 1,
            parties: 0,
        };
        let tilt = Tilt::from_full(dims, vec![-1.0, 0.5, 0.25, 0.0]);
        let mut s = TiltState::new(tilt, true);
        s.start(&mut crate::runner::block_rng(1, 0));
        let xs = [0.3, -1.2, 2.0];
        let coords = [Coord::Factor(0), Coord::Factor(1), Coord::Firm(0)];
        let mut ratio = 1.0;
        for (x, c) in xs.iter().zip(coords) {
            let y = s.draw(c, *x);
            let mu = y - x;
            // phi(y) / phi(y - mu)
            ratio *= (-0.5 * y * y).exp() / (-0.5 * x * x).exp();
            assert_eq!(s.draws().unwrap()[dims.index(c)], y);
            let _ = mu;
        }
        assert!((s.log_weight() - ratio.ln()).abs() < 1e-14);
    }

    #[test]
    fn a_mixture_weight_is_the_nominal_over_the_mixture_density() {
        let dims = Dims {
            factors: 2,
            firms: 1,
            parties: 0,
        };
        let parts = [
            (0.6, vec![-1.0, 0.5, 0.25, 0.0]),
            (0.3, vec![0.0, -2.0, 0.0, 0.0]),
            (0.1, vec![0.0; 4]),
        ];
        let tilt = Tilt::from_mixture(
            dims,
            parts
                .iter()
                .map(|(weight, shift)| Part {
                    weight: *weight,
                    shift: shift.clone(),
                    twist: None,
                })
                .collect(),
        );
        assert_eq!(tilt.components().len(), 3);
        let mut s = TiltState::new(tilt, true);
        let mut rng = crate::runner::block_rng(9, 0);
        let mut picked = [0usize; 3];
        for _ in 0..2000 {
            s.start(&mut rng);
            picked[s.active] += 1;
            let xs = [0.3, -1.2, 2.0];
            let coords = [Coord::Factor(0), Coord::Factor(1), Coord::Firm(0)];
            let ys: Vec<f64> = xs.iter().zip(coords).map(|(x, c)| s.draw(c, *x)).collect();
            // w = phi(y) / sum_k pi_k phi(y - mu_k), coordinate by coordinate.
            let phi = |v: f64| (-0.5 * v * v).exp();
            let nominal: f64 = ys.iter().map(|&y| phi(y)).product();
            let mixture: f64 = parts
                .iter()
                .map(|(pi, mu)| pi * ys.iter().zip(mu).map(|(y, m)| phi(y - m)).product::<f64>())
                .sum();
            assert!((s.log_weight() - (nominal / mixture).ln()).abs() < 1e-12);
            assert_eq!(ys[1] - xs[1], parts[s.active].1[1]);
        }
        // The component is drawn with probability pi_k: 4 binomial standard errors.
        for (k, n) in picked.iter().enumerate() {
            let p = parts[k].0;
            assert!((*n as f64 - 2000.0 * p).abs() <= 4.0 * (2000.0 * p * (1.0 - p)).sqrt());
        }
    }

    #[test]
    fn the_twist_aims_the_expected_defaulted_exposure_at_its_target() {
        // Equal firms: sum c q = x gives q = x / (N c) for each, whatever p.
        let (p, c) = ([0.01; 5], [2.0; 5]);
        let theta = twist_theta(&p, &c, 4.0);
        for (&pi, &ci) in p.iter().zip(&c) {
            assert!((twisted_probability(pi, theta * ci).0 - 0.4).abs() < 1e-4);
        }
        // Hand check of q = p e^t / (1 - p + p e^t) at p = 0.2, t = ln 4: 0.8 / 1.6 = 0.5, and
        // ln(1 - p + p e^t) = ln 1.6.
        let (q, l) = twisted_probability(0.2, 4f64.ln());
        assert!((q - 0.5).abs() < 1e-15 && (l - 1.6f64.ln()).abs() < 1e-15);
        // Both branches agree where they meet, and a huge twist stays finite.
        let (below, above) = (
            twisted_probability(0.01, 20.0 - 1e-12),
            twisted_probability(0.01, 20.0),
        );
        assert!((below.0 - above.0).abs() < 1e-12 && (below.1 - above.1).abs() < 1e-10);
        let (q, l) = twisted_probability(1e-6, 800.0);
        assert!(q == 1.0 && (l - (800.0 + 1e-6f64.ln())).abs() < 1e-9);
        // Unequal exposures: the larger firm is twisted more, and the target is met.
        let (p, c) = ([0.01, 0.02, 0.03], [10.0, 3.0, 1.0]);
        let theta = twist_theta(&p, &c, 6.0);
        let q: Vec<f64> = p
            .iter()
            .zip(&c)
            .map(|(&pi, &ci)| twisted_probability(pi, theta * ci).0)
            .collect();
        let hit: f64 = q.iter().zip(&c).map(|(q, c)| q * c).sum();
        assert!((hit - 6.0).abs() < 6e-4, "{hit}");
        assert!(q[0] / p[0] > q[1] / p[1] && q[1] / p[1] > q[2] / p[2]);
        // Already there without a twist: theta 0; out of reach: the largest twist.
        assert_eq!(twist_theta(&p, &c, 0.1), 0.0);
        assert_eq!(twist_theta(&p, &c, 20.0), 64.0 / 20.0);
    }

    #[test]
    fn a_twisted_normal_defaults_with_the_twisted_probability_and_keeps_its_shape() {
        use crate::analytic::normal::{cdf, inverse};
        let (p, q) = (0.01, 0.3);
        let b = inverse(p);
        // u = Phi(x) uniform on a grid: below b exactly when u < q, and then
        // Phi(y) = u p / q (the nominal law given a default); else Phi(y) = p + (u - q)(1 - p)/(1 - q).
        for k in 1..1000 {
            let u = (k as f64 - 0.5) / 1000.0;
            let y = twisted_normal(inverse(u), p, q);
            assert_eq!(y <= b, u < q, "u {u}");
            let want = if u < q {
                u * p / q
            } else {
                p + (u - q) * (1.0 - p) / (1.0 - q)
            };
            assert!(
                (cdf(y) - want).abs() < 1e-9 * want.max(1e-3),
                "u {u}: {} vs {want}",
                cdf(y)
            );
        }
    }

    #[test]
    fn shifts_are_checked() {
        let dims = Dims {
            factors: 2,
            firms: 1,
            parties: 1,
        };
        assert!(matches!(
            Tilt::checked(dims, &[1.0], &[true], true),
            Err(TiltError::Length { got: 1, .. })
        ));
        assert!(Tilt::checked(dims, &[1.0, -1.0], &[false], false).is_ok());
        assert!(matches!(
            Tilt::checked(dims, &[0.0, 0.0, 0.0, 1.0, 0.0], &[false], false),
            Err(TiltError::Undrawn { index: 3, .. })
        ));
        assert!(matches!(
            Tilt::checked(dims, &[f64::NAN, 0.0], &[false], false),
            Err(TiltError::NotFinite { index: 0 })
        ));
        assert!(matches!(
            Tilt::checked(dims, &[9.0, 0.0], &[false], false),
            Err(TiltError::TooLarge { .. })
        ));
    }
}

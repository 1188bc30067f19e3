//! One Monte Carlo path: draw the defaults, run every period through the guarantor tiers and the
//! note waterfall, and report a [`PathOutcome`].
//!
//! Randomness enters only through the `rng` argument, and is drawn in this fixed order (part of
//! the reproducibility contract):
//!
//! 1. `S` standard normals `z` for the sector factors `Z = A z`;
//! 2. under the t copula, one `W ~ chi2(nu)`;
//! 3. when recovery rates are drawn, one 64-bit path key `k`;
//! 4. for each firm in file order, one standard normal `eps_i`. A defaulting firm's rate is
//!    drawn from its own generator `R::seed_from_u64(k_i)`, with the firm key
//!    `k_i = `[`splitmix64_mix`]`(k + (i + 1) * 0x9E3779B97F4A7C15)` (output `i + 1` of
//!    SplitMix64 started at `k`), computed only for the firms that default. So each firm's rate
//!    depends on the path key and the firm alone, whether or not the others default (common
//!    random numbers across stress scenarios), and a firm that does not default costs no draw;
//! 5. for each guarantor party with an own default (report order), one standard normal; then the
//!    undertaker's, if it has an own default.
//!
//! Under importance sampling ([`Scratch::with_tilt`]) each of these normals is shifted by its
//! `mu_j` as it is drawn, and the path carries its likelihood ratio ([`Scratch::log_weight`]);
//! see [`crate::importance`]. The draws themselves, and their order, do not change, except that
//! under a *mixture* of shifts one uniform picking the path's component comes first, before
//! step 1 (plain runs and single shifts draw nothing more).
//!
//! The hot loop allocates nothing: every buffer lives in [`Scratch`], built once per thread.

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::Distribution;

use crate::credit::{default_period, default_time};
use crate::guarantee::{AllocationScratch, Missed, PartyState};
use crate::importance::{Coord, TiltState};
use crate::model::Copula;
use crate::plan::{OwnDefaultPlan, Plan, RateDraw};
use crate::waterfall::{NotesState, PeriodNotes};

mod ziggurat;

/// A firm that defaults within the term on this path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Default {
    pub firm: usize,
    /// Default period `d` (1-based).
    pub period: u32,
    /// Recovery amount `min(rate x base, claim)`.
    pub recovery: f64,
    /// Period the recovery is received, `min(d + lag, T)`.
    pub recovery_period: u32,
}

/// One guarantor party's results on a path.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PartyOutcome {
    /// Gross amount paid.
    pub payout: f64,
    /// Payout minus reimbursements from recoveries.
    pub net_payout: f64,
    /// Its share of the losses that reached it.
    pub obligation: f64,
    /// Obligation minus payout.
    pub shortfall: f64,
    /// Its cap bound at least once.
    pub cap_exhausted: bool,
    /// It defaulted within the term.
    pub defaulted: bool,
    /// The period (1-based) in which its cap first bound; 0: never.
    pub cap_out_period: u32,
}

/// One tranche's results on a path.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrancheOutcome {
    /// Interest due but never paid.
    pub interest_shortfall: f64,
    /// Balance left after the last period.
    pub principal_loss: f64,
}

impl TrancheOutcome {
    /// Interest shortfall plus principal loss.
    pub fn loss(&self) -> f64 {
        self.interest_shortfall + self.principal_loss
    }
}

/// Everything a path reports (DESIGN §2 "Per-path outputs").
#[derive(Debug, Clone, PartialEq)]
pub struct PathOutcome {
    /// `M`: scheduled payments missed by defaulted firms within the term.
    pub missed: f64,
    /// `G`: guarantor payments.
    pub guarantor_paid: f64,
    /// `R`: recoveries received.
    pub recovered: f64,
    /// `Rg`: the part of `R` used to reimburse guarantors.
    pub reimbursed: f64,
    /// `M - G - (R - Rg)`.
    pub pool_loss: f64,
    /// `M - R`.
    pub gross_default_loss: f64,
    /// `M - G`.
    pub guarantor_shortfall: f64,
    /// Firms defaulting within the term.
    pub defaults: u32,
    /// Total drawn from the undertaker.
    pub undertaker_draw: f64,
    /// The undertaker defaulted within the term.
    pub undertaker_defaulted: bool,
    /// The period (1-based) in which the undertaker's draws reached its cap; 0: never (or no cap).
    pub undertaker_cap_out_period: u32,
    /// Minimum coupon coverage over periods with senior interest due (`+inf` if none).
    pub min_coverage: f64,
    /// Coverage of each period (`+inf` where no senior interest is due).
    pub coverage: Vec<f64>,
    /// Cash collected by the trust: firm payments + guarantor payments + recoveries kept.
    pub collections: f64,
    /// Fees, interest and principal paid to the notes' holders and servicers.
    pub fees_paid: f64,
    pub interest_paid: f64,
    pub principal_paid: f64,
    /// Cash left after the last period (to the junior tranche or the originator).
    pub residual: f64,
    pub parties: Vec<PartyOutcome>,
    pub tranches: Vec<TrancheOutcome>,
}

impl PathOutcome {
    /// Copies `other` into `self` without allocating (the vectors have equal lengths). The
    /// full destructuring makes a new field a compile error here until it is copied too.
    fn copy_from(&mut self, other: &PathOutcome) {
        let PathOutcome {
            missed,
            guarantor_paid,
            recovered,
            reimbursed,
            pool_loss,
            gross_default_loss,
            guarantor_shortfall,
            defaults,
            undertaker_draw,
            undertaker_defaulted,
            undertaker_cap_out_period,
            min_coverage,
            coverage,
            collections,
            fees_paid,
            interest_paid,
            principal_paid,
            residual,
            parties,
            tranches,
        } = other;
        self.coverage.copy_from_slice(coverage);
        self.parties.copy_from_slice(parties);
        self.tranches.copy_from_slice(tranches);
        (self.missed, self.guarantor_paid, self.recovered, self.reimbursed) =
            (*missed, *guarantor_paid, *recovered, *reimbursed);
        (self.pool_loss, self.gross_default_loss, self.guarantor_shortfall) =
            (*pool_loss, *gross_default_loss, *guarantor_shortfall);
        (
            self.defaults,
            self.undertaker_draw,
            self.undertaker_defaulted,
            self.min_coverage,
        ) = (*defaults, *undertaker_draw, *undertaker_defaulted, *min_coverage);
        self.undertaker_cap_out_period = *undertaker_cap_out_period;
        (
            self.collections,
            self.fees_paid,
            self.interest_paid,
            self.principal_paid,
            self.residual,
        ) = (
            *collections,
            *fees_paid,
            *interest_paid,
            *principal_paid,
            *residual,
        );
    }

    fn new(plan: &Plan) -> Self {
        PathOutcome {
            missed: 0.0,
            guarantor_paid: 0.0,
            recovered: 0.0,
            reimbursed: 0.0,
            pool_loss: 0.0,
            gross_default_loss: 0.0,
            guarantor_shortfall: 0.0,
            defaults: 0,
            undertaker_draw: 0.0,
            undertaker_defaulted: false,
            undertaker_cap_out_period: 0,
            min_coverage: f64::INFINITY,
            coverage: vec![f64::INFINITY; plan.periods],
            collections: 0.0,
            fees_paid: 0.0,
            interest_paid: 0.0,
            principal_paid: 0.0,
            residual: 0.0,
            parties: vec![PartyOutcome::default(); plan.parties()],
            tranches: vec![TrancheOutcome::default(); plan.tranches()],
        }
    }
}

/// Running sums of a path over the periods run so far.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Totals {
    missed: f64,
    guaranteed: f64,
    recovered: f64,
    reimbursed: f64,
    collections: f64,
    fees: f64,
    interest: f64,
    principal: f64,
    min_coverage: f64,
}

impl Totals {
    const START: Totals = Totals {
        missed: 0.0,
        guaranteed: 0.0,
        recovered: 0.0,
        reimbursed: 0.0,
        collections: 0.0,
        fees: 0.0,
        interest: 0.0,
        principal: 0.0,
        min_coverage: f64::INFINITY,
    };
}

/// The baseline path's state at the start of each period (index `k - 1` for period `k`).
///
/// Before its first default a path's periods are the baseline's, operation for operation: nothing
/// is missed, recovered or allocated, and the notes are paid from the same collections. So
/// [`run_periods`] starts a path at its first default period from this state, and its results are
/// bit-identical to running every period. The one exception is an undertaker that defaults on
/// the path before that period while the baseline draws on it: then every period is run.
#[derive(Debug, Clone, Default)]
struct QuietStart {
    notes: Vec<NotesState<f64>>,
    totals: Vec<Totals>,
}

/// The states, at the start of each period after its default up to its recovery period
/// `r = min(d + lag, T)`, of a path on which firm `i` defaults in period `d < r` and no other
/// firm, no party and (before `r`) not the undertaker does.
///
/// Until `r` such a path depends on the firm and `d` alone: the same missed payments, the same
/// allocation ([`Plan::sole_defaults`]), no recovery yet and the same notes; and so does, until
/// the next firm defaults, a path on which firm `i` is the only one to default in `d` and the
/// others later. So [`Scratch::new`] runs each such shape once, keeping its states, and
/// [`run_periods`] starts a path of that shape at `r` or at the next default if earlier, with
/// results bit-identical to running every period.
#[derive(Debug, Clone)]
struct SoleStart {
    /// The notes and the running sums at the start of periods `d + 1..=r`.
    notes: Vec<NotesState<f64>>,
    totals: Vec<Totals>,
    /// The coverage of periods `1..r`.
    coverage: Vec<f64>,
    /// The period in which the undertaker's cap ran out on the shape, over the whole term (0:
    /// never).
    cap_out_period: u32,
}

/// Per-thread buffers for [`simulate_path`], sized once for a plan.
#[derive(Debug, Clone)]
pub struct Scratch {
    z: Vec<f64>,
    /// The sector factors `Z` (padded as [`crate::credit::SectorLoadings::factors_len`] asks).
    factors: Vec<f64>,
    /// `(firm, latent)` of the firms at or below their term threshold on the last path.
    hits: Vec<(usize, f64)>,
    defaults: Vec<Default>,
    /// Whether any party or the undertaker has an own default model: without one,
    /// `party_from` and `undertaker_from` stay 0 and nothing is drawn for them.
    own_defaults: bool,
    /// Each party's own default period on the last path (0: none).
    party_from: Vec<u32>,
    /// The undertaker's own default period on the last path (0: none).
    undertaker_from: u32,
    /// What reaches the tiers in the period being run: its first entries, one per firm that
    /// has defaulted by then (room for every firm).
    missed: Vec<Missed<f64>>,
    states: Vec<PartyState<f64>>,
    paid_for: Vec<f64>,
    allocation: AllocationScratch<f64>,
    notes: NotesState<f64>,
    period: PeriodNotes<f64>,
    /// The outcome of the last simulated path.
    pub outcome: PathOutcome,
    /// The outcome of a path on which no firm defaults and the undertaker stands.
    baseline: PathOutcome,
    /// The baseline's state at the start of each period (empty while the baseline is run).
    quiet: QuietStart,
    /// The start of every one-default path shape that has one, firm `i` defaulting in `d` at
    /// `i * T + d - 1` (empty while they are worked out, or when the plan keeps no allocation
    /// table).
    sole_starts: Vec<Option<SoleStart>>,
    /// Whether to keep what each party paid for each firm and when its cap ran out (the
    /// exposure pass only; off in normal runs).
    record: bool,
    /// With `record`: what party `p` paid for firm `i` on the last path, at `p * firms + i`.
    recorded_paid_for: Vec<f64>,
    /// Importance sampling: the mean shift of the draws and the path's likelihood ratio.
    tilt: Option<TiltState>,
}

impl Scratch {
    /// Buffers for `plan`.
    pub fn new(plan: &Plan) -> Self {
        let n = plan.firms.len();
        let parties = plan.parties();
        let mut scratch = Scratch {
            z: vec![0.0; plan.sectors()],
            factors: vec![0.0; plan.loadings.factors_len()],
            hits: Vec::with_capacity(n),
            defaults: Vec::with_capacity(n),
            own_defaults: plan.party_defaults.iter().any(Option::is_some)
                || plan.undertaker_default.is_some(),
            party_from: vec![0; parties],
            undertaker_from: 0,
            missed: vec![
                Missed {
                    firm: 0,
                    principal: 0.0,
                    interest: 0.0,
                };
                n
            ],
            states: vec![PartyState::new(0); parties],
            paid_for: vec![0.0; parties * n],
            allocation: plan.sharing.scratch(),
            notes: plan.notes.start(0),
            period: PeriodNotes::new(plan.tranches()),
            outcome: PathOutcome::new(plan),
            baseline: PathOutcome::new(plan),
            quiet: QuietStart::default(),
            sole_starts: Vec::new(),
            record: false,
            recorded_paid_for: Vec::new(),
            tilt: None,
        };
        // The baseline: no firm defaults, no party or undertaker default.
        scratch.defaults.clear();
        scratch.states.iter_mut().for_each(|st| *st = PartyState::new(0));
        plan.notes.restart(&mut scratch.notes, 0);
        let mut quiet = QuietStart::default();
        run_periods_from(plan, &mut scratch, 1, Totals::START, 0, None, Some(&mut quiet));
        scratch.quiet = quiet;
        scratch.baseline.copy_from(&scratch.outcome);
        scratch.sole_starts = sole_starts(plan, &mut scratch);
        scratch
    }

    /// The outcome every path shares on which no firm defaults and the undertaker does not
    /// default (or is never drawn on such a path): see [`simulate_path`].
    pub fn baseline(&self) -> &PathOutcome {
        &self.baseline
    }

    /// The defaults of the last simulated path, in firm order.
    pub fn defaults(&self) -> &[Default] {
        &self.defaults
    }

    /// Buffers for `plan` that also record, per path, what each party paid for each firm
    /// ([`Scratch::paid_for`]). Slower than [`Scratch::new`]; for the exposure pass. The
    /// outcomes are the same.
    pub fn recording(plan: &Plan) -> Self {
        let mut s = Scratch::new(plan);
        s.record = true;
        s.recorded_paid_for = vec![0.0; plan.parties() * plan.firms.len()];
        s
    }

    /// These buffers with every draw shifted by `tilt` (importance sampling).
    pub fn with_tilt(mut self, tilt: TiltState) -> Self {
        self.tilt = Some(tilt);
        self
    }

    /// The tilt of these buffers, if importance sampling.
    pub fn tilt_state(&self) -> Option<&TiltState> {
        self.tilt.as_ref()
    }

    /// `ln w` of the last path: its likelihood ratio (0 without a tilt).
    pub fn log_weight(&self) -> f64 {
        self.tilt.as_ref().map_or(0.0, TiltState::log_weight)
    }

    /// With [`Scratch::recording`]: what party `party` paid for firm `firm` on the last path.
    pub fn paid_for(&self, party: usize, firm: usize) -> f64 {
        let n = self.recorded_paid_for.len() / self.states.len().max(1);
        self.recorded_paid_for
            .get(party * n + firm)
            .copied()
            .unwrap_or(0.0)
    }
}

/// Differences of cancelling sums below this fraction of the pool notional are rounding noise.
pub const NOISE: f64 = 1e-12;

/// `x`, or exactly 0 when `|x| <= NOISE x scale`: a difference of sums such as `M - G - (R - Rg)`
/// that cancels exactly in real arithmetic leaves a few ulps in `f64`, which must not show up as
/// a loss (or a negative one) in a report.
#[inline]
pub fn snap_noise(x: f64, scale: f64) -> f64 {
    if x.abs() <= NOISE * scale { 0.0 } else { x }
}

/// Draws a standard normal: `rand_distr`'s `StandardNormal`, bit for bit ([`ziggurat`]).
#[inline]
fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    ziggurat::standard_normal(rng)
}

/// The SplitMix64 output function (Steele, Lea & Flood 2014): output `j` of SplitMix64 started
/// at `s` is `splitmix64_mix(s + j * 0x9E3779B97F4A7C15)` (wrapping).
#[inline]
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64's increment, the golden gamma.
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Firm `firm`'s recovery key on a path with key `path_key` (step 4 of the draw order).
#[inline]
fn firm_key(path_key: u64, firm: usize) -> u64 {
    splitmix64_mix(path_key.wrapping_add((firm as u64 + 1).wrapping_mul(GOLDEN_GAMMA)))
}

/// A recovery rate drawn from the firm's own generator seeded with `key`.
fn draw_rate<G: Rng + SeedableRng>(draw: &RateDraw, key: u64) -> f64 {
    match draw {
        RateDraw::Fixed(r) => *r,
        RateDraw::OrderStatistic { k, n: 4 } => {
            let mut g = G::seed_from_u64(key);
            kth_of_four([(); 4].map(|_| g.random::<f64>()), *k)
        }
        RateDraw::OrderStatistic { k, n } => {
            let mut g = G::seed_from_u64(key);
            let mut u = [0.0f64; RateDraw::MAX_UNIFORMS];
            for x in u.iter_mut().take(*n) {
                *x = g.random::<f64>();
            }
            let u = &mut u[..*n];
            u.sort_unstable_by(f64::total_cmp);
            u[k - 1]
        }
        RateDraw::Beta(beta) => beta.sample(&mut G::seed_from_u64(key)),
    }
}

/// The `k`-th smallest (1-based, `k <= 4`) of four uniforms in `[0, 1)`, by the sorting network
/// `(0,1) (2,3) (0,2) (1,3) (1,2)`: the value that sorting them in `total_cmp` order puts at
/// `k - 1` (with no NaN and no `-0.0`, that order and `<` agree, and equal values are equal).
#[inline]
fn kth_of_four(mut u: [f64; 4], k: usize) -> f64 {
    let mut exchange = |a: usize, b: usize| {
        let (x, y) = (u[a], u[b]);
        (u[a], u[b]) = if y < x { (y, x) } else { (x, y) };
    };
    exchange(0, 1);
    exchange(2, 3);
    exchange(0, 2);
    exchange(1, 3);
    exchange(1, 2);
    u[k - 1]
}

/// `x`, shifted by the tilt's `mu_c` when there is one.
#[inline]
fn tilted(tilt: &mut Option<TiltState>, c: Coord, x: f64) -> f64 {
    match tilt {
        Some(t) => t.draw(c, x),
        None => x,
    }
}

/// The default period (0: none) of a party or undertaker with its own default model, given its
/// standard normal `eta`.
fn own_default_period(d: &OwnDefaultPlan, factors: &[f64], scale: f64, eta: f64) -> u32 {
    let y = match d.sector {
        Some(s) => (d.load * factors[s] + d.idio * eta) * scale,
        None => eta,
    };
    match d.thresholds.last() {
        Some(last) if y <= *last => default_period(y, &d.thresholds),
        _ => 0,
    }
}

/// Simulates one path of `plan`; the result is left in `scratch.outcome`.
///
/// Returns `true` when the path is a *baseline* path: no firm defaulted and the undertaker's
/// own default cannot matter (it stands, or the baseline never draws on it). Such a path's
/// outcome equals [`Scratch::baseline`] except for the own-default flags, so the periods are not
/// run again: the baseline is copied.
pub fn simulate_path<R: Rng + SeedableRng + Clone>(plan: &Plan, rng: &mut R, scratch: &mut Scratch) -> bool {
    let baseline = draw_path(plan, rng, scratch);
    if baseline {
        scratch.fill_baseline_outcome();
    }
    baseline
}

/// [`simulate_path`] without the copy of the baseline: on a baseline path (`true`)
/// `scratch.outcome` is left as it was, and the path's outcome is [`Scratch::baseline`] (up to
/// the own-default flags, which no column holds). For callers that only count baseline paths.
pub fn draw_path<R: Rng + SeedableRng + Clone>(plan: &Plan, rng: &mut R, scratch: &mut Scratch) -> bool {
    draw_defaults(plan, rng, scratch);
    let baseline = scratch.defaults.is_empty()
        && (scratch.undertaker_from == 0 || scratch.baseline.undertaker_draw == 0.0);
    if scratch.record {
        scratch.recorded_paid_for.iter_mut().for_each(|x| *x = 0.0);
    }
    if !baseline {
        run_periods(plan, scratch, None);
    }
    baseline
}

impl Scratch {
    /// Sets `outcome` to the baseline with the last path's own-default flags.
    fn fill_baseline_outcome(&mut self) {
        self.outcome.copy_from(&self.baseline);
        self.outcome.undertaker_defaulted = self.undertaker_from != 0;
        for (po, from) in self.outcome.parties.iter_mut().zip(&self.party_from) {
            po.defaulted = *from != 0;
        }
    }
}

/// Steps 1-5 of the draw order: sector factors, mixing variable, path key, firm and party
/// defaults. Fills `s.defaults`, `s.party_from` and `s.undertaker_from`; the party states and
/// the notes are set up only when the periods are run ([`run_periods`]).
fn draw_defaults<R: Rng + SeedableRng + Clone>(plan: &Plan, rng: &mut R, s: &mut Scratch) {
    if let Some(t) = &mut s.tilt {
        t.start(rng);
    }
    fill_normals(rng, &mut s.z);
    if let Some(t) = &mut s.tilt {
        for (j, z) in s.z.iter_mut().enumerate() {
            *z = t.draw(Coord::Factor(j), *z);
        }
    }
    plan.loadings.apply(&s.z, &mut s.factors);
    let scale = match (plan.copula, &plan.mixing) {
        (Copula::StudentT { dof }, Some(chi2)) => {
            let w = chi2.sample(rng);
            if w > 0.0 { (dof / w).sqrt() } else { f64::MAX }
        }
        _ => 1.0,
    };
    if let Some(t) = &mut s.tilt {
        t.condition(plan, &s.factors, scale);
    }

    // The path key and the firms' normals from one local copy of the generator.
    let mut g = rng.clone();
    let path_key = if plan.recovery_rate.is_random() {
        g.next_u64()
    } else {
        0
    };
    s.hits.clear();
    match &mut s.tilt {
        None => latent_pass(plan, &s.factors, scale, &mut g, |_, x| x, &mut s.hits),
        Some(t) => latent_pass(
            plan,
            &s.factors,
            scale,
            &mut g,
            |i, x| t.draw(Coord::Firm(i), x),
            &mut s.hits,
        ),
    }
    *rng = g;
    s.defaults.clear();
    for &(i, y) in &s.hits {
        s.defaults
            .push(firm_default::<R>(plan, &s.factors, path_key, i, y));
    }

    if !s.own_defaults {
        return;
    }
    for (p, d) in plan.party_defaults.iter().enumerate() {
        s.party_from[p] = match d {
            Some(d) => own_default_period(
                d,
                &s.factors,
                scale,
                tilted(&mut s.tilt, Coord::Party(p), normal(rng)),
            ),
            None => 0,
        };
    }
    s.undertaker_from = match &plan.undertaker_default {
        Some(d) => own_default_period(
            d,
            &s.factors,
            scale,
            tilted(&mut s.tilt, Coord::Undertaker, normal(rng)),
        ),
        None => 0,
    };
}

/// Fills `out` with standard normals drawn in order from `rng`, in a loop that keeps the
/// generator's state in registers ([`ziggurat::fill_standard_normals`]).
#[inline]
fn fill_normals<R: Rng + Clone>(rng: &mut R, out: &mut [f64]) {
    ziggurat::fill_standard_normals(rng, out);
}

/// Step 4's latents: draws each firm's normal `eps_i` from `g` in firm order (shifted by
/// `shift(i, eps_i)`) and keeps `(i, Y_i)` of the firms whose latent `Y_i` is at or below their
/// term threshold. The defaulting firms' periods and recoveries are worked out afterwards, from
/// `hits`, so that this one pass every path makes over the firms stays a tight loop. `g` is the
/// caller's local copy of the generator ([`ziggurat::local_normal`]), so its state stays in
/// registers.
#[inline]
fn latent_pass<R: Rng + Clone>(
    plan: &Plan,
    factors: &[f64],
    scale: f64,
    g: &mut R,
    mut shift: impl FnMut(usize, f64) -> f64,
    hits: &mut Vec<(usize, f64)>,
) {
    for (i, f) in plan.latent.iter().enumerate() {
        let eps = shift(i, ziggurat::local_normal(g));
        let y = (f.load * factors[f.sector] + f.idio * eps) * scale;
        if y <= f.last_threshold {
            hits.push((i, y));
        }
    }
}

/// Firm `i`'s default on a path with key `path_key`, given its latent `y` at or below its term
/// threshold: its period `d` (the first `k` with `y <= T_{i,k}`), and its recovery
/// `min(rate x base, claim)` with `base` the appraised value (shocked by the sector factor when
/// it has a volatility) or else the claim, received in period `min(d + lag, T)`.
fn firm_default<G: Rng + SeedableRng>(
    plan: &Plan,
    factors: &[f64],
    path_key: u64,
    i: usize,
    y: f64,
) -> Default {
    let f = &plan.firms[i];
    let period = default_period(y, &f.thresholds);
    let rate = draw_rate::<G>(&plan.recovery_rate, firm_key(path_key, i));
    let claim = f.schedule.outstanding[(period - 1) as usize];
    let base = match f.appraised_value {
        Some(v) => match plan.recovery.value_vol {
            Some(vol) if vol > 0.0 => {
                // exp(v sqrt(tau) Z_s - v^2 tau / 2), Z_s the Gaussian sector factor.
                let tau = default_time(y, f.hazard, period, &plan.deal, &plan.marginal);
                v * (vol * tau.sqrt() * factors[f.sector] - 0.5 * vol * vol * tau).exp()
            }
            _ => v,
        },
        None => claim,
    };
    Default {
        firm: i,
        period,
        recovery: (rate * base).min(claim).max(0.0),
        recovery_period: (period + plan.recovery.lag_periods).min(plan.deal.term_periods),
    }
}

/// Runs the periods of the path drawn into `s` and fills `s.outcome`: from its first default
/// period on, the earlier ones being the baseline's ([`QuietStart`]), or, when one firm is the
/// first to default and the only one in its period, from its recovery period or the next
/// default, whichever comes first, the earlier ones being its one-default shape's
/// ([`SoleStart`]). With `record`, keeps the state at the start of each period run.
fn run_periods(plan: &Plan, s: &mut Scratch, record: Option<&mut QuietStart>) {
    let mut party_defaults = false;
    for (st, &from) in s.states.iter_mut().zip(&s.party_from) {
        *st = PartyState::new(from);
        party_defaults |= from != 0;
    }
    let undertaker_from = s.undertaker_from;
    let term = plan.deal.term_periods;
    // The first default period, the firm defaulting then (`lead`, if it is the only one) and
    // the next default period after it, in one pass.
    let (mut first, mut lead, mut next) = (u32::MAX, None, u32::MAX);
    for d in &s.defaults {
        if d.period < first {
            (first, lead, next) = (d.period, Some(d.firm), first);
        } else if d.period == first {
            lead = None;
        } else {
            next = next.min(d.period);
        }
    }
    let first = first.min(term);

    // A lead firm and no party default: the path is the lead's one-default shape's until the
    // next default.
    if plan.sole_defaults.is_available() && !party_defaults {
        let sole_start = lead.and_then(|firm| {
            let at = s
                .sole_starts
                .get(firm * plan.periods + first as usize - 1)?
                .as_ref()?;
            let start = (first + at.notes.len() as u32).min(next);
            (undertaker_from == 0 || undertaker_from >= start).then_some((firm, start, at))
        });
        if let Some((firm, start, at)) = sole_start {
            let j = (start - first - 1) as usize;
            let totals = at.totals[j];
            let cap_out_period = match at.cap_out_period {
                p if p < start => p,
                _ => 0,
            };
            plan.notes.resume(&mut s.notes, &at.notes[j]);
            s.notes.undertaker_defaulted_from = undertaker_from;
            let i = start as usize - 1;
            s.outcome.coverage[..i].copy_from_slice(&at.coverage[..i]);
            let keep_paid_for = plan.recovery.reimburse_guarantors || s.record;
            let paid_for: &mut [f64] = if keep_paid_for { &mut s.paid_for } else { &mut [] };
            plan.sole_defaults
                .apply(firm, first, start - 1, &mut s.states, paid_for, plan.firms.len());
            // With one default, the tiers' work is in the plan's table from here on too.
            let sole = (s.defaults.len() == 1).then_some((firm, first));
            run_periods_from(plan, s, start, totals, cap_out_period, sole, record);
            return;
        }
    }

    let start = match s.quiet.notes.get(first as usize - 1) {
        Some(at) if undertaker_from == 0 || undertaker_from >= first || at.undertaker_drawn == 0.0 => first,
        _ => 1,
    };
    let totals = if start > 1 {
        let i = start as usize - 1;
        plan.notes.resume(&mut s.notes, &s.quiet.notes[i]);
        s.notes.undertaker_defaulted_from = undertaker_from;
        s.outcome.coverage[..i].copy_from_slice(&s.baseline.coverage[..i]);
        s.quiet.totals[i]
    } else {
        plan.notes.restart(&mut s.notes, undertaker_from);
        Totals::START
    };
    // Before `start` the path is the baseline's, so is the undertaker's cap-out period there.
    let cap_out_period = match s.baseline.undertaker_cap_out_period {
        p if p < start => p,
        _ => 0,
    };
    // One firm alone defaulting and no party: the tiers' work is in the plan's table.
    let sole = match s.defaults.as_slice() {
        [d] if plan.sole_defaults.is_available() && !party_defaults => Some((d.firm, d.period)),
        _ => None,
    };
    run_periods_from(plan, s, start, totals, cap_out_period, sole, record);
}

/// Every one-default path shape's [`SoleStart`], firm by firm and default period by default
/// period (`None` where the recovery period is the default period), worked out by running
/// each shape once on `s` (whose baseline is set up); empty when the plan keeps no
/// allocation table for one-default paths.
fn sole_starts(plan: &Plan, s: &mut Scratch) -> Vec<Option<SoleStart>> {
    if !plan.sole_defaults.is_available() {
        return Vec::new();
    }
    let term = plan.deal.term_periods;
    let mut starts = Vec::with_capacity(plan.firms.len() * plan.periods);
    s.party_from.fill(0);
    s.undertaker_from = 0;
    for firm in 0..plan.firms.len() {
        for d in 1..=term {
            let r = (d + plan.recovery.lag_periods).min(term);
            if r <= d {
                starts.push(None);
                continue;
            }
            s.defaults.clear();
            s.defaults.push(Default {
                firm,
                period: d,
                recovery: 0.0,
                recovery_period: r,
            });
            let mut states = QuietStart::default();
            run_periods(plan, s, Some(&mut states));
            // The shape starts at `d` (its first default, from the baseline), so the start of
            // period `k` is entry `k - d` of what was kept.
            let after = 1..=(r - d) as usize;
            starts.push(Some(SoleStart {
                notes: states.notes[after.clone()].to_vec(),
                totals: states.totals[after].to_vec(),
                coverage: s.outcome.coverage[..r as usize - 1].to_vec(),
                cap_out_period: s.outcome.undertaker_cap_out_period,
            }));
        }
    }
    s.defaults.clear();
    starts
}

/// Runs periods `start..=T` of the path drawn into `s` from the running sums `t` and fills
/// `s.outcome`, the undertaker's cap having run out in `cap_out_period` before `start` (0: not);
/// with `quiet`, keeps the state at the start of each period. With `sole`, the
/// path's one defaulting firm and its default period (no party defaults): the tiers' work is
/// copied from [`Plan::sole_defaults`] instead of being done again.
///
/// Period `k`: the firms that have defaulted by `k` miss their scheduled payments, `M_k = sum
/// (mp_i + mi_i)` in firm order; the tiers pay `G_k` of them; recoveries due in `k` bring `R_k`,
/// of which `Rg_k` repays the guarantors; the notes are paid from the collections
/// `C_k = P_k - M_k + G_k + (R_k - Rg_k)`, `P_k` the pool's scheduled payments.
fn run_periods_from(
    plan: &Plan,
    s: &mut Scratch,
    start: u32,
    mut t: Totals,
    mut cap_out_period: u32,
    sole: Option<(usize, u32)>,
    mut quiet: Option<&mut QuietStart>,
) {
    let Scratch {
        defaults,
        missed,
        states,
        paid_for,
        allocation,
        notes,
        period,
        outcome: o,
        record,
        recorded_paid_for,
        ..
    } = s;
    let record = *record;
    let reimburse = plan.recovery.reimburse_guarantors;
    // What each party paid for each firm is needed only to reimburse it, or to record it.
    let keep_paid_for = reimburse || record;
    let paid_for_now: &mut [f64] = if keep_paid_for { paid_for } else { &mut [] };
    // The undertaker's cap counts as reached from `cap (1 - 1e-12)` on.
    let cap_reached_at = plan.notes.undertaker_cap.map(|cap| cap * (1.0 - 1e-12));
    for k in start..=plan.deal.term_periods {
        let ki = (k - 1) as usize;
        if let Some(q) = quiet.as_mut() {
            q.notes.push(notes.clone());
            q.totals.push(t);
        }
        let mut count = 0;
        let mut missed_now = 0.0;
        for d in defaults.iter() {
            if d.period <= k {
                let due = plan.dues[d.firm * plan.periods + ki];
                missed[count] = Missed {
                    firm: d.firm,
                    principal: due.principal,
                    interest: due.interest,
                };
                missed_now += due.principal + due.interest;
                count += 1;
            }
        }
        let paid = match sole {
            _ if count == 0 => 0.0,
            Some((firm, d)) => plan
                .sole_defaults
                .apply(firm, d, k, states, paid_for_now, plan.firms.len()),
            None => plan
                .sharing
                .allocate(k, &mut missed[..count], states, paid_for_now, allocation),
        };

        let mut recovered_now = 0.0;
        let mut reimbursed_now = 0.0;
        for d in defaults.iter() {
            if d.recovery_period == k {
                recovered_now += d.recovery;
                if reimburse {
                    reimbursed_now += plan.sharing.reimburse(d.firm, d.recovery, states, paid_for_now);
                }
            }
        }

        let collections = plan.pool_payment[ki] - missed_now + paid + (recovered_now - reimbursed_now);
        plan.notes.pay_period(k, collections, notes, period);
        if cap_out_period == 0 && cap_reached_at.is_some_and(|at| notes.undertaker_drawn >= at) {
            cap_out_period = k;
        }
        let cov = period.coverage.unwrap_or(f64::INFINITY);
        o.coverage[ki] = cov;
        t.min_coverage = t.min_coverage.min(cov);

        t.missed += missed_now;
        t.guaranteed += paid;
        t.recovered += recovered_now;
        t.reimbursed += reimbursed_now;
        t.collections += collections + period.undertaker_draw();
        t.fees += period.fees_paid;
        t.interest += period.interest_paid_total;
        t.principal += period.principal_paid_total;
    }

    let snap = |x: f64| snap_noise(x, plan.pool_notional);
    o.undertaker_cap_out_period = cap_out_period;
    o.min_coverage = t.min_coverage;
    o.missed = t.missed;
    o.guarantor_paid = t.guaranteed;
    o.recovered = t.recovered;
    o.reimbursed = t.reimbursed;
    o.pool_loss = snap(t.missed - t.guaranteed - (t.recovered - t.reimbursed));
    o.gross_default_loss = snap(t.missed - t.recovered);
    o.guarantor_shortfall = snap(t.missed - t.guaranteed);
    o.defaults = defaults.len() as u32;
    o.undertaker_draw = notes.undertaker_drawn;
    o.undertaker_defaulted = notes.undertaker_defaulted_from != 0;
    o.collections = t.collections;
    o.fees_paid = t.fees;
    o.interest_paid = t.interest;
    o.principal_paid = t.principal;
    o.residual = notes.cash;
    for ((to, shortfall), balance) in o
        .tranches
        .iter_mut()
        .zip(&notes.interest_shortfall)
        .zip(&notes.balance)
    {
        to.interest_shortfall = *shortfall;
        to.principal_loss = *balance;
    }
    for (po, st) in o.parties.iter_mut().zip(states.iter()) {
        *po = PartyOutcome {
            payout: st.paid,
            net_payout: snap(st.net_paid()),
            obligation: st.obligation,
            shortfall: snap(st.shortfall()),
            cap_exhausted: st.cap_bound,
            defaulted: st.defaulted_from != 0,
            cap_out_period: st.cap_bound_period,
        };
    }
    // Clear the per-firm payment records this path touched (keeping a copy when recording).
    if keep_paid_for {
        let n = plan.firms.len();
        for d in defaults.iter() {
            for p in 0..states.len() {
                if record {
                    recorded_paid_for[p * n + d.firm] = paid_for[p * n + d.firm];
                }
                paid_for[p * n + d.firm] = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::Xoshiro256PlusPlus;
    use statrs::distribution::{Beta as BetaDist, ContinuousCDF};

    #[test]
    fn order_statistic_rates_are_beta_distributed() {
        // Beta(2, 3) as the 2nd smallest of 4 uniforms: mean 2/5, variance 6 / (25 * 6) = 0.04,
        // and P(X <= x) equal to the regularised incomplete beta function.
        let draw = RateDraw::OrderStatistic { k: 2, n: 4 };
        let mut keys = Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 200_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| draw_rate::<Xoshiro256PlusPlus>(&draw, keys.next_u64()))
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let se = (0.04f64 / n as f64).sqrt();
        assert!((mean - 0.4).abs() < 4.0 * se, "mean {mean}");
        let cdf = BetaDist::new(2.0, 3.0).unwrap();
        for x in [0.1, 0.3, 0.5, 0.8] {
            let p = cdf.cdf(x);
            let got = xs.iter().filter(|&&v| v <= x).count() as f64 / n as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!((got - p).abs() < 4.0 * se, "P(X <= {x}) = {got}, expected {p}");
        }
    }

    #[test]
    fn starting_at_the_first_default_equals_running_every_period() {
        // The stressed deal (six periods, party and undertaker defaults), and the same with notes
        // paying a coupon above the pool's so that the baseline draws on the undertaker (the exception).
        // Against every period run and every allocation done: starting at the first default, or
        // at the recovery period of a one-default path, and the one-default allocation table.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stressed.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let larger = text.replace("coupon = 0.03", "coupon = 0.9");
        assert_ne!(text, larger);
        for (text, draws) in [(text.clone(), false), (larger, true)] {
            let scenario = crate::scenario::parse("stressed.toml", &text, "stressed").unwrap();
            let plan = Plan::new(&scenario);
            // Without the one-default allocation table (and so without one-default starts).
            let mut every = plan.clone();
            every.sole_defaults = crate::plan::SoleDefaults::default();
            let mut quick = Scratch::new(&plan);
            let mut full = Scratch::new(&every);
            full.quiet = QuietStart::default();
            assert!(quick.sole_starts.iter().flatten().count() > 0);
            assert!(full.sole_starts.is_empty());
            assert_eq!(quick.baseline.undertaker_draw > 0.0, draws);
            let (mut a, mut b) = (
                Xoshiro256PlusPlus::seed_from_u64(5),
                Xoshiro256PlusPlus::seed_from_u64(5),
            );
            let (mut late, mut sole) = (0, 0);
            for _ in 0..20_000 {
                simulate_path(&plan, &mut a, &mut quick);
                simulate_path(&every, &mut b, &mut full);
                late +=
                    usize::from(quick.defaults.iter().all(|d| d.period > 1) && !quick.defaults.is_empty());
                sole += usize::from(quick.defaults.len() == 1 && quick.party_from.iter().all(|&p| p == 0));
                // Debug prints each f64 exactly (shortest round trip, sign of zero).
                assert_eq!(format!("{:?}", quick.outcome), format!("{:?}", full.outcome));
            }
            assert!(late > 1000, "{late} paths start after period 1");
            assert!(sole > 1000, "{sole} paths with one default and no party default");
        }
    }

    #[test]
    fn the_sorting_network_picks_the_sorted_value() {
        // Against a full sort in `total_cmp` order, bit for bit, on uniforms as drawn and on
        // quadruples with ties (multiples of 1/4).
        let mut g = Xoshiro256PlusPlus::seed_from_u64(3);
        for trial in 0..100_000 {
            let u: [f64; 4] = if trial % 2 == 0 {
                [(); 4].map(|_| g.random::<f64>())
            } else {
                [(); 4].map(|_| (g.next_u64() % 4) as f64 / 4.0)
            };
            let mut sorted = u;
            sorted.sort_unstable_by(f64::total_cmp);
            for k in 1..=4 {
                assert_eq!(
                    kth_of_four(u, k).to_bits(),
                    sorted[k - 1].to_bits(),
                    "{u:?}, k = {k}"
                );
            }
        }
    }

    #[test]
    fn the_same_key_gives_the_same_rate() {
        let draw = RateDraw::OrderStatistic { k: 1, n: 5 };
        let a = draw_rate::<Xoshiro256PlusPlus>(&draw, 42);
        assert_eq!(a, draw_rate::<Xoshiro256PlusPlus>(&draw, 42));
        assert_ne!(a, draw_rate::<Xoshiro256PlusPlus>(&draw, 43));
    }
}

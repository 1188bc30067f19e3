//! Breakeven solvers: the shock at which a tranche metric crosses a target, found by bisection
//! on common-random-number runs (every evaluation runs the same paths from the same seed, so the
//! metric is a monotone step function of the PD multiplier and bisection is well defined).
//!
//! The confidence interval inverts the metric at `target ± 1.96 se`, `se` the metric's standard
//! error at the breakeven point: the shocks at which the estimate crosses the edges of the
//! target's 95% band.

use super::grid::{PointError, run_point};
use super::shock::Shock;
use crate::model::Scenario;
use crate::runner::Progress;
use crate::stats::Z_95;

/// What a tranche must not exceed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// P(loss) reaches this probability.
    PLoss(f64),
    /// Expected loss reaches this fraction of the tranche's notional.
    ElFrac(f64),
    /// A first loss of any size: P(loss) reaches one path in `paths`.
    FirstLoss,
}

impl Target {
    /// A short name: `p_loss=0.001`, `el_frac=0.0005`, `first_loss`.
    pub fn name(&self) -> String {
        match self {
            Target::PLoss(p) => format!("p_loss={p}"),
            Target::ElFrac(e) => format!("el_frac={e}"),
            Target::FirstLoss => "first_loss".into(),
        }
    }

    /// Parses a name as written by [`Target::name`].
    pub fn parse(s: &str) -> Result<Target, String> {
        let num = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|x| *x > 0.0 && *x < 1.0)
                .ok_or_else(|| format!("{s:?}: the target must be a number in (0, 1)"))
        };
        match s.split_once('=') {
            None if s == "first_loss" => Ok(Target::FirstLoss),
            Some(("p_loss", v)) => Ok(Target::PLoss(num(v)?)),
            Some(("el_frac", v)) => Ok(Target::ElFrac(num(v)?)),
            _ => Err(format!("{s:?}: expected p_loss=P, el_frac=E or first_loss")),
        }
    }
}

/// The shock a breakeven moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lever {
    /// Multiplies every firm's hazard; the metric rises with it.
    PdMultiplier,
    /// Added to every asset correlation; the result is reported as the deal's correlation.
    Correlation,
    /// Multiplies the recovery rate; the metric falls as it rises: the breakeven is the largest
    /// multiplier at which the target is still reached.
    RecoveryMultiplier,
}

impl Lever {
    pub fn name(self) -> &'static str {
        match self {
            Lever::PdMultiplier => "pd_multiplier",
            Lever::Correlation => "correlation",
            Lever::RecoveryMultiplier => "recovery_multiplier",
        }
    }
}

/// A breakeven found (or not) for one tranche, target and lever.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakeven {
    pub tranche: String,
    pub target: Target,
    pub lever: Lever,
    /// The breakeven level of the lever; `None`: the target is not reached within the range.
    pub value: Option<f64>,
    /// 95% interval of the breakeven (`None` where an edge is not reached within the range).
    pub ci: (Option<f64>, Option<f64>),
    /// The metric and its standard error at `value`.
    pub metric_at: Option<(f64, f64)>,
    /// For the PD multiplier: the notional-weighted cumulative pool default rate over the term
    /// at the breakeven and at the interval's edges.
    pub pool_default_rate: Option<f64>,
    pub pool_default_rate_ci: (Option<f64>, Option<f64>),
    /// Runs made.
    pub evaluations: usize,
}

/// The notional-weighted probability that a firm defaults within the term, PD multiplier `m`.
pub fn pool_default_rate(s: &Scenario, m: f64) -> f64 {
    let term = s.deal.term_years();
    let (mut num, mut den) = (0.0, 0.0);
    for f in &s.firms {
        let w: f64 = f.principal.try_into().unwrap_or(0.0);
        num += w * (1.0 - (-f.credit.hazard() * m * term).exp());
        den += w;
    }
    if den > 0.0 { num / den } else { 0.0 }
}

/// Settings of a breakeven search.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
    /// Stop when the bracket is narrower than this fraction of its upper end.
    pub rel_tol: f64,
    /// The largest PD multiplier tried.
    pub max_pd_multiplier: f64,
    /// The PD multiplier at which the correlation and recovery breakevens are solved (1: the
    /// scenario's PDs).
    pub at_pd_multiplier: f64,
}

struct Evaluator<'a> {
    scenario: &'a Scenario,
    metric: String,
    scale: f64,
    lever: Lever,
    settings: Settings,
    progress: &'a dyn Progress,
    evaluations: usize,
}

impl Evaluator<'_> {
    fn shock(&self, x: f64) -> Shock {
        match self.lever {
            Lever::PdMultiplier => Shock {
                pd_multiplier: x,
                ..Shock::default()
            },
            Lever::Correlation => Shock {
                correlation_add: x - self.scenario.credit.asset_correlation,
                pd_multiplier: self.settings.at_pd_multiplier,
                ..Shock::default()
            },
            Lever::RecoveryMultiplier => Shock {
                recovery_multiplier: x,
                pd_multiplier: self.settings.at_pd_multiplier,
                ..Shock::default()
            },
        }
    }

    /// The metric (scaled) and its standard error at lever level `x`.
    fn eval(&mut self, x: f64) -> Result<(f64, f64), PointError> {
        self.evaluations += 1;
        let s = &self.settings;
        let v = run_point(
            self.scenario,
            &self.shock(x),
            std::slice::from_ref(&self.metric),
            (s.paths, s.seed, s.threads),
            self.progress,
        )?;
        Ok((v[0].0 / self.scale, v[0].1 / self.scale))
    }

    /// Whether the metric at `x` has reached `target`, in the lever's direction.
    fn reached(&mut self, x: f64, target: f64) -> Result<bool, PointError> {
        Ok(self.eval(x)?.0 >= target)
    }

    /// The edge of the region where the target is reached, within `[lo, hi]`.
    fn solve(&mut self, target: f64, lo: f64, hi: f64) -> Result<Option<f64>, PointError> {
        let tol = self.settings.rel_tol;
        match self.lever {
            Lever::PdMultiplier | Lever::Correlation => {
                // Rising metric: the smallest x with f(x) >= target.
                let (mut a, mut b) = (lo, hi);
                if self.reached(a, target)? {
                    return Ok(Some(a));
                }
                if self.lever == Lever::PdMultiplier {
                    b = 1.0_f64.max(a);
                    while !self.reached(b, target)? {
                        a = b;
                        b *= 2.0;
                        if b > hi {
                            return Ok(None);
                        }
                    }
                } else if !self.reached(b, target)? {
                    return Ok(None);
                }
                while b - a > tol * b.abs().max(1e-6) {
                    let mid = 0.5 * (a + b);
                    if self.reached(mid, target)? {
                        b = mid;
                    } else {
                        a = mid;
                    }
                }
                Ok(Some(b))
            }
            Lever::RecoveryMultiplier => {
                // Falling metric: the largest x with f(x) >= target.
                let (mut a, mut b) = (lo, hi);
                if !self.reached(a, target)? {
                    return Ok(None);
                }
                if self.reached(b, target)? {
                    return Ok(Some(b));
                }
                while b - a > tol * b.abs().max(1e-6) {
                    let mid = 0.5 * (a + b);
                    if self.reached(mid, target)? {
                        a = mid;
                    } else {
                        b = mid;
                    }
                }
                Ok(Some(a))
            }
        }
    }
}

/// The breakeven of `lever` for tranche `tranche` (an index into the scenario's tranches) and
/// `target`.
///
/// # Errors
/// A failed run.
pub fn breakeven(
    scenario: &Scenario,
    tranche: usize,
    target: Target,
    lever: Lever,
    settings: Settings,
    progress: &dyn Progress,
) -> Result<Breakeven, PointError> {
    let t = &scenario.tranches[tranche];
    let notional: f64 = t.notional.try_into().unwrap_or(1.0);
    let (metric, scale, level) = match target {
        Target::PLoss(p) => (format!("tranches.{}.p_loss", t.name), 1.0, p),
        Target::ElFrac(e) => (format!("tranches.{}.expected_loss", t.name), notional, e),
        Target::FirstLoss => (
            format!("tranches.{}.p_loss", t.name),
            1.0,
            1.0 / settings.paths as f64,
        ),
    };
    let mut ev = Evaluator {
        scenario,
        metric,
        scale,
        lever,
        settings,
        progress,
        evaluations: 0,
    };
    let (lo, hi) = match lever {
        Lever::PdMultiplier => (0.0, settings.max_pd_multiplier),
        Lever::Correlation => (scenario.credit.asset_correlation, 1.0),
        Lever::RecoveryMultiplier => (0.0, (1.0 / scenario.recovery.rate.mean().max(1e-9)).min(1e3)),
    };
    let value = ev.solve(level, lo, hi)?;
    let (metric_at, ci) = match value {
        Some(x) => {
            let at = ev.eval(x)?;
            let se = at.1;
            let down = level - Z_95 * se;
            let up = level + Z_95 * se;
            // A target at or below 0 is reached everywhere: the edge is the end of the range.
            let everywhere = if lever == Lever::RecoveryMultiplier {
                hi
            } else {
                lo
            };
            let edge_low = if down > 0.0 {
                ev.solve(down, lo, hi)?
            } else {
                Some(everywhere)
            };
            let edge_high = ev.solve(up, lo, hi)?;
            // For a falling metric the higher target is reached at a lower lever level.
            let ci = match lever {
                Lever::RecoveryMultiplier => (edge_high, edge_low),
                _ => (edge_low, edge_high),
            };
            (Some(at), ci)
        }
        None => (None, (None, None)),
    };
    let rate = |x: Option<f64>| {
        (lever == Lever::PdMultiplier)
            .then_some(x)
            .flatten()
            .map(|m| pool_default_rate(scenario, m))
    };
    Ok(Breakeven {
        tranche: t.name.clone(),
        target,
        lever,
        value,
        ci,
        metric_at,
        pool_default_rate: rate(value),
        pool_default_rate_ci: (rate(ci.0), rate(ci.1)),
        evaluations: ev.evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        for s in ["p_loss=0.001", "el_frac=0.0005", "first_loss"] {
            assert_eq!(Target::parse(s).unwrap().name(), s);
        }
        assert!(Target::parse("p_loss=2").is_err());
        assert!(Target::parse("loss").is_err());
    }
}

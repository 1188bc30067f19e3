//! Grids of stress shocks: the axes a grid file names, the points they expand to, and the run of
//! every point on common random numbers.

use serde::Deserialize;

use super::shock::Shock;
use crate::model::{Copula, Scenario};
use crate::plan::Plan;
use crate::report::summary::Summary;
use crate::runner::{self, Progress, RunError};

/// How the axes combine into points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Mode {
    /// Every combination of the axes' levels (the first axis varies slowest).
    #[default]
    #[serde(rename = "grid")]
    Grid,
    /// The unshocked base, then each level of each axis with every other axis at its base.
    #[serde(rename = "one-at-a-time")]
    OneAtATime,
}

/// The levels of each axis, as a grid file gives them (every axis optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axes {
    pub pd_multiplier: Option<Vec<f64>>,
    pub correlation_add: Option<Vec<f64>>,
    /// `"gaussian"` or `"t<dof>"`, e.g. `"t5"`.
    pub copula: Option<Vec<String>>,
    pub recovery_multiplier: Option<Vec<f64>>,
    pub lag_periods: Option<Vec<u32>>,
    pub cap_multiplier: Option<Vec<f64>>,
    pub own_default: Option<Vec<bool>>,
    pub undertaker_cap: Option<Vec<f64>>,
    pub coupon_add: Option<Vec<f64>>,
    pub fee_add: Option<Vec<f64>>,
}

/// A grid file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    #[serde(default)]
    pub mode: Mode,
    /// Paths into `summary.json` with a standard error beside them (see
    /// [`Summary::estimate`]); empty: the default metrics of [`default_metrics`].
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Paths per point (default: the scenario's).
    pub paths: Option<u64>,
    /// Seed of every point (default: the scenario's).
    pub seed: Option<u64>,
    /// The metric the heat map and the tornado show (default: the first metric).
    pub chart_metric: Option<String>,
    #[serde(default)]
    pub axes: Axes,
}

/// What a shock axis changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    PdMultiplier,
    CorrelationAdd,
    Copula,
    RecoveryMultiplier,
    LagPeriods,
    CapMultiplier,
    OwnDefault,
    UndertakerCap,
    CouponAdd,
    FeeAdd,
}

/// One level of an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level {
    Number(f64),
    Copula(Copula),
    Flag(bool),
}

impl Level {
    /// The level as written in `grid.csv` and on chart axes.
    pub fn label(&self) -> String {
        match *self {
            Level::Number(x) => format!("{x}"),
            Level::Copula(Copula::Gaussian) => "gaussian".into(),
            Level::Copula(Copula::StudentT { dof }) => format!("t{dof}"),
            Level::Flag(b) => if b { "on" } else { "off" }.into(),
        }
    }
}

impl AxisKind {
    /// The axis's key in the grid file.
    pub fn name(self) -> &'static str {
        match self {
            AxisKind::PdMultiplier => "pd_multiplier",
            AxisKind::CorrelationAdd => "correlation_add",
            AxisKind::Copula => "copula",
            AxisKind::RecoveryMultiplier => "recovery_multiplier",
            AxisKind::LagPeriods => "lag_periods",
            AxisKind::CapMultiplier => "cap_multiplier",
            AxisKind::OwnDefault => "own_default",
            AxisKind::UndertakerCap => "undertaker_cap",
            AxisKind::CouponAdd => "coupon_add",
            AxisKind::FeeAdd => "fee_add",
        }
    }

    /// Sets this axis of `shock` to `level`.
    fn set(self, shock: &mut Shock, level: Level) {
        match (self, level) {
            (AxisKind::PdMultiplier, Level::Number(x)) => shock.pd_multiplier = x,
            (AxisKind::CorrelationAdd, Level::Number(x)) => shock.correlation_add = x,
            (AxisKind::Copula, Level::Copula(c)) => shock.copula = Some(c),
            (AxisKind::RecoveryMultiplier, Level::Number(x)) => shock.recovery_multiplier = x,
            (AxisKind::LagPeriods, Level::Number(x)) => shock.lag_periods = Some(x as u32),
            (AxisKind::CapMultiplier, Level::Number(x)) => shock.cap_multiplier = x,
            (AxisKind::OwnDefault, Level::Flag(b)) => shock.own_default = b,
            (AxisKind::UndertakerCap, Level::Number(x)) => shock.undertaker_cap = Some(x),
            (AxisKind::CouponAdd, Level::Number(x)) => shock.coupon_add = x,
            (AxisKind::FeeAdd, Level::Number(x)) => shock.fee_add = x,
            _ => {}
        }
    }

    /// This axis's effective value in `shock` applied to `base`, as a label.
    pub fn label(self, shock: &Shock, base: &Scenario) -> String {
        let n = |x: f64| format!("{x}");
        match self {
            AxisKind::PdMultiplier => n(shock.pd_multiplier),
            AxisKind::CorrelationAdd => n(shock.correlation_add),
            AxisKind::Copula => Level::Copula(shock.copula.unwrap_or(base.credit.copula)).label(),
            AxisKind::RecoveryMultiplier => n(shock.recovery_multiplier),
            AxisKind::LagPeriods => shock.lag_periods.unwrap_or(base.recovery.lag_periods).to_string(),
            AxisKind::CapMultiplier => n(shock.cap_multiplier),
            AxisKind::OwnDefault => Level::Flag(shock.own_default).label(),
            AxisKind::UndertakerCap => match (shock.undertaker_cap, &base.undertaker) {
                (Some(c), _) => n(c),
                (None, Some(u)) => u.cap.map_or("unlimited".into(), |c| c.to_string()),
                (None, None) => "none".into(),
            },
            AxisKind::CouponAdd => n(shock.coupon_add),
            AxisKind::FeeAdd => n(shock.fee_add),
        }
    }
}

/// One axis of a grid: what it shocks and its levels in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub kind: AxisKind,
    pub levels: Vec<Level>,
}

/// Parses a copula level: `gaussian` or `t<dof>` with `dof > 0`.
pub fn parse_copula(s: &str) -> Result<Copula, String> {
    if s == "gaussian" {
        return Ok(Copula::Gaussian);
    }
    match s.strip_prefix('t').and_then(|d| d.parse::<f64>().ok()) {
        Some(dof) if dof > 0.0 && dof.is_finite() => Ok(Copula::StudentT { dof }),
        _ => Err(format!(
            "copula level {s:?}: expected \"gaussian\" or \"t<dof>\" such as \"t5\""
        )),
    }
}

impl Axes {
    /// The axes given, in the fixed order of [`AxisKind`], each checked.
    ///
    /// # Errors
    /// A message naming the axis and the bad level.
    pub fn list(&self) -> Result<Vec<Axis>, String> {
        let lags = self
            .lag_periods
            .as_ref()
            .map(|v| v.iter().map(|x| f64::from(*x)).collect::<Vec<_>>());
        let copula = match &self.copula {
            Some(v) => Some(
                v.iter()
                    .map(|s| parse_copula(s).map(Level::Copula))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("axes.copula: {e}"))?,
            ),
            None => None,
        };
        let flags = |v: &Option<Vec<bool>>| v.as_ref().map(|v| v.iter().map(|b| Level::Flag(*b)).collect());
        let candidates: [(AxisKind, Option<Vec<Level>>); 10] = [
            (
                AxisKind::PdMultiplier,
                numbers(AxisKind::PdMultiplier, &self.pd_multiplier, 0.0)?,
            ),
            (
                AxisKind::CorrelationAdd,
                numbers(AxisKind::CorrelationAdd, &self.correlation_add, -1.0)?,
            ),
            (AxisKind::Copula, copula),
            (
                AxisKind::RecoveryMultiplier,
                numbers(AxisKind::RecoveryMultiplier, &self.recovery_multiplier, 0.0)?,
            ),
            (AxisKind::LagPeriods, numbers(AxisKind::LagPeriods, &lags, 0.0)?),
            (
                AxisKind::CapMultiplier,
                numbers(AxisKind::CapMultiplier, &self.cap_multiplier, 0.0)?,
            ),
            (AxisKind::OwnDefault, flags(&self.own_default)),
            (
                AxisKind::UndertakerCap,
                numbers(AxisKind::UndertakerCap, &self.undertaker_cap, 0.0)?,
            ),
            (
                AxisKind::CouponAdd,
                numbers(AxisKind::CouponAdd, &self.coupon_add, -1.0)?,
            ),
            (AxisKind::FeeAdd, numbers(AxisKind::FeeAdd, &self.fee_add, -1.0)?),
        ];
        let mut out = Vec::new();
        for (kind, levels) in candidates {
            if let Some(levels) = levels {
                if levels.is_empty() {
                    return Err(format!("axes.{}: no levels", kind.name()));
                }
                out.push(Axis { kind, levels });
            }
        }
        Ok(out)
    }
}

/// Numeric levels of axis `kind`, each finite and at least `lo`.
fn numbers(kind: AxisKind, v: &Option<Vec<f64>>, lo: f64) -> Result<Option<Vec<Level>>, String> {
    let Some(v) = v else { return Ok(None) };
    if let Some(bad) = v.iter().find(|x| !x.is_finite() || **x < lo) {
        return Err(format!(
            "axes.{}: level {bad} is out of range (at least {lo})",
            kind.name()
        ));
    }
    Ok(Some(v.iter().map(|x| Level::Number(*x)).collect()))
}

/// One point of a grid: the level index of each axis (`None`: the axis at its base, in
/// one-at-a-time mode) and the shock they make.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub levels: Vec<Option<usize>>,
    pub shock: Shock,
}

/// The points of `axes` in `mode`.
pub fn points(axes: &[Axis], mode: Mode) -> Vec<Point> {
    let shock_of = |levels: &[Option<usize>]| {
        let mut s = Shock::default();
        for (a, l) in axes.iter().zip(levels) {
            if let Some(l) = l {
                a.kind.set(&mut s, a.levels[*l]);
            }
        }
        s
    };
    let mut out = Vec::new();
    match mode {
        Mode::Grid => {
            let total: usize = axes.iter().map(|a| a.levels.len()).product();
            for mut i in 0..total {
                let mut levels = vec![None; axes.len()];
                for (k, a) in axes.iter().enumerate().rev() {
                    levels[k] = Some(i % a.levels.len());
                    i /= a.levels.len();
                }
                out.push(Point {
                    shock: shock_of(&levels),
                    levels,
                });
            }
        }
        Mode::OneAtATime => {
            let base = vec![None; axes.len()];
            out.push(Point {
                shock: shock_of(&base),
                levels: base.clone(),
            });
            for (k, a) in axes.iter().enumerate() {
                for l in 0..a.levels.len() {
                    let mut levels = base.clone();
                    levels[k] = Some(l);
                    out.push(Point {
                        shock: shock_of(&levels),
                        levels,
                    });
                }
            }
        }
    }
    out
}

/// The metrics a grid reports when its file names none: each tranche's P(loss) and expected
/// loss, the mean pool loss, and each guarantor's mean payout and P(cap exhausted).
pub fn default_metrics(s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for t in &s.tranches {
        out.push(format!("tranches.{}.p_loss", t.name));
        out.push(format!("tranches.{}.expected_loss", t.name));
    }
    out.push("pool_loss.mean".into());
    for (_, p) in s.parties() {
        out.push(format!("guarantors.{}.payout.mean", p.name));
        out.push(format!("guarantors.{}.p_cap_exhausted", p.name));
    }
    out
}

/// Why a point could not be run.
#[derive(Debug, thiserror::Error)]
pub enum PointError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{0}")]
    Metric(String),
}

/// Runs `scenario` under `shock` for `paths` paths from `seed` and reads `metrics` (value,
/// standard error) off its summary. With the same seed every point draws the same numbers.
///
/// # Errors
/// The run's error, or a metric that is not in the summary.
pub fn run_point(
    scenario: &Scenario,
    shock: &Shock,
    metrics: &[String],
    (paths, seed, threads): (u64, u64, usize),
    progress: &dyn Progress,
) -> Result<Vec<(f64, f64)>, PointError> {
    let shocked = shock.apply(scenario);
    let plan = Plan::new(&shocked);
    let sim = runner::simulate(&plan, paths, seed, threads, progress)?;
    let summary = Summary::new(&shocked, sim, String::new(), 0.0);
    metrics
        .iter()
        .map(|m| summary.estimate(m).map_err(PointError::Metric))
        .collect()
}

/// Every point of a grid with its metrics.
#[derive(Debug, Clone)]
pub struct GridResult {
    pub mode: Mode,
    pub axes: Vec<Axis>,
    pub metrics: Vec<String>,
    pub paths: u64,
    pub seed: u64,
    pub points: Vec<Point>,
    /// Per point, per metric: (value, standard error).
    pub values: Vec<Vec<(f64, f64)>>,
}

/// Runs every point of `spec` on `scenario`, calling `each(done, total)` after each point.
///
/// # Errors
/// A bad axis or metric, or a failed run.
pub fn run_grid(
    scenario: &Scenario,
    spec: &GridSpec,
    threads: usize,
    progress: &dyn Progress,
    mut each: impl FnMut(usize, usize),
) -> Result<GridResult, PointError> {
    let axes = spec.axes.list().map_err(PointError::Metric)?;
    let metrics = if spec.metrics.is_empty() {
        default_metrics(scenario)
    } else {
        spec.metrics.clone()
    };
    let paths = spec.paths.unwrap_or(scenario.simulation.paths).max(1);
    let seed = spec.seed.unwrap_or(scenario.simulation.seed);
    let pts = points(&axes, spec.mode);
    let mut values = Vec::with_capacity(pts.len());
    for (i, p) in pts.iter().enumerate() {
        values.push(run_point(
            scenario,
            &p.shock,
            &metrics,
            (paths, seed, threads),
            progress,
        )?);
        each(i + 1, pts.len());
    }
    Ok(GridResult {
        mode: spec.mode,
        axes,
        metrics,
        paths,
        seed,
        points: pts,
        values,
    })
}

/// A heat map of one metric over the first two axes of a full grid (other axes at their
/// first level): `values[y][x]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Heat {
    pub metric: String,
    pub x_axis: AxisKind,
    pub x_levels: Vec<String>,
    pub y_axis: AxisKind,
    pub y_levels: Vec<String>,
    pub values: Vec<Vec<f64>>,
}

/// One bar of a tornado chart: an axis's lowest and highest effect on a metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub axis: AxisKind,
    /// The level giving the lowest value, and that value.
    pub low: (String, f64),
    /// The level giving the highest value, and that value.
    pub high: (String, f64),
}

/// The tornado of one-at-a-time effects on a metric: the base value and one bar per axis,
/// widest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Tornado {
    pub metric: String,
    pub base: f64,
    pub bars: Vec<Bar>,
}

impl GridResult {
    /// Index of `metric`, or of the first metric.
    fn metric_index(&self, metric: Option<&str>) -> usize {
        metric
            .and_then(|m| self.metrics.iter().position(|x| x == m))
            .unwrap_or(0)
    }

    /// The heat map of `metric` (default: the first); `None` unless a full grid of at least two
    /// axes.
    pub fn heat(&self, metric: Option<&str>) -> Option<Heat> {
        if self.mode != Mode::Grid || self.axes.len() < 2 || self.metrics.is_empty() {
            return None;
        }
        let m = self.metric_index(metric);
        let (xa, ya) = (&self.axes[0], &self.axes[1]);
        let mut values = vec![vec![f64::NAN; xa.levels.len()]; ya.levels.len()];
        for (p, v) in self.points.iter().zip(&self.values) {
            if let (true, Some(x), Some(y)) = (
                p.levels[2..].iter().all(|l| *l == Some(0)),
                p.levels[0],
                p.levels[1],
            ) {
                values[y][x] = v[m].0;
            }
        }
        Some(Heat {
            metric: self.metrics[m].clone(),
            x_axis: xa.kind,
            x_levels: xa.levels.iter().map(Level::label).collect(),
            y_axis: ya.kind,
            y_levels: ya.levels.iter().map(Level::label).collect(),
            values,
        })
    }

    /// The tornado of `metric` (default: the first); `None` unless one-at-a-time.
    pub fn tornado(&self, metric: Option<&str>) -> Option<Tornado> {
        if self.mode != Mode::OneAtATime || self.metrics.is_empty() || self.values.is_empty() {
            return None;
        }
        let m = self.metric_index(metric);
        let base = self.values[0][m].0;
        let mut bars: Vec<Bar> = self
            .axes
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let mut low = ("base".to_owned(), base);
                let mut high = ("base".to_owned(), base);
                for (p, v) in self.points.iter().zip(&self.values) {
                    if let Some(l) = p.levels[k] {
                        let x = v[m].0;
                        if x < low.1 {
                            low = (a.levels[l].label(), x);
                        }
                        if x > high.1 {
                            high = (a.levels[l].label(), x);
                        }
                    }
                }
                Bar {
                    axis: a.kind,
                    low,
                    high,
                }
            })
            .collect();
        bars.sort_by(|a, b| (b.high.1 - b.low.1).total_cmp(&(a.high.1 - a.low.1)));
        Some(Tornado {
            metric: self.metrics[m].clone(),
            base,
            bars,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_and_one_at_a_time_points() {
        let axes = Axes {
            pd_multiplier: Some(vec![1.0, 2.0, 4.0]),
            copula: Some(vec!["gaussian".into(), "t5".into()]),
            ..Axes::default()
        }
        .list()
        .unwrap();
        let g = points(&axes, Mode::Grid);
        assert_eq!(g.len(), 6);
        assert_eq!(g[1].levels, vec![Some(0), Some(1)]);
        assert_eq!(g[1].shock.copula, Some(Copula::StudentT { dof: 5.0 }));
        assert_eq!(g[5].shock.pd_multiplier, 4.0);
        let o = points(&axes, Mode::OneAtATime);
        assert_eq!(o.len(), 1 + 3 + 2);
        assert_eq!(o[0].shock, Shock::default());
        assert_eq!(o[4].levels, vec![None, Some(0)]);
    }

    #[test]
    fn bad_levels_are_named() {
        let e = Axes {
            copula: Some(vec!["t0".into()]),
            ..Axes::default()
        }
        .list()
        .unwrap_err();
        assert!(e.contains("axes.copula"), "{e}");
        let e = Axes {
            pd_multiplier: Some(vec![-1.0]),
            ..Axes::default()
        }
        .list()
        .unwrap_err();
        assert!(e.contains("axes.pd_multiplier"), "{e}");
    }
}

//! `grid.csv` and `grid.json` of `ipabs stress`: each point's shocks and its metrics with their
//! standard errors.

use serde_json::{Map, Value, json};

use crate::model::Scenario;
use crate::stress::breakeven::{Breakeven, Settings};
use crate::stress::grid::{GridResult, Mode};

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Grid => "grid",
        Mode::OneAtATime => "one-at-a-time",
    }
}

/// `grid.csv`: one row per point: `point`, each axis's effective level, then each metric and
/// its `_se`.
///
/// # Errors
/// A CSV error (none in practice: the writer is in memory).
pub fn grid_csv(scenario: &Scenario, r: &GridResult) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head = vec!["point".to_owned()];
    head.extend(r.axes.iter().map(|a| a.kind.name().to_owned()));
    for m in &r.metrics {
        head.push(m.clone());
        head.push(format!("{m}_se"));
    }
    w.write_record(&head)?;
    for (i, (p, v)) in r.points.iter().zip(&r.values).enumerate() {
        let mut row = vec![i.to_string()];
        row.extend(r.axes.iter().map(|a| a.kind.label(&p.shock, scenario)));
        for (x, se) in v {
            row.push(format!("{x}"));
            row.push(format!("{se}"));
        }
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// `grid.json`: the grid's settings, axes, every point and, where they apply, the heat map and
/// tornado data.
pub fn grid_json(scenario: &Scenario, r: &GridResult, heat_metric: Option<&str>) -> Vec<u8> {
    let points: Vec<Value> = r
        .points
        .iter()
        .zip(&r.values)
        .map(|(p, v)| {
            let shock: Map<String, Value> = r
                .axes
                .iter()
                .map(|a| {
                    (
                        a.kind.name().to_owned(),
                        Value::from(a.kind.label(&p.shock, scenario)),
                    )
                })
                .collect();
            let metrics: Map<String, Value> = r
                .metrics
                .iter()
                .zip(v)
                .map(|(m, (x, se))| (m.clone(), json!({ "value": x, "se": se })))
                .collect();
            json!({ "shock": shock, "metrics": metrics })
        })
        .collect();
    let axes: Vec<Value> = r
        .axes
        .iter()
        .map(|a| json!({ "name": a.kind.name(), "levels": a.levels.iter().map(|l| l.label()).collect::<Vec<_>>() }))
        .collect();
    let heat = r.heat(heat_metric).map(|h| {
        json!({ "metric": h.metric, "x": h.x_axis.name(), "x_levels": h.x_levels,
                "y": h.y_axis.name(), "y_levels": h.y_levels, "values": h.values })
    });
    let tornado = r.tornado(heat_metric).map(|t| {
        json!({ "metric": t.metric, "base": t.base, "bars": t.bars.iter().map(|b| json!({
            "axis": b.axis.name(), "low_level": b.low.0, "low": b.low.1,
            "high_level": b.high.0, "high": b.high.1 })).collect::<Vec<_>>() })
    });
    let doc = json!({
        "scenario": scenario.name,
        "mode": mode_name(r.mode),
        "paths": r.paths,
        "seed": r.seed,
        "common_random_numbers": true,
        "metrics": r.metrics,
        "axes": axes,
        "points": points,
        "heatmap": heat,
        "tornado": tornado,
    });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

fn opt(x: Option<f64>) -> Value {
    x.map_or(Value::Null, Value::from)
}

/// `breakeven.json`: every breakeven with its 95% interval and, for the PD multiplier, the
/// matching cumulative pool default rate.
pub fn breakeven_json(scenario: &Scenario, settings: &Settings, results: &[Breakeven]) -> Vec<u8> {
    let items: Vec<Value> = results
        .iter()
        .map(|b| {
            json!({
                "tranche": b.tranche,
                "target": b.target.name(),
                "lever": b.lever.name(),
                "value": opt(b.value),
                "ci_95": [opt(b.ci.0), opt(b.ci.1)],
                "metric_at_value": b.metric_at.map(|(v, se)| json!({ "value": v, "se": se })),
                "pool_default_rate": opt(b.pool_default_rate),
                "pool_default_rate_ci_95": [opt(b.pool_default_rate_ci.0), opt(b.pool_default_rate_ci.1)],
                "evaluations": b.evaluations,
            })
        })
        .collect();
    let doc = json!({
        "scenario": scenario.name,
        "paths": settings.paths,
        "seed": settings.seed,
        "common_random_numbers": true,
        "correlation_and_recovery_at_pd_multiplier": settings.at_pd_multiplier,
        "breakevens": items,
    });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The breakevens as a plain-text table.
pub fn breakeven_table(scenario: &Scenario, settings: &Settings, results: &[Breakeven]) -> String {
    let (paths, seed) = (settings.paths, settings.seed);
    let f = |x: Option<f64>| x.map_or("not reached".to_owned(), |v| format!("{v:.4}"));
    let pct = |x: Option<f64>| x.map_or("–".to_owned(), |v| format!("{:.3}%", 100.0 * v));
    let mut out = format!(
        "{}: breakevens on {paths} paths, seed {seed} (common random numbers; 95% interval); correlation and recovery at PD x {}\n\n",
        scenario.name, settings.at_pd_multiplier
    );
    out.push_str(&format!(
        "  {:<10} {:<20} {:<16} {:>12} {:>27} {:>12} {:>21}\n",
        "tranche", "lever", "target", "breakeven", "95% interval", "pool DR", "pool DR 95%"
    ));
    for b in results {
        out.push_str(&format!(
            "  {:<10} {:<20} {:<16} {:>12} {:>27} {:>12} {:>21}\n",
            b.tranche,
            b.lever.name(),
            b.target.name(),
            f(b.value),
            format!("[{}, {}]", f(b.ci.0), f(b.ci.1)),
            pct(b.pool_default_rate),
            format!(
                "[{}, {}]",
                pct(b.pool_default_rate_ci.0),
                pct(b.pool_default_rate_ci.1)
            ),
        ));
    }
    out
}

//! `ipabs stress`: run a grid of shocks on common random numbers and write grid.csv, grid.json,
//! the heat map and the tornado chart.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::{EXIT_INTERRUPTED, EXIT_USAGE, Failure, default_out, interrupted, load_unweighted, say};
use crate::chart::Labels;
use crate::chart::stress::{StressChart, render};
use crate::report::stress::{grid_csv, grid_json};
use crate::report::write_report;
use crate::runner::Progress;
use crate::stress::grid::{GridSpec, PointError, run_grid};

#[derive(Debug, clap::Args)]
pub(crate) struct StressArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// The grid file (TOML): mode, metrics, paths, seed and [axes] (see scenarios/stress/README.md).
    #[arg(long)]
    grid: PathBuf,
    /// Paths per point (overrides the grid file and the scenario).
    #[arg(long)]
    paths: Option<u64>,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Report folder (default: reports/<scenario file stem>-stress/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

struct StopOnCtrlC;
impl Progress for StopOnCtrlC {
    fn cancelled(&self) -> bool {
        interrupted()
    }
}

/// Reads and checks a grid file.
pub(crate) fn load_grid(path: &std::path::Path) -> Result<GridSpec, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure(
            format!("{}: cannot read the grid file: {e}", path.display()),
            EXIT_USAGE,
        )
    })?;
    let spec: GridSpec =
        toml::from_str(&text).map_err(|e| Failure(format!("{}: {e}", path.display()), EXIT_USAGE))?;
    spec.axes
        .list()
        .map_err(|e| Failure(format!("{}: {e}", path.display()), EXIT_USAGE))?;
    if spec.paths == Some(0) {
        return Err(Failure(
            format!("{}: paths must be at least 1", path.display()),
            EXIT_USAGE,
        ));
    }
    Ok(spec)
}

pub(crate) fn stress(args: &StressArgs) -> Result<(), Failure> {
    let scenario = load_unweighted(&args.scenario, "stress")?;
    let mut spec = load_grid(&args.grid)?;
    if let Some(p) = args.paths {
        if p == 0 {
            return Err(Failure("--paths: must be at least 1".into(), EXIT_USAGE));
        }
        spec.paths = Some(p);
    }
    let quiet = args.quiet;
    let result = run_grid(&scenario, &spec, args.threads, &StopOnCtrlC, |done, total| {
        if !quiet && std::io::stderr().is_terminal() {
            eprint!("\rpoint {done}/{total}");
            if done == total {
                eprintln!();
            }
        }
    })
    .map_err(|e| match e {
        PointError::Run(crate::runner::RunError::Cancelled) => Failure::interrupted(),
        PointError::Metric(m) => Failure(format!("{}: {m}", args.grid.display()), EXIT_USAGE),
        other => Failure(other.to_string(), EXIT_USAGE),
    })?;
    if interrupted() {
        return Err(Failure("interrupted".into(), EXIT_INTERRUPTED));
    }

    let chart_metric = spec.chart_metric.as_deref();
    let csv = grid_csv(&scenario, &result)?;
    let json = grid_json(&scenario, &result, chart_metric);
    let labels = Labels::new(scenario.report.language, &scenario.currency);
    let footnote = labels.footnote(&scenario.name, result.paths, result.seed);
    let mut charts = Vec::new();
    let heat = result.heat(chart_metric);
    let tornado = result.tornado(chart_metric);
    if let Some(h) = &heat {
        charts.push((
            "stress_heatmap",
            render(StressChart::Heat(h), &labels, footnote.clone())?,
        ));
    }
    if let Some(t) = &tornado {
        charts.push((
            "stress_tornado",
            render(StressChart::Tornado(t), &labels, footnote.clone())?,
        ));
    }
    let names: Vec<(String, String)> = charts
        .iter()
        .map(|(stem, _)| (format!("{stem}.png"), format!("{stem}.svg")))
        .collect();
    let mut files: Vec<(&str, &[u8])> = vec![("grid.csv", &csv), ("grid.json", &json)];
    for ((png, svg), (_, (png_bytes, svg_text))) in names.iter().zip(&charts) {
        files.push((png.as_str(), png_bytes.as_slice()));
        files.push((svg.as_str(), svg_text.as_bytes()));
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario, &scenario.name, "-stress"));
    write_report(&out_dir, &files, &interrupted)?;
    if !quiet {
        say(&render_table(&result, &scenario));
        say(&format!("wrote {}\n", out_dir.display()));
    }
    Ok(())
}

/// The grid as a plain-text table: one row per point.
fn render_table(r: &crate::stress::grid::GridResult, scenario: &crate::model::Scenario) -> String {
    let mut head: Vec<String> = r.axes.iter().map(|a| a.kind.name().to_owned()).collect();
    head.extend(r.metrics.iter().cloned());
    let mut rows = vec![head];
    for (p, v) in r.points.iter().zip(&r.values) {
        let mut row: Vec<String> = r.axes.iter().map(|a| a.kind.label(&p.shock, scenario)).collect();
        row.extend(v.iter().map(|(x, se)| format!("{x:.6} ± {se:.6}")));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{}: {} points, {} paths each, seed {} (common random numbers)\n",
        scenario.name,
        r.points.len(),
        r.paths,
        r.seed
    );
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

//! `ipabs analytic`: the exact loss distribution of a scenario with fixed recoveries.

use std::path::PathBuf;

use super::{EXIT_USAGE, Failure, default_out, interrupted, load, say};
use crate::analytic::{self, Settings};
use crate::report::analytic::AnalyticJson;
use crate::report::write_report;

#[derive(Debug, clap::Args)]
pub(crate) struct AnalyticArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Extra loss slices as fractions of the pool notional, e.g. `0-0.03,0.03-0.06`.
    #[arg(long, value_delimiter = ',', value_parser = parse_slice)]
    slices: Vec<(f64, f64)>,
    /// Report folder (default: reports/<scenario file stem>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// `a-d` with `0 <= a <= d <= 1`.
pub(crate) fn parse_slice(s: &str) -> Result<(f64, f64), String> {
    let bad = || {
        format!(
            "{s:?}: a slice is ATTACH-DETACH, fractions of the pool with 0 <= ATTACH <= DETACH <= 1, e.g. 0.03-0.06"
        )
    };
    let (a, d) = s.split_once('-').ok_or_else(bad)?;
    let a: f64 = a.trim().parse().map_err(|_| bad())?;
    let d: f64 = d.trim().parse().map_err(|_| bad())?;
    if !(0.0 <= a && a <= d && d <= 1.0) {
        return Err(bad());
    }
    Ok((a, d))
}

pub(crate) fn run(args: &AnalyticArgs) -> Result<(), Failure> {
    let scenario = load(&args.scenario)?;
    let a = analytic::analyse(&scenario, &args.slices, &Settings::default()).map_err(|e| {
        Failure(
            format!("{}: no analytic solution: {e}", args.scenario.display()),
            EXIT_USAGE,
        )
    })?;
    let json = AnalyticJson::new(&scenario.name, &scenario.currency, &a);
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario, &scenario.name, "-analytic"));
    write_report(&out_dir, &[("analytic.json", &json.to_json())], &interrupted)?;
    if !args.quiet {
        say(&format!(
            "{}\nwrote {}\n",
            json.render(),
            out_dir.join("analytic.json").display()
        ));
    }
    Ok(())
}

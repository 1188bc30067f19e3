//! `ipabs breakeven`: the PD multiplier, correlation and recovery at which each tranche's loss
//! metrics cross their targets, on common random numbers.

use std::path::PathBuf;

use super::{EXIT_USAGE, Failure, default_out, interrupted, load_unweighted, say};
use crate::report::stress::{breakeven_json, breakeven_table};
use crate::report::write_report;
use crate::runner::{Progress, RunError};
use crate::stress::breakeven::{Lever, Settings, Target, breakeven};
use crate::stress::grid::PointError;

#[derive(Debug, clap::Args)]
pub(crate) struct BreakevenArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Paths per run (overrides [simulation] paths).
    #[arg(long)]
    paths: Option<u64>,
    /// Seed of every run (overrides [simulation] seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Targets, e.g. `p_loss=0.001,el_frac=0.0005,first_loss` (the default).
    #[arg(long, value_delimiter = ',', value_parser = Target::parse)]
    targets: Vec<Target>,
    /// The PD multiplier at which the correlation and recovery breakevens are solved.
    #[arg(long, default_value_t = 1.0, value_parser = parse_multiplier)]
    at_pd_multiplier: f64,
    /// Solve for the PD multiplier only (skip the breakeven correlation and recovery).
    #[arg(long)]
    pd_only: bool,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Report folder (default: reports/<scenario file stem>-breakeven/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// A finite multiplier `>= 0`.
fn parse_multiplier(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| format!("{s:?}: expected a multiplier >= 0"))
}

struct StopOnCtrlC;
impl Progress for StopOnCtrlC {
    fn cancelled(&self) -> bool {
        interrupted()
    }
}

pub(crate) fn run(args: &BreakevenArgs) -> Result<(), Failure> {
    let scenario = load_unweighted(&args.scenario, "breakeven")?;
    if scenario.tranches.is_empty() {
        return Err(Failure(
            format!(
                "{}: no tranches: breakevens are per tranche",
                args.scenario.display()
            ),
            EXIT_USAGE,
        ));
    }
    let paths = args.paths.unwrap_or(scenario.simulation.paths);
    if paths == 0 {
        return Err(Failure("--paths: must be at least 1".into(), EXIT_USAGE));
    }
    let settings = Settings {
        paths,
        seed: args.seed.unwrap_or(scenario.simulation.seed),
        threads: args.threads,
        rel_tol: 1e-3,
        max_pd_multiplier: 1024.0,
        at_pd_multiplier: args.at_pd_multiplier,
    };
    let targets = if args.targets.is_empty() {
        vec![Target::PLoss(0.001), Target::ElFrac(0.0005), Target::FirstLoss]
    } else {
        args.targets.clone()
    };
    let levers: &[Lever] = if args.pd_only {
        &[Lever::PdMultiplier]
    } else {
        &[Lever::PdMultiplier, Lever::Correlation, Lever::RecoveryMultiplier]
    };
    let mut results = Vec::new();
    for j in 0..scenario.tranches.len() {
        for &lever in levers {
            for &target in &targets {
                let b =
                    breakeven(&scenario, j, target, lever, settings, &StopOnCtrlC).map_err(|e| match e {
                        PointError::Run(RunError::Cancelled) => Failure::interrupted(),
                        other => Failure(other.to_string(), EXIT_USAGE),
                    })?;
                results.push(b);
            }
        }
    }
    let json = breakeven_json(&scenario, &settings, &results);
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario, &scenario.name, "-breakeven"));
    write_report(&out_dir, &[("breakeven.json", &json)], &interrupted)?;
    if !args.quiet {
        say(&breakeven_table(&scenario, &settings, &results));
        say(&format!("wrote {}\n", out_dir.display()));
    }
    Ok(())
}

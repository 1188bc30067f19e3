//! The command line: argument parsing, the human table on stdout, messages on stderr and exit
//! codes. The only module that knows argv, the terminal and the working directory.
//!
//! Exit status: 0 on success; 2 for any error the user can fix (a bad scenario file, a bad flag,
//! an output folder that cannot be written, a run too large for this machine).

mod analytic;
mod breakeven;
mod cashflows;
mod exposure;
mod merge;
mod run;
mod stress;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};

use crate::scenario;

/// Monte Carlo for IP asset-backed notes and IP pledge-loan programmes.
#[derive(Debug, Parser)]
#[command(name = "ipabs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario and write summary.json into the report folder.
    Run(run::RunArgs),
    /// Exact loss distribution of a scenario with fixed recoveries; writes analytic.json.
    Analytic(analytic::AnalyticArgs),
    /// Write the exact cash-flow statement of one case of defaults (CSV and XLSX).
    Cashflows(cashflows::CashflowsArgs),
    /// Join the partial results of `run --shard I/N` into the whole run's report.
    Merge(merge::MergeArgs),
    /// PD multiplier, correlation and recovery at which each tranche's loss crosses a target.
    Breakeven(breakeven::BreakevenArgs),
    /// The guarantors' and the undertaker's exposure, with Euler contributions by firm.
    Exposure(exposure::ExposureArgs),
    /// Run a grid of stress shocks on common random numbers; writes grid.csv, grid.json and charts.
    Stress(stress::StressArgs),
    /// Load and check a scenario file only.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
}

/// The default report folder of a scenario file: `reports/<file stem><suffix>/` (each verb has
/// its own folder, because a report folder is always replaced whole).
pub(crate) fn default_out(scenario: &Path, name: &str, suffix: &str) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_owned());
    PathBuf::from("reports").join(format!("{stem}{suffix}"))
}

/// Writes `text` to stdout. A closed pipe (`ipabs run … | head`) is not an error: the output
/// files are already written, and the reader has what it wanted.
pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// An error already phrased for the user, and the exit status it gives.
pub(crate) struct Failure(pub(crate) String, pub(crate) u8);

/// Exit status of an error the user can fix.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit status after Ctrl-C (128 + SIGINT).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string(), EXIT_USAGE)
    }
}

impl Failure {
    /// The failure after Ctrl-C: nothing was written.
    pub(crate) fn interrupted() -> Failure {
        Failure(
            "interrupted: nothing was written, the report folder is as it was".into(),
            EXIT_INTERRUPTED,
        )
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C sets a flag that long work checks (between blocks of paths, before the report folder
/// is replaced) instead of killing the process, so no half-written output is left behind.
fn catch_interrupts() {
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
}

/// Whether Ctrl-C was pressed.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    catch_interrupts();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Analytic(args) => analytic::run(&args),
        Command::Cashflows(args) => cashflows::cashflows(&args),
        Command::Merge(args) => merge::merge(&args),
        Command::Stress(args) => stress::stress(&args),
        Command::Exposure(args) => exposure::run(&args),
        Command::Breakeven(args) => breakeven::run(&args),
        Command::Validate { scenario } => validate(&scenario),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            let _ = writeln!(std::io::stderr(), "{}", msg.trim_end());
            ExitCode::from(code)
        }
    }
}

/// Loads a scenario; on failure the message shows each problem with its source line.
pub(crate) fn load(path: &Path) -> Result<crate::model::Scenario, Failure> {
    scenario::load(path).map_err(|e| Failure(crate::job::explain(&e, path), EXIT_USAGE))
}

/// [`load`] for the verbs that simulate unweighted paths (stress, breakeven, exposure): a
/// scenario asking for importance sampling is refused rather than silently run plain.
pub(crate) fn load_unweighted(path: &Path, verb: &str) -> Result<crate::model::Scenario, Failure> {
    let s = load(path)?;
    if s.simulation.importance.is_some() {
        return Err(Failure(
            format!(
                "{}: simulation.importance: `ipabs {verb}` does not support importance sampling (only `ipabs run` weights its statistics); remove the key for this verb",
                path.display()
            ),
            EXIT_USAGE,
        ));
    }
    Ok(s)
}

fn validate(path: &Path) -> Result<(), Failure> {
    let s = load(path)?;
    say(&format!(
        "{}: ok ({} firms, {} tiers, {} tranches, {} paths)\n",
        path.display(),
        s.firms.len(),
        s.tiers.len(),
        s.tranches.len(),
        s.simulation.paths
    ));
    Ok(())
}

//! The command line: argument parsing, the human table on stdout, messages on stderr and exit
//! codes. The only module that knows argv, the terminal and the working directory.
//!
//! Exit status: 0 on success; 2 for any error the user can fix (a bad scenario file, a bad flag,
//! an output folder that cannot be written, a run too large for this machine).

mod cashflows;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    /// Write the exact cash-flow statement of one case of defaults (CSV and XLSX).
    Cashflows(cashflows::CashflowsArgs),
    /// Load and check a scenario file only.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
}

/// An error already phrased for the user.
pub(crate) struct Failure(pub(crate) String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
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
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Cashflows(args) => cashflows::cashflows(&args),
        Command::Validate { scenario } => validate(&scenario),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("{}", msg.trim_end());
            ExitCode::from(2)
        }
    }
}

/// Loads a scenario; on failure the message shows each problem with its source line.
pub(crate) fn load(path: &Path) -> Result<crate::model::Scenario, Failure> {
    scenario::load(path).map_err(|e| match std::fs::read_to_string(path) {
        Ok(text) => Failure(e.with_source(&text)),
        Err(_) => Failure(e.to_string()),
    })
}

/// The default report folder of a scenario file: `reports/<file stem>/`.
pub(crate) fn default_report_dir(path: &Path, scenario: &crate::model::Scenario) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| scenario.name.clone());
    PathBuf::from("reports").join(stem)
}

fn validate(path: &Path) -> Result<(), Failure> {
    let s = load(path)?;
    println!(
        "{}: ok ({} firms, {} tiers, {} tranches, {} paths)",
        path.display(),
        s.firms.len(),
        s.tiers.len(),
        s.tranches.len(),
        s.simulation.paths
    );
    Ok(())
}

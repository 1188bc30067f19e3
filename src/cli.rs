//! The command line: argument parsing, the human table on stdout, messages on stderr and exit
//! codes. The only module that knows argv, the terminal and the working directory.
//!
//! Exit status: 0 on success; 2 for any error the user can fix (a bad scenario file, a bad flag,
//! an output folder that cannot be written, a run too large for this machine).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::plan::Plan;
use crate::report::summary::Summary;
use crate::report::{table, write_files};
use crate::runner::{self, Progress, Silent};
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
    Run(RunArgs),
    /// Load and check a scenario file only.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Number of paths (overrides [simulation] paths).
    #[arg(long)]
    paths: Option<u64>,
    /// Seed (overrides [simulation] seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Report folder (default: reports/<scenario file stem>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// An error already phrased for the user.
struct Failure(String);

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
        Command::Run(args) => run(&args),
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
fn load(path: &Path) -> Result<crate::model::Scenario, Failure> {
    scenario::load(path).map_err(|e| match std::fs::read_to_string(path) {
        Ok(text) => Failure(e.with_source(&text)),
        Err(_) => Failure(e.to_string()),
    })
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

/// Progress on stderr as a bar, when stderr is a terminal.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn advance(&self, paths: u64) {
        self.0.inc(paths);
    }
}

/// Memory this machine has available, from `/proc/meminfo` where it exists.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.scenario).map_err(|e| {
        Failure(format!(
            "{}: cannot read the scenario file: {e}",
            args.scenario.display()
        ))
    })?;
    let mut scenario = load(&args.scenario)?;
    if let Some(p) = args.paths {
        if p == 0 {
            return Err(Failure("--paths: must be at least 1".into()));
        }
        scenario.simulation.paths = p;
    }
    if let Some(s) = args.seed {
        scenario.simulation.seed = s;
    }
    let out_dir = match &args.out {
        Some(d) => d.clone(),
        None => {
            let stem = args
                .scenario
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| scenario.name.clone());
            PathBuf::from("reports").join(stem)
        }
    };

    let plan = Plan::new(&scenario);
    let paths = scenario.simulation.paths;
    let needed = runner::memory_needed(&plan, paths);
    if let Some(avail) = available_memory()
        && needed > avail / 10 * 8
    {
        let per_path = (needed / paths).max(1);
        return Err(runner::RunError::TooLarge {
            paths,
            needed_mib: needed >> 20,
            max_paths: avail / 10 * 8 / per_path,
        }
        .into());
    }

    let bar = if !args.quiet && std::io::stderr().is_terminal() {
        let pb = ProgressBar::new(paths);
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} paths ({per_sec}, eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(Bar(pb))
    } else {
        None
    };
    let progress: &dyn Progress = match &bar {
        Some(b) => b,
        None => &Silent,
    };

    let start = Instant::now();
    let sim = runner::simulate(&plan, paths, scenario.simulation.seed, args.threads, progress)?;
    if let Some(b) = &bar {
        b.0.finish_and_clear();
    }
    let sha = format!("{:x}", Sha256::digest(&bytes));
    let summary = Summary::new(&scenario, sim, sha, start.elapsed().as_secs_f64());

    write_files(&out_dir, &[("summary.json", &summary.to_json())])?;
    if !args.quiet {
        print!("{}", table::render(&summary));
        println!("\nwrote {}", out_dir.join("summary.json").display());
    }
    Ok(())
}

//! One run of a scenario as `ipabs run` and the Python module both do it: [`run`] (the memory
//! check, the precision-target loop and the summary), [`run_shard`] (one shard of a run as a
//! [`Partial`]) and [`merge`] (the partials of a run joined back into the whole run).
//!
//! The front ends (the command line, the Python module) own reading the scenario, progress
//! display and output; this module owns what a run *is*, so both give the same `summary.json`
//! bit for bit. It reads the memory available to the process ([`crate::memory`], for the memory
//! check), the clock and, in [`read_partial`], a partial's folder; it writes nothing.

use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::importance::{self, Choice, Pilot, Target, Tilt};
use crate::memory;
use crate::model::{ImportanceSpec, Scenario};
use crate::plan::Plan;
use crate::report::partial::{Partial, PartialError};
use crate::report::summary::{PrecisionTargetJson, StreamingJson, Summary};
use crate::runner::{self, Layout, MergeError, Progress, RunError, Simulation, shard_blocks};
use crate::size::Bytes;
use crate::stats::histogram;

/// Why a run could not be done.
#[derive(Debug, Error)]
pub enum JobError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("--paths: must be at least 1")]
    NoPaths,
    /// The precision target names no figure of the summary.
    #[error("{file}: target_se: {message}")]
    Target { file: String, message: String },
    /// A shard was asked of a run whose size is not fixed.
    #[error(
        "--shard runs a fixed share of the paths: it cannot be combined with a precision target or --check-analytic"
    )]
    ShardOfTarget,
    /// A shard number outside `1..=shards`.
    #[error("shard {shard}/{shards}: expected I/N with 1 <= I <= N")]
    Shard { shard: u64, shards: u64 },
    /// The importance-sampling setting cannot be used with this scenario.
    #[error("{file}: importance: {message}")]
    Importance { file: String, message: String },
    /// Shards are plain Monte Carlo: their partials carry no weights.
    #[error(
        "importance sampling cannot be combined with --shard (partial results are unweighted); run without importance sampling"
    )]
    ShardOfImportance,
    /// A streamed run keeps no per-path rows, which `what` needs.
    #[error("a streamed run (--streaming, or a run too large to store) cannot be combined with {what}")]
    StreamingOf { what: &'static str },
    /// A run that does not fit in its [`Budget`]: a stored run that is not streamed, `why`
    /// naming what needs its per-path rows (`None`: streaming was not asked for); or a streamed
    /// run ([`Kept::Streamed`]) that does not fit either, `why` saying so.
    #[error("{over}{}", unstreamable(over, *.why))]
    TooLarge {
        over: Overflow,
        why: Option<&'static str>,
    },
}

/// What [`JobError::TooLarge`] gives as `why` for a streamed run over its budget.
pub const STREAMED_TOO_LARGE: &str = "a streamed run (its bins and coverage sample do not fit either)";

/// The end of [`JobError::TooLarge`]'s message.
fn unstreamable(over: &Overflow, why: Option<&'static str>) -> String {
    match (over.kept, why) {
        (Kept::Stored, Some(w)) => {
            format!("; a streamed run keeps no per-path rows, but cannot be combined with {w}")
        }
        _ => String::new(),
    }
}

/// The tilt of an importance-sampled run: given as a shift, or chosen for a metric by the
/// cross-entropy pilot ([`importance::cross_entropy`], on its own streams and one thread, so the
/// same whatever the run's thread count).
#[derive(Debug, Clone)]
pub struct Sampling {
    pub tilt: Tilt,
    /// The metric the shift was chosen for (`None` for a given shift).
    pub metric: Option<String>,
    /// The pilot's figures (`None` for a given shift).
    pub choice: Option<Choice>,
}

impl Sampling {
    /// The tilt `spec` asks for on `scenario`.
    ///
    /// # Errors
    /// A message for a shift of the wrong length or a metric the summary lacks.
    pub fn new(spec: &ImportanceSpec, scenario: &Scenario, plan: &Plan) -> Result<Sampling, String> {
        match spec {
            ImportanceSpec::Shift(mu) => Ok(Sampling {
                tilt: Tilt::new(plan, mu).map_err(|e| e.to_string())?,
                metric: None,
                choice: None,
            }),
            ImportanceSpec::Metric(m) => {
                let target = Target::parse(m, scenario)?;
                let pilot = Pilot::new(scenario.simulation.seed, scenario.firms.len());
                let choice =
                    importance::cross_entropy(plan, &target, &pilot, |b| runner::block_rng(pilot.seed, b));
                Ok(Sampling {
                    tilt: choice.tilt.clone(),
                    metric: Some(target.metric),
                    choice: Some(choice),
                })
            }
        }
    }
}

/// A scenario file read for a run: the scenario, the file's bytes (a partial carries them) and
/// their SHA-256 (the manifest's `scenario_sha256`).
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    pub scenario: Scenario,
    pub text: Vec<u8>,
    pub sha256: String,
    /// The file stem (the scenario's name when the path has none).
    pub stem: String,
}

/// Why a scenario file could not be used.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{file}: cannot read the scenario file: {reason}")]
    Unreadable { file: String, reason: String },
    /// The file's problems; `message` shows each with its source line (as the command line
    /// prints them).
    #[error("{message}")]
    Invalid {
        errors: crate::scenario::ScenarioErrors,
        message: String,
    },
}

/// The message of `errors` found in the file at `path`: each problem followed by its source
/// line and a caret when the file can be read, else one line per problem.
pub fn explain(errors: &crate::scenario::ScenarioErrors, path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => errors.with_source(&text),
        Err(_) => errors.to_string(),
    }
}

/// Reads and validates the scenario file at `path` (named in messages as given).
///
/// # Errors
/// [`LoadError`] for a file that cannot be read or is not a valid scenario.
pub fn read_scenario(path: &Path) -> Result<ScenarioFile, LoadError> {
    let text = std::fs::read(path).map_err(|e| LoadError::Unreadable {
        file: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let scenario = crate::scenario::load(path).map_err(|errors| LoadError::Invalid {
        message: explain(&errors, path),
        errors,
    })?;
    let stem = path
        .file_stem()
        .map_or_else(|| scenario.name.clone(), |s| s.to_string_lossy().into_owned());
    Ok(ScenarioFile {
        sha256: format!("{:x}", Sha256::digest(&text)),
        scenario,
        text,
        stem,
    })
}

impl ScenarioFile {
    /// Overrides `[simulation] paths` and `seed`.
    ///
    /// # Errors
    /// [`JobError::NoPaths`] for zero paths.
    pub fn set_run(&mut self, paths: Option<u64>, seed: Option<u64>) -> Result<(), JobError> {
        if let Some(p) = paths {
            if p == 0 {
                return Err(JobError::NoPaths);
            }
            self.scenario.simulation.paths = p;
        }
        if let Some(s) = seed {
            self.scenario.simulation.seed = s;
        }
        Ok(())
    }
}

/// Memory the program takes besides a stored run's per-path rows (code, fonts, the summary's
/// working space, the charts): 22 MiB resident for a 1,000-path run of the flagship, rounded up.
pub const PROGRAM_MEMORY: u64 = 32 << 20;

/// What bounds the memory of a stored run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The user's limit: `--max-memory`, `[simulation] max_memory`, Python's `max_memory=`.
    MaxMemory,
    /// 80% of the memory this process may still take, and which bound set that
    /// ([`crate::memory`]: the machine, its container or its address-space limit).
    Available(memory::Bound),
}

/// The memory a stored run may take: the smaller of the user's limit and 80% of the memory
/// available to the process, `min(max_memory, 0.8 x available)` ([`crate::memory::available`]:
/// the least of the machine's `MemAvailable`, the container's limit less its use and the
/// address-space limit less what is mapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    pub limit: Limit,
}

impl Budget {
    /// The budget under `max_memory` (bytes) on this machine; `None` when there is no limit and
    /// available memory cannot be read.
    pub fn of(max_memory: Option<u64>) -> Option<Budget> {
        let available = memory::available().map(|a| Budget {
            bytes: a.bytes / 10 * 8,
            limit: Limit::Available(a.bound),
        });
        let max = max_memory.map(|bytes| Budget {
            bytes,
            limit: Limit::MaxMemory,
        });
        match (max, available) {
            (Some(m), Some(a)) => Some(if m.bytes <= a.bytes { m } else { a }),
            (m, a) => m.or(a),
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.limit {
            Limit::MaxMemory => write!(f, "the memory limit max_memory = {}", Bytes(self.bytes)),
            Limit::Available(bound) => write!(f, "80% of {} ({})", bound.describe(), Bytes(self.bytes)),
        }
    }
}

/// How a run keeps its paths, for [`Overflow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Per-path rows ([`stored_memory`]).
    Stored,
    /// Bins and the coverage sample ([`streamed_memory`]).
    Streamed,
}

/// A run too large for its budget: `paths` paths need `needed` bytes kept as `kept`; `fits`
/// paths would fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    pub paths: u64,
    pub needed: u64,
    pub budget: Budget,
    pub fits: u64,
    pub kept: Kept,
}

impl Overflow {
    /// `Some` when `needed` bytes for `paths` paths of a stored run exceed `budget` (the paths
    /// that fit: the per-path part scaled down linearly).
    fn of(paths: u64, needed: u64, budget: Option<Budget>) -> Option<Overflow> {
        let budget = budget.filter(|b| needed > b.bytes)?;
        let per_paths = u128::from(needed.saturating_sub(PROGRAM_MEMORY).max(1));
        let room = u128::from(budget.bytes.saturating_sub(PROGRAM_MEMORY));
        let fits = u64::try_from(room * u128::from(paths) / per_paths).unwrap_or(u64::MAX);
        Some(Overflow {
            paths,
            needed,
            budget,
            fits,
            kept: Kept::Stored,
        })
    }

    /// `Some` when a streamed run of `paths` paths, needing `need(n)` bytes for `n` paths,
    /// exceeds `budget`; the paths that fit are the most whose need fits (`need` grows with
    /// the paths until the coverage sample is full, so a run that does not fit is below that).
    fn streamed(paths: u64, need: impl Fn(u64) -> u64, budget: Option<Budget>) -> Option<Overflow> {
        let needed = need(paths);
        let budget = budget.filter(|b| needed > b.bytes)?;
        // The most paths whose need fits, by bisection: need(lo) fits, need(hi) does not.
        let (mut lo, mut hi) = (0, paths);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if need(mid) <= budget.bytes {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(Overflow {
            paths,
            needed,
            budget,
            fits: lo,
            kept: Kept::Streamed,
        })
    }
}

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = match self.kept {
            Kept::Stored => "as a stored run",
            Kept::Streamed => "even as a streamed run (its bins and coverage sample)",
        };
        write!(
            f,
            "{} paths need about {} {kept}, more than {}; at most {} paths fit",
            self.paths,
            Bytes(self.needed),
            self.budget,
            self.fits
        )
    }
}

/// The largest run `scenario` makes: its paths, or a precision target's `max_paths` (default
/// `64 x paths`).
fn largest_run(scenario: &Scenario) -> u64 {
    let paths = scenario.simulation.paths;
    scenario.simulation.target_se.as_ref().map_or(paths, |t| {
        t.max_paths.unwrap_or(paths.saturating_mul(64)).max(paths)
    })
}

/// The bytes a stored run of `scenario` takes at its peak: the per-path rows of its largest run
/// ([`runner::memory_needed`], or [`runner::memory_needed_tilted`] under importance sampling),
/// plus `copied` whole per-path columns a front end takes out of it (8 bytes a path each), plus
/// [`PROGRAM_MEMORY`].
pub fn stored_memory(scenario: &Scenario, copied: usize) -> u64 {
    let plan = Plan::new(scenario);
    let paths = largest_run(scenario);
    let rows = match scenario.simulation.importance {
        Some(_) => runner::memory_needed_tilted(&plan, paths),
        None => runner::memory_needed(&plan, paths),
    };
    rows.saturating_add(paths.saturating_mul(copied as u64).saturating_mul(8))
        .saturating_add(PROGRAM_MEMORY)
}

/// The bytes a streamed run of `scenario` takes at its peak: its bins, blocks awaiting their
/// merge and coverage sample ([`crate::streaming::memory_needed`]), plus [`PROGRAM_MEMORY`].
pub fn streamed_memory(scenario: &Scenario) -> u64 {
    streamed_memory_of(&Plan::new(scenario), scenario.simulation.paths)
}

/// [`streamed_memory`] of `paths` paths of `plan`.
fn streamed_memory_of(plan: &Plan, paths: u64) -> u64 {
    crate::streaming::memory_needed(plan, paths).saturating_add(PROGRAM_MEMORY)
}

/// Refuses a streamed run of `scenario` whose [`streamed_memory`] exceeds 80% of the memory
/// available to the process (the [`Budget`] without a user's limit: `max_memory` bounds the
/// stored run, the one it makes stream).
fn check_streamed(scenario: &Scenario) -> Result<(), JobError> {
    let plan = Plan::new(scenario);
    let need = |paths| streamed_memory_of(&plan, paths);
    match Overflow::streamed(scenario.simulation.paths, need, Budget::of(None)) {
        Some(over) => Err(JobError::TooLarge {
            over,
            why: Some(STREAMED_TOO_LARGE),
        }),
        None => Ok(()),
    }
}

/// The number of per-path columns a stored run of `scenario` has (what Python's `per_path`
/// copies out).
pub fn columns(scenario: &Scenario) -> usize {
    Layout::of(&Plan::new(scenario)).len()
}

/// What in `scenario` needs per-path rows, so that it cannot be streamed: importance sampling
/// (its weights are per path) or a precision target.
fn needs_rows(scenario: &Scenario) -> Option<&'static str> {
    if scenario.simulation.importance.is_some() {
        Some("importance sampling (its weights are per path)")
    } else if scenario.simulation.target_se.is_some() {
        Some("a precision target")
    } else {
        None
    }
}

/// Whether a run is streamed, as the caller asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// Stored, or [`JobError::TooLarge`].
    Never,
    /// Streamed (`--streaming`).
    Always,
    /// Stored when it fits its [`Budget`], else streamed (`ipabs run` without `--streaming`).
    Auto,
}

/// Why a run is streamed (summary.json's `streaming.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamReason {
    /// `--streaming`: `requested`.
    Requested,
    /// The stored run would not fit in 80% of available memory: `memory`.
    Memory,
    /// The stored run would not fit in the user's limit, below 80% of available: `max_memory`.
    MaxMemory,
}

impl StreamReason {
    /// The value of `streaming.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamReason::Requested => "requested",
            StreamReason::Memory => "memory",
            StreamReason::MaxMemory => "max_memory",
        }
    }
}

/// How a run keeps its paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Per-path rows: every statistic exact.
    Stored,
    /// Folded into accumulators ([`run_streaming`]); `over` is the stored run that did not fit
    /// (`None` when streaming was asked for).
    Streamed {
        reason: StreamReason,
        over: Option<Overflow>,
    },
}

/// Chooses how to run `scenario` (with `[simulation] max_memory` as the user's limit):
/// - [`Streaming::Always`]: streamed, unless the run needs per-path rows (importance sampling,
///   a precision target, or `rows_for`, the caller's own use of them);
/// - [`Streaming::Never`]: stored when [`stored_memory`] fits the [`Budget`];
/// - [`Streaming::Auto`]: stored when it fits, else streamed unless the run needs rows.
///
/// `copied` is the number of whole per-path columns the caller copies out of a stored run.
///
/// # Errors
/// [`JobError::StreamingOf`] for a requested stream of a run that needs rows;
/// [`JobError::TooLarge`] for a stored run over budget that is not streamed, or for a streamed
/// run over 80% of the memory available to the process ([`streamed_memory`]).
pub fn storage(
    scenario: &Scenario,
    streaming: Streaming,
    rows_for: Option<&'static str>,
    copied: usize,
) -> Result<Storage, JobError> {
    let why = rows_for.or_else(|| needs_rows(scenario));
    if streaming == Streaming::Always {
        if let Some(what) = why {
            return Err(JobError::StreamingOf { what });
        }
        check_streamed(scenario)?;
        return Ok(Storage::Streamed {
            reason: StreamReason::Requested,
            over: None,
        });
    }
    let budget = Budget::of(scenario.simulation.max_memory);
    let paths = largest_run(scenario);
    let Some(over) = Overflow::of(paths, stored_memory(scenario, copied), budget) else {
        return Ok(Storage::Stored);
    };
    if streaming == Streaming::Never || why.is_some() {
        return Err(JobError::TooLarge { over, why });
    }
    check_streamed(scenario)?;
    let reason = match over.budget.limit {
        Limit::MaxMemory => StreamReason::MaxMemory,
        Limit::Available(_) => StreamReason::Memory,
    };
    Ok(Storage::Streamed {
        reason,
        over: Some(over),
    })
}

/// Runs `scenario` as [`run`] does, but streamed ([`crate::streaming`]): no per-path rows, so any
/// number of paths fits; the summary has the same fields, its quantiles and ES answered from
/// fine bins with their error bounds, and a `streaming` section. Returns the streamed run too
/// (for the charts).
///
/// # Errors
/// [`JobError::StreamingOf`] for importance sampling or a precision target (not streamed);
/// [`RunError`] from the runner.
pub fn run_streaming(
    scenario: &Scenario,
    scenario_sha256: &str,
    threads: usize,
    progress: &dyn Progress,
    reason: StreamReason,
) -> Result<(Summary, crate::streaming::StreamedRun), JobError> {
    if let Some(what) = needs_rows(scenario) {
        return Err(JobError::StreamingOf { what });
    }
    let plan = Plan::new(scenario);
    let paths = scenario.simulation.paths;
    let layout = Layout::of(&plan);
    let events = crate::report::summary::reported_events(scenario, layout);
    let start = Instant::now();
    progress.start(paths);
    let mut streamed = crate::streaming::simulate_streaming(
        &plan,
        paths,
        scenario.simulation.seed,
        threads,
        progress,
        &events,
    )?;
    let mut summary = Summary::build(scenario, &mut streamed, scenario_sha256.to_owned(), 0.0);
    // Simulation and every statistic of the summary.
    summary.elapsed_s = start.elapsed().as_secs_f64();
    summary.streaming = Some(StreamingJson {
        reason: reason.as_str(),
        bins_per_binade: 1 << histogram::MANTISSA_BITS,
        relative_bin_width: histogram::RELATIVE_BIN_WIDTH,
        central_bin_half_width: histogram::TINY,
        bins_used: streamed.bins_used(),
        stored_memory_needed_mib: runner::memory_needed(&plan, paths) >> 20,
        note: "means, standard deviations and probabilities as a stored run (to rounding); quantiles, their intervals and ES from fine bins, each within its stated error bound; es_0.99_se approximate; charts drawn from the bins",
    });
    Ok((summary, streamed))
}

/// Runs `scenario` (its `simulation.paths` and `seed` as given) on `threads` threads (0: every
/// core) and returns its summary, with `derive` applied to the final [`Simulation`] before the
/// summary permutes its columns (chart data, per-path columns, ...), on the run's threads
/// beside the summary's first statistics.
///
/// Without `simulation.target_se`: one run. With one: the paths double from `paths` until the
/// target's standard error is reached or `max_paths` (default `64 * paths`) is; every run starts
/// from the same streams, so the result equals a single run of the final size, bit for bit.
/// With `simulation.importance`, the paths are drawn under its tilt ([`Sampling`]) and every
/// statistic carries the likelihood-ratio weights. `file` names the scenario in messages and
/// `scenario_sha256` goes into the manifest.
///
/// # Errors
/// [`JobError::Importance`] for an importance setting that does not fit the scenario;
/// [`JobError::Target`] for a target metric the summary lacks (before any long run);
/// [`JobError::TooLarge`] when the stored run would not fit its [`Budget`] ([`storage`]);
/// [`RunError::Cancelled`] when `progress` asks to stop.
pub fn run<T>(
    scenario: &Scenario,
    file: &str,
    scenario_sha256: &str,
    threads: usize,
    progress: &dyn Progress,
    mut derive: impl FnMut(&Simulation) -> T + Send,
) -> Result<(Summary, T), JobError>
where
    T: Send,
{
    let target = scenario.simulation.target_se.clone();
    let first_paths = scenario.simulation.paths;
    let max_paths = largest_run(scenario);
    let target_error = |message: String| JobError::Target {
        file: file.to_owned(),
        message,
    };
    // The memory check before the importance pilot or the target's trial path.
    storage(scenario, Streaming::Never, None, 0)?;
    let plan = Plan::new(scenario);
    let seed = scenario.simulation.seed;
    let sampling = match &scenario.simulation.importance {
        Some(spec) => Some(
            Sampling::new(spec, scenario, &plan).map_err(|message| JobError::Importance {
                file: file.to_owned(),
                message,
            })?,
        ),
        None => None,
    };
    let tilt = sampling.as_ref().map(|s| &s.tilt).filter(|t| !t.is_zero());
    if let Some(t) = &target {
        // Check the metric exists before a long run: summarise one path.
        let one = runner::simulate(&plan, 1, seed, 1, &runner::Silent)?;
        Summary::new(scenario, one, String::new(), 0.0)
            .estimate(&t.metric)
            .map_err(target_error)?;
    }

    let start = Instant::now();
    let mut paths = first_paths;
    loop {
        progress.start(paths);
        let sim = runner::simulate_tilted(&plan, paths, seed, threads, progress, tilt)?;
        // `derive` beside the statistics that read the paths in order ([`Summary::with_derived`]).
        let (mut summary, derived) =
            Summary::with_derived(scenario, sim, scenario_sha256.to_owned(), 0.0, &mut derive);
        // Simulation, `derive` and every statistic of the summary.
        summary.elapsed_s = start.elapsed().as_secs_f64();
        if let (Some(json), Some(s)) = (&mut summary.importance_sampling, &sampling) {
            json.describe(&s.tilt, s.metric.as_deref(), s.choice.as_ref());
        }
        let Some(t) = &target else {
            return Ok((summary, derived));
        };
        let (_, se) = summary.estimate(&t.metric).map_err(target_error)?;
        if se <= t.value || paths >= max_paths {
            summary.precision_target = Some(PrecisionTargetJson {
                metric: t.metric.clone(),
                target_se: t.value,
                se,
                reached: se <= t.value,
                max_paths,
            });
            return Ok((summary, derived));
        }
        paths = paths.saturating_mul(2).min(max_paths);
    }
}

/// Simulates shard `shard` of `shards` (1-based) of `scenario`'s run, a fixed share of its
/// blocks ([`shard_blocks`]), as a [`Partial`] that carries the scenario file (`stem`, `text`)
/// and its SHA-256.
///
/// # Errors
/// [`JobError::Shard`] for a shard outside `1..=shards`, [`JobError::ShardOfTarget`] for a
/// scenario with a precision target (its size is not fixed), [`JobError::TooLarge`] for a shard
/// whose rows do not fit its [`Budget`], [`RunError`] from the runner.
pub fn run_shard(
    scenario: &Scenario,
    (stem, text): (&str, &[u8]),
    scenario_sha256: String,
    (shard, shards): (u64, u64),
    threads: usize,
    progress: &dyn Progress,
) -> Result<Partial, JobError> {
    if shard == 0 || shards == 0 || shard > shards {
        return Err(JobError::Shard { shard, shards });
    }
    if scenario.simulation.importance.is_some() {
        return Err(JobError::ShardOfImportance);
    }
    if scenario.simulation.target_se.is_some() {
        return Err(JobError::ShardOfTarget);
    }
    let paths = scenario.simulation.paths;
    let blocks = shard_blocks(paths, shard, shards);
    let plan = Plan::new(scenario);
    let shard_paths = paths.min(blocks.end * runner::BLOCK_PATHS) - blocks.start * runner::BLOCK_PATHS;
    // The shard's rows, then their bytes in the partial result and its copy for the files.
    let needed = runner::rows_needed(&plan, shard_paths)
        .saturating_mul(3)
        .saturating_add(PROGRAM_MEMORY);
    if let Some(over) = Overflow::of(shard_paths, needed, Budget::of(scenario.simulation.max_memory)) {
        return Err(JobError::TooLarge {
            over,
            why: Some("a shard (it keeps its per-path rows for the merge: use more shards)"),
        });
    }
    progress.start((blocks.end - blocks.start) * runner::BLOCK_PATHS);
    let start = Instant::now();
    let sim = runner::simulate_blocks(&plan, paths, scenario.simulation.seed, blocks, threads, progress)?;
    Ok(Partial::new(
        (stem, text),
        scenario_sha256,
        (shard, shards),
        sim,
        start.elapsed().as_secs_f64(),
    ))
}

/// Why partial results cannot be merged. `part` names a partial as the caller does (its
/// folder, or its position in a list).
#[derive(Debug, Error)]
pub enum MergeRefused {
    #[error("no partial results to merge")]
    Empty,
    #[error("{part}: cannot read {file}: {reason}")]
    Unreadable {
        part: String,
        file: &'static str,
        reason: String,
    },
    #[error("{part}: {source}")]
    Damaged { part: String, source: PartialError },
    #[error("{first} and {other} are partial results of different runs (the {what} differs)")]
    DifferentRuns {
        first: String,
        other: String,
        what: &'static str,
    },
    #[error("{part}: not a shard of a {shards}-shard layout")]
    NotAShard { part: String, shards: u64 },
    #[error("shard {shard}/{shards} is given twice: {first} and {second}")]
    Twice {
        shard: u64,
        shards: u64,
        first: String,
        second: String,
    },
    #[error("shard {shard}/{shards} is missing")]
    Missing { shard: u64, shards: u64 },
    /// The scenario text a partial carries does not load (another ipabs version).
    #[error("{0}")]
    Scenario(String),
    #[error(transparent)]
    Merge(#[from] MergeError),
}

/// Reads the partial result in folder `dir` (`partial.json` and `partial.bin`, as
/// `ipabs run --shard` writes them).
///
/// # Errors
/// [`MergeRefused::Unreadable`] or [`MergeRefused::Damaged`], naming `dir`.
pub fn read_partial(dir: &Path) -> Result<Partial, MergeRefused> {
    let part = || dir.display().to_string();
    let read = |file: &'static str| {
        std::fs::read(dir.join(file)).map_err(|e| MergeRefused::Unreadable {
            part: part(),
            file,
            reason: e.to_string(),
        })
    };
    let (json, data) = (read("partial.json")?, read("partial.bin")?);
    Partial::read(&json, data).map_err(|source| MergeRefused::Damaged { part: part(), source })
}

/// The whole run rebuilt from its partials.
#[derive(Debug)]
pub struct Merged {
    /// The scenario the partials carry, with the run's paths and seed.
    pub scenario: Scenario,
    pub sim: Simulation,
    pub scenario_sha256: String,
    /// The shards' simulation seconds, added up.
    pub elapsed_s: f64,
}

/// Joins the partials of shards `1..=N` of one run (named `part`, in any order) into the whole
/// run: the same [`Simulation`], bit for bit, as one machine would simulate.
///
/// # Errors
/// [`MergeRefused`] for partials of different runs (scenario file, seed, paths, number of
/// shards, ipabs version), a shard missing, repeated or not of the layout, or damaged data.
pub fn merge(parts: &[(String, Partial)]) -> Result<Merged, MergeRefused> {
    let (first_part, first) = parts.first().ok_or(MergeRefused::Empty)?;
    let m0 = &first.manifest;
    let mut seen = vec![None::<&String>; usize::try_from(m0.shards).unwrap_or(0)];
    for (part, p) in parts {
        let m = &p.manifest;
        let differs = if m.scenario_sha256 != m0.scenario_sha256 {
            Some("scenario file")
        } else if m.seed != m0.seed {
            Some("seed")
        } else if m.paths != m0.paths {
            Some("number of paths")
        } else if m.shards != m0.shards {
            Some("number of shards")
        } else if m.ipabs_version != m0.ipabs_version {
            Some("ipabs version")
        } else {
            None
        };
        if let Some(what) = differs {
            return Err(MergeRefused::DifferentRuns {
                first: first_part.clone(),
                other: part.clone(),
                what,
            });
        }
        let expected = shard_blocks(m.paths, m.shard, m.shards);
        if m.shard == 0 || m.shard > m.shards || [expected.start, expected.end] != m.blocks {
            return Err(MergeRefused::NotAShard {
                part: part.clone(),
                shards: m.shards,
            });
        }
        let slot = &mut seen[(m.shard - 1) as usize];
        if let Some(other) = slot {
            return Err(MergeRefused::Twice {
                shard: m.shard,
                shards: m.shards,
                first: (*other).clone(),
                second: part.clone(),
            });
        }
        *slot = Some(part);
    }
    if let Some(missing) = seen.iter().position(Option::is_none) {
        return Err(MergeRefused::Missing {
            shard: missing as u64 + 1,
            shards: m0.shards,
        });
    }

    let mut scenario = crate::scenario::parse(&m0.scenario_stem, &m0.scenario_text, &m0.scenario_stem)
        .map_err(|e| MergeRefused::Scenario(e.to_string()))?;
    scenario.simulation.paths = m0.paths;
    scenario.simulation.seed = m0.seed;
    let layout = Layout::of(&Plan::new(&scenario));
    let sims: Vec<Simulation> = parts
        .iter()
        .map(|(part, p)| {
            p.simulation(layout).map_err(|source| MergeRefused::Damaged {
                part: part.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    let elapsed_s = parts.iter().map(|(_, p)| p.manifest.elapsed_s).sum();
    Ok(Merged {
        scenario,
        sim: Simulation::merge(sims)?,
        scenario_sha256: m0.scenario_sha256.clone(),
        elapsed_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_smaller_bound() {
        let tiny = Budget::of(Some(1)).unwrap();
        assert_eq!((tiny.bytes, tiny.limit), (1, Limit::MaxMemory));
        if let Some(available) = memory::available() {
            let huge = Budget::of(Some(u64::MAX)).unwrap();
            assert_eq!(huge.limit, Limit::Available(available.bound));
            // Within what the process mapped or freed between the two readings.
            let expected = available.bytes / 10 * 8;
            assert!(
                huge.bytes.abs_diff(expected) <= expected / 100,
                "{huge:?} vs {expected}"
            );
            let unlimited = Budget::of(None).unwrap();
            assert_eq!(unlimited.limit, huge.limit);
            assert!(unlimited.bytes.abs_diff(huge.bytes) <= huge.bytes / 100);
        }
    }

    #[test]
    fn a_streamed_overflow_counts_the_paths_whose_need_fits() {
        let budget = Some(Budget {
            bytes: 1000,
            limit: Limit::MaxMemory,
        });
        // 100 bytes and 3 a path: 300 paths need exactly the budget, 301 more.
        let need = |n: u64| 100 + 3 * n;
        assert_eq!(Overflow::streamed(300, need, budget), None);
        let over = Overflow::streamed(5000, need, budget).unwrap();
        assert_eq!((over.needed, over.fits, over.kept), (15100, 300, Kept::Streamed));
        let refused = JobError::TooLarge {
            over,
            why: Some(STREAMED_TOO_LARGE),
        };
        assert_eq!(
            refused.to_string(),
            "5000 paths need about 15100 bytes even as a streamed run (its bins and coverage sample), more than the memory limit max_memory = 1000 bytes; at most 300 paths fit"
        );
    }

    #[test]
    fn an_overflow_counts_the_paths_that_fit() {
        let budget = Some(Budget {
            bytes: PROGRAM_MEMORY + 1000,
            limit: Limit::MaxMemory,
        });
        assert_eq!(Overflow::of(10, PROGRAM_MEMORY + 1000, budget), None);
        // 4000 bytes of rows for 10 paths: 400 a path, so 1000 bytes hold 2 paths (2.5 down).
        let over = Overflow::of(10, PROGRAM_MEMORY + 4000, budget).unwrap();
        assert_eq!(over.fits, 2);
        assert_eq!(
            over.to_string(),
            "10 paths need about 32 MiB as a stored run, more than the memory limit max_memory = 32 MiB; at most 2 paths fit"
        );
        let below_program = Some(Budget {
            bytes: 1 << 20,
            limit: Limit::MaxMemory,
        });
        assert_eq!(
            Overflow::of(10, PROGRAM_MEMORY + 4000, below_program)
                .unwrap()
                .fits,
            0
        );
    }
}

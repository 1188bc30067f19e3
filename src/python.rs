//! The Python module `ipabs` (cargo feature `python`, built by maturin from `pyproject.toml`):
//! the only part of the crate that knows Python. It reads scenarios (a file or a dict), calls
//! [`crate::job`] exactly as the command line does, and hands back the summary as the dict
//! `summary.json` holds and the per-path outcomes as NumPy arrays.
//!
//! - `run(scenario, paths=None, seed=None, threads=0, per_path=True, streaming=False,
//!   max_memory=None)` → [`RunResult`] (`paths` is `None` when the run was streamed)
//! - `validate(scenario)` → a small dict (name, firms, tiers, tranches, paths)
//! - `run_shard(scenario, index, count, paths=None, seed=None, threads=0)` → the partial result
//!   as `{"partial.json": bytes, "partial.bin": bytes}` (the files `ipabs run --shard` writes)
//! - `merge(parts, per_path=True)` → [`RunResult`] of the whole run; `parts` are such dicts or
//!   folders written by `ipabs run --shard`
//!
//! A scenario is a path (`str` or `os.PathLike`) to a TOML file, or a dict shaped like the file
//! (as `tomllib.load` gives it). A dict is written as TOML text and read by the same loader; its
//! problems are named `<dict>: key.path: message` (key paths as in the file, e.g.
//! `firms[2].annual_pd`, 0-based), without line numbers; its name defaults to `scenario` and its
//! `scenario_sha256` is that of the TOML text.
//!
//! Errors: `ScenarioError(ValueError)` for a scenario that does not load (the message is the
//! command line's, source lines and carets included) or a precision target naming no figure;
//! `MergeError(ValueError)` for partials that do not make one run; `OSError` for a file that
//! cannot be read; `ValueError` for bad arguments; `MemoryError` for a stored run over its
//! memory budget (`max_memory`, 80% of available memory) that is not streamed. The simulation runs without the GIL on its own threads; Ctrl-C stops it between
//! blocks and raises `KeyboardInterrupt`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use numpy::PyArray1;
use pyo3::create_exception;
use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use sha2::{Digest, Sha256};

use crate::job::{self, JobError, LoadError, MergeRefused, ScenarioFile};
use crate::report::partial::Partial;
use crate::report::summary::Summary;
use crate::runner::{Progress, RunError, Simulation};

create_exception!(
    ipabs,
    ScenarioError,
    PyValueError,
    "A scenario that does not load; the message is the command line's."
);
create_exception!(
    ipabs,
    MergeError,
    PyValueError,
    "Partial results that do not make one run."
);

/// The name a dict scenario has in messages.
const DICT_SOURCE: &str = "<dict>";

fn job_error(e: JobError) -> PyErr {
    let message = e.to_string();
    match e {
        JobError::Target { .. } | JobError::Importance { .. } => ScenarioError::new_err(message),
        JobError::TooLarge { why: None, .. } => PyMemoryError::new_err(format!(
            "{message}; streaming=\"auto\" streams a run that does not fit (per_path=False leaves out the arrays)"
        )),
        JobError::TooLarge { .. } => PyMemoryError::new_err(message),
        JobError::Run(RunError::Cancelled) => pyo3::exceptions::PyKeyboardInterrupt::new_err(message),
        JobError::Run(RunError::Threads { .. }) => PyRuntimeError::new_err(message),
        JobError::NoPaths
        | JobError::ShardOfTarget
        | JobError::ShardOfImportance
        | JobError::StreamingOf { .. }
        | JobError::Shard { .. } => PyValueError::new_err(message),
    }
}

fn load_error(e: LoadError) -> PyErr {
    match e {
        LoadError::Unreadable { .. } => PyOSError::new_err(e.to_string()),
        LoadError::Invalid { message, .. } => ScenarioError::new_err(message.trim_end().to_owned()),
    }
}

fn merge_error(e: MergeRefused) -> PyErr {
    MergeError::new_err(e.to_string())
}

/// `value` (at key path `key`) as a TOML value.
fn toml_value(value: &Bound<'_, PyAny>, key: &str) -> PyResult<toml::Value> {
    let unfit = |what: String| ScenarioError::new_err(format!("{DICT_SOURCE}: {key}: {what}"));
    if value.is_instance_of::<PyBool>() {
        Ok(toml::Value::Boolean(value.extract()?))
    } else if value.is_instance_of::<PyInt>() {
        value
            .extract::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| unfit("the integer does not fit in 64 bits".into()))
    } else if value.is_instance_of::<PyFloat>() {
        Ok(toml::Value::Float(value.extract()?))
    } else if value.is_instance_of::<PyString>() {
        Ok(toml::Value::String(value.extract()?))
    } else if let Ok(dict) = value.cast::<PyDict>() {
        Ok(toml::Value::Table(toml_table(dict, key)?))
    } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value
            .try_iter()?
            .enumerate()
            .map(|(i, item)| toml_value(&item?, &format!("{key}[{i}]")))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(toml::Value::Array(items))
    } else if let Ok(i) = value.extract::<i64>() {
        // NumPy integers and other objects with `__index__`.
        Ok(toml::Value::Integer(i))
    } else {
        let kind = value.get_type().name()?.to_string();
        Err(unfit(format!(
            "a {kind} value has no place in a scenario (use numbers, strings, booleans, lists and dicts; leave out a key to take its default)"
        )))
    }
}

/// `dict` (at key path `prefix`, empty at the top) as a TOML table.
fn toml_table(dict: &Bound<'_, PyDict>, prefix: &str) -> PyResult<toml::Table> {
    let mut table = toml::Table::new();
    for (k, v) in dict.iter() {
        let Ok(k) = k.extract::<String>() else {
            let at = if prefix.is_empty() {
                "the top level"
            } else {
                prefix
            };
            return Err(ScenarioError::new_err(format!(
                "{DICT_SOURCE}: {at}: keys must be strings, got {}",
                k.repr()?
            )));
        };
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        table.insert(k, toml_value(&v, &key)?);
    }
    Ok(table)
}

/// A scenario dict read as the loader reads a file: problems are named by key path only (line
/// numbers would point into the TOML text the dict was written as).
fn scenario_from_dict(dict: &Bound<'_, PyDict>) -> PyResult<ScenarioFile> {
    let text = toml::to_string(&toml_table(dict, "")?)
        .map_err(|e| ScenarioError::new_err(format!("{DICT_SOURCE}: {e}")))?;
    let scenario = crate::scenario::parse(DICT_SOURCE, &text, "scenario").map_err(|mut errors| {
        for p in &mut errors.problems {
            p.line = None;
            p.column = None;
        }
        ScenarioError::new_err(errors.to_string())
    })?;
    Ok(ScenarioFile {
        sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
        stem: scenario.name.clone(),
        scenario,
        text: text.into_bytes(),
    })
}

/// The scenario `source`: a dict, or the path of a TOML file.
fn scenario_file(source: &Bound<'_, PyAny>) -> PyResult<ScenarioFile> {
    if let Ok(dict) = source.cast::<PyDict>() {
        return scenario_from_dict(dict);
    }
    let path: PathBuf = source.extract().map_err(|_| {
        PyTypeError::new_err("a scenario is a path (str or os.PathLike) to a TOML file, or a dict")
    })?;
    job::read_scenario(&path).map_err(load_error)
}

/// Stops the runner when the caller's thread sees Ctrl-C.
struct StopFlag<'a>(&'a AtomicBool);

impl Progress for StopFlag<'_> {
    fn cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs `work` without the GIL on a thread of its own while this thread checks for signals
/// every 50 ms; on Ctrl-C (or another signal handler raising) it asks `work` to stop, waits for
/// it and raises that exception.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&dyn Progress) -> Result<T, JobError> + Send,
) -> PyResult<T> {
    py.detach(|| {
        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|scope| {
            let flag = StopFlag(&stop);
            scope.spawn(move || {
                let _ = tx.send(work(&flag));
            });
            loop {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(result) => return result.map_err(job_error),
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(PyRuntimeError::new_err("the simulation stopped unexpectedly"));
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(signal) = Python::attach(|py| py.check_signals()) {
                            stop.store(true, Ordering::Relaxed);
                            let _ = rx.recv();
                            return Err(signal);
                        }
                    }
                }
            }
        })
    })
}

/// Every column of `sim` over all paths, in path order, with its name.
fn per_path(sim: &Simulation) -> Vec<(String, Vec<f64>)> {
    sim.layout
        .names()
        .into_iter()
        .enumerate()
        .map(|(c, name)| (name, sim.full_column(c)))
        .collect()
}

/// The result of a run: `summary`, the dict `summary.json` holds, and `paths`, every per-path
/// outcome as a float64 NumPy array over all paths in path order (empty without `per_path`,
/// `None` for a streamed run).
///
/// The keys of `paths` are the runner's column names: `pool_loss`, `gross_default_loss`,
/// `defaults`, `guarantor_shortfall`, `undertaker_draw`, `min_coverage`, `residual`, `missed`,
/// `guarantor_paid`, `recovered`, `reimbursed`; per guarantor `k` (in the order of
/// `summary["guarantors"]`) `party{k}.payout`, `.net_payout`, `.shortfall`, `.obligation`,
/// `.cap_exhausted` (0 or 1); per tranche `j` `tranche{j}.interest_shortfall` and
/// `tranche{j}.principal_loss`.
#[pyclass(module = "ipabs", frozen, get_all)]
pub struct RunResult {
    summary: Py<PyDict>,
    /// `None` for a streamed run (it keeps no per-path rows).
    paths: Option<Py<PyDict>>,
}

#[pymethods]
impl RunResult {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let summary = self.summary.bind(py);
        let get = |k: &str| -> PyResult<String> {
            Ok(match summary.get_item(k)? {
                Some(v) => v.repr()?.to_string(),
                None => "None".into(),
            })
        };
        let columns = match &self.paths {
            Some(p) => p.bind(py).len().to_string(),
            None => "None (streamed)".to_owned(),
        };
        Ok(format!(
            "RunResult(scenario={}, paths={}, seed={}, columns={columns})",
            get("scenario")?,
            get("paths")?,
            get("seed")?,
        ))
    }
}

/// The RunResult of `summary` and the per-path `columns` (`None`: a streamed run).
fn result(
    py: Python<'_>,
    summary: &Summary,
    columns: Option<Vec<(String, Vec<f64>)>>,
) -> PyResult<RunResult> {
    let json = PyBytes::new(py, &summary.to_json());
    let dict = py
        .import("json")?
        .call_method1("loads", (json,))?
        .cast_into::<PyDict>()?;
    let paths = match columns {
        Some(columns) => {
            let paths = PyDict::new(py);
            for (name, values) in columns {
                paths.set_item(name, PyArray1::from_vec(py, values))?;
            }
            Some(paths.unbind())
        }
        None => None,
    };
    Ok(RunResult {
        summary: dict.unbind(),
        paths,
    })
}

/// `streaming=`: `False`, `True` or `"auto"`.
fn streaming_arg(value: &Bound<'_, PyAny>) -> PyResult<job::Streaming> {
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(if b.is_true() {
            job::Streaming::Always
        } else {
            job::Streaming::Never
        });
    }
    match value.extract::<String>() {
        Ok(s) if s == "auto" => Ok(job::Streaming::Auto),
        _ => Err(PyValueError::new_err(format!(
            "streaming: expected False, True or \"auto\", got {}",
            value.repr()?
        ))),
    }
}

/// `max_memory=`: a size such as `"512MiB"` ([`crate::size::parse`]) or a number of bytes.
fn max_memory_arg(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let bad = |why: String| PyValueError::new_err(format!("max_memory: {why}"));
    if value.is_instance_of::<PyString>() {
        return crate::size::parse(&value.extract::<String>()?).map_err(bad);
    }
    match value.extract::<i128>() {
        Ok(b) if value.is_instance_of::<PyBool>() => Err(bad(format!("expected a size, got {b}"))),
        Ok(b) => u64::try_from(b)
            .ok()
            .filter(|&b| b >= 1)
            .ok_or_else(|| bad(format!("must be at least 1 byte, got {b}"))),
        Err(_) => Err(bad(format!(
            "expected a size such as \"512MiB\" or a number of bytes, got {}",
            value.repr()?
        ))),
    }
}

/// run(scenario, paths=None, seed=None, threads=0, per_path=True, streaming=False, max_memory=None)
/// --
///
/// Simulates `scenario` (a TOML file's path or a dict) as `ipabs run` does and returns a
/// RunResult: `.summary` is the dict summary.json would hold for the same run (same numbers,
/// bit for bit; `elapsed_s` aside), `.paths` maps each per-path outcome to a float64 array over
/// all paths in path order. `paths` and `seed` override [simulation]; `threads=0` uses every
/// core (the numbers do not depend on it); `per_path=False` skips the arrays.
///
/// `streaming=True` runs as `ipabs run --streaming` (no per-path rows: `.paths` is None);
/// `"auto"` streams only a run whose stored rows and arrays would not fit in `max_memory` (a
/// size such as "512MiB" or bytes; overrides [simulation] max_memory) or 80% of available
/// memory, as `ipabs run` does; `False` raises MemoryError for such a run.
#[pyfunction]
#[pyo3(signature = (scenario, paths=None, seed=None, threads=0, per_path=true, streaming=None, max_memory=None))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    scenario: &Bound<'_, PyAny>,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
    per_path: bool,
    streaming: Option<&Bound<'_, PyAny>>,
    max_memory: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunResult> {
    let streaming = streaming.map_or(Ok(job::Streaming::Never), streaming_arg)?;
    let max_memory = max_memory.map(max_memory_arg).transpose()?;
    let mut file = scenario_file(scenario)?;
    file.set_run(paths, seed).map_err(job_error)?;
    if max_memory.is_some() {
        file.scenario.simulation.max_memory = max_memory;
    }
    let name = match scenario.cast::<PyDict>() {
        Ok(_) => DICT_SOURCE.to_owned(),
        Err(_) => scenario.extract::<PathBuf>()?.display().to_string(),
    };
    let copied = if per_path { job::columns(&file.scenario) } else { 0 };
    let storage = job::storage(&file.scenario, streaming, None, copied).map_err(job_error)?;
    if let job::Storage::Streamed { reason, .. } = storage {
        let (summary, _) = detached(py, |progress| {
            job::run_streaming(&file.scenario, &file.sha256, threads, progress, reason)
        })?;
        return result(py, &summary, None);
    }
    let (summary, columns) = detached(py, |progress| {
        job::run(&file.scenario, &name, &file.sha256, threads, progress, |sim| {
            if per_path { self::per_path(sim) } else { Vec::new() }
        })
    })?;
    result(py, &summary, Some(columns))
}

/// validate(scenario)
/// --
///
/// Loads and checks `scenario` (a TOML file's path or a dict) as `ipabs validate` does; raises
/// ScenarioError with the command line's message, or returns {"name", "firms", "tiers",
/// "tranches", "paths"}.
#[pyfunction]
fn validate<'py>(py: Python<'py>, scenario: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let s = scenario_file(scenario)?.scenario;
    let out = PyDict::new(py);
    out.set_item("name", &s.name)?;
    out.set_item("firms", s.firms.len())?;
    out.set_item("tiers", s.tiers.len())?;
    out.set_item("tranches", s.tranches.len())?;
    out.set_item("paths", s.simulation.paths)?;
    Ok(out)
}

/// run_shard(scenario, index, count, paths=None, seed=None, threads=0)
/// --
///
/// Simulates shard `index` (1-based) of `count` of the run, as `ipabs run --shard index/count`
/// does, and returns its partial result as {"partial.json": bytes, "partial.bin": bytes}: the
/// files of the folder the command line writes (write them to a folder for `ipabs merge`), or
/// pass the dicts of all the shards to `merge`.
#[pyfunction]
#[pyo3(signature = (scenario, index, count, paths=None, seed=None, threads=0))]
fn run_shard<'py>(
    py: Python<'py>,
    scenario: &Bound<'py, PyAny>,
    index: u64,
    count: u64,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let mut file = scenario_file(scenario)?;
    file.set_run(paths, seed).map_err(job_error)?;
    let partial = detached(py, |progress| {
        job::run_shard(
            &file.scenario,
            (&file.stem, &file.text),
            file.sha256.clone(),
            (index, count),
            threads,
            progress,
        )
    })?;
    let out = PyDict::new(py);
    for (name, bytes) in partial.files() {
        out.set_item(name, PyBytes::new(py, &bytes))?;
    }
    Ok(out)
}

/// One partial given to `merge`, and its name in messages.
fn partial(i: usize, part: &Bound<'_, PyAny>) -> PyResult<(String, Partial)> {
    if let Ok(files) = part.cast::<PyDict>() {
        let name = format!("parts[{i}]");
        let file = |key: &str| -> PyResult<Vec<u8>> {
            match files.get_item(key)? {
                Some(v) => Ok(v.extract::<Vec<u8>>()?),
                None => Err(MergeError::new_err(format!("{name}: no {key:?} in the dict"))),
            }
        };
        let p = Partial::read(&file("partial.json")?, file("partial.bin")?).map_err(|source| {
            merge_error(MergeRefused::Damaged {
                part: name.clone(),
                source,
            })
        })?;
        return Ok((name, p));
    }
    let dir: PathBuf = part.extract().map_err(|_| {
        PyTypeError::new_err(
            "a partial result is a dict from run_shard or the folder `ipabs run --shard` wrote",
        )
    })?;
    let p = job::read_partial(&dir).map_err(merge_error)?;
    Ok((dir.display().to_string(), p))
}

/// merge(parts, per_path=True)
/// --
///
/// Joins the partial results of shards 1..N of one run (dicts from run_shard, or folders
/// written by `ipabs run --shard`, in any order) into the whole run's RunResult: the same
/// summary as one machine's run, bit for bit (`elapsed_s` is the shards' seconds added up).
/// Raises MergeError for partials of different runs, a missing or repeated shard, or damage.
#[pyfunction]
#[pyo3(signature = (parts, per_path=true))]
fn merge(py: Python<'_>, parts: &Bound<'_, PyAny>, per_path: bool) -> PyResult<RunResult> {
    let parts = parts
        .try_iter()?
        .enumerate()
        .map(|(i, p)| partial(i, &p?))
        .collect::<PyResult<Vec<_>>>()?;
    let (summary, columns) = py
        .detach(|| {
            job::merge(&parts).map(|m| {
                let columns = if per_path {
                    self::per_path(&m.sim)
                } else {
                    Vec::new()
                };
                (
                    Summary::new(&m.scenario, m.sim, m.scenario_sha256, m.elapsed_s),
                    columns,
                )
            })
        })
        .map_err(merge_error)?;
    result(py, &summary, Some(columns))
}

/// Monte Carlo for IP asset-backed notes and IP pledge-loan programmes (see the README).
#[pymodule]
fn ipabs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add("MergeError", py.get_type::<MergeError>())?;
    m.add_class::<RunResult>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(run_shard, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    Ok(())
}

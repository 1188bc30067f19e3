//! `ipabs run`: simulate a scenario and write its report folder.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use super::{EXIT_USAGE, Failure, default_out, interrupted, say};
use crate::analytic::{self, compare};
use crate::chart::{self, Labels, data::ChartData};
use crate::job::{self, JobError};
use crate::model::{ImportanceSpec, Language, Scenario, TargetSe};
use crate::report::analytic::AnalyticJson;
use crate::report::summary::Summary;
use crate::report::{WriteError, memo, table, write_report};
use crate::runner::{self, Column, Progress};

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
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
    #[command(flatten)]
    report: ReportArgs,
    /// Simulate only shard I of N (a fixed share of the blocks, I from 1 to N) and write a
    /// partial result for `ipabs merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Also solve the scenario exactly (see `ipabs analytic`), write analytic.json and print
    /// Monte Carlo beside the exact figures with z-scores; warns when any |z| > 4 (exit 0).
    #[arg(long)]
    check_analytic: bool,
    /// Extra loss slices for --check-analytic, fractions of the pool, e.g. `0-0.03,0.03-0.06`.
    #[arg(long, value_delimiter = ',', value_parser = super::analytic::parse_slice)]
    slices: Vec<(f64, f64)>,
    /// Double the paths until a standard error is reached, e.g. `pool_loss.mean=1000` or
    /// `tranches.senior.p_loss=0.0001` (overrides [simulation] target_se; at most 64 x the paths).
    #[arg(long, value_name = "METRIC=SE", value_parser = parse_until_se)]
    until_se: Option<(String, f64)>,
    /// Importance sampling (overrides [simulation] importance): `auto` (the senior tranche's
    /// p_loss), a summary.json metric whose tail to aim at (the shift is chosen by a
    /// cross-entropy pilot), or `shift=a,b,..` (one value per sector, or per sector, firm,
    /// party and undertaker). Every statistic is then weighted by the likelihood ratio.
    #[arg(long, value_name = "auto|METRIC|shift=a,b,..", value_parser = parse_importance)]
    importance: Option<ImportanceSpec>,
    /// Keep no per-path rows: fold every output into fine histograms as the paths run, so any
    /// number of paths fits in memory (quantiles within a stated bound, reported in
    /// summary.json). Chosen automatically when the per-path rows would not fit.
    #[arg(long)]
    streaming: bool,
    /// The most memory a stored run may take (overrides [simulation] max_memory), e.g. 512MiB,
    /// 2GB or a number of bytes: a run estimated above it, or above 80% of available memory,
    /// is streamed instead (said on stderr and in summary.json's streaming.reason).
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse)]
    max_memory: Option<u64>,
}

/// How the report folder is rendered and what is printed (shared by `run` and `merge`).
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// A TrueType/OpenType font file for chart text (overrides [report] font), e.g. a CJK font
    /// for Chinese labels: /usr/share/fonts/truetype/wqy/wqy-microhei.ttc.
    #[arg(long, value_name = "FILE")]
    font: Option<PathBuf>,
    /// Language of chart titles, labels and the memo: en or zh (overrides [report] language).
    #[arg(long, value_parser = ["en", "zh"])]
    language: Option<String>,
    /// A folder with report.html.j2 and/or report.md.j2 replacing the built-in memo templates.
    #[arg(long, value_name = "DIR")]
    template: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

/// The rendering settings, checked: fonts and templates are read before any simulation, so a
/// bad file is an error before minutes of work.
pub(crate) struct Rendering {
    language: Language,
    templates: memo::Templates,
}

impl ReportArgs {
    pub(crate) fn prepare(&self, scenario: &Scenario) -> Result<Rendering, Failure> {
        let language = match &self.language {
            Some(code) => Language::parse(code).unwrap_or_default(),
            None => scenario.report.language,
        };
        let templates = match &self.template {
            Some(dir) => memo::Templates::from_dir(dir)?,
            None => memo::Templates::default(),
        };
        if let Some(font) = self.font.as_ref().or(scenario.report.font.as_ref()) {
            chart::fonts::use_font_file(font)?;
        }
        Ok(Rendering { language, templates })
    }
}

/// Renders the charts and the memo of `summary`, writes them with summary.json and `extra`
/// files into `out_dir` (whole, atomically), and prints the table.
pub(crate) fn publish(
    args: &ReportArgs,
    rendering: &Rendering,
    scenario: &Scenario,
    summary: &Summary,
    chart_data: &ChartData,
    extra: Vec<(String, Vec<u8>)>,
    out_dir: &Path,
) -> Result<(), Failure> {
    let labels = Labels::new(rendering.language, &scenario.currency);
    let figures = chart::render_all(summary, chart_data, &labels)?;
    let chart_count = figures.len();
    let footnote = labels.footnote(&summary.scenario, summary.paths, summary.seed);
    let context = memo::MemoContext::new(scenario, summary, &figures, rendering.language, footnote);
    let (html, md) = memo::render(&rendering.templates, &context)?;
    let mut files: Vec<(String, Vec<u8>)> = vec![("summary.json".to_owned(), summary.to_json())];
    files.extend(extra);
    for f in figures {
        files.push((format!("{}.png", f.kind.stem()), f.png));
        files.push((format!("{}.svg", f.kind.stem()), f.svg.into_bytes()));
    }
    files.push(("report.html".to_owned(), html.into_bytes()));
    files.push(("report.md".to_owned(), md.into_bytes()));
    write_files(out_dir, &files)?;
    if !args.quiet {
        say(&format!(
            "{}\nwrote summary.json, {} charts (PNG and SVG), report.html and report.md to {}\n",
            table::render(summary),
            chart_count,
            out_dir.display()
        ));
    }
    Ok(())
}

/// Writes `files` as the whole content of `out_dir`; Ctrl-C before the swap leaves it as it was.
pub(crate) fn write_files(out_dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), Failure> {
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    match write_report(out_dir, &refs, &interrupted) {
        Err(WriteError::Interrupted) => Err(Failure::interrupted()),
        other => Ok(other?),
    }
}

/// `I/N` with `1 <= I <= N`.
fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("expected I/N with 1 <= I <= N, such as 2/7, got {s:?}");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `auto`, a metric, or `shift=a,b,..` (finite numbers).
fn parse_importance(s: &str) -> Result<ImportanceSpec, String> {
    let s = s.trim();
    let Some(list) = s.strip_prefix("shift=") else {
        if s.is_empty() {
            return Err("expected auto, a metric such as tranches.senior.p_loss, or shift=a,b,..".into());
        }
        return Ok(ImportanceSpec::Metric(s.to_owned()));
    };
    list.split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("shift: {x:?} is not a finite number"))
        })
        .collect::<Result<Vec<f64>, String>>()
        .map(ImportanceSpec::Shift)
}

/// `METRIC=VALUE` with a positive finite value.
fn parse_until_se(s: &str) -> Result<(String, f64), String> {
    let (metric, value) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("expected METRIC=SE such as pool_loss.mean=1000, got {s:?}"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("the standard error must be a number, got {value:?}"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("the standard error must be > 0, got {value}"));
    }
    Ok((metric.trim().to_owned(), value))
}

/// Progress on stderr as a bar when stderr is a terminal; stops the run on Ctrl-C.
struct Console(Option<ProgressBar>);

impl Console {
    /// A bar of `paths` paths, unless `quiet` or stderr is not a terminal.
    fn new(quiet: bool, paths: u64) -> Console {
        if quiet || !std::io::stderr().is_terminal() {
            return Console(None);
        }
        let pb = ProgressBar::new(paths);
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} paths ({per_sec}, eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Console(Some(pb))
    }
}

impl Progress for Console {
    fn start(&self, paths: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(paths);
            bar.set_position(0);
        }
    }

    fn advance(&self, paths: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(paths);
        }
    }

    fn cancelled(&self) -> bool {
        interrupted()
    }
}

pub(crate) fn run(args: &RunArgs) -> Result<(), Failure> {
    let mut file = job::read_scenario(&args.scenario)?;
    file.set_run(args.paths, args.seed)?;
    let job::ScenarioFile {
        mut scenario,
        text,
        sha256: sha,
        stem,
    } = file;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario, &scenario.name, ""));

    // Solve first: a scenario without an exact solution fails before the simulation runs.
    let exact = if args.check_analytic {
        Some(
            analytic::analyse(&scenario, &args.slices, &analytic::Settings::default()).map_err(|e| {
                Failure(
                    format!(
                        "{}: --check-analytic: no analytic solution: {e}",
                        args.scenario.display()
                    ),
                    EXIT_USAGE,
                )
            })?,
        )
    } else {
        None
    };

    if let Some((metric, value)) = &args.until_se {
        scenario.simulation.target_se = Some(TargetSe {
            metric: metric.clone(),
            value: *value,
            max_paths: None,
        });
    }
    if let Some(spec) = &args.importance {
        scenario.simulation.importance = Some(spec.clone());
    }
    if let Some(bytes) = args.max_memory {
        scenario.simulation.max_memory = Some(bytes);
    }
    if scenario.simulation.importance.is_some() && exact.is_some() {
        return Err(Failure(
            "importance sampling cannot be combined with --check-analytic (its comparison is unweighted); run without importance sampling".into(),
            EXIT_USAGE,
        ));
    }
    if args.streaming && (args.shard.is_some() || exact.is_some()) {
        return Err(JobError::StreamingOf {
            what: "--shard or --check-analytic (they need per-path rows)",
        }
        .into());
    }
    if let Some((shard, shards)) = args.shard {
        if scenario.simulation.target_se.is_some() || exact.is_some() {
            return Err(JobError::ShardOfTarget.into());
        }
        return run_shard(args, &scenario, (&stem, &text), sha, (shard, shards), &out_dir);
    }
    let streaming = if args.streaming {
        job::Streaming::Always
    } else {
        job::Streaming::Auto
    };
    // --check-analytic copies two whole columns out of the stored run.
    let (rows_for, copied) = match exact {
        Some(_) => (Some("--check-analytic (it compares per-path rows)"), 2),
        None => (None, 0),
    };
    let storage = job::storage(&scenario, streaming, rows_for, copied)?;
    if let job::Storage::Streamed { over: Some(over), .. } = storage {
        eprintln!(
            "ipabs: {over}; streaming instead (quantiles from fine histograms, error bounds in summary.json)"
        );
    }
    let rendering = args.report.prepare(&scenario)?;
    let console = Console::new(args.report.quiet, scenario.simulation.paths);
    if let job::Storage::Streamed { reason, .. } = storage {
        let ran = job::run_streaming(&scenario, &sha, args.threads, &console, reason);
        let (summary, mut streamed) = match ran {
            Err(JobError::Run(runner::RunError::Cancelled)) => return Err(Failure::interrupted()),
            other => other?,
        };
        if let Some(bar) = &console.0 {
            bar.finish_and_clear();
        }
        let chart_data = ChartData::from_streamed(&scenario, &mut streamed);
        return publish(
            &args.report,
            &rendering,
            &scenario,
            &summary,
            &chart_data,
            Vec::new(),
            &out_dir,
        );
    }
    let file = args.scenario.display().to_string();
    let ran = job::run(&scenario, &file, &sha, args.threads, &console, |sim| {
        let check = exact.as_ref().map(|a| {
            let rows = compare::compare(
                a,
                &sim.full_column(sim.layout.fixed(Column::GrossDefaultLoss)),
                &sim.full_column(sim.layout.fixed(Column::Defaults)),
            );
            (AnalyticJson::new(&scenario.name, &scenario.currency, a), rows)
        });
        (check, ChartData::new(&scenario, sim))
    });
    let (summary, (check, chart_data)) = match ran {
        Err(JobError::Run(runner::RunError::Cancelled)) => return Err(Failure::interrupted()),
        other => other?,
    };
    if let Some(bar) = &console.0 {
        bar.finish_and_clear();
    }

    let mut extra = Vec::new();
    if let Some((json, _)) = &check {
        extra.push(("analytic.json".to_owned(), json.to_json()));
    }
    publish(
        &args.report,
        &rendering,
        &scenario,
        &summary,
        &chart_data,
        extra,
        &out_dir,
    )?;
    if let Some((_, rows)) = &check {
        say(&render_check(rows, summary.paths));
    }
    Ok(())
}

/// Simulates one shard and writes its partial result (see [`crate::report::partial`]).
fn run_shard(
    args: &RunArgs,
    scenario: &Scenario,
    file: (&str, &[u8]),
    sha: String,
    (shard, shards): (u64, u64),
    out_dir: &Path,
) -> Result<(), Failure> {
    let console = Console::new(args.report.quiet, 0);
    let partial = match job::run_shard(scenario, file, sha, (shard, shards), args.threads, &console) {
        Err(JobError::Run(runner::RunError::Cancelled)) => return Err(Failure::interrupted()),
        other => other?,
    };
    if let Some(bar) = &console.0 {
        bar.finish_and_clear();
    }
    write_files(out_dir, &partial.files())?;
    if !args.report.quiet {
        say(&format!(
            "{}: shard {shard}/{shards}: blocks {}..{} of a {}-path run; wrote {}\n",
            scenario.name,
            partial.manifest.blocks[0],
            partial.manifest.blocks[1],
            scenario.simulation.paths,
            out_dir.display()
        ));
    }
    Ok(())
}

/// The Monte Carlo vs exact table, and a warning line for every |z| above the threshold.
fn render_check(rows: &[compare::Row], paths: u64) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nanalytic check: Monte Carlo ({paths} paths) vs exact\n  {:<44} {:>18} {:>18} {:>14} {:>8}",
        "figure", "Monte Carlo", "exact", "se", "z"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<44} {:>18.6} {:>18.6} {:>14.6} {:>8.2}",
            r.metric, r.monte_carlo, r.exact, r.se, r.z
        );
    }
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| r.warns())
        .map(|r| format!("{} (z = {:.2})", r.metric, r.z))
        .collect();
    if bad.is_empty() {
        let worst = rows.iter().map(|r| r.z.abs()).fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "all {} figures within |z| <= {} (largest |z| {worst:.2})",
            rows.len(),
            compare::WARN_Z
        );
    } else {
        let _ = writeln!(out, "WARNING: |z| > {} for {}", compare::WARN_Z, bad.join(", "));
    }
    out
}

//! `ipabs run`: simulate a scenario and write its report folder.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::{Failure, load};
use crate::chart::{self, Labels, data::ChartData};
use crate::model::Language;
use crate::plan::Plan;
use crate::report::summary::Summary;
use crate::report::{memo, table, write_files};
use crate::runner::{self, Progress, Silent};

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
    quiet: bool,
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

pub(crate) fn run(args: &RunArgs) -> Result<(), Failure> {
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
        None => super::default_report_dir(&args.scenario, &scenario),
    };

    let language = match &args.language {
        Some(code) => Language::parse(code).unwrap_or_default(),
        None => scenario.report.language,
    };
    // Fonts and templates first: a bad file is an error before minutes of simulation.
    let templates = match &args.template {
        Some(dir) => memo::Templates::from_dir(dir)?,
        None => memo::Templates::default(),
    };
    if let Some(font) = args.font.as_ref().or(scenario.report.font.as_ref()) {
        chart::fonts::use_font_file(font)?;
    }

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
    let chart_data = ChartData::new(&scenario, &sim);
    let summary = Summary::new(&scenario, sim, sha, start.elapsed().as_secs_f64());

    let labels = Labels::new(language, &scenario.currency);
    let figures = chart::render_all(&summary, &chart_data, &labels)?;
    let chart_count = figures.len();
    let footnote = labels.footnote(&summary.scenario, summary.paths, summary.seed);
    let context = memo::MemoContext::new(&scenario, &summary, &figures, language, footnote);
    let (html, md) = memo::render(&templates, &context)?;
    let mut files: Vec<(String, Vec<u8>)> = vec![("summary.json".to_owned(), summary.to_json())];
    for f in figures {
        files.push((format!("{}.png", f.kind.stem()), f.png));
        files.push((format!("{}.svg", f.kind.stem()), f.svg.into_bytes()));
    }
    files.push(("report.html".to_owned(), html.into_bytes()));
    files.push(("report.md".to_owned(), md.into_bytes()));
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    write_files(&out_dir, &refs)?;
    if !args.quiet {
        print!("{}", table::render(&summary));
        println!(
            "\nwrote summary.json, {} charts (PNG and SVG), report.html and report.md to {}",
            chart_count,
            out_dir.display()
        );
    }
    Ok(())
}

//! `ipabs exposure`: the guarantor's exposure view of a scenario (exposure.json and charts).

use std::path::PathBuf;

use super::{EXIT_USAGE, Failure, default_out, interrupted, load_unweighted, say};
use crate::chart::Labels;
use crate::chart::data::{EXCEEDANCE_POINTS, exceedance, payout};
use crate::chart::exposure::{self as exposure_chart, CapPayer, ExposureChart, UndertakerView};
use crate::chart::stress::{StressChart, render};
use crate::exposure::exposure;
use crate::report::exposure::{exposure_json, exposure_table};
use crate::report::write_report;
use crate::runner::Samples;

#[derive(Debug, clap::Args)]
pub(crate) struct ExposureArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Number of paths (overrides [simulation] paths).
    #[arg(long)]
    paths: Option<u64>,
    /// Seed (overrides [simulation] seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Report folder (default: reports/<scenario file stem>-exposure/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn run(args: &ExposureArgs) -> Result<(), Failure> {
    let scenario = load_unweighted(&args.scenario, "exposure")?;
    let paths = args.paths.unwrap_or(scenario.simulation.paths);
    if paths == 0 {
        return Err(Failure("--paths: must be at least 1".into(), EXIT_USAGE));
    }
    let seed = args.seed.unwrap_or(scenario.simulation.seed);
    let e = exposure(&scenario, paths, seed);
    let json = exposure_json(&e);
    let labels = Labels::new(scenario.report.language, &scenario.currency);
    let footnote = labels.footnote(&scenario.name, paths, seed);
    let mut charts = Vec::new();
    for (i, p) in e.parties.iter().enumerate() {
        if p.figures.expected_payout > 0.0 {
            let (png, svg) = render(StressChart::Contributions(p), &labels, footnote.clone())?;
            charts.push((
                format!("exposure_party{}.png", i + 1),
                png,
                format!("exposure_party{}.svg", i + 1),
                svg,
            ));
        }
    }
    let payers: Vec<CapPayer<'_>> = e
        .parties
        .iter()
        .map(|p| CapPayer {
            name: &p.name,
            cap: p.cap,
            figures: &p.figures,
        })
        .chain(e.undertaker.iter().map(|u| CapPayer {
            name: &u.name,
            cap: u.cap,
            figures: &u.figures,
        }))
        .collect();
    if payers.iter().any(|p| p.cap.is_some()) {
        let (png, svg) =
            exposure_chart::render(ExposureChart::CapExhaustion(&payers), &labels, footnote.clone())?;
        charts.push(("cap_exhaustion.png".into(), png, "cap_exhaustion.svg".into(), svg));
    }
    if let Some(u) = &e.undertaker {
        let draws = Samples::plain(&e.undertaker_draws);
        let view = UndertakerView {
            name: &u.name,
            currency: &e.currency,
            figures: &u.figures,
            draws: &payout(draws, u.cap),
            exceedance: &exceedance(draws, EXCEEDANCE_POINTS),
            paths,
        };
        let (png, svg) = exposure_chart::render(ExposureChart::Undertaker(view), &labels, footnote.clone())?;
        charts.push(("undertaker.png".into(), png, "undertaker.svg".into(), svg));
    }
    let mut files: Vec<(&str, &[u8])> = vec![("exposure.json", &json)];
    for (pn, png, sn, svg) in &charts {
        files.push((pn.as_str(), png.as_slice()));
        files.push((sn.as_str(), svg.as_bytes()));
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario, &scenario.name, "-exposure"));
    write_report(&out_dir, &files, &interrupted)?;
    if !args.quiet {
        say(&exposure_table(&e));
        say(&format!("wrote {}\n", out_dir.display()));
    }
    Ok(())
}

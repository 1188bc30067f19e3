//! `ipabs merge`: joins the partial results of `ipabs run --shard I/N` into the report the whole
//! run would have written on one machine, bit for bit (timing fields aside).

use std::path::PathBuf;

use super::run::{ReportArgs, publish};
use super::{EXIT_USAGE, Failure};
use crate::chart::data::ChartData;
use crate::plan::Plan;
use crate::report::partial::Partial;
use crate::report::summary::Summary;
use crate::runner::{Layout, Simulation, shard_blocks};

#[derive(Debug, clap::Args)]
pub(crate) struct MergeArgs {
    /// The folders written by `ipabs run --shard I/N`, one per shard, in any order.
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Report folder of the merged run.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    report: ReportArgs,
}

fn usage(msg: String) -> Failure {
    Failure(msg, EXIT_USAGE)
}

fn read(dir: &std::path::Path) -> Result<Partial, Failure> {
    let json = std::fs::read(dir.join("partial.json"))
        .map_err(|e| usage(format!("{}: cannot read partial.json: {e}", dir.display())))?;
    let data = std::fs::read(dir.join("partial.bin"))
        .map_err(|e| usage(format!("{}: cannot read partial.bin: {e}", dir.display())))?;
    Partial::read(&json, data).map_err(|e| usage(format!("{}: {e}", dir.display())))
}

pub(crate) fn merge(args: &MergeArgs) -> Result<(), Failure> {
    let parts: Vec<(PathBuf, Partial)> = args
        .parts
        .iter()
        .map(|d| read(d).map(|p| (d.clone(), p)))
        .collect::<Result<_, _>>()?;
    let (first_dir, first) = &parts[0];
    let m0 = &first.manifest;
    let mut seen = vec![None::<&PathBuf>; m0.shards as usize];
    for (dir, p) in &parts {
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
            return Err(usage(format!(
                "{} and {} are partial results of different runs (the {what} differs)",
                first_dir.display(),
                dir.display()
            )));
        }
        let expected = shard_blocks(m.paths, m.shard, m.shards);
        if m.shard == 0 || m.shard > m.shards || [expected.start, expected.end] != m.blocks {
            return Err(usage(format!(
                "{}: not a shard of a {}-shard layout",
                dir.display(),
                m.shards
            )));
        }
        let slot = &mut seen[(m.shard - 1) as usize];
        if let Some(other) = slot {
            return Err(usage(format!(
                "shard {}/{} is given twice: {} and {}",
                m.shard,
                m.shards,
                other.display(),
                dir.display()
            )));
        }
        *slot = Some(dir);
    }
    if let Some(missing) = seen.iter().position(Option::is_none) {
        return Err(usage(format!("shard {}/{} is missing", missing + 1, m0.shards)));
    }

    let mut scenario = crate::scenario::parse(&m0.scenario_stem, &m0.scenario_text, &m0.scenario_stem)
        .map_err(|e| usage(e.to_string()))?;
    scenario.simulation.paths = m0.paths;
    scenario.simulation.seed = m0.seed;
    let plan = Plan::new(&scenario);
    let layout = Layout::of(&plan);
    let sims: Vec<Simulation> = parts
        .iter()
        .map(|(dir, p)| {
            p.simulation(layout)
                .map_err(|e| usage(format!("{}: {e}", dir.display())))
        })
        .collect::<Result<_, _>>()?;
    let elapsed: f64 = parts.iter().map(|(_, p)| p.manifest.elapsed_s).sum();
    let sim = Simulation::merge(sims).map_err(|e| usage(e.to_string()))?;
    let rendering = args.report.prepare(&scenario)?;
    let chart_data = ChartData::new(&scenario, &sim);
    let summary = Summary::new(&scenario, sim, m0.scenario_sha256.clone(), elapsed);
    publish(
        &args.report,
        &rendering,
        &scenario,
        &summary,
        &chart_data,
        Vec::new(),
        &args.out,
    )
}

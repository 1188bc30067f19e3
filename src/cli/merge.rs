//! `ipabs merge`: joins the partial results of `ipabs run --shard I/N` into the report the whole
//! run would have written on one machine, bit for bit (timing fields aside).

use std::path::PathBuf;

use super::Failure;
use super::run::{ReportArgs, publish};
use crate::chart::data::ChartData;
use crate::job;
use crate::report::partial::Partial;
use crate::report::summary::Summary;

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

pub(crate) fn merge(args: &MergeArgs) -> Result<(), Failure> {
    let parts: Vec<(String, Partial)> = args
        .parts
        .iter()
        .map(|d| job::read_partial(d).map(|p| (d.display().to_string(), p)))
        .collect::<Result<_, _>>()?;
    let job::Merged {
        scenario,
        sim,
        scenario_sha256,
        elapsed_s,
    } = job::merge(&parts)?;
    let rendering = args.report.prepare(&scenario)?;
    let (summary, chart_data) = Summary::with_derived(&scenario, sim, scenario_sha256, elapsed_s, |sim| {
        ChartData::new(&scenario, sim)
    });
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

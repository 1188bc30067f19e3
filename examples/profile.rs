//! Simulation and statistics only (no charts, no memo, no files), for profilers:
//! `cargo build --release --example profile`, then e.g.
//! `valgrind --tool=callgrind target/release/examples/profile scenarios/bench/peer-pool.toml 200000 1`.
//! A fourth argument `charts` also computes the chart data of the run (as `ipabs run` does,
//! beside the summary's first statistics); `simulate` stops after the simulation (so the difference of the two
//! counts is the cost of the chart data and the statistics). Prints the paths and the seconds
//! taken.

use std::time::Instant;

use ipabs::chart::data::ChartData;
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: profile SCENARIO [PATHS] [THREADS] [charts|simulate]");
        std::process::exit(2);
    };
    let paths: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let charts = args.get(4).is_some_and(|s| s == "charts");
    let scenario = match ipabs::scenario::load(path.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let plan = Plan::new(&scenario);
    let start = Instant::now();
    let sim =
        runner::simulate(&plan, paths, scenario.simulation.seed, threads, &runner::Silent).expect("a run");
    let simulated = start.elapsed().as_secs_f64();
    if args.get(4).is_some_and(|s| s == "simulate") {
        println!(
            "{paths} paths: simulate {simulated:.3} s, {} stored",
            sim.stored.len()
        );
        return;
    }
    let (summary, chart_points) = Summary::with_derived(&scenario, sim, String::new(), 0.0, |sim| {
        charts.then(|| ChartData::new(&scenario, sim).pool_loss_exceedance.len())
    });
    let total = start.elapsed().as_secs_f64();
    println!(
        "{paths} paths: simulate {simulated:.3} s, with {}statistics {total:.3} s, {:.2} M paths/s; pool loss mean {:e}",
        if chart_points.is_some() {
            "chart data and "
        } else {
            ""
        },
        paths as f64 / total / 1e6,
        summary.pool_loss.mean
    );
}

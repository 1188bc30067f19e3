//! The phase after the paths alone (the chart data and every statistic of `summary.json`), on a
//! run read back from a partial result, for profilers: the phase's pool is then the only rayon
//! pool of the process, so `valgrind --tool=callgrind --separate-threads=yes` counts each of its
//! threads apart from the main thread. `ipabs run SCENARIO --paths N --shard 1/1 --out DIR`, then
//! `cargo build --release --example after_paths` and e.g.
//! `valgrind --tool=callgrind --separate-threads=yes target/release/examples/after_paths DIR 2`
//! (and `DIR 2 read`, which stops after reading the partial: the main thread's count of the
//! phase is the difference). Prints the phase's seconds.

use std::time::Instant;

use ipabs::chart::data::ChartData;
use ipabs::job;
use ipabs::report::summary::Summary;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(threads)) = (args.get(1), args.get(2).and_then(|t| t.parse().ok())) else {
        eprintln!("usage: after_paths PARTIAL_DIR THREADS [read]");
        std::process::exit(2);
    };
    let merged = job::read_partial(dir.as_ref())
        .and_then(|p| job::merge(&[(dir.clone(), p)]))
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2);
        });
    let (scenario, mut sim) = (merged.scenario, merged.sim);
    sim.threads = threads;
    if args.get(3).is_some_and(|a| a == "read") {
        println!("{} paths read, {} stored", sim.paths, sim.stored.len());
        return;
    }
    let start = Instant::now();
    let (summary, chart) = Summary::with_derived(&scenario, sim, String::new(), 0.0, |sim| {
        ChartData::new(&scenario, sim)
    });
    println!(
        "{} paths: chart data and statistics {:.4} s on {threads} threads; pool loss mean {:e}, {} exceedance points",
        summary.paths,
        start.elapsed().as_secs_f64(),
        summary.pool_loss.mean,
        chart.pool_loss_exceedance.len()
    );
}

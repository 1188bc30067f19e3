//! Paths per second of the whole engine (draws, tiers, waterfall, per-path outputs and the
//! statistics of summary.json) on the flagship and the peer reference pool at 1 and 2 threads, a
//! 1,000-firm pool and a 10,000-loan programme. Throughput is reported per path.
//!
//! `cargo bench --bench paths`; `benches/README.md` records the figures.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipabs::model::Scenario;
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;

fn load(path: &str) -> Scenario {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    ipabs::scenario::load(full.as_ref()).expect("a shipped scenario")
}

/// A pool of `n` firms over five sectors: bullet, 4% a year, annual PD 1–3%, recovery Beta(2, 3)
/// on patents worth 1.3 times the principal, guarantors in two capped tiers, one tranche.
fn pool(n: usize, name: &str) -> Scenario {
    let mut s = format!(
        "name = \"{name}\"\n[deal]\nperiods_per_year = 4\nterm_periods = 4\n[simulation]\npaths = 1\nseed = 1\n\
         [credit]\nasset_correlation = 0.2\nsectors = [\"a\", \"b\", \"c\", \"d\", \"e\"]\nsector_correlation = 0.5\n\
         [recovery]\nbeta = {{ a = 2.0, b = 3.0 }}\nlag_periods = 2\n"
    );
    let mut total = 0.0;
    for i in 0..n {
        let principal = 1e6 * (1.0 + (i % 7) as f64);
        total += principal;
        s += &format!(
            "[[firms]]\nid = \"F{i}\"\nsector = \"{}\"\nprincipal = {principal}\nrate = 0.04\nannual_pd = {}\npatents = {{ appraised_value = {} }}\n",
            ["a", "b", "c", "d", "e"][i % 5],
            0.01 + 0.02 * (i % 3) as f64 / 2.0,
            1.3 * principal
        );
    }
    s += &format!(
        "[[tiers]]\nparties = [{{ name = \"district\", share = 0.5, cap = {} }}, {{ name = \"lender\", share = 0.5, cap = 0 }}]\n\
         [[tiers]]\nparties = [{{ name = \"municipal\", share = 1.0, cap = {} }}]\n\
         [[tranches]]\nname = \"senior\"\nnotional = {}\ncoupon = 0.027\n",
        0.05 * total,
        0.10 * total,
        0.8 * total
    );
    ipabs::scenario::parse("bench.toml", &s, name).expect("a valid generated pool")
}

fn bench(c: &mut Criterion, label: &str, scenario: &Scenario, paths: u64, threads: usize) {
    let plan = Plan::new(scenario);
    let mut group = c.benchmark_group(label);
    group.sample_size(10);
    group.throughput(Throughput::Elements(paths));
    group.bench_function(format!("{paths} paths, {threads} threads"), |b| {
        b.iter(|| {
            let sim = runner::simulate(&plan, paths, 7, threads, &runner::Silent).unwrap();
            black_box(Summary::new(scenario, sim, String::new(), 0.0))
        })
    });
    group.finish();
}

fn paths(c: &mut Criterion) {
    let flagship = load("scenarios/yuhang-2023.toml");
    bench(c, "flagship", &flagship, 1_000_000, 1);
    bench(c, "flagship", &flagship, 1_000_000, 2);
    let peer = load("scenarios/bench/peer-pool.toml");
    bench(c, "peer-pool", &peer, 1_000_000, 1);
    bench(c, "peer-pool", &peer, 1_000_000, 2);
    bench(c, "pool-1000-firms", &pool(1_000, "pool-1000"), 20_000, 2);
    bench(
        c,
        "programme-10000-loans",
        &pool(10_000, "programme-10000"),
        2_000,
        2,
    );
}

criterion_group!(benches, paths);
criterion_main!(benches);

//! Fuzzes the scenario loader and validator with arbitrary bytes: it must never panic, and a
//! scenario it accepts must simulate (a few paths) and summarise without panicking either.
//!
//! Run on stable Rust from the repository root (see README.md, "Fuzzing"):
//! `cargo fuzz run -s none scenario fuzz/corpus/scenario -- -max_total_time=600`

#![no_main]

use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(mut scenario) = ipabs::scenario::parse("fuzz.toml", &text, "fuzz") else {
        return;
    };
    // Keep each input cheap: a few paths, and no huge pools or terms.
    if scenario.firms.len() > 200 || scenario.deal.term_periods > 120 {
        return;
    }
    scenario.simulation.paths = 8;
    let plan = Plan::new(&scenario);
    if let Ok(sim) = runner::simulate(&plan, 8, scenario.simulation.seed, 1, &runner::Silent) {
        let summary = Summary::new(&scenario, sim, String::new(), 0.0);
        let _ = summary.to_json();
    }
});

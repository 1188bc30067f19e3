//! Same scenario and seed give a bit-identical summary.json whatever the thread count (timing
//! fields aside), and a different seed gives different numbers.

mod common;

use common::{data, run_summary, summary_text_without_timing};
use serde_json::Value;

fn without_timing(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("elapsed_s");
    o.remove("threads");
    v
}

#[test]
fn thread_count_does_not_change_results() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = data("stressed.toml");
    let runs: Vec<Value> = ["1", "2", "8"]
        .iter()
        .map(|t| {
            let out = dir.path().join(format!("t{t}"));
            // 20,000 paths is five blocks, so threads really do share the work.
            without_timing(run_summary(&scenario, &out, &["--threads", t]))
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
    // Byte-level, not only value-level: compare the files after dropping the timing lines.
    let text = |t: &str| summary_text_without_timing(&dir.path().join(format!("t{t}")));
    assert_eq!(text("1"), text("8"));

    let other = without_timing(run_summary(
        &scenario,
        &dir.path().join("seed"),
        &["--seed", "100"],
    ));
    assert_ne!(runs[0]["pool_loss"], other["pool_loss"]);
}

/// The runner stores the baseline outcome once and only the other paths' rows; expanding each
/// column must give, path by path, exactly what a sequential replay of the same streams gives.
#[test]
fn stored_rows_and_baseline_expand_to_the_replayed_paths() {
    use ipabs::plan::Plan;
    use ipabs::runner::{self, Column, Layout, PartyColumn, TrancheColumn, replay};

    let files = [
        data("stressed.toml"),
        data("hand-note.toml"),
        common::root().join("scenarios/yuhang-2023.toml"),
    ];
    for file in files {
        let s = ipabs::scenario::load(&file).unwrap();
        let p = Plan::new(&s);
        let paths = 9_000u64;
        let sim = runner::simulate(&p, paths, 5, 2, &runner::Silent).unwrap();
        let layout = Layout::of(&p);
        let pool = sim.full_column(layout.fixed(Column::PoolLoss));
        let undertaker = sim.full_column(layout.fixed(Column::UndertakerDraw));
        let payout = (layout.parties > 0).then(|| sim.full_column(layout.party(0, PartyColumn::Payout)));
        let senior = sim.full_column(layout.tranche(0, TrancheColumn::PrincipalLoss));
        let mut seen = 0u64;
        replay(&p, 5, paths, |i, scratch| {
            let o = &scratch.outcome;
            let i = i as usize;
            assert_eq!(pool[i].to_bits(), o.pool_loss.to_bits(), "{} path {i}", s.name);
            assert_eq!(undertaker[i].to_bits(), o.undertaker_draw.to_bits());
            if let Some(payout) = &payout {
                assert_eq!(payout[i].to_bits(), o.parties[0].payout.to_bits());
            }
            assert_eq!(senior[i].to_bits(), o.tranches[0].principal_loss.to_bits());
            seen += 1;
        });
        assert_eq!(seen, paths);
        assert_eq!(sim.stored.len() as u64 + sim.baseline_count, paths);
    }
}

/// A precision target doubles the paths until the standard error is reached; the result is the
/// same, bit for bit, for any thread count, and equal to a plain run of the final size.
#[test]
fn a_precision_target_is_reproducible_and_equals_a_plain_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = data("stressed.toml");
    let target = ["--paths", "4096", "--until-se", "pool_loss.mean=6000"];
    let one = run_summary(
        &scenario,
        &dir.path().join("a"),
        &[&target[..], &["--threads", "1"]].concat(),
    );
    let two = run_summary(
        &scenario,
        &dir.path().join("b"),
        &[&target[..], &["--threads", "2"]].concat(),
    );
    assert_eq!(without_timing(one.clone()), without_timing(two));
    let t = &one["precision_target"];
    assert_eq!(t["reached"], true, "{t}");
    assert!(t["se"].as_f64().unwrap() <= 6000.0);
    let paths = one["paths"].as_u64().unwrap();
    assert!(paths > 4096, "the target needed more paths than the first run");
    let plain = run_summary(&scenario, &dir.path().join("c"), &["--paths", &paths.to_string()]);
    let mut one = without_timing(one);
    one.as_object_mut().unwrap().remove("precision_target");
    let mut plain = without_timing(plain);
    plain.as_object_mut().unwrap().remove("precision_target");
    assert_eq!(one, plain);
}

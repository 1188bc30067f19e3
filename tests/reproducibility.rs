//! Same scenario and seed give a bit-identical summary.json whatever the thread count (timing
//! fields aside), and a different seed gives different numbers.

mod common;

use common::{data, run_summary};
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
    let text = |t: &str| {
        std::fs::read_to_string(dir.path().join(format!("t{t}")).join("summary.json"))
            .unwrap()
            .lines()
            .filter(|l| !l.contains("\"elapsed_s\"") && !l.contains("\"threads\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(text("1"), text("8"));

    let other = without_timing(run_summary(
        &scenario,
        &dir.path().join("seed"),
        &["--seed", "100"],
    ));
    assert_ne!(runs[0]["pool_loss"], other["pool_loss"]);
}

//! `ipabs run --shard I/N` and `ipabs merge`: the merged report equals the single-machine run,
//! bit for bit (timing lines aside), for 1, 3 and 7 shards; partial results of different runs,
//! a missing, repeated or damaged shard are refused.

mod common;

use std::path::Path;

use common::{data, ipabs, ipabs_ok, run_summary, summary_text_without_timing as summary_text};

fn shards(scenario: &Path, dir: &Path, n: u64, seed: &str) -> Vec<String> {
    (1..=n)
        .map(|i| {
            let out = dir.join(format!("seed{seed}-{i}of{n}"));
            let shard = format!("{i}/{n}");
            ipabs_ok(&[
                "run",
                scenario.to_str().unwrap(),
                "--paths",
                "30000",
                "--seed",
                seed,
                "--shard",
                &shard,
                "-q",
                "--out",
                out.to_str().unwrap(),
            ]);
            out.to_string_lossy().into_owned()
        })
        .collect()
}

fn merge(parts: &[String], out: &Path) -> std::process::Output {
    let mut args = vec!["merge", "-q", "--out", out.to_str().unwrap()];
    args.extend(parts.iter().map(String::as_str));
    ipabs(&args)
}

#[test]
fn merged_shards_equal_the_single_machine_run() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = data("stressed.toml");
    let single = tmp.path().join("single");
    run_summary(&scenario, &single, &["--paths", "30000", "--seed", "4"]);
    for n in [1, 3, 7] {
        let mut parts = shards(&scenario, tmp.path(), n, "4");
        parts.reverse(); // any order
        let out = tmp.path().join(format!("merged{n}"));
        let o = merge(&parts, &out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(summary_text(&out), summary_text(&single), "{n} shards");
        for chart in ["pool_loss.svg", "report.md"] {
            assert!(out.join(chart).is_file(), "{chart}");
        }
    }
}

#[test]
fn wrong_sets_of_partials_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = data("stressed.toml");
    let three = shards(&scenario, tmp.path(), 3, "4");
    let other_seed = shards(&scenario, tmp.path(), 3, "5");
    let out = tmp.path().join("merged");
    let refused = |parts: Vec<String>, what: &str| {
        let o = merge(&parts, &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(what), "expected {what:?} in {err}");
        assert!(!out.exists(), "nothing written");
    };
    refused(three[..2].to_vec(), "shard 3/3 is missing");
    refused(
        vec![
            three[0].clone(),
            three[0].clone(),
            three[1].clone(),
            three[2].clone(),
        ],
        "given twice",
    );
    refused(
        vec![three[0].clone(), three[1].clone(), other_seed[2].clone()],
        "the seed differs",
    );
    // A damaged data file.
    let bin = Path::new(&three[1]).join("partial.bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&bin, bytes).unwrap();
    refused(three.clone(), "damaged");
}

/// The documented one-machine flow (`deploy/local-shards.sh`: shards as parallel processes, then
/// the merge) gives the single-machine report too.
#[test]
fn the_local_shards_script_gives_the_single_machine_report() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = data("stressed.toml");
    let single = tmp.path().join("single");
    run_summary(&scenario, &single, &["--paths", "30000"]);
    let report = tmp.path().join("report");
    let o = std::process::Command::new("bash")
        .arg(common::root().join("deploy/local-shards.sh"))
        .args([
            scenario.to_str().unwrap(),
            "3",
            "30000",
            report.to_str().unwrap(),
            "2",
        ])
        .env("IPABS", env!("CARGO_BIN_EXE_ipabs"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(summary_text(&report), summary_text(&single));
}

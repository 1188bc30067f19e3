//! A run stopped at any moment leaves the previous report or the new one, never a mix: killed
//! (SIGKILL) at various moments, or interrupted (SIGINT, exit 130, nothing written).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ipabs_ok, root};
use serde_json::Value;

fn seed_of(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let v: Value = serde_json::from_str(&text).expect("summary.json is whole");
    v["seed"].as_u64()
}

fn files_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn start_run(out: &Path, seed: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ipabs"))
        .args([
            "run",
            "scenarios/bench/peer-pool.toml",
            "--paths",
            "1500000",
            "--seed",
            seed,
            "--quiet",
            "--out",
        ])
        .arg(out)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A small finished report (seed 1) in `out`, the one a later run must replace whole or not at all.
fn write_previous_report(out: &Path) {
    ipabs_ok(&[
        "run",
        "scenarios/bench/peer-pool.toml",
        "--paths",
        "20000",
        "--seed",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
}

#[test]
fn a_killed_run_leaves_the_previous_report_or_the_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    write_previous_report(&out);
    let previous_files = files_of(&out);

    // Time a whole run, then kill runs at fractions of that time, through the write at the end.
    let t = Instant::now();
    assert!(start_run(&out, "2").wait().unwrap().success());
    let whole = t.elapsed();
    assert_eq!(seed_of(&out), Some(2));
    let mut seen_old = false;
    for (i, frac) in [0.1, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0].iter().enumerate() {
        let seed = (10 + i).to_string();
        let mut child = start_run(&out, &seed);
        std::thread::sleep(whole.mul_f64(*frac));
        let _ = child.kill();
        let _ = child.wait();
        let now = seed_of(&out).expect("a report is always there");
        // Either the report before this run (seed 2 or an earlier attempt's) or this run's.
        assert!(now == 2 || (10..=10 + i as u64).contains(&now), "seed {now}");
        seen_old |= now == 2;
        assert_eq!(files_of(&out), previous_files, "the same set of files");
    }
    assert!(
        seen_old,
        "no run was killed before it finished; the test proved nothing"
    );
    // Staging folders of killed runs are cleaned by the next run.
    assert!(start_run(&out, "3").wait().unwrap().success());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn ctrl_c_exits_130_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    write_previous_report(&out);
    let mut child = start_run(&out, "5");
    std::thread::sleep(Duration::from_millis(150));
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    if status.success() {
        // The machine finished the run in under 150 ms: nothing to check.
        return;
    }
    assert_eq!(status.code(), Some(130));
    assert_eq!(seed_of(&out), Some(1), "the previous report is untouched");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no staging left"
    );
}

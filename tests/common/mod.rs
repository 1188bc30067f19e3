//! Helpers shared by the integration tests: run the real `ipabs` binary and read its outputs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    root().join("tests").join("data").join(name)
}

/// Runs `ipabs` with `args`.
pub fn ipabs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipabs"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the ipabs binary runs")
}

/// Runs `ipabs` with `args` and asserts it succeeded, with its stderr in the failure message.
pub fn ipabs_ok(args: &[&str]) -> Output {
    let o = ipabs(args);
    assert!(
        o.status.success(),
        "ipabs {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs `ipabs` with `args`, asserts the usage-error exit status 2 and no panic, returns stderr.
pub fn ipabs_refused(args: &[&str]) -> String {
    let o = ipabs(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "ipabs {args:?}: {err}");
    assert!(!err.contains("panicked"), "ipabs {args:?}: {err}");
    err
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `ipabs run <scenario> --out <out> <extra...>`, asserts success, returns summary.json.
pub fn run_summary(scenario: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ipabs_ok(&args);
    read_json(&out.join("summary.json"))
}

/// The text of `dir/summary.json` without its timing lines (`elapsed_s`, `threads`): what must be
/// byte-identical between two runs of the same scenario and seed.
pub fn summary_text_without_timing(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("summary.json"))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join("summary.json").display()))
        .lines()
        .filter(|l| !l.contains("\"elapsed_s\"") && !l.contains("\"threads\""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `|a - b| <= tol * max(1, |b|)`, with a readable failure.
pub fn assert_close(what: &str, a: f64, b: f64, tol: f64) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: got {a}, expected {b} (tolerance {tol})"
    );
}

/// `v[key]` as f64, panicking with the key path when absent.
pub fn num(v: &Value, path: &str) -> f64 {
    let mut cur = v;
    for k in path.split('/') {
        cur = match k.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[k],
        };
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {cur}"))
}

/// No number in a summary is missing: NaN and infinities serialise as `null`, so every `null`
/// must be one of the documented optional fields.
pub fn assert_no_null(v: &Value, path: &str) {
    const OPTIONAL: [&str; 9] = [
        "coupon_coverage",
        "undertaker",
        "cap",
        "dof",
        "value_vol",
        "description",
        "precision_target",
        "importance_sampling",
        "metric",
    ];
    match v {
        Value::Null => assert!(OPTIONAL.iter().any(|k| path.ends_with(k)), "null at {path}"),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| assert_no_null(x, &format!("{path}/{k}"))),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| assert_no_null(x, &format!("{path}[{i}]"))),
        _ => {}
    }
}

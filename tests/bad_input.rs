//! Bad scenario files through the real binary: `ipabs validate` and `ipabs run` must both exit
//! with status 2, name the file, the line and the key path with a clear message, never panic,
//! and `run` must not create (or fill) its report folder.
//!
//! Each file in `tests/bad_scenarios/` states what it expects in header comments:
//! `# expect: <key path> | <message fragment> | <line>` (one line per expected problem).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One expected problem of a bad scenario file.
#[derive(Debug)]
struct Expectation {
    key: String,
    fragment: String,
    line: usize,
}

fn expectations(path: &Path) -> Vec<Expectation> {
    let text = std::fs::read_to_string(path).unwrap();
    let found: Vec<Expectation> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# expect:"))
        .map(|rest| {
            let parts: Vec<&str> = rest.split('|').map(str::trim).collect();
            assert_eq!(
                parts.len(),
                3,
                "{}: bad expectation header {rest:?}",
                path.display()
            );
            Expectation {
                key: parts[0].to_owned(),
                fragment: parts[1].to_owned(),
                line: parts[2].parse().expect("a line number"),
            }
        })
        .collect();
    assert!(!found.is_empty(), "{} has no # expect: header", path.display());
    found
}

fn bad_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} bad scenario files", files.len());
    files
}

fn ipabs(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipabs"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the ipabs binary runs")
}

/// The common checks on a failed command: status 2, no panic, the file named.
fn assert_clean_failure(what: &str, file: &Path, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{what}: exit status {:?}, stderr:\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
    assert!(
        !stderr.to_lowercase().contains("backtrace"),
        "{what} printed a backtrace:\n{stderr}"
    );
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(
        stderr.contains(name.as_ref()),
        "{what}: stderr does not name {name}:\n{stderr}"
    );
    stderr
}

/// Some line of `stderr` carries the expected `:line:`, key path and message fragment.
fn assert_expected(what: &str, stderr: &str, x: &Expectation) {
    let line_mark = format!(":{}:", x.line);
    let hit = stderr
        .lines()
        .any(|l| l.contains(&line_mark) && l.contains(&x.key) && l.contains(&x.fragment));
    assert!(
        hit,
        "{what}: no line with {line_mark}, {:?} and {:?} in:\n{stderr}",
        x.key, x.fragment
    );
}

#[test]
fn validate_rejects_every_bad_scenario_with_status_2_and_a_located_message() {
    for file in bad_scenarios() {
        let out = ipabs(&["validate".as_ref(), file.as_os_str()]);
        let what = format!("validate {}", file.display());
        let stderr = assert_clean_failure(&what, &file, &out);
        for x in expectations(&file) {
            assert_expected(&what, &stderr, &x);
        }
    }
}

#[test]
fn run_rejects_every_bad_scenario_without_writing_a_report() {
    for file in bad_scenarios() {
        let tmp = tempfile::tempdir().unwrap();
        let out_dir = tmp.path().join("out");
        let out = ipabs(&[
            "run".as_ref(),
            file.as_os_str(),
            "--out".as_ref(),
            out_dir.as_os_str(),
            "--paths".as_ref(),
            "10".as_ref(),
        ]);
        let what = format!("run {}", file.display());
        let stderr = assert_clean_failure(&what, &file, &out);
        for x in expectations(&file) {
            assert_expected(&what, &stderr, &x);
        }
        let written = std::fs::read_dir(&out_dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(
            written,
            0,
            "{what}: wrote {written} entries into {}",
            out_dir.display()
        );
    }
}

#[test]
fn a_missing_scenario_file_is_a_clean_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-scenario.toml");
    let out = ipabs(&["validate".as_ref(), missing.as_os_str()]);
    assert_clean_failure("validate of a missing file", &missing, &out);
}

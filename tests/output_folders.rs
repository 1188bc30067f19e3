//! Output folders that cannot or must not be written: a clear message, exit 2, nothing written.

mod common;

use common::{data, ipabs_refused};

/// `ipabs run` of the hand-checked note into `out`, which must be refused (exit 2): its stderr.
fn refused_run_into(out: &str) -> String {
    ipabs_refused(&[
        "run",
        data("hand-note.toml").to_str().unwrap(),
        "--paths",
        "100",
        "--out",
        out,
    ])
}

#[test]
fn an_unwritable_out_folder_is_a_clear_failure() {
    // /proc refuses new folders even to root.
    let err = refused_run_into("/proc/ipabs-report");
    assert!(err.contains("cannot write") && err.contains("/proc"), "{err}");
}

#[test]
fn a_folder_that_is_not_a_report_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("thesis.tex"), "keep me").unwrap();
    let err = refused_run_into(tmp.path().to_str().unwrap());
    assert!(err.contains("is not an ipabs report folder"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("thesis.tex")).unwrap(),
        "keep me"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "nothing else written"
    );
    // The parent of the folder holds no staging leftovers either.
    let parent = tmp.path().parent().unwrap();
    let name = tmp.path().file_name().unwrap().to_string_lossy().into_owned();
    let stray = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&format!(".{name}.")));
    assert!(!stray);
}

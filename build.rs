//! Records the versions of the random-number crates from `Cargo.lock`, so every run's manifest
//! says which generator and distribution code produced its numbers.

use std::fs;

fn locked_version(lock: &str, name: &str, prefix: &str) -> String {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"")
            && let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = \""))
        {
            let v = v.trim_end_matches('"');
            if v.starts_with(prefix) {
                return v.to_string();
            }
        }
    }
    "unknown".to_string()
}

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = fs::read_to_string("Cargo.lock").unwrap_or_default();
    println!(
        "cargo:rustc-env=IPABS_RAND_VERSION={}",
        locked_version(&lock, "rand", "0.10.")
    );
    println!(
        "cargo:rustc-env=IPABS_RAND_DISTR_VERSION={}",
        locked_version(&lock, "rand_distr", "0.6.")
    );
}

//! `ipabs run --streaming` against the stored run of the same seed: every mean, standard
//! deviation and probability equal to rounding, every quantile, quantile interval and ES within
//! its reported error bound of the exact (stored) one; and the same numbers whatever the
//! thread count. Then the memory limit (`--max-memory`, `[simulation] max_memory`): a run over
//! it streams by itself, one under it is stored, and what cannot be streamed is refused; the same
//! for the memory available to the process, here bounded by an address-space limit.

mod common;

use common::{root, run_summary};
use serde_json::Value;

/// Relative tolerance for numbers a streamed run computes exactly but in another order
/// (compensated sums of shifted values against sorted two-pass sums).
const ROUNDING: f64 = 1e-9;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1e-300)
}

/// Compares the stored summary `exact` with the streamed one `s`, recursively; returns how many
/// quantiles were checked against their bounds.
fn compare(exact: &Value, s: &Value, path: &str, n: u64) -> usize {
    match (exact, s) {
        (Value::Object(e), Value::Object(t))
            if e.contains_key("quantiles") && e.contains_key("quantiles_ci") =>
        {
            compare_distribution(e, t, path, n)
        }
        (Value::Object(e), Value::Object(t)) => e
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "elapsed_s" | "threads"))
            .map(|(k, v)| match k.as_str() {
                // A streamed run leaves the exposure view out: it needs each path's
                // obligation beside its payout, which the accumulators do not keep.
                "exposure" => {
                    assert!(t[k.as_str()].is_null(), "{path}.exposure: not null when streamed");
                    0
                }
                _ => compare(v, &t[k.as_str()], &format!("{path}.{k}"), n),
            })
            .sum(),
        (Value::Array(e), Value::Array(t)) => {
            assert_eq!(e.len(), t.len(), "{path}: lengths");
            e.iter()
                .zip(t)
                .enumerate()
                .map(|(i, (a, b))| compare(a, b, &format!("{path}[{i}]"), n))
                .sum()
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(close(a, b, ROUNDING), "{path}: stored {a}, streamed {b}");
            0
        }
        (a, b) => {
            assert_eq!(a, b, "{path}");
            0
        }
    }
}

fn compare_distribution(
    e: &serde_json::Map<String, Value>,
    t: &serde_json::Map<String, Value>,
    path: &str,
    n: u64,
) -> usize {
    let f = |v: &Value| v.as_f64().unwrap();
    for key in ["mean", "std", "se_mean", "min", "max"] {
        let (a, b) = (f(&e[key]), f(&t[key]));
        assert!(close(a, b, ROUNDING), "{path}.{key}: stored {a}, streamed {b}");
    }
    let bounds = &t["quantiles_error_bound"];
    let mut checked = 0;
    for (q, exact) in e["quantiles"].as_object().unwrap() {
        let (x, v, b) = (f(exact), f(&t["quantiles"][q]), f(&bounds[q]));
        let slack = 1e-12 * x.abs();
        assert!(
            (v - x).abs() <= b + slack,
            "{path} VaR {q}: stored {x}, streamed {v}, bound {b}"
        );
        assert!(
            b <= x.abs() / 2048.0 + 1e-12,
            "{path} VaR {q}: bound {b} above 2^-11 |x|"
        );
        let (lo, hi) = (f(&e["quantiles_ci"][q][0]), f(&e["quantiles_ci"][q][1]));
        let (slo, shi) = (f(&t["quantiles_ci"][q][0]), f(&t["quantiles_ci"][q][1]));
        assert!(
            slo <= lo + slack && shi >= hi - slack,
            "{path} CI {q}: streamed [{slo}, {shi}] does not cover [{lo}, {hi}]"
        );
        checked += 1;
    }
    let (es, ses, b) = (f(&e["es_0.99"]), f(&t["es_0.99"]), f(&t["es_0.99_error_bound"]));
    assert!(
        (ses - es).abs() <= b + 1e-12 * es.abs(),
        "{path} ES: stored {es}, streamed {ses}, bound {b}"
    );
    // The ES standard error sqrt((s_m^2 + q (ES - VaR)^2) / m) is computed from bin midpoints:
    // each of the m tail values moves by at most d = b_ES + b_VaR, and they lie within
    // D = max - VaR + d of each other, so s_m^2 and (ES - VaR)^2 each move by at most
    // 2 D d + d^2 (with rounding slack of 1e-6 of se^2).
    let (se, sse) = (f(&e["es_0.99_se"]), f(&t["es_0.99_se"]));
    let m = (n as f64 * 0.01).ceil();
    let d = b + f(&bounds["0.99"]);
    let big_d = f(&e["max"]) - f(&e["quantiles"]["0.99"]) + d;
    let allowed = 2.0 * (2.0 * big_d * d + d * d) / m + 1e-6 * se * se;
    assert!(
        (se * se - sse * sse).abs() <= allowed,
        "{path} ES se: {se} vs {sse} (allowed {allowed} in se^2)"
    );
    checked
}

fn scenario(name: &str) -> std::path::PathBuf {
    root().join("scenarios").join(name)
}

#[test]
fn streamed_summaries_match_the_stored_runs_within_their_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, paths) in [
        ("yuhang-2023.toml", "60000"),
        ("chongqing-beibei-73.toml", "30000"),
    ] {
        let file = scenario(name);
        let args = ["--paths", paths, "--seed", "11"];
        let stored = run_summary(&file, &tmp.path().join(format!("{name}-stored")), &args);
        let streamed = run_summary(
            &file,
            &tmp.path().join(format!("{name}-streamed")),
            &[&args[..], &["--streaming"]].concat(),
        );
        assert!(
            stored.get("streaming").is_none(),
            "stored runs have no streaming section"
        );
        assert_eq!(streamed["streaming"]["reason"], "requested");
        assert_eq!(streamed["streaming"]["relative_bin_width"], 1.0 / 1024.0);
        let mut s = streamed.clone();
        s.as_object_mut().unwrap().remove("streaming");
        let n = stored["paths"].as_u64().unwrap();
        let checked = compare(&stored, &s, name, n);
        assert!(checked > 50, "{name}: only {checked} quantiles compared");
        // The charts are drawn from the bins.
        assert!(tmp.path().join(format!("{name}-streamed/pool_loss.svg")).exists());
    }
}

#[test]
fn streamed_runs_do_not_depend_on_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario("yuhang-2023.toml");
    let run = |threads: &str| {
        let mut v = run_summary(
            &file,
            &tmp.path().join(threads),
            &[
                "--paths",
                "300000",
                "--seed",
                "5",
                "--streaming",
                "--threads",
                threads,
            ],
        );
        let o = v.as_object_mut().unwrap();
        o.remove("elapsed_s");
        o.remove("threads");
        o["manifest"].as_object_mut().unwrap().remove("elapsed_s");
        v
    };
    assert_eq!(run("1"), run("3"));
}

#[test]
fn streaming_refuses_what_needs_per_path_rows() {
    let file = scenario("yuhang-2023.toml");
    let f = file.to_str().unwrap();
    for extra in [
        &["--importance", "auto"][..],
        &["--until-se", "pool_loss.mean=1"][..],
    ] {
        let o = common::ipabs(
            &[
                &["run", f, "--paths", "5000", "--streaming", "--quiet"][..],
                extra,
            ]
            .concat(),
        );
        assert_eq!(
            o.status.code(),
            Some(2),
            "{extra:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("streamed run"),
            "{extra:?}"
        );
    }
}

/// `summary.json` without its timings.
fn untimed(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("elapsed_s");
    o["manifest"].as_object_mut().unwrap().remove("elapsed_s");
    v
}

/// A memory limit below a stored run's estimate streams the run, saying so on stderr and in
/// `streaming.reason`; its figures agree with the stored run's as a requested stream's do. A
/// limit with room keeps the run stored, the same bit for bit as without one.
#[test]
fn a_memory_limit_streams_a_run_that_does_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario("yuhang-2023.toml");
    let f = file.to_str().unwrap();
    let args = ["--paths", "60000", "--seed", "11"];
    let stored = run_summary(&file, &tmp.path().join("stored"), &args);

    // Every stored run needs at least 32 MiB for the program, so 16 MiB never fits.
    let out = tmp.path().join("limited");
    let o = common::ipabs(
        &[
            &["run", f, "--quiet", "--out", out.to_str().unwrap()][..],
            &args,
            &["--max-memory", "16MiB"],
        ]
        .concat(),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("60000 paths need about")
            && stderr.contains("more than the memory limit max_memory = 16 MiB")
            && stderr.contains("streaming instead"),
        "{stderr}"
    );
    let streamed: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(streamed["streaming"]["reason"], "max_memory");
    let mut s = streamed.clone();
    s.as_object_mut().unwrap().remove("streaming");
    assert!(compare(&stored, &s, "limited", 60000) > 50);

    let roomy = run_summary(
        &file,
        &tmp.path().join("roomy"),
        &[&args[..], &["--max-memory", "4GiB"]].concat(),
    );
    assert!(roomy.get("streaming").is_none(), "a run that fits is stored");
    assert_eq!(untimed(roomy), untimed(stored.clone()));

    // The same limit as a scenario key, and --max-memory overriding it.
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "seed = 7\n",
        "seed = 7\nmax_memory = \"16MiB\"\n",
        1,
    );
    assert!(text.contains("max_memory"));
    let keyed = tmp.path().join("yuhang-2023.toml");
    std::fs::write(&keyed, text).unwrap();
    let by_key = run_summary(&keyed, &tmp.path().join("by-key"), &args);
    assert_eq!(by_key["streaming"]["reason"], "max_memory");
    let overridden = run_summary(
        &keyed,
        &tmp.path().join("overridden"),
        &[&args[..], &["--max-memory", "4GiB"]].concat(),
    );
    assert!(overridden.get("streaming").is_none());
}

/// What cannot be streamed (importance sampling, a precision target, a shard, the analytic
/// check) is refused over the limit, exit 2 with the reason, and writes nothing.
#[test]
fn a_memory_limit_refuses_what_cannot_be_streamed() {
    let tmp = tempfile::tempdir().unwrap();
    let yuhang = scenario("yuhang-2023.toml");
    let one_factor = common::data("one-factor.toml");
    for (file, extra, what) in [
        (&yuhang, &["--importance", "auto"][..], "importance sampling"),
        (
            &yuhang,
            &["--until-se", "pool_loss.mean=1"][..],
            "a precision target",
        ),
        (&yuhang, &["--shard", "1/2"][..], "a shard"),
        (&one_factor, &["--check-analytic"][..], "--check-analytic"),
    ] {
        let out = tmp.path().join(extra[0].trim_start_matches('-'));
        let o = common::ipabs(
            &[
                &[
                    "run",
                    file.to_str().unwrap(),
                    "--paths",
                    "20000",
                    "--quiet",
                    "--max-memory",
                    "16MiB",
                    "--out",
                    out.to_str().unwrap(),
                ][..],
                extra,
            ]
            .concat(),
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains("more than the memory limit max_memory = 16 MiB")
                && stderr.contains(&format!("cannot be combined with {what}")),
            "{extra:?}: {stderr}"
        );
        assert!(!out.exists(), "{extra:?}: wrote {}", out.display());
    }
    let o = common::ipabs(&["run", yuhang.to_str().unwrap(), "--max-memory", "lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected a size such as 512MiB"));
}

/// Runs `ipabs args` under an address-space limit of `kib` KiB (`ulimit -v`), through `sh`.
#[cfg(target_os = "linux")]
fn ipabs_under_ulimit(kib: u64, args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_ipabs"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("sh runs")
}

/// An address-space limit of `mib` MiB plus the 64 MiB the check leaves each core's worker
/// thread for its allocator arena (`ipabs::memory::ARENA_RESERVE`), in KiB: what the check sees
/// as `mib` MiB less what the process has mapped, whatever the number of cores.
#[cfg(target_os = "linux")]
fn limit_kib(mib: u64) -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    (mib + 64 * cores) << 10
}

/// The bound of available memory (`streaming.reason = "memory"`) through the binary: under an
/// address-space limit of 400 MiB (and the arenas' room), 6M flagship paths (about 348 MiB as
/// a stored run, more than 80% of what the limit leaves, 260-310 MiB; about 210 MiB streamed)
/// stream by themselves, and what cannot be streamed is refused before any work, with exit
/// status 2 and nothing written.
#[cfg(target_os = "linux")]
#[test]
fn the_memory_left_under_an_address_space_limit_streams_a_run_that_does_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let yuhang = scenario("yuhang-2023.toml");
    // 6M flagship paths into `out` under the address-space limit, with `extra` arguments.
    let run = |out: &std::path::Path, extra: &[&str]| {
        let args = [
            &["run", yuhang.to_str().unwrap(), "--paths", "6000000", "--out"][..],
            &[out.to_str().unwrap()],
            extra,
        ]
        .concat();
        ipabs_under_ulimit(limit_kib(400), &args)
    };
    let out = tmp.path().join("limited");
    let o = run(&out, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("the address space left under this process's limit (ulimit -v)")
            && stderr.contains("streaming instead"),
        "{stderr}"
    );
    let summary = common::read_json(&out.join("summary.json"));
    assert_eq!(summary["streaming"]["reason"], "memory");
    assert_eq!(summary["paths"], 6_000_000);

    let refused = tmp.path().join("refused");
    let o = run(&refused, &["--importance", "auto", "--quiet"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("(ulimit -v)") && stderr.contains("cannot be combined with importance sampling"),
        "{stderr}"
    );
    assert!(!refused.exists());
}

/// A streamed run is checked too: under an address-space limit of 200 MiB (and the arenas'
/// room), 6M flagship paths do not fit as a stored run (about 348 MiB) nor as a streamed one
/// (about 210 MiB: the 128 MiB coverage sample, the bins and 32 MiB for the program), more than
/// 80% of what the limit leaves (at most 150 MiB). Streamed by itself or asked to stream, the run is refused before any work, with exit
/// status 2, a message naming the bound, and nothing written (it used to abort on an
/// allocation failure).
#[cfg(target_os = "linux")]
#[test]
fn a_streamed_run_that_does_not_fit_either_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let yuhang = scenario("yuhang-2023.toml");
    for extra in [&[][..], &["--streaming"][..]] {
        let out = tmp.path().join("refused");
        let args = [
            &[
                "run",
                yuhang.to_str().unwrap(),
                "--paths",
                "6000000",
                "--quiet",
                "--out",
                out.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat();
        let o = ipabs_under_ulimit(limit_kib(200), &args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains("6000000 paths need about")
                && stderr.contains("even as a streamed run")
                && stderr.contains("80% of the address space left under this process's limit (ulimit -v)")
                && stderr.contains("paths fit"),
            "{extra:?}: {stderr}"
        );
        assert!(!out.exists(), "{extra:?}: wrote {}", out.display());
    }
}

//! `ipabs stress`: grids on common random numbers. On the flagship, raising the PD multiplier
//! never lowers the senior expected loss, the senior P(loss) or the mean pool loss.

mod common;

use common::{ipabs_ok, ipabs_refused, read_json, root};

#[test]
fn flagship_metrics_never_fall_as_the_pd_multiplier_rises() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("pd.toml");
    std::fs::write(
        &grid,
        r#"
mode = "grid"
paths = 20000
metrics = ["tranches.senior.expected_loss", "tranches.senior.p_loss", "pool_loss.mean", "gross_default_loss.mean"]
[axes]
pd_multiplier = [1, 1.5, 2, 3, 5, 8, 12, 20]
"#,
    )
    .unwrap();
    let out = dir.path().join("report");
    let scenario = root().join("scenarios/yuhang-2023.toml");
    ipabs_ok(&[
        "stress",
        scenario.to_str().unwrap(),
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let json = read_json(&out.join("grid.json"));
    assert_eq!(json["common_random_numbers"], true);
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 8);
    for metric in [
        "tranches.senior.expected_loss",
        "tranches.senior.p_loss",
        "pool_loss.mean",
        "gross_default_loss.mean",
    ] {
        let values: Vec<f64> = points
            .iter()
            .map(|p| p["metrics"][metric]["value"].as_f64().unwrap())
            .collect();
        for w in values.windows(2) {
            assert!(
                w[1] >= w[0],
                "{metric} fell as the PD multiplier rose: {values:?}"
            );
        }
        assert!(values[7] > values[0], "{metric} does not respond: {values:?}");
    }
    let csv = std::fs::read_to_string(out.join("grid.csv")).unwrap();
    assert!(
        csv.starts_with("point,pd_multiplier,tranches.senior.expected_loss,tranches.senior.expected_loss_se")
    );
    assert_eq!(csv.lines().count(), 9);
}

#[test]
fn shipped_grids_run_and_draw_their_charts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = root().join("scenarios/yuhang-2023.toml");
    for (grid, chart) in [
        ("scenarios/stress/yuhang-2023.toml", "stress_heatmap"),
        ("scenarios/stress/yuhang-2023-oat.toml", "stress_tornado"),
    ] {
        let out = dir.path().join(chart);
        ipabs_ok(&[
            "stress",
            scenario.to_str().unwrap(),
            "--grid",
            root().join(grid).to_str().unwrap(),
            "--paths",
            "4096",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        for ext in ["png", "svg"] {
            let f = out.join(format!("{chart}.{ext}"));
            assert!(std::fs::metadata(&f).unwrap().len() > 1000, "{f:?}");
        }
    }
}

#[test]
fn a_bad_grid_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = root().join("scenarios/yuhang-2023.toml");
    for (text, needle) in [
        ("[axes]\npd_multiplier = [-1]\n", "axes.pd_multiplier"),
        ("[axes]\ncopula = [\"clayton\"]\n", "axes.copula"),
        ("[axes]\nvolatility = [1]\n", "volatility"),
        (
            "metrics = [\"no.such\"]\n[axes]\npd_multiplier = [1]\n",
            "no.such",
        ),
    ] {
        let grid = dir.path().join("bad.toml");
        std::fs::write(&grid, text).unwrap();
        let err = ipabs_refused(&[
            "stress",
            scenario.to_str().unwrap(),
            "--grid",
            grid.to_str().unwrap(),
            "--paths",
            "100",
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ]);
        assert!(err.contains(needle), "{text}: {err}");
    }
}

//! The report folder of `ipabs run`: charts (PNG and SVG) drawn with the embedded font only,
//! markers at the numbers of summary.json, the self-contained HTML memo and the Markdown memo,
//! templates, languages and fonts.

mod common;

use std::path::Path;

use ipabs::chart::{self, ChartKind, Labels, data::ChartData, figures};
use ipabs::model::Language;
use ipabs::plan::Plan;
use ipabs::report::summary::Summary;
use ipabs::runner;

use common::{data, ipabs_ok, ipabs_refused, num, root, run_summary};

const CHARTS: [&str; 9] = [
    "pool_loss",
    "loss_exceedance",
    "guarantor_exposure",
    "cap_exhaustion",
    "undertaker",
    "coupon_coverage",
    "tranche_loss",
    "default_count",
    "convergence",
];

/// Decodes a PNG: `(width, height, RGB or RGBA bytes, bytes per pixel)`.
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type.samples())
}

/// Share of pixels in rows `rows` that are dark (text, lines).
fn dark_share(png: &(u32, u32, Vec<u8>, usize), rows: std::ops::Range<u32>) -> f64 {
    let (w, _, buf, bpp) = png;
    let mut dark = 0usize;
    let mut all = 0usize;
    for y in rows {
        for x in 0..*w {
            let i = ((y * w + x) as usize) * bpp;
            all += 1;
            if buf[i] < 128 && buf[i + 1] < 128 && buf[i + 2] < 128 {
                dark += 1;
            }
        }
    }
    dark as f64 / all as f64
}

#[test]
fn run_writes_charts_and_memos_that_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("yuhang");
    let scenario = root().join("scenarios/yuhang-2023.toml");
    let summary = run_summary(&scenario, &out, &[]);
    for stem in CHARTS {
        let png = decode_png(&out.join(format!("{stem}.png")));
        assert_eq!(png.0, 2000, "{stem}: PNG at twice the memo width");
        assert!(png.1 >= 900, "{stem}: height {}", png.1);
        // The title (top 70 px) has text drawn with the embedded font: some dark pixels.
        let title = dark_share(&png, 0..70);
        assert!(title > 0.002, "{stem}: title area has no text ({title})");
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{stem}");
        assert!(
            svg.contains("scenario yuhang-2023 · 200,000 paths · seed 7"),
            "{stem}: footnote"
        );
    }
    let svg = |stem: &str| std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
    assert!(svg("pool_loss").contains("Pool loss distribution"));
    assert!(svg("pool_loss").contains("pool loss, CNY m"));
    assert!(svg("loss_exceedance").contains("95% confidence band"));
    assert!(svg("guarantor_exposure").contains("P(cap exhausted)"));
    assert!(svg("coupon_coverage").contains("coverage 1.0"));
    assert!(svg("default_count").contains("independent defaults (binomial)"));
    // The ES 99% marker's legend gives summary.json's number.
    let es = num(&summary, "pool_loss/es_0.99");
    let legend = format!("ES 99%: CNY {}", ipabs::report::table::grouped(es, 0));
    assert!(svg("pool_loss").contains(&legend), "{legend}");

    // summary.json gains the per-period coverage bands the fan chart draws.
    let bands = summary["coupon_coverage"]["per_period_quantiles"]
        .as_array()
        .unwrap();
    assert_eq!(bands.len(), 4);
    for b in bands {
        let q: Vec<f64> = ["0.05", "0.25", "0.5", "0.75", "0.95"]
            .iter()
            .map(|k| b[*k].as_f64().unwrap())
            .collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{q:?}");
    }

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg ").count(), CHARTS.len(), "every chart inline");
    assert!(
        !html.contains("<img") && !html.contains("src=") && !html.contains("<link"),
        "self-contained"
    );
    assert!(html.contains("@page { size: A4"));
    for fragment in [
        "Deal summary",
        "district guarantor",
        "CNY 133,000,000",
        "Key metrics",
        "Assumptions",
        "Manifest",
        "Beta(1, 5)",
        "± ",
    ] {
        assert!(html.contains(fragment), "report.html lacks {fragment:?}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for stem in CHARTS {
        assert!(
            md.contains(&format!("]({stem}.png)")),
            "report.md links {stem}.png"
        );
    }
    assert!(md.contains(&num(&summary, "manifest/seed").to_string()));
}

/// Runs `paths` paths of `path` and returns the summary and its chart data.
fn simulate(path: &Path, paths: u64) -> (Summary, ChartData) {
    let scenario = ipabs::scenario::load(path).unwrap();
    let plan = Plan::new(&scenario);
    let sim = runner::simulate(&plan, paths, scenario.simulation.seed, 1, &runner::Silent).unwrap();
    let data = ChartData::new(&scenario, &sim);
    (Summary::new(&scenario, sim, String::new(), 0.0), data)
}

#[test]
fn markers_sit_at_the_summary_numbers() {
    let (summary, data) = simulate(&data("stressed.toml"), 8000);
    let [mean, var, es] = figures::pool_loss_markers(&summary);
    let json: serde_json::Value = serde_json::from_slice(&summary.to_json()).unwrap();
    assert_eq!(mean, num(&json, "pool_loss/mean"));
    assert_eq!(var, num(&json, "pool_loss/quantiles/0.99"));
    assert_eq!(es, num(&json, "pool_loss/es_0.99"));
    // The histogram covers every path and the range of the samples (summary.json's `min` and
    // `max` may be snapped to a cent within 1e-12 of the samples').
    assert_eq!(data.pool_loss.counts.iter().sum::<u64>(), 8000);
    let (lo, hi) = (data.pool_loss.lo, data.pool_loss.hi);
    let (min, max) = (num(&json, "pool_loss/min"), num(&json, "pool_loss/max"));
    assert!(lo <= min + 1e-12 * min.abs().max(1.0), "lo {lo}, min {min}");
    assert!(hi >= max - 1e-12 * max.abs().max(1.0), "hi {hi}, max {max}");
    // The default-count distribution has every path; the independent pmf sums to one.
    assert_eq!(data.default_counts.iter().sum::<u64>(), 8000);
    assert!((data.independent.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // Exceedance at the VaR 99%: at most 1% of paths lie strictly above it.
    let above_var = data
        .pool_loss_exceedance
        .iter()
        .filter(|e| e.x >= var)
        .map(|e| e.p)
        .fold(0.0, f64::max);
    assert!(above_var <= 0.01 + 1e-12);
    // The convergence series ends at the summary's estimate and standard error (all paths;
    // summed in another order, so equal to rounding).
    let end = summary.convergence[0].points.last().unwrap();
    assert_eq!(summary.convergence[0].metric, "pool_loss.mean");
    assert_eq!(end.paths, 8000);
    assert!((end.estimate - summary.pool_loss.mean).abs() <= 1e-9 * summary.pool_loss.mean.abs());
    assert!((end.se - summary.pool_loss.se_mean).abs() <= 1e-9 * summary.pool_loss.se_mean);

    // Every chart renders with only the embedded font; the multi-tier deal has 5 panels.
    let labels = Labels::new(Language::En, &summary.currency);
    let figs = chart::render_all(&summary, &data, &labels).unwrap();
    assert_eq!(figs.len(), CHARTS.len());
    let g = figs
        .iter()
        .find(|f| f.kind == ChartKind::GuarantorExposure)
        .unwrap();
    for name in [
        "district guarantor",
        "lender",
        "municipal guarantor",
        "county fund",
        "platform",
    ] {
        assert!(g.svg.contains(name), "panel {name}");
    }
    assert!(
        g.svg.contains("its whole share passes to the next tier"),
        "zero-cap lender explained"
    );

    // The cap-exhaustion chart draws summary.json's P(cap exhausted by period k) for every
    // capped payer, ending at its P(cap exhausted); its legend gives that number.
    let payers = chart::cap_payers(&summary);
    let series = chart::exposure::cap_exhaustion_series(&payers);
    let capped = json["guarantors"]
        .as_array()
        .unwrap()
        .iter()
        .chain(json["undertaker"].as_object().map(|_| &json["undertaker"]))
        .filter(|g| !g["cap"].is_null())
        .count();
    assert_eq!(series.len(), capped);
    let c = figs.iter().find(|f| f.kind == ChartKind::CapExhaustion).unwrap();
    for (name, by) in &series {
        let g = json["guarantors"]
            .as_array()
            .unwrap()
            .iter()
            .chain(std::iter::once(&json["undertaker"]))
            .find(|g| g["name"] == *name)
            .unwrap();
        let want: Vec<f64> = g["exposure"]["p_cap_exhausted_by_period"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(by.to_vec(), want, "{name}");
        let last = *by.last().unwrap();
        assert_eq!(last, g["p_cap_exhausted"].as_f64().unwrap(), "{name}");
        let legend = format!("{name}: {} by the last period", chart::style::percent(last));
        assert!(c.svg.contains(&legend), "{legend}");
    }
    // The undertaker chart marks the capacities and the cap of summary.json.
    let u = &summary.undertaker.as_ref().unwrap();
    let (_, var, cap, c99, c999) =
        chart::exposure::undertaker_markers(u.exposure.as_ref().expect("plain run"), u.cap);
    assert_eq!(var, num(&json, "undertaker/exposure/var_0.99"));
    assert_eq!(c99, num(&json, "undertaker/exposure/capacity_0.99"));
    assert_eq!(c999, num(&json, "undertaker/exposure/capacity_0.999"));
    assert_eq!(cap, Some(num(&json, "undertaker/cap")));
    let us = &figs.iter().find(|f| f.kind == ChartKind::Undertaker).unwrap().svg;
    for (label, x) in [("cap for 99% of paths", c99), ("cap for 99.9% of paths", c999)] {
        let text = format!("{label}: CNY {}", ipabs::report::table::grouped(x, 0));
        assert!(us.contains(&text), "{text}");
    }
}

#[test]
fn a_deal_without_losses_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("safe.toml");
    std::fs::write(
        &scenario,
        r#"
[deal]
periods_per_year = 2
term_periods = 2
[simulation]
paths = 3000
seed = 1
[credit]
asset_correlation = 0.2
sectors = ["a"]
[[firms]]
id = "F1"
sector = "a"
principal = 1000000
rate = 0.05
annual_pd = 0.0
[[tiers]]
parties = [{ name = "fund", share = 1.0, cap = 100000 }]
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    run_summary(&scenario, &out, &[]);
    let svg = std::fs::read_to_string(out.join("pool_loss.svg")).unwrap();
    assert!(
        svg.contains("no loss (3,000 paths)"),
        "empty pool-loss chart explains itself"
    );
    let ex = std::fs::read_to_string(out.join("loss_exceedance.svg")).unwrap();
    assert!(ex.contains("no loss (3,000 paths)"));
    // No notes: no coverage or tranche chart, and the memo does not mention them.
    assert!(!out.join("coupon_coverage.png").exists());
    assert!(!out.join("tranche_loss.png").exists());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("coupon_coverage.png"));
    assert!(out.join("guarantor_exposure.svg").exists());
}

#[test]
fn templates_language_and_fonts() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("report.md.j2"),
        "custom memo for {{ scenario }}: pool loss mean {{ summary.pool_loss.mean }}\n",
    )
    .unwrap();
    let out = dir.path().join("zh");
    let scenario = data("hand-note.toml");
    let t = templates.to_str().unwrap();
    run_summary(
        &scenario,
        &out,
        &["--paths", "500", "--template", t, "--language", "zh"],
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.starts_with("custom memo for hand-note: pool loss mean"),
        "{md}"
    );
    // The HTML template was not overridden, and speaks Chinese.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("交易概要") && html.contains("lang=\"zh\""));
    let svg = std::fs::read_to_string(out.join("pool_loss.svg")).unwrap();
    assert!(svg.contains("资产池损失分布"), "Chinese chart title");
    let svg = std::fs::read_to_string(out.join("default_count.svg")).unwrap();
    assert!(svg.contains("期限内违约企业数"), "Chinese axis title");

    // A file that is not a font, a missing font and a broken template: exit 2, clear message.
    let not_font = dir.path().join("not-a-font.ttf");
    std::fs::write(&not_font, b"hello").unwrap();
    let bad_template = dir.path().join("bad");
    std::fs::create_dir_all(&bad_template).unwrap();
    std::fs::write(bad_template.join("report.html.j2"), "{% for x in %}").unwrap();
    let s = scenario.to_str().unwrap();
    let o_dir = dir.path().join("x");
    let o = o_dir.to_str().unwrap();
    for (args, expect) in [
        (
            vec!["--font", not_font.to_str().unwrap()],
            "is not a TrueType or OpenType font",
        ),
        (
            vec!["--font", "/nonexistent/font.ttf"],
            "cannot read the font file",
        ),
        (
            vec!["--template", bad_template.to_str().unwrap()],
            "report.html.j2",
        ),
        (vec!["--template", "/nonexistent/dir"], "not a folder"),
    ] {
        let mut all = vec!["run", s, "--paths", "100", "--out", o, "--quiet"];
        all.extend(args.iter().copied());
        let err = ipabs_refused(&all);
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    // The embedded font is a font: giving it explicitly works.
    let dejavu = dir.path().join("dejavu.ttf");
    std::fs::write(&dejavu, dejavu::sans::regular()).unwrap();
    ipabs_ok(&[
        "run",
        s,
        "--paths",
        "100",
        "--out",
        o,
        "--quiet",
        "--font",
        dejavu.to_str().unwrap(),
    ]);
}

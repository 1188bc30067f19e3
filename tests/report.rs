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
    assert_eq!(data.pool_loss.weights.iter().sum::<f64>(), 8000.0);
    let (lo, hi) = (data.pool_loss.lo, data.pool_loss.hi);
    let (min, max) = (num(&json, "pool_loss/min"), num(&json, "pool_loss/max"));
    assert!(lo <= min + 1e-12 * min.abs().max(1.0), "lo {lo}, min {min}");
    assert!(hi >= max - 1e-12 * max.abs().max(1.0), "hi {hi}, max {max}");
    // The default-count distribution has every path; the independent pmf sums to one.
    assert_eq!(data.default_weights.iter().sum::<f64>(), 8000.0);
    assert!((data.independent.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // Exceedance at the VaR 99%: at most 1% of paths lie strictly above it.
    assert!(exceedance_at_or_above(&data, var) <= 0.01 + 1e-12);
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

/// The tilt the cross-entropy pilot chooses for `metric` (on the pilot's own streams).
fn tilt_for(
    plan: &Plan,
    scenario: &ipabs::model::Scenario,
    metric: &str,
    seed: u64,
) -> ipabs::importance::Tilt {
    use ipabs::importance::{self, Pilot, Target};
    let target = Target::parse(metric, scenario).unwrap();
    let pilot = Pilot::new(seed, scenario.firms.len());
    importance::cross_entropy(plan, &target, &pilot, |b| runner::block_rng(pilot.seed, b)).tilt
}

/// `|a - b| <= 1e-12 max(|a|, |b|, 1e-300)`: equal up to summation order.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
}

#[test]
fn importance_sampled_charts_are_weighted_and_markers_sit_at_the_summary_numbers() {
    use runner::Column;
    let scenario = ipabs::scenario::load(&root().join("scenarios/yuhang-2023.toml")).unwrap();
    let plan = Plan::new(&scenario);
    let tilt = tilt_for(&plan, &scenario, "tranches.senior.p_loss", 7);
    let n = 16_384;
    let sim = runner::simulate_tilted(&plan, n, 7, 0, &runner::Silent, Some(&tilt)).unwrap();
    let data = ChartData::new(&scenario, &sim);
    let nf = n as f64;

    // Second method: the weighted probabilities of the runner (stats::weighted). The exceedance
    // curve is P(X > x) under the real distribution, inside its band.
    let pool = sim.layout.fixed(Column::PoolLoss);
    for e in &data.pool_loss_exceedance {
        let (p, se) = sim.probability(pool, |x| x > e.x);
        assert!(close(e.p, p), "P(pool loss > {}) = {} vs {p}", e.x, e.p);
        assert!(e.lo <= p && p <= e.hi, "band [{}, {}] around {p}", e.lo, e.hi);
        if p > 0.0 {
            let half = (e.hi / p).ln();
            assert!(
                e.hi == 1.0 || (half - ipabs::stats::Z_95 * se / p).abs() <= 1e-9 * half,
                "band from the weighted se: {half} vs {}",
                ipabs::stats::Z_95 * se / p
            );
        }
    }
    // The default-count bars: P(D = k) weighted, and not the tilted shares (the tilt moves the
    // paths into the loss tail, so the unweighted mean is far above the real one).
    let dcol = sim.layout.fixed(Column::Defaults);
    let mut tilted_mean = 0.0;
    for (k, w) in data.default_weights.iter().enumerate() {
        let (p, _) = sim.probability(dcol, |d| d as usize == k);
        assert!(close(w / nf, p), "P(D = {k})");
        tilted_mean += k as f64 * sim.samples(dcol).count_where(|d| d as usize == k) as f64 / nf;
    }
    let hist_mass = data.pool_loss.weights.iter().sum::<f64>() / nf;
    let payout_mass: Vec<f64> = data
        .payouts
        .iter()
        .map(|p| p.histogram.weights.iter().sum::<f64>() / nf)
        .collect();

    let summary = Summary::new(&scenario, sim, String::new(), 0.0);
    let json: serde_json::Value = serde_json::from_slice(&summary.to_json()).unwrap();
    // Markers at summary.json's (weighted) numbers.
    let [mean, var, es] = figures::pool_loss_markers(&summary);
    assert_eq!(mean, num(&json, "pool_loss/mean"));
    assert_eq!(var, num(&json, "pool_loss/quantiles/0.99"));
    assert_eq!(es, num(&json, "pool_loss/es_0.99"));
    // Every histogram holds the paths' whole weight: (1/n) sum w, summary.json's mean weight.
    let mean_weight = num(&json, "importance_sampling/mean_weight");
    assert!(close(hist_mass, mean_weight), "{hist_mass} vs {mean_weight}");
    for m in payout_mass {
        assert!(close(m, mean_weight));
    }
    // The bars' mean number of defaults is summary.json's weighted mean (the legend's number).
    let bars_mean: f64 = data
        .default_weights
        .iter()
        .enumerate()
        .map(|(k, w)| k as f64 * w)
        .sum::<f64>()
        / nf;
    let defaults_mean = num(&json, "defaults/mean");
    assert!(close(bars_mean, defaults_mean), "{bars_mean} vs {defaults_mean}");
    assert!(
        tilted_mean > 2.0 * defaults_mean,
        "the tilt moved the paths: {tilted_mean} vs {defaults_mean}"
    );
    // Weighted VaR: at most 1% of the (weighted) mass lies above it.
    assert!(exceedance_at_or_above(&data, var) <= 0.01 + 1e-12);

    // The charts render; their legends print summary.json's numbers. The exposure charts (cap
    // exhaustion, undertaker) are drawn exactly when summary.json has the exposure blocks.
    let labels = Labels::new(Language::En, &summary.currency);
    let figs = chart::render_all(&summary, &data, &labels).unwrap();
    let svg = |k: ChartKind| figs.iter().find(|f| f.kind == k).map(|f| f.svg.as_str());
    let money = |x: f64| format!("CNY {}", ipabs::report::table::grouped(x, 0));
    let pool_svg = svg(ChartKind::PoolLoss).unwrap();
    for (label, x) in [("VaR 99%", var), ("ES 99%", es)] {
        let text = format!("{label}: {}", money(x));
        assert!(pool_svg.contains(&text), "{text}");
    }
    let text = format!("mean {defaults_mean:.3}");
    assert!(svg(ChartKind::DefaultCount).unwrap().contains(&text), "{text}");
    let has_exposure = !json["undertaker"]["exposure"].is_null();
    assert_eq!(svg(ChartKind::Undertaker).is_some(), has_exposure);
    let end = summary.convergence[0].points.last().unwrap();
    assert!(
        close(end.estimate, summary.pool_loss.mean),
        "convergence ends at the weighted mean"
    );
}

#[test]
fn importance_sampled_histogram_matches_the_exact_one_factor_distribution() {
    use runner::Column;
    // 100 loans, pd 5%, rho 0.1, recovery 40%: the pool loss is 0.6m per default and its
    // exact distribution is the lattice of the analytic module. The tilt aims at the 99.9%
    // quantile, so the paths are drawn far into the tail; the weighted bars must still be the
    // real probabilities, within 4 weighted standard errors on every well-populated bin.
    let path = data("analytic/pool-100-gaussian.toml");
    let scenario = ipabs::scenario::load(&path).unwrap();
    let exact = ipabs::analytic::analyse(&scenario, &[], &ipabs::analytic::Settings::default()).unwrap();
    assert!(exact.pool_loss_is_gross);
    let plan = Plan::new(&scenario);
    let tilt = tilt_for(&plan, &scenario, "gross_default_loss.quantiles.0.999", 12);
    let n = 40_000;
    let sim = runner::simulate_tilted(&plan, n, 12, 0, &runner::Silent, Some(&tilt)).unwrap();
    let data = ChartData::new(&scenario, &sim);
    let h = &data.pool_loss;
    let bins = h.weights.len();
    let bin = |x: f64| (((x - h.lo) / h.width()) as usize).min(bins - 1);
    let mut exact_bins = vec![0.0; bins];
    for (j, p) in exact.gross.pmf.iter().enumerate() {
        exact_bins[bin(exact.gross.value(j))] += p;
    }
    let col = sim.layout.fixed(Column::PoolLoss);
    let samples = sim.samples(col);
    let (mut checked, mut tilted_off) = (0, 0);
    for (i, (&weight, &q)) in h.weights.iter().zip(&exact_bins).enumerate() {
        let paths = samples.count_where(|x| bin(x) == i);
        if paths < 400 {
            continue;
        }
        let (p, se) = sim.probability(col, |x| bin(x) == i);
        let bar = weight / n as f64;
        assert!(close(bar, p), "bin {i}: bar {bar} vs {p}");
        println!("bin {i}: {paths} paths, weighted {bar:.4e} ± {se:.1e}, exact {q:.4e}");
        assert!((bar - q).abs() <= 4.0 * se, "bin {i}: {bar} ± {se} vs exact {q}");
        checked += 1;
        // The unweighted (tilted) share would be far off.
        let share = paths as f64 / n as f64;
        if (share - q).abs() > 4.0 * (share * (1.0 - share) / n as f64).sqrt() {
            tilted_off += 1;
        }
    }
    assert!(checked >= 5, "well-populated bins: {checked}");
    assert!(
        tilted_off >= checked / 2,
        "the tilt moved the paths ({tilted_off} of {checked} bins)"
    );
}

#[test]
fn an_importance_sampled_memo_says_its_charts_are_weighted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("is");
    let flagship = root().join("scenarios/yuhang-2023.toml");
    let json = run_summary(
        &flagship,
        &out,
        &["--importance", "tranches.senior.p_loss", "--paths", "8192"],
    );
    assert!(json["importance_sampling"].is_object());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let note = "every chart shows the real distribution, each path weighted by its likelihood ratio";
    assert!(md.contains(note) && html.contains(note));
    // The exposure blocks are weighted, so the charts drawn from them are there too.
    assert!(json["undertaker"]["exposure"].is_object());
    for stem in ["cap_exhaustion", "undertaker"] {
        assert!(out.join(format!("{stem}.png")).exists(), "{stem}");
    }
    // The pool-loss markers print summary.json's weighted numbers.
    let svg = std::fs::read_to_string(out.join("pool_loss.svg")).unwrap();
    for (label, key) in [
        ("VaR 99%", "pool_loss/quantiles/0.99"),
        ("ES 99%", "pool_loss/es_0.99"),
    ] {
        let text = format!(
            "{label}: CNY {}",
            ipabs::report::table::grouped(num(&json, key), 0)
        );
        assert!(svg.contains(&text), "{text}");
    }
    // The histograms' axis says their shares are weighted.
    let axis = "weighted share of paths, % (log scale)";
    assert!(svg.contains(axis), "pool_loss.svg: {axis}");
    // A plain run's memo has no such note, and its axis no such word.
    let plain = std::fs::read_to_string(root().join("reports/yuhang-2023/report.md")).unwrap();
    assert!(!plain.contains(note));
    let plain_svg = std::fs::read_to_string(root().join("reports/yuhang-2023/pool_loss.svg")).unwrap();
    assert!(plain_svg.contains("share of paths, % (log scale)") && !plain_svg.contains(axis));
}

/// The largest exceedance probability the pool-loss curve draws at or beyond `x`.
fn exceedance_at_or_above(data: &ChartData, x: f64) -> f64 {
    data.pool_loss_exceedance
        .iter()
        .filter(|e| e.x >= x)
        .map(|e| e.p)
        .fold(0.0, f64::max)
}

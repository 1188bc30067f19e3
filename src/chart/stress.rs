//! Charts of `ipabs stress` and `ipabs exposure`: the heat map of a metric over two shock axes,
//! the tornado of one-at-a-time effects and a guarantor's Euler contributions by firm. Pure renderers returning PNG bytes and SVG text.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figures::{DrawError, frame};
use super::style::{GREY, LIGHT_GREY, Labels, Style, okabe_ito as oi};
use super::{ChartError, Drawing, render_drawing};
use crate::exposure::PartyExposure;
use crate::model::Language;
use crate::stress::grid::{Heat, Tornado};

/// A value as a cell or bar label: percentages for probabilities and fractions, else grouped.
fn value_label(metric: &str, x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let probability = metric.contains("p_") || metric.ends_with("_frac") || metric.contains("_frac.");
    if probability {
        format!("{:.3}%", 100.0 * x)
    } else if x.abs() >= 1e4 {
        format!("{:.3}m", x / 1e6)
    } else {
        format!("{x:.4}")
    }
}

/// The colour of a cell at `t` in `[0, 1]`: white to vermillion.
fn shade(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    let v = oi::VERMILLION;
    RGBColor(mix(255, v.0), mix(255, v.1), mix(255, v.2))
}

fn heat_draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    style: &Style,
    h: &Heat,
) -> Result<(), DrawError> {
    let title = match style.labels.language {
        Language::En => format!("Stress heat map: {}", h.metric),
        Language::Zh => format!("压力测试热力图：{}", h.metric),
    };
    let body = frame(root, style, &title)?;
    let (nx, ny) = (h.x_levels.len(), h.y_levels.len());
    let mut chart = ChartBuilder::on(&body)
        .margin(style.px(8.0))
        .x_label_area_size(style.px(46.0))
        .y_label_area_size(style.px(70.0))
        .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)?;
    let xl = h.x_levels.clone();
    let yl = h.y_levels.clone();
    chart
        .configure_mesh()
        .disable_mesh()
        .axis_style(GREY.stroke_width(style.px(1.0)))
        .x_labels(nx * 2 + 1)
        .y_labels(ny * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 1e-9 {
                xl.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            if (y - i as f64 - 0.5).abs() < 1e-9 {
                yl.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(h.x_axis.name())
        .y_desc(h.y_axis.name())
        .label_style(style.font(12.0))
        .axis_desc_style(style.font(13.0))
        .draw()?;
    let (lo, hi) = h
        .values
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    for (y, row) in h.values.iter().enumerate() {
        for (x, v) in row.iter().enumerate() {
            let (x0, y0) = (x as f64, y as f64);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y0), (x0 + 1.0, y0 + 1.0)],
                shade((v - lo) / span).filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y0), (x0 + 1.0, y0 + 1.0)],
                LIGHT_GREY.stroke_width(style.px(1.0)),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                value_label(&h.metric, *v),
                (x0 + 0.5, y0 + 0.5),
                style.font(12.0).pos(Pos::new(HPos::Center, VPos::Center)),
            )))?;
        }
    }
    Ok(())
}

fn tornado_draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    style: &Style,
    t: &Tornado,
) -> Result<(), DrawError> {
    let title = match style.labels.language {
        Language::En => format!("One-at-a-time stress effects: {}", t.metric),
        Language::Zh => format!("单因素压力影响：{}", t.metric),
    };
    let body = frame(root, style, &title)?;
    let n = t.bars.len().max(1);
    let lo = t.bars.iter().map(|b| b.low.1).fold(t.base, f64::min);
    let hi = t.bars.iter().map(|b| b.high.1).fold(t.base, f64::max);
    let pad = if hi > lo {
        0.15 * (hi - lo)
    } else {
        1e-9_f64.max(t.base.abs() * 0.1)
    };
    let names: Vec<String> = t.bars.iter().map(|b| b.axis.name().to_owned()).collect();
    let metric = t.metric.clone();
    let mut chart = ChartBuilder::on(&body)
        .margin(style.px(8.0))
        .x_label_area_size(style.px(46.0))
        .y_label_area_size(style.px(140.0))
        .build_cartesian_2d((lo - pad)..(hi + pad), 0.0..n as f64)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY.stroke_width(style.px(1.0)))
        .axis_style(GREY.stroke_width(style.px(1.0)))
        .x_labels(6)
        .y_labels(n * 2 + 1)
        .x_label_formatter(&|x| value_label(&metric, *x))
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            if (y - i as f64 - 0.5).abs() < 1e-9 && i < names.len() {
                names[names.len() - 1 - i].clone()
            } else {
                String::new()
            }
        })
        .x_desc(t.metric.as_str())
        .label_style(style.font(12.0))
        .axis_desc_style(style.font(13.0))
        .draw()?;
    for (i, b) in t.bars.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let (y0, y1) = (y + 0.2, y + 0.8);
        if b.low.1 < t.base {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(b.low.1, y0), (t.base, y1)],
                oi::BLUE.filled(),
            )))?;
        }
        if b.high.1 > t.base {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(t.base, y0), (b.high.1, y1)],
                oi::VERMILLION.filled(),
            )))?;
        }
        if b.low.1 < t.base {
            chart.draw_series(std::iter::once(Text::new(
                format!("{} ", b.low.0),
                (b.low.1, y + 0.5),
                style.font(11.0).pos(Pos::new(HPos::Right, VPos::Center)),
            )))?;
        }
        if b.high.1 > t.base {
            chart.draw_series(std::iter::once(Text::new(
                format!(" {}", b.high.0),
                (b.high.1, y + 0.5),
                style.font(11.0).pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
        }
    }
    chart.draw_series(LineSeries::new(
        [(t.base, 0.0), (t.base, n as f64)],
        oi::BLACK.stroke_width(style.px(1.5)),
    ))?;
    Ok(())
}

/// One panel of horizontal bars: `values` (millions) against `names`, top first.
fn hbars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    style: &Style,
    names: &[String],
    values: &[f64],
    desc: &str,
    colour: RGBColor,
) -> Result<(), DrawError> {
    let n = names.len().max(1);
    let hi = values.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.1;
    let labels = names.to_vec();
    let mut chart = ChartBuilder::on(area)
        .margin(style.px(8.0))
        .x_label_area_size(style.px(46.0))
        .y_label_area_size(style.px(80.0))
        .build_cartesian_2d(0.0..hi, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY.stroke_width(style.px(1.0)))
        .axis_style(GREY.stroke_width(style.px(1.0)))
        .x_labels(5)
        .y_labels(n * 2 + 1)
        .x_label_formatter(&|x| format!("{x:.2}"))
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            if (y - i as f64 - 0.5).abs() < 1e-9 && i < labels.len() {
                labels[labels.len() - 1 - i].clone()
            } else {
                String::new()
            }
        })
        .x_desc(desc)
        .label_style(style.font(12.0))
        .axis_desc_style(style.font(13.0))
        .draw()?;
    for (i, v) in values.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y + 0.2), (*v, y + 0.8)],
            colour.filled(),
        )))?;
    }
    Ok(())
}

fn contributions_draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    style: &Style,
    p: &PartyExposure,
) -> Result<(), DrawError> {
    let title = match style.labels.language {
        Language::En => format!(
            "T{} {}: Euler contributions by firm · P(called) {:.2}% · P(cap exhausted) {:.2}%",
            p.tier,
            p.name,
            100.0 * p.figures.p_called,
            100.0 * p.figures.p_cap_exhausted
        ),
        Language::Zh => format!(
            "第{}层 {}：各企业欧拉贡献 · 代偿概率 {:.2}% · 额度耗尽概率 {:.2}%",
            p.tier,
            p.name,
            100.0 * p.figures.p_called,
            100.0 * p.figures.p_cap_exhausted
        ),
    };
    let body = frame(root, style, &title)?;
    let mut c: Vec<_> = p.contributions.iter().collect();
    c.sort_by(|a, b| {
        b.es_99
            .total_cmp(&a.es_99)
            .then(b.expected_payout.total_cmp(&a.expected_payout))
    });
    c.truncate(15);
    let names: Vec<String> = c.iter().map(|f| f.firm.clone()).collect();
    let unit = &style.labels.money_unit;
    let halves = body.split_evenly((1, 2));
    let mean: Vec<f64> = c.iter().map(|f| f.expected_payout / 1e6).collect();
    let es: Vec<f64> = c.iter().map(|f| f.es_99 / 1e6).collect();
    let (d1, d2) = match style.labels.language {
        Language::En => (
            format!("contribution to expected payout ({unit})"),
            format!("contribution to ES 99% ({unit})"),
        ),
        Language::Zh => (
            format!("对预期代偿的贡献（{unit}）"),
            format!("对 ES 99% 的贡献（{unit}）"),
        ),
    };
    hbars(&halves[0], style, &names, &mean, &d1, oi::BLUE)?;
    hbars(&halves[1], style, &names, &es, &d2, oi::VERMILLION)?;
    Ok(())
}

/// A stress chart to render.
#[derive(Debug, Clone, Copy)]
pub enum StressChart<'a> {
    Heat(&'a Heat),
    Tornado(&'a Tornado),
    /// A guarantor party's Euler contributions by firm (the 15 largest by ES 99%).
    Contributions(&'a PartyExposure),
}

impl StressChart<'_> {
    /// The file stem.
    pub fn stem(self) -> &'static str {
        match self {
            StressChart::Heat(_) => "stress_heatmap",
            StressChart::Tornado(_) => "stress_tornado",
            StressChart::Contributions(_) => "exposure_party",
        }
    }
}

impl Drawing for StressChart<'_> {
    fn stem(&self) -> &'static str {
        StressChart::stem(*self)
    }

    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
        style: &Style,
    ) -> Result<(), DrawError> {
        match *self {
            StressChart::Heat(h) => heat_draw(root, style, h),
            StressChart::Tornado(t) => tornado_draw(root, style, t),
            StressChart::Contributions(p) => contributions_draw(root, style, p),
        }
    }
}

/// Renders a stress chart as (PNG, SVG).
///
/// # Errors
/// [`ChartError`] when drawing or encoding fails.
pub fn render(
    chart: StressChart<'_>,
    labels: &Labels,
    footnote: String,
) -> Result<(Vec<u8>, String), ChartError> {
    render_drawing(&chart, (900, 560), labels, footnote)
}

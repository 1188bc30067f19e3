//! One drawing function per chart, generic over the plotters backend, plus the few drawing
//! helpers they share (the frame with title and footnote, a log-scale histogram panel, a note
//! in an empty panel).
//!
//! Money axes are in millions of the scenario's currency; legends give exact amounts in whole
//! currency units with thousands separators; probabilities are percentages.

use plotters::coord::Shift;
use plotters::coord::combinators::LogCoord;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::{ChartData, Exceedance, Histogram, PayoutData, Z_95, smallest_positive};
use super::style::{GREY, LIGHT_GREY, Style, log_percent_tick, money_decimals, okabe_ito as oi, percent};
use crate::report::summary::{DistributionJson, Summary};
use crate::report::table::grouped;

/// A drawing failure, as text (plotters' errors are generic over the backend).
#[derive(Debug)]
pub struct DrawError(pub String);

impl<E: std::error::Error> From<E> for DrawError {
    fn from(e: E) -> Self {
        DrawError(e.to_string())
    }
}

/// The result of a drawing function.
pub type Drawn = Result<(), DrawError>;

/// Fills the background, writes the title at the top and the footnote at the bottom, and
/// returns the area between them.
pub fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, DrawError> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let foot_h = style.px(26.0);
    let (body, foot) = root.split_vertically(h.saturating_sub(foot_h));
    foot.draw(&Text::new(
        style.footnote.clone(),
        (style.ipx(12.0), (foot_h / 2) as i32),
        style
            .font(11.0)
            .color(&GREY)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    let body = body
        .margin(style.px(10.0), 0, 0, 0)
        .titled(title, style.font(19.0))?;
    let _ = w;
    Ok(body.margin(style.px(4.0), style.px(6.0), style.px(12.0), style.px(22.0)))
}

/// A chart with money (millions) across, from `x.0` to `x.1`, and a log percentage axis from
/// `floor` to 100% up, its mesh and axis titles `desc` drawn.
pub(crate) fn money_by_log_share<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    style: &Style,
    (lo, hi): (f64, f64),
    floor: f64,
    (x_desc, y_desc): (&str, &str),
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, LogCoord<f64>>>, DrawError> {
    let decimals = money_decimals(hi - lo);
    let mut chart = ChartBuilder::on(area)
        .margin(style.px(6.0))
        .x_label_area_size(style.px(46.0))
        .y_label_area_size(style.px(78.0))
        .build_cartesian_2d(lo..hi, (floor..100.0).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY.stroke_width(style.px(1.0)))
        .axis_style(GREY.stroke_width(style.px(1.0)))
        .x_labels(8)
        .y_labels(8)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(style.font(12.0))
        .axis_desc_style(style.font(13.0))
        .x_label_formatter(&|x| grouped(*x, decimals))
        .y_label_formatter(&|y| log_percent_tick(*y))
        .draw()?;
    Ok(chart)
}

/// A chart with the payment periods `1..=periods` across (whole periods labelled) and `lo..hi`
/// up, labelled by `y_label`, its mesh and axis titles (`period`, `y_desc`) drawn.
pub(crate) fn by_period<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    style: &Style,
    periods: usize,
    (lo, hi): (f64, f64),
    (y_desc, y_label_area): (&str, f64),
    y_label: &dyn Fn(&f64) -> String,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, DrawError> {
    let mut chart = ChartBuilder::on(area)
        .margin(style.px(6.0))
        .x_label_area_size(style.px(46.0))
        .y_label_area_size(style.px(y_label_area))
        .build_cartesian_2d(0.5..(periods as f64 + 0.5), lo..hi)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY.stroke_width(style.px(1.0)))
        .axis_style(GREY.stroke_width(style.px(1.0)))
        .x_labels(periods.min(24))
        .y_labels(8)
        .x_desc(style.labels.period)
        .y_desc(y_desc)
        .label_style(style.font(12.0))
        .axis_desc_style(style.font(13.0))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 && *x >= 1.0 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        })
        .y_label_formatter(y_label)
        .draw()?;
    Ok(chart)
}

/// Draws the legend of `chart` at `position`, in the one legend style of the charts.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    style: &Style,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .margin(style.px(8.0))
        .legend_area_size(style.px(28.0))
        .label_font(style.font(12.5))
        .background_style(WHITE.mix(0.92))
        .border_style(GREY.stroke_width(style.px(1.0)))
        .draw()?;
    Ok(())
}

/// Writes `note` in the middle of `area` (an empty distribution).
pub(crate) fn note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, style: &Style, note: &str) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Rectangle::new(
        [(0, 0), (w as i32 - 1, h as i32 - 1)],
        LIGHT_GREY.stroke_width(style.px(1.0)),
    ))?;
    for (i, line) in note.lines().enumerate() {
        area.draw(&Text::new(
            line.to_owned(),
            ((w / 2) as i32, (h / 2) as i32 + style.ipx(22.0) * i as i32),
            style
                .font(15.0)
                .color(&GREY)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// A vertical marker on a histogram: a line at `x` (money) with a legend label.
pub(crate) struct Marker {
    pub(crate) x: f64,
    pub(crate) label: String,
    pub(crate) colour: RGBColor,
    pub(crate) dashed: bool,
}

/// The smallest probability a log axis shows: an importance-sampled tail below it (far beyond
/// any deal's horizon of concern) sits on the floor rather than stretching the axis.
pub const SMALLEST_DRAWN_PROBABILITY: f64 = 1e-10;

/// The bottom of a log percent axis over `n` paths: `50 / n` (half of one path), or half the
/// `smallest` positive probability drawn when that is below one path's share (importance-
/// sampled paths weigh less than one path), so every bar and point stays on the chart — but
/// not below [`SMALLEST_DRAWN_PROBABILITY`].
pub(crate) fn log_percent_floor(n: u64, smallest: Option<f64>) -> f64 {
    let n = n.max(1) as f64;
    match smallest {
        Some(p) if p * n < 1.0 - 1e-9 => 50.0 * p.max(2.0 * SMALLEST_DRAWN_PROBABILITY),
        _ => 50.0 / n,
    }
}

/// A histogram of money amounts with a log-scale share-of-paths axis, vertical markers and a
/// legend; `caption` is a panel title (or empty), `empty` the note for a degenerate histogram.
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &Style,
    caption: &str,
    h: &Histogram,
    x_axis: &str,
    colour: RGBColor,
    markers: &[Marker],
    empty: &str,
) -> Drawn {
    let area = if caption.is_empty() {
        area.clone()
    } else {
        area.titled(caption, style.font(15.0))?
    };
    if h.is_degenerate() || h.n == 0 {
        return note(&area, style, empty);
    }
    let n = h.n as f64;
    let (lo, hi) = (h.lo / 1e6, h.hi / 1e6);
    let floor = log_percent_floor(h.n, h.smallest_probability());
    let mut chart = money_by_log_share(
        &area,
        style,
        (lo, hi),
        floor,
        (x_axis, style.labels.share_of_paths_log),
    )?;
    let width = h.width() / 1e6;
    chart.draw_series(
        h.weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(i, w)| {
                let x0 = lo + width * i as f64;
                let y = (100.0 * *w / n).max(floor);
                Rectangle::new([(x0, floor), (x0 + width, y)], colour.mix(0.75).filled())
            }),
    )?;
    for m in markers {
        let x = m.x / 1e6;
        let stroke = m.colour.stroke_width(style.px(2.5));
        let pts = vec![(x, floor), (x, 100.0)];
        let legend_colour = m.colour;
        let legend_w = style.px(2.5);
        let len = style.ipx(20.0);
        if m.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, style.px(7.0), style.px(5.0), stroke))?
                .label(m.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + len, y)], legend_colour.stroke_width(legend_w))
                });
        } else {
            chart
                .draw_series(LineSeries::new(pts, stroke))?
                .label(m.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + len, y)], legend_colour.stroke_width(legend_w))
                });
        }
    }
    if !markers.is_empty() {
        legend(&mut chart, style, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

/// `CNY 1,234,567` (or `1,234,567 元` in Chinese for CNY).
fn money_label(style: &Style, currency: &str, x: f64) -> String {
    let amount = grouped(x, 0);
    match style.labels.language {
        crate::model::Language::Zh if currency == "CNY" => format!("{amount} 元"),
        _ => format!("{currency} {amount}"),
    }
}

/// `label: CNY 1,234`.
fn labelled(style: &Style, currency: &str, label: &str, x: f64) -> String {
    format!("{label}: {}", money_label(style, currency, x))
}

fn quantile(d: &DistributionJson, q: &str) -> f64 {
    d.quantiles.get(q).copied().unwrap_or(0.0)
}

/// The note of an empty distribution: "no loss in 200,000 paths" or "every path: CNY 5".
fn empty_note(style: &Style, currency: &str, h: &Histogram, what_none: &str) -> String {
    if h.max == 0.0 {
        format!("{what_none} ({} {})", grouped(h.n as f64, 0), style.labels.paths)
    } else {
        format!("{} = {}", style.labels.mean, money_label(style, currency, h.max))
    }
}

/// Pool-loss histogram with the mean, VaR 99% and ES 99% of `summary.pool_loss` marked.
pub fn pool_loss<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    summary: &Summary,
    data: &ChartData,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.pool_loss_title)?;
    let cur = &summary.currency;
    let markers = pool_loss_markers(summary)
        .into_iter()
        .zip([l.mean, "VaR 99%", "ES 99%"])
        .zip([oi::BLACK, oi::ORANGE, oi::VERMILLION])
        .zip([false, true, true])
        .map(|(((x, label), colour), dashed)| Marker {
            x,
            label: labelled(style, cur, label, x),
            colour,
            dashed,
        })
        .collect::<Vec<_>>();
    log_histogram(
        &body,
        style,
        "",
        &data.pool_loss,
        &l.with_unit(l.pool_loss_axis, &l.money_unit),
        oi::BLUE,
        &markers,
        &empty_note(style, cur, &data.pool_loss, l.no_loss),
    )
}

/// The markers of the pool-loss histogram — the mean, VaR 99% and ES 99% — taken from the
/// summary, so they sit exactly at the reported numbers.
pub fn pool_loss_markers(summary: &Summary) -> [f64; 3] {
    let d = &summary.pool_loss;
    [d.mean, quantile(d, "0.99"), d.es_99]
}

/// Draws `curve` (with its band) on a log-probability chart.
fn exceedance_series<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    style: &Style,
    curve: &[Exceedance],
    floor: f64,
    colour: RGBColor,
    label: &str,
    band_label: Option<&str>,
) -> Drawn
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let pct = |p: f64| (100.0 * p).max(floor);
    let mut band: Vec<(f64, f64)> = curve.iter().map(|e| (e.x / 1e6, pct(e.hi))).collect();
    band.extend(curve.iter().rev().map(|e| (e.x / 1e6, pct(e.lo))));
    let fill = colour.mix(0.18).filled();
    let band_series = chart.draw_series(std::iter::once(Polygon::new(band, fill)))?;
    if let Some(b) = band_label {
        let size = style.ipx(8.0);
        band_series.label(b).legend(move |(x, y)| {
            Rectangle::new([(x, y - size), (x + 2 * size, y + size)], GREY.mix(0.25).filled())
        });
    }
    let line: Vec<(f64, f64)> = curve
        .iter()
        .filter(|e| 100.0 * e.p >= floor)
        .map(|e| (e.x / 1e6, pct(e.p)))
        .collect();
    let w = style.px(2.5);
    let len = style.ipx(20.0);
    chart
        .draw_series(LineSeries::new(line, colour.stroke_width(w)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + len, y)], colour.stroke_width(w)));
    Ok(())
}

/// Loss exceedance curves `P(loss > x)` of the gross default loss and of the pool loss, on a
/// log axis, each with its 95% (Wilson) confidence band.
pub fn exceedance<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    summary: &Summary,
    data: &ChartData,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.exceedance_title)?;
    let max = data
        .gross_loss_exceedance
        .iter()
        .chain(&data.pool_loss_exceedance)
        .map(|e| e.x)
        .fold(0.0_f64, f64::max);
    let min = data
        .gross_loss_exceedance
        .iter()
        .chain(&data.pool_loss_exceedance)
        .map(|e| e.x)
        .fold(0.0_f64, f64::min);
    if max <= min {
        let empty = format!("{} ({} {})", l.no_loss, grouped(summary.paths as f64, 0), l.paths);
        return note(&body, style, &empty);
    }
    let (lo, hi) = (min / 1e6, max / 1e6);
    let smallest = smallest_positive(
        data.gross_loss_exceedance
            .iter()
            .chain(&data.pool_loss_exceedance)
            .map(|e| e.p),
    );
    let floor = log_percent_floor(summary.paths, smallest);
    let x_axis = l.with_unit(l.exceedance_axis_x, &l.money_unit);
    let mut chart = money_by_log_share(&body, style, (lo, hi), floor, (&x_axis, l.exceedance_axis_y))?;
    exceedance_series(
        &mut chart,
        style,
        &data.gross_loss_exceedance,
        floor,
        oi::ORANGE,
        l.gross_loss,
        None,
    )?;
    exceedance_series(
        &mut chart,
        style,
        &data.pool_loss_exceedance,
        floor,
        oi::BLUE,
        l.pool_loss,
        Some(l.band_95),
    )?;
    legend(&mut chart, style, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// Number of panels of the guarantor chart: one per party, plus the undertaker.
pub fn guarantor_panels(summary: &Summary) -> usize {
    summary.guarantors.len() + usize::from(summary.undertaker.is_some())
}

/// Columns of the guarantor chart's panel grid.
pub fn guarantor_columns(panels: usize) -> usize {
    if panels <= 1 { 1 } else { 2 }
}

/// One panel of the guarantor chart.
#[allow(clippy::too_many_arguments)]
pub(crate) fn payout_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &Style,
    currency: &str,
    caption: &str,
    payout: &PayoutData,
    axis: &str,
    p_exhausted: (f64, f64),
    mean: f64,
) -> Drawn {
    let l = &style.labels;
    let p_text = format!(
        "{} {} ± {}",
        l.p_cap_exhausted,
        percent(p_exhausted.0),
        percent(p_exhausted.1)
    );
    let mut markers = vec![Marker {
        x: mean,
        label: labelled(style, currency, l.mean, mean),
        colour: oi::BLACK,
        dashed: false,
    }];
    let cap_text = match payout.cap {
        Some(c) if payout.cap_on_scale => {
            markers.push(Marker {
                x: c,
                label: format!("{}: {}; {p_text}", l.cap, money_label(style, currency, c)),
                colour: oi::VERMILLION,
                dashed: true,
            });
            None
        }
        Some(c) if c <= 0.0 => Some(l.zero_cap.to_owned()),
        Some(c) => Some(format!(
            "{}: {} ({}); {p_text}",
            l.cap,
            money_label(style, currency, c),
            l.off_scale
        )),
        None => Some(l.no_cap.to_owned()),
    };
    let h = &payout.histogram;
    let empty = match &cap_text {
        Some(t) if h.max == 0.0 => format!("{}\n{t}", l.never_pays),
        None if h.max == 0.0 => format!("{}\n{p_text}", l.never_pays),
        _ => empty_note(style, currency, h, l.never_pays),
    };
    if let Some(t) = cap_text
        && h.max > 0.0
    {
        // Not drawable as a line: say it in the legend with an invisible marker.
        markers.push(Marker {
            x: mean,
            label: t,
            colour: RGBColor(255, 255, 255),
            dashed: false,
        });
    }
    log_histogram(
        area,
        style,
        caption,
        h,
        &l.with_unit(axis, &l.money_unit),
        oi::BLUISH_GREEN,
        &markers,
        &empty,
    )
}

/// Guarantor exposure: each party's payout distribution with its cap and P(cap exhausted),
/// and the undertaker's draw likewise.
pub fn guarantors<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    summary: &Summary,
    data: &ChartData,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.guarantors_title)?;
    let panels = guarantor_panels(summary);
    let cols = guarantor_columns(panels);
    let rows = panels.div_ceil(cols);
    let areas = body.split_evenly((rows, cols));
    let cur = &summary.currency;
    for ((g, payout), area) in summary.guarantors.iter().zip(&data.payouts).zip(&areas) {
        let caption = format!(
            "{}: {} ({}%)",
            l.tier_label(g.tier),
            g.name,
            grouped(100.0 * g.share, 0)
        );
        payout_panel(
            area,
            style,
            cur,
            &caption,
            payout,
            l.payout_axis,
            (g.p_cap_exhausted, g.p_cap_exhausted_se),
            g.payout.mean,
        )?;
    }
    if let (Some(u), Some(payout)) = (&summary.undertaker, &data.undertaker)
        && let Some(area) = areas.get(summary.guarantors.len())
    {
        let caption = format!("{}: {}", l.undertaker, u.name);
        payout_panel(
            area,
            style,
            cur,
            &caption,
            payout,
            l.draw_axis,
            (u.p_cap_exhausted, u.p_cap_exhausted_se),
            summary.undertaker_draw.mean,
        )?;
    }
    Ok(())
}

/// Coupon coverage fan chart: the 5–95% and 25–75% bands and the median of each period's
/// coverage, with the 1.0 line. Periods whose ratios run far above the rest (e.g. the period
/// principal is collected) are clipped at the top and their median is written there.
pub fn coverage<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    summary: &Summary,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.coverage_title)?;
    let Some(c) = &summary.coupon_coverage else {
        return note(&body, style, "—");
    };
    let bands = &c.per_period_quantiles;
    let q = |k: usize, level: &str| bands[k].get(level).copied().flatten();
    let periods = bands.len();
    let medians: Vec<f64> = (0..periods).filter_map(|k| q(k, "0.5")).collect();
    if medians.is_empty() {
        return note(&body, style, "—");
    }
    let mut sorted = medians.clone();
    sorted.sort_unstable_by(f64::total_cmp);
    let typical = sorted[sorted.len() / 2];
    let clip = (3.0 * typical.max(1.0)).max(2.0);
    let finite_max = (0..periods)
        .filter_map(|k| q(k, "0.95"))
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max);
    let top = finite_max.min(clip).max(1.2) * 1.08;
    let bottom = (0..periods)
        .filter_map(|k| q(k, "0.05"))
        .fold(1.0_f64, f64::min)
        .clamp(-1.0, 0.8);
    let bottom = if bottom >= 0.0 { 0.0 } else { bottom * 1.1 };
    let clamp = |v: f64| v.clamp(bottom, top);

    let mut chart = by_period(
        &body,
        style,
        periods,
        (bottom, top),
        (l.coverage_axis, 64.0),
        &|y| format!("{y:.2}"),
    )?;

    let xs: Vec<usize> = (0..periods).filter(|&k| q(k, "0.5").is_some()).collect();
    let band = |lo: &str, hi: &str| -> Vec<(f64, f64)> {
        let mut pts: Vec<(f64, f64)> = xs
            .iter()
            .map(|&k| ((k + 1) as f64, clamp(q(k, hi).unwrap_or(f64::INFINITY))))
            .collect();
        pts.extend(
            xs.iter()
                .rev()
                .map(|&k| ((k + 1) as f64, clamp(q(k, lo).unwrap_or(f64::INFINITY)))),
        );
        pts
    };
    let size = style.ipx(8.0);
    for (lo, hi, alpha, label) in [
        ("0.05", "0.95", 0.22, l.band_outer),
        ("0.25", "0.75", 0.45, l.band_inner),
    ] {
        chart
            .draw_series(std::iter::once(Polygon::new(
                band(lo, hi),
                oi::SKY_BLUE.mix(alpha).filled(),
            )))?
            .label(label)
            .legend(move |(x, y)| {
                Rectangle::new(
                    [(x, y - size), (x + 2 * size, y + size)],
                    oi::SKY_BLUE.mix(alpha).filled(),
                )
            });
    }
    let w = style.px(2.5);
    let len = style.ipx(20.0);
    let median: Vec<(f64, f64)> = xs
        .iter()
        .map(|&k| ((k + 1) as f64, clamp(q(k, "0.5").unwrap_or(f64::INFINITY))))
        .collect();
    chart
        .draw_series(LineSeries::new(median.clone(), oi::BLUE.stroke_width(w)))?
        .label(l.median)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + len, y)], oi::BLUE.stroke_width(w)));
    chart.draw_series(
        median
            .iter()
            .map(|&(x, y)| Circle::new((x, y), style.px(4.0), oi::BLUE.filled())),
    )?;
    chart
        .draw_series(DashedLineSeries::new(
            vec![(0.5, 1.0), (periods as f64 + 0.5, 1.0)],
            style.px(8.0),
            style.px(5.0),
            oi::VERMILLION.stroke_width(style.px(2.0)),
        ))?
        .label(l.coverage_one)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + len, y)], oi::VERMILLION.stroke_width(w)));
    // Median values written beside each point (at the top, with an arrow, when clipped).
    for &k in &xs {
        let m = q(k, "0.5").unwrap_or(f64::INFINITY);
        let text = if m.is_finite() {
            format!("{m:.2}")
        } else {
            "∞".to_owned()
        };
        let clipped = m > top;
        let text = if clipped { format!("↑ {text}") } else { text };
        let (dx, dy, anchor) = if clipped {
            (style.ipx(-10.0), style.ipx(6.0), Pos::new(HPos::Right, VPos::Top))
        } else {
            (0, style.ipx(-10.0), Pos::new(HPos::Center, VPos::Bottom))
        };
        let label = EmptyElement::at(((k + 1) as f64, clamp(m)))
            + Text::new(text, (dx, dy), style.font(12.0).color(&oi::BLUE).pos(anchor));
        chart.draw_series(std::iter::once(label))?;
    }
    legend(&mut chart, style, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}

/// One bar chart with error bars over the tranches: `values[j] = (estimate, standard error)`.
fn bars_with_errors<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &Style,
    names: &[String],
    values: &[(f64, f64)],
    y_axis: &str,
    colour: RGBColor,
    empty: &str,
) -> Drawn {
    let top = values.iter().map(|(v, se)| v + Z_95 * se).fold(0.0_f64, f64::max);
    if top <= 0.0 {
        let area = area.titled(y_axis, style.font(13.0))?;
        return note(&area, style, empty);
    }
    let top = top * 1.15;
    let n = names.len();
    let mut chart = ChartBuilder::on(area)
        .margin(style.px(6.0))
        .x_label_area_size(style.px(40.0))
        .y_label_area_size(style.px(70.0))
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top)?;
    let decimals = if top >= 10.0 {
        1
    } else if top >= 1.0 {
        2
    } else {
        4
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY.stroke_width(style.px(1.0)))
        .axis_style(GREY.stroke_width(style.px(1.0)))
        .x_labels(n)
        .y_labels(8)
        .y_desc(y_axis)
        .label_style(style.font(12.0))
        .axis_desc_style(style.font(13.0))
        .x_label_formatter(&|x| {
            let j = x.round();
            if (x - j).abs() < 1e-9 && j >= 0.0 && (j as usize) < n {
                names[j as usize].clone()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| grouped(*y, decimals))
        .draw()?;
    chart.draw_series(values.iter().enumerate().map(|(j, (v, _))| {
        let x = j as f64;
        Rectangle::new([(x - 0.3, 0.0), (x + 0.3, *v)], colour.mix(0.8).filled())
    }))?;
    // Error bars: a whisker from v - 1.96 se to v + 1.96 se with caps.
    let stroke = oi::BLACK.stroke_width(style.px(2.0));
    for (j, (v, se)) in values.iter().enumerate() {
        let x = j as f64;
        let (lo, hi) = ((v - Z_95 * se).max(0.0), v + Z_95 * se);
        chart.draw_series([
            PathElement::new(vec![(x, lo), (x, hi)], stroke),
            PathElement::new(vec![(x - 0.08, lo), (x + 0.08, lo)], stroke),
            PathElement::new(vec![(x - 0.08, hi), (x + 0.08, hi)], stroke),
        ])?;
    }
    Ok(())
}

/// Tranche expected loss (bp of notional) and P(loss) (%), with ±1.96 standard-error bars.
pub fn tranches<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    summary: &Summary,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.tranches_title)?;
    let (plots, foot) = {
        let (_, h) = body.dim_in_pixel();
        body.split_vertically(h.saturating_sub(style.px(22.0)))
    };
    foot.draw(&Text::new(
        l.error_bars.to_owned(),
        (style.ipx(8.0), style.ipx(6.0)),
        style.font(12.0).color(&GREY).pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    let halves = plots.split_evenly((1, 2));
    let names: Vec<String> = summary.tranches.iter().map(|t| t.name.clone()).collect();
    let el: Vec<(f64, f64)> = summary
        .tranches
        .iter()
        .map(|t| (1e4 * t.expected_loss_frac, 1e4 * t.expected_loss_se / t.notional))
        .collect();
    let pl: Vec<(f64, f64)> = summary
        .tranches
        .iter()
        .map(|t| (100.0 * t.p_loss, 100.0 * t.p_loss_se))
        .collect();
    let empty = format!("{} ({} {})", l.no_loss, grouped(summary.paths as f64, 0), l.paths);
    bars_with_errors(
        &halves[0],
        style,
        &names,
        &el,
        l.expected_loss_axis,
        oi::VERMILLION,
        &empty,
    )?;
    bars_with_errors(&halves[1], style, &names, &pl, l.p_loss_axis, oi::BLUE, &empty)?;
    Ok(())
}

/// The default-count distribution of the simulation against the independent-defaults
/// (Poisson-)binomial, on a log axis: correlation fattens the right tail.
pub fn defaults<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    summary: &Summary,
    data: &ChartData,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.defaults_title)?;
    let n = data.paths.max(1) as f64;
    let floor = log_percent_floor(
        data.paths,
        smallest_positive(data.default_weights.iter().map(|w| w / n)),
    );
    let shown = |w: f64| w > 0.0 && 100.0 * w / n >= floor;
    let last_sim = data.default_weights.iter().rposition(|&w| shown(w)).unwrap_or(0);
    let last_ind = data
        .independent
        .iter()
        .rposition(|&p| 100.0 * p >= floor)
        .unwrap_or(0);
    let kmax = last_sim.max(last_ind).max(1) + 1;
    let mut chart = ChartBuilder::on(&body)
        .margin(style.px(6.0))
        .x_label_area_size(style.px(46.0))
        .y_label_area_size(style.px(78.0))
        .build_cartesian_2d(-0.5..(kmax as f64 + 0.5), (floor..100.0).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(LIGHT_GREY.stroke_width(style.px(1.0)))
        .axis_style(GREY.stroke_width(style.px(1.0)))
        .x_labels(kmax.min(20) + 1)
        .y_labels(8)
        .x_desc(l.defaults_axis)
        .y_desc(l.share_of_paths_log)
        .label_style(style.font(12.0))
        .axis_desc_style(style.font(13.0))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 && *x >= 0.0 {
                grouped(x.round(), 0)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| log_percent_tick(*y))
        .draw()?;
    let size = style.ipx(8.0);
    chart
        .draw_series(
            data.default_weights
                .iter()
                .enumerate()
                .take(kmax + 1)
                .filter(|(_, w)| shown(**w))
                .map(|(k, w)| {
                    let x = k as f64;
                    Rectangle::new(
                        [(x - 0.38, floor), (x + 0.38, 100.0 * *w / n)],
                        oi::SKY_BLUE.mix(0.85).filled(),
                    )
                }),
        )?
        .label(format!(
            "{}: {} {:.3}",
            l.simulated, l.mean, summary.defaults.mean
        ))
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - size), (x + 2 * size, y + size)], oi::SKY_BLUE.filled())
        });
    let ind: Vec<(f64, f64)> = data
        .independent
        .iter()
        .enumerate()
        .take(kmax + 1)
        .filter(|(_, p)| 100.0 * **p >= floor)
        .map(|(k, p)| (k as f64, 100.0 * p))
        .collect();
    let ind_mean: f64 = data
        .independent
        .iter()
        .enumerate()
        .map(|(k, p)| k as f64 * p)
        .sum();
    let w = style.px(2.0);
    chart
        .draw_series(LineSeries::new(ind.clone(), oi::VERMILLION.stroke_width(w)))?
        .label(format!("{}: {} {:.3}", l.independent, l.mean, ind_mean))
        .legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 2 * size, y)], oi::VERMILLION.stroke_width(w))
        });
    chart.draw_series(
        ind.iter()
            .map(|&(x, y)| Circle::new((x, y), style.px(4.0), oi::VERMILLION.filled())),
    )?;
    legend(&mut chart, style, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// Running estimates against paths (log axis) with their 95% confidence intervals, one panel per
/// metric of `summary.convergence`; the final estimate is drawn as a dashed line.
pub fn convergence<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    summary: &Summary,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.convergence_title)?;
    let series = &summary.convergence;
    let rows = series.len().div_ceil(2).max(1);
    let panels = body.split_evenly((rows, 2));
    for (panel, s) in panels.iter().zip(series) {
        let points = &s.points;
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        let x0 = first.paths as f64;
        let x1 = (last.paths as f64).max(x0 * 2.0);
        let lo = points.iter().map(|p| p.ci_95[0]).fold(f64::INFINITY, f64::min) / 1e6;
        let hi = points
            .iter()
            .map(|p| p.ci_95[1])
            .fold(f64::NEG_INFINITY, f64::max)
            / 1e6;
        let pad = ((hi - lo) * 0.08).max(hi.abs() * 1e-3).max(1e-9);
        let (lo, hi) = (lo - pad, hi + pad);
        let decimals = money_decimals(hi - lo) + 1;
        let mut chart = ChartBuilder::on(panel)
            .caption(&s.metric, style.font(13.5))
            .margin(style.px(8.0))
            .x_label_area_size(style.px(40.0))
            .y_label_area_size(style.px(70.0))
            .build_cartesian_2d((x0..x1).log_scale(), lo..hi)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(LIGHT_GREY.stroke_width(style.px(1.0)))
            .axis_style(GREY.stroke_width(style.px(1.0)))
            .x_labels(6)
            .y_labels(6)
            .x_desc(l.convergence_axis_x)
            .y_desc(l.money_unit.as_str())
            .label_style(style.font(11.0))
            .axis_desc_style(style.font(12.0))
            .x_label_formatter(&|x| grouped(*x, 0))
            .y_label_formatter(&|y| grouped(*y, decimals))
            .draw()?;
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.paths as f64, p.ci_95[1] / 1e6))
            .chain(points.iter().rev().map(|p| (p.paths as f64, p.ci_95[0] / 1e6)))
            .collect();
        chart
            .draw_series([Polygon::new(band, oi::SKY_BLUE.mix(0.35).filled())])?
            .label(l.band_95)
            .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], oi::SKY_BLUE.mix(0.35).filled()));
        let line = oi::BLUE.stroke_width(style.px(2.0));
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.paths as f64, p.estimate / 1e6)),
                line,
            ))?
            .label(l.estimate)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], line));
        let fin = last.estimate / 1e6;
        let dash = oi::VERMILLION.stroke_width(style.px(1.5));
        chart
            .draw_series(DashedLineSeries::new(
                [(x0, fin), (x1, fin)],
                style.ipx(6.0).max(1) as u32,
                style.ipx(4.0).max(1) as u32,
                dash,
            ))?
            .label(l.final_estimate)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], dash));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .margin(style.px(6.0))
            .label_font(style.font(10.5))
            .background_style(WHITE.mix(0.9))
            .border_style(GREY.stroke_width(style.px(1.0)))
            .draw()?;
    }
    Ok(())
}

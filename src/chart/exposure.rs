//! The exposure charts of a run and of `ipabs exposure`: when caps run out, and the
//! undertaker's draws against its cap. Drawn from [`PayerFigures`] (what `summary.json` and
//! `exposure.json` report) and, for the undertaker's distribution, its per-path draws.
//!
//! - `cap_exhaustion`: per payer with a cap, `P(cap exhausted by the end of period k)` against
//!   `k` (the running sum of `p_cap_exhausted_in_period`); its last point is `p_cap_exhausted`.
//! - `undertaker`: the histogram of the undertaker's draws (log share of paths) with the mean,
//!   its cap and P(cap exhausted), and `P(draw > x)` with VaR 99%, the cap and the capacities
//!   that would have covered 99% and 99.9% of paths.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::{Exceedance, PayoutData, smallest_positive};
use super::figures::{
    DrawError, Drawn, by_period, frame, legend, log_percent_floor, money_by_log_share, note, payout_panel,
};
use super::style::{Style, okabe_ito as oi, percent};
use super::{ChartError, Drawing, Labels, render_drawing};
use crate::exposure::PayerFigures;
use crate::report::table::grouped;

/// One payer on the cap-exhaustion chart.
#[derive(Debug, Clone, Copy)]
pub struct CapPayer<'a> {
    pub name: &'a str,
    /// `None`: unlimited (not drawn: its cap cannot run out).
    pub cap: Option<f64>,
    pub figures: &'a PayerFigures,
}

/// The undertaker's chart inputs.
#[derive(Debug, Clone, Copy)]
pub struct UndertakerView<'a> {
    pub name: &'a str,
    pub currency: &'a str,
    pub figures: &'a PayerFigures,
    pub draws: &'a PayoutData,
    pub exceedance: &'a [Exceedance],
    pub paths: u64,
}

/// The series of the cap-exhaustion chart: each payer with a cap, its name and
/// `P(cap exhausted by the end of period k)` for `k = 1..T`, taken from the figures.
pub fn cap_exhaustion_series<'a>(payers: &[CapPayer<'a>]) -> Vec<(&'a str, &'a [f64])> {
    payers
        .iter()
        .filter(|p| p.cap.is_some())
        .map(|p| (p.name, p.figures.p_cap_exhausted_by_period.as_slice()))
        .collect()
}

/// The markers of the undertaker chart, from its figures: mean (left panel), VaR 99%, cap (if
/// any), capacity for 99% and for 99.9% of paths (right panel).
pub fn undertaker_markers(f: &PayerFigures, cap: Option<f64>) -> (f64, f64, Option<f64>, f64, f64) {
    (f.expected_payout, f.var_99, cap, f.capacity_99, f.capacity_999)
}

const PALETTE: [RGBColor; 6] = [
    oi::BLUE,
    oi::VERMILLION,
    oi::BLUISH_GREEN,
    oi::ORANGE,
    oi::REDDISH_PURPLE,
    oi::SKY_BLUE,
];

fn cap_exhaustion_draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    payers: &[CapPayer<'_>],
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.cap_exhaustion_title)?;
    let series = cap_exhaustion_series(payers);
    let periods = series.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    let top = series
        .iter()
        .flat_map(|(_, s)| s.iter())
        .fold(0.0_f64, |a, &p| a.max(100.0 * p));
    if periods == 0 || top <= 0.0 {
        return note(&body, style, l.no_cap_runs_out);
    }
    let top = top * 1.2;
    let decimals = if top >= 10.0 {
        0
    } else if top >= 1.0 {
        1
    } else if top >= 0.1 {
        2
    } else {
        3
    };
    let mut chart = by_period(
        &body,
        style,
        periods,
        (0.0, top),
        (l.cap_exhaustion_axis, 70.0),
        &|y| format!("{}%", grouped(*y, decimals)),
    )?;
    let w = style.px(2.5);
    let len = style.ipx(20.0);
    for (i, (name, by)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = by
            .iter()
            .enumerate()
            .map(|(k, p)| ((k + 1) as f64, 100.0 * p))
            .collect();
        let last = by.last().copied().unwrap_or(0.0);
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(w)))?
            .label(format!("{name}: {} {}", percent(last), l.by_last_period))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + len, y)], colour.stroke_width(w)));
        chart.draw_series(
            pts.iter()
                .map(|&(x, y)| Circle::new((x, y), style.px(4.0), colour.filled())),
        )?;
    }
    legend(&mut chart, style, SeriesLabelPosition::UpperLeft)
}

/// `CNY 1,234,567` (`1,234,567 元` in Chinese for CNY).
fn money(style: &Style, currency: &str, x: f64) -> String {
    let amount = grouped(x, 0);
    match style.labels.language {
        crate::model::Language::Zh if currency == "CNY" => format!("{amount} 元"),
        _ => format!("{currency} {amount}"),
    }
}

fn undertaker_draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    style: &Style,
    u: &UndertakerView<'_>,
) -> Drawn {
    let l = &style.labels;
    let body = frame(root, style, l.undertaker_title)?;
    let halves = body.split_evenly((1, 2));
    let f = u.figures;
    let (mean, var_99, cap, cap_99, cap_999) = undertaker_markers(f, u.draws.cap);
    payout_panel(
        &halves[0],
        style,
        u.currency,
        u.name,
        u.draws,
        l.draw_axis,
        (f.p_cap_exhausted, f.p_cap_exhausted_se),
        mean,
    )?;
    let p_text = format!(
        "{} {} ± {}",
        l.p_cap_exhausted,
        percent(f.p_cap_exhausted),
        percent(f.p_cap_exhausted_se)
    );
    let empty = format!("{}\n{p_text}", l.never_pays);

    // P(draw > x) with the cap and the capacities.
    let area = halves[1].titled(l.draw_exceedance, style.font(15.0))?;
    let hi = u
        .exceedance
        .iter()
        .map(|e| e.x)
        .chain([cap_999, cap.unwrap_or(0.0)])
        .fold(0.0_f64, f64::max);
    if hi <= 0.0 || u.exceedance.iter().all(|e| e.p == 0.0) {
        return note(&area, style, &empty);
    }
    let floor = log_percent_floor(u.paths, smallest_positive(u.exceedance.iter().map(|e| e.p)));
    let x_axis = l.with_unit(l.draw_axis, &l.money_unit);
    let mut chart = money_by_log_share(
        &area,
        style,
        (0.0, hi * 1.04 / 1e6),
        floor,
        (&x_axis, l.draw_exceedance_axis),
    )?;
    let line: Vec<(f64, f64)> = u
        .exceedance
        .iter()
        .filter(|e| 100.0 * e.p >= floor)
        .map(|e| (e.x / 1e6, (100.0 * e.p).max(floor)))
        .collect();
    let w = style.px(2.5);
    let len = style.ipx(20.0);
    chart
        .draw_series(LineSeries::new(line, oi::BLUISH_GREEN.stroke_width(w)))?
        .label(l.draw_exceedance_axis)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + len, y)], oi::BLUISH_GREEN.stroke_width(w)));
    let mut verticals = vec![
        (
            var_99,
            format!("VaR 99%: {}", money(style, u.currency, var_99)),
            oi::ORANGE,
        ),
        (
            cap_99,
            format!("{}: {}", l.cap_for_99, money(style, u.currency, cap_99)),
            oi::BLUE,
        ),
        (
            cap_999,
            format!("{}: {}", l.cap_for_999, money(style, u.currency, cap_999)),
            oi::REDDISH_PURPLE,
        ),
    ];
    if let Some(c) = cap {
        verticals.push((
            c,
            format!("{}: {}; {p_text}", l.cap, money(style, u.currency, c)),
            oi::VERMILLION,
        ));
    }
    for (x, label, colour) in verticals {
        let stroke = colour.stroke_width(w);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x / 1e6, floor), (x / 1e6, 100.0)],
                style.px(7.0),
                style.px(5.0),
                stroke,
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + len, y)], colour.stroke_width(w)));
    }
    legend(&mut chart, style, SeriesLabelPosition::UpperRight)
}

/// An exposure chart to draw.
#[derive(Debug, Clone, Copy)]
pub enum ExposureChart<'a> {
    CapExhaustion(&'a [CapPayer<'a>]),
    Undertaker(UndertakerView<'a>),
}

impl ExposureChart<'_> {
    /// The file stem.
    pub fn stem(self) -> &'static str {
        match self {
            ExposureChart::CapExhaustion(_) => "cap_exhaustion",
            ExposureChart::Undertaker(_) => "undertaker",
        }
    }

    /// Size at memo scale.
    pub fn size(self) -> (u32, u32) {
        match self {
            ExposureChart::CapExhaustion(_) => (1000, 520),
            ExposureChart::Undertaker(_) => (1000, 560),
        }
    }
}

impl Drawing for ExposureChart<'_> {
    fn stem(&self) -> &'static str {
        ExposureChart::stem(*self)
    }

    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        style: &Style,
    ) -> Result<(), DrawError> {
        match self {
            ExposureChart::CapExhaustion(p) => cap_exhaustion_draw(root, style, p),
            ExposureChart::Undertaker(u) => undertaker_draw(root, style, u),
        }
    }
}

/// Renders an exposure chart as (PNG, SVG).
///
/// # Errors
/// [`ChartError`] when drawing or encoding fails.
pub fn render(
    chart: ExposureChart<'_>,
    labels: &Labels,
    footnote: String,
) -> Result<(Vec<u8>, String), ChartError> {
    render_drawing(&chart, chart.size(), labels, footnote)
}

//! Charts for the report folder and the memo: pure renderers that return PNG bytes and SVG text.
//!
//! The charts, each drawn by one function of [`figures`], generic over the plotters backend:
//!
//! | file stem | chart |
//! |---|---|
//! | `pool_loss` | pool-loss histogram (log share of paths) with the mean, VaR 99% and ES 99% marked |
//! | `loss_exceedance` | `P(loss > x)` of the gross default loss and the pool loss, log axis, 95% bands ([`data::tail_band`]) |
//! | `guarantor_exposure` | each party's payout distribution with its cap and P(cap exhausted); the undertaker's draw |
//! | `cap_exhaustion` | per capped party (and the undertaker): P(cap exhausted by the end of period k) |
//! | `undertaker` | the undertaker's draws against its cap: histogram, P(draw > x), capacities for 99% / 99.9% |
//! | `coupon_coverage` | fan chart of the senior coupon coverage by period (5/25/50/75/95%), the 1.0 line |
//! | `tranche_loss` | tranche expected loss and P(loss) with ±1.96 standard-error bars |
//! | `default_count` | default-count distribution against the independent-defaults binomial |
//! | `convergence` | running estimates ± 95% CI against paths (log axis), for the memo appendix |
//!
//! `coupon_coverage` and `tranche_loss` are drawn only for deals with notes; `cap_exhaustion` only
//! when a party or the undertaker has a cap, `undertaker` only with an undertaker. Every chart has a
//! title, axis titles with units, thousands separators, a footnote (scenario, paths, seed,
//! version) and the Okabe–Ito colour-blind-safe palette. The SVG is drawn at memo size; the PNG
//! at twice that, for print. Text is drawn with the font of [`fonts`] (embedded DejaVu Sans
//! unless a font file was given), so rendering needs no system fonts.
//!
//! Under importance sampling every chart shows the real distribution: histograms, exceedance
//! curves and the default-count bars weight each path by its likelihood ratio ([`data`]); the
//! markers, the coverage fan, the tranche bars and the convergence panels are summary.json's
//! (weighted) numbers, and the `cap_exhaustion` and `undertaker` charts draw the weighted
//! exposure blocks and undertaker draws. The histograms' axis then reads "weighted share of
//! paths" ([`Labels::weighted`]).
//!
//! No file I/O here: [`crate::report::write_report`] writes what [`render_all`] returns.

pub mod data;
pub mod exposure;
pub mod figures;
pub mod fonts;
pub mod stress;
pub mod style;

use plotters::coord::Shift;
use plotters::prelude::*;
use thiserror::Error;

use crate::report::summary::Summary;
use data::ChartData;
use figures::DrawError;
pub use style::{Labels, Style};

/// A chart that could not be rendered.
#[derive(Debug, Error)]
pub enum ChartError {
    /// Drawing failed (a plotters error, e.g. a missing font).
    #[error("cannot draw the {chart} chart: {reason}")]
    Draw { chart: &'static str, reason: String },
    /// The bitmap could not be encoded as PNG.
    #[error("cannot encode the {chart} chart as PNG: {reason}")]
    Encode { chart: &'static str, reason: String },
}

/// The charts, in memo order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    PoolLoss,
    LossExceedance,
    GuarantorExposure,
    CapExhaustion,
    Undertaker,
    CouponCoverage,
    TrancheLoss,
    DefaultCount,
    Convergence,
}

impl ChartKind {
    /// Every chart, in memo order.
    pub const ALL: [ChartKind; 9] = [
        ChartKind::PoolLoss,
        ChartKind::LossExceedance,
        ChartKind::GuarantorExposure,
        ChartKind::CapExhaustion,
        ChartKind::Undertaker,
        ChartKind::CouponCoverage,
        ChartKind::TrancheLoss,
        ChartKind::DefaultCount,
        ChartKind::Convergence,
    ];

    /// The file stem: `pool_loss` gives `pool_loss.png` and `pool_loss.svg`.
    pub fn stem(self) -> &'static str {
        match self {
            ChartKind::PoolLoss => "pool_loss",
            ChartKind::LossExceedance => "loss_exceedance",
            ChartKind::GuarantorExposure => "guarantor_exposure",
            ChartKind::CapExhaustion => "cap_exhaustion",
            ChartKind::Undertaker => "undertaker",
            ChartKind::CouponCoverage => "coupon_coverage",
            ChartKind::TrancheLoss => "tranche_loss",
            ChartKind::DefaultCount => "default_count",
            ChartKind::Convergence => "convergence",
        }
    }

    /// The chart's title in `labels`' language.
    pub fn title(self, labels: &Labels) -> &'static str {
        match self {
            ChartKind::PoolLoss => labels.pool_loss_title,
            ChartKind::LossExceedance => labels.exceedance_title,
            ChartKind::GuarantorExposure => labels.guarantors_title,
            ChartKind::CapExhaustion => labels.cap_exhaustion_title,
            ChartKind::Undertaker => labels.undertaker_title,
            ChartKind::CouponCoverage => labels.coverage_title,
            ChartKind::TrancheLoss => labels.tranches_title,
            ChartKind::DefaultCount => labels.defaults_title,
            ChartKind::Convergence => labels.convergence_title,
        }
    }

    /// Whether the chart applies to this summary (coverage and tranches need notes; guarantor
    /// exposure needs a party or an undertaker).
    pub fn applies(self, summary: &Summary) -> bool {
        match self {
            ChartKind::CouponCoverage => summary.coupon_coverage.is_some(),
            ChartKind::TrancheLoss => !summary.tranches.is_empty(),
            ChartKind::GuarantorExposure => figures::guarantor_panels(summary) > 0,
            ChartKind::CapExhaustion => cap_payers(summary).iter().any(|p| p.cap.is_some()),
            ChartKind::Undertaker => summary.undertaker.as_ref().is_some_and(|u| u.exposure.is_some()),
            _ => true,
        }
    }

    /// Size at memo scale (SVG pixels); the PNG is twice this.
    pub fn size(self, summary: &Summary) -> (u32, u32) {
        match self {
            ChartKind::GuarantorExposure => {
                let panels = figures::guarantor_panels(summary);
                let rows = panels.div_ceil(figures::guarantor_columns(panels)) as u32;
                (1000, 90 + 330 * rows.max(1))
            }
            ChartKind::TrancheLoss => (1000, 460),
            ChartKind::CapExhaustion => (1000, 520),
            ChartKind::Convergence => {
                let rows = summary.convergence.len().div_ceil(2).max(1) as u32;
                (1000, 90 + 300 * rows)
            }
            _ => (1000, 560),
        }
    }
}

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct Figure {
    pub kind: ChartKind,
    pub title: String,
    /// PNG at [`PNG_SCALE`] times the memo size.
    pub png: Vec<u8>,
    pub svg: String,
}

/// The PNG's size factor over the memo (SVG) size.
pub const PNG_SCALE: u32 = 2;

/// Something drawn the same way on any plotters backend: a chart, rendered by
/// [`render_drawing`] as SVG and as PNG.
pub(crate) trait Drawing {
    /// The file stem, for error messages.
    fn stem(&self) -> &'static str;
    /// Draws on `root`.
    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        style: &Style,
    ) -> Result<(), DrawError>;
}

/// Draws `d` on `root` and presents it.
fn draw_and_present<DB: DrawingBackend>(
    d: &impl Drawing,
    root: &DrawingArea<DB, Shift>,
    style: &Style,
) -> Result<(), ChartError> {
    d.draw_on(root, style)
        .and_then(|()| root.present().map_err(Into::into))
        .map_err(|e| ChartError::Draw {
            chart: d.stem(),
            reason: e.0,
        })
}

/// Renders `d` as SVG at `size` (memo scale) and as PNG at [`PNG_SCALE`] times that, with the
/// embedded font: `(png, svg)`.
///
/// # Errors
/// [`ChartError`] when drawing or encoding fails.
pub(crate) fn render_drawing(
    d: &impl Drawing,
    (w, h): (u32, u32),
    labels: &Labels,
    footnote: String,
) -> Result<(Vec<u8>, String), ChartError> {
    fonts::ensure_embedded();
    let mut style = Style {
        scale: 1.0,
        labels: labels.clone(),
        footnote,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_and_present(d, &root, &style)?;
    }
    style.scale = f64::from(PNG_SCALE);
    let (pw, ph) = (w * PNG_SCALE, h * PNG_SCALE);
    let mut rgb = vec![255u8; (pw * ph * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (pw, ph)).into_drawing_area();
        draw_and_present(d, &root, &style)?;
    }
    let png = encode_png(&rgb, (pw, ph)).map_err(|reason| ChartError::Encode {
        chart: d.stem(),
        reason,
    })?;
    Ok((png, svg))
}

/// One of the run's charts, with what it draws from.
struct RunChart<'a> {
    kind: ChartKind,
    summary: &'a Summary,
    data: &'a ChartData,
}

impl Drawing for RunChart<'_> {
    fn stem(&self) -> &'static str {
        self.kind.stem()
    }

    fn draw_on<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        style: &Style,
    ) -> Result<(), DrawError> {
        let (summary, data) = (self.summary, self.data);
        match self.kind {
            ChartKind::PoolLoss => figures::pool_loss(root, style, summary, data),
            ChartKind::LossExceedance => figures::exceedance(root, style, summary, data),
            ChartKind::GuarantorExposure => figures::guarantors(root, style, summary, data),
            ChartKind::CapExhaustion => {
                let payers = cap_payers(summary);
                exposure::ExposureChart::CapExhaustion(&payers).draw_on(root, style)
            }
            ChartKind::Undertaker => match undertaker_view(summary, data) {
                Some(u) => exposure::ExposureChart::Undertaker(u).draw_on(root, style),
                None => Ok(()),
            },
            ChartKind::CouponCoverage => figures::coverage(root, style, summary),
            ChartKind::TrancheLoss => figures::tranches(root, style, summary),
            ChartKind::DefaultCount => figures::defaults(root, style, summary, data),
            ChartKind::Convergence => figures::convergence(root, style, summary),
        }
    }
}

/// The payers of the cap-exhaustion chart of a run: the parties, then the undertaker.
pub fn cap_payers(summary: &Summary) -> Vec<exposure::CapPayer<'_>> {
    let parties = summary.guarantors.iter().filter_map(|g| {
        Some(exposure::CapPayer {
            name: &g.name,
            cap: g.cap,
            figures: g.exposure.as_ref()?,
        })
    });
    let undertaker = summary.undertaker.iter().filter_map(|u| {
        Some(exposure::CapPayer {
            name: &u.name,
            cap: u.cap,
            figures: u.exposure.as_ref()?,
        })
    });
    parties.chain(undertaker).collect()
}

/// The undertaker chart's inputs of a run.
fn undertaker_view<'a>(summary: &'a Summary, data: &'a ChartData) -> Option<exposure::UndertakerView<'a>> {
    let (u, draws) = (summary.undertaker.as_ref()?, data.undertaker.as_ref()?);
    Some(exposure::UndertakerView {
        name: &u.name,
        currency: &summary.currency,
        figures: u.exposure.as_ref()?,
        draws,
        exceedance: &data.undertaker_exceedance,
        paths: summary.paths,
    })
}

/// Encodes an RGB buffer as PNG.
pub(crate) fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // 144 dpi: the PNG is twice the memo size.
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: 5669,
            yppu: 5669,
            unit: png::Unit::Meter,
        }));
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Renders one chart as SVG (memo size) and PNG (twice that).
///
/// # Errors
/// [`ChartError`] when drawing or encoding fails.
pub fn render(
    kind: ChartKind,
    summary: &Summary,
    data: &ChartData,
    labels: &Labels,
) -> Result<Figure, ChartError> {
    let footnote = labels.footnote(&summary.scenario, summary.paths, summary.seed);
    let chart = RunChart { kind, summary, data };
    let (png, svg) = render_drawing(&chart, kind.size(summary), labels, footnote)?;
    Ok(Figure {
        kind,
        title: kind.title(labels).to_owned(),
        png,
        svg,
    })
}

/// Renders every chart that applies to `summary`, in memo order; under importance sampling with
/// [`Labels::weighted`].
///
/// # Errors
/// The first [`ChartError`].
pub fn render_all(summary: &Summary, data: &ChartData, labels: &Labels) -> Result<Vec<Figure>, ChartError> {
    let weighted;
    let labels = if summary.importance_sampling.is_some() {
        weighted = labels.clone().weighted();
        &weighted
    } else {
        labels
    };
    ChartKind::ALL
        .into_iter()
        .filter(|k| k.applies(summary))
        .map(|k| render(k, summary, data, labels))
        .collect()
}

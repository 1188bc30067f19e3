//! The issuance-memo report: `report.html` (self-contained, charts as inline SVG, prints on A4)
//! and `report.md` (links the PNG charts), rendered from minijinja templates.
//!
//! The built-in templates (`templates/report.html.j2`, `templates/report.md.j2`) are compiled in;
//! `--template DIR` replaces either with `DIR/report.html.j2` / `DIR/report.md.j2` where present.
//! A template sees one value, [`MemoContext`]: figures already formatted for print (thousands
//! separators, `± standard error`), the charts, the assumptions, the manifest, the text of the
//! headings in the report's language (`t`), and the raw `summary` (every field of
//! `summary.json`) for anything else a custom template wants.

use std::path::Path;

use minijinja::Environment;
use minijinja::value::Serde;
use serde::Serialize;
use thiserror::Error;

use super::summary::{DistributionJson, Summary};
use super::table::grouped;
use crate::chart::Figure;
use crate::chart::style::percent;
use crate::exposure::PayerFigures;
use crate::model::{Language, Scenario};
use crate::money::Amount;

/// The built-in HTML template.
pub const HTML_TEMPLATE: &str = include_str!("templates/report.html.j2");
/// The built-in Markdown template.
pub const MD_TEMPLATE: &str = include_str!("templates/report.md.j2");

/// A memo that could not be rendered.
#[derive(Debug, Error)]
pub enum MemoError {
    /// A template file could not be read.
    #[error("cannot read the template {path}: {reason}")]
    Read { path: String, reason: String },
    /// A template has a syntax error or failed while rendering.
    #[error("template {name}: {reason}")]
    Template { name: String, reason: String },
}

/// The memo templates: built-in, or read from a folder.
#[derive(Debug, Clone)]
pub struct Templates {
    pub html: String,
    pub md: String,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            html: HTML_TEMPLATE.to_owned(),
            md: MD_TEMPLATE.to_owned(),
        }
    }
}

impl Templates {
    /// The templates of `dir` where present, the built-in ones otherwise.
    ///
    /// # Errors
    /// [`MemoError::Read`] when a template file exists but cannot be read, or `dir` is not a
    /// folder.
    pub fn from_dir(dir: &Path) -> Result<Templates, MemoError> {
        if !dir.is_dir() {
            return Err(MemoError::Read {
                path: dir.display().to_string(),
                reason: "not a folder".into(),
            });
        }
        let read = |name: &str, default: &str| -> Result<String, MemoError> {
            let path = dir.join(name);
            if path.exists() {
                std::fs::read_to_string(&path).map_err(|e| MemoError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
            } else {
                Ok(default.to_owned())
            }
        };
        Ok(Templates {
            html: read("report.html.j2", HTML_TEMPLATE)?,
            md: read("report.md.j2", MD_TEMPLATE)?,
        })
    }
}

/// A labelled value for a table row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub label: String,
    pub value: String,
}

/// A metric with its Monte Carlo standard error and tail figures.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub label: String,
    pub mean: String,
    pub se: String,
    pub var_99: String,
    pub es_99: String,
}

/// A probability with its standard error.
#[derive(Debug, Clone, Serialize)]
pub struct Probability {
    pub label: String,
    pub p: String,
    pub se: String,
}

/// A guarantor party in the deal summary.
#[derive(Debug, Clone, Serialize)]
pub struct PartyRow {
    pub tier: usize,
    pub tier_name: String,
    pub name: String,
    pub share: String,
    pub cap: String,
    pub annual_pd: String,
    pub scope: String,
}

/// A tranche in the deal summary.
#[derive(Debug, Clone, Serialize)]
pub struct TrancheRow {
    pub name: String,
    pub notional: String,
    pub coupon: String,
    pub amortisation: String,
    pub expected_loss_bp: String,
    pub p_loss: String,
}

/// One payer's row of the exposure table: P(called), expected payout, VaR and ES at 99% and
/// 99.9%, P(cap exhausted) and the capacities that would have covered 99% and 99.9% of paths.
#[derive(Debug, Clone, Serialize)]
pub struct ExposureRow {
    pub name: String,
    pub p_called: String,
    pub expected: String,
    pub var_99: String,
    pub var_999: String,
    pub es_99: String,
    pub es_999: String,
    pub p_cap_exhausted: String,
    pub capacity_99: String,
    pub capacity_999: String,
}

impl ExposureRow {
    fn new(currency: &str, name: String, f: &PayerFigures) -> Self {
        let m = |x: f64| money(currency, x);
        ExposureRow {
            name,
            p_called: percent(f.p_called),
            expected: m(f.expected_payout),
            var_99: m(f.var_99),
            var_999: m(f.var_999),
            es_99: m(f.es_99),
            es_999: m(f.es_999),
            p_cap_exhausted: format!(
                "{} ± {}",
                percent(f.p_cap_exhausted),
                percent(f.p_cap_exhausted_se)
            ),
            capacity_99: m(f.capacity_99),
            capacity_999: m(f.capacity_999),
        }
    }
}

/// A chart as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct ChartRef {
    pub stem: String,
    pub title: String,
    pub png: String,
    pub svg_file: String,
    /// The SVG markup (for inline use in HTML; mark it `|safe`).
    pub svg: String,
}

/// Everything a memo template sees.
#[derive(Debug, Clone, Serialize)]
pub struct MemoContext {
    pub lang: &'static str,
    pub t: Text,
    pub scenario: String,
    pub description: Option<String>,
    pub currency: String,
    pub deal: Vec<Row>,
    pub parties: Vec<PartyRow>,
    pub undertaker: Option<Row>,
    pub tranches: Vec<TrancheRow>,
    pub metrics: Vec<Metric>,
    pub probabilities: Vec<Probability>,
    /// One row per guarantor party, then the undertaker.
    pub exposure: Vec<ExposureRow>,
    pub charts: Vec<ChartRef>,
    /// Under importance sampling: that the charts are weighted.
    pub charts_note: Option<String>,
    pub assumptions: Vec<Row>,
    pub manifest: Vec<Row>,
    pub footnote: String,
    pub summary: Summary,
}

/// Headings and fixed phrases of the memo in one language.
#[derive(Debug, Clone, Serialize)]
pub struct Text {
    pub title: &'static str,
    pub deal_summary: &'static str,
    pub pool_and_notes: &'static str,
    pub loss_sharing: &'static str,
    pub tier: &'static str,
    pub party: &'static str,
    pub share: &'static str,
    pub cap: &'static str,
    pub own_pd: &'static str,
    pub covers: &'static str,
    pub undertaker: &'static str,
    pub notes: &'static str,
    pub tranche: &'static str,
    pub notional: &'static str,
    pub coupon: &'static str,
    pub amortisation: &'static str,
    pub el_bp: &'static str,
    pub p_loss: &'static str,
    pub key_metrics: &'static str,
    pub mean: &'static str,
    pub se: &'static str,
    pub var_99: &'static str,
    pub es_99: &'static str,
    pub probability: &'static str,
    pub charts: &'static str,
    pub assumptions: &'static str,
    pub manifest: &'static str,
    pub metrics_note: &'static str,
    pub exposure: &'static str,
    pub p_called: &'static str,
    pub expected_payout: &'static str,
    pub var_999: &'static str,
    pub es_999: &'static str,
    pub p_cap_exhausted: &'static str,
    pub capacity_99: &'static str,
    pub capacity_999: &'static str,
    pub exposure_note: &'static str,
}

impl Text {
    fn of(language: Language) -> Text {
        match language {
            Language::En => Text {
                title: "Monte Carlo credit analysis",
                deal_summary: "Deal summary",
                pool_and_notes: "Pool and notes",
                loss_sharing: "Loss sharing",
                tier: "Tier",
                party: "Party",
                share: "Share",
                cap: "Cap",
                own_pd: "Own annual PD",
                covers: "Covers",
                undertaker: "Differential payment undertaker",
                notes: "Notes",
                tranche: "Tranche",
                notional: "Notional",
                coupon: "Coupon",
                amortisation: "Amortisation",
                el_bp: "Expected loss (bp)",
                p_loss: "P(loss)",
                key_metrics: "Key metrics",
                mean: "Mean",
                se: "± s.e.",
                var_99: "VaR 99%",
                es_99: "ES 99%",
                probability: "Probability",
                charts: "Charts",
                assumptions: "Assumptions",
                manifest: "Manifest",
                metrics_note: "Means with their Monte Carlo standard error; VaR_q = x(ceil(q n)); ES 99% = mean of the worst 1% of paths.",
                exposure: "Guarantor and undertaker exposure",
                p_called: "P(called)",
                expected_payout: "E[payout]",
                var_999: "VaR 99.9%",
                es_999: "ES 99.9%",
                p_cap_exhausted: "P(cap exhausted)",
                capacity_99: "Cap for 99%",
                capacity_999: "Cap for 99.9%",
                exposure_note: "Payouts (draws, for the undertaker) over all paths. Cap for q: the cap that would have met the obligation in full on a share q of paths (VaR_q of the obligation; for the undertaker, its draw plus the senior tranche's loss). When caps run out: see the cap exhaustion chart.",
            },
            Language::Zh => Text {
                title: "蒙特卡洛信用分析",
                deal_summary: "交易概要",
                pool_and_notes: "资产池与票据",
                loss_sharing: "损失分担",
                tier: "层级",
                party: "分担方",
                share: "比例",
                cap: "上限",
                own_pd: "自身年违约率",
                covers: "覆盖范围",
                undertaker: "差额支付承诺人",
                notes: "票据",
                tranche: "分档",
                notional: "面值",
                coupon: "票面利率",
                amortisation: "摊还方式",
                el_bp: "预期损失（基点）",
                p_loss: "P(损失)",
                key_metrics: "关键指标",
                mean: "均值",
                se: "± 标准误",
                var_99: "VaR 99%",
                es_99: "ES 99%",
                probability: "概率",
                charts: "图表",
                assumptions: "假设",
                manifest: "运行记录",
                metrics_note: "均值附蒙特卡洛标准误；VaR_q = x(ceil(q n))；ES 99% 为最差 1% 路径的均值。",
                exposure: "担保方与差额支付承诺人风险敞口",
                p_called: "P(被调用)",
                expected_payout: "预期赔付",
                var_999: "VaR 99.9%",
                es_999: "ES 99.9%",
                p_cap_exhausted: "P(上限耗尽)",
                capacity_99: "覆盖 99% 所需额度",
                capacity_999: "覆盖 99.9% 所需额度",
                exposure_note: "赔付（差额支付承诺人为支付额）覆盖全部路径。覆盖 q 所需额度：在 q 比例路径上足以全额履行义务的上限（义务的 VaR_q；差额支付承诺人的义务为其支付额加优先级损失）。额度何时耗尽见额度耗尽时点图。",
            },
        }
    }
}

fn money(currency: &str, x: f64) -> String {
    format!("{currency} {}", grouped(x, 0))
}

fn metric(currency: &str, label: &str, d: &DistributionJson) -> Metric {
    Metric {
        label: label.to_owned(),
        mean: money(currency, d.mean),
        se: grouped(d.se_mean, 0),
        var_99: money(currency, d.quantiles.get("0.99").copied().unwrap_or(0.0)),
        es_99: money(currency, d.es_99),
    }
}

fn amortisation(a: &crate::model::Amortisation) -> String {
    match a {
        crate::model::Amortisation::Bullet => "bullet".into(),
        crate::model::Amortisation::Level => "level".into(),
        crate::model::Amortisation::Explicit(v) => format!("{} scheduled amounts", v.len()),
    }
}

impl MemoContext {
    /// The context of the memo of `summary` for `scenario`, with its rendered `figures`.
    pub fn new(
        scenario: &Scenario,
        summary: &Summary,
        figures: &[Figure],
        language: Language,
        footnote: String,
    ) -> Self {
        let cur = summary.currency.as_str();
        let patents = scenario.firms.iter().filter_map(|f| f.patents.as_ref());
        let (inv, um, design, appraised) = patents.fold((0u32, 0u32, 0u32, 0.0), |(a, b, c, v), p| {
            (
                a + p.invention,
                b + p.utility_model,
                c + p.design,
                v + p.appraised_value.map_or(0.0, f64::from_decimal),
            )
        });
        let periods = match scenario.deal.periods_per_year {
            1 => "annual",
            2 => "semi-annual",
            4 => "quarterly",
            _ => "monthly",
        };
        let mut deal = vec![
            Row {
                label: "Pool notional (firm principals)".into(),
                value: money(cur, summary.pool_notional),
            },
            Row {
                label: "Obligors".into(),
                value: format!(
                    "{} firms in {} sectors",
                    scenario.firms.len(),
                    scenario.credit.sectors.len()
                ),
            },
            Row {
                label: "Term".into(),
                value: format!(
                    "{} {periods} periods ({} years)",
                    scenario.deal.term_periods,
                    grouped(scenario.deal.term_years(), 2)
                ),
            },
            Row {
                label: "Notes".into(),
                value: money(cur, summary.notes_notional),
            },
        ];
        if inv + um + design > 0 || appraised > 0.0 {
            deal.push(Row {
                label: "Pledged patents".into(),
                value: format!(
                    "{} invention, {} utility model, {} design; appraised {}",
                    inv,
                    um,
                    design,
                    money(cur, appraised)
                ),
            });
        }
        if scenario.fees.annual_rate > 0.0 {
            deal.push(Row {
                label: "Senior fees".into(),
                value: format!(
                    "{} a year on outstanding notes",
                    percent(scenario.fees.annual_rate)
                ),
            });
        }
        let parties = scenario
            .parties()
            .map(|(tier, p)| PartyRow {
                tier,
                tier_name: scenario.tiers[tier - 1].name.clone(),
                name: p.name.clone(),
                share: percent(p.share),
                cap: p
                    .cap
                    .map_or_else(|| "unlimited".to_owned(), |c| money(cur, f64::from_decimal(c))),
                annual_pd: p
                    .own_default
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |d| percent(d.annual_pd)),
                scope: match (&p.firms, p.principal_only) {
                    (None, false) => "all firms, principal and interest".into(),
                    (None, true) => "all firms, principal only".into(),
                    (Some(f), po) => {
                        format!("{} firm(s){}", f.len(), if po { ", principal only" } else { "" })
                    }
                },
            })
            .collect();
        let undertaker = scenario.undertaker.as_ref().map(|u| Row {
            label: u.name.clone(),
            value: format!(
                "cap {}{}",
                u.cap
                    .map_or_else(|| "unlimited".to_owned(), |c| money(cur, f64::from_decimal(c))),
                u.own_default.as_ref().map_or_else(String::new, |d| format!(
                    "; own annual PD {}",
                    percent(d.annual_pd)
                ))
            ),
        });
        let tranches = scenario
            .tranches
            .iter()
            .zip(&summary.tranches)
            .map(|(t, s)| TrancheRow {
                name: t.name.clone(),
                notional: money(cur, s.notional),
                coupon: percent(t.coupon),
                amortisation: amortisation(&t.amortisation),
                expected_loss_bp: format!(
                    "{:.2} ± {:.2}",
                    1e4 * s.expected_loss_frac,
                    1e4 * s.expected_loss_se / s.notional
                ),
                p_loss: format!("{} ± {}", percent(s.p_loss), percent(s.p_loss_se)),
            })
            .collect();

        let mut metrics = vec![
            metric(
                cur,
                "Gross default loss (before guarantors)",
                &summary.gross_default_loss,
            ),
            metric(cur, "Pool loss", &summary.pool_loss),
            metric(cur, "Guarantor shortfall", &summary.guarantor_shortfall),
        ];
        for g in &summary.guarantors {
            metrics.push(metric(cur, &format!("T{} {} payout", g.tier, g.name), &g.payout));
        }
        if summary.undertaker.is_some() {
            metrics.push(metric(cur, "Undertaker draw", &summary.undertaker_draw));
        }
        let mut probabilities = vec![Probability {
            label: "P(any default)".into(),
            p: percent(summary.p_any_default),
            se: percent(summary.p_any_default_se),
        }];
        for g in &summary.guarantors {
            probabilities.push(Probability {
                label: format!("P(cap exhausted): T{} {}", g.tier, g.name),
                p: percent(g.p_cap_exhausted),
                se: percent(g.p_cap_exhausted_se),
            });
        }
        if let Some(u) = &summary.undertaker {
            probabilities.push(Probability {
                label: format!("P(undertaker drawn): {}", u.name),
                p: percent(u.p_drawn),
                se: percent(u.p_drawn_se),
            });
        }
        if let Some(c) = &summary.coupon_coverage {
            probabilities.push(Probability {
                label: "P(min coupon coverage < 1)".into(),
                p: percent(c.p_below_1),
                se: percent(c.p_below_1_se),
            });
        }

        let mut exposure: Vec<ExposureRow> = summary
            .guarantors
            .iter()
            .filter_map(|g| {
                let figures = g.exposure.as_ref()?;
                Some(ExposureRow::new(cur, format!("T{} {}", g.tier, g.name), figures))
            })
            .collect();
        if let Some((u, figures)) = summary
            .undertaker
            .as_ref()
            .and_then(|u| Some((u, u.exposure.as_ref()?)))
        {
            exposure.push(ExposureRow::new(cur, u.name.clone(), figures));
        }

        let a = &summary.assumptions;
        let mut assumptions = vec![
            Row {
                label: "Copula".into(),
                value: match a.dof {
                    Some(dof) => format!("Student t, {dof} degrees of freedom"),
                    None => "Gaussian".into(),
                },
            },
            Row {
                label: "Asset correlation".into(),
                value: format!("{}", a.asset_correlation),
            },
            Row {
                label: "Sectors".into(),
                value: a.sectors.join(", "),
            },
            Row {
                label: "Mean annual PD of firms".into(),
                value: percent(a.mean_annual_pd),
            },
            Row {
                label: "Recovery".into(),
                value: match scenario.recovery.rate {
                    crate::model::RecoveryRate::Fixed(r) => format!("fixed rate {}", percent(r)),
                    crate::model::RecoveryRate::Beta { a: x, b: y } => {
                        format!("Beta({x}, {y}), mean {}", percent(a.recovery_mean_rate))
                    }
                },
            },
            Row {
                label: "Recovery lag".into(),
                value: format!("{} periods", a.recovery_lag_periods),
            },
            Row {
                label: "Recoveries repay guarantors first".into(),
                value: if a.reimburse_guarantors { "yes" } else { "no" }.into(),
            },
        ];
        if let Some(v) = a.value_vol {
            assumptions.push(Row {
                label: "Patent-value shock (annual vol, on the sector factor)".into(),
                value: percent(v),
            });
        }
        let m = &summary.manifest;
        let manifest = vec![
            Row {
                label: "ipabs version".into(),
                value: m.ipabs_version.into(),
            },
            Row {
                label: "Scenario SHA-256".into(),
                value: m.scenario_sha256.clone(),
            },
            Row {
                label: "Paths".into(),
                value: grouped(m.paths as f64, 0),
            },
            Row {
                label: "Seed".into(),
                value: m.seed.to_string(),
            },
            Row {
                label: "Generator".into(),
                value: m.generator.into(),
            },
            Row {
                label: "rand / rand_distr".into(),
                value: format!("{} / {}", m.rand_version, m.rand_distr_version),
            },
        ];
        let charts = figures
            .iter()
            .map(|f| ChartRef {
                stem: f.kind.stem().to_owned(),
                title: f.title.clone(),
                png: format!("{}.png", f.kind.stem()),
                svg_file: format!("{}.svg", f.kind.stem()),
                svg: responsive_svg(&f.svg),
            })
            .collect();
        MemoContext {
            lang: language.code(),
            t: Text::of(language),
            scenario: summary.scenario.clone(),
            description: summary.description.clone(),
            currency: cur.to_owned(),
            deal,
            parties,
            undertaker,
            tranches,
            metrics,
            probabilities,
            exposure,
            charts,
            charts_note: charts_note(summary, language),
            assumptions,
            manifest,
            footnote,
            summary: summary.clone(),
        }
    }
}

/// The note above the charts of an importance-sampled run: they show the real distribution
/// (each path weighted by its likelihood ratio); `None` for a plain run.
fn charts_note(summary: &Summary, language: Language) -> Option<String> {
    summary.importance_sampling.as_ref()?;
    Some(match language {
        Language::En => "Importance-sampled run: every chart shows the real distribution, each path weighted by its likelihood ratio (bars and curves are weighted probabilities, bands from the weighted standard errors).".to_owned(),
        Language::Zh => "重要性抽样运行：各图均按似然比加权每条路径，显示真实分布（柱高与曲线为加权概率，置信带取自加权标准误）。".to_owned(),
    })
}

/// The SVG with its fixed size replaced by a `viewBox` and 100% width, so it scales to the
/// page (and to A4 when printed).
fn responsive_svg(svg: &str) -> String {
    let Some(start) = svg.find("<svg") else {
        return svg.to_owned();
    };
    let end = start + svg[start..].find('>').unwrap_or(0);
    let tag = &svg[start..end];
    let attr = |name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..at + tag[at..].find('"')?].to_owned())
    };
    match (attr("width"), attr("height")) {
        (Some(w), Some(h)) => {
            let new_tag = format!(
                "<svg viewBox=\"0 0 {w} {h}\" width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\""
            );
            format!("{}{}{}", &svg[..start], new_tag, &svg[end..])
        }
        _ => svg.to_owned(),
    }
}

/// Renders `report.html` and `report.md`.
///
/// # Errors
/// [`MemoError::Template`] when a template does not compile or fails to render.
pub fn render(templates: &Templates, ctx: &MemoContext) -> Result<(String, String), MemoError> {
    let mut env = Environment::new();
    let err = |name: &str| {
        let name = name.to_owned();
        move |e: minijinja::Error| MemoError::Template {
            name: name.clone(),
            reason: format!("{e:#}"),
        }
    };
    env.add_template_owned("report.html.j2", templates.html.clone())
        .map_err(err("report.html.j2"))?;
    env.add_template_owned("report.md.j2", templates.md.clone())
        .map_err(err("report.md.j2"))?;
    let html = env
        .get_template("report.html.j2")
        .and_then(|t| t.render(Serde(ctx)))
        .map_err(err("report.html.j2"))?;
    let md = env
        .get_template("report.md.j2")
        .and_then(|t| t.render(Serde(ctx)))
        .map_err(err("report.md.j2"))?;
    Ok((html, md))
}

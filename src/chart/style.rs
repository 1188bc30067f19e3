//! What every chart shares: the colour-blind-safe palette, sizes scaled for the output, the
//! language-dependent text, and number formats for ticks and legends.

use plotters::style::{FontFamily, RGBColor, TextStyle};

use crate::model::Language;
use crate::report::table::grouped;

/// The Okabe–Ito palette (Okabe & Ito 2008), distinguishable with every common form of colour
/// blindness.
pub mod okabe_ito {
    use plotters::style::RGBColor;
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);
    pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
    pub const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
    pub const BLUISH_GREEN: RGBColor = RGBColor(0, 158, 115);
    pub const YELLOW: RGBColor = RGBColor(240, 228, 66);
    pub const BLUE: RGBColor = RGBColor(0, 114, 178);
    pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
    pub const REDDISH_PURPLE: RGBColor = RGBColor(204, 121, 167);
}

/// Grey for grid lines and secondary text.
pub const GREY: RGBColor = RGBColor(110, 110, 110);
/// Light grey for the mesh.
pub const LIGHT_GREY: RGBColor = RGBColor(225, 225, 225);

/// The family every chart uses; [`super::fonts`] registers the font for it.
pub const FAMILY: &str = "sans-serif";

/// Drawing settings of one rendering: the size factor (1 for SVG, 2 for print PNG) and the text.
#[derive(Debug, Clone)]
pub struct Style {
    /// Multiplies every size in points.
    pub scale: f64,
    pub labels: Labels,
    /// The footnote under every chart (scenario, paths, seed, version).
    pub footnote: String,
}

impl Style {
    /// A size in points, scaled.
    pub fn px(&self, points: f64) -> u32 {
        (points * self.scale).round().max(1.0) as u32
    }

    /// A signed size in points, scaled.
    pub fn ipx(&self, points: f64) -> i32 {
        (points * self.scale).round() as i32
    }

    /// A text style of `points` size in the chart family.
    pub fn font(&self, points: f64) -> TextStyle<'static> {
        TextStyle::from((FontFamily::Name(FAMILY), points * self.scale))
    }
}

/// Every piece of text the charts show, in one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    pub language: Language,
    /// "CNY m" or "百万元" (the currency code is substituted).
    pub money_unit: String,
    pub share_of_paths_log: &'static str,
    pub mean: &'static str,
    pub no_loss: &'static str,
    pub paths: &'static str,

    pub pool_loss_title: &'static str,
    pub pool_loss_axis: &'static str,

    pub exceedance_title: &'static str,
    pub exceedance_axis_x: &'static str,
    pub exceedance_axis_y: &'static str,
    pub gross_loss: &'static str,
    pub pool_loss: &'static str,
    pub band_95: &'static str,

    pub guarantors_title: &'static str,
    pub payout_axis: &'static str,
    pub draw_axis: &'static str,
    pub cap: &'static str,
    pub no_cap: &'static str,
    pub off_scale: &'static str,
    pub zero_cap: &'static str,
    pub p_cap_exhausted: &'static str,
    pub undertaker: &'static str,
    pub tier: &'static str,
    pub never_pays: &'static str,

    pub cap_exhaustion_title: &'static str,
    pub cap_exhaustion_axis: &'static str,
    pub by_last_period: &'static str,
    pub no_cap_runs_out: &'static str,
    pub undertaker_title: &'static str,
    pub draw_distribution: &'static str,
    pub draw_exceedance: &'static str,
    pub draw_exceedance_axis: &'static str,
    pub cap_for_99: &'static str,
    pub cap_for_999: &'static str,

    pub coverage_title: &'static str,
    pub period: &'static str,
    pub coverage_axis: &'static str,
    pub median: &'static str,
    pub band_outer: &'static str,
    pub band_inner: &'static str,
    pub coverage_one: &'static str,

    pub tranches_title: &'static str,
    pub expected_loss_axis: &'static str,
    pub p_loss_axis: &'static str,
    pub error_bars: &'static str,

    pub defaults_title: &'static str,
    pub defaults_axis: &'static str,
    pub simulated: &'static str,
    pub independent: &'static str,

    pub convergence_title: &'static str,
    pub convergence_axis_x: &'static str,
    pub estimate: &'static str,
    pub final_estimate: &'static str,
}

impl Labels {
    /// The labels of `language`, money in millions of `currency`.
    pub fn new(language: Language, currency: &str) -> Labels {
        match language {
            Language::En => Labels {
                language,
                money_unit: format!("{currency} m"),
                share_of_paths_log: "share of paths, % (log scale)",
                mean: "mean",
                no_loss: "no loss",
                paths: "paths",
                pool_loss_title: "Pool loss distribution",
                pool_loss_axis: "pool loss",
                exceedance_title: "Loss exceedance curve",
                exceedance_axis_x: "loss x",
                exceedance_axis_y: "P(loss > x), % (log scale)",
                gross_loss: "gross default loss (before guarantors)",
                pool_loss: "pool loss (after guarantors and recoveries)",
                band_95: "95% confidence band",
                guarantors_title: "Guarantor exposure: payout distributions and caps",
                payout_axis: "payout",
                draw_axis: "draw",
                cap: "cap",
                no_cap: "no cap",
                off_scale: "off scale",
                zero_cap: "cap 0: its whole share passes to the next tier",
                p_cap_exhausted: "P(cap exhausted)",
                undertaker: "undertaker",
                tier: "tier",
                never_pays: "pays nothing on any path",
                cap_exhaustion_title: "When caps run out: P(cap exhausted by the end of each period)",
                cap_exhaustion_axis: "P(cap exhausted by the end of the period), %",
                by_last_period: "by the last period",
                no_cap_runs_out: "no cap runs out on any path",
                undertaker_title: "Differential payment undertaker: draws against its cap",
                draw_distribution: "distribution of draws",
                draw_exceedance: "P(draw > x) and the capacity that covers 99% / 99.9% of paths",
                draw_exceedance_axis: "P(draw > x), % (log scale)",
                cap_for_99: "cap for 99% of paths",
                cap_for_999: "cap for 99.9% of paths",
                coverage_title: "Coupon coverage by period (senior tranche)",
                period: "period",
                coverage_axis: "(collections − fees) / senior interest due",
                median: "median",
                band_outer: "5–95%",
                band_inner: "25–75%",
                coverage_one: "coverage 1.0",
                tranches_title: "Tranche expected loss and probability of loss",
                expected_loss_axis: "expected loss, bp of tranche notional",
                p_loss_axis: "P(loss), %",
                error_bars: "error bars: ±1.96 standard errors",
                defaults_title: "Number of defaults: correlated vs independent",
                defaults_axis: "firms defaulting within the term",
                simulated: "simulated (correlated)",
                independent: "independent defaults (binomial)",
                convergence_title: "Convergence: estimates ± 95% confidence interval against paths",
                convergence_axis_x: "paths (log scale)",
                estimate: "running estimate",
                final_estimate: "final estimate",
            },
            Language::Zh => Labels {
                language,
                money_unit: if currency == "CNY" {
                    "百万元".to_owned()
                } else {
                    format!("百万 {currency}")
                },
                share_of_paths_log: "路径占比，%（对数刻度）",
                mean: "均值",
                no_loss: "无损失",
                paths: "条路径",
                pool_loss_title: "资产池损失分布",
                pool_loss_axis: "资产池损失",
                exceedance_title: "损失超越概率曲线",
                exceedance_axis_x: "损失 x",
                exceedance_axis_y: "P(损失 > x)，%（对数刻度）",
                gross_loss: "违约损失（担保前）",
                pool_loss: "资产池损失（担保及回收后）",
                band_95: "95% 置信区间",
                guarantors_title: "担保方风险敞口：赔付分布与上限",
                payout_axis: "赔付",
                draw_axis: "支付",
                cap: "上限",
                no_cap: "无上限",
                off_scale: "超出坐标范围",
                zero_cap: "上限为 0：其份额全部转由下一层承担",
                p_cap_exhausted: "P(上限耗尽)",
                undertaker: "差额支付承诺人",
                tier: "第",
                never_pays: "在所有路径上均无赔付",
                cap_exhaustion_title: "额度何时耗尽：截至各期末额度耗尽的概率",
                cap_exhaustion_axis: "截至该期末额度耗尽的概率，%",
                by_last_period: "（至最后一期）",
                no_cap_runs_out: "所有路径上额度均未耗尽",
                undertaker_title: "差额支付承诺人：支付额与上限",
                draw_distribution: "支付额分布",
                draw_exceedance: "P(支付额 > x) 及覆盖 99% / 99.9% 路径所需额度",
                draw_exceedance_axis: "P(支付额 > x)，%（对数刻度）",
                cap_for_99: "覆盖 99% 路径所需额度",
                cap_for_999: "覆盖 99.9% 路径所需额度",
                coverage_title: "各期票息覆盖倍数（优先级）",
                period: "期次",
                coverage_axis: "（归集款 − 费用）/ 优先级应付利息",
                median: "中位数",
                band_outer: "5–95%",
                band_inner: "25–75%",
                coverage_one: "覆盖倍数 1.0",
                tranches_title: "各档预期损失与损失概率",
                expected_loss_axis: "预期损失，基点（占本档面值）",
                p_loss_axis: "P(损失)，%",
                error_bars: "误差线：±1.96 个标准误",
                defaults_title: "违约企业数分布：相关与独立",
                defaults_axis: "期限内违约企业数",
                simulated: "模拟（相关违约）",
                independent: "独立违约（二项分布）",
                convergence_title: "收敛性：估计值 ± 95% 置信区间与路径数",
                convergence_axis_x: "路径数（对数刻度）",
                estimate: "累计估计值",
                final_estimate: "最终估计值",
            },
        }
    }

    /// "tier 2" / "第 2 层".
    pub fn tier_label(&self, tier: usize) -> String {
        match self.language {
            Language::En => format!("tier {tier}"),
            Language::Zh => format!("第 {tier} 层"),
        }
    }

    /// An axis title with its unit: "pool loss, CNY m" / "资产池损失（百万元）".
    pub fn with_unit(&self, what: &str, unit: &str) -> String {
        match self.language {
            Language::En => format!("{what}, {unit}"),
            Language::Zh => format!("{what}（{unit}）"),
        }
    }

    /// These labels for an importance-sampled run, whose bars are weighted probabilities (each
    /// path weighted by its likelihood ratio): the share-of-paths axis says so.
    pub fn weighted(mut self) -> Labels {
        self.share_of_paths_log = match self.language {
            Language::En => "weighted share of paths, % (log scale)",
            Language::Zh => "加权路径占比，%（对数刻度）",
        };
        self
    }

    /// The footnote: scenario, paths, seed and version.
    pub fn footnote(&self, scenario: &str, paths: u64, seed: u64) -> String {
        let paths = grouped(paths as f64, 0);
        let version = env!("CARGO_PKG_VERSION");
        match self.language {
            Language::En => format!("scenario {scenario} · {paths} paths · seed {seed} · ipabs {version}"),
            Language::Zh => format!("情景 {scenario} · {paths} 条路径 · 种子 {seed} · ipabs {version}"),
        }
    }
}

/// Decimals that show a money axis spanning `span` millions legibly.
pub fn money_decimals(span: f64) -> usize {
    match span.abs() {
        s if s >= 50.0 => 0,
        s if s >= 5.0 => 1,
        s if s >= 0.5 => 2,
        s if s >= 0.05 => 3,
        _ => 4,
    }
}

/// An amount in millions with thousands separators, e.g. `1,234.5`.
pub fn millions(x: f64, decimals: usize) -> String {
    grouped(x / 1e6, decimals)
}

/// A probability as a percentage: one decimal from 10%, otherwise two significant digits (at
/// least two decimals), e.g. `12.4%`, `1.45%`, `0.027%`, `0%`.
pub fn percent(p: f64) -> String {
    let pct = 100.0 * p;
    if pct == 0.0 {
        return "0%".to_owned();
    }
    let decimals = if pct.abs() >= 10.0 {
        1
    } else {
        (1.0 - pct.abs().log10().floor()).clamp(2.0, 8.0) as usize
    };
    format!("{}%", grouped(pct, decimals))
}

/// A tick label on a log percentage axis: `100%`, `1%`, `0.01%`, `0.0001%`; below `1e-8%`,
/// `1e-9%`.
pub fn log_percent_tick(pct: f64) -> String {
    if pct <= 0.0 {
        return String::new();
    }
    let decimals = (-pct.log10() - 1e-9).ceil().max(0.0) as usize;
    if decimals > 8 {
        // 1e-9% rather than a row of zeros.
        return format!("{pct:.0e}%");
    }
    format!("{}%", grouped(pct, decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(millions(133_000_000.0, 1), "133.0");
        assert_eq!(millions(1_234_567_890.0, 0), "1,235");
        assert_eq!(percent(0.0145), "1.45%");
        assert_eq!(percent(0.00012), "0.012%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(log_percent_tick(100.0), "100%");
        assert_eq!(log_percent_tick(0.01), "0.01%");
        assert_eq!(log_percent_tick(0.0005), "0.0005%");
        assert_eq!(log_percent_tick(1e-8), "0.00000001%");
        assert_eq!(log_percent_tick(1e-9), "1e-9%");
        assert_eq!(money_decimals(30.0), 1);
    }
}

//! The short human table `ipabs run` prints: the headline figures of a [`Summary`].

use std::fmt::Write;

use super::summary::{DistributionJson, Summary};
use crate::exposure::PayerFigures;

/// Formats an amount in millions with two decimals and thousands separators, e.g. `1,234.57`.
pub fn millions(x: f64) -> String {
    grouped(x / 1e6, 2)
}

/// Formats `x` with `decimals` decimals and `,` between thousands.
pub fn grouped(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    // No "-0.00".
    if x < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.insert(0, '-');
    }
    out
}

/// A percentage with `decimals` decimals, e.g. `0.123%`.
pub fn percent(p: f64, decimals: usize) -> String {
    format!("{:.*}%", decimals, 100.0 * p)
}

/// Width of the label column.
const LABEL: usize = 34;

/// Decimals that show amounts of a pool of this size to about a millionth of it: none for a
/// pool of a million or more, up to four for tiny (test) pools.
pub fn money_decimals(pool_notional: f64) -> usize {
    if pool_notional <= 0.0 {
        return 2;
    }
    (6.0 - pool_notional.log10()).ceil().clamp(0.0, 4.0) as usize
}

fn money_row(out: &mut String, label: &str, d: &DistributionJson, decimals: usize) {
    let q = |k: &str| d.quantiles.get(k).copied().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "  {label:<LABEL$} {:>15} ±{:>12} {:>15} {:>15} {:>15}",
        grouped(d.mean, decimals),
        grouped(d.se_mean, decimals),
        grouped(q("0.99"), decimals),
        grouped(q("0.999"), decimals),
        grouped(d.es_99, decimals),
    );
}

/// Renders the table.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} paths, seed {}, {} threads, {:.2} s ({} paths/s)",
        s.scenario,
        grouped(s.paths as f64, 0),
        s.seed,
        s.threads,
        s.elapsed_s,
        grouped(s.paths as f64 / s.elapsed_s.max(1e-9), 0),
    );
    let _ = writeln!(
        out,
        "pool {} m {}, notes {} m; P(any default) {} ± {}, mean defaults {:.3}",
        millions(s.pool_notional),
        s.currency,
        millions(s.notes_notional),
        percent(s.p_any_default, 2),
        percent(s.p_any_default_se, 2),
        s.defaults.mean,
    );
    let _ = writeln!(
        out,
        "\n  {:<LABEL$} {:>15}  {:>12} {:>15} {:>15} {:>15}",
        s.currency, "mean", "se", "VaR 99%", "VaR 99.9%", "ES 99%"
    );
    let dp = money_decimals(s.pool_notional);
    money_row(&mut out, "gross default loss", &s.gross_default_loss, dp);
    money_row(&mut out, "pool loss", &s.pool_loss, dp);
    money_row(&mut out, "guarantor shortfall", &s.guarantor_shortfall, dp);
    for g in &s.guarantors {
        money_row(&mut out, &format!("T{} {} payout", g.tier, g.name), &g.payout, dp);
    }
    if s.undertaker.is_some() {
        money_row(&mut out, "undertaker draw", &s.undertaker_draw, dp);
    }
    let payers: Vec<(String, &PayerFigures)> = s
        .guarantors
        .iter()
        .filter_map(|g| Some((format!("T{} {}", g.tier, g.name), g.exposure.as_ref()?)))
        .chain(
            s.undertaker
                .iter()
                .filter_map(|u| Some(("undertaker".to_owned(), u.exposure.as_ref()?))),
        )
        .collect();
    if !payers.is_empty() {
        let _ = writeln!(
            out,
            "\n  {:<LABEL$} {:>10} {:>15}  {:>12} {:>15} {:>15} {:>15}",
            "exposure", "P(called)", "P(cap exhausted)", "se", "ES 99.9%", "cap for 99%", "cap for 99.9%"
        );
        for (name, f) in payers {
            let _ = writeln!(
                out,
                "  {:<LABEL$} {:>10} {:>15}  {:>12} {:>15} {:>15} {:>15}",
                name,
                percent(f.p_called, 3),
                percent(f.p_cap_exhausted, 3),
                percent(f.p_cap_exhausted_se, 3),
                grouped(f.es_999, dp),
                grouped(f.capacity_99, dp),
                grouped(f.capacity_999, dp),
            );
        }
    }
    if !s.tranches.is_empty() {
        let _ = writeln!(
            out,
            "\n  {:<LABEL$} {:>15}  {:>12} {:>15} {:>15}",
            "tranche", "EL (bp)", "se", "P(loss)", "se"
        );
        for t in &s.tranches {
            let _ = writeln!(
                out,
                "  {:<LABEL$} {:>15.4}  {:>12.4} {:>15} {:>15}",
                t.name,
                1e4 * t.expected_loss_frac,
                1e4 * t.expected_loss_se / t.notional,
                percent(t.p_loss, 4),
                percent(t.p_loss_se, 4),
            );
        }
    }
    if let Some(t) = &s.precision_target {
        let _ = writeln!(
            out,
            "\n  precision target {} se <= {}: {} at {} paths (se {}; at most {} paths)",
            t.metric,
            t.target_se,
            if t.reached { "reached" } else { "NOT reached" },
            grouped(s.paths as f64, 0),
            t.se,
            grouped(t.max_paths as f64, 0),
        );
    }
    if let Some(c) = &s.coupon_coverage {
        let q = |k: &str| c.min_ratio.quantiles.get(k).copied().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "\n  coupon coverage: min ratio median {:.2}, worst path {:.2}; P(min < 1) {} ± {}",
            q("0.5"),
            c.min_ratio.min,
            percent(c.p_below_1, 4),
            percent(c.p_below_1_se, 4),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping() {
        assert_eq!(grouped(1234567.891, 2), "1,234,567.89");
        assert_eq!(grouped(999.0, 0), "999");
        assert_eq!(grouped(-1000.0, 0), "-1,000");
        assert_eq!(grouped(-0.001, 2), "0.00");
        assert_eq!(millions(133_000_000.0), "133.00");
        assert_eq!(money_decimals(133e6), 0);
        assert_eq!(money_decimals(52.0), 4);
        assert_eq!(money_decimals(25_000.0), 2);
    }
}

//! `exposure.json` and the printed table of `ipabs exposure`.

use crate::exposure::{Exposure, PayerFigures};
use crate::report::table::grouped;

/// `exposure.json`.
pub fn exposure_json(e: &Exposure) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(e).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The exposure view as a plain-text table.
pub fn exposure_table(e: &Exposure) -> String {
    let m = |x: f64| grouped(x, 0);
    let mut out = format!(
        "{}: exposure over {} paths, seed {} ({})\n\n",
        e.scenario,
        grouped(e.paths as f64, 0),
        e.seed,
        e.currency
    );
    out.push_str(&format!(
        "  {:<34} {:>9} {:>14} {:>14} {:>14} {:>14} {:>14} {:>10} {:>14} {:>14}\n",
        "party",
        "P(called)",
        "E[payout]",
        "VaR 99%",
        "VaR 99.9%",
        "ES 99%",
        "ES 99.9%",
        "P(cap out)",
        "cap for 99%",
        "cap for 99.9%"
    ));
    let row = |name: String, f: &PayerFigures| {
        format!(
            "  {:<34} {:>8.3}% {:>14} {:>14} {:>14} {:>14} {:>14} {:>9.3}% {:>14} {:>14}\n",
            name,
            100.0 * f.p_called,
            m(f.expected_payout),
            m(f.var_99),
            m(f.var_999),
            m(f.es_99),
            m(f.es_999),
            100.0 * f.p_cap_exhausted,
            m(f.capacity_99),
            m(f.capacity_999)
        )
    };
    for p in &e.parties {
        out.push_str(&row(format!("T{} {}", p.tier, p.name), &p.figures));
    }
    if let Some(u) = &e.undertaker {
        out.push_str(&row("undertaker".to_owned(), &u.figures));
    }
    for p in e.parties.iter().filter(|p| p.figures.expected_payout > 0.0) {
        out.push_str(&format!(
            "\n  T{} {}: largest Euler contributions (E[payout], ES 99%)\n",
            p.tier, p.name
        ));
        let mut c: Vec<_> = p.contributions.iter().collect();
        c.sort_by(|a, b| {
            b.es_99
                .total_cmp(&a.es_99)
                .then(b.expected_payout.total_cmp(&a.expected_payout))
        });
        for f in c.iter().take(5) {
            out.push_str(&format!(
                "    {:<12} {:>14} {:>14}\n",
                f.firm,
                m(f.expected_payout),
                m(f.es_99)
            ));
        }
    }
    out
}

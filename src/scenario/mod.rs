//! Scenario files: reading and validating TOML into a [`crate::model::Scenario`].
//!
//! [`parse`] (pure) and [`load`] (reads the file) either give a fully validated scenario or
//! every problem in the file at once, each as `file:line:col: key.path: message`. The file is
//! parsed into the spanned TOML tree and walked by hand, so one wrong value never hides the
//! next; a TOML syntax error is reported alone (the tree is not trustworthy after it).
//!
//! Files of this module:
//! - `mod.rs` — the public API and the reference of every key (below);
//! - `error.rs` — [`Problem`], [`ScenarioErrors`] and the message format;
//! - `tree.rs` — helpers over the spanned tree: key paths, unknown-key checks and one typed
//!   reader per kind of value (number in a range, money, count, text, flag);
//! - `walk.rs` — the shape of the format: which keys each table takes, defaults, required keys;
//! - `validate.rs` — the rules across values: sector references and the correlation matrix,
//!   unique ids, amortisation schedules, shares, the tranche total, the name as a label.
//!
//! # The format
//!
//! Unknown keys are errors everywhere (the message lists the allowed keys). Kinds of values:
//! - **money** (`principal`, `appraised_value`, explicit amortisation amounts, `cap`,
//!   `notional`): an integer, a float or a decimal string (`"9500000.00"`); floats are taken by
//!   their shortest round-trip text (`0.1` is exactly 0.1). All three spellings give the same
//!   normalised [`rust_decimal::Decimal`]. At most 10^18.
//! - **numbers** (rates, shares, probabilities, hazards, vols, correlations): an integer or a
//!   float; a string is a type error. NaN and ±inf are rejected everywhere.
//! - **counts**: TOML integers only (a float such as `1e5` is a type error).
//!
//! | key | kind | rule / default |
//! |---|---|---|
//! | `name` | string | optional, default the file stem; no `/`, `\`, `..`, control characters, not `.` (it names the report folder) |
//! | `currency` | string | default `"CNY"` |
//! | `description` | string | optional free text (extension; echoed in reports) |
//! | `[deal] periods_per_year` | count | **required**; 1, 2, 4 or 12 |
//! | `[deal] term_periods` | count | **required**; >= 1 |
//! | `[simulation] paths` | count | **required**; >= 1 |
//! | `[simulation] seed` | count | **required**; 0 ..= 2^63 - 1 |
//! | `[simulation] max_memory` | size | optional (extension); a string such as `"512MiB"` or `"2GB"` ([`crate::size`]) or an integer number of bytes, >= 1 |
//! | `[credit] copula` | string | `"gaussian"` (default) or `"t"` |
//! | `[credit] dof` | number | > 0; required with `"t"`, an error with `"gaussian"` |
//! | `[credit] asset_correlation` | number | **required**; in [0, 1] |
//! | `[credit] sectors` | strings | **required**; 1 to 1000 unique names |
//! | `[credit] sector_correlation` | number or matrix | default 0; one number in [-1, 1] for every pair, or a full `n x n` matrix (`n` = number of sectors), symmetric within 1e-12, unit diagonal, entries in [-1, 1], positive semi-definite (minimum eigenvalue >= -1e-10; singular is fine). A common number `c` must also give a PSD matrix: `c >= -1/(n-1)` |
//! | `[recovery]` | table | optional; absent = rate 0, lag 0, reimbursing guarantors, no value shock |
//! | `[recovery] rate` | number | in [0, 1]; exactly one of `rate` / `beta` |
//! | `[recovery] beta = { a, b }` | numbers | `a`, `b` > 0, both required |
//! | `[recovery] lag_periods` | count | default 0 |
//! | `[recovery] reimburse_guarantors` | bool | default `true` |
//! | `[recovery] value_vol` | number | optional, >= 0 (annual lognormal vol of the patent-value shock) |
//! | `[[firms]]` | tables | **required**, at least one |
//! | `firms[i].id` | string | **required**; unique |
//! | `firms[i].sector` | string | **required**; one of `sectors` |
//! | `firms[i].principal` | money | **required**; > 0 |
//! | `firms[i].rate` | number | default 0; >= 0 |
//! | `firms[i].amortisation` | string or money list | `"bullet"` (default), `"level"`, or exactly `term_periods` amounts >= 0 summing to `principal` within 1e-9 relative |
//! | `firms[i].annual_pd` / `hazard` | number | exactly one is **required**; pd in [0, 1), hazard >= 0 |
//! | `firms[i].asset_correlation` | number | optional, in [0, 1]; default the deal's |
//! | `firms[i].patents` | table | optional: `invention`, `utility_model`, `design` (extension) counts, default 0; `appraised_value` money >= 0, optional |
//! | `[[tiers]]` | tables | optional, in the order a loss meets them |
//! | `tiers[i].name` | string | default `tier N` (1-based) |
//! | `tiers[i].parties` | tables | **required**, at least one; shares sum to 1 within 1e-9 |
//! | `parties[j].name` | string | **required** |
//! | `parties[j].share` | number | **required**; in [0, 1] |
//! | `parties[j].cap` | money | optional (absent = unlimited); >= 0 |
//! | `parties[j].annual_pd` | number | optional own default (extension); in [0, 1) |
//! | `parties[j].sector` | string | optional, only with `annual_pd`; one of `sectors` (absent: independent default) |
//! | `parties[j].asset_correlation` | number | optional, only with `annual_pd`; in [0, 1]; default the deal's (no effect without `sector`) |
//! | `parties[j].firms` | strings | optional (absent = every firm); known firm ids, no repeats, at least one |
//! | `parties[j].principal_only` | bool | default `false` |
//! | `[undertaker]` | table | optional: `name` (default `"undertaker"`), `cap` (money >= 0, absent = unlimited), and `annual_pd`, `sector`, `asset_correlation` as for a party |
//! | `[[tranches]]` | tables | optional, most senior first; their total notional <= the pool notional (sum of firm principals, 1e-12 relative slack) |
//! | `tranches[i].name` | string | **required** |
//! | `tranches[i].notional` | money | **required**; > 0 |
//! | `tranches[i].coupon` | number | **required**; >= 0 |
//! | `tranches[i].amortisation` | as for firms | default `"bullet"`; an explicit list sums to `notional` |
//! | `[fees] annual_rate` | number | default 0; >= 0 |
//! | `[report] font` | string | optional path to a TrueType/OpenType font (first face of a `.ttc`) for chart text, relative to the scenario file; `--font` overrides it |
//! | `[report] language` | string | `"en"` (default) or `"zh"`: the language of chart titles, labels and the memo |
//!
//! Extensions beyond the design brief's example: `description`, `patents.design`, and for
//! parties and the undertaker `annual_pd`, `sector`, `asset_correlation` (their own `rho`),
//! plus the parties' `firms` and `principal_only`.

mod error;
mod tree;
mod validate;
mod walk;

#[cfg(test)]
mod tests;

use std::path::Path;

use toml::de::DeTable;

pub use error::{Problem, ScenarioErrors};

use crate::model::Scenario;
use tree::Ctx;

/// Parses and validates scenario `text`. `source_name` names the file in messages;
/// `default_name` is the scenario name when the file gives none. Never panics, does no I/O.
pub fn parse(source_name: &str, text: &str, default_name: &str) -> Result<Scenario, ScenarioErrors> {
    let mut ctx = Ctx::new(text);
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    // After a syntax error the tree is a guess: report the first error in the file, alone.
    let first_syntax_error = syntax_errors
        .iter()
        .min_by_key(|e| e.span().map_or(usize::MAX, |span| span.start));
    let scenario = match first_syntax_error {
        Some(error) => {
            let message = format!("invalid TOML: {}", error.message().replace('\n', " "));
            match error.span() {
                Some(span) => ctx.report(&span, "", message),
                None => ctx.report_unplaced("", message),
            }
            None
        }
        None => walk::scenario(&mut ctx, &root, default_name),
    };
    match scenario {
        Some(scenario) if ctx.is_clean() => Ok(scenario),
        _ => {
            if ctx.is_clean() {
                ctx.report_unplaced("", "the scenario is incomplete (no specific problem was found)");
            }
            Err(ScenarioErrors {
                file: source_name.to_owned(),
                problems: ctx.into_problems(),
            })
        }
    }
}

/// Reads and validates the scenario file at `path`; the scenario name defaults to the file
/// stem, and messages name the file as `path` was given. A file that cannot be read is one
/// problem without a line.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let source_name = path.display().to_string();
    let default_name = path.file_stem().map_or_else(
        || "scenario".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&source_name, &text, &default_name).map(|mut s| {
            // A relative font path is relative to the scenario file, not the working folder.
            if let Some(font) = s.report.font.as_mut()
                && font.is_relative()
                && let Some(dir) = path.parent()
            {
                *font = dir.join(&*font);
            }
            s
        }),
        Err(e) => Err(ScenarioErrors {
            file: source_name,
            problems: vec![Problem {
                line: None,
                column: None,
                key: String::new(),
                message: format!("cannot read the file: {e}"),
            }],
        }),
    }
}

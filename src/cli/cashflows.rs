//! `ipabs cashflows`: the exact cash-flow statement of one named case of defaults.

use std::path::PathBuf;

use super::{EXIT_USAGE, Failure, default_out, interrupted, load, say};
use crate::ledger::{Case, Statement};
use crate::report::cashflows::{csv_files, tables, xlsx};
use crate::report::table::grouped;
use crate::report::{WriteError, write_report};

#[derive(Debug, clap::Args)]
pub(crate) struct CashflowsArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Firms that default, as FIRM@PERIOD, comma-separated (e.g. F03@2,F11@3). Default: none.
    #[arg(long, default_value = "")]
    defaults: String,
    /// Guarantor parties or the undertaker that default, as NAME@PERIOD, comma-separated.
    #[arg(long, default_value = "")]
    party_defaults: String,
    /// Recovery rate applied to the defaulted firms (default: the scenario's fixed rate, or the
    /// mean of its Beta distribution).
    #[arg(long)]
    recovery: Option<String>,
    /// Output folder (default: reports/<scenario file stem>-cashflows/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn cashflows(args: &CashflowsArgs) -> Result<(), Failure> {
    let scenario = load(&args.scenario)?;
    let case = Case::parse(
        &scenario,
        &args.defaults,
        &args.party_defaults,
        args.recovery.as_deref(),
    )?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.scenario, &scenario.name, "-cashflows"));
    let statement = Statement::new(&scenario, &case);
    if !statement.is_balanced() {
        // The rules make this impossible; say so rather than write a wrong statement.
        return Err(Failure(
            "internal error: the cash-flow statement does not balance; please report this scenario".into(),
            EXIT_USAGE,
        ));
    }
    let tables = tables(&statement);
    let mut files = csv_files(&tables)?;
    files.push((
        "cashflows.xlsx".to_owned(),
        xlsx(&statement, &tables)
            .map_err(|e| Failure(format!("cannot build cashflows.xlsx: {e}"), EXIT_USAGE))?,
    ));
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    match write_report(&out_dir, &refs, &interrupted) {
        Err(WriteError::Interrupted) => return Err(Failure::interrupted()),
        other => other?,
    }
    if !args.quiet {
        use std::fmt::Write;
        let mut out = String::new();
        let t = &statement.totals;
        let _ = writeln!(
            out,
            "{}: {}; recovery rate {}; balanced in all {} periods",
            statement.scenario,
            statement.case_label,
            statement.recovery_rate.round_dp(6).normalize(),
            statement.periods.len()
        );
        let c = &statement.currency;
        for (label, x) in [
            ("missed", t.missed),
            ("guarantor payments", t.guarantor_paid),
            ("recoveries", t.recovered),
            ("pool loss", t.pool_loss),
            ("undertaker draw", t.undertaker_draw),
            ("residual", t.residual),
        ] {
            let _ = writeln!(out, "  {label:<20} {c} {:>20}", grouped(decimal_f64(x), 2));
        }
        let _ = writeln!(out, "wrote {}", out_dir.display());
        say(&out);
    }
    Ok(())
}

fn decimal_f64(x: rust_decimal::Decimal) -> f64 {
    crate::money::Amount::to_f64(x)
}

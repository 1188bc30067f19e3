//! The cash-flow statement as tables: CSV files and an Excel workbook.
//!
//! A [`Statement`] is laid out once, as a list of [`Table`]s of typed cells; the CSV and XLSX
//! renderers only format those cells. In the workbook every money amount is a number cell with
//! the format `#,##0.00` (never text), every sheet has its header row frozen, and the periods
//! sheet carries a native Excel line chart of the coverage ratio.
//!
//! Tables (one CSV file and one sheet each):
//!
//! | name | one row per | what |
//! |---|---|---|
//! | `periods` | period | the trust's cash: carried in, collections by source, undertaker draw, fees, interest, principal, carried out, the balance check, coverage |
//! | `firms` | period x firm | scheduled, paid and missed, guarantor payments, recoveries |
//! | `guarantors` | period x party | obligation, payment, reimbursement, paid to date, cap left |
//! | `tranches` | period x tranche | balances, interest and principal due and paid, undertaker |
//! | `totals` | item | the totals over the term (the Monte Carlo engine's per-path outputs) |

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{
    Chart, ChartType, DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, XlsxError,
};

use crate::ledger::Statement;

/// A cell of a statement table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// Money, shown with two decimals.
    Money(Decimal),
    /// A ratio or rate, shown with four decimals; `None` is an empty cell.
    Ratio(Option<Decimal>),
}

/// One table of the statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// File stem and sheet name.
    pub name: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

fn money(x: Decimal) -> Cell {
    Cell::Money(x)
}

fn opt_money(x: Option<Decimal>) -> Cell {
    x.map_or_else(|| Cell::Text(String::new()), Cell::Money)
}

fn yes_no(b: bool) -> Cell {
    Cell::Text(if b { "yes" } else { "no" }.to_owned())
}

/// The statement as tables, in sheet order.
pub fn tables(s: &Statement) -> Vec<Table> {
    let periods = Table {
        name: "periods",
        headers: vec![
            "period",
            "cash_carried_in",
            "firm_payments",
            "guarantor_payments",
            "recoveries",
            "recoveries_to_guarantors",
            "collections",
            "undertaker_draw",
            "cash_in",
            "fees_due",
            "fees_paid",
            "interest_paid",
            "principal_paid",
            "cash_out",
            "cash_carried_out",
            "imbalance",
            "coverage_ratio",
        ],
        rows: s
            .periods
            .iter()
            .map(|p| {
                vec![
                    Cell::Count(u64::from(p.period)),
                    money(p.cash_carried_in),
                    money(p.firm_payments),
                    money(p.guarantor_payments),
                    money(p.recoveries),
                    money(p.recoveries_to_guarantors),
                    money(p.collections),
                    money(p.undertaker_draw),
                    money(p.cash_in()),
                    money(p.fees_due),
                    money(p.fees_paid),
                    money(p.interest_paid),
                    money(p.principal_paid),
                    money(p.cash_out()),
                    money(p.cash_carried_out),
                    money(p.imbalance()),
                    Cell::Ratio(p.coverage),
                ]
            })
            .collect(),
    };
    let firms = Table {
        name: "firms",
        headers: vec![
            "period",
            "firm",
            "defaulted_in",
            "scheduled_principal",
            "scheduled_interest",
            "paid",
            "missed_principal",
            "missed_interest",
            "guaranteed",
            "recovery",
            "recovery_to_guarantors",
            "outstanding",
        ],
        rows: s
            .firms
            .iter()
            .map(|f| {
                vec![
                    Cell::Count(u64::from(f.period)),
                    Cell::Text(f.firm.clone()),
                    f.defaulted_in
                        .map_or_else(|| Cell::Text(String::new()), |d| Cell::Count(u64::from(d))),
                    money(f.scheduled_principal),
                    money(f.scheduled_interest),
                    money(f.paid),
                    money(f.missed_principal),
                    money(f.missed_interest),
                    money(f.guaranteed),
                    money(f.recovery),
                    money(f.recovery_to_guarantors),
                    money(f.outstanding),
                ]
            })
            .collect(),
    };
    let guarantors = Table {
        name: "guarantors",
        headers: vec![
            "period",
            "tier",
            "party",
            "share",
            "cap",
            "obligation",
            "paid",
            "reimbursed",
            "paid_to_date",
            "cap_left",
            "defaulted",
        ],
        rows: s
            .parties
            .iter()
            .map(|p| {
                vec![
                    Cell::Count(u64::from(p.period)),
                    Cell::Count(p.tier as u64),
                    Cell::Text(p.party.clone()),
                    Cell::Ratio(Some(p.share)),
                    opt_money(p.cap),
                    money(p.obligation),
                    money(p.paid),
                    money(p.reimbursed),
                    money(p.paid_to_date),
                    opt_money(p.cap_left),
                    yes_no(p.defaulted),
                ]
            })
            .collect(),
    };
    let tranches = Table {
        name: "tranches",
        headers: vec![
            "period",
            "tranche",
            "opening_balance",
            "interest_due",
            "interest_paid",
            "interest_shortfall",
            "principal_due",
            "principal_paid",
            "of_which_undertaker",
            "closing_balance",
        ],
        rows: s
            .tranches
            .iter()
            .map(|t| {
                vec![
                    Cell::Count(u64::from(t.period)),
                    Cell::Text(t.tranche.clone()),
                    money(t.opening_balance),
                    money(t.interest_due),
                    money(t.interest_paid),
                    money(t.interest_shortfall),
                    money(t.principal_due),
                    money(t.principal_paid),
                    money(t.undertaker),
                    money(t.closing_balance),
                ]
            })
            .collect(),
    };
    let t = &s.totals;
    let mut totals: Vec<(String, Cell)> = vec![
        ("case".into(), Cell::Text(s.case_label.clone())),
        ("recovery_rate".into(), Cell::Ratio(Some(s.recovery_rate))),
        ("missed".into(), money(t.missed)),
        ("guarantor_paid".into(), money(t.guarantor_paid)),
        ("recovered".into(), money(t.recovered)),
        ("reimbursed_to_guarantors".into(), money(t.reimbursed)),
        ("gross_default_loss".into(), money(t.gross_default_loss)),
        ("pool_loss".into(), money(t.pool_loss)),
        ("guarantor_shortfall".into(), money(t.guarantor_shortfall)),
        ("undertaker_draw".into(), money(t.undertaker_draw)),
        ("fees_paid".into(), money(t.fees_paid)),
        ("residual".into(), money(t.residual)),
    ];
    let party_names = s.parties.iter().take(t.parties.len()).map(|p| p.party.as_str());
    for (name, p) in party_names.zip(&t.parties) {
        totals.push((format!("{name}: payout"), money(p.payout)));
        totals.push((format!("{name}: net_payout"), money(p.net_payout)));
        totals.push((format!("{name}: shortfall"), money(p.shortfall)));
        totals.push((format!("{name}: cap_exhausted"), yes_no(p.cap_exhausted)));
    }
    let tranche_names = s
        .tranches
        .iter()
        .take(t.tranches.len())
        .map(|r| r.tranche.as_str());
    for (name, tr) in tranche_names.zip(&t.tranches) {
        totals.push((
            format!("{name}: interest_shortfall"),
            money(tr.interest_shortfall),
        ));
        totals.push((format!("{name}: principal_loss"), money(tr.principal_loss)));
    }
    let totals = Table {
        name: "totals",
        headers: vec!["item", "value"],
        rows: totals.into_iter().map(|(k, v)| vec![Cell::Text(k), v]).collect(),
    };
    vec![periods, firms, guarantors, tranches, totals]
}

/// The text of a cell in CSV: money with exactly two decimals, ratios with four.
fn csv_text(c: &Cell) -> String {
    match c {
        Cell::Text(t) => t.clone(),
        Cell::Count(n) => n.to_string(),
        Cell::Money(x) => format!("{x:.2}"),
        Cell::Ratio(Some(x)) => format!("{x:.4}"),
        Cell::Ratio(None) => String::new(),
    }
}

/// One CSV file per table: `(file name, bytes)`.
pub fn csv_files(tables: &[Table]) -> Result<Vec<(String, Vec<u8>)>, csv::Error> {
    tables
        .iter()
        .map(|t| {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(&t.headers)?;
            for row in &t.rows {
                w.write_record(row.iter().map(csv_text))?;
            }
            let bytes = w.into_inner().map_err(|e| e.into_error())?;
            Ok((format!("{}.csv", t.name), bytes))
        })
        .collect()
}

/// The workbook: a sheet per table, money as numbers formatted `#,##0.00`, header rows frozen,
/// and a line chart of the coverage ratio next to the periods table. Its creation date is fixed
/// (2000-01-01), so the same statement gives the same bytes.
pub fn xlsx(s: &Statement, tables: &[Table]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let epoch = ExcelDateTime::from_ymd(2000, 1, 1)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&epoch));
    let header = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_text_wrap()
        .set_background_color("#DDEBF7");
    let money_fmt = Format::new().set_num_format("#,##0.00");
    let ratio_fmt = Format::new().set_num_format("0.0000");
    for table in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(table.name)?;
        for (c, h) in table.headers.iter().enumerate() {
            let c = c as u16;
            sheet.write_string_with_format(0, c, h.replace('_', " "), &header)?;
            sheet.set_column_width(c, if *h == "item" { 34 } else { 16 })?;
        }
        sheet.set_row_height(0, 32)?;
        sheet.set_freeze_panes(1, 0)?;
        for (r, row) in table.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(t) if t.is_empty() => {}
                    Cell::Text(t) => {
                        sheet.write_string(r, c, t)?;
                    }
                    Cell::Count(n) => {
                        sheet.write_number(r, c, *n as f64)?;
                    }
                    Cell::Money(x) => {
                        sheet.write_number_with_format(r, c, x.to_f64().unwrap_or(0.0), &money_fmt)?;
                    }
                    Cell::Ratio(Some(x)) => {
                        sheet.write_number_with_format(r, c, x.to_f64().unwrap_or(0.0), &ratio_fmt)?;
                    }
                    Cell::Ratio(None) => {}
                }
            }
        }
        if table.name == "periods" && s.periods.iter().any(|p| p.coverage.is_some()) {
            let last = table.rows.len() as u32;
            let col = table
                .headers
                .iter()
                .position(|h| *h == "coverage_ratio")
                .unwrap_or(0) as u16;
            let mut chart = Chart::new(ChartType::Line);
            chart
                .add_series()
                .set_categories((table.name, 1, 0, last, 0))
                .set_values((table.name, 1, col, last, col))
                .set_name("coverage ratio");
            chart.title().set_name("Coupon coverage ratio by period");
            chart.x_axis().set_name("period");
            chart.y_axis().set_name("(collections - fees) / senior interest");
            chart.legend().set_hidden();
            sheet.insert_chart(last + 3, 1, &chart)?;
        }
    }
    book.save_to_buffer()
}

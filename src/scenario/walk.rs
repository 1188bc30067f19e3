//! Walks the spanned TOML tree section by section and builds the [`Scenario`].
//!
//! This file owns the *shape* of the format: which keys each table allows, which are required,
//! their defaults and the kind each is read as. Sections are read in dependency order (deal,
//! credit, firms, tiers, undertaker, tranches) so that later sections can resolve references
//! (sectors, firm ids) and check schedules against the term; the rules themselves live in
//! [`super::validate`].
//!
//! Every reader keeps going after a problem and returns `None` if anything in its part of the
//! file was wrong, so one pass reports every problem and no follow-on errors are invented from
//! values that were already rejected.

use std::ops::Range;

use rust_decimal::Decimal;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::tree::{Count, Ctx, Field, Flag, Interval, MemorySize, Money, Number, Table, Text};
use super::validate;
use crate::importance::{Target, Tilt};
use crate::model::{
    Amortisation, Copula, Credit, CreditInput, Deal, Fees, Firm, ImportanceSpec, Language, OwnDefault, Party,
    Patents, Recovery, RecoveryRate, ReportSettings, Scenario, Simulation, TargetSe, Tier, Tranche,
    Undertaker,
};

/// Keys of the top level.
pub(crate) const ROOT_KEYS: &[&str] = &[
    "name",
    "currency",
    "description",
    "deal",
    "simulation",
    "credit",
    "recovery",
    "firms",
    "tiers",
    "undertaker",
    "tranches",
    "fees",
    "report",
];
/// Keys of `[deal]`.
pub(crate) const DEAL_KEYS: &[&str] = &["periods_per_year", "term_periods"];
/// Keys of `[simulation]`.
pub(crate) const SIMULATION_KEYS: &[&str] = &["paths", "seed", "target_se", "importance", "max_memory"];
/// Keys of `[simulation] importance = { … }`.
pub(crate) const IMPORTANCE_KEYS: &[&str] = &["metric", "shift"];
/// Keys of `[simulation] target_se = { … }`.
pub(crate) const TARGET_SE_KEYS: &[&str] = &["metric", "value", "max_paths"];
/// Keys of `[credit]`.
pub(crate) const CREDIT_KEYS: &[&str] = &[
    "copula",
    "dof",
    "asset_correlation",
    "sectors",
    "sector_correlation",
];
/// Keys of `[recovery]`.
pub(crate) const RECOVERY_KEYS: &[&str] =
    &["rate", "beta", "lag_periods", "reimburse_guarantors", "value_vol"];
/// Keys of `[recovery] beta = { ... }`.
pub(crate) const BETA_KEYS: &[&str] = &["a", "b"];
/// Keys of each `[[firms]]`.
pub(crate) const FIRM_KEYS: &[&str] = &[
    "id",
    "sector",
    "principal",
    "rate",
    "amortisation",
    "annual_pd",
    "hazard",
    "asset_correlation",
    "patents",
];
/// Keys of a firm's `patents`.
pub(crate) const PATENT_KEYS: &[&str] = &["invention", "utility_model", "design", "appraised_value"];
/// Keys of each `[[tiers]]`.
pub(crate) const TIER_KEYS: &[&str] = &["name", "parties"];
/// Keys of each party of a tier.
pub(crate) const PARTY_KEYS: &[&str] = &[
    "name",
    "share",
    "cap",
    "annual_pd",
    "sector",
    "asset_correlation",
    "firms",
    "principal_only",
];
/// Keys of `[undertaker]`.
pub(crate) const UNDERTAKER_KEYS: &[&str] = &["name", "cap", "annual_pd", "sector", "asset_correlation"];
/// Keys of each `[[tranches]]`.
pub(crate) const TRANCHE_KEYS: &[&str] = &["name", "notional", "coupon", "amortisation"];
/// Keys of `[fees]`.
pub(crate) const FEES_KEYS: &[&str] = &["annual_rate"];
/// Keys of `[report]`.
pub(crate) const REPORT_KEYS: &[&str] = &["font", "language"];

/// Default probabilities: `[0, 1)`.
const PROBABILITY: Number = Number(Interval::closed_open(0.0, 1.0));
/// Recovery rates, shares and asset correlations: `[0, 1]`.
const UNIT: Number = Number(Interval::closed(0.0, 1.0));
/// Sector correlations: `[-1, 1]`.
const CORRELATION: Number = Number(Interval::closed(-1.0, 1.0));
/// Rates, hazards, volatilities: `>= 0`.
const NON_NEGATIVE: Number = Number(Interval::at_least(0.0));
/// Degrees of freedom and Beta parameters: `> 0`.
const POSITIVE: Number = Number(Interval::above(0.0));
/// Importance-sampling shifts, in standard deviations.
const SHIFT: Number = Number(Interval::closed(-Tilt::MAX_SHIFT, Tilt::MAX_SHIFT));
/// Counts that may be zero (patents, lag, periods_per_year before its own check).
const COUNT: Count<u32> = Count::at_least(0);

/// What later sections need to know from earlier ones (`None`: that part was wrong or absent,
/// and checks depending on it are skipped).
struct Known {
    term_periods: Option<u32>,
    sectors: Option<Vec<String>>,
    asset_correlation: Option<f64>,
    firm_ids: Option<Vec<String>>,
}

/// Reads every item, even after one fails, and gives all of them or `None`.
fn read_all<T>(items: impl Iterator<Item = Option<T>>) -> Option<Vec<T>> {
    let read: Vec<Option<T>> = items.collect();
    read.into_iter().collect()
}

/// Reports every name that repeats an earlier one (`what` names the kind, e.g. "firm id");
/// `fields[i]` is where `names[i]` was given. Returns whether all were unique.
fn no_duplicates(ctx: &mut Ctx<'_>, names: &[String], fields: &[Field<'_, '_>], what: &str) -> bool {
    let repeats = validate::duplicates(names.iter().map(String::as_str));
    for &(later, first) in &repeats {
        let first_path = &fields[first].path;
        fields[later].report(
            ctx,
            format!(
                "duplicate {what} {:?} (first given at {first_path})",
                names[later]
            ),
        );
    }
    repeats.is_empty()
}

/// The whole scenario, or `None` if anything was reported.
pub(crate) fn scenario(
    ctx: &mut Ctx<'_>,
    root: &Spanned<DeTable<'_>>,
    default_name: &str,
) -> Option<Scenario> {
    let root = Table::root(ctx, root, ROOT_KEYS);
    let name = name(ctx, &root, default_name);
    let currency = root.or(ctx, "currency", &Text, "CNY".to_owned());
    let description = root.opt(ctx, "description", &Text);

    let (periods_per_year, term_periods) = match root.required(ctx, "deal") {
        Some(field) => deal(ctx, &field),
        None => (None, None),
    };
    let mut importance_at = None;
    let simulation = root
        .required(ctx, "simulation")
        .and_then(|f| simulation(ctx, &f, &mut importance_at));
    let credit = match root.required(ctx, "credit") {
        Some(field) => credit(ctx, &field),
        None => CreditParts::default(),
    };
    let recovery = match root.field("recovery") {
        Some(field) => recovery(ctx, &field),
        None => Some(Recovery::default()),
    };

    let mut known = Known {
        term_periods,
        sectors: credit.sectors.clone(),
        asset_correlation: credit.asset_correlation,
        firm_ids: None,
    };
    let firms = firms(ctx, &root, &mut known);
    let tiers = match root.field("tiers") {
        Some(field) => field
            .array(ctx, "an array of tables ([[tiers]])")
            .and_then(|items| {
                read_all(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| tier(ctx, item, i, &known)),
                )
            }),
        None => Some(Vec::new()),
    };
    let undertaker = match root.field("undertaker") {
        Some(field) => undertaker(ctx, &field, &known).map(Some),
        None => Some(None),
    };
    let tranches = match root.field("tranches") {
        Some(field) => tranches(ctx, &field, &known),
        None => Some(Vec::new()),
    };
    let fees = match root.field("fees") {
        Some(field) => fees(ctx, &field),
        None => Some(Fees::default()),
    };
    let report = match root.field("report") {
        Some(field) => report(ctx, &field),
        None => Some(ReportSettings::default()),
    };
    let sizes_fit = match (&firms, &tranches) {
        (Some(firms), Some(tranches)) => notes_fit_pool(ctx, &root, firms, tranches),
        _ => false,
    };

    let description = description?;
    if !sizes_fit {
        return None;
    }
    let scenario = Scenario {
        name: name?,
        description,
        currency: currency?,
        deal: Deal {
            periods_per_year: periods_per_year?,
            term_periods: term_periods?,
        },
        simulation: simulation?,
        credit: Credit {
            copula: credit.copula?,
            asset_correlation: credit.asset_correlation?,
            sectors: credit.sectors?,
            sector_correlation: credit.sector_correlation?,
        },
        recovery: recovery?,
        firms: firms?,
        tiers: tiers?,
        undertaker: undertaker?,
        tranches: tranches?,
        fees: fees?,
        report: report?,
    };
    importance_fits(ctx, &scenario, importance_at).then_some(scenario)
}

/// Checks `[simulation] importance` against the scenario (a metric it has, a shift of the right
/// length); `at` is where its `metric` or `shift` was given.
fn importance_fits(ctx: &mut Ctx<'_>, scenario: &Scenario, at: Option<(Range<usize>, String)>) -> bool {
    let (Some(spec), Some((span, key))) = (&scenario.simulation.importance, at) else {
        return true;
    };
    let problem = match spec {
        ImportanceSpec::Metric(m) => Target::parse(m, scenario).err(),
        ImportanceSpec::Shift(mu) => Tilt::check_for_scenario(scenario, mu)
            .err()
            .map(|e| e.to_string()),
    };
    match problem {
        Some(message) => {
            ctx.report(&span, &key, message);
            false
        }
        None => true,
    }
}

/// `name`: the file's own, checked as a folder label, or `default_name`.
fn name(ctx: &mut Ctx<'_>, root: &Table<'_, '_>, default_name: &str) -> Option<String> {
    let Some(field) = root.field("name") else {
        return Some(default_name.to_owned());
    };
    let name = field.read(ctx, &Text)?;
    let rule = validate::label(&name);
    field.check(ctx, rule.map(|()| name))
}

/// `[deal]`: `(periods_per_year, term_periods)`.
fn deal(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> (Option<u32>, Option<u32>) {
    let Some(t) = field.table(ctx, DEAL_KEYS) else {
        return (None, None);
    };
    let periods_per_year = t.required(ctx, "periods_per_year").and_then(|f| {
        let m = f.read(ctx, &COUNT)?;
        f.check(ctx, validate::periods_per_year(m).map(|()| m))
    });
    let term_periods = t.required(ctx, "term_periods").and_then(|f| {
        let n = f.read(ctx, &Count::at_least(1))?;
        f.check(ctx, validate::term_periods(n).map(|()| n))
    });
    (periods_per_year, term_periods)
}

/// `[simulation]`; `importance_at` is set to where importance sampling's `metric` or `shift`
/// was given (checked against the whole scenario at the end).
fn simulation(
    ctx: &mut Ctx<'_>,
    field: &Field<'_, '_>,
    importance_at: &mut Option<(Range<usize>, String)>,
) -> Option<Simulation> {
    let t = field.table(ctx, SIMULATION_KEYS)?;
    let paths = t.req(ctx, "paths", &Count::at_least(1));
    let seed = t.req(ctx, "seed", &Count::at_least(0));
    let target_se = match t.field("target_se") {
        Some(f) => target_se(ctx, &f).map(Some),
        None => Some(None),
    };
    let importance = match t.field("importance") {
        Some(f) => importance(ctx, &f, importance_at).map(Some),
        None => Some(None),
    };
    let max_memory = t.opt(ctx, "max_memory", &MemorySize);
    Some(Simulation {
        paths: paths?,
        seed: seed?,
        target_se: target_se?,
        importance: importance?,
        max_memory: max_memory?,
    })
}

/// `importance = { metric = "tranches.senior.p_loss" }` or `importance = { shift = [-1.5, …] }`.
fn importance(
    ctx: &mut Ctx<'_>,
    field: &Field<'_, '_>,
    at: &mut Option<(Range<usize>, String)>,
) -> Option<ImportanceSpec> {
    let t = field.table(ctx, IMPORTANCE_KEYS)?;
    match exactly_one(
        ctx,
        &t,
        "metric",
        "shift",
        "metric = \"auto\" (or a summary.json metric) or shift = [one number per sector, ...]",
    )? {
        Which::First(f) => {
            let metric = f.read(ctx, &Text)?;
            *at = Some((f.span(), f.path.clone()));
            Some(ImportanceSpec::Metric(metric))
        }
        Which::Second(f) => {
            let items = f.array(ctx, "an array of numbers")?;
            let shift = read_all(items.iter().map(|x| x.read(ctx, &SHIFT)))?;
            *at = Some((f.span(), f.path.clone()));
            Some(ImportanceSpec::Shift(shift))
        }
    }
}

/// `target_se = { metric = "pool_loss.mean", value = 1000.0, max_paths = 10000000 }`.
fn target_se(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<TargetSe> {
    let t = field.table(ctx, TARGET_SE_KEYS)?;
    let metric = t.req(ctx, "metric", &Text);
    let value = t.req(ctx, "value", &POSITIVE);
    let max_paths = t.opt(ctx, "max_paths", &Count::at_least(1));
    Some(TargetSe {
        metric: metric?,
        value: value?,
        max_paths: max_paths?,
    })
}

/// The parts of `[credit]`, each `None` if wrong, so that firms can still resolve sectors when
/// only the copula is wrong.
#[derive(Default)]
struct CreditParts {
    copula: Option<Copula>,
    asset_correlation: Option<f64>,
    sectors: Option<Vec<String>>,
    sector_correlation: Option<Vec<f64>>,
}

/// `[credit]`.
fn credit(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> CreditParts {
    let Some(t) = field.table(ctx, CREDIT_KEYS) else {
        return CreditParts::default();
    };
    let copula = copula(ctx, &t);
    let asset_correlation = t.req(ctx, "asset_correlation", &UNIT);
    let sectors = sectors(ctx, &t);
    let sector_correlation = sector_correlation(ctx, &t, sectors.as_ref().map(Vec::len));
    CreditParts {
        copula,
        asset_correlation,
        sectors,
        sector_correlation,
    }
}

/// `copula` (default `"gaussian"`) and `dof` (required with, and only with, `"t"`).
fn copula(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<Copula> {
    let kind = t.or(ctx, "copula", &Text, "gaussian".to_owned())?;
    match kind.as_str() {
        "gaussian" => match t.field("dof") {
            Some(dof) => {
                dof.report(ctx, "only allowed with copula = \"t\"");
                None
            }
            None => Some(Copula::Gaussian),
        },
        "t" => match t.field("dof") {
            Some(dof) => dof.read(ctx, &POSITIVE).map(|dof| Copula::StudentT { dof }),
            None => {
                t.missing(
                    ctx,
                    "dof",
                    "copula = \"t\" needs its degrees of freedom, e.g. dof = 5",
                );
                None
            }
        },
        other => {
            let field = t.field("copula")?;
            field.report(ctx, format!("must be \"gaussian\" or \"t\", got {other:?}"));
            None
        }
    }
}

/// `sectors`: a non-empty list of unique names.
fn sectors(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<Vec<String>> {
    let field = t.required(ctx, "sectors")?;
    let items = field.array(ctx, "an array of sector names")?;
    if items.is_empty() {
        field.report(ctx, "must list at least one sector");
        return None;
    }
    if items.len() > validate::MAX_SECTORS {
        field.report(
            ctx,
            format!(
                "at most {} sectors are allowed, got {}",
                validate::MAX_SECTORS,
                items.len()
            ),
        );
        return None;
    }
    unique_names(ctx, &items, "sector")
}

/// Reads a list of names and reports repeats.
fn unique_names(ctx: &mut Ctx<'_>, items: &[Field<'_, '_>], what: &str) -> Option<Vec<String>> {
    let names = read_all(items.iter().map(|item| item.read(ctx, &Text)))?;
    no_duplicates(ctx, &names, items, what).then_some(names)
}

/// `sector_correlation`: absent (0), one number for every pair, or the full matrix. `n` is the
/// number of sectors, when known.
fn sector_correlation(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, n: Option<usize>) -> Option<Vec<f64>> {
    let Some(field) = t.field("sector_correlation") else {
        return n.map(|n| validate::common_matrix(0.0, n));
    };
    if let DeValue::Array(_) = field.node.get_ref() {
        return sector_matrix(ctx, &field, n);
    }
    let c = field.read(ctx, &CORRELATION)?;
    let n = n?;
    let rule = validate::common_correlation(c, n).map(|()| validate::common_matrix(c, n));
    field.check(ctx, rule)
}

/// A full sector correlation matrix `[[...], ...]`, row-major.
fn sector_matrix(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, n: Option<usize>) -> Option<Vec<f64>> {
    let rows = field.array(ctx, "a number or a matrix")?;
    let size = n.unwrap_or(rows.len());
    if size == 0 || size > validate::MAX_SECTORS {
        // The sector list is wrong; it has been reported.
        return None;
    }
    let mut fits = true;
    if rows.len() != size {
        field.report(
            ctx,
            format!(
                "has {} rows, but there are {size} sectors (a full {size} x {size} matrix is needed)",
                rows.len()
            ),
        );
        fits = false;
    }
    let mut entries = Vec::with_capacity(size * size);
    let mut cells = Vec::with_capacity(size * size);
    for row in &rows {
        let Some(row_cells) = row.array(ctx, "an array (one row of the matrix)") else {
            fits = false;
            continue;
        };
        if row_cells.len() != size {
            row.report(
                ctx,
                format!("has {} entries, but there are {size} sectors", row_cells.len()),
            );
            fits = false;
            continue;
        }
        for cell in row_cells {
            match cell.read(ctx, &CORRELATION) {
                Some(x) => entries.push(x),
                None => fits = false,
            }
            cells.push(cell);
        }
    }
    if !fits {
        return None;
    }
    let faults = validate::matrix_shape_faults(&entries, size);
    for (i, j, message) in &faults {
        cells[i * size + j].report(ctx, message.as_str());
    }
    if !faults.is_empty() {
        return None;
    }
    field.check(ctx, validate::positive_semi_definite(&entries, size))?;
    validate::symmetrise(&mut entries, size);
    Some(entries)
}

/// `[recovery]`: `rate` or `beta`, lag, reimbursement and value shock.
fn recovery(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<Recovery> {
    let t = field.table(ctx, RECOVERY_KEYS)?;
    let rate = match exactly_one(
        ctx,
        &t,
        "rate",
        "beta",
        "rate = 0.35 or beta = { a = 2.0, b = 3.0 }",
    ) {
        Some(Which::First(f)) => f.read(ctx, &UNIT).map(RecoveryRate::Fixed),
        Some(Which::Second(f)) => beta(ctx, &f),
        None => None,
    };
    let lag_periods = t.or(ctx, "lag_periods", &COUNT, 0);
    let reimburse_guarantors = t.or(ctx, "reimburse_guarantors", &Flag, true);
    let value_vol = t.opt(ctx, "value_vol", &NON_NEGATIVE);
    Some(Recovery {
        rate: rate?,
        lag_periods: lag_periods?,
        reimburse_guarantors: reimburse_guarantors?,
        value_vol: value_vol?,
    })
}

/// `beta = { a, b }`.
fn beta(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<RecoveryRate> {
    let t = field.table(ctx, BETA_KEYS)?;
    let a = t.req(ctx, "a", &POSITIVE);
    let b = t.req(ctx, "b", &POSITIVE);
    Some(RecoveryRate::Beta { a: a?, b: b? })
}

/// Which of two mutually exclusive keys was given.
enum Which<'a, 'i> {
    First(Field<'a, 'i>),
    Second(Field<'a, 'i>),
}

/// Exactly one of `first` and `second` must be present; `hint` says how to write them.
fn exactly_one<'a, 'i>(
    ctx: &mut Ctx<'_>,
    t: &Table<'a, 'i>,
    first: &str,
    second: &str,
    hint: &str,
) -> Option<Which<'a, 'i>> {
    match (t.field(first), t.field(second)) {
        (Some(f), None) => Some(Which::First(f)),
        (None, Some(f)) => Some(Which::Second(f)),
        (Some(_), Some(f)) => {
            f.report(ctx, format!("give either {first} or {second}, not both"));
            None
        }
        (None, None) => {
            t.missing(ctx, first, &format!("give {hint}"));
            None
        }
    }
}

/// `[[firms]]`: at least one, unique ids. Records the ids in `known` for the tiers.
fn firms(ctx: &mut Ctx<'_>, root: &Table<'_, '_>, known: &mut Known) -> Option<Vec<Firm>> {
    let Some(field) = root.field("firms") else {
        root.missing(ctx, "firms", "at least one [[firms]] table");
        return None;
    };
    let items = field.array(ctx, "an array of tables ([[firms]])")?;
    if items.is_empty() {
        field.report(ctx, "must contain at least one firm");
        return None;
    }
    let mut firms = Vec::with_capacity(items.len());
    let mut ids = Vec::with_capacity(items.len());
    let mut id_fields = Vec::with_capacity(items.len());
    let mut all_ids = true;
    let mut all_firms = true;
    for item in &items {
        let Some(t) = item.table(ctx, FIRM_KEYS) else {
            all_ids = false;
            all_firms = false;
            continue;
        };
        let id = t.req(ctx, "id", &Text);
        match (&id, t.field("id")) {
            (Some(id), Some(id_field)) => {
                ids.push(id.clone());
                id_fields.push(id_field);
            }
            _ => all_ids = false,
        }
        match firm(ctx, &t, id, known) {
            Some(firm) => firms.push(firm),
            None => all_firms = false,
        }
    }
    let unique = no_duplicates(ctx, &ids, &id_fields, "firm id");
    known.firm_ids = (all_ids && unique).then_some(ids);
    (all_firms && unique).then_some(firms)
}

/// One firm (its `id` already read).
fn firm(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, id: Option<String>, known: &Known) -> Option<Firm> {
    let sector = t.required(ctx, "sector").and_then(|f| sector_ref(ctx, &f, known));
    let principal = t.req(ctx, "principal", &Money::Positive);
    let rate = t.or(ctx, "rate", &NON_NEGATIVE, 0.0);
    let amortisation = amortisation(ctx, t, principal, known, "principal");
    let credit = match exactly_one(
        ctx,
        t,
        "annual_pd",
        "hazard",
        "annual_pd = 0.02 or hazard = 0.0202",
    ) {
        Some(Which::First(f)) => f.read(ctx, &PROBABILITY).map(CreditInput::AnnualPd),
        Some(Which::Second(f)) => f.read(ctx, &NON_NEGATIVE).map(CreditInput::Hazard),
        None => None,
    };
    let asset_correlation = t.opt(ctx, "asset_correlation", &UNIT);
    let patents = match t.field("patents") {
        Some(f) => patents(ctx, &f).map(Some),
        None => Some(None),
    };
    Some(Firm {
        id: id?,
        sector: sector?,
        principal: principal?,
        rate: rate?,
        amortisation: amortisation?,
        credit: credit?,
        asset_correlation: asset_correlation?.or(known.asset_correlation)?,
        patents: patents?,
    })
}

/// A sector name resolved to its index (unresolved, silently, when the sector list is wrong).
fn sector_ref(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, known: &Known) -> Option<usize> {
    let name = field.read(ctx, &Text)?;
    let sectors = known.sectors.as_ref()?;
    field.check(ctx, validate::lookup(&name, sectors, "sector"))
}

/// `amortisation` of a firm or tranche: `"bullet"` (default), `"level"` or one amount per
/// period summing to `principal` (`what` names it in messages).
fn amortisation(
    ctx: &mut Ctx<'_>,
    t: &Table<'_, '_>,
    principal: Option<Decimal>,
    known: &Known,
    what: &str,
) -> Option<Amortisation> {
    let Some(field) = t.field("amortisation") else {
        return Some(Amortisation::Bullet);
    };
    let expected = "\"bullet\", \"level\" or a list of per-period amounts";
    match field.node.get_ref() {
        DeValue::String(s) if s == "bullet" => Some(Amortisation::Bullet),
        DeValue::String(s) if s == "level" => Some(Amortisation::Level),
        DeValue::String(s) => {
            field.report(ctx, format!("must be {expected}, got {s:?}"));
            None
        }
        DeValue::Array(_) => {
            let items = field.array(ctx, expected)?;
            let amounts = read_all(items.iter().map(|item| item.read(ctx, &Money::NonNegative)))?;
            let rule = validate::amortisation(&amounts, principal?, known.term_periods, what);
            field.check(ctx, rule.map(|()| Amortisation::Explicit(amounts)))
        }
        _ => {
            field.wrong_type(ctx, expected);
            None
        }
    }
}

/// A firm's `patents = { invention, utility_model, design, appraised_value }`.
fn patents(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<Patents> {
    let t = field.table(ctx, PATENT_KEYS)?;
    let invention = t.or(ctx, "invention", &COUNT, 0);
    let utility_model = t.or(ctx, "utility_model", &COUNT, 0);
    let design = t.or(ctx, "design", &COUNT, 0);
    let appraised_value = t.opt(ctx, "appraised_value", &Money::NonNegative);
    Some(Patents {
        invention: invention?,
        utility_model: utility_model?,
        design: design?,
        appraised_value: appraised_value?,
    })
}

/// One `[[tiers]]` table (`index` from 0, for the default name `tier N`).
fn tier(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, index: usize, known: &Known) -> Option<Tier> {
    let t = field.table(ctx, TIER_KEYS)?;
    let name = t.or(ctx, "name", &Text, format!("tier {}", index + 1));
    let parties = t.required(ctx, "parties").and_then(|f| parties(ctx, &f, known));
    Some(Tier {
        name: name?,
        parties: parties?,
    })
}

/// A tier's `parties`: at least one, shares summing to 1.
fn parties(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, known: &Known) -> Option<Vec<Party>> {
    let items = field.array(ctx, "an array of party tables")?;
    if items.is_empty() {
        field.report(ctx, "a tier needs at least one party");
        return None;
    }
    let parties = read_all(items.iter().map(|item| party(ctx, item, known)))?;
    let shares: Vec<f64> = parties.iter().map(|p| p.share).collect();
    field.check(ctx, validate::shares(&shares).map(|()| parties))
}

/// One party of a tier.
fn party(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, known: &Known) -> Option<Party> {
    let t = field.table(ctx, PARTY_KEYS)?;
    let name = t.req(ctx, "name", &Text);
    let share = t.req(ctx, "share", &UNIT);
    let cap = t.opt(ctx, "cap", &Money::NonNegative);
    let own_default = own_default(ctx, &t, known);
    let firms = match t.field("firms") {
        Some(f) => firm_refs(ctx, &f, known).map(Some),
        None => Some(None),
    };
    let principal_only = t.or(ctx, "principal_only", &Flag, false);
    Some(Party {
        name: name?,
        share: share?,
        cap: cap?,
        own_default: own_default?,
        firms: firms?,
        principal_only: principal_only?,
    })
}

/// A party's `firms`: known firm ids, no repeats, resolved to firm indices.
fn firm_refs(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, known: &Known) -> Option<Vec<usize>> {
    let items = field.array(ctx, "an array of firm ids")?;
    if items.is_empty() {
        field.report(
            ctx,
            "must name at least one firm id (leave `firms` out to cover every firm)",
        );
        return None;
    }
    let names = unique_names(ctx, &items, "firm id")?;
    let ids = known.firm_ids.as_ref()?;
    read_all(
        names
            .iter()
            .zip(&items)
            .map(|(name, item)| item.check(ctx, validate::lookup(name, ids, "firm id"))),
    )
}

/// The optional own default of a party or the undertaker: `annual_pd`, with `sector` and
/// `asset_correlation` (default: the deal's; the model ignores it without a sector) only
/// alongside it. `Some(None)`: no own default.
fn own_default(ctx: &mut Ctx<'_>, t: &Table<'_, '_>, known: &Known) -> Option<Option<OwnDefault>> {
    let annual_pd = t.opt(ctx, "annual_pd", &PROBABILITY);
    let sector = match t.field("sector") {
        Some(f) => sector_ref(ctx, &f, known).map(Some),
        None => Some(None),
    };
    let asset_correlation = t.opt(ctx, "asset_correlation", &UNIT);
    let mut consistent = true;
    if !t.has("annual_pd") {
        for key in ["sector", "asset_correlation"] {
            if let Some(f) = t.field(key) {
                f.report(ctx, "only allowed together with annual_pd (its own default)");
                consistent = false;
            }
        }
    }
    let (annual_pd, sector, asset_correlation) = (annual_pd?, sector?, asset_correlation?);
    if !consistent {
        return None;
    }
    let Some(annual_pd) = annual_pd else {
        return Some(None);
    };
    Some(Some(OwnDefault {
        annual_pd,
        sector,
        asset_correlation: asset_correlation.or(known.asset_correlation)?,
    }))
}

/// `[undertaker]`.
fn undertaker(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, known: &Known) -> Option<Undertaker> {
    let t = field.table(ctx, UNDERTAKER_KEYS)?;
    let name = t.or(ctx, "name", &Text, "undertaker".to_owned());
    let cap = t.opt(ctx, "cap", &Money::NonNegative);
    let own_default = own_default(ctx, &t, known);
    Some(Undertaker {
        name: name?,
        cap: cap?,
        own_default: own_default?,
    })
}

/// `[[tranches]]`, most senior first.
fn tranches(ctx: &mut Ctx<'_>, field: &Field<'_, '_>, known: &Known) -> Option<Vec<Tranche>> {
    let items = field.array(ctx, "an array of tables ([[tranches]])")?;
    read_all(items.iter().map(|item| {
        let t = item.table(ctx, TRANCHE_KEYS)?;
        let name = t.req(ctx, "name", &Text);
        let notional = t.req(ctx, "notional", &Money::Positive);
        let coupon = t.req(ctx, "coupon", &NON_NEGATIVE);
        let amortisation = amortisation(ctx, &t, notional, known, "notional");
        Some(Tranche {
            name: name?,
            notional: notional?,
            coupon: coupon?,
            amortisation: amortisation?,
        })
    }))
}

/// `[fees]`.
fn fees(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<Fees> {
    let t = field.table(ctx, FEES_KEYS)?;
    let annual_rate = t.or(ctx, "annual_rate", &NON_NEGATIVE, 0.0)?;
    Some(Fees { annual_rate })
}

/// `[report]`: `font` (a path, kept as written) and `language` (`"en"` or `"zh"`).
fn report(ctx: &mut Ctx<'_>, field: &Field<'_, '_>) -> Option<ReportSettings> {
    let t = field.table(ctx, REPORT_KEYS)?;
    let font = t.opt(ctx, "font", &Text);
    let language = match t.field("language") {
        Some(f) => f.read(ctx, &Text).and_then(|code| {
            let parsed =
                Language::parse(&code).ok_or_else(|| format!("must be \"en\" or \"zh\", got {code:?}"));
            f.check(ctx, parsed)
        }),
        None => Some(Language::default()),
    };
    Some(ReportSettings {
        font: font?.map(std::path::PathBuf::from),
        language: language?,
    })
}

/// The pool notional and the notes' total are representable, and the notes do not exceed the
/// pool. Problems point at `firms` / `tranches`.
fn notes_fit_pool(ctx: &mut Ctx<'_>, root: &Table<'_, '_>, firms: &[Firm], tranches: &[Tranche]) -> bool {
    let span_of = |key: &str| -> Range<usize> { root.field(key).map_or_else(|| root.span(), |f| f.span()) };
    let Some(pool) = validate::total(firms.iter().map(|f| f.principal)) else {
        ctx.report(
            &span_of("firms"),
            "firms",
            "the principals sum beyond the range of a money amount",
        );
        return false;
    };
    let Some(notes) = validate::total(tranches.iter().map(|t| t.notional)) else {
        ctx.report(
            &span_of("tranches"),
            "tranches",
            "the notionals sum beyond the range of a money amount",
        );
        return false;
    };
    match validate::tranche_total(notes, pool) {
        Ok(()) => true,
        Err(message) => {
            ctx.report(&span_of("tranches"), "tranches", message);
            false
        }
    }
}

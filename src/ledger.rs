//! The exact cash-flow statement: one named case of defaults, period by period, to the cent.
//!
//! A [`Case`] says which firms default in which period (`F03@2`: firm `F03` defaults in period
//! 2), optionally which guarantor parties or the undertaker default, and the recovery rate.
//! [`Statement::new`] runs it through the very rules the Monte Carlo engine uses —
//! [`FirmSchedule`], [`LossSharing::allocate`] / [`LossSharing::reimburse`] and
//! [`Notes::pay_period`] — in exact [`Decimal`] arithmetic, rounded by the rule of
//! [`crate::money`], and records every line: what each firm was scheduled to pay, paid and
//! missed; what each guarantor party owed, paid and got back; recoveries; fees; each tranche's
//! interest and principal due and paid; the undertaker's draw; the coverage ratio; balances.
//!
//! **The ledger balances exactly.** Each period, cash in (cash carried in + collections +
//! undertaker draw) equals cash out (fees + interest + principal paid) plus cash retained (carried
//! on); see [`PeriodRow::imbalance`]. Collections are firm payments + guarantor payments +
//! recoveries kept by the trust; reimbursements of guarantors never pass through the trust.
//!
//! **Recovery in a case.** A firm defaulting in period `d` recovers `min(rate x base, claim)` in
//! period `min(d + lag, T)`, `claim` its principal outstanding at the start of `d`, `base` the
//! appraised value of its patents (or the claim). The rate is the case's override, else the
//! scenario's fixed rate, else the mean `a / (a + b)` of its Beta distribution. The patent-value
//! shock (`value_vol`) is not applied: a named case has no sector factor.
//!
//! Pure: no I/O. The CSV and XLSX renderings are in [`crate::report::cashflows`].

use rust_decimal::Decimal;
use thiserror::Error;

use crate::guarantee::{LossSharing, Missed, PartyState};
use crate::model::{RecoveryRate, Scenario};
use crate::money::Amount;
use crate::schedule::FirmSchedule;
use crate::waterfall::{Notes, PeriodNotes};

/// A problem with a case given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CaseError {
    /// An item is not of the form `name@period`.
    #[error("{flag}: {item:?} is not of the form NAME@PERIOD (e.g. F03@2)")]
    Syntax { flag: &'static str, item: String },
    /// No firm (or party) has this name.
    #[error("{flag}: unknown {what} {name:?} (known: {known})")]
    Unknown {
        flag: &'static str,
        what: &'static str,
        name: String,
        known: String,
    },
    /// The period is outside `1..=term_periods`.
    #[error("{flag}: period {period} of {name:?} is outside the term (1 to {term})")]
    Period {
        flag: &'static str,
        name: String,
        period: String,
        term: u32,
    },
    /// The same name is given twice.
    #[error("{flag}: {name:?} is given more than once")]
    Repeated { flag: &'static str, name: String },
    /// The recovery rate is not a number in `[0, 1]`.
    #[error("--recovery: must be a number between 0 and 1, got {0:?}")]
    Recovery(String),
}

/// Who, besides firms, can be made to default in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaulter {
    /// A guarantor party, by index in report order ([`Scenario::parties`]).
    Party(usize),
    /// The differential payment undertaker.
    Undertaker,
}

/// One named case of defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Case {
    /// `(firm index, default period)`, at most one per firm.
    pub defaults: Vec<(usize, u32)>,
    /// Parties or the undertaker defaulting from a period on.
    pub party_defaults: Vec<(Defaulter, u32)>,
    /// Overrides the scenario's recovery rate.
    pub recovery_rate: Option<Decimal>,
}

/// Splits `"A@1,B@2"` into `(name, period)` items, checking syntax, period range and repeats.
fn items(text: &str, flag: &'static str, term: u32) -> Result<Vec<(String, u32)>, CaseError> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let syntax = || CaseError::Syntax {
            flag,
            item: item.to_owned(),
        };
        let (name, period) = item.rsplit_once('@').ok_or_else(syntax)?;
        let (name, period) = (name.trim(), period.trim());
        if name.is_empty() || period.is_empty() {
            return Err(syntax());
        }
        let bad_period = || CaseError::Period {
            flag,
            name: name.to_owned(),
            period: period.to_owned(),
            term,
        };
        let k: u32 = period.parse().map_err(|_| bad_period())?;
        if k == 0 || k > term {
            return Err(bad_period());
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(CaseError::Repeated {
                flag,
                name: name.to_owned(),
            });
        }
        out.push((name.to_owned(), k));
    }
    Ok(out)
}

fn known_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    let mut list = names.iter().take(20).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 20 {
        list.push_str(", ...");
    }
    list
}

impl Case {
    /// Parses `--defaults` (`F03@2,F11@3`; empty: no defaults), `--party-defaults` (party or
    /// undertaker names, same form) and `--recovery` (a rate in `[0, 1]`) against `scenario`.
    ///
    /// # Errors
    /// A [`CaseError`] naming the flag and the item at fault.
    pub fn parse(
        scenario: &Scenario,
        defaults: &str,
        party_defaults: &str,
        recovery: Option<&str>,
    ) -> Result<Case, CaseError> {
        let term = scenario.deal.term_periods;
        let mut firms = Vec::new();
        for (name, k) in items(defaults, "--defaults", term)? {
            let i = scenario
                .firms
                .iter()
                .position(|f| f.id == name)
                .ok_or_else(|| CaseError::Unknown {
                    flag: "--defaults",
                    what: "firm",
                    name: name.clone(),
                    known: known_list(scenario.firms.iter().map(|f| f.id.as_str())),
                })?;
            firms.push((i, k));
        }
        firms.sort_unstable();

        let mut parties = Vec::new();
        for (name, k) in items(party_defaults, "--party-defaults", term)? {
            let who = match scenario.parties().position(|(_, p)| p.name == name) {
                Some(p) => Defaulter::Party(p),
                None if scenario.undertaker.as_ref().is_some_and(|u| u.name == name) => Defaulter::Undertaker,
                None => {
                    let names = scenario
                        .parties()
                        .map(|(_, p)| p.name.as_str())
                        .chain(scenario.undertaker.iter().map(|u| u.name.as_str()));
                    return Err(CaseError::Unknown {
                        flag: "--party-defaults",
                        what: "party or undertaker",
                        name,
                        known: known_list(names),
                    });
                }
            };
            parties.push((who, k));
        }

        let recovery_rate = match recovery {
            None => None,
            Some(text) => {
                let r: Decimal = text
                    .trim()
                    .parse()
                    .map_err(|_| CaseError::Recovery(text.to_owned()))?;
                if r < Decimal::ZERO || r > Decimal::ONE {
                    return Err(CaseError::Recovery(text.to_owned()));
                }
                Some(r)
            }
        };
        Ok(Case {
            defaults: firms,
            party_defaults: parties,
            recovery_rate,
        })
    }

    /// The recovery rate the case applies: the override, the fixed rate, or the Beta mean.
    pub fn recovery_rate(&self, scenario: &Scenario) -> Decimal {
        self.recovery_rate
            .unwrap_or_else(|| match scenario.recovery.rate {
                RecoveryRate::Fixed(r) => <Decimal as Amount>::from_f64(r),
                RecoveryRate::Beta { a, b } => {
                    <Decimal as Amount>::from_f64(a) / <Decimal as Amount>::from_f64(a + b)
                }
            })
    }
}

/// The trust's cash in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodRow {
    pub period: u32,
    /// Cash carried in from the previous period.
    pub cash_carried_in: Decimal,
    /// Scheduled firm payments received.
    pub firm_payments: Decimal,
    /// Guarantor payments received.
    pub guarantor_payments: Decimal,
    /// Recoveries received in the period (all of them, before reimbursing guarantors).
    pub recoveries: Decimal,
    /// The part of `recoveries` repaid to guarantors (it does not reach the trust).
    pub recoveries_to_guarantors: Decimal,
    /// Firm payments + guarantor payments + recoveries kept by the trust.
    pub collections: Decimal,
    pub undertaker_draw: Decimal,
    pub fees_due: Decimal,
    pub fees_paid: Decimal,
    /// Interest paid to all tranches (the undertaker's included).
    pub interest_paid: Decimal,
    /// Principal paid to all tranches (the undertaker's included).
    pub principal_paid: Decimal,
    /// Cash retained: carried to the next period (after the last period: the residual).
    pub cash_carried_out: Decimal,
    /// `(collections - fees due) / senior interest due`; `None` when no senior interest is due.
    pub coverage: Option<Decimal>,
}

impl PeriodRow {
    /// Cash carried in + collections + undertaker draw.
    pub fn cash_in(&self) -> Decimal {
        self.cash_carried_in + self.collections + self.undertaker_draw
    }

    /// Fees + interest + principal paid.
    pub fn cash_out(&self) -> Decimal {
        self.fees_paid + self.interest_paid + self.principal_paid
    }

    /// `cash in - cash out - cash retained`: exactly zero in a balanced ledger.
    pub fn imbalance(&self) -> Decimal {
        self.cash_in() - self.cash_out() - self.cash_carried_out
    }
}

/// One firm in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct FirmRow {
    pub period: u32,
    pub firm: String,
    /// The period it defaulted in, if it has by this period.
    pub defaulted_in: Option<u32>,
    pub scheduled_principal: Decimal,
    pub scheduled_interest: Decimal,
    /// What it paid (the scheduled amount, or nothing once defaulted).
    pub paid: Decimal,
    pub missed_principal: Decimal,
    pub missed_interest: Decimal,
    /// What guarantors paid for it.
    pub guaranteed: Decimal,
    /// Recovery received for it in this period.
    pub recovery: Decimal,
    /// The part of `recovery` repaid to guarantors.
    pub recovery_to_guarantors: Decimal,
    /// Principal outstanding at the end of the period (per the schedule; a defaulted firm's
    /// stays at its claim).
    pub outstanding: Decimal,
}

/// One guarantor party in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyRow {
    pub period: u32,
    /// Tier number, 1-based.
    pub tier: usize,
    pub party: String,
    pub share: Decimal,
    /// `None`: unlimited.
    pub cap: Option<Decimal>,
    /// Its share of what reached it this period.
    pub obligation: Decimal,
    pub paid: Decimal,
    /// Repaid to it from recoveries this period.
    pub reimbursed: Decimal,
    /// Gross paid so far.
    pub paid_to_date: Decimal,
    /// `cap - paid_to_date` (floored at zero); `None` when unlimited.
    pub cap_left: Option<Decimal>,
    /// It has defaulted by this period.
    pub defaulted: bool,
}

/// One tranche in one period.
#[derive(Debug, Clone, PartialEq)]
pub struct TrancheRow {
    pub period: u32,
    pub tranche: String,
    pub opening_balance: Decimal,
    pub interest_due: Decimal,
    /// Interest paid, the undertaker's included.
    pub interest_paid: Decimal,
    pub interest_shortfall: Decimal,
    pub principal_due: Decimal,
    /// Principal paid, the undertaker's included.
    pub principal_paid: Decimal,
    /// The undertaker's part of `interest_paid` + `principal_paid` (tranche 1 only).
    pub undertaker: Decimal,
    pub closing_balance: Decimal,
}

/// Totals over the term (the per-path outputs of the Monte Carlo engine, exactly).
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// `M`: scheduled payments missed.
    pub missed: Decimal,
    /// `G`: guarantor payments.
    pub guarantor_paid: Decimal,
    /// `R`: recoveries received.
    pub recovered: Decimal,
    /// `Rg`: recoveries repaid to guarantors.
    pub reimbursed: Decimal,
    /// `M - G - (R - Rg)`.
    pub pool_loss: Decimal,
    /// `M - R`.
    pub gross_default_loss: Decimal,
    /// `M - G`.
    pub guarantor_shortfall: Decimal,
    pub undertaker_draw: Decimal,
    pub fees_paid: Decimal,
    /// Cash left after the last period.
    pub residual: Decimal,
    /// Per party: `(payout, net payout, obligation, shortfall)`.
    pub parties: Vec<PartyTotals>,
    /// Per tranche: `(interest shortfall, principal loss)`.
    pub tranches: Vec<TrancheTotals>,
}

/// One party's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyTotals {
    pub payout: Decimal,
    pub net_payout: Decimal,
    pub obligation: Decimal,
    pub shortfall: Decimal,
    /// Its cap bound at least once.
    pub cap_exhausted: bool,
}

/// One tranche's totals.
#[derive(Debug, Clone, PartialEq)]
pub struct TrancheTotals {
    pub interest_shortfall: Decimal,
    pub principal_loss: Decimal,
}

/// The statement of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub scenario: String,
    pub currency: String,
    /// The case, as `F03@2, F11@3` (or `none`).
    pub case_label: String,
    /// The recovery rate applied.
    pub recovery_rate: Decimal,
    pub periods: Vec<PeriodRow>,
    /// Period-major: every firm of period 1, then of period 2, ...
    pub firms: Vec<FirmRow>,
    /// Period-major, parties in report order.
    pub parties: Vec<PartyRow>,
    /// Period-major, tranches in order of seniority.
    pub tranches: Vec<TrancheRow>,
    pub totals: Totals,
}

/// A firm's default in the case, with its recovery.
struct CaseDefault {
    firm: usize,
    period: u32,
    recovery: Decimal,
    recovery_period: u32,
}

impl Statement {
    /// Runs `case` through `scenario`'s rules in exact arithmetic.
    pub fn new(scenario: &Scenario, case: &Case) -> Statement {
        let deal = scenario.deal;
        let term = deal.term_periods;
        let schedules: Vec<FirmSchedule<Decimal>> = scenario
            .firms
            .iter()
            .map(|f| FirmSchedule::new(f, &deal))
            .collect();
        let sharing = LossSharing::<Decimal>::new(&scenario.tiers, scenario.firms.len());
        let notes = Notes::<Decimal>::new(scenario);
        let rate = case.recovery_rate(scenario);

        let defaults: Vec<CaseDefault> = case
            .defaults
            .iter()
            .map(|&(firm, period)| {
                let claim = schedules[firm].outstanding[(period - 1) as usize];
                let base = scenario.firms[firm]
                    .patents
                    .as_ref()
                    .and_then(|p| p.appraised_value)
                    .unwrap_or(claim);
                CaseDefault {
                    firm,
                    period,
                    recovery: (rate * base).round_money().min_of(claim).positive_part(),
                    recovery_period: (period + scenario.recovery.lag_periods).min(term),
                }
            })
            .collect();
        let default_of = |firm: usize| defaults.iter().find(|d| d.firm == firm);
        let defaulted_from = |who: Defaulter| {
            case.party_defaults
                .iter()
                .find(|(w, _)| *w == who)
                .map_or(0, |&(_, k)| k)
        };

        let n_firms = scenario.firms.len();
        let n_parties = sharing.parties();
        let mut states: Vec<PartyState<Decimal>> = (0..n_parties)
            .map(|p| PartyState::new(defaulted_from(Defaulter::Party(p))))
            .collect();
        let mut paid_for = vec![Decimal::ZERO; n_parties * n_firms];
        let mut scratch = sharing.scratch();
        let mut notes_state = notes.start(defaulted_from(Defaulter::Undertaker));
        let mut out = PeriodNotes::new(notes.tranches.len());
        let parties: Vec<(usize, &crate::model::Party)> = scenario.parties().collect();

        let mut period_rows = Vec::new();
        let mut firm_rows = Vec::new();
        let mut party_rows = Vec::new();
        let mut tranche_rows = Vec::new();
        let (mut missed_total, mut guaranteed_total) = (Decimal::ZERO, Decimal::ZERO);
        let (mut recovered_total, mut reimbursed_total) = (Decimal::ZERO, Decimal::ZERO);
        let mut fees_total = Decimal::ZERO;

        for k in 1..=term {
            let ki = (k - 1) as usize;
            let before: Vec<PartyState<Decimal>> = states.clone();
            let paid_for_before = paid_for.clone();

            // Missed payments meet the tiers.
            let mut missed: Vec<Missed<Decimal>> = defaults
                .iter()
                .filter(|d| d.period <= k)
                .map(|d| Missed {
                    firm: d.firm,
                    principal: schedules[d.firm].principal[ki],
                    interest: schedules[d.firm].interest[ki],
                })
                .collect();
            let missed_now: Decimal = missed.iter().map(|m| m.principal + m.interest).sum();
            let guaranteed = if missed.is_empty() {
                Decimal::ZERO
            } else {
                sharing.allocate(k, &mut missed, &mut states, &mut paid_for, &mut scratch)
            };

            // Recoveries: guarantors first, the rest to the trust.
            let mut recovered_now = Decimal::ZERO;
            let mut reimbursed_now = Decimal::ZERO;
            let mut firm_recovery = vec![(Decimal::ZERO, Decimal::ZERO); n_firms];
            for d in defaults.iter().filter(|d| d.recovery_period == k) {
                let used = if scenario.recovery.reimburse_guarantors {
                    sharing.reimburse(d.firm, d.recovery, &mut states, &paid_for)
                } else {
                    Decimal::ZERO
                };
                recovered_now += d.recovery;
                reimbursed_now += used;
                firm_recovery[d.firm] = (d.recovery, used);
            }

            let scheduled: Decimal = schedules.iter().map(|s| s.payment(ki)).sum();
            let firm_payments = scheduled - missed_now;
            let collections = firm_payments + guaranteed + (recovered_now - reimbursed_now);
            let cash_carried_in = notes_state.cash;
            let opening: Vec<Decimal> = notes_state.balance.clone();
            notes.pay_period(k, collections, &mut notes_state, &mut out);

            let interest_paid: Decimal = out.interest_paid.iter().copied().sum();
            let principal_paid: Decimal = out.principal_paid.iter().copied().sum();
            period_rows.push(PeriodRow {
                period: k,
                cash_carried_in,
                firm_payments,
                guarantor_payments: guaranteed,
                recoveries: recovered_now,
                recoveries_to_guarantors: reimbursed_now,
                collections,
                undertaker_draw: out.undertaker_draw(),
                fees_due: out.fees_due,
                fees_paid: out.fees_paid,
                interest_paid,
                principal_paid,
                cash_carried_out: notes_state.cash,
                coverage: match out.interest_due.first() {
                    Some(due) if *due > Decimal::ZERO => Some((collections - out.fees_due) / *due),
                    _ => None,
                },
            });

            for (i, (firm, sched)) in scenario.firms.iter().zip(&schedules).enumerate() {
                let d = default_of(i).filter(|d| d.period <= k);
                let (mp, mi) = match d {
                    Some(_) => (sched.principal[ki], sched.interest[ki]),
                    None => (Decimal::ZERO, Decimal::ZERO),
                };
                let guaranteed: Decimal = (0..n_parties)
                    .map(|p| paid_for[p * n_firms + i] - paid_for_before[p * n_firms + i])
                    .sum();
                firm_rows.push(FirmRow {
                    period: k,
                    firm: firm.id.clone(),
                    defaulted_in: d.map(|d| d.period),
                    scheduled_principal: sched.principal[ki],
                    scheduled_interest: sched.interest[ki],
                    paid: sched.payment(ki) - mp - mi,
                    missed_principal: mp,
                    missed_interest: mi,
                    guaranteed,
                    recovery: firm_recovery[i].0,
                    recovery_to_guarantors: firm_recovery[i].1,
                    outstanding: match d {
                        Some(d) => sched.outstanding[(d.period - 1) as usize],
                        None => sched.outstanding[ki] - sched.principal[ki],
                    },
                });
            }

            for (p, ((tier, party), (st, was))) in parties.iter().zip(states.iter().zip(&before)).enumerate()
            {
                let terms = sharing.terms(p);
                party_rows.push(PartyRow {
                    period: k,
                    tier: *tier,
                    party: party.name.clone(),
                    share: terms.share,
                    cap: terms.cap,
                    obligation: st.obligation - was.obligation,
                    paid: st.paid - was.paid,
                    reimbursed: st.reimbursed - was.reimbursed,
                    paid_to_date: st.paid,
                    cap_left: terms.cap.map(|c| (c - st.paid).positive_part()),
                    defaulted: st.defaulted_from != 0 && st.defaulted_from <= k,
                });
            }

            for (j, t) in scenario.tranches.iter().enumerate() {
                tranche_rows.push(TrancheRow {
                    period: k,
                    tranche: t.name.clone(),
                    opening_balance: opening[j],
                    interest_due: out.interest_due[j],
                    interest_paid: out.interest_paid[j],
                    interest_shortfall: (out.interest_due[j] - out.interest_paid[j]).positive_part(),
                    principal_due: out.principal_due[j],
                    principal_paid: out.principal_paid[j],
                    undertaker: if j == 0 {
                        out.undertaker_draw()
                    } else {
                        Decimal::ZERO
                    },
                    closing_balance: notes_state.balance[j],
                });
            }

            missed_total += missed_now;
            guaranteed_total += guaranteed;
            recovered_total += recovered_now;
            reimbursed_total += reimbursed_now;
            fees_total += out.fees_paid;
        }

        let totals = Totals {
            missed: missed_total,
            guarantor_paid: guaranteed_total,
            recovered: recovered_total,
            reimbursed: reimbursed_total,
            pool_loss: missed_total - guaranteed_total - (recovered_total - reimbursed_total),
            gross_default_loss: missed_total - recovered_total,
            guarantor_shortfall: missed_total - guaranteed_total,
            undertaker_draw: notes_state.undertaker_drawn,
            fees_paid: fees_total,
            residual: notes_state.cash,
            parties: states
                .iter()
                .map(|s| PartyTotals {
                    payout: s.paid,
                    net_payout: s.net_paid(),
                    obligation: s.obligation,
                    shortfall: s.shortfall(),
                    cap_exhausted: s.cap_bound,
                })
                .collect(),
            tranches: (0..notes.tranches.len())
                .map(|j| TrancheTotals {
                    interest_shortfall: notes_state.interest_shortfall[j],
                    principal_loss: notes_state.balance[j],
                })
                .collect(),
        };

        let case_label = if case.defaults.is_empty() && case.party_defaults.is_empty() {
            "no defaults".to_owned()
        } else {
            let firms = case
                .defaults
                .iter()
                .map(|&(i, k)| format!("{}@{k}", scenario.firms[i].id));
            let others = case.party_defaults.iter().map(|&(w, k)| match w {
                Defaulter::Party(p) => format!("{}@{k}", parties[p].1.name),
                Defaulter::Undertaker => format!(
                    "{}@{k}",
                    scenario
                        .undertaker
                        .as_ref()
                        .map_or("undertaker", |u| u.name.as_str())
                ),
            });
            firms.chain(others).collect::<Vec<_>>().join(", ")
        };

        Statement {
            scenario: scenario.name.clone(),
            currency: scenario.currency.clone(),
            case_label,
            recovery_rate: rate,
            periods: period_rows,
            firms: firm_rows,
            parties: party_rows,
            tranches: tranche_rows,
            totals,
        }
    }

    /// Whether every period balances exactly (see [`PeriodRow::imbalance`]).
    pub fn is_balanced(&self) -> bool {
        self.periods.iter().all(|p| p.imbalance().is_zero())
    }
}

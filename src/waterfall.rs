//! The note waterfall: how the trust's cash pays fees, interest and principal each period, and
//! how the differential payment undertaker tops up the senior tranche.
//!
//! Each period `k` (DESIGN §4 "Notes"):
//!
//! 1. `cash = carried + collections`;
//! 2. fees due `= fee_rate / m * sum_j B_j` (actual balances); paid as far as cash allows, the
//!    rest is lost;
//! 3. tranche by tranche in order of seniority: interest due `I_j = c_j / m * B_j`, then principal
//!    due `P_j = max(B_j - S_{j,k}, 0)` with `S_{j,k}` the scheduled end-of-period balance (so unpaid
//!    scheduled principal stays due);
//! 4. the undertaker pays tranche 1's unpaid interest, then its unpaid principal due, up to what is
//!    left of its cap, unless it has defaulted (it is never repaid);
//! 5. unpaid interest is that tranche's interest shortfall (not carried forward); remaining cash is
//!    carried.
//!
//! In exact arithmetic fees due and interest due are rounded to the cent (see [`crate::money`]);
//! everything else here is a sum, difference or minimum of amounts, so the period balances
//! exactly: `carried + collections + undertaker draw = fees paid + interest paid + principal paid
//! + cash carried on`.
//!
//! Coupon coverage of the period is `(collections - fees due) / I_1`, before the undertaker and
//! without carried cash; undefined when `I_1 = 0`. After the last period the remaining balances are
//! the tranches' principal losses and the remaining cash is the residual (to the most junior tranche,
//! or to the originator when the notes are smaller than the pool).

use crate::model::{Deal, Scenario};
use crate::money::Amount;
use crate::schedule::TrancheSchedule;

/// The notes and the undertaker, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Notes<A> {
    pub tranches: Vec<TrancheSchedule<A>>,
    /// Fee rate per period, `annual_rate / m`.
    pub period_fee_rate: A,
    /// Whether the deal has an undertaker.
    pub has_undertaker: bool,
    /// The undertaker's aggregate cap; `None`: unlimited.
    pub undertaker_cap: Option<A>,
}

/// The running state of the notes over one path.
#[derive(Debug, Clone, PartialEq)]
pub struct NotesState<A> {
    /// Outstanding balance of each tranche.
    pub balance: Vec<A>,
    /// Cash carried to the next period.
    pub cash: A,
    /// Interest not paid so far, per tranche.
    pub interest_shortfall: Vec<A>,
    /// Total drawn from the undertaker.
    pub undertaker_drawn: A,
    /// The period (1-based) from which the undertaker pays nothing; 0: never defaults.
    pub undertaker_defaulted_from: u32,
}

/// What happened in one period, per tranche where relevant. Reused across periods.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodNotes<A> {
    pub collections: A,
    pub fees_due: A,
    pub fees_paid: A,
    pub interest_due: Vec<A>,
    pub interest_paid: Vec<A>,
    pub principal_due: Vec<A>,
    pub principal_paid: Vec<A>,
    /// Undertaker payments for tranche 1: interest then principal.
    pub undertaker_interest: A,
    pub undertaker_principal: A,
    /// `(collections - fees_due) / interest_due[0]`, when tranche 1 has interest due.
    pub coverage: Option<f64>,
    /// `sum_j interest_paid[j]` and `sum_j principal_paid[j]`, added in tranche order.
    pub interest_paid_total: A,
    pub principal_paid_total: A,
}

impl<A: Amount> PeriodNotes<A> {
    /// Zeroed buffers for `tranches` tranches.
    pub fn new(tranches: usize) -> Self {
        PeriodNotes {
            collections: A::ZERO,
            fees_due: A::ZERO,
            fees_paid: A::ZERO,
            interest_due: vec![A::ZERO; tranches],
            interest_paid: vec![A::ZERO; tranches],
            principal_due: vec![A::ZERO; tranches],
            principal_paid: vec![A::ZERO; tranches],
            undertaker_interest: A::ZERO,
            undertaker_principal: A::ZERO,
            coverage: None,
            interest_paid_total: A::ZERO,
            principal_paid_total: A::ZERO,
        }
    }

    /// The undertaker's draw this period.
    pub fn undertaker_draw(&self) -> A {
        self.undertaker_interest + self.undertaker_principal
    }
}

impl<A: Amount> Notes<A> {
    /// Compiles the scenario's tranches, fees and undertaker.
    pub fn new(scenario: &Scenario) -> Self {
        let deal: &Deal = &scenario.deal;
        Notes {
            tranches: scenario
                .tranches
                .iter()
                .map(|t| TrancheSchedule::new(t, deal))
                .collect(),
            period_fee_rate: A::from_f64(scenario.fees.annual_rate) / A::from_u32(deal.periods_per_year),
            has_undertaker: scenario.undertaker.is_some(),
            undertaker_cap: scenario
                .undertaker
                .as_ref()
                .and_then(|u| u.cap)
                .map(A::from_decimal),
        }
    }

    /// The state at the start of a path on which the undertaker defaults in
    /// `undertaker_defaulted_from` (0: never).
    pub fn start(&self, undertaker_defaulted_from: u32) -> NotesState<A> {
        NotesState {
            balance: self.tranches.iter().map(|t| t.notional).collect(),
            cash: A::ZERO,
            interest_shortfall: vec![A::ZERO; self.tranches.len()],
            undertaker_drawn: A::ZERO,
            undertaker_defaulted_from,
        }
    }

    /// Copies `from` into `state` without allocating (same tranches), keeping `state`'s own
    /// undertaker default.
    pub fn resume(&self, state: &mut NotesState<A>, from: &NotesState<A>) {
        // One tranche (the common case): a copy of one value each, not a call to copy memory.
        if let ([balance], [shortfall]) = (&mut state.balance[..], &mut state.interest_shortfall[..]) {
            *balance = from.balance[0];
            *shortfall = from.interest_shortfall[0];
        } else {
            state.balance.copy_from_slice(&from.balance);
            state.interest_shortfall.copy_from_slice(&from.interest_shortfall);
        }
        state.cash = from.cash;
        state.undertaker_drawn = from.undertaker_drawn;
    }

    /// Resets `state` for a new path without allocating.
    pub fn restart(&self, state: &mut NotesState<A>, undertaker_defaulted_from: u32) {
        for (b, t) in state.balance.iter_mut().zip(&self.tranches) {
            *b = t.notional;
        }
        state.cash = A::ZERO;
        state.interest_shortfall.iter_mut().for_each(|x| *x = A::ZERO);
        state.undertaker_drawn = A::ZERO;
        state.undertaker_defaulted_from = undertaker_defaulted_from;
    }

    /// Pays period `period` (1-based) from `collections`; fills `out`.
    #[inline]
    pub fn pay_period(
        &self,
        period: u32,
        collections: A,
        state: &mut NotesState<A>,
        out: &mut PeriodNotes<A>,
    ) {
        // One tranche (the common case): the same steps, with the loops over tranches unrolled.
        match self.tranches.len() {
            1 => self.pay_tranches(1, period, collections, state, out),
            n => self.pay_tranches(n, period, collections, state, out),
        }
    }

    /// [`Notes::pay_period`] for these `n` tranches (`n` a constant where it is called, so that
    /// the loops over tranches unroll).
    #[inline(always)]
    fn pay_tranches(
        &self,
        n: usize,
        period: u32,
        collections: A,
        state: &mut NotesState<A>,
        out: &mut PeriodNotes<A>,
    ) {
        let k = (period - 1) as usize;
        let tranches = &self.tranches[..n];
        let balance = &mut state.balance[..n];
        let shortfall = &mut state.interest_shortfall[..n];
        let interest_due = &mut out.interest_due[..n];
        let interest_paid = &mut out.interest_paid[..n];
        let principal_due = &mut out.principal_due[..n];
        let principal_paid = &mut out.principal_paid[..n];
        out.collections = collections;
        let mut cash = state.cash + collections;

        let mut outstanding = A::ZERO;
        for b in balance.iter() {
            outstanding += *b;
        }
        out.fees_due = (self.period_fee_rate * outstanding).round_money();
        out.fees_paid = cash.min_of(out.fees_due);
        cash -= out.fees_paid;

        for j in 0..n {
            let t = &tranches[j];
            let due = (t.period_coupon * balance[j]).round_money();
            let paid = cash.min_of(due);
            cash -= paid;
            interest_due[j] = due;
            interest_paid[j] = paid;

            let due = (balance[j] - t.scheduled_end_balance[k]).positive_part();
            let paid = cash.min_of(due);
            cash -= paid;
            balance[j] -= paid;
            principal_due[j] = due;
            principal_paid[j] = paid;
        }

        out.undertaker_interest = A::ZERO;
        out.undertaker_principal = A::ZERO;
        let undertaker_alive =
            state.undertaker_defaulted_from == 0 || state.undertaker_defaulted_from > period;
        if self.has_undertaker && undertaker_alive && n > 0 {
            let mut left = match self.undertaker_cap {
                Some(cap) => (cap - state.undertaker_drawn).positive_part(),
                None => interest_due[0] + principal_due[0],
            };
            let interest = (interest_due[0] - interest_paid[0]).positive_part().min_of(left);
            left -= interest;
            let principal = (principal_due[0] - principal_paid[0])
                .positive_part()
                .min_of(left);
            interest_paid[0] += interest;
            principal_paid[0] += principal;
            balance[0] -= principal;
            state.undertaker_drawn += interest + principal;
            out.undertaker_interest = interest;
            out.undertaker_principal = principal;
        }

        for j in 0..n {
            shortfall[j] += (interest_due[j] - interest_paid[j]).positive_part();
        }
        out.coverage = match interest_due.first() {
            Some(due) if *due > A::ZERO => Some(((collections - out.fees_due) / *due).to_f64()),
            _ => None,
        };
        // Sums in tranche order: the first term as it is, as `Iterator::sum` from -0.0 gives it.
        out.interest_paid_total = sum_in_order(interest_paid);
        out.principal_paid_total = sum_in_order(principal_paid);
        state.cash = cash;
    }
}

/// `x_1 + x_2 + ... + x_n` added left to right (0 when empty).
#[inline(always)]
fn sum_in_order<A: Amount>(xs: &[A]) -> A {
    match xs.split_first() {
        Some((first, rest)) => rest.iter().fold(*first, |s, x| s + *x),
        None => A::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Amortisation, Tranche};
    use rust_decimal::Decimal;

    fn notes(tranches: &[(i64, f64)], fee: f64, undertaker_cap: Option<i64>) -> Notes<f64> {
        let deal = Deal {
            periods_per_year: 4,
            term_periods: 2,
        };
        let ts: Vec<Tranche> = tranches
            .iter()
            .enumerate()
            .map(|(i, (n, c))| Tranche {
                name: format!("T{i}"),
                notional: Decimal::from(*n),
                coupon: *c,
                amortisation: Amortisation::Bullet,
            })
            .collect();
        Notes {
            tranches: ts.iter().map(|t| TrancheSchedule::new(t, &deal)).collect(),
            period_fee_rate: fee / 4.0,
            has_undertaker: undertaker_cap.is_some(),
            undertaker_cap: undertaker_cap.and_then(|c| if c < 0 { None } else { Some(c as f64) }),
        }
    }

    #[test]
    fn sequential_pay_and_undertaker_top_up() {
        // Senior 100 at 4% (1.0 a quarter), junior 50 at 8% (1.0 a quarter), fees 0.4% a year on
        // 150 = 0.15 a quarter. Undertaker cap 10.
        let n = notes(&[(100, 0.04), (50, 0.08)], 0.004, Some(10));
        let mut s = n.start(0);
        let mut out = PeriodNotes::new(2);
        // Period 1: collections 0.65 -> fees 0.15, senior interest 0.5 of 1.0; undertaker 0.5.
        n.pay_period(1, 0.65, &mut s, &mut out);
        assert!((out.fees_paid - 0.15).abs() < 1e-12);
        assert!((out.interest_paid[0] - 1.0).abs() < 1e-12);
        assert!((out.undertaker_interest - 0.5).abs() < 1e-12);
        assert_eq!(out.interest_paid[1], 0.0);
        assert!((s.interest_shortfall[1] - 1.0).abs() < 1e-12);
        assert!((out.coverage.unwrap() - 0.5).abs() < 1e-12, "(0.65 - 0.15) / 1.0");
        // Period 2: collections 100 -> fees 0.15, senior 1.0 + 100, junior gets nothing; the
        // undertaker pays 1.15 of senior principal, its cap leaves 9.5 - ... all within 10.
        n.pay_period(2, 100.0, &mut s, &mut out);
        assert!((out.principal_paid[0] - 100.0).abs() < 1e-12);
        assert!((out.undertaker_principal - 1.15).abs() < 1e-12);
        assert_eq!(s.balance[0], 0.0);
        assert!((s.balance[1] - 50.0).abs() < 1e-12, "junior loses its principal");
        assert!((s.undertaker_drawn - 1.65).abs() < 1e-12);
    }

    #[test]
    fn undertaker_cap_binds() {
        let n = notes(&[(100, 0.04)], 0.0, Some(3));
        let mut s = n.start(0);
        let mut out = PeriodNotes::new(1);
        n.pay_period(1, 0.0, &mut s, &mut out);
        n.pay_period(2, 0.0, &mut s, &mut out);
        // Needs 1 + 1 + 100; pays 1, then 1 interest + 1 principal.
        assert!((s.undertaker_drawn - 3.0).abs() < 1e-12);
        assert!((s.balance[0] - 99.0).abs() < 1e-12);
        assert_eq!(s.interest_shortfall[0], 0.0);
    }

    #[test]
    fn defaulted_undertaker_pays_nothing() {
        let n = notes(&[(100, 0.04)], 0.0, Some(-1));
        let mut s = n.start(2);
        let mut out = PeriodNotes::new(1);
        n.pay_period(1, 0.0, &mut s, &mut out);
        assert!((out.undertaker_interest - 1.0).abs() < 1e-12);
        n.pay_period(2, 0.0, &mut s, &mut out);
        assert_eq!(out.undertaker_draw(), 0.0);
        assert!((s.balance[0] - 100.0).abs() < 1e-12);
    }
}

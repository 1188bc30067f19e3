//! Scheduled cash flows: what each firm owes each period, and how each tranche is meant to
//! amortise. Pure functions of the scenario, generic over [`Amount`].
//!
//! Periods are numbered `1..=T` in the documentation and indexed `0..T` in the vectors.

use crate::model::{Amortisation, Deal, Firm, Tranche};
use crate::money::Amount;

/// The per-period principal repayments of `principal` over `periods` periods.
///
/// - `Bullet`: `p_T = principal`, all other `p_k = 0`;
/// - `Level`: `p_k = principal / T` (rounded to the cent in exact arithmetic, see
///   [`crate::money`]), the last period taking the remainder
///   `principal - (T - 1) * (principal / T)` so the schedule sums to the principal exactly;
/// - `Explicit`: the listed amounts.
pub fn principal_schedule<A: Amount>(principal: A, amortisation: &Amortisation, periods: u32) -> Vec<A> {
    let t = periods as usize;
    let mut out = vec![A::ZERO; t];
    if t == 0 {
        return out;
    }
    match amortisation {
        Amortisation::Bullet => out[t - 1] = principal,
        Amortisation::Level => {
            let each = (principal / A::from_u32(periods)).round_money();
            let mut paid = A::ZERO;
            for p in out.iter_mut().take(t - 1) {
                *p = each;
                paid += each;
            }
            out[t - 1] = principal - paid;
        }
        Amortisation::Explicit(amounts) => {
            for (p, a) in out.iter_mut().zip(amounts) {
                *p = A::from_decimal(*a);
            }
        }
    }
    out
}

/// A firm's scheduled licence fees, period by period.
#[derive(Debug, Clone, PartialEq)]
pub struct FirmSchedule<A> {
    /// Principal outstanding at the start of period `k` (the recovery claim of a default in `k`).
    pub outstanding: Vec<A>,
    /// Scheduled principal of period `k`.
    pub principal: Vec<A>,
    /// Scheduled interest of period `k`: `rate / m * outstanding_k` (rounded to the cent in exact
    /// arithmetic).
    pub interest: Vec<A>,
}

impl<A: Amount> FirmSchedule<A> {
    /// Builds the schedule of `firm` on the deal's time grid.
    pub fn new(firm: &Firm, deal: &Deal) -> Self {
        let principal = principal_schedule(
            A::from_decimal(firm.principal),
            &firm.amortisation,
            deal.term_periods,
        );
        let period_rate = A::from_f64(firm.rate) / A::from_u32(deal.periods_per_year);
        let mut outstanding = Vec::with_capacity(principal.len());
        let mut interest = Vec::with_capacity(principal.len());
        let mut balance = A::from_decimal(firm.principal);
        for p in &principal {
            outstanding.push(balance);
            interest.push((period_rate * balance).round_money());
            balance -= *p;
        }
        FirmSchedule {
            outstanding,
            principal,
            interest,
        }
    }

    /// The scheduled payment (principal + interest) of period index `k`.
    pub fn payment(&self, k: usize) -> A {
        self.principal[k] + self.interest[k]
    }
}

/// Weighted-average life in years of a scheduled principal repayment `principal[k - 1]` in
/// period `k` (`m` periods a year): `WAL = sum_k (k / m) p_k / sum_k p_k`; 0 when nothing is
/// repaid. A one-year bullet has WAL 1.0; four level quarterly repayments 0.625.
pub fn weighted_average_life<A: Amount>(principal: &[A], periods_per_year: u32) -> f64 {
    let m = f64::from(periods_per_year.max(1));
    let (mut weighted, mut total) = (0.0, 0.0);
    for (k, p) in principal.iter().enumerate() {
        let p = p.to_f64();
        weighted += (k + 1) as f64 / m * p;
        total += p;
    }
    if total > 0.0 { weighted / total } else { 0.0 }
}

/// A tranche's scheduled balances.
#[derive(Debug, Clone, PartialEq)]
pub struct TrancheSchedule<A> {
    pub notional: A,
    /// Coupon per period, `coupon / m`.
    pub period_coupon: A,
    /// Scheduled balance at the end of period `k`: notional minus the scheduled principal of
    /// periods `1..=k`. The last entry is zero.
    pub scheduled_end_balance: Vec<A>,
}

impl<A: Amount> TrancheSchedule<A> {
    /// Builds the schedule of `tranche` on the deal's time grid.
    pub fn new(tranche: &Tranche, deal: &Deal) -> Self {
        let notional = A::from_decimal(tranche.notional);
        let principal = principal_schedule(notional, &tranche.amortisation, deal.term_periods);
        let mut balance = notional;
        let mut scheduled_end_balance = Vec::with_capacity(principal.len());
        for (k, p) in principal.iter().enumerate() {
            balance -= *p;
            // The final balance is zero by definition, whatever rounding the list carried.
            scheduled_end_balance.push(if k + 1 == principal.len() {
                A::ZERO
            } else {
                balance.positive_part()
            });
        }
        TrancheSchedule {
            notional,
            period_coupon: A::from_f64(tranche.coupon) / A::from_u32(deal.periods_per_year),
            scheduled_end_balance,
        }
    }
}

#[cfg(test)]
mod wal_tests {
    use super::*;

    #[test]
    fn weighted_average_life_by_hand() {
        assert_eq!(weighted_average_life(&[0.0, 0.0, 0.0, 100.0], 4), 1.0);
        assert_eq!(weighted_average_life(&[25.0; 4], 4), 0.625);
        // Annual: 10 after one year, 30 after two, 60 after three: (10 + 60 + 180) / 100.
        assert!((weighted_average_life(&[10.0, 30.0, 60.0], 1) - 2.5).abs() < 1e-15);
        assert_eq!(weighted_average_life::<f64>(&[], 4), 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CreditInput;
    use rust_decimal::Decimal;

    fn firm(principal: i64, rate: f64, amortisation: Amortisation) -> Firm {
        Firm {
            id: "F".into(),
            sector: 0,
            principal: Decimal::from(principal),
            rate,
            amortisation,
            credit: CreditInput::AnnualPd(0.01),
            asset_correlation: 0.2,
            patents: None,
        }
    }

    const QUARTERLY: Deal = Deal {
        periods_per_year: 4,
        term_periods: 4,
    };

    #[test]
    fn level_schedule_in_decimal_sums_exactly() {
        let s: Vec<Decimal> = principal_schedule(Decimal::from(100), &Amortisation::Level, 3);
        assert_eq!(s.iter().copied().sum::<Decimal>(), Decimal::from(100));
        assert_eq!(s[0], s[1]);
    }

    #[test]
    fn bullet_firm_pays_interest_on_full_balance() {
        // 8,000,000 at 4% a year, quarterly: 80,000 interest every quarter, principal at the end.
        let s = FirmSchedule::<f64>::new(&firm(8_000_000, 0.04, Amortisation::Bullet), &QUARTERLY);
        assert_eq!(s.interest, vec![80_000.0; 4]);
        assert_eq!(s.principal, vec![0.0, 0.0, 0.0, 8_000_000.0]);
        assert_eq!(s.outstanding, vec![8_000_000.0; 4]);
    }

    #[test]
    fn level_firm_interest_on_declining_balance() {
        // The peer model's firm 0: E = 5, 4.5% a year, quarterly, level: payments
        // 1.25 + 0.01125 * (5, 3.75, 2.5, 1.25).
        let s = FirmSchedule::<f64>::new(&firm(5, 0.045, Amortisation::Level), &QUARTERLY);
        let expect = [1.30625, 1.2921875, 1.278125, 1.2640625];
        for (k, e) in expect.iter().enumerate() {
            assert!((s.payment(k) - e).abs() < 1e-12);
        }
        assert_eq!(s.outstanding, vec![5.0, 3.75, 2.5, 1.25]);
    }

    #[test]
    fn tranche_end_balances() {
        let t = Tranche {
            name: "A".into(),
            notional: Decimal::from(100),
            coupon: 0.04,
            amortisation: Amortisation::Explicit(vec![
                Decimal::from(10),
                Decimal::from(20),
                Decimal::from(30),
                Decimal::from(40),
            ]),
        };
        let s = TrancheSchedule::<f64>::new(&t, &QUARTERLY);
        assert_eq!(s.scheduled_end_balance, vec![90.0, 70.0, 40.0, 0.0]);
        assert_eq!(s.period_coupon, 0.01);
    }
}

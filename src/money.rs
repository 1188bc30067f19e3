//! The [`Amount`] trait: the arithmetic the cash-flow rules need, so that the schedules, the
//! guarantor tiers and the note waterfall are written once and run both in `f64` (the Monte Carlo
//! hot loop) and in exact [`Decimal`] (the deterministic cash-flow statement).
//!
//! # The rounding rule
//!
//! In `Decimal`, every money amount the rules *compute* by multiplying or dividing is rounded to
//! the cent ([`MONEY_DP`] decimals, [`MONEY_ROUNDING`], i.e. banker's rounding), at these points
//! and nowhere else:
//!
//! - a firm's scheduled interest `rate / m x outstanding`, and a level instalment `principal / T`
//!   (the last instalment takes the remainder);
//! - a guarantor party's obligation for the period, and each piece it pays for a firm; the last
//!   piece a party pays in a period is its payment minus the other pieces, so its pieces add up
//!   to its payment exactly (likewise for reimbursements from a recovery);
//! - a recovery `min(rate x base, claim)`;
//! - fees due and each tranche's interest due.
//!
//! Everything else is a sum, a difference or a minimum of cents, so it is exact: the statement
//! balances to the cent every period. In `f64` [`Amount::round_money`] is the identity and
//! [`Amount::EXACT`] is `false`, so the Monte Carlo engine computes exactly what it computed
//! before the rule existed.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// Decimals money is rounded to in exact arithmetic: cents.
pub const MONEY_DP: u32 = 2;

/// How money is rounded in exact arithmetic: half to even (banker's rounding).
pub const MONEY_ROUNDING: RoundingStrategy = RoundingStrategy::MidpointNearestEven;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

/// A money amount (or a rate applied to one): `f64` or [`Decimal`].
pub trait Amount:
    Copy
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + SubAssign
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Converts an exact input amount.
    fn from_decimal(d: Decimal) -> Self;
    /// Converts a rate or a share given as `f64` (for `Decimal`: through its shortest decimal
    /// text, so `0.027` becomes exactly `0.027`).
    fn from_f64(x: f64) -> Self;
    /// Whether this is exact decimal money, rounded by the rule of the module docs. `false` for
    /// `f64`, so code under `if A::EXACT` costs the hot loop nothing.
    const EXACT: bool;
    /// Converts a count.
    fn from_u32(n: u32) -> Self;
    /// A computed money amount, rounded to the cent in exact arithmetic; unchanged in `f64`.
    fn round_money(self) -> Self;
    /// The value as `f64` (for reports and comparisons across representations).
    fn to_f64(self) -> f64;

    /// The smaller of two amounts.
    #[inline]
    fn min_of(self, other: Self) -> Self {
        if other < self { other } else { self }
    }

    /// The larger of two amounts.
    #[inline]
    fn max_of(self, other: Self) -> Self {
        if other > self { other } else { self }
    }

    /// `max(self, 0)`.
    #[inline]
    fn positive_part(self) -> Self {
        self.max_of(Self::ZERO)
    }
}

impl Amount for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const EXACT: bool = false;

    #[inline]
    fn from_decimal(d: Decimal) -> f64 {
        ToPrimitive::to_f64(&d).unwrap_or(0.0)
    }
    #[inline]
    fn from_f64(x: f64) -> f64 {
        x
    }
    #[inline]
    fn from_u32(n: u32) -> f64 {
        f64::from(n)
    }
    #[inline(always)]
    fn round_money(self) -> f64 {
        self
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

impl Amount for Decimal {
    const ZERO: Decimal = Decimal::ZERO;
    const ONE: Decimal = Decimal::ONE;
    const EXACT: bool = true;

    fn from_decimal(d: Decimal) -> Decimal {
        d
    }
    fn from_f64(x: f64) -> Decimal {
        // The shortest text that round-trips, so a rate typed as 0.027 stays 0.027.
        format!("{x}")
            .parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(&format!("{x:e}")))
            .unwrap_or(Decimal::ZERO)
    }
    fn from_u32(n: u32) -> Decimal {
        Decimal::from(n)
    }
    fn round_money(self) -> Decimal {
        self.round_dp_with_strategy(MONEY_DP, MONEY_ROUNDING)
    }
    fn to_f64(self) -> f64 {
        ToPrimitive::to_f64(&self).unwrap_or(0.0)
    }
}

/// `x` to the nearest cent, half to even (as [`MONEY_ROUNDING`]): `round(100 x) / 100`.
///
/// For reporting an *order statistic* of a money column in `f64` (a quantile, its interval,
/// `min`, `max`, a VaR or a capacity): it is the amount of one path, which the Monte Carlo engine
/// sums in binary floating point, so a payment of CNY 723,600.00 made of several cent pieces
/// comes out as `723599.9999999981`. Rounding restores the amount the exact rule would give
/// whenever the floating-point error is below half a cent (any sum of a few pieces under
/// about 10^13), and otherwise moves it by at most half a cent. Means, standard deviations and
/// expected shortfalls are estimates, not amounts, and are not rounded. Magnitudes whose `f64`
/// spacing is already a cent or more (`|100 x| >= 2^52`), infinities and NaN are returned
/// unchanged; `-0.0` becomes `0.0`.
pub fn to_cent(x: f64) -> f64 {
    const EXACT_INTEGERS: f64 = 4_503_599_627_370_496.0; // 2^52
    let cents = 100.0 * x;
    if !cents.is_finite() || cents.abs() >= EXACT_INTEGERS {
        return x;
    }
    cents.round_ties_even() / 100.0 + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_cent_restores_sums_of_cents_and_rounds_half_to_even() {
        // A float sum of cent pieces: 0.1 + 0.2 is 0.30000000000000004.
        assert_eq!(to_cent(0.1 + 0.2), 0.3);
        assert_eq!(to_cent(723_599.999_999_998_1), 723_600.0);
        assert_eq!(to_cent(5_042_400.000_000_001), 5_042_400.0);
        assert_eq!(to_cent(668_076.890_490_341), 668_076.89);
        // Exact halves of a cent (binary fractions) go to the even cent.
        assert_eq!(to_cent(0.125), 0.12);
        assert_eq!(to_cent(0.375), 0.38);
        assert_eq!(to_cent(-2.5e-3), 0.0);
        assert!(to_cent(-1e-9).is_sign_positive(), "no -0.0 in reports");
        // Already coarser than a cent, or not a number: unchanged.
        assert_eq!(to_cent(1e300), 1e300);
        assert_eq!(to_cent(f64::INFINITY), f64::INFINITY);
        assert!(to_cent(f64::NAN).is_nan());
    }

    #[test]
    fn decimal_from_rate_is_the_typed_text() {
        assert_eq!(<Decimal as Amount>::from_f64(0.027).to_string(), "0.027");
        assert_eq!(<Decimal as Amount>::from_f64(0.1).to_string(), "0.1");
        assert_eq!(<Decimal as Amount>::from_f64(1e-12).to_string(), "0.000000000001");
    }

    #[test]
    fn money_rounds_half_to_even_in_decimal_only() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(d("1.005").round_money(), d("1.00"));
        assert_eq!(d("1.015").round_money(), d("1.02"));
        assert_eq!(d("-2.345").round_money(), d("-2.34"));
        assert_eq!(1.005f64.round_money(), 1.005);
    }

    #[test]
    fn min_max_positive_part() {
        assert_eq!(3.0f64.min_of(2.0), 2.0);
        assert_eq!((-1.0f64).positive_part(), 0.0);
        assert_eq!(Decimal::from(5).max_of(Decimal::from(7)), Decimal::from(7));
    }
}

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

/// Relative distance from a whole cent below which an `f64` money amount is taken to be that
/// cent with floating-point rounding ([`snap_to_cent`]); the same `1e-12` as the threshold below
/// which the engine treats a difference of amounts as rounding.
pub const CENT_SNAP_RELATIVE: f64 = 1e-12;

/// `x` snapped to the nearest whole cent `c = round(100 x) / 100` (half to even, as
/// [`MONEY_ROUNDING`]) when it is within floating-point rounding of it,
/// `|x - c| <= CENT_SNAP_RELATIVE * max(|x|, 1)`; otherwise `x` unchanged.
///
/// For reporting an *order statistic* of a money column in `f64` (a quantile, its interval,
/// `min`, `max`, a VaR or a capacity): it is the amount of one path, which the Monte Carlo engine
/// adds up in binary floating point, so a payment of CNY 723,600.00 made of several cent pieces
/// comes out as `723599.9999999981`; snapping gives back `723600.0`. An amount that is genuinely
/// not a whole number of cents in the engine (a share of a recovery, say `159459.45945945947`)
/// is further than rounding from any cent and is left as it is, so snapping never moves a value
/// by more than `1e-12` of it. Infinities and NaN are returned unchanged; `-0.0` becomes `0.0`.
pub fn snap_to_cent(x: f64) -> f64 {
    let cent = (100.0 * x).round_ties_even() / 100.0;
    if cent.is_finite() && (x - cent).abs() <= CENT_SNAP_RELATIVE * x.abs().max(1.0) {
        cent + 0.0
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_to_cent_removes_float_noise_only() {
        // Float sums of cent pieces: 0.1 + 0.2 is 0.30000000000000004.
        assert_eq!(snap_to_cent(0.1 + 0.2), 0.3);
        assert_eq!(snap_to_cent(723_599.999_999_998_1), 723_600.0);
        assert_eq!(snap_to_cent(5_042_400.000_000_001), 5_042_400.0);
        assert_eq!(snap_to_cent(20_000_000.000_000_004), 20_000_000.0);
        // Amounts that are not whole cents stay exactly as they are.
        assert_eq!(snap_to_cent(159_459.459_459_459_47), 159_459.459_459_459_47);
        assert_eq!(snap_to_cent(668_076.890_490_341), 668_076.890_490_341);
        assert_eq!(snap_to_cent(0.125), 0.125);
        // Noise around zero is an exact, positive zero.
        assert!(snap_to_cent(-1e-15) == 0.0 && snap_to_cent(-1e-15).is_sign_positive());
        // Huge amounts, infinities and NaN: unchanged.
        assert_eq!(snap_to_cent(1e300), 1e300);
        assert_eq!(snap_to_cent(f64::INFINITY), f64::INFINITY);
        assert!(snap_to_cent(f64::NAN).is_nan());
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

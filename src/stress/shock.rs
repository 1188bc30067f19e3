//! A stress shock: one set of changes to a scenario, applied as a pure function.

use crate::model::{Copula, CreditInput, RecoveryRate, Scenario};
use rust_decimal::Decimal;

/// The changes a stress point makes to a scenario. [`Shock::default`] changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Shock {
    /// Every firm's annual hazard is multiplied by this (`>= 0`): `h' = m h`, so the one-year
    /// PD becomes `1 - (1 - p)^m`.
    pub pd_multiplier: f64,
    /// Added to the deal's and every firm's and party's asset correlation, clamped to `[0, 1]`.
    /// The sector correlation matrix is left as it is (a shift could break its PSD property).
    pub correlation_add: f64,
    /// Replaces the copula.
    pub copula: Option<Copula>,
    /// Multiplies the recovery rate (a fixed rate, or the mean of the Beta rate with `a + b`
    /// kept), clamped to `[0, 1]`.
    pub recovery_multiplier: f64,
    /// Replaces the recovery lag (periods).
    pub lag_periods: Option<u32>,
    /// Multiplies every guarantor party's cap (unlimited caps stay unlimited).
    pub cap_multiplier: f64,
    /// `false` removes the own default of every party and of the undertaker.
    pub own_default: bool,
    /// Replaces the undertaker's cap (money; `None` leaves it as it is).
    pub undertaker_cap: Option<f64>,
    /// Added to every tranche's coupon (annual rate), floored at 0.
    pub coupon_add: f64,
    /// Added to the annual fee rate, floored at 0.
    pub fee_add: f64,
}

impl Default for Shock {
    fn default() -> Self {
        Shock {
            pd_multiplier: 1.0,
            correlation_add: 0.0,
            copula: None,
            recovery_multiplier: 1.0,
            lag_periods: None,
            cap_multiplier: 1.0,
            own_default: true,
            undertaker_cap: None,
            coupon_add: 0.0,
            fee_add: 0.0,
        }
    }
}

/// Money as a decimal rounded to the cent (negative and non-finite values become 0).
fn money(x: f64) -> Decimal {
    if !x.is_finite() || x <= 0.0 {
        return Decimal::ZERO;
    }
    Decimal::try_from(x)
        .map(|d| d.round_dp(2))
        .unwrap_or(Decimal::MAX)
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

impl Shock {
    /// The shocked scenario. Every invariant of [`Scenario`] still holds.
    pub fn apply(&self, base: &Scenario) -> Scenario {
        let mut s = base.clone();
        let m = self.pd_multiplier.max(0.0);
        if m != 1.0 {
            for f in &mut s.firms {
                f.credit = CreditInput::Hazard(f.credit.hazard() * m);
            }
        }
        if self.correlation_add != 0.0 {
            let add = |r: f64| clamp01(r + self.correlation_add);
            s.credit.asset_correlation = add(s.credit.asset_correlation);
            for f in &mut s.firms {
                f.asset_correlation = add(f.asset_correlation);
            }
            for tier in &mut s.tiers {
                for p in &mut tier.parties {
                    if let Some(d) = &mut p.own_default {
                        d.asset_correlation = add(d.asset_correlation);
                    }
                }
            }
            if let Some(d) = s.undertaker.as_mut().and_then(|u| u.own_default.as_mut()) {
                d.asset_correlation = add(d.asset_correlation);
            }
        }
        if let Some(c) = self.copula {
            s.credit.copula = c;
        }
        if self.recovery_multiplier != 1.0 {
            let k = self.recovery_multiplier.max(0.0);
            s.recovery.rate = match s.recovery.rate {
                RecoveryRate::Fixed(r) => RecoveryRate::Fixed(clamp01(r * k)),
                RecoveryRate::Beta { a, b } => {
                    let total = a + b;
                    let mean = (a / total * k).min(1.0);
                    // A Beta needs a, b > 0: a degenerate mean becomes a fixed rate.
                    if mean <= 0.0 || mean >= 1.0 {
                        RecoveryRate::Fixed(clamp01(mean))
                    } else {
                        RecoveryRate::Beta {
                            a: mean * total,
                            b: (1.0 - mean) * total,
                        }
                    }
                }
            };
        }
        if let Some(lag) = self.lag_periods {
            s.recovery.lag_periods = lag;
        }
        if self.cap_multiplier != 1.0 {
            let k = self.cap_multiplier.max(0.0);
            for tier in &mut s.tiers {
                for p in &mut tier.parties {
                    if let Some(cap) = p.cap {
                        let c: f64 = cap.try_into().unwrap_or(0.0);
                        p.cap = Some(money(c * k));
                    }
                }
            }
        }
        if !self.own_default {
            for tier in &mut s.tiers {
                for p in &mut tier.parties {
                    p.own_default = None;
                }
            }
            if let Some(u) = &mut s.undertaker {
                u.own_default = None;
            }
        }
        if let (Some(cap), Some(u)) = (self.undertaker_cap, &mut s.undertaker) {
            u.cap = Some(money(cap));
        }
        if self.coupon_add != 0.0 {
            for t in &mut s.tranches {
                t.coupon = (t.coupon + self.coupon_add).max(0.0);
            }
        }
        if self.fee_add != 0.0 {
            s.fees.annual_rate = (s.fees.annual_rate + self.fee_add).max(0.0);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagship() -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/yuhang-2023.toml");
        crate::scenario::load(path.as_ref()).expect("flagship loads")
    }

    #[test]
    fn the_default_shock_changes_nothing() {
        let s = flagship();
        assert_eq!(Shock::default().apply(&s), s);
    }

    #[test]
    fn pd_multiplier_scales_hazards() {
        let s = flagship();
        let t = Shock {
            pd_multiplier: 3.0,
            ..Shock::default()
        }
        .apply(&s);
        for (a, b) in s.firms.iter().zip(&t.firms) {
            assert!((b.credit.hazard() - 3.0 * a.credit.hazard()).abs() < 1e-15);
        }
        // PD 1% tripled in hazard: 1 - 0.99^3.
        let p = 1.0 - (-t.firms[0].credit.hazard()).exp();
        assert!((p - (1.0 - 0.99f64.powi(3))).abs() < 1e-12);
    }

    #[test]
    fn correlations_are_clamped() {
        let s = flagship();
        let up = Shock {
            correlation_add: 2.0,
            ..Shock::default()
        }
        .apply(&s);
        assert_eq!(up.credit.asset_correlation, 1.0);
        assert!(up.firms.iter().all(|f| f.asset_correlation == 1.0));
        let down = Shock {
            correlation_add: -2.0,
            ..Shock::default()
        }
        .apply(&s);
        assert!(down.firms.iter().all(|f| f.asset_correlation == 0.0));
    }

    #[test]
    fn recovery_caps_coupons_and_fees() {
        let s = flagship();
        let t = Shock {
            recovery_multiplier: 0.5,
            lag_periods: Some(1),
            cap_multiplier: 0.5,
            own_default: false,
            undertaker_cap: Some(1234.567),
            coupon_add: 0.01,
            fee_add: -1.0,
            copula: Some(Copula::StudentT { dof: 4.0 }),
            ..Shock::default()
        }
        .apply(&s);
        assert!((t.recovery.rate.mean() - 0.5 * s.recovery.rate.mean()).abs() < 1e-12);
        if let (RecoveryRate::Beta { a, b }, RecoveryRate::Beta { a: a0, b: b0 }) =
            (t.recovery.rate, s.recovery.rate)
        {
            assert!((a + b - a0 - b0).abs() < 1e-12);
        }
        assert_eq!(t.recovery.lag_periods, 1);
        for ((_, p), (_, q)) in s.parties().zip(t.parties()) {
            match (p.cap, q.cap) {
                (Some(c), Some(d)) => assert_eq!(d, (c / Decimal::from(2)).round_dp(2)),
                (None, None) => {}
                other => panic!("cap changed kind: {other:?}"),
            }
            assert!(q.own_default.is_none());
        }
        let u = t.undertaker.as_ref().unwrap();
        assert_eq!(u.cap, Some(Decimal::new(123457, 2)));
        assert!(u.own_default.is_none());
        assert!((t.tranches[0].coupon - s.tranches[0].coupon - 0.01).abs() < 1e-15);
        assert_eq!(t.fees.annual_rate, 0.0);
        assert_eq!(t.credit.copula, Copula::StudentT { dof: 4.0 });
    }

    #[test]
    fn recovery_multiplier_of_zero_or_huge_stays_valid() {
        let s = flagship();
        for k in [0.0, 100.0] {
            let t = Shock {
                recovery_multiplier: k,
                ..Shock::default()
            }
            .apply(&s);
            let r = t.recovery.rate.mean();
            assert!((0.0..=1.0).contains(&r), "{r}");
        }
    }
}

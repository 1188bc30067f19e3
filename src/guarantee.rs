//! Loss sharing: the tiers of guarantor parties that a missed payment meets, and the
//! reimbursement of those parties from recoveries.
//!
//! Rules (DESIGN §2 and §4), for one period:
//!
//! - every firm's missed principal `mp_i` and interest `mi_i` reach tier 1;
//! - the parties of a tier act in parallel on what reaches it. Party `p` with share `s_p` owes
//!   `o_p = sum_{i covered} s_p (mp_i + [not principal_only] mi_i)`; it pays
//!   `pay_p = min(o_p, cap_left_p)` (0 once it has defaulted), spread pro rata over the firms and
//!   over principal and interest, i.e. a fraction `f_p = pay_p / o_p` of each piece;
//! - what a tier did not pay for a firm (cap exhausted, party defaulted, firm or interest not
//!   covered, zero cap) falls to the next tier; what falls through the last tier is guarantor
//!   shortfall;
//! - a recovery for firm `i` first repays, pro rata, what each party paid for firm `i` so far
//!   (at most that); caps are gross and are not restored by reimbursement.
//!
//! In exact arithmetic (see [`crate::money`]) an obligation and every piece are rounded to the
//! cent, and a party's last piece of a period (or the last party's share of a reimbursement)
//! takes what rounding left over, so the pieces add up to the payment exactly.

use std::ops::Range;

use crate::model::Tier;
use crate::money::Amount;

/// One party's terms, compiled for allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyTerms<A> {
    pub share: A,
    /// `None`: unlimited.
    pub cap: Option<A>,
    /// `covers[i]`: whether the party covers firm `i`; `None`: every firm.
    pub covers: Option<Vec<bool>>,
    pub principal_only: bool,
}

impl<A: Amount> PartyTerms<A> {
    #[inline]
    fn covers(&self, firm: usize) -> bool {
        self.covers.as_ref().is_none_or(|c| c[firm])
    }

    /// Its part of missed payment `m` before its share: `mp + [not principal_only] mi` if it
    /// covers the firm.
    #[inline(always)]
    fn base(&self, m: &Missed<A>) -> Option<A> {
        match (self.covers(m.firm), self.principal_only) {
            (false, _) => None,
            (true, true) => Some(m.principal),
            (true, false) => Some(m.principal + m.interest),
        }
    }

    /// Its obligation for one period, `o_p = sum_{i covered} s_p (mp_i + [not principal_only]
    /// mi_i)` summed in `missed`'s order (rounded to the cent in exact arithmetic), and the index
    /// in `missed` of the last covered firm with a positive base (exact arithmetic only; else 0).
    #[inline]
    fn owed(&self, missed: &[Missed<A>]) -> (A, usize) {
        let mut owed = A::ZERO;
        let mut last = 0;
        for (i, m) in missed.iter().enumerate() {
            if let Some(base) = self.base(m) {
                owed += self.share * base;
                if A::EXACT && base > A::ZERO {
                    last = i;
                }
            }
        }
        (owed.round_money(), last)
    }
}

/// The tiers of a deal, compiled: parties flattened in report order (tier by tier).
#[derive(Debug, Clone, PartialEq)]
pub struct LossSharing<A> {
    parties: Vec<PartyTerms<A>>,
    tiers: Vec<Range<usize>>,
    firms: usize,
}

/// A firm's missed payment for one period, as it moves down the tiers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Missed<A> {
    pub firm: usize,
    pub principal: A,
    pub interest: A,
}

impl<A: Amount> Missed<A> {
    /// What a tier did not pay falls to the next: `max(mp - paid_principal, 0)` and
    /// `max(mi - paid_interest, 0)`.
    #[inline]
    fn fall_through(&mut self, paid_principal: A, paid_interest: A) {
        self.principal = (self.principal - paid_principal).positive_part();
        self.interest = (self.interest - paid_interest).positive_part();
    }
}

/// One party's running totals over a path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartyState<A> {
    /// Gross amount paid.
    pub paid: A,
    /// Its share of every loss that reached it and that it covers.
    pub obligation: A,
    /// Amount repaid to it from recoveries.
    pub reimbursed: A,
    /// Whether it refused part of an obligation because its cap was used up.
    pub cap_bound: bool,
    /// The period (1-based) in which its cap first bound; 0: never.
    pub cap_bound_period: u32,
    /// The period (1-based) from which it pays nothing because it has defaulted; 0: never.
    pub defaulted_from: u32,
}

impl<A: Amount> PartyState<A> {
    /// A fresh state for a path on which the party defaults in `defaulted_from` (0: never).
    pub fn new(defaulted_from: u32) -> Self {
        PartyState {
            paid: A::ZERO,
            obligation: A::ZERO,
            reimbursed: A::ZERO,
            cap_bound: false,
            cap_bound_period: 0,
            defaulted_from,
        }
    }

    /// Its shortfall: obligation minus payout.
    pub fn shortfall(&self) -> A {
        self.obligation - self.paid
    }

    /// Payout net of reimbursements.
    pub fn net_paid(&self) -> A {
        self.paid - self.reimbursed
    }

    /// What it pays in `period` of an obligation `owed`: nothing once it has defaulted or when
    /// nothing is owed, else `min(owed, max(cap - paid, 0))` (all of it without a cap). Marks
    /// its cap as bound (and when it first bound) when the cap refuses part of it.
    #[inline]
    fn pay(&mut self, cap: Option<A>, owed: A, period: u32) -> A {
        let defaulted = self.defaulted_from != 0 && self.defaulted_from <= period;
        if defaulted || owed <= A::ZERO {
            return A::ZERO;
        }
        match cap {
            None => owed,
            Some(cap) => {
                let left = (cap - self.paid).positive_part();
                if owed > left {
                    if !self.cap_bound {
                        self.cap_bound_period = period;
                    }
                    self.cap_bound = true;
                    left
                } else {
                    owed
                }
            }
        }
    }
}

/// Scratch space for [`LossSharing::allocate`]: one slot per party.
#[derive(Debug, Clone)]
pub struct AllocationScratch<A> {
    /// `f_p s_p` of each party of the tier being allocated: the part of each covered piece it
    /// pays this period.
    piece_rate: Vec<A>,
    /// Whether each party of the tier being allocated pays something this period (`f_p > 0`).
    pays: Vec<bool>,
    /// Each party's obligation this period, as it is summed.
    owed: Vec<A>,
    /// Exact arithmetic only: what each party still has to pay this period.
    unpaid: Vec<A>,
    /// Exact arithmetic only: the index in `missed` of the last firm each party pays for.
    last: Vec<usize>,
}

impl<A: Amount> LossSharing<A> {
    /// Compiles the tiers for a pool of `firms` firms.
    pub fn new(tiers: &[Tier], firms: usize) -> Self {
        let mut parties = Vec::new();
        let mut ranges = Vec::new();
        for tier in tiers {
            let start = parties.len();
            for p in &tier.parties {
                parties.push(PartyTerms {
                    share: A::from_f64(p.share),
                    cap: p.cap.map(A::from_decimal),
                    covers: p.firms.as_ref().map(|ids| {
                        let mut c = vec![false; firms];
                        for &i in ids {
                            c[i] = true;
                        }
                        c
                    }),
                    principal_only: p.principal_only,
                });
            }
            ranges.push(start..parties.len());
        }
        LossSharing {
            parties,
            tiers: ranges,
            firms,
        }
    }

    /// Number of parties over all tiers.
    pub fn parties(&self) -> usize {
        self.parties.len()
    }

    /// The compiled terms of party `p`.
    pub fn terms(&self, p: usize) -> &PartyTerms<A> {
        &self.parties[p]
    }

    /// Scratch sized for these tiers.
    pub fn scratch(&self) -> AllocationScratch<A> {
        AllocationScratch {
            piece_rate: vec![A::ZERO; self.parties.len()],
            pays: vec![false; self.parties.len()],
            owed: vec![A::ZERO; self.parties.len()],
            unpaid: vec![A::ZERO; self.parties.len()],
            last: vec![0; self.parties.len()],
        }
    }

    /// Runs one period's missed payments through the tiers.
    ///
    /// `missed` holds what reaches tier 1; on return it holds what fell through the last tier.
    /// Each party's payment for each firm is added to `paid_for[party * firms + firm]` (unless
    /// `paid_for` is empty: no per-firm record is kept) and to its [`PartyState::paid`]. Returns
    /// the total paid by all parties.
    ///
    /// Per tier, two passes: each party's obligation `o_p` and payment `pay_p` (and from them
    /// `f_p s_p`, the part of each covered piece it pays), then each firm's pieces
    /// `pp = (f_p s_p) mp_i` and `pi = (f_p s_p) mi_i` from the parties that pay anything this
    /// period, and what falls to the next tier, `max(mp_i - sum pp, 0)` and
    /// `max(mi_i - sum pi, 0)`. A tier of one party (the common case) takes a shorter route to
    /// the same operations. Inlined so that the path's periods keep it in their loop whatever
    /// the compiler's partition of the crate.
    #[inline]
    pub fn allocate(
        &self,
        period: u32,
        missed: &mut [Missed<A>],
        states: &mut [PartyState<A>],
        paid_for: &mut [A],
        scratch: &mut AllocationScratch<A>,
    ) -> A {
        // One firm missing (the common case): the same steps, with the loops over firms unrolled.
        match missed.len() {
            1 => self.allocate_tiers(period, &mut missed[..1], states, paid_for, scratch),
            _ => self.allocate_tiers(period, missed, states, paid_for, scratch),
        }
    }

    /// [`LossSharing::allocate`], tier by tier.
    #[inline(always)]
    fn allocate_tiers(
        &self,
        period: u32,
        missed: &mut [Missed<A>],
        states: &mut [PartyState<A>],
        paid_for: &mut [A],
        scratch: &mut AllocationScratch<A>,
    ) -> A {
        let mut total = A::ZERO;
        for tier in &self.tiers {
            // Tiers of one party (the common case) and of two take routes with the loops over
            // the tier's parties unrolled; the operations are the same.
            match tier.len() {
                1 => self.allocate_alone(
                    tier.start,
                    period,
                    missed,
                    &mut states[tier.start],
                    paid_for,
                    &mut total,
                ),
                2 => self.allocate_tier(
                    tier.start, 2, period, missed, states, paid_for, scratch, &mut total,
                ),
                n => self.allocate_larger_tier(
                    tier.start, n, period, missed, states, paid_for, scratch, &mut total,
                ),
            }
        }
        total
    }

    /// [`LossSharing::allocate_tier`] for tiers of three parties or more, kept out of line.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn allocate_larger_tier(
        &self,
        start: usize,
        n: usize,
        period: u32,
        missed: &mut [Missed<A>],
        states: &mut [PartyState<A>],
        paid_for: &mut [A],
        scratch: &mut AllocationScratch<A>,
        total: &mut A,
    ) {
        self.allocate_tier(start, n, period, missed, states, paid_for, scratch, total);
    }

    /// [`LossSharing::allocate`] for a tier of one party, `p`: its obligation, its payment, and
    /// its pieces of each firm's missed payment, added to `total`.
    #[inline(always)]
    fn allocate_alone(
        &self,
        p: usize,
        period: u32,
        missed: &mut [Missed<A>],
        state: &mut PartyState<A>,
        paid_for: &mut [A],
        total: &mut A,
    ) {
        let terms = &self.parties[p];
        let (owed, last) = terms.owed(missed);
        state.obligation += owed;
        let pay = state.pay(terms.cap, owed, period);
        // f_p = pay_p / o_p, applied to each piece's share s_p.
        let fraction = if pay > A::ZERO { pay / owed } else { A::ZERO };
        if fraction > A::ZERO {
            let rate = fraction * terms.share;
            let mut unpaid = pay;
            for (i, m) in missed.iter_mut().enumerate() {
                let (pp, pi) = if terms.covers(m.firm) {
                    let last = A::EXACT && i == last;
                    self.piece(p, rate, last, m, state, &mut unpaid, paid_for, total)
                } else {
                    (A::ZERO, A::ZERO)
                };
                m.fall_through(A::ZERO + pp, A::ZERO + pi);
            }
        } else {
            for m in missed.iter_mut() {
                m.fall_through(A::ZERO, A::ZERO);
            }
        }
    }

    /// [`LossSharing::allocate`] for the tier of the `n` parties from `start` (`n` a constant
    /// where it is called, so that the loops over the tier's parties unroll), adding what they
    /// pay to `total`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn allocate_tier(
        &self,
        start: usize,
        n: usize,
        period: u32,
        missed: &mut [Missed<A>],
        states: &mut [PartyState<A>],
        paid_for: &mut [A],
        scratch: &mut AllocationScratch<A>,
        total: &mut A,
    ) {
        let tier = start..start + n;
        let terms = &self.parties[tier.clone()];
        let states = &mut states[tier.clone()];
        let rate = &mut scratch.piece_rate[tier.clone()];
        let pays = &mut scratch.pays[tier.clone()];
        let unpaid = &mut scratch.unpaid[tier.clone()];
        let last = &mut scratch.last[tier];
        // Each party's obligation (as `PartyTerms::owed`, the parties side by side in one pass
        // over the firms) and the fraction of it that it pays.
        let owed = &mut scratch.owed[..n];
        owed.fill(A::ZERO);
        for (i, m) in missed.iter().enumerate() {
            for j in 0..n {
                if let Some(base) = terms[j].base(m) {
                    owed[j] += terms[j].share * base;
                    if A::EXACT && base > A::ZERO {
                        last[j] = i;
                    }
                }
            }
        }
        for j in 0..n {
            let owed = owed[j].round_money();
            states[j].obligation += owed;
            let pay = states[j].pay(terms[j].cap, owed, period);
            // f_p = pay_p / o_p, applied to each piece's share s_p.
            let fraction = if pay > A::ZERO { pay / owed } else { A::ZERO };
            pays[j] = fraction > A::ZERO;
            if pays[j] {
                rate[j] = fraction * terms[j].share;
                if A::EXACT {
                    unpaid[j] = pay;
                }
            }
        }
        // Pay each firm's piece; what is not paid falls to the next tier.
        for (i, m) in missed.iter_mut().enumerate() {
            let mut paid_principal = A::ZERO;
            let mut paid_interest = A::ZERO;
            for j in 0..n {
                if !pays[j] || !terms[j].covers(m.firm) {
                    continue;
                }
                let is_last = A::EXACT && i == last[j];
                let (pp, pi) = self.piece(
                    start + j,
                    rate[j],
                    is_last,
                    m,
                    &mut states[j],
                    &mut unpaid[j],
                    paid_for,
                    total,
                );
                paid_principal += pp;
                paid_interest += pi;
            }
            m.fall_through(paid_principal, paid_interest);
        }
    }

    /// Party `p`'s piece of the missed payment `m` at `rate = f_p s_p`: `pp = rate mp` and
    /// `pi = rate mi` (0 when it covers principal only), each rounded to the cent in exact
    /// arithmetic, where its `last` piece of the period instead takes what rounding left of
    /// its payment (`unpaid`). Adds `pp + pi` to its payout, to `total` and (unless
    /// `paid_for` is empty) to its record for the firm; returns `(pp, pi)`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn piece(
        &self,
        p: usize,
        rate: A,
        last: bool,
        m: &Missed<A>,
        state: &mut PartyState<A>,
        unpaid: &mut A,
        paid_for: &mut [A],
        total: &mut A,
    ) -> (A, A) {
        let mut pp = (rate * m.principal).round_money();
        let mut pi = if self.parties[p].principal_only {
            A::ZERO
        } else {
            (rate * m.interest).round_money()
        };
        if A::EXACT {
            if last {
                // The last piece takes what rounding left over.
                let piece = unpaid.positive_part();
                pp = pp.min_of(piece);
                pi = piece - pp;
            }
            *unpaid -= pp + pi;
        }
        let piece = pp + pi;
        if !paid_for.is_empty() {
            paid_for[p * self.firms + m.firm] += piece;
        }
        state.paid += piece;
        *total += piece;
        (pp, pi)
    }

    /// Applies a recovery of `amount` for `firm`: repays each party pro rata to what it paid for
    /// the firm, at most that in total. Returns the part used to reimburse (`Rg`); the rest goes to
    /// the trust.
    pub fn reimburse(&self, firm: usize, amount: A, states: &mut [PartyState<A>], paid_for: &[A]) -> A {
        let mut paid = A::ZERO;
        for p in 0..self.parties.len() {
            paid += paid_for[p * self.firms + firm];
        }
        if paid <= A::ZERO || amount <= A::ZERO {
            return A::ZERO;
        }
        let repay = amount.min_of(paid);
        let last = if A::EXACT {
            (0..self.parties.len())
                .rev()
                .find(|&p| paid_for[p * self.firms + firm] > A::ZERO)
        } else {
            None
        };
        let mut used = A::ZERO;
        for (p, state) in states.iter_mut().enumerate() {
            let owed = paid_for[p * self.firms + firm];
            if owed > A::ZERO {
                let piece = if last == Some(p) {
                    // Exact arithmetic: the last party takes what rounding left over.
                    (repay - used).positive_part()
                } else {
                    (repay * owed / paid).round_money()
                };
                state.reimbursed += piece;
                used += piece;
            }
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Party;
    use rust_decimal::Decimal;

    fn party(name: &str, share: f64, cap: Option<&str>) -> Party {
        Party {
            name: name.into(),
            share,
            cap: cap.map(|c| c.parse().unwrap()),
            own_default: None,
            firms: None,
            principal_only: false,
        }
    }

    struct Run {
        sharing: LossSharing<f64>,
        states: Vec<PartyState<f64>>,
        paid_for: Vec<f64>,
        scratch: AllocationScratch<f64>,
    }

    impl Run {
        fn new(tiers: Vec<Tier>, firms: usize) -> Self {
            let sharing = LossSharing::<f64>::new(&tiers, firms);
            let n = sharing.parties();
            Run {
                states: vec![PartyState::new(0); n],
                paid_for: vec![0.0; n * firms],
                scratch: sharing.scratch(),
                sharing,
            }
        }
        fn period(&mut self, k: u32, missed: &mut [Missed<f64>]) -> f64 {
            self.sharing
                .allocate(k, missed, &mut self.states, &mut self.paid_for, &mut self.scratch)
        }
    }

    #[test]
    fn district_half_then_municipal_rest_with_caps() {
        // Tier 1: district 50% capped at 5.2, the other 50% a zero-cap pass-through;
        // tier 2: municipal 100% capped at 7.8. A missed 10 (principal 8, interest 2):
        // district pays 5.0, municipal pays the other 5.0; nothing falls through.
        let tiers = vec![
            Tier {
                name: "t1".into(),
                parties: vec![party("district", 0.5, Some("5.2")), party("pass", 0.5, Some("0"))],
            },
            Tier {
                name: "t2".into(),
                parties: vec![party("municipal", 1.0, Some("7.8"))],
            },
        ];
        let mut run = Run::new(tiers, 1);
        let mut m = [Missed {
            firm: 0,
            principal: 8.0,
            interest: 2.0,
        }];
        let g = run.period(1, &mut m);
        assert!((g - 10.0).abs() < 1e-12);
        assert!((run.states[0].paid - 5.0).abs() < 1e-12);
        assert!((run.states[2].paid - 5.0).abs() < 1e-12);
        assert!(run.states[1].cap_bound, "a zero-cap party refuses its share");
        assert!((run.states[1].shortfall() - 5.0).abs() < 1e-12);
        // Next period another 10: district has 0.2 left, so 4.8 of its 5 falls to municipal with
        // the pass-through's 5: municipal owes 9.8 but has 2.8 left; 7.0 falls through.
        let mut m = [Missed {
            firm: 0,
            principal: 8.0,
            interest: 2.0,
        }];
        let g = run.period(2, &mut m);
        assert!((g - 3.0).abs() < 1e-12);
        assert!((m[0].principal + m[0].interest - 7.0).abs() < 1e-12);
        // Pro rata over principal and interest: the fall-through keeps the 8:2 split.
        assert!((m[0].principal - 5.6).abs() < 1e-12);
        assert!(run.states[0].cap_bound && run.states[2].cap_bound);
        assert!((run.states[0].paid - 5.2).abs() < 1e-12);
        assert!((run.states[2].paid - 7.8).abs() < 1e-12);
    }

    #[test]
    fn principal_only_subset_party_and_reimbursement() {
        // Yongjia-style: county pays 20% of principal of firm 1 only; bank keeps the rest.
        let mut county = party("county", 0.2, None);
        county.firms = Some(vec![1]);
        county.principal_only = true;
        let tiers = vec![Tier {
            name: "t1".into(),
            parties: vec![county, party("bank", 0.8, Some("0"))],
        }];
        let mut run = Run::new(tiers, 2);
        let mut m = [
            Missed {
                firm: 0,
                principal: 100.0,
                interest: 10.0,
            },
            Missed {
                firm: 1,
                principal: 50.0,
                interest: 5.0,
            },
        ];
        let g = run.period(1, &mut m);
        assert!((g - 10.0).abs() < 1e-12, "20% of firm 1's principal 50");
        assert!((run.states[0].obligation - 10.0).abs() < 1e-12);
        assert!(!run.states[0].cap_bound);
        // Recovery of 4 for firm 1 repays the county 4 (it paid 10); recovery of 30 repays 10.
        let used = run.sharing.reimburse(1, 4.0, &mut run.states, &run.paid_for);
        assert!((used - 4.0).abs() < 1e-12);
        let used = run.sharing.reimburse(0, 30.0, &mut run.states, &run.paid_for);
        assert_eq!(used, 0.0, "nobody paid for firm 0");
    }

    #[test]
    fn defaulted_party_pays_nothing_from_its_default_period() {
        let tiers = vec![
            Tier {
                name: "t1".into(),
                parties: vec![party("weak", 1.0, None)],
            },
            Tier {
                name: "t2".into(),
                parties: vec![party("strong", 1.0, None)],
            },
        ];
        let mut run = Run::new(tiers, 1);
        run.states[0].defaulted_from = 2;
        let mut m = [Missed {
            firm: 0,
            principal: 0.0,
            interest: 3.0,
        }];
        run.period(1, &mut m);
        assert_eq!(run.states[0].paid, 3.0);
        let mut m = [Missed {
            firm: 0,
            principal: 0.0,
            interest: 3.0,
        }];
        run.period(2, &mut m);
        assert_eq!(run.states[0].paid, 3.0);
        assert_eq!(run.states[1].paid, 3.0);
        assert!(!run.states[0].cap_bound, "a party in default is not cap-bound");
    }

    #[test]
    fn decimal_allocation_is_exact() {
        let tiers = vec![Tier {
            name: "t1".into(),
            parties: vec![
                party("a", 0.4, None),
                party("b", 0.4, Some("30")),
                party("c", 0.2, Some("0")),
            ],
        }];
        let sharing = LossSharing::<Decimal>::new(&tiers, 1);
        let mut states = vec![PartyState::new(0); 3];
        let mut paid_for = vec![Decimal::ZERO; 3];
        let mut scratch = sharing.scratch();
        let mut m = [Missed {
            firm: 0,
            principal: Decimal::from(100),
            interest: Decimal::ZERO,
        }];
        let g = sharing.allocate(1, &mut m, &mut states, &mut paid_for, &mut scratch);
        assert_eq!(g, Decimal::from(70));
        assert_eq!(m[0].principal, Decimal::from(30));
    }
}

//! The tiers' work on paths on which one firm alone defaults, done once per plan.
//!
//! On a path on which exactly one firm `i` defaults, in period `d`, and no guarantor party
//! defaults, the tiers meet the same missed payments every time: firm `i`'s scheduled principal
//! and interest of each period `k = d..=T`, from fresh party states. What they do then depends
//! on `(i, d)` alone, so [`SoleDefaults`] runs [`LossSharing::allocate`] once for every `(i, d)`
//! and keeps, after each period, the total paid `G_k`, each party's running totals and what
//! each party has paid for the firm. A path of that shape copies them instead of allocating
//! again: the same operations were done, once, so the results are the same bit for bit.
//! Recoveries (and reimbursements) do not enter the allocation: caps are gross.

use crate::guarantee::{LossSharing, Missed, PartyState};
use crate::plan::Due;

/// Most `(firm, default period, period, party)` entries kept; larger pools allocate on every
/// path (the table would cost more memory than it saves time).
pub const MAX_ENTRIES: usize = 1 << 14;

/// The allocation of each period of every one-default path shape (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct SoleDefaults {
    /// `T`.
    periods: usize,
    /// Number of parties.
    parties: usize,
    /// `G_k` of entry `(i, d, k)` at `(i T + d - 1) T + k - 1`.
    paid: Vec<f64>,
    /// Each party's running totals after period `k` of entry `e`, at `e P + p`.
    states: Vec<PartyState<f64>>,
    /// What party `p` has paid for the firm by the end of period `k` of entry `e`, at `e P + p`.
    paid_for: Vec<f64>,
}

impl SoleDefaults {
    /// The table for `firms` firms with scheduled payments `dues` (firm by firm, `periods`
    /// each) meeting `sharing`; empty when the pool is too large ([`MAX_ENTRIES`]) or there
    /// are no parties.
    pub fn new(sharing: &LossSharing<f64>, dues: &[Due], firms: usize, periods: usize) -> Self {
        let parties = sharing.parties();
        let entries = firms * periods * periods;
        if parties == 0 || entries.saturating_mul(parties) > MAX_ENTRIES {
            return SoleDefaults::default();
        }
        let mut table = SoleDefaults {
            periods,
            parties,
            paid: vec![0.0; entries],
            states: vec![PartyState::new(0); entries * parties],
            paid_for: vec![0.0; entries * parties],
        };
        let mut scratch = sharing.scratch();
        let mut paid_for = vec![0.0; parties * firms];
        let mut states = vec![PartyState::new(0); parties];
        for firm in 0..firms {
            for d in 1..=periods {
                states.fill(PartyState::new(0));
                paid_for.fill(0.0);
                for k in d..=periods {
                    let due = dues[firm * periods + k - 1];
                    let mut missed = [Missed {
                        firm,
                        principal: due.principal,
                        interest: due.interest,
                    }];
                    let e = table.entry(firm, d as u32, k as u32);
                    table.paid[e] =
                        sharing.allocate(k as u32, &mut missed, &mut states, &mut paid_for, &mut scratch);
                    table.states[e * parties..(e + 1) * parties].copy_from_slice(&states);
                    for p in 0..parties {
                        table.paid_for[e * parties + p] = paid_for[p * firms + firm];
                    }
                }
            }
        }
        table
    }

    /// Whether the table was built.
    #[inline]
    pub fn is_available(&self) -> bool {
        !self.paid.is_empty()
    }

    #[inline]
    fn entry(&self, firm: usize, d: u32, k: u32) -> usize {
        (firm * self.periods + d as usize - 1) * self.periods + k as usize - 1
    }

    /// Period `k` (`d <= k`) of a path on which `firm` alone defaults, in `d`, and no party
    /// does: sets the allocation's part of each party's running totals (its payout,
    /// obligation and cap) and, unless `paid_for` is empty, what each party has paid for the
    /// firm (at `p * firms + firm`), as [`LossSharing::allocate`] leaves them; returns `G_k`.
    #[inline]
    pub fn apply(
        &self,
        firm: usize,
        d: u32,
        k: u32,
        states: &mut [PartyState<f64>],
        paid_for: &mut [f64],
        firms: usize,
    ) -> f64 {
        let e = self.entry(firm, d, k);
        let p = self.parties;
        for (st, after) in states.iter_mut().zip(&self.states[e * p..(e + 1) * p]) {
            // Reimbursements (not part of the allocation) stay as the path left them.
            st.paid = after.paid;
            st.obligation = after.obligation;
            st.cap_bound = after.cap_bound;
            st.cap_bound_period = after.cap_bound_period;
        }
        if !paid_for.is_empty() {
            for (q, after) in self.paid_for[e * p..(e + 1) * p].iter().enumerate() {
                paid_for[q * firms + firm] = *after;
            }
        }
        self.paid[e]
    }
}

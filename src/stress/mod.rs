//! Stress testing: shocks applied to a validated scenario, grids of shocks run on common random
//! numbers, and the metrics read off each point.
//!
//! Everything here is pure: a [`shock::Shock`] maps a [`crate::model::Scenario`] to another
//! valid scenario; [`grid`] expands a grid definition into points and runs them through
//! [`crate::runner::simulate`] with one seed, so every point draws the same random numbers
//! (the draw order of [`crate::path`] does not depend on hazards, correlations, recoveries, caps,
//! coupons or fees; only a switch of copula adds the chi-square draw).

pub mod breakeven;
pub mod grid;
pub mod shock;

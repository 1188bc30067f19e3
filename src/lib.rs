//! ipabs: Monte Carlo for IP asset-backed notes and IP pledge-loan programmes.

pub mod model;
pub mod scenario;
pub mod stats;

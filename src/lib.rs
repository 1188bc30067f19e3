//! ipabs: Monte Carlo for IP asset-backed notes and IP pledge-loan programmes.

pub mod model;
pub mod scenario;
pub mod stats;
pub mod credit;
pub mod guarantee;
pub mod money;
pub mod path;
pub mod plan;
pub mod schedule;
pub mod waterfall;
pub mod runner;
pub mod report;
pub mod cli;

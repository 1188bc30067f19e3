//! # ipabs
//!
//! Monte Carlo for intellectual-property asset-backed notes and IP pledge-loan programmes.
//!
//! A [`model::Scenario`] (read and validated by [`scenario`]) describes a pool of firms, the
//! tiers of guarantors that share its losses, a differential payment undertaker and the notes.
//! [`plan::Plan`] compiles it for simulation; [`path::simulate_path`] draws one path of correlated
//! defaults and runs it through the guarantor tiers ([`guarantee`]) and the note waterfall
//! ([`waterfall`]); [`runner::simulate`] does that for many paths in parallel, reproducibly;
//! [`stats`] summarises the per-path outputs; [`chart`] draws them and [`report`] renders
//! `summary.json`, the memo and the files of [`ledger`], the exact cash-flow statement of one
//! named case of defaults.
//!
//! ```no_run
//! use ipabs::{plan::Plan, report::summary::Summary, runner};
//!
//! let scenario = ipabs::scenario::load("scenarios/yuhang-2023.toml".as_ref())?;
//! let plan = Plan::new(&scenario);
//! let sim = runner::simulate(&plan, 100_000, 7, 0, &runner::Silent)?;
//! let summary = Summary::new(&scenario, sim, String::new(), 0.0);
//! println!("mean pool loss {}", summary.pool_loss.mean);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Architecture invariants
//!
//! 1. The core — [`model`], [`money`], [`schedule`], [`credit`], [`guarantee`], [`waterfall`],
//!    [`ledger`], [`plan`], [`path`], [`stats`], [`analytic`] — does no I/O and knows no file
//!    format, thread or terminal. Randomness enters only as a `&mut impl Rng` argument.
//! 2. Only [`scenario`] knows the TOML format; only [`report`] knows `summary.json`, the memo
//!    templates, CSV and XLSX; only [`chart`] knows plotters. Renderers return bytes and
//!    [`report::write_report`] alone writes them.
//! 3. The cash-flow rules are written once, generic over [`money::Amount`]: `f64` in the hot
//!    loop, exact `Decimal` in [`ledger`], rounded to the cent by the one rule of [`money`].
//! 4. Only [`runner`] knows threads, blocks and generators; only [`cli`] knows argv, stdout, exit
//!    codes and the working directory; only `python` (cargo feature `python`) knows Python.
//! 5. What one run is — the memory check, the precision-target loop, a shard, the merge — is
//!    written once, in [`job`], for the command line and the Python module alike.

pub mod analytic;
pub mod chart;
pub mod cli;
pub mod credit;
pub mod exposure;
pub mod guarantee;
pub mod importance;
pub mod job;
pub mod ledger;
pub mod memory;
pub mod model;
pub mod money;
pub mod path;
pub mod plan;
#[cfg(feature = "python")]
pub mod python;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod size;
pub mod stats;
pub mod streaming;
pub mod stress;
pub mod waterfall;

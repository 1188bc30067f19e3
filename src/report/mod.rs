//! Outputs: the renderers (pure functions returning text or bytes) and [`folder`], the one
//! place that writes files, a whole report folder at a time.

pub mod analytic;
pub mod cashflows;
pub mod exposure;
pub mod folder;
pub mod memo;
pub mod partial;
pub mod stress;
pub mod summary;
pub mod table;

pub use folder::{WriteError, write_report};

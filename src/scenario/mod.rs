//! Scenario files: reading and validating TOML into a [`crate::model::Scenario`].

//! Statistics of Monte Carlo samples.

//! The partial result of one shard (`ipabs run --shard I/N`), and reading it back for
//! `ipabs merge`.
//!
//! A partial is two files: `partial.json`, the manifest (format, ipabs version, the scenario's
//! text and its SHA-256, seed, paths, shard `I/N`, its blocks, sizes, and the SHA-256 of the data
//! file), and `partial.bin`, the shard's [`Simulation`] exactly: every number as its 8
//! little-endian bytes (so `+inf` and every bit of every `f64` survive), in this order:
//! stored path indices (`u64`), the baseline row, each column over the stored paths, the
//! per-period counts of coverage below 1 (`u64`), each period's coverage sample.
//!
//! Merging the partials of shards `1..=N` gives the whole run's [`Simulation`] bit for bit, hence
//! the same `summary.json` as one machine would write.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::runner::{Layout, Simulation};

/// The format tag of `partial.json`.
pub const FORMAT: &str = "ipabs-partial-1";

/// The manifest of a partial result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub ipabs_version: String,
    pub scenario_sha256: String,
    /// The scenario file's text, so `merge` needs nothing else.
    pub scenario_text: String,
    /// The scenario file's stem (the scenario's name when the file gives none).
    pub scenario_stem: String,
    pub seed: u64,
    pub paths: u64,
    pub shard: u64,
    pub shards: u64,
    /// The blocks `[from, to)` of the shard.
    pub blocks: [u64; 2],
    pub threads: usize,
    /// Seconds the shard's simulation took.
    pub elapsed_s: f64,
    pub columns: usize,
    pub stored: usize,
    pub baseline_count: u64,
    /// Length of each period's coverage sample.
    pub coverage_sample: Vec<usize>,
    /// SHA-256 of `partial.bin`.
    pub data_sha256: String,
}

/// A shard's result, ready to write or just read.
#[derive(Debug, Clone)]
pub struct Partial {
    pub manifest: Manifest,
    pub data: Vec<u8>,
}

/// A partial result that cannot be read.
#[derive(Debug, Error, PartialEq)]
pub enum PartialError {
    #[error("not an ipabs partial result: {0}")]
    Format(String),
    #[error("partial.bin does not match its manifest (damaged or from another shard)")]
    Damaged,
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Partial {
    /// The partial result of shard `shard`/`shards` of the scenario file `scenario` (stem and
    /// text), simulated in `elapsed_s` seconds.
    pub fn new(
        (scenario_stem, scenario_text): (&str, &[u8]),
        scenario_sha256: String,
        (shard, shards): (u64, u64),
        sim: Simulation,
        elapsed_s: f64,
    ) -> Self {
        let mut data = Vec::new();
        let mut u64s =
            |xs: &mut dyn Iterator<Item = u64>| xs.for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
        u64s(&mut sim.stored.iter().copied());
        u64s(&mut sim.baseline.iter().map(|x| x.to_bits()));
        for c in &sim.columns {
            u64s(&mut c.iter().map(|x| x.to_bits()));
        }
        u64s(&mut sim.coverage_below_one.iter().copied());
        for c in &sim.coverage_sample {
            u64s(&mut c.iter().map(|x| x.to_bits()));
        }
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            ipabs_version: env!("CARGO_PKG_VERSION").to_owned(),
            scenario_sha256,
            scenario_text: String::from_utf8_lossy(scenario_text).into_owned(),
            scenario_stem: scenario_stem.to_owned(),
            seed: sim.seed,
            paths: sim.paths,
            shard,
            shards,
            blocks: [sim.blocks.start, sim.blocks.end],
            threads: sim.threads,
            elapsed_s,
            columns: sim.columns.len(),
            stored: sim.stored.len(),
            baseline_count: sim.baseline_count,
            coverage_sample: sim.coverage_sample.iter().map(Vec::len).collect(),
            data_sha256: sha256(&data),
        };
        Partial { manifest, data }
    }

    /// The two files of the partial result.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut json = serde_json::to_vec_pretty(&self.manifest).unwrap_or_default();
        json.push(b'\n');
        vec![
            ("partial.json".to_owned(), json),
            ("partial.bin".to_owned(), self.data.clone()),
        ]
    }

    /// Reads a partial result from its two files' bytes.
    ///
    /// # Errors
    /// [`PartialError`] for a manifest that is not one, or data that does not match it.
    pub fn read(json: &[u8], data: Vec<u8>) -> Result<Partial, PartialError> {
        let manifest: Manifest =
            serde_json::from_slice(json).map_err(|e| PartialError::Format(e.to_string()))?;
        if manifest.format != FORMAT {
            return Err(PartialError::Format(format!(
                "format {:?}, expected {FORMAT:?}",
                manifest.format
            )));
        }
        if sha256(&data) != manifest.data_sha256 {
            return Err(PartialError::Damaged);
        }
        Ok(Partial { manifest, data })
    }

    /// The shard's [`Simulation`], laid out as `layout` (the scenario's).
    ///
    /// # Errors
    /// [`PartialError::Damaged`] when the sizes do not add up.
    pub fn simulation(&self, layout: Layout) -> Result<Simulation, PartialError> {
        let m = &self.manifest;
        if m.columns != layout.len() {
            return Err(PartialError::Damaged);
        }
        let periods = m.coverage_sample.len();
        let words =
            m.stored + m.columns + m.columns * m.stored + periods + m.coverage_sample.iter().sum::<usize>();
        if self.data.len() != 8 * words {
            return Err(PartialError::Damaged);
        }
        let mut it = self
            .data
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        let mut take = |n: usize| it.by_ref().take(n).collect::<Vec<u64>>();
        let floats = |v: Vec<u64>| v.into_iter().map(f64::from_bits).collect::<Vec<f64>>();
        let stored = take(m.stored);
        let baseline = floats(take(m.columns));
        let columns = (0..m.columns).map(|_| floats(take(m.stored))).collect();
        let coverage_below_one = take(periods);
        let coverage_sample = m.coverage_sample.iter().map(|&n| floats(take(n))).collect();
        Ok(Simulation {
            paths: m.paths,
            seed: m.seed,
            blocks: m.blocks[0]..m.blocks[1],
            threads: m.threads,
            layout,
            baseline,
            baseline_count: m.baseline_count,
            stored,
            columns,
            coverage_below_one,
            coverage_sample,
            weights: None,
        })
    }
}

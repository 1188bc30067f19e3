//! The fonts charts are drawn with.
//!
//! plotters is built without its `ttf` feature, so it never asks the system for fonts: text is
//! drawn by `ab_glyph` from font bytes registered here, under the family name every chart uses
//! ([`super::style::FAMILY`], plus `serif` and `monospace` in case plotters falls back to
//! them). By default that is DejaVu Sans, compiled into the binary, so a chart renders on a
//! machine with no fonts installed. A run may replace it with a font file (`--font`,
//! `[report] font`), e.g. a CJK-capable one for Chinese labels; plotters does no per-glyph
//! fallback, so that font must cover Latin digits too (WenQuanYi Micro Hei does).
//!
//! Registration is process-global (a plotters limitation): the embedded font is registered once;
//! a font file, once registered, stays for the life of the process.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use plotters::style::{FontStyle, register_font};
use thiserror::Error;

/// The family names registered.
const FAMILIES: [&str; 3] = [super::style::FAMILY, "serif", "monospace"];

/// A font file that cannot be used.
#[derive(Debug, Error)]
pub enum FontError {
    /// The file cannot be read.
    #[error("cannot read the font file {path}: {reason}")]
    Read { path: String, reason: String },
    /// The bytes are not a TrueType/OpenType font (or collection).
    #[error("{path} is not a TrueType or OpenType font")]
    Invalid { path: String },
}

fn register(bytes: &'static [u8]) -> bool {
    FAMILIES
        .iter()
        .all(|family| register_font(family, FontStyle::Normal, bytes).is_ok())
}

static EMBEDDED: OnceLock<()> = OnceLock::new();

/// Registers the embedded DejaVu Sans, once per process (before any font file, so it never
/// replaces one).
pub fn ensure_embedded() {
    EMBEDDED.get_or_init(|| {
        register(dejavu::sans::regular());
    });
}

/// Font files already loaded, by path, so repeated runs in one process leak nothing more.
static LOADED: Mutex<Vec<(String, &'static [u8])>> = Mutex::new(Vec::new());

/// Loads the font file at `path` and draws every later chart with it.
///
/// # Errors
/// [`FontError`] when the file cannot be read or is not a font.
pub fn use_font_file(path: &Path) -> Result<(), FontError> {
    ensure_embedded();
    let key = path.display().to_string();
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = match loaded.iter().find(|(p, _)| *p == key) {
        Some((_, b)) => *b,
        None => {
            let data = std::fs::read(path).map_err(|e| FontError::Read {
                path: key.clone(),
                reason: e.to_string(),
            })?;
            // plotters keeps `&'static` font data; a run loads at most a font or two.
            let bytes: &'static [u8] = Box::leak(data.into_boxed_slice());
            loaded.push((key.clone(), bytes));
            bytes
        }
    };
    if register(bytes) {
        Ok(())
    } else {
        Err(FontError::Invalid { path: key })
    }
}

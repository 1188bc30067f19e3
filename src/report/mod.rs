//! Outputs: the renderers (pure functions returning text or bytes) and the one place that
//! writes files into a report folder.
//!
//! Files are written atomically: each goes to a hidden temporary file in the target folder and is
//! renamed into place only when complete, so a reader never sees half a file.

pub mod cashflows;
pub mod memo;
pub mod summary;
pub mod table;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A report folder could not be written.
#[derive(Debug, Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes the named files into `dir` (created if missing), each atomically.
pub fn write_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), WriteError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError { path, source }
    };
    fs::create_dir_all(dir).map_err(err(dir))?;
    for (name, bytes) in files {
        let target = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &target)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(err(&target)(e));
        }
    }
    Ok(())
}

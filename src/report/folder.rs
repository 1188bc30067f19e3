//! The one place that writes a report folder, all or nothing.
//!
//! Every file of a run is first written (and synced) into a hidden staging folder beside the
//! target, `.<name>.staging-<pid>`. Only when all of them are complete does the staging folder
//! take the target's place:
//!
//! - no target yet: one `rename`, atomic;
//! - a previous report: on Linux the two folders are swapped atomically
//!   (`renameat2(RENAME_EXCHANGE)`), then the previous report, now in the staging place, is
//!   deleted; elsewhere the previous report is renamed aside first (a reader may briefly find no
//!   folder, never a mix).
//!
//! So a run killed at any moment leaves the previous report or the new one, never a mix. A
//! staging folder left behind by a killed run is removed by the next write to the same target.
//!
//! To protect other data, an existing target is replaced only if it is an ipabs report folder
//! (it holds the marker file [`MARKER`]) or is empty.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The file that marks a folder as an ipabs report folder.
pub const MARKER: &str = ".ipabs-report";

/// A report folder could not be written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The file system refused an operation.
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The target exists and is not a report folder ipabs wrote.
    #[error(
        "{path} exists and is not an ipabs report folder (no {MARKER} in it); choose another --out or remove it"
    )]
    NotAReport { path: PathBuf },
    /// A file name would leave the report folder.
    #[error("refusing to write {name:?}: report file names must stay inside the report folder")]
    BadName { name: String },
    /// The write was interrupted (Ctrl-C) before the new report was put in place.
    #[error("interrupted: the report folder was left as it was")]
    Interrupted,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `name` is a relative path of plain components (no `..`, no root, not empty).
fn safe_name(name: &str) -> bool {
    let p = Path::new(name);
    !name.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Writes `files` (relative names, `/` for subfolders) as the complete new content of `dir`,
/// all or nothing (see the module docs). `interrupted` is asked just before the new folder is
/// put in place; if it says yes, nothing changes and [`WriteError::Interrupted`] is returned.
pub fn write_report(
    dir: &Path,
    files: &[(&str, &[u8])],
    interrupted: &dyn Fn() -> bool,
) -> Result<(), WriteError> {
    for (name, _) in files {
        if !safe_name(name) {
            return Err(WriteError::BadName {
                name: (*name).to_owned(),
            });
        }
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_owned());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    if dir.exists() && !is_replaceable(dir) {
        return Err(WriteError::NotAReport {
            path: dir.to_path_buf(),
        });
    }
    remove_stale_staging(&parent, &name);

    let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    let result = fill(&staging, files).and_then(|()| {
        if interrupted() {
            return Err(WriteError::Interrupted);
        }
        swap_in(&staging, dir)
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// Writes every file into a fresh `staging` folder, with the marker, each synced.
fn fill(staging: &Path, files: &[(&str, &[u8])]) -> Result<(), WriteError> {
    fs::create_dir_all(staging).map_err(io(staging))?;
    let marker: (&str, &[u8]) = (MARKER, b"written by ipabs\n");
    for (name, bytes) in files.iter().chain(std::iter::once(&marker)) {
        let path = staging.join(name);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(io(p))?;
        }
        let mut f = fs::File::create(&path).map_err(io(&path))?;
        f.write_all(bytes).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
    }
    Ok(())
}

/// An existing folder may be replaced when it is empty or marked as a report.
fn is_replaceable(dir: &Path) -> bool {
    if !dir.is_dir() {
        return false;
    }
    dir.join(MARKER).is_file() || fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Removes staging folders of earlier, killed writes to `parent/name`.
fn remove_stale_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}.staging-");
    let old_prefix = format!(".{name}.previous-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name().to_string_lossy().into_owned();
        if file_name.starts_with(&prefix) || file_name.starts_with(&old_prefix) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Puts `staging` in the place of `dir`.
fn swap_in(staging: &Path, dir: &Path) -> Result<(), WriteError> {
    if !dir.exists() {
        return fs::rename(staging, dir).map_err(io(dir));
    }
    if exchange(staging, dir).is_ok() {
        // `staging` now holds the previous report.
        let _ = fs::remove_dir_all(staging);
        return Ok(());
    }
    let previous = staging.with_file_name(
        staging
            .file_name()
            .map(|n| n.to_string_lossy().replace(".staging-", ".previous-"))
            .unwrap_or_default(),
    );
    fs::rename(dir, &previous).map_err(io(dir))?;
    if let Err(e) = fs::rename(staging, dir) {
        let _ = fs::rename(&previous, dir);
        return Err(io(dir)(e));
    }
    let _ = fs::remove_dir_all(&previous);
    Ok(())
}

/// Atomically exchanges two paths (Linux `renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both arguments are valid NUL-terminated paths; the call only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn writes_then_replaces_a_report_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        write_report(&dir, &[("a.txt", b"one"), ("sub/b.txt", b"two")], &|| false).unwrap();
        assert_eq!(read(&dir.join("a.txt")), "one");
        assert_eq!(read(&dir.join("sub/b.txt")), "two");
        assert!(dir.join(MARKER).is_file());
        // A second report replaces the first entirely: b.txt is gone.
        write_report(&dir, &[("a.txt", b"three")], &|| false).unwrap();
        assert_eq!(read(&dir.join("a.txt")), "three");
        assert!(!dir.join("sub").exists());
        // No staging folders remain.
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out")]);
    }

    #[test]
    fn refuses_a_folder_that_is_not_a_report() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("precious.txt"), "keep").unwrap();
        let e = write_report(tmp.path(), &[("a.txt", b"x")], &|| false).unwrap_err();
        assert!(matches!(e, WriteError::NotAReport { .. }), "{e}");
        assert_eq!(read(&tmp.path().join("precious.txt")), "keep");
    }

    #[test]
    fn an_interrupted_write_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        write_report(&dir, &[("a.txt", b"old")], &|| false).unwrap();
        let e = write_report(&dir, &[("a.txt", b"new")], &|| true).unwrap_err();
        assert!(matches!(e, WriteError::Interrupted));
        assert_eq!(read(&dir.join("a.txt")), "old");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn names_cannot_escape() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["../x", "/etc/x", "", "a/../../x"] {
            let e = write_report(&tmp.path().join("out"), &[(bad, b"x")], &|| false).unwrap_err();
            assert!(matches!(e, WriteError::BadName { .. }), "{bad}: {e}");
        }
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_staging_of_a_killed_run_is_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let stale = tmp.path().join(".out.staging-999999");
        fs::create_dir_all(&stale).unwrap();
        write_report(&tmp.path().join("out"), &[("a.txt", b"x")], &|| false).unwrap();
        assert!(!stale.exists());
    }
}

//! Atomic file writes: a temp file in the same directory, fsync, rename.
//!
//! A reader never sees a half-written CHANGELOG.md, ledger or quarantine list, and a crash never
//! leaves the old file truncated.
//!
//! The temp file is `.<name>.paved-<12 hex>.tmp` beside the target. One left behind by a run that
//! was killed is removed by the next write of the same file, once it is a minute old (younger
//! ones may belong to a writer that is still running). A repository can ignore them with
//! `.*.paved-*.tmp` in `.gitignore`.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::{Error, Result};

/// A temp file younger than this may belong to a writer that is still running.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Write `contents` to `path` atomically, keeping the permissions of an existing file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|source| Error::NoRandomness {
        purpose: "a temp file name",
        source,
    })?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{name}.paved-{suffix}.tmp"));
    remove_stale_temp_files(dir, &name);

    let result = (|| {
        let mut file = File::options().write(true).create_new(true).open(&tmp)?;
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Persist the rename itself; a directory fsync is not possible everywhere, so it is best effort.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| Error::io("write", path, e))
}

/// Remove the temp files of `name` that an interrupted write left in `dir` (best effort: a file
/// that cannot be read or removed is left alone, and the write goes on).
fn remove_stale_temp_files(dir: &Path, name: &str) {
    let prefix = format!(".{name}.paved-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let is_ours = rest
            .strip_suffix(".tmp")
            .is_some_and(|hex| hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if is_ours && meta.file_type().is_file() && old {
            // Silent: `fs` sits below `cli`, and the file was paved's own scratch.
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Read a file to a string, naming it in the error.
pub fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io("read", path, e))
}

/// Read a file that paved is about to rewrite (CHANGELOG.md, quarantine.toml, version files):
/// `None` when it does not exist.
///
/// Such a file is read only when it is a regular file. A symbolic link is refused, wherever it
/// points: following `CHANGELOG.md -> /proc/self/environ` would copy the environment (tokens
/// included) into a file that release pipelines commit, and the rewrite would replace the link
/// with a file anyway. A FIFO or device is refused too (it could block or never end).
pub fn read_for_rewrite(path: &Path) -> Result<Option<String>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path)
            .map(|t| format!(" (to '{}')", t.display()))
            .unwrap_or_default();
        return Err(Error::BadFile {
            path: path.to_owned(),
            message: format!(
                "is a symbolic link{target}; paved rewrites this file and does not read it \
                 through a link: replace the link with the file itself"
            ),
        });
    }
    if !kind.is_file() {
        return Err(Error::BadFile {
            path: path.to_owned(),
            message: "is not a regular file; paved only rewrites regular files".into(),
        });
    }
    fs::read_to_string(path)
        .map(Some)
        .map_err(|e| Error::io("read", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic as _;

    #[test]
    fn replaces_contents_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CHANGELOG.md");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp files left behind: {names:?}");
    }

    #[test]
    fn temp_files_left_by_a_killed_run_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("CHANGELOG.md");
        let stale = dir.path().join(".CHANGELOG.md.paved-0123456789ab.tmp");
        let fresh = dir.path().join(".CHANGELOG.md.paved-ba9876543210.tmp");
        let other = dir.path().join(".NOTES.md.paved-0123456789ab.tmp");
        let lookalike = dir.path().join(".CHANGELOG.md.paved-mine.tmp");
        let old = SystemTime::now() - Duration::from_secs(3600);
        for f in [&stale, &fresh, &other, &lookalike] {
            fs::write(f, "partial").unwrap();
            if f != &fresh {
                File::options()
                    .write(true)
                    .open(f)
                    .unwrap()
                    .set_modified(old)
                    .unwrap();
            }
        }
        write_atomic(&target, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
        assert!(
            !stale.exists(),
            "a stale temp file of the same target is removed"
        );
        assert!(fresh.exists(), "a young one may be another writer's");
        assert!(other.exists(), "another file's temp files are left alone");
        assert!(lookalike.exists(), "only paved's own names are touched");
    }

    #[test]
    fn files_to_rewrite_are_never_read_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CHANGELOG.md");
        assert_eq!(read_for_rewrite(&path).unwrap(), None);
        std::os::unix::fs::symlink("/proc/self/environ", &path).unwrap();
        let err = read_for_rewrite(&path).unwrap_err();
        assert_eq!(err.category(), crate::exit::Category::Usage);
        let text = err.to_string();
        assert!(
            text.contains("symbolic link") && text.contains("/proc/self/environ"),
            "{text}"
        );
        fs::remove_file(&path).unwrap();
        fs::write(&path, "# Changelog\n").unwrap();
        assert_eq!(
            read_for_rewrite(&path).unwrap().as_deref(),
            Some("# Changelog\n")
        );
        assert!(
            read_for_rewrite(dir.path()).is_err(),
            "a directory is not a file to rewrite"
        );
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope/CHANGELOG.md");
        let err = write_atomic(&path, b"x").unwrap_err().to_string();
        assert!(err.contains("nope/CHANGELOG.md"), "{err}");
    }
}

//! Atomic file writes: a temp file in the same directory, fsync, rename.
//!
//! A reader never sees a half-written CHANGELOG.md, ledger or quarantine list, and a crash never
//! leaves the old file truncated.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

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
    getrandom::fill(&mut suffix)
        .map_err(|e| Error::io("create a temp file for", path, std::io::Error::other(e)))?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{name}.paved-{suffix}.tmp"));

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

//! Which files to read: the one place that turns `--junit`, `ingest` and `gate` arguments
//! (paths and globs) into report files.

use std::path::{Path, PathBuf};

/// Why [`find_reports`] found nothing to read. Callers word the message for their own flag.
#[derive(Debug)]
pub enum FindError {
    /// The pattern is not a valid glob.
    BadPattern { pattern: String, message: String },
    /// The pattern is a valid glob but matched no file.
    NoMatch { pattern: String },
    /// A directory the glob walked could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The JUnit report files `patterns` name, sorted and without duplicates: the one place that
/// turns `--junit`/`ingest`/`gate` arguments into files. A pattern with glob characters (that is
/// not itself an existing path) is expanded, relative ones against `base`, and must match at least
/// one file. A plain path is kept as given, so a missing file fails when it is read, with the I/O
/// error naming it.
pub fn find_reports(patterns: &[String], base: &Path) -> Result<Vec<PathBuf>, FindError> {
    let mut files = Vec::new();
    for p in patterns {
        let full = base.join(p);
        if p.contains(['*', '?', '[']) && !full.exists() {
            let paths = glob::glob(&full.to_string_lossy()).map_err(|e| FindError::BadPattern {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
            let before = files.len();
            for entry in paths {
                let path = entry.map_err(|e| FindError::Io {
                    path: e.path().to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                if path.is_file() {
                    files.push(path);
                }
            }
            if files.len() == before {
                return Err(FindError::NoMatch { pattern: p.clone() });
            }
        } else {
            files.push(full);
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

//! Headless Chromium for report tests: the page's DOM after it loaded, and a screenshot.
//!
//! Each [`Browser`] has a profile directory of its own and runs with networking, updates and
//! sync off, so a report that asked for anything from outside would render without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Chromium with a throwaway profile.
#[derive(Debug)]
pub struct Browser {
    chromium: PathBuf,
    profile: tempfile::TempDir,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// Find `chromium` (see [`crate::tool`]) and make a profile for it.
    pub fn new() -> Browser {
        Browser {
            chromium: crate::tool("chromium"),
            profile: tempfile::tempdir().expect("a profile directory for chromium"),
        }
    }

    fn run(&self, page: &Path, extra: &[&str]) -> Output {
        let out = Command::new(&self.chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium runs");
        assert!(
            out.status.success(),
            "chromium failed on {}: {}",
            page.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The DOM of the HTML file `page` once it loaded (`--dump-dom`).
    pub fn dom(&self, page: &Path) -> String {
        String::from_utf8(self.run(page, &["--dump-dom"]).stdout).expect("the DOM is UTF-8")
    }

    /// A PNG screenshot of `page` at `width`×`height`, checked to be a real, non-empty PNG.
    /// With `PAVED_KEEP_SCREENSHOT=FILE` set, a copy is kept there to look at.
    pub fn screenshot(&self, page: &Path, width: u32, height: u32) -> Vec<u8> {
        let shot = self.profile.path().join("screenshot.png");
        self.run(
            page,
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={width},{height}"),
            ],
        );
        let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
        if let Some(keep) = std::env::var_os("PAVED_KEEP_SCREENSHOT") {
            std::fs::copy(&shot, keep).expect("keep the screenshot");
        }
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 2000,
            "a real screenshot of {}",
            page.display()
        );
        png
    }
}

//! The README's adoption YAML: the one block per forge a consumer copies into its repository.
//!
//! An adoption block is a ```` ```yaml ```` block whose first line is a comment naming the file
//! a consumer writes it to (`# .github/workflows/paved.yml`, `# .gitlab-ci.yml`). `cargo xtask
//! e2e` reads the blocks from README.md at run time and writes them into its consumer
//! repositories byte for byte: nothing is rewritten. The references resolve to this checkout the
//! way each runner resolves a remote reference offline: act's `--local-repository
//! paved-dev/paved@vX=DIR`, and gitlab-ci-local's include cache
//! (`.gitlab-ci-local/includes/<host>/paved-dev/paved/<ref>/templates/`), which it reads instead
//! of fetching. xtask/tests/adoption_yaml.rs includes this file, so the test reads the blocks
//! the way the e2e does.

use std::collections::BTreeMap;

/// Where a GitHub consumer writes its block.
pub const GITHUB: &str = ".github/workflows/paved.yml";
/// Where a GitLab consumer writes its block.
pub const GITLAB: &str = ".gitlab-ci.yml";

/// The adoption blocks of a markdown text, by the file they name. A second block for one file
/// is an error: a reader would not know which to copy.
pub fn blocks(markdown: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + "```yaml\n".len()..];
        let end = body
            .find("```")
            .ok_or("a ```yaml block is not closed; close it with ```")?;
        let block = &body[..end];
        rest = &body[end + 3..];
        let Some(file) = block
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .filter(|f| *f == GITHUB || *f == GITLAB)
        else {
            continue;
        };
        if out.insert(file.to_owned(), block.to_owned()).is_some() {
            return Err(format!(
                "two adoption blocks for `{file}`; keep one, a reader would not know which to copy"
            ));
        }
    }
    Ok(out)
}

/// The block for `file` (`GITHUB` or `GITLAB`) in `markdown`, as a consumer copies it.
pub fn block(markdown: &str, file: &str) -> Result<String, String> {
    blocks(markdown)?.remove(file).ok_or_else(|| {
        format!("no adoption block for `{file}`: a ```yaml block whose first line is `# {file}`")
    })
}

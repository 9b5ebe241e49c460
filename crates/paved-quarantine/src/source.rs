//! Which source file a test lives in, when its JUnit report does not say (`file` attribute):
//! found from the test id and the repository itself, so CODEOWNERS can name an owner.
//!
//! | runner (JUnit shape) | from | to |
//! |---|---|---|
//! | pytest (`classname` = dotted module path, then classes) | the longest dotted prefix that is a `.py` file | `tests/test_cart.py` |
//!
//! Every mapping only answers with a file that exists in the repository; otherwise `None`
//! (the default owner applies).

use std::path::Path;

use crate::model::TestId;

/// The test's source file relative to `repo`: `known` (the report's `file` attribute) when
/// given, else found from the id (see the module docs).
pub fn source_file(id: &TestId, known: Option<&str>, repo: &Path) -> Option<String> {
    if let Some(f) = known {
        return Some(f.to_owned());
    }
    python_module(&id.classname, repo)
}

/// pytest writes the module path dotted in `classname` (`tests.test_cart.TestTotal`): the
/// longest dotted prefix that is a `.py` file in `repo`.
pub fn python_module(classname: &str, repo: &Path) -> Option<String> {
    let parts: Vec<&str> = classname.split('.').filter(|p| !p.is_empty()).collect();
    (1..=parts.len()).rev().find_map(|k| {
        let file = format!("{}.py", parts[..k].join("/"));
        repo.join(&file).is_file().then_some(file)
    })
}

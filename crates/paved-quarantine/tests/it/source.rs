//! Owners without a `file` attribute: each runner's real JUnit ids (pytest and jest-junit run
//! here; nextest's, go-junit-report's fixtures) mapped to their source file through the
//! repository (module path, go.mod, the Cargo workspace, the suite path), then CODEOWNERS.

use std::path::Path;
use std::process::Command;

use paved_quarantine::codeowners::CodeOwners;
use paved_quarantine::model::TestId;
use paved_quarantine::source::source_file;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn ids(report: &Path) -> Vec<(TestId, Option<String>)> {
    paved_junit::parse_file(report, "")
        .unwrap()
        .results
        .into_iter()
        .map(|r| (r.id, r.file))
        .collect()
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/junit")
        .join(name)
}

const CODEOWNERS: &str = "* @acme/everyone\n/tests/ui/ @acme/web\n/services/shop/cart/ @acme/cart\n/crates/shop/ @acme/shop\n/crates/shop/tests/ @acme/qa\n/web/ @acme/front\n";

fn owner(id: &TestId, file: Option<&str>, repo: &Path) -> Option<String> {
    let owners = CodeOwners::parse(CODEOWNERS);
    let f = source_file(id, file, repo)?;
    owners.owners_of(&f).map(|o| o.join(" "))
}

#[test]
fn pytest_default_xunit2_is_owned_through_its_module_path() {
    let pytest = paved_testkit::tool("pytest");
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("tests/__init__.py"), "");
    write(&dir.path().join("tests/ui/__init__.py"), "");
    write(
        &dir.path().join("tests/ui/test_menu.py"),
        "class TestMenu:\n    def test_open(self):\n        assert False\n\ndef test_close():\n    pass\n",
    );
    let out = Command::new(pytest)
        .current_dir(dir.path())
        .args([
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml=report.xml",
            "tests",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let ids = ids(&dir.path().join("report.xml"));
    assert_eq!(ids.len(), 2);
    for (id, file) in &ids {
        assert_eq!(file, &None, "pytest's default xunit2 has no file attribute");
        assert_eq!(
            source_file(id, None, dir.path()).as_deref(),
            Some("tests/ui/test_menu.py"),
            "{id:?}"
        );
        assert_eq!(owner(id, None, dir.path()).as_deref(), Some("@acme/web"));
    }
}

#[test]
fn go_packages_are_owned_through_go_mod() {
    let dir = tempfile::tempdir().unwrap();
    // A module in a subdirectory of the repository, next to another whose path is a prefix.
    write(
        &dir.path().join("go.mod"),
        "module github.com/acme\n\ngo 1.22\n",
    );
    write(
        &dir.path().join("services/shop/go.mod"),
        "// the shop\nmodule \"github.com/acme/shop\"\n\ngo 1.22\n",
    );
    write(
        &dir.path().join("services/shop/cart/a_test.go"),
        "package cart\n\nfunc TestAdd(t *testing.T) {}\n",
    );
    write(
        &dir.path().join("services/shop/cart/total_test.go"),
        "package cart\n\nfunc TestTotalMore(t *testing.T) {}\n\nfunc TestTotal(t *testing.T) {}\n",
    );
    let ids = ids(&fixture("go-junit-report.xml"));
    let file = |name: &str| {
        let (id, f) = ids.iter().find(|(id, _)| id.name == name).unwrap();
        assert_eq!(id.classname, "github.com/acme/shop/cart");
        assert_eq!(f, &None);
        source_file(id, None, dir.path())
    };
    assert_eq!(
        file("TestTotal/with_discount").as_deref(),
        Some("services/shop/cart/total_test.go")
    );
    assert_eq!(
        file("TestAdd").as_deref(),
        Some("services/shop/cart/a_test.go")
    );
    // Declared nowhere: no guess.
    assert_eq!(file("TestSlow"), None);
    let (id, _) = ids.iter().find(|(id, _)| id.name == "TestAdd").unwrap();
    assert_eq!(owner(id, None, dir.path()).as_deref(), Some("@acme/cart"));
}

#[test]
fn nextest_binaries_are_owned_through_the_cargo_workspace() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/*\"]\n",
    );
    write(
        &dir.path().join("crates/shop/Cargo.toml"),
        "[package]\nname = \"shop\"\nversion = \"0.1.0\"\n",
    );
    write(&dir.path().join("crates/shop/src/lib.rs"), "");
    write(&dir.path().join("crates/shop/tests/api.rs"), "");
    // A build output holding a Cargo.toml of the same name is not the crate.
    write(
        &dir.path().join("target/package/shop-0.1.0/Cargo.toml"),
        "[package]\nname = \"shop\"\n",
    );
    let ids = ids(&fixture("nextest.xml"));
    let suites: std::collections::BTreeSet<&str> =
        ids.iter().map(|(id, _)| id.suite.as_str()).collect();
    assert_eq!(suites, ["shop", "shop::api"].into_iter().collect());
    for (id, file) in &ids {
        assert_eq!(file, &None);
        let (want, who) = if id.suite == "shop" {
            ("crates/shop/src/lib.rs", "@acme/shop")
        } else {
            ("crates/shop/tests/api.rs", "@acme/qa")
        };
        assert_eq!(source_file(id, None, dir.path()).as_deref(), Some(want));
        assert_eq!(owner(id, None, dir.path()).as_deref(), Some(who));
    }
}

#[test]
fn jest_junit_suites_named_by_file_path_are_owned_through_it() {
    let jest = paved_testkit::tool("jest");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("web/login.test.js"),
        "describe('Login form', () => {\n  test('accepts a valid user', () => {});\n});\n",
    );
    write(
        &dir.path().join("package.json"),
        "{\"name\": \"t\", \"private\": true}\n",
    );
    let out = Command::new(jest)
        .current_dir(dir.path())
        .args(["--ci", "--rootDir", ".", "--reporters=jest-junit"])
        .env("JEST_JUNIT_OUTPUT_FILE", dir.path().join("jest.xml"))
        .env("JEST_JUNIT_SUITE_NAME", "{filepath}")
        .env(
            "NODE_PATH",
            paved_testkit::tools_dir().join("npm/node_modules"),
        )
        .env("PATH", paved_testkit::path_with_tools())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = ids(&dir.path().join("jest.xml"));
    assert_eq!(ids.len(), 1);
    let (id, file) = &ids[0];
    assert_eq!(id.suite, "web/login.test.js");
    assert_eq!(file, &None);
    assert_eq!(owner(id, None, dir.path()).as_deref(), Some("@acme/front"));
}

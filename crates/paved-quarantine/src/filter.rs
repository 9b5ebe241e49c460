//! `paved-quarantine filter --runner R`: the arguments that make one test runner skip exactly
//! the quarantined tests.
//!
//! Each runner names tests differently, so the list id (`suite|classname|name`, as that runner's
//! JUnit report writes it) is mapped back to the runner's own selector:
//!
//! | runner | JUnit (classname, name) | output |
//! |---|---|---|
//! | pytest | `tests.test_app.TestA`, `test_x[p]` | `--deselect tests/test_app.py::TestA::test_x[p]` |
//! | jest | (jest-junit) full name in `name` | `--testNamePattern '^(?!(?:A|B)$)'` |
//! | go | package, `TestX/sub` | `-skip '^TestX$/^sub$'` |
//! | nextest | suite = binary id, `mod::test` | `-E 'not (binary_id(=b) & test(=mod::test) \| …)'` |
//! | cargo | `mod::test` | `--exact --skip mod::test` (after `--`) |
//! | maven | `com.x.FooTest`, `testBar` | `-Dtest='!com.x.FooTest#testBar' -Dsurefire.failIfNoSpecifiedTests=false` |
//! | gradle | `com.x.FooTest`, `testBar()` | an init script with `excludeTestsMatching 'com.x.FooTest.testBar'` |
//! | playwright | file, `Describe › title` | `--grep-invert '(?:^\| )file Describe title(?: @\S+)*$'` |
//! | dotnet | `Ns.Class`, `Method(x: 1)` | `--filter 'FullyQualifiedName!=Ns.Class.Method&…'` |
//!
//! Exactness and its limits, per runner's documented matching:
//! - pytest's `--deselect` matches node-id *prefixes*: `…::test_x` also deselects a sibling named
//!   `…::test_x_slow` (parametrised ids end in `]`, so they are exact).
//! - jest compiles `--testNamePattern` case-insensitively, so a name differing only in case is
//!   skipped too.
//! - go: `-skip` applies to every package of `go test ./...`, so the package (classname) is not
//!   part of the pattern: a test of the same name in another package is skipped too. One `-skip` is split on `/` into per-level patterns, so subtests of different parents
//!   cannot be combined exactly; `filter` refuses such a list rather than over-skip.
//! - gradle patterns treat `*` as a wildcard and have no escape; dotnet and gradle select by
//!   method, so every case of a parametrised method is skipped.
//! - rspec's JUnit carries no example ids and rspec has no exclude-by-name option: not supported.

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

    /// Output format (gradle always prints its init script).
    #[arg(long, env = "PAVED_FORMAT", value_enum, default_value = "args")]
    pub format: Format,
}

/// The arguments for `runner` that skip `tests`, or (gradle) an init script as one element.
pub fn skip_args(runner: Runner, tests: &[IdParts], repo: &Path) -> Result<Vec<String>> {
    let tests: BTreeSet<&IdParts> = tests.iter().collect();
    if tests.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match runner {
        Runner::Pytest => tests
            .iter()
            .flat_map(|t| ["--deselect".to_owned(), pytest_nodeid(t, repo)])
            .collect(),
        Runner::Jest => {
            let names: BTreeSet<String> = tests.iter().map(|t| js_regex_escape(&t.name)).collect();
            vec![format!(
                "--testNamePattern=^(?!(?:{})$)",
                names.into_iter().collect::<Vec<_>>().join("|")
            )]
        }
        Runner::Go => vec!["-skip".to_owned(), go_skip(&tests)?],
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
                if t.classname.contains([',', '*', '?', '#', '!'])
                    || t.name.contains([',', '*', '?', '#', '!', '+'])
                {
                    return Err(Error::Usage(format!(
                        "`{}#{}` contains a character Surefire's `-Dtest` cannot express exactly (`,` `*` `?` `#` `!`); remove it from the list or skip it in the build",
                        t.classname, t.name
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
        Runner::Rspec => {
            return Err(Error::Usage(
                "`--runner rspec` is not supported: rspec_junit_formatter reports no example ids and rspec has no option to exclude an example by name; tag the examples (`:quarantine`) and run `rspec --tag ~quarantine`".into(),
            ));
        }
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

/// The method of a JUnit name: JUnit 5 / .NET write `method(args)`; selectors take `method`.
fn method_name(name: &str) -> &str {
    match name.find('(') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// pytest writes the module path dotted in `classname`; find the `.py` file it came from.
fn pytest_nodeid(t: &IdParts, repo: &Path) -> String {
    let parts: Vec<&str> = t.classname.split('.').filter(|p| !p.is_empty()).collect();
    // The longest dotted prefix that is a file in the repository is the module.
    let mut split = (1..=parts.len())
        .rev()
        .find(|&k| repo.join(format!("{}.py", parts[..k].join("/"))).is_file());
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

fn go_skip(tests: &BTreeSet<&IdParts>) -> Result<String> {
    // Per level, the set of names; exact only if the cross product is exactly the tests.
    let paths: BTreeSet<Vec<&str>> = tests.iter().map(|t| t.name.split('/').collect()).collect();
    let depth = paths.iter().next().map_or(0, Vec::len);
    let mut levels: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); depth];
    for p in &paths {
        if p.len() != depth {
            return Err(go_inexact(tests));
        }
        for (l, name) in p.iter().enumerate() {
            levels[l].insert(name);
        }
    }
    let product: usize = levels.iter().map(BTreeSet::len).product();
    if product != paths.len() {
        return Err(go_inexact(tests));
    }
    Ok(levels
        .iter()
        .map(|names| {
            let alts: Vec<String> = names.iter().map(|n| go_regex_escape(n)).collect();
            if alts.len() == 1 {
                format!("^{}$", alts[0])
            } else {
                format!("^(?:{})$", alts.join("|"))
            }
        })
        .collect::<Vec<_>>()
        .join("/"))
}

fn go_inexact(tests: &BTreeSet<&IdParts>) -> Error {
    Error::Usage(format!(
        "go's `-skip` splits its pattern on `/` into one pattern per subtest level, so these {} tests cannot be skipped exactly in one `-skip` ({}); quarantine whole top-level tests, or run `filter` with `--variant` per package",
        tests.len(),
        tests
            .iter()
            .map(|t| format!("`{}`", t.name))
            .collect::<Vec<_>>()
            .join(", ")
    ))
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

/// POSIX shell quoting: bare when safe, else single quotes.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return arg.to_owned();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Run `filter`.
pub fn run(args: &FilterArgs) -> Result<u8> {
    let (_, path) = args.location.resolve()?;
    let list = QuarantineList::load_or_empty(&path)?;
    let variant = args.variant.as_deref().map(crate::list::normalize);
    let tests: Vec<IdParts> = list
        .entries()
        .iter()
        .zip(list.parts())
        .filter(|(e, _)| match (&variant, &e.variant) {
            (Some(want), Some(v)) => want == v,
            _ => true,
        })
        .map(|(_, p)| p.clone())
        .collect();
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    for e in list.entries().iter().filter(|e| e.is_expired(today)) {
        paved_core::cli::warn(&format!(
            "the quarantine of `{}` expired on {} (owner {}); it is still skipped: fix the test, or extend `expires` in {}",
            e.id,
            e.expires,
            e.owner,
            path.display()
        ));
    }
    let out = skip_args(args.runner, &tests, &args.location.repo)?;
    paved_core::cli::info(&format!(
        "{} quarantined test(s) from {}",
        tests.len(),
        path.display()
    ));
    let text = if args.runner == Runner::Gradle {
        out.concat()
    } else {
        match args.format {
            Format::Args if out.is_empty() => String::new(),
            Format::Args => format!(
                "{}\n",
                out.iter()
                    .map(|a| shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Format::Lines => out.iter().map(|a| format!("{a}\n")).collect(),
            Format::Json => format!("{}\n", serde_json::to_string(&out).expect("strings")),
        }
    };
    paved_core::cli::print_stdout(&text)?;
    Ok(0)
}

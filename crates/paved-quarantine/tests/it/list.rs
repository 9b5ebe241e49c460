//! `quarantine.toml`: parsing, matching, errors naming the line, and edits that keep comments.

use std::path::Path;

use jiff::civil::date;
use paved_quarantine::list::{QuarantineEntry, QuarantineList, format_id};
use paved_quarantine::model::TestId;

const LIST: &str = r#"# Quarantined tests. Reviewed like code.
# Ask #flaky-tests before adding by hand.

# Auth team: login is racy on chromium.
[[test]]
id = 'pytest|tests.test_app.TestLogin|test_login[chrome]'
variant = "linux"
reason = "flaky: 4 of 40 runs failed"
owner = "@acme/auth"   # from CODEOWNERS
issue = "https://github.com/acme/app/issues/12"
added = 2026-11-01
expires = 2026-12-01

[[test]]
id = 'paved-core::http|paved-core::http|tests::retry \| backoff'
reason = "flaky"
owner = "@acme/platform"
added = "2026-11-02"
expires = 2026-11-20

# Trailing note.
"#;

fn tid(suite: &str, classname: &str, name: &str, variant: &str) -> TestId {
    TestId {
        suite: suite.into(),
        classname: classname.into(),
        name: name.into(),
        variant: variant.into(),
    }
}

fn parse(text: &str) -> Result<QuarantineList, String> {
    QuarantineList::parse(text, Path::new("quarantine.toml")).map_err(|e| e.to_string())
}

#[test]
fn parses_entries_and_matches_by_id_and_variant() {
    let list = parse(LIST).unwrap();
    assert_eq!(list.len(), 2);
    let login = tid(
        "pytest",
        "tests.test_app.TestLogin",
        "test_login[chrome]",
        "linux",
    );
    let e = list.matches(&login).unwrap();
    assert_eq!(e.owner, "@acme/auth");
    assert_eq!(e.added, date(2026, 11, 1));
    assert!(!e.is_expired(date(2026, 11, 30)));
    assert!(e.is_expired(date(2026, 12, 1)));
    // Another variant of the same test is not quarantined by a variant entry.
    assert!(
        list.matches(&TestId {
            variant: "macos".into(),
            ..login.clone()
        })
        .is_none()
    );
    // No variant on the entry: every variant matches. Whitespace is normalised.
    let retry = tid(
        "paved-core::http",
        " paved-core::http",
        "tests::retry   |  backoff",
        "windows",
    );
    assert_eq!(list.matches(&retry).unwrap().reason, "flaky");
    // Exact match only: a prefix or a different part does not match.
    assert!(
        list.matches(&tid(
            "pytest",
            "tests.test_app.TestLogin",
            "test_login",
            "linux"
        ))
        .is_none()
    );
    assert!(
        list.matches(&tid(
            "other",
            "tests.test_app.TestLogin",
            "test_login[chrome]",
            "linux"
        ))
        .is_none()
    );
}

#[test]
fn a_variant_entry_wins_over_an_all_variants_entry() {
    let text = r#"
[[test]]
id = "s|c|t"
reason = "all"
owner = "o"
added = 2026-01-01
expires = 2026-02-01
[[test]]
id = "s|c|t"
variant = "linux"
reason = "linux only"
owner = "o"
added = 2026-01-01
expires = 2026-02-01
"#;
    let list = parse(text).unwrap();
    assert_eq!(
        list.matches(&tid("s", "c", "t", "linux")).unwrap().reason,
        "linux only"
    );
    assert_eq!(list.matches(&tid("s", "c", "t", "")).unwrap().reason, "all");
}

#[test]
fn errors_name_the_line() {
    let cases = [
        (
            "[[test]]\nid = \"s|c|t\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2026-02-01\nowners = \"x\"\n",
            "line 7: unknown key `owners`",
        ),
        (
            "[[test]]\nid = \"s|c|t\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = \"2026-02-30\"\n",
            "line 6: `expires = \"2026-02-30\"` is not a date",
        ),
        (
            "[[test]]\nid = \"s|c|t\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01T10:00:00Z\nexpires = 2026-02-01\n",
            "line 5: `added = 2026-01-01T10:00:00Z` is not a date",
        ),
        (
            "[[test]]\nid = \"s|c|t\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-13-01\nexpires = 2026-02-01\n",
            "line 5: not valid TOML",
        ),
        (
            "\n[[test]]\nid = \"s|c\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2026-02-01\n",
            "line 2: test id `s|c` has 2 part(s)",
        ),
        (
            "[[test]]\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2026-02-01\n",
            "line 1: the `[[test]]` entry has no `id`",
        ),
        ("tests = []\n", "line 1: unknown key `tests`"),
        (
            "[[test]]\nid = \"s|c|t\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-03-01\nexpires = 2026-02-01\n",
            "line 6: `expires = 2026-02-01` is before `added = 2026-03-01`",
        ),
        (
            "[[test]]\nid = \"s|c|t\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2026-02-01\n\n[[test]]\nid = \"s|c| t\"\nreason = \"r\"\nowner = \"o\"\nadded = 2026-01-01\nexpires = 2026-02-01\n",
            "line 8: test `s|c| t` is already listed at line 1",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err();
        assert!(
            err.starts_with("`quarantine.toml`: ") && err.contains(want),
            "{err:?} should contain {want:?}"
        );
    }
}

fn entry(id: &str) -> QuarantineEntry {
    QuarantineEntry {
        id: id.into(),
        variant: None,
        reason: "flaky: 3 of 20 runs failed".into(),
        owner: "@acme/qa".into(),
        issue: None,
        added: date(2026, 11, 22),
        expires: date(2026, 12, 22),
    }
}

#[test]
fn edits_keep_comments_order_and_untouched_formatting() {
    let mut list = parse(LIST).unwrap();
    let name = format_id(&tid("jest", "Cart", "adds [1] item \"quoted\" | a.*b", ""));
    list.add(entry(&name)).unwrap();
    list.set_issue(2, "https://github.com/acme/app/issues/99");
    // Releasing the first entry removes its own comment but keeps the file header.
    let removed = list.remove(0);
    assert_eq!(removed.owner, "@acme/auth");
    let text = list.render();
    insta::assert_snapshot!(text);
    // And it reads back the same.
    let again = parse(&text).unwrap();
    assert_eq!(again.entries(), list.entries());
    assert_eq!(
        again
            .matches(&tid("jest", "Cart", "adds [1] item \"quoted\" | a.*b", "x"))
            .unwrap()
            .issue
            .as_deref(),
        Some("https://github.com/acme/app/issues/99")
    );
}

#[test]
fn an_empty_list_gets_a_header_and_saves_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quarantine.toml");
    let mut list = QuarantineList::load_or_empty(&path).unwrap();
    assert!(list.is_empty());
    list.add(entry("s|c|t")).unwrap();
    assert!(list.add(entry("s|c|t")).is_err(), "duplicates are refused");
    list.save().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!(text);
    let loaded = QuarantineList::load(&path).unwrap();
    assert_eq!(loaded.entries(), list.entries());
    let mut loaded = loaded;
    loaded.remove(0);
    assert!(loaded.render().starts_with("# Quarantined tests"));
    assert!(QuarantineList::load(&dir.path().join("missing.toml")).is_err());
}

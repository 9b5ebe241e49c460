//! `paved-quarantine report`: the markdown (snapshot) and the HTML page opened in headless
//! Chromium: a screenshot, and a DOM check that each test's timeline has one cell per run and
//! that the page tells what `analyze` tells: the same verdicts over the same runs (an
//! infrastructure-failure run discarded), quarantine state, owner, expiry, and where a broken
//! test broke.

use std::process::Command;

use paved_quarantine::model::{History, Outcome, RunMeta, RunOutcome, TestId};

const RUNS: usize = 16;

fn history() -> History {
    let tid = |c: &str, n: &str, v: &str| TestId {
        suite: "pytest".into(),
        classname: c.into(),
        name: n.into(),
        variant: v.into(),
    };
    let tests = vec![
        tid("tests.test_cart", "test_total[<EUR> & \"$\"]", "linux"),
        tid("tests.test_login", "test_login", ""),
        tid("tests.test_ok", "test_ok", ""),
        tid("tests.test_db", "test_migrate", ""),
        tid("tests.test_ok", "test_ok_2", ""),
        tid("tests.test_ok", "test_ok_3", ""),
    ];
    let runs: Vec<RunMeta> = (0..RUNS)
        .map(|i| RunMeta {
            commit: format!("c{:02}{:037x}", i / 2, 0),
            branch: "main".into(),
            run_id: format!("{}", 1000 + i),
            attempt: 1,
            variant: "linux".into(),
            time: 1_763_000_000 + i as i64 * 3600,
        })
        .collect();
    let mut outcomes = Vec::new();
    for run in 0..RUNS {
        for test in 0..tests.len() {
            let (outcome, any_failure, attempts) = match (test, run % 4) {
                // Run 9: the database was down, every test failed (discarded by analyze).
                _ if run == 9 => (Outcome::Failed, true, 1),
                // Broken from run 10 (commit 5) on.
                (3, _) if run >= 10 => (Outcome::Failed, true, 1),
                (0, 1) => (Outcome::Failed, true, 1),
                (0, 3) => (Outcome::Passed, true, 2),
                (1, 2) if run > 6 => (Outcome::Error, true, 1),
                (1, _) if run == 0 => continue, // not in the first run
                _ => (Outcome::Passed, false, 1),
            };
            outcomes.push(RunOutcome {
                run,
                test,
                outcome,
                attempts,
                any_failure,
            });
        }
    }
    History {
        runs,
        // Counted from the outcomes (a history written before per-run totals existed).
        totals: Vec::new(),
        files: vec![None; tests.len()],
        tests,
        outcomes,
    }
}

#[test]
fn report_writes_markdown_and_html_that_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("history.json"),
        serde_json::to_string(&history()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("quarantine.toml"),
        "[[test]]\nid = 'pytest|tests.test_cart|test_total[<EUR> & \"$\"]'\nreason = \"flaky\"\nowner = \"@acme/shop\"\nadded = 2026-11-01\nexpires = 2099-01-01\n\n\
         [[test]]\nid = 'pytest|tests.test_gone|test_gone'\nreason = \"flaky\"\nowner = \"@acme/py\"\nadded = 2026-11-01\nexpires = 2099-02-01\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(
        dir.path().join(".github/CODEOWNERS"),
        "* @acme/everyone\n/tests/test_db.py @acme/data\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/test_db.py"),
        "def test_migrate(): pass\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(dir.path())
        .args(["report", "--history", "history.json", "--runs", "10"])
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("quarantine-report.md")).unwrap();
    insta::assert_snapshot!("report_markdown", md);

    let html = dir.path().join("quarantine-report.html");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("http://")
            || text
                .matches("http://")
                .all(|_| text.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    );
    assert!(
        !text.contains("<script") && !text.contains("<link") && !text.contains("src="),
        "self-contained"
    );

    let browser = paved_testkit::browser::Browser::new();
    let dom = browser.dom(&html);
    // The tests `analyze` does not call stable (the infrastructure run made every test fail:
    // discarded, so the stable ones are not listed); each row has one cell per run shown, the
    // discarded run marked as such.
    let rows: Vec<&str> = dom.split("<tr class=\"test\">").skip(1).collect();
    assert_eq!(rows.len(), 3, "{dom}");
    for row in &rows {
        assert_eq!(row.matches("class=\"cell ").count(), 10, "{row}");
        assert_eq!(row.matches("class=\"cell discarded\"").count(), 1, "{row}");
    }
    let cell = |row: &str, class: &str| {
        let start = row
            .find(&format!("<td class=\"{class}\""))
            .unwrap_or_else(|| panic!("no {class} in {row}"));
        let rest = &row[start..];
        let rest = &rest[rest.find('>').unwrap() + 1..];
        rest[..rest.find("</td>").unwrap()].to_owned()
    };
    assert_eq!(cell(rows[0], "verdict"), "flaky");
    assert_eq!(cell(rows[0], "quarantine"), "quarantined until 2099-01-01");
    assert_eq!(cell(rows[0], "owner"), "@acme/shop");
    let broken = rows.iter().find(|r| r.contains("test_migrate")).unwrap();
    assert_eq!(cell(broken, "verdict"), "broken");
    assert_eq!(cell(broken, "quarantine"), "not quarantined");
    assert_eq!(
        cell(broken, "owner"),
        "@acme/data",
        "CODEOWNERS through the module path"
    );
    // Short commits in the cell, the full sentence in its title.
    assert_eq!(
        cell(broken, "since"),
        "c05000000000 (last good c04000000000)"
    );
    assert!(
        broken.contains(&format!(
            "title=\"broken since c05{z}: failed on all 6 runs from there on; last good c04{z}\"",
            z = "0".repeat(37)
        )),
        "{broken}"
    );
    assert!(
        dom.contains("pytest|tests.test_gone|test_gone") && dom.contains("not observed"),
        "{dom}"
    );
    assert!(
        rows[0].contains("test_total[&lt;EUR&gt; &amp;"),
        "escaped in the DOM: {}",
        rows[0]
    );
    assert!(dom.contains("<polyline"), "the trend chart is there");

    // A real, non-empty PNG. To look at it:
    // PAVED_KEEP_SCREENSHOT=/tmp/report.png cargo nextest run -p paved-quarantine report
    browser.screenshot(&html, 900, 700);
}

#[test]
fn a_bad_history_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.json"), "{\"runs\": 1}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_paved-quarantine"))
        .current_dir(dir.path())
        .args(["report", "--history", "h.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("h.json"));
}

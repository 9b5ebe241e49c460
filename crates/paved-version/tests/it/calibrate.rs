//! `paved-version calibrate`: past releases replayed, on repositories built with git here and on
//! the real histories of five public repositories (fixtures rebuilt with `git fast-import`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::TestRepo;

fn calibrate(repo: &TestRepo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["calibrate", "--json"];
    all.extend_from_slice(args);
    repo.paved(&all).json()
}

fn scope(report: &serde_json::Value) -> &serde_json::Value {
    &report["scopes"][0]
}

#[test]
fn each_release_is_compared_with_the_bump_its_commits_call_for() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("v1.0.0");
    repo.commit("fix: a bug");
    repo.tag("v1.0.1");
    repo.commit("feat: a feature");
    repo.tag("v1.1.0");
    let feature = repo.commit("feat: released as a patch by hand");
    repo.commit("docs: words");
    repo.tag("v1.1.1");
    repo.commit("feat!: drop the old API");
    repo.tag("v2.0.0");
    let report = calibrate(&repo, &[]);
    let best = &scope(&report)["best"];
    // v1.0.0 leaves 0.x (not scored); v1.0.1, v1.1.0 and v2.0.0 agree; v1.1.1 does not.
    assert_eq!(best["tag_template"], "v{version}");
    assert_eq!(
        (best["agreed"].as_u64(), best["releases"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(scope(&report)["skipped"][0]["tag"], "v1.0.0");
    let d = &scope(&report)["disagreements"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(d[0]["tag"], "v1.1.1");
    assert_eq!(d[0]["previous_tag"], "v1.1.0");
    assert_eq!(
        (d[0]["released"].as_str(), d[0]["proposed"].as_str()),
        (Some("patch"), Some("minor"))
    );
    assert_eq!(d[0]["commits"], 2);
    assert_eq!(d[0]["deciding"][0]["sha"], feature.as_str());
}

#[test]
fn zero_feat_patch_is_chosen_when_features_on_0x_were_released_as_patches() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("v0.1.0");
    for (i, msg) in ["feat: one", "feat: two", "fix: three"].iter().enumerate() {
        repo.commit(msg);
        repo.tag(&format!("v0.1.{}", i + 1));
    }
    repo.commit("feat!: break");
    repo.tag("v0.2.0");
    let report = calibrate(&repo, &[]);
    assert_eq!(report["best"]["zero_feat"], "patch");
    assert_eq!(report["best"]["default_bump"], "none");
    // The first release is replayed from 0.0.0: under `zero-feat = patch` its feat proposes 0.0.1.
    assert_eq!(report["best"]["agreed"], 4);
    assert_eq!(report["best"]["releases"], 5);
    assert_eq!(scope(&report)["disagreements"][0]["tag"], "v0.1.0");
    // The default conventions are listed too, with their lower score.
    let defaults = scope(&report)["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["zero_feat"] == "minor" && c["default_bump"] == "none")
        .unwrap()
        .clone();
    assert_eq!(defaults["agreed"], 3, "{defaults:#}");
}

#[test]
fn default_bump_patch_is_chosen_when_any_commit_was_released() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("1.0.0");
    repo.commit("chore: deps");
    repo.tag("1.0.1");
    repo.commit("update the readme");
    repo.tag("1.0.2");
    repo.commit("feat: more");
    repo.tag("1.1.0");
    let report = calibrate(&repo, &[]);
    assert_eq!(report["best"]["default_bump"], "patch");
    // The scheme without `v` is the one these tags follow.
    assert_eq!(
        report["best"]["tag_templates"][0]["tag_template"],
        "{version}"
    );
    assert_eq!(report["best"]["agreed"], 3);
}

#[test]
fn a_release_is_replayed_from_its_own_history_not_from_later_tags() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.4.0");
    repo.git(&["branch", "release/1.4"]);
    repo.commit("feat!: two");
    repo.tag("v2.0.0");
    repo.git(&["checkout", "-q", "release/1.4"]);
    repo.commit("fix: backport");
    repo.tag("v1.4.1");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("fix: on main");
    repo.tag("v2.0.1");
    let report = calibrate(&repo, &[]);
    // v1.4.1 builds on v1.4.0 (v2.0.0 is not in its history); v2.0.1 on v2.0.0, not v1.4.1.
    assert_eq!(report["best"]["agreed"], 3, "{report:#}");
    assert_eq!(report["best"]["releases"], 3);
}

#[test]
fn no_release_tag_is_an_input_error_naming_the_schemes_tried() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    let run = repo.paved(&["calibrate"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no release tag to replay"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`v{version}`"), "{}", run.stderr);
}

#[test]
fn write_adds_the_best_settings_and_keeps_the_rest_of_paved_toml() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("v0.1.0");
    repo.commit("feat: one");
    repo.tag("v0.1.1");
    repo.commit("feat: two");
    repo.tag("v0.1.2");
    let before = "# the team's config\n[version]\nremote = \"upstream\"  # ours\n\n[changelog]\ntemplate = \"github\"\n";
    repo.write("paved.toml", before);
    let report = calibrate(&repo, &["--write"]);
    assert!(report["written"].as_str().unwrap().ends_with("paved.toml"));
    let after = repo.read("paved.toml");
    assert!(
        after.starts_with("# the team's config\n[version]\nremote = \"upstream\"  # ours\n"),
        "{after}"
    );
    assert!(after.contains("zero-feat = \"patch\""), "{after}");
    assert!(after.contains("default-bump = \"none\""), "{after}");
    assert!(after.contains("tag-template = \"v{version}\""), "{after}");
    assert!(
        after.contains("[changelog]\ntemplate = \"github\"\n"),
        "{after}"
    );
    // paved-version now reads the file it wrote.
    repo.commit("feat: three");
    assert_eq!(repo.paved(&[]).ok(), "0.1.3");
}

#[test]
fn write_refuses_a_symlinked_paved_toml() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("v1.0.0");
    repo.commit("fix: one");
    repo.tag("v1.0.1");
    repo.write("real.toml", "[version]\n");
    std::os::unix::fs::symlink(
        repo.path().join("real.toml"),
        repo.path().join("paved.toml"),
    )
    .unwrap();
    let run = repo.paved(&["calibrate", "--write"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(repo.read("real.toml"), "[version]\n");
}

// ---- real repositories ----------------------------------------------------------------------

/// A repository rebuilt from `tests/fixtures/calibrate/<name>.fi.gz` (see the README there).
fn real(name: &str) -> TestRepo {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/calibrate")
        .join(format!("{name}.fi.gz"));
    let bytes = std::fs::read(&fixture).unwrap();
    let stream = {
        let mut gz = Command::new("gzip")
            .args(["-dc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = gz.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&bytes).unwrap());
        let out = gz.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let repo = TestRepo::new();
    let mut import = crate::common::git_cmd(repo.path())
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    import.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(
        import.wait().unwrap().success(),
        "git fast-import failed on {name}"
    );
    repo.git(&["reset", "-q", "--hard", "main"]);
    repo
}

fn assert_calibrates(name: &str, template: &str) -> serde_json::Value {
    let repo = real(name);
    let report = calibrate(&repo, &[]);
    let best = &report["best"];
    let score = best["score"].as_f64().unwrap();
    eprintln!(
        "{name}: {} of {} releases agree ({:.1}%) with {}, zero-feat = {}, default-bump = {}",
        best["agreed"],
        best["releases"],
        score * 100.0,
        best["tag_templates"][0]["tag_template"],
        best["zero_feat"],
        best["default_bump"]
    );
    assert_eq!(
        best["tag_templates"][0]["tag_template"],
        template,
        "{:#}",
        scope(&report)["candidates"]
    );
    assert!(
        score >= 0.95,
        "{name}: {:.1}%\n{:#}",
        score * 100.0,
        scope(&report)["disagreements"]
    );
    assert!(
        best["releases"].as_u64().unwrap() >= 20,
        "{name}: too few releases scored"
    );
    report
}

#[test]
fn real_release_plz() {
    let report = assert_calibrates("release-plz", "release-plz-v{version}");
    // release-plz releases a feat on 0.x as a patch, and any commit as a patch.
    assert_eq!(report["best"]["zero_feat"], "patch");
    assert_eq!(report["best"]["default_bump"], "patch");
}

#[test]
fn real_cocogitto() {
    assert_calibrates("cocogitto", "{version}");
}

#[test]
fn real_commitlint() {
    assert_calibrates("commitlint", "v{version}");
}

#[test]
fn real_semantic_release() {
    assert_calibrates("semantic-release", "v{version}");
}

#[test]
fn real_release_please() {
    assert_calibrates("release-please", "v{version}");
}

#[test]
fn each_configured_package_is_calibrated_from_the_commits_that_touch_its_path() {
    let repo = TestRepo::new();
    repo.write(
        "paved.toml",
        "[[version.package]]\nname = \"api\"\npath = \"api\"\n\n[[version.package]]\nname = \"web\"\npath = \"web\"\ntag = \"web@{version}\"\n",
    );
    repo.commit_file("api/a", "feat: api start");
    repo.commit_file("web/w", "feat: web start");
    repo.tag("api-v1.0.0");
    repo.tag("web@1.0.0");
    // A feature in web and a fix in api: api releases a patch, web a minor.
    repo.commit_file("web/w2", "feat: web export");
    repo.commit_file("api/a2", "fix: api bug");
    repo.tag("api-v1.0.1");
    repo.tag("web@1.1.0");
    let report = calibrate(&repo, &[]);
    let scopes = report["scopes"].as_array().unwrap();
    assert_eq!(scopes.len(), 2);
    assert_eq!(scopes[0]["package"], "api");
    assert_eq!(scopes[0]["best"]["tag_template"], "{name}-v{version}");
    assert_eq!(scopes[1]["package"], "web");
    assert_eq!(scopes[1]["best"]["tag_template"], "web@{version}");
    assert_eq!(report["best"]["agreed"], 2, "{report:#}");
    assert_eq!(report["best"]["releases"], 2);
    // --write gives each package its scheme, in its own table.
    repo.paved(&["calibrate", "--write"]).ok();
    let written = repo.read("paved.toml");
    assert!(
        written.contains("name = \"api\"\npath = \"api\"\ntag = \"{name}-v{version}\"\n"),
        "{written}"
    );
    assert!(!written.contains("tag-template"), "{written}");
}

// ---- memory bound ---------------------------------------------------------------------------

/// A history of `releases` commits (`fix: change N`), each tagged `v1.0.N`, written with
/// `git fast-import` (a `git commit` per release would take seconds).
fn many_releases(releases: usize) -> TestRepo {
    let repo = TestRepo::new();
    let mut stream = String::new();
    for i in 0..releases {
        let message = format!("fix: change {i}\n");
        let content = format!("{i}\n");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter Dev <dev@example.com> {} +0000\ndata {}\n{message}",
            i + 1,
            1_700_000_000 + i,
            message.len()
        ));
        if i > 0 {
            stream.push_str(&format!("from :{i}\n"));
        }
        stream.push_str(&format!(
            "M 644 inline f.txt\ndata {}\n{content}\nreset refs/tags/v1.0.{i}\nfrom :{}\n\n",
            content.len(),
            i + 1
        ));
    }
    let mut import = crate::common::git_cmd(repo.path())
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(import.wait().unwrap().success());
    repo.git(&["reset", "-q", "--hard", "main"]);
    repo
}

#[test]
fn a_history_too_large_for_the_memory_budget_is_refused_with_the_way_out() {
    // 130 commits x 130 release tags: 3 words of tag bits per commit, 3120 bytes.
    let repo = many_releases(130);
    let run = repo.paved(&["calibrate", "--memory-budget", "2000"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for part in [
        "130 commits",
        "130 release tags",
        "3120 bytes",
        "more than the memory budget of 2000 bytes",
        "--max-releases",
    ] {
        assert!(run.stderr.contains(part), "`{part}` in {}", run.stderr);
    }
    // The suggested window fits: its releases (and the one before them, as their base) take one
    // word per commit.
    let suggested: String = run
        .stderr
        .split("e.g. `--max-releases ")
        .nth(1)
        .expect("a suggested --max-releases")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let report = calibrate(
        &repo,
        &["--memory-budget", "2000", "--max-releases", &suggested],
    );
    let n: u64 = suggested.parse().unwrap();
    assert!((1..130).contains(&n), "{n}");
    assert_eq!(report["best"]["releases"], n, "{report:#}");
    assert_eq!(report["best"]["agreed"], n, "{report:#}");
    assert_eq!(scope(&report)["best"]["tag_template"], "v{version}");
}

#[test]
fn max_releases_replays_only_the_newest_releases_from_their_real_base() {
    let repo = many_releases(30);
    let run = repo.paved(&["calibrate", "--json", "--max-releases", "5"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("only the newest 5 of 30 releases"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["best"]["releases"], 5);
    assert_eq!(report["best"]["agreed"], 5);
    // The walk still reads every commit below the window: the ranges and bases need them.
    assert_eq!(report["commits_read"], 30);
}

//! paved-version end to end: every rule runs against a real repository built with git.

use crate::common::TestRepo;

fn version(repo: &TestRepo, args: &[&str]) -> String {
    repo.paved(args).ok().to_owned()
}

fn field(repo: &TestRepo, args: &[&str], key: &str) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    repo.paved(&all).json()[key].clone()
}

// ---- base tag -------------------------------------------------------------------------------

#[test]
fn base_is_the_highest_matching_tag_reachable_from_head() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("v1.0.0");
    repo.commit("feat: more");
    repo.tag("v1.1.0");
    // Tags that do not match `v{version}` are ignored, whatever version they suggest.
    repo.git(&["tag", "release-9.0.0"]);
    repo.git(&["tag", "v3.0"]);
    repo.git(&["tag", "api@5.0.0"]);
    repo.git(&["tag", "vnext"]);
    // A tag on a tree is not a release, whatever its name says.
    repo.git(&["tag", "v9.0.0", "HEAD^{tree}"]);
    repo.commit("fix: bug");
    assert_eq!(version(&repo, &[]), "1.1.1");
    assert_eq!(field(&repo, &[], "previous_tag"), "v1.1.0");
}

#[test]
fn maintenance_branch_ignores_higher_tags_on_main() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.tag("v1.4.0");
    repo.git(&["branch", "release/1.4"]);
    repo.commit("feat!: two");
    repo.tag("v2.0.0");
    repo.commit("feat: three");
    repo.tag("v2.1.0");
    repo.git(&["checkout", "-q", "release/1.4"]);
    repo.commit("fix: backport");
    assert_eq!(version(&repo, &[]), "1.4.1");
    assert_eq!(field(&repo, &[], "previous_version"), "1.4.0");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("fix: on main");
    assert_eq!(version(&repo, &[]), "2.1.1");
}

#[test]
fn custom_tag_template() {
    let repo = TestRepo::new();
    repo.commit("feat: a");
    repo.git(&["tag", "release-2.0.0"]);
    repo.git(&["tag", "v7.0.0"]);
    repo.commit("feat: b");
    repo.write(
        "paved.toml",
        "[version]\ntag-template = \"release-{version}\"\n",
    );
    assert_eq!(version(&repo, &[]), "2.1.0");
    assert_eq!(field(&repo, &[], "tag"), "release-2.1.0");
    // The flag beats the file; the env twin beats the file too.
    assert_eq!(version(&repo, &["--tag-template", "v{version}"]), "7.1.0");
    assert_eq!(
        repo.paved_env(&[], &[("PAVED_TAG_TEMPLATE", "v{version}")])
            .ok(),
        "7.1.0"
    );
}

/// Issue #16, item 1: a repository tagged `6.5.0` (no `v`) has releases; paved must build on
/// them, not propose `0.1.0`, and say which scheme it picked.
#[test]
fn tags_without_a_prefix_are_found_when_no_template_is_set() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("6.4.0");
    repo.commit("fix: bug");
    repo.git(&["tag", "6.5.0"]);
    repo.commit("feat: more");
    let run = repo.paved(&["--json"]);
    let plan = run.json();
    assert_eq!(plan["version"], "6.6.0", "{}", run.stderr);
    assert_eq!(plan["previous_tag"], "6.5.0");
    assert_eq!(plan["tag"], "6.6.0");
    assert!(
        run.stderr.contains("`{version}`") && run.stderr.contains("tag-template"),
        "the chosen scheme is named: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("  "),
        "one line, no runs of spaces: {}",
        run.stderr
    );
    // When both schemes are present the one most releases use wins, and the others are named.
    repo.git(&["tag", "v1.0.0", "HEAD~2"]);
    let run = repo.paved(&[]);
    assert_eq!(run.ok(), "6.6.0");
    assert!(run.stderr.contains("`v1.0.0`"), "{}", run.stderr);
    // The releases were found, so the hint is not to switch the template to the stray tags.
    assert!(
        !run.stderr.contains("tag-template = \"v{version}\""),
        "{}",
        run.stderr
    );
}

#[test]
fn version_tags_that_match_no_template_are_named_in_a_warning() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("6.5.0");
    repo.commit("feat: more");
    // A configured template is obeyed, but the releases it misses are named, with the fix.
    repo.write("paved.toml", "[version]\ntag-template = \"v{version}\"\n");
    let run = repo.paved(&[]);
    assert_eq!(run.ok(), "0.1.0");
    assert!(
        run.stderr.contains("warning")
            && run.stderr.contains("`6.5.0`")
            && run.stderr.contains("tag-template = \"{version}\""),
        "{}",
        run.stderr
    );

    // Several packages' tags and no configuration: nothing is guessed, and the tags are named.
    let mono = TestRepo::new();
    mono.commit("feat: start");
    mono.git(&["tag", "api@1.0.0"]);
    mono.git(&["tag", "web@2.0.0"]);
    mono.commit("feat: more");
    let run = mono.paved(&[]);
    assert_eq!(run.ok(), "0.1.0");
    assert!(
        run.stderr.contains("`api@1.0.0`")
            && run.stderr.contains("`web@2.0.0`")
            && run.stderr.contains("[[version.package]]"),
        "{}",
        run.stderr
    );

    // One package's tags only: that is the scheme.
    let single = TestRepo::new();
    single.commit("feat: start");
    single.git(&["tag", "paved@1.2.0"]);
    single.commit("fix: more");
    let plan = single.paved(&["--json"]).json();
    assert_eq!(plan["version"], "1.2.1");
    assert_eq!(plan["tag"], "paved@1.2.1");
}

#[test]
fn package_tag_scheme_is_detected_when_no_tag_is_set() {
    let repo = TestRepo::new();
    repo.write(
        "paved.toml",
        "[[version.package]]\nname = \"api\"\npath = \"api\"\n",
    );
    repo.commit_file("api/main.rs", "feat(api): start");
    repo.git(&["tag", "api@1.2.0"]);
    repo.commit_file("api/main.rs", "feat(api): more");
    let run = repo.paved(&["--json"]);
    let plan = &run.json()["packages"][0];
    assert_eq!(plan["version"], "1.3.0", "{}", run.stderr);
    assert_eq!(plan["tag"], "api@1.3.0");
    assert!(run.stderr.contains("`{name}@{version}`"), "{}", run.stderr);
}

// ---- no tags, bump rules --------------------------------------------------------------------

#[test]
fn no_tags_starts_from_zero() {
    let repo = TestRepo::new();
    repo.commit("feat: first");
    assert_eq!(version(&repo, &[]), "0.1.0");
    assert_eq!(
        field(&repo, &[], "previous_version"),
        serde_json::Value::Null
    );

    let fix_only = TestRepo::new();
    fix_only.commit("fix: first");
    assert_eq!(version(&fix_only, &[]), "0.0.1");
    // The initial version is configurable, by file and by flag.
    fix_only.write("paved.toml", "[version]\ninitial-version = \"1.0.0\"\n");
    assert_eq!(version(&fix_only, &[]), "1.0.1");
    assert_eq!(version(&fix_only, &["--initial-version", "2.0.0"]), "2.0.1");
}

#[test]
fn bump_levels() {
    let cases = [
        ("feat!: drop api", "2.0.0", "major"),
        ("fix: x\n\nBREAKING CHANGE: config moved", "2.0.0", "major"),
        ("fix(core): x\n\nBREAKING-CHANGE: y", "2.0.0", "major"),
        ("feat(ui): add", "1.3.0", "minor"),
        ("fix: repair", "1.2.4", "patch"),
        ("perf: faster", "1.2.4", "patch"),
    ];
    for (message, expected, bump) in cases {
        let repo = TestRepo::new();
        repo.commit("feat: base");
        repo.tag("v1.2.3");
        repo.commit("docs: noise");
        repo.commit(message);
        let json = repo.paved(&["--json"]).json();
        assert_eq!(json["version"], expected, "{message}");
        assert_eq!(json["bump"], bump, "{message}");
        assert_eq!(json["released"], true, "{message}");
    }
}

#[test]
fn other_types_release_nothing_and_exit_zero() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.2.3");
    for m in [
        "docs: readme",
        "chore: deps",
        "ci: cache",
        "refactor: tidy",
        "test: more",
        "style: fmt",
        "build: x",
    ] {
        repo.commit(m);
    }
    let run = repo.paved(&["--json"]);
    let json = run.json();
    assert_eq!(json["released"], false);
    assert_eq!(json["bump"], "none");
    assert_eq!(json["version"], "1.2.3");
    assert_eq!(json["commits"], 7);
    assert!(run.stderr.contains("nothing to release"), "{}", run.stderr);
}

#[test]
fn type_map_is_configurable() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.2.3");
    repo.commit("refactor: tidy");
    assert_eq!(field(&repo, &[], "released"), false);
    repo.write(
        "paved.toml",
        "[version.types]\nrefactor = \"patch\"\nfeat = \"patch\"\n",
    );
    assert_eq!(version(&repo, &[]), "1.2.4");
    repo.commit("feat: now only a patch");
    assert_eq!(version(&repo, &[]), "1.2.4");
    repo.write("paved.toml", "[version.types]\nfix = \"none\"\n");
    let r = TestRepo::new();
    r.commit("feat: base");
    r.tag("v1.0.0");
    r.commit("fix: not released");
    r.write("paved.toml", "[version.types]\nfix = \"none\"\n");
    assert_eq!(field(&r, &[], "released"), false);
}

#[test]
fn zero_major_breaking_is_minor_and_release_as_overrides() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v0.3.1");
    repo.commit("feat!: break it");
    assert_eq!(version(&repo, &[]), "0.4.0");
    assert_eq!(version(&repo, &["--release-as", "1.0.0"]), "1.0.0");
    assert_eq!(field(&repo, &["--release-as", "1.0.0"], "tag"), "v1.0.0");
    let bad = repo.paved(&["--release-as", "1.0"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// Issue #16, item 2: "any commit releases a patch" (git-cliff, lerna) and "feat is a patch on
/// 0.x" (release-plz) are settings.
#[test]
fn conventions_default_bump_and_zero_feat() {
    let repo = TestRepo::new();
    repo.commit("feat: start");
    repo.tag("v0.3.0");
    repo.commit("docs: readme");
    repo.commit("Update the build script");
    assert_eq!(version(&repo, &[]), "0.3.0");
    repo.write("paved.toml", "[version]\ndefault-bump = \"patch\"\n");
    assert_eq!(version(&repo, &[]), "0.3.1");
    let changes = field(&repo, &[], "changes");
    assert_eq!(
        changes[0]["bump"], "patch",
        "an unparsed commit counts: {changes}"
    );
    assert_eq!(changes[1]["bump"], "patch", "docs counts: {changes}");
    // A type set to "none" on purpose stays none.
    repo.write(
        "paved.toml",
        "[version]\ndefault-bump = \"patch\"\n[version.types]\ndocs = \"none\"\n",
    );
    assert_eq!(field(&repo, &[], "changes")[1]["bump"], "none");

    repo.commit("feat: new");
    repo.write("paved.toml", "[version]\nzero-feat = \"patch\"\n");
    assert_eq!(version(&repo, &[]), "0.3.1");
    assert_eq!(field(&repo, &[], "bump"), "patch");
    repo.write("paved.toml", "[version]\nzero-feat = \"minor\"\n");
    assert_eq!(version(&repo, &[]), "0.4.0");
    // From 1.0 on, feat is minor whatever zero-feat says.
    repo.tag("v1.0.0");
    repo.commit("feat: later");
    repo.write("paved.toml", "[version]\nzero-feat = \"patch\"\n");
    assert_eq!(version(&repo, &[]), "1.1.0");

    for bad in ["zero-feat = \"major\"", "default-bump = \"minor\""] {
        repo.write("paved.toml", &format!("[version]\n{bad}\n"));
        let run = repo.paved(&[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        let key = bad.split(' ').next().unwrap();
        assert!(run.stderr.contains(key), "{}", run.stderr);
    }
}

/// The conventions can differ per package, over the `[version]` ones.
#[test]
fn conventions_per_package() {
    let repo = TestRepo::new();
    repo.write(
        "paved.toml",
        "[version]\nzero-feat = \"patch\"\n\n[[version.package]]\nname = \"api\"\npath = \"api\"\n\n[[version.package]]\nname = \"web\"\npath = \"web\"\nzero-feat = \"minor\"\ndefault-bump = \"patch\"\n",
    );
    repo.commit_file("api/a.rs", "feat: api");
    repo.commit_file("web/a.js", "feat: web");
    repo.git(&["tag", "api-v0.3.0"]);
    repo.git(&["tag", "web-v0.3.0"]);
    repo.commit_file("api/a.rs", "feat: more api");
    repo.commit_file("web/a.js", "feat: more web");
    repo.commit_file("web/b.js", "chore: tidy web");
    assert_eq!(repo.paved(&[]).ok(), "api 0.3.1\nweb 0.4.0");
    let web = repo.paved(&["--json", "--package", "web"]).json();
    assert_eq!(web["changes"][0]["bump"], "patch", "{web}");
}

/// Issue #16, item 7: on 0.x a breaking change moves the minor version, and says so.
#[test]
fn zero_major_breaking_is_reported_as_the_bump_applied() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v0.3.1");
    repo.commit("feat!: break it");
    assert_eq!(field(&repo, &[], "version"), "0.4.0");
    assert_eq!(field(&repo, &[], "bump"), "minor");
}

// ---- pre-releases and build metadata -------------------------------------------------------

#[test]
fn pre_release_sequence_and_graduation() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.2.3");
    repo.commit("feat: new thing");
    assert_eq!(version(&repo, &["--pre", "rc"]), "1.3.0-rc.1");
    repo.paved(&["--pre", "rc", "--tag"]).ok();
    assert_eq!(repo.git(&["tag", "--points-at", "HEAD"]), "v1.3.0-rc.1");
    // Nothing new since rc.1: nothing to release.
    assert_eq!(field(&repo, &["--pre", "rc"], "released"), false);
    repo.commit("fix: polish");
    assert_eq!(version(&repo, &["--pre", "rc"]), "1.3.0-rc.2");
    repo.paved(&["--pre", "rc", "--tag"]).ok();

    // Without --pre the release graduates, even with no new commits.
    assert_eq!(version(&repo, &[]), "1.3.0");
    assert_eq!(field(&repo, &[], "previous_version"), "1.3.0-rc.2");

    // A breaking change while on 1.3.0-rc.2 moves to 2.0.0-rc.1.
    repo.commit("feat!: rethink");
    assert_eq!(version(&repo, &["--pre", "rc"]), "2.0.0-rc.1");
    assert_eq!(version(&repo, &[]), "2.0.0");
}

#[test]
fn pre_release_env_twin_and_invalid_id() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.commit("feat: x");
    assert_eq!(
        repo.paved_env(&[], &[("PAVED_PRE", "beta")]).ok(),
        "1.1.0-beta.1"
    );
    assert_eq!(
        repo.paved_env(&["--pre", "rc"], &[("PAVED_PRE", "beta")])
            .ok(),
        "1.1.0-rc.1"
    );
    let bad = repo.paved(&["--pre", "r c"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("`r c`"), "{}", bad.stderr);
}

#[test]
fn build_metadata() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.2.3");
    repo.commit("feat: x");
    let json = repo.paved(&["--json", "--build", "sha.abc123"]).json();
    assert_eq!(json["version"], "1.3.0+sha.abc123");
    assert_eq!(json["tag"], "v1.3.0");
    assert_eq!(repo.paved(&["--build", "no spaces"]).code, 2);
}

// ---- reverts, merges, squashes -------------------------------------------------------------

#[test]
fn git_revert_cancels_its_target() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: base");
    repo.tag("v1.0.0");
    repo.commit_file("b.txt", "feat: risky feature");
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let json = repo.paved(&["--json"]).json();
    assert_eq!(json["released"], false, "{json:#}");
    repo.commit("fix: small");
    assert_eq!(version(&repo, &[]), "1.0.1");
}

#[test]
fn conventional_revert_header_cancels_its_target() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.commit("feat!: risky");
    repo.commit("fix: unrelated");
    repo.commit("revert: feat!: risky");
    assert_eq!(version(&repo, &[]), "1.0.1");
}

#[test]
fn revert_of_a_revert_restores_the_change() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: base");
    repo.tag("v1.0.0");
    repo.commit_file("b.txt", "feat: comeback");
    repo.git(&["revert", "--no-edit", "HEAD"]);
    repo.git(&["revert", "--no-edit", "HEAD"]);
    assert_eq!(version(&repo, &[]), "1.1.0");
}

#[test]
fn revert_of_a_released_commit_is_a_patch() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: base");
    repo.commit_file("b.txt", "feat: shipped");
    repo.tag("v1.1.0");
    repo.git(&["revert", "--no-edit", "HEAD"]);
    assert_eq!(version(&repo, &[]), "1.1.1");
}

#[test]
fn merge_messages_do_not_count_and_commits_count_once() {
    let repo = TestRepo::new();
    repo.commit_file("a.txt", "feat: base");
    repo.tag("v1.0.0");
    // Merge flow: two branch commits and a merge commit whose own message would be "major".
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.commit_file("b.txt", "fix: a");
    repo.commit_file("c.txt", "fix: b");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("d.txt", "docs: meanwhile");
    repo.git(&[
        "merge",
        "--no-ff",
        "-q",
        "topic",
        "-m",
        "feat!: merge pull request #1 from topic",
    ]);
    // Squash flow: one commit on main.
    repo.git(&["checkout", "-q", "-b", "topic2"]);
    repo.commit_file("e.txt", "wip");
    repo.commit_file("f.txt", "wip 2");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "--squash", "-q", "topic2"]);
    repo.git(&["commit", "-q", "-m", "fix: squashed (#2)"]);
    // A branch merged twice (merge main back and forth) still counts its commits once.
    repo.git(&["checkout", "-q", "topic"]);
    repo.git(&["merge", "-q", "--no-edit", "main"]);
    repo.commit_file("g.txt", "fix: after sync");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&[
        "merge",
        "--no-ff",
        "-q",
        "topic",
        "-m",
        "Merge branch 'topic'",
    ]);

    let json = repo.paved(&["--json"]).json();
    assert_eq!(json["bump"], "patch", "{json:#}");
    assert_eq!(json["version"], "1.0.1");
    let summaries: Vec<&str> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["summary"].as_str().unwrap())
        .collect();
    let mut sorted = summaries.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "docs: meanwhile",
            "fix: a",
            "fix: after sync",
            "fix: b",
            "fix: squashed (#2)"
        ],
        "{summaries:?}"
    );
    assert_eq!(json["commits"], 5);
}

// ---- monorepo -------------------------------------------------------------------------------

const MONOREPO: &str = r#"
[[version.package]]
name = "api"
path = "services/api"
tag = "{name}@{version}"

[[version.package]]
name = "web"
path = "web/"
"#;

#[test]
fn monorepo_packages_count_only_their_paths() {
    let repo = TestRepo::new();
    repo.write("paved.toml", MONOREPO);
    repo.commit_file("services/api/main.rs", "feat(api): start");
    repo.commit_file("web/index.html", "feat(web): start");
    repo.git(&["tag", "api@1.0.0"]);
    repo.git(&["tag", "web-v2.0.0"]);
    repo.commit_file("services/api/main.rs", "fix(api): bug");
    repo.commit_file("web/app.js", "feat(web): page");
    repo.commit_file("README.md", "feat: repo-wide docs feature");
    repo.commit_file("services/api/deep/nested/x.rs", "feat!: api break");

    let api = repo.paved(&["--json", "--package", "api"]).json();
    assert_eq!(api["version"], "2.0.0");
    assert_eq!(api["tag"], "api@2.0.0");
    assert_eq!(api["commits"], 2);
    assert_eq!(repo.paved(&["--package", "web"]).ok(), "2.1.0");
    assert_eq!(
        repo.paved_env(&[], &[("PAVED_PACKAGE", "web")]).ok(),
        "2.1.0"
    );

    let all = repo.paved(&["--json"]).json();
    let packages = all["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 2);
    assert_eq!(packages[0]["package"], "api");
    assert_eq!(packages[1]["package"], "web");
    assert_eq!(packages[1]["tag"], "web-v2.1.0");
    assert_eq!(repo.paved(&[]).ok(), "api 2.0.0\nweb 2.1.0");

    let unknown = repo.paved(&["--package", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("`nope`") && unknown.stderr.contains("`api`"),
        "{}",
        unknown.stderr
    );
}

/// Issue #16, item 7: a package path that does not exist is a config error, not a silent
/// "nothing to release".
#[test]
fn package_path_that_does_not_exist_is_an_error() {
    let repo = TestRepo::new();
    repo.write(
        "paved.toml",
        "[[version.package]]\nname = \"api\"\npath = \"srvices/api\"\n",
    );
    repo.commit_file("services/api/main.rs", "feat(api): start");
    let run = repo.paved(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("`api`") && run.stderr.contains("`srvices/api`"),
        "{}",
        run.stderr
    );
}

#[test]
fn monorepo_package_without_changes_is_not_released() {
    let repo = TestRepo::new();
    repo.write("paved.toml", MONOREPO);
    repo.commit_file("services/api/main.rs", "feat(api): start");
    repo.git(&["tag", "api@1.0.0"]);
    repo.commit_file("web/index.html", "feat(web): start");
    let api = repo.paved(&["--json", "--package", "api"]).json();
    assert_eq!(api["released"], false);
    assert_eq!(api["commits"], 0);
}

// ---- shallow clones -------------------------------------------------------------------------

fn shallow_setup() -> (TestRepo, tempfile::TempDir) {
    let origin = TestRepo::new();
    origin.commit_file("a.txt", "feat: base");
    origin.tag("v1.4.2");
    for i in 0..12 {
        origin.commit_file(&format!("f{i}.txt"), &format!("docs: page {i}"));
    }
    origin.commit_file("x.txt", "feat: newest");
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.path().display());
    let out = crate::common::git_cmd(clone.path())
        .args(["clone", "-q", "--depth", "3", "--no-tags", &url, "."])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (origin, clone)
}

#[test]
fn shallow_clone_without_fetch_exits_3_and_names_fetch_depth() {
    let (_origin, clone) = shallow_setup();
    let run = crate::common::run_in(clone.path(), &["--fetch", "never"], &[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no version may be printed: {}",
        run.stdout
    );
}

#[test]
fn shallow_clone_is_deepened_with_fetch_auto() {
    let (_origin, clone) = shallow_setup();
    let run = crate::common::run_in(clone.path(), &["--fetch", "auto", "--json"], &[]);
    let json = run.json();
    assert_eq!(json["version"], "1.5.0");
    assert_eq!(json["previous_tag"], "v1.4.2");
    assert_eq!(json["commits"], 13);
}

#[test]
fn shallow_clone_in_ci_deepens_by_default() {
    let (_origin, clone) = shallow_setup();
    let run = crate::common::run_in(clone.path(), &[], &[("CI", "true")]);
    assert_eq!(run.ok(), "1.5.0");
}

#[test]
fn shallow_clone_with_unreachable_remote_exits_3() {
    let (_origin, clone) = shallow_setup();
    crate::common::git_cmd(clone.path())
        .args(["remote", "set-url", "origin", "/nonexistent/repo"])
        .output()
        .unwrap();
    let run = crate::common::run_in(clone.path(), &["--fetch", "auto"], &[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

// ---- encodings and unparsed commits --------------------------------------------------------

#[test]
fn latin1_commit_is_decoded_and_classified() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    let msg = repo.path().join("msg.txt");
    std::fs::write(&msg, b"feat(caf\xe9): cr\xe8me br\xfbl\xe9e\n").unwrap();
    repo.git(&[
        "-c",
        "i18n.commitEncoding=ISO-8859-1",
        "commit",
        "-q",
        "--allow-empty",
        "-F",
        msg.to_str().unwrap(),
    ]);
    let raw = repo.git(&["cat-file", "-p", "HEAD"]);
    assert!(raw.contains("encoding ISO-8859-1"), "{raw}");
    let json = repo.paved(&["--json"]).json();
    assert_eq!(json["version"], "1.1.0");
    assert_eq!(json["changes"][0]["summary"], "feat(café): crème brûlée");
    assert_eq!(json["changes"][0]["scope"], "café");
}

#[test]
fn invalid_bytes_never_panic_or_drop_a_commit() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.commit_raw(b"fix: bad \xff\xfe bytes\n", None);
    repo.commit_raw(b"\xc3\x28 garbage header\n", None);
    repo.commit_raw(b"feat: claims UTF-16 \xff\n", Some("no-such-encoding"));
    assert!(
        repo.git_output(&["cat-file", "commit", "HEAD~2"])
            .stdout
            .windows(2)
            .any(|w| w == b"\xff\xfe")
    );
    let json = repo.paved(&["--json"]).json();
    assert_eq!(json["commits"], 3);
    assert_eq!(json["unparsed"], 1);
    assert_eq!(json["version"], "1.1.0");
    assert_eq!(
        json["changes"][2]["summary"],
        "fix: bad \u{fffd}\u{fffd} bytes"
    );
}

#[test]
fn unparsed_commits_are_counted_and_listed() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.commit("Update README");
    repo.commit("fix: real");
    repo.commit("WIP");
    let run = repo.paved(&["--verbose"]);
    assert_eq!(run.ok(), "1.0.1");
    assert!(run.stderr.contains("2 not conventional"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Update README [unparsed"),
        "{}",
        run.stderr
    );
    let json = repo.paved(&["--json"]).json();
    assert_eq!(json["unparsed"], 2);
    let unparsed: Vec<_> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("unparsed").is_some())
        .map(|c| c["summary"].clone())
        .collect();
    assert_eq!(unparsed, ["WIP", "Update README"]);
}

// ---- tag and push ---------------------------------------------------------------------------

#[test]
fn tag_is_annotated_and_idempotent() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.commit("feat: x");
    repo.paved(&["--tag"]).ok();
    assert_eq!(repo.git(&["cat-file", "-t", "v1.1.0"]), "tag");
    assert_eq!(repo.git(&["rev-parse", "v1.1.0^{commit}"]), repo.head());
    // Re-running on the same commit: already released, nothing to do, success.
    let again = repo.paved(&["--tag", "--release-as", "1.1.0"]);
    assert_eq!(again.ok(), "1.1.0");
}

/// Issue #16, item 5: `PAVED_TAG` was a switch here and a tag name for paved-changelog, so a
/// job-level variable for one broke the other. The switch is `PAVED_VERSION_TAG`; the old name
/// still works as a switch, with a warning, and a tag name in it is ignored.
#[test]
fn tag_switch_has_its_own_env_name() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.commit("feat: x");
    // A tag name meant for paved-changelog does not break paved-version, nor tag.
    let run = repo.paved_env(&[], &[("PAVED_TAG", "v1.0.0")]);
    assert_eq!(run.ok(), "1.1.0");
    assert_eq!(
        repo.git_output(&["rev-parse", "-q", "--verify", "refs/tags/v1.1.0"])
            .status
            .code(),
        Some(1)
    );
    let run = repo.paved_env(&[], &[("PAVED_TAG", "true")]);
    assert_eq!(run.ok(), "1.1.0");
    assert!(
        run.stderr.contains("`PAVED_TAG`") && run.stderr.contains("`PAVED_VERSION_TAG`"),
        "{}",
        run.stderr
    );
    assert_eq!(repo.git(&["cat-file", "-t", "v1.1.0"]), "tag");
    repo.commit("feat: y");
    repo.paved_env(&[], &[("PAVED_VERSION_TAG", "1")]).ok();
    assert_eq!(repo.git(&["cat-file", "-t", "v1.2.0"]), "tag");
}

#[test]
fn tag_on_another_commit_is_refused_with_exit_1() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.0.0");
    repo.git(&["branch", "maint"]);
    repo.commit("feat: x");
    repo.tag("v1.1.0");
    repo.git(&["checkout", "-q", "maint"]);
    repo.commit("feat: y");
    // maint computes 1.1.0 too, which main already released.
    let run = repo.paved(&["--tag"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("`v1.1.0` already exists"),
        "{}",
        run.stderr
    );
}

#[test]
fn push_sends_the_tag_and_is_idempotent() {
    let origin = tempfile::tempdir().unwrap();
    crate::common::git_cmd(origin.path())
        .args(["init", "-q", "--bare"])
        .output()
        .unwrap();
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", origin.path().to_str().unwrap()]);
    repo.commit("feat: base");
    repo.paved(&["--push"]).ok();
    let remote = crate::common::git_cmd(origin.path())
        .args(["tag", "-l"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&remote.stdout).trim(), "v0.1.0");
    repo.paved(&["--push", "--release-as", "0.1.0"]).ok();
}

// ---- version files --------------------------------------------------------------------------

#[test]
fn write_sets_versions_and_keeps_formatting() {
    let repo = TestRepo::new();
    let cargo = "[package]\nname = \"demo\"\nversion = \"1.0.0\" # managed by paved\nedition = \"2021\"\n\n[dependencies]\nserde = { version = \"1\" }\n";
    let package = "{\n  \"name\": \"demo\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": { \"x\": \"^1.0.0\" }\n}\n";
    let pyproject = "# project\n[project]\nname = \"demo\"\nversion = \"1.0.0\"\n\n[tool.poetry]\nversion = \"1.0.0\"\n";
    repo.write("Cargo.toml", cargo);
    repo.write("package.json", package);
    repo.write("pyproject.toml", pyproject);
    repo.write("VERSION", "1.0.0\n");
    repo.write("paved.toml", "[version]\nfiles = [\"VERSION\"]\n");
    repo.git(&["add", "."]);
    repo.git(&["commit", "-q", "-m", "feat: base"]);
    repo.tag("v1.0.0");
    repo.commit("feat: more");
    repo.paved(&["--write"]).ok();
    assert_eq!(
        repo.read("Cargo.toml"),
        cargo.replace("\"1.0.0\" #", "\"1.1.0\" #")
    );
    assert_eq!(
        repo.read("package.json"),
        package.replace("\"version\": \"1.0.0\"", "\"version\": \"1.1.0\"")
    );
    assert_eq!(
        repo.read("pyproject.toml"),
        pyproject.replace("1.0.0", "1.1.0")
    );
    assert_eq!(repo.read("VERSION"), "1.1.0\n");
}

#[test]
fn write_with_a_broken_file_writes_nothing() {
    let repo = TestRepo::new();
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"1.0.0\"\n",
    );
    repo.write("package.json", "{ not json");
    repo.git(&["add", "."]);
    repo.git(&["commit", "-q", "-m", "feat: base"]);
    let run = repo.paved(&["--write"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("package.json"), "{}", run.stderr);
    assert_eq!(
        repo.read("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"1.0.0\"\n"
    );
}

#[test]
fn write_workspace_package_version() {
    let repo = TestRepo::new();
    let ws =
        "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = \"0.1.0\"  # shared\n";
    repo.write("Cargo.toml", ws);
    repo.git(&["add", "."]);
    repo.git(&["commit", "-q", "-m", "fix: base"]);
    repo.paved(&["--write"]).ok();
    assert_eq!(repo.read("Cargo.toml"), ws.replace("0.1.0", "0.0.1"));
}

// ---- CI outputs -----------------------------------------------------------------------------

#[test]
fn github_outputs_and_summary() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.tag("v1.2.3");
    repo.commit("feat: x");
    let out = repo.path().join("gh_out");
    let summary = repo.path().join("gh_summary");
    let run = repo.paved_env(
        &[],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    run.ok();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut parsed = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (key, delim) = line.split_once("<<").unwrap();
        assert!(
            delim.starts_with("ghadelimiter_") && delim.len() > 20,
            "{delim}"
        );
        parsed.insert(key.to_owned(), lines.next().unwrap().to_owned());
        assert_eq!(lines.next().unwrap(), delim);
    }
    let expect = [
        ("version", "1.3.0"),
        ("previous-version", "1.2.3"),
        ("tag", "v1.3.0"),
        ("bump", "minor"),
        ("released", "true"),
        ("commits", "1"),
        ("unparsed", "0"),
    ];
    for (k, v) in expect {
        assert_eq!(parsed.get(k).map(String::as_str), Some(v), "{k} in {text}");
    }
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("1.2.3 -> 1.3.0")
    );
}

#[test]
fn gitlab_dotenv() {
    let repo = TestRepo::new();
    repo.commit("fix: base");
    let run = repo.paved_env(&[], &[("GITLAB_CI", "true")]);
    run.ok();
    let env = repo.read("paved.env");
    assert_eq!(
        env,
        "VERSION=0.0.1\nPREVIOUS_VERSION=\nTAG=v0.0.1\nBUMP=patch\nRELEASED=true\nCOMMITS=1\nUNPARSED=0\n"
    );
    // --dotenv works anywhere.
    repo.paved(&["--dotenv", "out.env"]).ok();
    assert!(repo.read("out.env").starts_with("VERSION=0.0.1\n"));
}

// ---- lint -----------------------------------------------------------------------------------

#[test]
fn lint_messages_and_ranges() {
    let repo = TestRepo::new();
    let base = repo.commit("feat: base");
    assert_eq!(repo.paved(&["lint", "feat(api): add endpoint"]).code, 0);
    let bad = repo.paved(&["lint", "Add endpoint"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("`Add endpoint`"), "{}", bad.stderr);
    let gh = repo.paved_env(&["lint", "feature: x"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(gh.code, 1);
    assert!(
        gh.stderr.contains(
            "::error title=Conventional Commits::`feature: x`: type `feature` is not known"
        ),
        "{}",
        gh.stderr
    );

    repo.commit("fix: fine");
    repo.commit("oops");
    let range = repo.paved(&["lint", "--json", "--range", &format!("{base}..HEAD")]);
    assert_eq!(range.code, 1, "{range:?}");
    let json: serde_json::Value = serde_json::from_str(&range.stdout).unwrap();
    assert_eq!(json["checked"], 2);
    assert_eq!(json["failures"][0]["header"], "oops");
    assert_eq!(
        repo.paved(&["lint", "--range", &format!("{base}..HEAD~1")])
            .code,
        0
    );
    assert_eq!(repo.paved(&["lint", "--range", "nope..HEAD"]).code, 2);
}

/// A PR title check runs in a job with no checkout (pr.yml): a message, from an argument or
/// stdin, needs no repository, only the optional config.
#[test]
fn lint_of_a_message_needs_no_repository() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing above the directory may be a repository either: git stops looking at its parent.
    let ceiling = dir.path().parent().unwrap().display().to_string();
    let env = [("GIT_CEILING_DIRECTORIES", ceiling.as_str())];
    let ok = crate::common::run_in(dir.path(), &["lint", "feat(api): add endpoint"], &env);
    assert_eq!(ok.code, 0, "{ok:?}");
    let bad = crate::common::run_in(dir.path(), &["lint", "Add endpoint"], &env);
    assert_eq!(bad.code, 1, "{bad:?}");

    let mut stdin = std::process::Command::new(crate::common::bin());
    stdin
        .current_dir(dir.path())
        .args(["lint", "-"])
        .env("GIT_CEILING_DIRECTORIES", &ceiling)
        .env_remove("PAVED_REPO")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = stdin.spawn().unwrap();
    {
        use std::io::Write as _;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(b"fix: handle an empty body\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The config in the directory still applies (here: a type of its own).
    std::fs::write(
        dir.path().join("paved.toml"),
        "[version.types]\nwip = \"none\"\n",
    )
    .unwrap();
    let custom = crate::common::run_in(dir.path(), &["lint", "wip: half done"], &env);
    assert_eq!(custom.code, 0, "{custom:?}");

    // A range does need one, and says so.
    let range = crate::common::run_in(dir.path(), &["lint", "--range", "a..b"], &env);
    assert_eq!(range.code, 2, "{range:?}");
    assert!(range.stderr.contains("git repository"), "{}", range.stderr);
}

// ---- errors ---------------------------------------------------------------------------------

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let repo = TestRepo::new();
    repo.commit("feat: base");
    repo.write("paved.toml", "[version]\ntag-templat = \"v{version}\"\n");
    let run = repo.paved(&[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("tag-templat") && run.stderr.contains("paved.toml"),
        "{}",
        run.stderr
    );
    let missing = repo.paved(&["--config", "nope.toml"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nope.toml"), "{}", missing.stderr);
}

#[test]
fn outside_a_repository_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::common::run_in(
        dir.path(),
        &[],
        &[(
            "GIT_CEILING_DIRECTORIES",
            dir.path().parent().unwrap().to_str().unwrap(),
        )],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("not inside a git repository"),
        "{}",
        run.stderr
    );
}

#[test]
fn empty_repository_is_a_clear_error() {
    let repo = TestRepo::new();
    let run = repo.paved(&[]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("HEAD"), "{}", run.stderr);
}

#[test]
fn bad_flag_exits_2() {
    let repo = TestRepo::new();
    assert_eq!(repo.paved(&["--no-such-flag"]).code, 2);
    assert_eq!(repo.paved(&["--fetch", "sometimes"]).code, 2);
}

// ---- hostile remotes ------------------------------------------------------------------------

/// A remote that git would read as an option must never reach a git command line: not from
/// paved.toml while deepening a shallow CI clone, not from `PAVED_REMOTE` or `--remote` on push.
#[test]
fn a_remote_that_looks_like_an_option_is_refused_and_runs_nothing() {
    let marker = tempfile::tempdir().unwrap();
    let pwned = marker.path().join("PWNED");
    let hostile = format!("--upload-pack=touch {}; git-upload-pack", pwned.display());
    let hostile_push = format!("--receive-pack=touch {}; git-receive-pack", pwned.display());

    let (_origin, clone) = shallow_setup();
    std::fs::write(
        clone.path().join("paved.toml"),
        format!("[version]\nremote = {hostile:?}\n"),
    )
    .unwrap();
    let run = crate::common::run_in(clone.path(), &["--fetch", "auto"], &[("CI", "true")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("git would read it as an option"),
        "{}",
        run.stderr
    );
    assert!(!pwned.exists(), "the remote ran a command while deepening");

    let origin = tempfile::tempdir().unwrap();
    crate::common::git_cmd(origin.path())
        .args(["init", "-q", "--bare"])
        .output()
        .unwrap();
    let repo = TestRepo::new();
    repo.git(&["remote", "add", "origin", origin.path().to_str().unwrap()]);
    repo.commit("feat: base");
    let run = repo.paved_env(&["--push"], &[("PAVED_REMOTE", &hostile_push)]);
    assert_eq!(run.code, 2, "{run:?}");
    let flag = format!("--remote={hostile_push}");
    let run = repo.paved(&["--push", &flag]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!pwned.exists(), "the remote ran a command on push");
    let tags = crate::common::git_cmd(origin.path())
        .args(["tag", "-l"])
        .output()
        .unwrap();
    assert!(tags.stdout.is_empty(), "nothing may be pushed");
}

/// A tag template or package name from paved.toml that would make a name git refuses (or one
/// that reads as an option) is a config error before any tag is made or pushed.
#[test]
fn a_tag_name_git_would_refuse_is_a_config_error_and_creates_nothing() {
    let hostile = [
        (
            "[version]\ntag-template = \"-{version}\"\n",
            "starts with `-`",
        ),
        (
            "[version]\ntag-template = \"v{version}.lock\"\n",
            "ends with `.lock`",
        ),
        (
            "[[version.package]]\nname = \"a..b\"\npath = \"a\"\ntag = \"{name}@{version}\"\n",
            "contains `..`",
        ),
        (
            "[[version.package]]\nname = \"x/../../escaped\"\npath = \"a\"\n",
            "contains `..`",
        ),
        (
            "[version]\ntag-template = \"r@{{version}\"\n",
            "contains `@{`",
        ),
    ];
    for (config, problem) in hostile {
        let repo = TestRepo::new();
        repo.write("a/file", "x");
        repo.commit_file("a/file", "feat: base");
        repo.write("paved.toml", config);
        let run = repo.paved(&["--tag"]);
        assert_eq!(run.code, 2, "{config}: {run:?}");
        assert!(run.stderr.contains(problem), "{config}: {}", run.stderr);
        assert!(
            repo.git(&["tag", "-l"]).trim().is_empty(),
            "{config}: no tag may be created"
        );
    }
}

// ---- --write --tag: commit, then tag that commit --------------------------------------------

fn release_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"1.2.3\"\nedition = \"2021\"\n",
    );
    repo.git(&["add", "."]);
    repo.git(&["commit", "-q", "-m", "feat: base"]);
    repo.tag("v1.2.3");
    repo.commit("feat: more");
    repo
}

/// The tag must hold the bump: `--write --tag` commits the version files, then tags that commit,
/// as cargo-release, release-please and semantic-release do.
#[test]
fn write_and_tag_commits_the_version_files_then_tags_that_commit() {
    let repo = release_repo();
    let before = repo.head();
    repo.paved(&["--write", "--tag"]).ok();
    let head = repo.head();
    assert_ne!(head, before, "a release commit is made");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]).trim(),
        "chore(release): 1.3.0"
    );
    assert_eq!(
        repo.git(&["rev-parse", "v1.3.0^{commit}"]).trim(),
        head,
        "the tag is on the release commit"
    );
    assert!(
        repo.git(&["show", "v1.3.0:Cargo.toml"])
            .contains("version = \"1.3.0\""),
        "the tagged tree holds the bump"
    );
    assert!(
        repo.git(&["status", "--porcelain"]).trim().is_empty(),
        "nothing is left uncommitted"
    );
    // A re-run has nothing to release and makes no second commit.
    repo.paved(&["--write", "--tag"]).ok();
    assert_eq!(repo.head(), head);
}

#[test]
fn write_and_tag_refuse_a_dirty_tree_and_change_nothing() {
    let repo = release_repo();
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"1.2.3\"\nedition = \"2024\"\n",
    );
    let before = repo.head();
    let run = repo.paved(&["--write", "--tag"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("Cargo.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("uncommitted"), "{}", run.stderr);
    assert_eq!(repo.head(), before);
    assert!(repo.git(&["tag", "-l", "v1.3.0"]).trim().is_empty());
    assert!(
        repo.read("Cargo.toml").contains("1.2.3"),
        "the file is not rewritten"
    );
}

#[test]
fn write_and_push_push_the_release_commit_and_its_tag() {
    let origin = tempfile::tempdir().unwrap();
    crate::common::git_cmd(origin.path())
        .args(["init", "-q", "--bare"])
        .output()
        .unwrap();
    let repo = release_repo();
    repo.write(
        "paved.toml",
        "[version]\ncommit-message = \"release: {tag} ({version})\"\n",
    );
    repo.git(&["add", "paved.toml"]);
    repo.git(&["commit", "-q", "-m", "chore: config"]);
    repo.git(&["remote", "add", "origin", origin.path().to_str().unwrap()]);
    let branch = repo.git(&["symbolic-ref", "--short", "HEAD"]);
    repo.git(&["push", "-q", "origin", branch.trim()]);
    repo.paved(&["--write", "--push"]).ok();
    let head = repo.head();
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]).trim(),
        "release: v1.3.0 (1.3.0)"
    );
    let remote = |args: &[&str]| {
        let out = crate::common::git_cmd(origin.path())
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        remote(&["rev-parse", branch.trim()]),
        head,
        "the branch is pushed"
    );
    assert_eq!(
        remote(&["rev-parse", "v1.3.0^{commit}"]),
        head,
        "the tag is pushed"
    );
}

/// `lint --range HEAD~42..HEAD` on a shorter history says what is wrong, not gix's internals.
#[test]
fn a_range_longer_than_the_history_is_a_clear_usage_error() {
    let repo = TestRepo::new();
    repo.commit("feat: one");
    repo.commit("fix: two");
    let run = repo.paved(&["lint", "--range", "HEAD~42..HEAD"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("`HEAD~42`"), "{}", run.stderr);
    assert!(run.stderr.contains("shorter range"), "{}", run.stderr);
    assert!(!run.stderr.contains("delegate"), "{}", run.stderr);
    let run = repo.paved(&["lint", "--range", "no-such-branch..HEAD"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}

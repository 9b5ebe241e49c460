//! `promote`, `history`, `rollback` with `[promote]` policy against a real registry.

use crate::common::*;
use paved_testkit::registry::Registry;

fn config(host: &str, soak: &str) -> String {
    format!(
        r#"
[promote]
environments = ["dev", "staging", "prod"]

[promote.env.dev]
repository = "{host}/dev/app"

[promote.env.staging]
repository = "{host}/staging/app"
allow-unsigned-records = true

[promote.env.prod]
repository = "{host}/prod/app"
current-tag = "live"
soak = "{soak}"
allow-unsigned-records = true
"#
    )
}

#[test]
fn promotes_in_order_records_history_and_rolls_back() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(work.path().join("paved.toml"), config(&host, "0s")).unwrap();
    let v1 = make_image(&work.path().join("v1"), "1.0.0", 10, 1, 2000, true);
    let v2 = make_image(&work.path().join("v2"), "2.0.0", 11, 1, 2000, true);
    push(&v1, &host, "build/app", None);
    push(&v2, &host, "build/app", None);
    let ledger = work.path().join("ledger.jsonl");
    let ledger_arg = format!("--ledger={}", ledger.display());
    let env = [("GITHUB_ACTOR", "octocat")];

    // Straight to staging: refused, naming the check.
    let out = promote(
        &[
            "promote",
            "--env",
            "staging",
            &format!("{host}/build/app:1.0.0"),
        ],
        work.path(),
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("check `previous-environment` failed"),
        "{}",
        stderr(&out)
    );

    for (environment, from) in [
        ("dev", "build/app"),
        ("staging", "dev/app"),
        ("prod", "staging/app"),
    ] {
        for (tag, fx) in [("1.0.0", &v1), ("2.0.0", &v2)] {
            let out = promote(
                &[
                    "promote",
                    "--env",
                    environment,
                    &format!("{host}/{from}:{tag}"),
                    &ledger_arg,
                    "--json",
                ],
                work.path(),
                &env,
            );
            assert!(
                out.status.success(),
                "{environment} {tag}: {}",
                stderr(&out)
            );
            let result = json(&out);
            assert_eq!(result["record"]["digest"], fx.digest.as_str());
            assert_eq!(result["record"]["actor"], "octocat");
            assert_eq!(
                inspect_raw(&format!("docker://{host}/{environment}/app:{tag}"), None),
                fx.bytes
            );
        }
    }
    assert_eq!(
        inspect_raw(&format!("docker://{host}/prod/app:live"), None),
        v2.bytes
    );
    let lines = std::fs::read_to_string(&ledger).unwrap();
    assert_eq!(lines.lines().count(), 6);

    // History from the registry alone (no ledger file): the record is a referrer of the image.
    let out = promote(
        &["history", &format!("{host}/prod/app:1.0.0"), "--json"],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json(&out);
    assert_eq!(records.as_array().unwrap().len(), 1, "{records}");
    assert_eq!(records[0]["environment"], "prod");
    assert_eq!(records[0]["destination"], format!("{host}/prod/app:1.0.0"));
    assert!(
        records[0]["checks"]
            .to_string()
            .contains("previous-environment")
    );

    // Rollback from the registry records: prod goes back to 1.0.0.
    let out = promote(&["rollback", "--env", "prod", "--json"], work.path(), &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["record"]["digest"], v1.digest.as_str());
    assert_eq!(
        inspect_raw(&format!("docker://{host}/prod/app:live"), None),
        v1.bytes
    );
    let out = promote(
        &["history", "--env", "prod", &ledger_arg, "--json"],
        work.path(),
        &[],
    );
    let records = json(&out);
    let actions: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["promote", "promote", "rollback"], "{records}");
}

/// (`require` is verified, not counted: see `require.rs`.)
#[test]
fn soak_refuses_with_the_check_named() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(work.path().join("paved.toml"), config(&host, "2h")).unwrap();
    let signed = make_image(&work.path().join("a"), "1.0.0", 20, 1, 1000, true);
    push(&signed, &host, "dev/app", None);

    // Record dev by promoting within dev's own repository (the first environment has no checks).
    let out = promote(
        &["promote", "--env", "dev", &format!("{host}/dev/app:1.0.0")],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = promote(
        &[
            "promote",
            "--env",
            "staging",
            &format!("{host}/dev/app:1.0.0"),
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = promote(
        &[
            "promote",
            "--env",
            "prod",
            &format!("{host}/staging/app:1.0.0"),
        ],
        work.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("check `soak` failed"),
        "{}",
        stderr(&out)
    );

    let out = promote(
        &["promote", "--env", "qa", &format!("{host}/dev/app:1.0.0")],
        work.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("dev, staging, prod"),
        "{}",
        stderr(&out)
    );
}

/// Eight promotions of one digest (under eight tags) into one environment at once, on a
/// registry without the referrers API: every record survives in the `sha256-<hex>` index.
#[test]
fn concurrent_promotions_lose_no_record() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(work.path().join("paved.toml"), config(&host, "0s")).unwrap();
    let fx = make_image(&work.path().join("v1"), "t0", 12, 1, 1000, false);
    push(&fx, &host, "build/app", None);
    let tags: Vec<String> = (1..=8).map(|i| format!("t{i}")).collect();
    for tag in &tags {
        let out = promote(
            &[
                "copy",
                &format!("{host}/build/app:t0"),
                &format!("{host}/build/app:{tag}"),
            ],
            work.path(),
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let runs: Vec<_> = tags
        .iter()
        .map(|tag| {
            let (dir, reference) = (work.path().to_owned(), format!("{host}/build/app:{tag}"));
            std::thread::spawn(move || promote(&["promote", "--env", "dev", &reference], &dir, &[]))
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = promote(
        &["history", &format!("{host}/dev/app:t1"), "--json"],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json(&out);
    let mut destinations: Vec<String> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["destination"].as_str().unwrap().to_owned())
        .collect();
    destinations.sort();
    let expected: Vec<String> = tags.iter().map(|t| format!("{host}/dev/app:{t}")).collect();
    assert_eq!(destinations, expected, "{records}");
}

fn one_env_config(host: &str, current_tag: Option<&str>) -> String {
    let current = current_tag
        .map(|t| format!("current-tag = \"{t}\"\n"))
        .unwrap_or_default();
    format!(
        "[promote]\nenvironments = [\"prod\"]\n\n[promote.env.prod]\nrepository = \"{host}/prod/app\"\n{current}"
    )
}

/// Rollback moves the environment's current tag; an environment without one has nothing a
/// rollback could move, so it is refused with the fix instead of reporting a success.
#[test]
fn rollback_without_a_current_tag_is_refused_with_the_fix() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(work.path().join("paved.toml"), one_env_config(&host, None)).unwrap();
    for (seed, tag) in [(30, "1.0.0"), (31, "2.0.0")] {
        let fx = make_image(&work.path().join(tag), tag, seed, 1, 800, false);
        push(&fx, &host, "build/app", None);
        let out = promote(
            &[
                "promote",
                "--env",
                "prod",
                &format!("{host}/build/app:{tag}"),
            ],
            work.path(),
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = promote(&["rollback", "--env", "prod"], work.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no `current-tag`"), "{err}");
    assert!(err.contains("[promote.env.prod]"), "{err}");
}

/// Successive rollbacks walk back through distinct earlier digests (never forward again),
/// `--to` names one from the records, and a digest the records never saw is refused.
#[test]
fn successive_rollbacks_walk_back_and_to_names_a_digest() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(
        work.path().join("paved.toml"),
        one_env_config(&host, Some("live")),
    )
    .unwrap();
    let mut images = Vec::new();
    for (seed, tag) in [(32, "1.0.0"), (33, "2.0.0"), (34, "3.0.0")] {
        let fx = make_image(&work.path().join(tag), tag, seed, 1, 800, false);
        push(&fx, &host, "build/app", None);
        let out = promote(
            &[
                "promote",
                "--env",
                "prod",
                &format!("{host}/build/app:{tag}"),
            ],
            work.path(),
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        images.push(fx);
    }
    let live = || inspect_raw(&format!("docker://{host}/prod/app:live"), None);
    assert_eq!(live(), images[2].bytes);
    for expected in [&images[1], &images[0]] {
        let out = promote(&["rollback", "--env", "prod", "--json"], work.path(), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(json(&out)["record"]["digest"], expected.digest.as_str());
        assert_eq!(live(), expected.bytes);
    }
    let out = promote(&["rollback", "--env", "prod"], work.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no earlier digest"),
        "{}",
        stderr(&out)
    );
    assert_eq!(live(), images[0].bytes);

    let out = promote(
        &[
            "rollback",
            "--env",
            "prod",
            "--to",
            images[2].digest.as_str(),
        ],
        work.path(),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live(), images[2].bytes);
    // From 3.0.0 (reached by `--to`), a plain rollback goes back to where `--to` came from.
    let out = promote(&["rollback", "--env", "prod", "--json"], work.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["record"]["digest"], images[0].digest.as_str());

    let stranger = paved_promote::digest::Digest::of(b"never promoted");
    let out = promote(
        &["rollback", "--env", "prod", "--to", stranger.as_str()],
        work.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("never in `prod`"), "{}", stderr(&out));
}

/// A promotion run again for the same digest carries referrers that appeared since, and adds no
/// second record.
#[test]
fn a_rerun_copies_new_referrers_and_records_once() {
    let work = tempfile::tempdir().unwrap();
    let reg = Registry::start();
    let host = reg.host();
    std::fs::write(
        work.path().join("paved.toml"),
        one_env_config(&host, Some("live")),
    )
    .unwrap();
    let bare = make_image(&work.path().join("bare"), "1.0.0", 35, 1, 800, false);
    push(&bare, &host, "build/app", None);
    let run = || {
        promote(
            &[
                "promote",
                "--env",
                "prod",
                &format!("{host}/build/app:1.0.0"),
                "--json",
            ],
            work.path(),
            &[],
        )
    };
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    // The SBOM arrives after the first promotion (same image, same digest).
    let signed = make_image(&work.path().join("signed"), "1.0.0", 35, 1, 800, true);
    assert_eq!(signed.digest, bare.digest);
    push(&signed, &host, "build/app", None);
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    let referrer = signed.referrer.clone().unwrap();
    assert!(
        !inspect_raw(&format!("docker://{host}/prod/app@{referrer}"), None).is_empty(),
        "the new referrer was carried"
    );
    let out = promote(
        &["history", &format!("{host}/prod/app:1.0.0"), "--json"],
        work.path(),
        &[],
    );
    let records = json(&out);
    assert_eq!(records.as_array().unwrap().len(), 1, "{records}");
}

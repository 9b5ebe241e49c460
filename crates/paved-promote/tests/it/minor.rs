//! The small things of issue #19 item 7: layout stores, soak wording, the no-config hint, what a
//! failed copy leaves behind, exit codes, and staged blobs after a crash.

use std::process::Command;

use paved_testkit::registry::Registry;

use crate::common::*;

/// With an `oci:` layout as the environment's store, `history` and `rollback` find the records
/// kept in it without `--ledger`.
#[test]
fn a_layout_store_keeps_history_and_rolls_back_without_a_ledger() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("prod-store");
    std::fs::write(
        work.path().join("paved.toml"),
        format!(
            "[promote]\nenvironments = [\"prod\"]\n[promote.env.prod]\nrepository = \"oci:{}\"\ncurrent-tag = \"live\"\n",
            store.display()
        ),
    )
    .unwrap();
    let v1 = make_image(&work.path().join("v1"), "1.0.0", 70, 1, 600, false);
    let v2 = make_image(&work.path().join("v2"), "2.0.0", 71, 1, 600, false);
    for fx in [&v1, &v2] {
        let out = promote(
            &[
                "promote",
                "--env",
                "prod",
                &format!("oci:{}:{}", fx.dir.display(), fx.tag),
            ],
            work.path(),
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = promote(&["history", "--env", "prod", "--json"], work.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json(&out);
    assert_eq!(records.as_array().unwrap().len(), 2, "{records}");
    let out = promote(&["rollback", "--env", "prod", "--json"], work.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["record"]["digest"], v1.digest.as_str());
    let layout = paved_promote::oci::layout::Layout::open(&store).unwrap();
    assert_eq!(layout.resolve("live").unwrap(), Some(v1.digest.clone()));
}

/// The soak refusal speaks in the durations paved-change writes (`1d`, `23h 59m 59s`).
#[test]
fn the_soak_refusal_uses_human_durations() {
    let work = tempfile::tempdir().unwrap();
    let store = |env: &str| work.path().join(env).display().to_string();
    std::fs::write(
        work.path().join("paved.toml"),
        format!(
            "[promote]\nenvironments = [\"staging\", \"prod\"]\n[promote.env.staging]\nrepository = \"oci:{}\"\n[promote.env.prod]\nrepository = \"oci:{}\"\nsoak = \"1d\"\nallow-unsigned-records = true\n",
            store("staging"),
            store("prod")
        ),
    )
    .unwrap();
    let fx = make_image(&work.path().join("src"), "1.0.0", 72, 1, 600, false);
    let out = promote(
        &[
            "promote",
            "--env",
            "staging",
            &format!("oci:{}:1.0.0", fx.dir.display()),
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
            &format!("oci:{}:1.0.0", store("staging")),
        ],
        work.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("requires 1d"), "{err}");
    assert!(err.contains("wait 23h 59m 5"), "{err}");
    assert!(!err.contains("86400s"), "{err}");
}

/// `promote` with no `[promote]` configured shows the config to write.
#[test]
fn promote_without_config_shows_what_to_write() {
    let work = tempfile::tempdir().unwrap();
    let out = promote(&["promote", "--env", "prod", "oci:x:1"], work.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("[promote]"), "{err}");
    assert!(err.contains("environments = ["), "{err}");
    assert!(err.contains("[promote.env.prod]"), "{err}");
    assert!(err.contains("repository = "), "{err}");
}

/// A copy whose source cannot be reached leaves no empty layout behind; a missing image is
/// exit 3 (the registry does not have it), as the help says.
#[test]
fn a_failed_copy_leaves_no_layout_and_not_found_is_exit_3() {
    let work = tempfile::tempdir().unwrap();
    let out = promote(
        &["copy", "127.0.0.1:1/app:v1", "oci:out:v1"],
        work.path(),
        &[("PAVED_HTTP_MAX_ATTEMPTS", "1")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        !work.path().join("out").exists(),
        "an empty layout was left"
    );

    let reg = Registry::start();
    let out = promote(
        &["copy", &format!("{}/nothing:v1", reg.host()), "oci:out2:v1"],
        work.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!work.path().join("out2").exists());
}

/// A run killed while it stages blobs leaves its temp dir; the next run removes it (and only
/// dirs of processes that are gone).
#[test]
fn staged_blobs_of_a_killed_run_are_cleaned_by_the_next() {
    let work = tempfile::tempdir().unwrap();
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // A pid that is not running: a short-lived child that has exited.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = tmp.join(format!("paved-promote-{dead}-0011223344556677"));
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("blob"), b"half a layer").unwrap();
    let alive = tmp.join(format!(
        "paved-promote-{}-8899aabbccddeeff",
        std::process::id()
    ));
    std::fs::create_dir_all(&alive).unwrap();
    let src = Registry::start();
    let fx = make_image(&work.path().join("layout"), "v1", 73, 1, 600, false);
    push(&fx, &src.host(), "app", None);
    let out = promote(
        &["copy", &format!("{}/app:v1", src.host()), "oci:out:v1"],
        work.path(),
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stale.exists(),
        "the killed run's staged blobs are still there"
    );
    assert!(alive.exists(), "a running process's dir was removed");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // A blob staged inside a layout destination by the killed run goes too.
    let staged = work
        .path()
        .join("out/blobs/sha256")
        .join(format!(".tmp-{dead}-0123456789ab-001122334455"));
    std::fs::write(&staged, b"half a layer").unwrap();
    let out = promote(
        &["copy", &format!("{}/app:v1", src.host()), "oci:out:v2"],
        work.path(),
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!staged.exists(), "the layout's staged blob is still there");
}

/// `oci:DIR:a/b` has no valid tag, so it would name a directory `DIR:a/b`: refused rather than
/// made.
#[test]
fn a_layout_destination_with_a_bad_tag_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let fx = make_image(&work.path().join("src"), "v1", 74, 1, 300, false);
    let out = promote(
        &["copy", &format!("oci:{}:v1", fx.dir.display()), "oci:x:a/b"],
        work.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`a/b` after the last `:` is not a valid tag"),
        "{}",
        stderr(&out)
    );
    assert!(!work.path().join("x:a").exists());
}

//! What people read: --help.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_paved-promote"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help", help(&["--help"]));
    insta::assert_snapshot!("copy_help", help(&["copy", "--help"]));
    insta::assert_snapshot!("promote_help", help(&["promote", "--help"]));
}

/// The error a user reads, with the temp dir replaced by `[DIR]`.
fn error(args: &[&str], dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_paved-promote"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    format!(
        "exit {}\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "[DIR]")
    )
}

/// A damaged layout says which file is damaged and how to get a good copy back, instead of a
/// blanket "see --help".
#[test]
fn a_corrupt_layout_names_the_file_and_the_way_back() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(layout.join("index.json"), "{\"manifests\": [").unwrap();
    insta::assert_snapshot!(
        "corrupt_index_json",
        error(&["copy", "oci:layout:v1", "oci:out:v1"], dir.path())
    );
    std::fs::write(
        layout.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}"#,
    )
    .unwrap();
    insta::assert_snapshot!(
        "missing_manifest_blob",
        error(&["copy", "oci:layout:v1", "oci:out:v1"], dir.path())
    );
}

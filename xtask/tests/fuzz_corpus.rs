//! Every seed in `fuzz/corpus/<target>/` replayed through its fuzz target's body, without
//! libFuzzer: the properties the fuzzers check hold for the checked-in inputs (and for any
//! crash input added there as a regression) on every test run.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .join("fuzz")
}

/// The target names of `fuzz/fuzz_targets/*.rs`.
fn target_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz/fuzz_targets exists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn every_fuzz_target_has_a_body_and_seeds() {
    let mut bodies: Vec<String> = paved_fuzz_bodies::TARGETS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    bodies.sort();
    assert_eq!(
        target_files(),
        bodies,
        "fuzz/fuzz_targets/*.rs and paved_fuzz_bodies::TARGETS must name the same targets"
    );
    for (name, _) in paved_fuzz_bodies::TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let seeds = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("`{}`: {e}; every target needs seeds", dir.display()))
            .count();
        assert!(seeds > 0, "`{}` holds no seed", dir.display());
    }
}

#[test]
fn every_seed_replays_without_failing_a_property() {
    let mut replayed = 0;
    let mut failed = Vec::new();
    for (name, body) in paved_fuzz_bodies::TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("`{}`: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("read a seed");
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                failed.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "these inputs fail their target's property: {failed:?}"
    );
    assert!(replayed >= paved_fuzz_bodies::TARGETS.len());
    eprintln!("{replayed} seeds replayed");
}

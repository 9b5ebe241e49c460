//! `cargo xtask dist [--profile NAME] [--target T | --host] [--out DIR]`: the release assets the
//! setup action downloads: one tarball of the five binaries per target, and `SHA256SUMS`.
//!
//! `--target T` builds one of the release targets (`sbom::RELEASE_TARGETS`: x86_64 and aarch64
//! `unknown-linux-musl`, x86_64 and aarch64 `apple-darwin`) on a machine that can build it
//! natively, as paved's release workflow does on one runner per target. Linux binaries are
//! checked to be static; macOS binaries may link only the system's own libraries (`otool -L`:
//! `/usr/lib/` and `/System/`), the way every macOS binary does.
//!
//! Shipped archives come from the default, `cargo xtask dist`: the `dist` profile, static. It
//! builds `x86_64-unknown-linux-musl` when that target is installed. Otherwise (rustup cannot
//! fetch it everywhere) it builds `x86_64-unknown-linux-gnu` with `-C target-feature=+crt-static`,
//! which is static too, and says so. Either way the asset is named for the musl triple, which is
//! what `actions/setup/install.sh` asks for on Linux x64, and every binary is checked to be static
//! with `file` and `ldd`. Those builds go to `target/dist/` so their RUSTFLAGS never invalidate
//! the normal build.
//!
//! `--host` packages the normal host build of a profile instead (`target/debug` for `dev`,
//! `target/<profile>` otherwise), which `cargo build` has usually made already: the same archive
//! name, layout and `SHA256SUMS` (one [`package`] function), with dynamic binaries. It exists to
//! test the download path on this machine (`cargo xtask e2e setup` packages the e2e build this
//! way); such an archive is never published.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::codegen::TOOLS;
use crate::util::{cargo, root, step};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut profile = "dist".to_owned();
    let mut host = false;
    let mut target = None;
    let mut out = root().join("dist");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--profile" => profile = it.next().ok_or("--profile needs a name")?.clone(),
            "--host" => host = true,
            "--target" => target = Some(it.next().ok_or("--target needs a target triple")?.clone()),
            "--out" => out = PathBuf::from(it.next().ok_or("--out needs a directory")?),
            other => {
                return Err(format!(
                    "`dist` takes --profile NAME, --target T or --host, and --out DIR (got `{other}`)"
                ));
            }
        }
    }
    let sums = match (host, target) {
        (true, Some(_)) => return Err("`dist` takes --target T or --host, not both".to_owned()),
        (true, None) => host_dist(&profile, &out)?,
        (false, Some(t)) => target_dist(&profile, &out, &t)?,
        (false, None) => dist(&profile, &out)?,
    };
    eprintln!("\ndist: {}\n{sums}", out.display());
    Ok(())
}

fn musl_installed() -> bool {
    Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|s| s.join("lib/rustlib").join(TARGET).is_dir())
}

/// The directory cargo puts a profile's binaries in.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "release" | "bench" => "release",
        other => other,
    }
}

/// Build static binaries, package and check them. Returns the SHA256SUMS text.
pub fn dist(profile: &str, out: &Path) -> Result<String, String> {
    check_out(out)?;
    let (target, rustflags) = if musl_installed() {
        (TARGET, String::new())
    } else {
        eprintln!(
            "dist: the {TARGET} target is not installed (`rustup target add {TARGET}`); building static glibc binaries with +crt-static instead"
        );
        (
            "x86_64-unknown-linux-gnu",
            "-C target-feature=+crt-static".to_owned(),
        )
    };
    let target_dir = root().join("target").join("dist");
    let mut build = cargo();
    build
        .args([
            "build",
            "--locked",
            "--profile",
            profile,
            "--target",
            target,
            "--target-dir",
        ])
        .arg(&target_dir);
    for t in TOOLS {
        build.args(["-p", t.bin]);
    }
    if !rustflags.is_empty() {
        build.env("RUSTFLAGS", &rustflags);
    }
    step(
        &format!("build static binaries ({target}, profile {profile})"),
        &mut build,
    )?;
    let built = target_dir.join(target).join(profile_dir(profile));
    package(&built, out, Linkage::Static)
}

/// Build one release target natively (paved's release workflow: one runner per target), package
/// and check it. Returns the SHA256SUMS text.
pub fn target_dist(profile: &str, out: &Path, target: &str) -> Result<String, String> {
    if !crate::sbom::RELEASE_TARGETS.contains(&target) {
        return Err(format!(
            "`{target}` is not a release target; the release ships {}",
            crate::sbom::RELEASE_TARGETS.join(", ")
        ));
    }
    check_out(out)?;
    let target_dir = root().join("target").join("dist");
    let mut build = cargo();
    build
        .args([
            "build",
            "--locked",
            "--profile",
            profile,
            "--target",
            target,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for t in TOOLS {
        build.args(["-p", t.bin]);
    }
    step(&format!("build ({target}, profile {profile})"), &mut build)?;
    let linkage = if target.ends_with("-apple-darwin") {
        Linkage::MacSystem
    } else {
        Linkage::Static
    };
    package_for(
        &target_dir.join(target).join(profile_dir(profile)),
        out,
        linkage,
        target,
    )
}

/// Package the host build of `profile` (built first if it is stale). Returns the SHA256SUMS text.
pub fn host_dist(profile: &str, out: &Path) -> Result<String, String> {
    if std::env::consts::OS != "linux" || std::env::consts::ARCH != "x86_64" {
        return Err(format!(
            "`dist --host` packages the host build as the {TARGET} asset, so it runs only on x86_64 Linux (this is {} {})",
            std::env::consts::ARCH,
            std::env::consts::OS
        ));
    }
    check_out(out)?;
    // The command e2e builds with, so after `cargo xtask ci`'s tests this rebuilds nothing.
    step(
        &format!("build the tools (host, profile {profile})"),
        cargo().args([
            "build",
            "--workspace",
            "--all-targets",
            "--locked",
            "--profile",
            profile,
        ]),
    )?;
    package(
        &root().join("target").join(profile_dir(profile)),
        out,
        Linkage::Host,
    )
}

/// What the packaged binaries must be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Linkage {
    /// A release: every binary checked to be static.
    Static,
    /// The host build, for testing the download path only.
    Host,
    /// A macOS release: the system's own libraries only.
    MacSystem,
}

/// The one packaging path: copy the five binaries from `built` into `out`, make
/// `paved-<version>-<TARGET>.tar.gz` (reproducible: sorted names, mtime 0, owner 0) with the
/// binaries at its top level, and write `SHA256SUMS` for the archive and each binary. Returns
/// the SHA256SUMS text.
pub fn package(built: &Path, out: &Path, linkage: Linkage) -> Result<String, String> {
    package_for(built, out, linkage, TARGET)
}

/// [`package`] for the archive of `target`.
pub fn package_for(
    built: &Path,
    out: &Path,
    linkage: Linkage,
    target: &str,
) -> Result<String, String> {
    let version = workspace_version()?;
    clear_out(out)?;
    let packaged = package_into(built, out, linkage, &version, target);
    if packaged.is_err() {
        // `out` was empty or an earlier dist output: leave no half-made release behind.
        let _ = std::fs::remove_dir_all(out);
    }
    packaged
}

fn package_into(
    built: &Path,
    out: &Path,
    linkage: Linkage,
    version: &str,
    target: &str,
) -> Result<String, String> {
    let mut names = Vec::new();
    for t in TOOLS {
        let from = built.join(t.bin);
        let dest = out.join(t.bin);
        std::fs::copy(&from, &dest).map_err(|e| {
            format!(
                "could not copy `{}` into `{}`: {e}; build it first (`cargo build --profile NAME`)",
                from.display(),
                out.display()
            )
        })?;
        match linkage {
            Linkage::Static => check_static(&dest)?,
            Linkage::MacSystem => check_mac_system_only(&dest)?,
            // Shipped binaries are stripped by the profile; the host build's copy the same way,
            // so the archive is release-sized (half the bytes to compress and serve).
            Linkage::Host => strip(&dest)?,
        }
        names.push(t.bin.to_owned());
    }
    if linkage == Linkage::Host {
        eprintln!(
            "dist: packaged the host build from `{}` (dynamic binaries, stripped, for testing the download only; releases come from `cargo xtask dist`)",
            built.display()
        );
    }
    let archive = format!("paved-{version}-{target}.tar.gz");
    let tar = format!(
        "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - {} | gzip -n -9 > {archive}",
        names.join(" ")
    );
    step(
        "package",
        Command::new("sh").current_dir(out).args(["-c", &tar]),
    )?;
    names.insert(0, archive);
    let sums = Command::new("sha256sum")
        .current_dir(out)
        .args(&names)
        .output()
        .map_err(|e| format!("could not run sha256sum: {e}"))?;
    if !sums.status.success() {
        return Err(format!(
            "sha256sum failed: {}",
            String::from_utf8_lossy(&sums.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&sums.stdout).into_owned();
    std::fs::write(out.join("SHA256SUMS"), &text).map_err(|e| format!("SHA256SUMS: {e}"))?;
    Ok(text)
}

fn strip(path: &Path) -> Result<(), String> {
    let out = Command::new("strip").arg(path).output().map_err(|e| {
        format!(
            "could not run `strip` on `{}` (install binutils): {e}",
            path.display()
        )
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`strip {}` failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether `out` holds files, refusing when they are not an earlier dist output. Checked before
/// any build, so a wrong `--out` fails in a second, not after one.
fn check_out(out: &Path) -> Result<bool, String> {
    let has_entries = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if has_entries && !out.join("SHA256SUMS").is_file() {
        return Err(format!(
            "`{}` is not empty and holds no earlier dist output (no `SHA256SUMS`); kept it as it is: pass `--out` an empty or new directory",
            out.display()
        ));
    }
    Ok(has_entries)
}

/// Empty `out` for a fresh package: it must be new, empty, or an earlier dist output (it holds
/// `SHA256SUMS`), so `--out` pointed at a directory of other files deletes nothing.
fn clear_out(out: &Path) -> Result<(), String> {
    if check_out(out)? {
        std::fs::remove_dir_all(out)
            .map_err(|e| format!("could not empty `{}`: {e}", out.display()))?;
    }
    std::fs::create_dir_all(out).map_err(|e| format!("could not create `{}`: {e}", out.display()))
}

/// The workspace version (`[workspace.package] version`).
pub fn workspace_version() -> Result<String, String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let section = text
        .split("[workspace.package]")
        .nth(1)
        .ok_or("Cargo.toml has no [workspace.package]")?;
    section
        .lines()
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .ok_or_else(|| "[workspace.package] has no version".into())
}

/// A binary is static when `file` says so and `ldd` finds no dynamic loader.
/// A macOS binary links only the system's libraries (`/usr/lib/…`, `/System/…`), which every Mac
/// has; a Homebrew or other path would not be there on a consumer's runner.
fn check_mac_system_only(path: &Path) -> Result<(), String> {
    let out = Command::new("otool")
        .arg("-L")
        .arg(path)
        .output()
        .map_err(|e| format!("could not run `otool -L` (Xcode command line tools): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let foreign: Vec<&str> = text
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("/usr/lib/") && !l.starts_with("/System/"))
        .collect();
    if out.status.success() && foreign.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} links libraries a Mac may not have:\n  {}",
            path.display(),
            foreign.join("\n  ")
        ))
    }
}

pub fn check_static(path: &Path) -> Result<(), String> {
    let run = |program: &str| {
        Command::new(program)
            .arg(path)
            .output()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .map_err(|e| {
                format!("could not run `{program}` (install it: `cargo xtask tools`): {e}")
            })
    };
    let file = run("file")?;
    let ldd = run("ldd")?;
    let file_ok = file.contains("statically linked") || file.contains("static-pie linked");
    let ldd_ok = ldd.contains("not a dynamic executable") || ldd.contains("statically linked");
    if file_ok && ldd_ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not static:\n  file: {}\n  ldd: {}",
            path.display(),
            file.trim(),
            ldd.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_binary_is_refused() {
        let err = check_static(Path::new("/bin/ls")).unwrap_err();
        assert!(err.contains("is not static"), "{err}");
    }

    #[test]
    fn a_static_binary_passes() {
        // A tiny static program, built the way dist builds (+crt-static), checked the way dist checks.
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("hello.rs");
        std::fs::write(&src, "fn main() {}\n").unwrap();
        let bin = dir.path().join("hello");
        let status = Command::new("rustc")
            .args([
                "-C",
                "target-feature=+crt-static",
                "--target",
                "x86_64-unknown-linux-gnu",
                "-o",
            ])
            .arg(&bin)
            .arg(&src)
            .status()
            .unwrap();
        assert!(status.success());
        check_static(&bin).unwrap();
    }

    /// Five tiny static programs under the tools' names, built the way dist builds (+crt-static).
    fn built_tools(dir: &Path) -> PathBuf {
        let src = dir.join("tool.rs");
        std::fs::write(&src, "fn main() {}\n").unwrap();
        let built = dir.join("built");
        std::fs::create_dir_all(&built).unwrap();
        let first = built.join(TOOLS[0].bin);
        let status = Command::new("rustc")
            .args([
                "-C",
                "target-feature=+crt-static",
                "--target",
                "x86_64-unknown-linux-gnu",
                "-o",
            ])
            .arg(&first)
            .arg(&src)
            .status()
            .unwrap();
        assert!(status.success());
        for t in &TOOLS[1..] {
            std::fs::copy(&first, built.join(t.bin)).unwrap();
        }
        built
    }

    #[test]
    fn a_target_the_release_does_not_ship_is_refused_before_building() {
        let dir = tempfile::tempdir().unwrap();
        let err = target_dist(
            "dist",
            &dir.path().join("out"),
            "riscv64gc-unknown-linux-gnu",
        )
        .unwrap_err();
        assert!(err.contains("is not a release target"), "{err}");
        assert!(err.contains("aarch64-apple-darwin"), "{err}");
    }

    #[test]
    fn an_archive_is_named_for_the_target_it_was_built_for() {
        let dir = tempfile::tempdir().unwrap();
        let built = built_tools(dir.path());
        let out = dir.path().join("out");
        let sums =
            package_for(&built, &out, Linkage::Static, "aarch64-unknown-linux-musl").unwrap();
        let version = workspace_version().unwrap();
        let archive = format!("paved-{version}-aarch64-unknown-linux-musl.tar.gz");
        assert!(sums.lines().next().unwrap().ends_with(&archive), "{sums}");
        assert!(out.join(&archive).is_file());
    }

    #[test]
    fn package_makes_the_release_archive_and_its_sums() {
        let dir = tempfile::tempdir().unwrap();
        let built = built_tools(dir.path());
        let out = dir.path().join("out");
        let sums = package(&built, &out, Linkage::Static).unwrap();
        let version = workspace_version().unwrap();
        let archive = format!("paved-{version}-{TARGET}.tar.gz");

        // SHA256SUMS: the archive first, then each binary, and sha256sum agrees with every line.
        let names: Vec<&str> = sums
            .lines()
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        let mut expected = vec![archive.as_str()];
        expected.extend(TOOLS.iter().map(|t| t.bin));
        assert_eq!(names, expected);
        assert_eq!(
            std::fs::read_to_string(out.join("SHA256SUMS")).unwrap(),
            sums
        );
        let check = Command::new("sha256sum")
            .current_dir(&out)
            .args(["--check", "--strict", "SHA256SUMS"])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );

        // The archive holds the five binaries at its top level, executable, owned by 0.
        let list = Command::new("tar")
            .args(["-tvzf"])
            .arg(out.join(&archive))
            .output()
            .unwrap();
        let list = String::from_utf8_lossy(&list.stdout);
        let mut members: Vec<&str> = list
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        members.sort_unstable();
        let mut bins: Vec<&str> = TOOLS.iter().map(|t| t.bin).collect();
        bins.sort_unstable();
        assert_eq!(members, bins);
        assert!(
            list.lines()
                .all(|l| l.starts_with("-rwx") && l.contains(" 0/0 ")),
            "{list}"
        );

        // Reproducible: packaging the same binaries again gives the same archive.
        let again = package(&built, &out, Linkage::Static).unwrap();
        assert_eq!(again, sums);
    }

    #[test]
    fn package_refuses_dynamic_binaries_for_a_release_but_takes_them_for_a_host_test() {
        let dir = tempfile::tempdir().unwrap();
        let built = dir.path().join("built");
        std::fs::create_dir_all(&built).unwrap();
        for t in TOOLS {
            std::fs::copy("/bin/true", built.join(t.bin)).unwrap();
        }
        let err = package(&built, &dir.path().join("out"), Linkage::Static).unwrap_err();
        assert!(err.contains("is not static"), "{err}");
        let sums = package(&built, &dir.path().join("out"), Linkage::Host).unwrap();
        assert!(sums.contains(&format!("-{TARGET}.tar.gz")), "{sums}");
    }

    #[test]
    fn package_never_empties_a_directory_that_is_not_a_dist_output() {
        let dir = tempfile::tempdir().unwrap();
        let built = built_tools(dir.path());
        let out = dir.path().join("mine");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("notes.txt"), "keep me").unwrap();
        let err = package(&built, &out, Linkage::Static).unwrap_err();
        assert!(err.contains("holds no earlier dist output"), "{err}");
        assert!(err.contains("--out"), "{err}");
        assert_eq!(
            std::fs::read_to_string(out.join("notes.txt")).unwrap(),
            "keep me"
        );
    }

    #[test]
    fn a_missing_binary_names_the_file_and_what_to_build() {
        let dir = tempfile::tempdir().unwrap();
        let err = package(dir.path(), &dir.path().join("out"), Linkage::Host).unwrap_err();
        assert!(err.contains(TOOLS[0].bin), "{err}");
        assert!(err.contains("cargo build"), "{err}");
    }
}

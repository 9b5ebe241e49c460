//! `cargo xtask dist [--profile NAME] [--out DIR]`: static Linux release binaries, a tarball the
//! setup action downloads, and `SHA256SUMS`.
//!
//! Builds `x86_64-unknown-linux-musl` when that target is installed. Otherwise (rustup cannot
//! fetch it everywhere) it builds `x86_64-unknown-linux-gnu` with `-C target-feature=+crt-static`,
//! which is static too, and says so. Either way the asset is named for the musl triple, which is
//! what `actions/setup/install.sh` asks for on Linux x64, and every binary is checked to be static
//! with `file` and `ldd`.
//!
//! Builds go to `target/dist/` so their RUSTFLAGS never invalidate the normal build.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::codegen::TOOLS;
use crate::util::{cargo, root, step};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

pub fn run(args: &[String]) -> Result<(), String> {
    let mut profile = "dist".to_owned();
    let mut out = root().join("dist");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--profile" => profile = it.next().ok_or("--profile needs a name")?.clone(),
            "--out" => out = PathBuf::from(it.next().ok_or("--out needs a directory")?),
            other => {
                return Err(format!(
                    "`dist` takes --profile NAME and --out DIR (got `{other}`)"
                ));
            }
        }
    }
    let sums = dist(&profile, &out)?;
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

/// Build, package and check. Returns the SHA256SUMS text.
pub fn dist(profile: &str, out: &Path) -> Result<String, String> {
    let version = workspace_version()?;
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

    let profile_dir = if profile == "dev" { "debug" } else { profile };
    let built = target_dir.join(target).join(profile_dir);
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).map_err(|e| format!("could not create {}: {e}", out.display()))?;
    let mut names = Vec::new();
    for t in TOOLS {
        let dest = out.join(t.bin);
        std::fs::copy(built.join(t.bin), &dest)
            .map_err(|e| format!("could not copy {}: {e}", t.bin))?;
        check_static(&dest)?;
        names.push(t.bin.to_owned());
    }
    let archive = format!("paved-{version}-{TARGET}.tar.gz");
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
}

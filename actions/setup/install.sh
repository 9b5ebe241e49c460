#!/bin/sh
# Install paved: the pinned release, verified against the sha256 pinned below, cached, and put
# on PATH; or, with PAVED_BIN_DIR (the setup action's `binary-dir` input), local binaries.
#
# Used by actions/setup on GitHub and embedded in every GitLab component by `cargo xtask codegen`.
# `cargo xtask bump X.Y.Z` rewrites the version and checksums below from dist/SHA256SUMS.
set -eu

# A target missing from this table has no verifiable archive: there, only PAVED_BIN_DIR works.
paved_version=0.1.0
paved_sha256() {
  case "$1" in
    *) echo '' ;;
  esac
}

paved_fail() {
  echo "paved setup: error: $*" >&2
  exit 1
}

paved_target() {
  os=${RUNNER_OS:-$(uname -s)}
  arch=${RUNNER_ARCH:-$(uname -m)}
  case "$os" in
    Linux | linux) os=unknown-linux-musl ;;
    macOS | Darwin) os=apple-darwin ;;
    *) paved_fail "paved $paved_version has no build for the OS '$os'; set PAVED_BIN_DIR (input binary-dir) to binaries you built" ;;
  esac
  case "$arch" in
    X64 | x86_64 | amd64) arch=x86_64 ;;
    ARM64 | aarch64 | arm64) arch=aarch64 ;;
    *) paved_fail "paved $paved_version has no build for the architecture '$arch'; set PAVED_BIN_DIR (input binary-dir) to binaries you built" ;;
  esac
  echo "$arch-$os"
}

paved_add_path() {
  PATH="$1:$PATH"
  export PATH
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$1" >>"$GITHUB_PATH"
  fi
  echo "paved setup: using $1" >&2
}

paved_sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    paved_fail "neither sha256sum nor shasum is installed, so the download cannot be verified; install coreutils"
  fi
}

paved_download() {
  if [ -n "${PAVED_SETUP_MIRROR:-}" ] && command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v curl >/dev/null 2>&1; then
    curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    paved_fail "neither curl nor wget is installed; install one, or set PAVED_BIN_DIR"
  fi
}

paved_install() {
  bin_dir=${PAVED_SETUP_BIN_DIR:-${PAVED_BIN_DIR:-}}
  if [ -n "$bin_dir" ]; then
    case "$bin_dir" in
      /*) ;;
      *) bin_dir="${GITHUB_WORKSPACE:-${CI_PROJECT_DIR:-$PWD}}/$bin_dir" ;;
    esac
    [ -x "$bin_dir/paved-version" ] || paved_fail "PAVED_BIN_DIR '$bin_dir' has no paved-version binary; point it at a directory with the paved binaries"
    paved_add_path "$bin_dir"
    return
  fi
  target=$(paved_target)
  expected=$(paved_sha256 "$target")
  [ -n "$expected" ] || paved_fail "this action pins no sha256 for paved $paved_version on $target, so a download cannot be verified; set PAVED_BIN_DIR (input binary-dir) to binaries you built"
  cache_root=${RUNNER_TOOL_CACHE:-${PAVED_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}}}
  dir="$cache_root/paved/$paved_version/$target"
  if [ -f "$dir.complete" ] && [ -x "$dir/paved-version" ]; then
    paved_add_path "$dir"
    return
  fi
  archive="paved-$paved_version-$target.tar.gz"
  # PAVED_SETUP_MIRROR: a mirror of the release assets (GHES, air-gapped runners); the checksum
  # above is checked all the same.
  url="${PAVED_SETUP_MIRROR:-https://github.com/paved-dev/paved/releases/download}/v$paved_version/$archive"
  tmp=$(mktemp -d)
  echo "paved setup: downloading $url" >&2
  paved_download "$url" "$tmp/$archive" || paved_fail "could not download $url"
  actual=$(paved_sha256_of "$tmp/$archive")
  [ "$actual" = "$expected" ] || paved_fail "checksum mismatch for $archive: expected $expected, got $actual; refusing to install it"
  mkdir -p "$dir"
  tar -xzf "$tmp/$archive" -C "$dir"
  rm -rf "$tmp"
  touch "$dir.complete"
  paved_add_path "$dir"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "version=$paved_version" >>"$GITHUB_OUTPUT"
  fi
}

paved_install

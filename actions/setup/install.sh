#!/bin/sh
# Install paved: the pinned release, verified against the sha256 pinned below, cached, and put
# on PATH; or, with PAVED_BIN_DIR (the setup action's `binary-dir` input), local binaries.
#
# Used by actions/setup on GitHub and embedded in every GitLab component by `cargo xtask codegen`.
# `cargo xtask bump X.Y.Z` rewrites the version and checksums below from dist/SHA256SUMS. Nothing
# downloaded or cached is unpacked, let alone run, before its sha256 matches the pin: the cache
# keeps the archive, re-hashed on every run, and each run unpacks it into a fresh directory.
set -eu

# A target missing from this table has no verifiable archive: there, only PAVED_BIN_DIR works.
paved_version=0.1.0
paved_sha256() {
  case "$1" in
    *) echo '' ;;
  esac
}

# paved_fail CODE MESSAGE: exit codes as the tools use them: 1 a refusal (the checksum does not
# match), 2 a setting to fix (no pin for this platform, a mirror URL not allowed), 3 the
# environment (a download that failed, a tool missing).
paved_fail() {
  paved_code=$1
  shift
  echo "paved setup: error: $*" >&2
  exit "$paved_code"
}

paved_target() {
  os=${RUNNER_OS:-$(uname -s)}
  arch=${RUNNER_ARCH:-$(uname -m)}
  case "$os" in
    Linux | linux) os=unknown-linux-musl ;;
    macOS | Darwin) os=apple-darwin ;;
    *) paved_fail 2 "paved $paved_version has no build for the OS '$os'; set PAVED_BIN_DIR (input binary-dir) to binaries you built" ;;
  esac
  case "$arch" in
    X64 | x86_64 | amd64) arch=x86_64 ;;
    ARM64 | aarch64 | arm64) arch=aarch64 ;;
    *) paved_fail 2 "paved $paved_version has no build for the architecture '$arch'; set PAVED_BIN_DIR (input binary-dir) to binaries you built" ;;
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
    paved_fail 3 "neither sha256sum nor shasum is installed, so the download cannot be verified; install coreutils"
  fi
}

# Which URLs a download may use. The sha256 pin is what makes a download trustworthy; the
# transport rules keep it private and stop a redirect from downgrading it: https only (redirects
# too), except a PAVED_SETUP_MIRROR on this machine (plain http on a loopback address, or a
# file:/// directory), which never leaves the host. Sets paved_scheme.
paved_check_url() {
  case "$1" in
    https://*) paved_scheme=https ;;
    http://*)
      paved_authority=${1#http://}
      paved_authority=${paved_authority%%/*}
      case "$paved_authority" in
        127.0.0.1 | localhost | '[::1]') paved_port=80 ;;
        127.0.0.1:*) paved_port=${paved_authority#127.0.0.1:} ;;
        localhost:*) paved_port=${paved_authority#localhost:} ;;
        '[::1]':*) paved_port=${paved_authority#\[::1\]:} ;;
        *) paved_port=no ;;
      esac
      case "$paved_port" in
        '' | *[!0-9]*) paved_fail 2 "the mirror URL $1 is plain http on a host that is not this machine; use https (plain http is accepted only on a loopback address such as http://127.0.0.1:8080)" ;;
      esac
      paved_scheme=http
      ;;
    file:///*) paved_scheme='file' ;;
    *) paved_fail 2 "the mirror URL $1 is not https://, http:// on a loopback address, or file:///; set PAVED_SETUP_MIRROR to one of those" ;;
  esac
}

paved_download() {
  scheme=$paved_scheme
  if command -v curl >/dev/null 2>&1; then
    curl --proto "=$scheme" --proto-redir "=$scheme" --tlsv1.2 -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    case "$scheme" in
      file) paved_fail 3 "wget cannot read the file:// mirror '$1'; install curl" ;;
      https)
        # BusyBox wget has no --https-only; the sha256 check below still guards what it fetches.
        if wget --help 2>&1 | grep -q -- --https-only; then
          wget --https-only -q -O "$2" "$1"
        else
          wget -q -O "$2" "$1"
        fi
        ;;
      *) wget -q -O "$2" "$1" ;;
    esac
  else
    paved_fail 3 "neither curl nor wget is installed; install one, or set PAVED_BIN_DIR"
  fi
}

paved_install() {
  bin_dir=${PAVED_SETUP_BIN_DIR:-${PAVED_BIN_DIR:-}}
  if [ -n "$bin_dir" ]; then
    case "$bin_dir" in
      /*) ;;
      *) bin_dir="${GITHUB_WORKSPACE:-${CI_PROJECT_DIR:-$PWD}}/$bin_dir" ;;
    esac
    [ -x "$bin_dir/paved-version" ] || paved_fail 2 "PAVED_BIN_DIR '$bin_dir' has no paved-version binary; point it at a directory with the paved binaries"
    paved_add_path "$bin_dir"
    return
  fi
  target=$(paved_target)
  expected=$(paved_sha256 "$target")
  [ -n "$expected" ] || paved_fail 2 "this action pins no sha256 for paved $paved_version on $target, so a download cannot be verified; set PAVED_BIN_DIR (input binary-dir) to binaries you built"
  cache_root=${RUNNER_TOOL_CACHE:-${PAVED_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}}}
  cache="$cache_root/paved/$paved_version"
  archive="paved-$paved_version-$target.tar.gz"
  cached="$cache/$archive"
  # The cache holds the verified archive, never an unpacked tree: whoever can write the cache (a
  # self-hosted runner's tool cache shared with pull-request jobs, a persistent ~/.cache) could
  # plant binaries and a marker, so nothing there is trusted. Every run copies the cached archive
  # into a fresh directory of its own (mktemp: mode 0700, new each run), hashes that copy against
  # the pin, and unpacks that same copy there: what is verified is what runs.
  # On GitHub RUNNER_TEMP is emptied after every job.
  run_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
  mkdir -p "$run_root"
  run_dir=$(mktemp -d "$run_root/paved-$paved_version.XXXXXX")
  if [ -f "$cached" ] && cp "$cached" "$run_dir/$archive"; then
    actual=$(paved_sha256_of "$run_dir/$archive")
    if [ "$actual" = "$expected" ]; then
      echo "paved setup: paved $paved_version ($target) from the cache $cached, sha256 $expected (checked now)" >&2
    else
      echo "paved setup: the cached $cached has sha256 $actual, not the pinned $expected; deleting it and downloading again" >&2
      rm -f "$run_dir/$archive"
      rm -rf "$cached" || true
    fi
  fi
  if [ ! -f "$run_dir/$archive" ]; then
    # PAVED_SETUP_MIRROR: a mirror of the release assets (GHES, air-gapped runners), laid out like
    # the release page (<mirror>/v<version>/<archive>); the pinned checksum is checked all the same.
    url="${PAVED_SETUP_MIRROR:-https://github.com/paved-dev/paved/releases/download}/v$paved_version/$archive"
    paved_check_url "$url"
    echo "paved setup: downloading $url" >&2
    paved_download "$url" "$run_dir/$archive" || {
      rm -rf "$run_dir"
      paved_fail 3 "could not download $url (see the line above); check PAVED_SETUP_MIRROR or the network, or set PAVED_BIN_DIR"
    }
    actual=$(paved_sha256_of "$run_dir/$archive")
    if [ "$actual" != "$expected" ]; then
      rm -rf "$run_dir"
      paved_fail 1 "checksum mismatch for $archive from $url: expected $expected (pinned), got $actual; refusing to install it, nothing was unpacked"
    fi
    # Cache the verified archive for the next run: written beside the entry, then renamed into
    # place, so no run ever sees half of it. A cache that cannot be written costs only time.
    if mkdir -p "$cache" && cache_tmp=$(mktemp "$cache/.download.XXXXXX") &&
      cp "$run_dir/$archive" "$cache_tmp" && { [ ! -d "$cached" ] || rm -rf "$cached"; } &&
      mv -f "$cache_tmp" "$cached"; then
      echo "paved setup: cached $cached" >&2
    else
      [ -z "${cache_tmp:-}" ] || rm -f "$cache_tmp"
      echo "paved setup: warning: could not cache the archive in $cache; the next run downloads it again" >&2
    fi
    # What earlier versions of this script cached (an unpacked tree and a marker): never used.
    rm -rf "${cache:?}/$target" "$cache/$target.complete" || true
    echo "paved setup: installed paved $paved_version ($target), sha256 $expected" >&2
  fi
  # Only a verified archive is unpacked.
  mkdir "$run_dir/bin"
  tar -xzf "$run_dir/$archive" -C "$run_dir/bin" || {
    rm -rf "$run_dir"
    paved_fail 3 "could not unpack $archive (its checksum matched the pin; the release asset itself is broken)"
  }
  rm -f "$run_dir/$archive"
  [ -x "$run_dir/bin/paved-version" ] || {
    rm -rf "$run_dir"
    paved_fail 3 "$archive has no paved-version binary (its checksum matched the pin; the release asset itself is broken)"
  }
  paved_add_path "$run_dir/bin"
  paved_output
}

paved_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "version=$paved_version" >>"$GITHUB_OUTPUT"
  fi
}

paved_install

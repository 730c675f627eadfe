#!/usr/bin/env bash
# Installs what type-checking the workspace for macOS on Linux needs (.ci/macos.sh,
# `cargo check --workspace --target aarch64-apple-darwin` / `x86_64-apple-darwin`):
#   - the Rust standard libraries of the two macOS targets (rustup);
#   - Zig, as the Python package `ziglang` (pinned below), which .ci/tools/apple-cc uses as the
#     C compiler for build scripts. Without it apple-cc writes placeholder objects, which is
#     enough for `cargo check` too; APPLE_CC_MODE=stub skips the download (~50 MB).
# Idempotent and quick when everything is there. Runs as root (or with sudo) on a fresh
# Debian/Ubuntu machine; the Rust toolchain itself comes from https://rustup.rs.
set -euo pipefail

ZIG_VERSION=0.15.2
TARGETS=(aarch64-apple-darwin x86_64-apple-darwin)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v rustup >/dev/null 2>&1; then
  echo "setup-macos: rustup not found; install the Rust toolchain (https://rustup.rs) first" >&2
  exit 1
fi
installed=$(rustup target list --installed)
missing=()
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<<"$installed" || missing+=("$t")
done
if ((${#missing[@]})); then
  echo "setup-macos: rustup target add ${missing[*]}" >&2
  rustup target add "${missing[@]}"
fi

if [ "${APPLE_CC_MODE:-auto}" = stub ]; then
  exit 0
fi

zig_installed() {
  python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("ziglang") != sys.argv[1])' \
    "$ZIG_VERSION" 2>/dev/null
}
if ! zig_installed; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "setup-macos: installing python3-pip" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      python3 python3-pip >/dev/null
  fi
  # Into the python3 that apple-cc runs: its site-packages when writable (root, a venv,
  # pyenv), else the user's. Debian's python3 is "externally managed" (PEP 668); ziglang is a
  # self-contained binary wheel without dependencies, so installing it beside the system's
  # packages is safe.
  user=()
  python3 -c 'import os, sys, sysconfig; sys.exit(not os.access(sysconfig.get_paths()["purelib"], os.W_OK))' \
    || user=(--user)
  echo "setup-macos: pip install ${user[*]} ziglang==$ZIG_VERSION" >&2
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet \
    --disable-pip-version-check --no-input --no-warn-script-location "${user[@]}" "ziglang==$ZIG_VERSION"
  zig_installed || {
    echo "setup-macos: ziglang $ZIG_VERSION is not importable by python3 after pip install" >&2
    exit 1
  }
fi

#!/usr/bin/env bash
# Installs what building and testing PIM Tray needs on a fresh Debian/Ubuntu machine.
# Idempotent: packages already present are not downloaded again. Run as root or with sudo.
set -euo pipefail

# Build and test tools for the Tauri-free crates; the tray's own packages (WebKitGTK, the
# headless X/D-Bus/notification/WebDriver test session, tauri-driver) come from
# src-tauri/e2e/setup.sh, called at the end.
PKGS=(
  build-essential pkg-config curl ca-certificates
  dbus dbus-x11 gnome-keyring libsecret-tools python3
  # packages and cross builds (.ci/package.sh): the MinGW-w64 linker for the Windows target,
  # Wine to run it, NSIS for its installer, squashfs-tools and zip for the AppImage and the zip
  gcc-mingw-w64-x86-64 wine64 nsis squashfs-tools zip
)
# Node.js and npm run the TypeScript check of ui/ipc.js (.ci/test.sh); a machine that has them
# from elsewhere keeps its own.
command -v npx >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install the Rust toolchain (https://rustup.rs) first" >&2
  exit 1
fi

bash "$(dirname "$0")/../src-tauri/e2e/setup.sh"

# Rust targets: Windows (MinGW-w64) and the AppImage runtime (static, musl); macOS targets and
# their C compiler for build scripts come from setup-macos.sh.
want_targets=(x86_64-pc-windows-gnu x86_64-unknown-linux-musl)
have_targets=$(rustup target list --installed 2>/dev/null || true)
for t in "${want_targets[@]}"; do
  grep -qx "$t" <<<"$have_targets" || rustup target add "$t" >&2
done
bash "$(dirname "$0")/setup-macos.sh"

# The Tauri CLI (the bundler behind .ci/package.sh), pinned to the tauri 2.12 line.
TAURI_CLI_VERSION=2.11.5
if ! cargo tauri --version 2>/dev/null | grep -qx "tauri-cli $TAURI_CLI_VERSION"; then
  echo "setup: cargo install tauri-cli $TAURI_CLI_VERSION" >&2
  cargo install tauri-cli --version "=$TAURI_CLI_VERSION" --locked -q
fi

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
)

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

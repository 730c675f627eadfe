#!/usr/bin/env bash
# System packages to build pim-tray and to run its headless end-to-end tests (Debian 12 /
# Ubuntu), plus tauri-driver. Idempotent: installs only what is missing. Run as root or with
# sudo. Called by .ci/setup.sh.
set -euo pipefail

PKGS=(
  # build: Tauri on Linux (WebKitGTK 4.1, tray via libayatana-appindicator)
  build-essential pkg-config curl wget file libssl-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  # headless test session: X server, D-Bus, tray watcher, keyring, notifications, WebDriver
  xvfb xauth x11-utils x11-apps xdotool imagemagick librsvg2-bin fonts-dejavu-core
  dbus dbus-x11 gnome-keyring libsecret-tools keyutils
  dunst libnotify-bin python3 python3-dbus python3-gi gir1.2-glib-2.0
  haskell-status-notifier-item-utils webkit2gtk-driver
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "pim-tray setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# tauri-driver (WebDriver proxy to WebKitWebDriver) for the webview tests.
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "pim-tray setup: cargo install tauri-driver" >&2
  cargo install tauri-driver --locked -q
fi

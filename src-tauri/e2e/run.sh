#!/usr/bin/env bash
# Headless end-to-end tests of the real tray binary (target/debug/pim-tray, or under
# $CARGO_TARGET_DIR when set, built beforehand by `cargo build --workspace` or
# `cargo build -p pim-tray`; this script never builds).
#
#   src-tauri/e2e/run.sh [--bin PATH] [--out DIR] [--screenshots DIR] [--phases tray,webview,signin,accounts]
#
# Starts Xvfb on a free display; each phase then runs in its own dbus-run-session with a
# throwaway gnome-keyring, status-notifier-watcher and a notification server (see e2e.py).
# Prints `N passed, M failed` last and exits non-zero on failure. Packages: setup.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."

for tool in Xvfb xdpyinfo dbus-run-session dbus-monitor gnome-keyring-daemon status-notifier-watcher busctl xdotool import dunst WebKitWebDriver; do
  command -v "$tool" >/dev/null 2>&1 || { echo "e2e: missing $tool; run src-tauri/e2e/setup.sh" >&2; echo "0 passed, 1 failed"; exit 1; }
done
/usr/bin/python3 -c 'import dbus, gi' 2>/dev/null || { echo "e2e: /usr/bin/python3 lacks python3-dbus/python3-gi; run src-tauri/e2e/setup.sh" >&2; echo "0 passed, 1 failed"; exit 1; }

display=""
for n in $(seq 90 120); do
  if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then display=":$n"; break; fi
done
[ -n "$display" ] || { echo "e2e: no free X display" >&2; exit 1; }
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null' EXIT
for _ in $(seq 1 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done

export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
DISPLAY="$display" /usr/bin/python3 src-tauri/e2e/e2e.py "$@"

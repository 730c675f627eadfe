#!/usr/bin/env bash
# Regenerates startup-functions.txt, the list of functions src-tauri/linux/ordered-link packs at
# the front of the release tray's text: builds the release tray, runs it under callgrind from
# start to idle (demo mode, then signed out) and keeps the tray binary's functions that ran.
# Needs valgrind (apt install valgrind) besides what the e2e tests need. Run it after a
# dependency update or a large change when `.ci/package.sh` says the list no longer fits.
#
#   src-tauri/linux/startup-functions.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" != "--no-build" ]; then
  # As the packages build it (`cargo tauri build` turns on the custom protocol): the symbol
  # hashes depend on the features, and the list should match the shipped tray exactly.
  cargo build --release --locked -p pim-tray --bin pim-tray --features tauri/custom-protocol
  cargo build --release --locked -p pim-sim # demo mode starts it beside pim-tray
fi
target="${CARGO_TARGET_DIR:-target}"
out="$(mktemp -d /tmp/pim-startup-functions-XXXXXX)"
display=""
for n in $(seq 90 120); do
  if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then display=":$n"; break; fi
done
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null' EXIT
for _ in $(seq 1 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done
DISPLAY="$display" dbus-run-session -- /usr/bin/python3 src-tauri/e2e/startup_functions.py \
  --bin "$target/release/pim-tray" --out "$out" --list src-tauri/linux/startup-functions.txt
echo "profiles and logs: $out"

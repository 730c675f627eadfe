#!/usr/bin/env bash
# Resource figures of the release tray against a bare Tauri tray app built the same way:
# idle RSS ratio, RSS after opening and closing the activation window, CPU over 60 s idle,
# launch-to-menu time. Builds both in release (the only release build of the tray; heavy:
# ~6 min cold on 2 cores), then measures headless (Xvfb + private D-Bus session).
#
#   src-tauri/e2e/bench.sh [--no-build] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=1; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--no-build] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$build" = 1 ]; then
  # The tray alone, as it ships: building the example in the same invocation would turn on
  # the dev-dependencies' features (tauri/test, tokio/test-util) in the tray binary too.
  # Both with Tauri's custom protocol, as `cargo tauri build` (the packages) builds the tray.
  cargo build --release --locked -p pim-tray --bin pim-tray --features tauri/custom-protocol
  cargo build --release --locked -p pim-tray --example bare_tray --features tauri/custom-protocol
  cargo build --release --locked -p pim-sim # demo mode starts it beside pim-tray
fi
target="${CARGO_TARGET_DIR:-target}"
out="${out:-$(mktemp -d /tmp/pim-tray-bench-XXXXXX)}"
mkdir -p "$out"
display=""
for n in $(seq 90 120); do
  if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then display=":$n"; break; fi
done
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null' EXIT
for _ in $(seq 1 100); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done
DISPLAY="$display" dbus-run-session -- /usr/bin/python3 src-tauri/e2e/bench.py \
  --bin "$target/release/pim-tray" --bare "$target/release/examples/bare_tray" --out "$out"

#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what it needs, checks
# formatting, lints, docs and the crate boundaries, then runs every test (unit, integration
# against the simulator over loopback, the real Secret Service in a private D-Bus session, and
# the tray app driven headless through its tray menu, notifications and webview).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash .ci/setup.sh

echo "== fmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets' entry points (features off in every other build).
cargo clippy -p pim-core -p pim-auth --features pim-core/fuzzing,pim-auth/fuzzing --all-targets --locked -- -D warnings
echo "== boundaries"
for c in pim-core pim-auth pim-accounts pim-sim pim-cli; do
  if cargo tree -p "$c" -e normal --prefix none | grep -Eq '^tauri(-|\s)'; then
    echo "FAIL: $c depends on tauri" >&2; exit 1
  fi
done
# The tray links no HTTP server: demo mode runs the simulator (pim-sim) as its own process.
if cargo tree -p pim-tray -e normal --prefix none | grep -Eq '^(axum|pim-sim) '; then
  echo "FAIL: pim-tray links an HTTP server (axum or pim-sim)" >&2; exit 1
fi
echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q
echo "== ui types"
# ui/ipc.js against the types generated from the Rust ones (ui/ipc-types.d.ts, kept fresh by
# the unit test ipc::tests::ipc_types_for_the_ui_are_current): a command name, an argument or
# an answer that differs from Rust's fails here. TypeScript comes from the npm registry.
npx --yes -p typescript@5.9.3 tsc --noEmit --allowJs --checkJs --strict --target es2022 \
  --module es2022 --moduleResolution bundler --lib es2022,dom ui/ipc.js ui/history.js ui/bundle.js ui/approval.js
echo "== build"
cargo build --workspace --all-targets --locked
log=$(mktemp -d)
echo "== tests"
set +e
REAL_HOME="$HOME" dbus-run-session -- bash .ci/session.sh 2>&1 | tee "$log/cargo.txt"
cargo_rc=${PIPESTATUS[0]}
tray_rc=1
if [ "$cargo_rc" -eq 0 ]; then
  echo "== tray end to end (headless: Xvfb, D-Bus, tray watcher, notifications, keychain, WebDriver)"
  bash src-tauri/e2e/run.sh 2>&1 | tee "$log/tray.txt"
  tray_rc=${PIPESTATUS[0]}
fi
set -e

# One closing line for the whole suite: cargo's test binaries plus the tray's end-to-end run.
results=$(grep -hE '^test result: ' "$log/cargo.txt" || true; grep -hE '^[0-9]+ passed, [0-9]+ failed' "$log/tray.txt" 2>/dev/null | tail -n 1 || true)
passed=$(echo "$results" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(echo "$results" | grep -oE '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
if [ "$cargo_rc" -ne 0 ] || [ "$tray_rc" -ne 0 ]; then
  [ "$failed" -gt 0 ] || failed=1
fi
echo "== done in $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

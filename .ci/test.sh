#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what it needs, checks
# formatting, lints, docs and the crate boundaries, then runs every test (unit, integration
# against the simulator over loopback, and the real Secret Service in a private D-Bus session).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash .ci/setup.sh

echo "== fmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== boundaries"
for c in pim-core pim-auth pim-sim; do
  if cargo tree -p "$c" -e normal --prefix none | grep -Eq '^tauri(-|\s)'; then
    echo "FAIL: $c depends on tauri" >&2; exit 1
  fi
done
echo "== docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked -q
echo "== build"
cargo build --workspace --all-targets --locked
echo "== tests"
REAL_HOME="$HOME" dbus-run-session -- bash .ci/session.sh
echo "== done in $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# Runs inside a private `dbus-run-session`: a throwaway, unlocked gnome-keyring (a real Secret
# Service), then the whole test suite. Never touches the user's own keyring or config.
set -euo pipefail

scratch=$(mktemp -d)
export XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config" XDG_CACHE_HOME="$scratch/cache"
export XDG_RUNTIME_DIR="$scratch/run" HOME="$scratch/home"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR" "$HOME"
chmod 700 "$XDG_RUNTIME_DIR"
# cargo and rustup live under the real home; keep them reachable.
export CARGO_HOME="${CARGO_HOME:-$REAL_HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$REAL_HOME/.rustup}"

echo -n "ci-keyring-password" | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
# The Secret Service must answer before the tests start.
for _ in $(seq 1 50); do
  busctl --user status org.freedesktop.secrets >/dev/null 2>&1 && break
  sleep 0.1
done
export PIM_TEST_SECRET_SERVICE=1

# Ignored tests are the ones that need the real Secret Service: run them here, with the rest.
cargo test --workspace --locked --no-fail-fast -- --include-ignored

# Nothing may have been written to the real user's keyring or config folder.
if [ -n "${REAL_HOME:-}" ] && [ -e "$REAL_HOME/.config/pim-tray" ] && [ "$REAL_HOME/.config/pim-tray" -nt "$scratch" ]; then
  echo "FAIL: tests wrote to the real config folder $REAL_HOME/.config/pim-tray" >&2
  exit 1
fi

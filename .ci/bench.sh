#!/usr/bin/env bash
# Refresh, bundle-activation and approver's-inbox benchmarks (tests/benches/refresh.rs, activate.rs, approvals.rs) inside a private D-Bus session with a
# throwaway gnome-keyring, so the cold `pim roles` figure can use the real Secret Service.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh
cargo build --release --locked -q -p pim-cli
cargo bench --locked -q -p pim-tests --bench refresh --bench activate --bench approvals --no-run
REAL_HOME="$HOME" dbus-run-session -- bash -c '
  export XDG_DATA_HOME=$(mktemp -d) PIM_TEST_SECRET_SERVICE=1
  echo -n bench | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
  cargo bench --locked -q -p pim-tests --bench refresh -- "$@"
  cargo bench --locked -q -p pim-tests --bench activate -- "$@"
  cargo bench --locked -q -p pim-tests --bench approvals -- "$@"' bench "$@"

#!/usr/bin/env bash
# Demo mode on a fresh Debian/Ubuntu machine: installs what is needed, builds, and starts the
# embedded simulator of Entra ID, Microsoft Graph and Azure Resource Manager with the demo
# tenants (Contoso, Fabrikam), then shows how to point `pim` at it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh
cargo build --locked -q -p pim-sim -p pim-cli
export PIM_CONFIG_DIR="${PIM_CONFIG_DIR:-$(mktemp -d)/pim-demo}"
cat >&2 <<MSG

Demo simulator starting. In another terminal, point the CLI at it with the export lines
printed below, then for example:
    export BROWSER="curl -sL -o /dev/null"   # the demo signs Adele in without a form
    export PIM_CONFIG_DIR=$PIM_CONFIG_DIR
    $(pwd)/target/debug/pim login
    $(pwd)/target/debug/pim roles
    $(pwd)/target/debug/pim activate "Global Reader" --reason "Investigating sign-ins" --duration 1h
Stop the simulator with Ctrl-C.

MSG
exec ./target/debug/pim-sim --listen 127.0.0.1:0 --scenario demo

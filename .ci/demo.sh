#!/usr/bin/env bash
# Demo mode on a fresh Debian/Ubuntu desktop: installs the system packages, builds, and starts
# the tray app against the simulator of Entra ID, Microsoft Graph and Azure Resource Manager
# (pim-sim, which the tray starts beside itself: tenants Contoso and Fabrikam, signed in
# automatically as Adele Vance).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh
cargo build --locked -p pim-tray -p pim-cli -p pim-sim
cat >&2 <<MSG

PIM Tray demo: look for the shield icon in your tray. It prints PIM_SIM_READY <url> and the
export lines that point the CLI at the same demo tenants, e.g. in another terminal:
    export PIM_AUTHORITY_HOST=<url> PIM_GRAPH_ENDPOINT=<url> PIM_ARM_ENDPOINT=<url>
    export BROWSER="curl -sL -o /dev/null"   # the demo signs Adele in without a form
    $(pwd)/target/debug/pim login && $(pwd)/target/debug/pim roles
Quit from the tray menu (or Ctrl-C here).

MSG
exec ./target/debug/pim-tray --demo

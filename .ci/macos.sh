#!/usr/bin/env bash
# Type-checks and lints the whole workspace for macOS (Apple Silicon and Intel) from Linux:
# clippy on every target (lib, bins, tests, examples), warnings are errors, Cargo.lock as is.
# Nothing is linked: build scripts' C goes through .ci/tools/apple-cc (Zig, or placeholder
# objects; see that file), set up by .ci/setup-macos.sh, which this runs first.
# Prints `== macos <target>: N s` per target; exits non-zero if either fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/setup-macos.sh

rc=0
for target in aarch64-apple-darwin x86_64-apple-darwin; do
  start=$(date +%s)
  if cargo clippy --workspace --all-targets --locked --target "$target" -- -D warnings; then
    result=""
  else
    result=" (FAILED)"
    rc=1
  fi
  echo "== macos $target: $(($(date +%s) - start)) s$result"
done
exit $rc

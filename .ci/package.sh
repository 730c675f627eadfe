#!/usr/bin/env bash
# Builds the installable packages and checks each one; run after the test suite (.ci/run) or
# alone on a fresh Debian/Ubuntu machine (as root: it installs what it needs).
#
#   bash .ci/package.sh
#
# Writes, under target/release/bundle/:
#   deb/PIM Tray_<v>_amd64.deb          pim-tray + pim (+ desktop entry, icons, copyright)
#   appimage/PIM_Tray_<v>_amd64.AppImage
#   nsis/PIM_Tray_<v>_x64-setup.exe     Windows installer (cross-built with MinGW-w64)
#   windows/PIM_Tray_<v>_x64.zip        the same files, unpacked
# and checks them: the .deb's metadata and files, installed with dpkg and removed again (its
# pim --version, its pim-tray --demo menu in the headless session of src-tauri/e2e); the
# AppImage to the same demo menu; the Windows build under Wine (.ci/windows/wine_e2e.py: CLI
# sign-in, Credential Manager, activate/deactivate, the tray's demo menu, the installer); and
# a type-check of the whole workspace for both macOS targets (.ci/macos.sh).
# Prints the time of each step and `N passed, M failed` last.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$(date +%s)

bash .ci/setup.sh >&2

version=$(python3 -c 'import json; print(json.load(open("src-tauri/tauri.conf.json"))["version"])')
bundle=target/release/bundle
out=$(mktemp -d /tmp/pim-package.XXXXXX)
passed=0
failed=0
timings=()

step() { # step NAME: starts timing a step
  step_name=$1
  step_start=$(date +%s)
  echo "== package: $step_name"
}
step_done() {
  timings+=("$(printf '%-34s %5d s' "$step_name" "$(($(date +%s) - step_start))")")
}
check() { # check "what" command…: one check, counted
  local what=$1
  shift
  if "$@" >"$out/check.log" 2>&1; then
    passed=$((passed + 1))
    echo "package: ok   $what"
  else
    failed=$((failed + 1))
    echo "package: FAIL $what"
    sed 's/^/    /' "$out/check.log" | tail -n 40
  fi
}
count_results() { # adds a harness's `N passed, M failed` line from its log
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true)
  if [ -z "$line" ]; then
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + $(echo "$line" | awk '{print $1}')))
  failed=$((failed + $(echo "$line" | awk '{print $3}')))
}

# ------------------------------------------------------------------------------------ Linux
step "linux release build + .deb"
# The bundler builds pim-tray with Tauri's custom protocol, then (beforeBundleCommand) the pim
# CLI and the simulator, which bundle.linux.deb.files puts into the same package as
# /usr/bin/pim and /usr/bin/pim-sim (demo mode starts it beside the tray).
cargo tauri build --ci --bundles deb -- --locked
# Debian's file name convention (the bundler names it after the product, with a space).
deb=$bundle/deb/pim-tray_${version}_amd64.deb
mv -f "$bundle/deb/PIM Tray_${version}_amd64.deb" "$deb"
step_done

step "AppImage"
bash .ci/appimage.sh target/release
step_done
appimage=$bundle/appimage/PIM_Tray_${version}_amd64.AppImage

step "checks: .deb"
deb_fields() {
  local f
  f=$(dpkg-deb -f "$deb")
  echo "$f"
  grep -qx "Package: pim-tray" <<<"$f"
  grep -qx "Version: $version" <<<"$f"
  grep -qx "Architecture: amd64" <<<"$f"
  grep -qE "^Maintainer: .+ <[^>]+@[^>]+>$" <<<"$f"
  grep -qE "^Depends: .*libwebkit2gtk-4\.1-0" <<<"$f"
  grep -qE "^Depends: .*libayatana-appindicator3-1" <<<"$f"
  grep -qE "^Description: .*Privileged Identity Management" <<<"$f"
  grep -qE "^Section: admin" <<<"$f"
}
check ".deb control fields (name, version, maintainer, Depends on WebKitGTK 4.1 and appindicator, description)" deb_fields
startup_code_packed() {
  # src-tauri/linux/ordered-link put the functions the tray runs from start to idle together at
  # the front of its text, and its list still fits the code (else: src-tauri/linux/startup-functions.sh).
  python3 - target/release/pim-tray target/release/pim-tray.link-order <<'PY'
import re, subprocess, sys
binary, order = sys.argv[1], sys.argv[2]
report = open(order + ".report").read().strip()
print(report)
n, exact, byname, gone = map(int, re.match(r"(\d+) listed functions: (\d+) found by their exact name, (\d+) by their name without hashes, (\d+) gone", report).groups())
assert (exact + byname) >= 0.85 * n, f"only {exact + byname} of {n} listed functions are in the tray: regenerate the list"
syms = {}
for line in subprocess.run(["nm", "-S", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    p = line.split()
    if len(p) == 4 and p[2] in "tTwW":
        syms[p[3]] = (int(p[0], 16), int(p[1], 16))
placed = [syms[name] for name in open(order).read().split() if name in syms]
size = sum(s for _, s in placed)
span = max(a + s for a, s in placed) - min(a for a, _ in placed)
print(f"{len(placed)} functions, {size / 1e6:.2f} MB of code, in a block of {span / 1e6:.2f} MB")
assert len(placed) > 1000, "too few functions placed"
assert span <= size * 1.02 + 65536, "the startup functions are not packed together"
PY
}
check "release tray: the code run from start to idle is packed together (link-order list fits the code)" startup_code_packed
echo "figure: release tray link order: $(cat target/release/pim-tray.link-order.report 2>/dev/null || echo 'no report')"
deb_files() {
  local list root
  list=$(dpkg-deb -c "$deb")
  echo "$list"
  grep -qE '^-rwxr-xr-x .* (\./)?usr/bin/pim-tray$' <<<"$list"
  grep -qE '^-rwxr-xr-x .* (\./)?usr/bin/pim$' <<<"$list"
  grep -qE '^-rwxr-xr-x .* (\./)?usr/bin/pim-sim$' <<<"$list"
  grep -qE '^-rw-r--r-- .* (\./)?usr/share/applications/PIM Tray\.desktop$' <<<"$list"
  grep -qE '^-rw-r--r-- .* (\./)?usr/share/icons/hicolor/128x128/apps/pim-tray\.png$' <<<"$list"
  grep -qE '^-rw-r--r-- .* (\./)?usr/share/doc/pim-tray/copyright$' <<<"$list"
  root=$(mktemp -d)
  dpkg-deb -x "$deb" "$root"
  cat "$root/usr/share/applications/PIM Tray.desktop"
  grep -qx "Exec=pim-tray" "$root/usr/share/applications/PIM Tray.desktop"
  grep -qx "Icon=pim-tray" "$root/usr/share/applications/PIM Tray.desktop"
  grep -q "^License: MIT or Apache-2.0" "$root/usr/share/doc/pim-tray/copyright"
  # the CLI in the package is the one built with it
  [ "$("$root/usr/bin/pim" --version)" = "pim $version" ]
  rm -rf "$root"
}
check ".deb files: /usr/bin/pim-tray, /usr/bin/pim, /usr/bin/pim-sim, desktop entry (Exec, Icon), icons, copyright" deb_files

if [ "$(id -u)" -eq 0 ]; then
  prefix=""
  check "dpkg -i installs the .deb" dpkg -i "$deb"
else
  # Not root: unpack into a temporary root instead of installing.
  prefix=$out/root
  check "dpkg -x unpacks the .deb (not root: no install)" dpkg -x "$deb" "$prefix"
fi
installed_version() {
  [ "$("$prefix/usr/bin/pim" --version)" = "pim $version" ]
}
check "the installed pim --version prints pim $version" installed_version
src-tauri/e2e/run.sh --bin "$prefix/usr/bin/pim-tray" --phases package --label ".deb" --out "$out/e2e-deb" 2>&1 |
  tee "$out/e2e-deb.log" || true
count_results "$out/e2e-deb.log"
if [ -z "$prefix" ]; then
  removed() {
    dpkg -r pim-tray
    [ ! -e /usr/bin/pim-tray ] && [ ! -e /usr/bin/pim ] && [ ! -e /usr/bin/pim-sim ] && ! dpkg -s pim-tray >/dev/null 2>&1
  }
  check "dpkg -r removes pim-tray, pim and pim-sim again" removed
fi
step_done

step "checks: AppImage"
appimage_runs() {
  [ -x "$appimage" ]
  [ "$(APPIMAGE_EXTRACT_AND_RUN=1 "$appimage" --version)" = "pim-tray $version" ]
  [ "$(APPIMAGE_EXTRACT_AND_RUN=1 "$appimage" pim --version)" = "pim $version" ]
}
check "the AppImage runs pim-tray --version and pim --version (extract-and-run, no FUSE)" appimage_runs
APPIMAGE_EXTRACT_AND_RUN=1 src-tauri/e2e/run.sh --bin "$appimage" --phases package --label "AppImage" \
  --out "$out/e2e-appimage" 2>&1 | tee "$out/e2e-appimage.log" || true
count_results "$out/e2e-appimage.log"
step_done

# ---------------------------------------------------------------------------------- Windows
step "windows cross build (x86_64-pc-windows-gnu)"
cargo build --release --locked --target x86_64-pc-windows-gnu -p pim-cli -p pim-tray -p pim-sim \
  --features pim-tray/custom-protocol
win=target/x86_64-pc-windows-gnu/release
# The GNU build links WebView2 through WebView2Loader.dll (shipped inside webview2-com-sys).
# (tauri-build copies it next to the executables; else take it from the crate's build output.)
loader=$win/WebView2Loader.dll
[ -f "$loader" ] || loader=$(find "$win/build" -path '*webview2-com-sys-*/out/x64/WebView2Loader.dll' | head -n 1)
stage=$bundle/windows/PIM_Tray_${version}_x64
rm -rf "$stage" && mkdir -p "$stage"
cp "$win/pim-tray.exe" "$win/pim.exe" "$win/pim-sim.exe" "$loader" "$stage/"
cp README.md "$stage/README.md"
(cd "$bundle/windows" && rm -f "PIM_Tray_${version}_x64.zip" && zip -qr "PIM_Tray_${version}_x64.zip" "PIM_Tray_${version}_x64")
mkdir -p "$bundle/nsis"
setup=$bundle/nsis/PIM_Tray_${version}_x64-setup.exe
makensis -V2 -DVERSION="$version" -DSRCDIR="$root/$stage" -DOUTFILE="$root/$setup" "$root/src-tauri/windows/installer.nsi"
step_done

step "checks: windows under Wine"
sim=target/debug/pim-sim
[ -x "$sim" ] || cargo build --locked -p pim-sim
no_console() { # the tray is a GUI-subsystem executable (no console window); the CLI is not
  local tray cli
  tray=$(x86_64-w64-mingw32-objdump -p "$stage/pim-tray.exe" | grep -E '^Subsystem')
  cli=$(x86_64-w64-mingw32-objdump -p "$stage/pim.exe" | grep -E '^Subsystem')
  echo "pim-tray.exe: $tray"
  echo "pim.exe: $cli"
  grep -qE '\s0*2\s' <<<"$tray" && grep -qE '\s0*3\s' <<<"$cli"
}
check "pim-tray.exe is a GUI program (no console window), pim.exe a console one" no_console
/usr/bin/python3 .ci/windows/wine_e2e.py --bin-dir "$stage" --sim "$sim" --installer "$setup" \
  --out "$out/wine" 2>&1 | tee "$out/wine.log" || true
count_results "$out/wine.log"
step_done

# ------------------------------------------------------------------------------------ macOS
step "macOS type-check (aarch64, x86_64)"
if bash .ci/macos.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
step_done

echo "== package: sizes"
for f in "$deb" "$appimage" "$setup" "$bundle/windows/PIM_Tray_${version}_x64.zip"; do
  awk -v n="$(basename "$f")" -v s="$(stat -c %s "$f")" 'BEGIN { printf "  %-60s %6.1f MB\n", n, s / 1048576 }'
done
grep -h '^figure:' "$out"/e2e-*.log 2>/dev/null | sed 's/^/  /' || true
echo "== package: times"
printf '  %s\n' "${timings[@]}"
echo "== package: done in $(($(date +%s) - start)) s (logs in $out)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

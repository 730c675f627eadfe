#!/usr/bin/env bash
# Builds PIM Tray's AppImage (type 2) without network access.
#
#   bash .ci/appimage.sh [BIN_DIR]     # BIN_DIR (or env PIM_BIN_DIR): where pim-tray and pim are;
#                                      # default $CARGO_TARGET_DIR/release (target/release)
#
# linuxdeploy, appimagetool and the standard type-2 runtime are downloaded from GitHub, and none
# is packaged in Debian, so the runtime is our own (crates/appimage-runtime, static musl) and the
# image is Debian's mksquashfs (squashfs-tools) appended to it. Output:
#   $CARGO_TARGET_DIR/release/bundle/appimage/PIM_Tray_<version>_amd64.AppImage
#
# What is bundled: the two binaries, AppRun, the desktop entry and icon, and the tray-indicator
# libraries (Ayatana AppIndicator and its dbusmenu/ido dependencies) that desktops other than
# Ubuntu's and KDE's often lack; tauri's tray dlopen()s libayatana-appindicator3.so.1, which finds
# the bundled copy through AppRun's LD_LIBRARY_PATH. GTK 3 and WebKitGTK 4.1 come from the
# system: WebKitGTK starts its helper processes (WebKitWebProcess, WebKitNetworkProcess) from
# absolute paths compiled into libwebkit2gtk, so bundling it would need binary patching of those
# paths, which this script does not do.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN_DIR="${1:-${PIM_BIN_DIR:-$TARGET_DIR/release}}"
OUT_DIR="$TARGET_DIR/release/bundle/appimage"
MUSL=x86_64-unknown-linux-musl
COMP=gzip # what the runtime reads: crates/appimage-runtime/src/extract.rs, COMPRESSION
TRAY_LIBS=(
  libayatana-appindicator3.so.1 libayatana-indicator3.so.7 libayatana-ido3-0.4.so.0
  libdbusmenu-glib.so.4 libdbusmenu-gtk3.so.4
)

die() { echo "appimage: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v what="$1" -v a="$(now)" -v b="$2" 'BEGIN { printf "%s %.1fs\n", what, a - b }'; }
T0=$(now)

for b in pim-tray pim pim-sim; do
  [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b is missing: build it first (cargo build --release -p pim-tray -p pim-cli -p pim-sim) or pass its directory as the first argument or PIM_BIN_DIR"
done
command -v mksquashfs >/dev/null || die "mksquashfs not found (apt-get install squashfs-tools)"
VERSION=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$ROOT/src-tauri/tauri.conf.json" | head -n1)
[[ -n "$VERSION" ]] || die "no version in src-tauri/tauri.conf.json"
OUT="$OUT_DIR/PIM_Tray_${VERSION}_amd64.AppImage"

# 1. The runtime: static, size-optimised (profiles live in the workspace root, hence --config).
t=$(now)
rustup target list --installed 2>/dev/null | grep -x "$MUSL" >/dev/null || rustup target add "$MUSL"
cargo build --locked --manifest-path "$ROOT/Cargo.toml" -p pim-appimage-runtime --release --target "$MUSL" \
  --config 'profile.release.opt-level="z"' --config 'profile.release.strip=true'
took "runtime build:" "$t"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RUNTIME="$WORK/runtime"
cp "$TARGET_DIR/$MUSL/release/appimage-runtime" "$RUNTIME"
# Type-2 runtime markers: the sections appimagetool fills in (empty here: no update information,
# no signature), then the magic 'A' 'I' 0x02 in the ELF ident padding at offset 8.
if command -v objcopy >/dev/null; then
  head -c 1024 /dev/zero >"$WORK/upd_info"
  head -c 1024 /dev/zero >"$WORK/sha256_sig"
  head -c 8192 /dev/zero >"$WORK/sig_key"
  objcopy --add-section .upd_info="$WORK/upd_info" --add-section .sha256_sig="$WORK/sha256_sig" \
    --add-section .sig_key="$WORK/sig_key" "$RUNTIME"
fi
printf 'AI\002' | dd of="$RUNTIME" bs=1 seek=8 conv=notrunc status=none
RUNTIME_SIZE=$(stat -c %s "$RUNTIME")
[[ "$("$RUNTIME" --appimage-offset)" == "$RUNTIME_SIZE" ]] \
  || die "the runtime's --appimage-offset is not its size ($RUNTIME_SIZE)"

# 2. The AppDir.
t=$(now)
APPDIR="$WORK/AppDir"
install -Dm755 "$BIN_DIR/pim-tray" "$APPDIR/usr/bin/pim-tray"
install -Dm755 "$BIN_DIR/pim" "$APPDIR/usr/bin/pim"
# The simulator demo mode starts (pim-tray finds it beside itself).
install -Dm755 "$BIN_DIR/pim-sim" "$APPDIR/usr/bin/pim-sim"
for lib in "${TRAY_LIBS[@]}"; do
  # awk reads to the end: leaving early would kill ldconfig with SIGPIPE (fatal under pipefail
  # once its list outgrows the pipe buffer).
  path=$("$(command -v ldconfig || echo /sbin/ldconfig)" -p | awk -v l="$lib" '$1 == l && /x86-64/ && !p { p = $NF } END { print p }')
  [[ -n "$path" ]] || die "$lib not found on this machine (apt-get install libayatana-appindicator3-1)"
  install -Dm644 "$(readlink -f "$path")" "$APPDIR/usr/lib/$lib"
done
cat >"$APPDIR/AppRun" <<'EOF'
#!/bin/sh
# PIM Tray's AppRun: `PIM_Tray.AppImage [ARGS]` runs the tray, `PIM_Tray.AppImage pim ARGS` (or the
# AppImage linked or copied under the name `pim`) runs the CLI.
HERE=${APPDIR:-$(dirname "$(readlink -f "$0")")}
export APPDIR="$HERE"
export PATH="$HERE/usr/bin${PATH:+:$PATH}"
export LD_LIBRARY_PATH="$HERE/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ "${1-}" = pim ]; then
  shift
  exec "$HERE/usr/bin/pim" "$@"
fi
case "${ARGV0##*/}" in
  pim) exec "$HERE/usr/bin/pim" "$@" ;;
esac
exec "$HERE/usr/bin/pim-tray" "$@"
EOF
chmod 755 "$APPDIR/AppRun"
cat >"$APPDIR/pim-tray.desktop" <<'EOF'
[Desktop Entry]
Type=Application
Name=PIM Tray
Comment=Activate Microsoft Entra ID PIM roles from the system tray
Exec=pim-tray
Icon=pim-tray
Categories=Utility;Security;
Terminal=false
EOF
install -Dm644 "$APPDIR/pim-tray.desktop" "$APPDIR/usr/share/applications/pim-tray.desktop"
install -Dm644 "$ROOT/icons/128x128.png" "$APPDIR/pim-tray.png"
install -Dm644 "$ROOT/icons/128x128.png" "$APPDIR/usr/share/icons/hicolor/128x128/apps/pim-tray.png"
ln -s pim-tray.png "$APPDIR/.DirIcon"
took "AppDir:" "$t"

# 3. squashfs, appended to the runtime.
t=$(now)
mksquashfs "$APPDIR" "$WORK/image.squashfs" -root-owned -noappend -comp "$COMP" -quiet -no-progress
mkdir -p "$OUT_DIR"
cat "$RUNTIME" "$WORK/image.squashfs" >"$OUT.part"
chmod 755 "$OUT.part"
mv -f "$OUT.part" "$OUT"
took "squashfs + assembly:" "$t"

# 4. Self-checks on the finished AppImage.
t=$(now)
check() { # name expected actual
  [[ "$3" == "$2" ]] || die "self-check $1: expected '$2', got '$3'"
  echo "self-check $1: $3"
}
check "--appimage-offset" "$RUNTIME_SIZE" "$("$OUT" --appimage-offset)"
check "extract-and-run --version" "pim-tray $VERSION" "$("$OUT" --appimage-extract-and-run --version)"
check "pim --version" "pim $VERSION" "$(APPIMAGE_EXTRACT_AND_RUN=1 "$OUT" pim --version)"
took "self-checks:" "$t"

echo "appimage: $OUT ($(stat -c %s "$OUT") bytes, $(du -h "$OUT" | cut -f1); runtime $RUNTIME_SIZE bytes)"
took "appimage total:" "$T0"

#!/usr/bin/env bash
# Regenerates the app and tray icons from the SVGs drawn here (needs rsvg-convert from
# librsvg2-bin, ImageMagick and python3). The outputs are committed; run this only after
# changing a drawing.
set -euo pipefail
cd "$(dirname "$0")"
png() { rsvg-convert -w "$2" -h "$2" "$1" -o "$3"; }
tray() { # fg active out [approvals]
  local fill="none" inner="$1" badge="" inbox=""
  if [ "$2" = 1 ]; then fill="$1"; inner="#1f4e8c"
    badge='<circle cx="50" cy="50" r="12" fill="#2ecc71" stroke="#0b5d2a" stroke-width="3"/>'; fi
  # Requests wait for my approval: an amber dot, top right.
  if [ "${4:-0}" = 1 ]; then
    inbox='<circle cx="52" cy="12" r="11" fill="#f5a623" stroke="#7a4a00" stroke-width="3"/>'; fi
  cat > "$tmp/tray.svg" <<EOF
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <path d="M32 5 L54 14 V31 C54 45 44 55 32 60 C20 55 10 45 10 31 V14 Z" fill="$fill" stroke="$1" stroke-width="5" stroke-linejoin="round"/>
  <circle cx="32" cy="27" r="6" fill="$inner"/>
  <rect x="29" y="30" width="6" height="15" fill="$inner"/>
  $badge
  $inbox
</svg>
EOF
  png "$tmp/tray.svg" 64 "$3"
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p tray
tray '#ffffff' 0 tray/idle-dark.png        # light glyph for dark panels
tray '#ffffff' 1 tray/active-dark.png
tray '#202020' 0 tray/idle-light.png       # dark glyph for light panels
tray '#202020' 1 tray/active-light.png
tray '#000000' 0 tray/macos-idle-template.png   # macOS template images (alpha only matters)
tray '#000000' 1 tray/macos-active-template.png
tray '#ffffff' 0 tray/idle-approvals-dark.png 1
tray '#ffffff' 1 tray/active-approvals-dark.png 1
tray '#202020' 0 tray/idle-approvals-light.png 1
tray '#202020' 1 tray/active-approvals-light.png 1
tray '#000000' 0 tray/macos-idle-approvals-template.png 1
tray '#000000' 1 tray/macos-active-approvals-template.png 1
png icon.svg 32 32x32.png
png icon.svg 128 128x128.png
png icon.svg 256 icon.png
for s in 16 32 48 64 256; do png icon.svg $s "$tmp/i$s.png"; done
convert "$tmp"/i16.png "$tmp"/i32.png "$tmp"/i48.png "$tmp"/i64.png "$tmp"/i256.png icon.ico
png icon.svg 512 "$tmp/i512.png"
python3 - "$tmp" <<'EOF'
# A minimal ICNS: ic08 (256 px PNG) and ic09 (512 px PNG).
import struct, sys
t = sys.argv[1]
def chunk(kind, data): return kind + struct.pack('>I', len(data) + 8) + data
body = chunk(b'ic08', open(f'{t}/i256.png', 'rb').read()) + chunk(b'ic09', open(f'{t}/i512.png', 'rb').read())
open('icon.icns', 'wb').write(b'icns' + struct.pack('>I', len(body) + 8) + body)
EOF

#!/bin/sh
# Started by WebKitWebDriver (via tauri-driver) as the "browser": runs pim-tray with its output
# kept (tauri-driver discards the driver's stdout, which the app would inherit).
exec "$PIM_TRAY_BIN" "$@" >>"$PIM_E2E_APP_OUT" 2>>"$PIM_E2E_APP_ERR"

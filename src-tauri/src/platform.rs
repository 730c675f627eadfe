//! Platform glue behind `cfg`: launch at login, termination signals.

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::AutoLaunchManager;

/// Turns launch at login on or off (tauri-plugin-autostart: XDG autostart entry on Linux,
/// LaunchAgent on macOS, registry Run key on Windows).
pub fn apply_launch_at_login<R: Runtime>(app: &AppHandle<R>, enabled: bool) {
    let Some(launcher) = app.try_state::<AutoLaunchManager>() else {
        return;
    };
    let result = if enabled {
        launcher.enable()
    } else if launcher.is_enabled().unwrap_or(false) {
        launcher.disable()
    } else {
        Ok(())
    };
    if let Err(e) = result {
        tracing::warn!("cannot change launch at login: {e}");
    }
}

/// Exits cleanly (code 0) on SIGTERM, SIGINT and SIGHUP.
#[cfg(unix)]
pub fn exit_on_signals<R: Runtime>(app: AppHandle<R>) {
    use tokio::signal::unix::{SignalKind, signal};
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
        tracing::info!("signal received, exiting");
        app.exit(0);
    });
}

/// Windows and others: the OS ends the process; nothing to install.
#[cfg(not(unix))]
pub fn exit_on_signals<R: Runtime>(_app: AppHandle<R>) {}

/// Whether the taskbar uses the light theme (Windows: `SystemUsesLightTheme` under the
/// user's Personalize key, 1 on Windows 11's default light look). Other systems do not say:
/// `false` (a dark panel, the usual Linux look; macOS tints its template icon itself).
pub fn light_taskbar() -> bool {
    #[cfg(windows)]
    {
        use winreg::RegKey;
        use winreg::enums::HKEY_CURRENT_USER;
        RegKey::predef(HKEY_CURRENT_USER)
            .open_subkey(r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize")
            .and_then(|k| k.get_value::<u32, _>("SystemUsesLightTheme"))
            .is_ok_and(|v| v == 1)
    }
    #[cfg(not(windows))]
    {
        false
    }
}

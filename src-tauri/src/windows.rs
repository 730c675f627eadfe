//! Windows are created on demand and destroyed when closed: the idle tray carries no webview.

use std::sync::atomic::{AtomicU32, Ordering};

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

static NEXT: AtomicU32 = AtomicU32::new(1);

fn close_matching<R: Runtime>(app: &AppHandle<R>, prefix: &str) {
    for (label, w) in app.webview_windows() {
        if label.starts_with(prefix) {
            let _ = w.destroy();
        }
    }
}

fn suffix<R: Runtime>(app: &AppHandle<R>) -> &'static str {
    if app.state::<crate::AppState>().demo {
        " — PIM Tray (Demo)"
    } else {
        " — PIM Tray"
    }
}

/// Opens the activation window for a role (replacing one already open).
pub fn open_activation<R: Runtime>(app: &AppHandle<R>, key: &str) -> tauri::Result<()> {
    close_matching(app, "activate-");
    let title = app
        .state::<crate::AppState>()
        .model()
        .role(key)
        .map(|r| r.title())
        .unwrap_or_else(|| "Activate".into());
    let encoded: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
    let label = format!("activate-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    WebviewWindowBuilder::new(
        app,
        label,
        WebviewUrl::App(format!("activate.html?role={encoded}").into()),
    )
    .title(format!("Activate {title}{}", suffix(app)))
    .inner_size(460.0, 440.0)
    .resizable(false)
    .center()
    .focused(true)
    .build()?;
    Ok(())
}

/// Opens (or focuses) the settings window.
pub fn open_settings<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if let Some(w) = app.get_webview_window("settings") {
        w.show()?;
        return w.set_focus();
    }
    WebviewWindowBuilder::new(app, "settings", WebviewUrl::App("settings.html".into()))
        .title(format!("Settings{}", suffix(app)))
        .inner_size(480.0, 730.0)
        .center()
        .focused(true)
        .build()?;
    Ok(())
}

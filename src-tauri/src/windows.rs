//! Windows are created on demand and destroyed when closed: the idle tray carries no webview.
//!
//! By default each window lives in its own short-lived process (`window_host.rs`), so closing
//! it also ends WebKit's processes and returns the tray to its idle footprint. With
//! `PIM_TRAY_INPROCESS_WINDOWS=1` (or when the child cannot start) windows are created in the
//! tray process instead.

use std::sync::atomic::{AtomicU32, Ordering};

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::window_host::{self, WindowArgs, WindowKind};

/// Inner size of the activation window.
pub const ACTIVATE_SIZE: (f64, f64) = (460.0, 560.0);
/// Inner size of the settings window.
pub const SETTINGS_SIZE: (f64, f64) = (480.0, 730.0);
/// Inner size of a bundle's window.
pub const BUNDLE_SIZE: (f64, f64) = (480.0, 620.0);
/// Inner size of a request's decision window.
pub const APPROVAL_SIZE: (f64, f64) = (480.0, 600.0);
/// Inner size of the history window.
pub const HISTORY_SIZE: (f64, f64) = (900.0, 560.0);

static NEXT: AtomicU32 = AtomicU32::new(1);

fn in_process() -> bool {
    std::env::var_os("PIM_TRAY_INPROCESS_WINDOWS").is_some_and(|v| v == "1")
}

/// Why no window can open here, in words for the user: on Windows, windows need the Microsoft
/// Edge WebView2 Runtime (preinstalled on Windows 11, not always on Windows 10 or Server). The
/// tray menu, reminders and the `pim` CLI work without it.
pub fn webview_unavailable() -> Option<String> {
    #[cfg(windows)]
    if let Err(e) = tauri::webview_version() {
        return Some(format!(
            "PIM Tray's windows need the Microsoft Edge WebView2 Runtime, which is not installed \
             here ({e}). Install it from https://go.microsoft.com/fwlink/p/?LinkId=2124703 (the \
             Evergreen Bootstrapper) and try again. The tray menu and the pim CLI work without it."
        ));
    }
    None
}

/// Tells the user why a window cannot open; `true` when it can.
fn can_open<R: Runtime>(app: &AppHandle<R>) -> bool {
    match webview_unavailable() {
        None => true,
        Some(why) => {
            tracing::warn!("{why}");
            crate::notify::error(app, "Cannot open the window", &why);
            false
        }
    }
}

fn close_matching<R: Runtime>(app: &AppHandle<R>, prefix: &str) {
    for (label, w) in app.webview_windows() {
        if label.starts_with(prefix) {
            let _ = w.destroy();
        }
    }
}

fn suffix<R: Runtime>(app: &AppHandle<R>) -> &'static str {
    // try_state: a second launch can ask for a window while the tray is still starting.
    if app.try_state::<crate::AppState>().is_some_and(|s| s.demo) {
        " — PIM Tray (Demo)"
    } else {
        " — PIM Tray"
    }
}

/// Opens the activation window for a role (replacing one already open).
pub fn open_activation<R: Runtime>(app: &AppHandle<R>, key: &str) -> tauri::Result<()> {
    let role_title = app
        .try_state::<crate::AppState>()
        .and_then(|s| s.model().role(key).map(|r| r.title()))
        .unwrap_or_else(|| "a role".into());
    open_replacing(
        app,
        WindowKind::Activate(key.to_owned()),
        &format!("Activate {role_title}"),
        ("activate", "role", key),
        ACTIVATE_SIZE,
        false,
    )
}

/// Opens a bundle's window (replacing one already open).
pub fn open_bundle<R: Runtime>(app: &AppHandle<R>, name: &str) -> tauri::Result<()> {
    open_replacing(
        app,
        WindowKind::Bundle(name.to_owned()),
        &format!("Bundle {name}"),
        ("bundle", "name", name),
        BUNDLE_SIZE,
        true,
    )
}

/// Opens the decision window for a request of the approver's inbox (replacing one already
/// open).
pub fn open_approval<R: Runtime>(app: &AppHandle<R>, id: &str) -> tauri::Result<()> {
    let what = app
        .try_state::<crate::AppState>()
        .and_then(|s| s.model().approval(id).map(|a| a.title()))
        .unwrap_or_else(|| "a request".into());
    open_replacing(
        app,
        WindowKind::Approval(id.to_owned()),
        &format!("Approve or deny: {what}"),
        ("approval", "id", id),
        APPROVAL_SIZE,
        false,
    )
}

/// Opens a window there is at most one of per kind, replacing the open one: in its own
/// process, else in-process as `{page}-N` showing `{page}.html?{param}={value}`.
fn open_replacing<R: Runtime>(
    app: &AppHandle<R>,
    kind: WindowKind,
    name: &str,
    (page, param, value): (&str, &str, &str),
    size: (f64, f64),
    resizable: bool,
) -> tauri::Result<()> {
    let title = format!("{name}{}", suffix(app));
    if !can_open(app) {
        return Ok(());
    }
    if !in_process() {
        let args = WindowArgs {
            kind,
            title: title.clone(),
        };
        match window_host::spawn(app, args) {
            Ok(()) => return Ok(()),
            Err(e) => tracing::warn!("cannot start the window process ({e}); opening in-process"),
        }
    }
    close_matching(app, &format!("{page}-"));
    let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let label = format!("{page}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    WebviewWindowBuilder::new(
        app,
        label,
        WebviewUrl::App(format!("{page}.html?{param}={encoded}").into()),
    )
    .title(title)
    .inner_size(size.0, size.1)
    .resizable(resizable)
    .center()
    .focused(true)
    .build()?;
    Ok(())
}

/// Opens the settings window (or leaves the open one).
pub fn open_settings<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    open_single(
        app,
        WindowKind::Settings,
        "Settings",
        "settings",
        SETTINGS_SIZE,
    )
}

/// Opens the history window (or leaves the open one).
pub fn open_history<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    open_single(app, WindowKind::History, "History", "history", HISTORY_SIZE)
}

/// Opens a window there is at most one of (`label`, page `{label}.html`), or leaves the
/// open one.
fn open_single<R: Runtime>(
    app: &AppHandle<R>,
    kind: WindowKind,
    name: &str,
    label: &'static str,
    size: (f64, f64),
) -> tauri::Result<()> {
    let title = format!("{name}{}", suffix(app));
    if !can_open(app) {
        return Ok(());
    }
    if !in_process() {
        if app
            .try_state::<window_host::Children>()
            .is_some_and(|c| c.is_running(label))
        {
            return Ok(());
        }
        let args = WindowArgs {
            kind,
            title: title.clone(),
        };
        match window_host::spawn(app, args) {
            Ok(()) => return Ok(()),
            Err(e) => tracing::warn!("cannot start the window process ({e}); opening in-process"),
        }
    }
    if let Some(w) = app.get_webview_window(label) {
        w.show()?;
        return w.set_focus();
    }
    WebviewWindowBuilder::new(app, label, WebviewUrl::App(format!("{label}.html").into()))
        .title(title)
        .inner_size(size.0, size.1)
        .center()
        .focused(true)
        .build()?;
    Ok(())
}

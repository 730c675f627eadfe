//! The tray icon and its native menu, rebuilt from the engine's pushed model (never polled).
//! Labels with time left are re-rendered locally once a minute while an activation runs (or
//! a recently ended one is offered again).

use std::sync::Arc;

use tauri::image::Image;
use tauri::menu::{IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::menu::{self, MenuNode};
use crate::settings::IconTheme;
use crate::view::TrayModel;

/// Id of our tray icon.
pub const TRAY_ID: &str = "pim-tray";

/// Which icon the tray shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IconChoice {
    /// Any role active.
    pub active: bool,
    /// Glyph for light panels (dark glyph) instead of dark panels.
    pub light_panel: bool,
    /// Requests wait for my approval (an amber badge, top right).
    pub approvals: bool,
}

/// Picks the icon for a model and theme. `Auto` follows the taskbar where the system says
/// which it is (Windows: light or dark taskbar); elsewhere it assumes a dark panel.
pub fn icon_choice(model: &TrayModel, theme: IconTheme) -> IconChoice {
    IconChoice {
        active: model.any_activation(),
        light_panel: light_panel(theme, crate::platform::light_taskbar),
        approvals: model.approvals_waiting() > 0,
    }
}

/// Whether the panel is light for a theme setting; asks the system only for `Auto`.
fn light_panel(theme: IconTheme, system_light: impl FnOnce() -> bool) -> bool {
    match theme {
        IconTheme::Light => true,
        IconTheme::Dark => false,
        IconTheme::Auto => system_light(),
    }
}

/// PNG bytes of the tray icon (macOS uses the template variant, tinted by the system).
pub fn icon_bytes(choice: IconChoice) -> &'static [u8] {
    #[cfg(target_os = "macos")]
    {
        return match (choice.active, choice.approvals) {
            (false, false) => include_bytes!("../../icons/tray/macos-idle-template.png"),
            (true, false) => include_bytes!("../../icons/tray/macos-active-template.png"),
            (false, true) => include_bytes!("../../icons/tray/macos-idle-approvals-template.png"),
            (true, true) => include_bytes!("../../icons/tray/macos-active-approvals-template.png"),
        };
    }
    #[allow(unreachable_code)]
    match (choice.active, choice.light_panel, choice.approvals) {
        (false, false, false) => include_bytes!("../../icons/tray/idle-dark.png"),
        (true, false, false) => include_bytes!("../../icons/tray/active-dark.png"),
        (false, true, false) => include_bytes!("../../icons/tray/idle-light.png"),
        (true, true, false) => include_bytes!("../../icons/tray/active-light.png"),
        (false, false, true) => include_bytes!("../../icons/tray/idle-approvals-dark.png"),
        (true, false, true) => include_bytes!("../../icons/tray/active-approvals-dark.png"),
        (false, true, true) => include_bytes!("../../icons/tray/idle-approvals-light.png"),
        (true, true, true) => include_bytes!("../../icons/tray/active-approvals-light.png"),
    }
}

/// Tooltip text.
pub fn tooltip(model: &TrayModel) -> String {
    let active = model.roles().filter(|r| r.active_end().is_some()).count();
    let demo = if model.demo { " (demo)" } else { "" };
    let roles = match active {
        0 => format!("PIM Tray{demo}: no active roles"),
        1 => format!("PIM Tray{demo}: 1 active role"),
        n => format!("PIM Tray{demo}: {n} active roles"),
    };
    match model.approvals_waiting() {
        0 => roles,
        1 => format!("{roles}; 1 request waits for your approval"),
        n => format!("{roles}; {n} requests wait for your approval"),
    }
}

fn escape(label: &str) -> String {
    label.replace('&', "&&")
}

fn native<R: Runtime>(
    app: &AppHandle<R>,
    nodes: &[MenuNode],
) -> tauri::Result<Vec<Box<dyn IsMenuItem<R>>>> {
    let mut out: Vec<Box<dyn IsMenuItem<R>>> = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            MenuNode::Item { id, label, enabled } => out.push(Box::new(MenuItem::with_id(
                app,
                id.as_str(),
                escape(label),
                *enabled,
                None::<&str>,
            )?)),
            MenuNode::Separator => out.push(Box::new(PredefinedMenuItem::separator(app)?)),
            MenuNode::Submenu { label, children } => {
                let items = native(app, children)?;
                let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|b| b.as_ref()).collect();
                out.push(Box::new(Submenu::with_items(
                    app,
                    escape(label),
                    true,
                    &refs,
                )?));
            }
        }
    }
    Ok(out)
}

/// Builds the native menu for a model.
pub fn native_menu<R: Runtime>(app: &AppHandle<R>, model: &TrayModel) -> tauri::Result<Menu<R>> {
    let extras = app
        .try_state::<crate::AppState>()
        .map(|s| s.menu_extras())
        .unwrap_or_default();
    let now = model.service_now(time::OffsetDateTime::now_utc());
    let nodes = menu::build_with(model, now, &extras);
    if tracing::enabled!(tracing::Level::DEBUG) {
        // What the native menu shows, where no D-Bus menu can be read (Windows under Wine).
        tracing::debug!(labels = %outline(&nodes), "tray menu");
    }
    let items = native(app, &nodes)?;
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|b| b.as_ref()).collect();
    Menu::with_items(app, &refs)
}

/// The menu's labels in order, submenus as `Parent > Child`, separated by ` | `.
pub fn outline(nodes: &[MenuNode]) -> String {
    fn walk(nodes: &[MenuNode], prefix: &str, out: &mut Vec<String>) {
        for n in nodes {
            match n {
                MenuNode::Item { label, .. } => out.push(format!("{prefix}{label}")),
                MenuNode::Separator => {}
                MenuNode::Submenu { label, children } => {
                    out.push(format!("{prefix}{label}"));
                    walk(children, &format!("{prefix}{label} > "), out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(nodes, "", &mut out);
    out.join(" | ")
}

/// Creates the tray icon.
pub fn create<R: Runtime>(
    app: &AppHandle<R>,
    model: &TrayModel,
    theme: IconTheme,
) -> tauri::Result<TrayIcon<R>> {
    let choice = icon_choice(model, theme);
    #[allow(unused_mut)] // only macOS and Linux adjust it
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(icon_bytes(choice))?)
        .tooltip(tooltip(model))
        .menu(&native_menu(app, model)?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| crate::actions::on_menu(app, event.id().as_ref()));
    #[cfg(target_os = "macos")]
    {
        builder = builder.icon_as_template(true);
    }
    #[cfg(target_os = "linux")]
    {
        // The title shows next to the icon on some panels (and names the item for a11y).
        builder = builder.title(if model.demo { "PIM (demo)" } else { "PIM" });
    }
    builder.build(app)
}

/// Re-renders the tray from a model.
pub fn update<R: Runtime>(
    app: &AppHandle<R>,
    model: &TrayModel,
    theme: IconTheme,
) -> tauri::Result<()> {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return Ok(());
    };
    tray.set_menu(Some(native_menu(app, model)?))?;
    let choice = icon_choice(model, theme);
    tracing::debug!(
        active = choice.active,
        light_panel = choice.light_panel,
        approvals = choice.approvals,
        "tray icon"
    );
    let icon = Some(Image::from_bytes(icon_bytes(choice))?);
    // macOS: `set_icon` clears the template flag the tray was built with (tray-icon passes
    // `false`), which would leave the menu bar icon untinted; set both together.
    #[cfg(target_os = "macos")]
    tray.set_icon_with_as_template(icon, true)?;
    #[cfg(not(target_os = "macos"))]
    tray.set_icon(icon)?;
    tray.set_tooltip(Some(tooltip(model)))?;
    Ok(())
}

/// Keeps the tray in step with the model; cancelled on drop.
#[derive(Debug)]
pub struct TrayTask {
    cancel: CancellationToken,
}

impl Drop for TrayTask {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl TrayTask {
    /// Rebuilds the menu whenever the model changes, and once a minute while a timed
    /// activation is shown (its "time left" label) or a recently ended one is offered again
    /// (its "ended N min ago" label, and the entry goes after an hour).
    pub fn spawn<R: Runtime>(
        app: AppHandle<R>,
        mut models: watch::Receiver<TrayModel>,
        theme: Arc<dyn Fn() -> IconTheme + Send + Sync>,
    ) -> TrayTask {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        tauri::async_runtime::spawn(async move {
            token
                .run_until_cancelled(async move {
                    loop {
                        let model = models.borrow_and_update().clone();
                        if let Err(e) = update(&app, &model, theme()) {
                            tracing::warn!("cannot update the tray: {e}");
                        }
                        tracing::info!(roles = model.roles().count(), "tray menu rebuilt");
                        let now = model.service_now(time::OffsetDateTime::now_utc());
                        if model.any_activation() || crate::recent::any(&model, now) {
                            let to_next_minute = 60 - u64::from(now.second());
                            tokio::select! {
                                r = models.changed() => if r.is_err() { return },
                                () = tokio::time::sleep(std::time::Duration::from_secs(to_next_minute)) => {}
                            }
                        } else if models.changed().await.is_err() {
                            return;
                        }
                    }
                })
                .await;
        });
        TrayTask { cancel }
    }
}

/// Re-renders the tray now (after a settings change).
pub fn refresh_now<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<crate::AppState>();
    let model = state.engine.subscribe().borrow().clone();
    if let Err(e) = update(app, &model, state.icon_theme()) {
        tracing::warn!("cannot update the tray: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_theme_asks_the_system_and_fixed_themes_do_not() {
        assert!(light_panel(IconTheme::Auto, || true));
        assert!(!light_panel(IconTheme::Auto, || false));
        assert!(light_panel(IconTheme::Light, || unreachable!()));
        assert!(!light_panel(IconTheme::Dark, || unreachable!()));
    }

    #[test]
    fn outline_names_submenus_and_skips_separators() {
        let nodes = vec![
            MenuNode::Item {
                id: "info:1".into(),
                label: "Contoso".into(),
                enabled: false,
            },
            MenuNode::Separator,
            MenuNode::Submenu {
                label: "Entra roles".into(),
                children: vec![MenuNode::Item {
                    id: "activate:x".into(),
                    label: "Global Reader".into(),
                    enabled: true,
                }],
            },
            MenuNode::Item {
                id: "quit".into(),
                label: "Quit".into(),
                enabled: true,
            },
        ];
        assert_eq!(
            outline(&nodes),
            "Contoso | Entra roles | Entra roles > Global Reader | Quit"
        );
    }
}

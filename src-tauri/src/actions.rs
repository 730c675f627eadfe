//! What menu clicks and notification buttons do: open a window or make one engine call, and
//! tell the user when it fails.

use tauri::{AppHandle, Manager, Runtime};

use crate::AppState;
use crate::menu::MenuAction;
use crate::reminders::Snoozer;

/// *Activate again* (menu or the "ended" notice): one engine call; when the core says the
/// user must fill in the form (the policy now asks for more, or there is no earlier request),
/// the activation window opens for the role instead, as a click on the eligible role does.
fn again<R: Runtime>(app: &AppHandle<R>, key: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let title = state
            .model()
            .role(&key)
            .map(|r| r.title())
            .unwrap_or_else(|| "the role".into());
        match state.engine.activate_again(&key).await {
            Ok(outcome) => {
                tracing::info!(?outcome, "activated again");
                crate::notify::activated_again(&app, &title, outcome);
            }
            Err(e) if pim_core::again_needs_form(&e) => {
                tracing::info!("cannot activate again as before ({e}); opening the form");
                if let Err(e) = crate::windows::open_activation(&app, &key) {
                    tracing::error!("cannot open the activation window: {e}");
                }
            }
            Err(e) => {
                tracing::warn!("activate again failed: {e}");
                crate::notify::error(
                    &app,
                    &format!("Could not activate {title} again"),
                    &e.to_string(),
                );
            }
        }
    });
}

/// Handles a click on a tray menu item.
pub fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(action) = MenuAction::parse(id) else {
        return;
    };
    tracing::info!(action = %action.id(), "menu");
    match action {
        MenuAction::Activate(key) => {
            if let Err(e) = crate::windows::open_activation(app, &key) {
                tracing::error!("cannot open the activation window: {e}");
            }
        }
        MenuAction::Settings | MenuAction::SaveBundle => {
            if let Err(e) = crate::windows::open_settings(app) {
                tracing::error!("cannot open the settings window: {e}");
            }
        }
        MenuAction::Bundle(name) => {
            if let Err(e) = crate::windows::open_bundle(app, &name) {
                tracing::error!("cannot open the bundle window: {e}");
            }
        }
        MenuAction::Approval(id) => {
            if let Err(e) = crate::windows::open_approval(app, &id) {
                tracing::error!("cannot open the decision window: {e}");
            }
        }
        MenuAction::History => {
            if let Err(e) = crate::windows::open_history(app) {
                tracing::error!("cannot open the history window: {e}");
            }
        }
        MenuAction::Quit => app.exit(0),
        MenuAction::Again(key) => again(app, key),
        other => run(app, other),
    }
}

/// Handles a notification button (`extend`, `deactivate`, `snooze`, `again`) for a role, or
/// `open` (and a click) on a new request for my approval (`key`: `approval:<id>`).
pub fn on_notification<R: Runtime>(app: &AppHandle<R>, action: &str, key: String) {
    tracing::info!(action, "notification action");
    if let Some(id) = key.strip_prefix(crate::notify::APPROVAL_KEY) {
        if matches!(action, "open" | "default" | "tap")
            && let Err(e) = crate::windows::open_approval(app, id)
        {
            tracing::error!("cannot open the decision window: {e}");
        }
        return;
    }
    match action {
        "extend" => run(app, MenuAction::Extend(key)),
        "deactivate" => run(app, MenuAction::Deactivate(key)),
        "snooze" => match app.try_state::<Snoozer>() {
            Some(s) => s.snooze(&key),
            None => tracing::warn!("no reminder loop to snooze"),
        },
        "again" => again(app, key),
        "default" | "tap" => {
            let _ = crate::windows::open_settings(app);
        }
        _ => {}
    }
}

fn run<R: Runtime>(app: &AppHandle<R>, action: MenuAction) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let engine = state.engine.clone();
        let title = |k: &str| {
            state
                .model()
                .role(k)
                .map(|r| r.title())
                .unwrap_or_else(|| "the role".into())
        };
        let (what, result) = match &action {
            MenuAction::Extend(k) => (format!("extend {}", title(k)), engine.extend(k).await),
            MenuAction::Deactivate(k) => (
                format!("deactivate {}", title(k)),
                engine.deactivate(k).await,
            ),
            MenuAction::Cancel(k) => (
                format!("cancel the request for {}", title(k)),
                engine.cancel(k).await,
            ),
            MenuAction::Refresh => {
                // The approver's inbox is read with every refresh (by its own task).
                state.approvals_read_now().poke();
                ("refresh".into(), engine.refresh().await)
            }
            MenuAction::SignIn | MenuAction::SignInCode => {
                // A device code is told in a notification too (the menu shows it while it is
                // valid).
                let mut rx = engine.subscribe();
                let to = app.clone();
                let shown = tauri::async_runtime::spawn(async move {
                    loop {
                        let dc = rx.borrow_and_update().device_code.clone();
                        if let Some(dc) = dc {
                            crate::notify::info(
                                &to,
                                &format!("Sign-in code: {}", dc.user_code),
                                &format!(
                                    "Open {} and enter the code {} (it is also in the tray menu).",
                                    dc.verification_uri, dc.user_code
                                ),
                            );
                            return;
                        }
                        if rx.changed().await.is_err() {
                            return;
                        }
                    }
                });
                // "Sign in…" falls back to a code when no browser can be started.
                let (what, r) = if action == MenuAction::SignIn {
                    ("sign in", engine.sign_in().await)
                } else {
                    ("sign in with a code", engine.sign_in_with_code().await)
                };
                shown.abort();
                (what.into(), r)
            }
            MenuAction::SignOut(k) => ("sign out".into(), engine.remove_account(k).await),
            _ => return,
        };
        match result {
            Ok(()) => tracing::info!(action = %action.id(), "done"),
            Err(e) => {
                tracing::warn!(action = %action.id(), "failed: {e}");
                crate::notify::error(&app, &format!("Could not {what}"), &e.to_string());
            }
        }
    });
}

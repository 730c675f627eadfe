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
        again_or_form(&app, &key, crate::windows::open_activation).await;
    });
}

/// [`again`]'s body, with the window opener as a parameter (tests pass one that records).
async fn again_or_form<R: Runtime>(
    app: &AppHandle<R>,
    key: &str,
    open_form: impl FnOnce(&AppHandle<R>, &str) -> tauri::Result<()>,
) {
    let state = app.state::<AppState>();
    let title = state
        .model()
        .role(key)
        .map(|r| r.title())
        .unwrap_or_else(|| "the role".into());
    match state.engine.activate_again(key).await {
        Ok(outcome) => {
            tracing::info!(?outcome, "activated again");
            crate::notify::activated_again(app, &title, outcome);
        }
        Err(e) if pim_core::again_needs_form(&e) => {
            tracing::info!("cannot activate again as before ({e}); opening the form");
            if let Err(e) = open_form(app, key) {
                tracing::error!("cannot open the activation window: {e}");
            }
        }
        Err(e) => {
            tracing::warn!("activate again failed: {e}");
            crate::notify::error(
                app,
                &format!("Could not activate {title} again"),
                &e.to_string(),
            );
        }
    }
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};

    use super::*;
    use crate::dto::ActivationInput;
    use crate::engine::{Engine, FakeEngine};
    use crate::view::RoleState;

    /// Global Reader activated earlier with a justification and no ticket; `policy` is what
    /// its policy says now.
    fn ended_role(
        policy: pim_core::Policy,
    ) -> (tauri::App<MockRuntime>, Arc<FakeEngine>, tempfile::TempDir) {
        let mut engine = FakeEngine::global_reader();
        engine.policy = policy;
        engine.earlier.lock().expect("lock").insert(
            "gr".into(),
            ActivationInput {
                key: "gr".into(),
                justification: "Quarterly access review".into(),
                ticket: None,
                duration_minutes: 60,
                start: None,
            },
        );
        let engine = Arc::new(engine);
        let dir = tempfile::tempdir().expect("tempdir");
        let app = mock_builder()
            .manage(AppState::new(engine.clone(), dir.path().to_owned(), true))
            .build(mock_context(noop_assets()))
            .expect("app");
        (app, engine, dir)
    }

    fn state(engine: &FakeEngine) -> RoleState {
        engine
            .subscribe()
            .borrow()
            .role("gr")
            .expect("gr")
            .state
            .clone()
    }

    #[test]
    fn again_opens_the_form_when_the_policy_now_needs_a_ticket() {
        let (app, engine, _dir) = ended_role(pim_core::Policy {
            max_duration: Some(pim_core::PimDuration::from_hours(8)),
            justification_required: true,
            ticket_required: true,
            ..pim_core::Policy::default()
        });
        let opened = Mutex::new(Vec::new());
        tauri::async_runtime::block_on(again_or_form(app.handle(), "gr", |_, key| {
            opened.lock().expect("lock").push(key.to_owned());
            Ok(())
        }));
        assert_eq!(*opened.lock().expect("lock"), vec!["gr".to_owned()]);
        // Asked once, refused before anything was sent: the role is not active.
        assert_eq!(engine.calls_to("again"), vec!["again:gr".to_owned()]);
        assert!(engine.calls_to("activate").is_empty());
        assert_eq!(state(&engine), RoleState::Eligible);
    }

    #[test]
    fn again_opens_the_form_when_there_is_no_earlier_request() {
        let (app, engine, _dir) = ended_role(FakeEngine::global_reader().policy);
        engine.earlier.lock().expect("lock").clear();
        let opened = Mutex::new(Vec::new());
        tauri::async_runtime::block_on(again_or_form(app.handle(), "gr", |_, key| {
            opened.lock().expect("lock").push(key.to_owned());
            Ok(())
        }));
        assert_eq!(*opened.lock().expect("lock"), vec!["gr".to_owned()]);
        assert_eq!(state(&engine), RoleState::Eligible);
    }
}

//! Desktop notifications (tauri-plugin-notification): expiry reminders with the actions
//! `extend` and `deactivate`, change notices, and errors.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::{Action, ActionType, NotificationExt};

use crate::reminders::{Notice, Reminder, ReminderSink};

/// Action type of expiry reminders.
pub const EXPIRY_ACTIONS: &str = "pim-expiry";

/// Which role each shown reminder is about (notification id → role key).
#[derive(Debug, Default)]
pub struct Shown {
    next: AtomicI32,
    keys: Mutex<HashMap<i32, String>>,
}

impl Shown {
    fn add(&self, key: &str) -> i32 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut k) = self.keys.lock() {
            k.insert(id, key.to_owned());
        }
        id
    }

    fn key(&self, id: i32) -> Option<String> {
        self.keys.lock().ok().and_then(|k| k.get(&id).cloned())
    }
}

/// Registers the action types and the handler for notification buttons. Call once in setup,
/// before the first reminder (the plugin only shows actions once a handler exists).
pub fn register<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    app.manage(Shown::default());
    let n = app.notification();
    let types = vec![
        ActionType::builder(EXPIRY_ACTIONS)
            .actions(vec![
                Action::builder("extend", "Extend").build(),
                Action::builder("deactivate", "Deactivate").build(),
            ])
            .build(),
    ];
    let _ = n.register_action_types(types);
    let handle = app.clone();
    let _ = n.on_action(move |performed| {
        let Some(id) = performed.notification().map(|n| n.id()) else {
            return;
        };
        let Some(key) = handle.state::<Shown>().key(id) else {
            return;
        };
        crate::actions::on_notification(&handle, performed.action_id(), key);
    });
    Ok(())
}

fn show<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str, role_key: Option<&str>) {
    let mut b = app.notification().builder().title(title).body(body);
    if let Some(key) = role_key {
        let id = app.state::<Shown>().add(key);
        b = b.id(id).action_type_id(EXPIRY_ACTIONS);
    }
    if let Err(e) = b.show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// Shows information (e.g. a device-code sign-in's code).
pub fn info<R: Runtime>(app: &AppHandle<R>, title: &str, message: &str) {
    show(app, title, message, None);
}

/// Shows an error.
pub fn error<R: Runtime>(app: &AppHandle<R>, title: &str, message: &str) {
    show(app, title, message, None);
}

/// The notification text of a reminder.
pub fn reminder_text(r: &Reminder) -> (String, String) {
    let left = if r.minutes_left <= 1 {
        "in less than a minute".to_owned()
    } else {
        format!("in {} minutes", r.minutes_left)
    };
    let at = r
        .end
        .format(time::macros::format_description!("[hour]:[minute] UTC"))
        .unwrap_or_default();
    (
        format!("{} ends {left}", r.title),
        format!(
            "Your activation of {} ends at {at}. Extend it or deactivate it now.",
            r.title
        ),
    )
}

/// Sends reminders and notices as desktop notifications.
#[derive(Debug)]
pub struct Notifier<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> Notifier<R> {
    /// A notifier for this app.
    pub fn new(app: AppHandle<R>) -> Self {
        Notifier { app }
    }
}

impl<R: Runtime> ReminderSink for Notifier<R> {
    fn remind(&self, r: &Reminder) {
        let (title, body) = reminder_text(r);
        tracing::info!(role = %r.title, minutes_left = r.minutes_left, "reminder");
        show(&self.app, &title, &body, Some(&r.key));
    }

    fn notice(&self, n: &Notice) {
        let (title, body) = match n {
            Notice::Approved { title } => (
                format!("{title} approved"),
                "Your request was approved.".to_owned(),
            ),
            Notice::Denied { title } => (
                format!("{title} not activated"),
                "Your request was denied, cancelled or expired before approval.".to_owned(),
            ),
            Notice::Ended { title } => (
                format!("{title} ended"),
                "The activation has ended.".to_owned(),
            ),
        };
        tracing::info!(%title, "notice");
        show(&self.app, &title, &body, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn reminder_names_the_role_and_time() {
        let (t, b) = reminder_text(&Reminder {
            key: "k".into(),
            title: "User Administrator (Europe)".into(),
            end: datetime!(2026-11-26 10:42 UTC),
            minutes_left: 9,
        });
        assert_eq!(t, "User Administrator (Europe) ends in 9 minutes");
        assert!(b.contains("10:42 UTC"), "{b}");
    }
}

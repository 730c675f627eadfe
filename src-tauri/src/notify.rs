//! Desktop notifications (tauri-plugin-notification): expiry reminders with the actions
//! `extend`, `deactivate` and `snooze`, change notices (the "ended" one with `again`), and
//! errors.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::{Action, ActionType, NotificationExt};

use crate::engine::ActivationOutcome;
use crate::reminders::{Notice, Reminder, ReminderSink};

/// Action type of expiry reminders.
pub const EXPIRY_ACTIONS: &str = "pim-expiry";
/// Action type of the notice that an activation ended.
pub const ENDED_ACTIONS: &str = "pim-ended";
/// Action type of the notice of new requests for my approval.
pub const APPROVAL_ACTIONS: &str = "pim-approval";
/// What a notification about a request for my approval keeps as its key, before the id.
pub const APPROVAL_KEY: &str = "approval:";

/// Each action type with its actions (id, button title), as registered with the plugin.
pub fn action_types() -> [(&'static str, &'static [(&'static str, &'static str)]); 3] {
    [
        (
            EXPIRY_ACTIONS,
            &[
                ("extend", "Extend"),
                ("deactivate", "Deactivate"),
                ("snooze", "Snooze"),
            ],
        ),
        (ENDED_ACTIONS, &[("again", "Activate again")]),
        (APPROVAL_ACTIONS, &[("open", "Open")]),
    ]
}

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
    let types = action_types()
        .into_iter()
        .map(|(id, actions)| {
            ActionType::builder(id)
                .actions(
                    actions
                        .iter()
                        .map(|(id, title)| Action::builder(*id, *title).build())
                        .collect(),
                )
                .build()
        })
        .collect();
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

/// Body text as the notification server should get it.
///
/// Freedesktop notification servers (Linux, the BSDs) may interpret a subset of HTML in the
/// body (`<b>`, `<i>`, `<u>`, `<a href>`, `<img src>`; the "body-markup" capability), and role,
/// group and tenant names come from the directory, where anyone who can name a group can put
/// markup: there the text is escaped ([`escape_markup`]) so it shows as written. Windows
/// toasts and macOS show the text literally, so it is left as it is. The summary (title) is
/// plain text by the specification and is never escaped.
pub fn body_text(text: &str) -> String {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        escape_markup(text)
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        text.to_owned()
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` as GLib's `g_markup_escape_text` does, for the markup
/// of a freedesktop notification body.
pub fn escape_markup(text: &str) -> String {
    pim_auth::loopback::html_escape(text)
}

/// Shows a notification; `body` has gone through [`body_text`]. With `actions` (a role key
/// and an action type), its buttons act on that role.
fn show<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str, actions: Option<(&str, &str)>) {
    let mut b = app.notification().builder().title(title).body(body);
    if let Some((key, action_type)) = actions {
        let id = app.state::<Shown>().add(key);
        b = b.id(id).action_type_id(action_type);
    }
    if let Err(e) = b.show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}

/// Shows information (e.g. a device-code sign-in's code).
pub fn info<R: Runtime>(app: &AppHandle<R>, title: &str, message: &str) {
    show(app, title, &body_text(message), None);
}

/// Tells that *Activate again* worked ([`again_text`]).
pub fn activated_again<R: Runtime>(app: &AppHandle<R>, title: &str, outcome: ActivationOutcome) {
    let (title, body) = again_text(title, outcome);
    show(app, &title, &body, None);
}

/// Shows an error.
pub fn error<R: Runtime>(app: &AppHandle<R>, title: &str, message: &str) {
    show(app, title, &body_text(message), None);
}

/// The notification text of a reminder: title and body (through [`body_text`]).
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
        body_text(&format!(
            "Your activation of {} ends at {at}. Extend it, deactivate it now, or snooze this \
             reminder for 5 minutes.",
            r.title
        )),
    )
}

/// The role key and action type of a notice's buttons: only the "ended" notice has one
/// (*Activate again*).
pub fn notice_actions(n: &Notice) -> Option<(&str, &'static str)> {
    match n {
        Notice::Ended { key, .. } => Some((key.as_str(), ENDED_ACTIONS)),
        _ => None,
    }
}

/// The notification text after *Activate again* worked: title and body (through
/// [`body_text`]), worded as the activation window words an outcome.
pub fn again_text(title: &str, outcome: ActivationOutcome) -> (String, String) {
    let (title, body) = match outcome {
        ActivationOutcome::Active => (
            format!("{title} is active again"),
            "Activated with the justification, ticket and duration of its last request.",
        ),
        ActivationOutcome::Pending => (
            format!("{title} was requested again"),
            "The request waits for approval; you will be notified.",
        ),
        ActivationOutcome::Scheduled => (
            format!("{title} is scheduled again"),
            "The request starts later.",
        ),
    };
    (title, body_text(body))
}

/// The notification text of a notice: title and body (through [`body_text`]).
pub fn notice_text(n: &Notice) -> (String, String) {
    let (title, body) = match n {
        Notice::Approved { title } => (format!("{title} approved"), "Your request was approved."),
        Notice::Denied { title } => (
            format!("{title} not activated"),
            "Your request was denied, cancelled or expired before approval.",
        ),
        Notice::Ended { title, .. } => (
            format!("{title} ended"),
            "The activation has ended. Activate it again with the same justification, or from \
             the menu within the hour.",
        ),
        Notice::Ready { title, after } => {
            let title = match after {
                Some(d) => format!("{title} is ready (after {})", spoken(*d)),
                None => format!("{title} is ready"),
            };
            (title, "The activation now works everywhere.")
        }
    };
    (title, body_text(body))
}

/// A short length for a notification: `40 s`, `2 min 10 s`, `1 h 5 min`.
pub fn spoken(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, sec) => format!("{m} min {sec} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
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
        show(&self.app, &title, &body, Some((&r.key, EXPIRY_ACTIONS)));
    }

    fn notice(&self, n: &Notice) {
        let (title, body) = notice_text(n);
        tracing::info!(%title, "notice");
        show(&self.app, &title, &body, notice_actions(n));
    }
}

impl<R: Runtime> crate::approvals::InboxSink for Notifier<R> {
    fn arrived(&self, items: &[crate::view::ApprovalView]) {
        let Some((title, body, open)) = crate::approvals::arrival_text(items) else {
            return;
        };
        tracing::info!(count = items.len(), %title, "approval requested");
        let key = format!("{APPROVAL_KEY}{open}");
        show(
            &self.app,
            &title,
            &body_text(&body),
            Some((&key, APPROVAL_ACTIONS)),
        );
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

    #[test]
    fn lengths_are_spoken_in_their_two_largest_units() {
        let spoken_s = |s: i64| spoken(time::Duration::seconds(s));
        assert_eq!(spoken_s(130), "2 min 10 s");
        assert_eq!(spoken_s(0), "0 s");
        assert_eq!(spoken_s(40), "40 s");
        assert_eq!(spoken_s(59), "59 s");
        assert_eq!(spoken_s(60), "1 min");
        assert_eq!(spoken_s(20 * 60), "20 min");
        assert_eq!(spoken_s(3599), "59 min 59 s");
        assert_eq!(spoken_s(3600), "1 h");
        // Seconds are dropped once there are hours.
        assert_eq!(spoken_s(3600 + 5 * 60 + 30), "1 h 5 min");
        assert_eq!(spoken_s(2 * 3600 + 59), "2 h");
        assert_eq!(spoken_s(26 * 3600 + 60), "26 h 1 min");
        // Fractions of a second are cut; a negative length is none.
        assert_eq!(spoken(time::Duration::milliseconds(1999)), "1 s");
        assert_eq!(spoken_s(-5), "0 s");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_markup(r#"<b>R&D</b> "a" 'b' é"#),
            "&lt;b&gt;R&amp;D&lt;/b&gt; &quot;a&quot; &#39;b&#39; é"
        );
        assert_eq!(escape_markup("plain text"), "plain text");
        assert_eq!(escape_markup("&amp;"), "&amp;amp;");
    }

    #[test]
    fn notice_and_message_bodies_go_through_body_text() {
        for n in [
            Notice::Approved {
                title: HOSTILE.into(),
            },
            Notice::Denied {
                title: HOSTILE.into(),
            },
            Notice::Ended {
                title: HOSTILE.into(),
                key: "k".into(),
            },
            Notice::Ready {
                title: HOSTILE.into(),
                after: Some(time::Duration::seconds(130)),
            },
        ] {
            let (t, b) = notice_text(&n);
            assert!(t.starts_with(HOSTILE), "{t}");
            assert_eq!(b, body_text(&b), "constant bodies need no escaping: {b}");
        }
        // `info` and `error` hand their message to `body_text` (what a server error says
        // about a role can name it).
        let message = format!("Cannot activate {HOSTILE}");
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert_eq!(body_text(&message), escape_markup(&message));
        } else {
            assert_eq!(body_text(&message), message);
        }
    }

    #[test]
    fn reminders_offer_snooze_and_the_ended_notice_activate_again() {
        let types = action_types();
        let actions = |t: &str| -> Vec<&str> {
            types
                .iter()
                .find(|(id, _)| *id == t)
                .map(|(_, a)| a.iter().map(|(id, _)| *id).collect())
                .unwrap_or_default()
        };
        assert_eq!(actions(EXPIRY_ACTIONS), ["extend", "deactivate", "snooze"]);
        assert_eq!(actions(ENDED_ACTIONS), ["again"]);
        let ended = Notice::Ended {
            title: "Global Reader".into(),
            key: "gr".into(),
        };
        assert_eq!(notice_actions(&ended), Some(("gr", ENDED_ACTIONS)));
        let approved = Notice::Approved {
            title: "Global Reader".into(),
        };
        assert_eq!(notice_actions(&approved), None);
        assert_eq!(
            again_text("Global Reader", ActivationOutcome::Active).0,
            "Global Reader is active again"
        );
        assert_eq!(
            again_text("Global Reader", ActivationOutcome::Pending).0,
            "Global Reader was requested again"
        );
        assert_eq!(
            again_text("Global Reader", ActivationOutcome::Scheduled).0,
            "Global Reader is scheduled again"
        );
        let (_, b) = again_text(HOSTILE, ActivationOutcome::Active);
        assert_eq!(b, body_text(&b), "constant bodies need no escaping: {b}");
    }

    /// A name from the directory with markup in it (freedesktop servers render `<a>`, `<img>`).
    const HOSTILE: &str = r#"<a href="https://evil.example">R&D</a><img src='x'>"#;

    #[test]
    fn reminder_body_escapes_markup_on_freedesktop() {
        let (t, b) = reminder_text(&Reminder {
            key: "k".into(),
            title: HOSTILE.into(),
            end: datetime!(2026-11-26 10:42 UTC),
            minutes_left: 9,
        });
        // The summary is plain text by the specification; only the body is markup.
        assert!(t.starts_with(HOSTILE), "{t}");
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert!(!b.contains('<') && !b.contains('>'), "{b}");
            assert!(
                b.contains(
                    "&lt;a href=&quot;https://evil.example&quot;&gt;R&amp;D&lt;/a&gt;&lt;img src=&#39;x&#39;&gt;"
                ),
                "{b}"
            );
        } else {
            assert!(b.contains(HOSTILE), "{b}");
        }
    }
}

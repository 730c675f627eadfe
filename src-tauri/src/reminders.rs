//! Expiry reminders and change notices.
//!
//! The notices word the changes pim-core publishes with each snapshot (approved, denied,
//! ended; [`pim_core::Change`], numbered): the shell infers nothing by comparing models.
//!
//! [`Reminders`] is pure: given the activations and the time, it says which reminders are due
//! and when to wake next, and snoozes a reminder ([`Reminders::snooze`]: again in 5 minutes,
//! or at the next stage if sooner, never past the end). [`ReminderTask`] runs it: it waits for
//! a new model, a snooze ([`Snoozer`]) or the next due time, re-reading the wall clock on every
//! wake (the timer is re-armed at most a minute ahead, so a suspend/resume or a clock change is
//! noticed within a minute; nothing is polled from the service). A reminder already due at
//! start-up fires at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::view::{Ready, RoleState, RoleView, TrayModel};

pub use pim_core::clock::{Clock, SystemClock};

/// One reminder to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// Role key (for the Extend / Deactivate actions).
    pub key: String,
    /// Role title as the user knows it.
    pub title: String,
    /// When the activation ends.
    pub end: OffsetDateTime,
    /// Minutes left, rounded up.
    pub minutes_left: i64,
}

/// Something the user should hear about, found by comparing two models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A pending request was approved (the role is now active or scheduled).
    Approved {
        /// Role title.
        title: String,
    },
    /// A pending request went away without the role becoming active: denied, cancelled or
    /// expired.
    Denied {
        /// Role title.
        title: String,
    },
    /// An activation ended (expired or deactivated); it can be activated again.
    Ended {
        /// Role title.
        title: String,
        /// Role key (for the Activate again action).
        key: String,
    },
    /// An activation made here works everywhere now.
    Ready {
        /// Role title.
        title: String,
        /// How long after the activation.
        after: Option<time::Duration>,
    },
}

/// How long a snoozed reminder waits, unless the next stage comes sooner.
pub const SNOOZE: Duration = Duration::minutes(5);

/// Which reminders have fired and which are snoozed; decides what is due.
#[derive(Debug, Clone)]
pub struct Reminders {
    offsets: Vec<Duration>,
    /// (role key, end, stage offset in seconds) of each reminder shown.
    fired: HashSet<(String, i64, i64)>,
    /// (role key, end) → when a snoozed reminder comes again.
    snoozed: HashMap<(String, i64), OffsetDateTime>,
}

impl Reminders {
    /// Reminders `minutes` before each activation's end (e.g. `[15, 5]`).
    pub fn new(minutes: &[u32]) -> Reminders {
        let mut offsets: Vec<Duration> = minutes
            .iter()
            .filter(|m| **m > 0)
            .map(|m| Duration::minutes(i64::from(*m)))
            .collect();
        offsets.sort();
        offsets.dedup();
        Reminders {
            offsets,
            fired: HashSet::new(),
            snoozed: HashMap::new(),
        }
    }

    fn activations(model: &TrayModel) -> impl Iterator<Item = (&RoleView, OffsetDateTime)> {
        model.roles().filter_map(|r| r.active_end().map(|e| (r, e)))
    }

    /// Reminders due at `now` (stages and snoozed ones), marking them fired. When several are
    /// due at once for one activation (start-up, resume), only one reminder is shown for it.
    pub fn due(&mut self, model: &TrayModel, now: OffsetDateTime) -> Vec<Reminder> {
        self.snoozed
            .retain(|(_, end), _| *end > now.unix_timestamp());
        let mut out = Vec::new();
        for (role, end) in Self::activations(model) {
            if end <= now {
                continue;
            }
            let mut show = false;
            for off in &self.offsets {
                let id = (role.key.clone(), end.unix_timestamp(), off.whole_seconds());
                if now >= end - *off && self.fired.insert(id) {
                    show = true;
                }
            }
            let snoozed = (role.key.clone(), end.unix_timestamp());
            if self.snoozed.get(&snoozed).is_some_and(|at| now >= *at) {
                show = true;
            }
            if show {
                // Whatever is shown now answers a snooze too.
                self.snoozed.remove(&snoozed);
                out.push(Reminder {
                    key: role.key.clone(),
                    title: role.title(),
                    end,
                    minutes_left: ((end - now).whole_seconds() + 59) / 60,
                });
            }
        }
        out
    }

    /// The next time a reminder becomes due (a stage or a snoozed one), if any.
    pub fn next_due(&self, model: &TrayModel, now: OffsetDateTime) -> Option<OffsetDateTime> {
        Self::activations(model)
            .filter(|(_, end)| *end > now)
            .flat_map(|(role, end)| {
                let snoozed = self
                    .snoozed
                    .get(&(role.key.clone(), end.unix_timestamp()))
                    .copied();
                self.offsets
                    .iter()
                    .filter_map(move |off| {
                        let id = (role.key.clone(), end.unix_timestamp(), off.whole_seconds());
                        (!self.fired.contains(&id)).then_some(end - *off)
                    })
                    .chain(snoozed)
            })
            .map(|t| t.max(now))
            .min()
    }

    /// Snoozes the reminder of `key`'s activation ending at `end`, at `now`: it comes again
    /// [`SNOOZE`] from now, or at the next reminder stage if that comes sooner (then the stage
    /// is the reminder), and never later than a minute before the end. Returns when the next
    /// reminder is due; `None` when the activation ends within a minute (nothing is left to
    /// remind of; the "ended" notice follows).
    pub fn snooze(
        &mut self,
        key: &str,
        end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let id = (key.to_owned(), end.unix_timestamp());
        let last = end - Duration::minutes(1);
        if last <= now {
            self.snoozed.remove(&id);
            return None;
        }
        let next_stage = self
            .offsets
            .iter()
            .filter(|off| {
                !self
                    .fired
                    .contains(&(key.to_owned(), end.unix_timestamp(), off.whole_seconds()))
            })
            .map(|off| end - *off)
            .filter(|t| *t > now)
            .min();
        let again = (now + SNOOZE).min(last);
        match next_stage {
            Some(stage) if stage <= again => {
                self.snoozed.remove(&id);
                Some(stage)
            }
            _ => {
                self.snoozed.insert(id, again);
                Some(again)
            }
        }
    }
}

/// Asks the reminder loop to snooze a role's reminder (the notification's *Snooze*): cheap to
/// clone, never blocks; a snooze sent after the loop ended is dropped.
#[derive(Debug, Clone)]
pub struct Snoozer(mpsc::UnboundedSender<String>);

impl Snoozer {
    /// A snoozer and the receiver [`ReminderTask::spawn`] (or [`run`]) takes.
    pub fn channel() -> (Snoozer, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Snoozer(tx), rx)
    }

    /// Snoozes the reminder of the role with this key.
    pub fn snooze(&self, key: &str) {
        let _ = self.0.send(key.to_owned());
    }
}

/// The newest change number in `model` (0 when none).
pub fn last_change(model: &TrayModel) -> u64 {
    model
        .accounts
        .iter()
        .flat_map(|a| &a.changes)
        .map(|c| c.seq)
        .max()
        .unwrap_or(0)
}

/// The notices for the core's changes in `model` numbered after `seen`, oldest first. The
/// core decides what changed (by each role's identity); this only words it, with the role's
/// title as the menu shows it.
pub fn notices(model: &TrayModel, seen: u64) -> Vec<Notice> {
    let mut changes: Vec<&pim_core::Change> = model
        .accounts
        .iter()
        .flat_map(|a| &a.changes)
        .filter(|c| c.seq > seen)
        .collect();
    changes.sort_by_key(|c| c.seq);
    changes
        .into_iter()
        .filter_map(|c| {
            let role = model.role(&c.key);
            let title = role.map(RoleView::title).unwrap_or_else(|| c.role.clone());
            match c.kind {
                pim_core::ChangeKind::Approved => Some(Notice::Approved { title }),
                pim_core::ChangeKind::Denied => Some(Notice::Denied { title }),
                pim_core::ChangeKind::Ended => Some(Notice::Ended {
                    title,
                    key: c.key.clone(),
                }),
                // The window or the CLI that activated it already said so.
                pim_core::ChangeKind::Activated => None,
                pim_core::ChangeKind::Ready => Some(Notice::Ready {
                    title,
                    after: match role.map(|r| &r.state) {
                        Some(RoleState::Active {
                            ready: Ready::Ready { after },
                            ..
                        }) => *after,
                        _ => None,
                    },
                }),
            }
        })
        .collect()
}

/// Where reminders and notices go (the notification layer; a recorder in tests).
pub trait ReminderSink: Send + Sync {
    /// Show an expiry reminder.
    fn remind(&self, reminder: &Reminder);
    /// Show a change notice.
    fn notice(&self, notice: &Notice);
}

/// Longest single sleep: after this the wall clock is read again (suspend/resume, clock
/// changes).
pub const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// The running reminder loop; cancelled when dropped.
#[derive(Debug)]
pub struct ReminderTask {
    cancel: CancellationToken,
}

impl Drop for ReminderTask {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl ReminderTask {
    /// Starts the loop on the current tokio runtime.
    pub fn spawn(
        models: watch::Receiver<TrayModel>,
        minutes: watch::Receiver<Vec<u32>>,
        snoozes: mpsc::UnboundedReceiver<String>,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn ReminderSink>,
    ) -> ReminderTask {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        tauri::async_runtime::spawn(async move {
            token
                .run_until_cancelled(run(models, minutes, snoozes, clock, sink))
                .await;
        });
        ReminderTask { cancel }
    }
}

/// The loop itself (public for tests with tokio's paused time). `snoozes` carries the role
/// keys whose reminder the user snoozed ([`Snoozer`]).
pub async fn run(
    mut models: watch::Receiver<TrayModel>,
    mut minutes: watch::Receiver<Vec<u32>>,
    mut snoozes: mpsc::UnboundedReceiver<String>,
    clock: Arc<dyn Clock>,
    sink: Arc<dyn ReminderSink>,
) {
    let mut reminders = Reminders::new(&minutes.borrow_and_update());
    let mut last = models.borrow_and_update().clone();
    // Changes made before the loop started are not news.
    let mut seen = last_change(&last);
    loop {
        let now = last.service_now(clock.now());
        for r in reminders.due(&last, now) {
            sink.remind(&r);
        }
        let wait = reminders
            .next_due(&last, now)
            .map(|t| {
                let secs = (t - now).whole_milliseconds().max(0) as u64;
                std::time::Duration::from_millis(secs).min(MAX_SLEEP)
            })
            .unwrap_or(MAX_SLEEP);
        tokio::select! {
            changed = models.changed() => {
                if changed.is_err() {
                    return;
                }
                let next = models.borrow_and_update().clone();
                for n in notices(&next, seen) {
                    sink.notice(&n);
                }
                seen = seen.max(last_change(&next));
                last = next;
            }
            changed = minutes.changed() => {
                if changed.is_err() {
                    return;
                }
                reminders = Reminders::new(&minutes.borrow_and_update());
            }
            Some(key) = snoozes.recv() => {
                let now = last.service_now(clock.now());
                // The role's activation (a key can have an eligible row beside it).
                let end = last.roles().filter(|r| r.key == key).find_map(RoleView::active_end);
                match end.map(|end| reminders.snooze(&key, end, now)) {
                    Some(Some(at)) => tracing::info!(%key, at = %at, "reminder snoozed"),
                    Some(None) => tracing::info!(%key, "not snoozed: the activation ends within a minute"),
                    None => tracing::info!(%key, "not snoozed: the role is not active"),
                }
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::view::{AccountView, RoleKind, RoleState, Status, TenantView};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

    fn active(key: &str, name: &str, end: OffsetDateTime) -> RoleView {
        RoleView {
            key: key.into(),
            kind: RoleKind::EntraRole,
            name: name.into(),
            scope: None,
            tenant_id: "t".into(),
            state: RoleState::Active {
                deactivatable_from: Some(end - Duration::minutes(55)),
                end: Some(end),
                ready: Ready::Unknown,
            },
        }
    }

    fn model(roles: Vec<RoleView>) -> TrayModel {
        TrayModel {
            demo: false,
            status: Status::Ready,
            skew_seconds: 0,
            warning: None,
            device_code: None,
            approvals: Vec::new(),
            accounts: vec![AccountView {
                key: "public:c:o.t".into(),
                upn: "u".into(),
                tenants: vec![TenantView {
                    warnings: Vec::new(),
                    id: "t".into(),
                    name: "T".into(),
                    roles,
                    error: None,
                }],
                changes: Vec::new(),
            }],
        }
    }

    #[test]
    fn due_at_start_fires_once_and_then_the_next_offset() {
        let m = model(vec![active(
            "ua",
            "User Administrator",
            T0 + Duration::minutes(10),
        )]);
        let mut r = Reminders::new(&[15, 5]);
        let d = r.due(&m, T0);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].minutes_left, 10);
        assert!(r.due(&m, T0 + Duration::seconds(30)).is_empty());
        assert_eq!(r.next_due(&m, T0), Some(T0 + Duration::minutes(5)));
        let d = r.due(&m, T0 + Duration::minutes(5));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].minutes_left, 5);
        assert_eq!(r.next_due(&m, T0 + Duration::minutes(5)), None);
    }

    #[test]
    fn extended_activation_gets_fresh_reminders() {
        let mut r = Reminders::new(&[5]);
        let m = model(vec![active("a", "A", T0 + Duration::minutes(3))]);
        assert_eq!(r.due(&m, T0).len(), 1);
        let m = model(vec![active("a", "A", T0 + Duration::hours(2))]);
        assert!(r.due(&m, T0).is_empty());
        assert_eq!(r.next_due(&m, T0), Some(T0 + Duration::minutes(115)));
    }

    fn change(seq: u64, kind: pim_core::ChangeKind, key: &str) -> pim_core::Change {
        pim_core::Change {
            seq,
            kind,
            key: key.into(),
            role: format!("role {key}"),
            at: None,
        }
    }

    fn with_changes(mut m: TrayModel, changes: Vec<pim_core::Change>) -> TrayModel {
        m.accounts[0].changes = changes;
        m
    }

    #[test]
    fn notices_word_the_cores_changes_once() {
        use pim_core::ChangeKind as K;
        let after = with_changes(
            model(vec![
                active("g", "Global Administrator", T0 + Duration::hours(2)),
                RoleView {
                    state: RoleState::Eligible,
                    ..active("x", "Exchange Administrator", T0)
                },
            ]),
            vec![
                change(7, K::Approved, "g"),
                change(8, K::Denied, "x"),
                change(9, K::Ended, "gone"),
                change(10, K::Activated, "g"),
            ],
        );
        assert_eq!(
            notices(&after, 6),
            [
                Notice::Approved {
                    title: "Global Administrator".into()
                },
                Notice::Denied {
                    title: "Exchange Administrator".into()
                },
                // Not in the menu any more: the core's own words.
                Notice::Ended {
                    title: "role gone".into(),
                    key: "gone".into()
                },
            ]
        );
        // Only what is newer than what was shown.
        assert_eq!(
            notices(&after, 8),
            [Notice::Ended {
                title: "role gone".into(),
                key: "gone".into()
            }]
        );
        assert!(notices(&after, last_change(&after)).is_empty());
        assert_eq!(last_change(&TrayModel::default()), 0);
    }

    #[derive(Debug)]
    struct VirtualClock {
        base: OffsetDateTime,
        start: tokio::time::Instant,
    }
    impl Clock for VirtualClock {
        fn now(&self) -> OffsetDateTime {
            self.base + (tokio::time::Instant::now() - self.start)
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);
    impl ReminderSink for Recorder {
        fn remind(&self, r: &Reminder) {
            self.0
                .lock()
                .expect("lock")
                .push(format!("{} {}", r.title, r.minutes_left));
        }
        fn notice(&self, n: &Notice) {
            self.0.lock().expect("lock").push(format!("{n:?}"));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn loop_fires_on_the_virtual_clock() {
        let clock = Arc::new(VirtualClock {
            base: T0,
            start: tokio::time::Instant::now(),
        });
        let (tx, rx) = watch::channel(model(vec![active(
            "ua",
            "User Administrator",
            T0 + Duration::minutes(10),
        )]));
        let (_mtx, mrx) = watch::channel(vec![15, 5]);
        let (_snoozer, snoozes) = Snoozer::channel();
        let rec = Arc::new(Recorder::default());
        let task = tokio::spawn(run(rx, mrx, snoozes, clock, rec.clone()));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(*rec.0.lock().expect("lock"), ["User Administrator 10"]);
        tokio::time::sleep(std::time::Duration::from_secs(5 * 60)).await;
        assert_eq!(rec.0.lock().expect("lock").len(), 2);
        assert_eq!(rec.0.lock().expect("lock")[1], "User Administrator 5");
        tx.send_replace(with_changes(
            model(vec![]),
            vec![change(1, pim_core::ChangeKind::Ended, "ua")],
        ));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(
            rec.0.lock().expect("lock")[2],
            "Ended { title: \"role ua\", key: \"ua\" }"
        );
        // The same model again (a change already shown) says nothing new.
        tx.send_modify(|_| {});
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(rec.0.lock().expect("lock").len(), 3);
        drop(tx);
        task.await.expect("loop ends when the model sender goes");
    }

    #[test]
    fn snooze_reminds_again_in_five_minutes_unless_a_stage_comes_first() {
        let end = T0 + Duration::minutes(60);
        let m = model(vec![active("ua", "User Administrator", end)]);
        let mut r = Reminders::new(&[60, 15, 5]);
        assert_eq!(r.due(&m, T0).len(), 1, "the 60-minute stage");
        // The next stage is 45 minutes away: five minutes it is.
        assert_eq!(r.snooze("ua", end, T0), Some(T0 + SNOOZE));
        assert_eq!(r.next_due(&m, T0), Some(T0 + SNOOZE));
        assert!(r.due(&m, T0 + Duration::minutes(4)).is_empty());
        let d = r.due(&m, T0 + SNOOZE);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].minutes_left, 55);
        // Once shown, it is not shown again; the next stage is next.
        assert!(r.due(&m, T0 + Duration::minutes(6)).is_empty());
        assert_eq!(
            r.next_due(&m, T0 + Duration::minutes(6)),
            Some(end - Duration::minutes(15))
        );
        // Three minutes before the 15-minute stage, the stage is the next reminder.
        let at = end - Duration::minutes(18);
        assert_eq!(r.snooze("ua", end, at), Some(end - Duration::minutes(15)));
        assert_eq!(r.next_due(&m, at), Some(end - Duration::minutes(15)));
        assert_eq!(r.due(&m, end - Duration::minutes(15)).len(), 1);
        // Snoozed twice in a row: the later snooze counts.
        let first = end - Duration::minutes(14);
        assert_eq!(r.snooze("ua", end, first), Some(first + SNOOZE));
        let second = first + Duration::minutes(2);
        assert_eq!(r.snooze("ua", end, second), Some(second + SNOOZE));
        assert!(r.due(&m, first + SNOOZE).is_empty());
        assert_eq!(r.due(&m, second + SNOOZE).len(), 1);
    }

    #[test]
    fn snooze_never_passes_the_end() {
        let end = T0 + Duration::minutes(4);
        let m = model(vec![active("a", "A", end)]);
        let mut r = Reminders::new(&[5]);
        assert_eq!(r.due(&m, T0).len(), 1);
        // Four minutes left: again a minute before the end, not in five minutes.
        assert_eq!(r.snooze("a", end, T0), Some(end - Duration::minutes(1)));
        assert_eq!(r.due(&m, end - Duration::minutes(1)).len(), 1);
        // Within the last minute there is nothing left to snooze to.
        assert_eq!(r.snooze("a", end, end - Duration::seconds(30)), None);
        assert_eq!(r.next_due(&m, end - Duration::seconds(30)), None);
        // A snooze of an activation that was extended since does not follow it.
        let later = T0 + Duration::hours(2);
        assert_eq!(r.snooze("a", end, T0), Some(end - Duration::minutes(1)));
        let m = model(vec![active("a", "A", later)]);
        assert_eq!(r.next_due(&m, T0), Some(later - Duration::minutes(5)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_snoozes_on_request() {
        let clock = Arc::new(VirtualClock {
            base: T0,
            start: tokio::time::Instant::now(),
        });
        let (_tx, rx) = watch::channel(model(vec![active(
            "ua",
            "User Administrator",
            T0 + Duration::minutes(40),
        )]));
        let (_mtx, mrx) = watch::channel(vec![60, 15]);
        let (snoozer, snoozes) = Snoozer::channel();
        let rec = Arc::new(Recorder::default());
        let _task = tokio::spawn(run(rx, mrx, snoozes, clock, rec.clone()));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(*rec.0.lock().expect("lock"), ["User Administrator 40"]);
        snoozer.snooze("ua");
        // Not a role that is active: nothing happens.
        snoozer.snooze("nobody");
        tokio::time::sleep(std::time::Duration::from_secs(4 * 60)).await;
        assert_eq!(rec.0.lock().expect("lock").len(), 1);
        tokio::time::sleep(std::time::Duration::from_secs(61)).await;
        assert_eq!(
            *rec.0.lock().expect("lock"),
            ["User Administrator 40", "User Administrator 35"]
        );
        // Not snoozed again: the next one is the 15-minute stage, 20 minutes on.
        tokio::time::sleep(std::time::Duration::from_secs(19 * 60)).await;
        assert_eq!(rec.0.lock().expect("lock").len(), 2);
        tokio::time::sleep(std::time::Duration::from_secs(61)).await;
        assert_eq!(rec.0.lock().expect("lock")[2], "User Administrator 15");
    }
}

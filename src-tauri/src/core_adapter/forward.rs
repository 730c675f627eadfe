//! Forwards each open account's session snapshots to the tray model.

use std::sync::Arc;

use pim_core::Session;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::view_of::ViewOf;
use crate::view::{Status, TrayModel};

/// Keys of the open accounts in menu order.
pub(super) type Order = Arc<std::sync::Mutex<Vec<String>>>;

/// Puts the accounts' sections in `order`.
pub(super) fn sort_accounts(m: &mut TrayModel, order: &Order) {
    let order = pim_core::sync::lock(order).clone();
    m.accounts
        .sort_by_key(|a| order.iter().position(|k| *k == a.key).unwrap_or(usize::MAX));
}

/// Forwards session snapshots to the view model; cancelled on drop.
pub(super) struct Forwarder {
    cancel: CancellationToken,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Forwarder {
    pub(super) fn spawn(
        order: Order,
        warning: Option<String>,
        session: Session,
        view: ViewOf,
        tx: watch::Sender<TrayModel>,
    ) -> Forwarder {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let mut rx = session.subscribe();
        // The core re-reads when the service's clock calls for it (ends, starts, pending
        // requests); its snapshots come here like any other.
        let schedule = session.clone();
        let schedule_token = cancel.clone();
        tauri::async_runtime::spawn(async move {
            schedule_token
                .run_until_cancelled(schedule.keep_current(pim_core::ScheduleOptions::default()))
                .await;
        });
        tauri::async_runtime::spawn(async move {
            token
                .run_until_cancelled(async move {
                    loop {
                        let snapshot = rx.borrow_and_update().clone();
                        if snapshot.taken_at.is_some() {
                            let skew = (session.now() - OffsetDateTime::now_utc()).whole_seconds();
                            let model = view.model(&snapshot, skew);
                            // This account's sections replace its previous ones; the other
                            // accounts' stay. A model that did not change wakes nobody (the
                            // menu is rebuilt once per real change).
                            tx.send_if_modified(|m| {
                                let before = m.clone();
                                for a in model.accounts {
                                    match m.accounts.iter_mut().find(|x| x.key == a.key) {
                                        Some(x) => *x = a,
                                        None => m.accounts.push(a),
                                    }
                                }
                                sort_accounts(m, &order);
                                m.demo = view.demo;
                                m.status = Status::Ready;
                                m.skew_seconds = skew;
                                m.warning = warning.clone();
                                *m != before
                            });
                        }
                        if rx.changed().await.is_err() {
                            return;
                        }
                    }
                })
                .await;
        });
        Forwarder { cancel }
    }
}

//! Re-reads that the service's own clock calls for: an activation reaches its end, a
//! scheduled request its start, or a request waits for an approver (approvals happen
//! elsewhere). [`Session::keep_current`] runs them; whoever shows the snapshots (the tray)
//! runs it beside its subscription, and every change reaches subscribers the usual way.

use std::time::Duration;

use time::OffsetDateTime;

use super::Session;
use crate::model::{RoleState, Snapshot};

/// How often [`Session::keep_current`] re-reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleOptions {
    /// While a request waits for an approver: re-read this often.
    pub pending_every: Duration,
    /// The longest single sleep; the clock is read again after it (suspend and resume,
    /// clock changes).
    pub max_sleep: Duration,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            pending_every: Duration::from_secs(120),
            max_sleep: Duration::from_secs(60),
        }
    }
}

/// A little after an end or a start, so the service has moved on when it is asked.
const AFTER: time::Duration = time::Duration::seconds(2);

/// When `snapshot` next needs a re-read, after `now`: the earliest activation end or
/// scheduled start (plus two seconds), or `pending_every` from now while a request waits.
pub fn next_reread(
    snapshot: &Snapshot,
    now: OffsetDateTime,
    pending_every: Duration,
) -> Option<OffsetDateTime> {
    let mut next: Option<OffsetDateTime> = None;
    let mut consider = |t: Option<OffsetDateTime>| {
        if let Some(t) = t
            && t > now
            && next.is_none_or(|n| t < n)
        {
            next = Some(t);
        }
    };
    let pending = time::Duration::try_from(pending_every).unwrap_or(time::Duration::MAX);
    for r in snapshot.roles() {
        match r.state {
            RoleState::Active => consider(r.ends_at().and_then(|t| t.checked_add(AFTER))),
            RoleState::Scheduled => consider(r.starts_at().and_then(|t| t.checked_add(AFTER))),
            RoleState::Pending => consider(now.checked_add(pending)),
            RoleState::Eligible => {}
        }
    }
    next
}

impl Session {
    /// Re-reads whenever the service's clock calls for it (see [`next_reread`]); runs until
    /// the future is dropped. Errors are logged and the schedule goes on.
    pub async fn keep_current(&self, options: ScheduleOptions) {
        let mut rx = self.subscribe();
        loop {
            let snapshot = rx.borrow_and_update().clone();
            let now = self.now();
            let due = next_reread(&snapshot, now, options.pending_every);
            let wait = due
                .map(|t| (t - now).unsigned_abs())
                .unwrap_or(options.max_sleep)
                .min(options.max_sleep);
            tokio::select! {
                r = rx.changed() => if r.is_err() { return },
                () = tokio::time::sleep(wait) => {
                    if due.is_some_and(|t| t <= self.now())
                        && let Err(e) = self.refresh().await
                    {
                        tracing::warn!("re-read failed: {e}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, Tenant, TenantSnapshot};
    use crate::testing::{activated, test_role};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-07 10:00 UTC);

    fn role(state: RoleState, start: OffsetDateTime, end: Option<OffsetDateTime>) -> Role {
        Role {
            state,
            assignment: Some(activated(Some(start), end)),
            ..test_role("gr", "Global Reader")
        }
    }

    fn snap(roles: Vec<Role>) -> Snapshot {
        Snapshot {
            taken_at: Some(NOW),
            tenants: vec![TenantSnapshot {
                tenant: Tenant::from_id("t", true),
                roles,
                error: None,
                warnings: Vec::new(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_next_reread_is_the_earliest_end_start_or_pending_check() {
        let every = Duration::from_secs(120);
        let hour = time::Duration::hours(1);
        let active = role(RoleState::Active, NOW - hour, Some(NOW + hour));
        assert_eq!(
            next_reread(&snap(vec![active.clone()]), NOW, every),
            Some(NOW + hour + AFTER)
        );
        // An end already past is not waited for; a permanent activation has none.
        let ended = role(RoleState::Active, NOW - hour, Some(NOW - hour));
        let open = role(RoleState::Active, NOW - hour, None);
        assert_eq!(next_reread(&snap(vec![ended, open]), NOW, every), None);
        // A pending request: two minutes from now, sooner than the end.
        let pending = role(RoleState::Pending, NOW, None);
        assert_eq!(
            next_reread(&snap(vec![active, pending]), NOW, every),
            Some(NOW + time::Duration::minutes(2))
        );
        assert_eq!(next_reread(&Snapshot::default(), NOW, every), None);
    }
}

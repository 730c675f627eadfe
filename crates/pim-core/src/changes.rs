//! What the service decided between two snapshots, as typed changes: a request approved or
//! denied, an activation that started or ended. The session works them out when it publishes
//! a snapshot and keeps the most recent ones in it ([`Snapshot::changes`], numbered), so a
//! subscriber that skipped a snapshot still sees every change once; the faces only show them.
//!
//! Rows are matched by their stable identity ([`Role::key`]: kind, tenant, role definition,
//! scope, access), never by name.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{Role, RoleState, Snapshot};

/// What happened to a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// A pending request was approved: the role is now active or scheduled.
    Approved,
    /// A pending request went away without the role becoming active: denied, cancelled or
    /// expired.
    Denied,
    /// An activation ended (expired or deactivated).
    Ended,
    /// An activation started without a pending request before it (activated here, from
    /// another device, or a scheduled one that began).
    Activated,
    /// An activation this session followed became effective (see
    /// [`crate::Session::follow_ready`]; the snapshot's [`Snapshot::readiness`] says when).
    Ready,
}

/// One change, numbered in the order the session saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Increases with every change this process sees, across sessions.
    pub seq: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// The role's [`Role::key`].
    pub key: String,
    /// The role as [`Role::describe`] says it.
    pub role: String,
    /// When the session saw it, by the service's clock: the time of the read that found it
    /// ([`Snapshot::taken_at`]); `None` for changes not found by comparing two reads
    /// ([`ChangeKind::Ready`]).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
}

/// How many recent changes a snapshot keeps.
pub const KEPT: usize = 32;

static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

/// Held now as the user's own activation with an end.
fn activation(r: &Role) -> bool {
    r.state == RoleState::Active
        && r.assignment.as_ref().is_some_and(|a| a.is_activation())
        && r.ends_at().is_some()
}

/// Active as the user's activation, or scheduled to be.
fn live(r: &Role) -> bool {
    (r.state == RoleState::Active && r.assignment.as_ref().is_some_and(|a| a.is_activation()))
        || r.state == RoleState::Scheduled
}

fn pending(r: &Role) -> bool {
    r.state == RoleState::Pending
}

/// What a snapshot holds under one role key: any of its rows with that key counts.
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    pending: bool,
    live: bool,
    activation: bool,
}

/// Each row of `s` with its [`Role::key`], worked out once.
fn keyed(s: &Snapshot) -> Vec<(String, &Role)> {
    s.roles().map(|r| (r.key(), r)).collect()
}

/// What `rows` hold, by key.
fn held<'a>(rows: &'a [(String, &Role)]) -> HashMap<&'a str, Held> {
    let mut by_key: HashMap<&str, Held> = HashMap::with_capacity(rows.len());
    for (key, r) in rows {
        let h = by_key.entry(key.as_str()).or_default();
        h.pending |= pending(r);
        h.live |= live(r);
        h.activation |= activation(r);
    }
    by_key
}

/// The changes from `before` to `after`, numbered from the process-wide sequence, in order
/// of kind, then key, then description. Nothing when either is not a read snapshot
/// (`taken_at` unset): signing in or out is not news.
pub fn between(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    if before.taken_at.is_none() || after.taken_at.is_none() {
        return Vec::new();
    }
    let (rows_before, rows_after) = (keyed(before), keyed(after));
    let (was, is) = (held(&rows_before), held(&rows_after));
    let lookup = |m: &HashMap<&str, Held>, key: &str| m.get(key).copied().unwrap_or_default();
    let mut found: BTreeSet<(ChangeKind, String, String)> = BTreeSet::new();
    for (key, r) in &rows_before {
        let now = lookup(&is, key);
        if pending(r) && !now.pending {
            let kind = if now.live {
                ChangeKind::Approved
            } else {
                ChangeKind::Denied
            };
            found.insert((kind, key.clone(), r.describe()));
        } else if activation(r) && !now.activation {
            found.insert((ChangeKind::Ended, key.clone(), r.describe()));
        }
    }
    for (key, r) in &rows_after {
        let then = lookup(&was, key);
        if activation(r) && !then.activation && !then.pending {
            found.insert((ChangeKind::Activated, key.clone(), r.describe()));
        }
    }
    found
        .into_iter()
        .map(|(kind, key, role)| Change {
            seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
            kind,
            key,
            role,
            at: after.taken_at,
        })
        .collect()
}

/// `recent` with one more change, numbered next, at most [`KEPT`] kept.
pub fn push(recent: &mut Vec<Change>, kind: ChangeKind, key: String, role: String) {
    recent.push(Change {
        seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
        kind,
        key,
        role,
        at: None,
    });
    let skip = recent.len().saturating_sub(KEPT);
    recent.drain(..skip);
}

/// `recent` (oldest first) followed by the changes from `before` to `after`, at most
/// [`KEPT`] of them.
pub fn keep(mut recent: Vec<Change>, before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    recent.extend(between(before, after));
    let skip = recent.len().saturating_sub(KEPT);
    recent.drain(..skip);
    recent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TenantSnapshot;
    use crate::testing::{activated, test_role};
    use time::macros::datetime;

    fn role(def: &str, name: &str, state: RoleState, ends: bool) -> Role {
        let start = datetime!(2026-12-07 10:00 UTC);
        let end = ends.then(|| start + time::Duration::hours(1));
        Role {
            assignment: (state == RoleState::Active).then(|| activated(Some(start), end)),
            state,
            ..test_role(def, name)
        }
    }

    fn snap(roles: Vec<Role>) -> Snapshot {
        Snapshot {
            taken_at: Some(datetime!(2026-12-07 10:30 UTC)),
            tenants: vec![TenantSnapshot {
                tenant: crate::model::Tenant::from_id("t", true),
                roles,
                error: None,
                warnings: Vec::new(),
            }],
            ..Default::default()
        }
    }

    fn kinds(c: &[Change]) -> Vec<(ChangeKind, String)> {
        c.iter().map(|c| (c.kind, c.role.clone())).collect()
    }

    #[test]
    fn approval_denial_end_and_activation() {
        let before = snap(vec![
            role("ga", "Global Administrator", RoleState::Pending, false),
            role("ex", "Exchange Administrator", RoleState::Pending, false),
            role("ua", "User Administrator", RoleState::Active, true),
            role("gr", "Global Reader", RoleState::Eligible, false),
        ]);
        let after = snap(vec![
            // The approved role, now active (the same identity, whatever its row).
            role("ga", "Global Administrator", RoleState::Active, true),
            role("ex", "Exchange Administrator", RoleState::Eligible, false),
            role("ua", "User Administrator", RoleState::Eligible, false),
            role("gr", "Global Reader", RoleState::Active, true),
        ]);
        let c = between(&before, &after);
        let describe = |n: &str| role("x", n, RoleState::Eligible, false).describe();
        assert_eq!(
            kinds(&c),
            [
                (ChangeKind::Approved, describe("Global Administrator")),
                (ChangeKind::Denied, describe("Exchange Administrator")),
                (ChangeKind::Ended, describe("User Administrator")),
                (ChangeKind::Activated, describe("Global Reader")),
            ]
        );
        assert!(
            c.windows(2).all(|w| w[0].seq < w[1].seq),
            "numbered in order"
        );
        // Each is dated by the read that found it.
        assert!(c.iter().all(|c| c.at == after.taken_at), "{c:?}");
        // Nothing new, nothing reported; signing in is not news.
        assert!(between(&after, &after).is_empty());
        assert!(between(&Snapshot::default(), &after).is_empty());
        // A renamed role is the same role: no change.
        let renamed = snap(vec![role(
            "gr",
            "Global Reader (renamed)",
            RoleState::Active,
            true,
        )]);
        let just_gr = snap(vec![role("gr", "Global Reader", RoleState::Active, true)]);
        assert!(between(&just_gr, &renamed).is_empty());
    }

    #[test]
    fn changes_come_in_order_of_kind_then_key_whatever_the_row_order() {
        let rows = |state, names: &[&str]| -> Vec<Role> {
            names
                .iter()
                .map(|n| role(&n.to_lowercase(), n, state, true))
                .collect()
        };
        // Row order differs between the two snapshots and from the key order.
        let before = snap(
            [
                rows(RoleState::Active, &["C", "A"]),
                rows(RoleState::Pending, &["E", "D"]),
                rows(RoleState::Eligible, &["G", "F"]),
            ]
            .concat(),
        );
        let after = snap(
            [
                rows(RoleState::Active, &["F", "G", "D"]),
                rows(RoleState::Eligible, &["A", "E", "C"]),
            ]
            .concat(),
        );
        let changes = between(&before, &after);
        let got: Vec<(ChangeKind, &str)> =
            changes.iter().map(|c| (c.kind, c.key.as_str())).collect();
        let key = |n: &str| role(n, n, RoleState::Eligible, false).key();
        let (a, c, d, e, f, g) = (key("a"), key("c"), key("d"), key("e"), key("f"), key("g"));
        assert_eq!(
            got,
            [
                (ChangeKind::Approved, d.as_str()),
                (ChangeKind::Denied, e.as_str()),
                (ChangeKind::Ended, a.as_str()),
                (ChangeKind::Ended, c.as_str()),
                (ChangeKind::Activated, f.as_str()),
                (ChangeKind::Activated, g.as_str()),
            ]
        );
        // The same again in reverse row order: the same changes in the same order.
        let reversed = |s: &Snapshot| {
            let mut rows: Vec<Role> = s.roles().cloned().collect();
            rows.reverse();
            snap(rows)
        };
        let again = between(&reversed(&before), &reversed(&after));
        assert_eq!(kinds(&again), kinds(&changes));
        // Two rows with one key are one role: held if either is, reported once.
        let twice = snap(rows(RoleState::Active, &["A", "A"]));
        let one_held = snap(
            [
                rows(RoleState::Eligible, &["A"]),
                rows(RoleState::Active, &["A"]),
            ]
            .concat(),
        );
        assert!(between(&twice, &one_held).is_empty());
        let none = snap(rows(RoleState::Eligible, &["A"]));
        assert_eq!(
            kinds(&between(&twice, &none)),
            [(ChangeKind::Ended, twice.roles().next().unwrap().describe())]
        );
    }

    #[test]
    fn a_snapshot_keeps_the_most_recent_changes() {
        let on = snap(vec![role("gr", "Global Reader", RoleState::Active, true)]);
        let off = snap(vec![role(
            "gr",
            "Global Reader",
            RoleState::Eligible,
            false,
        )]);
        let mut recent = Vec::new();
        for i in 0..(KEPT + 5) {
            let (a, b) = if i % 2 == 0 { (&on, &off) } else { (&off, &on) };
            recent = keep(recent, a, b);
        }
        assert_eq!(recent.len(), KEPT);
        assert!(recent.windows(2).all(|w| w[0].seq < w[1].seq));
    }
}

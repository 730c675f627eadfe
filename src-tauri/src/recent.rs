//! The menu's *Recently ended* section, per tenant: roles whose activation ended within the
//! last hour and that are eligible now, each with *Activate again* (the core repeats the
//! newest earlier request: [`pim_core::Session::activate_again`]). Pure, like `menu.rs`: which
//! roles ended, and when, is the core's word ([`pim_core::ChangeKind::Ended`] changes, dated
//! by the read that found them); the shell compares nothing.

use time::{Duration, OffsetDateTime};

use crate::menu::{MenuAction, MenuNode};
use crate::view::{RoleState, RoleView, TrayModel};

/// How long an ended activation is offered again in the menu.
pub const RECENT: Duration = Duration::hours(1);

/// A role whose activation ended lately and that can be activated again now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended<'a> {
    /// The role (eligible now).
    pub role: &'a RoleView,
    /// When the core saw the activation end (service time).
    pub at: OffsetDateTime,
}

/// Among `roles` (one tenant's), those whose activation ended within [`RECENT`] of `now` by
/// `changes` (the account's) and that are eligible now (no row of theirs active, pending or
/// scheduled), newest first, each once.
pub fn recently_ended<'a>(
    changes: &[pim_core::Change],
    roles: &'a [RoleView],
    now: OffsetDateTime,
) -> Vec<Ended<'a>> {
    let mut out: Vec<Ended<'a>> = Vec::new();
    let mut ended: Vec<&pim_core::Change> = changes
        .iter()
        .filter(|c| c.kind == pim_core::ChangeKind::Ended)
        .collect();
    ended.sort_by_key(|c| std::cmp::Reverse(c.seq));
    for c in ended {
        let Some(at) = c.at.filter(|at| now - *at <= RECENT) else {
            continue;
        };
        if out.iter().any(|e| e.role.key == c.key) {
            continue;
        }
        let mut rows = roles.iter().filter(|r| r.key == c.key);
        let Some(role) = rows.clone().find(|r| r.state == RoleState::Eligible) else {
            continue;
        };
        if rows.any(|r| r.state != RoleState::Eligible) {
            continue;
        }
        out.push(Ended { role, at });
    }
    out
}

/// Whether any tenant of `model` has a recently ended role to offer at `now` (the menu is
/// then re-rendered every minute, so the entry goes when its hour is over).
pub fn any(model: &TrayModel, now: OffsetDateTime) -> bool {
    model.accounts.iter().any(|a| {
        a.tenants
            .iter()
            .any(|t| !recently_ended(&a.changes, &t.roles, now).is_empty())
    })
}

/// `ended just now`, `ended 1 min ago`, `ended 42 min ago`.
pub fn ago(at: OffsetDateTime, now: OffsetDateTime) -> String {
    match (now - at).whole_minutes() {
        m if m < 1 => "ended just now".into(),
        m => format!("ended {m} min ago"),
    }
}

/// Appends the section (nothing when `ended` is empty): a heading, then per role a submenu
/// `<title> · ended N min ago` with *Activate again* (not `<title> — …`, which is how the
/// Active section names a held role).
pub fn section(out: &mut Vec<MenuNode>, n: &mut usize, ended: &[Ended<'_>], now: OffsetDateTime) {
    if ended.is_empty() {
        return;
    }
    out.push(MenuNode::info(n, "Recently ended"));
    for e in ended {
        out.push(MenuNode::Submenu {
            label: format!("{} · {}", e.role.title(), ago(e.at, now)),
            children: vec![MenuNode::item(
                MenuAction::Again(e.role.key.clone()).id(),
                "Activate again",
            )],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{AccountView, Ready, RoleKind, Status, TenantView};
    use pim_core::ChangeKind;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

    fn role(key: &str, name: &str, state: RoleState) -> RoleView {
        RoleView {
            key: key.into(),
            kind: RoleKind::EntraRole,
            name: name.into(),
            scope: None,
            tenant_id: "t".into(),
            state,
        }
    }

    fn change(
        seq: u64,
        kind: ChangeKind,
        key: &str,
        at: Option<OffsetDateTime>,
    ) -> pim_core::Change {
        pim_core::Change {
            seq,
            kind,
            key: key.into(),
            role: key.into(),
            at,
        }
    }

    fn model(roles: Vec<RoleView>, changes: Vec<pim_core::Change>) -> TrayModel {
        TrayModel {
            status: Status::Ready,
            accounts: vec![AccountView {
                key: "a".into(),
                upn: "adele@contoso.onmicrosoft.com".into(),
                tenants: vec![TenantView {
                    id: "t".into(),
                    name: "Contoso".into(),
                    roles,
                    error: None,
                    warnings: Vec::new(),
                }],
                changes,
            }],
            ..TrayModel::default()
        }
    }

    fn active() -> RoleState {
        RoleState::Active {
            deactivatable_from: None,
            end: Some(NOW + Duration::minutes(30)),
            ready: Ready::Unknown,
        }
    }

    #[test]
    fn roles_ended_within_the_hour_and_eligible_now_are_offered_newest_first() {
        let roles = vec![
            role("gr", "Global Reader", RoleState::Eligible),
            role("ua", "User Administrator", RoleState::Eligible),
            role("old", "Reports Reader", RoleState::Eligible),
            // Ended, then activated again elsewhere: not offered.
            role("sa", "Security Administrator", RoleState::Eligible),
            role("sa", "Security Administrator", active()),
            role("ga", "Global Administrator", RoleState::Pending),
            role("und", "Undated", RoleState::Eligible),
        ];
        let changes = vec![
            change(
                1,
                ChangeKind::Ended,
                "gr",
                Some(NOW - Duration::minutes(50)),
            ),
            change(
                2,
                ChangeKind::Ended,
                "ua",
                Some(NOW - Duration::seconds(20)),
            ),
            change(
                3,
                ChangeKind::Ended,
                "old",
                Some(NOW - Duration::minutes(61)),
            ),
            change(4, ChangeKind::Ended, "sa", Some(NOW - Duration::minutes(5))),
            change(5, ChangeKind::Ended, "ga", Some(NOW - Duration::minutes(5))),
            change(6, ChangeKind::Ended, "und", None),
            change(
                7,
                ChangeKind::Activated,
                "gr",
                Some(NOW - Duration::minutes(70)),
            ),
            // The same role twice: shown once, by its newest end.
            change(
                8,
                ChangeKind::Ended,
                "gr",
                Some(NOW - Duration::minutes(10)),
            ),
        ];
        let got: Vec<(&str, OffsetDateTime)> = recently_ended(&changes, &roles, NOW)
            .iter()
            .map(|e| (e.role.key.as_str(), e.at))
            .collect();
        assert_eq!(
            got,
            [
                ("gr", NOW - Duration::minutes(10)),
                ("ua", NOW - Duration::seconds(20)),
            ]
        );
        assert!(any(&model(roles.clone(), changes.clone()), NOW));
        // An hour later nothing is left to offer.
        assert!(!any(&model(roles, changes), NOW + Duration::hours(1)));
    }

    #[test]
    fn the_menu_offers_activate_again_above_the_eligible_roles() {
        let m = model(
            vec![role("gr", "Global Reader", RoleState::Eligible)],
            vec![change(
                1,
                ChangeKind::Ended,
                "gr",
                Some(NOW - Duration::minutes(12)),
            )],
        );
        let menu = crate::menu::build(&m, NOW);
        let heading = menu
            .iter()
            .position(|n| n.label() == Some("Recently ended"))
            .expect("a Recently ended heading");
        let Some(MenuNode::Submenu { label, children }) = menu.get(heading + 1) else {
            panic!("no entry under the heading: {menu:#?}")
        };
        assert_eq!(label, "Global Reader · ended 12 min ago");
        let [MenuNode::Item { id, label, enabled }] = children.as_slice() else {
            panic!("{children:?}")
        };
        assert_eq!((label.as_str(), *enabled), ("Activate again", true));
        assert_eq!(MenuAction::parse(id), Some(MenuAction::Again("gr".into())));
        // The role stays in the Activate section below (the form, for a different request).
        let activate = menu
            .iter()
            .position(|n| n.label() == Some("Activate"))
            .expect("the Activate heading");
        assert!(heading < activate, "{menu:#?}");
        // Nothing ended: no section.
        let quiet = model(
            vec![role("gr", "Global Reader", RoleState::Eligible)],
            vec![],
        );
        assert!(
            !crate::menu::build(&quiet, NOW)
                .iter()
                .any(|n| n.label() == Some("Recently ended"))
        );
        assert_eq!(ago(NOW - Duration::seconds(59), NOW), "ended just now");
        assert_eq!(ago(NOW - Duration::minutes(1), NOW), "ended 1 min ago");
    }
}

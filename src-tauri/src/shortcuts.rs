//! The menu's shortcuts above the tenants: *Favourites* (roles starred in the activation
//! window, by stable role key, that the open accounts have) and *Bundles* (the named sets of
//! roles `pim bundle save` keeps in `bundles.json`). Pure, like `menu.rs`: what is starred and
//! which bundles exist are read by the caller ([`MenuExtras`]).

use time::OffsetDateTime;

use crate::menu::{MenuAction, MenuNode, time_left};
use crate::view::{RoleState, RoleView, TrayModel};

/// What the menu shows besides the view model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MenuExtras {
    /// Starred role keys, in the order starred (the settings' `favourites`).
    pub favourites: Vec<String>,
    /// Bundle names, in the order saved.
    pub bundles: Vec<String>,
}

/// The *Favourites* submenu: each starred role the open accounts have, in the order starred.
/// An eligible one opens its activation window (as its entry under *Activate* does); one held,
/// requested or scheduled is an information line with its state. Nothing when none is there.
pub fn favourites(
    out: &mut Vec<MenuNode>,
    n: &mut usize,
    model: &TrayModel,
    favourites: &[String],
    now: OffsetDateTime,
) {
    let many_tenants =
        model.accounts.len() > 1 || model.accounts.iter().any(|a| a.tenants.len() > 1);
    let mut children = Vec::new();
    for key in favourites {
        // The same role can have several rows (eligible, and active or requested).
        let rows: Vec<(&RoleView, &str)> = model
            .accounts
            .iter()
            .flat_map(|a| a.tenants.iter())
            .flat_map(|t| t.roles.iter().map(move |r| (r, t.name.as_str())))
            .filter(|(r, _)| &r.key == key)
            .collect();
        let Some((first, tenant)) = rows.first() else {
            continue;
        };
        let title = if many_tenants {
            format!("{} · {tenant}", first.title())
        } else {
            first.title()
        };
        match rows
            .iter()
            .map(|(r, _)| r)
            .find(|r| !matches!(r.state, RoleState::Eligible))
        {
            None => children.push(MenuNode::item(
                MenuAction::Activate(key.clone()).id(),
                title,
            )),
            Some(held) => {
                let what = match held.state {
                    RoleState::Active { end: Some(end), .. } => time_left(end, now),
                    RoleState::Active { end: None, .. } => "active".to_owned(),
                    RoleState::Assigned { end: None } => "permanent".to_owned(),
                    RoleState::Assigned { end: Some(end) } => {
                        format!("assigned, {}", time_left(end, now))
                    }
                    RoleState::Scheduled { .. } => "scheduled".to_owned(),
                    _ => "awaiting approval".to_owned(),
                };
                children.push(MenuNode::info(n, format!("{title} — {what}")));
            }
        }
    }
    if !children.is_empty() {
        out.push(MenuNode::Submenu {
            label: "Favourites".into(),
            children,
        });
    }
}

/// The *Bundles* submenu: each saved bundle, in the order saved; choosing one opens the
/// bundle's window (one form for all its roles). Nothing when none is saved.
pub fn bundles(out: &mut Vec<MenuNode>, bundles: &[String]) {
    if bundles.is_empty() {
        return;
    }
    out.push(MenuNode::Submenu {
        label: "Bundles".into(),
        children: bundles
            .iter()
            .map(|b| MenuNode::item(MenuAction::Bundle(b.clone()).id(), b.clone()))
            .collect(),
    });
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::view::{AccountView, Ready, RoleKind, Status, TenantView};

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

    fn role(key: &str, name: &str, state: RoleState) -> RoleView {
        RoleView {
            key: key.into(),
            kind: RoleKind::EntraRole,
            name: name.into(),
            scope: None,
            tenant_id: "t1".into(),
            state,
        }
    }

    fn model(roles: Vec<RoleView>) -> TrayModel {
        TrayModel {
            status: Status::Ready,
            accounts: vec![AccountView {
                key: "public:c:o.t".into(),
                upn: "adele@contoso.onmicrosoft.com".into(),
                tenants: vec![TenantView {
                    warnings: Vec::new(),
                    id: "t1".into(),
                    name: "Contoso".into(),
                    roles,
                    error: None,
                }],
                changes: Vec::new(),
            }],
            ..TrayModel::default()
        }
    }

    #[test]
    fn favourites_come_first_in_starred_order_and_act_like_the_role() {
        let m = model(vec![
            role("gr", "Global Reader", RoleState::Eligible),
            role("sr", "Security Reader", RoleState::Eligible),
            role(
                "sr",
                "Security Reader",
                RoleState::Active {
                    deactivatable_from: None,
                    end: Some(NOW + Duration::minutes(50)),
                    ready: Ready::Unknown,
                },
            ),
            role("ua", "User Administrator", RoleState::Eligible),
        ]);
        let extras = MenuExtras {
            favourites: vec!["sr".into(), "gone".into(), "gr".into()],
            bundles: Vec::new(),
        };
        let menu = crate::menu::build_with(&m, NOW, &extras);
        // Right after the title, before the tenant's sections.
        let Some(MenuNode::Submenu { label, children }) = menu.get(1) else {
            panic!("no favourites: {menu:#?}");
        };
        assert_eq!(label, "Favourites");
        let labels: Vec<_> = children.iter().filter_map(MenuNode::label).collect();
        assert_eq!(
            labels,
            ["Security Reader — 50 min left", "Global Reader"],
            "a starred role no open account has is left out"
        );
        assert!(matches!(
            &children[0],
            MenuNode::Item { enabled: false, .. }
        ));
        let MenuNode::Item { id, enabled, .. } = &children[1] else {
            panic!("not an item");
        };
        assert!(enabled);
        assert_eq!(
            MenuAction::parse(id),
            Some(MenuAction::Activate("gr".into()))
        );
    }

    #[test]
    fn no_favourites_no_section_and_tenants_are_named_when_there_are_several() {
        let mut m = model(vec![role("gr", "Global Reader", RoleState::Eligible)]);
        let mut out = Vec::new();
        favourites(&mut out, &mut 0, &m, &[], NOW);
        assert!(out.is_empty());
        let mut other = m.accounts[0].tenants[0].clone();
        other.name = "Fabrikam".into();
        other.roles.clear();
        m.accounts[0].tenants.push(other);
        favourites(&mut out, &mut 0, &m, &["gr".into()], NOW);
        let [MenuNode::Submenu { children, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        assert_eq!(children[0].label(), Some("Global Reader · Contoso"));
    }

    #[test]
    fn bundles_are_listed_in_saved_order_and_open_their_window() {
        let mut out = Vec::new();
        bundles(&mut out, &[]);
        assert!(out.is_empty(), "no section without bundles");
        bundles(&mut out, &["On call".into(), "Deploy".into()]);
        let [MenuNode::Submenu { label, children }] = out.as_slice() else {
            panic!("{out:?}");
        };
        assert_eq!(label, "Bundles");
        let ids: Vec<Option<MenuAction>> = children
            .iter()
            .map(|c| match c {
                MenuNode::Item { id, .. } => MenuAction::parse(id),
                _ => None,
            })
            .collect();
        assert_eq!(
            ids,
            [
                Some(MenuAction::Bundle("On call".into())),
                Some(MenuAction::Bundle("Deploy".into()))
            ]
        );
    }
}

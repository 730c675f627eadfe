//! Builds the tray menu from the view model. Pure: `build(model, now)` returns a tree of
//! [`MenuNode`]s; `tray.rs` turns it into native menu items. Menu item ids encode the action
//! (`activate:<key>`, `extend:<key>`, ...), parsed back by [`MenuAction::parse`].

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::shortcuts::MenuExtras;
use crate::view::{Ready, RoleKind, RoleState, RoleView, Status, TrayModel};

/// One entry of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuNode {
    /// A clickable (or disabled, informational) item.
    Item {
        /// Action id (see [`MenuAction`]); informational items use `info:<n>`.
        id: String,
        /// Label.
        label: String,
        /// Whether it can be clicked.
        enabled: bool,
    },
    /// A separator line.
    Separator,
    /// A submenu.
    Submenu {
        /// Label.
        label: String,
        /// Entries.
        children: Vec<MenuNode>,
    },
}

impl MenuNode {
    pub(crate) fn item(id: impl Into<String>, label: impl Into<String>) -> MenuNode {
        MenuNode::Item {
            id: id.into(),
            label: label.into(),
            enabled: true,
        }
    }

    pub(crate) fn info(n: &mut usize, label: impl Into<String>) -> MenuNode {
        *n += 1;
        MenuNode::Item {
            id: format!("info:{n}"),
            label: label.into(),
            enabled: false,
        }
    }

    /// The label, if any.
    pub fn label(&self) -> Option<&str> {
        match self {
            MenuNode::Item { label, .. } | MenuNode::Submenu { label, .. } => Some(label),
            MenuNode::Separator => None,
        }
    }
}

/// What a menu item does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    /// Open the activation window for this role.
    Activate(String),
    /// Open the bundle window for this bundle (by name).
    Bundle(String),
    /// Open the decision window for this request of the approver's inbox (by id).
    Approval(String),
    /// Extend this activation.
    Extend(String),
    /// Deactivate this activation.
    Deactivate(String),
    /// Cancel this pending or scheduled request.
    Cancel(String),
    /// Activate this role again as its last request asked (a recently ended activation).
    Again(String),
    /// Re-read everything.
    Refresh,
    /// Sign in.
    SignIn,
    /// Sign in with a device code (when the browser cannot be used here).
    SignInCode,
    /// Sign out this account (by key).
    SignOut(String),
    /// Open the settings window.
    Settings,
    /// Open the history window (my requests).
    History,
    /// Save the roles active now as a bundle (in Settings, which asks for its name).
    SaveBundle,
    /// Quit the app.
    Quit,
}

impl MenuAction {
    /// The menu item id for this action.
    pub fn id(&self) -> String {
        match self {
            MenuAction::Activate(k) => format!("activate:{k}"),
            MenuAction::Bundle(k) => format!("bundle:{k}"),
            MenuAction::Approval(k) => format!("approval:{k}"),
            MenuAction::Extend(k) => format!("extend:{k}"),
            MenuAction::Deactivate(k) => format!("deactivate:{k}"),
            MenuAction::Cancel(k) => format!("cancel:{k}"),
            MenuAction::Again(k) => format!("again:{k}"),
            MenuAction::Refresh => "refresh".into(),
            MenuAction::SignIn => "sign-in".into(),
            MenuAction::SignInCode => "sign-in-code".into(),
            MenuAction::SignOut(k) => format!("sign-out:{k}"),
            MenuAction::Settings => "settings".into(),
            MenuAction::History => "history".into(),
            MenuAction::SaveBundle => "save-bundle".into(),
            MenuAction::Quit => "quit".into(),
        }
    }

    /// Parses a menu item id; informational ids give `None`.
    pub fn parse(id: &str) -> Option<MenuAction> {
        let (verb, key) = id.split_once(':').unwrap_or((id, ""));
        let key = key.to_owned();
        Some(match (verb, key.is_empty()) {
            ("activate", false) => MenuAction::Activate(key),
            ("bundle", false) => MenuAction::Bundle(key),
            ("approval", false) => MenuAction::Approval(key),
            ("extend", false) => MenuAction::Extend(key),
            ("deactivate", false) => MenuAction::Deactivate(key),
            ("cancel", false) => MenuAction::Cancel(key),
            ("again", false) => MenuAction::Again(key),
            ("refresh", true) => MenuAction::Refresh,
            ("sign-in", true) => MenuAction::SignIn,
            ("sign-in-code", true) => MenuAction::SignInCode,
            ("sign-out", false) => MenuAction::SignOut(key),
            ("settings", true) => MenuAction::Settings,
            ("history", true) => MenuAction::History,
            ("save-bundle", true) => MenuAction::SaveBundle,
            ("quit", true) => MenuAction::Quit,
            _ => return None,
        })
    }
}

/// `1 h 20 min left`, `9 min left`, `less than a minute left`.
pub fn time_left(end: OffsetDateTime, now: OffsetDateTime) -> String {
    let left = end - now;
    if left <= Duration::ZERO {
        return "ending".into();
    }
    if left < Duration::minutes(1) {
        return "less than a minute left".into();
    }
    let minutes = (left.whole_seconds() + 30) / 60;
    match minutes {
        m if m < 60 => format!("{m} min left"),
        m if m % 60 == 0 => format!("{} h left", m / 60),
        m => format!("{} h {} min left", m / 60, m % 60),
    }
}

/// The first line of `s`, at most `max` characters (menus do not wrap).
pub fn shorten(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// Builds the whole menu (no favourites or bundles).
pub fn build(model: &TrayModel, now: OffsetDateTime) -> Vec<MenuNode> {
    build_with(model, now, &MenuExtras::default())
}

/// Builds the whole menu, with the shortcuts above the tenants (`shortcuts.rs`).
pub fn build_with(model: &TrayModel, now: OffsetDateTime, extras: &MenuExtras) -> Vec<MenuNode> {
    let mut n = 0usize;
    let mut out = Vec::new();
    let title = if model.demo {
        "PIM Tray — Demo (simulated tenants)"
    } else {
        "PIM Tray"
    };
    out.push(MenuNode::info(&mut n, title));
    match &model.status {
        Status::SignedOut => out.push(MenuNode::info(&mut n, "Not signed in")),
        Status::Loading => out.push(MenuNode::info(&mut n, "Loading…")),
        Status::Error(msg) => out.push(MenuNode::info(&mut n, format!("⚠ {}", shorten(msg, 90)))),
        Status::Ready => {}
    }
    if let Some(w) = &model.warning {
        out.push(MenuNode::info(&mut n, format!("⚠ {}", shorten(w, 90))));
    }
    if let Some(dc) = &model.device_code {
        out.push(MenuNode::info(
            &mut n,
            format!("Sign-in code: {}", dc.user_code),
        ));
        out.push(MenuNode::info(
            &mut n,
            format!("Enter it at {}", shorten(&dc.verification_uri, 90)),
        ));
    }
    crate::approvals::section(&mut out, &mut n, model);
    crate::shortcuts::favourites(&mut out, &mut n, model, &extras.favourites, now);
    if !model.accounts.is_empty() {
        crate::shortcuts::bundles(&mut out, &extras.bundles);
    }
    let many_sections =
        model.accounts.len() > 1 || model.accounts.iter().any(|a| a.tenants.len() > 1);
    for account in &model.accounts {
        for tenant in &account.tenants {
            out.push(MenuNode::Separator);
            if many_sections {
                out.push(MenuNode::info(
                    &mut n,
                    format!("{} · {}", tenant.name, account.upn),
                ));
            }
            if let Some(err) = &tenant.error {
                out.push(MenuNode::info(&mut n, format!("⚠ {}", shorten(err, 90))));
                continue;
            }
            // Partly read: say what is missing above the roles that could be read.
            for w in &tenant.warnings {
                out.push(MenuNode::info(&mut n, format!("⚠ {}", shorten(w, 90))));
            }
            let ended = crate::recent::recently_ended(&account.changes, &tenant.roles, now);
            tenant_section(&mut out, &mut n, &tenant.roles, &ended, now);
        }
    }
    out.push(MenuNode::Separator);
    let signed_in = !model.accounts.is_empty();
    if signed_in {
        out.push(MenuNode::item(MenuAction::History.id(), "History…"));
        if model.any_activation() {
            out.push(MenuNode::item(
                MenuAction::SaveBundle.id(),
                "Save active roles as a bundle…",
            ));
        }
    }
    out.push(MenuNode::item(MenuAction::Refresh.id(), "Refresh"));
    if signed_in {
        for a in &model.accounts {
            out.push(MenuNode::item(
                MenuAction::SignOut(a.key.clone()).id(),
                format!("Sign out {}", a.upn),
            ));
        }
    } else {
        out.push(MenuNode::item(MenuAction::SignIn.id(), "Sign in…"));
        out.push(MenuNode::item(
            MenuAction::SignInCode.id(),
            "Sign in with a code…",
        ));
    }
    out.push(MenuNode::item(MenuAction::Settings.id(), "Settings…"));
    out.push(MenuNode::item(MenuAction::Quit.id(), "Quit"));
    out
}

fn tenant_section(
    out: &mut Vec<MenuNode>,
    n: &mut usize,
    roles: &[RoleView],
    ended: &[crate::recent::Ended<'_>],
    now: OffsetDateTime,
) {
    let active: Vec<&RoleView> = roles
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                RoleState::Active { .. } | RoleState::Assigned { .. }
            )
        })
        .collect();
    let waiting: Vec<&RoleView> = roles
        .iter()
        .filter(|r| matches!(r.state, RoleState::Pending | RoleState::Scheduled { .. }))
        .collect();
    // An eligible role that is already active or requested is not offered again.
    let busy = |r: &RoleView| {
        roles.iter().any(|o| {
            !matches!(o.state, RoleState::Eligible)
                && o.kind == r.kind
                && o.name == r.name
                && o.scope == r.scope
        })
    };
    let mut eligible: BTreeMap<RoleKind, Vec<&RoleView>> = BTreeMap::new();
    for r in roles
        .iter()
        .filter(|r| matches!(r.state, RoleState::Eligible) && !busy(r))
    {
        eligible.entry(r.kind).or_default().push(r);
    }

    out.push(MenuNode::info(n, "Active"));
    if active.is_empty() {
        out.push(MenuNode::info(n, "  (none)"));
    }
    for r in active {
        let (deactivatable_from, end, ready) = match r.state {
            RoleState::Assigned { end: None } => {
                out.push(MenuNode::info(n, format!("{} — permanent", r.title())));
                continue;
            }
            RoleState::Assigned { end: Some(end) } => {
                out.push(MenuNode::info(
                    n,
                    format!("{} — assigned, {}", r.title(), time_left(end, now)),
                ));
                continue;
            }
            RoleState::Active {
                deactivatable_from,
                end,
                ready,
            } => (deactivatable_from, end, ready_label(ready)),
            _ => continue,
        };
        match end {
            None => out.push(MenuNode::info(n, format!("{} — active{ready}", r.title()))),
            Some(end) => {
                // Extending re-activates, so both wait for PIM's five-minute guard (the
                // core's rule: `deactivatable_from`).
                let guard_left = deactivatable_from
                    .map(|from| from - now)
                    .filter(|left| *left > Duration::ZERO);
                let guarded = |action: MenuAction, verb: &str| match guard_left {
                    Some(left) => MenuNode::Item {
                        id: action.id(),
                        label: format!(
                            "{verb} (possible in {} min: PIM keeps new activations 5 min)",
                            (left.whole_seconds() + 59) / 60
                        ),
                        enabled: false,
                    },
                    None => MenuNode::item(action.id(), verb),
                };
                let extend = guarded(MenuAction::Extend(r.key.clone()), "Extend");
                let deactivate = guarded(MenuAction::Deactivate(r.key.clone()), "Deactivate");
                out.push(MenuNode::Submenu {
                    label: format!("{} — {}{ready}", r.title(), time_left(end, now)),
                    children: vec![extend, deactivate],
                });
            }
        }
    }
    if !waiting.is_empty() {
        out.push(MenuNode::info(n, "Pending"));
        for r in waiting {
            let what = match r.state {
                RoleState::Scheduled { start: Some(s) } => {
                    format!("starts in {}", time_left(s, now).trim_end_matches(" left"))
                }
                RoleState::Scheduled { start: None } => "scheduled".to_owned(),
                _ => "awaiting approval".to_owned(),
            };
            out.push(MenuNode::Submenu {
                label: format!("{} — {what}", r.title()),
                children: vec![MenuNode::item(
                    MenuAction::Cancel(r.key.clone()).id(),
                    "Cancel request",
                )],
            });
        }
    }
    crate::recent::section(out, n, ended, now);
    if !eligible.is_empty() {
        out.push(MenuNode::info(n, "Activate"));
        for (kind, list) in eligible {
            out.push(MenuNode::Submenu {
                label: kind.heading().to_owned(),
                children: list
                    .into_iter()
                    .map(|r| MenuNode::item(MenuAction::Activate(r.key.clone()).id(), r.title()))
                    .collect(),
            });
        }
    }
}

/// What an active role's label adds about whether it works everywhere yet.
fn ready_label(ready: Ready) -> &'static str {
    match ready {
        Ready::Unknown => "",
        Ready::Applying => " · applying…",
        Ready::Ready { .. } => " · ready",
        Ready::NoProbe => " · can take a few minutes to apply",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{AccountView, TenantView};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

    fn role(
        key: &str,
        kind: RoleKind,
        name: &str,
        scope: Option<&str>,
        state: RoleState,
    ) -> RoleView {
        RoleView {
            key: key.into(),
            kind,
            name: name.into(),
            scope: scope.map(Into::into),
            tenant_id: "t1".into(),
            state,
        }
    }

    fn model(roles: Vec<RoleView>, demo: bool) -> TrayModel {
        TrayModel {
            demo,
            skew_seconds: 0,
            warning: None,
            device_code: None,
            approvals: Vec::new(),
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
        }
    }

    fn labels(nodes: &[MenuNode]) -> Vec<String> {
        let mut v = Vec::new();
        for node in nodes {
            match node {
                MenuNode::Item { label, .. } => v.push(label.clone()),
                MenuNode::Submenu { label, children } => {
                    v.push(label.clone());
                    v.extend(
                        labels(children)
                            .into_iter()
                            .map(|l| format!("{label} > {l}")),
                    );
                }
                MenuNode::Separator => v.push("---".into()),
            }
        }
        v
    }

    fn find<'a>(nodes: &'a [MenuNode], prefix: &str) -> Option<&'a MenuNode> {
        nodes.iter().find_map(|node| match node {
            MenuNode::Submenu { label, children } => {
                if label.starts_with(prefix) {
                    Some(node)
                } else {
                    find(children, prefix)
                }
            }
            _ if node.label().is_some_and(|l| l.starts_with(prefix)) => Some(node),
            _ => None,
        })
    }

    #[test]
    fn sections_show_active_pending_and_eligible_by_kind() {
        let m = model(
            vec![
                role(
                    "a",
                    RoleKind::EntraRole,
                    "Global Reader",
                    None,
                    RoleState::Eligible,
                ),
                role(
                    "b",
                    RoleKind::Group,
                    "SQL Prod Admins",
                    Some("member"),
                    RoleState::Eligible,
                ),
                role(
                    "c",
                    RoleKind::AzureResource,
                    "Contributor",
                    Some("Prod"),
                    RoleState::Eligible,
                ),
                role(
                    "d",
                    RoleKind::EntraRole,
                    "User Administrator",
                    Some("Europe"),
                    RoleState::Active {
                        deactivatable_from: Some(NOW - Duration::minutes(45)),
                        end: Some(NOW + Duration::minutes(10)),
                        ready: Ready::Unknown,
                    },
                ),
                role(
                    "e",
                    RoleKind::EntraRole,
                    "Directory Readers",
                    None,
                    RoleState::Assigned { end: None },
                ),
                role(
                    "r",
                    RoleKind::EntraRole,
                    "Reports Reader",
                    None,
                    RoleState::Assigned {
                        end: Some(NOW + Duration::days(7)),
                    },
                ),
                role(
                    "f",
                    RoleKind::EntraRole,
                    "Global Administrator",
                    None,
                    RoleState::Pending,
                ),
            ],
            true,
        );
        let menu = build(&m, NOW);
        let l = labels(&menu);
        assert_eq!(l[0], "PIM Tray — Demo (simulated tenants)");
        assert!(
            l.contains(&"User Administrator (Europe) — 10 min left > Extend".to_owned()),
            "{l:#?}"
        );
        assert!(l.contains(&"User Administrator (Europe) — 10 min left > Deactivate".to_owned()));
        assert!(l.contains(&"Directory Readers — permanent".to_owned()));
        assert!(
            l.contains(&"Reports Reader — assigned, 168 h left".to_owned()),
            "{l:#?}"
        );
        assert!(
            l.contains(&"Global Administrator — awaiting approval > Cancel request".to_owned())
        );
        assert!(l.contains(&"Entra roles > Global Reader".to_owned()));
        assert!(l.contains(&"Groups > SQL Prod Admins (member)".to_owned()));
        assert!(l.contains(&"Azure resources > Contributor — Prod".to_owned()));
        let tail: Vec<_> = l.iter().rev().take(4).rev().cloned().collect();
        assert_eq!(
            tail,
            [
                "Refresh",
                "Sign out adele@contoso.onmicrosoft.com",
                "Settings…",
                "Quit"
            ]
        );
        // Action ids round-trip.
        let Some(MenuNode::Item { id, .. }) = find(&menu, "Global Reader") else {
            panic!("no Global Reader item");
        };
        assert_eq!(
            MenuAction::parse(id),
            Some(MenuAction::Activate("a".into()))
        );
    }

    #[test]
    fn deactivate_is_disabled_with_the_reason_during_the_first_five_minutes() {
        let m = model(
            vec![role(
                "x",
                RoleKind::EntraRole,
                "Global Reader",
                None,
                RoleState::Active {
                    // Activated two minutes ago.
                    deactivatable_from: Some(NOW + Duration::minutes(3)),
                    end: Some(NOW + Duration::hours(1)),
                    ready: Ready::Unknown,
                },
            )],
            false,
        );
        let menu = build(&m, NOW);
        let Some(MenuNode::Item { label, enabled, id }) = find(&menu, "Deactivate") else {
            panic!("no deactivate");
        };
        assert!(matches!(
            find(&menu, "Extend (possible in 3 min"),
            Some(MenuNode::Item { enabled: false, .. })
        ));
        assert!(!enabled);
        assert!(label.contains("in 3 min"), "{label}");
        assert_eq!(
            MenuAction::parse(id),
            Some(MenuAction::Deactivate("x".into()))
        );
        assert!(find(&menu, "Global Reader — 1 h left").is_some());
        // An active role is not offered for activation again.
        assert!(find(&menu, "Entra roles").is_none());
        // Six minutes later it is enabled.
        let menu = build(&m, NOW + Duration::minutes(4));
        assert!(matches!(
            find(&menu, "Deactivate"),
            Some(MenuNode::Item { enabled: true, .. })
        ));
    }

    #[test]
    fn signed_out_menu_offers_sign_in_and_plain_title() {
        let m = TrayModel::default();
        let l = labels(&build(&m, NOW));
        assert_eq!(
            l,
            [
                "PIM Tray",
                "Not signed in",
                "---",
                "Refresh",
                "Sign in…",
                "Sign in with a code…",
                "Settings…",
                "Quit"
            ]
        );
        assert_eq!(
            MenuAction::parse("sign-in-code"),
            Some(MenuAction::SignInCode)
        );
    }

    #[test]
    fn a_waiting_device_code_sign_in_shows_the_code_and_where_to_enter_it() {
        let m = TrayModel {
            device_code: Some(crate::view::DeviceCodeView {
                verification_uri: "https://microsoft.com/devicelogin".into(),
                user_code: "ABCD-EFGH".into(),
            }),
            ..TrayModel::default()
        };
        let menu = build(&m, NOW);
        let l = labels(&menu);
        assert!(l.contains(&"Sign-in code: ABCD-EFGH".to_owned()), "{l:?}");
        assert!(
            l.contains(&"Enter it at https://microsoft.com/devicelogin".to_owned()),
            "{l:?}"
        );
        assert!(matches!(
            find(&menu, "Sign-in code: ABCD-EFGH"),
            Some(MenuNode::Item { enabled: false, .. })
        ));
    }

    #[test]
    fn each_account_gets_its_own_sections_and_sign_out() {
        let mut m = model(vec![], false);
        let mut other = m.accounts[0].clone();
        other.upn = "megan@fabrikam.onmicrosoft.us".into();
        other.key = "usgov:c:o2.t2".into();
        other.tenants[0].name = "Fabrikam (US Gov)".into();
        m.accounts.push(other);
        let l = labels(&build(&m, NOW));
        let contoso = l
            .iter()
            .position(|x| x == "Contoso · adele@contoso.onmicrosoft.com")
            .expect("first account's section");
        let fabrikam = l
            .iter()
            .position(|x| x == "Fabrikam (US Gov) · megan@fabrikam.onmicrosoft.us")
            .expect("second account's section");
        assert!(contoso < fabrikam, "{l:?}");
        assert!(l.contains(&"Sign out adele@contoso.onmicrosoft.com".to_owned()));
        assert!(l.contains(&"Sign out megan@fabrikam.onmicrosoft.us".to_owned()));
        assert!(!l.contains(&"Sign in…".to_owned()));
        // Each "Sign out" names its account, so the click signs out that one only.
        let menu = build(&m, NOW);
        match find(&menu, "Sign out megan@") {
            Some(MenuNode::Item { id, .. }) => assert_eq!(
                MenuAction::parse(id),
                Some(MenuAction::SignOut("usgov:c:o2.t2".into()))
            ),
            other => panic!("no sign-out item: {other:?}"),
        }
    }

    #[test]
    fn tenants_get_headers_when_there_are_several() {
        let mut m = model(vec![], false);
        m.accounts[0].tenants.push(TenantView {
            warnings: Vec::new(),
            id: "t2".into(),
            name: "Fabrikam".into(),
            roles: vec![],
            error: Some("cannot read roles".into()),
        });
        let l = labels(&build(&m, NOW));
        assert!(l.contains(&"Contoso · adele@contoso.onmicrosoft.com".to_owned()));
        assert!(l.contains(&"Fabrikam · adele@contoso.onmicrosoft.com".to_owned()));
        assert!(l.contains(&"⚠ cannot read roles".to_owned()));
    }

    #[test]
    fn a_partly_read_tenant_says_what_is_missing_above_its_roles() {
        let mut m = model(
            vec![role(
                "a",
                RoleKind::EntraRole,
                "Global Reader",
                None,
                RoleState::Eligible,
            )],
            false,
        );
        m.accounts[0].tenants[0].warnings = vec!["Groups could not be read: forbidden".into()];
        let l = labels(&build(&m, NOW));
        let w = l
            .iter()
            .position(|x| x == "⚠ Groups could not be read: forbidden")
            .expect("warning shown");
        let r = l
            .iter()
            .position(|x| x.contains("Global Reader"))
            .expect("role still shown");
        assert!(w < r, "{l:?}");
    }

    #[test]
    fn time_left_formats() {
        assert_eq!(
            time_left(NOW + Duration::seconds(30), NOW),
            "less than a minute left"
        );
        assert_eq!(time_left(NOW + Duration::seconds(61), NOW), "1 min left");
        assert_eq!(
            time_left(NOW + Duration::seconds(120 * 60 + 20), NOW),
            "2 h left"
        );
        assert_eq!(time_left(NOW + Duration::minutes(60), NOW), "1 h left");
        assert_eq!(
            time_left(NOW + Duration::minutes(95), NOW),
            "1 h 35 min left"
        );
        assert_eq!(time_left(NOW - Duration::minutes(1), NOW), "ending");
    }

    #[test]
    fn a_standing_warning_is_shown_under_the_title() {
        let m = TrayModel {
            warning: Some("keychain unavailable: the sign-in is kept in memory only".into()),
            device_code: None,
            ..TrayModel::default()
        };
        let l = labels(&build(&m, NOW));
        assert_eq!(
            l[2],
            "⚠ keychain unavailable: the sign-in is kept in memory only"
        );
    }

    #[test]
    fn long_errors_are_shortened_to_one_line() {
        assert_eq!(shorten("abc\ndef", 10), "abc");
        assert_eq!(shorten("abcdefghijkl", 6), "abcde…");
    }

    #[test]
    fn unknown_ids_do_not_parse() {
        assert_eq!(MenuAction::parse("info:3"), None);
        assert_eq!(MenuAction::parse("activate:"), None);
        assert_eq!(MenuAction::parse("quit"), Some(MenuAction::Quit));
    }

    #[test]
    fn active_roles_say_whether_they_work_everywhere_yet() {
        let active = |key: &str, name: &str, ready: Ready| {
            role(
                key,
                RoleKind::EntraRole,
                name,
                None,
                RoleState::Active {
                    deactivatable_from: Some(NOW - Duration::minutes(6)),
                    end: Some(NOW + Duration::minutes(50)),
                    ready,
                },
            )
        };
        let m = model(
            vec![
                active("a", "Global Reader", Ready::Applying),
                active(
                    "b",
                    "Security Reader",
                    Ready::Ready {
                        after: Some(Duration::seconds(130)),
                    },
                ),
                active("c", "Exchange Administrator", Ready::NoProbe),
                active("d", "Reports Reader", Ready::Unknown),
            ],
            false,
        );
        let l = labels(&build(&m, NOW));
        for want in [
            "Global Reader — 50 min left · applying… > Deactivate",
            "Security Reader — 50 min left · ready > Deactivate",
            "Exchange Administrator — 50 min left · can take a few minutes to apply > Deactivate",
            "Reports Reader — 50 min left > Deactivate",
        ] {
            assert!(l.contains(&want.to_owned()), "{want}: {l:#?}");
        }
    }
}

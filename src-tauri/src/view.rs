//! The view model the shell renders: what the tray menu, the reminders and the windows need to
//! know about the signed-in accounts and their roles. It is derived from pim-core's snapshots
//! (see `engine.rs`) and carries no secrets.

use time::OffsetDateTime;

/// The three kinds of PIM roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoleKind {
    /// A Microsoft Entra directory role.
    EntraRole,
    /// Membership or ownership of a PIM-enabled group.
    Group,
    /// An Azure resource role (management group, subscription, resource group, resource).
    AzureResource,
}

impl RoleKind {
    /// The heading the menu shows for this kind.
    pub fn heading(self) -> &'static str {
        match self {
            RoleKind::EntraRole => "Entra roles",
            RoleKind::Group => "Groups",
            RoleKind::AzureResource => "Azure resources",
        }
    }

    /// Stable identifier used in DTOs (`entraRole`, `group`, `azureResource`).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::EntraRole => "entraRole",
            RoleKind::Group => "group",
            RoleKind::AzureResource => "azureResource",
        }
    }
}

/// Where a role stands for the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleState {
    /// Can be activated.
    Eligible,
    /// Activated by the user (can be extended and deactivated).
    Active {
        /// When PIM lets the user deactivate or extend it at the earliest (the core's rule:
        /// [`pim_core::ActiveAssignment::deactivatable_from`]); None when unknown.
        deactivatable_from: Option<OffsetDateTime>,
        /// When it ends (None when unknown).
        end: Option<OffsetDateTime>,
        /// Whether it works everywhere yet (activations made here are followed).
        ready: Ready,
    },
    /// Assigned by an administrator (permanent or time-bound): held, but not the user's to
    /// extend or deactivate.
    Assigned {
        /// When the assignment ends (None: permanent).
        end: Option<OffsetDateTime>,
    },
    /// A request waits for approval.
    Pending,
    /// An approved or self-activated request starts later.
    Scheduled {
        /// When it starts.
        start: Option<OffsetDateTime>,
    },
}

/// Whether an activation works everywhere yet ("ready, not just active").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ready {
    /// Not followed (activated elsewhere, or the probes gave up): just "active".
    #[default]
    Unknown,
    /// Active, the service is still applying it.
    Applying,
    /// A probe saw it work, this long after it was activated.
    Ready {
        /// From the start of the following to the probe that saw it.
        after: Option<time::Duration>,
    },
    /// No probe can tell (e.g. a role scoped to an administrative unit): it can take a few
    /// minutes to apply.
    NoProbe,
}

/// What the role's policy asks for, as far as it is known: what the activation window shows
/// (sent as is over IPC, as `PolicyView` in `ui/ipc-types.d.ts`).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// False when the policy could not be read (403): the service decides at submit time.
    pub known: bool,
    /// Longest activation to offer, in minutes (the policy's maximum, or PIM's own day when
    /// the policy is unknown: [`pim_core::ActivationForm`]).
    pub max_duration_minutes: u32,
    /// A justification is required.
    pub justification: bool,
    /// Ticket number and system are required.
    pub ticket: bool,
    /// Multi-factor authentication is required.
    pub mfa: bool,
    /// Authentication context (conditional access) id required, e.g. `c1`.
    pub authentication_context: Option<String>,
    /// An approver must approve the request.
    pub approval: bool,
}

/// What the activation window starts from: the role (as found once, in its session), its
/// policy and the duration to suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormView {
    /// The role.
    pub role: RoleView,
    /// The policy.
    pub policy: PolicyView,
    /// Suggested duration in minutes (the user's default, within the policy).
    pub duration_minutes: u32,
}

/// One role of one account in one tenant, in one state.
///
/// The menu reads it, and it is sent as is over IPC (as `RoleView` in `ui/ipc-types.d.ts`):
/// its `Serialize` writes `key`, `kind` ([`RoleKind::as_str`]), `name`, `scope` and `title`
/// ([`RoleView::title`]); the tenant and the state stay in the tray.
#[cfg_attr(test, derive(ts_rs::TS), ts(as = "RoleViewJson"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleView {
    /// Stable key the shell uses in menu ids and IPC (no secrets, no spaces needed).
    pub key: String,
    /// Kind of role.
    pub kind: RoleKind,
    /// Display name (role, group or Azure role name), as the user knows it.
    pub name: String,
    /// Human-readable scope: administrative unit, subscription, resource group, or `member` /
    /// `owner` for groups. None for directory-wide roles.
    pub scope: Option<String>,
    /// Tenant id.
    pub tenant_id: String,
    /// State.
    pub state: RoleState,
}

impl RoleView {
    /// The label a user recognises: `User Administrator (Europe)`, `Contributor — Prod`,
    /// `SQL Prod Admins (member)`.
    pub fn title(&self) -> String {
        match (&self.kind, &self.scope) {
            (_, None) => self.name.clone(),
            (RoleKind::AzureResource, Some(s)) => format!("{} — {s}", self.name),
            (_, Some(s)) => format!("{} ({s})", self.name),
        }
    }

    /// End of an activation with an end time.
    pub fn active_end(&self) -> Option<OffsetDateTime> {
        match self.state {
            RoleState::Active { end, .. } => end,
            _ => None,
        }
    }
}

impl serde::Serialize for RoleView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut r = s.serialize_struct("RoleView", 5)?;
        r.serialize_field("key", &self.key)?;
        r.serialize_field("kind", self.kind.as_str())?;
        r.serialize_field("name", &self.name)?;
        r.serialize_field("scope", &self.scope)?;
        r.serialize_field("title", &self.title())?;
        r.end()
    }
}

/// The shape [`RoleView`]'s `Serialize` writes, for `ui/ipc-types.d.ts` only (ts-rs derives
/// `RoleView`'s type from it; `tests::a_role_is_sent_as_its_key_kind_name_scope_and_title`
/// holds the two together).
#[cfg(test)]
#[derive(ts_rs::TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
struct RoleViewJson {
    /// Key for later calls.
    key: String,
    /// `entraRole`, `group` or `azureResource`.
    #[ts(type = "\"entraRole\" | \"group\" | \"azureResource\"")]
    kind: String,
    /// Display name.
    name: String,
    /// Human-readable scope, if any.
    scope: Option<String>,
    /// Name with scope, as in the menu.
    title: String,
}

/// A tenant the account belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantView {
    /// Tenant id.
    pub id: String,
    /// Display name (`Contoso`).
    pub name: String,
    /// Every role of the user in this tenant (eligible, active, pending, scheduled).
    pub roles: Vec<RoleView>,
    /// A problem reading this tenant, shown instead of its roles.
    pub error: Option<String>,
    /// Parts that could not be read (the roles listed are then incomplete), in words.
    pub warnings: Vec<String>,
}

/// A signed-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    /// Account key (`pim_auth::Account::key`): cloud, app, user and home tenant.
    pub key: String,
    /// User principal name.
    pub upn: String,
    /// Tenants, home first.
    pub tenants: Vec<TenantView>,
    /// The most recent changes the core saw for this account (approved, denied, ended,
    /// activated), numbered; the reminder loop shows each once.
    pub changes: Vec<pim_core::Change>,
}

/// Sign-in and loading state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// Nobody is signed in.
    #[default]
    SignedOut,
    /// Signing in or loading the first time.
    Loading,
    /// Data is shown.
    Ready,
    /// The last refresh failed; the message says what to do.
    Error(String),
}

/// Everything the tray shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrayModel {
    /// Demo mode (embedded simulator).
    pub demo: bool,
    /// Sign-in and loading state.
    pub status: Status,
    /// Signed-in accounts.
    pub accounts: Vec<AccountView>,
    /// The service's clock minus the local clock, in seconds (0 unless the local clock is off
    /// by over a minute); time left and the deactivation guard follow the service's clock.
    pub skew_seconds: i64,
    /// A standing problem the user should know about (e.g. no keychain: the sign-in is kept
    /// in memory only).
    pub warning: Option<String>,
    /// A device-code sign-in waiting for the user: where to go and the code to enter.
    pub device_code: Option<DeviceCodeView>,
    /// Other users' requests waiting for the signed-in accounts as approvers, oldest first
    /// (read with every refresh and every few minutes: `approvals.rs`).
    pub approvals: Vec<ApprovalView>,
}

/// A request in an open account's approver's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalView {
    /// Key of the account that sees it (the one that decides it).
    pub account: String,
    /// That account's sign-in name.
    pub upn: String,
    /// The request, as the core reads it (`item.id` is what `pim approve` takes).
    pub item: pim_core::ApprovalItem,
}

impl ApprovalView {
    /// Its id (the core's: kind, tenant, approval).
    pub fn id(&self) -> &str {
        &self.item.id
    }

    /// `Alex Wilber — Global Administrator` (groups with their access, Azure roles with
    /// their scope).
    pub fn title(&self) -> String {
        let what = match self.item.kind {
            pim_core::RoleKind::AzureResource if !self.item.scope.display_name.is_empty() => {
                format!("{} — {}", self.item.label(), self.item.scope.display_name)
            }
            _ => self.item.label(),
        };
        format!("{} — {what}", self.item.requester.name)
    }
}

/// The instructions of a device-code sign-in (no secret: the code only works with the
/// device code that pim-auth keeps).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceCodeView {
    /// Page to open, e.g. `https://microsoft.com/devicelogin`.
    pub verification_uri: String,
    /// Code to enter there.
    pub user_code: String,
}

impl TrayModel {
    /// Every role of every account, in menu order.
    pub fn roles(&self) -> impl Iterator<Item = &RoleView> {
        self.accounts
            .iter()
            .flat_map(|a| a.tenants.iter())
            .flat_map(|t| t.roles.iter())
    }

    /// The role with this key.
    pub fn role(&self, key: &str) -> Option<&RoleView> {
        self.roles().find(|r| r.key == key)
    }

    /// "Now" on the service's clock, given the local time.
    pub fn service_now(&self, local: OffsetDateTime) -> OffsetDateTime {
        local + time::Duration::seconds(self.skew_seconds)
    }

    /// The request with this id in any open account's inbox.
    pub fn approval(&self, id: &str) -> Option<&ApprovalView> {
        self.approvals.iter().find(|a| a.id() == id)
    }

    /// How many requests wait for a decision of mine now (the icon's badge).
    pub fn approvals_waiting(&self) -> usize {
        self.approvals.iter().filter(|a| a.item.actionable).count()
    }

    /// Whether any role is activated (drives the icon and reminders).
    pub fn any_activation(&self) -> bool {
        self.roles()
            .any(|r| matches!(r.state, RoleState::Active { end: Some(_), .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_sent_as_its_key_kind_name_scope_and_title() {
        let role = RoleView {
            key: "k".into(),
            kind: RoleKind::AzureResource,
            name: "Contributor".into(),
            scope: Some("Prod".into()),
            tenant_id: "t".into(),
            state: RoleState::Eligible,
        };
        let json = serde_json::to_value(&role).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"key": "k", "kind": "azureResource", "name": "Contributor",
                "scope": "Prod", "title": "Contributor — Prod"})
        );
        let directory_wide = RoleView {
            kind: RoleKind::EntraRole,
            scope: None,
            ..role
        };
        assert_eq!(
            serde_json::to_value(&directory_wide).expect("json"),
            serde_json::json!({"key": "k", "kind": "entraRole", "name": "Contributor",
                "scope": null, "title": "Contributor"})
        );
        // The UI's type names exactly these fields.
        let decl = <RoleView as ts_rs::TS>::decl(&ts_rs::Config::new());
        assert!(decl.starts_with("type RoleView = "), "{decl}");
        let serde_json::Value::Object(fields) = json else {
            panic!("an object")
        };
        for k in fields.keys() {
            assert!(decl.contains(&format!("\n{k}: ")), "{k} in {decl}");
        }
        assert_eq!(decl.matches(": ").count(), fields.len(), "{decl}");
    }
}

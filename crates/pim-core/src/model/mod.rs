//! One model for the three kinds of privileged access: Entra roles, PIM for Groups
//! membership/ownership, Azure resource roles.
//!
//! A [`Role`] is one row the user sees: something they are eligible for and/or hold, in one
//! tenant, at one scope, with its current [`RoleState`] and (once known) its [`Policy`].

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::duration::PimDuration;
use crate::policy::Policy;

mod snapshot;
pub use snapshot::{Account, ReadyState, Snapshot, TenantError, TenantSnapshot, Warning};

/// Declares an open (non-exhaustive) enum mirroring a service enum: parsed case-insensitively,
/// unknown values kept in `Unknown(String)`, serialised in the service's camelCase spelling.
macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// A value this version does not know (kept verbatim).
            Unknown(String),
        }

        impl $name {
            /// Parses case-insensitively; unknown text is kept in `Unknown`.
            pub fn parse(s: &str) -> Self {
                $( if s.eq_ignore_ascii_case($s) { return Self::$var; } )*
                Self::Unknown(s.to_owned())
            }
            /// The Graph (camelCase) spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$var => $s,)*
                    Self::Unknown(s) => s,
                }
            }
            /// The ARM (PascalCase) spelling.
            pub fn as_pascal(&self) -> String {
                let s = self.as_str();
                let mut c = s.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

open_enum! {
    /// `assignmentType` of an active instance.
    AssignmentType {
        /// Given directly by an admin (permanent or time-bound); cannot be deactivated by the user.
        Assigned = "assigned",
        /// Created by activating an eligibility.
        Activated = "activated",
    }
}

open_enum! {
    /// `memberType`: how the principal holds it.
    MemberType {
        /// Assigned to the user.
        Direct = "direct",
        /// Through a group.
        Group = "group",
        /// Inherited from a parent scope.
        Inherited = "inherited",
    }
}

open_enum! {
    /// PIM for Groups relationship (`accessId`).
    AccessId {
        /// Group membership.
        Member = "member",
        /// Group ownership.
        Owner = "owner",
    }
}

open_enum! {
    /// Schedule request action (`action` on Graph, `requestType` on ARM).
    Action {
        /// Activate an eligibility.
        SelfActivate = "selfActivate",
        /// End one's own activation.
        SelfDeactivate = "selfDeactivate",
        /// Ask to extend an expiring assignment.
        SelfExtend = "selfExtend",
        /// Ask to renew an expired assignment.
        SelfRenew = "selfRenew",
        /// Admin assigns.
        AdminAssign = "adminAssign",
        /// Admin updates.
        AdminUpdate = "adminUpdate",
        /// Admin removes.
        AdminRemove = "adminRemove",
        /// Admin extends.
        AdminExtend = "adminExtend",
        /// Admin renews.
        AdminRenew = "adminRenew",
    }
}

open_enum! {
    /// Request status (an open string on Graph; an enum on ARM).
    RequestStatus {
        /// Accepted (transient).
        Accepted = "accepted",
        /// Being evaluated (transient or waiting).
        PendingEvaluation = "pendingEvaluation",
        /// Accepted; waiting for the start time or still provisioning.
        Granted = "granted",
        /// Rejected by an approver.
        Denied = "denied",
        /// Transient.
        PendingProvisioning = "pendingProvisioning",
        /// Done.
        Provisioned = "provisioned",
        /// Being revoked.
        PendingRevocation = "pendingRevocation",
        /// Deactivated.
        Revoked = "revoked",
        /// Cancelled by the user.
        Canceled = "canceled",
        /// Failed.
        Failed = "failed",
        /// Waiting for approval then provisioning.
        PendingApprovalProvisioning = "pendingApprovalProvisioning",
        /// Waiting for an approver.
        PendingApproval = "pendingApproval",
        /// Failed: resource locked.
        FailedAsResourceIsLocked = "failedAsResourceIsLocked",
        /// Waiting for an administrator.
        PendingAdminDecision = "pendingAdminDecision",
        /// Approved by an administrator.
        AdminApproved = "adminApproved",
        /// Denied by an administrator.
        AdminDenied = "adminDenied",
        /// Timed out.
        TimedOut = "timedOut",
        /// Transient.
        ProvisioningStarted = "provisioningStarted",
        /// Invalid.
        Invalid = "invalid",
        /// Transient.
        PendingScheduleCreation = "pendingScheduleCreation",
        /// Transient.
        ScheduleCreated = "scheduleCreated",
        /// Transient.
        PendingExternalProvisioning = "pendingExternalProvisioning",
    }
}

impl RequestStatus {
    /// Waiting for a person (approver or admin): show as pending, offer cancel.
    pub fn needs_decision(&self) -> bool {
        matches!(
            self,
            RequestStatus::PendingApproval
                | RequestStatus::PendingAdminDecision
                | RequestStatus::PendingEvaluation
                | RequestStatus::PendingApprovalProvisioning
        )
    }
    /// Still in flight (not completed either way).
    pub fn is_open(&self) -> bool {
        self.needs_decision()
            || matches!(
                self,
                RequestStatus::Accepted
                    | RequestStatus::Granted
                    | RequestStatus::PendingProvisioning
                    | RequestStatus::PendingScheduleCreation
                    | RequestStatus::ScheduleCreated
                    | RequestStatus::ProvisioningStarted
                    | RequestStatus::PendingExternalProvisioning
                    | RequestStatus::AdminApproved
            )
    }
    /// Ended badly.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            RequestStatus::Denied
                | RequestStatus::AdminDenied
                | RequestStatus::Failed
                | RequestStatus::FailedAsResourceIsLocked
                | RequestStatus::TimedOut
                | RequestStatus::Invalid
        )
    }
}

/// Which kind of privileged access a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoleKind {
    /// Microsoft Entra (directory) role, via Graph.
    EntraRole,
    /// PIM for Groups membership or ownership, via Graph.
    Group,
    /// Azure resource role, via ARM.
    AzureResource,
}

impl RoleKind {
    /// `entraRole`, `group`, `azureResource`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::EntraRole => "entraRole",
            RoleKind::Group => "group",
            RoleKind::AzureResource => "azureResource",
        }
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoleKind::EntraRole => "Entra role",
            RoleKind::Group => "Group",
            RoleKind::AzureResource => "Azure role",
        })
    }
}

/// A tenant the user can work in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Tenant id (GUID).
    pub id: String,
    /// Display name (falls back to the default domain or the id).
    pub display_name: String,
    /// Default domain, e.g. `contoso.onmicrosoft.com`.
    pub default_domain: Option<String>,
    /// All verified domains known.
    pub domains: Vec<String>,
    /// The user's home tenant.
    pub is_home: bool,
}

impl Tenant {
    /// A tenant known only by id.
    pub fn from_id(id: &str, is_home: bool) -> Tenant {
        Tenant {
            id: id.to_owned(),
            display_name: id.to_owned(),
            default_domain: None,
            domains: Vec::new(),
            is_home,
        }
    }
    /// Whether `q` names this tenant (id, display name or a domain; case-insensitive).
    pub fn matches(&self, q: &str) -> bool {
        let q = q.trim();
        self.id.eq_ignore_ascii_case(q)
            || self.display_name.eq_ignore_ascii_case(q)
            || self
                .default_domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(q))
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(q))
    }
}

/// What a scope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScopeKind {
    /// The whole directory (`/`).
    Directory,
    /// An administrative unit.
    AdministrativeUnit,
    /// Another directory object or an app scope.
    DirectoryObject,
    /// A group (PIM for Groups).
    Group,
    /// Management group.
    ManagementGroup,
    /// Subscription.
    Subscription,
    /// Resource group.
    ResourceGroup,
    /// A single Azure resource.
    Resource,
}

/// Where a role applies, with a human name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// The id as the service spells it (`/`, `/administrativeUnits/..`, group id, ARM scope).
    pub id: String,
    /// Human name: "Directory", the AU's, group's, subscription's or resource group's name (the
    /// id when the name is unknown).
    pub display_name: String,
    /// What it is.
    pub kind: ScopeKind,
}

impl Scope {
    /// Infers the kind of an ARM scope from its path.
    pub fn arm_kind(id: &str) -> ScopeKind {
        let l = id.to_ascii_lowercase();
        let segs: Vec<&str> = l.trim_matches('/').split('/').collect();
        if l.contains("/providers/microsoft.management/managementgroups/") && segs.len() <= 4 {
            ScopeKind::ManagementGroup
        } else if segs.len() == 2 && segs[0] == "subscriptions" {
            ScopeKind::Subscription
        } else if segs.len() == 4 && segs[2] == "resourcegroups" {
            ScopeKind::ResourceGroup
        } else {
            ScopeKind::Resource
        }
    }
    /// Whether `q` names this scope (display name or id, case-insensitive; last id segment too).
    pub fn matches(&self, q: &str) -> bool {
        let q = q.trim();
        self.display_name.eq_ignore_ascii_case(q)
            || self.id.eq_ignore_ascii_case(q)
            || self
                .id
                .trim_end_matches('/')
                .eq_ignore_ascii_case(q.trim_end_matches('/'))
            || (!q.contains('/') && crate::wire::last_segment(&self.id) == q.to_ascii_lowercase())
            || (q.eq_ignore_ascii_case("directory") && self.kind == ScopeKind::Directory)
    }
}

/// A ticket reference for requests whose policy requires one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// Ticket number, e.g. `CHG-2231`.
    pub number: String,
    /// Ticketing system, e.g. `ServiceNow`.
    pub system: String,
}

/// The eligibility behind a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EligibleRole {
    /// Instance id (opaque).
    pub instance_id: Option<String>,
    /// Schedule id (for ARM activation: `linkedRoleEligibilityScheduleId`).
    pub schedule_id: Option<String>,
    /// Eligibility start.
    #[serde(with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    /// Eligibility end (`None` = permanent eligibility).
    #[serde(with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
    /// How it is held.
    pub member_type: Option<MemberType>,
}

/// An active instance (permanent or time-bound assignment, or an activation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveAssignment {
    /// Instance id (opaque).
    pub instance_id: Option<String>,
    /// Schedule id.
    pub schedule_id: Option<String>,
    /// `Activated` (can be deactivated) or `Assigned` (admin-given).
    pub assignment_type: Option<AssignmentType>,
    /// How it is held.
    pub member_type: Option<MemberType>,
    /// Start (`None` = since forever).
    #[serde(with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    /// End (`None` = permanent).
    #[serde(with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
    /// ARM: the eligibility schedule it came from (normalised to the last segment).
    pub linked_eligibility_schedule_id: Option<String>,
}

/// How long PIM keeps a new activation before it may be deactivated, or extended (which
/// deactivates and activates again): five minutes.
pub const DEACTIVATION_GUARD: time::Duration = time::Duration::minutes(5);

impl ActiveAssignment {
    /// Whether the user may deactivate it (an activation held directly).
    pub fn is_activation(&self) -> bool {
        matches!(self.assignment_type, Some(AssignmentType::Activated))
    }

    /// The earliest time PIM lets the user deactivate (or extend) it: its start plus
    /// [`DEACTIVATION_GUARD`]. `None` when the start is unknown, or so late that five minutes
    /// more leave the calendar: then the service decides.
    pub fn deactivatable_from(&self) -> Option<OffsetDateTime> {
        self.start?.checked_add(DEACTIVATION_GUARD)
    }
}

/// A schedule request (activation, deactivation, extension...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRequest {
    /// Request id (Graph) or resource name (ARM GUID).
    pub id: String,
    /// Full ARM resource id (ARM only).
    pub resource_id: Option<String>,
    /// What was asked.
    pub action: Option<Action>,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    /// Requested start.
    #[serde(with = "time::serde::rfc3339::option")]
    pub start: Option<OffsetDateTime>,
    /// Requested duration.
    pub duration: Option<PimDuration>,
    /// Requested end (explicit, or start + duration).
    #[serde(with = "time::serde::rfc3339::option")]
    pub end: Option<OffsetDateTime>,
    /// Justification given.
    pub justification: Option<String>,
    /// Ticket given.
    pub ticket: Option<Ticket>,
    /// Approval id when it needs approval.
    pub approval_id: Option<String>,
}

/// Where a row stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoleState {
    /// Can be activated.
    Eligible,
    /// Held now (activation or assignment); see [`Role::assignment`].
    Active,
    /// A request waits for approval; see [`Role::pending`].
    Pending,
    /// An accepted request starts later; see [`Role::pending`].
    Scheduled,
}

impl RoleState {
    /// `eligible`, `active`, `pending`, `scheduled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleState::Eligible => "eligible",
            RoleState::Active => "active",
            RoleState::Pending => "pending",
            RoleState::Scheduled => "scheduled",
        }
    }
}

/// What is known about a role's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum PolicyInfo {
    /// Not read yet (groups and Azure roles are read lazily; see `Session::policy`).
    NotLoaded,
    /// Read and understood.
    Known(Policy),
    /// Could not be read (no permission, service error): the server will still enforce it.
    Unknown {
        /// Why.
        reason: String,
    },
}

impl PolicyInfo {
    /// The policy when known.
    pub fn known(&self) -> Option<&Policy> {
        match self {
            PolicyInfo::Known(p) => Some(p),
            _ => None,
        }
    }
}

/// One row: a role (or group relationship, or Azure role) at a scope in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Kind.
    pub kind: RoleKind,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant display name.
    pub tenant_name: String,
    /// Display name of the role, the group, or the Azure role.
    pub name: String,
    /// What the requests name: Entra `roleDefinitionId`, group `accessId` (`member`/`owner`),
    /// or the full ARM role definition id.
    pub role_definition_id: String,
    /// Scope (directory, AU, group, subscription, resource group, ...).
    pub scope: Scope,
    /// Entra app scope, when the eligibility names one instead of a directory scope.
    pub app_scope_id: Option<String>,
    /// Groups: member or owner.
    pub access: Option<AccessId>,
    /// Current state.
    pub state: RoleState,
    /// The eligibility, if any (a permanent assignment has none).
    pub eligibility: Option<EligibleRole>,
    /// The active instance, if held now.
    pub assignment: Option<ActiveAssignment>,
    /// Open requests (pending approval, scheduled), newest first.
    pub pending: Vec<ScheduleRequest>,
    /// The role's policy.
    pub policy: PolicyInfo,
}

impl Role {
    /// The earliest time, not before `now`, at which deactivating or extending this role's
    /// activation can succeed: `now` once PIM's five-minute guard has passed (or when it
    /// cannot be known: no activation or no start), else the end of the guard. The CLI, the
    /// core's own check before sending and the tray's menu all ask this.
    pub fn deactivatable_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        self.assignment
            .as_ref()
            .and_then(ActiveAssignment::deactivatable_from)
            .filter(|from| *from > now)
            .unwrap_or(now)
    }

    /// How long an extension asks for when the caller names no duration: the length the
    /// activation ran (from its start to its end), capped at the policy's maximum (PIM's
    /// [`PimDuration::MAX_ACTIVATION`] when the policy is unknown); [`default_duration`] when
    /// that length is unknown. Both faces (the CLI's `pim extend` without `--duration`, the
    /// tray's Extend) use this one rule.
    pub fn extend_duration(&self, policy: Option<&Policy>) -> PimDuration {
        let ran = self
            .assignment
            .as_ref()
            .and_then(|a| Some(a.end? - a.start?))
            .filter(|d| d.is_positive())
            .map(PimDuration::from_time);
        let max = policy
            .and_then(|p| p.max_duration)
            .unwrap_or(PimDuration::MAX_ACTIVATION);
        match ran {
            Some(d) => d.clamp(
                PimDuration::MIN_ACTIVATION,
                max.max(PimDuration::MIN_ACTIVATION),
            ),
            None => default_duration(policy),
        }
    }

    /// Stable identity of the row: kind, tenant, role definition, scope, access (lower-case).
    pub fn key(&self) -> String {
        // ARM role definition ids come with or without the subscription prefix: compare the
        // role GUID only.
        let rid = match self.kind {
            RoleKind::AzureResource => crate::wire::last_segment(&self.role_definition_id),
            _ => self.role_definition_id.to_ascii_lowercase(),
        };
        format!(
            "{}|{}|{}|{}|{}",
            self.kind.as_str(),
            self.tenant_id.to_ascii_lowercase(),
            rid,
            self.scope.id.to_ascii_lowercase().trim_end_matches('/'),
            self.access.as_ref().map(|a| a.as_str()).unwrap_or("")
        )
    }

    /// Name shown to users: the display name, plus `(member)`/`(owner)` for groups.
    pub fn label(&self) -> String {
        match &self.access {
            Some(a) if self.kind == RoleKind::Group => format!("{} ({})", self.name, a),
            _ => self.name.clone(),
        }
    }

    /// "Name — scope (tenant)", used when listing candidates.
    pub fn describe(&self) -> String {
        format!(
            "{} — {} ({})",
            self.label(),
            self.scope.display_name,
            self.tenant_name
        )
    }

    /// When the current state starts (activation start, scheduled start).
    pub fn starts_at(&self) -> Option<OffsetDateTime> {
        match self.state {
            RoleState::Active => self.assignment.as_ref().and_then(|a| a.start),
            RoleState::Pending | RoleState::Scheduled => self.pending.first().and_then(|p| p.start),
            RoleState::Eligible => None,
        }
    }

    /// When the current state ends: activation end (`None` = permanent), end of a scheduled
    /// request; `None` for eligible and pending rows.
    pub fn ends_at(&self) -> Option<OffsetDateTime> {
        match self.state {
            RoleState::Active => self.assignment.as_ref().and_then(|a| a.end),
            RoleState::Scheduled => self.pending.first().and_then(|p| p.end),
            _ => None,
        }
    }

    /// Time left in the current state at `now` (activation or scheduled end); `None` when
    /// there is no end (permanent, eligible, pending).
    pub fn time_left(&self, now: OffsetDateTime) -> Option<time::Duration> {
        self.ends_at().map(|e| e - now)
    }

    /// Open request waiting for approval, if any.
    pub fn pending_request(&self) -> Option<&ScheduleRequest> {
        self.pending.iter().find(|r| r.status.is_open())
    }

    /// Recomputes `state` from assignment and pending requests at time `now`.
    pub fn recompute_state(&mut self, now: OffsetDateTime) {
        self.state = if self.assignment.is_some() {
            RoleState::Active
        } else if self.pending.iter().any(|r| r.status.needs_decision()) {
            RoleState::Pending
        } else if self
            .pending
            .iter()
            .any(|r| r.status.is_open() && r.start.is_some_and(|s| s > now))
        {
            RoleState::Scheduled
        } else {
            RoleState::Eligible
        };
    }
}

/// What to send when activating.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivationRequest {
    /// Justification (required by most policies).
    pub justification: Option<String>,
    /// Ticket (required by some policies).
    pub ticket: Option<Ticket>,
    /// Duration; `None` = [`default_duration`] for the policy.
    pub duration: Option<PimDuration>,
    /// Start; `None` = now (server-corrected). A future start schedules the activation.
    pub start: Option<OffsetDateTime>,
}

/// Default activation length: the policy's maximum capped at one hour (one hour when unknown).
pub fn default_duration(policy: Option<&Policy>) -> PimDuration {
    let hour = PimDuration::from_hours(1);
    match policy.and_then(|p| p.max_duration) {
        Some(max) if max < hour => max,
        _ => hour,
    }
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "outcome"
)]
pub enum Outcome {
    /// Active now.
    Active {
        /// Until when (`None` when not known yet).
        #[serde(with = "time::serde::rfc3339::option")]
        until: Option<OffsetDateTime>,
        /// The request.
        request_id: String,
    },
    /// Waiting for an approver / admin.
    PendingApproval {
        /// The request (cancel it with `Session::cancel`).
        request_id: String,
    },
    /// Accepted; starts later.
    Scheduled {
        /// Start.
        #[serde(with = "time::serde::rfc3339::option")]
        start: Option<OffsetDateTime>,
        /// The request.
        request_id: String,
    },
    /// Accepted, still being provisioned (check again shortly).
    Submitted {
        /// The request.
        request_id: String,
        /// The status as reported.
        status: String,
    },
    /// Deactivated.
    Deactivated {
        /// The request (empty when nothing had to be sent).
        request_id: String,
    },
    /// Cancelled.
    Canceled {
        /// The request.
        request_id: String,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fmt_t = |t: &Option<OffsetDateTime>| {
            t.map(crate::wire::format_datetime)
                .unwrap_or_else(|| "unknown".into())
        };
        match self {
            Outcome::Active { until, request_id } => {
                write!(f, "active until {} (request {request_id})", fmt_t(until))
            }
            Outcome::PendingApproval { request_id } => {
                write!(f, "pending approval (request {request_id})")
            }
            Outcome::Scheduled { start, request_id } => {
                write!(f, "scheduled for {} (request {request_id})", fmt_t(start))
            }
            Outcome::Submitted { request_id, status } => {
                write!(f, "submitted, status {status} (request {request_id})")
            }
            Outcome::Deactivated { request_id } => write!(f, "deactivated (request {request_id})"),
            Outcome::Canceled { request_id } => write!(f, "request {request_id} cancelled"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{activated, test_role};

    #[test]
    fn enums_are_case_insensitive_and_open() {
        assert_eq!(MemberType::parse("Direct"), MemberType::Direct);
        assert_eq!(MemberType::parse("direct"), MemberType::Direct);
        assert_eq!(
            AssignmentType::parse("activated"),
            AssignmentType::Activated
        );
        assert_eq!(
            AssignmentType::parse("unknownFutureValue"),
            AssignmentType::Unknown("unknownFutureValue".into())
        );
        assert_eq!(Action::SelfActivate.as_pascal(), "SelfActivate");
        assert_eq!(Action::parse("SELFACTIVATE"), Action::SelfActivate);
        let s: RequestStatus = serde_json::from_str("\"PendingApproval\"").unwrap();
        assert!(s.needs_decision());
        let s: RequestStatus = serde_json::from_str("\"SomethingNew\"").unwrap();
        assert_eq!(s.as_str(), "SomethingNew");
        assert!(!s.is_open());
    }

    #[test]
    fn arm_scope_kinds() {
        assert_eq!(
            Scope::arm_kind("/subscriptions/abc"),
            ScopeKind::Subscription
        );
        assert_eq!(
            Scope::arm_kind("/subscriptions/abc/resourceGroups/rg-web"),
            ScopeKind::ResourceGroup
        );
        assert_eq!(
            Scope::arm_kind("/providers/Microsoft.Management/managementGroups/mg1"),
            ScopeKind::ManagementGroup
        );
    }

    #[test]
    fn outcome_json_is_camel_case() {
        let v = serde_json::to_value(Outcome::PendingApproval {
            request_id: "r1".into(),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"outcome": "pendingApproval", "requestId": "r1"})
        );
    }

    fn activation(start: Option<OffsetDateTime>, end: Option<OffsetDateTime>) -> Role {
        Role {
            state: RoleState::Active,
            assignment: Some(activated(start, end)),
            ..test_role("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader")
        }
    }

    #[test]
    fn deactivation_waits_five_minutes_after_the_start() {
        use time::macros::datetime;
        let start = datetime!(2026-12-07 10:00 UTC);
        let r = activation(Some(start), None);
        let at = |now| r.deactivatable_at(now);
        assert_eq!(at(start), datetime!(2026-12-07 10:05 UTC));
        assert_eq!(
            at(datetime!(2026-12-07 10:04:59 UTC)),
            datetime!(2026-12-07 10:05 UTC)
        );
        let later = datetime!(2026-12-07 10:05:01 UTC);
        assert_eq!(at(later), later, "the guard has passed");
        // No start, or one so late the guard leaves the calendar: the service decides.
        let now = datetime!(2026-12-07 10:00 UTC);
        assert_eq!(activation(None, None).deactivatable_at(now), now);
        let last = time::PrimitiveDateTime::MAX.assume_utc();
        assert_eq!(activation(Some(last), None).deactivatable_at(now), now);
    }

    #[test]
    fn an_extension_asks_for_the_length_the_activation_ran() {
        use time::macros::datetime;
        let start = datetime!(2026-12-07 10:00 UTC);
        let p = |h| Policy {
            max_duration: Some(PimDuration::from_hours(h)),
            ..Policy::default()
        };
        let ran_3h = activation(Some(start), Some(datetime!(2026-12-07 13:00 UTC)));
        assert_eq!(
            ran_3h.extend_duration(Some(&p(8))),
            PimDuration::from_hours(3)
        );
        assert_eq!(
            ran_3h.extend_duration(Some(&p(2))),
            PimDuration::from_hours(2)
        );
        assert_eq!(ran_3h.extend_duration(None), PimDuration::from_hours(3));
        let ran_30h = activation(Some(start), Some(datetime!(2026-12-08 16:00 UTC)));
        assert_eq!(ran_30h.extend_duration(None), PimDuration::MAX_ACTIVATION);
        // Unknown length: the default.
        let open = activation(Some(start), None);
        assert_eq!(
            open.extend_duration(Some(&p(8))),
            PimDuration::from_hours(1)
        );
    }

    #[test]
    fn default_duration_is_capped_at_an_hour() {
        let p = Policy {
            max_duration: Some(PimDuration::from_minutes(30)),
            ..Policy::default()
        };
        assert_eq!(default_duration(Some(&p)), PimDuration::from_minutes(30));
        let p = Policy {
            max_duration: Some(PimDuration::from_hours(8)),
            ..Policy::default()
        };
        assert_eq!(default_duration(Some(&p)), PimDuration::from_hours(1));
        assert_eq!(default_duration(None), PimDuration::from_hours(1));
    }
}

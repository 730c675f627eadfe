//! Fixtures shared by tests: the crate's unit tests, and (through the `testing` feature)
//! other crates' tests, which get [`history_entry`](crate::testing::history_entry) only.
//!
//! A test names only what it is about and takes the rest from a fixture with struct update
//! syntax:
//!
//! ```ignore
//! let r = Role {
//!     state: RoleState::Active,
//!     assignment: Some(activated(Some(start), None)),
//!     ..test_role("gr", "Global Reader")
//! };
//! ```

use time::macros::datetime;

#[cfg(test)]
use crate::model::{ActiveAssignment, AssignmentType, EligibleRole, PolicyInfo, Role, RoleState};
use crate::{
    AccessId, Action, HistoryEntry, PimDuration, RequestStatus, RoleKind, Scope, ScopeKind, Ticket,
};
#[cfg(test)]
use time::OffsetDateTime;

/// An Entra role `name` (role definition `rid`) at directory scope (`/`, "Directory") in
/// tenant `t` ("Contoso"): eligible, with no eligibility, assignment or requests read and
/// its policy not loaded.
#[cfg(test)]
pub(crate) fn test_role(rid: &str, name: &str) -> Role {
    Role {
        kind: RoleKind::EntraRole,
        tenant_id: "t".into(),
        tenant_name: "Contoso".into(),
        name: name.into(),
        role_definition_id: rid.into(),
        scope: Scope {
            id: "/".into(),
            display_name: "Directory".into(),
            kind: ScopeKind::Directory,
        },
        app_scope_id: None,
        access: None,
        state: RoleState::Eligible,
        eligibility: None,
        assignment: None,
        pending: Vec::new(),
        policy: PolicyInfo::NotLoaded,
    }
}

/// The user's own activation (assignment type `Activated`) from `start` to `end`, with no ids.
#[cfg(test)]
pub(crate) fn activated(
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
) -> ActiveAssignment {
    ActiveAssignment {
        instance_id: None,
        schedule_id: None,
        assignment_type: Some(AssignmentType::Activated),
        member_type: None,
        start,
        end,
        linked_eligibility_schedule_id: None,
    }
}

/// A permanent eligibility with no ids.
#[cfg(test)]
pub(crate) fn eligible() -> EligibleRole {
    EligibleRole {
        instance_id: None,
        schedule_id: None,
        start: None,
        end: None,
        member_type: None,
    }
}

/// A request of `pim history` and the exports: a denied activation of the group
/// "SQL Prod Admins" (`g1`) as owner in tenant `t1` ("Contoso"), request `r1`, made at
/// 2026-08-01 10:00:00.5 UTC for 90 minutes, with a justification holding quotes, a comma and
/// a line feed, and a ServiceNow ticket `=1+1` (a spreadsheet formula).
pub fn history_entry() -> HistoryEntry {
    HistoryEntry {
        created_at: datetime!(2026-08-01 10:00:00.5 UTC),
        tenant_id: "t1".into(),
        tenant_name: "Contoso".into(),
        kind: RoleKind::Group,
        request_id: "r1".into(),
        name: "SQL Prod Admins".into(),
        role_definition_id: "owner".into(),
        access: Some(AccessId::Owner),
        scope: Scope {
            id: "g1".into(),
            display_name: "SQL Prod Admins".into(),
            kind: ScopeKind::Group,
        },
        action: Some(Action::SelfActivate),
        status: Some(RequestStatus::Denied),
        start: None,
        duration: Some(PimDuration::from_minutes(90)),
        end: None,
        justification: Some("Fix \"prod\", now\nplease".into()),
        ticket: Some(Ticket {
            number: "=1+1".into(),
            system: "ServiceNow".into(),
        }),
    }
}

//! Fixtures shared by the crate's unit tests.
//!
//! A test names only what it is about and takes the rest from [`test_role`] with struct
//! update syntax:
//!
//! ```ignore
//! let r = Role {
//!     state: RoleState::Active,
//!     assignment: Some(activated(Some(start), None)),
//!     ..test_role("gr", "Global Reader")
//! };
//! ```

use time::OffsetDateTime;

use crate::model::{
    ActiveAssignment, AssignmentType, EligibleRole, PolicyInfo, Role, RoleKind, RoleState, Scope,
    ScopeKind,
};

/// An Entra role `name` (role definition `rid`) at directory scope (`/`, "Directory") in
/// tenant `t` ("Contoso"): eligible, with no eligibility, assignment or requests read and
/// its policy not loaded.
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
pub(crate) fn eligible() -> EligibleRole {
    EligibleRole {
        instance_id: None,
        schedule_id: None,
        start: None,
        end: None,
        member_type: None,
    }
}

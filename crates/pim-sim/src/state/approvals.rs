//! Approvals of other users' requests: who they are ([`Person`]), the approval object
//! ([`Approval`]) with its stages ([`Stage`]) and what a stage can say ([`StageStatus`],
//! [`Decision`]).
//!
//! Invariant: an approval's stages are decided in order; at most one is `InProgress` (the
//! current one), the ones before it are `Completed`, the ones after it `NotStarted`.

use time::OffsetDateTime;

use super::{State, Tenant};

/// A directory user as approvals and `$expand=principal` show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub display_name: String,
    pub upn: Option<String>,
    pub mail: Option<String>,
}

/// Where a stage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    /// Waits for the stages before it.
    NotStarted,
    /// The current stage: its approvers can decide.
    InProgress,
    /// Decided (or closed by another stage's denial).
    Completed,
    /// Nobody decided in time.
    Expired,
}

impl StageStatus {
    /// The wire spelling (Graph and ARM alike).
    pub fn name(self) -> &'static str {
        match self {
            Self::NotStarted => "NotStarted",
            Self::InProgress => "InProgress",
            Self::Completed => "Completed",
            Self::Expired => "Expired",
        }
    }
}

/// An approver's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    /// `Approve`/`Deny` as a decision body says them (case-insensitive; the past-tense
    /// spellings some documents show are accepted too).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "approve" | "approved" => Some(Self::Approve),
            "deny" | "denied" => Some(Self::Deny),
            _ => None,
        }
    }

    /// `Approve` or `Deny`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Approve => "Approve",
            Self::Deny => "Deny",
        }
    }

    /// `Approved` or `Denied`.
    pub fn past(self) -> &'static str {
        match self {
            Self::Approve => "Approved",
            Self::Deny => "Denied",
        }
    }
}

/// One stage of an approval.
#[derive(Debug, Clone)]
pub struct Stage {
    pub id: String,
    pub display_name: Option<String>,
    /// Who may decide it.
    pub approvers: Vec<Person>,
    pub status: StageStatus,
    /// `None`: not reviewed.
    pub decision: Option<Decision>,
    pub reviewed_by: Option<Person>,
    pub reviewed: Option<OffsetDateTime>,
    pub justification: Option<String>,
}

impl Stage {
    /// Whether `oid` is one of the stage's approvers.
    pub fn assigned_to(&self, oid: &str) -> bool {
        self.approvers
            .iter()
            .any(|p| p.id.eq_ignore_ascii_case(oid))
    }
}

/// The approval of one request: Graph `approval` (`stages` in v1.0, `steps` in beta),
/// ARM `RoleAssignmentApproval`.
#[derive(Debug, Clone)]
pub struct Approval {
    /// As the request's `approvalId` says it (Graph: the request id; ARM:
    /// `/providers/Microsoft.Authorization/roleAssignmentApprovals/{guid}`).
    pub id: String,
    pub request_id: String,
    pub stages: Vec<Stage>,
}

impl Approval {
    /// The last segment of the id (the ARM resource name).
    pub fn name(&self) -> &str {
        self.id.rsplit('/').next().unwrap_or(&self.id)
    }

    /// Whether `key` names this approval (its id or name, any case).
    pub fn is(&self, key: &str) -> bool {
        self.id.eq_ignore_ascii_case(key) || self.name().eq_ignore_ascii_case(key)
    }

    /// The index of the current (`InProgress`) stage.
    pub fn current(&self) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.status == StageStatus::InProgress)
    }

    /// Whether `oid` approves any of its stages.
    pub fn has_approver(&self, oid: &str) -> bool {
        self.stages.iter().any(|s| s.assigned_to(oid))
    }
}

impl Tenant {
    /// A directory user (id, UPN or display name), or one of the approvers the tenant's
    /// policies name (without a UPN).
    pub fn person(&self, key: &str) -> Option<Person> {
        let key = key.trim();
        self.users
            .iter()
            .find(|u| {
                u.id.eq_ignore_ascii_case(key)
                    || u.upn
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case(key))
                    || u.display_name.eq_ignore_ascii_case(key)
            })
            .cloned()
            .or_else(|| {
                self.approvers
                    .iter()
                    .find(|a| a.id.eq_ignore_ascii_case(key))
                    .map(|a| Person {
                        id: a.id.clone(),
                        display_name: a.description.clone(),
                        upn: None,
                        mail: None,
                    })
            })
    }
}

impl State {
    /// The signed-in user as a person of `tenant`.
    pub fn me(&self, tenant: &Tenant) -> Person {
        Person {
            id: tenant.user_oid.clone(),
            display_name: self.user.display_name.clone(),
            upn: Some(tenant.user_upn.clone()),
            mail: Some(self.user.mail.clone()),
        }
    }

    /// Who the object id `oid` is in `tenant`: the signed-in user or a directory user.
    pub fn person(&self, tenant: &Tenant, oid: &str) -> Option<Person> {
        if tenant.user_oid.eq_ignore_ascii_case(oid) {
            return Some(self.me(tenant));
        }
        tenant
            .person(oid)
            .filter(|p| p.id.eq_ignore_ascii_case(oid))
    }

    /// The stored approval of the request `request_id`.
    pub fn approval_of(&self, request_id: &str) -> Option<&Approval> {
        self.approvals.iter().find(|a| a.request_id == request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_parse() {
        assert_eq!(Decision::parse("approve"), Some(Decision::Approve));
        assert_eq!(Decision::parse("Denied"), Some(Decision::Deny));
        assert_eq!(Decision::parse("maybe"), None);
        assert_eq!(Decision::Deny.past(), "Denied");
        assert_eq!(StageStatus::NotStarted.name(), "NotStarted");
    }

    #[test]
    fn approval_names() {
        let a = Approval {
            id: "/providers/Microsoft.Authorization/roleAssignmentApprovals/abc".into(),
            request_id: "r".into(),
            stages: Vec::new(),
        };
        assert_eq!(a.name(), "abc");
        assert!(a.is("ABC"));
        assert!(a.is("/providers/Microsoft.Authorization/roleAssignmentApprovals/abc"));
        assert!(!a.is("r"));
        assert_eq!(a.current(), None);
    }
}

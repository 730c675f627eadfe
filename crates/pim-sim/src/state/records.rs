//! The PIM records: eligibilities, assignments and schedule requests, what they are
//! about ([`Kind`], [`Target`]) and their parts (expiration, action, ticket).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    EntraRole,
    Group,
    AzureResource,
}

/// Role + scope (+ tenant).
///
/// * Entra: `role` = role definition id, `scope` = directory scope id.
/// * Group: `role` = `member`/`owner`, `scope` = group id.
/// * Azure: `role` = role definition GUID, `scope` = ARM scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub tenant: String,
    pub role: String,
    pub scope: String,
}

impl Target {
    /// Same role and scope (case-insensitive).
    pub fn same(&self, o: &Target) -> bool {
        self.kind == o.kind
            && self.tenant.eq_ignore_ascii_case(&o.tenant)
            && self.role.eq_ignore_ascii_case(&o.role)
            && norm_scope(&self.scope) == norm_scope(&o.scope)
    }
}

/// Lower-cased scope without a trailing slash (except `/`).
pub fn norm_scope(s: &str) -> String {
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        if s.starts_with('/') {
            "/".into()
        } else {
            String::new()
        }
    } else {
        t.to_ascii_lowercase()
    }
}

/// An eligibility schedule (and its single instance).
#[derive(Debug, Clone)]
pub struct Eligibility {
    pub schedule_id: String,
    pub instance_id: String,
    pub principal: String,
    pub target: Target,
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
    pub created: OffsetDateTime,
}

impl Eligibility {
    /// Visible as an instance now.
    pub fn current(&self, now: OffsetDateTime) -> bool {
        self.start <= now && self.end.is_none_or(|e| now < e)
    }
    /// Visible as a schedule now (includes future ones).
    pub fn scheduled(&self, now: OffsetDateTime) -> bool {
        self.end.is_none_or(|e| now < e)
    }
}

/// `Assigned` (admin-made) or `Activated` (self-activated eligibility).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentType {
    Assigned,
    Activated,
}

/// An assignment schedule (and its single instance).
#[derive(Debug, Clone)]
pub struct Assignment {
    pub schedule_id: String,
    pub instance_id: String,
    pub origin_id: String,
    pub principal: String,
    pub target: Target,
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
    pub atype: AssignmentType,
    pub created: OffsetDateTime,
    /// Request that created it.
    pub request_id: Option<String>,
    /// Eligibility used to activate.
    pub eligibility: Option<String>,
    /// Expiration as requested (type, duration).
    pub expiration: Expiration,
    /// Removed early (deactivated, cancelled).
    pub removed: bool,
}

impl Assignment {
    /// Visible as an instance now.
    pub fn current(&self, now: OffsetDateTime) -> bool {
        !self.removed && self.start <= now && self.end.is_none_or(|e| now < e)
    }
    /// Visible as a schedule now (includes future starts).
    pub fn scheduled(&self, now: OffsetDateTime) -> bool {
        !self.removed && self.end.is_none_or(|e| now < e)
    }
}

/// Expiration pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpType {
    NotSpecified,
    NoExpiration,
    AfterDateTime,
    AfterDuration,
}

impl ExpType {
    /// Parses case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "notspecified" => Self::NotSpecified,
            "noexpiration" => Self::NoExpiration,
            "afterdatetime" => Self::AfterDateTime,
            "afterduration" => Self::AfterDuration,
            _ => return None,
        })
    }
    /// Graph spelling.
    pub fn graph(self) -> &'static str {
        match self {
            Self::NotSpecified => "notSpecified",
            Self::NoExpiration => "noExpiration",
            Self::AfterDateTime => "afterDateTime",
            Self::AfterDuration => "afterDuration",
        }
    }
    /// ARM spelling.
    pub fn arm(self) -> &'static str {
        match self {
            Self::NotSpecified => "NotSpecified",
            Self::NoExpiration => "NoExpiration",
            Self::AfterDateTime => "AfterDateTime",
            Self::AfterDuration => "AfterDuration",
        }
    }
}

/// Expiration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiration {
    pub etype: ExpType,
    pub duration: Option<String>,
    pub end: Option<OffsetDateTime>,
}

/// Request actions (`unifiedRoleScheduleRequestActions` / ARM `RequestType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AdminAssign,
    AdminUpdate,
    AdminRemove,
    SelfActivate,
    SelfDeactivate,
    AdminExtend,
    AdminRenew,
    SelfExtend,
    SelfRenew,
}

impl Action {
    const ALL: [(Action, &'static str); 9] = [
        (Action::AdminAssign, "adminAssign"),
        (Action::AdminUpdate, "adminUpdate"),
        (Action::AdminRemove, "adminRemove"),
        (Action::SelfActivate, "selfActivate"),
        (Action::SelfDeactivate, "selfDeactivate"),
        (Action::AdminExtend, "adminExtend"),
        (Action::AdminRenew, "adminRenew"),
        (Action::SelfExtend, "selfExtend"),
        (Action::SelfRenew, "selfRenew"),
    ];
    /// Parses case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(a, _)| *a)
    }
    /// Graph spelling (camelCase).
    pub fn graph(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, n)| *n)
            .unwrap_or("unknownFutureValue")
    }
    /// ARM spelling (PascalCase).
    pub fn arm(self) -> String {
        let g = self.graph();
        let mut c = g.chars();
        match c.next() {
            Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
            None => String::new(),
        }
    }
}

/// Ticket info.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticket {
    pub number: Option<String>,
    pub system: Option<String>,
}

/// A schedule request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Graph id or ARM name.
    pub id: String,
    pub target: Target,
    pub principal: String,
    pub action: Action,
    pub status: String,
    pub created: OffsetDateTime,
    pub completed: Option<OffsetDateTime>,
    pub approval_id: Option<String>,
    pub justification: Option<String>,
    pub ticket: Option<Ticket>,
    /// Start as the request says (or as normalised to "now").
    pub start: Option<OffsetDateTime>,
    pub expiration: Option<Expiration>,
    pub target_schedule_id: Option<String>,
    pub is_validation_only: bool,
    pub custom_data: Option<String>,
    /// ARM: scope in the request URL.
    pub arm_scope: String,
    /// ARM: body as sent (for idempotent re-PUT).
    pub arm_body: Option<serde_json::Value>,
    /// ARM: linked eligibility schedule id as sent.
    pub linked_eligibility: Option<String>,
    /// The assignment schedule this request extends (selfExtend/selfRenew).
    pub extends: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_case_insensitively() {
        assert_eq!(Action::parse("SelfActivate"), Some(Action::SelfActivate));
        assert_eq!(Action::parse("selfactivate"), Some(Action::SelfActivate));
        assert_eq!(Action::SelfDeactivate.arm(), "SelfDeactivate");
        assert_eq!(Action::parse("bogus"), None);
        assert_eq!(
            ExpType::parse("AfterDuration"),
            Some(ExpType::AfterDuration)
        );
    }
}

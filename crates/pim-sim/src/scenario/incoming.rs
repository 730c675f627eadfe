//! The approver's side of a scenario: other users of a tenant's directory
//! ([`DirectoryUserSpec`]) and their requests waiting for a decision of the signed-in
//! user ([`IncomingSpec`], a tenant's `incoming` list; `POST /_sim/incoming` takes the
//! same shape).

use serde::{Deserialize, Serialize};

use crate::clock::parse_duration;

use super::TargetSpec;

/// A user of a tenant's directory other than the signed-in user: a requester or an
/// approver.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUserSpec {
    /// Object id (default: a GUID derived from the UPN).
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// User principal name.
    pub user_principal_name: String,
    /// Mail address (defaults to the UPN).
    #[serde(default)]
    pub mail: Option<String>,
}

/// Who made an incoming request: a reference to a directory user (id, UPN or display
/// name) or a user written out (added to the directory when missing).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequesterSpec {
    /// Id, UPN or display name of a user of the tenant's `users`.
    Ref(String),
    /// A user, added to the tenant's directory unless it is there already.
    User(DirectoryUserSpec),
}

/// One approval stage of an incoming request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSpec {
    /// Label of the stage (`displayName`; default `null`).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Who may decide the stage: `"me"` (the signed-in user) or the id, UPN or display
    /// name of a directory user or of one of the tenant's `approvers`.
    pub approvers: Vec<String>,
}

/// Another user's activation request that waits for an approver (a tenant's `incoming`
/// list): the target, who asks, why, for how long, and the approval stages (by default
/// one stage decided by the signed-in user).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingSpec {
    /// What is requested.
    #[serde(flatten)]
    pub target: TargetSpec,
    /// Who asks (never the signed-in user: approvers cannot approve their own requests).
    pub requester: RequesterSpec,
    /// The requester's justification.
    #[serde(default)]
    pub justification: Option<String>,
    /// Ticket number.
    #[serde(default)]
    pub ticket_number: Option<String>,
    /// Ticket system.
    #[serde(default)]
    pub ticket_system: Option<String>,
    /// When it was asked, relative to now (not in the future; default `-PT5M`).
    #[serde(default)]
    pub created_offset: Option<String>,
    /// Requested start relative to now (default: when it was asked, i.e. at once).
    #[serde(default)]
    pub start_offset: Option<String>,
    /// Requested duration (default `PT1H`).
    #[serde(default)]
    pub duration: Option<String>,
    /// Approval stages in order; empty: one stage for the signed-in user.
    #[serde(default)]
    pub stages: Vec<StageSpec>,
}

impl IncomingSpec {
    /// When it was asked, as an offset from now.
    pub(crate) fn created(&self) -> &str {
        self.created_offset.as_deref().unwrap_or("-PT5M")
    }

    /// The requested duration.
    pub(crate) fn duration(&self) -> &str {
        self.duration.as_deref().unwrap_or("PT1H")
    }

    /// The stages, with the default one (the signed-in user) when none is given.
    pub(crate) fn stages(&self) -> Vec<StageSpec> {
        if self.stages.is_empty() {
            vec![StageSpec {
                display_name: None,
                approvers: vec!["me".into()],
            }]
        } else {
            self.stages.clone()
        }
    }

    /// Why this entry cannot be an incoming request, if it cannot (what the tenant's
    /// directory must resolve is checked when the world is built).
    pub(crate) fn problem(&self) -> Option<String> {
        let off = |s: &str| parse_duration(s).ok_or_else(|| format!("bad offset '{s}'"));
        let check = || -> std::result::Result<(), String> {
            if off(self.created())?.is_positive() {
                return Err(format!(
                    "incoming createdOffset '{}' is in the future",
                    self.created()
                ));
            }
            if let Some(s) = &self.start_offset {
                off(s)?;
            }
            let d = off(self.duration())?;
            if !d.is_positive() {
                return Err(format!(
                    "incoming duration '{}' is not positive",
                    self.duration()
                ));
            }
            if self.stages.iter().any(|s| s.approvers.is_empty()) {
                return Err("an incoming request's stage needs at least one approver".into());
            }
            Ok(())
        };
        check().err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> IncomingSpec {
        serde_json::from_str(&format!(
            r#"{{"kind":"entraRole","role":"R","requester":"alex@x"{extra}}}"#
        ))
        .expect("parses")
    }

    #[test]
    fn defaults_and_checks() {
        let s = spec("");
        assert_eq!(s.created(), "-PT5M");
        assert_eq!(s.duration(), "PT1H");
        assert_eq!(s.stages()[0].approvers, ["me"]);
        assert!(s.problem().is_none());
        assert!(matches!(s.requester, RequesterSpec::Ref(_)));
        assert!(spec(r#","createdOffset":"PT1H""#).problem().is_some());
        assert!(spec(r#","duration":"-PT1H""#).problem().is_some());
        assert!(spec(r#","duration":"soon""#).problem().is_some());
        assert!(spec(r#","stages":[{"approvers":[]}]"#).problem().is_some());
        let inline: IncomingSpec = serde_json::from_str(
            r#"{"kind":"group","group":"G","requester":{"displayName":"A","userPrincipalName":"a@x"}}"#,
        )
        .expect("parses");
        assert!(matches!(inline.requester, RequesterSpec::User(_)));
    }
}

//! Scenario files: the tenants, the signed-in user, their eligibilities, active
//! assignments and role policies, as JSON data.
//!
//! Times are offsets from the moment the simulator starts (ISO 8601 durations with an
//! optional sign: `"-PT50M"`, `"P180D"`), so a scenario looks the same whenever it runs.
//! Roles, groups, administrative units and subscriptions are referenced by display name
//! or id. See `scenarios/demo.json` for a complete example.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::api_error::{Error, Result};
use crate::clock::parse_duration;
use crate::state::{Action, PropagationDelay, RolePermission};

mod incoming;

pub use incoming::{DirectoryUserSpec, IncomingSpec, RequesterSpec, StageSpec};

const DEMO: &str = include_str!("../scenarios/demo.json");
const SMALL: &str = include_str!("../scenarios/small.json");

/// A complete simulated world.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The user that the authorize endpoint signs in.
    pub user: UserSpec,
    /// Tenants; the first one with `home: true` (or the first one) is the user's home.
    pub tenants: Vec<TenantSpec>,
    /// Runtime settings applied at start (same keys as `POST /_sim/config`).
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Seconds from an activation's start until it takes effect, per kind (same as
    /// `POST /_sim/propagation`); absent: 0, effective at once.
    #[serde(default)]
    pub propagation_delay: Option<PropagationDelay>,
}

/// The simulated user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSpec {
    /// Display name.
    pub display_name: String,
    /// Home user principal name.
    pub user_principal_name: String,
    /// Mail address (defaults to the UPN).
    #[serde(default)]
    pub mail: Option<String>,
    /// Every sign-in performs MFA.
    #[serde(default)]
    pub mfa_on_sign_in: bool,
}

/// One tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// Tenant GUID.
    pub id: String,
    /// Organization display name.
    pub display_name: String,
    /// Default verified domain.
    pub default_domain: String,
    /// All verified domains (the default one is added if missing).
    #[serde(default)]
    pub domains: Vec<String>,
    /// The user's home tenant.
    #[serde(default)]
    pub home: bool,
    /// The user's object id in this tenant.
    pub user_object_id: String,
    /// The user's UPN in this tenant (guests have an `#EXT#` UPN); defaults to the home UPN.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Entra role definitions (built-in roles: id = template id).
    #[serde(default)]
    pub role_definitions: Vec<NamedSpec>,
    /// Administrative units.
    #[serde(default)]
    pub administrative_units: Vec<NamedSpec>,
    /// PIM-onboarded groups.
    #[serde(default)]
    pub groups: Vec<NamedSpec>,
    /// Azure subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionSpec>,
    /// Azure role definitions (id = role definition GUID), with their permissions.
    #[serde(default)]
    pub azure_role_definitions: Vec<AzureRoleSpec>,
    /// Approvers named in approval rules.
    #[serde(default)]
    pub approvers: Vec<NamedSpec>,
    /// Eligibilities of the user.
    #[serde(default)]
    pub eligible: Vec<GrantSpec>,
    /// Active assignments of the user (permanent/time-bound assignments and activations).
    #[serde(default)]
    pub active: Vec<GrantSpec>,
    /// Role policies; roles without one get the default policy.
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
    /// The user's past schedule requests (completed ones only), listed by the request
    /// lists as they are; they create no assignment.
    #[serde(default)]
    pub history: Vec<HistorySpec>,
    /// Other users of the directory (requesters, approvers).
    #[serde(default)]
    pub users: Vec<DirectoryUserSpec>,
    /// Other users' activation requests waiting for approval (the signed-in user's
    /// approver inbox).
    #[serde(default)]
    pub incoming: Vec<IncomingSpec>,
}

/// An object with an id and a display name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedSpec {
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// An Azure role definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureRoleSpec {
    /// Role definition GUID.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// What the role allows (`properties.permissions` of the role definition); absent:
    /// nothing.
    #[serde(default)]
    pub permissions: Vec<RolePermission>,
}

/// An Azure subscription with its resource groups.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionSpec {
    /// Subscription GUID.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Resource group names.
    #[serde(default)]
    pub resource_groups: Vec<String>,
}

/// Which kind of PIM object a grant or policy is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GrantKind {
    /// Entra (directory) role.
    EntraRole,
    /// PIM for Groups membership/ownership.
    Group,
    /// Azure resource role.
    AzureRole,
}

/// What a grant or policy targets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    /// Kind.
    pub kind: GrantKind,
    /// Role name or id (Entra and Azure roles).
    #[serde(default)]
    pub role: Option<String>,
    /// Entra: directory scope id (`/` default, or `/administrativeUnits/{id}`).
    /// Azure: full scope (`/subscriptions/{id}[/resourceGroups/{rg}]`).
    #[serde(default)]
    pub scope: Option<String>,
    /// Entra: administrative unit name or id (alternative to `scope`).
    #[serde(default)]
    pub administrative_unit: Option<String>,
    /// Group name or id.
    #[serde(default)]
    pub group: Option<String>,
    /// Group relationship: `member` or `owner`.
    #[serde(default)]
    pub access: Option<String>,
    /// Azure: subscription name or id (alternative to `scope`).
    #[serde(default)]
    pub subscription: Option<String>,
    /// Azure: resource group name within `subscription`.
    #[serde(default)]
    pub resource_group: Option<String>,
}

/// An eligibility or an active assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantSpec {
    /// Target.
    #[serde(flatten)]
    pub target: TargetSpec,
    /// Start relative to simulator start (default `-P30D`).
    #[serde(default)]
    pub start_offset: Option<String>,
    /// End relative to simulator start; absent/null = permanent.
    #[serde(default)]
    pub end_offset: Option<String>,
    /// For `active`: `Assigned` (default) or `Activated`.
    #[serde(default)]
    pub assignment_type: Option<String>,
    /// Justification recorded on activations.
    #[serde(default)]
    pub justification: Option<String>,
}

/// A past schedule request of the user (for "my history").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistorySpec {
    /// Target.
    #[serde(flatten)]
    pub target: TargetSpec,
    /// `selfActivate` (default), `selfDeactivate`, `selfExtend` or `selfRenew`.
    #[serde(default)]
    pub action: Option<String>,
    /// A final status: `Provisioned`, `Revoked`, `Denied`, `Canceled`, `Failed` or
    /// `TimedOut`.
    pub status: String,
    /// When it was made, relative to simulator start (in the past, e.g. `-P20DT3H`).
    pub created_offset: String,
    /// When it completed (approved, denied, cancelled, ...); default: when made.
    #[serde(default)]
    pub completed_offset: Option<String>,
    /// Requested start; default: when made.
    #[serde(default)]
    pub start_offset: Option<String>,
    /// Requested duration of an activation or extension (default `PT1H`).
    #[serde(default)]
    pub duration: Option<String>,
    /// Justification.
    #[serde(default)]
    pub justification: Option<String>,
    /// Ticket number.
    #[serde(default)]
    pub ticket_number: Option<String>,
    /// Ticket system.
    #[serde(default)]
    pub ticket_system: Option<String>,
}

/// Statuses a [`HistorySpec`] may have: completed requests only, so that history never
/// shows as pending.
pub const HISTORY_STATUSES: [&str; 6] = [
    "Provisioned",
    "Revoked",
    "Denied",
    "Canceled",
    "Failed",
    "TimedOut",
];

impl HistorySpec {
    /// The request's action.
    pub(crate) fn action(&self) -> Option<Action> {
        match &self.action {
            None => Some(Action::SelfActivate),
            Some(a) => Action::parse(a).filter(|a| {
                matches!(
                    a,
                    Action::SelfActivate
                        | Action::SelfDeactivate
                        | Action::SelfExtend
                        | Action::SelfRenew
                )
            }),
        }
    }

    /// The requested duration (activations and extensions).
    pub(crate) fn duration(&self) -> &str {
        self.duration.as_deref().unwrap_or("PT1H")
    }

    /// Why this entry cannot be history, if it cannot.
    fn problem(&self) -> Option<String> {
        let Some(action) = self.action() else {
            return Some(format!(
                "history action '{}' is not selfActivate, selfDeactivate, selfExtend or selfRenew",
                self.action.as_deref().unwrap_or_default()
            ));
        };
        if !HISTORY_STATUSES.contains(&self.status.as_str()) {
            return Some(format!(
                "history status '{}' is not one of {}",
                self.status,
                HISTORY_STATUSES.join(", ")
            ));
        }
        let off = |s: &str| parse_duration(s).ok_or_else(|| format!("bad offset '{s}'"));
        let check = || -> std::result::Result<(), String> {
            let created = off(&self.created_offset)?;
            if created.is_positive() {
                return Err(format!(
                    "history createdOffset '{}' is in the future",
                    self.created_offset
                ));
            }
            let start = match &self.start_offset {
                Some(s) => off(s)?,
                None => created,
            };
            if let Some(c) = &self.completed_offset {
                let completed = off(c)?;
                if completed < created || completed.is_positive() {
                    return Err(format!(
                        "history completedOffset '{c}' is not between createdOffset and now"
                    ));
                }
            }
            let duration = off(self.duration())?;
            let grants = matches!(
                action,
                Action::SelfActivate | Action::SelfExtend | Action::SelfRenew
            );
            let ended = start
                .checked_add(duration)
                .is_some_and(|e| !e.is_positive());
            if grants && self.status == "Provisioned" && !ended {
                return Err(format!(
                    "a Provisioned history {} must have ended (startOffset + duration <= 0); list current roles in 'active'",
                    action.graph()
                ));
            }
            Ok(())
        };
        check().err()
    }
}

/// Activation rules for one role/group/Azure role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    /// Target (for Azure roles the scope is where the policy applies; children inherit it).
    #[serde(flatten)]
    pub target: TargetSpec,
    /// Maximum activation duration (default `PT8H`).
    #[serde(default)]
    pub max_duration: Option<String>,
    /// Expiration required (default true).
    #[serde(default)]
    pub expiration_required: Option<bool>,
    /// Justification required (default true).
    #[serde(default)]
    pub justification: Option<bool>,
    /// Ticket required.
    #[serde(default)]
    pub ticketing: bool,
    /// MFA required.
    #[serde(default)]
    pub mfa: bool,
    /// Approval required.
    #[serde(default)]
    pub approval: bool,
    /// Conditional Access authentication context (e.g. `c1`).
    #[serde(default)]
    pub authentication_context: Option<String>,
}

impl Scenario {
    /// A scenario shipped with the simulator: `demo` or `small`.
    pub fn builtin(name: &str) -> Result<Self> {
        match name {
            "demo" => Self::from_json(DEMO),
            "small" => Self::from_json(SMALL),
            other => Err(Error::Scenario(format!(
                "unknown built-in scenario '{other}' (available: demo, small)"
            ))),
        }
    }

    /// Names of the built-in scenarios.
    pub fn builtin_names() -> &'static [&'static str] {
        &["demo", "small"]
    }

    /// Parses and checks a scenario.
    pub fn from_json(text: &str) -> Result<Self> {
        let s: Scenario = serde_json::from_str(text)
            .map_err(|e| Error::Scenario(format!("invalid JSON: {e}")))?;
        s.check()?;
        Ok(s)
    }

    /// Reads a scenario file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Scenario(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&text)
    }

    /// Loads a built-in name, else a file path.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if Self::builtin_names().contains(&name_or_path) {
            Self::builtin(name_or_path)
        } else {
            Self::from_file(name_or_path)
        }
    }

    fn check(&self) -> Result<()> {
        if self.tenants.is_empty() {
            return Err(Error::Scenario(
                "a scenario needs at least one tenant".into(),
            ));
        }
        for t in &self.tenants {
            for g in t.eligible.iter().chain(&t.active) {
                for o in [&g.start_offset, &g.end_offset].into_iter().flatten() {
                    if parse_duration(o).is_none() {
                        return Err(Error::Scenario(format!(
                            "tenant {}: bad offset '{o}'",
                            t.display_name
                        )));
                    }
                }
            }
            for h in &t.history {
                if let Some(why) = h.problem() {
                    return Err(Error::Scenario(format!("tenant {}: {why}", t.display_name)));
                }
            }
            for i in &t.incoming {
                if let Some(why) = i.problem() {
                    return Err(Error::Scenario(format!("tenant {}: {why}", t.display_name)));
                }
            }
            for p in &t.policies {
                if let Some(d) = &p.max_duration
                    && parse_duration(d).is_none()
                {
                    return Err(Error::Scenario(format!(
                        "tenant {}: bad maxDuration '{d}'",
                        t.display_name
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for n in Scenario::builtin_names() {
            let s = Scenario::builtin(n).expect("parses");
            assert!(!s.tenants.is_empty());
        }
        assert!(Scenario::builtin("nope").is_err());
    }

    #[test]
    fn bad_offset_is_rejected() {
        let text = r#"{"name":"x","user":{"displayName":"A","userPrincipalName":"a@b"},
          "tenants":[{"id":"t","displayName":"T","defaultDomain":"b","userObjectId":"o",
          "eligible":[{"kind":"entraRole","role":"R","startOffset":"yesterday"}]}]}"#;
        assert!(Scenario::from_json(text).is_err());
        assert!(Scenario::from_json("{").is_err());
    }
}

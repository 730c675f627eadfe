//! A role's activation policy, derived from Graph rules (`@odata.type`) or ARM effective rules
//! (`ruleType`), and validation of an [`ActivationRequest`] against it before anything is sent.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration::PimDuration;
use crate::model::{ActivationRequest, default_duration};
use crate::{Error, Result};

/// What activating a role requires (end-user activation rules only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Longest activation allowed (`Expiration_EndUser_Assignment.maximumDuration`).
    pub max_duration: Option<PimDuration>,
    /// Whether an end is required (always true for activations in practice).
    pub expiration_required: bool,
    /// A justification must be given.
    pub justification_required: bool,
    /// A ticket number and system must be given.
    pub ticket_required: bool,
    /// The session must have done MFA.
    pub mfa_required: bool,
    /// Conditional Access authentication context (e.g. `c1`) the token must carry.
    pub authentication_context: Option<String>,
    /// An approver must approve.
    pub approval_required: bool,
    /// Policy id, when known (used to re-read the rules).
    pub policy_id: Option<String>,
}

impl Policy {
    /// Builds the policy from a list of rules, Graph or ARM shaped. Unknown rule types and
    /// admin/eligibility rules are ignored.
    pub fn from_rules(rules: &[Value]) -> Policy {
        let mut p = Policy::default();
        for rule in rules {
            let id = str_field(rule, "id").unwrap_or_default();
            let ty = str_field(rule, "@odata.type")
                .or_else(|| str_field(rule, "ruleType"))
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !is_end_user_assignment(rule, &id) {
                continue;
            }
            let id_l = id.to_ascii_lowercase();
            if ty.ends_with("expirationrule") || id_l.starts_with("expiration_") {
                p.expiration_required = bool_field(rule, "isExpirationRequired");
                p.max_duration =
                    str_field(rule, "maximumDuration").and_then(|d| PimDuration::parse(&d).ok());
            } else if ty.ends_with("enablementrule") || id_l.starts_with("enablement_") {
                let enabled: Vec<String> = rule
                    .get("enabledRules")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_ascii_lowercase)
                            .collect()
                    })
                    .unwrap_or_default();
                p.justification_required = enabled.iter().any(|e| e == "justification");
                p.ticket_required = enabled.iter().any(|e| e == "ticketing");
                p.mfa_required = enabled.iter().any(|e| e == "multifactorauthentication");
            } else if ty.ends_with("approvalrule") || id_l.starts_with("approval_") {
                p.approval_required = rule
                    .get("setting")
                    .map(|s| bool_field(s, "isApprovalRequired"))
                    .unwrap_or(false);
            } else if ty.ends_with("authenticationcontextrule")
                || id_l.starts_with("authenticationcontext_")
            {
                let enabled = bool_field(rule, "isEnabled");
                let claim = str_field(rule, "claimValue").filter(|c| !c.trim().is_empty());
                p.authentication_context = if enabled { claim } else { None };
            }
        }
        p
    }

    /// One-line summary, e.g. `max 8h; justification; ticket; MFA; approval; auth context c1`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = self.max_duration {
            parts.push(format!("max {m}"));
        }
        if self.justification_required {
            parts.push("justification".into());
        }
        if self.ticket_required {
            parts.push("ticket".into());
        }
        if self.mfa_required {
            parts.push("MFA".into());
        }
        if let Some(c) = &self.authentication_context {
            parts.push(format!("auth context {c}"));
        }
        if self.approval_required {
            parts.push("approval".into());
        }
        if parts.is_empty() {
            "no requirements".into()
        } else {
            parts.join("; ")
        }
    }
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bool_field(v: &Value, k: &str) -> bool {
    match v.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether a rule governs end-user activation: id `*_EndUser_Assignment`, or (id unknown)
/// target caller EndUser at level Assignment.
fn is_end_user_assignment(rule: &Value, id: &str) -> bool {
    let l = id.to_ascii_lowercase();
    if l.ends_with("_enduser_assignment") {
        return true;
    }
    if l.contains("_admin_") || l.contains("notification") || l.ends_with("_eligibility") {
        return false;
    }
    let Some(t) = rule.get("target") else {
        return id.is_empty();
    };
    let caller = str_field(t, "caller").unwrap_or_default();
    let level = str_field(t, "level").unwrap_or_default();
    caller.eq_ignore_ascii_case("enduser") && level.eq_ignore_ascii_case("assignment")
}

/// What an activation form offers before anything is sent: the policy (when it could be
/// read), the longest duration it allows and the duration to suggest. Both faces build their
/// form from this; [`validate`] applies the same bounds when the request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationForm {
    /// The role's policy; `None` when it could not be read (the service decides the rest).
    pub policy: Option<Policy>,
    /// The longest activation to offer: the policy's maximum, else PIM's own
    /// [`PimDuration::MAX_ACTIVATION`].
    pub max_duration: PimDuration,
    /// The duration to suggest: the user's preferred one (a setting) when given, else
    /// [`default_duration`], capped at `max_duration` and at least five minutes.
    pub duration: PimDuration,
}

impl ActivationForm {
    /// The form for `policy`, suggesting `preferred` where the policy allows it.
    pub fn new(policy: Option<&Policy>, preferred: Option<PimDuration>) -> ActivationForm {
        let max_duration = max_duration(policy);
        let duration = preferred
            .unwrap_or_else(|| default_duration(policy))
            .min(max_duration)
            .max(PimDuration::MIN_ACTIVATION);
        ActivationForm {
            policy: policy.cloned(),
            max_duration,
            duration,
        }
    }
}

/// The longest activation `policy` allows: its maximum, else PIM's own
/// [`PimDuration::MAX_ACTIVATION`].
pub fn max_duration(policy: Option<&Policy>) -> PimDuration {
    policy
        .and_then(|p| p.max_duration)
        .unwrap_or(PimDuration::MAX_ACTIVATION)
}

/// Checks a request against the known policy (or only the universal rules when `None`):
/// duration between 5 minutes and the maximum (the policy's, or PIM's own day when the policy
/// is unknown), justification and ticket present. All failures
/// are reported together in one [`Error::PolicyViolation`] naming the rules and what to do.
pub fn validate(role_name: &str, policy: Option<&Policy>, req: &ActivationRequest) -> Result<()> {
    check(role_name, policy, req, true)
}

/// [`validate`] for an extension of an administrator's assignment (`selfExtend`): its length
/// is the approving administrator's to decide, so neither the policy's activation maximum nor
/// PIM's day bounds it; the other rules apply.
pub fn validate_extension(
    role_name: &str,
    policy: Option<&Policy>,
    req: &ActivationRequest,
) -> Result<()> {
    check(role_name, policy, req, false)
}

fn check(
    role_name: &str,
    policy: Option<&Policy>,
    req: &ActivationRequest,
    bounded: bool,
) -> Result<()> {
    let mut rules = Vec::new();
    let mut advice = Vec::new();
    let duration = req.duration.unwrap_or_else(|| default_duration(policy));
    if duration < PimDuration::MIN_ACTIVATION {
        rules.push("ActiveDurationTooShort".to_owned());
        advice.push(format!(
            "the duration {duration} is shorter than the minimum of 5m: ask for at least 5 minutes"
        ));
    }
    let max = policy.and_then(|p| p.max_duration).filter(|_| bounded);
    if let Some(max) = max
        && duration > max
    {
        rules.push("ExpirationRule".to_owned());
        advice.push(format!(
            "the duration {duration} is longer than the maximum of {max} ({}) allowed by the policy: ask for {max} or less",
            max.to_iso8601()
        ));
    } else if bounded && max.is_none() && duration > PimDuration::MAX_ACTIVATION {
        rules.push("ExpirationRule".to_owned());
        advice.push(format!(
            "the duration {duration} is longer than the day (24h) PIM allows any activation: ask for 24h or less"
        ));
    }
    if let Some(p) = policy {
        let missing = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        if p.justification_required && missing(&req.justification) {
            rules.push("JustificationRule".to_owned());
            advice.push("the policy requires a justification: give a reason".into());
        }
        if p.ticket_required {
            let t = req.ticket.as_ref();
            if t.is_none_or(|t| t.number.trim().is_empty() || t.system.trim().is_empty()) {
                rules.push("TicketingRule".to_owned());
                advice.push(
                    "the policy requires ticket information: give a ticket number and a ticket system"
                        .into(),
                );
            }
        }
    }
    if rules.is_empty() {
        return Ok(());
    }
    Err(Error::PolicyViolation {
        message: format!(
            "cannot activate {role_name}: {} [{}]",
            advice.join("; "),
            rules.join(", ")
        ),
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Ticket;
    use serde_json::json;

    fn graph_rules() -> Vec<Value> {
        json!([
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
             "id": "Expiration_EndUser_Assignment", "isExpirationRequired": true, "maximumDuration": "PT8H",
             "target": {"caller": "EndUser", "operations": ["all"], "level": "Assignment"}},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
             "id": "Expiration_Admin_Eligibility", "isExpirationRequired": false, "maximumDuration": "P365D",
             "target": {"caller": "Admin", "operations": ["all"], "level": "Eligibility"}},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
             "id": "Enablement_EndUser_Assignment", "enabledRules": ["MultiFactorAuthentication", "Justification", "Ticketing"],
             "target": null},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
             "id": "Enablement_Admin_Assignment", "enabledRules": ["Justification"]},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
             "id": "Approval_EndUser_Assignment", "setting": {"isApprovalRequired": true, "approvalStages": null}},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
             "id": "AuthenticationContext_EndUser_Assignment", "isEnabled": true, "claimValue": "c1"},
            {"@odata.type": "#microsoft.graph.somethingNewRule", "id": "New_EndUser_Assignment", "x": 1},
            {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
             "id": "Notification_Requestor_EndUser_Assignment", "notificationType": "Email"}
        ])
        .as_array()
        .unwrap()
        .clone()
    }

    #[test]
    fn graph_rules_derive_policy() {
        let p = Policy::from_rules(&graph_rules());
        assert_eq!(p.max_duration, Some(PimDuration::from_hours(8)));
        assert!(p.justification_required && p.ticket_required && p.mfa_required);
        assert!(p.approval_required);
        assert_eq!(p.authentication_context.as_deref(), Some("c1"));
        assert!(p.summary().contains("max 8h"));
    }

    #[test]
    fn arm_effective_rules_derive_policy() {
        let rules = json!([
            {"isExpirationRequired": true, "maximumDuration": "PT4H", "id": "Expiration_EndUser_Assignment",
             "ruleType": "RoleManagementPolicyExpirationRule",
             "target": {"caller": "EndUser", "operations": ["All"], "level": "Assignment", "targetObjects": null}},
            {"enabledRules": ["Justification"], "id": "Enablement_EndUser_Assignment",
             "ruleType": "RoleManagementPolicyEnablementRule"},
            {"setting": {"isApprovalRequired": false}, "id": "Approval_EndUser_Assignment",
             "ruleType": "RoleManagementPolicyApprovalRule"},
            {"isEnabled": false, "claimValue": "", "id": "AuthenticationContext_EndUser_Assignment",
             "ruleType": "RoleManagementPolicyAuthenticationContextRule"},
            {"isEnabled": true, "claimValue": "", "ruleType": "RoleManagementPolicyAuthenticationContextRule",
             "target": {"caller": "Admin", "level": "Assignment"}}
        ]);
        let p = Policy::from_rules(rules.as_array().unwrap());
        assert_eq!(p.max_duration, Some(PimDuration::from_hours(4)));
        assert!(p.justification_required && !p.ticket_required && !p.mfa_required);
        assert!(!p.approval_required);
        assert_eq!(p.authentication_context, None);
    }

    #[test]
    fn rules_without_ids_use_type_and_target() {
        let rules = json!([
            {"ruleType": "RoleManagementPolicyExpirationRule", "maximumDuration": "PT2H",
             "target": {"caller": "EndUser", "level": "Assignment"}},
            {"ruleType": "RoleManagementPolicyExpirationRule", "maximumDuration": "P180D",
             "target": {"caller": "Admin", "level": "Eligibility"}}
        ]);
        let p = Policy::from_rules(rules.as_array().unwrap());
        assert_eq!(p.max_duration, Some(PimDuration::from_hours(2)));
    }

    #[test]
    fn validation_names_rules_and_maximum() {
        let p = Policy::from_rules(&graph_rules());
        let req = ActivationRequest {
            duration: Some(PimDuration::from_hours(9)),
            ..Default::default()
        };
        let Err(Error::PolicyViolation { rules, message }) =
            validate("Security Administrator", Some(&p), &req)
        else {
            panic!("expected a violation")
        };
        assert_eq!(
            rules,
            ["ExpirationRule", "JustificationRule", "TicketingRule"]
        );
        assert!(message.contains("8h"), "{message}");
        assert!(message.contains("PT8H"), "{message}");

        let ok = ActivationRequest {
            justification: Some("incident".into()),
            ticket: Some(Ticket {
                number: "INC-1".into(),
                system: "SN".into(),
            }),
            duration: Some(PimDuration::from_hours(8)),
            start: None,
        };
        validate("x", Some(&p), &ok).unwrap();
    }

    #[test]
    fn minimum_duration_applies_without_policy() {
        let req = ActivationRequest {
            duration: Some(PimDuration::from_minutes(4)),
            ..Default::default()
        };
        let err = validate("x", None, &req).unwrap_err();
        assert!(matches!(err, Error::PolicyViolation { .. }));
        assert!(err.to_string().contains("5m"));
        validate("x", None, &ActivationRequest::default()).unwrap();
    }

    #[test]
    fn an_unknown_policy_still_caps_at_pims_day() {
        let req = |h| ActivationRequest {
            duration: Some(PimDuration::from_hours(h)),
            ..Default::default()
        };
        validate("x", None, &req(24)).unwrap();
        let err = validate("x", None, &req(25)).unwrap_err();
        assert!(
            matches!(&err, Error::PolicyViolation { rules, .. } if rules == &["ExpirationRule"]),
            "{err:?}"
        );
        assert!(err.to_string().contains("24h or less"), "{err}");
        // A known maximum is the policy's, not PIM's.
        let p = Policy {
            max_duration: Some(PimDuration::from_hours(2)),
            ..Default::default()
        };
        assert!(validate("x", Some(&p), &req(3)).is_err());
        // An administrator's assignment is extended for as long as the approver decides.
        validate_extension("x", Some(&p), &req(24 * 90)).unwrap();
        validate_extension("x", None, &req(24 * 90)).unwrap();
        assert!(
            validate_extension("x", None, &req(0)).is_err(),
            "the minimum still holds"
        );
    }

    #[test]
    fn the_form_offers_the_policys_bounds() {
        let p = Policy {
            max_duration: Some(PimDuration::from_hours(4)),
            ..Default::default()
        };
        let f = ActivationForm::new(Some(&p), Some(PimDuration::from_hours(8)));
        assert_eq!(f.max_duration, PimDuration::from_hours(4));
        assert_eq!(
            f.duration,
            PimDuration::from_hours(4),
            "capped at the maximum"
        );
        let f = ActivationForm::new(Some(&p), None);
        assert_eq!(f.duration, PimDuration::from_hours(1), "the default");
        let f = ActivationForm::new(Some(&p), Some(PimDuration::from_minutes(1)));
        assert_eq!(f.duration, PimDuration::MIN_ACTIVATION);
        let f = ActivationForm::new(None, Some(PimDuration::from_hours(30)));
        assert_eq!(f.max_duration, PimDuration::MAX_ACTIVATION);
        assert_eq!(f.duration, PimDuration::MAX_ACTIVATION);
        assert_eq!(f.policy, None);
    }

    #[test]
    fn blank_justification_counts_as_missing() {
        let p = Policy {
            justification_required: true,
            ..Default::default()
        };
        let req = ActivationRequest {
            justification: Some("  ".into()),
            ..Default::default()
        };
        assert!(validate("x", Some(&p), &req).is_err());
    }
}

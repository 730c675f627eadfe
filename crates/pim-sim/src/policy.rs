//! Role management policies: the simulator's compact policy model and its rendering as
//! the 17 Graph rules (`@odata.type` discriminator) and the ARM `effectiveRules`
//! (`ruleType` discriminator).

use serde_json::{Value, json};
use time::Duration;

use crate::clock::parse_duration;
use crate::scenario::PolicySpec;

/// Activation rules of one role.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `Expiration_EndUser_Assignment.maximumDuration` as written.
    pub max_duration: String,
    /// Parsed maximum duration.
    pub max: Duration,
    /// `isExpirationRequired`.
    pub expiration_required: bool,
    /// Justification required.
    pub justification: bool,
    /// Ticket required.
    pub ticketing: bool,
    /// MFA required.
    pub mfa: bool,
    /// Approval required.
    pub approval: bool,
    /// Authentication context claim value.
    pub auth_context: Option<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_duration: "PT8H".into(),
            max: Duration::hours(8),
            expiration_required: true,
            justification: true,
            ticketing: false,
            mfa: false,
            approval: false,
            auth_context: None,
        }
    }
}

/// An approver named in the approval rule.
#[derive(Debug, Clone)]
pub struct Approver {
    /// Object id.
    pub id: String,
    /// Description shown in the rule.
    pub description: String,
}

impl Policy {
    /// Builds the policy from a scenario entry.
    pub fn from_spec(p: &PolicySpec) -> Self {
        let d = Policy::default();
        let (max_duration, max) = match p
            .max_duration
            .as_deref()
            .and_then(|s| parse_duration(s).map(|d| (s, d)))
        {
            Some((s, d)) => (s.to_owned(), d),
            None => (d.max_duration, d.max),
        };
        Self {
            max_duration,
            max,
            expiration_required: p.expiration_required.unwrap_or(true),
            justification: p.justification.unwrap_or(true),
            ticketing: p.ticketing,
            mfa: p.mfa,
            approval: p.approval,
            auth_context: p.authentication_context.clone().filter(|s| !s.is_empty()),
        }
    }

    /// `enabledRules` of `Enablement_EndUser_Assignment`.
    pub fn enabled_rules(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.mfa {
            v.push("MultiFactorAuthentication");
        }
        if self.justification {
            v.push("Justification");
        }
        if self.ticketing {
            v.push("Ticketing");
        }
        v
    }
}

/// Which dialect to render rules in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Microsoft Graph (`@odata.type`, camelCase operations, `claimValue: null` when off).
    Graph,
    /// ARM (`ruleType`, `"All"`, `claimValue: ""` when off).
    Arm,
}

const NOTIFY: [(&str, &str, &str); 9] = [
    ("Admin", "Admin", "Eligibility"),
    ("Requestor", "Admin", "Eligibility"),
    ("Approver", "Admin", "Eligibility"),
    ("Admin", "Admin", "Assignment"),
    ("Requestor", "Admin", "Assignment"),
    ("Approver", "Admin", "Assignment"),
    ("Admin", "EndUser", "Assignment"),
    ("Requestor", "EndUser", "Assignment"),
    ("Approver", "EndUser", "Assignment"),
];

fn target(d: Dialect, caller: &str, level: &str) -> Value {
    match d {
        Dialect::Graph => json!({
            "caller": caller, "operations": ["all"], "level": level,
            "inheritableSettings": [], "enforcedSettings": []
        }),
        Dialect::Arm => json!({
            "caller": caller, "operations": ["All"], "level": level,
            "targetObjects": null, "inheritableSettings": null, "enforcedSettings": null
        }),
    }
}

fn typed(d: Dialect, kind: &str, mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        match d {
            Dialect::Graph => {
                o.insert(
                    "@odata.type".into(),
                    json!(format!(
                        "#microsoft.graph.unifiedRoleManagementPolicy{kind}Rule"
                    )),
                );
            }
            Dialect::Arm => {
                o.insert(
                    "ruleType".into(),
                    json!(format!("RoleManagementPolicy{kind}Rule")),
                );
            }
        }
    }
    v
}

/// All 17 rules of a policy.
pub fn rules(p: &Policy, approvers: &[Approver], d: Dialect) -> Vec<Value> {
    let mut out = Vec::with_capacity(17);
    out.push(typed(
        d,
        "Expiration",
        json!({"id": "Expiration_Admin_Eligibility", "isExpirationRequired": false, "maximumDuration": "P365D",
               "target": target(d, "Admin", "Eligibility")}),
    ));
    out.push(typed(
        d,
        "Enablement",
        json!({"id": "Enablement_Admin_Eligibility", "enabledRules": [], "target": target(d, "Admin", "Eligibility")}),
    ));
    out.push(typed(
        d,
        "Expiration",
        json!({"id": "Expiration_Admin_Assignment", "isExpirationRequired": false, "maximumDuration": "P180D",
               "target": target(d, "Admin", "Assignment")}),
    ));
    out.push(typed(
        d,
        "Enablement",
        json!({"id": "Enablement_Admin_Assignment", "enabledRules": ["Justification"], "target": target(d, "Admin", "Assignment")}),
    ));
    out.push(typed(
        d,
        "Expiration",
        json!({"id": "Expiration_EndUser_Assignment", "isExpirationRequired": p.expiration_required,
               "maximumDuration": p.max_duration, "target": target(d, "EndUser", "Assignment")}),
    ));
    out.push(typed(
        d,
        "Enablement",
        json!({"id": "Enablement_EndUser_Assignment", "enabledRules": p.enabled_rules(),
               "target": target(d, "EndUser", "Assignment")}),
    ));
    let approver_json: Vec<Value> = approvers
        .iter()
        .map(|a| match d {
            Dialect::Graph => json!({"@odata.type": "#microsoft.graph.singleUser", "userId": a.id, "description": a.description}),
            Dialect::Arm => json!({"id": a.id, "description": a.description, "isBackup": false, "userType": "User"}),
        })
        .collect();
    let stage = json!({
        "approvalStageTimeOutInDays": 1,
        "isApproverJustificationRequired": true,
        "escalationTimeInMinutes": 0,
        "isEscalationEnabled": false,
        "primaryApprovers": if p.approval { approver_json } else { Vec::new() },
        "escalationApprovers": []
    });
    out.push(typed(
        d,
        "Approval",
        json!({"id": "Approval_EndUser_Assignment", "target": target(d, "EndUser", "Assignment"),
        "setting": {
            "isApprovalRequired": p.approval,
            "isApprovalRequiredForExtension": false,
            "isRequestorJustificationRequired": true,
            "approvalMode": "SingleStage",
            "approvalStages": [stage]
        }}),
    ));
    let claim = match (&p.auth_context, d) {
        (Some(c), _) => json!(c),
        (None, Dialect::Graph) => Value::Null,
        (None, Dialect::Arm) => json!(""),
    };
    out.push(typed(
        d,
        "AuthenticationContext",
        json!({"id": "AuthenticationContext_EndUser_Assignment", "isEnabled": p.auth_context.is_some(),
               "claimValue": claim, "target": target(d, "EndUser", "Assignment")}),
    ));
    for (recipient, caller, level) in NOTIFY {
        out.push(typed(
            d,
            "Notification",
            json!({"id": format!("Notification_{recipient}_{caller}_{level}"),
                   "notificationType": "Email", "recipientType": recipient, "notificationLevel": "All",
                   "isDefaultRecipientsEnabled": true, "notificationRecipients": [],
                   "target": target(d, caller, level)}),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[Value]) -> Vec<String> {
        v.iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn seventeen_rules_with_documented_ids() {
        let p = Policy::default();
        let r = rules(&p, &[], Dialect::Graph);
        assert_eq!(r.len(), 17);
        let ids = ids(&r);
        for id in [
            "Expiration_EndUser_Assignment",
            "Enablement_EndUser_Assignment",
            "Approval_EndUser_Assignment",
            "AuthenticationContext_EndUser_Assignment",
            "Expiration_Admin_Eligibility",
            "Enablement_Admin_Eligibility",
            "Expiration_Admin_Assignment",
            "Enablement_Admin_Assignment",
            "Notification_Admin_Admin_Eligibility",
            "Notification_Requestor_EndUser_Assignment",
            "Notification_Approver_Admin_Assignment",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} missing");
        }
        let mut dedup = ids.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 17);
    }

    #[test]
    fn dialects_differ_as_documented() {
        let p = Policy::default();
        let g = rules(&p, &[], Dialect::Graph);
        let a = rules(&p, &[], Dialect::Arm);
        let ac = |v: &[Value]| {
            v.iter()
                .find(|r| r["id"] == "AuthenticationContext_EndUser_Assignment")
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(ac(&g)["claimValue"], Value::Null);
        assert_eq!(ac(&a)["claimValue"], json!(""));
        assert_eq!(
            ac(&a)["ruleType"],
            "RoleManagementPolicyAuthenticationContextRule"
        );
        assert_eq!(
            ac(&g)["@odata.type"],
            "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule"
        );
        assert_eq!(a[0]["target"]["operations"], json!(["All"]));
        assert_eq!(g[0]["target"]["operations"], json!(["all"]));
    }

    #[test]
    fn enabled_rules_follow_policy() {
        let p = Policy {
            mfa: true,
            ticketing: true,
            ..Policy::default()
        };
        assert_eq!(
            p.enabled_rules(),
            vec!["MultiFactorAuthentication", "Justification", "Ticketing"]
        );
    }
}

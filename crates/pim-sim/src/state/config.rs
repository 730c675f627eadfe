//! Runtime configuration (`POST /_sim/config`): [`SimConfig`], the configured authority
//! error, and their validation.

use serde::{Deserialize, Serialize};

use crate::api_error::{Error, Result};

/// Runtime configuration (`POST /_sim/config`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SimConfig {
    /// Page size for Graph and ARM collections (`None` = no paging).
    pub page_size: Option<usize>,
    /// Graph policy reads answer 403 `PermissionScopeNotGranted`.
    pub policy_read_forbidden: bool,
    /// ARM policy reads answer 403 `AuthorizationFailed`.
    pub arm_policy_read_forbidden: bool,
    /// Permission errors on PIM-for-Groups endpoints use the double-wrapped `UnknownError` shape.
    pub wrap_errors: bool,
    /// Status of a successful deactivation request: `Revoked` or `Provisioned`.
    pub deactivate_status: String,
    /// `selfExtend` on an activation: `reject` (400) or `accept`.
    pub self_extend_on_activation: String,
    /// `$expand=policy($expand=rules)` answers 500 "An error has occurred.".
    pub expand_policy_fails: bool,
    /// Every sign-in performs MFA.
    pub mfa_on_sign_in: bool,
    /// The authorize endpoint answers `error=access_denied&error_subcode=cancel`.
    pub authorize_cancel: bool,
    /// The authority answers this error (Entra v2 shape) instead of its normal answer.
    #[serde(default)]
    pub authority_error: Option<AuthorityError>,
    /// Answers for the next device-code polls (of a code not yet redeemed, even one already
    /// approved or declined), in order, before the code's real state applies:
    /// `authorization_pending`, `slow_down`, `authorization_declined`, `expired_token`,
    /// `bad_verification_code`.
    #[serde(default)]
    pub device_poll_script: Vec<String>,
    /// Length (characters) of the refresh tokens issued from now on; `None`: about 1.1 KB.
    #[serde(default)]
    pub refresh_token_bytes: Option<usize>,
    /// Seconds a refresh token stays usable after it was rotated (redeemed for a new one).
    /// `None` (default): until it expires or is revoked, as Entra ID does; a number makes the
    /// simulator a stricter server that rejects replaced tokens (`AADSTS70008`).
    #[serde(default)]
    pub rotated_refresh_token_lifetime: Option<i64>,
    /// Seconds (of simulated time) a new Graph schedule request stays missing from the
    /// caller's `filterByCurrentUser` request lists, as when Graph's list lags behind a
    /// write; `None` (default) or 0: listed at once.
    #[serde(default)]
    pub request_list_lag: Option<u32>,
    /// When an approver's decision needs a justification: `required` (default: approve
    /// and deny, as the policies' `isApproverJustificationRequired: true` say),
    /// `denyOnly` or `optional`.
    #[serde(default = "default_approver_justification")]
    pub approver_justification: String,
    /// Status of a successful Graph approval decision (`PATCH …/steps/{id}`): 204 (default,
    /// no body, as documented) or 200 (the decided stage).
    #[serde(default = "default_graph_decision_status")]
    pub graph_decision_status: u16,
    /// ARM approval decisions (`PATCH …/stages/{id}`) answer 200 with an empty body (as the
    /// Entra how-to says) instead of the decided stage (as the REST reference says).
    #[serde(default)]
    pub arm_decision_empty: bool,
    /// Graph approval stages show a decision as `Approved`/`Denied` (as the resource
    /// documentation lists) instead of `Approve`/`Deny` (what was sent, as ARM shows it).
    #[serde(default)]
    pub review_result_past_tense: bool,
}

fn default_approver_justification() -> String {
    "required".into()
}

fn default_graph_decision_status() -> u16 {
    204
}

/// A configured authority error (`POST /_sim/config {"authorityError": {...}}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorityError {
    /// `authorize`, `token` or `devicecode`.
    pub endpoint: String,
    /// For `token`: only this grant (`authorization_code`, `refresh_token`, `device_code` or
    /// the full device-code URN); `None`: every grant.
    #[serde(default)]
    pub grant: Option<String>,
    /// The OAuth `error`, e.g. `invalid_grant`, `consent_required`, `unauthorized_client`.
    pub error: String,
    /// AADSTS numbers (`error_codes`); the first prefixes the description.
    #[serde(default)]
    pub codes: Vec<u32>,
    /// The text after `AADSTSnnnnn: ` (default: a standard text for the first code).
    #[serde(default)]
    pub description: Option<String>,
    /// Entra's `suberror` (`consent_required`, `basic_action`, `message_only`, ...).
    #[serde(default)]
    pub suberror: Option<String>,
    /// A `claims` challenge (JSON) echoed in the answer.
    #[serde(default)]
    pub claims: Option<String>,
    /// HTTP status of token/devicecode answers (default 400).
    #[serde(default)]
    pub status: Option<u16>,
    /// How many answers; `None`: until cleared with `"authorityError": null`.
    #[serde(default)]
    pub times: Option<u32>,
}

/// The device-code grant type.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Device-poll answers `devicePollScript` accepts.
pub const DEVICE_POLL_ANSWERS: [&str; 5] = [
    "authorization_pending",
    "slow_down",
    "authorization_declined",
    "expired_token",
    "bad_verification_code",
];

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            page_size: None,
            policy_read_forbidden: false,
            arm_policy_read_forbidden: false,
            wrap_errors: false,
            deactivate_status: "Revoked".into(),
            self_extend_on_activation: "reject".into(),
            expand_policy_fails: false,
            mfa_on_sign_in: false,
            authorize_cancel: false,
            authority_error: None,
            device_poll_script: Vec::new(),
            refresh_token_bytes: None,
            rotated_refresh_token_lifetime: None,
            request_list_lag: None,
            approver_justification: default_approver_justification(),
            graph_decision_status: default_graph_decision_status(),
            arm_decision_empty: false,
            review_result_past_tense: false,
        }
    }
}

impl SimConfig {
    /// Applies a JSON merge patch; unknown keys are an error.
    pub fn merge(&mut self, patch: &serde_json::Value) -> Result<()> {
        let obj = patch
            .as_object()
            .ok_or_else(|| Error::Invalid("config patch must be a JSON object".into()))?;
        let mut cur = serde_json::to_value(&*self).map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(c) = cur.as_object_mut() {
            for (k, v) in obj {
                if !c.contains_key(k) {
                    return Err(Error::Invalid(format!("unknown config key '{k}'")));
                }
                c.insert(k.clone(), v.clone());
            }
        }
        let next: SimConfig =
            serde_json::from_value(cur).map_err(|e| Error::Invalid(format!("config: {e}")))?;
        if !["Revoked", "Provisioned"].contains(&next.deactivate_status.as_str()) {
            return Err(Error::Invalid(
                "deactivateStatus must be Revoked or Provisioned".into(),
            ));
        }
        if !["reject", "accept"].contains(&next.self_extend_on_activation.as_str()) {
            return Err(Error::Invalid(
                "selfExtendOnActivation must be reject or accept".into(),
            ));
        }
        if let Some(e) = &next.authority_error {
            if !["authorize", "token", "devicecode"].contains(&e.endpoint.as_str()) {
                return Err(Error::Invalid(
                    "authorityError.endpoint must be authorize, token or devicecode".into(),
                ));
            }
            if let Some(g) = &e.grant
                && ![
                    "authorization_code",
                    "refresh_token",
                    "device_code",
                    DEVICE_CODE_GRANT,
                ]
                .contains(&g.as_str())
            {
                return Err(Error::Invalid(format!(
                    "authorityError.grant '{g}' is not authorization_code, refresh_token or device_code"
                )));
            }
            if e.error.trim().is_empty() {
                return Err(Error::Invalid("authorityError.error is empty".into()));
            }
            if e.status.is_some_and(|s| !(400..=599).contains(&s)) {
                return Err(Error::Invalid(
                    "authorityError.status must be 400..=599".into(),
                ));
            }
            if e.times == Some(0) {
                return Err(Error::Invalid(
                    "authorityError.times must be at least 1".into(),
                ));
            }
        }
        if let Some(a) = next
            .device_poll_script
            .iter()
            .find(|a| !DEVICE_POLL_ANSWERS.contains(&a.as_str()))
        {
            return Err(Error::Invalid(format!(
                "devicePollScript: '{a}' is not one of {}",
                DEVICE_POLL_ANSWERS.join(", ")
            )));
        }
        if next
            .refresh_token_bytes
            .is_some_and(|n| !(16..=65536).contains(&n))
        {
            return Err(Error::Invalid(
                "refreshTokenBytes must be 16..=65536".into(),
            ));
        }
        if !["required", "denyOnly", "optional"].contains(&next.approver_justification.as_str()) {
            return Err(Error::Invalid(
                "approverJustification must be required, denyOnly or optional".into(),
            ));
        }
        if ![200, 204].contains(&next.graph_decision_status) {
            return Err(Error::Invalid(
                "graphDecisionStatus must be 200 or 204".into(),
            ));
        }
        if next.page_size == Some(0) {
            return Err(Error::Invalid("pageSize must be at least 1".into()));
        }
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_merge_validates() {
        let mut c = SimConfig::default();
        c.merge(&serde_json::json!({"pageSize": 2, "wrapErrors": true}))
            .expect("ok");
        assert_eq!(c.page_size, Some(2));
        assert!(c.wrap_errors);
        assert!(c.merge(&serde_json::json!({"nope": 1})).is_err());
        assert!(
            c.merge(&serde_json::json!({"deactivateStatus": "Gone"}))
                .is_err()
        );
        c.merge(&serde_json::json!({"pageSize": null})).expect("ok");
        assert_eq!(c.page_size, None);
    }
}

//! The service's error envelopes (Graph, ARM, back-end and OAuth shapes, A.10.1, including
//! the double-wrapped `UnknownError`) turned into [`Error`]s that name the rule and what to
//! do, and claims challenges (`WWW-Authenticate: insufficient_claims`, claims in messages)
//! turned into step-ups.

use base64::Engine as _;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::Error;
use crate::token::Resource;

/// From a 401's `WWW-Authenticate` with `error="insufficient_claims"`, the base64-decoded
/// `claims` JSON.
pub fn insufficient_claims(h: &HeaderMap) -> Option<String> {
    for v in h.get_all("www-authenticate") {
        let Ok(s) = v.to_str() else { continue };
        if !s.to_ascii_lowercase().contains("insufficient_claims") {
            continue;
        }
        let Some(claims) = auth_param(s, "claims") else {
            continue;
        };
        if let Some(decoded) = decode_b64(&claims) {
            return Some(decoded);
        }
        if claims.trim_start().starts_with('{') {
            return Some(claims);
        }
    }
    None
}

fn auth_param(header: &str, name: &str) -> Option<String> {
    let lower = header.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        let before_ok = at == 0 || matches!(lower.as_bytes()[at - 1], b' ' | b',');
        let rest = header[at + name.len()..].trim_start();
        if before_ok && let Some(rest) = rest.strip_prefix('=') {
            let rest = rest.trim_start();
            if let Some(q) = rest.strip_prefix('"') {
                return q.find('"').map(|end| q[..end].to_owned());
            }
            let end = rest.find([',', ' ']).unwrap_or(rest.len());
            return Some(rest[..end].to_owned());
        }
        from = at + name.len();
    }
    None
}

fn decode_b64(s: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    for eng in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        if let Ok(b) = eng.decode(s)
            && let Ok(t) = String::from_utf8(b)
            && serde_json::from_str::<Value>(&t).is_ok()
        {
            return Some(t);
        }
    }
    None
}

/// The claims request for an MFA step-up.
pub const MFA_CLAIMS: &str = r#"{"access_token":{"amr":{"values":["mfa"]}}}"#;

/// A parsed error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Effective code (unwrapped from `UnknownError`).
    pub code: String,
    /// Effective message.
    pub message: String,
    /// `request-id` / `x-ms-request-id`.
    pub request_id: Option<String>,
}

impl ApiError {
    /// Parses Graph (`{error:{code,message,innerError}}`, double-wrapped or not), ARM
    /// (`CloudError`), the PIM backend shape (`{errorCode,message}`) and OAuth errors; any
    /// other body gives code `HttpNNN` with the text.
    pub fn parse(status: u16, body: &[u8], request_id: Option<String>) -> ApiError {
        let mut code = String::new();
        let mut message: String;
        let mut rid = request_id;
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            let err = v.get("error").cloned().unwrap_or(Value::Null);
            match &err {
                Value::Object(_) => {
                    code = str_of(&err, "code");
                    message = str_of(&err, "message");
                    if rid.is_none() {
                        let inner = err
                            .get("innerError")
                            .or_else(|| err.get("innererror"))
                            .cloned()
                            .unwrap_or(Value::Null);
                        let r = str_of(&inner, "request-id");
                        if !r.is_empty() {
                            rid = Some(r);
                        }
                    }
                }
                Value::String(s) => {
                    code = s.clone();
                    message = str_of(&v, "error_description");
                }
                _ => {
                    code = str_of(&v, "errorCode");
                    if code.is_empty() {
                        code = str_of(&v, "code");
                    }
                    message = str_of(&v, "message");
                }
            }
            if (code.is_empty() || code.eq_ignore_ascii_case("UnknownError"))
                && let Ok(inner) = serde_json::from_str::<Value>(message.trim())
            {
                let c = str_of(&inner, "errorCode");
                let c = if c.is_empty() {
                    str_of(&inner, "code")
                } else {
                    c
                };
                if !c.is_empty() {
                    code = c;
                    message = str_of(&inner, "message");
                }
            }
        } else {
            message = String::from_utf8_lossy(body).chars().take(300).collect();
        }
        if code.is_empty() {
            code = format!("Http{status}");
        }
        if message.is_empty() {
            message = format!("HTTP {status}");
        }
        ApiError {
            status,
            code,
            message,
            request_id: rid,
        }
    }

    /// Rule names from `The following policy rules failed: ["A","B"]`.
    pub fn rules(&self) -> Vec<String> {
        parse_rules(&self.message)
    }

    /// The claims JSON after `claims=` in the message (URL-decoded).
    pub fn acrs_claims(&self) -> Option<String> {
        claims_from_message(&self.message)
    }

    /// Maps to the typed error a caller can act on.
    pub fn into_error(self, resource: Resource) -> Error {
        let code_l = self.code.to_ascii_lowercase();
        if code_l.ends_with("acrsvalidationfailed")
            && let Some(claims) = self.acrs_claims()
        {
            return Error::StepUpRequired { resource, claims };
        }
        if code_l == "roleassignmentrequestpolicyvalidationfailed" {
            let rules = self.rules();
            if rules.iter().any(|r| r.eq_ignore_ascii_case("MfaRule")) {
                return Error::StepUpRequired {
                    resource,
                    claims: MFA_CLAIMS.to_owned(),
                };
            }
            if rules
                .iter()
                .any(|r| r.eq_ignore_ascii_case("AuthenticationContextRule"))
                && let Some(claims) = self.acrs_claims()
            {
                return Error::StepUpRequired { resource, claims };
            }
            if !rules.is_empty()
                && rules
                    .iter()
                    .all(|r| r.eq_ignore_ascii_case("EligibilityRule"))
            {
                return Error::NotEligible {
                    message: format!(
                        "you are not eligible for this role at this scope (EligibilityRule); refresh the list{}",
                        self.rid_suffix()
                    ),
                };
            }
            let advice: Vec<String> = rules.iter().map(|r| rule_advice(r)).collect();
            return Error::PolicyViolation {
                message: format!(
                    "the service refused the request because of the role's policy: {} [{}]{}",
                    if advice.is_empty() {
                        self.message.clone()
                    } else {
                        advice.join("; ")
                    },
                    rules.join(", "),
                    self.rid_suffix()
                ),
                rules,
            };
        }
        if code_l == "activedurationtooshort" {
            return Error::PolicyViolation {
                rules: vec!["ActiveDurationTooShort".into()],
                message: format!(
                    "the service says the active duration is too short: activations last at least 5 minutes, and a role can be deactivated only 5 minutes after it was activated{}",
                    self.rid_suffix()
                ),
            };
        }
        let msg_l = self.message.to_ascii_lowercase();
        let licence = code_l.contains("licenserequired")
            || code_l.contains("licencerequired")
            || ((msg_l.contains("license") || msg_l.contains("licence"))
                && (msg_l.contains("p2")
                    || msg_l.contains("premium")
                    || msg_l.contains("governance")));
        if licence {
            return Error::Api {
                status: self.status,
                code: self.code,
                message: format!(
                    "this tenant has no licence for Privileged Identity Management: it needs \
                     Microsoft Entra ID P2 or Microsoft Entra ID Governance; ask an administrator ({})",
                    self.message
                ),
                request_id: self.request_id,
            };
        }
        let advice = match code_l.as_str() {
            "roleassignmentexists" => "the role is already active; refresh to see it",
            "roleassignmentdoesnotexist" => "the role is not active (any more); refresh the list",
            "permissionscopenotgranted" => {
                "the app registration lacks a permission for this; ask an administrator to grant consent"
            }
            "authorizationfailed" => "you have no permission for this at this scope",
            "invalidroleassignmentrequest" => "the service rejected the request as invalid",
            _ => "",
        };
        let message = if advice.is_empty() {
            self.message.clone()
        } else {
            format!("{advice} ({})", self.message)
        };
        Error::Api {
            status: self.status,
            code: self.code,
            message,
            request_id: self.request_id,
        }
    }

    fn rid_suffix(&self) -> String {
        self.request_id
            .as_deref()
            .map(|r| format!(" (request-id {r})"))
            .unwrap_or_default()
    }
}

fn rule_advice(rule: &str) -> String {
    match rule.to_ascii_lowercase().as_str() {
        "justificationrule" => "a justification is required: give a reason".into(),
        "ticketingrule" => "ticket information is required: give a ticket number and system".into(),
        "expirationrule" => {
            "the duration is longer than the policy allows (or missing): ask for a shorter duration"
                .into()
        }
        "approvalrule" => "approval settings refused the request".into(),
        "mfarule" => "multi-factor authentication is required: sign in again with MFA".into(),
        other => format!("rule {other} failed"),
    }
}

fn str_of(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Rule names in a policy-validation message: the JSON array if there is one, else known
/// names found as substrings.
pub fn parse_rules(message: &str) -> Vec<String> {
    if let (Some(start), Some(end)) = (message.find('['), message.rfind(']'))
        && start < end
        && let Ok(v) = serde_json::from_str::<Vec<String>>(&message[start..=end])
    {
        return v;
    }
    const KNOWN: [&str; 7] = [
        "JustificationRule",
        "TicketingRule",
        "ExpirationRule",
        "MfaRule",
        "EligibilityRule",
        "ApprovalRule",
        "AuthenticationContextRule",
    ];
    let l = message.to_ascii_lowercase();
    KNOWN
        .iter()
        .filter(|k| l.contains(&k.to_ascii_lowercase()))
        .map(|k| (*k).to_owned())
        .collect()
}

/// The (URL-decoded) JSON claims after `claims=` in a message.
pub fn claims_from_message(message: &str) -> Option<String> {
    let idx = message.find("claims=")?;
    let rest = &message[idx + "claims=".len()..];
    let raw = rest.split('&').next().unwrap_or(rest).trim();
    let decoded = if raw.starts_with('{') {
        rest.trim().to_owned()
    } else {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?
            .replace('+', " ")
    };
    let mut stream = serde_json::Deserializer::from_str(&decoded).into_iter::<Value>();
    match stream.next() {
        Some(Ok(Value::Object(_))) => Some(decoded[..stream.byte_offset()].to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn graph_envelope_and_rules() {
        let body = br#"{"error":{"code":"RoleAssignmentRequestPolicyValidationFailed","message":"The following policy rules failed: [\"JustificationRule\",\"TicketingRule\"]","innerError":{"date":"2026-08-21T08:02:11","request-id":"7c5f","client-request-id":"7c5f"}}}"#;
        let e = ApiError::parse(400, body, None);
        assert_eq!(e.code, "RoleAssignmentRequestPolicyValidationFailed");
        assert_eq!(e.request_id.as_deref(), Some("7c5f"));
        assert_eq!(e.rules(), ["JustificationRule", "TicketingRule"]);
        match e.into_error(Resource::Graph) {
            Error::PolicyViolation { rules, message } => {
                assert_eq!(rules.len(), 2);
                assert!(message.contains("justification"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn double_wrapped_unknown_error_is_unwrapped() {
        let body = br#"{"error":{"code":"UnknownError","message":"{\"errorCode\":\"PermissionScopeNotGranted\",\"message\":\"Authorization failed due to missing permission scope X.\",\"instanceAnnotations\":[]}","innerError":{"request-id":"09dd"}}}"#;
        let e = ApiError::parse(403, body, None);
        assert_eq!(e.code, "PermissionScopeNotGranted");
        assert!(e.message.starts_with("Authorization failed"));
        let err = e.into_error(Resource::Graph);
        assert!(matches!(err, Error::Api { status: 403, .. }));
        assert!(err.to_string().contains("consent"), "{err}");
    }

    #[test]
    fn arm_and_backend_and_oauth_shapes() {
        let e = ApiError::parse(400, br#"{"error":{"code":"RoleAssignmentExists","message":"The Role assignment already exists."}}"#, Some("x".into()));
        assert_eq!(e.code, "RoleAssignmentExists");
        let e = ApiError::parse(
            400,
            br#"{"errorCode":"ActiveDurationTooShort","message":"too short"}"#,
            None,
        );
        assert_eq!(e.code, "ActiveDurationTooShort");
        let e = ApiError::parse(
            400,
            br#"{"error":"invalid_grant","error_description":"AADSTS70008: expired"}"#,
            None,
        );
        assert_eq!(e.code, "invalid_grant");
        let e = ApiError::parse(502, b"<html>bad gateway</html>", None);
        assert_eq!(e.code, "Http502");
        let e = ApiError::parse(500, b"", None);
        assert_eq!(e.message, "HTTP 500");
        let e = ApiError::parse(400, br#"{"error":{"code":null,"message":null}}"#, None);
        assert_eq!(e.code, "Http400");
    }

    #[test]
    fn mfa_rule_and_acrs_become_step_up() {
        let e = ApiError::parse(400, br#"{"error":{"code":"RoleAssignmentRequestPolicyValidationFailed","message":"The following policy rules failed: [\"MfaRule\"]"}}"#, None);
        match e.into_error(Resource::Graph) {
            Error::StepUpRequired { claims, resource } => {
                assert_eq!(resource, Resource::Graph);
                assert_eq!(claims, MFA_CLAIMS);
            }
            other => panic!("{other:?}"),
        }
        let e = ApiError::parse(400, br#"{"error":{"code":"RoleAssignmentRequestAcrsValidationFailed","message":"&claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%2C%20%22value%22%3A%22c1%22%7D%7D%7D"}}"#, None);
        match e.into_error(Resource::Arm) {
            Error::StepUpRequired { claims, .. } => {
                assert_eq!(
                    claims,
                    r#"{"access_token":{"acrs":{"essential":true, "value":"c1"}}}"#
                );
            }
            other => panic!("{other:?}"),
        }
        let e = ApiError::parse(400, br#"{"error":{"code":"GroupAssignmentRequestAcrsValidationFailed","message":"Authentication context required. claims={\"access_token\":{\"acrs\":{\"essential\":true,\"value\":\"c2\"}}} more text"}}"#, None);
        match e.into_error(Resource::Graph) {
            Error::StepUpRequired { claims, .. } => {
                assert!(claims.contains("c2") && claims.ends_with("}}}"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn eligibility_rule_is_not_eligible_and_substring_rules_work() {
        let e = ApiError::parse(400, br#"{"error":{"code":"RoleAssignmentRequestPolicyValidationFailed","message":"The following policy rules failed: [\"EligibilityRule\"]"}}"#, None);
        assert!(matches!(
            e.into_error(Resource::Arm),
            Error::NotEligible { .. }
        ));
        assert_eq!(
            parse_rules("rules failed: JustificationRule and ExpirationRule"),
            ["JustificationRule", "ExpirationRule"]
        );
    }

    #[test]
    fn missing_licence_is_named() {
        for body in [
            br#"{"error":{"code":"AadPremiumLicenseRequired","message":"The tenant needs an AAD Premium 2 license."}}"#.as_slice(),
            br#"{"error":{"code":"Forbidden","message":"The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."}}"#.as_slice(),
        ] {
            let e = ApiError::parse(403, body, None).into_error(Resource::Graph);
            let text = e.to_string();
            assert!(text.contains("Microsoft Entra ID P2"), "{text}");
            assert!(text.contains("administrator"), "{text}");
        }
        let e = ApiError::parse(
            403,
            br#"{"error":{"code":"AuthorizationFailed","message":"no"}}"#,
            None,
        )
        .into_error(Resource::Arm);
        assert!(!e.to_string().contains("P2"));
    }

    #[test]
    fn www_authenticate_claims_are_base64_decoded() {
        let mut h = HeaderMap::new();
        h.insert("www-authenticate", HeaderValue::from_static(
            r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTcyNjA3NzU5NSJ9fX0=""#));
        assert_eq!(
            insufficient_claims(&h).as_deref(),
            Some(r#"{"access_token":{"nbf":{"essential":true, "value":"1726077595"}}}"#)
        );
        let mut h2 = HeaderMap::new();
        h2.insert(
            "www-authenticate",
            HeaderValue::from_static(r#"Bearer error="invalid_token""#),
        );
        assert_eq!(insufficient_claims(&h2), None);
    }
}

//! The services' error catalogue: wire error shapes and the exact codes/messages of
//! contract sections A.10, B.7, C.8 ([`PimError`], Graph and ARM error replies, the
//! defaults fault injection uses).

use serde_json::{Value, json};

use crate::clock::fmt_inner_date;
use crate::reply::{ARM_JSON, Ctx, GRAPH_JSON, Reply};

/// `RoleAssignmentRequestPolicyValidationFailed`.
pub const POLICY_FAILED: &str = "RoleAssignmentRequestPolicyValidationFailed";
/// `ActiveDurationTooShort` text (sic: "Miniumum").
pub const TOO_SHORT_MSG: &str = "The Active duration is too short. Miniumum Required is 5 minutes.";
/// `RoleAssignmentExists` text.
pub const EXISTS_MSG: &str = "The Role assignment already exists.";
/// `RoleAssignmentDoesNotExist` text.
pub const NOT_EXISTS_MSG: &str = "The Role assignment does not exist.";
/// `InvalidRoleAssignmentRequest` text.
pub const INVALID_MSG: &str = "The role assignment request is invalid.";

/// A PIM service error in dialect-neutral form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PimError {
    /// HTTP status.
    pub status: u16,
    /// Error code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl PimError {
    /// A 400 error.
    pub fn bad(code: &str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: code.into(),
            message: message.into(),
        }
    }
    /// `InvalidRoleAssignmentRequest`.
    pub fn invalid() -> Self {
        Self::bad("InvalidRoleAssignmentRequest", INVALID_MSG)
    }
    /// `RoleAssignmentRequestPolicyValidationFailed` with the JSON-array rule list.
    pub fn rules(failed: &[&str]) -> Self {
        let list = serde_json::to_string(failed).unwrap_or_else(|_| "[]".into());
        Self::bad(
            POLICY_FAILED,
            format!("The following policy rules failed: {list}"),
        )
    }
    /// `ActiveDurationTooShort`.
    pub fn too_short() -> Self {
        Self::bad("ActiveDurationTooShort", TOO_SHORT_MSG)
    }
    /// `RoleAssignmentExists`.
    pub fn exists() -> Self {
        Self::bad("RoleAssignmentExists", EXISTS_MSG)
    }
    /// `RoleAssignmentDoesNotExist`.
    pub fn not_exists() -> Self {
        Self::bad("RoleAssignmentDoesNotExist", NOT_EXISTS_MSG)
    }
    /// `RoleAssignmentRequestAcrsValidationFailed` with the URL-encoded claims request.
    pub fn acrs(value: &str) -> Self {
        Self::bad(
            "RoleAssignmentRequestAcrsValidationFailed",
            format!("&claims={}", acrs_claims_encoded(value)),
        )
    }
}

/// `{"access_token":{"acrs":{"essential":true, "value":"c1"}}}` (note the space), URL-encoded.
pub fn acrs_claims_encoded(value: &str) -> String {
    let raw = format!(
        "{{\"access_token\":{{\"acrs\":{{\"essential\":true, \"value\":{}}}}}}}",
        Value::String(value.to_owned())
    );
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(&raw, SET).to_string()
}

fn inner(ctx: &Ctx) -> Value {
    json!({
        "date": fmt_inner_date(ctx.now),
        "request-id": ctx.request_id,
        "client-request-id": ctx.client_request_id,
    })
}

/// Plain Graph error.
pub fn graph(ctx: &Ctx, status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"code": code, "message": message, "innerError": inner(ctx)}}),
        GRAPH_JSON,
    )
}

/// Double-wrapped Graph error: `UnknownError` with the backend error serialised in `message`.
pub fn graph_wrapped(ctx: &Ctx, status: u16, code: &str, message: &str) -> Reply {
    let backend = json!({"errorCode": code, "message": message, "instanceAnnotations": []});
    graph(ctx, status, "UnknownError", &backend.to_string())
}

/// Graph 429 in the documented throttling shape.
pub fn graph_throttled(ctx: &Ctx, code: &str, message: &str) -> Reply {
    Reply::json(
        429,
        json!({"error": {"code": code, "message": message, "innerError": {
            "code": "429", "date": fmt_inner_date(ctx.now), "message": "Please retry after",
            "request-id": ctx.request_id, "client-request-id": ctx.client_request_id, "status": "429"}}}),
        GRAPH_JSON,
    )
}

/// Graph error from a [`PimError`].
pub fn graph_pim(ctx: &Ctx, e: &PimError) -> Reply {
    graph(ctx, e.status, &e.code, &e.message)
}

/// ARM `CloudError`.
pub fn arm(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"code": code, "message": message}}),
        ARM_JSON,
    )
}

/// ARM error from a [`PimError`].
pub fn arm_pim(e: &PimError) -> Reply {
    arm(e.status, &e.code, &e.message)
}

/// `PermissionScopeNotGranted` message for a list of acceptable scopes.
pub fn missing_scope_message(scopes: &[&str]) -> String {
    format!(
        "Authorization failed due to missing permission scope {}.",
        scopes.join(",")
    )
}

/// Default code/message for a status (fault injection).
pub fn default_graph_error(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("BadRequest", "Bad request."),
        401 => (
            "InvalidAuthenticationToken",
            "Access token validation failure.",
        ),
        403 => (
            "Forbidden",
            "Insufficient privileges to complete the operation.",
        ),
        404 => ("ResourceNotFound", "The resource was not found."),
        409 => ("Conflict", "The request conflicts with the current state."),
        429 => ("TooManyRequests", "Please retry again later."),
        500 => ("UnknownError", "An error has occurred."),
        502 => ("BadGateway", "Bad gateway."),
        503 => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        504 => ("GatewayTimeout", "The gateway timed out."),
        _ => ("UnknownError", "An error has occurred."),
    }
}

/// Default ARM code/message for a status (fault injection).
pub fn default_arm_error(status: u16) -> (&'static str, &'static str) {
    match status {
        401 => ("InvalidAuthenticationToken", "The access token is invalid."),
        403 => (
            "AuthorizationFailed",
            "The client does not have authorization to perform this action.",
        ),
        429 => (
            "TooManyRequests",
            "The request is being throttled. Please retry later.",
        ),
        500 => ("InternalServerError", "Encountered internal server error."),
        503 => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        504 => (
            "GatewayTimeout",
            "The gateway did not receive a response within the specified time period.",
        ),
        _ => ("BadRequest", "The request is invalid."),
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn acrs_encoding_matches_the_observed_text() {
        assert_eq!(
            PimError::acrs("c1").message,
            "&claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%2C%20%22value%22%3A%22c1%22%7D%7D%7D"
        );
    }

    #[test]
    fn rule_list_is_a_json_array() {
        assert_eq!(
            PimError::rules(&["JustificationRule", "TicketingRule"]).message,
            r#"The following policy rules failed: ["JustificationRule","TicketingRule"]"#
        );
    }

    #[test]
    fn wrapped_error_carries_backend_json() {
        let ctx = Ctx {
            base: String::new(),
            now: OffsetDateTime::UNIX_EPOCH,
            request_id: "r".into(),
            client_request_id: "c".into(),
        };
        let r = graph_wrapped(&ctx, 403, "PermissionScopeNotGranted", "m");
        let body = r.json_body().cloned().unwrap_or_default();
        assert_eq!(body["error"]["code"], "UnknownError");
        let inner: Value = serde_json::from_str(body["error"]["message"].as_str().unwrap_or(""))
            .unwrap_or_default();
        assert_eq!(inner["errorCode"], "PermissionScopeNotGranted");
        assert_eq!(body["error"]["innerError"]["date"], "1970-01-01T00:00:00");
    }
}

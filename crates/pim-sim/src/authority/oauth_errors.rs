//! The authority's error answers: OAuth errors in Entra's v2 shape (`AADSTS` codes,
//! trace and correlation ids) and the configured authority error
//! (`POST /_sim/config {"authorityError": ...}`).

use serde_json::json;

use crate::clock::fmt_aad_timestamp;
use crate::odata::Query;
use crate::reply::{Ctx, JSON, Reply};
use crate::state::{AuthorityError, DEVICE_CODE_GRANT, State};

/// An OAuth error answer.
pub(super) fn oauth_error(
    ctx: &Ctx,
    status: u16,
    error: &str,
    code: u32,
    text: &str,
    claims: Option<&str>,
) -> Reply {
    let ts = fmt_aad_timestamp(ctx.now);
    let mut body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {text} Trace ID: {} Correlation ID: {} Timestamp: {ts}",
            ctx.request_id, ctx.client_request_id
        ),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": ctx.request_id,
        "correlation_id": ctx.client_request_id,
        "error_uri": format!("{}/error?code={code}", ctx.base),
    });
    if let Some(c) = claims {
        body["claims"] = json!(c);
    }
    Reply::json(status, body, JSON)
}

/// The OAuth error for a form parameter `name` that is missing (or empty).
pub(super) fn missing_parameter(ctx: &Ctx, name: &str) -> Reply {
    oauth_error(
        ctx,
        400,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
        None,
    )
}

/// The OAuth error for a scope that names `s`, a second resource.
pub(super) fn invalid_scope(ctx: &Ctx, s: &str) -> Reply {
    oauth_error(
        ctx,
        400,
        "invalid_scope",
        28000,
        &format!(
            "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope {s} is not valid."
        ),
        None,
    )
}

/// The OAuth error for a tenant (id or domain) the simulator does not know.
pub(super) fn tenant_not_found(ctx: &Ctx, tenant: &str) -> Reply {
    oauth_error(
        ctx,
        400,
        "invalid_request",
        90002,
        &format!("Tenant '{tenant}' not found."),
        None,
    )
}

/// The form parameter `name`, which must be there and not empty.
pub(super) fn required<'f>(ctx: &Ctx, f: &'f Query, name: &str) -> Result<&'f str, Reply> {
    f.get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing_parameter(ctx, name))
}

/// Standard texts for the AADSTS codes tests configure most (paraphrased from Microsoft's
/// AADSTS list).
fn default_text(code: Option<u32>) -> &'static str {
    match code {
        Some(65001) => {
            "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource."
        }
        Some(65004) => "User declined to consent to access the app.",
        Some(90094) => "The grant requires admin permission.",
        Some(900941) => {
            "Administrator consent is required. App requires access to resources that need admin consent."
        }
        Some(65002) => {
            "Consent between first party application and first party resource must be configured via preauthorization."
        }
        Some(650057) => {
            "Invalid resource. The client has requested access to a resource which is not listed in the requested permissions in the client's application registration."
        }
        Some(7000112) => "Application is disabled.",
        Some(500014) => "The service principal for resource is disabled.",
        Some(50105) => {
            "Your administrator has configured the application to block users unless they are specifically granted ('assigned') access to the application."
        }
        Some(700016) => {
            "Application was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
        }
        Some(53003) => {
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."
        }
        Some(7000218) => {
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
        }
        Some(50076) => {
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource."
        }
        Some(70008) => {
            "The provided authorization code or refresh token has expired due to inactivity."
        }
        _ => "The request was refused.",
    }
}

/// What a configured error says: its description (else the standard text for its
/// first code), with `AADSTS<code>: ` in front unless it already starts so.
pub(super) fn configured_text(e: &AuthorityError) -> String {
    let code = e.codes.first().copied();
    let text = e
        .description
        .clone()
        .unwrap_or_else(|| default_text(code).to_owned());
    match code {
        Some(c) if !text.starts_with("AADSTS") => format!("AADSTS{c}: {text}"),
        _ => text,
    }
}

/// A configured error in the exact Entra v2 shape (`\r\n` before the trace lines, like
/// Entra; `suberror` and `claims` only when set).
pub(super) fn configured_reply(ctx: &Ctx, e: &AuthorityError) -> Reply {
    let ts = fmt_aad_timestamp(ctx.now);
    let code = e.codes.first().copied();
    let first = configured_text(e);
    let mut body = json!({
        "error": e.error,
        "error_description": format!(
            "{first}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {ts}",
            ctx.request_id, ctx.client_request_id
        ),
        "error_codes": e.codes,
        "timestamp": ts,
        "trace_id": ctx.request_id,
        "correlation_id": ctx.client_request_id,
        "error_uri": format!("{}/error?code={}", ctx.base, code.unwrap_or(0)),
    });
    if let Some(s) = &e.suberror {
        body["suberror"] = json!(s);
    }
    if let Some(c) = &e.claims {
        body["claims"] = json!(c);
    }
    Reply::json(e.status.unwrap_or(400), body, JSON)
}

/// The configured authority error for `endpoint` (and `grant` on the token endpoint), if
/// any; counts down `times`.
pub(super) fn configured_error(
    st: &mut State,
    endpoint: &str,
    grant: Option<&str>,
) -> Option<AuthorityError> {
    let e = st.config.authority_error.as_mut()?;
    if e.endpoint != endpoint {
        return None;
    }
    if let (Some(want), Some(g)) = (e.grant.as_deref(), grant) {
        let want = if want == "device_code" {
            DEVICE_CODE_GRANT
        } else {
            want
        };
        if want != g {
            return None;
        }
    }
    let out = e.clone();
    if let Some(t) = e.times.as_mut() {
        *t = t.saturating_sub(1);
        if *t == 0 {
            st.config.authority_error = None;
        }
    }
    Some(out)
}

pub(super) fn invalid_grant(ctx: &Ctx, code: u32, text: &str) -> Reply {
    oauth_error(ctx, 400, "invalid_grant", code, text, None)
}

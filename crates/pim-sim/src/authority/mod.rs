//! Entra ID authority: `/{tenant}/oauth2/v2.0/{authorize,token,devicecode}`.
//!
//! The authorize endpoint signs the scenario's user in without a form and redirects to
//! the (loopback) `redirect_uri` with a code. Tokens are unsigned JWTs (see `jwt.rs`).
//! Claims requests are honoured: `acrs` values and `amr: mfa` are "performed" by an
//! interactive sign-in; a refresh that asks for claims the session lacks answers
//! `interaction_required`.

//!
//! Code map: [`authorize`] (the sign-in and its redirect, PKCE), [`token`] (the token
//! endpoint: code and refresh grants), [`device`] (the device-code flow), [`issue`]
//! (what a token answer holds), [`claims`] (claims requests and what a sign-in
//! performs), [`oauth_errors`] (OAuth error answers and the configured error); here:
//! routing and the OpenID configuration document.

mod authorize;
mod claims;
mod device;
mod issue;
mod oauth_errors;
mod token;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::json;

use crate::odata::Query;
use crate::reply::{Ctx, JSON, Reply};
use crate::server::Shared;

pub use device::{devicelogin, set_device_status};
use oauth_errors::oauth_error;

/// Audience of Graph tokens.
pub const GRAPH_AUD: &str = "https://graph.microsoft.com";
/// Audience of ARM tokens.
pub const ARM_AUD: &str = "https://management.azure.com";

/// Scopes granted for `https://graph.microsoft.com/.default` (the app's recommended set).
pub const DEFAULT_GRAPH_SCOPES: [&str; 7] = [
    "RoleEligibilitySchedule.Read.Directory",
    "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleManagementPolicy.Read.Directory",
    "PrivilegedEligibilitySchedule.Read.AzureADGroup",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
    "RoleManagementPolicy.Read.AzureADGroup",
    "User.Read",
];

pub(super) const OIDC: [&str; 4] = ["openid", "profile", "offline_access", "email"];
pub(super) const ACCESS_LIFETIME: i64 = 3600;

pub(super) fn random_token(prefix: &str, bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

pub(super) fn page(status: u16, text: &str) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: crate::reply::Body::Text(
            format!(
                "<!DOCTYPE html><html><head><title>pim-sim sign-in</title></head><body><p>{text}</p></body></html>"
            ),
            "text/html; charset=utf-8",
        ),
        reset: false,
    }
}

/// Handles `/{tenant}/oauth2/v2.0/{endpoint}` and related authority paths.
pub fn handle(
    sh: &Shared,
    ctx: &Ctx,
    method: &str,
    tenant_seg: &str,
    endpoint: &str,
    query: &Query,
    body: &[u8],
) -> Reply {
    let form = Query::parse(&String::from_utf8_lossy(body));
    let mut st = sh.lock();
    match (method, endpoint) {
        ("GET", "authorize") => authorize::authorize(&mut st, ctx, tenant_seg, query),
        ("POST", "authorize") => authorize::authorize(&mut st, ctx, tenant_seg, &form),
        ("POST", "token") => token::token(&mut st, ctx, tenant_seg, &form),
        ("POST", "devicecode") => device::devicecode(&mut st, ctx, tenant_seg, &form),
        _ => oauth_error(
            ctx,
            405,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
            None,
        ),
    }
}

/// OpenID configuration document for a tenant.
pub fn openid_configuration(ctx: &Ctx, tenant: &str) -> Reply {
    let b = &ctx.base;
    Reply::json(
        200,
        json!({
            "issuer": format!("{b}/{tenant}/v2.0"),
            "authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{b}/{tenant}/oauth2/v2.0/token"),
            "device_authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/devicecode"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
            "claims_parameter_supported": true,
            "id_token_signing_alg_values_supported": ["none"],
        }),
        JSON,
    )
}

//! The token endpoint: client checks, the configured error, and the
//! `authorization_code` and `refresh_token` grants (the device-code grant is in
//! [`device`](super::device)).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::odata::Query;
use crate::reply::{Ctx, Reply};
use crate::state::{DeviceStatus, State, Tenant};

use super::claims::parse_claims;
use super::device;
use super::issue::{Issue, issue};
use super::oauth_errors::{
    configured_error, configured_reply, invalid_grant, missing_parameter, oauth_error, required,
    tenant_not_found,
};

/// Tenant for a token request: the path tenant, or the code's tenant for organizations/common.
pub(super) fn token_tenant(
    st: &State,
    seg: &str,
    fallback: Option<&str>,
) -> Result<Tenant, String> {
    if seg.eq_ignore_ascii_case("organizations") || seg.eq_ignore_ascii_case("common") {
        if let Some(f) = fallback.and_then(|f| st.tenant(f)) {
            return Ok(f.clone());
        }
        return Ok(st.home().clone());
    }
    st.resolve_tenant(seg)
        .cloned()
        .ok_or_else(|| seg.to_owned())
}

/// Forgets grants that can no longer succeed (keeps a long-running simulator small).
fn purge(st: &mut State, now: time::OffsetDateTime) {
    st.auth
        .codes
        .retain(|_, c| now <= c.expires + Duration::days(1));
    let grace = st.config.rotated_refresh_token_lifetime;
    st.auth.refresh.retain(|_, g| {
        now <= g.expires
            && match (g.superseded_at, grace) {
                (Some(s), Some(grace)) => now - s <= Duration::seconds(grace) + Duration::days(1),
                _ => true,
            }
    });
    st.auth
        .devices
        .retain(|d| d.status != DeviceStatus::Redeemed && now <= d.expires + Duration::days(1));
}

pub(super) fn token(st: &mut State, ctx: &Ctx, tenant_seg: &str, f: &Query) -> Reply {
    purge(st, ctx.now);
    let client_id = match required(ctx, f, "client_id") {
        Ok(c) => c.to_owned(),
        Err(e) => return e,
    };
    if uuid::Uuid::parse_str(&client_id).is_err() {
        return oauth_error(
            ctx,
            401,
            "invalid_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
            None,
        );
    }
    if f.get("client_secret").is_some() {
        return oauth_error(
            ctx,
            401,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            None,
        );
    }
    let grant = f.get("grant_type").unwrap_or_default().to_owned();
    if let Some(e) = configured_error(st, "token", Some(&grant)) {
        return configured_reply(ctx, &e);
    }
    let scope = f.get("scope").unwrap_or_default().to_owned();
    match grant.as_str() {
        "authorization_code" => code_grant(st, ctx, tenant_seg, f, &client_id, &scope),
        "refresh_token" => refresh_grant(st, ctx, tenant_seg, f, &client_id, &scope),
        "urn:ietf:params:oauth:grant-type:device_code" => {
            device::poll(st, ctx, tenant_seg, f, &client_id, scope)
        }
        "" => missing_parameter(ctx, "grant_type"),
        other => oauth_error(
            ctx,
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
            None,
        ),
    }
}

/// The `authorization_code` grant: redeems a code once, checking its client, redirect URI,
/// age and PKCE verifier.
fn code_grant(
    st: &mut State,
    ctx: &Ctx,
    tenant_seg: &str,
    f: &Query,
    client_id: &str,
    scope: &str,
) -> Reply {
    let code = f.get("code").unwrap_or_default();
    let Some(c) = st.auth.codes.get(code).cloned() else {
        return invalid_grant(
            ctx,
            70000,
            "The provided value for the 'code' parameter is not valid.",
        );
    };
    if c.used {
        return invalid_grant(
            ctx,
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        );
    }
    if ctx.now > c.expires {
        return invalid_grant(
            ctx,
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        );
    }
    if c.client_id != client_id {
        return invalid_grant(
            ctx,
            70000,
            "The provided value for the 'code' parameter is not valid. The code was issued to a different client.",
        );
    }
    if f.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
        return invalid_grant(
            ctx,
            50148,
            "The redirect_uri in the token request does not match the one used in the authorization request.",
        );
    }
    let Some(verifier) = f.get("code_verifier").filter(|v| !v.is_empty()) else {
        return missing_parameter(ctx, "code_verifier");
    };
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if computed != c.challenge {
        return invalid_grant(
            ctx,
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        );
    }
    if let Some(e) = st.auth.codes.get_mut(code) {
        e.used = true;
    }
    let tenant = match token_tenant(st, tenant_seg, Some(&c.tenant)) {
        Ok(t) => t,
        Err(t) => return tenant_not_found(ctx, &t),
    };
    let acrs = c.signin.acrs.clone();
    let cp1 = c.signin.cp1;
    issue(
        st,
        ctx,
        Issue {
            tenant: &tenant,
            client_id,
            scope,
            signin: &c.signin,
            acrs,
            cp1,
            refresh: false,
        },
    )
}

/// The `refresh_token` grant: checks the grant (revoked, expired, rotated, client) and a
/// claims request against what the session performed; marks the token rotated.
fn refresh_grant(
    st: &mut State,
    ctx: &Ctx,
    tenant_seg: &str,
    f: &Query,
    client_id: &str,
    scope: &str,
) -> Reply {
    let rt = f.get("refresh_token").unwrap_or_default().to_owned();
    let Some(g) = st.auth.refresh.get(&rt).cloned() else {
        return invalid_grant(
            ctx,
            9002313,
            "Invalid request. Request is malformed or invalid.",
        );
    };
    if g.revoked {
        return invalid_grant(
            ctx,
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        );
    }
    if ctx.now > g.expires {
        return invalid_grant(
            ctx,
            700082,
            "The refresh token has expired due to inactivity.",
        );
    }
    if let (Some(s), Some(grace)) = (g.superseded_at, st.config.rotated_refresh_token_lifetime)
        && ctx.now > s + Duration::seconds(grace)
    {
        return invalid_grant(
            ctx,
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. The refresh token was already redeemed.",
        );
    }
    if g.client_id != client_id {
        return invalid_grant(
            ctx,
            70000,
            "The refresh token was issued to a different client.",
        );
    }
    let tenant = match token_tenant(st, tenant_seg, None) {
        Ok(t) => t,
        Err(t) => return tenant_not_found(ctx, &t),
    };
    let (acrs, cp1) = match f.get("claims").filter(|c| !c.trim().is_empty()) {
        Some(c) => {
            let Some(ask) = parse_claims(c) else {
                return oauth_error(
                    ctx,
                    400,
                    "invalid_request",
                    90014,
                    "The claims parameter is not valid JSON.",
                    None,
                );
            };
            let lacks_acrs = ask.acrs.iter().any(|a| !g.signin.acrs.contains(a));
            let lacks_mfa = ask.mfa && !g.signin.amr.iter().any(|m| m == "mfa");
            if lacks_acrs || lacks_mfa {
                return oauth_error(
                    ctx,
                    400,
                    "interaction_required",
                    50076,
                    "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.",
                    Some(c),
                );
            }
            (ask.acrs, ask.cp1 || g.signin.cp1)
        }
        None => (Vec::new(), g.signin.cp1),
    };
    if let Some(e) = st.auth.refresh.get_mut(&rt)
        && e.superseded_at.is_none()
    {
        e.superseded_at = Some(ctx.now);
    }
    issue(
        st,
        ctx,
        Issue {
            tenant: &tenant,
            client_id,
            scope,
            signin: &g.signin,
            acrs,
            cp1,
            refresh: true,
        },
    )
}

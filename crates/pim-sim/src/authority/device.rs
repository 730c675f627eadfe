//! The device-code flow: the `devicecode` endpoint, polling with the device-code grant
//! (with the configured poll script), and the "browser" side (`/devicelogin`, approve
//! or decline by user code).

use rand::RngCore;
use serde_json::json;
use time::Duration;

use crate::odata::Query;
use crate::reply::{Ctx, JSON, Reply};
use crate::server::Shared;
use crate::state::{DeviceGrant, DeviceStatus, State};

use super::claims::{interactive_signin, parse_claims};
use super::issue::{Issue, issue, pick_resource};
use super::oauth_errors::{
    configured_error, configured_reply, invalid_grant, invalid_scope, oauth_error, required,
    tenant_not_found,
};
use super::token::token_tenant;
use super::{page, random_token};

fn user_code() -> String {
    const ALPHA: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 9];
    rand::rng().fill_bytes(&mut b);
    b.iter()
        .map(|x| ALPHA[(*x as usize) % ALPHA.len()] as char)
        .collect()
}

pub(super) fn devicecode(st: &mut State, ctx: &Ctx, tenant_seg: &str, f: &Query) -> Reply {
    let client_id = match required(ctx, f, "client_id") {
        Ok(c) => c.to_owned(),
        Err(e) => return e,
    };
    if let Some(e) = configured_error(st, "devicecode", None) {
        return configured_reply(ctx, &e);
    }
    let Some(tenant) = st.resolve_tenant(tenant_seg).cloned() else {
        return tenant_not_found(ctx, tenant_seg);
    };
    let scope = f.get("scope").unwrap_or_default().to_owned();
    if let Err(s) = pick_resource(&scope) {
        return invalid_scope(ctx, &s);
    }
    let ask = f.get("claims").and_then(parse_claims).unwrap_or_default();
    let signin = interactive_signin(&ask, st.config.mfa_on_sign_in);
    let device_code = random_token("DAQABAAEAAA", 96);
    let code = user_code();
    let uri = format!("{}/devicelogin", ctx.base);
    st.auth.devices.push(DeviceGrant {
        device_code: device_code.clone(),
        user_code: code.clone(),
        client_id,
        scope,
        tenant: tenant.id.clone(),
        signin,
        expires: ctx.now + Duration::seconds(900),
        interval: 1,
        last_poll: None,
        status: DeviceStatus::Pending,
    });
    Reply::json(
        200,
        json!({
            "user_code": code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": 900,
            "interval": 1,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {code} to authenticate."),
        }),
        JSON,
    )
}

/// A poll of the token endpoint with the device-code grant: the scripted answers first,
/// then the code's state (pending, too fast, declined, approved, redeemed).
pub(super) fn poll(
    st: &mut State,
    ctx: &Ctx,
    tenant_seg: &str,
    f: &Query,
    client_id: &str,
    scope: String,
) -> Reply {
    let dc = f.get("device_code").unwrap_or_default().to_owned();
    let Some(idx) = st.auth.devices.iter().position(|d| d.device_code == dc) else {
        return oauth_error(
            ctx,
            400,
            "bad_verification_code",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
            None,
        );
    };
    // The script answers before the code's real state (pending or already approved).
    let scripted = if st.auth.devices[idx].status != DeviceStatus::Redeemed
        && !st.config.device_poll_script.is_empty()
    {
        Some(st.config.device_poll_script.remove(0))
    } else {
        None
    };
    let d = &mut st.auth.devices[idx];
    if let Some(answer) = scripted {
        d.last_poll = Some(std::time::Instant::now());
        let (code, text) = match answer.as_str() {
            "slow_down" => (
                70016,
                "OAuth 2.0 device flow error. Polling too frequently; slow down.",
            ),
            "authorization_declined" => (70000, "The user declined the authorization request."),
            "expired_token" => (70019, "Verification code expired."),
            "bad_verification_code" => (
                70000,
                "The provided value for the input parameter 'device_code' is not valid.",
            ),
            _ => (
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ),
        };
        return oauth_error(ctx, 400, &answer, code, text, None);
    }
    if d.client_id != client_id {
        return oauth_error(
            ctx,
            400,
            "bad_verification_code",
            70000,
            "The device code was issued to a different client.",
            None,
        );
    }
    if ctx.now > d.expires && d.status != DeviceStatus::Redeemed {
        return oauth_error(
            ctx,
            400,
            "expired_token",
            70019,
            "Verification code expired.",
            None,
        );
    }
    let too_fast = d
        .last_poll
        .is_some_and(|t| t.elapsed() < std::time::Duration::from_millis(d.interval * 500));
    d.last_poll = Some(std::time::Instant::now());
    match d.status {
        DeviceStatus::Declined => oauth_error(
            ctx,
            400,
            "authorization_declined",
            70000,
            "The user declined the authorization request.",
            None,
        ),
        DeviceStatus::Redeemed => {
            invalid_grant(ctx, 54005, "The device code was already redeemed.")
        }
        DeviceStatus::Pending if too_fast => oauth_error(
            ctx,
            400,
            "slow_down",
            70016,
            "OAuth 2.0 device flow error. Polling too frequently; slow down.",
            None,
        ),
        DeviceStatus::Pending => oauth_error(
            ctx,
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            None,
        ),
        DeviceStatus::Approved => {
            d.status = DeviceStatus::Redeemed;
            let d = d.clone();
            let tenant = match token_tenant(st, tenant_seg, Some(&d.tenant)) {
                Ok(t) => t,
                Err(t) => return tenant_not_found(ctx, &t),
            };
            let scope = if scope.is_empty() {
                d.scope.clone()
            } else {
                scope
            };
            let acrs = d.signin.acrs.clone();
            issue(
                st,
                ctx,
                Issue {
                    tenant: &tenant,
                    client_id,
                    scope: &scope,
                    signin: &d.signin,
                    acrs,
                    cp1: d.signin.cp1,
                    refresh: false,
                },
            )
        }
    }
}

/// `GET /devicelogin[?code=USERCODE]`: the "browser" side of the device flow; a code in the
/// query completes the sign-in (as if the user entered it and signed in).
pub fn devicelogin(sh: &Shared, query: &Query) -> Reply {
    let code = query.get("code").or_else(|| query.get("user_code"));
    match code {
        None => page(
            200,
            "pim-sim device login: open this page with ?code=USERCODE, or POST /_sim/devicecode/USERCODE/approve.",
        ),
        Some(c) => match set_device_status(sh, c, DeviceStatus::Approved) {
            Ok(()) => page(
                200,
                "You have signed in to the application on your device. You may now close this window.",
            ),
            Err(e) => page(400, &e.to_string()),
        },
    }
}

/// Approves/declines a pending device code by user code.
pub fn set_device_status(sh: &Shared, user_code: &str, to: DeviceStatus) -> crate::Result<()> {
    let mut st = sh.lock();
    let d = st
        .auth
        .devices
        .iter_mut()
        .rev()
        .find(|d| d.user_code.eq_ignore_ascii_case(user_code.trim()))
        .ok_or_else(|| crate::Error::NotFound(format!("device code {user_code}")))?;
    if d.status != DeviceStatus::Pending {
        return Err(crate::Error::Invalid(format!(
            "device code {user_code} is not pending"
        )));
    }
    d.status = to;
    Ok(())
}

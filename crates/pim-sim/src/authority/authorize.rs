//! The authorize endpoint: signs the scenario's user in without a form (PKCE `S256`
//! required, loopback redirect URIs only) and redirects with a code or an error.

use time::Duration;

use crate::odata::Query;
use crate::reply::{Ctx, Reply};
use crate::state::{AuthCode, State};

use super::claims::{ClaimsAsk, interactive_signin, parse_claims};
use super::oauth_errors::{configured_error, configured_text};
use super::{page, random_token};

fn loopback_redirect(uri: &str) -> Option<url::Url> {
    let u = url::Url::parse(uri).ok()?;
    let host_ok = matches!(
        u.host_str(),
        Some("localhost") | Some("127.0.0.1") | Some("[::1]")
    );
    (u.scheme() == "http" && host_ok).then_some(u)
}

fn redirect(mut u: url::Url, pairs: &[(&str, &str)]) -> Reply {
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Reply::empty(302).header("Location", u.to_string())
}

pub(super) fn authorize(st: &mut State, ctx: &Ctx, tenant_seg: &str, q: &Query) -> Reply {
    let Some(redirect_uri) = q.get("redirect_uri") else {
        return page(
            400,
            "AADSTS900144: The request body must contain the following parameter: 'redirect_uri'.",
        );
    };
    let Some(ru) = loopback_redirect(redirect_uri) else {
        return page(
            400,
            &format!(
                "AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application. Only http://localhost and http://127.0.0.1 are registered."
            ),
        );
    };
    let state = q.get("state").unwrap_or_default().to_owned();
    let err = |e: &str, d: &str| -> Reply {
        let mut p: Vec<(&str, &str)> = vec![("error", e), ("error_description", d)];
        if !state.is_empty() {
            p.push(("state", &state));
        }
        redirect(ru.clone(), &p)
    };
    let missing = |name: &str| {
        err(
            "invalid_request",
            &format!(
                "AADSTS900144: The request body must contain the following parameter: '{name}'."
            ),
        )
    };
    let Some(client_id) = q.get("client_id").filter(|c| !c.is_empty()) else {
        return missing("client_id");
    };
    if q.get("response_type") != Some("code") {
        return err(
            "unsupported_response_type",
            "AADSTS70005: The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: code.",
        );
    }
    if state.is_empty() {
        return missing("state");
    }
    let Some(challenge) = q.get("code_challenge").filter(|c| !c.is_empty()) else {
        return err(
            "invalid_request",
            "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        );
    };
    if q.get("code_challenge_method") != Some("S256") {
        return err(
            "invalid_request",
            "AADSTS501491: Invalid code_challenge_method. Only S256 is supported.",
        );
    }
    let Some(tenant) = st.resolve_tenant(tenant_seg).cloned() else {
        return err(
            "invalid_request",
            &format!("AADSTS90002: Tenant '{tenant_seg}' not found."),
        );
    };
    if let Some(e) = configured_error(st, "authorize", None) {
        // Entra's redirect carries error, error_description, error_uri (no codes).
        let desc = configured_text(&e);
        let mut p: Vec<(&str, &str)> = vec![("error", &e.error), ("error_description", &desc)];
        if let Some(sub) = &e.suberror {
            p.push(("error_subcode", sub));
        }
        p.push(("state", &state));
        return redirect(ru, &p);
    }
    if st.config.authorize_cancel {
        let mut p = vec![
            ("error", "access_denied"),
            ("error_subcode", "cancel"),
            (
                "error_description",
                "AADSTS65004: User declined to consent to access the app.",
            ),
        ];
        p.push(("state", &state));
        return redirect(ru, &p);
    }
    let ask = match q.get("claims") {
        Some(c) if !c.trim().is_empty() => match parse_claims(c) {
            Some(a) => a,
            None => {
                return err(
                    "invalid_request",
                    "AADSTS90014: The claims parameter is not valid JSON.",
                );
            }
        },
        _ => ClaimsAsk::default(),
    };
    let signin = interactive_signin(&ask, st.config.mfa_on_sign_in);
    let code = random_token("1.AXEA", 210);
    st.auth.codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            challenge: challenge.to_owned(),
            tenant: tenant.id.clone(),
            signin,
            expires: ctx.now + Duration::minutes(10),
            used: false,
        },
    );
    let session_state = crate::state::new_guid();
    redirect(
        ru,
        &[
            ("code", &code),
            ("state", &state),
            ("session_state", &session_state),
        ],
    )
}

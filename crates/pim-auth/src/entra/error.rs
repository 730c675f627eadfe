//! Entra's error responses: parsing, what they mean for the caller ([`ErrorKind`]), and the
//! refusals (AADSTS codes for consent, blocked or unknown apps, Conditional Access) turned
//! into [`pim_core::Error::SignInRefused`] with a message saying what to do.

use std::fmt;

use pim_core::error::SignInRefusal;
use serde::Deserialize;

/// An Entra error response (RFC 6749 §5.2 plus Entra's fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EntraError {
    /// HTTP status (not in the body).
    #[serde(skip)]
    pub status: u16,
    /// `invalid_grant`, `interaction_required`, `authorization_pending`, ...
    pub error: String,
    /// `AADSTS70008: The provided authorization code or refresh token has expired...`
    #[serde(default)]
    pub error_description: Option<String>,
    /// AADSTS numbers, e.g. `[70008]`.
    #[serde(default)]
    pub error_codes: Vec<i64>,
    /// `basic_action`, `additional_action`, `consent_required`, `bad_token`, ...
    #[serde(default)]
    pub suberror: Option<String>,
    /// A claims request to satisfy interactively (JSON).
    #[serde(default)]
    pub claims: Option<String>,
    /// For support.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// For support.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The app registration the request was made for (not in the body; set by
    /// [`TokenClient`](super::TokenClient)).
    #[serde(skip)]
    pub client_id: String,
    /// Which request failed (not in the body; set by [`TokenClient`](super::TokenClient)).
    #[serde(skip)]
    pub request: Option<Request>,
}

/// Which authority request an error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The browser's authorize request (its redirect carried the error).
    Authorize,
    /// Token request redeeming an authorization code.
    AuthorizationCode,
    /// Token request with a refresh token.
    RefreshToken,
    /// Token request polling a device code.
    DeviceCode,
    /// The device authorization request (`/devicecode`).
    DeviceAuthorization,
}

impl Request {
    fn is_device_code(self) -> bool {
        matches!(self, Request::DeviceCode | Request::DeviceAuthorization)
    }
}

impl fmt::Display for EntraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Entra's description carries trace/correlation ids on further lines; keep the first.
        let desc = self.summary();
        if desc == self.error {
            write!(f, "{}", self.error)
        } else {
            write!(f, "{desc} ({})", self.error)
        }
    }
}

/// What a failed token request means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The refresh token (or code) is dead: delete it and sign in again.
    SignInRequired,
    /// The grant is fine but the user must interact (MFA, consent, Conditional Access,
    /// claims): keep the refresh token, sign in interactively.
    InteractionRequired,
    /// Device code: keep polling.
    Pending,
    /// Device code: poll more slowly.
    SlowDown,
    /// Device code: the user declined.
    Declined,
    /// Device code: expired.
    Expired,
    /// The app registration or a tenant policy refuses the sign-in (see
    /// [`EntraError::refusal`]): neither a new sign-in nor interaction fixes it, and the
    /// refresh token is kept (it works again once an administrator fixes the cause).
    Refused,
    /// Anything else (invalid_client, invalid_scope, ...).
    Other,
}

/// AADSTS codes that need interaction but leave the refresh token valid.
///
/// 53003 (blocked by Conditional Access) stays here for refreshes: an interactive sign-in in
/// the browser can satisfy conditions a refresh cannot (device state, location prompt); when
/// the sign-in itself is blocked, the refusal is reported by [`EntraError::refusal`].
const INTERACTION_CODES: &[i64] = &[
    50076, 50079, 50072, 50074, 50158, 53000, 53001, 53003, 65001, 65004, 50125, 50127, 50199,
];

/// Only an administrator can consent: AADSTS90094 (admin consent required), 900941 (admin
/// consent required, no request flow), 65002 (first-party app needs pre-authorisation),
/// 650057 (the resource is not among the app's requested permissions), 650056 (misconfigured
/// application: permissions missing or not consented).
const ADMIN_CONSENT_CODES: &[i64] = &[90094, 900941, 65002, 650057, 650056];
/// The app (or the resource's service principal) is disabled, or the user is not assigned:
/// AADSTS7000112 (application disabled), 500014 (resource service principal disabled),
/// 50105 (user not assigned to the app).
const APP_BLOCKED_CODES: &[i64] = &[7000112, 500014, 50105];
/// No app with this client id in the tenant.
const APP_NOT_FOUND_CODES: &[i64] = &[700016];
/// Blocked by Conditional Access. AADSTS53003 is the documented "BlockedByConditionalAccess".
/// AADSTS50199 is *not* a block (a confirmation interrupt), and 53000/53001 (device not
/// compliant / not joined) can be satisfied in the browser, so they are not listed.
const CONDITIONAL_ACCESS_CODES: &[i64] = &[53003];
/// The app is not a public client: AADSTS7000218 ("the request body must contain
/// client_assertion or client_secret": "Allow public client flows" is off).
const PUBLIC_CLIENT_OFF_CODES: &[i64] = &[7000218];
/// User consent codes (the user may consent in the browser).
const CONSENT_CODES: &[i64] = &[65001];
/// The user declined consent.
const DECLINED_CODES: &[i64] = &[65004];

/// Where admins read how to register or fix the app.
const README_HINT: &str = "see \"App registration (for administrators)\" in the README";

impl EntraError {
    /// Classifies the error. `invalid_grant` normally means the refresh token is dead, except
    /// for suberrors and codes that call for MFA, consent or Conditional Access, which Entra
    /// also reports as `invalid_grant`.
    pub fn kind(&self) -> ErrorKind {
        if self.has_code(ADMIN_CONSENT_CODES)
            || self.has_code(APP_BLOCKED_CODES)
            || self.has_code(APP_NOT_FOUND_CODES)
            || self.has_code(PUBLIC_CLIENT_OFF_CODES)
        {
            return ErrorKind::Refused;
        }
        match self.error.as_str() {
            "interaction_required" | "consent_required" | "login_required" => {
                ErrorKind::InteractionRequired
            }
            "invalid_grant" => {
                let interactive_suberror = matches!(
                    self.suberror.as_deref(),
                    Some(
                        "basic_action" | "additional_action" | "message_only" | "consent_required"
                    )
                );
                let interactive_code = self
                    .error_codes
                    .iter()
                    .any(|c| INTERACTION_CODES.contains(c));
                if self.claims.is_some() || interactive_suberror || interactive_code {
                    ErrorKind::InteractionRequired
                } else {
                    ErrorKind::SignInRequired
                }
            }
            "authorization_pending" => ErrorKind::Pending,
            "slow_down" => ErrorKind::SlowDown,
            "authorization_declined" | "access_denied"
                if self.has_code(CONDITIONAL_ACCESS_CODES) =>
            {
                ErrorKind::Refused
            }
            "authorization_declined" | "access_denied" => ErrorKind::Declined,
            "expired_token" | "bad_verification_code" => ErrorKind::Expired,
            "invalid_client" | "unauthorized_client" => ErrorKind::Refused,
            _ => ErrorKind::Other,
        }
    }

    fn has_code(&self, codes: &[i64]) -> bool {
        self.error_codes.iter().any(|c| codes.contains(c))
    }

    /// The first line of Entra's description, without the trace, correlation and timestamp
    /// lines (some answers put them on the same line).
    pub fn summary(&self) -> String {
        let d = self.error_description.as_deref().unwrap_or("");
        let first = d.lines().next().unwrap_or("");
        let cut = first.find(" Trace ID:").unwrap_or(first.len());
        let s = first[..cut].trim();
        if s.is_empty() {
            self.error.clone()
        } else {
            s.to_owned()
        }
    }

    /// What refused the sign-in, when the answer means the app registration or a tenant
    /// policy is in the way (rather than a dead or incomplete sign-in).
    ///
    /// The AADSTS codes decide first (they are the most specific), then `suberror` and
    /// `error`. Codes come from Microsoft's published AADSTS list; Entra may add codes for the
    /// same causes, which then fall back to a generic error with Entra's description.
    pub fn refusal(&self) -> Option<SignInRefusal> {
        if self.has_code(ADMIN_CONSENT_CODES) {
            Some(SignInRefusal::AdminConsentRequired)
        } else if self.has_code(APP_BLOCKED_CODES) {
            Some(SignInRefusal::AppBlocked)
        } else if self.has_code(APP_NOT_FOUND_CODES) {
            Some(SignInRefusal::AppNotFound)
        } else if self.has_code(CONDITIONAL_ACCESS_CODES) {
            Some(SignInRefusal::ConditionalAccess)
        } else if self.has_code(PUBLIC_CLIENT_OFF_CODES) {
            Some(SignInRefusal::InvalidClient)
        } else if self.has_code(DECLINED_CODES) {
            Some(SignInRefusal::Declined)
        } else if self.has_code(CONSENT_CODES)
            || self.error == "consent_required"
            || self.suberror.as_deref() == Some("consent_required")
        {
            Some(SignInRefusal::ConsentRequired)
        } else if matches!(
            self.error.as_str(),
            "invalid_client" | "unauthorized_client"
        ) {
            Some(SignInRefusal::InvalidClient)
        } else if self.error == "access_denied" {
            Some(SignInRefusal::Declined)
        } else {
            None
        }
    }

    /// The user-facing message for a refusal: what happened, what to do, the app
    /// registration, and where the README explains it.
    fn refusal_message(&self, reason: SignInRefusal) -> String {
        let cid = if self.client_id.is_empty() {
            "(unknown)"
        } else {
            &self.client_id
        };
        let what = self.summary();
        let device = self.request.is_some_and(Request::is_device_code);
        match reason {
            SignInRefusal::ConsentRequired => format!(
                "the app registration {cid} has not been granted the permissions pim needs \
                 ({what}). Sign in with the browser (`pim login`) and accept the consent \
                 prompt if your organisation lets users consent, or ask an administrator to \
                 grant admin consent for {cid}; {README_HINT}"
            ),
            SignInRefusal::AdminConsentRequired => format!(
                "an administrator must grant consent to the app registration {cid} in this \
                 tenant ({what}). Ask an administrator to grant admin consent for {cid} (with \
                 the permissions listed in the README), or set PIM_CLIENT_ID to an app \
                 registration your organisation has consented to; {README_HINT}"
            ),
            SignInRefusal::AppBlocked => format!(
                "the app registration {cid} is disabled or blocked in this tenant, or you are \
                 not assigned to it ({what}). Ask an administrator to enable it for sign-in \
                 (Enterprise applications > Properties) or to assign you, or set \
                 PIM_CLIENT_ID to an app registration your organisation allows; {README_HINT}"
            ),
            SignInRefusal::AppNotFound => format!(
                "there is no app registration with client id {cid} in this tenant ({what}). \
                 Check the client id (PIM_CLIENT_ID or the tray's Settings) and the tenant; an \
                 app registered in another tenant must be multi-tenant and consented here; \
                 {README_HINT}"
            ),
            SignInRefusal::ConditionalAccess if device => format!(
                "a Conditional Access policy blocks this sign-in ({what}); organisations often \
                 block device code sign-in. Use the browser sign-in instead (`pim login` \
                 without --device-code, or Sign in from the tray), or ask an administrator \
                 which policy applies to the app registration {cid}; {README_HINT}"
            ),
            SignInRefusal::ConditionalAccess => format!(
                "a Conditional Access policy blocks this sign-in to the app registration {cid} \
                 ({what}). Sign in from a device and network your organisation allows, or ask \
                 an administrator which policy applies (quote the correlation id); \
                 {README_HINT}"
            ),
            SignInRefusal::InvalidClient if self.has_code(PUBLIC_CLIENT_OFF_CODES) => format!(
                "the app registration {cid} does not accept sign-ins from a desktop app \
                 ({what}). An administrator must add the \"Mobile and desktop applications\" \
                 platform with the redirect URI http://localhost and turn on \"Allow public \
                 client flows\"; {README_HINT}"
            ),
            SignInRefusal::InvalidClient => format!(
                "the sign-in service refused the app registration {cid} ({what}). Check the \
                 client id (PIM_CLIENT_ID or the tray's Settings) and that the app is \
                 registered as a public client (\"Mobile and desktop applications\", \
                 http://localhost, public client flows on); {README_HINT}"
            ),
            _ => format!(
                "the sign-in was declined ({what}). Sign in again and accept the request for \
                 the app registration {cid}, or ask an administrator to grant admin consent; \
                 {README_HINT}"
            ),
        }
    }
}

/// A failed call to the authority.
#[derive(Debug, Clone)]
pub enum TokenError {
    /// Entra answered with an error response.
    Entra(EntraError),
    /// The request did not complete.
    Transport(String),
    /// The answer was not an Entra response.
    InvalidResponse(String),
}

impl From<TokenError> for pim_core::Error {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Entra(e) if e.refusal().is_some() => {
                let reason = e.refusal().unwrap_or(SignInRefusal::InvalidClient);
                pim_core::Error::SignInRefused {
                    reason,
                    client_id: e.client_id.clone(),
                    aadsts: e.error_codes.clone(),
                    message: e.refusal_message(reason),
                    request_id: e.correlation_id.clone().or(e.trace_id.clone()),
                }
            }
            TokenError::Entra(e) => pim_core::Error::Api {
                status: e.status,
                code: e.error.clone(),
                message: format!("sign-in service: {e}"),
                request_id: e.correlation_id.clone().or(e.trace_id.clone()),
            },
            TokenError::Transport(m) => pim_core::Error::Transport(m),
            TokenError::InvalidResponse(m) => pim_core::Error::InvalidResponse(m),
        }
    }
}

/// The refusal an authorize redirect reports (`error`, `error_description`
/// "AADSTSnnnnn: ...", `error_subcode`) as an [`pim_core::Error::SignInRefused`] naming the app
/// registration `client_id`; `None` for a cancel or an error that is not a refusal (the
/// caller reports those itself). The redirect has no `error_codes`: the code is read from the
/// description.
pub fn redirect_refusal(
    error: &str,
    description: Option<&str>,
    subcode: Option<&str>,
    client_id: &str,
) -> Option<pim_core::Error> {
    if subcode == Some("cancel") {
        return None;
    }
    let code = description
        .and_then(|d| d.trim_start().strip_prefix("AADSTS"))
        .map(|d| {
            d.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse::<i64>().ok());
    let e = EntraError {
        status: 0,
        error: error.to_owned(),
        error_description: description.map(str::to_owned),
        error_codes: code.into_iter().collect(),
        suberror: subcode.map(str::to_owned),
        client_id: client_id.to_owned(),
        request: Some(Request::Authorize),
        ..EntraError::default()
    };
    e.refusal()?;
    Some(TokenError::Entra(e).into())
}

/// Parses an error body; `None` if it is not an Entra error.
pub fn parse_error(status: u16, body: &[u8]) -> Option<EntraError> {
    let mut e: EntraError = serde_json::from_slice(body).ok()?;
    if e.error.is_empty() {
        return None;
    }
    e.status = status;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_errors_are_parsed_and_classified() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[70008],"timestamp":"2026-01-01 00:00:00Z","trace_id":"t","correlation_id":"c","suberror":"bad_token"}"#;
        let e = parse_error(400, body).unwrap();
        assert_eq!(e.status, 400);
        assert_eq!(e.error_codes, vec![70008]);
        assert_eq!(e.suberror.as_deref(), Some("bad_token"));
        assert_eq!(e.kind(), ErrorKind::SignInRequired);
        assert_eq!(
            e.to_string(),
            "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. (invalid_grant)"
        );

        let body = br#"{"error":"interaction_required","error_description":"AADSTS50076: MFA","error_codes":[50076],"claims":"{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"x\"]}}}"}"#;
        let e = parse_error(400, body).unwrap();
        assert_eq!(e.kind(), ErrorKind::InteractionRequired);
        assert!(e.claims.unwrap().contains("capolids"));

        let mfa = br#"{"error":"invalid_grant","error_description":"AADSTS50076: ...","error_codes":[50076],"suberror":"basic_action"}"#;
        assert_eq!(
            parse_error(400, mfa).unwrap().kind(),
            ErrorKind::InteractionRequired
        );
        for (err, kind) in [
            ("authorization_pending", ErrorKind::Pending),
            ("slow_down", ErrorKind::SlowDown),
            ("authorization_declined", ErrorKind::Declined),
            ("expired_token", ErrorKind::Expired),
            ("invalid_client", ErrorKind::Refused),
            ("invalid_scope", ErrorKind::Other),
        ] {
            let body = format!(r#"{{"error":"{err}"}}"#);
            assert_eq!(parse_error(400, body.as_bytes()).unwrap().kind(), kind);
        }
        assert!(parse_error(502, b"<html>bad gateway</html>").is_none());
        assert!(parse_error(400, br#"{"foo":1}"#).is_none());
    }

    fn entra(error: &str, codes: &[i64], suberror: Option<&str>) -> EntraError {
        EntraError {
            status: 400,
            error: error.into(),
            error_description: Some(format!(
                "AADSTS{}: Text.\r\nTrace ID: t\r\nCorrelation ID: c",
                codes.first().copied().unwrap_or(0)
            )),
            error_codes: codes.to_vec(),
            suberror: suberror.map(str::to_owned),
            correlation_id: Some("c".into()),
            client_id: "cid-1".into(),
            ..EntraError::default()
        }
    }

    #[test]
    fn refusals_are_classified_and_keep_the_refresh_token() {
        use SignInRefusal as R;
        let cases = [
            (
                entra("invalid_grant", &[65001], Some("consent_required")),
                Some(R::ConsentRequired),
                ErrorKind::InteractionRequired,
            ),
            (
                entra("consent_required", &[], None),
                Some(R::ConsentRequired),
                ErrorKind::InteractionRequired,
            ),
            (
                entra("invalid_grant", &[90094], None),
                Some(R::AdminConsentRequired),
                ErrorKind::Refused,
            ),
            (
                entra("invalid_grant", &[650057], None),
                Some(R::AdminConsentRequired),
                ErrorKind::Refused,
            ),
            (
                entra("unauthorized_client", &[7000112], None),
                Some(R::AppBlocked),
                ErrorKind::Refused,
            ),
            (
                entra("invalid_grant", &[50105], None),
                Some(R::AppBlocked),
                ErrorKind::Refused,
            ),
            (
                entra("unauthorized_client", &[700016], None),
                Some(R::AppNotFound),
                ErrorKind::Refused,
            ),
            (
                entra("invalid_grant", &[53003], None),
                Some(R::ConditionalAccess),
                ErrorKind::InteractionRequired,
            ),
            (
                entra("access_denied", &[53003], None),
                Some(R::ConditionalAccess),
                ErrorKind::Refused,
            ),
            (
                entra("invalid_client", &[7000218], None),
                Some(R::InvalidClient),
                ErrorKind::Refused,
            ),
            (
                entra("invalid_client", &[], None),
                Some(R::InvalidClient),
                ErrorKind::Refused,
            ),
            (
                entra("access_denied", &[65004], None),
                Some(R::Declined),
                ErrorKind::Declined,
            ),
            (
                entra("invalid_grant", &[70008], None),
                None,
                ErrorKind::SignInRequired,
            ),
            (
                entra("invalid_grant", &[50199], None),
                None,
                ErrorKind::InteractionRequired,
            ),
            (
                entra("invalid_scope", &[28000], None),
                None,
                ErrorKind::Other,
            ),
        ];
        for (e, refusal, kind) in cases {
            assert_eq!(e.refusal(), refusal, "{e:?}");
            assert_eq!(e.kind(), kind, "{e:?}");
            let err: pim_core::Error = TokenError::Entra(e.clone()).into();
            let text = err.to_string();
            assert!(!text.contains("Trace ID"), "{text}");
            match refusal {
                Some(r) => {
                    assert_eq!(err.code(), r.code());
                    assert!(text.contains("cid-1"), "{text}");
                    assert!(text.contains(README_HINT), "{text}");
                    assert!(text.ends_with("(correlation id c)"), "{text}");
                }
                None => assert!(matches!(err, pim_core::Error::Api { .. }), "{err:?}"),
            }
        }
        let mut dc = entra("invalid_grant", &[53003], None);
        dc.request = Some(Request::DeviceCode);
        let text = pim_core::Error::from(TokenError::Entra(dc)).to_string();
        assert!(text.contains("without --device-code"), "{text}");
        // Same-line trace ids (as some answers have) are cut too.
        let mut e = entra("invalid_grant", &[70008], None);
        e.error_description = Some("AADSTS70008: Expired. Trace ID: x Correlation ID: y".into());
        assert_eq!(e.to_string(), "AADSTS70008: Expired. (invalid_grant)");
    }

    #[test]
    fn authorize_redirect_refusals() {
        let err = redirect_refusal(
            "access_denied",
            Some("AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: t"),
            None,
            "cid-2",
        )
        .unwrap();
        assert_eq!(err.code(), "conditionalAccessBlocked");
        let text = err.to_string();
        assert!(
            text.contains("cid-2") && text.contains(README_HINT),
            "{text}"
        );
        assert!(!text.contains("Trace ID"), "{text}");
        let err = redirect_refusal(
            "unauthorized_client",
            Some("AADSTS700016: Application with identifier 'x' was not found."),
            None,
            "x",
        )
        .unwrap();
        assert_eq!(err.code(), "appNotFound");
        assert!(
            redirect_refusal(
                "access_denied",
                Some("AADSTS50058: cancelled"),
                Some("cancel"),
                "x"
            )
            .is_none()
        );
        assert!(redirect_refusal("server_error", Some("AADSTS90033: busy"), None, "x").is_none());
        assert!(redirect_refusal("invalid_request", None, None, "x").is_none());
    }
}

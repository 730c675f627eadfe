//! Entra ID authority: `/{tenant}/oauth2/v2.0/{authorize,token,devicecode}`.
//!
//! The authorize endpoint signs the scenario's user in without a form and redirects to
//! the (loopback) `redirect_uri` with a code. Tokens are unsigned JWTs (see `jwt.rs`).
//! Claims requests are honoured: `acrs` values and `amr: mfa` are "performed" by an
//! interactive sign-in; a refresh that asks for claims the session lacks answers
//! `interaction_required`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::Duration;

use crate::clock::fmt_aad_timestamp;
use crate::jwt;
use crate::odata::Query;
use crate::reply::{Ctx, JSON, Reply};
use crate::server::Shared;
use crate::state::{
    AuthCode, AuthorityError, DEVICE_CODE_GRANT, DeviceGrant, DeviceStatus, RefreshGrant, SignIn,
    State, Tenant,
};

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

const OIDC: [&str; 4] = ["openid", "profile", "offline_access", "email"];
const ACCESS_LIFETIME: i64 = 3600;

fn random_token(prefix: &str, bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

fn user_code() -> String {
    const ALPHA: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 9];
    rand::rng().fill_bytes(&mut b);
    b.iter()
        .map(|x| ALPHA[(*x as usize) % ALPHA.len()] as char)
        .collect()
}

/// An OAuth error answer.
fn oauth_error(
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
fn missing_parameter(ctx: &Ctx, name: &str) -> Reply {
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
fn invalid_scope(ctx: &Ctx, s: &str) -> Reply {
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
fn tenant_not_found(ctx: &Ctx, tenant: &str) -> Reply {
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
fn required<'f>(ctx: &Ctx, f: &'f Query, name: &str) -> Result<&'f str, Reply> {
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
fn configured_text(e: &AuthorityError) -> String {
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
fn configured_reply(ctx: &Ctx, e: &AuthorityError) -> Reply {
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
fn configured_error(st: &mut State, endpoint: &str, grant: Option<&str>) -> Option<AuthorityError> {
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

/// A new refresh token: `refreshTokenBytes` characters when configured.
fn new_refresh_token(st: &State) -> String {
    match st.config.refresh_token_bytes {
        Some(n) => {
            let mut t = random_token("1.AXEA", n * 3 / 4 + 3);
            t.truncate(n);
            t
        }
        None => random_token("1.AXEA", 840),
    }
}

fn invalid_grant(ctx: &Ctx, code: u32, text: &str) -> Reply {
    oauth_error(ctx, 400, "invalid_grant", code, text, None)
}

/// What a claims request asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct ClaimsAsk {
    acrs: Vec<String>,
    mfa: bool,
    cp1: bool,
}

fn values(v: Option<&Value>) -> Vec<String> {
    let Some(v) = v else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(s) = v.get("value").and_then(Value::as_str) {
        out.push(s.to_owned());
    }
    if let Some(a) = v.get("values").and_then(Value::as_array) {
        out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    out
}

fn parse_claims(s: &str) -> Option<ClaimsAsk> {
    let v: Value = serde_json::from_str(s).ok()?;
    let at = v.get("access_token")?;
    Some(ClaimsAsk {
        acrs: values(at.get("acrs")),
        mfa: values(at.get("amr"))
            .iter()
            .any(|m| m.eq_ignore_ascii_case("mfa")),
        cp1: values(at.get("xms_cc"))
            .iter()
            .any(|m| m.eq_ignore_ascii_case("cp1")),
    })
}

fn interactive_signin(ask: &ClaimsAsk, mfa_always: bool) -> SignIn {
    let mut amr = vec!["pwd".to_owned()];
    if mfa_always || ask.mfa || !ask.acrs.is_empty() {
        amr.push("mfa".into());
    }
    SignIn {
        amr,
        acrs: ask.acrs.clone(),
        cp1: ask.cp1,
    }
}

/// The resource a scope string asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    Graph(Vec<String>),
    Arm,
}

/// An ARM (management endpoint) scope: `https://management.azure.com/.default`,
/// `https://management.core.windows.net//user_impersonation`, sovereign-cloud hosts, or
/// the Azure Service Management app id. (`RoleManagement.*` Graph scopes are not.)
fn is_arm_scope(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("://management.")
        || l.starts_with("management.")
        || l.starts_with("797f4846-ba00-4fd7-ba43-dac1f8f63013")
}

/// The scope without its Graph host, for every cloud's Graph (`graph.microsoft.com`,
/// `graph.microsoft.us`, `dod-graph.microsoft.us`, `microsoftgraph.chinacloudapi.cn`).
fn strip_graph_host(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    host.to_ascii_lowercase().contains("graph").then_some(path)
}

fn pick_resource(scope: &str) -> Result<Resource, String> {
    let res: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !OIDC.iter().any(|o| o.eq_ignore_ascii_case(s)))
        .collect();
    let arm = res.iter().filter(|s| is_arm_scope(s)).count();
    if arm > 0 && arm < res.len() {
        return Err(scope.to_owned());
    }
    if arm > 0 {
        return Ok(Resource::Arm);
    }
    let mut scp = Vec::new();
    for s in &res {
        let short = strip_graph_host(s)
            .or_else(|| s.strip_prefix("00000003-0000-0000-c000-000000000000/"))
            .unwrap_or(s);
        if short == ".default" {
            scp.extend(DEFAULT_GRAPH_SCOPES.iter().map(|x| (*x).to_owned()));
        } else if !scp.iter().any(|x: &String| x.eq_ignore_ascii_case(short)) {
            scp.push(short.to_owned());
        }
    }
    if scp.is_empty() {
        scp.push("User.Read".into());
    }
    scp.dedup();
    Ok(Resource::Graph(scp))
}

struct Issue<'a> {
    tenant: &'a Tenant,
    client_id: &'a str,
    scope: &'a str,
    signin: &'a SignIn,
    acrs: Vec<String>,
    cp1: bool,
    refresh: bool,
}

fn issue(st: &mut State, ctx: &Ctx, i: Issue<'_>) -> Reply {
    let resource = match pick_resource(i.scope) {
        Ok(r) => r,
        Err(s) => return invalid_scope(ctx, &s),
    };
    let now = ctx.now.unix_timestamp();
    let (aud, scp, scope_out) = match &resource {
        Resource::Graph(scp) => (
            GRAPH_AUD,
            scp.join(" "),
            scp.iter()
                .map(|s| format!("{GRAPH_AUD}/{s}"))
                .collect::<Vec<_>>(),
        ),
        Resource::Arm => (
            ARM_AUD,
            "user_impersonation".to_owned(),
            vec![format!("{ARM_AUD}/user_impersonation")],
        ),
    };
    let mut claims = json!({
        "aud": aud,
        "iss": format!("{}/{}/v2.0", ctx.base, i.tenant.id),
        "iat": now, "nbf": now, "exp": now + ACCESS_LIFETIME,
        "tid": i.tenant.id, "oid": i.tenant.user_oid,
        "sub": URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{}{}", i.tenant.user_oid, i.client_id))),
        "upn": i.tenant.user_upn, "unique_name": i.tenant.user_upn,
        "name": st.user.display_name,
        "scp": scp, "amr": i.signin.amr,
        "appid": i.client_id, "azp": i.client_id, "idtyp": "user", "ver": "2.0",
        "uti": random_token("", 12),
    });
    if !i.acrs.is_empty() {
        claims["acrs"] = json!(i.acrs);
    }
    if i.cp1 {
        claims["xms_cc"] = json!(["cp1"]);
    }
    let mut scope_words = scope_out;
    let asked: Vec<&str> = i.scope.split_whitespace().collect();
    for o in OIDC {
        if asked.iter().any(|a| a.eq_ignore_ascii_case(o)) {
            scope_words.push(o.to_owned());
        }
    }
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope_words.join(" "),
        "expires_in": ACCESS_LIFETIME,
        "ext_expires_in": ACCESS_LIFETIME,
        "access_token": jwt::encode(&claims),
    });
    if asked
        .iter()
        .any(|a| a.eq_ignore_ascii_case("offline_access"))
        || i.refresh
    {
        let rt = new_refresh_token(st);
        st.auth.refresh.insert(
            rt.clone(),
            RefreshGrant {
                client_id: i.client_id.to_owned(),
                signin: i.signin.clone(),
                expires: ctx.now + Duration::days(90),
                superseded_at: None,
                revoked: false,
            },
        );
        body["refresh_token"] = json!(rt);
        body["refresh_token_expires_in"] = json!(90 * 86400);
    }
    if asked.iter().any(|a| a.eq_ignore_ascii_case("openid")) {
        let home_upn = st.user.upn.clone();
        body["id_token"] = json!(jwt::encode(&json!({
            "aud": i.client_id,
            "iss": format!("{}/{}/v2.0", ctx.base, i.tenant.id),
            "iat": now, "nbf": now, "exp": now + ACCESS_LIFETIME,
            "tid": i.tenant.id, "oid": i.tenant.user_oid,
            "sub": URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{}{}", i.tenant.user_oid, i.client_id))),
            "preferred_username": home_upn,
            "name": st.user.display_name,
            "ver": "2.0",
        })));
        body["client_info"] = json!(
            URL_SAFE_NO_PAD
                .encode(json!({"uid": i.tenant.user_oid, "utid": i.tenant.id}).to_string())
        );
    }
    Reply::json(200, body, JSON).header("Cache-Control", "no-store, no-cache")
}

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

fn page(status: u16, text: &str) -> Reply {
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
        ("GET", "authorize") => authorize(&mut st, ctx, tenant_seg, query),
        ("POST", "authorize") => authorize(&mut st, ctx, tenant_seg, &form),
        ("POST", "token") => token(&mut st, ctx, tenant_seg, &form),
        ("POST", "devicecode") => devicecode(&mut st, ctx, tenant_seg, &form),
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

fn authorize(st: &mut State, ctx: &Ctx, tenant_seg: &str, q: &Query) -> Reply {
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

/// Tenant for a token request: the path tenant, or the code's tenant for organizations/common.
fn token_tenant(st: &State, seg: &str, fallback: Option<&str>) -> Result<Tenant, String> {
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

fn token(st: &mut State, ctx: &Ctx, tenant_seg: &str, f: &Query) -> Reply {
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
        "authorization_code" => {
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
                    client_id: &client_id,
                    scope: &scope,
                    signin: &c.signin,
                    acrs,
                    cp1,
                    refresh: false,
                },
            )
        }
        "refresh_token" => {
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
            if let (Some(s), Some(grace)) =
                (g.superseded_at, st.config.rotated_refresh_token_lifetime)
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
                    client_id: &client_id,
                    scope: &scope,
                    signin: &g.signin,
                    acrs,
                    cp1,
                    refresh: true,
                },
            )
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
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
                    "authorization_declined" => {
                        (70000, "The user declined the authorization request.")
                    }
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
                            client_id: &client_id,
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

fn devicecode(st: &mut State, ctx: &Ctx, tenant_seg: &str, f: &Query) -> Reply {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_selection() {
        assert_eq!(
            pick_resource("https://management.azure.com/.default offline_access"),
            Ok(Resource::Arm)
        );
        for sovereign in [
            "https://graph.microsoft.us/.default",
            "https://microsoftgraph.chinacloudapi.cn/.default",
        ] {
            match pick_resource(sovereign) {
                Ok(Resource::Graph(scp)) => assert!(scp.len() > 1, "{scp:?}"),
                _ => panic!("{sovereign} is a Graph scope"),
            }
        }
        assert!(matches!(
            pick_resource("https://management.usgovcloudapi.net/.default"),
            Ok(Resource::Arm)
        ));
        match pick_resource("https://graph.microsoft.com/.default openid") {
            Ok(Resource::Graph(s)) => assert_eq!(s.len(), DEFAULT_GRAPH_SCOPES.len()),
            other => panic!("unexpected {other:?}"),
        }
        match pick_resource(
            "https://graph.microsoft.com/User.Read RoleEligibilitySchedule.Read.Directory",
        ) {
            Ok(Resource::Graph(s)) => assert_eq!(
                s,
                vec!["User.Read", "RoleEligibilitySchedule.Read.Directory"]
            ),
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            pick_resource(
                "https://graph.microsoft.com/.default https://management.azure.com/.default"
            )
            .is_err()
        );
    }

    #[test]
    fn claims_parsing() {
        let a = parse_claims(r#"{"access_token":{"acrs":{"essential":true, "value":"c1"},"xms_cc":{"values":["cp1"]}}}"#)
            .expect("parses");
        assert_eq!(a.acrs, vec!["c1"]);
        assert!(a.cp1);
        assert!(!a.mfa);
        let a = parse_claims(r#"{"access_token":{"amr":{"values":["mfa"]}}}"#).expect("parses");
        assert!(a.mfa);
        let s = interactive_signin(&a, false);
        assert_eq!(s.amr, vec!["pwd", "mfa"]);
        assert!(parse_claims("nope").is_none());
    }
}

//! What a token answer holds: the resource a scope asks for (Graph scopes or ARM), the
//! unsigned access tokens (with `wids`: the tenant-wide directory roles in effect when
//! minted) and ID tokens, and a new refresh token where one is due.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::Duration;

use crate::jwt;
use crate::reply::{Ctx, JSON, Reply};
use crate::state::{RefreshGrant, SignIn, State, Tenant};

use super::oauth_errors::invalid_scope;
use super::{ACCESS_LIFETIME, ARM_AUD, DEFAULT_GRAPH_SCOPES, GRAPH_AUD, OIDC, random_token};

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

/// The resource a scope string asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resource {
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

pub(super) fn pick_resource(scope: &str) -> Result<Resource, String> {
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

pub(super) struct Issue<'a> {
    pub(super) tenant: &'a Tenant,
    pub(super) client_id: &'a str,
    pub(super) scope: &'a str,
    pub(super) signin: &'a SignIn,
    pub(super) acrs: Vec<String>,
    pub(super) cp1: bool,
    pub(super) refresh: bool,
}

pub(super) fn issue(st: &mut State, ctx: &Ctx, i: Issue<'_>) -> Reply {
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
    // The tenant-wide directory roles in effect now (absent when none, as Entra leaves
    // out claims without a value).
    let wids = st.wids(&i.tenant.id, &i.tenant.user_oid, ctx.now);
    if !wids.is_empty() {
        claims["wids"] = json!(wids);
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
}

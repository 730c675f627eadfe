//! Browser sign-in, refresh, rotation, expiry, revocation, step-up and sign-out against pim-sim.

use std::sync::Arc;
use std::time::Duration;

use pim_auth::{Account, DeviceCodeOptions, LoginOptions};
use pim_core::Error;
use pim_core::token::{Resource, TokenRequest};
use serde_json::Value;

use crate::harness::{self, Mode, claims, query_param};

const ADELE: &str = "adele@contoso.onmicrosoft.com";
const ADELE_OID: &str = "071cc716-8147-4397-a5ba-b2105951cc0b";

/// Adele signs in through the (fake) browser with the default options.
async fn sign_in(h: &harness::Harness) -> Account {
    h.auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap()
}

/// A token request for `resource` in `tenant` that skips the access-token cache.
fn forced(h: &harness::Harness, tenant: &str, resource: Resource) -> TokenRequest {
    let mut req = h.request(tenant, resource);
    req.force_refresh = true;
    req
}

/// ARM `GET /tenants` with `arm_token`: the status and the body.
async fn arm_tenants(h: &harness::Harness, arm_token: &str) -> (u16, Value) {
    h.call("/tenants?api-version=2020-01-01", arm_token).await
}

/// The tenant ids Adele belongs to, from ARM `GET /tenants` (home first).
async fn tenant_ids(h: &harness::Harness, arm_token: &str, home: &str) -> Vec<String> {
    let (status, body) = arm_tenants(h, arm_token).await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<String> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenantId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort_by_key(|t| t != home);
    ids
}

#[tokio::test]
async fn login_then_graph_and_arm_tokens_for_both_tenants() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    assert_eq!(account.upn, ADELE);
    assert_eq!(account.oid, ADELE_OID);
    assert_eq!(account.name, "Adele Vance");

    // The authorize request: organizations, PKCE S256, loopback redirect, cp1, offline_access.
    let opened = h.browser.opened();
    assert_eq!(opened.len(), 1);
    let url = &opened[0];
    assert!(
        url.starts_with(&format!("{}/organizations/oauth2/v2.0/authorize?", h.base)),
        "{url}"
    );
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(url, "code_challenge").unwrap().len(), 43);
    assert!(
        query_param(url, "redirect_uri")
            .unwrap()
            .starts_with("http://localhost:")
    );
    let scope = query_param(url, "scope").unwrap();
    assert!(
        scope.contains("offline_access") && scope.contains("openid"),
        "{scope}"
    );
    assert!(query_param(url, "claims").unwrap().contains("cp1"));
    assert!(h.browser.pages(1).await[0].contains("Signed in. You can close this tab."));

    // Account saved (no secrets), default, refresh token in the keychain fake.
    assert_eq!(h.auth.accounts().unwrap(), vec![account.clone()]);
    assert_eq!(h.auth.default_account().unwrap(), Some(account.clone()));
    let file = std::fs::read_to_string(h.auth.accounts_path()).unwrap();
    assert!(!file.contains("refresh") && !file.contains("eyJ"), "{file}");
    assert_eq!(h.store.memory().users(), vec![account.keychain_user()]);
    assert_eq!(
        account.keychain_user(),
        format!(
            "rt:public:14d82eec-204b-4c2f-b7e8-296a70dab67e:{ADELE_OID}.{}",
            account.home_tenant_id
        )
    );

    let ts = h.auth.token_source(&account);
    let home = account.home_tenant_id.clone();
    let arm = ts
        .access_token(&h.request(&home, Resource::Arm))
        .await
        .unwrap();
    let tenants = tenant_ids(&h, arm.token.expose(), &home).await;
    assert_eq!(tenants.len(), 2, "{tenants:?}");
    for tenant in &tenants {
        for resource in [Resource::Graph, Resource::Arm] {
            let t = ts.access_token(&h.request(tenant, resource)).await.unwrap();
            let c = claims(t.token.expose());
            assert_eq!(c["tid"], Value::String(tenant.clone()));
            let aud = c["aud"].as_str().unwrap();
            match resource {
                Resource::Graph => assert_eq!(aud, "https://graph.microsoft.com"),
                Resource::Arm => assert_eq!(aud, "https://management.azure.com"),
            }
            assert_eq!(c["xms_cc"], serde_json::json!(["cp1"]), "{c}");
            assert!(t.expires_on > h.clock_now() + Duration::from_secs(3000));
        }
    }
}

#[tokio::test]
async fn access_tokens_are_cached_and_renewed_five_minutes_before_expiry() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    let ts = h.auth.token_source(&account);
    let req = h.request(&account.home_tenant_id, Resource::Graph);
    // The login already cached the Graph token for the home tenant.
    let calls = h.token_calls().await;
    let a = ts.access_token(&req).await.unwrap();
    let b = ts.access_token(&req).await.unwrap();
    assert_eq!(a.token, b.token);
    assert_eq!(h.token_calls().await, calls);

    // 54 min later: still more than 5 min left.
    h.advance(54 * 60).await;
    assert_eq!(ts.access_token(&req).await.unwrap().token, a.token);
    assert_eq!(h.token_calls().await, calls);
    // 56 min: inside the margin, renewed.
    h.advance(2 * 60).await;
    let c = ts.access_token(&req).await.unwrap();
    assert_ne!(c.token, a.token);
    assert_eq!(h.token_calls().await, calls + 1);

    // force_refresh ignores the cache.
    let mut forced = req.clone();
    forced.force_refresh = true;
    let d = ts.access_token(&forced).await.unwrap();
    assert_ne!(d.token, c.token);
    assert_eq!(h.token_calls().await, calls + 2);
}

#[tokio::test]
async fn expiry_on_the_virtual_clock_leads_to_a_refresh() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    let ts = h.auth.token_source(&account);
    let req = h.request(&account.home_tenant_id, Resource::Arm);
    let old = ts.access_token(&req).await.unwrap();
    let (status, _) = arm_tenants(&h, old.token.expose()).await;
    assert_eq!(status, 200);
    h.advance(3700).await;
    let (status, _) = arm_tenants(&h, old.token.expose()).await;
    assert_eq!(status, 401, "the sim expires tokens on its virtual clock");
    let new = ts.access_token(&req).await.unwrap();
    assert_ne!(new.token, old.token);
    let (status, body) = arm_tenants(&h, new.token.expose()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn rotated_refresh_token_is_persisted_and_survives_a_restart() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    let user = account.keychain_user();
    use pim_auth::SecretStore;
    let first = h.store.get(&user).unwrap().unwrap();
    let ts = h.auth.token_source(&account);
    ts.access_token(&h.request(&account.home_tenant_id, Resource::Arm))
        .await
        .unwrap();
    // The rotated token is saved in the background; flush waits for it (the CLI does
    // this before exiting).
    h.auth.flush().await;
    let second = h.store.get(&user).unwrap().unwrap();
    assert_ne!(first, second, "the rotated refresh token was saved");

    // A new process (same keychain and config folder) continues from the saved state.
    let mut options = pim_auth::AuthOptions::with_secret_store(
        h.endpoints.clone(),
        account.client_id.clone(),
        h.dir.path().join("config"),
        Arc::new(h.store.clone()),
    );
    options.browser = Arc::new(h.browser.clone());
    let auth2 = pim_auth::Auth::new(options).unwrap();
    let (acct2, ts2) = auth2.default_token_source().unwrap();
    assert_eq!(acct2, account);
    let t = ts2
        .access_token(&h.request(&account.home_tenant_id, Resource::Graph))
        .await
        .unwrap();
    assert_eq!(claims(t.token.expose())["oid"], ADELE_OID);
    auth2.flush().await;
    assert_ne!(h.store.get(&user).unwrap().unwrap(), second);
    assert_eq!(h.browser.opened().len(), 1, "no second browser sign-in");
}

#[tokio::test]
async fn revoked_refresh_token_means_sign_in_required_and_is_deleted() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    let ts = h.auth.token_source(&account);
    h.control("/_sim/tokens/revoke", Value::Null).await;
    let mut req = forced(&h, &account.home_tenant_id, Resource::Graph);
    let err = ts.access_token(&req).await.unwrap_err();
    assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
    // The core's words name no front end; `pim` and the tray each add how to sign in.
    assert!(err.to_string().starts_with("sign-in required: "), "{err}");
    assert!(!err.to_string().contains("pim login"), "{err}");
    assert!(
        h.store.memory().is_empty(),
        "the dead refresh token was deleted"
    );
    // Cached tokens were dropped too, and later calls say so without a network call.
    let calls = h.token_calls().await;
    req.force_refresh = false;
    let err = ts.access_token(&req).await.unwrap_err();
    assert!(err.to_string().contains("no saved sign-in"), "{err}");
    assert_eq!(h.token_calls().await, calls);
    // Signing in again fixes it.
    sign_in(&h).await;
    ts.access_token(&h.request(&account.home_tenant_id, Resource::Arm))
        .await
        .unwrap();
}

#[tokio::test]
async fn cancel_in_the_browser_is_reported() {
    let h = harness::start().await;
    h.browser.set_mode(Mode::Cancel);
    let err = h
        .auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(h.browser.pages(1).await[0].contains("cancelled"));
    assert!(h.auth.accounts().unwrap().is_empty());
    assert!(h.store.memory().is_empty());
}

#[tokio::test]
async fn no_answer_from_the_browser_times_out() {
    let h = harness::start_with(|o| o.login_timeout = Duration::from_millis(300)).await;
    h.browser.set_mode(Mode::Ignore);
    let err = h
        .auth
        .login_interactive(LoginOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no answer from the browser"),
        "{err}"
    );
}

#[tokio::test]
async fn login_hint_and_tenant_are_passed() {
    let h = harness::start().await;
    let account = h
        .auth
        .login_interactive(LoginOptions {
            tenant: Some("contoso.onmicrosoft.com".into()),
            login_hint: Some(ADELE.into()),
            prompt: Some(pim_auth::Prompt::SelectAccount),
            resource: Some(Resource::Arm),
            ..LoginOptions::default()
        })
        .await
        .unwrap();
    let url = &h.browser.opened()[0];
    assert!(
        url.contains("/contoso.onmicrosoft.com/oauth2/v2.0/authorize"),
        "{url}"
    );
    assert_eq!(query_param(url, "login_hint").as_deref(), Some(ADELE));
    assert_eq!(
        query_param(url, "prompt").as_deref(),
        Some("select_account")
    );
    assert!(query_param(url, "scope").unwrap().contains("management"));
    // The ARM token from the sign-in is cached.
    let calls = h.token_calls().await;
    h.auth
        .token_source(&account)
        .access_token(&h.request(&account.home_tenant_id, Resource::Arm))
        .await
        .unwrap();
    assert_eq!(h.token_calls().await, calls);
}

const ACRS_C1: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

#[tokio::test]
async fn claims_step_up_without_interaction_is_step_up_required() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    let ts = h.auth.token_source(&account);
    let mut req = h.request(&account.home_tenant_id, Resource::Graph);
    req.claims = Some(ACRS_C1.into());
    match ts.access_token(&req).await.unwrap_err() {
        Error::StepUpRequired { resource, claims } => {
            assert_eq!(resource, Resource::Graph);
            assert!(claims.contains("acrs"), "{claims}");
        }
        other => panic!("{other:?}"),
    }
    // The refresh token is kept: ordinary tokens still work.
    let plain = h.request(&account.home_tenant_id, Resource::Arm);
    ts.access_token(&plain).await.unwrap();
    assert_eq!(h.browser.opened().len(), 1);
}

#[tokio::test]
async fn claims_step_up_with_interaction_opens_the_browser() {
    let h = harness::start_with(|o| o.allow_interactive = true).await;
    let account = sign_in(&h).await;
    let ts = h.auth.token_source(&account);
    let mut req = h.request(&account.home_tenant_id, Resource::Graph);
    req.claims = Some(ACRS_C1.into());
    let t = ts.access_token(&req).await.unwrap();
    let c = claims(t.token.expose());
    assert_eq!(c["acrs"], serde_json::json!(["c1"]), "{c}");
    let opened = h.browser.opened();
    assert_eq!(opened.len(), 2);
    let claims_param = query_param(&opened[1], "claims").unwrap();
    assert!(
        claims_param.contains("acrs") && claims_param.contains("cp1"),
        "{claims_param}"
    );
    assert_eq!(
        query_param(&opened[1], "login_hint").as_deref(),
        Some(ADELE)
    );
    // Cached under the claims request.
    assert_eq!(ts.access_token(&req).await.unwrap().token, t.token);
}

#[tokio::test]
async fn keychain_unavailable_keeps_the_token_in_memory_with_a_warning() {
    let h = harness::start().await;
    h.store.set_unavailable(Some("Secret Service is locked"));
    assert_eq!(h.auth.keychain_warning(), None);
    let account = sign_in(&h).await;
    let warning = h.auth.keychain_warning().unwrap();
    assert!(warning.contains("memory"), "{warning}");
    assert!(h.store.memory().is_empty());
    let ts = h.auth.token_source(&account);
    let req = forced(&h, &account.home_tenant_id, Resource::Arm);
    ts.access_token(&req).await.unwrap();
    ts.access_token(&req).await.unwrap();
    // No token file anywhere in the config folder (the lock files are empty).
    for entry in std::fs::read_dir(h.dir.path().join("config")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "keychain.lock" || name == ".accounts.json.lock" {
            assert_eq!(entry.metadata().unwrap().len(), 0);
        } else {
            assert_eq!(name, "accounts.json");
        }
    }
}

#[tokio::test]
async fn logout_deletes_every_part_and_the_account() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    // Simulate a long refresh token stored in parts earlier.
    pim_auth::store::write_chunked(&h.store, &account.keychain_user(), &[b'x'; 6000]).unwrap();
    assert_eq!(h.store.memory().len(), 4);
    assert!(h.auth.logout(&account).await.unwrap());
    assert!(h.store.memory().is_empty());
    assert!(h.auth.accounts().unwrap().is_empty());
    assert_eq!(h.auth.default_account().unwrap(), None);
    let err = h
        .auth
        .token_source(&account)
        .access_token(&h.request(&account.home_tenant_id, Resource::Graph))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SignInRequired { .. }));
    assert!(h.auth.default_token_source().is_err());
    assert!(h.auth.logout_all().await.unwrap().is_empty());
}

#[tokio::test]
async fn device_code_sign_in() {
    let h = harness::start().await;
    let base = h.base.clone();
    let prompt_seen = Arc::new(std::sync::Mutex::new(None));
    let seen = prompt_seen.clone();
    let account = h
        .auth
        .login_device_code(DeviceCodeOptions {
            on_prompt: Some(Arc::new(move |p: &pim_auth::DeviceCodePrompt| {
                *seen.lock().unwrap() = Some(p.clone());
                let url = format!("{base}/_sim/devicecode/{}/approve", p.user_code);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let r = reqwest::Client::new().post(url).send().await.unwrap();
                    assert!(r.status().is_success());
                });
            })),
            ..DeviceCodeOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(account.upn, ADELE);
    assert_eq!(account.kind, pim_auth::CredentialKind::DeviceCode);
    let p = prompt_seen.lock().unwrap().clone().unwrap();
    assert!(!p.user_code.is_empty() && !p.verification_uri.is_empty());
    assert!(h.browser.opened().is_empty());
    h.auth
        .token_source(&account)
        .access_token(&h.request(&account.home_tenant_id, Resource::Arm))
        .await
        .unwrap();
}

#[tokio::test]
async fn device_code_declined() {
    let h = harness::start().await;
    let base = h.base.clone();
    let err = h
        .auth
        .login_device_code(DeviceCodeOptions {
            on_prompt: Some(Arc::new(move |p: &pim_auth::DeviceCodePrompt| {
                let url = format!("{base}/_sim/devicecode/{}/decline", p.user_code);
                tokio::spawn(async move {
                    reqwest::Client::new().post(url).send().await.unwrap();
                });
            })),
            ..DeviceCodeOptions::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("declined"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_refresh_per_key_and_rotation_holds() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    let ts = h.auth.token_source(&account);
    let arm = h.request(&account.home_tenant_id, Resource::Arm);
    let calls = h.token_calls().await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let ts = ts.clone();
            let req = arm.clone();
            tokio::spawn(async move { ts.access_token(&req).await.unwrap() })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().token);
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(
        h.token_calls().await,
        calls + 1,
        "one refresh for eight callers"
    );

    // Many keys at once, each asked twice with force_refresh: one refresh per key (the
    // second caller of a key takes the first one's result), keys refresh concurrently with
    // the same refresh token, and a rotated token is saved.
    h.advance(3600).await;
    use pim_auth::SecretStore;
    let saved_before = h.store.get(&account.keychain_user()).unwrap();
    let calls = h.token_calls().await;
    // Slow token answers, so both callers of a key surely overlap with its refresh.
    h.control(
        "/_sim/faults",
        serde_json::json!({"method": "POST", "path": "/oauth2/v2.0/token", "times": 2,
            "fault": {"kind": "delay", "ms": 300}}),
    )
    .await;
    let reqs: Vec<_> = [Resource::Graph, Resource::Arm]
        .into_iter()
        .flat_map(|r| {
            let mut a = h.request(&account.home_tenant_id, r);
            a.force_refresh = true;
            [a.clone(), a]
        })
        .collect();
    let tasks: Vec<_> = reqs
        .into_iter()
        .map(|req| {
            let ts = ts.clone();
            tokio::spawn(async move { (req.resource, ts.access_token(&req).await) })
        })
        .collect();
    let mut by_resource: std::collections::HashMap<Resource, Vec<String>> = Default::default();
    for t in tasks {
        let (r, tok) = t.await.unwrap();
        by_resource
            .entry(r)
            .or_default()
            .push(tok.unwrap().token.expose().to_owned());
    }
    assert_eq!(
        h.token_calls().await,
        calls + 2,
        "one refresh per key for two callers each"
    );
    for (r, toks) in &by_resource {
        assert_eq!(toks.len(), 2);
        assert_eq!(toks[0], toks[1], "{r}: both callers share one token");
    }
    h.auth.flush().await;
    let saved_after = h.store.get(&account.keychain_user()).unwrap();
    assert_ne!(
        saved_before, saved_after,
        "the rotated refresh token is saved"
    );
    // A strict server that honours replaced refresh tokens for 60 s only: past that, the
    // saved (newest) token must still be valid.
    h.control(
        "/_sim/config",
        serde_json::json!({ "rotatedRefreshTokenLifetime": 60 }),
    )
    .await;
    h.advance(120).await;
    let req = forced(&h, &account.home_tenant_id, Resource::Graph);
    ts.access_token(&req).await.unwrap();
}

/// Different tenants and resources of one account refresh at the same time: three token
/// requests take about one round trip, not three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_refresh_concurrently() {
    // Each token answer takes 500 ms, so three serialised refreshes take at least 1.5 s;
    // concurrent ones about 0.5 s. The bound sits well clear of both.
    let latency = Duration::from_millis(500);
    let h = harness::start_with_latency(latency, |_| {}).await;
    let account = sign_in(&h).await;
    let ts = h.auth.token_source(&account);
    let calls = h.token_calls().await;
    // Graph for the home tenant came with the sign-in; these three are not cached.
    let reqs = [
        h.request(&account.home_tenant_id, Resource::Arm),
        h.request("fabrikam.onmicrosoft.com", Resource::Graph),
        h.request("fabrikam.onmicrosoft.com", Resource::Arm),
    ];
    let started = std::time::Instant::now();
    let tasks: Vec<_> = reqs
        .into_iter()
        .map(|req| {
            let ts = ts.clone();
            tokio::spawn(async move { ts.access_token(&req).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap().unwrap());
    }
    let took = started.elapsed();
    assert_eq!(h.token_calls().await, calls + 3);
    assert!(
        took < latency * 2,
        "three refreshes took {took:?} at {latency:?} per response: they were serialised"
    );
    let auds: Vec<String> = tokens
        .iter()
        .map(|t| {
            let c = harness::claims(t.token.expose());
            format!(
                "{} {}",
                c["aud"].as_str().unwrap(),
                c["tid"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        auds.iter().collect::<std::collections::HashSet<_>>().len(),
        3,
        "three distinct tokens: {auds:?}"
    );
    // Every refresh rotated the refresh token; the saved one still works later.
    h.advance(3600).await;
    let req = forced(&h, &account.home_tenant_id, Resource::Graph);
    ts.access_token(&req).await.unwrap();
}

#[tokio::test]
async fn several_accounts_and_default_choice() {
    let h = harness::start().await;
    let adele = sign_in(&h).await;
    // A second registration of the same user counts as another account but is not usable
    // with this configuration's client id.
    let mut other = adele.clone();
    other.client_id = "00000000-0000-0000-0000-000000000001".into();
    pim_auth::accounts::AccountStore::new(h.dir.path().join("config"))
        .update(|f| f.upsert(other.clone()))
        .unwrap();
    assert_eq!(h.auth.accounts().unwrap().len(), 2);
    assert_eq!(h.auth.default_account().unwrap(), Some(adele.clone()));
    h.auth.set_default_account(&adele).unwrap();
    let err = h
        .auth
        .token_source(&other)
        .access_token(&h.request(&adele.home_tenant_id, Resource::Graph))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another"), "{err}");
    let signed_out = h.auth.logout_all().await.unwrap();
    assert_eq!(signed_out.len(), 2);
    assert!(h.auth.accounts().unwrap().is_empty());
}

#[tokio::test]
async fn authority_error_on_the_redirect_is_reported() {
    let h = harness::start().await;
    let err = h
        .auth
        .login_interactive(LoginOptions {
            tenant: Some("nosuchtenant.onmicrosoft.com".into()),
            ..LoginOptions::default()
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("the sign-in failed"), "{text}");
    assert!(text.contains("AADSTS"), "{text}");
    let page = &h.browser.pages(1).await[0];
    assert!(page.contains("Sign-in failed"), "{page}");
    assert!(h.auth.accounts().unwrap().is_empty());
}

/// A tenant that refuses the refresh token (e.g. the user was removed from a guest tenant
/// that is still in a cached tenant list) does not end the sign-in while the home tenant
/// accepts it.
#[tokio::test]
async fn a_guest_tenant_refusing_the_token_keeps_the_sign_in() {
    let h = harness::start().await;
    let account = sign_in(&h).await;
    use pim_auth::SecretStore;
    let ts = h.auth.token_source(&account);
    h.control(
        "/_sim/faults",
        serde_json::json!({"method": "POST", "path": "fabrikam.onmicrosoft.com/oauth2/v2.0/token",
            "times": 5, "fault": {"kind": "status", "status": 400, "code": "invalid_grant",
            "message": "AADSTS50020: User account does not exist in tenant."}}),
    )
    .await;
    let err = ts
        .access_token(&h.request("fabrikam.onmicrosoft.com", Resource::Graph))
        .await
        .unwrap_err();
    assert!(
        !matches!(err, Error::SignInRequired { .. }),
        "only that tenant fails: {err:?}"
    );
    h.auth.flush().await;
    assert!(h.store.get(&account.keychain_user()).unwrap().is_some());
    let req = forced(&h, &account.home_tenant_id, Resource::Arm);
    ts.access_token(&req).await.unwrap();

    // A refresh token the home tenant refuses too is still a dead sign-in.
    h.control(
        "/_sim/faults",
        serde_json::json!({"method": "POST",
        "path": "fabrikam.onmicrosoft.com/oauth2/v2.0/token", "times": 5,
        "fault": {"kind": "status", "status": 400, "code": "invalid_grant"}}),
    )
    .await;
    h.control("/_sim/tokens/revoke", serde_json::json!({}))
        .await;
    let err = ts
        .access_token(&h.request("fabrikam.onmicrosoft.com", Resource::Arm))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SignInRequired { .. }), "{err:?}");
    assert!(h.store.get(&account.keychain_user()).unwrap().is_none());
}

//! Authority flows: auth code + PKCE, refresh rotation, device code, revoke, claims.

use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn pkce_sign_in_issues_graph_tokens() {
    let sim = start("demo").await;
    let t = sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert!(t["refresh_token"].is_string());
    assert!(t["id_token"].is_string());
    let at = t["access_token"].as_str().expect("at");
    assert!(at.ends_with('.'), "unsigned JWT has an empty signature");
    let c = claims_of(at);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["tid"], CONTOSO);
    assert_eq!(c["oid"], ADELE);
    assert_eq!(c["upn"], "adele@contoso.onmicrosoft.com");
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert!(c.get("acrs").is_none());
    let scp = c["scp"].as_str().expect("scp");
    for s in pim_sim::DEFAULT_GRAPH_SCOPES {
        assert!(scp.split(' ').any(|x| x == s), "{s} in {scp}");
    }
    assert_eq!(c["iss"], format!("{}/{CONTOSO}/v2.0", sim.base));
    let id = claims_of(t["id_token"].as_str().expect("id"));
    assert_eq!(id["aud"], CLIENT);
    assert_eq!(id["preferred_username"], "adele@contoso.onmicrosoft.com");
}

#[tokio::test]
async fn curl_style_follow_redirect_completes_sign_in() {
    let sim = start("demo").await;
    let (_, challenge) = pkce();
    let r = sim
        .authorize(
            "contoso.onmicrosoft.com",
            &[
                ("client_id", CLIENT),
                ("response_type", "code"),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
                ("scope", "User.Read"),
                ("state", "abc"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 302);
    let u = location(&r);
    assert_eq!(u.host_str(), Some("127.0.0.1"));
    assert_eq!(u.path(), "/cb");
    assert_eq!(param(&u, "state").as_deref(), Some("abc"));
    assert!(param(&u, "code").is_some());
}

#[tokio::test]
async fn pkce_failures() {
    let sim = start("demo").await;
    let (verifier, challenge) = pkce();
    let base = [
        ("client_id", CLIENT),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", GRAPH_DEFAULT),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // plain method → error redirect
    let mut plain = base.to_vec();
    plain[6] = ("code_challenge_method", "plain");
    let u = location(&sim.authorize("organizations", &plain).await);
    assert_eq!(param(&u, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&u, "state").as_deref(), Some("s1"));
    // non-loopback redirect → 400 page, no redirect
    let mut evil = base.to_vec();
    evil[2] = ("redirect_uri", "https://evil.example/cb");
    assert_eq!(
        sim.authorize("organizations", &evil)
            .await
            .status()
            .as_u16(),
        400
    );
    // missing state → error redirect
    let no_state: Vec<_> = base
        .iter()
        .filter(|(k, _)| *k != "state")
        .copied()
        .collect();
    let u = location(&sim.authorize("organizations", &no_state).await);
    assert_eq!(param(&u, "error").as_deref(), Some("invalid_request"));
    // unknown tenant
    let u = location(&sim.authorize("nowhere.example", &base).await);
    assert!(param(&u, "error_description").is_some_and(|d| d.starts_with("AADSTS90002")));
    // wrong verifier, then reuse
    let u = location(&sim.authorize("organizations", &base).await);
    let code = param(&u, "code").expect("code");
    let wrong = sim
        .redeem(
            "organizations",
            &code,
            REDIRECT,
            "not-the-verifier-at-all-0123456789012345",
            GRAPH_DEFAULT,
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["error"], "invalid_grant");
    assert!(
        wrong.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AADSTS501481")
    );
    assert!(wrong.body["error_codes"].is_array());
    assert!(
        wrong.body["trace_id"].is_string()
            && wrong.body["correlation_id"].is_string()
            && wrong.body["timestamp"].is_string()
    );
    let other_redirect = sim
        .redeem(
            "organizations",
            &code,
            "http://localhost:1/other",
            &verifier,
            GRAPH_DEFAULT,
        )
        .await;
    assert_eq!(other_redirect.body["error"], "invalid_grant");
    let ok = sim
        .redeem("organizations", &code, REDIRECT, &verifier, GRAPH_DEFAULT)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let reuse = sim
        .redeem("organizations", &code, REDIRECT, &verifier, GRAPH_DEFAULT)
        .await;
    assert_eq!(reuse.body["error"], "invalid_grant", "codes are single use");
    // expired code (10 minutes on the virtual clock)
    let (v2, c2) = pkce();
    let mut p2 = base.to_vec();
    p2[5] = ("code_challenge", c2.as_str());
    let code2 = param(
        &location(&sim.authorize("organizations", &p2).await),
        "code",
    )
    .expect("code");
    sim.ctl().advance(11 * 60);
    let late = sim
        .redeem("organizations", &code2, REDIRECT, &v2, GRAPH_DEFAULT)
        .await;
    assert_eq!(late.body["error"], "invalid_grant");
    assert!(
        late.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AADSTS70008")
    );
}

#[tokio::test]
async fn refresh_rotates_and_spans_resources_and_tenants() {
    let sim = start("demo").await;
    let t = sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    let rt1 = t["refresh_token"].as_str().expect("rt").to_owned();
    let arm = sim.refresh(CONTOSO, &rt1, ARM_DEFAULT).await;
    assert_eq!(arm.status, 200, "{}", arm.body);
    let c = claims_of(arm.body["access_token"].as_str().expect("at"));
    assert_eq!(c["aud"], "https://management.azure.com");
    assert_eq!(c["scp"], "user_impersonation");
    let rt2 = arm.body["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(rt1, rt2);
    // as in Entra ID, the replaced token stays valid (until it expires or is revoked)...
    sim.ctl().advance(3600);
    let old = sim.refresh(CONTOSO, &rt1, GRAPH_DEFAULT).await;
    assert_eq!(old.status, 200, "{}", old.body);
    // ...unless the simulator plays a stricter server that limits replaced tokens
    sim.ctl()
        .configure(&serde_json::json!({ "rotatedRefreshTokenLifetime": 60 }))
        .expect("config");
    let rt_fresh = sim.refresh(CONTOSO, &rt2, GRAPH_DEFAULT).await;
    assert_eq!(rt_fresh.status, 200, "{}", rt_fresh.body);
    sim.ctl().advance(61);
    let old = sim.refresh(CONTOSO, &rt2, GRAPH_DEFAULT).await;
    assert_eq!(old.body["error"], "invalid_grant");
    let rt2 = rt_fresh.body["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    // the new one works for the guest tenant too
    let fab = sim
        .refresh("fabrikam.onmicrosoft.com", &rt2, GRAPH_DEFAULT)
        .await;
    assert_eq!(fab.status, 200, "{}", fab.body);
    let fc = claims_of(fab.body["access_token"].as_str().expect("at"));
    assert_eq!(fc["tid"], FABRIKAM);
    assert_ne!(fc["oid"], ADELE, "guest object id differs");
    // two resources in one request
    let rt3 = fab.body["refresh_token"].as_str().expect("rt").to_owned();
    let two = sim
        .refresh(
            CONTOSO,
            &rt3,
            "https://graph.microsoft.com/.default https://management.azure.com/.default",
        )
        .await;
    assert_eq!(two.status, 400);
    assert_eq!(two.body["error"], "invalid_scope");
    assert!(
        two.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AADSTS28000")
    );
    // revoke
    let rev = sim.control_post("/_sim/tokens/revoke", &Value::Null).await;
    assert_eq!(rev.status, 200);
    let after = sim.refresh(CONTOSO, &rt3, GRAPH_DEFAULT).await;
    assert_eq!(after.body["error"], "invalid_grant");
    // unknown refresh token
    let unknown = sim.refresh(CONTOSO, "garbage", GRAPH_DEFAULT).await;
    assert_eq!(unknown.body["error"], "invalid_grant");
}

#[tokio::test]
async fn claims_step_up_and_interaction_required() {
    let sim = start("demo").await;
    let plain = sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    let rt = plain["refresh_token"].as_str().expect("rt");
    let want = r#"{"access_token":{"acrs":{"essential":true, "value":"c1"}}}"#;
    let r = sim
        .token(
            CONTOSO,
            &[
                ("client_id", CLIENT),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", GRAPH_DEFAULT),
                ("claims", want),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "interaction_required");
    assert_eq!(r.body["claims"], want);
    // interactive sign-in performs acrs and MFA
    let up = sim.sign_in("organizations", GRAPH_DEFAULT, Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"},"xms_cc":{"values":["cp1"]}}}"#)).await;
    let c = claims_of(up["access_token"].as_str().expect("at"));
    assert_eq!(c["acrs"], serde_json::json!(["c1"]));
    assert_eq!(c["amr"], serde_json::json!(["pwd", "mfa"]));
    assert_eq!(c["xms_cc"], serde_json::json!(["cp1"]));
    // now a refresh asking for it succeeds
    let rt2 = up["refresh_token"].as_str().expect("rt");
    let ok = sim
        .token(
            CONTOSO,
            &[
                ("client_id", CLIENT),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt2),
                ("scope", GRAPH_DEFAULT),
                ("claims", want),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        claims_of(ok.body["access_token"].as_str().expect("at"))["acrs"],
        serde_json::json!(["c1"])
    );
    // mfaOnSignIn config
    sim.control_post("/_sim/config", &serde_json::json!({"mfaOnSignIn": true}))
        .await;
    let m = sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    assert_eq!(
        claims_of(m["access_token"].as_str().expect("at"))["amr"],
        serde_json::json!(["pwd", "mfa"])
    );
}

async fn dc(sim: &Sim) -> Value {
    let r = sim.device_code().await;
    assert_eq!(r.status, 200);
    r.body
}

async fn poll(sim: &Sim, device: String) -> Resp {
    sim.token(
        "organizations",
        &[
            ("client_id", CLIENT),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", &device),
        ],
    )
    .await
}

#[tokio::test]
async fn device_code_flow() {
    let sim = start("demo").await;
    let d = dc(&sim).await;
    assert_eq!(d["expires_in"], 900);
    assert!(
        d["verification_uri"].is_string() && d["message"].is_string() && d["interval"].is_number()
    );
    let device = d["device_code"].as_str().expect("device").to_owned();
    let user = d["user_code"].as_str().expect("user").to_owned();
    let p1 = poll(&sim, device.clone()).await;
    assert_eq!(p1.body["error"], "authorization_pending");
    let p2 = poll(&sim, device.clone()).await;
    assert_eq!(
        p2.body["error"], "slow_down",
        "polled faster than the interval"
    );
    let ok = sim
        .control_post(&format!("/_sim/devicecode/{user}/approve"), &Value::Null)
        .await;
    assert_eq!(ok.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let done = poll(&sim, device.clone()).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        claims_of(done.body["access_token"].as_str().expect("at"))["aud"],
        "https://management.azure.com"
    );
    // declined
    let d2 = dc(&sim).await;
    let u2 = d2["user_code"].as_str().expect("user").to_owned();
    sim.ctl().decline_device_code(&u2).expect("decline");
    let declined = poll(&sim, d2["device_code"].as_str().expect("d").to_owned()).await;
    assert_eq!(declined.body["error"], "authorization_declined");
    // expired
    let d3 = dc(&sim).await;
    sim.ctl().advance(901);
    let expired = poll(&sim, d3["device_code"].as_str().expect("d").to_owned()).await;
    assert_eq!(expired.body["error"], "expired_token");
    // unknown
    let bad = poll(&sim, "nope".into()).await;
    assert_eq!(bad.body["error"], "bad_verification_code");
    // the verification page completes a sign-in for a user code
    let d4 = dc(&sim).await;
    let page = sim
        .http
        .get(sim.url(&format!(
            "/devicelogin?code={}",
            d4["user_code"].as_str().expect("u")
        )))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let done4 = poll(&sim, d4["device_code"].as_str().expect("d").to_owned()).await;
    assert_eq!(done4.status, 200);
}

#[tokio::test]
async fn token_endpoint_input_errors() {
    let sim = start("demo").await;
    let r = sim
        .token("organizations", &[("grant_type", "refresh_token")])
        .await;
    assert_eq!(r.body["error"], "invalid_request");
    let r = sim
        .token(
            "organizations",
            &[("client_id", "not-a-guid"), ("grant_type", "refresh_token")],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_client");
    let r = sim
        .token(
            "organizations",
            &[("client_id", CLIENT), ("grant_type", "password")],
        )
        .await;
    assert_eq!(r.body["error"], "unsupported_grant_type");
    let oidc = sim
        .http
        .get(sim.url("/organizations/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .expect("oidc");
    assert_eq!(oidc.status().as_u16(), 200);
}

//! Configured authority errors (`authorityError`), scripted device-code polls
//! (`devicePollScript`) and long refresh tokens (`refreshTokenBytes`).

use serde_json::{Value, json};

use crate::harness::*;

async fn config(sim: &Sim, patch: Value) -> Resp {
    sim.control_post("/_sim/config", &patch).await
}

async fn poll(sim: &Sim, device: &str) -> Resp {
    sim.token(
        "organizations",
        &[
            ("client_id", CLIENT),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device),
        ],
    )
    .await
}

/// Checks the Entra v2 error shape and returns the body.
fn entra_shape(r: &Resp, error: &str, code: u64) -> Value {
    let b = r.body.clone();
    assert_eq!(b["error"], error, "{b}");
    assert_eq!(b["error_codes"], json!([code]), "{b}");
    let d = b["error_description"].as_str().expect("description");
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    assert!(d.contains("\r\nTrace ID: "), "{d}");
    assert!(d.contains("\r\nCorrelation ID: "), "{d}");
    assert!(d.contains("\r\nTimestamp: "), "{d}");
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(b[k].is_string(), "{k} in {b}");
    }
    b
}

#[tokio::test]
async fn consent_required_at_code_redemption_then_cleared_by_times() {
    let sim = start("demo").await;
    let r = config(
        &sim,
        json!({"authorityError": {"endpoint": "token", "grant": "authorization_code",
            "error": "invalid_grant", "codes": [65001], "suberror": "consent_required", "times": 1}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (verifier, challenge) = pkce();
    let a = sim
        .authorize(
            "organizations",
            &[
                ("client_id", CLIENT),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", GRAPH_DEFAULT),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(a.status().as_u16(), 302, "authorize is not affected");
    let code = param(&location(&a), "code").expect("code");
    let redeem = || sim.redeem("organizations", &code, REDIRECT, &verifier, GRAPH_DEFAULT);
    let t = redeem().await;
    assert_eq!(t.status, 400);
    let b = entra_shape(&t, "invalid_grant", 65001);
    assert_eq!(b["suberror"], "consent_required");
    assert!(b.get("claims").is_none());
    // times: 1 → consumed; the config shows it cleared and the next redemption works.
    assert_eq!(sim.ctl().config().authority_error, None);
    let t = redeem().await;
    assert_eq!(t.status, 200, "{}", t.body);
}

#[tokio::test]
async fn grant_filter_and_other_endpoints() {
    let sim = start("demo").await;
    let t = sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    let rt = t["refresh_token"].as_str().expect("rt").to_owned();
    config(
        &sim,
        json!({"authorityError": {"endpoint": "token", "grant": "refresh_token",
            "error": "unauthorized_client", "codes": [7000112], "status": 400}}),
    )
    .await;
    let r = sim.refresh(CONTOSO, &rt, ARM_DEFAULT).await;
    let b = entra_shape(&r, "unauthorized_client", 7000112);
    assert!(b.get("suberror").is_none());
    // Until cleared: still refused; other grants still work.
    let r = sim.refresh(CONTOSO, &rt, ARM_DEFAULT).await;
    assert_eq!(r.status, 400);
    sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    config(&sim, json!({"authorityError": null})).await;
    assert_eq!(sim.refresh(CONTOSO, &rt, ARM_DEFAULT).await.status, 200);

    // Device authorization endpoint: wrong client id.
    config(
        &sim,
        json!({"authorityError": {"endpoint": "devicecode", "error": "unauthorized_client",
            "codes": [700016], "description": "Application with identifier 'x' was not found in the directory 'Contoso'.", "times": 1}}),
    )
    .await;
    let r = sim.device_code().await;
    assert_eq!(r.status, 400);
    let b = entra_shape(&r, "unauthorized_client", 700016);
    assert!(
        b["error_description"]
            .as_str()
            .expect("d")
            .starts_with("AADSTS700016: Application with identifier 'x'")
    );
    assert_eq!(sim.device_code().await.status, 200);

    // Device-code poll: Conditional Access, with claims echoed.
    let d = sim.device_code().await;
    let device = d.body["device_code"].as_str().expect("dc").to_owned();
    config(
        &sim,
        json!({"authorityError": {"endpoint": "token", "grant": "device_code",
            "error": "invalid_grant", "codes": [53003], "suberror": "message_only",
            "claims": "{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"p\"]}}}"}}),
    )
    .await;
    let r = poll(&sim, &device).await;
    let b = entra_shape(&r, "invalid_grant", 53003);
    assert_eq!(b["suberror"], "message_only");
    assert!(b["claims"].as_str().expect("claims").contains("capolids"));
    assert!(
        b["error_description"]
            .as_str()
            .expect("d")
            .contains("Conditional Access")
    );
}

#[tokio::test]
async fn authorize_error_redirects_with_error_and_state() {
    let sim = start("demo").await;
    config(
        &sim,
        json!({"authorityError": {"endpoint": "authorize", "error": "access_denied",
            "codes": [53003], "times": 1}}),
    )
    .await;
    let (_, challenge) = pkce();
    let params = [
        ("client_id", CLIENT),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", GRAPH_DEFAULT),
        ("state", "xyz"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let r = sim.authorize("organizations", &params).await;
    assert_eq!(r.status().as_u16(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().expect("loc")).expect("url");
    let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "xyz");
    assert!(q["error_description"].starts_with("AADSTS53003: "));
    assert!(!q.contains_key("code"));
    let r = sim.authorize("organizations", &params).await;
    let loc = url::Url::parse(r.headers()["location"].to_str().expect("loc")).expect("url");
    assert!(loc.query_pairs().any(|(k, _)| k == "code"), "times: 1");
}

#[tokio::test]
async fn device_poll_script_then_real_state() {
    let sim = start("demo").await;
    config(
        &sim,
        json!({"devicePollScript": ["authorization_pending", "slow_down"]}),
    )
    .await;
    let d = sim.device_code().await;
    let device = d.body["device_code"].as_str().expect("dc").to_owned();
    let user = d.body["user_code"].as_str().expect("uc").to_owned();
    sim.ctl().approve_device_code(&user).expect("approve");
    assert_eq!(
        poll(&sim, &device).await.body["error"],
        "authorization_pending"
    );
    assert_eq!(poll(&sim, &device).await.body["error"], "slow_down");
    assert!(sim.ctl().config().device_poll_script.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(poll(&sim, &device).await.status, 200);

    for answer in [
        "authorization_declined",
        "expired_token",
        "bad_verification_code",
    ] {
        config(&sim, json!({ "devicePollScript": [answer] })).await;
        let d = sim.device_code().await;
        let r = poll(&sim, d.body["device_code"].as_str().expect("dc")).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"], answer);
        assert!(r.body["error_codes"].is_array());
    }
}

#[tokio::test]
async fn long_refresh_tokens_rotate_and_work() {
    let sim = start("demo").await;
    config(&sim, json!({"refreshTokenBytes": 6000})).await;
    let t = sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    let rt = t["refresh_token"].as_str().expect("rt").to_owned();
    assert_eq!(rt.len(), 6000);
    let r = sim.refresh(FABRIKAM, &rt, ARM_DEFAULT).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rt2 = r.body["refresh_token"].as_str().expect("rt2");
    assert_eq!(rt2.len(), 6000);
    assert_ne!(rt2, rt);
    config(&sim, json!({"refreshTokenBytes": null})).await;
    let r = sim.refresh(CONTOSO, rt2, ARM_DEFAULT).await;
    assert!(r.body["refresh_token"].as_str().expect("rt3").len() < 2000);
}

#[tokio::test]
async fn bad_config_is_rejected() {
    let sim = start("demo").await;
    for patch in [
        json!({"authorityError": {"endpoint": "nowhere", "error": "x"}}),
        json!({"authorityError": {"endpoint": "token", "grant": "password", "error": "x"}}),
        json!({"authorityError": {"endpoint": "token", "error": ""}}),
        json!({"authorityError": {"endpoint": "token", "error": "x", "status": 200}}),
        json!({"authorityError": {"endpoint": "token", "error": "x", "times": 0}}),
        json!({"authorityError": {"endpoint": "token", "error": "x", "bogus": 1}}),
        json!({"devicePollScript": ["granted"]}),
        json!({"refreshTokenBytes": 3}),
    ] {
        let r = config(&sim, patch.clone()).await;
        assert_eq!(r.status, 400, "{patch} → {}", r.body);
    }
    assert_eq!(sim.ctl().config(), pim_sim::SimConfig::default());
}

//! Sign-in paths through the real `pim` binary: proactive step-up before an activation.

use pim_tests::{TestEnv, role};
use serde_json::Value;

/// POSTs/PUTs of schedule requests in the simulator's log.
async fn writes(env: &TestEnv) -> Vec<Value> {
    env.requests()
        .await
        .into_iter()
        .filter(|r| {
            let m = r["method"].as_str().unwrap_or("");
            let p = r["path"].as_str().unwrap_or("");
            (m == "POST" || m == "PUT") && p.contains("ScheduleRequests") && !p.ends_with("/cancel")
        })
        .collect()
}

async fn authorize_requests(env: &TestEnv) -> usize {
    env.requests()
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap_or("").ends_with("/authorize"))
        .count()
}

/// Activates `args` after a fresh sign-in without MFA: one browser prompt, and the first
/// write already succeeds (no MfaRule / AcrsValidationFailed answer in the log).
async fn one_prompt_first_write_succeeds(env: &TestEnv, args: &[&str]) {
    env.clear_requests().await;
    env.pim(args).await.expect_code(0);
    assert_eq!(
        authorize_requests(env).await,
        1,
        "exactly one browser prompt"
    );
    let w = writes(env).await;
    assert_eq!(w.len(), 1, "one write, no step-up failure first: {w:#?}");
    let status = w[0]["status"].as_u64().unwrap();
    assert!((200..300).contains(&status), "first write succeeds: {w:#?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn proactive_step_up_makes_the_first_activation_succeed() {
    let env = TestEnv::demo().await;
    env.login().await;
    one_prompt_first_write_succeeds(
        &env,
        &[
            "activate",
            "Security Administrator",
            "--reason",
            "incident",
            "--ticket",
            "INC-1",
            "--ticket-system",
            "ServiceNow",
            "--duration",
            "1h",
        ],
    )
    .await;
    // Authentication context c1 (the session now has MFA but not c1).
    one_prompt_first_write_succeeds(
        &env,
        &[
            "activate",
            "Exchange Administrator",
            "--reason",
            "mail flow",
            "--duration",
            "1h",
        ],
    )
    .await;
    let roles = env.roles().await;
    assert_eq!(role(&roles, "Security Administrator")["state"], "active");
    assert_eq!(role(&roles, "Exchange Administrator")["state"], "active");
    env.assert_no_leak(&[]);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn proactive_step_up_for_an_azure_role() {
    let mut v: Value =
        serde_json::from_str(include_str!("../../crates/pim-sim/scenarios/demo.json")).unwrap();
    for t in v["tenants"].as_array_mut().unwrap() {
        for p in t["policies"].as_array_mut().into_iter().flatten() {
            if p["kind"] == "azureRole" && p["role"] == "Reader" {
                p["authenticationContext"] = "c3".into();
            }
        }
    }
    let env = TestEnv::start(pim_sim::Scenario::from_json(&v.to_string()).unwrap()).await;
    env.login().await;
    one_prompt_first_write_succeeds(
        &env,
        &["activate", "Reader", "--reason", "logs", "--duration", "1h"],
    )
    .await;
    assert_eq!(role(&env.roles().await, "Reader")["state"], "active");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn missing_pim_licence_is_named_per_tenant() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.fault(serde_json::json!({
        "path": "/v1.0/", "times": 1000,
        "fault": {"kind": "status", "status": 403, "code": "AadPremiumLicenseRequired",
                  "message": "The tenant needs an AAD Premium 2 license."}
    }))
    .await;
    let run = env.pim(&["roles"]).await;
    run.expect_code(0);
    assert!(run.stderr.contains("tenant Contoso"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Microsoft Entra ID P2"),
        "{}",
        run.stderr
    );
    // Azure roles are still listed.
    assert!(run.stdout.contains("Contributor"), "{}", run.stdout);
}

//! Faults: throttling, outages, resets, revoked sign-in, forbidden policy reads, CAE challenge.

use pim_tests::{TestEnv, role};
use serde_json::{Value, json};

async fn count(env: &TestEnv, method: &str, path_part: &str) -> usize {
    env.requests()
        .await
        .iter()
        .filter(|r| r["method"] == method && r["path"].as_str().unwrap_or("").contains(path_part))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn throttling_and_outages_on_reads_are_retried() {
    let env = TestEnv::demo().await;
    env.login().await;
    let expected = env.roles().await.len();

    for retry_after in [json!("1"), json!("0.4"), Value::Null] {
        env.clear_requests().await;
        env.fault(json!({"method": "POST", "path": "$batch", "times": 1,
            "fault": {"kind": "status", "status": 429, "retryAfter": retry_after}}))
            .await;
        assert_eq!(env.roles().await.len(), expected);
        assert!(
            count(&env, "POST", "$batch").await >= 3,
            "the throttled batch must be sent again"
        );
    }

    env.fault(
        json!({"method": "GET", "path": "roleEligibilityScheduleInstances", "times": 2,
        "fault": {"kind": "status", "status": 503}}),
    )
    .await;
    assert_eq!(env.roles().await.len(), expected);

    env.fault(
        json!({"method": "GET", "path": "roleAssignmentScheduleInstances", "times": 1,
        "fault": {"kind": "reset"}}),
    )
    .await;
    assert_eq!(env.roles().await.len(), expected);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn uncertain_activation_is_reconciled_not_reposted() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;
    // The request is processed, then the connection drops: the client cannot know.
    env.fault(
        json!({"method": "POST", "path": "roleAssignmentScheduleRequests", "times": 1,
        "fault": {"kind": "after", "then": {"kind": "reset"}}}),
    )
    .await;
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "uncertain",
            "--duration",
            "1h",
        ])
        .await;
    run.expect_code(0);
    assert_eq!(
        count(&env, "POST", "roleAssignmentScheduleRequests").await,
        1,
        "never re-posted"
    );
    assert_eq!(role(&env.roles().await, "Global Reader")["state"], "active");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn failed_activation_is_reposted_only_after_checking() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;
    env.fault(
        json!({"method": "POST", "path": "roleAssignmentScheduleRequests", "times": 1,
        "fault": {"kind": "status", "status": 503}}),
    )
    .await;
    env.pim(&[
        "activate",
        "Global Reader",
        "--reason",
        "outage",
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);
    // POST (503) -> read back the requests (nothing there) -> POST again: never a blind re-post.
    let log: Vec<String> = env
        .requests()
        .await
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or("")
                .starts_with("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests")
        })
        .map(|r| format!("{} {}", r["method"].as_str().unwrap(), r["status"]))
        .collect();
    assert_eq!(
        log.first().map(String::as_str),
        Some("POST 503"),
        "{log:#?}"
    );
    let second_post = log
        .iter()
        .skip(1)
        .position(|l| l.starts_with("POST"))
        .unwrap()
        + 1;
    assert!(
        log[1..second_post].iter().any(|l| l.starts_with("GET")),
        "{log:#?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST")).count(),
        2,
        "{log:#?}"
    );

    // A lasting outage: a clear error, a bounded number of attempts, nothing activated.
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;
    env.fault(
        json!({"method": "POST", "path": "roleAssignmentScheduleRequests", "times": 50,
        "fault": {"kind": "status", "status": 503}}),
    )
    .await;
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "outage",
            "--duration",
            "1h",
        ])
        .await;
    run.expect_code(1);
    assert!(!run.stderr.is_empty());
    assert!(count(&env, "POST", "roleAssignmentScheduleRequests").await <= 2);
    env.ctl("DELETE", "/_sim/faults", None).await;
    assert_eq!(
        role(&env.roles().await, "Global Reader")["state"],
        "eligible"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn azure_activation_survives_a_lost_response_with_its_request_name() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;
    env.fault(
        json!({"method": "PUT", "path": "roleAssignmentScheduleRequests", "times": 1,
        "fault": {"kind": "after", "then": {"kind": "reset"}}}),
    )
    .await;
    env.pim(&[
        "activate",
        "Contributor",
        "--reason",
        "deploy",
        "--ticket",
        "CHG-1",
        "--ticket-system",
        "Jira",
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);
    // Every PUT used the same client-chosen name: at most one request was created.
    let puts: Vec<String> = env
        .requests()
        .await
        .iter()
        .filter(|r| r["method"] == "PUT")
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(!puts.is_empty());
    assert!(puts.iter().all(|p| p == &puts[0]), "{puts:#?}");
    assert_eq!(role(&env.roles().await, "Contributor")["state"], "active");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn revoked_sign_in_asks_to_sign_in_again() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.ctl("POST", "/_sim/tokens/revoke", None).await;
    // Access tokens in memory die with the process; the next run must refresh and fail.
    let run = env.pim(&["roles"]).await;
    run.expect_code(4);
    assert!(run.stderr.contains("pim login"), "{}", run.stderr);
    env.login().await;
    env.pim(&["roles"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn forbidden_policy_reads_degrade_to_unknown() {
    let env = TestEnv::demo().await;
    env.login().await;
    let expected = env.roles().await.len();
    env.ctl(
        "POST",
        "/_sim/config",
        Some(json!({"policyReadForbidden": true, "armPolicyReadForbidden": true})),
    )
    .await;
    assert_eq!(
        env.roles().await.len(),
        expected,
        "a 403 on policies must not fail the list"
    );
    for name in ["Global Reader", "Contributor"] {
        let run = env.pim(&["policy", name]).await;
        run.expect_code(0);
        let out = run.stdout.to_lowercase();
        assert!(
            out.contains("could not be read") || out.contains("unknown"),
            "{}",
            run.stdout
        );
    }
    // With the rules unknown the server decides: a missing justification is its error.
    let run = env
        .pim(&["activate", "Global Reader", "--duration", "1h"])
        .await;
    run.expect_code(3);
    assert!(run.stderr.contains("Justification"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn claims_challenge_is_answered_with_a_new_sign_in() {
    // One tenant, so the one challenged `$batch` is surely the home tenant's.
    let env = TestEnv::start(pim_sim::Scenario::builtin("small").unwrap()).await;
    env.login().await;
    // A challenge a refresh cannot satisfy (authentication context c1): a browser sign-in.
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let challenge = json!({"method": "POST", "path": "$batch", "times": 1,
        "fault": {"kind": "claimsChallenge", "claims": claims}});

    // The user cancels the sign-in: the challenge is not met, exit 4 with advice.
    env.fault(challenge.clone()).await;
    let run = env
        .pim_with(&["roles"], &[("BROWSER", &env.cancelling_browser())])
        .await;
    run.expect_code(4);
    assert!(!run.stderr.is_empty());

    // With the browser: one sign-in with the claims, then the listing.
    env.fault(challenge).await;
    env.clear_requests().await;
    env.pim(&["roles"]).await.expect_code(0);
    let authorize: Vec<Value> = env
        .requests()
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().unwrap_or("").ends_with("/authorize"))
        .collect();
    assert_eq!(authorize.len(), 1, "{authorize:#?}");
    assert!(
        authorize[0]["query"].as_str().unwrap().contains("acrs"),
        "the claims go to the sign-in"
    );
}

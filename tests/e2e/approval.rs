//! Roles that need an approver: pending, approved, denied, cancelled.

use pim_tests::{TestEnv, role};
use serde_json::Value;

async fn pending(env: &TestEnv) -> Vec<Value> {
    match env.ctl("GET", "/_sim/pending", None).await {
        Value::Array(v) => v,
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn approval_then_active() {
    let env = TestEnv::demo().await;
    env.login().await;

    let run = env
        .pim(&[
            "activate",
            "Global Administrator",
            "--reason",
            "break glass drill",
            "--duration",
            "1h",
        ])
        .await;
    run.expect_code(0);
    assert!(
        run.stdout.to_lowercase().contains("approv"),
        "{}",
        run.stdout
    );
    assert_eq!(
        role(&env.roles().await, "Global Administrator")["state"],
        "pending"
    );

    let p = pending(&env).await;
    assert_eq!(p.len(), 1, "{p:#?}");
    let id = p[0]["id"].as_str().unwrap().to_owned();
    env.ctl("POST", &format!("/_sim/approvals/{id}/approve"), None)
        .await;

    let roles = env.roles().await;
    let ga = role(&roles, "Global Administrator");
    assert_eq!(ga["state"], "active", "{ga}");
    assert!(ga["endsAt"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn denied_request_leaves_the_role_eligible() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.pim(&[
        "activate",
        "Global Administrator",
        "--reason",
        "try",
        "--duration",
        "30m",
    ])
    .await
    .expect_code(0);
    let id = pending(&env).await[0]["id"].as_str().unwrap().to_owned();
    env.ctl("POST", &format!("/_sim/approvals/{id}/deny"), None)
        .await;
    assert_eq!(
        role(&env.roles().await, "Global Administrator")["state"],
        "eligible"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn pending_request_can_be_cancelled() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.pim(&[
        "activate",
        "Global Administrator",
        "--reason",
        "oops",
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);
    let status = env.pim(&["status"]).await;
    status.expect_code(0);
    assert!(
        status.stdout.contains("Global Administrator"),
        "{}",
        status.stdout
    );

    env.pim(&["cancel", "Global Administrator"])
        .await
        .expect_code(0);
    assert!(pending(&env).await.is_empty());
    assert_eq!(
        role(&env.roles().await, "Global Administrator")["state"],
        "eligible"
    );

    // Nothing left to cancel: a clear error, not a crash.
    let run = env.pim(&["cancel", "Global Administrator"]).await;
    assert_ne!(run.code, 0);
    assert!(!run.stderr.is_empty());
}

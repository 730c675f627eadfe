//! Activation, deactivation and extension, with every policy rule checked before sending.

use crate::batch::rfc3339;
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

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn policy_rules_are_checked_before_anything_is_sent() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;

    // Ticket required (Security Administrator: justification + ticket + MFA).
    let run = env
        .pim(&["activate", "Security Administrator", "--reason", "incident"])
        .await;
    run.expect_code(3);
    assert!(
        run.stderr.to_lowercase().contains("ticket"),
        "{}",
        run.stderr
    );

    // Justification required.
    let run = env
        .pim(&["activate", "Global Reader", "--duration", "1h"])
        .await;
    run.expect_code(3);
    let e = run.stderr.to_lowercase();
    assert!(
        e.contains("justification") || e.contains("reason"),
        "{}",
        run.stderr
    );

    // Over the maximum (Global Reader: 8 h): the message names the maximum.
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "x",
            "--duration",
            "9h",
        ])
        .await;
    run.expect_code(3);
    assert!(run.stderr.contains('8'), "{}", run.stderr);

    // Under the 5-minute minimum.
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "x",
            "--duration",
            "2m",
        ])
        .await;
    run.expect_code(3);

    // A garbled duration is a usage or validation error, not a crash.
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "x",
            "--duration",
            "soon",
        ])
        .await;
    assert!(run.code == 2 || run.code == 3, "{run:?}");

    assert!(
        writes(&env).await.is_empty(),
        "nothing may be sent when validation fails"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn activate_then_deactivate_after_five_minutes() {
    let env = TestEnv::demo().await;
    env.login().await;

    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "e2e check",
            "--duration",
            "1h30m",
        ])
        .await;
    run.expect_code(0);

    let roles = env.roles().await;
    let gr = role(&roles, "Global Reader");
    assert_eq!(gr["state"], "active", "{gr}");
    let ends = rfc3339(&gr["endsAt"]);
    let clock = env.ctl("GET", "/_sim/clock", None).await;
    let now = rfc3339(&clock["now"]);
    let length = ends - now;
    assert!(
        length > time::Duration::minutes(88) && length <= time::Duration::minutes(90),
        "1h30m activation expected, got {length}"
    );
    let posted = writes(&env).await;
    assert_eq!(posted.len(), 1, "{posted:#?}");

    // Activating again while active is refused or reported, never duplicated.
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "again",
            "--duration",
            "1h",
        ])
        .await;
    assert!(
        run.stdout.contains("already") || run.stderr.contains("already"),
        "{run:?}"
    );

    // The 5-minute rule: refused with a clear message.
    let run = env.pim(&["deactivate", "Global Reader"]).await;
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains('5'), "{}", run.stderr);

    env.advance(6 * 60).await;
    env.pim(&["deactivate", "Global Reader"])
        .await
        .expect_code(0);
    let roles = env.roles().await;
    assert_eq!(role(&roles, "Global Reader")["state"], "eligible");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn extend_lengthens_an_activation() {
    let env = TestEnv::demo().await;
    env.login().await;
    let before = rfc3339(&role(&env.roles().await, "User Administrator")["endsAt"]);

    env.pim(&["extend", "User Administrator", "--duration", "2h"])
        .await
        .expect_code(0);
    let roles = env.roles().await;
    let ua = role(&roles, "User Administrator");
    assert_eq!(ua["state"], "active", "{ua}");
    let after = rfc3339(&ua["endsAt"]);
    assert!(
        after - before > time::Duration::minutes(100),
        "{before} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn groups_and_azure_roles_activate() {
    let env = TestEnv::demo().await;
    env.login().await;

    env.pim(&[
        "activate",
        "Contributor",
        "--reason",
        "deploy hotfix",
        "--ticket",
        "CHG-2231",
        "--ticket-system",
        "Jira",
        "--duration",
        "2h",
    ])
    .await
    .expect_code(0);
    env.pim(&[
        "activate",
        "Reader",
        "--scope",
        "rg-web",
        "--reason",
        "look",
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);
    let roles = env.roles().await;
    assert_eq!(role(&roles, "Contributor")["state"], "active");
    assert_eq!(role(&roles, "Reader")["state"], "active");

    // Group membership (member: justification only). Owner needs approval.
    let run = env
        .pim(&[
            "activate",
            "SQL Prod Admins member",
            "--reason",
            "db fix",
            "--duration",
            "1h",
        ])
        .await;
    run.expect_code(0);
    let roles = env.roles().await;
    let active_groups: Vec<&Value> = roles
        .iter()
        .filter(|r| r["name"] == "SQL Prod Admins" && r["state"] == "active")
        .collect();
    assert_eq!(active_groups.len(), 1, "{roles:#?}");
}

/// Authority requests (sign-ins and token grants) in the simulator's log.
async fn authorize_requests(env: &TestEnv) -> usize {
    env.requests()
        .await
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").ends_with("/authorize"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn mfa_and_authentication_context_step_up_in_the_same_run() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.clear_requests().await;

    // The session has no MFA: one browser step-up inside the same run, then success.
    env.pim(&[
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
    ])
    .await
    .expect_code(0);
    assert_eq!(
        authorize_requests(&env).await,
        1,
        "exactly one browser prompt"
    );

    env.clear_requests().await;
    env.pim(&[
        "activate",
        "Exchange Administrator",
        "--reason",
        "mail flow",
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);
    assert_eq!(
        authorize_requests(&env).await,
        1,
        "exactly one browser prompt"
    );

    let roles = env.roles().await;
    assert_eq!(role(&roles, "Security Administrator")["state"], "active");
    assert_eq!(role(&roles, "Exchange Administrator")["state"], "active");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn step_up_that_cannot_complete_exits_4() {
    let env = TestEnv::demo().await;
    env.login().await;
    // The user cancels the browser sign-in: the step-up is not completed.
    let run = env
        .pim_with(
            &[
                "activate",
                "Exchange Administrator",
                "--reason",
                "mail flow",
                "--duration",
                "1h",
            ],
            &[("BROWSER", &env.cancelling_browser())],
        )
        .await;
    run.expect_code(4);
    assert_eq!(
        role(&env.roles().await, "Exchange Administrator")["state"],
        "eligible"
    );
}

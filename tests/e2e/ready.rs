//! `pim activate --wait`: returns once the roles work everywhere (the simulator's propagation
//! delays), or says which do not yet at the timeout.

use pim_tests::TestEnv;
use serde_json::json;

use crate::batch::by_name;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn wait_returns_when_ready_and_says_what_is_not_at_the_timeout() {
    let env = TestEnv::demo().await;
    env.login().await;
    // Entra roles and groups apply one second after activation here; Azure roles in an hour.
    env.ctl(
        "POST",
        "/_sim/propagation",
        Some(json!({"entraRole": 1, "group": 1, "azureRole": 3600})),
    )
    .await;
    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "SQL Prod Admins member",
            "--reason",
            "on call",
            "--wait",
            "--json",
        ])
        .await;
    run.expect_code(0);
    let v = run.json();
    for name in ["Global Reader", "SQL Prod Admins"] {
        let r = by_name(&v, name);
        assert_eq!(r["outcome"], "active", "{r}");
        assert_eq!(r["ready"], "ready", "{r}");
        assert!(
            r["readyAt"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{r}"
        );
    }

    // An Azure role that takes an hour: not ready at a 2-second timeout, exit 1, said in words.
    let run = env
        .pim(&[
            "activate",
            "Reader",
            "--scope",
            "rg-web",
            "--reason",
            "logs",
            "--wait",
            "--timeout",
            "2s",
        ])
        .await;
    run.expect_code(1);
    assert!(run.stdout.contains("Reader — rg-web"), "{}", run.stdout);
    assert!(run.stdout.contains("not ready yet after"), "{}", run.stdout);
    assert!(
        run.stderr.contains("do not work everywhere yet"),
        "{}",
        run.stderr
    );

    // A role scoped to an administrative unit has no probe: said, and not a failure.
    let run = env
        .pim(&["activate", "User Administrator", "--reason", "x", "--wait"])
        .await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("it can take a few minutes to apply"),
        "{}",
        run.stdout
    );
}

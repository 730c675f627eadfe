//! Time on the simulator's virtual clock: expiry and scheduled starts.

use pim_tests::{TestEnv, role};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn activation_expires_on_the_virtual_clock() {
    let env = TestEnv::demo().await;
    env.login().await;
    assert_eq!(
        role(&env.roles().await, "User Administrator")["state"],
        "active"
    );
    env.advance(11 * 60).await;
    // Tokens from before the jump may be expired on the simulator's clock: the CLI refreshes.
    let roles = env.roles().await;
    assert_eq!(role(&roles, "User Administrator")["state"], "eligible");
    assert_eq!(role(&roles, "Directory Readers")["state"], "active");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn scheduled_activation_starts_later() {
    let env = TestEnv::demo().await;
    env.login().await;
    let clock = env.ctl("GET", "/_sim/clock", None).await;
    let now = time::OffsetDateTime::parse(
        clock["now"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let start = (now + time::Duration::hours(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();

    let run = env
        .pim(&[
            "activate",
            "Global Reader",
            "--reason",
            "night change",
            "--duration",
            "1h",
            "--start",
            &start,
        ])
        .await;
    run.expect_code(0);
    assert_eq!(
        role(&env.roles().await, "Global Reader")["state"],
        "scheduled"
    );

    env.advance(2 * 3600 + 60).await;
    assert_eq!(role(&env.roles().await, "Global Reader")["state"], "active");
}

//! Paging: a small page size must not change what is listed.

use pim_tests::TestEnv;
use serde_json::{Value, json};

fn summary(roles: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = roles
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}|{}|{}",
                r["tenantId"], r["kind"], r["name"], r["scope"], r["state"]
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn small_pages_list_the_same_roles() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.roles().await;
    env.clear_requests().await;
    let whole = summary(&env.roles().await);
    let unpaged_requests = env.requests().await.len();

    env.ctl("POST", "/_sim/config", Some(json!({ "pageSize": 2 })))
        .await;
    env.clear_requests().await;
    let paged = summary(&env.roles().await);
    assert_eq!(whole, paged);

    // The client followed nextLinks: more requests than without paging.
    let paged_requests = env.requests().await.len();
    assert!(
        paged_requests > unpaged_requests,
        "no nextLink was followed ({paged_requests} vs {unpaged_requests} requests)"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn graph_reads_go_in_one_batch_per_tenant() {
    let env = TestEnv::demo().await;
    env.login().await;
    env.roles().await;
    env.clear_requests().await;
    env.roles().await;
    let log = env.requests().await;
    let graph: Vec<&Value> = log.iter().filter(|r| r["resource"] == "graph").collect();
    let batches = graph
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").ends_with("$batch"))
        .count();
    assert_eq!(batches, 2, "one $batch per tenant expected: {graph:#?}");
    assert_eq!(
        graph.len(),
        batches,
        "no Graph reads outside the batch: {graph:#?}"
    );
}

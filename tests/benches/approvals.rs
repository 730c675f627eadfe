//! Approver's inbox benchmark: how many round trips does reading it cost? (The tray reads it
//! every five minutes; `pim approvals` once.)
//!
//! The simulator adds a fixed latency (default 100 ms) to every response, so wall time divided
//! by one round trip counts the round trips on the critical path. The demo inbox: four requests
//! in Contoso (an Entra role, a group, two Azure roles, one of them two-stage), none in Fabrikam.
//! Printed figures:
//!
//! * `rtt`: one authenticated Graph GET (`/v1.0/me`), the unit;
//! * `inbox, tokens in hand`: `Session::approvals()` over both tenants (goal <= 3 x rtt): per
//!   tenant in parallel, the Graph lists in one `$batch` beside ARM's requests and approvals,
//!   then the Graph approvals' stages in parallel;
//! * `inbox of one tenant`: the same for Contoso alone;
//! * `cold pim approvals --json`: a new `pim` process, token refresh from the keychain
//!   included. Needs a Secret Service: run through `.ci/bench.sh`.
//!
//! `cargo bench -p pim-tests --bench approvals -- [--latency-ms N] [--rounds N]`
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use pim_core::Session;

use common::{Setup, median};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let setup = Setup::start().await;
    let (latency, rounds) = (setup.latency, setup.rounds);
    let http = reqwest::Client::new();
    let rtt = setup.rtt(&http).await;
    let session = Session::new(pim_core::SessionOptions::new(
        setup.endpoints.clone(),
        setup.tokens.clone(),
        setup.account.home_tenant_id.clone(),
    ));
    // Tokens and the tenant list in hand, as the tray's reads after the first.
    let first = session.approvals().await.unwrap();
    assert_eq!(first.items.len(), 4, "{:#?}", first.items);
    assert!(
        first
            .tenants
            .iter()
            .all(|t| t.error.is_none() && t.warnings.is_empty()),
        "{:#?}",
        first.tenants
    );
    let mut all = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let inbox = session.approvals().await.unwrap();
        all.push(t.elapsed());
        assert_eq!(inbox.items.len(), 4);
    }
    let all = median(all);
    let contoso: Vec<pim_core::Tenant> = session
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.display_name == "Contoso")
        .collect();
    let mut one = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        session.approvals_of(&contoso).await.unwrap();
        one.push(t.elapsed());
    }
    let one = median(one);
    let ratio = |d: std::time::Duration| d.as_secs_f64() / rtt.as_secs_f64();
    println!(
        "approvals bench: latency {} ms, {rounds} rounds (medians)",
        latency.as_millis()
    );
    println!(
        "  rtt (GET /v1.0/me)               {:8.1} ms",
        rtt.as_secs_f64() * 1e3
    );
    println!(
        "  inbox, tokens in hand (2 tenants) {:8.1} ms = {:.2} x rtt (goal <= 3)",
        all.as_secs_f64() * 1e3,
        ratio(all)
    );
    println!(
        "  inbox of one tenant               {:8.1} ms = {:.2} x rtt",
        one.as_secs_f64() * 1e3,
        ratio(one)
    );

    // A cold CLI process, token refresh from the keychain included.
    if std::env::var_os("PIM_TEST_SECRET_SERVICE").is_none() {
        println!(
            "  cold `pim approvals --json`       skipped (needs a Secret Service: run .ci/bench.sh)"
        );
        return;
    }
    let cli = setup.cli();
    let cold = tokio::task::block_in_place(|| {
        cli.run_ok(&["login"]);
        let mut times = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let out = cli.run_ok(&["approvals", "--json"]);
            times.push(t.elapsed());
            let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(items.len(), 4);
        }
        median(times)
    });
    println!(
        "  cold `pim approvals --json`       {:8.1} ms = {:.2} x rtt",
        cold.as_secs_f64() * 1e3,
        ratio(cold)
    );
}

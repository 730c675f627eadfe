//! Refresh benchmark: how many round trips does listing every role cost?
//!
//! The simulator adds a fixed latency (default 100 ms) to every response, so wall time divided
//! by one round trip counts the round trips on the critical path. Printed figures:
//!
//! * `rtt`: one authenticated Graph GET (`/v1.0/me`), the unit;
//! * `warm refresh`: `Session::refresh()` of both demo tenants with tokens in hand
//!   (goal <= 1.3 x rtt);
//! * `sequential baseline`: the same reads sent one after another, no `$batch`, no parallelism;
//! * `cold pim roles`: a new `pim roles --json` process, token refresh from the keychain
//!   included (goal <= 2.6 x rtt). Needs a Secret Service: run through `.ci/bench.sh`.
//!
//! `cargo bench -p pim-tests --bench refresh -- [--latency-ms N] [--rounds N]`
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use pim_core::token::{Resource, TokenRequest};

use common::{Setup, median};

#[tokio::main]
async fn main() {
    let setup = Setup::start().await;
    let (latency, rounds) = (setup.latency, setup.rounds);
    let base = setup.base();
    let (account, tokens, endpoints) = (&setup.account, &setup.tokens, &setup.endpoints);

    let http = reqwest::Client::new();
    let token = |tenant: String, resource: Resource| {
        let tokens = tokens.clone();
        let scope = match resource {
            Resource::Graph => endpoints.graph_scope.clone(),
            Resource::Arm => endpoints.arm_scope.clone(),
        };
        async move {
            tokens
                .access_token(&TokenRequest {
                    tenant_id: tenant,
                    resource,
                    scope,
                    claims: None,
                    force_refresh: false,
                })
                .await
                .unwrap()
                .token
        }
    };

    // The unit: one authenticated round trip.
    let rtt = setup.rtt(&http).await;

    // Warm refresh through the Session (tokens in hand, tenants known).
    let mut opts = pim_core::SessionOptions::new(
        endpoints.clone(),
        tokens.clone(),
        account.home_tenant_id.clone(),
    );
    opts.client = pim_core::session::default_client();
    let session = pim_core::Session::new(opts);
    let first = session.refresh().await.unwrap();
    let tenants: Vec<String> = first.tenants.iter().map(|t| t.tenant.id.clone()).collect();
    let role_count = first.roles().count();
    let mut warm = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        session.refresh().await.unwrap();
        warm.push(t.elapsed());
    }
    let warm = median(warm);

    // Sequential baseline: the same reads one by one.
    let graph_paths = [
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$expand=roleDefinition,directoryScope",
        "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')?$expand=roleDefinition,directoryScope",
        "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='principal')",
        "/v1.0/policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'&$expand=policy($expand=rules)",
        "/v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances/filterByCurrentUser(on='principal')",
        "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')",
        "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleRequests/filterByCurrentUser(on='principal')",
    ];
    let arm_paths = [
        "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()",
        "/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?api-version=2020-10-01&$filter=asTarget()",
        "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asRequestor()",
    ];
    let mut tenant_tokens = Vec::new();
    for t in &tenants {
        tenant_tokens.push((
            token(t.clone(), Resource::Graph).await,
            token(t.clone(), Resource::Arm).await,
        ));
    }
    let mut seq = Vec::new();
    for _ in 0..rounds.min(3) {
        let t = Instant::now();
        for (g, a) in &tenant_tokens {
            for p in graph_paths {
                let r = http
                    .get(format!("{base}{p}"))
                    .bearer_auth(g.expose())
                    .send()
                    .await
                    .unwrap();
                r.bytes().await.unwrap();
            }
            for p in arm_paths {
                let r = http
                    .get(format!("{base}{p}"))
                    .bearer_auth(a.expose())
                    .send()
                    .await
                    .unwrap();
                r.bytes().await.unwrap();
            }
        }
        seq.push(t.elapsed());
    }
    let seq = median(seq);

    let x = |d: Duration| d.as_secs_f64() / rtt.as_secs_f64();
    println!(
        "refresh benchmark: {} tenants, {role_count} roles, injected latency {} ms",
        tenants.len(),
        latency.as_millis()
    );
    println!(
        "  rtt (GET /v1.0/me)          {:>7.1} ms   1.00 x",
        rtt.as_secs_f64() * 1e3
    );
    println!(
        "  warm refresh (Session)      {:>7.1} ms  {:>5.2} x   goal <= 1.3 x",
        warm.as_secs_f64() * 1e3,
        x(warm)
    );
    println!(
        "  sequential baseline         {:>7.1} ms  {:>5.2} x",
        seq.as_secs_f64() * 1e3,
        x(seq)
    );

    // Cold CLI process, token refresh from the keychain included.
    if std::env::var_os("PIM_TEST_SECRET_SERVICE").is_none() {
        println!(
            "  cold `pim roles`            skipped (needs a Secret Service: run .ci/bench.sh)"
        );
        return;
    }
    let cli = setup.cli();
    let run = |args: &[&str]| cli.run_ok(args);
    tokio::task::block_in_place(|| run(&["login"]));
    // One run to settle caches the CLI keeps between runs (e.g. the tenant list).
    tokio::task::block_in_place(|| run(&["roles", "--json"]));
    let mut cold = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        tokio::task::block_in_place(|| run(&["roles", "--json"]));
        cold.push(t.elapsed());
    }
    let cold = median(cold);
    println!(
        "  cold `pim roles` process    {:>7.1} ms  {:>5.2} x   goal <= 2.6 x",
        cold.as_secs_f64() * 1e3,
        x(cold)
    );
}

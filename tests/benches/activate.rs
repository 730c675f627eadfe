//! Bundle activation benchmark: how many round trips does activating five roles at once cost?
//!
//! The simulator adds a fixed latency (default 100 ms) to every response, so wall time divided
//! by one round trip counts the round trips on the critical path. The bundle: Global Reader,
//! SQL Prod Admins (member), Reader on rg-web (Contoso), Teams Administrator and Key Vault
//! Reader (Fabrikam): Entra roles, a group and Azure roles in two tenants. Printed figures:
//!
//! * `rtt`: one authenticated Graph GET (`/v1.0/me`), the unit;
//! * `bundle, policies cached`: `Session::plan_activations` + `Session::activate_planned` with
//!   tokens in hand and every policy read before (goal <= 3 x rtt): the writes in parallel,
//!   then one re-read per tenant in parallel;
//! * `one by one (baseline)`: the same five `Session::activate` calls one after another;
//! * `cold pim activate --bundle`: a new `pim` process, token refresh from the keychain, the
//!   roles and the group and Azure policies read included. Needs a Secret Service: run through
//!   `.ci/bench.sh`.
//!
//! Between rounds the simulator's clock moves on two hours, so every activation has ended.
//!
//! `cargo bench -p pim-tests --bench activate -- [--latency-ms N] [--rounds N]`
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use pim_core::token::{Resource, TokenRequest};
use pim_core::{ActivationRequest, Outcome, Planned, Role, RoleQuery, Session};

use common::{Setup, median};

const BUNDLE: [(&str, Option<&str>); 5] = [
    ("Global Reader", None),
    ("SQL Prod Admins member", None),
    ("Reader", Some("rg-web")),
    ("Teams Administrator", None),
    ("Key Vault Reader", None),
];

fn request() -> ActivationRequest {
    ActivationRequest {
        justification: Some("benchmark".into()),
        ..ActivationRequest::default()
    }
}

/// The bundle's roles as the session sees them now (refreshed first).
async fn bundle_roles(session: &Session) -> Vec<Role> {
    let snap = session.refresh().await.unwrap();
    for t in &snap.tenants {
        assert!(
            t.error.is_none(),
            "{}: {:?}",
            t.tenant.display_name,
            t.error
        );
        assert!(
            t.warnings.is_empty(),
            "{}: {:?}",
            t.tenant.display_name,
            t.warnings
        );
    }
    let mut roles = Vec::new();
    for (name, scope) in BUNDLE {
        let q = RoleQuery {
            scope: scope.map(str::to_owned),
            ..RoleQuery::name(name)
        };
        roles.push(session.find(&q, &|_| false).await.unwrap());
    }
    roles
}

/// Ends every activation (the clock moves on two hours), gets tokens valid at the new time
/// (the simulator checks their lifetime by its own clock) and re-reads.
async fn reset(sim: &pim_sim::SimHandle, session: &Session, tokens: &Tokens) -> Vec<Role> {
    sim.control().advance(2 * 3600);
    for t in session.tenants().await.unwrap() {
        for (resource, scope) in [
            (Resource::Graph, tokens.1.graph_scope.clone()),
            (Resource::Arm, tokens.1.arm_scope.clone()),
        ] {
            let req = TokenRequest {
                tenant_id: t.id.clone(),
                resource,
                scope,
                claims: None,
                force_refresh: true,
            };
            tokens.0.access_token(&req).await.unwrap();
        }
    }
    bundle_roles(session).await
}

/// The token source and the endpoints.
type Tokens = (
    std::sync::Arc<dyn pim_core::token::TokenSource>,
    pim_core::config::Endpoints,
);

#[tokio::main]
async fn main() {
    let setup = Setup::start().await;
    let (latency, rounds, sim) = (setup.latency, setup.rounds, &setup.sim);
    let (account, tokens, endpoints) = (&setup.account, &setup.tokens, &setup.endpoints);

    // The unit: one authenticated round trip.
    let http = reqwest::Client::new();
    let rtt = setup.rtt(&http).await;

    // Tokens in hand, every policy read once (groups and Azure roles are read lazily).
    let session = Session::new(pim_core::SessionOptions::new(
        endpoints.clone(),
        tokens.clone(),
        account.home_tenant_id.clone(),
    ));
    let both: Tokens = (tokens.clone(), endpoints.clone());
    let mut roles = bundle_roles(&session).await;
    session.load_policies().await;
    // One untimed round: tokens for every tenant and API, the user's ids.
    let plans = ready(session.plan_activations(&roles, &request(), None).await);
    assert_active(&session.activate_planned(&plans).await);

    let mut batch = Vec::new();
    for _ in 0..rounds {
        roles = reset(sim, &session, &both).await;
        let t = Instant::now();
        let plans = ready(session.plan_activations(&roles, &request(), None).await);
        let results = session.activate_planned(&plans).await;
        batch.push(t.elapsed());
        assert_active(&results);
    }
    let batch = median(batch);

    let mut seq = Vec::new();
    for _ in 0..rounds.min(3) {
        roles = reset(sim, &session, &both).await;
        let t = Instant::now();
        let mut results = Vec::new();
        for r in &roles {
            results.push(session.activate(r, request()).await);
        }
        seq.push(t.elapsed());
        assert_active(&results);
    }
    let seq = median(seq);

    let x = |d: Duration| d.as_secs_f64() / rtt.as_secs_f64();
    println!(
        "bundle activation benchmark: {} roles in 2 tenants, injected latency {} ms",
        BUNDLE.len(),
        latency.as_millis()
    );
    println!(
        "  rtt (GET /v1.0/me)            {:>7.1} ms   1.00 x",
        rtt.as_secs_f64() * 1e3
    );
    println!(
        "  bundle, policies cached       {:>7.1} ms  {:>5.2} x   goal <= 3 x",
        batch.as_secs_f64() * 1e3,
        x(batch)
    );
    println!(
        "  one by one (baseline)         {:>7.1} ms  {:>5.2} x",
        seq.as_secs_f64() * 1e3,
        x(seq)
    );

    // A cold CLI process, token refresh from the keychain included.
    if std::env::var_os("PIM_TEST_SECRET_SERVICE").is_none() {
        println!(
            "  cold `pim activate --bundle`  skipped (needs a Secret Service: run .ci/bench.sh)"
        );
        return;
    }
    let cli = setup.cli();
    let run = |args: &[&str]| {
        cli.run_ok(args);
    };
    tokio::task::block_in_place(|| {
        run(&["login"]);
        run(&[
            "bundle",
            "save",
            "bench",
            "Global Reader",
            "SQL Prod Admins member",
            "Teams Administrator",
            "Key Vault Reader",
            "--reason",
            "benchmark",
        ]);
        run(&[
            "bundle",
            "save",
            "bench2",
            "Reader",
            "--scope",
            "rg-web",
            "--reason",
            "benchmark",
        ]);
    });
    // `bundle save` takes one scope for all names: put the five in one bundle by hand.
    let path = cli.cfg.join("bundles.json");
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let reader = file["bundles"][1]["roles"][0].clone();
    file["bundles"][0]["roles"]
        .as_array_mut()
        .unwrap()
        .insert(2, reader);
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    // One run to settle what the CLI keeps between runs (the tenant list).
    sim.control().advance(2 * 3600);
    tokio::task::block_in_place(|| run(&["activate", "--bundle", "bench"]));
    let mut cold = Vec::new();
    for _ in 0..rounds {
        sim.control().advance(2 * 3600);
        let t = Instant::now();
        tokio::task::block_in_place(|| run(&["activate", "--bundle", "bench", "--json"]));
        cold.push(t.elapsed());
    }
    let cold = median(cold);
    println!(
        "  cold `pim activate --bundle`  {:>7.1} ms  {:>5.2} x",
        cold.as_secs_f64() * 1e3,
        x(cold)
    );
}

fn ready(planned: Vec<Planned>) -> Vec<pim_core::ActivationPlan> {
    planned
        .into_iter()
        .map(|p| match p {
            Planned::Ready { plan, .. } => *plan,
            other => panic!("not ready: {other:?}"),
        })
        .collect()
}

#[track_caller]
fn assert_active(results: &[pim_core::Result<Outcome>]) {
    assert_eq!(results.len(), BUNDLE.len());
    for r in results {
        assert!(
            matches!(r, Ok(Outcome::Active { until: Some(_), .. })),
            "{r:?}"
        );
    }
}

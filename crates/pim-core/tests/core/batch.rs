//! Several activations at once: every role checked before anything is sent, the requests in
//! parallel, one step-up per tenant, API and claims set.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use pim_core::token::Resource;
use pim_core::{
    ActivationRequest, Outcome, PimDuration, Planned, Role, RoleQuery, RoleState, Session,
    StepUpHook, Ticket,
};
use pim_sim::{Scenario, SimOptions};

use crate::harness::{self, Harness, TestTokens};

#[derive(Debug)]
struct Browser {
    tokens: Arc<TestTokens>,
    prompts: AtomicUsize,
}

#[async_trait]
impl StepUpHook for Browser {
    async fn step_up(&self, tenant: &str, _r: Resource, claims: &str) -> pim_core::Result<()> {
        self.prompts.fetch_add(1, Ordering::SeqCst);
        self.tokens.interactive(tenant, claims).await;
        Ok(())
    }
}

/// The demo scenario where Global Reader and the SQL Prod Admins membership need MFA too
/// (Security Administrator already does).
fn mfa_scenario() -> Scenario {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../../pim-sim/scenarios/demo.json")).unwrap();
    for t in v["tenants"].as_array_mut().unwrap() {
        for p in t["policies"].as_array_mut().into_iter().flatten() {
            if p["role"] == "Global Reader" || (p["kind"] == "group" && p["access"] == "member") {
                p["mfa"] = true.into();
            }
        }
    }
    Scenario::from_json(&v.to_string()).unwrap()
}

async fn roles(session: &Session, names: &[&str]) -> Vec<Role> {
    session.refresh().await.unwrap();
    let mut out = Vec::new();
    for n in names {
        let q = RoleQuery {
            scope: (*n == "Reader").then(|| "rg-web".to_owned()),
            ..RoleQuery::name(*n)
        };
        out.push(session.find(&q, &|_| false).await.unwrap());
    }
    out
}

fn writes(h: &Harness) -> Vec<u16> {
    h.sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| {
            (r.method == "POST" || r.method == "PUT") && r.path.contains("ScheduleRequests")
        })
        .map(|r| r.status)
        .collect()
}

fn request() -> ActivationRequest {
    ActivationRequest {
        justification: Some("incident 7".into()),
        ticket: Some(Ticket {
            number: "INC-7".into(),
            system: "ServiceNow".into(),
        }),
        ..ActivationRequest::default()
    }
}

#[tokio::test]
async fn roles_with_the_same_claims_share_one_prompt() {
    let h = harness::start_with(SimOptions {
        scenario: mfa_scenario(),
        ..SimOptions::default()
    })
    .await;
    let browser = Arc::new(Browser {
        tokens: h.tokens.clone(),
        prompts: AtomicUsize::new(0),
    });
    let mut opts = h.options.clone();
    opts.step_up = Some(browser.clone());
    let session = Session::new(opts);
    let names = [
        "Global Reader",
        "Security Administrator",
        "SQL Prod Admins member",
        "Reader",
    ];
    let roles = roles(&session, &names).await;
    let planned = session
        .plan_activations(&roles, &request(), Some(PimDuration::from_hours(2)))
        .await;
    let plans: Vec<_> = planned
        .into_iter()
        .map(|p| match p {
            Planned::Ready { plan, .. } => *plan,
            other => panic!("{other:?}"),
        })
        .collect();
    h.sim.control().clear_requests();
    let results = session.activate_planned(&plans).await;
    for (n, r) in names.iter().zip(&results) {
        assert!(
            matches!(r, Ok(Outcome::Active { until: Some(_), .. })),
            "{n}: {r:?}"
        );
    }
    assert_eq!(
        browser.prompts.load(Ordering::SeqCst),
        1,
        "three Graph roles asking for MFA in one tenant: one prompt"
    );
    let w = writes(&h);
    assert_eq!(w.len(), 4, "one write per role: {w:?}");
    assert!(w.iter().all(|s| (200..300).contains(s)), "{w:?}");
    // The published snapshot shows them all active.
    let snap = session.snapshot();
    for r in &roles {
        assert_eq!(snap.by_key(&r.key()).unwrap().state, RoleState::Active);
    }

    // Again, with the roles as they are now: nothing to send.
    let now: Vec<Role> = roles
        .iter()
        .map(|r| snap.by_key(&r.key()).unwrap().clone())
        .collect();
    let again = session.plan_activations(&now, &request(), None).await;
    assert!(
        again.iter().all(|p| matches!(p, Planned::AlreadyActive)),
        "{again:?}"
    );
}

#[tokio::test]
async fn one_refused_role_leaves_the_others_ready_and_nothing_sent() {
    let h = harness::start().await;
    let roles = roles(&h.session, &["Global Reader", "Contributor"]).await;
    h.sim.control().clear_requests();
    // Contributor needs a ticket; Global Reader does not.
    let req = ActivationRequest {
        justification: Some("look".into()),
        ..ActivationRequest::default()
    };
    let planned = h.session.plan_activations(&roles, &req, None).await;
    assert!(matches!(planned[0], Planned::Ready { .. }), "{planned:?}");
    assert!(matches!(planned[1], Planned::Refused(_)), "{planned:?}");
    assert!(writes(&h).is_empty());
}

//! Proactive step-up: a role whose policy names MFA or an authentication context gets a token
//! with exactly those claims before the write, so the first write already succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use pim_core::token::Resource;
use pim_core::{ActivationRequest, Outcome, PimDuration, RoleQuery, Session, StepUpHook, Ticket};
use pim_sim::{Scenario, SimOptions};

use crate::harness::{self, Harness, TestTokens};

/// The "browser": an interactive sign-in with the claims asked for, counted.
#[derive(Debug)]
struct Browser {
    tokens: Arc<TestTokens>,
    prompts: AtomicUsize,
    asked: std::sync::Mutex<Vec<(Resource, String)>>,
}

#[async_trait]
impl StepUpHook for Browser {
    async fn step_up(
        &self,
        tenant_id: &str,
        resource: Resource,
        claims: &str,
    ) -> pim_core::Result<()> {
        self.prompts.fetch_add(1, Ordering::SeqCst);
        self.asked
            .lock()
            .unwrap()
            .push((resource, claims.to_owned()));
        self.tokens.interactive(tenant_id, claims).await;
        Ok(())
    }
}

fn with_browser(h: &Harness) -> (Session, Arc<Browser>) {
    let browser = Arc::new(Browser {
        tokens: h.tokens.clone(),
        prompts: AtomicUsize::new(0),
        asked: Default::default(),
    });
    let mut opts = h.options.clone();
    opts.step_up = Some(browser.clone());
    (Session::new(opts), browser)
}

fn request() -> ActivationRequest {
    ActivationRequest {
        justification: Some("change 42".into()),
        ticket: Some(Ticket {
            number: "CHG-42".into(),
            system: "Jira".into(),
        }),
        duration: Some(PimDuration::from_hours(1)),
        start: None,
    }
}

/// The writes (POST/PUT to *ScheduleRequests) since the log was cleared: (path, status).
fn writes(h: &Harness) -> Vec<(String, u16)> {
    h.sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| {
            (r.method == "POST" || r.method == "PUT") && r.path.contains("ScheduleRequests")
        })
        .map(|r| (r.path, r.status))
        .collect()
}

fn authorizes(h: &Harness) -> usize {
    h.sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.resource == "authority" && r.path.ends_with("/authorize"))
        .count()
}

async fn activate_with_one_prompt(
    h: &Harness,
    name: &str,
    expect_claims: &str,
    resource: Resource,
) {
    let (session, browser) = with_browser(h);
    session.refresh().await.unwrap();
    let role = session
        .find(&RoleQuery::name(name), &|_| false)
        .await
        .unwrap();
    // The policy must be known for a proactive step-up (groups and Azure roles are lazy).
    assert!(session.policy(&role).await.known().is_some());
    h.sim.control().clear_requests();
    let out = session.activate(&role, request()).await.unwrap();
    assert!(matches!(out, Outcome::Active { .. }), "{out:?}");
    assert_eq!(
        browser.prompts.load(Ordering::SeqCst),
        1,
        "one browser prompt"
    );
    assert_eq!(authorizes(h), 1, "one interactive sign-in");
    let asked = browser.asked.lock().unwrap().clone();
    assert_eq!(asked, vec![(resource, expect_claims.to_owned())]);
    let w = writes(h);
    assert_eq!(w.len(), 1, "exactly one write, no step-up failure: {w:?}");
    assert!((200..300).contains(&w[0].1), "first write succeeds: {w:?}");
}

#[tokio::test]
async fn authentication_context_role_steps_up_before_the_first_post() {
    let h = harness::start().await;
    activate_with_one_prompt(
        &h,
        "Exchange Administrator",
        r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#,
        Resource::Graph,
    )
    .await;
}

#[tokio::test]
async fn mfa_role_steps_up_before_the_first_post() {
    let h = harness::start().await;
    activate_with_one_prompt(
        &h,
        "Security Administrator",
        pim_core::http::MFA_CLAIMS,
        Resource::Graph,
    )
    .await;
}

/// The demo scenario with a group needing MFA and an Azure role needing context c2.
fn stricter_scenario() -> Scenario {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../../pim-sim/scenarios/demo.json")).unwrap();
    for t in v["tenants"].as_array_mut().unwrap() {
        let Some(ps) = t.get_mut("policies").and_then(|p| p.as_array_mut()) else {
            continue;
        };
        for p in ps {
            if p["kind"] == "group" && p["access"] == "member" {
                p["mfa"] = true.into();
            }
            if p["kind"] == "azureRole" && p["role"] == "Contributor" {
                p["authenticationContext"] = "c2".into();
            }
        }
    }
    Scenario::from_json(&v.to_string()).unwrap()
}

#[tokio::test]
async fn group_and_azure_roles_step_up_per_resource() {
    let h = harness::start_with(SimOptions {
        scenario: stricter_scenario(),
        ..SimOptions::default()
    })
    .await;
    activate_with_one_prompt(
        &h,
        "SQL Prod Admins member",
        pim_core::http::MFA_CLAIMS,
        Resource::Graph,
    )
    .await;
    // A new session (no access tokens cached); the sign-in now has MFA but not c2.
    activate_with_one_prompt(
        &h,
        "Contributor",
        r#"{"access_token":{"acrs":{"essential":true,"value":"c2"}}}"#,
        Resource::Arm,
    )
    .await;
}

#[tokio::test]
async fn satisfied_claims_need_no_prompt() {
    let h = harness::start().await;
    // The user already did MFA: the refresh grant with the MFA claims succeeds silently.
    h.tokens
        .interactive(&h.home, pim_core::http::MFA_CLAIMS)
        .await;
    let (session, browser) = with_browser(&h);
    session.refresh().await.unwrap();
    let role = session
        .find(&RoleQuery::name("Security Administrator"), &|_| false)
        .await
        .unwrap();
    h.sim.control().clear_requests();
    let out = session.activate(&role, request()).await.unwrap();
    assert!(matches!(out, Outcome::Active { .. }), "{out:?}");
    assert_eq!(browser.prompts.load(Ordering::SeqCst), 0);
    assert_eq!(authorizes(&h), 0);
    let w = writes(&h);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!((200..300).contains(&w[0].1), "{w:?}");
}

#[tokio::test]
async fn roles_without_step_up_ask_for_no_claims() {
    let h = harness::start().await;
    let (session, browser) = with_browser(&h);
    session.refresh().await.unwrap();
    let role = session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    h.sim.control().clear_requests();
    session.activate(&role, request()).await.unwrap();
    assert_eq!(browser.prompts.load(Ordering::SeqCst), 0);
    let claims_asked = h
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.resource == "authority")
        .count();
    assert_eq!(claims_asked, 0, "no token request beyond the cached ones");
}

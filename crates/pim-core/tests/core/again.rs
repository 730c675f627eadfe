//! Activate again: the newest earlier activation request repeated, through the policy check.

use pim_core::{
    ActivationRequest, Error, Outcome, PimDuration, Role, RoleQuery, RoleState, Ticket,
    again_needs_form,
};
use pim_sim::{Scenario, SimOptions};
use serde_json::json;

use crate::harness::{self, Harness};

async fn find_role(h: &Harness, name: &str) -> Role {
    h.session
        .find(&RoleQuery::name(name), &|_| false)
        .await
        .unwrap()
}

/// Requests that change something (not reads, not sign-ins).
fn writes(h: &Harness) -> usize {
    h.sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.resource != "authority")
        .count()
}

/// Past PIM's five minutes, then deactivated; the role is eligible again.
async fn deactivate_later(h: &Harness, name: &str) -> Role {
    h.sim.control().advance(6 * 60);
    h.session.refresh().await.unwrap();
    let role = find_role(h, name).await;
    let out = h.session.deactivate(&role).await.unwrap();
    assert!(matches!(out, Outcome::Deactivated { .. }), "{out:?}");
    let role = find_role(h, name).await;
    assert_eq!(role.state, RoleState::Eligible);
    role
}

/// Minutes from now to an active outcome's end.
fn minutes_left(h: &Harness, out: &Outcome) -> i64 {
    let Outcome::Active {
        until: Some(until), ..
    } = out
    else {
        panic!("not active: {out:?}")
    };
    (*until - h.session.now()).whole_minutes()
}

#[tokio::test]
async fn activate_again_repeats_the_justification_ticket_and_duration() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    // An Azure role whose policy asks for a justification and a ticket.
    let name = "Contributor";
    let role = find_role(&h, name).await;
    let asked = ActivationRequest {
        justification: Some("Rotate the storage keys".into()),
        ticket: Some(Ticket {
            number: "CHG-7".into(),
            system: "ServiceNow".into(),
        }),
        duration: Some(PimDuration::from_minutes(150)),
        start: None,
    };
    h.session.activate(&role, asked.clone()).await.unwrap();
    // Active: nothing to activate again, and nothing is sent.
    let active = find_role(&h, name).await;
    let sent = writes(&h);
    let err = h.session.activate_again(&active).await.unwrap_err();
    assert!(matches!(err, Error::InvalidState { .. }), "{err:?}");
    assert!(!again_needs_form(&err), "{err}");
    assert_eq!(writes(&h), sent);

    let role = deactivate_later(&h, name).await;
    let out = h.session.activate_again(&role).await.unwrap();
    let left = minutes_left(&h, &out);
    assert!((148..=150).contains(&left), "{left} min left");
    assert_eq!(find_role(&h, name).await.state, RoleState::Active);
    // The request the service now holds as the newest is the same as the first.
    let role = deactivate_later(&h, name).await;
    let again = h.session.again_request(&role).await.unwrap();
    assert_eq!(again, asked);
}

#[tokio::test]
async fn an_entra_role_is_activated_again_for_its_earlier_duration() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = find_role(&h, "Global Reader").await;
    let asked = ActivationRequest {
        justification: Some("Investigating sign-ins".into()),
        duration: Some(PimDuration::from_minutes(45)),
        ..Default::default()
    };
    h.session.activate(&role, asked.clone()).await.unwrap();
    let role = deactivate_later(&h, "Global Reader").await;
    assert_eq!(h.session.again_request(&role).await.unwrap(), asked);
    let out = h.session.activate_again(&role).await.unwrap();
    let left = minutes_left(&h, &out);
    assert!((43..=45).contains(&left), "{left} min left");
}

#[tokio::test]
async fn without_an_earlier_activation_nothing_is_sent() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    // The demo's Reader on rg-web was never requested.
    let role = find_role(&h, "Reader").await;
    let sent = writes(&h);
    let err = h.session.activate_again(&role).await.unwrap_err();
    let Error::InvalidState { message } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("no earlier activation request"),
        "{message}"
    );
    assert!(again_needs_form(&err));
    assert_eq!(writes(&h), sent);
}

/// The small scenario, where earlier requests no longer fit the policy: Directory Readers was
/// activated without a ticket and now needs one; Global Reader was activated for 10 hours and
/// now allows 8.
fn stricter_policies() -> Scenario {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../../pim-sim/scenarios/small.json")).unwrap();
    let t = &mut v["tenants"][0];
    t["policies"].as_array_mut().unwrap().push(json!({
        "kind": "entraRole", "role": "Directory Readers", "maxDuration": "PT8H",
        "justification": true, "ticketing": true
    }));
    t["history"] = json!([
        { "kind": "entraRole", "role": "Directory Readers", "scope": "/", "status": "Provisioned",
          "createdOffset": "-P2D", "duration": "PT1H", "justification": "Audit the guest list" },
        { "kind": "entraRole", "role": "Global Reader", "scope": "/", "status": "Provisioned",
          "createdOffset": "-P1D", "duration": "PT10H", "justification": "Long review" }
    ]);
    Scenario::from_json(&v.to_string()).unwrap()
}

#[tokio::test]
async fn a_policy_that_now_asks_for_more_is_checked_before_anything_is_sent() {
    let h = harness::start_with(SimOptions {
        scenario: stricter_policies(),
        ..SimOptions::default()
    })
    .await;
    h.session.refresh().await.unwrap();
    for (name, rule) in [
        ("Directory Readers", "TicketingRule"),
        ("Global Reader", "ExpirationRule"),
    ] {
        let role = find_role(&h, name).await;
        let earlier = h.session.again_request(&role).await.unwrap();
        assert!(earlier.justification.is_some(), "{name}: {earlier:?}");
        let sent = writes(&h);
        let err = h.session.activate_again(&role).await.unwrap_err();
        let Error::PolicyViolation { rules, .. } = &err else {
            panic!("{name}: {err:?}")
        };
        assert!(rules.contains(&rule.to_owned()), "{name}: {rules:?}");
        assert!(again_needs_form(&err));
        assert_eq!(writes(&h), sent, "{name}: something was sent");
        assert_eq!(find_role(&h, name).await.state, RoleState::Eligible);
    }
}

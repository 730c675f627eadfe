//! "Ready, not just active": the readiness probes against the simulator's propagation delays
//! (the demo scenario's: Entra roles 20 s, groups 10 s, Azure roles 40 s).

use std::time::Duration;

use base64::Engine as _;
use pim_core::token::{Resource, TokenRequest, TokenSource};
use pim_core::{
    ActivationRequest, Readiness, ReadyOptions, ReadyOutcome, Role, RoleQuery, RoleState,
};
use serde_json::json;

use crate::harness::{self, Harness};

/// The `wids` claim of an access token (its payload decoded, the signature not checked).
fn wids(token: &str) -> Vec<String> {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["wids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str().map(str::to_ascii_lowercase))
        .collect()
}

async fn role(h: &Harness, name: &str) -> Role {
    h.session
        .find(&RoleQuery::name(name), &|_| false)
        .await
        .unwrap()
}

/// Activates `name` (justification; a ticket for policies that need one) and returns the
/// role as the session now shows it (active).
async fn activated(h: &Harness, name: &str) -> Role {
    let r = role(h, name).await;
    let req = ActivationRequest {
        justification: Some("readiness".into()),
        ticket: Some(pim_core::Ticket {
            number: "CHG-1".into(),
            system: "Jira".into(),
        }),
        ..Default::default()
    };
    h.session.activate(&r, req).await.unwrap();
    h.session.refresh().await.unwrap();
    let r = role(h, name).await;
    assert_eq!(r.state, RoleState::Active, "{r:?}");
    r
}

#[tokio::test]
async fn each_kind_is_applying_until_the_delay_has_passed_then_ready() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let ctl = h.sim.control();
    for (name, delay) in [
        ("Global Reader", 20),
        ("SQL Prod Admins member", 10),
        ("Reader", 40),
    ] {
        let r = activated(&h, name).await;
        assert_eq!(
            h.session.probe_ready(&r).await.unwrap(),
            Readiness::Applying,
            "{name} right after activation"
        );
        ctl.advance(delay - 2);
        assert_eq!(
            h.session.probe_ready(&r).await.unwrap(),
            Readiness::Applying,
            "{name} before its delay"
        );
        ctl.advance(3);
        assert_eq!(
            h.session.probe_ready(&r).await.unwrap(),
            Readiness::Ready,
            "{name} after its delay"
        );
    }
}

#[tokio::test]
async fn once_an_entra_role_is_ready_the_cached_graph_token_carries_it() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let r = activated(&h, "Global Reader").await;
    // Global Reader's template id.
    let template = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    assert!(
        r.role_definition_id
            .to_ascii_lowercase()
            .ends_with(template),
        "{r:?}"
    );
    // What the session's next Graph call gets: the token source's cached token.
    let cached = || async {
        h.tokens
            .access_token(&TokenRequest {
                tenant_id: r.tenant_id.clone(),
                resource: Resource::Graph,
                scope: h.options.endpoints.graph_scope.clone(),
                claims: None,
                force_refresh: false,
            })
            .await
            .unwrap()
    };
    h.sim.control().advance(21);
    // Minted before the activation: the cached token does not carry the role yet.
    let old = cached().await;
    assert!(!wids(old.token.expose()).contains(&template.to_owned()));

    assert_eq!(h.session.probe_ready(&r).await.unwrap(), Readiness::Ready);
    let after = cached().await;
    assert_ne!(
        after.token.expose(),
        old.token.expose(),
        "the probe's fresh token replaced the cached one"
    );
    assert!(
        wids(after.token.expose()).contains(&template.to_owned()),
        "{:?}",
        wids(after.token.expose())
    );
}

#[tokio::test]
async fn roles_no_probe_can_see_and_roles_not_active_are_said_so() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    // Scoped to an administrative unit: `wids` lists tenant-wide roles only.
    let au = h
        .session
        .find(&RoleQuery::name("User Administrator"), &|r| {
            r.state == RoleState::Active
        })
        .await
        .unwrap();
    assert_eq!(au.state, RoleState::Active);
    assert_eq!(
        h.session.probe_ready(&au).await.unwrap(),
        Readiness::NoProbe
    );
    let eligible = role(&h, "Global Administrator").await;
    let err = h.session.probe_ready(&eligible).await.unwrap_err();
    assert!(err.to_string().contains("not active"), "{err}");
}

#[tokio::test]
async fn waiting_ends_when_ready_or_when_the_time_is_up() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let ctl = h.sim.control();
    ctl.set_propagation_delay(&json!({"entraRole": 1})).unwrap();
    let r = activated(&h, "Global Reader").await;
    let quick = ReadyOptions {
        first: Duration::from_millis(100),
        max: Duration::from_millis(300),
        timeout: Duration::from_secs(20),
    };
    let before = h.session.now();
    match h.session.wait_ready(&r, quick).await.unwrap() {
        ReadyOutcome::Ready { at } => assert!(at >= before, "{at} {before}"),
        other => panic!("{other:?}"),
    }

    ctl.set_propagation_delay(&json!({"group": 3600})).unwrap();
    let g = activated(&h, "SQL Prod Admins member").await;
    let out = h
        .session
        .wait_ready(
            &g,
            ReadyOptions {
                timeout: Duration::from_millis(500),
                ..quick
            },
        )
        .await
        .unwrap();
    assert_eq!(out, ReadyOutcome::TimedOut);
}

#[tokio::test]
async fn following_an_activation_publishes_applying_then_ready_with_a_change() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    h.sim
        .control()
        .set_propagation_delay(&json!({"group": 1}))
        .unwrap();
    let r = activated(&h, "SQL Prod Admins member").await;
    let key = r.key();
    let mut rx = h.session.subscribe();
    let session = h.session.clone();
    let followed = r.clone();
    let follow = tokio::spawn(async move {
        session
            .follow_ready(
                &followed,
                ReadyOptions {
                    first: Duration::from_millis(100),
                    max: Duration::from_millis(300),
                    timeout: Duration::from_secs(20),
                },
            )
            .await
    });
    // Applying first, published at once.
    let applying = loop {
        rx.changed().await.unwrap();
        let s = rx.borrow_and_update().clone();
        if let Some(st) = s.readiness.get(&key) {
            break st.clone();
        }
    };
    assert_eq!(applying.readiness, Readiness::Applying);
    assert_eq!(applying.ready_at, None);
    let out = follow.await.unwrap().unwrap();
    assert!(matches!(out, ReadyOutcome::Ready { .. }), "{out:?}");
    let s = h.session.snapshot();
    let st = &s.readiness[&key];
    assert_eq!(st.readiness, Readiness::Ready);
    assert!(st.ready_at.unwrap() >= st.since);
    assert!(
        s.changes
            .iter()
            .any(|c| c.kind == pim_core::ChangeKind::Ready && c.key == key),
        "{:?}",
        s.changes
    );
    // A refresh keeps it while the role is active; deactivating drops it.
    h.session.refresh().await.unwrap();
    assert!(h.session.snapshot().readiness.contains_key(&key));
    h.sim.control().advance(6 * 60);
    h.session.refresh().await.unwrap();
    let r = role(&h, "SQL Prod Admins member").await;
    h.session.deactivate(&r).await.unwrap();
    h.session.refresh().await.unwrap();
    assert!(!h.session.snapshot().readiness.contains_key(&key));
}

use pim_core::{ActivationRequest, Error, Outcome, PimDuration, RoleQuery, RoleState, Ticket};

use crate::harness;

fn just(reason: &str) -> ActivationRequest {
    ActivationRequest {
        justification: Some(reason.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn activate_then_deactivate_after_five_minutes() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    let out = h
        .session
        .activate(
            &role,
            ActivationRequest {
                duration: Some(PimDuration::from_minutes(90)),
                ..just("investigating")
            },
        )
        .await
        .unwrap();
    let Outcome::Active {
        until: Some(until), ..
    } = out
    else {
        panic!("{out:?}")
    };
    let left = until - h.session.now();
    assert!(
        left > time::Duration::minutes(85) && left <= time::Duration::minutes(91),
        "{left}"
    );
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    assert_eq!(role.state, RoleState::Active);
    let err = h.session.deactivate(&role).await.unwrap_err();
    assert!(matches!(err, Error::TooEarly { .. }), "{err:?}");
    h.sim.control().advance(6 * 60);
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    let out = h.session.deactivate(&role).await.unwrap();
    assert!(matches!(out, Outcome::Deactivated { .. }), "{out:?}");
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    assert_eq!(role.state, RoleState::Eligible);
}

#[tokio::test]
async fn policy_is_checked_before_anything_is_sent() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    h.sim.control().clear_requests();
    let err = h
        .session
        .activate(
            &role,
            ActivationRequest {
                duration: Some(PimDuration::from_hours(9)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    let Error::PolicyViolation { rules, message } = err else {
        panic!("{err:?}")
    };
    assert!(
        rules.contains(&"ExpirationRule".to_owned())
            && rules.contains(&"JustificationRule".to_owned())
    );
    assert!(message.contains("8h"), "{message}");
    let posts = h
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.resource != "authority")
        .count();
    assert_eq!(posts, 0);
}

#[tokio::test]
async fn approval_goes_pending_and_can_be_cancelled() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Administrator"), &|_| false)
        .await
        .unwrap();
    let out = h
        .session
        .activate(&role, just("break glass"))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::PendingApproval { .. }), "{out:?}");
    let role = h
        .session
        .find(&RoleQuery::name("Global Administrator"), &|_| false)
        .await
        .unwrap();
    assert_eq!(role.state, RoleState::Pending);
    let out = h.session.cancel(&role).await.unwrap();
    assert!(matches!(out, Outcome::Canceled { .. }));
    let role = h
        .session
        .find(&RoleQuery::name("Global Administrator"), &|_| false)
        .await
        .unwrap();
    assert_eq!(role.state, RoleState::Eligible);
}

#[tokio::test]
async fn azure_role_and_group_activation() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Contributor"), &|_| false)
        .await
        .unwrap();
    let policy = h.session.policy(&role).await;
    let mut req = just("deploy");
    if policy.known().is_some_and(|p| p.ticket_required) {
        req.ticket = Some(Ticket {
            number: "CHG-1".into(),
            system: "Jira".into(),
        });
    }
    let out = h.session.activate(&role, req.clone()).await.unwrap();
    assert!(
        matches!(
            out,
            Outcome::Active { .. } | Outcome::PendingApproval { .. }
        ),
        "{out:?}"
    );
    let role = h
        .session
        .find(&RoleQuery::name("SQL Prod Admins member"), &|_| false)
        .await
        .unwrap();
    let out = h.session.activate(&role, req).await;
    assert!(
        matches!(
            out,
            Ok(Outcome::Active { .. } | Outcome::PendingApproval { .. })
                | Err(Error::StepUpRequired { .. })
        ),
        "{out:?}"
    );
}

#[tokio::test]
async fn uncertain_graph_activation_is_reconciled() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    h.sim.control().add_fault(pim_sim::FaultSpec {
        method: Some("POST".into()),
        path: Some("roleAssignmentScheduleRequests".into()),
        times: 1,
        fault: pim_sim::Fault::After {
            then: Box::new(pim_sim::Fault::Reset),
        },
    });
    let out = h
        .session
        .activate(&role, just("flaky network"))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Active { .. }), "{out:?}");
    let posts = h
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST"
                && r.path.contains("roleAssignmentScheduleRequests")
                && !r.path.contains("cancel")
        })
        .count();
    assert_eq!(posts, 1, "the activation must not be sent twice");
}

#[tokio::test]
async fn step_up_required_for_mfa_role_without_hook() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Security Administrator"), &|_| false)
        .await
        .unwrap();
    let req = ActivationRequest {
        justification: Some("incident".into()),
        ticket: Some(Ticket {
            number: "INC-1".into(),
            system: "SN".into(),
        }),
        duration: Some(PimDuration::from_hours(1)),
        start: None,
    };
    let err = h.session.activate(&role, req).await.unwrap_err();
    assert!(matches!(err, Error::StepUpRequired { .. }), "{err:?}");
}

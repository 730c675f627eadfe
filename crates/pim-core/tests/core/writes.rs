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

#[tokio::test]
async fn server_clock_is_used_when_the_local_clock_is_off() {
    let h = harness::start().await;
    // The simulator's clock runs 3 hours ahead of ours.
    h.sim.control().advance(3 * 3600);
    h.session.refresh().await.unwrap();
    let skew = h.session.now() - time::OffsetDateTime::now_utc();
    assert!(skew > time::Duration::hours(2), "{skew}");
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    let out = h
        .session
        .activate(&role, just("skewed clock"))
        .await
        .unwrap();
    assert!(
        matches!(out, Outcome::Active { .. }),
        "must not become scheduled: {out:?}"
    );
}

#[tokio::test]
async fn expand_failure_falls_back_to_policy_rules() {
    let h = harness::start().await;
    h.sim
        .control()
        .configure(&serde_json::json!({"expandPolicyFails": true, "wrapErrors": true}))
        .unwrap();
    let snap = h.session.refresh().await.unwrap();
    let role = snap
        .roles()
        .find(|r| r.name == "Global Reader")
        .unwrap()
        .clone();
    let p = h.session.policy(&role).await;
    let p = p
        .known()
        .unwrap_or_else(|| panic!("policy should be read from the rules endpoint: {p:?}"));
    assert_eq!(p.max_duration, Some(PimDuration::from_hours(8)));
    let err = h
        .session
        .activate(&role, ActivationRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PolicyViolation { .. }), "{err:?}");
}

#[tokio::test]
async fn extend_reactivates_for_the_new_duration() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    h.session
        .activate(
            &role,
            ActivationRequest {
                duration: Some(PimDuration::from_minutes(30)),
                ..just("short")
            },
        )
        .await
        .unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    let early = h
        .session
        .extend(&role, ActivationRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(early, Error::TooEarly { .. }), "{early:?}");
    h.sim.control().advance(6 * 60);
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    // Justification comes from the previous activation request.
    let out = h
        .session
        .extend(
            &role,
            ActivationRequest {
                duration: Some(PimDuration::from_hours(2)),
                ..Default::default()
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
    assert!(until - h.session.now() > time::Duration::minutes(110));
}

#[tokio::test]
async fn uncertain_arm_put_is_checked_by_name() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Reader"), &|_| false)
        .await
        .unwrap();
    let policy = h.session.policy(&role).await;
    let mut req = just("read logs");
    if policy.known().is_some_and(|p| p.ticket_required) {
        req.ticket = Some(Ticket {
            number: "1".into(),
            system: "J".into(),
        });
    }
    h.sim.control().add_fault(pim_sim::FaultSpec {
        method: Some("PUT".into()),
        path: Some("roleAssignmentScheduleRequests".into()),
        times: 1,
        fault: pim_sim::Fault::After {
            then: Box::new(pim_sim::Fault::Reset),
        },
    });
    let out = h.session.activate(&role, req).await.unwrap();
    assert!(
        matches!(
            out,
            Outcome::Active { .. } | Outcome::PendingApproval { .. }
        ),
        "{out:?}"
    );
    let puts = h
        .sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 1, "the request exists; no second PUT");
}

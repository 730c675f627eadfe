use pim_core::{
    ActivationRequest, Error, Outcome, PimDuration, Role, RoleQuery, RoleState, Ticket,
};
use pim_sim::{Fault, FaultSpec, RecordedRequest};

use crate::harness::{self, Harness};

fn just(reason: &str) -> ActivationRequest {
    ActivationRequest {
        justification: Some(reason.into()),
        ..Default::default()
    }
}

/// `req` for `duration`.
fn lasting(duration: PimDuration, req: ActivationRequest) -> ActivationRequest {
    ActivationRequest {
        duration: Some(duration),
        ..req
    }
}

/// The role called `name`, as `pim` finds it (no preference among namesakes).
async fn find_role(h: &Harness, name: &str) -> Role {
    h.session
        .find(&RoleQuery::name(name), &|_| false)
        .await
        .unwrap()
}

/// `req` with the ticket `(number, system)` if `role`'s policy requires one.
async fn with_ticket_if_required(
    h: &Harness,
    role: &Role,
    mut req: ActivationRequest,
    (number, system): (&str, &str),
) -> ActivationRequest {
    let policy = h.session.policy(role).await;
    if policy.known().is_some_and(|p| p.ticket_required) {
        req.ticket = Some(Ticket {
            number: number.into(),
            system: system.into(),
        });
    }
    req
}

/// A fault that lets the first `method` to a schedule-request path reach the
/// simulator, then resets the connection before the answer (an uncertain write).
fn reset_after_first(method: &str) -> FaultSpec {
    FaultSpec {
        method: Some(method.into()),
        path: Some("roleAssignmentScheduleRequests".into()),
        times: 1,
        fault: Fault::After {
            then: Box::new(Fault::Reset),
        },
    }
}

/// A fresh simulator and session, refreshed once, and the role called `name` in it.
async fn start_at(name: &str) -> (Harness, Role) {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = find_role(&h, name).await;
    (h, role)
}

/// How many of the requests the simulator recorded `keep` accepts.
fn recorded(h: &Harness, keep: impl Fn(&RecordedRequest) -> bool) -> usize {
    h.sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| keep(r))
        .count()
}

#[tokio::test]
async fn activate_then_deactivate_after_five_minutes() {
    let (h, role) = start_at("Global Reader").await;
    let out = h
        .session
        .activate(
            &role,
            lasting(PimDuration::from_minutes(90), just("investigating")),
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
    let role = find_role(&h, "Global Reader").await;
    assert_eq!(role.state, RoleState::Active);
    let err = h.session.deactivate(&role).await.unwrap_err();
    assert!(matches!(err, Error::TooEarly { .. }), "{err:?}");
    h.sim.control().advance(6 * 60);
    h.session.refresh().await.unwrap();
    let role = find_role(&h, "Global Reader").await;
    let out = h.session.deactivate(&role).await.unwrap();
    assert!(matches!(out, Outcome::Deactivated { .. }), "{out:?}");
    let role = find_role(&h, "Global Reader").await;
    assert_eq!(role.state, RoleState::Eligible);
}

#[tokio::test]
async fn policy_is_checked_before_anything_is_sent() {
    let (h, role) = start_at("Global Reader").await;
    h.sim.control().clear_requests();
    let err = h
        .session
        .activate(
            &role,
            lasting(PimDuration::from_hours(9), ActivationRequest::default()),
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
    let posts = recorded(&h, |r| r.method != "GET" && r.resource != "authority");
    assert_eq!(posts, 0);
}

#[tokio::test]
async fn approval_goes_pending_and_can_be_cancelled() {
    let (h, role) = start_at("Global Administrator").await;
    let out = h
        .session
        .activate(&role, just("break glass"))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::PendingApproval { .. }), "{out:?}");
    let role = find_role(&h, "Global Administrator").await;
    assert_eq!(role.state, RoleState::Pending);
    let out = h.session.cancel(&role).await.unwrap();
    assert!(matches!(out, Outcome::Canceled { .. }));
    let role = find_role(&h, "Global Administrator").await;
    assert_eq!(role.state, RoleState::Eligible);
}

#[tokio::test]
async fn azure_role_and_group_activation() {
    let (h, role) = start_at("Contributor").await;
    let req = with_ticket_if_required(&h, &role, just("deploy"), ("CHG-1", "Jira")).await;
    let out = h.session.activate(&role, req.clone()).await.unwrap();
    assert!(
        matches!(
            out,
            Outcome::Active { .. } | Outcome::PendingApproval { .. }
        ),
        "{out:?}"
    );
    let role = find_role(&h, "SQL Prod Admins member").await;
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
    let (h, role) = start_at("Global Reader").await;
    h.sim.control().add_fault(reset_after_first("POST"));
    let out = h
        .session
        .activate(&role, just("flaky network"))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Active { .. }), "{out:?}");
    let posts = recorded(&h, |r| {
        r.method == "POST"
            && r.path.contains("roleAssignmentScheduleRequests")
            && !r.path.contains("cancel")
    });
    assert_eq!(posts, 1, "the activation must not be sent twice");
}

/// Schedule-request POSTs (cancels aside) the simulator received.
fn posts(h: &Harness) -> usize {
    recorded(h, |r| {
        r.method == "POST"
            && r.path.contains("roleAssignmentScheduleRequests")
            && !r.path.contains("cancel")
    })
}

#[tokio::test]
async fn uncertain_activation_with_a_lagging_request_list_is_not_sent_twice() {
    // Needs approval: the role does not turn active, only the request list can show it.
    let (h, role) = start_at("Global Administrator").await;
    h.sim
        .control()
        .configure(&serde_json::json!({"requestListLag": 2}))
        .unwrap();
    h.sim.control().add_fault(reset_after_first("POST"));
    let out = h
        .session
        .activate(&role, just("flaky network, slow list"))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::PendingApproval { .. }), "{out:?}");
    assert_eq!(posts(&h), 1, "the activation must not be sent twice");
    assert_eq!(h.sim.control().pending().len(), 1);
}

#[tokio::test]
async fn uncertain_activation_never_listed_is_reported_unknown_not_resent() {
    let h = harness::start().await;
    let mut opts = h.options.clone();
    opts.reconcile = std::time::Duration::from_millis(300);
    let session = pim_core::Session::new(opts);
    session.refresh().await.unwrap();
    let role = session
        .find(&RoleQuery::name("Global Administrator"), &|_| false)
        .await
        .unwrap();
    h.sim
        .control()
        .configure(&serde_json::json!({"requestListLag": 3600}))
        .unwrap();
    h.sim.control().add_fault(reset_after_first("POST"));
    let err = session
        .activate(&role, just("flaky network, stuck list"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Uncertain { .. }), "{err:?}");
    assert_eq!(posts(&h), 1, "the activation must not be sent twice");
}

#[tokio::test]
async fn activation_refused_with_503_is_checked_then_sent_again() {
    let (h, role) = start_at("Global Reader").await;
    h.sim.control().add_fault(FaultSpec {
        method: Some("POST".into()),
        path: Some("roleAssignmentScheduleRequests".into()),
        times: 1,
        fault: Fault::Status {
            status: 503,
            retry_after: None,
            code: None,
            message: None,
            wrapped: false,
        },
    });
    h.sim.control().clear_requests();
    let out = h.session.activate(&role, just("outage")).await.unwrap();
    assert!(matches!(out, Outcome::Active { .. }), "{out:?}");
    assert_eq!(posts(&h), 2);
    let log = h.sim.control().requests();
    let first = log.iter().position(|r| r.method == "POST").unwrap();
    let second = log.iter().rposition(|r| r.method == "POST").unwrap();
    assert!(
        log[first..second]
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("roleAssignmentScheduleRequests")),
        "re-sent without looking first"
    );
}

#[tokio::test]
async fn a_second_write_to_a_role_while_one_runs_is_refused() {
    let (h, role) = start_at("Global Reader").await;
    let mut first = Box::pin(h.session.activate(&role, just("first click")));
    assert!(futures::poll!(&mut first).is_pending());
    // A double click, from this session or a clone of it (the tray and its menu).
    let other = h.session.clone();
    for err in [
        other
            .activate(&role, just("second click"))
            .await
            .unwrap_err(),
        h.session.deactivate(&role).await.unwrap_err(),
        h.session.extend(&role, just("third")).await.unwrap_err(),
        h.session.cancel(&role).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, Error::InvalidState { message } if message.contains("already in progress")),
            "{err:?}"
        );
    }
    let out = first.await.unwrap();
    assert!(matches!(out, Outcome::Active { .. }), "{out:?}");
    assert_eq!(posts(&h), 1);
    // Once it ended, the role takes writes again (a dropped write ends too).
    let role = find_role(&h, "Global Reader").await;
    let mut dropped = Box::pin(h.session.extend(&role, just("dropped")));
    assert!(futures::poll!(&mut dropped).is_pending());
    drop(dropped);
    let err = h.session.activate(&role, just("again")).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidState { message } if message.contains("already active")),
        "{err:?}"
    );
}

#[tokio::test]
async fn step_up_required_for_mfa_role_without_hook() {
    let (h, role) = start_at("Security Administrator").await;
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
    let role = find_role(&h, "Global Reader").await;
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
    let (h, role) = start_at("Global Reader").await;
    h.session
        .activate(&role, lasting(PimDuration::from_minutes(30), just("short")))
        .await
        .unwrap();
    let role = find_role(&h, "Global Reader").await;
    let early = h
        .session
        .extend(&role, ActivationRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(early, Error::TooEarly { .. }), "{early:?}");
    h.sim.control().advance(6 * 60);
    h.session.refresh().await.unwrap();
    let role = find_role(&h, "Global Reader").await;
    // Justification comes from the previous activation request.
    let out = h
        .session
        .extend(
            &role,
            lasting(PimDuration::from_hours(2), ActivationRequest::default()),
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
    let (h, role) = start_at("Reader").await;
    let req = with_ticket_if_required(&h, &role, just("read logs"), ("1", "J")).await;
    h.sim.control().add_fault(reset_after_first("PUT"));
    let out = h.session.activate(&role, req).await.unwrap();
    assert!(
        matches!(
            out,
            Outcome::Active { .. } | Outcome::PendingApproval { .. }
        ),
        "{out:?}"
    );
    let puts = recorded(&h, |r| r.method == "PUT");
    assert_eq!(puts, 1, "the request exists; no second PUT");
}

#[tokio::test]
async fn the_session_keeps_itself_current_while_a_request_waits() {
    let (h, role) = start_at("Global Administrator").await;
    let out = h
        .session
        .activate(&role, just("break glass"))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::PendingApproval { .. }), "{out:?}");
    let mut changes = h.session.subscribe();
    changes.borrow_and_update();
    let session = h.session.clone();
    let schedule = tokio::spawn(async move {
        session
            .keep_current(pim_core::ScheduleOptions {
                pending_every: std::time::Duration::from_millis(200),
                max_sleep: std::time::Duration::from_secs(1),
            })
            .await;
    });
    // An approver decides elsewhere; nobody here refreshes.
    let pending = h.sim.control().pending();
    let ga = pending
        .iter()
        .find(|p| p.role_name == "Global Administrator")
        .expect("the pending request");
    h.sim.control().approve(&ga.id, Some("ok")).unwrap();
    let approved = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            changes.changed().await.expect("session alive");
            let s = changes.borrow_and_update().clone();
            if let Some(c) = s
                .changes
                .iter()
                .find(|c| c.kind == pim_core::ChangeKind::Approved)
            {
                return (c.clone(), s);
            }
        }
    })
    .await
    .expect("the schedule re-read the pending request");
    assert_eq!(approved.0.key, role.key());
    let now = approved
        .1
        .roles()
        .find(|r| r.key() == role.key() && r.state == RoleState::Active);
    assert!(now.is_some(), "the role is active after the approval");
    schedule.abort();
}

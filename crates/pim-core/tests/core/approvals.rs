//! The approver's inbox (`Session::approvals`, `Session::decide`) against the demo scenario's
//! incoming requests: Alex Wilber (Global Administrator, INC-2217), Lee Gu (Contributor on
//! Prod), Diego Siciliani (SQL Prod Admins member), Isaiah Langer (Owner on Prod/rg-data, two
//! stages, mine second) (crates/pim-sim/README.md, "Approver's inbox").

use pim_core::{ApprovalItem, Decision, Error, RoleKind, Warning};
use pim_sim::{Fault, FaultSpec, IncomingRequest};

use crate::harness;

#[track_caller]
fn by_requester<'a>(items: &'a [ApprovalItem], name: &str) -> &'a ApprovalItem {
    items
        .iter()
        .find(|i| i.requester.name == name)
        .unwrap_or_else(|| panic!("no request of {name} in {items:#?}"))
}

fn incoming(h: &harness::Harness, upn_prefix: &str) -> IncomingRequest {
    h.sim
        .control()
        .incoming()
        .into_iter()
        .find(|i| {
            i.requester
                .user_principal_name
                .as_deref()
                .is_some_and(|u| u.starts_with(upn_prefix))
        })
        .unwrap_or_else(|| panic!("incoming request of {upn_prefix}"))
}

/// PATCH requests the simulator saw (the decisions sent).
fn patches(h: &harness::Harness) -> usize {
    h.sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count()
}

#[tokio::test]
async fn the_demo_inbox_lists_the_three_kinds_with_requesters() {
    let h = harness::start().await;
    let inbox = h.session.approvals().await.unwrap();
    for t in &inbox.tenants {
        assert!(t.error.is_none() && t.warnings.is_empty(), "{t:#?}");
    }
    let items = &inbox.items;
    assert_eq!(items.len(), 4, "{items:#?}");
    assert!(
        items.windows(2).all(|w| w[0].created_at <= w[1].created_at),
        "oldest first"
    );

    let ga = by_requester(items, "Alex Wilber");
    assert_eq!(ga.kind, RoleKind::EntraRole);
    assert_eq!(ga.name, "Global Administrator");
    assert_eq!(
        ga.requester.upn.as_deref(),
        Some("alexw@contoso.onmicrosoft.com")
    );
    assert_eq!(ga.scope.display_name, "Directory");
    assert_eq!(
        ga.ticket.as_ref().map(|t| t.number.as_str()),
        Some("INC-2217")
    );
    assert_eq!(ga.duration.map(|d| d.to_iso8601()).as_deref(), Some("PT1H"));
    assert!(ga.justification.is_some() && ga.created_at.is_some());
    assert!(ga.actionable && ga.waiting_for.is_none());
    assert!(ga.id.starts_with("entra:"), "{}", ga.id);
    assert!(ga.stage.as_ref().is_some_and(|s| s.assigned_to_me));

    let lee = by_requester(items, "Lee Gu");
    assert_eq!(lee.kind, RoleKind::AzureResource);
    assert_eq!(
        (lee.name.as_str(), lee.scope.display_name.as_str()),
        ("Contributor", "Prod")
    );
    assert!(lee.actionable);
    assert!(lee.id.starts_with("azure:"));

    let sql = by_requester(items, "Diego Siciliani");
    assert_eq!(sql.kind, RoleKind::Group);
    assert_eq!(sql.label(), "SQL Prod Admins (member)");
    assert!(sql.actionable);
    assert!(sql.id.starts_with("group:"));

    // Two stages: Megan Bowen's (Security lead) first; mine has not started.
    let owner = by_requester(items, "Isaiah Langer");
    assert_eq!(owner.kind, RoleKind::AzureResource);
    assert_eq!(owner.name, "Owner");
    assert!(!owner.actionable);
    assert_eq!(owner.waiting_for.as_deref(), Some("Security lead"));
    let mine = owner.stage.as_ref().expect("my stage");
    assert_eq!(mine.status, "NotStarted");
    assert!(mine.assigned_to_me);
    // Deciding it is refused plainly, with nothing sent.
    let err = h
        .session
        .decide(owner, Decision::Approve, Some("ok".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidState { message } if message.contains("does not wait for you yet")),
        "{err:?}"
    );
    assert_eq!(patches(&h), 0);
}

#[tokio::test]
async fn approving_makes_the_requester_active() {
    let h = harness::start().await;
    let inbox = h.session.approvals().await.unwrap();
    for name in ["Alex Wilber", "Lee Gu", "Diego Siciliani"] {
        let item = by_requester(&inbox.items, name);
        h.session
            .decide(&item.id, Decision::Approve, Some("Looks right".into()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    assert_eq!(patches(&h), 3, "one PATCH per decision");
    for prefix in ["alexw@", "leeg@", "diegos@"] {
        let i = incoming(&h, prefix);
        assert_eq!(i.status, "Provisioned", "{i:#?}");
        assert!(i.assignment.is_some(), "{i:#?}");
        assert_eq!(i.stages[0].review_result, "Approve");
        assert_eq!(i.stages[0].justification.as_deref(), Some("Looks right"));
    }
    // Decided: no longer listed.
    let after = h.session.approvals().await.unwrap();
    assert_eq!(after.items.len(), 1, "{:#?}", after.items);
}

#[tokio::test]
async fn denying_records_denied_and_needs_a_reason() {
    let h = harness::start().await;
    let inbox = h.session.approvals().await.unwrap();
    let sql = by_requester(&inbox.items, "Diego Siciliani");
    for reason in [None, Some("  ".to_owned())] {
        let err = h
            .session
            .decide(sql, Decision::Deny, reason)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    }
    assert_eq!(patches(&h), 0, "nothing sent without a reason");
    h.session
        .decide(sql, Decision::Deny, Some("Not during the freeze".into()))
        .await
        .unwrap();
    let i = incoming(&h, "diegos@");
    assert_eq!(i.status, "Denied");
    assert_eq!(i.stages[0].review_result, "Deny");
    assert!(i.assignment.is_none());
}

#[tokio::test]
async fn a_request_decided_elsewhere_says_so_plainly() {
    let h = harness::start().await;
    let inbox = h.session.approvals().await.unwrap();
    let ga = by_requester(&inbox.items, "Alex Wilber").clone();
    let lee = by_requester(&inbox.items, "Lee Gu").clone();
    // Another approver decides both after the list was read.
    for prefix in ["alexw@", "leeg@"] {
        let i = incoming(&h, prefix);
        h.sim.control().approve(&i.id, None).unwrap();
    }
    for item in [&ga, &lee] {
        let err = h
            .session
            .decide(item, Decision::Approve, Some("ok".into()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidState { message } if message.contains("already decided by someone else")),
            "{}: {err:?}",
            item.requester.name
        );
    }
    assert_eq!(patches(&h), 0, "re-read first: nothing sent");
}

#[tokio::test]
async fn a_409_from_the_service_is_the_same_plain_error() {
    let h = harness::start().await;
    let inbox = h.session.approvals().await.unwrap();
    let sql = by_requester(&inbox.items, "Diego Siciliani");
    h.sim.control().add_fault(FaultSpec {
        method: Some("PATCH".into()),
        path: Some("assignmentApprovals".into()),
        times: 1,
        fault: Fault::Status {
            status: 409,
            retry_after: None,
            code: Some("ApprovalStepAlreadyCompleted".into()),
            message: None,
            wrapped: false,
        },
    });
    let err = h
        .session
        .decide(sql, Decision::Approve, Some("ok".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidState { message } if message.contains("already decided by someone else")),
        "{err:?}"
    );
    assert_eq!(patches(&h), 1, "sent once, never again");
}

#[tokio::test]
async fn an_approver_justification_required_by_the_service_is_a_policy_error() {
    let h = harness::start().await;
    let inbox = h.session.approvals().await.unwrap();
    let ga = by_requester(&inbox.items, "Alex Wilber");
    let err = h
        .session
        .decide(ga, Decision::Approve, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PolicyViolation { rules, .. } if rules == &["ApproverJustificationRule"]),
        "{err:?}"
    );
    assert_eq!(incoming(&h, "alexw@").status, "PendingApproval");
    h.sim
        .control()
        .configure(&serde_json::json!({"approverJustification": "denyOnly"}))
        .unwrap();
    h.session.decide(ga, Decision::Approve, None).await.unwrap();
    assert_eq!(incoming(&h, "alexw@").status, "Provisioned");
}

#[tokio::test]
async fn a_tenant_whose_approver_list_fails_is_a_warning() {
    let h = harness::start().await;
    h.sim.control().add_fault(FaultSpec {
        method: Some("GET".into()),
        path: Some("filterByCurrentUser(on='approver')".into()),
        times: 50,
        fault: Fault::Status {
            status: 403,
            retry_after: None,
            code: Some("PermissionScopeNotGranted".into()),
            message: None,
            wrapped: false,
        },
    });
    let inbox = h.session.approvals().await.unwrap();
    let contoso = inbox
        .tenants
        .iter()
        .find(|t| t.tenant.display_name == "Contoso")
        .unwrap();
    assert!(contoso.error.is_none());
    assert!(
        contoso
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::GraphUnreadable { .. })),
        "{contoso:#?}"
    );
    // The Azure requests are still listed.
    let kinds: Vec<RoleKind> = inbox.items.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [RoleKind::AzureResource, RoleKind::AzureResource]);
}

#[tokio::test]
async fn an_unknown_id_is_a_usage_error() {
    let h = harness::start().await;
    for bad in ["", "x", "entra:t", "nope:t:a", "entra::a", "entra:t:a:b:c"] {
        let err = h
            .session
            .decide(bad, Decision::Approve, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{bad}: {err:?}");
    }
}

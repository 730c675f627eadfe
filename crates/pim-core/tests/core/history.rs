//! My history (`Session::history`) against the demo scenario's past requests: Contoso's
//! Entra roles, SQL Prod Admins and Contributor on Staging; Fabrikam's Teams Administrator
//! and Key Vault Reader (crates/pim-sim/README.md, "My history").

use pim_core::{
    Action, ActivationRequest, HistoryEntry, PimDuration, RequestStatus, RoleKind, RoleQuery,
    Warning,
};
use pim_sim::{Fault, FaultSpec};
use time::Duration;

use crate::harness;

const FABRIKAM: &str = "f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47";

/// The entry whose justification is `j` (the demo's justifications are all different).
#[track_caller]
fn by_justification<'a>(entries: &'a [HistoryEntry], j: &str) -> &'a HistoryEntry {
    entries
        .iter()
        .find(|e| e.justification.as_deref() == Some(j))
        .unwrap_or_else(|| panic!("no request `{j}` in {entries:#?}"))
}

fn status(s: &str) -> Option<RequestStatus> {
    Some(RequestStatus::parse(s))
}

fn forbidden() -> Fault {
    Fault::Status {
        status: 403,
        retry_after: None,
        code: Some("Authorization_RequestDenied".into()),
        message: None,
        wrapped: false,
    }
}

#[tokio::test]
async fn my_history_lists_the_three_kinds_in_both_tenants_newest_first() {
    let h = harness::start().await;
    let now = h.session.now();
    let hist = h.session.history(now - Duration::days(30)).await.unwrap();
    assert_eq!(hist.tenants.len(), 2);
    for t in &hist.tenants {
        assert!(t.error.is_none() && t.warnings.is_empty(), "{t:#?}");
    }
    let e = &hist.entries;
    // The demo's 20 past requests (and the requests behind its current activations).
    assert!(e.len() >= 20, "{e:#?}");
    assert!(
        e.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    assert!(e.iter().all(|x| x.created_at <= now));
    let kinds = |tenant: &str| {
        let mut k: Vec<RoleKind> = e
            .iter()
            .filter(|x| x.tenant_name == tenant)
            .map(|x| x.kind)
            .collect();
        k.sort();
        k.dedup();
        k
    };
    assert_eq!(
        kinds("Contoso"),
        [
            RoleKind::EntraRole,
            RoleKind::Group,
            RoleKind::AzureResource
        ]
    );
    assert_eq!(
        kinds("Fabrikam"),
        [RoleKind::EntraRole, RoleKind::AzureResource]
    );

    // Entra: named by the payload, with its ticket; the deactivation asked for no time.
    let sa = by_justification(e, "Investigate risky sign-in alert for a finance user");
    assert_eq!(
        (sa.name.as_str(), sa.scope.display_name.as_str()),
        ("Security Administrator", "Directory")
    );
    assert_eq!(
        (sa.action.clone(), sa.status.clone()),
        (Some(Action::SelfActivate), status("Provisioned"))
    );
    assert_eq!(sa.duration, Some(PimDuration::from_hours(2)));
    let t = sa.ticket.as_ref().unwrap();
    assert_eq!(
        (t.number.as_str(), t.system.as_str()),
        ("INC0045120", "ServiceNow")
    );
    let off = by_justification(e, "Alert closed");
    assert_eq!(
        (off.action.clone(), off.status.clone()),
        (Some(Action::SelfDeactivate), status("Revoked"))
    );
    assert_eq!(
        (off.name.as_str(), off.duration),
        ("Security Administrator", None)
    );
    assert!(off.created_at > sa.created_at);
    let ga = by_justification(e, "Enable the new tenant-wide sharing setting");
    assert_eq!(
        (ga.name.as_str(), ga.status.clone()),
        ("Global Administrator", status("Denied"))
    );
    let ex = by_justification(e, "Mailbox migration window (scheduled)");
    assert_eq!(
        (ex.name.as_str(), ex.status.clone()),
        ("Exchange Administrator", status("Canceled"))
    );
    assert!(ex.start.unwrap() > ex.created_at, "a scheduled start");

    // Groups: the group's name and the access.
    let owner = by_justification(e, "Add the new DBA to the group");
    assert_eq!(owner.kind, RoleKind::Group);
    assert_eq!(owner.label(), "SQL Prod Admins (owner)");
    assert_eq!(owner.scope.display_name, "SQL Prod Admins");
    assert_eq!(owner.status, status("Denied"));
    let member = by_justification(e, "Index maintenance on the orders database");
    assert_eq!(member.label(), "SQL Prod Admins (member)");
    assert_eq!(member.duration, Some(PimDuration::from_hours(4)));

    // Azure: a subscription the user has no role at any more, named all the same.
    let staging = by_justification(e, "Scale down the staging AKS cluster");
    assert_eq!(staging.kind, RoleKind::AzureResource);
    assert_eq!(
        (staging.name.as_str(), staging.scope.display_name.as_str()),
        ("Contributor", "Staging")
    );
    assert_eq!(staging.status, status("Denied"));
    assert_eq!(staging.ticket.as_ref().unwrap().number, "CHG0032010");
    assert_eq!(staging.tenant_name, "Contoso");

    // The guest tenant.
    let teams = by_justification(e, "Set up the joint project team with Contoso");
    assert_eq!(
        (teams.name.as_str(), teams.tenant_id.as_str()),
        ("Teams Administrator", FABRIKAM)
    );
    let kv = by_justification(e, "Audit of secret expiry dates (scheduled)");
    assert_eq!(
        (
            kv.name.as_str(),
            kv.scope.display_name.as_str(),
            kv.tenant_name.as_str()
        ),
        ("Key Vault Reader", "Fabrikam Dev", "Fabrikam")
    );
    assert_eq!(kv.status, status("Canceled"));

    // One Graph `$batch` and one ARM list per tenant: no per-item reads.
    let reqs = h.sim.control().requests();
    let count = |m: &str, p: &str| {
        reqs.iter()
            .filter(|r| r.method == m && r.path.contains(p))
            .count()
    };
    assert_eq!(count("POST", "/$batch"), 2, "{reqs:#?}");
    assert_eq!(
        count("GET", "roleAssignmentScheduleRequests"),
        2,
        "{reqs:#?}"
    );

    // After a refresh (the tray's case) the history says the same.
    h.session.refresh().await.unwrap();
    let again = h.session.history(now - Duration::days(30)).await.unwrap();
    assert_eq!(again.entries, hist.entries);
}

#[tokio::test]
async fn since_leaves_out_older_requests() {
    let h = harness::start().await;
    let now = h.session.now();
    let since = now - Duration::days(7);
    let hist = h.session.history(since).await.unwrap();
    assert_eq!(hist.since, since);
    assert!(hist.entries.iter().all(|e| e.created_at >= since));
    by_justification(&hist.entries, "Prepare the licence usage report"); // 2 days ago
    by_justification(&hist.entries, "Audit of secret expiry dates (scheduled)"); // 4 days ago
    for older in [
        "Quarterly access review of sign-in logs", // 20 days ago
        "Add the new DBA to the group",            // 8 days ago
    ] {
        assert!(
            hist.entries
                .iter()
                .all(|e| e.justification.as_deref() != Some(older)),
            "{older}"
        );
    }
    let none = h.session.history(now + Duration::minutes(1)).await.unwrap();
    assert!(none.entries.is_empty(), "{:#?}", none.entries);
}

#[tokio::test]
async fn a_list_that_fails_is_a_warning_and_the_others_still_list() {
    let h = harness::start().await;
    // The first group request list asked for (inside a tenant's `$batch`) is refused.
    h.sim.control().add_fault(FaultSpec {
        method: Some("GET".into()),
        path: Some("group/assignmentScheduleRequests/filterByCurrentUser".into()),
        times: 1,
        fault: forbidden(),
    });
    let hist = h
        .session
        .history(h.session.now() - Duration::days(30))
        .await
        .unwrap();
    let warned: Vec<_> = hist
        .tenants
        .iter()
        .filter(|t| !t.warnings.is_empty())
        .collect();
    assert_eq!(warned.len(), 1, "{:#?}", hist.tenants);
    let t = warned[0];
    assert!(t.error.is_none());
    assert!(
        matches!(&t.warnings[..], [Warning::Unreadable { what, .. }] if what == "Group requests"),
        "{:#?}",
        t.warnings
    );
    let e = &hist.entries;
    assert!(
        !e.iter()
            .any(|x| x.kind == RoleKind::Group && x.tenant_id == t.tenant.id),
        "the failed list's requests are missing"
    );
    // Everything else is listed, in both tenants.
    by_justification(e, "Deploy release 2.14 to staging");
    by_justification(e, "Rotate the federation signing certificate");
    by_justification(e, "Set up the joint project team with Contoso");
    by_justification(e, "Check certificates expiring this quarter");
}

#[tokio::test]
async fn a_tenant_that_cannot_be_read_is_reported_and_the_others_still_list() {
    let h = harness::start().await;
    // No token for Fabrikam: none of its lists can be read.
    h.sim.control().add_fault(FaultSpec {
        method: Some("POST".into()),
        path: Some(format!("/{FABRIKAM}/oauth2/v2.0/token")),
        times: 50,
        fault: Fault::Status {
            status: 400,
            retry_after: None,
            code: Some("invalid_grant".into()),
            message: None,
            wrapped: false,
        },
    });
    let hist = h
        .session
        .history(h.session.now() - Duration::days(30))
        .await
        .unwrap();
    let fab = hist
        .tenants
        .iter()
        .find(|t| t.tenant.id == FABRIKAM)
        .unwrap();
    assert!(fab.error.is_some(), "{fab:#?}");
    assert!(hist.entries.iter().all(|e| e.tenant_id != FABRIKAM));
    let contoso = hist.tenants.iter().find(|t| t.tenant.is_home).unwrap();
    assert!(
        contoso.error.is_none() && contoso.warnings.is_empty(),
        "{contoso:#?}"
    );
    by_justification(&hist.entries, "Deploy release 2.14 to staging");
    by_justification(&hist.entries, "Add the new DBA to the group");

    // With Fabrikam alone there is nothing to show: the error itself.
    let tenants = h.session.tenants().await.unwrap();
    let only: Vec<_> = tenants.into_iter().filter(|t| t.id == FABRIKAM).collect();
    let err = h
        .session
        .history_of(&only, h.session.now() - Duration::days(30))
        .await
        .unwrap_err();
    assert!(err.needs_user(), "{err:?}");
}

#[tokio::test]
async fn azure_requests_are_listed_per_scope_when_the_provider_level_is_refused() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let reader = h
        .session
        .find(
            &RoleQuery {
                scope: Some("rg-web".into()),
                ..RoleQuery::name("Reader")
            },
            &|_| false,
        )
        .await
        .unwrap();
    h.session
        .activate(
            &reader,
            ActivationRequest {
                justification: Some("Check the web tier's logs".into()),
                duration: Some(PimDuration::from_hours(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Contoso alone, so the one refusal hits its provider-level list.
    let contoso: Vec<_> = h
        .session
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.is_home)
        .collect();
    h.sim.control().add_fault(FaultSpec {
        method: Some("GET".into()),
        path: Some("/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?".into()),
        times: 1,
        fault: Fault::Status {
            status: 400,
            retry_after: None,
            code: Some("BadRequest".into()),
            message: None,
            wrapped: false,
        },
    });
    h.sim.control().clear_requests();
    let hist = h
        .session
        .history_of(&contoso, h.session.now() - Duration::days(30))
        .await
        .unwrap();
    assert!(hist.tenants[0].warnings.is_empty(), "{:#?}", hist.tenants);
    let mine = by_justification(&hist.entries, "Check the web tier's logs");
    assert_eq!(
        (mine.name.as_str(), mine.scope.display_name.as_str()),
        ("Reader", "rg-web")
    );
    assert_eq!(mine.action, Some(Action::SelfActivate));
    let reqs = h.sim.control().requests();
    assert!(
        reqs.iter().any(|r| r.path.starts_with("/subscriptions/")
            && r.path.contains("roleAssignmentScheduleRequests")),
        "listed per scope: {reqs:#?}"
    );
    // Entra roles and groups are not affected.
    by_justification(&hist.entries, "Add the new DBA to the group");
}

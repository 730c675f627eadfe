use pim_core::{PolicyInfo, RoleKind, RoleQuery, RoleState};
use pim_sim::{Fault, FaultSpec};

use crate::harness;

#[tokio::test]
async fn refresh_lists_all_kinds_in_both_tenants() {
    let h = harness::start().await;
    let snap = h.session.refresh().await.unwrap();
    assert!(
        snap.tenants.len() >= 2,
        "{:?}",
        snap.tenants
            .iter()
            .map(|t| &t.tenant.display_name)
            .collect::<Vec<_>>()
    );
    assert!(snap.tenants[0].tenant.is_home);
    assert_eq!(snap.tenants[0].tenant.id, h.home);
    for t in &snap.tenants {
        assert!(t.error.is_none(), "{:?}", t.error);
    }
    let names: Vec<String> = snap.roles().map(|r| r.describe()).collect();
    let find = |n: &str| {
        snap.roles()
            .find(|r| r.name == n)
            .unwrap_or_else(|| panic!("{n} missing from {names:#?}"))
    };
    let gr = find("Global Reader");
    assert_eq!(gr.kind, RoleKind::EntraRole);
    assert_eq!(gr.state, RoleState::Eligible);
    match &gr.policy {
        PolicyInfo::Known(p) => {
            assert_eq!(p.max_duration.unwrap().as_secs(), 8 * 3600);
            assert!(p.justification_required);
        }
        other => panic!("Global Reader policy: {other:?}"),
    }
    let dr = find("Directory Readers");
    assert_eq!(dr.state, RoleState::Active);
    assert!(dr.ends_at().is_none(), "permanent assignment has no end");
    let ua = snap
        .roles()
        .find(|r| r.name == "User Administrator" && r.scope.display_name == "Europe")
        .unwrap();
    assert_eq!(ua.state, RoleState::Active);
    assert!(ua.ends_at().is_some());
    let groups: Vec<_> = snap.roles().filter(|r| r.kind == RoleKind::Group).collect();
    assert!(groups.len() >= 2, "{names:#?}");
    assert!(
        groups.iter().all(|g| g.name == "SQL Prod Admins"),
        "{names:#?}"
    );
    let contributor = find("Contributor");
    assert_eq!(contributor.kind, RoleKind::AzureResource);
    assert_eq!(contributor.scope.display_name, "Prod");
    assert_eq!(find("Reader").scope.display_name, "rg-web");
    let teams = find("Teams Administrator");
    assert_eq!(teams.tenant_name, "Fabrikam");
    // One Graph batch per tenant (plus maybe a group-name batch), no per-role Graph GETs.
    let reqs = h.sim.control().requests();
    let graph_gets = reqs
        .iter()
        .filter(|r| {
            r.resource == "graph" && r.method == "GET" && r.path.contains("roleEligibility")
        })
        .count();
    assert_eq!(
        graph_gets, 0,
        "eligibility should come in the batch: {reqs:#?}"
    );
}

#[tokio::test]
async fn lookup_by_name_scope_and_tenant() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let r = h
        .session
        .find(&RoleQuery::name("global reader"), &|_| false)
        .await
        .unwrap();
    assert_eq!(r.name, "Global Reader");
    let r = h
        .session
        .find(
            &RoleQuery {
                tenant: Some("fabrikam.onmicrosoft.com".into()),
                ..RoleQuery::name("teams")
            },
            &|_| false,
        )
        .await
        .unwrap();
    assert_eq!(r.tenant_name, "Fabrikam");
    let err = h
        .session
        .find(&RoleQuery::name("SQL Prod Admins"), &|_| false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SQL Prod Admins (owner)"), "{err}");
}

#[tokio::test]
async fn throttled_batch_items_are_retried_and_policies_degrade() {
    let h = harness::start().await;
    let c = h.sim.control();
    c.add_fault(FaultSpec {
        method: Some("POST".into()),
        path: Some("$batch".into()),
        times: 1,
        fault: Fault::Status {
            status: 429,
            retry_after: Some("0.5".into()),
            code: None,
            message: None,
            wrapped: false,
        },
    });
    c.configure(&serde_json::json!({"policyReadForbidden": true, "armPolicyReadForbidden": true}))
        .unwrap();
    let snap = h.session.refresh().await.unwrap();
    assert!(snap.roles().any(|r| r.name == "Global Reader"));
    let gr = snap
        .roles()
        .find(|r| r.name == "Global Reader")
        .unwrap()
        .clone();
    assert!(
        matches!(gr.policy, PolicyInfo::Unknown { .. }),
        "{:?}",
        gr.policy
    );
    let contributor = snap
        .roles()
        .find(|r| r.name == "Contributor")
        .unwrap()
        .clone();
    assert!(matches!(
        h.session.policy(&contributor).await,
        PolicyInfo::Unknown { .. }
    ));
}

#[tokio::test]
async fn paging_is_followed() {
    let h = harness::start_with(pim_sim::SimOptions {
        page_size: Some(1),
        ..Default::default()
    })
    .await;
    let snap = h.session.refresh().await.unwrap();
    let n = snap.roles().filter(|r| r.tenant_name == "Contoso").count();
    assert!(
        n >= 9,
        "expected all Contoso rows with page size 1, got {n}"
    );
}

fn fault(method: &str, path: &str, fault: Fault) -> FaultSpec {
    FaultSpec {
        method: Some(method.into()),
        path: Some(path.into()),
        times: 1,
        fault,
    }
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_503_is_retried() {
    let h = harness::start().await;
    let c = h.sim.control();
    c.add_fault(fault(
        "GET",
        "roleEligibilityScheduleInstances",
        Fault::Status {
            status: 401,
            retry_after: None,
            code: Some("InvalidAuthenticationToken".into()),
            message: None,
            wrapped: false,
        },
    ));
    c.add_fault(fault(
        "GET",
        "roleAssignmentScheduleInstances",
        Fault::Status {
            status: 503,
            retry_after: None,
            code: Some("ServiceUnavailable".into()),
            message: None,
            wrapped: false,
        },
    ));
    let snap = h.session.refresh().await.unwrap();
    assert!(snap.roles().any(|r| r.name == "Contributor"));
    assert!(
        snap.tenants.iter().all(|t| t.warnings.is_empty()),
        "{:?}",
        snap.tenants.iter().map(|t| &t.warnings).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn cae_claims_challenge_becomes_step_up_with_decoded_claims() {
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    let role = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1726077595"}}}"#;
    h.sim.control().add_fault(fault(
        "POST",
        "roleAssignmentScheduleRequests",
        Fault::ClaimsChallenge {
            claims: claims.into(),
        },
    ));
    let err = h
        .session
        .activate(
            &role,
            pim_core::ActivationRequest {
                justification: Some("x".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match err {
        pim_core::Error::StepUpRequired {
            claims: c,
            resource,
        } => {
            assert_eq!(resource, pim_core::token::Resource::Graph);
            assert_eq!(c, claims);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_failing_tenant_does_not_fail_the_list() {
    let h = harness::start().await;
    let tenants = h.session.tenants().await.unwrap();
    let guest = tenants.iter().find(|t| !t.is_home).unwrap().id.clone();
    // Every Graph and ARM call of the guest tenant fails: its token requests are refused.
    h.sim.control().add_fault(FaultSpec {
        method: Some("POST".into()),
        path: Some(format!("{guest}/oauth2/v2.0/token")),
        times: 10,
        fault: Fault::Status {
            status: 400,
            retry_after: None,
            code: Some("invalid_grant".into()),
            message: None,
            wrapped: false,
        },
    });
    let snap = h.session.refresh().await.unwrap();
    let g = snap.tenants.iter().find(|t| t.tenant.id == guest).unwrap();
    assert!(g.error.is_some(), "guest tenant should carry an error");
    assert!(
        snap.roles().any(|r| r.name == "Global Reader"),
        "home tenant still listed"
    );
}

#[tokio::test]
async fn a_throttled_batch_item_is_retried_alone() {
    let h = harness::start().await;
    h.session.tenants().await.unwrap();
    let c = h.sim.control();
    c.clear_requests();
    c.add_fault(fault(
        "GET",
        "directory/roleEligibilityScheduleInstances",
        Fault::Status {
            status: 429,
            retry_after: Some("0.5".into()),
            code: Some("TooManyRequests".into()),
            message: None,
            wrapped: false,
        },
    ));
    let snap = h.session.refresh().await.unwrap();
    assert!(snap.roles().any(|r| r.name == "Global Reader"));
    let batches: Vec<Option<usize>> = c
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("$batch"))
        .map(|r| r.batch_items)
        .collect();
    assert!(
        batches.contains(&Some(1)),
        "only the throttled item is sent again: {batches:?}"
    );
}

/// A known tenant list (e.g. the CLI's cache) is read at once while `GET /tenants` is
/// re-read in parallel; an unchanged list is not reported as changed.
#[tokio::test]
async fn known_tenants_are_read_while_the_list_is_rechecked() {
    let h = harness::start().await;
    let first = h.session.refresh().await.unwrap();
    let tenants: Vec<_> = first.tenants.iter().map(|t| t.tenant.clone()).collect();
    assert_eq!(
        h.session.tenants_changed(),
        Some(tenants.clone()),
        "no known list: the discovered one is new"
    );
    let c = h.sim.control();
    c.clear_requests();
    let mut opts = h.options.clone();
    opts.known_tenants = Some(tenants.clone());
    let s = pim_core::Session::new(opts);
    let snap = s.refresh().await.unwrap();
    assert_eq!(
        snap.tenants.iter().map(|t| &t.tenant).collect::<Vec<_>>(),
        tenants.iter().collect::<Vec<_>>()
    );
    assert_eq!(snap.roles().count(), first.roles().count());
    assert_eq!(s.tenants_changed(), None);
    let tenant_reads = c.requests().iter().filter(|r| r.path == "/tenants").count();
    assert_eq!(tenant_reads, 1, "the list is still checked once");
    // Later refreshes use the settled list.
    s.refresh().await.unwrap();
    assert_eq!(
        c.requests().iter().filter(|r| r.path == "/tenants").count(),
        1
    );
}

/// A stale known list: a tenant that is gone is dropped, a new one is loaded, names are
/// corrected, and the corrected list is published for the cache.
#[tokio::test]
async fn stale_known_tenants_are_corrected() {
    let h = harness::start().await;
    let live = h.session.tenants().await.unwrap();
    let guest = live.iter().find(|t| !t.is_home).unwrap().clone();
    let mut home = live[0].clone();
    home.display_name = "Old name".into();
    let gone = pim_core::Tenant::from_id("00000000-0000-0000-0000-00000000dead", false);
    let mut opts = h.options.clone();
    opts.known_tenants = Some(vec![home, gone.clone()]);
    let s = pim_core::Session::new(opts);
    let snap = s.refresh().await.unwrap();
    let ids: Vec<&str> = snap.tenants.iter().map(|t| t.tenant.id.as_str()).collect();
    assert_eq!(ids, live.iter().map(|t| t.id.as_str()).collect::<Vec<_>>());
    assert!(!ids.contains(&gone.id.as_str()));
    assert_eq!(snap.tenants[0].tenant, live[0]);
    assert!(
        snap.roles()
            .filter(|r| r.tenant_id == h.home)
            .all(|r| r.tenant_name == live[0].display_name)
    );
    assert!(
        snap.roles()
            .any(|r| r.tenant_id == guest.id && r.name == "Teams Administrator"),
        "the new tenant is loaded"
    );
    assert!(snap.tenants.iter().all(|t| t.error.is_none()));
    assert_eq!(s.tenants_changed(), Some(live));
}

/// When `GET /tenants` fails, the known list is kept (and not reported as changed).
#[tokio::test]
async fn known_tenants_survive_a_failing_tenant_list() {
    let h = harness::start().await;
    let live = h.session.tenants().await.unwrap();
    h.sim.control().add_fault(FaultSpec {
        method: Some("GET".into()),
        path: Some("/tenants".into()),
        times: 10,
        fault: Fault::Status {
            status: 500,
            retry_after: None,
            code: None,
            message: None,
            wrapped: false,
        },
    });
    let mut opts = h.options.clone();
    opts.known_tenants = Some(live.clone());
    let s = pim_core::Session::new(opts);
    let snap = s.refresh().await.unwrap();
    assert_eq!(snap.tenants.len(), live.len());
    assert_eq!(s.tenants_changed(), None);
    assert_eq!(s.tenants().await.unwrap(), live);
}

/// The cold path with known tenants sends only: `GET /tenants`, one Graph `$batch` per
/// tenant and the three ARM lists per tenant (no policy reads, no name look-ups).
#[tokio::test]
async fn cold_refresh_with_known_tenants_sends_only_the_hot_path() {
    let h = harness::start().await;
    let tenants = h.session.tenants().await.unwrap();
    let c = h.sim.control();
    c.clear_requests();
    let mut opts = h.options.clone();
    opts.known_tenants = Some(tenants.clone());
    let s = pim_core::Session::new(opts);
    s.refresh().await.unwrap();
    let reqs: Vec<String> = c
        .requests()
        .into_iter()
        .filter(|r| r.resource == "graph" || r.resource == "arm")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let n = tenants.len();
    let count = |p: &str| reqs.iter().filter(|r| r.as_str() == p).count();
    assert_eq!(count("GET /tenants"), 1, "{reqs:#?}");
    assert_eq!(count("POST /v1.0/$batch"), n, "{reqs:#?}");
    for list in [
        "roleEligibilityScheduleInstances",
        "roleAssignmentScheduleInstances",
        "roleAssignmentScheduleRequests",
    ] {
        assert_eq!(
            count(&format!("GET /providers/Microsoft.Authorization/{list}")),
            n,
            "{reqs:#?}"
        );
    }
    assert_eq!(reqs.len(), 1 + n + 3 * n, "nothing else: {reqs:#?}");
}

/// Hidden tenants are listed but not read: no `$batch` and no ARM reads for them, they are
/// named in `Snapshot::hidden`, and showing one again makes the next refresh read it.
#[tokio::test]
async fn hidden_tenants_are_not_read_until_shown_again() {
    let h = harness::start().await;
    let live = h.session.tenants().await.unwrap();
    let guest = live.iter().find(|t| !t.is_home).unwrap().clone();
    let c = h.sim.control();
    let batches = |c: &pim_sim::SimControl| {
        c.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1.0/$batch")
            .count()
    };
    let arm_lists = |c: &pim_sim::SimControl| {
        c.requests()
            .iter()
            .filter(|r| r.resource == "arm" && r.path.contains("roleEligibilityScheduleInstances"))
            .count()
    };

    // From the options, with the id in another case and the cold path (known tenants).
    let mut opts = h.options.clone();
    opts.known_tenants = Some(live.clone());
    opts.hidden_tenants = vec![format!(" {} ", guest.id.to_ascii_uppercase())];
    let s = pim_core::Session::new(opts);
    c.clear_requests();
    let snap = s.refresh().await.unwrap();
    assert_eq!(
        snap.tenants
            .iter()
            .map(|t| t.tenant.id.as_str())
            .collect::<Vec<_>>(),
        vec![h.home.as_str()]
    );
    assert_eq!(snap.hidden, vec![guest.clone()]);
    assert!(snap.roles().all(|r| r.tenant_id == h.home));
    assert_eq!(batches(&c), 1, "one batch: the home tenant's");
    assert_eq!(arm_lists(&c), 1);
    assert_eq!(
        s.tenants().await.unwrap(),
        live,
        "the list still has every tenant"
    );
    assert_eq!(s.hidden_tenants(), vec![guest.id.to_ascii_lowercase()]);

    // Shown again: the next refresh reads it.
    s.set_hidden_tenants(Vec::new());
    c.clear_requests();
    let snap = s.refresh().await.unwrap();
    assert_eq!(snap.tenants.len(), live.len());
    assert!(snap.hidden.is_empty());
    assert!(
        snap.roles()
            .any(|r| r.tenant_id == guest.id && r.name == "Teams Administrator")
    );
    assert_eq!(batches(&c), live.len());

    // Hidden while running: the published snapshot drops it at once, without a request.
    let mut rx = s.subscribe();
    rx.borrow_and_update();
    c.clear_requests();
    s.set_hidden_tenants(vec![guest.id.clone()]);
    assert!(rx.has_changed().unwrap());
    let now = s.snapshot();
    assert_eq!(now.tenants.len(), live.len() - 1);
    assert_eq!(now.hidden, vec![guest.clone()]);
    assert!(
        c.requests()
            .iter()
            .all(|r| r.resource != "graph" && r.resource != "arm")
    );
    // The warm path (settled list) skips it too.
    let snap = s.refresh().await.unwrap();
    assert_eq!(snap.tenants.len(), live.len() - 1);
    assert_eq!(batches(&c), 1);

    // Hiding every tenant gives an empty snapshot, not an error.
    s.set_hidden_tenants(live.iter().map(|t| t.id.clone()).collect());
    let snap = s.refresh().await.unwrap();
    assert!(snap.tenants.is_empty());
    assert_eq!(snap.hidden, live);
}

#[tokio::test]
async fn a_refresh_that_finds_nothing_new_wakes_nobody() {
    let h = harness::start().await;
    let mut changes = h.session.subscribe();
    h.session.refresh().await.unwrap();
    assert!(changes.has_changed().unwrap(), "the first snapshot is news");
    changes.borrow_and_update();
    // Policies read lazily settle in the first refreshes; then nothing changes.
    h.session.refresh().await.unwrap();
    changes.borrow_and_update();
    let before = h.session.snapshot();
    h.session.refresh().await.unwrap();
    assert!(
        !changes.has_changed().unwrap(),
        "an unchanged snapshot woke the subscribers"
    );
    // It is still the latest one (taken later).
    assert!(h.session.snapshot().taken_at >= before.taken_at);
    // The service's clock moving (past the skew threshold) is news: times are shown by it.
    h.sim.control().advance(6 * 60);
    h.session.refresh().await.unwrap();
    assert!(
        changes.has_changed().unwrap(),
        "a new server clock offset woke nobody"
    );
    changes.borrow_and_update();
    // A real change does wake them.
    let gr = h
        .session
        .find(&RoleQuery::name("Global Reader"), &|_| false)
        .await
        .unwrap();
    h.session
        .activate(
            &gr,
            pim_core::ActivationRequest {
                justification: Some("audit".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(changes.has_changed().unwrap(), "the activation is news");
}

#[tokio::test]
async fn tokens_expired_by_the_service_clock_are_renewed_for_batch_items() {
    // The service's clock moves past the access tokens' lifetime (a laptop waking up): the
    // `$batch` answers 200 with every item 401 (the contract: each item has its own status).
    // The token is renewed once and the items sent again, so nothing drops out.
    let h = harness::start().await;
    h.session.refresh().await.unwrap();
    h.sim.control().advance(3 * 3600);
    let snap = h.session.refresh().await.unwrap();
    assert!(
        snap.tenants.iter().all(|t| t.warnings.is_empty()),
        "{:?}",
        snap.tenants.iter().map(|t| &t.warnings).collect::<Vec<_>>()
    );
    assert!(snap.roles().any(|r| r.name == "Global Reader"));
}

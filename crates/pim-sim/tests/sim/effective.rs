//! "Ready, not just active": an activation takes effect a propagation delay after it
//! starts, visible in the `wids` claim, `/me/memberOf` (and `ownedObjects`) and ARM's
//! `permissions`.

use serde_json::{Value, json};

use crate::harness::*;
use crate::schema::*;

const MEMBER_OF: &str = "/v1.0/me/memberOf";
const PERMS: &str = "/providers/Microsoft.Authorization/permissions?api-version=2022-04-01";
const RG_WEB: &str = "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f/resourceGroups/rg-web";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

/// The `wids` claim of an access token (empty when absent).
fn wids(token: &str) -> Vec<String> {
    claims_of(token)["wids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Graph and ARM tokens minted now.
async fn tokens(sim: &Sim) -> (String, String) {
    (sim.graph_token().await, sim.arm_token().await)
}

/// The `id`s listed by a Graph collection.
fn ids(r: &Resp) -> Vec<String> {
    r.values()
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect()
}

fn group_activation(access: &str) -> Value {
    json!({
        "accessId": access, "principalId": ADELE, "groupId": SQL_GROUP, "action": "selfActivate",
        "justification": "ready test",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}}
    })
}

/// Each entry of a `permissions` answer has the four documented arrays of strings, and
/// nothing else.
fn assert_permission_shape(body: &Value) {
    let items = body["value"].as_array().expect("value");
    for p in items {
        let o = p.as_object().expect("object");
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["actions", "dataActions", "notActions", "notDataActions"],
            "{p}"
        );
        for v in o.values() {
            assert!(
                v.as_array().expect("array").iter().all(Value::is_string),
                "{p}"
            );
        }
    }
}

#[tokio::test]
async fn wids_list_tenant_wide_roles_once_in_effect() {
    let sim = start("demo").await;
    let d = sim.control_get("/_sim/propagation").await;
    assert_eq!(d.status, 200);
    assert_eq!(
        d.body,
        json!({"entraRole": 20, "group": 10, "azureRole": 40}),
        "the demo's delays"
    );
    let (g, a) = tokens(&sim).await;
    // Permanent and time-bound assignments count at once; the active User Administrator
    // activation is scoped to an administrative unit, so it is not in wids.
    for t in [&g, &a] {
        assert_eq!(wids(t), [DIRECTORY_READERS, REPORTS_READER], "{t}");
    }
    let r = sim
        .activate(&g, GLOBAL_READER, "/", "PT1H", Some("ready test"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (g, a) = tokens(&sim).await;
    assert!(
        !wids(&g).contains(&GLOBAL_READER.to_owned()),
        "active, not yet effective"
    );
    assert!(!wids(&a).contains(&GLOBAL_READER.to_owned()));
    let state = sim.control_get("/_sim/state").await;
    let gr = state.body["tenants"][0]["active"]
        .as_array()
        .expect("active")
        .iter()
        .find(|x| x["roleName"] == "Global Reader")
        .cloned()
        .expect("listed");
    assert_eq!(gr["active"], true);
    assert_eq!(gr["effective"], false);
    sim.ctl().advance(19);
    assert!(!wids(&sim.graph_token().await).contains(&GLOBAL_READER.to_owned()));
    sim.ctl().advance(2);
    let signin = sim.sign_in("organizations", GRAPH_DEFAULT, None).await;
    let g = signin["access_token"].as_str().expect("at").to_owned();
    assert_eq!(
        wids(&g),
        [DIRECTORY_READERS, REPORTS_READER, GLOBAL_READER],
        "after the delay"
    );
    assert!(wids(&sim.arm_token().await).contains(&GLOBAL_READER.to_owned()));
    // a refreshed token is minted now too
    let rt = signin["refresh_token"].as_str().expect("rt");
    let refreshed = sim.refresh(CONTOSO, rt, GRAPH_DEFAULT).await;
    assert_eq!(refreshed.status, 200);
    let rg = refreshed.body["access_token"].as_str().expect("at");
    assert!(wids(rg).contains(&GLOBAL_READER.to_owned()));
    // a token keeps what it was minted with; deactivation takes effect at once
    sim.ctl().advance(300);
    let mut off = activate_body(GLOBAL_READER, "/", "PT1H", None);
    off["action"] = json!("selfDeactivate");
    let r = sim.post(ROLE_REQUESTS, &g, &off).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(wids(&g).contains(&GLOBAL_READER.to_owned()));
    assert!(!wids(&sim.graph_token().await).contains(&GLOBAL_READER.to_owned()));
    // the guest tenant has no tenant-wide role of the user: no wids claim at all
    let fab = sim.refresh(FABRIKAM, rt, GRAPH_DEFAULT).await;
    let ft = fab.body["access_token"].as_str().expect("at");
    assert!(claims_of(ft).get("wids").is_none(), "{}", claims_of(ft));
}

#[tokio::test]
async fn delays_default_to_zero_and_follow_the_control_api() {
    let sim = start("small").await;
    assert_eq!(
        sim.ctl().propagation_delay(),
        pim_sim::PropagationDelay::default(),
        "a scenario without delays"
    );
    let g = sim.graph_token().await;
    let oid = claims_of(&g)["oid"].as_str().expect("oid").to_owned();
    let mut body = activate_body(GLOBAL_READER, "/", "PT1H", None);
    body["principalId"] = json!(oid);
    let r = sim.post(ROLE_REQUESTS, &g, &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(wids(&sim.graph_token().await), [GLOBAL_READER], "at once");
    // a longer delay applies to activations already started
    let r = sim
        .control_post("/_sim/propagation", &json!({"entraRole": 120}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"entraRole": 120, "group": 0, "azureRole": 0})
    );
    assert!(wids(&sim.graph_token().await).is_empty());
    sim.ctl().advance(121);
    assert_eq!(wids(&sim.graph_token().await), [GLOBAL_READER]);
    // the patch merges per kind; bad patches change nothing
    let d = sim
        .ctl()
        .set_propagation_delay(&json!({"group": 5}))
        .expect("patch");
    assert_eq!((d.entra_role, d.group, d.azure_role), (120, 5, 0));
    for bad in [
        json!({"groups": 1}),
        json!({"group": -1}),
        json!({"azureRole": "40"}),
        json!("fast"),
    ] {
        let r = sim.control_post("/_sim/propagation", &bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert_eq!(sim.ctl().propagation_delay(), d);
    assert_eq!(
        sim.control_get("/_sim/state").await.body["propagationDelay"],
        json!({"entraRole": 120, "group": 5, "azureRole": 0})
    );
}

#[tokio::test]
async fn member_of_lists_groups_and_roles_in_effect() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let r = sim.get(MEMBER_OF, &t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_graph_collection("directoryObject", &r.body);
    assert!(
        r.body["@odata.context"]
            .as_str()
            .is_some_and(|c| c.ends_with("$metadata#directoryObjects")),
        "{}",
        r.body
    );
    // the tenant-wide directory roles, as directoryRole objects
    let roles: Vec<Value> = r.values();
    assert_eq!(roles.len(), 2, "{}", r.body);
    for v in &roles {
        assert_eq!(v["@odata.type"], "#microsoft.graph.directoryRole");
        assert_ne!(v["id"], v["roleTemplateId"], "object id, not the template");
    }
    assert_eq!(roles[0]["roleTemplateId"], DIRECTORY_READERS);
    assert_eq!(roles[0]["displayName"], "Directory Readers");
    let groups = format!("{MEMBER_OF}/microsoft.graph.group");
    assert!(sim.get(&groups, &t).await.values().is_empty());

    let act = sim
        .post(GROUP_REQUESTS, &t, &group_activation("member"))
        .await;
    assert_eq!(act.status, 201, "{}", act.body);
    assert!(
        ids(&sim.get(&groups, &t).await).is_empty(),
        "not yet effective"
    );
    sim.ctl().advance(9);
    assert!(ids(&sim.get(&groups, &t).await).is_empty());
    sim.ctl().advance(2);
    for path in [
        groups.clone(),
        "/v1.0/me/transitiveMemberOf/microsoft.graph.group".to_owned(),
    ] {
        let r = sim.get(&path, &t).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(
            r.body["@odata.context"]
                .as_str()
                .is_some_and(|c| c.ends_with("$metadata#groups")),
            "{}",
            r.body
        );
        assert_graph_collection("directoryObject", &r.body);
        let v = &r.values()[0];
        assert_eq!(v["@odata.type"], "#microsoft.graph.group");
        assert_eq!(v["id"], SQL_GROUP);
        assert_eq!(v["displayName"], "SQL Prod Admins");
    }
    let all = sim.get(MEMBER_OF, &t).await;
    assert_eq!(all.values().len(), 3);
    assert_graph_collection("directoryObject", &all.body);
    // $select keeps the type annotation
    let sel = sim
        .get(&format!("{MEMBER_OF}?$select=id,displayName"), &t)
        .await;
    let first = sel.values()[0].clone();
    let mut keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["@odata.type", "displayName", "id"]);
    let roles_only = sim
        .get(&format!("{MEMBER_OF}/microsoft.graph.directoryRole"), &t)
        .await;
    assert_eq!(roles_only.values().len(), 2);
    // membership is not ownership
    let owned = sim.get("/v1.0/me/ownedObjects", &t).await;
    assert_eq!(owned.status, 200, "{}", owned.body);
    assert!(owned.values().is_empty());
    // pages like every Graph collection
    sim.ctl()
        .configure(&json!({"pageSize": 2}))
        .expect("config");
    let p1 = sim.get(MEMBER_OF, &t).await;
    assert_eq!(p1.values().len(), 2);
    let next = p1.body["@odata.nextLink"].as_str().expect("nextLink");
    let p2 = sim.get_abs(next, &t).await;
    assert_eq!(p2.values().len(), 1);
    assert!(p2.body.get("@odata.nextLink").is_none());
    // through $batch too
    let b = sim
        .post(
            "/v1.0/$batch",
            &t,
            &json!({"requests": [{"id": "1", "method": "GET", "url": "/me/memberOf/microsoft.graph.group?$select=id"}]}),
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(b.body["responses"][0]["status"], 200);
    assert_eq!(b.body["responses"][0]["body"]["value"][0]["id"], SQL_GROUP);
}

#[tokio::test]
async fn owned_objects_list_owner_access_in_effect() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let own = sim
        .post(GROUP_REQUESTS, &t, &group_activation("owner"))
        .await;
    assert_eq!(own.status, 201, "{}", own.body);
    assert_eq!(own.body["status"], "PendingApproval");
    sim.ctl().advance(60);
    assert!(
        sim.get("/v1.0/me/ownedObjects", &t)
            .await
            .values()
            .is_empty(),
        "pending"
    );
    sim.ctl().approve(&own.id(), None).expect("approve");
    sim.ctl().advance(9);
    assert!(
        sim.get("/v1.0/me/ownedObjects", &t)
            .await
            .values()
            .is_empty()
    );
    sim.ctl().advance(2);
    let owned = sim
        .get("/v1.0/me/ownedObjects/microsoft.graph.group", &t)
        .await;
    assert_eq!(ids(&owned), [SQL_GROUP]);
    assert_graph_collection("directoryObject", &owned.body);
    assert!(
        sim.get(&format!("{MEMBER_OF}/microsoft.graph.group"), &t)
            .await
            .values()
            .is_empty(),
        "an owner is not a member"
    );
}

#[tokio::test]
async fn member_of_checks_its_caller() {
    let sim = start("demo").await;
    let t = sim.graph_token().await;
    let bad_cast = sim
        .get(&format!("{MEMBER_OF}/microsoft.graph.user"), &t)
        .await;
    assert_eq!(bad_cast.status, 400, "{}", bad_cast.body);
    assert_eq!(
        sim.post(MEMBER_OF, &t, &json!({})).await.status,
        405,
        "read-only"
    );
    let none = sim.http.get(sim.url(MEMBER_OF)).send().await.expect("get");
    assert_eq!(none.status().as_u16(), 401);
    let arm = sim.arm_token().await;
    let r = sim.get(MEMBER_OF, &arm).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    // without User.Read (or a directory scope) the directory says no
    let narrow = sim
        .access_token(
            "https://graph.microsoft.com/RoleEligibilitySchedule.Read.Directory",
            None,
        )
        .await;
    let r = sim.get(MEMBER_OF, &narrow).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "Authorization_RequestDenied");
    // faults apply as anywhere
    let f = sim
        .control_post(
            "/_sim/faults",
            &json!({"path": "/me/memberOf", "fault": {"kind": "status", "status": 429, "retryAfter": "2"}}),
        )
        .await;
    assert_eq!(f.status, 200);
    let r = sim.get(MEMBER_OF, &t).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after").as_deref(), Some("2"));
    assert_eq!(sim.get(MEMBER_OF, &t).await.status, 200);
}

#[tokio::test]
async fn arm_permissions_follow_effective_assignments() {
    let sim = start("demo").await;
    let a = sim.arm_token().await;
    let at = |scope: &str| format!("{scope}{PERMS}");
    let r = sim.get(&at(PROD_SUB), &a).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"value": []}), "no Azure role is active yet");
    let put = sim
        .arm_put_new(
            &a,
            &arm_activate(PROD_SUB, CONTRIBUTOR, "PT1H", Some("ready"), Some("CHG-7")),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.body);
    assert!(sim.get(&at(PROD_SUB), &a).await.values().is_empty());
    sim.ctl().advance(39);
    assert!(sim.get(&at(PROD_SUB), &a).await.values().is_empty());
    sim.ctl().advance(2);
    let r = sim.get(&at(PROD_SUB), &a).await;
    assert_permission_shape(&r.body);
    let v = r.values();
    assert_eq!(v.len(), 1, "{}", r.body);
    assert_eq!(v[0]["actions"], json!(["*"]));
    let not: Vec<&str> = v[0]["notActions"]
        .as_array()
        .expect("notActions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(not.contains(&"Microsoft.Authorization/*/Write"), "{not:?}");
    // inherited below the subscription, not above it
    let site = format!("{RG_WEB}/providers/Microsoft.Web/sites/shop");
    for scope in [RG_WEB, site.as_str()] {
        let r = sim.get(&at(scope), &a).await;
        assert_eq!(r.status, 200, "{scope}: {}", r.body);
        assert_eq!(r.values().len(), 1, "{scope}");
    }
    // a second role at the resource group adds an entry there only
    let reader = arm_activate(RG_WEB, READER, "PT1H", Some("logs"), None);
    let name = uuid::Uuid::new_v4().to_string();
    let put = sim.put(&arm_request_path(RG_WEB, &name), &a, &reader).await;
    assert_eq!(put.status, 201, "{}", put.body);
    sim.ctl().advance(41);
    let r = sim.get(&at(RG_WEB), &a).await;
    assert_permission_shape(&r.body);
    let actions: Vec<Value> = r.values().iter().map(|p| p["actions"].clone()).collect();
    assert_eq!(actions, [json!(["*"]), json!(["*/read"])]);
    assert_eq!(sim.get(&at(PROD_SUB), &a).await.values().len(), 1);
    // pages with nextLink
    sim.ctl()
        .configure(&json!({"pageSize": 1}))
        .expect("config");
    let p1 = sim.get(&at(RG_WEB), &a).await;
    assert_eq!(p1.values().len(), 1);
    let next = p1.body["nextLink"].as_str().expect("nextLink");
    assert!(next.contains("api-version=2022-04-01"), "{next}");
    let p2 = sim.get_abs(next, &a).await;
    assert_eq!(p2.values()[0]["actions"], json!(["*/read"]));
    assert!(p2.body.get("nextLink").is_none());
}

#[tokio::test]
async fn arm_permissions_check_version_scope_and_token() {
    let sim = start("demo").await;
    let a = sim.arm_token().await;
    let p = "/providers/Microsoft.Authorization/permissions";
    let r = sim
        .get(&format!("{PROD_SUB}{p}?api-version=2020-10-01"), &a)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "InvalidApiVersionParameter");
    assert!(r.message().contains("2022-04-01"), "{}", r.message());
    let r = sim.get(&format!("{PROD_SUB}{p}"), &a).await;
    assert_eq!(r.code(), "MissingApiVersionParameter");
    for v in ["2015-07-01", "2018-01-01-preview", "2022-04-01"] {
        let r = sim.get(&format!("{RG_WEB}{p}?api-version={v}"), &a).await;
        assert_eq!(r.status, 200, "{v}: {}", r.body);
    }
    let r = sim
        .get(
            &format!("{PROD_SUB}/resourceGroups/rg-nope{p}?api-version=2022-04-01"),
            &a,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "ResourceGroupNotFound");
    let r = sim.get(&format!("{p}?api-version=2022-04-01"), &a).await;
    assert_eq!(r.status, 404, "a scope is needed: {}", r.body);
    let r = sim
        .put(
            &format!("{PROD_SUB}{p}?api-version=2022-04-01"),
            &a,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 405);
    let none = sim
        .http
        .get(sim.url(&format!("{PROD_SUB}{p}?api-version=2022-04-01")))
        .send()
        .await
        .expect("get");
    assert_eq!(none.status().as_u16(), 401);
    let g = sim.graph_token().await;
    let r = sim
        .get(&format!("{PROD_SUB}{p}?api-version=2022-04-01"), &g)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    // a Fabrikam subscription needs a Fabrikam token
    let r = sim
        .get(
            &format!(
                "/subscriptions/7e3c9a15-2b84-4d6f-a0c1-98e5f4b2d3a6{p}?api-version=2022-04-01"
            ),
            &a,
        )
        .await;
    assert_eq!(r.code(), "InvalidAuthenticationTokenTenant");
    let f = sim
        .control_post(
            "/_sim/faults",
            &json!({"path": "Microsoft.Authorization/permissions", "fault": {"kind": "status", "status": 503, "retryAfter": "1"}}),
        )
        .await;
    assert_eq!(f.status, 200);
    let r = sim
        .get(&format!("{PROD_SUB}{p}?api-version=2022-04-01"), &a)
        .await;
    assert_eq!(r.status, 503);
    assert!(r.body["error"]["code"].is_string());
}

//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; never in a build).
//!
//! Thin wrappers that run the crate's parsers on untrusted bytes the way the clients and the
//! session do: the same wire types, the same conversions into the model. Each function only
//! has to return without panicking; some also check a round trip and panic when it breaks, so
//! that the fuzzer reports it.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use time::OffsetDateTime;

use crate::clock::{ManualClock, ServerTime, parse_http_date};
use crate::duration::format_time_left;
use crate::graph::{item_body, item_status, lower_keys};
use crate::http::{
    ApiError, claims_from_message, insufficient_claims, parse_retry_after, parse_rules,
};
use crate::model::{ActivationRequest, Role, RoleKind, Ticket};
use crate::session::rows::{
    add_arm_requests, add_graph_instances, add_graph_requests, arm_rows, arm_schedule_request,
    entra_policies, entra_row, finish_rows, graph_schedule_request, group_row,
};
use crate::session::{jwt_claim, policy_claims};
use crate::token::Resource;
use crate::wire::{
    ArmInstanceProps, ArmPolicyAssignmentProps, ArmRequestProps, ArmResource, ArmTenant,
    GraphGroupInstance, GraphMe, GraphPolicyAssignment, GraphRequest, GraphRoleInstance, Page,
    format_datetime, last_segment, parse_datetime, parse_items,
};
use crate::{PimDuration, Policy};

/// A fixed "now" (2026-11-26 04:06:30 UTC), so runs are reproducible.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_665_990).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An error body from Graph or ARM with `status`: the envelope, its rules and claims, and the
/// typed error both clients make of it.
pub fn http_error(status: u16, body: &[u8]) {
    let api = ApiError::parse(status, body, Some("fuzz".into()));
    let _ = api.rules();
    let _ = api.acrs_claims();
    let _ = parse_rules(&api.message);
    let _ = claims_from_message(&api.message);
    for resource in [Resource::Graph, Resource::Arm] {
        let e = api.clone().into_error(resource);
        let _ = (e.code(), e.to_string());
    }
}

/// A `WWW-Authenticate` header value (a CAE claims challenge or anything else).
pub fn claims_challenge(value: &[u8]) {
    let Ok(v) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut h = HeaderMap::new();
    h.append("www-authenticate", v);
    if let Some(claims) = insufficient_claims(&h) {
        let _ = serde_json::from_str::<Value>(&claims);
    }
}

/// A `Retry-After` or `Date` header value.
pub fn retry_after_and_date(s: &str) {
    let _ = parse_retry_after(s);
    let _ = parse_http_date(s);
    let st = ServerTime::new(Arc::new(ManualClock::new(now())));
    st.observe_header(s);
    let _ = st.server_now();
    let _ = st.offset();
}

/// An RFC 3339 date-time from the wire. Panics if a parsed time does not survive
/// [`format_datetime`] and a second parse (to the millisecond).
pub fn datetime(s: &str) {
    let Some(t) = parse_datetime(s) else { return };
    let _ = t.checked_add(time::Duration::days(1));
    if t.year() < 0 {
        return; // RFC 3339 has no negative years; written only for completeness
    }
    let text = format_datetime(t);
    let again = parse_datetime(&text).unwrap_or_else(|| {
        panic!("{s:?} parsed as {t}, written as {text:?}, which does not parse")
    });
    let ms = t
        .replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t);
    assert_eq!(again, ms, "{s:?} → {text:?} does not round-trip");
}

/// A duration as typed by a person or sent by a service. Panics if a parsed duration does
/// not survive its ISO 8601 form.
pub fn duration(s: &str) {
    let Ok(d) = PimDuration::parse(s) else { return };
    let _ = d.to_human();
    let _ = d.to_string();
    let _ = format_time_left(d.to_time());
    let _ = now().checked_add(d.to_time());
    let iso = d.to_iso8601();
    let again = PimDuration::parse(&iso)
        .unwrap_or_else(|e| panic!("{s:?} parsed as {d:?}, written as {iso:?}: {e}"));
    assert_eq!(again, d, "{s:?} → {iso:?} does not round-trip");
}

/// A policy's rules (a JSON array, or an object with `rules`/`effectiveRules`): the policy,
/// its summary and claims, and a validation of a few requests against it.
pub fn policy(bytes: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let rules = match &v {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m
            .get("rules")
            .or_else(|| m.get("effectiveRules"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => return,
    };
    let p = Policy::from_rules(&rules);
    check_policy(&p);
}

fn check_policy(p: &Policy) {
    let _ = p.summary();
    let _ = policy_claims(p);
    let _ = crate::model::default_duration(Some(p));
    let requests = [
        ActivationRequest::default(),
        ActivationRequest {
            justification: Some("fuzz".into()),
            ticket: Some(Ticket {
                number: "1".into(),
                system: "s".into(),
            }),
            duration: Some(PimDuration::MAX),
            start: Some(now()),
        },
        ActivationRequest {
            duration: p.max_duration,
            ..ActivationRequest::default()
        },
    ];
    for r in &requests {
        let _ = crate::policy::validate("role", Some(p), r);
    }
}

/// A page of a Graph or ARM collection (`value` + next link), read as every kind of item
/// the session reads and turned into the model's roles and requests.
pub fn page(bytes: &[u8]) {
    let Ok(page) = serde_json::from_slice::<Page>(bytes) else {
        // A single object (`/me`, one request, one ARM resource) is read too.
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            single(v);
        }
        return;
    };
    let _ = page.next();
    items_into_model(page.value);
}

fn single(v: Value) {
    let _ = serde_json::from_value::<GraphMe>(v.clone());
    if let Ok(q) = serde_json::from_value::<GraphRequest>(v.clone()) {
        let _ = graph_schedule_request(&q);
    }
    if let Ok(q) = serde_json::from_value::<ArmResource<ArmRequestProps>>(v) {
        let _ = arm_schedule_request(&q);
    }
}

/// What `Session::load_graph` and `load_arm` do with the items of their lists, with the
/// same functions (`session::rows`): rows from eligible and active instances, merged, with
/// open requests attached; each item read as every kind.
fn items_into_model(items: Vec<Value>) {
    let now = now();
    let tid = "fuzz-tenant";
    let mut rows: Vec<Role> = Vec::new();
    let entra: Vec<GraphRoleInstance> = parse_items("fuzz", items.clone());
    add_graph_instances(&mut rows, &entra, &entra, now, |i| {
        let rid = i.role_definition_id.as_deref()?;
        Some(entra_row(tid, i, rid))
    });
    let groups: Vec<GraphGroupInstance> = parse_items("fuzz", items.clone());
    let names = HashMap::new();
    add_graph_instances(&mut rows, &groups, &groups, now, |i| {
        group_row(tid, i, &names)
    });
    let arm: Vec<ArmResource<ArmInstanceProps>> = parse_items("fuzz", items.clone());
    let (arm, _scopes) = arm_rows(tid, &arm, &arm, now);
    rows.extend(arm);
    let requests: Vec<GraphRequest> = parse_items("fuzz", items.clone());
    add_graph_requests(&mut rows, RoleKind::EntraRole, tid, &requests, now);
    add_graph_requests(&mut rows, RoleKind::Group, tid, &requests, now);
    let requests: Vec<ArmResource<ArmRequestProps>> = parse_items("fuzz", items.clone());
    add_arm_requests(&mut rows, tid, &requests, now);
    let _ = entra_policies(items.clone(), true);
    for pa in parse_items::<GraphPolicyAssignment>("fuzz", items.clone()) {
        if let Some(rules) = pa.policy.and_then(|p| p.rules) {
            check_policy(&Policy::from_rules(&rules));
        }
    }
    for pa in parse_items::<ArmResource<ArmPolicyAssignmentProps>>("fuzz", items.clone()) {
        if let Some(p) = pa.properties {
            let _ = p.role_definition_id.as_deref().map(last_segment);
            check_policy(&Policy::from_rules(&p.effective_rules));
        }
    }
    for t in parse_items::<ArmTenant>("fuzz", items) {
        let _ = (t.tenant_id, t.display_name, t.default_domain, t.domains);
    }
    finish_rows(&mut rows, "Fuzz", &HashMap::new(), now);
    for r in &rows {
        let _ = (r.key(), r.label(), r.describe(), r.starts_at(), r.ends_at());
        let _ = r.time_left(now).map(format_time_left);
        let _ = r.pending_request();
        let _ = serde_json::to_string(r);
    }
}

/// A `$batch` response body: each answer's id, status, headers and body read as
/// `Graph::batch` reads them, the error of a failed one, and a successful one's body as a
/// page.
pub fn batch(bytes: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let responses = v
        .get("responses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for r in responses {
        let _id = match r.get("id") {
            Some(Value::String(s)) => s.to_ascii_lowercase(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        let Some(status) = item_status(&r) else {
            continue;
        };
        let headers = lower_keys(r.get("headers"));
        let body = item_body(r.get("body"));
        let _ = headers
            .get("retry-after")
            .and_then(|v| parse_retry_after(v));
        if (200..300).contains(&status) {
            if let Ok(page) = serde_json::from_value::<Page>(body.clone()) {
                let _ = page.next();
                items_into_model(page.value);
            } else {
                single(body);
            }
        } else {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            http_error(status, &bytes);
        }
    }
}

/// A JWT's claim, as the session reads `oid` from an access token.
pub fn jwt(token: &str) {
    let _ = jwt_claim(token, "oid");
}

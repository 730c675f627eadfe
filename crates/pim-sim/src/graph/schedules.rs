//! What PIM for Entra roles and PIM for Groups share: [`Flavour`] (how one kind is
//! served), listing the caller's schedules, instances and requests
//! (`filterByCurrentUser`), submitting, reading and cancelling schedule requests, and
//! the JSON pieces both kinds' items carry (schedule info, ticket, `createdBy`).

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::approvals;
use crate::clock::fmt_dt;
use crate::odata::Expand;
use crate::reply::{GRAPH_JSON, Reply};
use crate::requests::{self, NewRequest};
use crate::service_errors::{self, PimError};
use crate::state::{
    Action, Assignment, Eligibility, Kind, Listed, Listing, Request, State, Target, new_guid,
};
use crate::wire::{self, Env};

use super::directory::{expand_entra, expand_group};
use super::groups::GROUP;
use super::respond::{bad_json, bad_request, collection, d, entity};
use super::roles::ENTRA;

fn schedule_info(
    start: Option<OffsetDateTime>,
    exp: &crate::state::Expiration,
    end: Option<OffsetDateTime>,
) -> Value {
    json!({
        "startDateTime": d(start),
        "recurrence": null,
        "expiration": {
            "type": exp.etype.graph(),
            "endDateTime": match exp.etype { crate::state::ExpType::AfterDateTime => d(exp.end.or(end)), _ => Value::Null },
            "duration": exp.duration,
        }
    })
}

pub(super) fn elig_schedule_info(e: &Eligibility) -> Value {
    json!({
        "startDateTime": fmt_dt(e.start),
        "recurrence": null,
        "expiration": match e.end {
            Some(end) => json!({"type": "afterDateTime", "endDateTime": fmt_dt(end), "duration": null}),
            None => json!({"type": "noExpiration", "endDateTime": null, "duration": null}),
        }
    })
}

pub(super) fn assignment_schedule_info(a: &Assignment) -> Value {
    schedule_info(Some(a.start), &a.expiration, a.end)
}

pub(super) fn created_by(principal: &str) -> Value {
    json!({"application": null, "device": null, "user": {"displayName": null, "id": principal}})
}

pub(super) fn ticket_json(q: &Request) -> Value {
    match &q.ticket {
        Some(t) => json!({"ticketNumber": t.number, "ticketSystem": t.system}),
        None => json!({"ticketNumber": null, "ticketSystem": null}),
    }
}

pub(super) fn request_schedule(q: &Request) -> Value {
    let exp = q.expiration.clone().unwrap_or(crate::state::Expiration {
        etype: crate::state::ExpType::NotSpecified,
        duration: None,
        end: None,
    });
    schedule_info(q.start, &exp, requests::requested_end(q))
}

/// The `on` argument of `filterByCurrentUser(on='…')` (default `principal`): requests
/// also accept `createdBy` and `approver`; anything else is a 400.
fn filter_on(env: &Env<'_>, on: Option<String>, requests: bool) -> Result<String, Reply> {
    let on = on.unwrap_or_else(|| "principal".into());
    let valid_on: &[&str] = if requests {
        &["principal", "createdby", "approver"]
    } else {
        &["principal"]
    };
    if valid_on.contains(&on.to_ascii_lowercase().as_str()) {
        Ok(on)
    } else {
        Err(bad_request(
            env.ctx,
            &format!("The parameter 'on' has an invalid value '{on}'."),
        ))
    }
}

/// How Graph serves the PIM items of one kind, Entra roles ([`ENTRA`]) or groups
/// ([`GROUP`]): the scopes it asks for, where requests live, and how items render.
pub(super) struct Flavour {
    pub(super) kind: Kind,
    pub(super) elig_read: &'static [&'static str],
    pub(super) assign_read: &'static [&'static str],
    /// Also what reading and cancelling requests asks for.
    pub(super) req_write: &'static [&'static str],
    /// The request entity set, as in `@odata.context` and `Location`.
    pub(super) requests_set: &'static str,
    /// Type names are this and the listing's: `unifiedRole`, `privilegedAccessGroup`.
    pub(super) type_prefix: &'static str,
    pub(super) elig_instance: fn(&Eligibility) -> Value,
    pub(super) elig_schedule: fn(&Eligibility) -> Value,
    pub(super) assign_instance: fn(&Assignment) -> Value,
    pub(super) assign_schedule: fn(&Assignment, OffsetDateTime) -> Value,
    pub(super) request: fn(&Request) -> Value,
}

/// [`GROUP`] for groups, [`ENTRA`] otherwise.
fn flavour(kind: Kind) -> &'static Flavour {
    if kind == Kind::Group { &GROUP } else { &ENTRA }
}

impl Flavour {
    /// The scopes that let a caller read `listing`.
    fn list_scopes(&self, listing: Listing) -> &'static [&'static str] {
        match listing {
            Listing::EligibilityInstances | Listing::EligibilitySchedules => self.elig_read,
            Listing::AssignmentInstances | Listing::AssignmentSchedules => self.assign_read,
            Listing::Requests => self.req_write,
        }
    }

    /// The `@odata.type` name (without namespace) of `listing`'s items.
    fn type_name(&self, listing: Listing) -> String {
        let item = match listing {
            Listing::EligibilityInstances => "EligibilityScheduleInstance",
            Listing::EligibilitySchedules => "EligibilitySchedule",
            Listing::AssignmentInstances => "AssignmentScheduleInstance",
            Listing::AssignmentSchedules => "AssignmentSchedule",
            Listing::Requests => "AssignmentScheduleRequest",
        };
        format!("{}{item}", self.type_prefix)
    }

    /// A listed record as Graph shows it.
    fn render(&self, item: Listed<'_>, now: OffsetDateTime) -> Value {
        match item {
            Listed::EligibilityInstance(e) => (self.elig_instance)(e),
            Listed::EligibilitySchedule(e) => (self.elig_schedule)(e),
            Listed::AssignmentInstance(a) => (self.assign_instance)(a),
            Listed::AssignmentSchedule(a) => (self.assign_schedule)(a, now),
            Listed::Request(q) => (self.request)(q),
        }
    }

    /// Adds the `$expand`ed navigation properties of an item of `principal` about `t`;
    /// returns their names.
    fn expand(
        &self,
        st: &State,
        env: &Env<'_>,
        v: &mut Value,
        (principal, t): (&str, &Target),
        exp: &[Expand],
    ) -> Vec<&'static str> {
        if self.kind == Kind::Group {
            expand_group(st, env, v, (principal, &t.scope), exp)
        } else {
            expand_entra(st, env, v, (principal, &t.role, &t.scope), exp)
        }
    }
}

/// Lists one of the caller's PIM collections (`coll`, a known lower-case name) of
/// `f`'s kind in the caller's tenant, as `filterByCurrentUser(on=…)` asks where given.
pub(super) fn pim_list(
    st: &State,
    env: &Env<'_>,
    f: &Flavour,
    coll: &str,
    on: Option<String>,
) -> Reply {
    let listing = Listing::from_coll(coll);
    if let Err(e) = env.require(st, f.list_scopes(listing), f.kind == Kind::Group) {
        return e;
    }
    let on = match filter_on(env, on, listing == Listing::Requests) {
        Ok(on) => on,
        Err(reply) => return reply,
    };
    // only requests accept `approver`: other users' requests with a stage the caller
    // approves (see `approvals`)
    let approver = on.eq_ignore_ascii_case("approver");
    let mine = |p: &str, t: &Target| {
        p.eq_ignore_ascii_case(&env.claims.oid) && t.kind == f.kind && t.tenant == env.tenant.id
    };
    let exp = env.expand();
    let mut keep: Vec<&'static str> = Vec::new();
    // A lagging request list (`requestListLag`) does not show requests made lately yet.
    let lag = time::Duration::seconds(i64::from(st.config.request_list_lag.unwrap_or(0)));
    let shown = |item: &Listed<'_>| match item {
        Listed::Request(q) => lag.is_zero() || q.created + lag <= env.now,
        _ => true,
    };
    let listed = if approver {
        approvals::approver_requests(st, f.kind, &env.tenant.id, &env.claims.oid)
            .into_iter()
            .map(Listed::Request)
            .collect()
    } else {
        st.listed(listing, env.now, mine)
    };
    let mut items = Vec::new();
    for item in listed.into_iter().filter(shown) {
        let mut v = f.render(item, env.now);
        keep = f.expand(st, env, &mut v, (item.principal(), item.target()), &exp);
        items.push(v);
    }
    let context = format!("Collection({})", f.type_name(listing));
    collection(env, st, &context, items, &keep)
}

fn parse_body(env: &Env<'_>) -> Result<Value, Reply> {
    let v: Value = serde_json::from_slice(env.r.body).map_err(|_| bad_json(env.ctx))?;
    if !v.is_object() {
        return Err(bad_json(env.ctx));
    }
    Ok(v)
}

fn common_request(v: &Value, target: Target) -> Result<NewRequest, PimError> {
    let action = wire::req_str(v, "action")?;
    let action = Action::parse(&action).ok_or_else(PimError::invalid)?;
    let (start, expiration) = wire::schedule(v)?;
    let is_validation_only = match v.get("isValidationOnly") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(PimError::invalid()),
    };
    Ok(NewRequest {
        id: new_guid(),
        action,
        principal: wire::req_str(v, "principalId")?,
        target,
        justification: wire::opt_str(v, "justification")?,
        ticket: wire::ticket(v)?,
        start,
        expiration,
        is_validation_only,
        custom_data: wire::opt_str(v, "customData")?,
        arm_scope: String::new(),
        arm_body: None,
        linked_eligibility: None,
        target_schedule_id: wire::opt_str(v, "targetScheduleId")?,
    })
}

/// Submits a schedule request POSTed for `f`'s kind: the body's kind-specific
/// `target` (read first, so its errors come first), then what all requests share.
pub(super) fn post_request(
    st: &mut State,
    env: &Env<'_>,
    f: &Flavour,
    target: impl FnOnce(&Value) -> Result<Target, PimError>,
) -> Reply {
    if let Err(e) = env.require(st, f.req_write, f.kind == Kind::Group) {
        return e;
    }
    let v = match parse_body(env) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let req = match target(&v).and_then(|t| common_request(&v, t)) {
        Ok(r) => r,
        Err(e) => return service_errors::graph_pim(env.ctx, &e),
    };
    match requests::submit(st, env.now, &env.caller(), req) {
        Ok(q) => created(env, f.requests_set, (f.request)(&q), &q.id),
        Err(e) => service_errors::graph_pim(env.ctx, &e),
    }
}

fn created(env: &Env<'_>, set: &str, mut v: Value, id: &str) -> Reply {
    if let Some(o) = v.as_object_mut() {
        o.remove("@odata.type");
        o.insert(
            "@odata.context".into(),
            json!(format!(
                "{}/{}/$metadata#{set}/$entity",
                env.ctx.base, env.r.version
            )),
        );
    }
    Reply::json(201, v, GRAPH_JSON).header(
        "Location",
        format!("{}/{}/{set}('{id}')", env.ctx.base, env.r.version),
    )
}

pub(super) fn get_request(st: &State, env: &Env<'_>, kind: Kind, id: &str) -> Reply {
    let f = flavour(kind);
    if let Err(e) = env.require(st, f.req_write, kind == Kind::Group) {
        return e;
    }
    let found = st.requests.iter().find(|q| {
        q.target.kind == kind
            && q.target.tenant == env.tenant.id
            && q.id.eq_ignore_ascii_case(id)
            && q.principal.eq_ignore_ascii_case(&env.claims.oid)
    });
    match found {
        Some(q) => entity(
            env,
            &format!("{}/$entity", f.requests_set),
            strip_type((f.request)(q)),
        ),
        None => service_errors::graph(
            env.ctx,
            404,
            "ResourceNotFound",
            &format!("The request '{id}' was not found."),
        ),
    }
}

fn strip_type(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("@odata.type");
    }
    v
}

pub(super) fn cancel(st: &mut State, env: &Env<'_>, kind: Kind, id: &str) -> Reply {
    if let Err(e) = env.require(st, flavour(kind).req_write, kind == Kind::Group) {
        return e;
    }
    match requests::cancel(st, env.now, &env.claims.oid, kind, id) {
        Ok(_) => Reply::empty(204),
        Err(e) if e.status == 404 => {
            service_errors::graph(env.ctx, 404, "ResourceNotFound", &e.message)
        }
        Err(e) => service_errors::graph_pim(env.ctx, &e),
    }
}

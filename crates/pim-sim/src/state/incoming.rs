//! Other users' requests waiting for the signed-in user's decision (a tenant's
//! `incoming` list, `POST /_sim/incoming`): the request (`PendingApproval`, made by a
//! directory user) and its approval with stages.
//!
//! Ids are shaped as Microsoft documents them: on Graph the approval id is the request
//! id; on ARM it is `/providers/Microsoft.Authorization/roleAssignmentApprovals/{guid}`
//! and the first stage's id is that guid (as a field client addresses it); other stage
//! ids are GUIDs. All are derived from `seed`, so a scenario's ids are stable.

use time::OffsetDateTime;

use crate::api_error::{Error, Result};
use crate::scenario::{IncomingSpec, RequesterSpec};

use super::approvals::{Approval, Person, Stage, StageStatus};
use super::from_scenario::{offset, resolve_target};
use super::{Action, ExpType, Expiration, Kind, Request, State, Ticket, seeded_guid};

impl State {
    /// Adds `spec` as a request waiting in tenant number `ti`, with times relative to
    /// `now` and ids derived from `seed`; returns the request id.
    pub fn add_incoming(
        &mut self,
        ti: usize,
        spec: &IncomingSpec,
        now: OffsetDateTime,
        seed: &str,
    ) -> Result<String> {
        let name = self.tenants[ti].name.clone();
        let bad = |what: String| Error::Scenario(format!("tenant {name}: {what}"));
        if let Some(why) = spec.problem() {
            return Err(bad(why));
        }
        let requester = self.requester(ti, &spec.requester, seed)?;
        let tenant = self.tenants[ti].clone();
        if requester.id.eq_ignore_ascii_case(&tenant.user_oid) {
            return Err(bad(
                "the signed-in user cannot be the requester of an incoming request".into(),
            ));
        }
        let target = resolve_target(&tenant, &spec.target)?;
        let created = offset(now, &Some(spec.created().to_owned()), None)
            .ok_or_else(|| bad(format!("bad createdOffset '{}'", spec.created())))?;
        let start = offset(now, &spec.start_offset, None).unwrap_or(created);
        let id = seeded_guid(seed);
        if self.requests.iter().any(|q| q.id.eq_ignore_ascii_case(&id)) {
            return Err(bad(format!("request id {id} exists already")));
        }
        let approval_guid = seeded_guid(&format!("{seed}/approval"));
        let approval_id = match target.kind {
            Kind::AzureResource => {
                format!(
                    "/providers/Microsoft.Authorization/roleAssignmentApprovals/{approval_guid}"
                )
            }
            _ => id.clone(),
        };
        let mut stages = Vec::new();
        for (i, s) in spec.stages().iter().enumerate() {
            let mut approvers = Vec::new();
            for a in &s.approvers {
                let p = if a.eq_ignore_ascii_case("me") {
                    self.me(&tenant)
                } else {
                    tenant
                        .person(a)
                        .ok_or_else(|| bad(format!("unknown approver '{a}'")))?
                };
                if p.id.eq_ignore_ascii_case(&requester.id) {
                    return Err(bad(format!(
                        "{} cannot approve their own request",
                        p.display_name
                    )));
                }
                approvers.push(p);
            }
            stages.push(Stage {
                id: if i == 0 && target.kind == Kind::AzureResource {
                    approval_guid.clone()
                } else {
                    seeded_guid(&format!("{seed}/stage/{i}"))
                },
                display_name: s.display_name.clone(),
                approvers,
                status: if i == 0 {
                    StageStatus::InProgress
                } else {
                    StageStatus::NotStarted
                },
                decision: None,
                reviewed_by: None,
                reviewed: None,
                justification: None,
            });
        }
        let ticket =
            (spec.ticket_number.is_some() || spec.ticket_system.is_some()).then(|| Ticket {
                number: spec.ticket_number.clone(),
                system: spec.ticket_system.clone(),
            });
        self.requests.push(Request {
            id: id.clone(),
            target: target.clone(),
            principal: requester.id.clone(),
            action: Action::SelfActivate,
            status: "PendingApproval".into(),
            created,
            completed: None,
            approval_id: Some(approval_id.clone()),
            justification: spec.justification.clone(),
            ticket,
            start: Some(start),
            expiration: Some(Expiration {
                etype: ExpType::AfterDuration,
                duration: Some(spec.duration().to_owned()),
                end: None,
            }),
            target_schedule_id: None,
            is_validation_only: false,
            custom_data: None,
            arm_scope: target.scope.clone(),
            arm_body: None,
            linked_eligibility: None,
            extends: None,
        });
        self.approvals.push(Approval {
            id: approval_id,
            request_id: id.clone(),
            stages,
        });
        Ok(id)
    }

    /// The requester of an incoming request: a directory user, or a user written out
    /// (added to tenant `ti`'s directory when missing).
    fn requester(&mut self, ti: usize, r: &RequesterSpec, seed: &str) -> Result<Person> {
        let tenant = &self.tenants[ti];
        match r {
            RequesterSpec::Ref(key) => tenant.person(key).ok_or_else(|| {
                Error::Scenario(format!(
                    "tenant {}: unknown requester '{key}' (add it to the tenant's users)",
                    tenant.name
                ))
            }),
            RequesterSpec::User(u) => {
                if let Some(p) = tenant.person(&u.user_principal_name) {
                    return Ok(p);
                }
                let p = Person {
                    id: u
                        .id
                        .clone()
                        .unwrap_or_else(|| seeded_guid(&format!("{seed}/requester"))),
                    display_name: u.display_name.clone(),
                    upn: Some(u.user_principal_name.clone()),
                    mail: Some(
                        u.mail
                            .clone()
                            .unwrap_or_else(|| u.user_principal_name.clone()),
                    ),
                };
                self.tenants[ti].users.push(p.clone());
                Ok(p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn world(incoming: &str) -> Result<State> {
        let text = format!(
            r#"{{"name":"x","user":{{"displayName":"Me","userPrincipalName":"me@t"}},
            "tenants":[{{"id":"t","displayName":"T","defaultDomain":"t","userObjectId":"me-oid",
            "roleDefinitions":[{{"id":"r","displayName":"R"}}],
            "users":[{{"id":"alex","displayName":"Alex","userPrincipalName":"alex@t"}},
                     {{"id":"megan","displayName":"Megan","userPrincipalName":"megan@t"}}],
            "incoming":[{incoming}]}}]}}"#
        );
        let sc = Scenario::from_json(&text)?;
        State::from_scenario(&sc, OffsetDateTime::now_utc())
    }

    #[test]
    fn incoming_requests_wait_with_their_stages() {
        let st = world(
            r#"{"kind":"entraRole","role":"R","requester":"alex@t","ticketNumber":"INC-1",
                "stages":[{"approvers":["Megan"]},{"displayName":"Second","approvers":["me"]}]}"#,
        )
        .expect("builds");
        let q = st
            .requests
            .iter()
            .find(|q| q.principal == "alex")
            .expect("request");
        assert_eq!(q.status, "PendingApproval");
        assert_eq!(q.approval_id.as_deref(), Some(q.id.as_str()));
        let a = st.approval_of(&q.id).expect("approval");
        assert_eq!(a.stages.len(), 2);
        assert_eq!(a.stages[0].status, StageStatus::InProgress);
        assert_eq!(a.stages[1].status, StageStatus::NotStarted);
        assert!(a.stages[1].assigned_to("me-oid"));
        assert!(!a.stages[0].assigned_to("me-oid"));
    }

    #[test]
    fn bad_incoming_requests_are_rejected() {
        for bad in [
            r#"{"kind":"entraRole","role":"R","requester":"nobody@t"}"#,
            r#"{"kind":"entraRole","role":"R","requester":"alex@t","stages":[{"approvers":["Alex"]}]}"#,
            r#"{"kind":"entraRole","role":"R","requester":"alex@t","stages":[{"approvers":["ghost"]}]}"#,
            r#"{"kind":"entraRole","role":"Nope","requester":"alex@t"}"#,
            r#"{"kind":"entraRole","role":"R","requester":"me-oid"}"#,
        ] {
            assert!(world(bad).is_err(), "{bad}");
        }
    }
}

//! A scenario's past requests (`tenants[].history`): completed schedule requests of the
//! user that the request lists show as they are ("my history"). They create no
//! assignment, cannot be cancelled or decided, and never show as pending.

use time::OffsetDateTime;

use crate::api_error::{Error, Result};
use crate::scenario::HistorySpec;

use super::from_scenario::{offset, resolve_target};
use super::{
    Action, ExpType, Expiration, Kind, Request, State, Target, Tenant, Ticket, seeded_guid,
};

/// The id of the schedule a past activation created (shaped as live ones are).
fn schedule_id(t: &Target, request_id: &str, seed: &str) -> String {
    match t.kind {
        Kind::EntraRole => request_id.to_owned(),
        Kind::Group => format!("{}_{}_{}", t.scope, t.role, request_id),
        Kind::AzureResource => seeded_guid(&format!("{seed}/s")),
    }
}

impl State {
    /// Adds the `n`th history entry `h` of `tenant`, with times relative to `now`
    /// (checked by [`crate::Scenario`]'s loading: a final status, made in the past, an
    /// activation that has ended).
    pub(super) fn push_history(
        &mut self,
        tenant: &Tenant,
        n: usize,
        h: &HistorySpec,
        now: OffsetDateTime,
    ) -> Result<()> {
        let bad = |what: String| Error::Scenario(format!("tenant {}: {what}", tenant.name));
        let target = resolve_target(tenant, &h.target)?;
        let action = h
            .action()
            .ok_or_else(|| bad(format!("bad history action {:?}", h.action)))?;
        let seed = format!("{}/history/{n}", tenant.id);
        let id = seeded_guid(&seed);
        let created = offset(now, &Some(h.created_offset.clone()), None)
            .ok_or_else(|| bad(format!("bad createdOffset '{}'", h.created_offset)))?;
        let start = offset(now, &h.start_offset, None).unwrap_or(created);
        let completed = offset(now, &h.completed_offset, None).unwrap_or(created);
        let grants = matches!(
            action,
            Action::SelfActivate | Action::SelfExtend | Action::SelfRenew
        );
        let expiration = grants.then(|| Expiration {
            etype: ExpType::AfterDuration,
            duration: Some(h.duration().to_owned()),
            end: None,
        });
        let eligibility = self
            .eligibilities
            .iter()
            .find(|e| e.target.same(&target) && e.principal.eq_ignore_ascii_case(&tenant.user_oid))
            .map(|e| e.schedule_id.clone());
        let decided = matches!(h.status.as_str(), "Denied" | "TimedOut");
        let approval =
            action == Action::SelfActivate && (decided || self.policy_for(&target).approval);
        let approval_id = approval.then(|| match target.kind {
            Kind::AzureResource => format!(
                "/providers/Microsoft.Authorization/roleAssignmentApprovals/{}",
                seeded_guid(&format!("{seed}/approval"))
            ),
            _ => seeded_guid(&format!("{seed}/approval")),
        });
        let target_schedule_id = match (action, h.status.as_str()) {
            // A deactivation names the schedule it ended: the latest earlier activation
            // of the same role in this history, where there is one.
            (Action::SelfDeactivate, _) => Some(
                self.requests
                    .iter()
                    .filter(|q| {
                        q.action == Action::SelfActivate
                            && q.status == "Provisioned"
                            && q.target.same(&target)
                            && q.created <= created
                    })
                    .max_by_key(|q| q.created)
                    .and_then(|q| q.target_schedule_id.clone())
                    .unwrap_or_else(|| schedule_id(&target, &id, &seed)),
            ),
            (_, "Provisioned" | "Revoked") => Some(schedule_id(&target, &id, &seed)),
            _ => None,
        };
        let ticket = (h.ticket_number.is_some() || h.ticket_system.is_some()).then(|| Ticket {
            number: h.ticket_number.clone(),
            system: h.ticket_system.clone(),
        });
        self.requests.push(Request {
            id,
            target: target.clone(),
            principal: tenant.user_oid.clone(),
            action,
            status: h.status.clone(),
            created,
            completed: Some(completed.max(created)),
            approval_id,
            justification: h.justification.clone(),
            ticket,
            start: Some(if action == Action::SelfDeactivate {
                created
            } else {
                start
            }),
            expiration,
            target_schedule_id,
            is_validation_only: false,
            custom_data: None,
            arm_scope: target.scope.clone(),
            arm_body: None,
            linked_eligibility: if grants { eligibility } else { None },
            extends: None,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn demo_history_is_past_and_final() {
        let now = OffsetDateTime::now_utc();
        let st =
            State::from_scenario(&Scenario::builtin("demo").expect("demo"), now).expect("builds");
        let history: Vec<&Request> = st
            .requests
            .iter()
            .filter(|q| q.created < now - Duration::days(1))
            .collect();
        for kind in [Kind::EntraRole, Kind::Group, Kind::AzureResource] {
            let mine: Vec<&&Request> = history.iter().filter(|q| q.target.kind == kind).collect();
            assert!(mine.len() >= 3, "{kind:?}: {}", mine.len());
            for status in ["Provisioned", "Canceled"] {
                assert!(
                    mine.iter().any(|q| q.status == status),
                    "{kind:?} has a {status} request"
                );
            }
        }
        for status in ["Denied", "Revoked"] {
            assert!(history.iter().any(|q| q.status == status), "{status}");
        }
        assert!(history.iter().all(|q| q.created > now - Duration::days(22)));
        // a deactivation names the schedule of the activation it ended
        let off = history
            .iter()
            .find(|q| q.action == Action::SelfDeactivate)
            .expect("a deactivation");
        assert!(
            history.iter().any(|q| q.action == Action::SelfActivate
                && q.target_schedule_id == off.target_schedule_id)
        );
        // history leaves the assignments alone
        assert!(st.assignments.iter().all(|a| {
            a.request_id
                .as_deref()
                .is_none_or(|r| !history.iter().any(|q| q.id == r))
        }));
    }

    #[test]
    fn history_must_be_past_and_final() {
        let base = |h: &str| {
            format!(
                r#"{{"name":"x","user":{{"displayName":"A","userPrincipalName":"a@b"}},
                "tenants":[{{"id":"t","displayName":"T","defaultDomain":"b","userObjectId":"o",
                "roleDefinitions":[{{"id":"r","displayName":"R"}}],
                "history":[{h}]}}]}}"#
            )
        };
        let ok = r#"{"kind":"entraRole","role":"R","status":"Provisioned","createdOffset":"-P2D","duration":"PT8H"}"#;
        assert!(Scenario::from_json(&base(ok)).is_ok());
        for bad in [
            r#"{"kind":"entraRole","role":"R","status":"PendingApproval","createdOffset":"-P2D"}"#,
            r#"{"kind":"entraRole","role":"R","status":"Granted","createdOffset":"-P2D"}"#,
            r#"{"kind":"entraRole","role":"R","status":"Provisioned","createdOffset":"PT1H"}"#,
            r#"{"kind":"entraRole","role":"R","status":"Provisioned","createdOffset":"-PT30M"}"#,
            r#"{"kind":"entraRole","role":"R","status":"Denied","createdOffset":"-P2D","completedOffset":"-P3D"}"#,
            r#"{"kind":"entraRole","role":"R","status":"Denied","createdOffset":"-P2D","action":"adminAssign"}"#,
            r#"{"kind":"entraRole","role":"R","status":"Denied","createdOffset":"yesterday"}"#,
        ] {
            assert!(Scenario::from_json(&base(bad)).is_err(), "{bad}");
        }
        let unknown_role =
            r#"{"kind":"entraRole","role":"Nope","status":"Denied","createdOffset":"-P2D"}"#;
        let sc = Scenario::from_json(&base(unknown_role)).expect("parses");
        assert!(State::from_scenario(&sc, OffsetDateTime::now_utc()).is_err());
    }
}

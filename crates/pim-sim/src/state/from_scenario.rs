//! Building the world from a [`Scenario`]: tenants, eligibilities and assignments (with
//! stable seeded ids and times relative to now), policies, and target resolution.

use time::{Duration, OffsetDateTime};

use crate::api_error::{Error, Result};
use crate::clock::parse_duration;
use crate::policy::{Approver, Policy};
use crate::scenario::{GrantKind, GrantSpec, Scenario, TargetSpec, TenantSpec};

use super::grants::AuthStore;
use super::{
    Action, Assignment, AssignmentType, Eligibility, ExpType, Expiration, Kind, Named, Person,
    Request, SimConfig, State, Subscription, Target, Tenant, User, seeded_b64, seeded_guid,
};

pub(super) fn offset(
    now: OffsetDateTime,
    s: &Option<String>,
    default: Option<Duration>,
) -> Option<OffsetDateTime> {
    match s {
        Some(s) => parse_duration(s).and_then(|d| now.checked_add(d)),
        None => default.and_then(|d| now.checked_add(d)),
    }
}

impl State {
    /// Builds the world from a scenario, with times relative to `now`.
    pub fn from_scenario(sc: &Scenario, now: OffsetDateTime) -> Result<Self> {
        let home_idx = sc.tenants.iter().position(|t| t.home).unwrap_or(0);
        let tenants: Vec<Tenant> = sc
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| build_tenant(sc, t, i == home_idx))
            .collect();
        let mut st = State {
            user: User {
                display_name: sc.user.display_name.clone(),
                upn: sc.user.user_principal_name.clone(),
                mail: sc
                    .user
                    .mail
                    .clone()
                    .unwrap_or_else(|| sc.user.user_principal_name.clone()),
            },
            tenants,
            eligibilities: Vec::new(),
            assignments: Vec::new(),
            requests: Vec::new(),
            approvals: Vec::new(),
            policies: Vec::new(),
            config: SimConfig {
                mfa_on_sign_in: sc.user.mfa_on_sign_in,
                ..SimConfig::default()
            },
            propagation: sc.propagation_delay.unwrap_or_default(),
            auth: AuthStore::default(),
            faults: Vec::new(),
            log: Vec::new(),
        };
        if let Some(c) = &sc.config {
            st.config.merge(c)?;
        }
        for (ti, ts) in sc.tenants.iter().enumerate() {
            let tenant = st.tenants[ti].clone();
            for (n, g) in ts.eligible.iter().enumerate() {
                let target = resolve_target(&tenant, &g.target)?;
                let seed = format!("{}/elig/{n}", tenant.id);
                let start = offset(now, &g.start_offset, Some(Duration::days(-30))).unwrap_or(now);
                let (schedule_id, instance_id) = match target.kind {
                    Kind::EntraRole => (seeded_guid(&seed), format!("{}-1-e", seeded_b64(&seed))),
                    Kind::Group => {
                        let id = format!("{}_{}_{}", target.scope, target.role, seeded_guid(&seed));
                        (id.clone(), id)
                    }
                    Kind::AzureResource => {
                        (seeded_guid(&seed), seeded_guid(&(seed.clone() + "/i")))
                    }
                };
                st.eligibilities.push(Eligibility {
                    schedule_id,
                    instance_id,
                    principal: tenant.user_oid.clone(),
                    target,
                    start,
                    end: offset(now, &g.end_offset, None),
                    created: start,
                });
            }
            for (n, g) in ts.active.iter().enumerate() {
                st.push_scenario_assignment(&tenant, n, g, now)?;
            }
            for p in &ts.policies {
                let mut target = resolve_target(&tenant, &p.target)?;
                if target.kind == Kind::EntraRole {
                    target.scope = "/".into();
                }
                st.policies.push((target, Policy::from_spec(p)));
            }
        }
        for (ti, ts) in sc.tenants.iter().enumerate() {
            let tenant = st.tenants[ti].clone();
            for (n, h) in ts.history.iter().enumerate() {
                st.push_history(&tenant, n, h, now)?;
            }
            for (n, i) in ts.incoming.iter().enumerate() {
                st.add_incoming(ti, i, now, &format!("{}/incoming/{n}", tenant.id))?;
            }
        }
        Ok(st)
    }

    fn push_scenario_assignment(
        &mut self,
        tenant: &Tenant,
        n: usize,
        g: &GrantSpec,
        now: OffsetDateTime,
    ) -> Result<()> {
        let target = resolve_target(tenant, &g.target)?;
        let seed = format!("{}/active/{n}", tenant.id);
        let activated = g
            .assignment_type
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("activated"));
        let start = offset(now, &g.start_offset, Some(Duration::days(-30))).unwrap_or(now);
        let end = offset(now, &g.end_offset, None);
        let eligibility = self
            .eligibilities
            .iter()
            .find(|e| e.target.same(&target))
            .map(|e| e.schedule_id.clone());
        if activated && (end.is_none() || eligibility.is_none()) {
            return Err(Error::Scenario(format!(
                "tenant {}: an Activated assignment needs an endOffset and a matching eligibility",
                tenant.name
            )));
        }
        let request_id = seeded_guid(&(seed.clone() + "/req"));
        let (schedule_id, instance_id, origin_id) = match target.kind {
            Kind::EntraRole => {
                let b = seeded_b64(&seed);
                if activated {
                    (request_id.clone(), format!("{b}-1"), format!("{b}-1-e"))
                } else {
                    (format!("{b}-1"), format!("{b}-1"), format!("{b}-1"))
                }
            }
            Kind::Group => {
                let id = format!("{}_{}_{}", target.scope, target.role, request_id);
                (id.clone(), id.clone(), id)
            }
            Kind::AzureResource => {
                let inst = seeded_guid(&(seed.clone() + "/i"));
                (seeded_guid(&(seed.clone() + "/s")), inst.clone(), inst)
            }
        };
        let expiration = match end {
            Some(e) => Expiration {
                etype: ExpType::AfterDuration,
                duration: Some(crate::clock::fmt_duration(e - start)),
                end: None,
            },
            None => Expiration {
                etype: ExpType::NoExpiration,
                duration: None,
                end: None,
            },
        };
        if activated {
            self.requests.push(Request {
                id: request_id.clone(),
                target: target.clone(),
                principal: tenant.user_oid.clone(),
                action: Action::SelfActivate,
                status: "Provisioned".into(),
                created: start,
                completed: Some(start),
                approval_id: None,
                justification: g.justification.clone(),
                ticket: None,
                start: Some(start),
                expiration: Some(expiration.clone()),
                target_schedule_id: Some(schedule_id.clone()),
                is_validation_only: false,
                custom_data: None,
                arm_scope: target.scope.clone(),
                arm_body: None,
                linked_eligibility: eligibility.clone(),
                extends: None,
            });
        }
        self.assignments.push(Assignment {
            schedule_id,
            instance_id,
            origin_id,
            principal: tenant.user_oid.clone(),
            target,
            start,
            end,
            atype: if activated {
                AssignmentType::Activated
            } else {
                AssignmentType::Assigned
            },
            created: start,
            request_id: activated.then_some(request_id),
            eligibility: if activated { eligibility } else { None },
            expiration,
            removed: false,
        });
        Ok(())
    }
}

fn build_tenant(sc: &Scenario, t: &TenantSpec, home: bool) -> Tenant {
    let named = |v: &[crate::scenario::NamedSpec]| -> Vec<Named> {
        v.iter()
            .map(|n| Named {
                id: n.id.clone(),
                name: n.display_name.clone(),
                description: n.description.clone(),
            })
            .collect()
    };
    let mut domains = t.domains.clone();
    if !domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&t.default_domain))
    {
        domains.insert(0, t.default_domain.clone());
    }
    let mut approvers: Vec<Approver> = t
        .approvers
        .iter()
        .map(|a| Approver {
            id: a.id.clone(),
            description: a
                .description
                .clone()
                .unwrap_or_else(|| a.display_name.clone()),
        })
        .collect();
    if approvers.is_empty() {
        approvers.push(Approver {
            id: seeded_guid(&format!("{}/approver", t.id)),
            description: "PIM approvers".into(),
        });
    }
    Tenant {
        id: t.id.clone(),
        name: t.display_name.clone(),
        default_domain: t.default_domain.clone(),
        domains,
        home,
        user_oid: t.user_object_id.clone(),
        user_upn: t
            .user_principal_name
            .clone()
            .unwrap_or_else(|| sc.user.user_principal_name.clone()),
        role_defs: named(&t.role_definitions),
        aus: named(&t.administrative_units),
        groups: named(&t.groups),
        subs: t
            .subscriptions
            .iter()
            .map(|s| Subscription {
                id: s.id.clone(),
                name: s.display_name.clone(),
                resource_groups: s.resource_groups.clone(),
            })
            .collect(),
        azure_roles: t
            .azure_role_definitions
            .iter()
            .map(|r| Named {
                id: r.id.clone(),
                name: r.display_name.clone(),
                description: r.description.clone(),
            })
            .collect(),
        azure_permissions: t
            .azure_role_definitions
            .iter()
            .map(|r| (r.id.to_ascii_lowercase(), r.permissions.clone()))
            .collect(),
        approvers,
        users: t
            .users
            .iter()
            .map(|u| Person {
                id: u.id.clone().unwrap_or_else(|| {
                    seeded_guid(&format!("{}/user/{}", t.id, u.user_principal_name))
                }),
                display_name: u.display_name.clone(),
                upn: Some(u.user_principal_name.clone()),
                mail: Some(
                    u.mail
                        .clone()
                        .unwrap_or_else(|| u.user_principal_name.clone()),
                ),
            })
            .collect(),
    }
}

fn find_named<'a>(v: &'a [Named], key: &str) -> Option<&'a Named> {
    v.iter()
        .find(|n| n.id.eq_ignore_ascii_case(key) || n.name.eq_ignore_ascii_case(key))
}

/// Resolves a scenario target against a tenant.
pub(super) fn resolve_target(t: &Tenant, s: &TargetSpec) -> Result<Target> {
    let err = |what: &str| Error::Scenario(format!("tenant {}: {what}", t.name));
    match s.kind {
        GrantKind::EntraRole => {
            let role = s
                .role
                .as_deref()
                .ok_or_else(|| err("entraRole needs 'role'"))?;
            let rd = find_named(&t.role_defs, role)
                .ok_or_else(|| err(&format!("unknown role '{role}'")))?;
            let scope = if let Some(au) = &s.administrative_unit {
                let a = find_named(&t.aus, au)
                    .ok_or_else(|| err(&format!("unknown administrative unit '{au}'")))?;
                format!("/administrativeUnits/{}", a.id)
            } else {
                s.scope.clone().unwrap_or_else(|| "/".into())
            };
            Ok(Target {
                kind: Kind::EntraRole,
                tenant: t.id.clone(),
                role: rd.id.clone(),
                scope,
            })
        }
        GrantKind::Group => {
            let g = s
                .group
                .as_deref()
                .ok_or_else(|| err("group needs 'group'"))?;
            let grp =
                find_named(&t.groups, g).ok_or_else(|| err(&format!("unknown group '{g}'")))?;
            let access = s.access.as_deref().unwrap_or("member").to_ascii_lowercase();
            if access != "member" && access != "owner" {
                return Err(err("access must be member or owner"));
            }
            Ok(Target {
                kind: Kind::Group,
                tenant: t.id.clone(),
                role: access,
                scope: grp.id.clone(),
            })
        }
        GrantKind::AzureRole => {
            let role = s
                .role
                .as_deref()
                .ok_or_else(|| err("azureRole needs 'role'"))?;
            let rd = find_named(&t.azure_roles, role)
                .ok_or_else(|| err(&format!("unknown Azure role '{role}'")))?;
            let scope = if let Some(sub) = &s.subscription {
                let sb = t
                    .subs
                    .iter()
                    .find(|x| x.id.eq_ignore_ascii_case(sub) || x.name.eq_ignore_ascii_case(sub))
                    .ok_or_else(|| err(&format!("unknown subscription '{sub}'")))?;
                match &s.resource_group {
                    Some(rg) => {
                        let rg = sb
                            .resource_groups
                            .iter()
                            .find(|x| x.eq_ignore_ascii_case(rg))
                            .ok_or_else(|| err(&format!("unknown resource group '{rg}'")))?;
                        format!("/subscriptions/{}/resourceGroups/{rg}", sb.id)
                    }
                    None => format!("/subscriptions/{}", sb.id),
                }
            } else {
                s.scope
                    .clone()
                    .ok_or_else(|| err("azureRole needs 'subscription' or 'scope'"))?
            };
            Ok(Target {
                kind: Kind::AzureResource,
                tenant: t.id.clone(),
                role: rd.id.clone(),
                scope,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_builds() {
        let now = OffsetDateTime::now_utc();
        let sc = Scenario::builtin("demo").expect("demo");
        let st = State::from_scenario(&sc, now).expect("builds");
        assert_eq!(st.tenants.len(), 2);
        assert!(st.eligibilities.len() >= 10);
        let ua = st
            .assignments
            .iter()
            .find(|a| a.atype == AssignmentType::Activated)
            .expect("activation");
        assert!(ua.current(now));
        assert!(!ua.current(now + Duration::minutes(11)));
        assert_eq!(
            st.resolve_tenant("fabrikam.onmicrosoft.com")
                .map(|t| t.name.as_str()),
            Some("Fabrikam")
        );
        assert_eq!(
            st.resolve_tenant("organizations").map(|t| t.name.as_str()),
            Some("Contoso")
        );
    }
}

//! Several activations at once (a list of roles, a saved set): every role is checked against
//! its own policy before anything is sent ([`Session::plan_activations`]); then the checked
//! requests go out in parallel ([`Session::activate_planned`]) with one step-up per tenant,
//! API and claims set, and each tenant is re-read once to see them settle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;

use super::Session;
use super::reconcile::settled;
use super::write::{resource_of, with_hook};
use crate::duration::PimDuration;
use crate::model::*;
use crate::policy::ActivationForm;
use crate::token::{Resource, StepUpHook};
use crate::{Error, Result};

/// Policies read at a time while planning (most are cached after the first refresh).
const POLICY_READS: usize = 8;

/// A checked activation: what [`Session::activate_planned`] sends for one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationPlan {
    /// The role.
    pub role: Role,
    /// The request, its duration resolved (the one given, or the default for the policy).
    pub request: ActivationRequest,
    /// The policy the request was checked against.
    pub policy: PolicyInfo,
}

impl ActivationPlan {
    /// How long the activation asks for.
    pub fn duration(&self) -> PimDuration {
        self.request
            .duration
            .unwrap_or_else(|| default_duration(self.policy.known()))
    }

    /// The claims the role's policy asks for (authentication context, MFA), if any: the roles
    /// of one tenant and API that ask for the same claims share one step-up.
    pub fn claims(&self) -> Option<String> {
        self.policy.known().and_then(super::policy_claims)
    }
}

/// What one role of a batch comes to before anything is sent
/// ([`Session::plan_activations`]).
#[derive(Debug)]
pub enum Planned {
    /// Already active (an activation or an administrator's assignment): nothing to send.
    AlreadyActive,
    /// A request for the role waits for approval: it is not sent again.
    AlreadyPending,
    /// An accepted request activates the role later: it is not sent again.
    AlreadyScheduled,
    /// Checked: ready to send.
    Ready {
        /// What will be sent.
        plan: Box<ActivationPlan>,
        /// The preferred duration, when it was over the role's maximum and was cut down to it.
        capped_from: Option<PimDuration>,
    },
    /// Refused before sending: the role's policy (missing justification or ticket, duration
    /// over its maximum, ...) or its state.
    Refused(Error),
}

/// Roles whose writes share one step-up: same tenant, same API, same claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StepUpKey {
    tenant: String,
    resource: Resource,
    claims: Option<String>,
}

impl StepUpKey {
    fn of(plan: &ActivationPlan) -> StepUpKey {
        StepUpKey {
            tenant: plan.role.tenant_id.to_ascii_lowercase(),
            resource: resource_of(&plan.role),
            claims: plan.claims(),
        }
    }
}

/// What a role holds already that makes sending an activation pointless.
fn held(role: &Role) -> Option<Planned> {
    if role.assignment.is_some() {
        Some(Planned::AlreadyActive)
    } else if role.pending.iter().any(|p| p.status.needs_decision()) {
        Some(Planned::AlreadyPending)
    } else if role.state == RoleState::Scheduled {
        Some(Planned::AlreadyScheduled)
    } else {
        None
    }
}

impl Session {
    /// [`Session::plan_activations`].
    pub(super) async fn plan_many(
        &self,
        roles: &[Role],
        req: &ActivationRequest,
        preferred: Option<PimDuration>,
    ) -> Vec<Planned> {
        // In groups of POLICY_READS, not a buffered stream: a stream holding this closure
        // would make the future's `Send` depend on a higher-ranked bound callers (the tray's
        // `async_trait` engine) cannot prove.
        let mut out = Vec::with_capacity(roles.len());
        for group in roles.chunks(POLICY_READS) {
            let reads: Vec<_> = group
                .iter()
                .map(|r| self.plan_one(r, req, preferred))
                .collect();
            out.extend(futures::future::join_all(reads).await);
        }
        out
    }

    async fn plan_one(
        &self,
        role: &Role,
        req: &ActivationRequest,
        preferred: Option<PimDuration>,
    ) -> Planned {
        if let Some(held) = held(role) {
            return held;
        }
        let mut req = req.clone();
        let mut capped_from = None;
        if req.duration.is_none() {
            // The activation form's rule: the preferred duration within the policy's bounds,
            // else the default.
            let form = ActivationForm::new(self.policy(role).await.known(), preferred);
            capped_from = preferred.filter(|p| *p > form.duration);
            req.duration = Some(form.duration);
        }
        match self.check_activation_of(role, &req).await {
            Ok(plan) => Planned::Ready {
                plan: Box::new(plan),
                capped_from,
            },
            Err(e) => Planned::Refused(e),
        }
    }

    /// [`Session::activate_planned`].
    pub(super) async fn activate_many(&self, plans: &[ActivationPlan]) -> Vec<Result<Outcome>> {
        let mut results: Vec<Option<Result<Outcome>>> = plans.iter().map(|_| None).collect();
        // One write per role at a time, as for a single activation; held until settled.
        let mut guards = Vec::with_capacity(plans.len());
        let mut groups: Vec<(StepUpKey, Vec<usize>)> = Vec::new();
        for (i, p) in plans.iter().enumerate() {
            match self.begin_write(&p.role) {
                Ok(g) => {
                    guards.push(g);
                    let key = StepUpKey::of(p);
                    match groups.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, members)) => members.push(i),
                        None => groups.push((key, vec![i])),
                    }
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let hook = self.inner.step_up.clone().map(|h| {
            Arc::new(OncePerClaims {
                hook: h,
                flights: Mutex::default(),
            }) as Arc<dyn StepUpHook>
        });
        let prompts = tokio::sync::Mutex::new(());
        let sent =
            join_all(groups.iter().map(|(key, members)| {
                self.send_group(key, members, plans, hook.as_ref(), &prompts)
            }))
            .await;
        let mut accepted = Vec::new();
        for (i, r) in sent.into_iter().flatten() {
            match r {
                Ok(o) => accepted.push((i, o)),
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        for (i, o) in self.settle_many(plans, accepted).await {
            results[i] = Some(Ok(o));
        }
        drop(guards);
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::Uncertain {
                        detail: "no answer was recorded for this role".into(),
                    })
                })
            })
            .collect()
    }

    /// Sends the activations of one step-up group: the proactive step-up once (one prompt at
    /// a time across groups), then every request of the group in parallel. A step-up that
    /// does not complete sends nothing of the group.
    async fn send_group(
        &self,
        key: &StepUpKey,
        members: &[usize],
        plans: &[ActivationPlan],
        hook: Option<&Arc<dyn StepUpHook>>,
        prompts: &tokio::sync::Mutex<()>,
    ) -> Vec<(usize, Result<Outcome>)> {
        let mut claims = None;
        if let (Some(wanted), Some(first)) = (&key.claims, members.first().map(|&i| &plans[i])) {
            let _one_prompt_at_a_time = prompts.lock().await;
            match self
                .proactive_step_up(&first.role, first.policy.known())
                .await
            {
                Ok(c) => claims = c,
                Err(e) => {
                    let mut failed = vec![(members[0], Err(e))];
                    failed.extend(members[1..].iter().map(|&i| {
                        let e = Error::StepUpRequired {
                            resource: key.resource,
                            claims: wanted.clone(),
                        };
                        (i, Err(e))
                    }));
                    return failed;
                }
            }
        }
        join_all(members.iter().map(|&i| {
            let plan = &plans[i];
            let claims = claims.clone();
            async move {
                let sent = with_hook(hook, &plan.role, claims, |c| {
                    self.send_activation(
                        &plan.role,
                        &plan.request,
                        plan.duration(),
                        Action::SelfActivate,
                        c,
                    )
                })
                .await;
                (i, sent)
            }
        }))
        .await
    }

    /// Re-reads each tenant of the accepted activations (in parallel; again every 2 s until
    /// they show or [`super::SessionOptions::settle`] passes), publishes one snapshot with
    /// them and returns the outcomes with the real end times.
    async fn settle_many(
        &self,
        plans: &[ActivationPlan],
        accepted: Vec<(usize, Outcome)>,
    ) -> Vec<(usize, Outcome)> {
        let mut by_tenant: Vec<(String, Vec<(usize, Outcome)>)> = Vec::new();
        for (i, o) in accepted {
            let tid = plans[i].role.tenant_id.to_ascii_lowercase();
            match by_tenant.iter_mut().find(|(t, _)| *t == tid) {
                Some((_, items)) => items.push((i, o)),
                None => by_tenant.push((tid, vec![(i, o)])),
            }
        }
        let done = join_all(
            by_tenant
                .into_iter()
                .map(|(tid, items)| async move { self.settle_tenant(&tid, plans, items).await }),
        )
        .await;
        let mut outcomes = Vec::new();
        let mut reread = Vec::new();
        for (items, snap) in done {
            outcomes.extend(items);
            reread.extend(snap);
        }
        if !reread.is_empty() {
            let mut s = self.snapshot();
            for snap in reread {
                match s
                    .tenants
                    .iter_mut()
                    .find(|x| x.tenant.id.eq_ignore_ascii_case(&snap.tenant.id))
                {
                    Some(slot) => *slot = snap,
                    None => s.tenants.push(snap),
                }
            }
            s.taken_at = Some(self.now());
            s.account = self.caches().account.clone().or(s.account);
            self.publish(s);
        }
        outcomes
    }

    /// [`Session::settle_many`] for one tenant: the outcomes, and the tenant's last reading
    /// (`None` when it could not be read).
    async fn settle_tenant(
        &self,
        tenant_id: &str,
        plans: &[ActivationPlan],
        mut waiting: Vec<(usize, Outcome)>,
    ) -> (Vec<(usize, Outcome)>, Option<TenantSnapshot>) {
        let tenant = match self.tenants().await {
            Ok(list) => list
                .into_iter()
                .find(|t| t.id.eq_ignore_ascii_case(tenant_id)),
            Err(_) => None,
        };
        let Some(tenant) = tenant else {
            return (waiting, None);
        };
        let deadline = tokio::time::Instant::now() + self.inner.settle;
        let mut done = Vec::new();
        let mut last = None;
        loop {
            let (snap, err) = self.load_tenant(&tenant).await;
            if snap.error.is_some() {
                tracing::warn!(tenant = %tenant.display_name, error = ?err, "re-reading after the writes failed");
                break;
            }
            for (i, o) in std::mem::take(&mut waiting) {
                let role = &plans[i].role;
                let key = role.key();
                match settled(role, &o, snap.roles.iter().find(|r| r.key() == key)) {
                    Some(o) => done.push((i, o)),
                    None => waiting.push((i, o)),
                }
            }
            last = Some(snap);
            if waiting.is_empty() || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        done.extend(waiting);
        (done, last)
    }
}

/// The session's step-up hook, shared by the roles of one batch: the first role that needs a
/// step-up for a tenant, API and claims set runs it; the others wait for it and take its
/// result instead of prompting again.
#[derive(Debug)]
struct OncePerClaims {
    hook: Arc<dyn StepUpHook>,
    flights: Mutex<HashMap<StepUpKey, Arc<tokio::sync::Mutex<Option<bool>>>>>,
}

#[async_trait]
impl StepUpHook for OncePerClaims {
    async fn step_up(&self, tenant_id: &str, resource: Resource, claims: &str) -> Result<()> {
        let key = StepUpKey {
            tenant: tenant_id.to_ascii_lowercase(),
            resource,
            claims: Some(claims.to_owned()),
        };
        let flight = crate::sync::lock(&self.flights)
            .entry(key)
            .or_default()
            .clone();
        let mut outcome = flight.lock().await;
        match *outcome {
            Some(true) => Ok(()),
            // The user did not complete it a moment ago: do not ask again in this batch.
            Some(false) => Err(Error::StepUpRequired {
                resource,
                claims: claims.to_owned(),
            }),
            None => {
                let r = self.hook.step_up(tenant_id, resource, claims).await;
                *outcome = Some(r.is_ok());
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use time::macros::datetime;

    use super::super::write::tests::{entra_role, offline_session};
    use super::*;
    use crate::policy::Policy;
    use crate::testing::activated;

    fn with_policy(rid: &str, name: &str, p: Policy) -> Role {
        Role {
            role_definition_id: rid.into(),
            name: name.into(),
            policy: PolicyInfo::Known(p),
            ..entra_role(RoleState::Eligible)
        }
    }

    fn max(h: u64) -> Policy {
        Policy {
            max_duration: Some(PimDuration::from_hours(h)),
            justification_required: true,
            ..Policy::default()
        }
    }

    fn reason() -> ActivationRequest {
        ActivationRequest {
            justification: Some("incident".into()),
            ..ActivationRequest::default()
        }
    }

    fn ready(p: &Planned) -> (&ActivationPlan, Option<PimDuration>) {
        match p {
            Planned::Ready { plan, capped_from } => (&**plan, *capped_from),
            other => panic!("not ready: {other:?}"),
        }
    }

    #[tokio::test]
    async fn every_role_is_checked_against_its_own_policy() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let now = datetime!(2026-08-21 07:30 UTC);
        let active = Role {
            state: RoleState::Active,
            assignment: Some(activated(Some(now), None)),
            ..with_policy("a", "Active One", max(8))
        };
        let ticket = with_policy(
            "t",
            "Ticketed",
            Policy {
                ticket_required: true,
                ..max(8)
            },
        );
        let half = with_policy(
            "r2",
            "Half Hour",
            Policy {
                max_duration: Some(PimDuration::from_minutes(30)),
                ..max(8)
            },
        );
        let roles = [
            with_policy("r1", "Eight Hours", max(8)),
            half,
            active,
            ticket,
        ];

        // No duration: each role's default (1 h, or its maximum when shorter).
        let plans = s.plan_activations(&roles, &reason(), None).await;
        assert_eq!(plans.len(), 4);
        assert_eq!(ready(&plans[0]).0.duration(), PimDuration::from_hours(1));
        assert_eq!(ready(&plans[1]).0.duration(), PimDuration::from_minutes(30));
        assert_eq!(ready(&plans[1]).1, None, "a default is not a cap");
        assert!(matches!(plans[2], Planned::AlreadyActive));
        match &plans[3] {
            Planned::Refused(Error::PolicyViolation { rules, message }) => {
                assert_eq!(rules, &["TicketingRule"]);
                assert!(message.contains("Ticketed"), "{message}");
            }
            other => panic!("{other:?}"),
        }

        // A preferred duration is cut down to each role's maximum, and says so.
        let plans = s
            .plan_activations(&roles[..2], &reason(), Some(PimDuration::from_hours(4)))
            .await;
        assert_eq!(ready(&plans[0]).1, None, "4h fits in 8h");
        assert_eq!(ready(&plans[0]).0.duration(), PimDuration::from_hours(4));
        let (half, capped) = ready(&plans[1]);
        assert_eq!(half.duration(), PimDuration::from_minutes(30));
        assert_eq!(capped, Some(PimDuration::from_hours(4)));

        // An explicit duration over one role's maximum is that role's policy error.
        let explicit = ActivationRequest {
            duration: Some(PimDuration::from_hours(4)),
            ..reason()
        };
        let plans = s.plan_activations(&roles[..2], &explicit, None).await;
        assert_eq!(ready(&plans[0]).0.duration(), PimDuration::from_hours(4));
        match &plans[1] {
            Planned::Refused(e @ Error::PolicyViolation { .. }) => {
                assert!(e.to_string().contains("Half Hour"), "{e}");
                assert!(e.to_string().contains("30m"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn waiting_and_scheduled_requests_are_not_sent_again() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let mut pending = with_policy("p", "Pending", max(8));
        let mut req = crate::session::rows::tests::sr("PendingApproval", None);
        req.status = RequestStatus::parse("PendingApproval");
        pending.pending = vec![req.clone()];
        pending.state = RoleState::Pending;
        let mut scheduled = with_policy("s", "Scheduled", max(8));
        req.status = RequestStatus::parse("Granted");
        scheduled.pending = vec![req];
        scheduled.state = RoleState::Scheduled;
        let plans = s
            .plan_activations(&[pending, scheduled], &reason(), None)
            .await;
        assert!(matches!(plans[0], Planned::AlreadyPending), "{plans:?}");
        assert!(matches!(plans[1], Planned::AlreadyScheduled), "{plans:?}");
    }

    #[tokio::test]
    async fn check_activation_sends_nothing_and_resolves_the_duration() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let role = with_policy("r", "Reader", max(8));
        let plan = s.check_activation(&role, &reason()).await.unwrap();
        assert_eq!(plan.request.duration, Some(PimDuration::from_hours(1)));
        assert_eq!(plan.claims(), None);
        let not_eligible = Role {
            eligibility: None,
            ..role.clone()
        };
        let e = s
            .check_activation(&not_eligible, &reason())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidState { .. }), "{e:?}");
        let e = s
            .check_activation(&role, &ActivationRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::PolicyViolation { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn a_batch_answers_every_role_in_order() {
        let s = offline_session(datetime!(2026-08-21 08:00 UTC));
        let role = with_policy("r", "Reader", max(8));
        let plan = s.check_activation(&role, &reason()).await.unwrap();
        let other = s
            .check_activation(&with_policy("o", "Other", max(8)), &reason())
            .await
            .unwrap();
        // The same role twice: one write per role at a time.
        let results = s
            .activate_planned(&[plan.clone(), other, plan.clone()])
            .await;
        assert_eq!(results.len(), 3);
        // Nothing listens: the sends fail (no token), each with its own error.
        assert!(matches!(results[0], Err(Error::SignInRequired { .. })));
        assert!(matches!(results[1], Err(Error::SignInRequired { .. })));
        assert!(
            matches!(&results[2], Err(Error::InvalidState { message }) if message.contains("in progress")),
            "{:?}",
            results[2]
        );
        // The guards are gone afterwards.
        let again = s.activate_planned(&[plan]).await;
        assert!(matches!(again[0], Err(Error::SignInRequired { .. })));
    }

    #[derive(Debug, Default)]
    struct CountingHook {
        calls: AtomicUsize,
        refuse: bool,
    }

    #[async_trait]
    impl StepUpHook for CountingHook {
        async fn step_up(&self, _t: &str, resource: Resource, claims: &str) -> Result<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.refuse {
                return Err(Error::StepUpRequired {
                    resource,
                    claims: claims.into(),
                });
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn one_step_up_per_tenant_api_and_claims() {
        for refuse in [false, true] {
            let inner = Arc::new(CountingHook {
                refuse,
                ..CountingHook::default()
            });
            let hook = OncePerClaims {
                hook: inner.clone(),
                flights: Mutex::default(),
            };
            let c1 = crate::http::MFA_CLAIMS;
            let same = join_all((0..5).map(|_| hook.step_up("T", Resource::Graph, c1))).await;
            assert_eq!(inner.calls.load(Ordering::SeqCst), 1, "refuse {refuse}");
            assert!(same.iter().all(|r| r.is_ok() != refuse), "{same:?}");
            // Another tenant, API or claims set is its own step-up.
            let _ = hook.step_up("t", Resource::Arm, c1).await;
            let _ = hook.step_up("u", Resource::Graph, c1).await;
            let _ = hook.step_up("t", Resource::Graph, "{}").await;
            assert_eq!(inner.calls.load(Ordering::SeqCst), 4);
        }
    }

    #[test]
    fn roles_with_the_same_claims_in_one_tenant_share_a_key() {
        let mfa = |rid: &str| ActivationPlan {
            role: with_policy(rid, rid, max(8)),
            request: reason(),
            policy: PolicyInfo::Known(Policy {
                mfa_required: true,
                ..max(8)
            }),
        };
        assert_eq!(StepUpKey::of(&mfa("a")), StepUpKey::of(&mfa("b")));
        let mut other_tenant = mfa("c");
        other_tenant.role.tenant_id = "other".into();
        assert_ne!(StepUpKey::of(&mfa("a")), StepUpKey::of(&other_tenant));
        let mut plain = mfa("d");
        plain.policy = PolicyInfo::Known(max(8));
        assert_eq!(StepUpKey::of(&plain).claims, None);
    }
}

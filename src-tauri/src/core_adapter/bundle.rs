//! Bundles through the core: each saved role found by its key in the open accounts'
//! sessions, planned with [`pim_core::Session::plan_activations`] (every role checked against
//! its own policy before anything is sent) and sent with
//! [`pim_core::Session::activate_planned`] (one step-up per claims set), per account.

use pim_accounts::bundles::Bundle;
use pim_core::{Outcome, Planned, Role, Session};

use super::CoreAdapter;
use super::view_of::{form_view, role_view};
use crate::bundle::{BundleFormView, BundleRoleForm, BundleRoleOutcome, BundleRoleResult, combine};
use crate::dto::ActivationInput;
use crate::engine::EngineResult;

/// The bundle's roles (filtered by `only`), each with the account (key and session) that
/// has it, or None when no open account has it any more.
type Found = Vec<(String, String, Option<(String, Session, Role)>)>;

impl CoreAdapter {
    async fn find_bundle_roles(&self, bundle: &Bundle, only: Option<&[String]>) -> Found {
        let current = self.current.lock().await;
        bundle
            .roles
            .iter()
            .filter(|b| only.is_none_or(|o| o.contains(&b.key())))
            .map(|b| {
                let key = b.key();
                let found = current.iter().find_map(|c| {
                    let session = c.open.session();
                    let role = session.snapshot().by_key(&key).cloned()?;
                    Some((c.open.key(), session.clone(), role))
                });
                (key, b.label(), found)
            })
            .collect()
    }

    pub(super) async fn bundle_form_of(
        &self,
        bundle: &Bundle,
        preferred_minutes: u32,
    ) -> EngineResult<BundleFormView> {
        self.sessions().await?;
        let preferred = bundle
            .duration
            .map(|d| u32::try_from(d.as_secs() / 60).unwrap_or(u32::MAX))
            .unwrap_or(preferred_minutes);
        let mut roles = Vec::new();
        for (key, label, found) in self.find_bundle_roles(bundle, None).await {
            let (title, policy) = match found {
                Some((_, session, role)) => {
                    let info = session.policy(&role).await;
                    let form = form_view(role_view(&role, None), &info, preferred);
                    (form.role.title(), Some(form.policy))
                }
                None => (label, None),
            };
            roles.push(BundleRoleForm { key, title, policy });
        }
        let combined = combine(roles.iter().filter_map(|r| r.policy.as_ref()));
        Ok(BundleFormView {
            name: bundle.name.clone(),
            duration_minutes: preferred.min(combined.max_duration_minutes).max(1),
            combined,
            roles,
            reason: bundle.reason.clone().unwrap_or_default(),
            ticket_system: bundle.ticket_system.clone().unwrap_or_default(),
        })
    }

    pub(super) async fn activate_bundle_of(
        &self,
        bundle: &Bundle,
        input: ActivationInput,
        only: Option<Vec<String>>,
    ) -> EngineResult<Vec<BundleRoleResult>> {
        self.sessions().await?;
        let found = self.find_bundle_roles(bundle, only.as_deref()).await;
        let mut outcomes: Vec<Option<BundleRoleOutcome>> = found
            .iter()
            .map(|(_, _, f)| {
                f.is_none()
                    .then(|| BundleRoleOutcome::Failed("no longer eligible".into()))
            })
            .collect();
        // The request's duration is the bundle's preferred one, within each role's bounds.
        let mut req = input.to_request();
        let preferred = req.duration.take();
        // Per account: plan every role, then send what passed, all at once.
        let mut accounts: Vec<String> = found
            .iter()
            .filter_map(|(_, _, f)| f.as_ref().map(|(a, _, _)| a.clone()))
            .collect();
        accounts.dedup();
        for account in accounts {
            let mine: Vec<(usize, &Session, &Role)> = found
                .iter()
                .enumerate()
                .filter_map(|(i, (_, _, f))| {
                    f.as_ref()
                        .filter(|(a, _, _)| *a == account)
                        .map(|(_, s, r)| (i, s, r))
                })
                .collect();
            let Some((_, session, _)) = mine.first() else {
                continue;
            };
            let session = (*session).clone();
            let roles: Vec<Role> = mine.iter().map(|(_, _, r)| (*r).clone()).collect();
            let planned = session.plan_activations(&roles, &req, preferred).await;
            let mut plans = Vec::new();
            let mut sent = Vec::new();
            for ((i, _, _), p) in mine.iter().zip(planned) {
                outcomes[*i] = Some(match p {
                    Planned::AlreadyActive => BundleRoleOutcome::Active,
                    Planned::AlreadyPending => BundleRoleOutcome::Pending,
                    Planned::AlreadyScheduled => BundleRoleOutcome::Scheduled,
                    Planned::Refused(e) => BundleRoleOutcome::Failed(e.to_string()),
                    Planned::Ready { plan, .. } => {
                        plans.push(*plan);
                        sent.push(*i);
                        continue;
                    }
                });
            }
            let results = session.activate_planned(&plans).await;
            self.progress.send_replace(None);
            for (i, r) in sent.into_iter().zip(results) {
                outcomes[i] = Some(match r {
                    Ok(Outcome::PendingApproval { .. }) => BundleRoleOutcome::Pending,
                    Ok(Outcome::Scheduled { .. }) => BundleRoleOutcome::Scheduled,
                    Ok(_) => {
                        self.follow_ready(session.clone(), &found[i].0);
                        BundleRoleOutcome::Active
                    }
                    Err(e) => BundleRoleOutcome::Failed(e.to_string()),
                });
            }
        }
        Ok(found
            .into_iter()
            .zip(outcomes)
            .map(|((key, title, f), o)| BundleRoleResult {
                title: f.map(|(_, _, r)| r.label()).unwrap_or(title),
                key,
                outcome: o.unwrap_or(BundleRoleOutcome::Failed("not sent".into())),
            })
            .collect())
    }
}

//! Maps the core's snapshots and activation forms to the view model (the menu's and the
//! windows' one model).

use pim_core::{Role, Snapshot, Warning};

use crate::view::{
    AccountView, FormView, PolicyView, Ready, RoleKind, RoleState, RoleView, Status, TenantView,
    TrayModel,
};

pub(super) fn minutes(d: pim_core::PimDuration) -> u32 {
    u32::try_from(d.to_time().whole_minutes().max(0)).unwrap_or(u32::MAX)
}

/// Maps the core's activation form (the policy, its bounds, the suggested duration) to the
/// view; `preferred_minutes` is the user's default duration.
pub fn form_view(role: RoleView, info: &pim_core::PolicyInfo, preferred_minutes: u32) -> FormView {
    let preferred = pim_core::PimDuration::from_minutes(u64::from(preferred_minutes));
    let form = pim_core::ActivationForm::new(info.known(), Some(preferred));
    FormView {
        role,
        policy: policy_view(info, &form),
        duration_minutes: minutes(form.duration),
    }
}

fn policy_view(info: &pim_core::PolicyInfo, form: &pim_core::ActivationForm) -> PolicyView {
    let max_duration_minutes = minutes(form.max_duration);
    match info.known() {
        Some(p) => PolicyView {
            known: true,
            max_duration_minutes,
            justification: p.justification_required,
            ticket: p.ticket_required,
            mfa: p.mfa_required,
            authentication_context: p.authentication_context.clone(),
            approval: p.approval_required,
        },
        None => PolicyView {
            max_duration_minutes,
            ..PolicyView::default()
        },
    }
}

/// What the view of one account's snapshots needs to know about the account.
#[derive(Debug, Clone)]
pub struct ViewOf {
    /// Account key.
    pub key: String,
    /// Sign-in name.
    pub upn: String,
    /// Tokens come from the Azure CLI (its app cannot read Entra roles and groups).
    pub azure_cli: bool,
    /// Demo mode.
    pub demo: bool,
}

/// What the menu says for an Azure CLI account whose Graph reads were refused.
pub const AZURE_CLI_GRAPH_NOTE: &str = "Azure CLI sign-in: Azure roles only. For Entra roles and \
     groups, add this account with the browser (Settings).";

impl ViewOf {
    /// Maps a core snapshot of this account to the view model.
    pub fn model(&self, snapshot: &Snapshot, skew_seconds: i64) -> TrayModel {
        let tenants = snapshot
            .tenants
            .iter()
            .map(|t| TenantView {
                id: t.tenant.id.clone(),
                name: t.tenant.display_name.clone(),
                error: t.error.as_ref().map(|e| e.message.clone()),
                warnings: t
                    .warnings
                    .iter()
                    .map(|w| {
                        if self.azure_cli && matches!(w, Warning::GraphUnreadable { .. }) {
                            AZURE_CLI_GRAPH_NOTE.to_owned()
                        } else {
                            w.to_string()
                        }
                    })
                    .collect(),
                roles: t
                    .roles
                    .iter()
                    .map(|r| role_view(r, snapshot.readiness.get(&r.key())))
                    .collect(),
            })
            .collect();
        TrayModel {
            demo: self.demo,
            status: Status::Ready,
            accounts: vec![AccountView {
                key: self.key.clone(),
                upn: self.upn.clone(),
                tenants,
                changes: snapshot.changes.clone(),
            }],
            skew_seconds,
            warning: None,
            device_code: None,
            approvals: Vec::new(),
        }
    }
}

/// A core readiness state as the view's [`Ready`].
fn ready(state: Option<&pim_core::ReadyState>) -> Ready {
    match state {
        None => Ready::Unknown,
        Some(s) => match s.readiness {
            pim_core::Readiness::Ready => Ready::Ready {
                after: s.ready_at.map(|at| at - s.since),
            },
            pim_core::Readiness::NoProbe => Ready::NoProbe,
            pim_core::Readiness::Applying if s.gave_up => Ready::Unknown,
            pim_core::Readiness::Applying => Ready::Applying,
        },
    }
}

/// The view of `r`; `readiness` is the core's, when the activation is followed.
pub(super) fn role_view(r: &Role, readiness: Option<&pim_core::ReadyState>) -> RoleView {
    let kind = match r.kind {
        pim_core::RoleKind::EntraRole => RoleKind::EntraRole,
        pim_core::RoleKind::Group => RoleKind::Group,
        pim_core::RoleKind::AzureResource => RoleKind::AzureResource,
    };
    let scope = match kind {
        RoleKind::Group => r.access.as_ref().map(|a| a.to_string()),
        RoleKind::EntraRole if r.scope.kind == pim_core::ScopeKind::Directory => None,
        _ => Some(r.scope.display_name.clone()),
    };
    let state = match r.state {
        pim_core::RoleState::Eligible => RoleState::Eligible,
        pim_core::RoleState::Active => match &r.assignment {
            Some(a) if !a.is_activation() => RoleState::Assigned { end: a.end },
            a => RoleState::Active {
                deactivatable_from: a.as_ref().and_then(|a| a.deactivatable_from()),
                end: r.ends_at(),
                ready: ready(readiness),
            },
        },
        pim_core::RoleState::Pending => RoleState::Pending,
        pim_core::RoleState::Scheduled => RoleState::Scheduled {
            start: r.starts_at(),
        },
    };
    RoleView {
        key: r.key(),
        kind,
        name: r.name.clone(),
        scope,
        tenant_id: r.tenant_id.clone(),
        state,
    }
}

/// The settings window's tenant entries of one account.
pub(super) fn tenant_entries(
    list: &[pim_core::Tenant],
    hidden: &[String],
) -> Vec<crate::engine::TenantEntry> {
    list.iter()
        .map(|t| crate::engine::TenantEntry {
            id: t.id.clone(),
            name: t.display_name.clone(),
            domain: t.default_domain.clone(),
            home: t.is_home,
            shown: !hidden.iter().any(|h| h.eq_ignore_ascii_case(&t.id)),
        })
        .collect()
}

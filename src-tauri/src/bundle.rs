//! Bundles in the tray: the named sets of roles `pim bundle save` keeps in `bundles.json`
//! (`pim_accounts::bundles`), activated together. What the engine gives for one
//! ([`BundleFormView`], [`BundleRoleResult`]) and the combined requirements the bundle's
//! window asks for ([`combine`]). Pure.

use crate::view::PolicyView;

/// One role of a bundle as the bundle's window shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRoleForm {
    /// The stable role key (as saved).
    pub key: String,
    /// Title (as saved when the role is not found).
    pub title: String,
    /// Its policy; None when no open account has the role any more.
    pub policy: Option<PolicyView>,
}

/// What a bundle's window starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFormView {
    /// The bundle's name.
    pub name: String,
    /// Its roles, in the bundle's order.
    pub roles: Vec<BundleRoleForm>,
    /// What the roles found ask for together ([`combine`]).
    pub combined: PolicyView,
    /// The bundle's justification (empty: none saved).
    pub reason: String,
    /// The bundle's ticket system (empty: none saved).
    pub ticket_system: String,
    /// Suggested duration in minutes: the bundle's (else the user's default), within the
    /// shortest maximum.
    pub duration_minutes: u32,
}

/// How one role of a bundle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleRoleOutcome {
    /// Active (now, or already before).
    Active,
    /// Waiting for approval (now, or already before).
    Pending,
    /// Starts later.
    Scheduled,
    /// Not sent, or refused: why, in words.
    Failed(String),
}

/// One role's result of activating a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRoleResult {
    /// The stable role key.
    pub key: String,
    /// Title.
    pub title: String,
    /// What came of it.
    pub outcome: BundleRoleOutcome,
}

/// What several roles ask for together: the shortest maximum, and a justification, ticket,
/// MFA, authentication context or approval when any of them asks for it (the first
/// authentication context named). Known only when every policy is known.
pub fn combine<'a>(policies: impl IntoIterator<Item = &'a PolicyView>) -> PolicyView {
    let mut out: Option<PolicyView> = None;
    for p in policies {
        let Some(c) = out.as_mut() else {
            out = Some(p.clone());
            continue;
        };
        c.known &= p.known;
        c.max_duration_minutes = c.max_duration_minutes.min(p.max_duration_minutes);
        c.justification |= p.justification;
        c.ticket |= p.ticket;
        c.mfa |= p.mfa;
        c.approval |= p.approval;
        if c.authentication_context.is_none() {
            c.authentication_context = p.authentication_context.clone();
        }
    }
    out.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_requirements_take_the_shortest_maximum_and_every_demand() {
        let reader = PolicyView {
            known: true,
            max_duration_minutes: 480,
            justification: true,
            ..PolicyView::default()
        };
        let admin = PolicyView {
            known: true,
            max_duration_minutes: 120,
            ticket: true,
            mfa: true,
            ..PolicyView::default()
        };
        let strict = PolicyView {
            known: true,
            max_duration_minutes: 240,
            authentication_context: Some("c1".into()),
            approval: true,
            ..PolicyView::default()
        };
        let c = combine([&reader, &admin, &strict]);
        assert_eq!(
            c,
            PolicyView {
                known: true,
                max_duration_minutes: 120,
                justification: true,
                ticket: true,
                mfa: true,
                authentication_context: Some("c1".into()),
                approval: true,
            }
        );
        // One policy unknown: the whole is not known (the service decides at submit time).
        let unknown = PolicyView {
            max_duration_minutes: 1440,
            ..PolicyView::default()
        };
        let c = combine([&reader, &unknown]);
        assert!(!c.known);
        assert_eq!(c.max_duration_minutes, 480);
        assert_eq!(combine([]), PolicyView::default());
    }
}

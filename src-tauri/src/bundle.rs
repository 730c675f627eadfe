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

/// One role of a bundle, as its window shows it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRoleDto {
    /// The stable role key.
    pub key: String,
    /// Title.
    pub title: String,
    /// False when no open account has the role any more.
    pub found: bool,
}

/// What a bundle's window renders.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleFormDto {
    /// The bundle's name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<BundleRoleDto>,
    /// What the roles found ask for together.
    pub policy: PolicyView,
    /// The bundle's justification.
    pub justification: String,
    /// The bundle's ticket system (else the one used last).
    pub ticket_system: String,
    /// Suggested duration in minutes.
    pub duration_minutes: u32,
    /// Demo mode.
    pub demo: bool,
}

impl BundleFormDto {
    /// The window's form from the engine's, with the last ticket system as a fallback.
    pub fn of(f: BundleFormView, last_ticket_system: Option<String>, demo: bool) -> Self {
        BundleFormDto {
            name: f.name,
            roles: f
                .roles
                .into_iter()
                .map(|r| BundleRoleDto {
                    found: r.policy.is_some(),
                    key: r.key,
                    title: r.title,
                })
                .collect(),
            policy: f.combined,
            justification: f.reason,
            ticket_system: if f.ticket_system.is_empty() {
                last_ticket_system.unwrap_or_default()
            } else {
                f.ticket_system
            },
            duration_minutes: f.duration_minutes,
            demo,
        }
    }
}

/// The bundle window's submission.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivateBundleRequest {
    /// The bundle's name.
    pub name: String,
    /// Justification.
    #[serde(default)]
    pub justification: String,
    /// Ticket number.
    #[serde(default)]
    pub ticket_number: String,
    /// Ticket system.
    #[serde(default)]
    pub ticket_system: String,
    /// Duration in minutes.
    pub duration_minutes: u32,
    /// Only these role keys (a retry of the failed ones); all when absent.
    #[serde(default)]
    pub only: Option<Vec<String>>,
}

/// One role's result, as the window shows it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRoleResultDto {
    /// The stable role key.
    pub key: String,
    /// Title.
    pub title: String,
    /// `active`, `pending`, `scheduled` or `failed`.
    #[cfg_attr(
        test,
        ts(type = "\"active\" | \"pending\" | \"scheduled\" | \"failed\"")
    )]
    pub outcome: &'static str,
    /// Why it failed, in words (empty otherwise).
    pub message: String,
}

impl From<BundleRoleResult> for BundleRoleResultDto {
    fn from(r: BundleRoleResult) -> Self {
        let (outcome, message) = match r.outcome {
            BundleRoleOutcome::Active => ("active", String::new()),
            BundleRoleOutcome::Pending => ("pending", String::new()),
            BundleRoleOutcome::Scheduled => ("scheduled", String::new()),
            BundleRoleOutcome::Failed(m) => ("failed", m),
        };
        BundleRoleResultDto {
            key: r.key,
            title: r.title,
            outcome,
            message,
        }
    }
}

/// Body of `get_bundle_form`.
pub async fn form(
    state: &crate::AppState,
    name: &str,
) -> Result<BundleFormDto, crate::error::IpcError> {
    let bundle = state.bundles().get(name)?;
    let settings = state.settings();
    let f = state
        .engine
        .bundle_form(&bundle, settings.default_duration_minutes)
        .await?;
    Ok(BundleFormDto::of(f, settings.ticket_system, state.demo))
}

/// Body of `activate_bundle`: the request's shape is checked here (as for one role); each
/// role's policy by the core before anything is sent.
pub async fn activate(
    state: &crate::AppState,
    request: ActivateBundleRequest,
) -> Result<Vec<BundleRoleResultDto>, crate::error::IpcError> {
    let bundle = state.bundles().get(&request.name)?;
    let input = crate::dto::ActivateRoleRequest {
        role_key: format!("bundle:{}", bundle.name),
        justification: request.justification,
        ticket_number: request.ticket_number,
        ticket_system: request.ticket_system,
        duration_minutes: request.duration_minutes,
        start_at: None,
    }
    .validate(time::OffsetDateTime::now_utc())?;
    let results = state
        .engine
        .activate_bundle(&bundle, input, request.only)
        .await?;
    Ok(results.into_iter().map(BundleRoleResultDto::from).collect())
}

/// A saved bundle, as Settings lists it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSummaryDto {
    /// Name.
    pub name: String,
    /// Its roles, as saved (`Title — scope (tenant)`).
    pub roles: Vec<String>,
    /// Justification sent unless another is given (empty: none).
    pub reason: String,
    /// Ticket system (empty: none).
    pub ticket_system: String,
    /// Preferred duration in minutes (none: each role's default).
    pub duration_minutes: Option<u32>,
}

/// A bundle's editable request (Settings).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleEditDto {
    /// The bundle's name.
    pub name: String,
    /// Justification (empty: none).
    #[serde(default)]
    pub reason: String,
    /// Ticket system (empty: none).
    #[serde(default)]
    pub ticket_system: String,
    /// Preferred duration in minutes, 5 to 1440 (none: each role's default).
    #[serde(default)]
    pub duration_minutes: Option<u32>,
}

/// Body of `update_bundle`: a bundle's reason, ticket system and duration (its roles stay);
/// answers the list.
pub fn update(
    state: &crate::AppState,
    edit: BundleEditDto,
) -> Result<Vec<BundleSummaryDto>, crate::error::IpcError> {
    use crate::error::IpcError;
    let reason = edit.reason.trim();
    let system = edit.ticket_system.trim();
    if reason.chars().count() > crate::dto::MAX_JUSTIFICATION
        || system.chars().count() > crate::dto::MAX_TICKET
        || reason.chars().chain(system.chars()).any(char::is_control)
    {
        return Err(IpcError::invalid(format!(
            "The justification may have up to {} characters and the ticket system up to {}, \
             without control characters.",
            crate::dto::MAX_JUSTIFICATION,
            crate::dto::MAX_TICKET
        )));
    }
    if let Some(m) = edit.duration_minutes
        && !(5..=1440).contains(&m)
    {
        return Err(IpcError::invalid(
            "The duration must be 5 to 1440 minutes (PIM's own bounds).",
        ));
    }
    let store = state.bundles();
    let mut b = store.get(&edit.name)?;
    b.reason = (!reason.is_empty()).then(|| reason.to_owned());
    b.ticket_system = (!system.is_empty()).then(|| system.to_owned());
    b.duration = edit
        .duration_minutes
        .map(|m| pim_core::PimDuration::from_minutes(u64::from(m)));
    store.save(b)?;
    list(state)
}

/// Body of `get_bundles`: the saved bundles in the order saved.
pub fn list(state: &crate::AppState) -> Result<Vec<BundleSummaryDto>, crate::error::IpcError> {
    Ok(state
        .bundles()
        .load()?
        .into_iter()
        .map(|b| BundleSummaryDto {
            roles: b.roles.iter().map(|r| r.describe()).collect(),
            reason: b.reason.unwrap_or_default(),
            ticket_system: b.ticket_system.unwrap_or_default(),
            duration_minutes: b
                .duration
                .map(|d| u32::try_from(d.as_secs() / 60).unwrap_or(u32::MAX)),
            name: b.name,
        })
        .collect())
}

/// Body of `remove_bundle`; answers the list left.
pub fn remove(
    state: &crate::AppState,
    name: &str,
) -> Result<Vec<BundleSummaryDto>, crate::error::IpcError> {
    state.bundles().remove(name)?;
    list(state)
}

/// Body of `save_active_bundle`: a bundle of the activations now active (the user's own, in
/// every open account) named `name` (replacing one of that name); answers the list.
pub async fn save_active(
    state: &crate::AppState,
    name: &str,
) -> Result<Vec<BundleSummaryDto>, crate::error::IpcError> {
    let name = pim_accounts::bundles::check_name(name)?;
    let roles = state.engine.active_roles().await?;
    if roles.is_empty() {
        return Err(crate::error::IpcError::invalid(
            "No role is active now: activate the roles first, then save them as a bundle.",
        ));
    }
    state
        .bundles()
        .save(pim_accounts::bundles::Bundle::new(&name, &roles)?)?;
    list(state)
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

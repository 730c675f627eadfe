//! Activate again: an eligible role activated once more as its newest earlier activation
//! request asked (justification, ticket, duration), starting now. Nothing is sent on trust:
//! the request goes through [`Session::activate`], which checks today's policy first.

use super::Session;
use crate::model::{ActivationRequest, Outcome, Role, RoleState, ScheduleRequest};
use crate::wire::format_datetime;
use crate::{Error, Result};

/// Says, in the [`Error::InvalidState`] of a role without an earlier activation request,
/// that there is nothing to repeat ([`again_needs_form`] looks for it).
const NO_EARLIER: &str = "no earlier activation request";

impl Session {
    /// Activates an eligible role again with the justification, ticket and duration of its
    /// newest earlier activation request (the policy's default duration when that request
    /// named none), starting now.
    ///
    /// It goes through [`Session::activate`], so the policy is validated before anything is
    /// sent: a policy that now asks for more than the earlier request gave (a ticket, a
    /// shorter maximum, …) gives the usual [`Error::PolicyViolation`]. A role that is active,
    /// pending or scheduled, or that has no earlier activation request, gives
    /// [`Error::InvalidState`]. [`again_needs_form`] tells the errors after which the user
    /// should fill in the activation form instead.
    pub async fn activate_again(&self, role: &Role) -> Result<Outcome> {
        let req = self.again_request(role).await?;
        self.activate(role, req).await
    }

    /// What [`Session::activate_again`] would send for `role`: its newest earlier activation
    /// request's justification, ticket and duration, no start. Nothing is sent.
    pub async fn again_request(&self, role: &Role) -> Result<ActivationRequest> {
        check_eligible(role)?;
        match self.last_activation(role).await {
            Some(prev) => Ok(repeat(prev)),
            None => Err(Error::InvalidState {
                message: format!(
                    "{} has {NO_EARLIER} to repeat; activate it with the form",
                    role.describe()
                ),
            }),
        }
    }
}

/// The request that repeats `prev`: its justification, ticket and duration; no start.
fn repeat(prev: ScheduleRequest) -> ActivationRequest {
    ActivationRequest {
        justification: prev.justification,
        ticket: prev.ticket,
        duration: prev.duration,
        start: None,
    }
}

/// Refuses a role that is not simply eligible now.
fn check_eligible(role: &Role) -> Result<()> {
    let why = match role.state {
        RoleState::Eligible => return Ok(()),
        RoleState::Active => format!(
            "{} is active{}; extend it instead",
            role.describe(),
            role.ends_at()
                .map(|e| format!(" until {}", format_datetime(e)))
                .unwrap_or_default()
        ),
        RoleState::Pending => format!(
            "a request for {} is waiting for approval; cancel it first",
            role.describe()
        ),
        RoleState::Scheduled => format!(
            "{} is scheduled{}; cancel that request first",
            role.describe(),
            role.starts_at()
                .map(|s| format!(" to start at {}", format_datetime(s)))
                .unwrap_or_default()
        ),
    };
    Err(Error::InvalidState {
        message: format!("cannot activate again: {why}"),
    })
}

/// Whether an error of [`Session::activate_again`] means "let the user fill in the activation
/// form": the policy (checked here or by the service) asks for something the earlier request
/// lacked, or there is no earlier request to repeat. Anything else (already active, the
/// network, sign-in) is an ordinary failure.
pub fn again_needs_form(e: &Error) -> bool {
    match e {
        Error::PolicyViolation { .. } => true,
        Error::InvalidState { message } => message.contains(NO_EARLIER),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::duration::PimDuration;
    use crate::model::{RequestStatus, Ticket};
    use crate::testing::{activated, eligible, test_role};

    #[test]
    fn only_an_eligible_role_is_activated_again() {
        let mut role = Role {
            eligibility: Some(eligible()),
            ..test_role("r", "Global Reader")
        };
        assert!(check_eligible(&role).is_ok());
        let end = datetime!(2026-08-21 09:00 UTC);
        role.state = RoleState::Active;
        role.assignment = Some(activated(Some(end - time::Duration::hours(1)), Some(end)));
        let Err(Error::InvalidState { message }) = check_eligible(&role) else {
            panic!("an active role was accepted")
        };
        assert!(
            message.contains("is active until 2026-08-21") && message.contains("extend"),
            "{message}"
        );
        assert!(!again_needs_form(&Error::InvalidState { message }));
        role.assignment = None;
        for state in [RoleState::Pending, RoleState::Scheduled] {
            role.state = state;
            let err = check_eligible(&role).unwrap_err();
            assert!(matches!(err, Error::InvalidState { .. }), "{err:?}");
            assert!(err.to_string().contains("cancel"), "{err}");
        }
    }

    #[test]
    fn the_earlier_request_is_repeated_without_its_start() {
        let prev = ScheduleRequest {
            id: "q".into(),
            resource_id: None,
            action: None,
            status: RequestStatus::Provisioned,
            created: None,
            start: Some(datetime!(2026-08-20 08:00 UTC)),
            duration: Some(PimDuration::from_minutes(90)),
            end: None,
            justification: Some("incident 12".into()),
            ticket: Some(Ticket {
                number: "INC-12".into(),
                system: "Jira".into(),
            }),
            approval_id: None,
        };
        let req = repeat(prev);
        assert_eq!(req.justification.as_deref(), Some("incident 12"));
        assert_eq!(
            req.ticket.as_ref().map(|t| t.number.as_str()),
            Some("INC-12")
        );
        assert_eq!(req.duration, Some(PimDuration::from_minutes(90)));
        assert_eq!(req.start, None);
    }

    #[test]
    fn the_form_is_for_policy_errors_and_a_missing_earlier_request() {
        assert!(again_needs_form(&Error::PolicyViolation {
            rules: vec!["TicketingRule".into()],
            message: "a ticket is required".into(),
        }));
        assert!(again_needs_form(&Error::InvalidState {
            message: format!("Global Reader has {NO_EARLIER} to repeat"),
        }));
        assert!(!again_needs_form(&Error::Transport("reset".into())));
        assert!(!again_needs_form(&Error::InvalidState {
            message: "a change to Global Reader is already in progress".into(),
        }));
    }
}

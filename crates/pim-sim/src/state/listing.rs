//! The five PIM lists Graph (for Entra roles and for groups) and ARM all serve, and the
//! one selection behind them ([`State::listed`]).

use time::OffsetDateTime;

use super::{Assignment, Eligibility, Request, State, Target};

/// One of the five PIM collections that Graph (for Entra roles and for groups) and ARM
/// all list: instances and schedules of eligibilities and of assignments, and requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    EligibilityInstances,
    EligibilitySchedules,
    AssignmentInstances,
    AssignmentSchedules,
    Requests,
}

impl Listing {
    /// The listing a lower-case collection name asks for: ARM's and Graph's Entra-role
    /// names (`roleeligibilityscheduleinstances`, ...) or Graph's group names (the same
    /// without `role`). The routers pass only known names; the fifth,
    /// `...assignmentschedulerequests`, like anything else, is [`Listing::Requests`].
    pub fn from_coll(coll: &str) -> Self {
        match coll.strip_prefix("role").unwrap_or(coll) {
            "eligibilityscheduleinstances" => Self::EligibilityInstances,
            "eligibilityschedules" => Self::EligibilitySchedules,
            "assignmentscheduleinstances" => Self::AssignmentInstances,
            "assignmentschedules" => Self::AssignmentSchedules,
            _ => Self::Requests,
        }
    }
}

/// A record as one [`Listing`] shows it (an eligibility is listed both as an instance
/// and as a schedule, and each API renders the two differently).
#[derive(Debug, Clone, Copy)]
pub enum Listed<'a> {
    EligibilityInstance(&'a Eligibility),
    EligibilitySchedule(&'a Eligibility),
    AssignmentInstance(&'a Assignment),
    AssignmentSchedule(&'a Assignment),
    Request(&'a Request),
}

impl<'a> Listed<'a> {
    /// Whose the record is.
    pub fn principal(&self) -> &'a str {
        match *self {
            Self::EligibilityInstance(e) | Self::EligibilitySchedule(e) => &e.principal,
            Self::AssignmentInstance(a) | Self::AssignmentSchedule(a) => &a.principal,
            Self::Request(q) => &q.principal,
        }
    }

    /// The role (or group access) and scope the record is about.
    pub fn target(&self) -> &'a Target {
        match *self {
            Self::EligibilityInstance(e) | Self::EligibilitySchedule(e) => &e.target,
            Self::AssignmentInstance(a) | Self::AssignmentSchedule(a) => &a.target,
            Self::Request(q) => &q.target,
        }
    }

    /// Listed at `now`: instances while current, schedules until they end (future
    /// ones included), requests whatever their status.
    fn live(&self, now: OffsetDateTime) -> bool {
        match *self {
            Self::EligibilityInstance(e) => e.current(now),
            Self::EligibilitySchedule(e) => e.scheduled(now),
            Self::AssignmentInstance(a) => a.current(now),
            Self::AssignmentSchedule(a) => a.scheduled(now),
            Self::Request(_) => true,
        }
    }
}

impl State {
    /// What `listing` shows at `now` of the records `mine(principal, target)` accepts,
    /// in state order (the one selection behind Graph's and ARM's PIM lists).
    pub fn listed(
        &self,
        listing: Listing,
        now: OffsetDateTime,
        mine: impl Fn(&str, &Target) -> bool,
    ) -> Vec<Listed<'_>> {
        let (eligs, assigns) = (self.eligibilities.iter(), self.assignments.iter());
        let records: Box<dyn Iterator<Item = Listed<'_>>> = match listing {
            Listing::EligibilityInstances => Box::new(eligs.map(Listed::EligibilityInstance)),
            Listing::EligibilitySchedules => Box::new(eligs.map(Listed::EligibilitySchedule)),
            Listing::AssignmentInstances => Box::new(assigns.map(Listed::AssignmentInstance)),
            Listing::AssignmentSchedules => Box::new(assigns.map(Listed::AssignmentSchedule)),
            Listing::Requests => Box::new(self.requests.iter().map(Listed::Request)),
        };
        records
            .filter(|r| mine(r.principal(), r.target()) && r.live(now))
            .collect()
    }
}

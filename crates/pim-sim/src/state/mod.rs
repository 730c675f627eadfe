//! The simulator's mutable world: tenants, the user, eligibilities, assignments,
//! requests, policies, runtime configuration, and the authority's grants.
//!
//! Invariant: everything lives in one [`State`] behind one mutex; handlers lock it
//! briefly and never across an `.await`.
//!
//! Code map: [`directory`] (tenants and the user), [`records`] (eligibilities,
//! assignments, requests and their parts), [`listing`] (the five PIM lists), [`effective`]
//! (when an active role takes effect: propagation delays, `wids`), [`config`] (runtime
//! configuration, `POST /_sim/config`), [`grants`] (the authority's codes, refresh tokens
//! and device codes), [`from_scenario`] (building the world), [`history`] (past
//! requests a scenario lists), [`approvals`] (directory users, approvals and their stages)
//! and [`incoming`] (other users' requests waiting for the signed-in user); here: the
//! [`State`] itself, its lookups, the request log and id helpers.

mod approvals;
mod config;
mod directory;
mod effective;
mod from_scenario;
mod grants;
mod history;
mod incoming;
mod listing;
mod records;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::faults::FaultRule;
use crate::policy::Policy;

pub use approvals::{Approval, Decision, Person, Stage, StageStatus};
pub use config::{AuthorityError, DEVICE_CODE_GRANT, SimConfig};
pub use directory::{Named, RolePermission, Subscription, Tenant, User};
pub use effective::PropagationDelay;
pub use grants::{AuthCode, AuthStore, DeviceGrant, DeviceStatus, RefreshGrant, SignIn};
pub use listing::{Listed, Listing};
pub use records::{
    Action, Assignment, AssignmentType, Eligibility, ExpType, Expiration, Kind, Request, Target,
    Ticket, norm_scope,
};

/// Deterministic GUID from a seed (stable ids across runs of a scenario).
pub fn seeded_guid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

/// Deterministic base64-like id (the `…-1` shape Graph uses for some instance ids).
pub fn seeded_b64(seed: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(seed.as_bytes()))
}

/// A fresh random GUID.
pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh random base64-like id.
pub fn new_b64() -> String {
    seeded_b64(&new_guid())
}

/// One entry of `GET /_sim/requests`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path (as received).
    pub path: String,
    /// Raw query string (may be empty).
    pub query: String,
    /// Response status (0 when the connection was reset before a response).
    pub status: u16,
    /// `graph`, `arm`, `authority` or `control`.
    pub resource: String,
    /// Number of items in a `$batch`.
    pub batch_items: Option<usize>,
}

/// The whole world.
#[derive(Debug)]
pub struct State {
    pub user: User,
    pub tenants: Vec<Tenant>,
    pub eligibilities: Vec<Eligibility>,
    pub assignments: Vec<Assignment>,
    pub requests: Vec<Request>,
    /// Approvals of other users' requests (the signed-in user's inbox).
    pub approvals: Vec<Approval>,
    /// Configured policies: (target with policy scope) → policy.
    pub policies: Vec<(Target, Policy)>,
    pub config: SimConfig,
    /// How long activations take to take effect, per kind.
    pub propagation: PropagationDelay,
    pub auth: AuthStore,
    pub faults: Vec<FaultRule>,
    pub log: Vec<RecordedRequest>,
}

impl State {
    /// Tenant by id.
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// The user's home tenant.
    pub fn home(&self) -> &Tenant {
        self.tenants
            .iter()
            .find(|t| t.home)
            .unwrap_or(&self.tenants[0])
    }

    /// Resolves `{tenant}` in an authority path: `organizations`, `common`, a GUID or a domain.
    pub fn resolve_tenant(&self, seg: &str) -> Option<&Tenant> {
        if seg.eq_ignore_ascii_case("organizations") || seg.eq_ignore_ascii_case("common") {
            return Some(self.home());
        }
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(seg) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(seg))
        })
    }

    /// The policy for a target: exact match, else (Azure) the nearest ancestor scope,
    /// else the default policy.
    pub fn policy_for(&self, t: &Target) -> Policy {
        let scope_match = |p: &Target| match t.kind {
            Kind::EntraRole => true,
            Kind::Group => p.scope.eq_ignore_ascii_case(&t.scope),
            Kind::AzureResource => {
                let ps = norm_scope(&p.scope);
                let ts = norm_scope(&t.scope);
                ts == ps || ts.starts_with(&(ps + "/"))
            }
        };
        self.policies
            .iter()
            .filter(|(p, _)| {
                p.kind == t.kind
                    && p.tenant.eq_ignore_ascii_case(&t.tenant)
                    && p.role.eq_ignore_ascii_case(&t.role)
                    && scope_match(p)
            })
            .max_by_key(|(p, _)| p.scope.len())
            .map(|(_, pol)| pol.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn azure_policy_is_inherited_from_the_nearest_scope() {
        let now = OffsetDateTime::now_utc();
        let st =
            State::from_scenario(&Scenario::builtin("demo").expect("demo"), now).expect("builds");
        let t = |scope: &str| Target {
            kind: Kind::AzureResource,
            tenant: "cab01047-8ad9-4792-8e42-569340767f1b".into(),
            role: "b24988ac-6180-42a0-ab88-20f7382dd24c".into(),
            scope: scope.into(),
        };
        assert!(
            st.policy_for(&t("/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f"))
                .ticketing
        );
        assert!(
            st.policy_for(&t(
                "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f/resourceGroups/rg-data"
            ))
            .ticketing
        );
        assert!(!st.policy_for(&t("/subscriptions/other")).ticketing);
    }
}

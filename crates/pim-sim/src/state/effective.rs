//! When an active role's permission takes effect: the propagation delay per kind
//! ([`PropagationDelay`]) and the caller's effective assignments at a moment
//! ([`State::effective`]), which the `wids` claim, `/me/memberOf` and ARM's
//! `permissions` read.
//!
//! An activation is active in PIM (listed as an assignment instance) from its start, but
//! the services honour it only `propagationDelay` seconds later (Entra ID, Graph and ARM
//! caches catch up). Admin assignments (`Assigned`) take effect at their start. Effect
//! ends with the assignment (expiry and deactivation take effect at once).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::api_error::{Error, Result};

use super::{Assignment, AssignmentType, Kind, State};

/// Seconds (of simulated time) from an activation's start until its permission takes
/// effect, per kind; a kind left out is 0 (effective at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropagationDelay {
    /// Entra (directory) roles: the `wids` claim and `directoryRole` entries of `memberOf`.
    #[serde(default)]
    pub entra_role: u32,
    /// PIM for Groups: groups in `/me/memberOf` (member) and `/me/ownedObjects` (owner).
    #[serde(default)]
    pub group: u32,
    /// Azure resource roles: ARM `permissions`.
    #[serde(default)]
    pub azure_role: u32,
}

impl PropagationDelay {
    /// The delay for `kind`.
    pub fn for_kind(&self, kind: Kind) -> Duration {
        let s = match kind {
            Kind::EntraRole => self.entra_role,
            Kind::Group => self.group,
            Kind::AzureResource => self.azure_role,
        };
        Duration::seconds(i64::from(s))
    }

    /// Applies a JSON merge patch (`{"group": 5}` changes only groups); unknown keys and
    /// values that are not whole seconds are an error.
    pub fn merge(&mut self, patch: &Value) -> Result<()> {
        let obj = patch
            .as_object()
            .ok_or_else(|| Error::Invalid("propagationDelay must be a JSON object".into()))?;
        let mut cur = serde_json::to_value(*self).map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(c) = cur.as_object_mut() {
            for (k, v) in obj {
                if !c.contains_key(k) {
                    return Err(Error::Invalid(format!(
                        "unknown propagationDelay kind '{k}' (entraRole, group, azureRole)"
                    )));
                }
                c.insert(
                    k.clone(),
                    if v.is_null() {
                        Value::from(0)
                    } else {
                        v.clone()
                    },
                );
            }
        }
        *self = serde_json::from_value(cur).map_err(|e| {
            Error::Invalid(format!("propagationDelay: {e} (whole seconds, 0 or more)"))
        })?;
        Ok(())
    }
}

impl State {
    /// When `a`'s permission takes effect: an activation `propagationDelay` after its
    /// start, an admin assignment at its start.
    pub fn effective_from(&self, a: &Assignment) -> OffsetDateTime {
        match a.atype {
            AssignmentType::Assigned => a.start,
            AssignmentType::Activated => a
                .start
                .checked_add(self.propagation.for_kind(a.target.kind))
                .unwrap_or(a.start),
        }
    }

    /// Whether `a`'s permission is in effect at `now`.
    pub fn is_effective(&self, a: &Assignment, now: OffsetDateTime) -> bool {
        a.current(now) && self.effective_from(a) <= now
    }

    /// The assignments of `principal` of `kind` in `tenant` whose permission is in
    /// effect at `now`, in state order.
    pub fn effective(
        &self,
        tenant: &str,
        principal: &str,
        kind: Kind,
        now: OffsetDateTime,
    ) -> Vec<&Assignment> {
        self.assignments
            .iter()
            .filter(|a| {
                a.target.kind == kind
                    && a.target.tenant.eq_ignore_ascii_case(tenant)
                    && a.principal.eq_ignore_ascii_case(principal)
                    && self.is_effective(a, now)
            })
            .collect()
    }

    /// The role template ids of the Entra roles `principal` holds tenant-wide (directory
    /// scope `/`) with effect at `now`: the `wids` claim. Roles scoped to an
    /// administrative unit are not listed, as in Entra ID.
    pub fn wids(&self, tenant: &str, principal: &str, now: OffsetDateTime) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in self.effective(tenant, principal, Kind::EntraRole, now) {
            if super::norm_scope(&a.target.scope) == "/"
                && !out.iter().any(|r| r.eq_ignore_ascii_case(&a.target.role))
            {
                out.push(a.target.role.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn delays_merge_per_kind() {
        let mut d = PropagationDelay::default();
        d.merge(&json!({"entraRole": 20, "azureRole": 40}))
            .expect("ok");
        d.merge(&json!({"group": 10})).expect("ok");
        assert_eq!(
            d,
            PropagationDelay {
                entra_role: 20,
                group: 10,
                azure_role: 40
            }
        );
        assert_eq!(d.for_kind(Kind::AzureResource), Duration::seconds(40));
        d.merge(&json!({"azureRole": null})).expect("null is 0");
        assert_eq!(d.azure_role, 0);
        for bad in [
            json!({"groups": 1}),
            json!({"group": -1}),
            json!({"group": 1.5}),
            json!({"group": "10"}),
            json!([1]),
        ] {
            assert!(d.merge(&bad).is_err(), "{bad}");
        }
        assert_eq!(d.group, 10, "a rejected patch changes nothing");
    }

    #[test]
    fn activations_take_effect_after_the_delay() {
        let now = OffsetDateTime::now_utc();
        let sc = Scenario::builtin("demo").expect("demo");
        let mut st = State::from_scenario(&sc, now).expect("builds");
        let tenant = st.home().id.clone();
        let oid = st.home().user_oid.clone();
        // Directory Readers and Reports Reader are assigned tenant-wide; the User
        // Administrator activation is scoped to an administrative unit.
        assert_eq!(
            st.wids(&tenant, &oid, now),
            vec![
                "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
                "4a5d8f65-41da-4de4-8968-e035b65339cf"
            ]
        );
        let mut a = st
            .assignments
            .iter()
            .find(|a| a.atype == AssignmentType::Activated)
            .cloned()
            .expect("activation");
        a.start = now;
        a.end = Some(now + Duration::hours(1));
        a.target.scope = "/".into();
        st.propagation.entra_role = 20;
        st.assignments.push(a.clone());
        assert_eq!(st.effective_from(&a), now + Duration::seconds(20));
        assert!(!st.is_effective(&a, now + Duration::seconds(19)));
        assert!(st.is_effective(&a, now + Duration::seconds(20)));
        assert!(!st.is_effective(&a, now + Duration::hours(1)), "ended");
        assert_eq!(st.wids(&tenant, &oid, now).len(), 2);
        assert_eq!(st.wids(&tenant, &oid, now + Duration::seconds(20)).len(), 3);
    }
}

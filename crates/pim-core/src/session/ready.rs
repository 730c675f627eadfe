//! "Ready, not just active": whether an activation already works where it is used.
//!
//! PIM answers "active" before the permission is effective everywhere: directory roles take
//! seconds to minutes, Azure RBAC up to about ten minutes (caches), and tokens minted before
//! the activation do not carry it. One probe per kind:
//!
//! - Entra directory roles, tenant-wide: a freshly minted Graph token (never the cached one)
//!   whose `wids` claim lists the role's template id. The fresh token stays in the token
//!   source's cache, so the app's next calls already carry the role.
//! - PIM for Groups: the group among the user's memberships (`/me/memberOf`) for member
//!   access, among the objects the user owns (`/me/ownedObjects`) for owner access.
//! - Azure roles: the caller's `permissions` at the role's scope include the role
//!   definition's actions.
//! - No probe applies to a directory role scoped to an administrative unit or another
//!   object (`wids` lists tenant-wide roles only), nor to an Azure role whose definition
//!   cannot be read: [`Readiness::NoProbe`].

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::Session;
use crate::changes::ChangeKind;
use crate::model::{AccessId, ReadyState, Role, RoleKind, RoleState, ScopeKind};
use crate::token::{Resource, TokenRequest};
use crate::{Error, Result};

/// Whether an active role's permission is effective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Readiness {
    /// It works: the probe saw it.
    Ready,
    /// Active, not effective yet (the service is still applying it).
    Applying,
    /// Active; no probe can tell when it applies (it can take a few minutes).
    NoProbe,
}

/// How [`Session::wait_ready`] probes: a growing interval, up to a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyOptions {
    /// The first wait after a probe that says "applying".
    pub first: Duration,
    /// The longest wait between two probes.
    pub max: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for ReadyOptions {
    /// 10 s growing to 60 s, for up to 30 minutes.
    fn default() -> Self {
        ReadyOptions {
            first: Duration::from_secs(10),
            max: Duration::from_secs(60),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// How a wait for readiness ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyOutcome {
    /// Effective, seen at this time (the service's clock).
    Ready {
        /// When the probe saw it.
        at: OffsetDateTime,
    },
    /// Still applying when the time ran out.
    TimedOut,
    /// No probe applies.
    NoProbe,
}

/// The wait after `previous`: half as long again, at most `max`.
pub fn next_wait(previous: Duration, max: Duration) -> Duration {
    (previous + previous / 2).min(max)
}

/// The tenant-wide role template ids in an access token's `wids` claim (read without
/// validation: the token is ours, from the token source).
pub(crate) fn wids(token: &str) -> HashSet<String> {
    use base64::Engine;
    let Some(payload) = token.split('.').nth(1) else {
        return HashSet::new();
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return HashSet::new();
    };
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return HashSet::new();
    };
    v.get("wids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// The last path segment of an id (`/providers/…/roleDefinitions/{guid}` → `{guid}`).
fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// Whether the permission blocks `have` (the caller's, at a scope) cover every action and
/// data action that `role` (a role definition's blocks) grants.
pub(crate) fn covers(have: &[Value], role: &[Value]) -> bool {
    let strings = |v: &Value, key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    };
    let wanted: Vec<(&str, String)> = role
        .iter()
        .flat_map(|b| {
            let a = strings(b, "actions").into_iter().map(|x| ("actions", x));
            let d = strings(b, "dataActions")
                .into_iter()
                .map(|x| ("dataActions", x));
            a.chain(d).collect::<Vec<_>>()
        })
        .collect();
    if wanted.is_empty() {
        return false;
    }
    wanted
        .iter()
        .all(|(key, action)| have.iter().any(|b| strings(b, key).contains(action)))
}

impl Session {
    /// Probes once whether `role`'s activation is effective. A role that is not active is an
    /// [`Error::InvalidInput`].
    pub async fn probe_ready(&self, role: &Role) -> Result<Readiness> {
        if role.state != RoleState::Active {
            return Err(Error::InvalidInput(format!(
                "{} is not active, so it cannot be ready",
                role.describe()
            )));
        }
        match role.kind {
            RoleKind::EntraRole if role.scope.kind == ScopeKind::Directory => {
                self.entra_ready(role).await
            }
            RoleKind::EntraRole => Ok(Readiness::NoProbe),
            RoleKind::Group => self.group_ready(role).await,
            RoleKind::AzureResource => self.azure_ready(role).await,
        }
    }

    /// Probes until `role` is effective, waiting `options.first` and then longer (up to
    /// `options.max`) between probes, for at most `options.timeout`. A probe that fails (the
    /// network, a refused read) counts as "applying" and is tried again, unless it needs the
    /// user (sign-in or step-up), which ends the wait with that error.
    pub async fn wait_ready(&self, role: &Role, options: ReadyOptions) -> Result<ReadyOutcome> {
        let deadline = tokio::time::Instant::now() + options.timeout;
        let mut wait = options.first;
        loop {
            match self.probe_ready(role).await {
                Ok(Readiness::Ready) => return Ok(ReadyOutcome::Ready { at: self.now() }),
                Ok(Readiness::NoProbe) => return Ok(ReadyOutcome::NoProbe),
                Ok(Readiness::Applying) => {}
                Err(e) if e.needs_user() => return Err(e),
                Err(e @ Error::InvalidInput(_)) => return Err(e),
                Err(e) => tracing::debug!(error = %e, "readiness probe failed; trying again"),
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(ReadyOutcome::TimedOut);
            }
            tokio::time::sleep(wait.min(deadline - now)).await;
            wait = next_wait(wait, options.max);
        }
    }

    /// Follows `role` (just activated) until it is effective, as [`Session::wait_ready`]
    /// does, and publishes how far it is in the snapshot's [`crate::Snapshot::readiness`]: applying
    /// at once, then ready (with a [`ChangeKind::Ready`] change), no probe, or given up.
    pub async fn follow_ready(&self, role: &Role, options: ReadyOptions) -> Result<ReadyOutcome> {
        let key = role.key();
        let since = self.now();
        self.set_ready(&key, |r| {
            r.insert(
                key.clone(),
                ReadyState {
                    readiness: Readiness::Applying,
                    since,
                    ready_at: None,
                    gave_up: false,
                },
            );
        });
        let out = self.wait_ready(role, options).await;
        let describe = role.describe();
        self.inner.tx.send_if_modified(|s| {
            let Some(st) = s.readiness.get_mut(&key) else {
                // The role ended meanwhile.
                return false;
            };
            match &out {
                Ok(ReadyOutcome::Ready { at }) => {
                    st.readiness = Readiness::Ready;
                    st.ready_at = Some(*at);
                    crate::changes::push(&mut s.changes, ChangeKind::Ready, key.clone(), describe);
                }
                Ok(ReadyOutcome::NoProbe) => st.readiness = Readiness::NoProbe,
                Ok(ReadyOutcome::TimedOut) | Err(_) => st.gave_up = true,
            }
            true
        });
        out
    }

    fn set_ready(
        &self,
        key: &str,
        f: impl FnOnce(&mut std::collections::BTreeMap<String, ReadyState>),
    ) {
        self.inner.tx.send_if_modified(|s| {
            if s.by_key(key).is_none() {
                return false;
            }
            f(&mut s.readiness);
            true
        });
    }

    async fn entra_ready(&self, role: &Role) -> Result<Readiness> {
        let http = &self.inner.graph.http;
        let token = http
            .tokens
            .access_token(&TokenRequest {
                tenant_id: role.tenant_id.clone(),
                resource: Resource::Graph,
                scope: http.scope(Resource::Graph),
                claims: None,
                force_refresh: true,
            })
            .await?;
        let template = last_segment(&role.role_definition_id).to_ascii_lowercase();
        Ok(if wids(token.token.expose()).contains(&template) {
            Readiness::Ready
        } else {
            Readiness::Applying
        })
    }

    async fn group_ready(&self, role: &Role) -> Result<Readiness> {
        let g = &self.inner.graph;
        let list = match role.access {
            Some(AccessId::Owner) => "ownedObjects",
            _ => "memberOf",
        };
        let url = g.url(&format!("/me/{list}/microsoft.graph.group?$select=id"));
        let items = g
            .http
            .get_all(&role.tenant_id, Resource::Graph, &url)
            .await?;
        let group = role.scope.id.to_ascii_lowercase();
        let found = items.iter().any(|i| {
            i.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(&group))
        });
        Ok(if found {
            Readiness::Ready
        } else {
            Readiness::Applying
        })
    }

    async fn azure_ready(&self, role: &Role) -> Result<Readiness> {
        let arm = &self.inner.arm;
        let definition = match arm.role_definition_url(&role.role_definition_id) {
            Ok(url) => {
                arm.http
                    .get_json(&role.tenant_id, Resource::Arm, &url)
                    .await
            }
            Err(e) => Err(e),
        };
        let blocks: Vec<Value> = match definition {
            Ok(d) => d
                .pointer("/properties/permissions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            Err(e) if e.needs_user() => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the role definition; no readiness probe");
                return Ok(Readiness::NoProbe);
            }
        };
        if blocks.is_empty() {
            return Ok(Readiness::NoProbe);
        }
        let url = arm.permissions_url(&role.scope.id)?;
        let have = arm
            .http
            .get_all(&role.tenant_id, Resource::Arm, &url)
            .await?;
        Ok(if covers(&have, &blocks) {
            Readiness::Ready
        } else {
            Readiness::Applying
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    fn token(claims: Value) -> String {
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("e30.{p}.")
    }

    #[test]
    fn wids_are_read_from_the_token_in_lower_case() {
        let t = token(json!({"wids": ["F2EF992C-3AFB-46B9-B7CF-A126EE74C451", 5, "x"]}));
        let w = wids(&t);
        assert!(w.contains("f2ef992c-3afb-46b9-b7cf-a126ee74c451"));
        assert!(w.contains("x"));
        assert_eq!(w.len(), 2);
        assert!(wids(&token(json!({"oid": "a"}))).is_empty());
        assert!(wids(&token(json!({"wids": "not a list"}))).is_empty());
        assert!(wids("garbage").is_empty());
        assert!(wids("a.%%%.c").is_empty());
    }

    #[test]
    fn permissions_cover_a_role_when_every_action_is_there() {
        let reader = [json!({"actions": ["*/read"], "notActions": []})];
        let kv = [json!({"actions": ["Microsoft.KeyVault/vaults/read"],
                         "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]})];
        assert!(!covers(&[], &reader));
        assert!(covers(&[json!({"actions": ["*/READ"]})], &reader));
        assert!(!covers(&[json!({"actions": ["*/read"]})], &kv));
        assert!(covers(
            &[
                json!({"actions": ["*/read"]}),
                json!({"actions": ["Microsoft.KeyVault/vaults/read"],
                       "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]})
            ],
            &kv
        ));
        // A definition that grants nothing cannot be probed (never "ready").
        assert!(!covers(
            &[json!({"actions": ["*"]})],
            &[json!({"actions": []})]
        ));
        assert!(!covers(&[json!({"actions": null})], &reader));
    }

    #[test]
    fn waits_grow_by_half_up_to_the_limit() {
        let max = Duration::from_secs(60);
        let mut w = Duration::from_secs(10);
        let mut seen = vec![w.as_secs()];
        for _ in 0..6 {
            w = next_wait(w, max);
            seen.push(w.as_secs());
        }
        assert_eq!(seen, vec![10, 15, 22, 33, 50, 60, 60]);
    }

    #[test]
    fn ids_end_in_their_last_segment() {
        assert_eq!(
            last_segment("/providers/Microsoft.Authorization/roleDefinitions/abc/"),
            "abc"
        );
        assert_eq!(last_segment("f2ef"), "f2ef");
    }
}

//! Reading one tenant: the Graph refresh `$batch` (pages followed) alongside the ARM lists,
//! turned into rows by `rows.rs` and named by `names.rs`; and reading a role's policy.

use std::collections::HashMap;

use serde_json::Value;

use super::Session;
use super::rows::{
    add_arm_requests, add_graph_instances, add_graph_requests, arm_rows, entra_policies, entra_row,
    finish_rows, group_row,
};
use crate::graph::{ItemOk, clone_error, item, refresh_items};
use crate::model::*;
use crate::policy::Policy;
use crate::wire::{GraphGroupInstance, GraphMe, GraphRequest, GraphRoleInstance, parse_items};
use crate::{Error, Result};

impl Session {
    /// Reads one tenant's Graph and ARM parts in parallel. A part that fails becomes a
    /// warning; both failing make the tenant's error. The error returned beside the snapshot
    /// is what the caller may have to act on (both failed, or the home tenant needs a
    /// step-up).
    pub(super) async fn load_tenant(&self, t: &Tenant) -> (TenantSnapshot, Option<Error>) {
        let (g, a) = tokio::join!(self.load_graph(t), self.load_arm(t));
        let mut roles = Vec::new();
        let mut warnings = Vec::new();
        let mut error = None;
        let mut fatal = None;
        match (g, a) {
            (Ok((gr, gw)), Ok((ar, aw))) => {
                roles.extend(gr);
                roles.extend(ar);
                warnings.extend(gw);
                warnings.extend(aw);
            }
            (Ok((gr, gw)), Err(e)) => {
                roles.extend(gr);
                warnings.extend(gw);
                warnings.push(Warning::unreadable("Azure roles", &e));
                if t.is_home && matches!(e, Error::StepUpRequired { .. }) {
                    fatal = Some(e);
                }
            }
            (Err(e), Ok((ar, aw))) => {
                roles.extend(ar);
                warnings.extend(aw);
                warnings.push(Warning::GraphUnreadable {
                    reason: e.to_string(),
                });
                if t.is_home && matches!(e, Error::StepUpRequired { .. }) {
                    fatal = Some(e);
                }
            }
            (Err(e), Err(_)) => {
                error = Some(TenantError {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                });
                fatal = Some(e);
            }
        }
        let now = self.now();
        finish_rows(&mut roles, &t.display_name, &self.caches().policies, now);
        (
            TenantSnapshot {
                tenant: t.clone(),
                roles,
                error,
                warnings,
            },
            fatal,
        )
    }

    /// The tenant's Entra role and group rows, from one `$batch`, with warnings for the
    /// lists that could not be read. Fails when none could (or a token is needed).
    async fn load_graph(&self, t: &Tenant) -> Result<(Vec<Role>, Vec<Warning>)> {
        let g = &self.inner.graph;
        let tid = t.id.as_str();
        let mut res = g.batch(tid, refresh_items()).await;
        let mut take = |id: &str| -> Result<ItemOk> {
            res.remove(id)
                .unwrap_or_else(|| Err(Error::InvalidResponse(format!("no result for {id}"))))
        };
        let me = take(item::ME);
        let (eligible, active, requests, policies_r, g_elig, g_act, g_req) = (
            take(item::ELIGIBLE),
            take(item::ACTIVE),
            take(item::REQUESTS),
            take(item::POLICIES),
            take(item::GROUP_ELIGIBLE),
            take(item::GROUP_ACTIVE),
            take(item::GROUP_REQUESTS),
        );
        let policies_alt = policies_r.as_ref().map(|o| o.alternative).unwrap_or(0);
        // Token-level failures make the whole Graph part fail.
        for r in [&eligible, &active] {
            if let Err(e) = r
                && e.needs_user()
            {
                return Err(clone_error(e, e.code(), &e.to_string()));
            }
        }
        if let (Err(e1), Err(_), Err(_), Err(_)) = (&eligible, &active, &g_elig, &g_act) {
            return Err(clone_error(e1, e1.code(), &e1.to_string()));
        }
        let (eligible, active, requests, policies_v, g_elig, g_act, g_req) = tokio::join!(
            g.collect(tid, eligible),
            g.collect(tid, active),
            g.collect(tid, requests),
            g.collect(tid, policies_r),
            g.collect(tid, g_elig),
            g.collect(tid, g_act),
            g.collect(tid, g_req),
        );
        let mut warnings = Vec::new();
        if let Ok(ok) = me
            && let Ok(m) = serde_json::from_value::<GraphMe>(ok.body)
            && let Some(id) = m.id.get()
        {
            let mut c = self.caches();
            c.principals.insert(tid.to_ascii_lowercase(), id.clone());
            if t.is_home {
                c.account = Some(Account {
                    id,
                    display_name: m.display_name.into_option(),
                    user_principal_name: m.user_principal_name.into_option(),
                });
            }
        }
        let now = self.now();
        let mut rows: Vec<Role> = Vec::new();

        let mut warn = |what: &str, r: &Result<Vec<Value>>| {
            if let Err(e) = r {
                warnings.push(Warning::unreadable(what, e));
            }
        };
        warn("Eligible Entra roles", &eligible);
        warn("Active Entra roles", &active);
        warn("Pending Entra role requests", &requests);
        warn("Eligible groups", &g_elig);
        warn("Active groups", &g_act);
        warn("Pending group requests", &g_req);

        // Entra roles.
        let policy_map: Result<HashMap<String, PolicyInfo>> = policies_v.map(|items| {
            let (known, ids) = entra_policies(items, policies_alt == 0);
            let tl = tid.to_ascii_lowercase();
            let mut c = self.caches();
            for (rid, pid) in ids {
                c.entra_policy_ids.insert((tl.clone(), rid), pid);
            }
            known
        });
        let entra_policy = |rid: &str| -> PolicyInfo {
            match &policy_map {
                Ok(m) => m
                    .get(&rid.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or(PolicyInfo::NotLoaded),
                Err(e) => PolicyInfo::Unknown {
                    reason: e.to_string(),
                },
            }
        };
        let eligible: Vec<GraphRoleInstance> =
            parse_items("eligible roles", eligible.unwrap_or_default());
        let active: Vec<GraphRoleInstance> =
            parse_items("active roles", active.unwrap_or_default());
        add_graph_instances(&mut rows, &eligible, &active, now, |i| {
            let rid = i.role_definition_id.as_deref()?;
            let mut r = entra_row(tid, i, rid);
            r.policy = entra_policy(rid);
            Some(r)
        });
        let requests: Vec<GraphRequest> =
            parse_items("role requests", requests.unwrap_or_default());
        add_graph_requests(&mut rows, RoleKind::EntraRole, tid, &requests, now);

        self.resolve_scope_names(tid, &mut rows).await;
        self.resolve_role_names(tid, &mut rows).await;

        // Groups.
        let g_elig: Vec<GraphGroupInstance> =
            parse_items("eligible groups", g_elig.unwrap_or_default());
        let g_act: Vec<GraphGroupInstance> =
            parse_items("active groups", g_act.unwrap_or_default());
        self.resolve_group_names(tid, g_elig.iter().chain(g_act.iter()))
            .await;
        {
            let c = self.caches();
            add_graph_instances(&mut rows, &g_elig, &g_act, now, |i| {
                group_row(tid, i, &c.group_names)
            });
        }
        let g_req: Vec<GraphRequest> = parse_items("group requests", g_req.unwrap_or_default());
        add_graph_requests(&mut rows, RoleKind::Group, tid, &g_req, now);
        Ok((rows, warnings))
    }

    /// The tenant's Azure role rows, with warnings for the lists that could not be read.
    /// Fails when neither eligibilities nor assignments could be read.
    async fn load_arm(&self, t: &Tenant) -> Result<(Vec<Role>, Vec<Warning>)> {
        let arm = &self.inner.arm;
        let tid = t.id.as_str();
        let (elig, act, reqs) = tokio::join!(
            arm.eligibility(tid),
            arm.assignments(tid),
            arm.requests_provider(tid)
        );
        let mut warnings = Vec::new();
        let now = self.now();
        let (elig, act) = match (elig, act) {
            (Err(e), Err(_)) => return Err(e),
            (e, a) => (e, a),
        };
        let elig = elig.unwrap_or_else(|e| {
            warnings.push(Warning::unreadable("Eligible Azure roles", &e));
            Vec::new()
        });
        let act = act.unwrap_or_else(|e| {
            warnings.push(Warning::unreadable("Active Azure roles", &e));
            Vec::new()
        });
        let (mut rows, scopes) = arm_rows(tid, &elig, &act, now);
        let reqs = match reqs {
            Ok(Some(r)) => r,
            Ok(None) => arm.requests_at(tid, &scopes).await,
            Err(e) => {
                warnings.push(Warning::unreadable("Pending Azure requests", &e));
                Vec::new()
            }
        };
        self.resolve_arm_names(tid, &mut rows).await;
        add_arm_requests(&mut rows, tid, &reqs, now);
        Ok((rows, warnings))
    }

    /// [`Session::policy`]: the session cache, the row's own policy, else read now.
    pub(super) async fn read_policy(&self, role: &Role) -> PolicyInfo {
        let key = role.key();
        if let Some(p) = self.caches().policies.get(&key).cloned()
            && !matches!(p, PolicyInfo::NotLoaded)
        {
            return p;
        }
        if let PolicyInfo::Known(_) | PolicyInfo::Unknown { .. } = &role.policy {
            return role.policy.clone();
        }
        let res = match role.kind {
            RoleKind::EntraRole => self.entra_policy(role).await,
            RoleKind::Group => {
                self.inner
                    .graph
                    .group_policy(&role.tenant_id, &role.scope.id, &role.role_definition_id)
                    .await
            }
            RoleKind::AzureResource => {
                self.inner
                    .arm
                    .policy(&role.tenant_id, &role.scope.id, &role.role_definition_id)
                    .await
            }
        };
        let info = match res {
            Ok(p) => PolicyInfo::Known(p),
            Err(e) => {
                tracing::info!(error = %e, "policy unknown");
                PolicyInfo::Unknown {
                    reason: e.to_string(),
                }
            }
        };
        self.caches().policies.insert(key, info.clone());
        info
    }

    /// An Entra role's policy: by the policy id the refresh batch gave (rules not
    /// expanded), else from its policy assignment.
    async fn entra_policy(&self, role: &Role) -> Result<Policy> {
        let tkey = (
            role.tenant_id.to_ascii_lowercase(),
            role.role_definition_id.to_ascii_lowercase(),
        );
        let known_id = self.caches().entra_policy_ids.get(&tkey).cloned();
        let g = &self.inner.graph;
        match known_id {
            Some(id) => g.policy_rules(&role.tenant_id, &id).await,
            None => {
                g.entra_policy(&role.tenant_id, &role.role_definition_id)
                    .await
            }
        }
    }
}

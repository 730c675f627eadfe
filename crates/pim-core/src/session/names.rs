//! Display names the payloads did not carry (no `$expand` support, no `expandedProperties`):
//! Entra role definitions, directory scopes and groups in one `$batch` each, Azure role
//! definitions and subscriptions by parallel GETs; cached per session. A name that cannot be
//! read stays the id (or the last path segment).

use serde_json::Value;

use super::Session;
use crate::graph::{
    BatchItem, directory_scope_name_path, group_name_path, role_definition_name_path,
};
use crate::model::{Role, RoleKind, ScopeKind};
use crate::token::Resource;
use crate::wire::{GraphGroupInstance, last_segment};

impl Session {
    /// Names Entra roles that came without `roleDefinition` (no `$expand` support), with one
    /// `$batch` of `GET /roleManagement/directory/roleDefinitions/{id}`; failures keep the id.
    pub(super) async fn resolve_role_names(&self, tid: &str, rows: &mut [Role]) {
        let tl = tid.to_ascii_lowercase();
        let mut missing: Vec<String> = Vec::new();
        {
            let c = self.caches();
            for r in rows.iter_mut() {
                if r.kind != RoleKind::EntraRole || r.name != r.role_definition_id {
                    continue;
                }
                if let Some(n) = c
                    .role_names
                    .get(&(tl.clone(), r.role_definition_id.to_ascii_lowercase()))
                {
                    r.name = n.clone();
                } else if !missing.contains(&r.role_definition_id) {
                    missing.push(r.role_definition_id.clone());
                }
            }
        }
        // An id that is no path segment keeps its id as its name.
        missing.retain(|id| role_definition_name_path(id).is_ok());
        if missing.is_empty() {
            return;
        }
        let urls = missing
            .iter()
            .filter_map(|id| role_definition_name_path(id).ok())
            .collect();
        let names = self.batch_display_names(tid, urls).await;
        let mut c = self.caches();
        for (id, name) in missing.iter().zip(names) {
            let name = name.unwrap_or_else(|| id.clone());
            c.role_names
                .insert((tl.clone(), id.to_ascii_lowercase()), name.clone());
            for r in rows
                .iter_mut()
                .filter(|r| r.kind == RoleKind::EntraRole && r.role_definition_id == *id)
            {
                r.name = name.clone();
            }
        }
    }

    /// Names Azure roles and scopes that came without `expandedProperties`: the role
    /// definition's `roleName`, the subscription's `displayName` (GETs in parallel, cached),
    /// the last path segment for resource groups and resources.
    pub(super) async fn resolve_arm_names(&self, tid: &str, rows: &mut [Role]) {
        let tl = tid.to_ascii_lowercase();
        let arm = &self.inner.arm;
        let mut fetch: Vec<(String, String)> = Vec::new(); // (cache key, url)
        {
            let c = self.caches();
            for r in rows.iter() {
                if r.kind != RoleKind::AzureResource {
                    continue;
                }
                if r.name
                    .eq_ignore_ascii_case(&last_segment(&r.role_definition_id))
                {
                    let k = r.role_definition_id.to_ascii_lowercase();
                    if !c.role_names.contains_key(&(tl.clone(), k.clone()))
                        && !fetch.iter().any(|(x, _)| *x == k)
                        && let Ok(url) = arm.role_definition_url(&r.role_definition_id)
                    {
                        fetch.push((k, url));
                    }
                }
                if r.scope.display_name == r.scope.id && r.scope.kind == ScopeKind::Subscription {
                    let k = r.scope.id.to_ascii_lowercase();
                    if !c.role_names.contains_key(&(tl.clone(), k.clone()))
                        && !fetch.iter().any(|(x, _)| *x == k)
                        && let Ok(url) = arm.subscription_url(&r.scope.id)
                    {
                        fetch.push((k, url));
                    }
                }
            }
        }
        if !fetch.is_empty() {
            let http = &arm.http;
            let results = futures::future::join_all(
                fetch
                    .iter()
                    .map(|(_, url)| http.get_json(tid, Resource::Arm, url)),
            )
            .await;
            let mut c = self.caches();
            for ((k, _), r) in fetch.iter().zip(results) {
                let name = r.ok().and_then(|v| {
                    v.pointer("/properties/roleName")
                        .or_else(|| v.get("displayName"))
                        .or_else(|| v.pointer("/properties/displayName"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
                if let Some(n) = name {
                    c.role_names.insert((tl.clone(), k.clone()), n);
                }
            }
        }
        let c = self.caches();
        for r in rows
            .iter_mut()
            .filter(|r| r.kind == RoleKind::AzureResource)
        {
            if r.name
                .eq_ignore_ascii_case(&last_segment(&r.role_definition_id))
                && let Some(n) = c
                    .role_names
                    .get(&(tl.clone(), r.role_definition_id.to_ascii_lowercase()))
            {
                r.name = n.clone();
            }
            if r.scope.display_name == r.scope.id {
                if let Some(n) = c
                    .role_names
                    .get(&(tl.clone(), r.scope.id.to_ascii_lowercase()))
                {
                    r.scope.display_name = n.clone();
                } else if r.scope.kind != ScopeKind::Subscription
                    && let Some(seg) = r
                        .scope
                        .id
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .filter(|s| !s.is_empty())
                {
                    r.scope.display_name = seg.to_owned();
                }
            }
        }
    }

    /// Names directory scopes (administrative units, other objects) that came without a
    /// display name (no `$expand=directoryScope`), with one `$batch`; failures keep the id.
    pub(super) async fn resolve_scope_names(&self, tid: &str, rows: &mut [Role]) {
        let tl = tid.to_ascii_lowercase();
        let mut missing: Vec<String> = Vec::new();
        {
            let c = self.caches();
            for r in rows.iter_mut() {
                if r.kind != RoleKind::EntraRole || r.scope.kind == ScopeKind::Directory {
                    continue;
                }
                let k = (tl.clone(), r.scope.id.to_ascii_lowercase());
                if r.scope.display_name != r.scope.id {
                    continue;
                }
                if let Some(n) = c.scope_names.get(&k) {
                    r.scope.display_name = n.clone();
                } else if !missing.contains(&r.scope.id) {
                    missing.push(r.scope.id.clone());
                }
            }
        }
        // A scope whose object id is no path segment keeps its id as its name.
        missing.retain(|id| directory_scope_name_path(id).is_ok());
        if missing.is_empty() {
            return;
        }
        let urls = missing
            .iter()
            .filter_map(|id| directory_scope_name_path(id).ok())
            .collect();
        let names = self.batch_display_names(tid, urls).await;
        let mut c = self.caches();
        for (id, name) in missing.iter().zip(names) {
            let name = name.unwrap_or_else(|| id.clone());
            c.scope_names
                .insert((tl.clone(), id.to_ascii_lowercase()), name.clone());
            for r in rows.iter_mut().filter(|r| r.scope.id == *id) {
                r.scope.display_name = name.clone();
            }
        }
    }

    /// Fills the group-name cache for groups whose name did not come with the payload, with
    /// one `$batch` of `GET /groups/{id}`; failures leave the id as the name.
    pub(super) async fn resolve_group_names<'a>(
        &self,
        tid: &str,
        items: impl Iterator<Item = &'a GraphGroupInstance>,
    ) {
        let mut missing = Vec::new();
        {
            let mut c = self.caches();
            for i in items {
                let Some(gid) = i.group_id.as_ref() else {
                    continue;
                };
                let k = (tid.to_ascii_lowercase(), gid.to_ascii_lowercase());
                if let Some(n) = i.group.as_ref().and_then(|g| g.display_name.get()) {
                    c.group_names.insert(k, n);
                } else if !c.group_names.contains_key(&k) && !missing.contains(gid) {
                    missing.push(gid.clone());
                }
            }
        }
        // A group id that is no path segment keeps its id as its name.
        missing.retain(|gid| group_name_path(gid).is_ok());
        if missing.is_empty() {
            return;
        }
        let urls = missing
            .iter()
            .filter_map(|gid| group_name_path(gid).ok())
            .collect();
        let names = self.batch_display_names(tid, urls).await;
        let mut c = self.caches();
        for (gid, name) in missing.iter().zip(names) {
            c.group_names.insert(
                (tid.to_ascii_lowercase(), gid.to_ascii_lowercase()),
                name.unwrap_or_else(|| gid.clone()),
            );
        }
    }

    /// The `displayName` of each object at `urls` (Graph paths), read in one `$batch`, in
    /// order; `None` where the service gave none (then the caller shows the id).
    async fn batch_display_names(&self, tid: &str, urls: Vec<String>) -> Vec<Option<String>> {
        let items: Vec<BatchItem> = urls
            .iter()
            .enumerate()
            .map(|(n, url)| BatchItem::new(&format!("n{n}"), std::slice::from_ref(url)))
            .collect();
        let res = self.inner.graph.batch(tid, items).await;
        urls.iter()
            .enumerate()
            .map(|(n, url)| match res.get(&format!("n{n}")) {
                Some(Ok(ok)) => ok
                    .body
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                Some(Err(e)) => {
                    tracing::info!(%url, error = %e, "display name unavailable; showing the id");
                    None
                }
                None => None,
            })
            .collect()
    }
}

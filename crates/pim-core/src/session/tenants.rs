//! Tenant discovery (ARM `GET /tenants`, or the caller's known list re-checked in parallel
//! with the first load) and hidden tenants.

use super::Session;
use crate::model::{Tenant, TenantSnapshot};
use crate::{Error, Result};

impl Session {
    /// ARM `GET /tenants`, normalised (home first, no duplicates). `Ok(None)` when ARM could
    /// not list them for a reason other than sign-in or step-up.
    pub(super) async fn discover_tenants(&self) -> Result<Option<Vec<Tenant>>> {
        let home = self.inner.home.clone();
        let list: Vec<Tenant> = match self.inner.arm.tenants(&home).await {
            Ok(ts) => ts
                .into_iter()
                .filter_map(|t| {
                    let id = t.tenant_id.into_option()?;
                    let domains = t.domains.into_option().unwrap_or_default();
                    let domain = t
                        .default_domain
                        .into_option()
                        .or_else(|| domains.first().cloned());
                    Some(Tenant {
                        is_home: id.eq_ignore_ascii_case(&home),
                        display_name: t
                            .display_name
                            .into_option()
                            .or(domain.clone())
                            .unwrap_or_else(|| id.clone()),
                        default_domain: domain,
                        domains,
                        id,
                    })
                })
                .collect(),
            Err(e) if e.needs_user() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "could not list tenants; using the home tenant only");
                return Ok(None);
            }
        };
        Ok(Some(normalise_tenants(&home, list)))
    }

    /// Records the session's tenant list: the discovered one, else the known one, else the
    /// home tenant alone. Notes a discovered list that differs from the known one.
    pub(super) fn settle_tenants(&self, discovered: Option<Vec<Tenant>>) -> Vec<Tenant> {
        let mut c = self.caches();
        let known = c.known_tenants.take();
        let list = match discovered {
            Some(list) => {
                if known.as_ref() != Some(&list) {
                    c.tenants_changed = Some(list.clone());
                }
                list
            }
            None => known.unwrap_or_else(|| vec![Tenant::from_id(&self.inner.home, true)]),
        };
        c.tenants = Some(list.clone());
        list
    }

    /// Loads every tenant that is not hidden (in parallel): the known ones while the list is
    /// re-discovered on the first refresh with a known list, else those of
    /// [`Session::tenants`]. Each with the error that made it fail, if any.
    pub(super) async fn load_shown_tenants(&self) -> Result<Vec<(TenantSnapshot, Option<Error>)>> {
        match self.take_known_tenants() {
            Some(known) => self.load_known_tenants(known).await,
            None => {
                let tenants = self.tenants().await?;
                let futs = tenants
                    .iter()
                    .filter(|t| !self.is_hidden(&t.id))
                    .map(|t| self.load_tenant(t));
                Ok(futures::future::join_all(futs).await)
            }
        }
    }

    pub(super) fn is_hidden(&self, tenant_id: &str) -> bool {
        let id = tenant_id.to_ascii_lowercase();
        self.caches().hidden.contains(&id)
    }

    /// The hidden tenants of the settled tenant list (ids alone for hidden ids not in it are
    /// left out: a tenant that is gone is not reported).
    pub(super) fn hidden_of_list(&self) -> Vec<Tenant> {
        let c = self.caches();
        c.tenants
            .iter()
            .flatten()
            .filter(|t| c.hidden.contains(&t.id.to_ascii_lowercase()))
            .cloned()
            .collect()
    }

    /// The known tenants, when the tenant list is not settled yet (first refresh).
    fn take_known_tenants(&self) -> Option<Vec<Tenant>> {
        let c = self.caches();
        if c.tenants.is_some() {
            return None;
        }
        c.known_tenants.clone()
    }

    /// First refresh with a known tenant list: loads those tenants while re-discovering the
    /// list, then drops tenants that are gone and loads new ones (one more round trip, only
    /// then). Results follow the discovered list's order and names.
    async fn load_known_tenants(
        &self,
        known: Vec<Tenant>,
    ) -> Result<Vec<(TenantSnapshot, Option<Error>)>> {
        let loads = futures::future::join_all(
            known
                .iter()
                .filter(|t| !self.is_hidden(&t.id))
                .map(|t| self.load_tenant(t)),
        );
        let (discovered, mut loaded) = tokio::join!(self.discover_tenants(), loads);
        let list = self.settle_tenants(discovered?);
        let new: Vec<&Tenant> = list
            .iter()
            .filter(|t| !known.iter().any(|k| k.id.eq_ignore_ascii_case(&t.id)))
            .filter(|t| !self.is_hidden(&t.id))
            .collect();
        if !new.is_empty() {
            tracing::debug!(count = new.len(), "new tenants since the last run");
            loaded.extend(
                futures::future::join_all(new.into_iter().map(|t| self.load_tenant(t))).await,
            );
        }
        let mut results = Vec::with_capacity(list.len());
        for t in &list {
            let Some(i) = loaded
                .iter()
                .position(|(s, _)| s.tenant.id.eq_ignore_ascii_case(&t.id))
            else {
                continue;
            };
            let (mut snap, err) = loaded.swap_remove(i);
            if snap.tenant != *t {
                for r in &mut snap.roles {
                    r.tenant_name = t.display_name.clone();
                }
                snap.tenant = t.clone();
            }
            results.push((snap, err));
        }
        if !loaded.is_empty() {
            tracing::debug!(count = loaded.len(), "tenants gone since the last run");
        }
        Ok(results)
    }
}

/// The hidden tenant ids (lower case) after hiding the tenants `hide` and showing `show`
/// (ids, any case), starting from `hidden`. Ids of tenants that are not in `all` (gone) are
/// dropped. Refused with [`Error::InvalidInput`] when no tenant of `all` would stay shown.
pub fn hidden_tenants_after(
    all: &[Tenant],
    hidden: &[String],
    hide: &[String],
    show: &[String],
) -> Result<Vec<String>> {
    let has = |list: &[String], id: &str| list.iter().any(|h| h.trim().eq_ignore_ascii_case(id));
    let next: Vec<String> = all
        .iter()
        .map(|t| t.id.to_ascii_lowercase())
        .filter(|id| (has(hidden, id) || has(hide, id)) && !has(show, id))
        .collect();
    if !all.is_empty() && next.len() == all.len() {
        return Err(Error::InvalidInput(
            "at least one tenant must stay shown; hide fewer tenants, or sign the account out"
                .into(),
        ));
    }
    Ok(normalise_ids(next))
}

/// Tenant ids, trimmed, lower case, sorted, without blanks or duplicates (how hidden tenants
/// are stored and compared).
pub fn normalise_ids(ids: Vec<String>) -> Vec<String> {
    let mut ids: Vec<String> = ids
        .into_iter()
        .map(|i| i.trim().to_ascii_lowercase())
        .filter(|i| !i.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Home tenant first (added when missing), then by name; no duplicate ids; `is_home` set
/// from the home tenant id.
pub(super) fn normalise_tenants(home: &str, mut list: Vec<Tenant>) -> Vec<Tenant> {
    for t in &mut list {
        t.is_home = t.id.eq_ignore_ascii_case(home);
    }
    if !list.iter().any(|t| t.is_home) {
        list.push(Tenant::from_id(home, true));
    }
    list.sort_by_key(|t| (!t.is_home, t.display_name.to_lowercase()));
    list.dedup_by(|a, b| a.id.eq_ignore_ascii_case(&b.id));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_tenants_after_hides_shows_and_keeps_one_shown() {
        let all = vec![
            Tenant::from_id("AAAA", true),
            Tenant::from_id("bbbb", false),
            Tenant::from_id("cccc", false),
        ];
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        // Hiding: ids in any case, duplicates merged; a gone tenant's id is dropped.
        assert_eq!(
            hidden_tenants_after(&all, &s(&["gone", "BBBB"]), &s(&[" cccc ", "bbbb"]), &[])
                .unwrap(),
            s(&["bbbb", "cccc"])
        );
        // Showing wins over hiding the same tenant.
        assert_eq!(
            hidden_tenants_after(&all, &s(&["bbbb", "cccc"]), &[], &s(&["CCCC"])).unwrap(),
            s(&["bbbb"])
        );
        // The home tenant may be hidden, but not every tenant.
        assert_eq!(
            hidden_tenants_after(&all, &[], &s(&["aaaa"]), &[]).unwrap(),
            s(&["aaaa"])
        );
        let e = hidden_tenants_after(&all, &s(&["bbbb", "cccc"]), &s(&["aaaa"]), &[]).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(m) if m.contains("at least one tenant")));
        // An empty list (not discovered yet): nothing to refuse.
        assert_eq!(
            hidden_tenants_after(&[], &[], &s(&["x"]), &[]).unwrap(),
            Vec::<String>::new()
        );
    }
}

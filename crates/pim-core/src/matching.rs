//! Finding a role by what a person types: case-insensitive exact name, then a unique prefix,
//! then a unique substring; `scope` and `tenant` narrow the candidates; several matches give
//! [`Error::Ambiguous`] listing "Name — scope (tenant)".

use crate::model::{Role, Tenant};
use crate::{Error, Result};

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleQuery {
    /// Role, group or Azure role name (groups may add ` (member)` / ` (owner)` or ` member`).
    pub name: String,
    /// Scope display name or id.
    pub scope: Option<String>,
    /// Tenant name, domain or id.
    pub tenant: Option<String>,
}

impl RoleQuery {
    /// A query by name only.
    pub fn name(name: impl Into<String>) -> Self {
        RoleQuery {
            name: name.into(),
            ..Default::default()
        }
    }
}

fn norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn names(r: &Role) -> Vec<String> {
    let mut v = vec![norm(&r.name), norm(&r.label())];
    if let Some(a) = &r.access {
        v.push(norm(&format!("{} {}", r.name, a)));
    }
    v
}

/// Finds the one role `q` names among `roles`. When several match, `prefer` (e.g. "is
/// active" for deactivate) breaks the tie if it leaves exactly one.
pub fn find_role<'a>(
    roles: &[&'a Role],
    tenants: &[Tenant],
    q: &RoleQuery,
    prefer: &dyn Fn(&Role) -> bool,
) -> Result<&'a Role> {
    let want = norm(&q.name);
    if want.is_empty() {
        return Err(Error::InvalidInput("give a role name".into()));
    }
    if let Some(t) = &q.tenant {
        let t = t.trim();
        let known = tenants.iter().any(|x| x.matches(t))
            || roles.iter().any(|r| {
                r.tenant_id.eq_ignore_ascii_case(t) || r.tenant_name.eq_ignore_ascii_case(t)
            });
        if !known {
            return Err(unknown_tenant(t, tenants));
        }
    }
    let pool: Vec<&'a Role> = roles
        .iter()
        .copied()
        .filter(|r| match &q.tenant {
            None => true,
            Some(t) => {
                r.tenant_id.eq_ignore_ascii_case(t.trim())
                    || r.tenant_name.eq_ignore_ascii_case(t.trim())
                    || tenants
                        .iter()
                        .any(|x| x.id.eq_ignore_ascii_case(&r.tenant_id) && x.matches(t))
            }
        })
        .filter(|r| q.scope.as_deref().is_none_or(|s| r.scope.matches(s)))
        .collect();
    type Stage = fn(&str, &str) -> bool;
    let stages: [Stage; 3] = [|n, w| n == w, |n, w| n.starts_with(w), |n, w| n.contains(w)];
    for stage in stages {
        let hits: Vec<&'a Role> = pool
            .iter()
            .copied()
            .filter(|r| names(r).iter().any(|n| stage(n, &want)))
            .collect();
        match hits.len() {
            0 => continue,
            1 => return Ok(hits[0]),
            _ => {
                let preferred: Vec<&'a Role> = hits.iter().copied().filter(|r| prefer(r)).collect();
                if preferred.len() == 1 {
                    return Ok(preferred[0]);
                }
                return Err(Error::Ambiguous {
                    name: q.name.clone(),
                    candidates: hits.iter().map(|r| r.describe()).collect(),
                });
            }
        }
    }
    let mut hint = String::new();
    if q.scope.is_some() || q.tenant.is_some() {
        let any_name = roles
            .iter()
            .filter(|r| names(r).iter().any(|n| n.contains(&want)))
            .map(|r| r.describe())
            .take(5)
            .collect::<Vec<_>>();
        if !any_name.is_empty() {
            hint = format!(
                " with that scope/tenant; roles with that name:\n  {}",
                any_name.join("\n  ")
            );
        }
    }
    Err(Error::NotFound {
        name: q.name.clone(),
        hint,
    })
}

/// The tenants `q` names (display name, domain or id, case-insensitive; see
/// [`Tenant::matches`]), at least one. A name that matches no tenant is
/// [`Error::InvalidInput`] listing the tenants, so a mistyped `--tenant` is reported rather
/// than taken for "no roles there".
pub fn match_tenants<'a>(tenants: &'a [Tenant], q: &str) -> Result<Vec<&'a Tenant>> {
    let found: Vec<&'a Tenant> = tenants.iter().filter(|t| t.matches(q)).collect();
    if found.is_empty() {
        return Err(unknown_tenant(q.trim(), tenants));
    }
    Ok(found)
}

/// `Name (id), Name (id)` for messages.
pub fn describe_tenants<'a>(tenants: impl IntoIterator<Item = &'a Tenant>) -> String {
    let list: Vec<String> = tenants
        .into_iter()
        .map(|t| format!("{} ({})", t.display_name, t.id))
        .collect();
    if list.is_empty() {
        "no known tenants".into()
    } else {
        list.join(", ")
    }
}

fn unknown_tenant(q: &str, tenants: &[Tenant]) -> Error {
    Error::InvalidInput(format!(
        "no tenant `{q}` among {}",
        describe_tenants(tenants)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessId, RoleKind, RoleState, Scope, ScopeKind};
    use crate::testing::test_role;

    fn role(
        kind: RoleKind,
        name: &str,
        scope: &str,
        tenant: &str,
        access: Option<AccessId>,
    ) -> Role {
        Role {
            kind,
            tenant_id: format!("{tenant}-id"),
            tenant_name: tenant.into(),
            scope: Scope {
                id: format!("/{}", scope.to_lowercase()),
                display_name: scope.into(),
                kind: ScopeKind::Directory,
            },
            access,
            ..test_role(&name.to_lowercase(), name)
        }
    }

    fn fixture() -> Vec<Role> {
        vec![
            role(
                RoleKind::EntraRole,
                "Global Reader",
                "Directory",
                "Contoso",
                None,
            ),
            role(
                RoleKind::EntraRole,
                "Global Administrator",
                "Directory",
                "Contoso",
                None,
            ),
            role(
                RoleKind::EntraRole,
                "User Administrator",
                "Europe",
                "Contoso",
                None,
            ),
            role(
                RoleKind::EntraRole,
                "User Administrator",
                "Directory",
                "Fabrikam",
                None,
            ),
            role(
                RoleKind::Group,
                "SQL Prod Admins",
                "SQL Prod Admins",
                "Contoso",
                Some(AccessId::Member),
            ),
            role(
                RoleKind::Group,
                "SQL Prod Admins",
                "SQL Prod Admins",
                "Contoso",
                Some(AccessId::Owner),
            ),
            role(RoleKind::AzureResource, "Reader", "rg-web", "Contoso", None),
        ]
    }

    fn find(roles: &[Role], q: RoleQuery) -> Result<&Role> {
        let refs: Vec<&Role> = roles.iter().collect();
        let tenants = vec![Tenant {
            id: "Contoso-id".into(),
            display_name: "Contoso".into(),
            default_domain: Some("contoso.onmicrosoft.com".into()),
            domains: vec![],
            is_home: true,
        }];
        find_role(&refs, &tenants, &q, &|_| false)
    }

    #[test]
    fn exact_case_insensitive_then_prefix_then_contains() {
        let f = fixture();
        assert_eq!(
            find(&f, RoleQuery::name("global reader")).unwrap().name,
            "Global Reader"
        );
        assert_eq!(
            find(&f, RoleQuery::name("Global Adm")).unwrap().name,
            "Global Administrator"
        );
        assert_eq!(find(&f, RoleQuery::name("reader")).unwrap().name, "Reader");
        assert!(matches!(
            find(&f, RoleQuery::name("Global")),
            Err(Error::Ambiguous { .. })
        ));
        assert!(matches!(
            find(&f, RoleQuery::name("Nope")),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn ambiguity_lists_candidates_and_filters_resolve_it() {
        let f = fixture();
        let err = find(&f, RoleQuery::name("User Administrator")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("User Administrator — Europe (Contoso)"),
            "{text}"
        );
        assert!(text.contains("(Fabrikam)"), "{text}");
        let q = RoleQuery {
            scope: Some("europe".into()),
            ..RoleQuery::name("user administrator")
        };
        assert_eq!(find(&f, q).unwrap().tenant_name, "Contoso");
        let q = RoleQuery {
            tenant: Some("fabrikam".into()),
            ..RoleQuery::name("User Administrator")
        };
        assert_eq!(find(&f, q).unwrap().tenant_name, "Fabrikam");
        let q = RoleQuery {
            tenant: Some("contoso.onmicrosoft.com".into()),
            scope: Some("Europe".into()),
            ..RoleQuery::name("User Admin")
        };
        assert!(find(&f, q).is_ok());
    }

    #[test]
    fn unknown_tenant_is_invalid_input_listing_the_tenants() {
        let f = fixture();
        for t in ["..", ".", "Northwind", "-x"] {
            let q = RoleQuery {
                tenant: Some(t.into()),
                ..RoleQuery::name("User Administrator")
            };
            let err = find(&f, q).unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{t}: {err:?}");
            let text = err.to_string();
            assert!(
                text.contains(&format!("no tenant `{t}`")) && text.contains("Contoso (Contoso-id)"),
                "{text}"
            );
        }
        let tenants = vec![
            Tenant::from_id("aaaa", true),
            Tenant::from_id("bbbb", false),
        ];
        assert_eq!(match_tenants(&tenants, " BBBB ").unwrap().len(), 1);
        let err = match_tenants(&tenants, "..").unwrap_err();
        assert!(err.to_string().contains("aaaa"), "{err}");
        assert!(match_tenants(&[], "x").is_err());
    }

    #[test]
    fn groups_by_access() {
        let f = fixture();
        assert!(matches!(
            find(&f, RoleQuery::name("SQL Prod Admins")),
            Err(Error::Ambiguous { .. })
        ));
        let r = find(&f, RoleQuery::name("sql prod admins (owner)")).unwrap();
        assert_eq!(r.access, Some(AccessId::Owner));
        let r = find(&f, RoleQuery::name("SQL Prod Admins member")).unwrap();
        assert_eq!(r.access, Some(AccessId::Member));
    }

    #[test]
    fn preference_breaks_ties() {
        let mut f = fixture();
        f[5].state = RoleState::Active;
        let refs: Vec<&Role> = f.iter().collect();
        let r = find_role(&refs, &[], &RoleQuery::name("SQL Prod Admins"), &|r| {
            r.state == RoleState::Active
        })
        .unwrap();
        assert_eq!(r.access, Some(AccessId::Owner));
    }
}

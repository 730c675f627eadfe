//! What a command names: the role (`NAME`, `--scope`, `--tenant`) in the account's latest
//! snapshot, and the tenants `--tenant` names.

use pim_accounts::OpenAccount;
use pim_core::{Error, Role, RoleQuery, Session, Tenant};

use crate::cli::Target;

/// Refreshes the account, then finds the role `t` names ([`resolve`]).
pub async fn find(
    open: &OpenAccount,
    cli_tenant: &Option<String>,
    t: &Target,
    prefer: &dyn Fn(&Role) -> bool,
) -> pim_core::Result<Role> {
    open.refresh().await?;
    resolve(open, cli_tenant, t, prefer).await
}

/// The role `t` names in the latest snapshot (`--tenant`, `--scope`; `prefer` breaks ties);
/// a name not found says which hidden tenants were not searched.
pub async fn resolve(
    open: &OpenAccount,
    cli_tenant: &Option<String>,
    t: &Target,
    prefer: &dyn Fn(&Role) -> bool,
) -> pim_core::Result<Role> {
    let session = open.session();
    let found = session
        .find(
            &RoleQuery {
                name: t.name.clone(),
                scope: t.scope.clone(),
                tenant: cli_tenant.clone(),
            },
            prefer,
        )
        .await;
    match found {
        // Say which tenants were not searched, and how to reach them.
        Err(Error::NotFound { name, hint }) if !session.snapshot().hidden.is_empty() => {
            let hidden: Vec<String> = session
                .snapshot()
                .hidden
                .iter()
                .map(|t| t.display_name.clone())
                .collect();
            Err(Error::NotFound {
                name,
                hint: format!(
                    "{hint} (hidden tenants were not searched: {}; add --tenant NAME, or `pim tenants show \
                     NAME`)",
                    hidden.join(", ")
                ),
            })
        }
        other => other,
    }
}

/// The tenants a command reads: those `--tenant NAME` names, hidden or not ([`open_account`](crate::ctx::open_account)
/// reads them all then), or `None` without `--tenant`: every shown tenant. A name that matches
/// no tenant of the account (after a refresh the list is known without another request) is a
/// usage error listing the tenants, not an empty list.
pub async fn named_tenants(
    session: &Session,
    q: &Option<String>,
) -> pim_core::Result<Option<Vec<Tenant>>> {
    let Some(q) = q else { return Ok(None) };
    let all = session.tenants().await?;
    Ok(Some(
        pim_core::match_tenants(&all, q)?
            .into_iter()
            .cloned()
            .collect(),
    ))
}

/// Whether `r` is in a tenant `--tenant` names (any role without `--tenant`).
pub fn tenant_ok(snap: &pim_core::Snapshot, r: &Role, q: &Option<String>) -> bool {
    match q {
        None => true,
        Some(q) => snap
            .tenants
            .iter()
            .any(|t| t.tenant.id.eq_ignore_ascii_case(&r.tenant_id) && t.tenant.matches(q)),
    }
}

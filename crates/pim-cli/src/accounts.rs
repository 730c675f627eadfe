//! The account commands: `pim login`, `pim logout`, `pim accounts` (and `use`), `pim tenants`
//! (and `hide`, `show`).

use std::sync::Arc;

use pim_auth::{Account, CredentialKind, DeviceCodeOptions, LoginOptions};
use pim_core::Error;
use pim_core::config::Cloud;

use crate::cli::{AccountsAction, TenantsAction};
use crate::ctx::{Ctx, open_account, pick};
use crate::output::Out;

/// `pim login`: signs in (the browser, a device code or the Azure CLI's sign-in) in `cloud`
/// (default: PIM_CLOUD, else public) and `tenant` (default: the home tenant).
pub async fn login(
    ctx: &Ctx,
    tenant: &Option<String>,
    device_code: bool,
    azure_cli: bool,
    cloud: Option<Cloud>,
) -> pim_core::Result<()> {
    let auth = ctx.login_auth(cloud)?;
    let account = if azure_cli {
        auth.login_azure_cli(tenant.clone()).await?
    } else if device_code {
        auth.login_device_code(DeviceCodeOptions {
            tenant: tenant.clone(),
            on_prompt: Some(Arc::new(|p: &pim_auth::DeviceCodePrompt| {
                errln!("{}", p.message)
            })),
            ..Default::default()
        })
        .await?
    } else {
        auth.login_interactive(LoginOptions {
            tenant: tenant.clone(),
            ..Default::default()
        })
        .await?
    };
    outln!(
        "Signed in as {} ({}), tenant {}{}.",
        account.name,
        account.upn,
        account.home_tenant_id,
        match account.kind {
            CredentialKind::AzureCli => " through the Azure CLI (Azure resource roles only)",
            _ => "",
        }
    );
    Ok(())
}

/// `pim logout`: every account (`all`), else the one named (`account`, then `--account`), else
/// the default one.
pub async fn logout(
    ctx: &Ctx,
    account: Option<String>,
    cli_account: &Option<String>,
    all: bool,
) -> pim_core::Result<()> {
    let gone = if all {
        ctx.accounts()?.accounts
    } else {
        match account.or(cli_account.clone()) {
            Some(q) => vec![pick(&ctx.accounts()?, &q)?],
            None => ctx
                .accounts()?
                .default_account(|_| true)
                .cloned()
                .into_iter()
                .collect(),
        }
    };
    sign_out(ctx, gone).await
}

async fn sign_out(ctx: &Ctx, accounts: Vec<Account>) -> pim_core::Result<()> {
    if accounts.is_empty() {
        outln!("Nobody was signed in.");
        return Ok(());
    }
    for a in accounts {
        ctx.accounts.auth_for(&a)?.logout(&a).await?;
        outln!("Signed out {}.", a.upn);
    }
    Ok(())
}

/// `pim accounts`: lists the accounts (the default marked), or makes one the default.
pub fn accounts(
    ctx: &Ctx,
    json: bool,
    action: Option<AccountsAction>,
    out: &Out,
) -> pim_core::Result<()> {
    if let Some(AccountsAction::Use { account }) = action {
        let a = pick(&ctx.accounts()?, &account)?;
        let key = a.key();
        ctx.store.update(|f| f.default_account = Some(key))?;
        outln!("{} is now the default account.", a.upn);
        return Ok(());
    }
    let file = ctx.accounts()?;
    let default = file.default_account(|_| true).map(Account::key);
    out.accounts(&file.accounts, default.as_deref(), json);
    Ok(())
}

/// `pim tenants`: lists the tenants the account reaches (those `--tenant` names), or hides
/// and shows some.
pub async fn tenants(
    ctx: &Ctx,
    cli_account: &Option<String>,
    cli_tenant: &Option<String>,
    json: bool,
    action: Option<TenantsAction>,
    out: &Out,
) -> pim_core::Result<()> {
    let mut open = open_account(ctx, cli_account, &None)?;
    let all = open.session().tenants().await?;
    if let Some(action) = action {
        let (hide, show) = hide_and_show(&all, &action)?;
        open.set_tenants_shown(&hide, &show).await?;
        let saved = open.account();
        out.tenants(saved, &all, &saved.hidden_tenants, json);
        return Ok(());
    }
    let account = open.account();
    let tenants: Vec<pim_core::Tenant> = match cli_tenant {
        Some(q) => pim_core::match_tenants(&all, q)?
            .into_iter()
            .cloned()
            .collect(),
        None => all,
    };
    out.tenants(account, &tenants, &account.hidden_tenants, json);
    Ok(())
}

/// The tenant ids `action` hides and shows. Names are matched like `--tenant` (name, domain
/// or id); a name that matches no tenant or several is refused.
fn hide_and_show(
    all: &[pim_core::Tenant],
    action: &TenantsAction,
) -> pim_core::Result<(Vec<String>, Vec<String>)> {
    let resolve = |qs: &[String]| -> pim_core::Result<Vec<String>> {
        qs.iter()
            .map(|q| match pim_core::match_tenants(all, q)?.as_slice() {
                [t] => Ok(t.id.clone()),
                several => Err(Error::InvalidInput(format!(
                    "several tenants match `{}`: {}; use the id",
                    q.trim(),
                    pim_core::matching::describe_tenants(several.iter().copied())
                ))),
            })
            .collect()
    };
    Ok(match action {
        TenantsAction::Hide { tenants } => (resolve(tenants)?, Vec::new()),
        TenantsAction::Show { all: true, .. } => {
            (Vec::new(), all.iter().map(|t| t.id.clone()).collect())
        }
        TenantsAction::Show { tenants, .. } => (Vec::new(), resolve(tenants)?),
    })
}

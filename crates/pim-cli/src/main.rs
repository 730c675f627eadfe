//! `pim`: command-line client for Microsoft Entra ID Privileged Identity Management.
//!
//! The second client of pim-core (after the tray): every command is one `Session` call plus
//! formatting. Exit codes: 0 done, 2 usage (bad arguments, unknown or ambiguous role name),
//! 3 refused by policy or validation, 4 sign-in or step-up needed and not completed,
//! 1 anything else. `--json` prints only JSON on stdout; logs go to stderr (`RUST_LOG`).

#![cfg_attr(test, allow(clippy::unwrap_used))]

#[macro_use]
mod output;
mod activate;
mod approvals;
mod bundle;
mod history;

use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use clap::{Args, Parser, Subcommand};
use pim_accounts::{Accounts, OpenAccount, Tenants};
use pim_auth::accounts::{AccountStore, AccountsFile};
use pim_auth::{Account, Auth, AuthOptions, CredentialKind, DeviceCodeOptions, LoginOptions};
use pim_core::config::{Cloud, Env, ProcessEnv};
use pim_core::token::Resource;
use pim_core::{
    ActivationRequest, Decision, Error, PimDuration, Role, RoleQuery, RoleState, Session, Snapshot,
    StepUpHook, Tenant, Ticket,
};
use time::{OffsetDateTime, UtcOffset};

use crate::output::Out;

#[derive(Debug, Parser)]
#[command(
    name = "pim",
    version,
    about = "Activate Microsoft Entra ID PIM roles, groups and Azure roles from the command line",
    after_help = "Exit codes: 0 done, 2 usage, 3 refused by policy or validation, 4 sign-in or step-up needed, 1 other errors.\nEnvironment: PIM_CLOUD, PIM_CLIENT_ID, PIM_CONFIG_DIR, PIM_AUTHORITY_HOST, PIM_GRAPH_ENDPOINT, PIM_ARM_ENDPOINT (read at `pim login` and stored with the account), BROWSER, RUST_LOG."
)]
struct Cli {
    /// Tenant to work in: name, domain or id (default: all tenants; for login: your home tenant).
    #[arg(long, global = true)]
    tenant: Option<String>,
    /// Account to use: its user name or its number in `pim accounts` (default: the default
    /// account).
    #[arg(long, global = true, value_name = "UPN")]
    account: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add an account: sign in with the browser (or a device code) and keep the sign-in in the
    /// OS keychain, or use the Azure CLI's sign-in. The new account becomes the default.
    Login {
        /// Use the device-code flow instead of a browser on this machine (no browser, SSH).
        #[arg(long, conflicts_with = "azure_cli")]
        device_code: bool,
        /// Use the Azure CLI's sign-in (`az login` first): Azure resource roles only.
        #[arg(long)]
        azure_cli: bool,
        /// Cloud of the account: public, usgov or china (default: PIM_CLOUD, else public).
        #[arg(long, value_parser = parse_cloud)]
        cloud: Option<Cloud>,
    },
    /// Sign out one account (by user name or number; default: the selected account) or all.
    Logout {
        /// User name or number in `pim accounts`.
        account: Option<String>,
        /// Sign out every account.
        #[arg(long, conflicts_with = "account")]
        all: bool,
    },
    /// List the accounts (the default is marked), or switch the default.
    Accounts {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<AccountsAction>,
    },
    /// List the tenants the account can reach (from Azure Resource Manager), or choose which
    /// of them the CLI and the tray show.
    Tenants {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<TenantsAction>,
    },
    /// List eligible and active roles, groups and Azure roles in every tenant.
    Roles {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Who is signed in, tenants, active roles with time left, pending requests.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Activate a role (or group membership/ownership, or Azure role), or several with one
    /// request: each is checked against its own policy before anything is sent.
    Activate(activate::ActivateArgs),
    /// Named sets of roles to activate together (`pim activate --bundle NAME`).
    Bundle {
        #[command(subcommand)]
        action: bundle::BundleAction,
    },
    /// Deactivate an activated role.
    Deactivate {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Get more time on an active role (re-activates it for the duration).
    Extend {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        request: RequestArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a request waiting for approval (or scheduled).
    Cancel {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what activating a role requires.
    Policy {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Your past PIM requests (activations, deactivations, extensions, denials,
    /// cancellations) in every tenant, newest first.
    History(history::HistoryArgs),
    /// Other users' requests waiting for your approval, in every tenant.
    Approvals {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a request `pim approvals` lists (your stage of it).
    Approve(approvals::DecideArgs),
    /// Deny a request `pim approvals` lists (--reason is required).
    Deny(approvals::DecideArgs),
}

#[derive(Debug, Subcommand)]
enum AccountsAction {
    /// Make an account the default (user name or number in `pim accounts`).
    Use {
        /// User name or number.
        account: String,
    },
}

#[derive(Debug, Subcommand)]
enum TenantsAction {
    /// Stop showing tenants (name, domain or id): their roles are no longer read or listed,
    /// here and in the tray. `--tenant NAME` still reaches a hidden tenant.
    Hide {
        /// Tenant names, domains or ids.
        #[arg(required = true)]
        tenants: Vec<String>,
    },
    /// Show hidden tenants again (or all of them with --all).
    Show {
        /// Tenant names, domains or ids.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        tenants: Vec<String>,
        /// Show every tenant.
        #[arg(long)]
        all: bool,
    },
}

fn parse_cloud(s: &str) -> Result<Cloud, String> {
    Cloud::parse(s).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
struct Target {
    /// Role, group or Azure role name (case-insensitive; a unique prefix is enough).
    name: String,
    /// Scope name or id (administrative unit, group, subscription, resource group).
    #[arg(long)]
    scope: Option<String>,
}

#[derive(Debug, Args)]
struct RequestArgs {
    /// Justification (required by most policies).
    #[arg(long, visible_alias = "justification", value_name = "TEXT")]
    reason: Option<String>,
    /// Ticket number (with --ticket-system).
    #[arg(long, value_name = "N")]
    ticket: Option<String>,
    /// Ticket system, e.g. ServiceNow.
    #[arg(long, value_name = "S")]
    ticket_system: Option<String>,
    /// How long: 1h, 90m, 1h30m, PT2H. Default: the policy maximum capped at 1h.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<PimDuration>,
}

fn parse_duration(s: &str) -> Result<PimDuration, String> {
    PimDuration::parse(s).map_err(|e| e.to_string())
}

impl RequestArgs {
    fn to_request(&self) -> ActivationRequest {
        let ticket = match (&self.ticket, &self.ticket_system) {
            (None, None) => None,
            (n, s) => Some(Ticket {
                number: n.clone().unwrap_or_default(),
                system: s.clone().unwrap_or_default(),
            }),
        };
        ActivationRequest {
            justification: self.reason.clone(),
            ticket,
            duration: self.duration,
            start: None,
        }
    }
}

/// Exit code for an error (see the crate docs).
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::PolicyViolation { .. }
        | Error::TooEarly { .. }
        | Error::InvalidState { .. }
        | Error::NotEligible { .. } => 3,
        Error::SignInRequired { .. }
        | Error::AzureCliSignInRequired { .. }
        | Error::StepUpRequired { .. }
        | Error::BrowserUnavailable { .. } => 4,
        Error::InvalidInput(_) | Error::Ambiguous { .. } | Error::NotFound { .. } => 2,
        _ => 1,
    }
}

/// CLI advice appended to core messages.
fn cli_hint(e: &Error) -> Option<String> {
    match e {
        Error::PolicyViolation { rules, .. } => {
            let mut h = Vec::new();
            for r in rules {
                match r.as_str() {
                    "JustificationRule" | "ApproverJustificationRule" => {
                        h.push("add --reason TEXT")
                    }
                    "TicketingRule" => h.push("add --ticket N --ticket-system S"),
                    "ExpirationRule" | "ActiveDurationTooShort" => {
                        h.push("choose another --duration (see `pim policy NAME`)")
                    }
                    _ => {}
                }
            }
            (!h.is_empty()).then(|| h.join("; "))
        }
        Error::StepUpRequired { .. } => Some(
            "run the command where a browser can open (set BROWSER if needed), or `pim login` again".into(),
        ),
        // The core's messages name no front end; the CLI's own advice is added here, once.
        Error::SignInRequired { .. } => Some("run `pim login`".into()),
        Error::Ambiguous { .. } => Some("add --scope or --tenant (see `pim roles`)".into()),
        Error::NotFound { .. } => Some("`pim roles` lists the names".into()),
        _ => None,
    }
}

fn main() -> ExitCode {
    // The local offset must be read while the process is single-threaded.
    let local = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let out = Out { local };
    match rt.block_on(run(cli, &out)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            errln!("error: {e}");
            if let Some(h) = cli_hint(&e) {
                errln!("hint: {h}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // `RUST_LOG` as `target=level` directives and a bare level (`Targets`: no regex engine
    // linked for span or field directives); unset, empty or not understood: the default.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            Targets::new()
                .with_target("pim", LevelFilter::WARN)
                .with_target("pim_auth", LevelFilter::WARN)
                .with_target("pim_core", LevelFilter::ERROR)
        });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .try_init();
}

/// Per-process context: the options from the environment (one keychain store for all
/// accounts), the accounts file, and every `Auth` made (flushed before exiting).
struct Ctx {
    accounts: Accounts,
    store: AccountStore,
}

impl Ctx {
    fn new() -> pim_core::Result<Ctx> {
        let env: Arc<dyn Env> = Arc::new(ProcessEnv);
        let mut base = AuthOptions::from_env(env)?;
        base.on_url = Some(Arc::new(|url: &str| {
            errln!("Opening the sign-in page. If no browser opens, visit:\n  {url}");
        }));
        base.allow_interactive = true;
        if let Some(w) = &base.keychain_warning {
            errln!("warning: {w}");
        }
        // Printed once above; the `Auth`s made below must not log it again.
        base.keychain_warning = None;
        let store = AccountStore::new(base.config_dir.clone());
        let accounts = Accounts::new(base)?.with_step_up(Arc::new(|_: &Account, _: &Auth| {
            Arc::new(BrowserStepUp) as Arc<dyn StepUpHook>
        }));
        Ok(Ctx { accounts, store })
    }

    /// An `Auth` for new sign-ins in `cloud` (its hosts, overridden by PIM_* as always).
    fn login_auth(&self, cloud: Option<Cloud>) -> pim_core::Result<Auth> {
        match cloud {
            Some(c) => self.accounts.auth_with(
                pim_accounts::endpoints_in(c, &ProcessEnv)?,
                &self.accounts.options().client_id,
            ),
            None => Ok(self.accounts.auth().clone()),
        }
    }

    fn accounts(&self) -> pim_core::Result<AccountsFile> {
        self.store.load()
    }

    /// The account named by `--account` (user name or number), else the default one.
    fn select(&self, which: &Option<String>) -> pim_core::Result<Account> {
        let file = self.accounts()?;
        match which {
            Some(q) => pick(&file, q),
            None => file
                .default_account(|_| true)
                .cloned()
                .ok_or_else(|| Error::SignInRequired {
                    reason: "nobody is signed in".into(),
                }),
        }
    }
}

/// An account by user name (case-insensitive) or by its number (1-based, `pim accounts` order).
fn pick(file: &AccountsFile, q: &str) -> pim_core::Result<Account> {
    if let Ok(n) = q.trim().parse::<usize>() {
        return n
            .checked_sub(1)
            .and_then(|i| file.accounts.get(i))
            .cloned()
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "there is no account number {n}; see `pim accounts`"
                ))
            });
    }
    let found: Vec<&Account> = file
        .accounts
        .iter()
        .filter(|a| a.upn.eq_ignore_ascii_case(q.trim()))
        .collect();
    match found.as_slice() {
        [a] => Ok((*a).clone()),
        [] => Err(Error::InvalidInput(format!(
            "no account `{q}`; see `pim accounts`"
        ))),
        _ => Err(Error::InvalidInput(format!(
            "several accounts are `{q}` (other clouds or sign-in kinds); use the number from `pim accounts`"
        ))),
    }
}

/// Lets the session retry a write with claims; the token source (interactive allowed) then
/// opens the browser for the step-up.
#[derive(Debug)]
struct BrowserStepUp;

#[async_trait]
impl StepUpHook for BrowserStepUp {
    async fn step_up(
        &self,
        _tenant_id: &str,
        resource: Resource,
        _claims: &str,
    ) -> pim_core::Result<()> {
        errln!("{resource} asks for additional verification; opening the browser…");
        Ok(())
    }
}

/// The selected account, open, starting from the cached tenant list (if any) so the first
/// refresh reads every tenant at once. The account's hidden tenants are not read, unless
/// `--tenant` names a tenant explicitly.
fn open_account(
    ctx: &Ctx,
    which: &Option<String>,
    tenant: &Option<String>,
) -> pim_core::Result<OpenAccount> {
    let account = ctx.select(which)?;
    let tenants = match tenant {
        None => Tenants::Shown,
        Some(_) => Tenants::All,
    };
    ctx.accounts.open(account, tenants)
}

/// For an Azure CLI account whose Graph reads were refused: which app registration is needed.
fn azure_cli_note(open: &OpenAccount, snap: &Snapshot) {
    if open.is_azure_cli() && pim_accounts::graph_unreadable(snap) {
        errln!(
            "note: {} signs in through the Azure CLI, whose app registration has no Microsoft Graph \
             PIM permissions, so only Azure resource roles are listed. For Entra roles and groups, \
             sign in with an app registration that has the delegated Graph PIM permissions \
             (README, App registration; PIM_CLIENT_ID): `pim login`.",
            open.account().upn
        );
    }
}

/// Refreshes the account, then finds the role `t` names ([`resolve`]).
async fn find(
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
async fn resolve(
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

async fn run(cli: Cli, out: &Out) -> pim_core::Result<u8> {
    let ctx = Ctx::new()?;
    let result = command(cli, out, &ctx).await;
    // Refreshes save rotated refresh tokens in the background: wait for them before exiting.
    ctx.accounts.flush().await;
    result
}

async fn logout(ctx: &Ctx, accounts: Vec<Account>) -> pim_core::Result<()> {
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

/// Runs the command; returns the exit code (errors are printed by `main`).
async fn command(cli: Cli, out: &Out, ctx: &Ctx) -> pim_core::Result<u8> {
    let done: pim_core::Result<()> = match cli.command {
        Command::Activate(args) => {
            return activate::run(ctx, &cli.account, &cli.tenant, args, out).await;
        }
        Command::Bundle { action } => {
            bundle::run(ctx, &cli.account, &cli.tenant, action, out).await
        }
        Command::Login {
            device_code,
            azure_cli,
            cloud,
        } => {
            let auth = ctx.login_auth(cloud)?;
            let account = if azure_cli {
                auth.login_azure_cli(cli.tenant.clone()).await?
            } else if device_code {
                auth.login_device_code(DeviceCodeOptions {
                    tenant: cli.tenant.clone(),
                    on_prompt: Some(Arc::new(|p: &pim_auth::DeviceCodePrompt| {
                        errln!("{}", p.message)
                    })),
                    ..Default::default()
                })
                .await?
            } else {
                auth.login_interactive(LoginOptions {
                    tenant: cli.tenant.clone(),
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
                    CredentialKind::AzureCli =>
                        " through the Azure CLI (Azure resource roles only)",
                    _ => "",
                }
            );
            Ok(())
        }
        Command::Logout { account, all } => {
            let gone = if all {
                ctx.accounts()?.accounts
            } else {
                match account.or(cli.account.clone()) {
                    Some(q) => vec![pick(&ctx.accounts()?, &q)?],
                    None => ctx
                        .accounts()?
                        .default_account(|_| true)
                        .cloned()
                        .into_iter()
                        .collect(),
                }
            };
            logout(ctx, gone).await
        }
        Command::Accounts { json, action } => {
            if let Some(AccountsAction::Use { account }) = action {
                let a = pick(&ctx.accounts()?, &account)?;
                let key = a.key();
                ctx.store.update(|f| f.default_account = Some(key))?;
                outln!("{} is now the default account.", a.upn);
                return Ok(0);
            }
            let file = ctx.accounts()?;
            let default = file.default_account(|_| true).map(Account::key);
            out.accounts(&file.accounts, default.as_deref(), json);
            Ok(())
        }
        Command::Tenants { json, action } => {
            let mut open = open_account(ctx, &cli.account, &None)?;
            let all = open.session().tenants().await?;
            if let Some(action) = action {
                let (hide, show) = hide_and_show(&all, &action)?;
                open.set_tenants_shown(&hide, &show).await?;
                let saved = open.account();
                out.tenants(saved, &all, &saved.hidden_tenants, json);
                return Ok(0);
            }
            let account = open.account();
            let tenants: Vec<pim_core::Tenant> = match &cli.tenant {
                Some(q) => pim_core::match_tenants(&all, q)?
                    .into_iter()
                    .cloned()
                    .collect(),
                None => all,
            };
            out.tenants(account, &tenants, &account.hidden_tenants, json);
            Ok(())
        }
        Command::Roles { json } => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = open.session();
            // Policies of groups and Azure roles are read lazily (`pim policy NAME`).
            let snap = open.refresh().await?;
            // A `--tenant` that names no tenant is a usage error; the roles are filtered below.
            named_tenants(s, &cli.tenant).await?;
            let roles: Vec<&Role> = snap
                .roles()
                .filter(|r| tenant_ok(&snap, r, &cli.tenant))
                .collect();
            if json {
                out.print_json(&roles.iter().map(|r| out.role_json(r)).collect::<Vec<_>>());
            } else {
                Out::warnings(&snap.tenants);
                azure_cli_note(&open, &snap);
                out.roles_table(&roles, s.now());
            }
            Ok(())
        }
        Command::Status { json } => {
            let accounts = ctx.accounts()?.accounts;
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = open.session();
            let snap = open.refresh().await?;
            // A `--tenant` that names no tenant is a usage error; `status` filters the roles.
            named_tenants(s, &cli.tenant).await?;
            out.status(open.account(), &accounts, &snap, &cli.tenant, s.now(), json);
            Ok(())
        }
        Command::Deactivate { target, json } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|r| {
                r.assignment.as_ref().is_some_and(|a| a.is_activation())
            })
            .await?;
            let outcome = s.deactivate(&role).await?;
            out.outcome(&role, &outcome, s.now(), json);
            Ok(())
        }
        Command::Extend {
            target,
            request,
            json,
        } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|r| r.state == RoleState::Active).await?;
            let outcome = s.extend(&role, request.to_request()).await?;
            out.outcome(&role, &outcome, s.now(), json);
            Ok(())
        }
        Command::Cancel { target, json } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|r| {
                matches!(r.state, RoleState::Pending | RoleState::Scheduled)
            })
            .await?;
            let outcome = s.cancel(&role).await?;
            out.outcome(&role, &outcome, s.now(), json);
            Ok(())
        }
        Command::Policy { target, json } => {
            let se = open_account(ctx, &cli.account, &cli.tenant)?;
            let s = se.session();
            let role = find(&se, &cli.tenant, &target, &|_| false).await?;
            let mut role = role;
            role.policy = s.policy(&role).await;
            out.policy(&role, &role.policy, json);
            Ok(())
        }
        Command::History(args) => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            history::run(&open, &cli.tenant, &args, out).await
        }
        Command::Approvals { json } => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            approvals::list(&open, &cli.tenant, json, out).await
        }
        Command::Approve(a) => {
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            approvals::decide(&open, &a, Decision::Approve, out).await
        }
        Command::Deny(a) => {
            approvals::deny_needs_reason(&a.reason)?; // nothing is read or sent without one
            let open = open_account(ctx, &cli.account, &cli.tenant)?;
            approvals::decide(&open, &a, Decision::Deny, out).await
        }
    };
    done.map(|()| 0)
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

/// The tenants a command reads: those `--tenant NAME` names, hidden or not ([`open_account`]
/// reads them all then), or `None` without `--tenant`: every shown tenant. A name that matches
/// no tenant of the account (after a refresh the list is known without another request) is a
/// usage error listing the tenants, not an empty list.
async fn named_tenants(
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
fn tenant_ok(snap: &pim_core::Snapshot, r: &Role, q: &Option<String>) -> bool {
    match q {
        None => true,
        Some(q) => snap
            .tenants
            .iter()
            .any(|t| t.tenant.id.eq_ignore_ascii_case(&r.tenant_id) && t.tenant.matches(q)),
    }
}

/// `--start`: RFC 3339, or local `HH:MM` (today; tomorrow if already past) or
/// `YYYY-MM-DD HH:MM`.
fn parse_start(s: &str, local: UtcOffset) -> pim_core::Result<OffsetDateTime> {
    let s = s.trim();
    if let Some(t) = pim_core::wire::parse_datetime(s)
        && (s.ends_with('Z')
            || s.ends_with('z')
            || s.contains('+')
            || s.rfind('-').is_some_and(|i| i > 10))
    {
        return Ok(t);
    }
    let bad = || {
        Error::InvalidInput(format!(
            "`{s}` is not a start time; use RFC 3339 (2026-08-21T08:00:00Z), HH:MM or YYYY-MM-DD HH:MM (local time)"
        ))
    };
    let hm = time::macros::format_description!("[hour]:[minute]");
    let full = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let full_t = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let now_utc = OffsetDateTime::now_utc();
    let now_local = now_utc.checked_to_offset(local).unwrap_or(now_utc);
    if let Ok(t) = time::Time::parse(s, &hm) {
        let mut dt = now_local.date().with_time(t).assume_offset(local);
        if dt < now_local.saturating_sub(time::Duration::minutes(1)) {
            dt = dt.checked_add(time::Duration::days(1)).ok_or_else(bad)?;
        }
        return dt.checked_to_offset(UtcOffset::UTC).ok_or_else(bad);
    }
    for f in [full, full_t] {
        if let Ok(dt) = time::PrimitiveDateTime::parse(s, &f) {
            // 9999-12-31 23:59 at a western offset has no UTC equivalent.
            return dt
                .assume_offset(local)
                .checked_to_offset(UtcOffset::UTC)
                .ok_or_else(bad);
        }
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_adds_its_own_advice_once() {
        let e = Error::SignInRequired {
            reason: "nobody is signed in".into(),
        };
        let text = format!("{e} {}", cli_hint(&e).unwrap_or_default());
        assert_eq!(text.matches("pim login").count(), 1, "{text}");
        assert!(!text.contains("tray"), "{text}");
        let e = Error::Ambiguous {
            name: "reader".into(),
            candidates: vec!["Global Reader".into(), "Security Reader".into()],
        };
        assert!(
            !e.to_string().contains("--scope"),
            "core names no option: {e}"
        );
        assert!(cli_hint(&e).is_some_and(|h| h.contains("--scope")));
    }

    #[test]
    fn start_times() {
        let t = parse_start("2026-08-21T08:00:00Z", UtcOffset::UTC).unwrap();
        assert_eq!(t.hour(), 8);
        let t = parse_start("2026-08-21 10:30", UtcOffset::from_hms(2, 0, 0).unwrap()).unwrap();
        assert_eq!((t.hour(), t.minute()), (8, 30));
        let t = parse_start("23:59", UtcOffset::UTC).unwrap();
        assert_eq!(t.minute(), 59);
        assert!(parse_start("soon", UtcOffset::UTC).is_err());
    }

    #[test]
    fn start_times_with_multibyte_characters_are_refused() {
        for s in ["€abcde", "2026-08-21T08:00:00€", "€€:€€"] {
            let e = parse_start(s, UtcOffset::UTC).unwrap_err();
            assert_eq!(exit_code(&e), 2, "{s}: {e}");
        }
    }

    #[test]
    fn huge_durations_are_usage_errors() {
        for d in [
            "999999999999999999",
            "999999999999h",
            "P3000000D",
            "18446744073709551615m",
        ] {
            let e = Cli::try_parse_from(["pim", "activate", "x", "--duration", d]).unwrap_err();
            // clap's usage errors exit with 2, like ours.
            assert_eq!(e.exit_code(), 2, "{d}");
            assert!(e.to_string().contains("duration"), "{d}: {e}");
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            exit_code(&Error::PolicyViolation {
                rules: vec![],
                message: String::new()
            }),
            3
        );
        assert_eq!(
            exit_code(&Error::SignInRequired {
                reason: String::new()
            }),
            4
        );
        assert_eq!(exit_code(&Error::Transport(String::new())), 1);
        assert_eq!(
            exit_code(&Error::Ambiguous {
                name: String::new(),
                candidates: vec![]
            }),
            2
        );
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "pim",
            "activate",
            "Global Reader",
            "--reason",
            "x",
            "--duration",
            "1h30m",
            "--tenant",
            "contoso",
        ])
        .unwrap();
        assert_eq!(c.tenant.as_deref(), Some("contoso"));
        assert!(Cli::try_parse_from(["pim", "activate", "x", "--duration", "soon"]).is_err());
    }
}

//! One open account: its session, the tenant cache it keeps current, its hidden tenants.

use pim_auth::{Account, Auth, CredentialKind, TenantCache};
use pim_core::{Error, Result, Session, Snapshot, Tenant, Warning};

/// An account with its session open (cheap to clone: the session is shared).
#[derive(Debug, Clone)]
pub struct OpenAccount {
    account: Account,
    auth: Auth,
    session: Session,
    cache: TenantCache,
}

impl AsRef<OpenAccount> for OpenAccount {
    fn as_ref(&self) -> &OpenAccount {
        self
    }
}

impl OpenAccount {
    pub(crate) fn new(
        account: Account,
        auth: Auth,
        session: Session,
        cache: TenantCache,
    ) -> OpenAccount {
        OpenAccount {
            account,
            auth,
            session,
            cache,
        }
    }

    /// The account (as saved when it was opened or its tenants last changed).
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The account's key.
    pub fn key(&self) -> String {
        self.account.key()
    }

    /// The `Auth` its tokens come from.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Its session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Signs in through the Azure CLI (Azure roles only: its app cannot read Graph PIM).
    pub fn is_azure_cli(&self) -> bool {
        self.account.kind == CredentialKind::AzureCli
    }

    /// Reads every shown tenant, then saves the tenant list when it changed (so the next
    /// process reads every tenant at once). A cache that cannot be written is only logged.
    pub async fn refresh(&self) -> Result<Snapshot> {
        let snap = self.session.refresh().await?;
        if let Some(tenants) = self.session.tenants_changed()
            && let Err(e) = self.cache.save(&self.account.key(), &tenants)
        {
            tracing::debug!(error = %e, "cannot save the tenant list");
        }
        Ok(snap)
    }

    /// Hides the tenants `hide` and shows the tenants `show` (ids, any case; each must be a
    /// tenant the account reaches), saves the result with the account and applies it to the
    /// session. Refused when no tenant would stay shown. Returns every tenant of the account.
    pub async fn set_tenants_shown(
        &mut self,
        hide: &[String],
        show: &[String],
    ) -> Result<Vec<Tenant>> {
        let all = self.session.tenants().await?;
        if let Some(id) = hide
            .iter()
            .chain(show)
            .find(|id| !all.iter().any(|t| t.id.eq_ignore_ascii_case(id.trim())))
        {
            return Err(Error::InvalidInput(format!(
                "{} does not reach the tenant {}",
                self.account.upn,
                id.trim()
            )));
        }
        let hidden =
            pim_core::hidden_tenants_after(&all, &self.session.hidden_tenants(), hide, show)?;
        let saved = self.auth.set_hidden_tenants(&self.account, hidden)?;
        self.session
            .set_hidden_tenants(saved.hidden_tenants.clone());
        self.account = saved;
        Ok(all)
    }
}

/// Whether Microsoft Graph could not be read at all in some tenant of `snapshot` (Entra roles
/// and groups missing, Azure roles listed): for an Azure CLI account, its app registration
/// has no Graph PIM permissions.
pub fn graph_unreadable(snapshot: &Snapshot) -> bool {
    snapshot.tenants.iter().any(|t| {
        t.warnings
            .iter()
            .any(|w| matches!(w, Warning::GraphUnreadable { .. }))
    })
}

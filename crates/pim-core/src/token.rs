//! The credential seam: how the core obtains access tokens without knowing how the user signed in.
//!
//! `pim-auth` implements [`TokenSource`] for browser sign-in (auth code + PKCE, refresh token in
//! the OS keychain). Anything that implements azure_core's `TokenCredential` (for example
//! azure_identity's `AzureCliCredential`) plugs in through [`CredentialTokenSource`]. A claims
//! request (MFA or authentication-context step-up, CAE challenge) travels in
//! [`TokenRequest::claims`]; sources that cannot satisfy claims answer
//! [`crate::Error::StepUpRequired`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;

/// The API a token is for. Tokens are per resource: a Graph token cannot call ARM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// Microsoft Graph (Entra roles, PIM for Groups).
    Graph,
    /// Azure Resource Manager (Azure resource roles).
    Arm,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Graph => "Microsoft Graph",
            Resource::Arm => "Azure Resource Manager",
        })
    }
}

/// A secret string (access or refresh token). `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself. Call only where it is sent (an `Authorization` header, a token
    /// request body, the keychain).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An access token for one resource in one tenant.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// When it expires (UTC).
    pub expires_on: OffsetDateTime,
}

/// What the core asks a [`TokenSource`] for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenRequest {
    /// Tenant id (GUID) the token must be issued by.
    pub tenant_id: String,
    /// Resource the token is for.
    pub resource: Resource,
    /// OAuth scope to request, e.g. `https://graph.microsoft.com/.default`
    /// (depends on the cloud; see `Endpoints`).
    pub scope: String,
    /// A claims request (JSON, e.g. `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`),
    /// for step-up. `None` for an ordinary token.
    pub claims: Option<String>,
    /// Ignore any cached access token (after a 401 from the resource).
    pub force_refresh: bool,
}

/// Supplies access tokens. Implementations cache, refresh and (when allowed) sign in.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// An access token satisfying `req`.
    ///
    /// Errors: [`crate::Error::SignInRequired`] when there is no usable sign-in and none may be
    /// started; [`crate::Error::StepUpRequired`] when the claims cannot be satisfied silently and
    /// interaction is not allowed.
    async fn access_token(&self, req: &TokenRequest) -> Result<AccessToken>;
}

/// Called when a write needs an interactive step-up (MFA, authentication context, CAE).
/// After it returns `Ok`, the [`crate::Session`] retries the write once, asking the token source for a
/// token with the same claims.
#[async_trait]
pub trait StepUpHook: Send + Sync + fmt::Debug {
    /// Satisfies `claims` for `resource` in `tenant_id` (e.g. interactive sign-in with the
    /// claims request). Return [`crate::Error::StepUpRequired`] if the user declined.
    async fn step_up(&self, tenant_id: &str, resource: Resource, claims: &str) -> Result<()>;
}

/// Adapts any azure_core `TokenCredential` (e.g. `AzureCliCredential`) to [`TokenSource`].
///
/// Claims are not supported by such credentials: a request with claims fails with
/// [`crate::Error::StepUpRequired`], which names the claims so the user can satisfy them
/// another way.
#[derive(Debug, Clone)]
pub struct CredentialTokenSource {
    credential: Arc<dyn azure_core::credentials::TokenCredential>,
}

impl CredentialTokenSource {
    /// Wraps a credential.
    pub fn new(credential: Arc<dyn azure_core::credentials::TokenCredential>) -> Self {
        Self { credential }
    }
}

#[async_trait]
impl TokenSource for CredentialTokenSource {
    async fn access_token(&self, req: &TokenRequest) -> Result<AccessToken> {
        if let Some(claims) = &req.claims {
            return Err(crate::Error::StepUpRequired {
                resource: req.resource,
                claims: claims.clone(),
            });
        }
        let token = self
            .credential
            .get_token(&[req.scope.as_str()], None)
            .await
            .map_err(|e| crate::Error::SignInRequired {
                reason: e.to_string(),
            })?;
        Ok(AccessToken {
            token: Secret::new(token.token.secret().to_owned()),
            expires_on: token.expires_on,
        })
    }
}

//! pim-auth: sign-in for PIM Tray.
//!
//! Signs a person in to Microsoft Entra ID with the system browser (authorization code + PKCE
//! S256 on a loopback redirect, RFC 8252) or the device-code flow, keeps the refresh token in
//! the OS keychain, and hands out access tokens through [`pim_core::token::TokenSource`].
//!
//! ```no_run
//! # async fn f() -> pim_core::Result<()> {
//! use std::sync::Arc;
//! use pim_auth::{Auth, AuthOptions, LoginOptions};
//! let mut options = AuthOptions::from_env(Arc::new(pim_core::config::ProcessEnv))?;
//! options.on_url = Some(Arc::new(|url| eprintln!("If no browser opens, visit:\n  {url}")));
//! let auth = Auth::new(options)?;
//! if let Some(w) = auth.keychain_warning() { eprintln!("warning: {w}"); }
//! let account = auth.login_interactive(LoginOptions::default()).await?;
//! let tokens = auth.token_source(&account); // Arc<dyn TokenSource> for pim-core
//! # Ok(()) }
//! ```
//!
//! Invariants:
//! - Refresh tokens live only in the [`SecretStore`] (the OS keychain; in memory for the
//!   session, with [`Auth::keychain_warning`], when the keychain fails). Access tokens live
//!   only in memory. No token is ever written to a file, logged, or put in an error or URL.
//! - Keychain entries: service `pim-tray`, user `rt:{cloud}:{client_id}:{oid}.{home_tid}`;
//!   values over 2,400 bytes are split into parts `…#G.0..N-1` plus a header (see [`store`]).
//! - A keychain value binds the refresh token to the authority, Graph and ARM endpoints it
//!   was issued for; an account whose `accounts.json` names others gets `SignInRequired` and
//!   nothing is sent (see `bound.rs`; values written before are trusted with the cloud's
//!   standard endpoints only).
//! - `accounts.json` (config folder) holds only non-secret metadata and is replaced
//!   atomically; a damaged file is reported, never overwritten.
//! - Every token request declares client capability `cp1`, asks for one resource, and uses
//!   the account's tenant id (first sign-in: `organizations`).
//! - Refreshes are serialised per account; each rotated refresh token is saved at once.
//! - Keychain writes and deletes take the lock file `keychain.lock` in the config folder, so
//!   the tray and `pim` change a token one at a time; a rotated token is written only while
//!   the keychain still holds the one it was rotated from (a sign-out or new sign-in in
//!   another process wins).
//! - `invalid_grant` deletes the refresh token (→ `SignInRequired`); interaction needed (MFA,
//!   claims) keeps it (→ `StepUpRequired`, or a browser sign-in when
//!   [`AuthOptions::allow_interactive`]).
//! - ID-token claims are decoded for display and routing only, never trusted for security.
//! - Untrusted input cannot panic sign-in: lifetimes are capped
//!   ([`entra::MAX_TOKEN_LIFETIME`]), answers are read up to 16 MiB without following
//!   redirects, tenants must be ids or domains ([`entra::validate_tenant`]), and a damaged
//!   keychain entry is [`StoreError::Integrity`] (sign in again).
//!
//! Code map:
//! - `auth/mod.rs`: the [`Auth`] facade and its shared state: accounts, default account,
//!   sign-out, token sources.
//! - `auth/options.rs`: [`AuthOptions`] and the options of each sign-in ([`LoginOptions`],
//!   [`DeviceCodeOptions`]).
//! - `auth/signin.rs`: the sign-in flows: browser (auth code + PKCE), device code, Azure CLI
//!   accounts, and the browser step-up.
//! - `auth/tokens.rs`: the per-account token source: access-token cache, single-flight
//!   refresh, rotated refresh tokens saved (or a rejected one deleted).
//! - `auth/vault.rs`: the stored refresh token: keychain or memory, the cross-process
//!   `keychain.lock`, and the check of its bound endpoints.
//! - `bound.rs`: the keychain value format that binds a refresh token to its endpoints.
//! - [`entra`]: the Entra v2 protocol: tenants and authority URLs (`mod.rs`), the claims
//!   request and ID-token claims (`claims.rs`), the token and device-code client and its
//!   answers (`client.rs`), error responses, AADSTS codes and refusals (`error.rs`).
//! - [`loopback`], [`pkce`], [`browser`]: the browser flow's redirect listener, PKCE and
//!   `state`, and opening the page.
//! - [`store`]: [`SecretStore`] (keychain, memory, size-limited fake) and token chunking.
//! - [`accounts`], [`tenant_cache`]: `accounts.json` and `tenants.json` (no secrets).
//! - [`filelock`]: advisory locks on the config folder's shared files.
//! - [`azure_cli`]: the `az` token source.
//! - [`clock`]: time as an input.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod accounts;
mod auth;
pub mod azure_cli;
mod bound;
pub mod browser;
pub mod clock;
pub mod entra;
pub mod filelock;
pub mod loopback;
pub mod pkce;
pub mod store;
pub mod tenant_cache;

/// Entry points for the fuzz targets in `fuzz/`.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_api;

pub use accounts::{Account, CredentialKind};
pub use auth::{
    Auth, AuthOptions, DEFAULT_LOGIN_TIMEOUT, DeviceCodeCallback, DeviceCodeOptions,
    DeviceCodePrompt, LoginOptions, Prompt, REFRESH_MARGIN, UrlCallback,
};
pub use azure_cli::AzureCliTokenSource;
pub use browser::{BrowserOpener, SystemBrowser};
pub use clock::{Clock, ManualClock, SystemClock};
pub use store::{KeyringStore, LimitedStore, MemoryStore, SecretStore, StoreError};
pub use tenant_cache::TenantCache;

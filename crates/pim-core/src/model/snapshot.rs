//! What a refresh publishes: the [`Snapshot`] of every tenant read, with each tenant's rows,
//! errors and warnings, the recent changes and the readiness of followed activations.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Role, Tenant};

/// The signed-in user as Graph sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Object id (`oid`).
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// User principal name.
    pub user_principal_name: Option<String>,
}

/// One tenant's part of a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSnapshot {
    /// The tenant.
    pub tenant: Tenant,
    /// Its rows (may be partial when `warnings` is not empty).
    pub roles: Vec<Role>,
    /// Set when the tenant could not be read at all (other tenants are still listed).
    pub error: Option<TenantError>,
    /// Parts that could not be read (e.g. groups forbidden); each displays as user-facing
    /// text.
    pub warnings: Vec<Warning>,
}

/// A part of a tenant that could not be read, while the rest was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Warning {
    /// Microsoft Graph could not be read at all: no Entra roles or groups, while Azure roles
    /// are listed (e.g. an Azure CLI sign-in, whose app has no Graph PIM permissions).
    GraphUnreadable {
        /// Why (the error's message).
        reason: String,
    },
    /// One list could not be read (e.g. "Eligible Azure roles"); the others are listed.
    Unreadable {
        /// Which list.
        what: String,
        /// Why (the error's message).
        reason: String,
    },
}

impl Warning {
    /// `what` could not be read because of `reason`.
    pub fn unreadable(what: &str, reason: impl fmt::Display) -> Warning {
        Warning::Unreadable {
            what: what.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::GraphUnreadable { reason } => {
                write!(f, "Entra roles and groups could not be read: {reason}")
            }
            Warning::Unreadable { what, reason } => write!(f, "{what} could not be read: {reason}"),
        }
    }
}

/// A tenant-level failure, cloneable for publishing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantError {
    /// Machine code (see `Error::code`).
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

/// Everything known after a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// When it was taken (server-corrected clock).
    #[serde(with = "time::serde::rfc3339::option")]
    pub taken_at: Option<OffsetDateTime>,
    /// The signed-in user, when known.
    pub account: Option<Account>,
    /// Per tenant, home first (the tenants the user chose to hide are left out).
    pub tenants: Vec<TenantSnapshot>,
    /// Tenants the account can reach that were not read because the user hid them
    /// ([`crate::SessionOptions::hidden_tenants`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<Tenant>,
    /// The most recent changes the session saw (approved, denied, ended, activated; oldest
    /// first, at most [`crate::changes::KEPT`]); a subscriber shows those numbered after the
    /// last one it showed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::changes::Change>,
    /// Whether the activations this session follows ([`crate::Session::follow_ready`]) are
    /// effective yet, by [`Role::key`]; an entry goes when its role is no longer active.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub readiness: std::collections::BTreeMap<String, ReadyState>,
}

/// How far an activation is from working everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyState {
    /// What the last probe said.
    pub readiness: crate::Readiness,
    /// When following started (the service's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When a probe saw it effective.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ready_at: Option<OffsetDateTime>,
    /// The probes gave up (still applying after the time allowed).
    #[serde(default)]
    pub gave_up: bool,
}

impl Snapshot {
    /// All rows of all tenants.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.tenants.iter().flat_map(|t| t.roles.iter())
    }
    /// The row with this key.
    pub fn by_key(&self, key: &str) -> Option<&Role> {
        self.roles().find(|r| r.key() == key)
    }
}

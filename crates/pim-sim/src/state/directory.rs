//! The directory a scenario describes: tenants (with their role definitions,
//! administrative units, groups, subscriptions, Azure roles and their permissions, and
//! approvers) and the user.

use serde::{Deserialize, Serialize};

use crate::policy::Approver;

use super::approvals::Person;

/// An object with id and display name.
#[derive(Debug, Clone)]
pub struct Named {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// One permission block of an Azure role definition (`properties.permissions[]`), as
/// ARM's `permissions` answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolePermission {
    /// Control-plane actions allowed (`*`, `*/read`, `Microsoft.Compute/*`).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Control-plane actions excluded from `actions`.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Data-plane actions allowed.
    #[serde(default)]
    pub data_actions: Vec<String>,
    /// Data-plane actions excluded from `dataActions`.
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

/// A subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub name: String,
    pub resource_groups: Vec<String>,
}

/// A tenant and the user's identity in it.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub default_domain: String,
    pub domains: Vec<String>,
    pub home: bool,
    pub user_oid: String,
    pub user_upn: String,
    pub role_defs: Vec<Named>,
    pub aus: Vec<Named>,
    pub groups: Vec<Named>,
    pub subs: Vec<Subscription>,
    pub azure_roles: Vec<Named>,
    /// Permission blocks of the Azure roles, by lower-case role GUID.
    pub azure_permissions: std::collections::HashMap<String, Vec<RolePermission>>,
    pub approvers: Vec<Approver>,
    /// Other users of the directory (requesters, approvers).
    pub users: Vec<Person>,
}

/// The user.
#[derive(Debug, Clone)]
pub struct User {
    pub display_name: String,
    pub upn: String,
    pub mail: String,
}

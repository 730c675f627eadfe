//! The directory a scenario describes: tenants (with their role definitions,
//! administrative units, groups, subscriptions, Azure roles and approvers) and the user.

use crate::policy::Approver;

/// An object with id and display name.
#[derive(Debug, Clone)]
pub struct Named {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
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
    pub approvers: Vec<Approver>,
}

/// The user.
#[derive(Debug, Clone)]
pub struct User {
    pub display_name: String,
    pub upn: String,
    pub mail: String,
}

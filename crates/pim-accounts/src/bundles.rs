//! Bundles: named sets of roles activated together (`pim bundle …`, `pim activate --bundle`,
//! and the tray), kept in `bundles.json` in the config folder beside `accounts.json`.
//!
//! Invariants:
//! - A role is saved by its stable identity (tenant id, kind, role definition id, scope id,
//!   and for groups the access, member or owner) and found again by the same key as
//!   [`Role::key`]: never by its name, which can change or be shared. The names kept beside
//!   it are for listing only.
//! - The file holds no secrets. It is replaced atomically (a new 0600 file, synced, renamed
//!   over the old one) while the folder's lock for it is held, so the CLI and the tray keep
//!   each other's changes.
//! - A damaged file, or one written by a newer version, is reported naming the file and is
//!   never overwritten: saving and removing refuse until it is fixed or deleted.

use std::path::{Path, PathBuf};

use pim_auth::accounts::{atomic_write, create_private_dir};
use pim_core::{
    AccessId, Error, PimDuration, PolicyInfo, Result, Role, RoleKind, RoleState, Scope, ScopeKind,
};
use serde::{Deserialize, Serialize};

/// File name inside the config folder.
pub const FILE_NAME: &str = "bundles.json";
const VERSION: u32 = 1;
/// Longest bundle name, in characters.
pub const MAX_NAME: usize = 64;

/// One role of a bundle, by its stable identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRole {
    /// Tenant id.
    pub tenant_id: String,
    /// Kind.
    pub kind: RoleKind,
    /// What requests name: the Entra role definition id, the group access (`member`,
    /// `owner`), or the ARM role definition id.
    pub role_definition_id: String,
    /// Scope id: `/`, an administrative unit, the group id, an ARM scope.
    pub scope_id: String,
    /// Groups: `member` or `owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_id: Option<String>,
    /// Display name when saved (listing only).
    pub name: String,
    /// Scope name when saved (listing only).
    pub scope_name: String,
    /// Tenant name when saved (listing only).
    #[serde(default)]
    pub tenant_name: String,
}

impl BundleRole {
    /// The identity of `role`.
    pub fn of(role: &Role) -> BundleRole {
        BundleRole {
            tenant_id: role.tenant_id.clone(),
            kind: role.kind,
            role_definition_id: role.role_definition_id.clone(),
            scope_id: role.scope.id.clone(),
            access_id: role.access.as_ref().map(|a| a.as_str().to_owned()),
            name: role.name.clone(),
            scope_name: role.scope.display_name.clone(),
            tenant_name: role.tenant_name.clone(),
        }
    }

    /// The saved role as a row that holds nothing (eligible, no policy read).
    fn as_role(&self) -> Role {
        Role {
            kind: self.kind,
            tenant_id: self.tenant_id.clone(),
            tenant_name: self.tenant_name.clone(),
            name: self.name.clone(),
            role_definition_id: self.role_definition_id.clone(),
            scope: Scope {
                id: self.scope_id.clone(),
                display_name: self.scope_name.clone(),
                // Not part of the identity.
                kind: ScopeKind::Directory,
            },
            app_scope_id: None,
            access: self.access_id.as_deref().map(AccessId::parse),
            state: RoleState::Eligible,
            eligibility: None,
            assignment: None,
            pending: Vec::new(),
            policy: PolicyInfo::NotLoaded,
        }
    }

    /// The key of the role it names, as [`Role::key`] spells it (find it with
    /// [`pim_core::Snapshot::by_key`]).
    pub fn key(&self) -> String {
        self.as_role().key()
    }

    /// Name shown to users: the display name, plus `(member)`/`(owner)` for groups.
    pub fn label(&self) -> String {
        self.as_role().label()
    }

    /// "Name — scope (tenant)", as saved.
    pub fn describe(&self) -> String {
        let tenant = if self.tenant_name.is_empty() {
            &self.tenant_id
        } else {
            &self.tenant_name
        };
        format!("{} — {} ({tenant})", self.label(), self.scope_name)
    }
}

/// A named set of roles with the request to send for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// Name (unique, compared case-insensitively).
    pub name: String,
    /// The roles, in the order given.
    pub roles: Vec<BundleRole>,
    /// Justification to send unless another is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Ticket system to send with a ticket number unless another is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_system: Option<String>,
    /// Preferred duration, cut down to each role's maximum, unless another is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<PimDuration>,
}

impl Bundle {
    /// A bundle of `roles` (their identities; a role given twice is kept once) named `name`
    /// (trimmed; see [`check_name`]). At least one role is needed.
    pub fn new(name: &str, roles: &[Role]) -> Result<Bundle> {
        let name = check_name(name)?;
        let mut saved: Vec<BundleRole> = Vec::new();
        for r in roles {
            let b = BundleRole::of(r);
            if !saved.iter().any(|s| s.key() == b.key()) {
                saved.push(b);
            }
        }
        if saved.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the bundle `{name}` needs at least one role"
            )));
        }
        Ok(Bundle {
            name,
            roles: saved,
            reason: None,
            ticket_system: None,
            duration: None,
        })
    }
}

/// A bundle name, trimmed: 1 to [`MAX_NAME`] characters, no control characters.
pub fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "`{}` is not a bundle name: use 1 to {MAX_NAME} characters, no control characters",
            name.escape_debug()
        )));
    }
    Ok(n.to_owned())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundlesFile {
    version: u32,
    #[serde(default)]
    bundles: Vec<Bundle>,
}

/// `bundles.json` in one config folder.
#[derive(Debug, Clone)]
pub struct BundleStore {
    path: PathBuf,
}

impl BundleStore {
    /// The bundles of `config_dir` (nothing is read or created yet).
    pub fn new(config_dir: &Path) -> BundleStore {
        BundleStore {
            path: config_dir.join(FILE_NAME),
        }
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved bundles, in the order they were first saved; none when there is no file. A
    /// damaged file, or one of another version, is an [`Error::Config`] naming the file.
    pub fn load(&self) -> Result<Vec<Bundle>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )));
            }
        };
        let file: BundlesFile = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Config(format!(
                "the bundles file {} is damaged ({e}); it was left as it is. It holds only \
                 bundle definitions: fix it, or delete it and save the bundles again",
                self.path.display()
            ))
        })?;
        if file.version != VERSION {
            return Err(Error::Config(format!(
                "{} has version {}, which this version of PIM Tray does not understand; it was \
                 left as it is. Update PIM Tray, or delete the file and save the bundles again",
                self.path.display(),
                file.version
            )));
        }
        Ok(file.bundles)
    }

    /// The bundle named `name` (any case).
    pub fn get(&self, name: &str) -> Result<Bundle> {
        let all = self.load()?;
        let found = all
            .iter()
            .find(|b| b.name.eq_ignore_ascii_case(name.trim()))
            .cloned();
        found.ok_or_else(|| unknown(name, &all))
    }

    /// Saves `bundle`, replacing the one of the same name (any case) in its place; returns
    /// whether one was replaced.
    pub fn save(&self, bundle: Bundle) -> Result<bool> {
        check_name(&bundle.name)?;
        self.update(|all| {
            match all
                .iter_mut()
                .find(|b| b.name.eq_ignore_ascii_case(&bundle.name))
            {
                Some(slot) => {
                    *slot = bundle;
                    Ok(true)
                }
                None => {
                    all.push(bundle);
                    Ok(false)
                }
            }
        })
    }

    /// Removes the bundle named `name` (any case) and returns it.
    pub fn remove(&self, name: &str) -> Result<Bundle> {
        self.update(|all| {
            match all
                .iter()
                .position(|b| b.name.eq_ignore_ascii_case(name.trim()))
            {
                Some(i) => Ok(all.remove(i)),
                None => Err(unknown(name, all)),
            }
        })
    }

    /// Load, change, save atomically, holding the file's lock; a file that cannot be read
    /// is left untouched.
    fn update<T>(&self, f: impl FnOnce(&mut Vec<Bundle>) -> Result<T>) -> Result<T> {
        let dir = self
            .path
            .parent()
            .ok_or_else(|| Error::Config(format!("{} has no folder", self.path.display())))?;
        create_private_dir(dir)?;
        pim_auth::filelock::with_lock(&self.path, || {
            let mut bundles = self.load()?;
            let out = f(&mut bundles)?;
            let file = BundlesFile {
                version: VERSION,
                bundles,
            };
            let bytes = serde_json::to_vec_pretty(&file)
                .map_err(|e| Error::Config(format!("cannot encode the bundles: {e}")))?;
            atomic_write(&self.path, &bytes)
                .map_err(|e| Error::Config(format!("cannot write {}: {e}", self.path.display())))?;
            Ok(out)
        })
        .map_err(|e| Error::Config(e.to_string()))?
    }
}

fn unknown(name: &str, all: &[Bundle]) -> Error {
    let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
    Error::InvalidInput(if names.is_empty() {
        format!("there is no bundle `{}`; none are saved", name.trim())
    } else {
        format!(
            "there is no bundle `{}`; saved: {}",
            name.trim(),
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn role(kind: RoleKind, rid: &str, scope: &str, access: Option<AccessId>) -> Role {
        Role {
            kind,
            tenant_id: "Tenant-1".into(),
            tenant_name: "Contoso".into(),
            name: "Reader".into(),
            role_definition_id: rid.into(),
            scope: Scope {
                id: scope.into(),
                display_name: "Somewhere".into(),
                kind: ScopeKind::ResourceGroup,
            },
            app_scope_id: None,
            access,
            state: RoleState::Active,
            eligibility: None,
            assignment: None,
            pending: Vec::new(),
            policy: PolicyInfo::NotLoaded,
        }
    }

    fn three() -> Vec<Role> {
        vec![
            role(RoleKind::EntraRole, "F2EF992C-3afb", "/", None),
            role(
                RoleKind::Group,
                "member",
                "2b5ed229-group",
                Some(AccessId::Member),
            ),
            role(
                RoleKind::AzureResource,
                "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/ACDD72A7",
                "/subscriptions/s1/resourceGroups/rg-web/",
                None,
            ),
        ]
    }

    #[test]
    fn a_saved_role_is_found_by_its_identity_not_its_name() {
        for r in three() {
            let b = BundleRole::of(&r);
            assert_eq!(b.key(), r.key(), "{r:?}");
            assert_eq!(b.label(), r.label());
            // Renamed since: the same role.
            let renamed = Role {
                name: "Another name".into(),
                ..r.clone()
            };
            assert_eq!(b.key(), renamed.key());
            // Same name elsewhere: another role.
            let elsewhere = Role {
                tenant_id: "tenant-2".into(),
                ..r.clone()
            };
            assert_ne!(b.key(), elsewhere.key());
        }
        let owner = Role {
            access: Some(AccessId::Owner),
            role_definition_id: "owner".into(),
            ..three()[1].clone()
        };
        assert_ne!(BundleRole::of(&three()[1]).key(), owner.key());
        assert_eq!(
            BundleRole::of(&three()[1]).describe(),
            "Reader (member) — Somewhere (Contoso)"
        );
    }

    #[test]
    fn saved_listed_replaced_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(&dir.path().join("pim"));
        assert!(store.load().unwrap().is_empty(), "no file: no bundles");
        let mut b = Bundle::new("  On call ", &three()).unwrap();
        assert_eq!(b.name, "On call");
        b.reason = Some("on call".into());
        b.duration = Some(PimDuration::from_hours(2));
        assert!(!store.save(b.clone()).unwrap());
        let mut other = Bundle::new("audit", &three()[..1]).unwrap();
        other.ticket_system = Some("ServiceNow".into());
        assert!(!store.save(other.clone()).unwrap());
        assert_eq!(store.load().unwrap(), vec![b.clone(), other.clone()]);
        assert_eq!(store.get("ON CALL").unwrap(), b);

        // The same name in another case replaces it, in its place.
        let replaced = Bundle::new("on call", &three()[1..]).unwrap();
        assert!(store.save(replaced.clone()).unwrap());
        assert_eq!(store.load().unwrap(), vec![replaced, other.clone()]);

        let text = std::fs::read_to_string(store.path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], 1);
        let saved = &v["bundles"][1];
        assert_eq!(saved["name"], "audit");
        assert_eq!(saved["ticketSystem"], "ServiceNow");
        let r = &saved["roles"][0];
        for k in [
            "tenantId",
            "kind",
            "roleDefinitionId",
            "scopeId",
            "name",
            "scopeName",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
        assert_eq!(r["kind"], "entraRole");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        assert_eq!(store.remove("On Call").unwrap().name, "on call");
        assert_eq!(store.load().unwrap(), vec![other]);
        let e = store.remove("on call").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("saved: audit")),
            "{e}"
        );
        assert!(store.get("nothing").is_err());
    }

    #[test]
    fn a_damaged_file_is_reported_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        for bad in [&b"{ not json"[..], br#"{"version": 2, "bundles": []}"#] {
            std::fs::write(store.path(), bad).unwrap();
            let e = store.load().unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{e:?}");
            assert!(
                e.to_string().contains(&store.path().display().to_string()),
                "{e}"
            );
            assert!(
                store
                    .save(Bundle::new("x", &three()).unwrap())
                    .unwrap_err()
                    .to_string()
                    .contains("bundles.json")
            );
            assert!(store.remove("x").is_err());
            assert_eq!(std::fs::read(store.path()).unwrap(), bad, "left as it was");
        }
    }

    #[test]
    fn names_and_roles_are_checked() {
        assert!(Bundle::new("", &three()).is_err());
        assert!(Bundle::new("a\u{1b}[2J", &three()).is_err());
        assert!(Bundle::new(&"x".repeat(MAX_NAME + 1), &three()).is_err());
        assert!(Bundle::new(&"é".repeat(MAX_NAME), &three()).is_ok());
        assert!(Bundle::new("empty", &[]).is_err());
        let twice = [three()[0].clone(), three()[0].clone()];
        assert_eq!(Bundle::new("twice", &twice).unwrap().roles.len(), 1);
    }

    #[test]
    fn older_files_without_optional_fields_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        std::fs::write(
            store.path(),
            r#"{"version":1,"bundles":[{"name":"n","roles":[{"tenantId":"t","kind":"group",
               "roleDefinitionId":"owner","scopeId":"g","accessId":"owner","name":"G",
               "scopeName":"G","future":1}]}]}"#,
        )
        .unwrap();
        let b = store.get("n").unwrap();
        assert_eq!(b.roles[0].access_id.as_deref(), Some("owner"));
        assert_eq!(b.roles[0].tenant_name, "");
        assert_eq!(b.duration, None);
    }
}

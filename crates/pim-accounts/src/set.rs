//! The ordered set of open accounts, the default first.

use pim_core::{Role, Session};

use crate::OpenAccount;

/// Open accounts in menu order: the default account first, the others in the order they
/// were opened. One entry per account key; `T` carries what a face keeps beside each open
/// account (the tray: the task forwarding its snapshots).
#[derive(Debug)]
pub struct OpenSet<T> {
    list: Vec<T>,
}

impl<T> Default for OpenSet<T> {
    fn default() -> Self {
        OpenSet { list: Vec::new() }
    }
}

impl<T: AsRef<OpenAccount>> OpenSet<T> {
    /// An empty set.
    pub fn new() -> OpenSet<T> {
        OpenSet::default()
    }

    /// Adds `entry` first (the default account) or last, replacing an entry of the same
    /// account (reopening an account replaces its session). Returns the replaced entry.
    pub fn insert(&mut self, entry: T, first: bool) -> Option<T> {
        let key = entry.as_ref().key();
        let old = self.remove(&key);
        if first {
            self.list.insert(0, entry);
        } else {
            self.list.push(entry);
        }
        old
    }

    /// Removes the account with this key.
    pub fn remove(&mut self, key: &str) -> Option<T> {
        let i = self.list.iter().position(|e| e.as_ref().key() == key)?;
        Some(self.list.remove(i))
    }

    /// Removes every account, in order.
    pub fn take_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.list)
    }

    /// The account with this key.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.list.iter().find(|e| e.as_ref().key() == key)
    }

    /// The account with this key, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        self.list.iter_mut().find(|e| e.as_ref().key() == key)
    }

    /// The default account (the first).
    pub fn first(&self) -> Option<&T> {
        self.list.first()
    }

    /// The accounts in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.list.iter()
    }

    /// The keys in order.
    pub fn keys(&self) -> Vec<String> {
        self.list.iter().map(|e| e.as_ref().key()).collect()
    }

    /// No account is open.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The sessions in order.
    pub fn sessions(&self) -> Vec<Session> {
        self.list
            .iter()
            .map(|e| e.as_ref().session().clone())
            .collect()
    }

    /// The role with this key (see [`Role::key`]) in the latest snapshot of whichever open
    /// account has it (the first in order), with that account's session.
    pub fn role(&self, key: &str) -> Option<(Session, Role)> {
        self.list.iter().find_map(|e| {
            let s = e.as_ref().session();
            let role = s.snapshot().by_key(key).cloned()?;
            Some((s.clone(), role))
        })
    }
}

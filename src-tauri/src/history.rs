//! The history window's data: my requests as the page shows them (`get_history`), and the
//! CSV export (`export_history`: pim-core's CSV, the one `pim history --csv` writes, saved in
//! the user's Downloads folder).

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::error::IpcError;

/// The longest period the window reads, in days.
pub const MAX_DAYS: u32 = 365;

/// One request as the history window shows it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntryDto {
    /// When it was asked (RFC 3339, UTC).
    pub created_at: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant name.
    pub tenant_name: String,
    /// `entraRole`, `group` or `azureResource`.
    #[cfg_attr(test, ts(type = "\"entraRole\" | \"group\" | \"azureResource\""))]
    pub kind: &'static str,
    /// Role or group (with its access), as the menu names it.
    pub name: String,
    /// Scope, in words.
    pub scope: String,
    /// What was asked, in words (`activate`, `deactivate`, `extend`, …).
    pub action: String,
    /// The service's status (`provisioned`, `denied`, …).
    pub status: String,
    /// How long was asked for, in minutes (none when the request names no end).
    pub duration_minutes: Option<u32>,
    /// The justification given.
    pub justification: String,
    /// The ticket (`system number`), if any.
    pub ticket: String,
}

impl From<&pim_core::HistoryEntry> for HistoryEntryDto {
    fn from(e: &pim_core::HistoryEntry) -> Self {
        HistoryEntryDto {
            created_at: e.created_at.format(&Rfc3339).unwrap_or_default(),
            tenant_id: e.tenant_id.clone(),
            tenant_name: e.tenant_name.clone(),
            kind: e.kind.as_str(),
            name: e.label(),
            scope: e.scope.display_name.clone(),
            action: pim_core::export::action_words(e.action.as_ref()),
            status: e
                .status
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            duration_minutes: crate::dto::whole_minutes(e.duration),
            justification: e.justification.clone().unwrap_or_default(),
            ticket: crate::dto::ticket_text(e.ticket.as_ref()),
        }
    }
}

/// My requests, newest first, and what could not be read.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryDto {
    /// The oldest time included (RFC 3339, UTC).
    pub since: String,
    /// The requests, newest first.
    pub entries: Vec<HistoryEntryDto>,
    /// Tenants or lists that could not be read, in words.
    pub warnings: Vec<String>,
}

/// Where an export was saved.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryExportDto {
    /// The file written.
    pub path: String,
    /// How many requests it holds.
    pub count: u32,
}

/// The start of the last `days` days by the service's clock; 1 to [`MAX_DAYS`].
fn since(state: &AppState, days: u32) -> Result<OffsetDateTime, IpcError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(IpcError::invalid(format!(
            "the history covers 1 to {MAX_DAYS} days, not {days}"
        )));
    }
    let now = state.model().service_now(OffsetDateTime::now_utc());
    Ok(now - time::Duration::days(i64::from(days)))
}

/// Body of `get_history`.
pub async fn history(state: &AppState, days: u32) -> Result<HistoryDto, IpcError> {
    let since = since(state, days)?;
    let list = state.engine.history(since).await?;
    Ok(HistoryDto {
        since: since.format(&Rfc3339).unwrap_or_default(),
        entries: list.entries.iter().map(HistoryEntryDto::from).collect(),
        warnings: list.warnings,
    })
}

/// Body of `export_history`: the CSV of the last `days` days, written (atomically, never over
/// an existing file) into `dir`.
pub async fn export(state: &AppState, days: u32, dir: &Path) -> Result<HistoryExportDto, IpcError> {
    let since = since(state, days)?;
    let list = state.engine.history(since).await?;
    let csv = pim_core::export::csv(&list.entries);
    let date = OffsetDateTime::now_utc().date();
    let path = free_name(dir, &format!("pim-history-{date}"), "csv");
    pim_auth::accounts::atomic_write(&path, csv.as_bytes()).map_err(|e| {
        IpcError::from(pim_core::Error::Config(format!(
            "cannot write {}: {e}",
            path.display()
        )))
    })?;
    tracing::info!(path = %path.display(), count = list.entries.len(), "history exported");
    Ok(HistoryExportDto {
        path: path.display().to_string(),
        count: u32::try_from(list.entries.len()).unwrap_or(u32::MAX),
    })
}

/// `dir/stem.ext`, or `dir/stem-2.ext`, `-3`, … when taken.
fn free_name(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    let first = dir.join(format!("{stem}.{ext}"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{stem}-{n}.{ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// A history entry for tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use pim_core::{
        AccessId, Action, PimDuration, RequestStatus, RoleKind, Scope, ScopeKind, Ticket,
    };

    /// A group activation asked at `at`.
    pub(crate) fn entry(at: time::OffsetDateTime) -> pim_core::HistoryEntry {
        pim_core::HistoryEntry {
            created_at: at,
            tenant_id: "t".into(),
            tenant_name: "Contoso".into(),
            kind: RoleKind::Group,
            request_id: "r1".into(),
            name: "SQL Prod Admins".into(),
            role_definition_id: "member".into(),
            access: Some(AccessId::Member),
            scope: Scope {
                id: "g1".into(),
                display_name: "SQL Prod Admins".into(),
                kind: ScopeKind::Group,
            },
            action: Some(Action::SelfActivate),
            status: Some(RequestStatus::Provisioned),
            start: None,
            duration: Some(PimDuration::from_minutes(90)),
            end: None,
            justification: Some("Fix, \"prod\"".into()),
            ticket: Some(Ticket {
                number: "INC-1".into(),
                system: "ServiceNow".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry() -> pim_core::HistoryEntry {
        tests_support::entry(datetime!(2026-11-20 09:30 UTC))
    }

    #[test]
    fn an_entry_is_shown_in_words() {
        let d = HistoryEntryDto::from(&entry());
        assert_eq!(d.created_at, "2026-11-20T09:30:00Z");
        assert_eq!(d.kind, "group");
        assert_eq!(d.name, "SQL Prod Admins (member)");
        assert_eq!(d.action, "activate");
        assert_eq!(d.status, "provisioned");
        assert_eq!(d.duration_minutes, Some(90));
        assert_eq!(d.ticket, "ServiceNow INC-1");
        let bare = pim_core::HistoryEntry {
            action: None,
            status: None,
            duration: None,
            justification: None,
            ticket: None,
            ..entry()
        };
        let d = HistoryEntryDto::from(&bare);
        assert_eq!(
            (d.action, d.status, d.duration_minutes, d.ticket),
            (String::new(), String::new(), None, String::new())
        );
    }

    #[test]
    fn exports_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let a = free_name(dir.path(), "h", "csv");
        assert_eq!(a, dir.path().join("h.csv"));
        std::fs::write(&a, "x").unwrap();
        let b = free_name(dir.path(), "h", "csv");
        assert_eq!(b, dir.path().join("h-2.csv"));
        std::fs::write(&b, "x").unwrap();
        assert_eq!(
            free_name(dir.path(), "h", "csv"),
            dir.path().join("h-3.csv")
        );
    }
}

//! The approver's inbox in the tray: other users' requests waiting for a decision of the
//! signed-in accounts ([`crate::view::TrayModel::approvals`], read by the engine).
//!
//! - **When it is read** ([`InboxTask`]): once an account is open (and whenever the set of
//!   open accounts changes), with every *Refresh* from the menu, after each decision made
//!   here, and every [`EVERY`] (5 minutes) in between. After a failed read the wait doubles
//!   (10, 20, then at most [`MAX_WAIT`], 30 minutes) until a read works again. Never in a
//!   loop: one read at a time, and nothing while nobody is signed in.
//! - **The menu** ([`section`]): *Approvals (N)* at the top, N the requests that wait for me
//!   now; each opens its decision window. Requests whose stage for me has not started yet
//!   are listed, greyed, with whom they wait for.
//! - **New requests** ([`Arrivals`]): each request that starts waiting for me is told once
//!   in a notification with *Open* ([`arrival_text`]); several at once are one notification.
//! - **The decision window** (`ui/approval.html`): [`approval`] (`get_approval`) and
//!   [`decide`] (`decide_approval`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::engine::Engine;
use crate::error::IpcError;
use crate::menu::{MenuAction, MenuNode, shorten};
use crate::view::{ApprovalView, TrayModel};

/// How often the inbox is read while reads work.
pub const EVERY: Duration = Duration::from_secs(5 * 60);
/// The longest wait between reads after failures.
pub const MAX_WAIT: Duration = Duration::from_secs(30 * 60);
/// At most this many requests are listed in the menu (the rest: `pim approvals`).
pub const MENU_MAX: usize = 10;
/// The longest justification sent with a decision (Graph's limit for justifications).
pub const MAX_JUSTIFICATION: usize = 500;

/// Oldest first (the longest waiting on top), then by id for a stable order.
pub fn oldest_first(items: &mut [ApprovalView]) {
    items.sort_by(|a, b| {
        a.item
            .created_at
            .cmp(&b.item.created_at)
            .then_with(|| a.item.id.cmp(&b.item.id))
            .then_with(|| a.account.cmp(&b.account))
    });
}

// ------------------------------------------------------------------------------ schedule

/// When the next read is due: [`EVERY`] after a read that worked; after failures the wait
/// doubles up to [`MAX_WAIT`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    failures: u32,
}

impl Schedule {
    /// The wait after a read that worked (`ok`) or failed.
    pub fn next(&mut self, ok: bool) -> Duration {
        if ok {
            self.failures = 0;
            return EVERY;
        }
        self.failures = self.failures.saturating_add(1);
        let factor = 1u32.checked_shl(self.failures.min(16)).unwrap_or(u32::MAX);
        EVERY.saturating_mul(factor).min(MAX_WAIT)
    }
}

/// Asks the inbox task for a read now (menu *Refresh*, a decision made here).
#[derive(Debug, Clone)]
pub struct ReadNow(Arc<watch::Sender<()>>);

impl Default for ReadNow {
    fn default() -> Self {
        ReadNow(Arc::new(watch::Sender::new(())))
    }
}

impl ReadNow {
    /// Wakes the task: one read, however often this is called before it starts.
    pub fn poke(&self) {
        self.0.send_replace(());
    }
}

/// The open accounts' keys: a change (sign-in, sign-out, another account) means a read.
fn account_keys(m: &TrayModel) -> Vec<String> {
    m.accounts.iter().map(|a| a.key.clone()).collect()
}

/// Reads the inbox on [`Schedule`], on [`ReadNow`] and when the open accounts change;
/// cancelled on drop.
#[derive(Debug)]
pub struct InboxTask {
    cancel: CancellationToken,
}

impl Drop for InboxTask {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl InboxTask {
    /// Starts the reads (the first once an account is open) and the arrival notices.
    pub fn spawn(engine: Arc<dyn Engine>, now: ReadNow, sink: Arc<dyn InboxSink>) -> InboxTask {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let reads = reads(engine.clone(), now);
        let arrivals = watch_arrivals(engine.subscribe(), sink);
        tauri::async_runtime::spawn(async move {
            token
                .run_until_cancelled(async move { tokio::join!(reads, arrivals) })
                .await;
        });
        InboxTask { cancel }
    }
}

/// The read loop: one read at a time, never sooner than the schedule unless asked or the
/// open accounts changed.
pub async fn reads(engine: Arc<dyn Engine>, now: ReadNow) {
    use tokio::time::Instant;
    let mut rx = engine.subscribe();
    let mut pokes = now.0.subscribe();
    let mut schedule = Schedule::default();
    let mut keys = Vec::new();
    let mut next_at = Instant::now();
    loop {
        let current = account_keys(&rx.borrow_and_update());
        if current.is_empty() {
            keys.clear();
            // Nobody is signed in: wait for an account (the engine emptied the inbox).
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        if current != keys {
            keys = current;
            next_at = Instant::now();
        }
        if Instant::now() < next_at {
            tokio::select! {
                _ = tokio::time::sleep_until(next_at) => {}
                _ = pokes.changed() => {}
                r = rx.changed() => {
                    if r.is_err() {
                        return;
                    }
                    // Back to the top: a change of accounts reads now, others wait on.
                    continue;
                }
            }
        }
        // This read answers every poke so far.
        pokes.borrow_and_update();
        let r = engine.read_approvals().await;
        if let Err(e) = &r {
            tracing::warn!("approvals not read: {e}");
        }
        let wait = schedule.next(r.is_ok());
        tracing::debug!(ok = r.is_ok(), next_in_s = wait.as_secs(), "approvals read");
        next_at = Instant::now() + wait;
    }
}

// ------------------------------------------------------------------------------ arrivals

/// Tells the user about requests that start waiting for them.
pub trait InboxSink: Send + Sync {
    /// Requests new since the last call, oldest first.
    fn arrived(&self, items: &[ApprovalView]);
}

/// Which requests were already told: each request is told once, when it starts waiting
/// for me (a later stage that becomes mine counts as new then).
#[derive(Debug, Default)]
pub struct Arrivals {
    told: HashSet<String>,
}

impl Arrivals {
    /// The requests of `model` that wait for me now and were not told yet.
    pub fn new_in(&mut self, model: &TrayModel) -> Vec<ApprovalView> {
        model
            .approvals
            .iter()
            .filter(|a| a.item.actionable && self.told.insert(a.id().to_owned()))
            .cloned()
            .collect()
    }
}

async fn watch_arrivals(mut rx: watch::Receiver<TrayModel>, sink: Arc<dyn InboxSink>) {
    let mut arrivals = Arrivals::default();
    loop {
        let new = arrivals.new_in(&rx.borrow_and_update());
        if !new.is_empty() {
            sink.arrived(&new);
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The notification for new requests: title and body (plain; `notify.rs` escapes it), and
/// the request its *Open* action opens (the oldest).
pub fn arrival_text(items: &[ApprovalView]) -> Option<(String, String, String)> {
    let first = items.first()?;
    if items.len() == 1 {
        let i = &first.item;
        let what = match i.kind {
            pim_core::RoleKind::AzureResource => {
                format!("{} on {}", i.label(), i.scope.display_name)
            }
            _ => i.label(),
        };
        let mut body = format!("{} asks for {what} in {}", i.requester.name, i.tenant_name);
        if let Some(t) = i.ticket.as_ref().filter(|t| !t.number.is_empty()) {
            body.push_str(&format!(" (ticket {})", t.number));
        }
        body.push('.');
        if let Some(j) = i.justification.as_deref().filter(|j| !j.trim().is_empty()) {
            body.push_str(&format!(" “{}”", shorten(j, 120)));
        }
        return Some((
            format!("Approval requested: {}", i.label()),
            body,
            first.id().to_owned(),
        ));
    }
    let names: Vec<String> = items
        .iter()
        .take(3)
        .map(|a| format!("{} ({})", a.item.requester.name, a.item.label()))
        .collect();
    let more = items.len().saturating_sub(3);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Some((
        format!("{} requests wait for your approval", items.len()),
        format!(
            "{}{tail}. Open shows the oldest; the tray menu lists them all.",
            names.join(", ")
        ),
        first.id().to_owned(),
    ))
}

// ------------------------------------------------------------------------------ menu

/// The *Approvals (N)* section at the top of the menu, N the requests waiting for me now:
/// each such request opens its decision window; one whose stage for me has not started is a
/// greyed line saying whom it waits for. Nothing when the inbox is empty.
pub fn section(out: &mut Vec<MenuNode>, n: &mut usize, model: &TrayModel) {
    if model.approvals.is_empty() {
        return;
    }
    let several_places = model
        .approvals
        .iter()
        .map(|a| (&a.account, &a.item.tenant_id))
        .collect::<HashSet<_>>()
        .len()
        > 1
        || model.accounts.len() > 1
        || model.accounts.iter().any(|a| a.tenants.len() > 1);
    out.push(MenuNode::Separator);
    out.push(MenuNode::info(
        n,
        format!("Approvals ({})", model.approvals_waiting()),
    ));
    for a in model.approvals.iter().take(MENU_MAX) {
        let mut label = a.title();
        if several_places {
            label = format!("{label} · {}", a.item.tenant_name);
        }
        if a.item.actionable {
            out.push(MenuNode::item(
                MenuAction::Approval(a.id().to_owned()).id(),
                shorten(&label, 90),
            ));
        } else {
            let who = a.item.waiting_for.as_deref().unwrap_or("another approver");
            out.push(MenuNode::info(
                n,
                format!("{} — waiting for {who}", shorten(&label, 70)),
            ));
        }
    }
    let more = model.approvals.len().saturating_sub(MENU_MAX);
    if more > 0 {
        out.push(MenuNode::info(
            n,
            format!("… and {more} more (pim approvals lists them all)"),
        ));
    }
}

// ------------------------------------------------------------------------------ IPC

/// A request as the decision window shows it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDto {
    /// The id to decide it with.
    pub id: String,
    /// `entraRole`, `group` or `azureResource`.
    #[cfg_attr(test, ts(type = "\"entraRole\" | \"group\" | \"azureResource\""))]
    pub kind: &'static str,
    /// Role, or group with its access (`SQL Prod Admins (member)`).
    pub name: String,
    /// Where (directory, group, subscription, resource group…), in words.
    pub scope: String,
    /// Tenant name.
    pub tenant_name: String,
    /// The approver's account that sees it (its sign-in name).
    pub approver: String,
    /// The requester's display name.
    pub requester: String,
    /// The requester's sign-in name, when known.
    pub requester_upn: Option<String>,
    /// The requester's justification.
    pub justification: String,
    /// The ticket (`system number`), if any.
    pub ticket: String,
    /// Requested start (RFC 3339, UTC); none: as soon as approved.
    pub start: Option<String>,
    /// Requested length in minutes, when said.
    pub duration_minutes: Option<u32>,
    /// When it was asked (RFC 3339, UTC).
    pub created_at: Option<String>,
    /// The stage assigned to me (its name), when it has one.
    pub stage: Option<String>,
    /// Whether it waits for my decision now.
    pub actionable: bool,
    /// When not: whom it waits for.
    pub waiting_for: Option<String>,
}

fn rfc3339(t: Option<time::OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok())
}

impl From<&ApprovalView> for ApprovalDto {
    fn from(a: &ApprovalView) -> Self {
        let i = &a.item;
        ApprovalDto {
            id: i.id.clone(),
            kind: i.kind.as_str(),
            name: i.label(),
            scope: i.scope.display_name.clone(),
            tenant_name: i.tenant_name.clone(),
            approver: a.upn.clone(),
            requester: i.requester.name.clone(),
            requester_upn: i.requester.upn.clone(),
            justification: i.justification.clone().unwrap_or_default(),
            ticket: crate::dto::ticket_text(i.ticket.as_ref()),
            start: rfc3339(i.start),
            duration_minutes: crate::dto::whole_minutes(i.duration),
            created_at: rfc3339(i.created_at),
            stage: i.stage.as_ref().and_then(|s| s.name.clone()),
            actionable: i.actionable,
            waiting_for: i.waiting_for.clone(),
        }
    }
}

/// What the decision window sends.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecideApprovalRequest {
    /// The request's id.
    pub id: String,
    /// `approve` or `deny`.
    #[cfg_attr(test, ts(type = "\"approve\" | \"deny\""))]
    pub decision: String,
    /// Why (required to deny).
    #[serde(default)]
    pub justification: String,
}

fn gone() -> IpcError {
    IpcError {
        code: pim_core::ErrorCode::NotFound,
        message: "This request no longer waits for you: it was decided or withdrawn meanwhile. \
                  The tray menu shows the requests that do."
            .into(),
    }
}

/// Body of `get_approval`: the request as the inbox last read it.
pub fn approval(state: &AppState, id: &str) -> Result<ApprovalDto, IpcError> {
    state
        .model()
        .approval(id)
        .map(ApprovalDto::from)
        .ok_or_else(gone)
}

/// Body of `decide_approval`: checks the shape (a denial says why; at most
/// [`MAX_JUSTIFICATION`] characters), sends the decision once, then has the inbox read again.
/// Answers `approved` or `denied`.
pub async fn decide(state: &AppState, request: DecideApprovalRequest) -> Result<String, IpcError> {
    let decision = match request.decision.as_str() {
        "approve" => pim_core::Decision::Approve,
        "deny" => pim_core::Decision::Deny,
        other => {
            return Err(IpcError::invalid(format!(
                "the decision is approve or deny, not `{}`",
                shorten(other, 40)
            )));
        }
    };
    let justification = request.justification.trim().to_owned();
    if decision == pim_core::Decision::Deny && justification.is_empty() {
        return Err(IpcError::invalid(
            "Say why you deny the request: the requester sees your justification.",
        ));
    }
    if justification.chars().count() > MAX_JUSTIFICATION {
        return Err(IpcError::invalid(format!(
            "The justification is longer than {MAX_JUSTIFICATION} characters."
        )));
    }
    if state.model().approval(&request.id).is_none() {
        return Err(gone());
    }
    let r = state
        .engine
        .decide(
            &request.id,
            decision,
            Some(justification).filter(|j| !j.is_empty()),
        )
        .await;
    // Decided here or elsewhere: the inbox is read again either way.
    state.approvals_read_now().poke();
    r?;
    Ok(match decision {
        pim_core::Decision::Approve => "approved".into(),
        pim_core::Decision::Deny => "denied".into(),
    })
}

/// A request for tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use pim_core::{ApprovalItem, ApprovalStage, Requester, RoleKind, Scope, ScopeKind, Ticket};

    use crate::view::ApprovalView;

    /// Alex Wilber asks for Global Administrator in Contoso (INC-2217), waiting for me.
    pub(crate) fn alex(id: &str) -> ApprovalView {
        ApprovalView {
            account: "public:c:o.t".into(),
            upn: "adele@contoso.onmicrosoft.com".into(),
            item: ApprovalItem {
                id: id.into(),
                kind: RoleKind::EntraRole,
                tenant_id: "t".into(),
                tenant_name: "Contoso".into(),
                approval_id: "a1".into(),
                request_id: "a1".into(),
                requester: Requester {
                    id: Some("u1".into()),
                    name: "Alex Wilber".into(),
                    upn: Some("alexw@contoso.onmicrosoft.com".into()),
                },
                name: "Global Administrator".into(),
                role_definition_id: "62e90394-69f5-4237-9190-012177145e10".into(),
                access: None,
                scope: Scope {
                    id: "/".into(),
                    display_name: "Directory".into(),
                    kind: ScopeKind::Directory,
                },
                justification: Some("Break-glass for the <b>outage</b>".into()),
                ticket: Some(Ticket {
                    number: "INC-2217".into(),
                    system: "ServiceNow".into(),
                }),
                start: None,
                duration: Some(pim_core::PimDuration::from_hours(2)),
                created_at: Some(time::macros::datetime!(2026-12-07 09:00 UTC)),
                stage: Some(ApprovalStage {
                    id: "s1".into(),
                    name: Some("Stage 1".into()),
                    status: "InProgress".into(),
                    assigned_to_me: true,
                    review_result: None,
                }),
                actionable: true,
                waiting_for: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::alex;
    use super::*;
    use crate::engine::FakeEngine;

    fn model_with(items: Vec<ApprovalView>) -> TrayModel {
        let engine = FakeEngine::global_reader();
        let mut m = engine.subscribe().borrow().clone();
        m.approvals = items;
        m
    }

    fn waiting_for_stage_1(id: &str) -> ApprovalView {
        let mut a = alex(id);
        a.item.requester.name = "Isaiah Langer".into();
        a.item.actionable = false;
        a.item.waiting_for = Some("Security lead".into());
        a
    }

    #[test]
    fn reads_every_five_minutes_and_back_off_to_half_an_hour() {
        let mut s = Schedule::default();
        assert_eq!(s.next(true), EVERY);
        let waits: Vec<u64> = (0..6).map(|_| s.next(false).as_secs() / 60).collect();
        assert_eq!(waits, [10, 20, 30, 30, 30, 30]);
        assert_eq!(s.next(true), EVERY, "a read that works resets the wait");
        assert_eq!(s.next(false).as_secs() / 60, 10);
        for _ in 0..100 {
            s.next(false);
        }
        assert_eq!(s.next(false), MAX_WAIT, "no overflow after many failures");
    }

    #[test]
    fn each_request_is_told_once_when_it_starts_waiting_for_me() {
        let mut arrivals = Arrivals::default();
        let m = model_with(vec![alex("a"), waiting_for_stage_1("b")]);
        let new: Vec<String> = arrivals
            .new_in(&m)
            .iter()
            .map(|a| a.id().to_owned())
            .collect();
        assert_eq!(new, ["a"], "only what waits for me");
        assert!(arrivals.new_in(&m).is_empty(), "told once");
        // Stage 1 approved elsewhere: b is mine now, and new.
        let mut b = waiting_for_stage_1("b");
        b.item.actionable = true;
        let m = model_with(vec![alex("a"), b]);
        let new: Vec<String> = arrivals
            .new_in(&m)
            .iter()
            .map(|a| a.id().to_owned())
            .collect();
        assert_eq!(new, ["b"]);
    }

    #[test]
    fn a_new_request_is_told_with_who_what_where_and_why() {
        assert!(arrival_text(&[]).is_none());
        let (title, body, open) = arrival_text(&[alex("entra:t:a1")]).unwrap();
        assert_eq!(title, "Approval requested: Global Administrator");
        assert_eq!(
            body,
            "Alex Wilber asks for Global Administrator in Contoso (ticket INC-2217). \
             “Break-glass for the <b>outage</b>”"
        );
        assert_eq!(open, "entra:t:a1");
        let mut azure = alex("azure:t:x");
        azure.item.kind = pim_core::RoleKind::AzureResource;
        azure.item.name = "Contributor".into();
        azure.item.scope.display_name = "Prod".into();
        azure.item.ticket = None;
        azure.item.justification = None;
        let (_, body, _) = arrival_text(&[azure]).unwrap();
        assert_eq!(body, "Alex Wilber asks for Contributor on Prod in Contoso.");
        let many: Vec<ApprovalView> = (0..5).map(|i| alex(&format!("entra:t:{i}"))).collect();
        let (title, body, open) = arrival_text(&many).unwrap();
        assert_eq!(title, "5 requests wait for your approval");
        assert!(body.contains(" and 2 more."), "{body}");
        assert_eq!(open, "entra:t:0", "Open shows the oldest");
    }

    #[test]
    fn the_menu_section_lists_the_inbox_on_top_with_the_count_waiting_for_me() {
        let mut out = Vec::new();
        let mut n = 0;
        section(&mut out, &mut n, &model_with(Vec::new()));
        assert!(out.is_empty(), "no section without requests");
        let m = model_with(vec![alex("entra:t:a1"), waiting_for_stage_1("entra:t:b")]);
        section(&mut out, &mut n, &m);
        let labels: Vec<&str> = out.iter().filter_map(MenuNode::label).collect();
        assert_eq!(
            labels,
            [
                "Approvals (1)",
                "Alex Wilber — Global Administrator",
                "Isaiah Langer — Global Administrator — waiting for Security lead",
            ]
        );
        match &out[2] {
            MenuNode::Item { id, enabled, .. } => {
                assert!(*enabled);
                assert_eq!(
                    MenuAction::parse(id),
                    Some(MenuAction::Approval("entra:t:a1".into()))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[3], MenuNode::Item { enabled: false, .. }));
        // The whole menu: the section comes first, under the title.
        let menu = crate::menu::build(&m, time::OffsetDateTime::now_utc());
        assert_eq!(menu[1], MenuNode::Separator);
        assert_eq!(menu[2].label(), Some("Approvals (1)"));
    }

    #[test]
    fn a_long_inbox_is_cut_in_the_menu_and_places_are_named_when_several() {
        let mut items: Vec<ApprovalView> =
            (0..12).map(|i| alex(&format!("entra:t:{i:02}"))).collect();
        items[11].item.tenant_id = "t2".into();
        items[11].item.tenant_name = "Fabrikam".into();
        let mut out = Vec::new();
        section(&mut out, &mut 0, &model_with(items));
        let labels: Vec<&str> = out.iter().filter_map(MenuNode::label).collect();
        assert_eq!(labels.len(), 1 + MENU_MAX + 1, "{labels:?}");
        assert_eq!(labels[0], "Approvals (12)");
        assert_eq!(labels[1], "Alex Wilber — Global Administrator · Contoso");
        assert_eq!(labels[11], "… and 2 more (pim approvals lists them all)");
    }

    #[test]
    fn the_window_gets_the_request_in_words() {
        let d = ApprovalDto::from(&alex("entra:t:a1"));
        assert_eq!(d.kind, "entraRole");
        assert_eq!(
            d.requester_upn.as_deref(),
            Some("alexw@contoso.onmicrosoft.com")
        );
        assert_eq!(d.ticket, "ServiceNow INC-2217");
        assert_eq!(d.duration_minutes, Some(120));
        assert_eq!(d.created_at.as_deref(), Some("2026-12-07T09:00:00Z"));
        assert_eq!(d.start, None);
        assert_eq!(d.stage.as_deref(), Some("Stage 1"));
        assert_eq!(d.approver, "adele@contoso.onmicrosoft.com");
        let mut group = alex("group:t:g");
        group.item.kind = pim_core::RoleKind::Group;
        group.item.name = "SQL Prod Admins".into();
        group.item.access = Some(pim_core::AccessId::Member);
        assert_eq!(ApprovalDto::from(&group).name, "SQL Prod Admins (member)");
        assert_eq!(group.title(), "Alex Wilber — SQL Prod Admins (member)");
    }

    /// The read loop on tokio's paused clock: a read once signed in, then every five
    /// minutes; failures back off; a poke reads at once; nothing while signed out.
    #[tokio::test(start_paused = true)]
    async fn the_inbox_is_read_on_schedule_on_request_and_never_in_a_loop() {
        let engine = Arc::new(FakeEngine::global_reader());
        *engine.inbox.lock().unwrap() = vec![alex("entra:t:a1")];
        let now = ReadNow::default();
        let task = tokio::spawn(reads(engine.clone(), now.clone()));
        let reads_so_far = |e: &FakeEngine| e.calls_to("approvals").len();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(reads_so_far(&engine), 1, "read once an account is open");
        assert_eq!(engine.subscribe().borrow().approvals.len(), 1);
        tokio::time::sleep(EVERY - Duration::from_secs(2)).await;
        assert_eq!(reads_so_far(&engine), 1, "not before five minutes");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(reads_so_far(&engine), 2);
        // Failures: 10 then 20 minutes.
        *engine.inbox_error.lock().unwrap() = Some("HTTP 503".into());
        tokio::time::sleep(EVERY).await;
        assert_eq!(reads_so_far(&engine), 3);
        tokio::time::sleep(Duration::from_secs(9 * 60)).await;
        assert_eq!(reads_so_far(&engine), 3, "backed off to 10 minutes");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(reads_so_far(&engine), 4);
        tokio::time::sleep(Duration::from_secs(19 * 60)).await;
        assert_eq!(reads_so_far(&engine), 4, "then 20");
        // Refresh or a decision reads now, once however often it is asked.
        *engine.inbox_error.lock().unwrap() = None;
        now.poke();
        now.poke();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(reads_so_far(&engine), 5);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(reads_so_far(&engine), 5, "one read for many pokes");
        // Other model changes do not read early.
        engine.deactivate("gr").await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(reads_so_far(&engine), 5);
        // Signed out: no reads at all, however long.
        engine.sign_out().await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(reads_so_far(&engine), 5);
        task.abort();
    }
}

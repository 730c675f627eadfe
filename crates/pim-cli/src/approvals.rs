//! `pim approvals`, `pim approve ID`, `pim deny ID`: other users' requests waiting for my
//! decision as an approver, and deciding them. One `Session::approvals` or
//! `Session::decide` call plus formatting.

use clap::Args;
use pim_accounts::OpenAccount;
use pim_core::{ApprovalItem, Decision, Error};
use serde_json::{Value, json};

use crate::history::cell;
use crate::output::{Out, kind_short, utc_text};

/// `pim approve` / `pim deny` options.
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The request's id, as `pim approvals` lists it.
    pub id: String,
    /// Your justification (required to deny; to approve when the role's policy says so).
    #[arg(long, visible_alias = "justification", value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `pim approvals`: the tenants `--tenant` names (hidden or not), else every shown tenant.
pub async fn list(
    open: &OpenAccount,
    tenant: &Option<String>,
    json: bool,
    out: &Out,
) -> pim_core::Result<()> {
    let session = open.session();
    let inbox = match crate::find::named_tenants(session, tenant).await? {
        None => session.approvals().await?,
        Some(chosen) => session.approvals_of(&chosen).await?,
    };
    Out::warnings(&inbox.tenants);
    if json {
        out.print_json(&inbox.items.iter().map(item_json).collect::<Vec<_>>());
    } else if inbox.items.is_empty() {
        outln!("No requests wait for your approval.");
    } else {
        table(out, &inbox.items);
        let ready = inbox.items.iter().filter(|i| i.actionable).count();
        outln!();
        outln!(
            "{ready} of {} wait for you: `pim approve ID [--reason TEXT]` or `pim deny ID --reason TEXT`.",
            inbox.items.len()
        );
    }
    Ok(())
}

/// The refusal of `pim deny` without a reason (a usage error: nothing is sent).
pub fn deny_needs_reason(reason: &Option<String>) -> pim_core::Result<()> {
    if reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::InvalidInput(
            "`pim deny` needs --reason TEXT: say why the request is denied".into(),
        ));
    }
    Ok(())
}

/// `pim approve ID` / `pim deny ID`: one decision, sent once.
pub async fn decide(
    open: &OpenAccount,
    args: &DecideArgs,
    decision: Decision,
    out: &Out,
) -> pim_core::Result<()> {
    if decision == Decision::Deny {
        deny_needs_reason(&args.reason)?;
    }
    let id = args.id.trim();
    open.session()
        .decide(id, decision, args.reason.clone())
        .await?;
    let done = match decision {
        Decision::Approve => "approved",
        Decision::Deny => "denied",
    };
    if args.json {
        out.print_json(&json!({"id": id, "decision": done}));
    } else {
        outln!("{id}: {done}.");
    }
    Ok(())
}

/// One request as `pim approvals --json` prints it.
pub fn item_json(i: &ApprovalItem) -> Value {
    json!({
        "id": i.id,
        "requester": {"name": i.requester.name, "upn": i.requester.upn},
        "name": i.label(),
        "scope": i.scope.display_name,
        "tenantId": i.tenant_id,
        "kind": i.kind.as_str(),
        "justification": i.justification,
        "ticket": i.ticket.as_ref().map(|t| json!({"number": t.number, "system": t.system})),
        "createdAt": i.created_at.map(utc_text),
        "duration": i.duration.map(|d| d.to_iso8601()),
        "actionable": i.actionable,
        "stage": i.stage.as_ref().map(|s| json!({"id": s.id, "name": s.name, "status": s.status})),
    })
}

/// Who the request waits for: me, or the stage in progress.
fn waits_for(i: &ApprovalItem) -> String {
    if i.actionable {
        return "you".into();
    }
    match (&i.waiting_for, &i.stage) {
        (Some(w), _) => format!("{w} first"),
        (None, None) => "unknown (stages unreadable)".into(),
        (None, Some(_)) => "another approver".into(),
    }
}

/// The table: id, requester, role or group, scope, tenant, justification, ticket, asked
/// (local time), duration, who it waits for.
fn table(out: &Out, items: &[ApprovalItem]) {
    let mut rows = vec![
        [
            "ID",
            "REQUESTER",
            "ROLE/GROUP",
            "SCOPE",
            "TENANT",
            "JUSTIFICATION",
            "TICKET",
            "ASKED",
            "DURATION",
            "WAITS FOR",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for i in items {
        let requester = match &i.requester.upn {
            Some(u) if *u != i.requester.name => format!("{} <{u}>", i.requester.name),
            _ => i.requester.name.clone(),
        };
        rows.push(vec![
            i.id.clone(),
            cell(&requester, 60),
            format!("{} {}", kind_short(i.kind), cell(&i.label(), 80)),
            cell(&i.scope.display_name, 60),
            cell(&i.tenant_name, 40),
            cell(i.justification.as_deref().unwrap_or_default(), 40),
            i.ticket
                .as_ref()
                .map(|t| cell(&t.number, 30))
                .unwrap_or_default(),
            i.created_at.map(|t| out.time(t)).unwrap_or_default(),
            i.duration.map(|d| d.to_human()).unwrap_or_default(),
            waits_for(i),
        ]);
    }
    Out::table(&rows);
}

#[cfg(test)]
mod tests {
    use pim_core::{ApprovalStage, PimDuration, Requester, RoleKind, Scope, ScopeKind, Ticket};
    use time::macros::datetime;

    use super::*;

    fn item() -> ApprovalItem {
        ApprovalItem {
            id: "group:t1:q1".into(),
            kind: RoleKind::Group,
            tenant_id: "t1".into(),
            tenant_name: "Contoso".into(),
            approval_id: "q1".into(),
            request_id: "q1".into(),
            requester: Requester {
                id: Some("p".into()),
                name: "Diego Siciliani".into(),
                upn: Some("diegos@contoso.com".into()),
            },
            name: "SQL Prod Admins".into(),
            role_definition_id: "member".into(),
            access: Some(pim_core::AccessId::Member),
            scope: Scope {
                id: "g".into(),
                display_name: "SQL Prod Admins".into(),
                kind: ScopeKind::Group,
            },
            justification: Some("DB fix".into()),
            ticket: Some(Ticket {
                number: "CHG1".into(),
                system: "SN".into(),
            }),
            start: None,
            duration: Some(PimDuration::from_hours(2)),
            created_at: Some(datetime!(2026-08-01 10:00:00.5 UTC)),
            stage: Some(ApprovalStage {
                id: "s1".into(),
                name: None,
                status: "InProgress".into(),
                assigned_to_me: true,
                review_result: None,
            }),
            actionable: true,
            waiting_for: None,
        }
    }

    #[test]
    fn json_objects_carry_exactly_the_documented_keys() {
        let v = item_json(&item());
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "actionable",
                "createdAt",
                "duration",
                "id",
                "justification",
                "kind",
                "name",
                "requester",
                "scope",
                "stage",
                "tenantId",
                "ticket"
            ]
        );
        assert_eq!(v["name"], "SQL Prod Admins (member)");
        assert_eq!(
            v["requester"],
            json!({"name": "Diego Siciliani", "upn": "diegos@contoso.com"})
        );
        assert_eq!(v["createdAt"], "2026-08-01T10:00:00.5Z");
        assert_eq!(v["duration"], "PT2H");
        assert_eq!(v["kind"], "group");
        assert_eq!(
            v["stage"],
            json!({"id": "s1", "name": null, "status": "InProgress"})
        );
    }

    #[test]
    fn who_it_waits_for() {
        let mut i = item();
        assert_eq!(waits_for(&i), "you");
        i.actionable = false;
        i.waiting_for = Some("Security lead".into());
        assert_eq!(waits_for(&i), "Security lead first");
        i.waiting_for = None;
        assert_eq!(waits_for(&i), "another approver");
        i.stage = None;
        assert!(waits_for(&i).starts_with("unknown"));
    }

    #[test]
    fn deny_needs_a_reason() {
        assert!(matches!(
            deny_needs_reason(&None),
            Err(Error::InvalidInput(_))
        ));
        assert!(deny_needs_reason(&Some(" ".into())).is_err());
        assert!(deny_needs_reason(&Some("no".into())).is_ok());
    }
}

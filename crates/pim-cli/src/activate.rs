//! `pim activate`: one role (the original command, unchanged), or several roles with one
//! request. Several roles are each checked against their own policy before anything is sent
//! (one refusal sends nothing, and every refusal is listed), then sent in parallel
//! (pim-core's `Session::plan_activations` and `Session::activate_planned`); each gets one
//! line, or one object of a JSON array.

use clap::Args;
use pim_core::{
    ActivationRequest, Error, Outcome, PimDuration, Planned, ReadyOptions, ReadyOutcome, Role,
    RoleState, Session,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::cli::{RequestArgs, Target, parse_duration, parse_start};
use crate::ctx::{Ctx, open_account};
use crate::output::{Out, rfc3339};
use crate::{cli_hint, exit_code};

/// `pim activate` arguments.
#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// Role, group or Azure role names (case-insensitive; a unique prefix is enough). Several
    /// names get the same request; each role is checked against its own policy first.
    #[arg(required_unless_present = "bundle", value_name = "NAME")]
    names: Vec<String>,
    /// Scope name or id (administrative unit, group, subscription, resource group), for each
    /// name.
    #[arg(long, conflicts_with = "bundle")]
    scope: Option<String>,
    /// Activate a saved bundle (`pim bundle list`); the options given here win over the
    /// bundle's reason, ticket system and duration.
    #[arg(long, value_name = "NAME", conflicts_with = "names")]
    bundle: Option<String>,
    #[command(flatten)]
    request: RequestArgs,
    /// Start later: RFC 3339, or local `HH:MM` / `YYYY-MM-DD HH:MM`.
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// Print JSON (several roles, or `--wait`: an array, one object per role).
    #[arg(long)]
    json: bool,
    /// Return once every activated role works everywhere (probed: a fresh token's roles,
    /// group memberships, Azure permissions at the scope), or say which do not yet.
    #[arg(long)]
    wait: bool,
    /// How long `--wait` waits at most (default 30m).
    #[arg(long, value_name = "DURATION", requires = "wait", value_parser = parse_duration)]
    timeout: Option<PimDuration>,
}

impl ActivateArgs {
    /// How long to wait until the roles work everywhere, if asked.
    fn wait(&self) -> Option<std::time::Duration> {
        self.wait.then(|| {
            self.timeout
                .map(PimDuration::to_std)
                .unwrap_or(std::time::Duration::from_secs(30 * 60))
        })
    }
}

/// Runs `pim activate`; returns the exit code.
pub async fn run(
    ctx: &Ctx,
    account: &Option<String>,
    tenant: &Option<String>,
    args: ActivateArgs,
    out: &Out,
) -> pim_core::Result<u8> {
    let mut req = args.request.to_request();
    if let Some(st) = &args.start {
        req.start = Some(parse_start(st, out.local)?);
    }
    if let Some(name) = &args.bundle {
        return bundle(ctx, account, tenant, name, req, &args, out).await;
    }
    if let [name] = args.names.as_slice()
        && !args.wait
    {
        let target = Target {
            name: name.clone(),
            scope: args.scope.clone(),
        };
        single(ctx, account, tenant, &target, req, args.json, out).await?;
        return Ok(0);
    }
    let open = open_account(ctx, account, tenant)?;
    open.refresh().await?;
    let mut roles = Vec::new();
    let mut unknown = Vec::new();
    for name in &args.names {
        let target = Target {
            name: name.clone(),
            scope: args.scope.clone(),
        };
        match crate::find::resolve(&open, tenant, &target, &|r| r.state == RoleState::Eligible)
            .await
        {
            Ok(r) => roles.push(Item::Role(r)),
            Err(e) => unknown.push(e),
        }
    }
    if !unknown.is_empty() {
        // Every name must mean one role before anything is checked or sent.
        let n = unknown.len();
        for e in &unknown {
            report(e);
        }
        return Err(Error::InvalidInput(format!(
            "nothing was sent: {n} of {} names do not name one role (above)",
            args.names.len()
        )));
    }
    many(
        open.session(),
        roles,
        &req,
        None,
        args.json,
        args.wait(),
        out,
    )
    .await
}

/// `--bundle NAME`: the saved roles, found again by their identities; one that is not among
/// the account's roles any more is reported as failed and the others follow the usual rules.
async fn bundle(
    ctx: &Ctx,
    account: &Option<String>,
    tenant: &Option<String>,
    name: &str,
    mut req: ActivationRequest,
    args: &ActivateArgs,
    out: &Out,
) -> pim_core::Result<u8> {
    if tenant.is_some() {
        return Err(Error::InvalidInput(
            "--tenant does not apply to --bundle: a bundle names its roles' tenants".into(),
        ));
    }
    let saved = crate::bundle::store(ctx).get(name)?;
    // What is given here wins over the bundle's.
    if req.justification.is_none() {
        req.justification = saved.reason.clone();
    }
    if let Some(t) = req.ticket.as_mut()
        && t.system.is_empty()
        && let Some(system) = &saved.ticket_system
    {
        t.system = system.clone();
    }
    let preferred = match args.request.duration {
        Some(_) => None,
        None => saved.duration,
    };
    let account = ctx.select(account)?;
    // A bundle role in a hidden tenant is still activated: read those tenants too.
    let hidden = saved.roles.iter().any(|r| {
        account
            .hidden_tenants
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&r.tenant_id))
    });
    let open = ctx.accounts.open(
        account,
        if hidden {
            pim_accounts::Tenants::All
        } else {
            pim_accounts::Tenants::Shown
        },
    )?;
    let snap = open.refresh().await?;
    let items = saved
        .roles
        .iter()
        .map(|b| match snap.by_key(&b.key()) {
            Some(r) => Item::Role(r.clone()),
            None => Item::Missing {
                row: Row::saved(b),
                error: missing(&snap, b),
            },
        })
        .collect();
    many(
        open.session(),
        items,
        &req,
        preferred,
        args.json,
        args.wait(),
        out,
    )
    .await
}

/// Why a saved role is not among the account's roles.
fn missing(snap: &pim_core::Snapshot, b: &pim_accounts::BundleRole) -> Error {
    let tenant = snap
        .tenants
        .iter()
        .find(|t| t.tenant.id.eq_ignore_ascii_case(&b.tenant_id));
    match tenant {
        Some(t) if t.error.is_some() => Error::InvalidState {
            message: format!(
                "its tenant {} could not be read ({}); try again later",
                t.tenant.display_name,
                t.error.as_ref().map(|e| e.message.as_str()).unwrap_or("")
            ),
        },
        Some(_) => Error::NotEligible {
            message: "it is no longer among your eligible roles; save the bundle again without it \
                      (`pim bundle save`)"
                .into(),
        },
        None => Error::NotEligible {
            message: format!(
                "this account no longer reaches the tenant {}; save the bundle again without it \
                 (`pim bundle save`)",
                if b.tenant_name.is_empty() {
                    &b.tenant_id
                } else {
                    &b.tenant_name
                }
            ),
        },
    }
}

/// One role: the command as it always was.
async fn single(
    ctx: &Ctx,
    account: &Option<String>,
    tenant: &Option<String>,
    target: &Target,
    mut req: ActivationRequest,
    json: bool,
    out: &Out,
) -> pim_core::Result<()> {
    let se = open_account(ctx, account, tenant)?;
    let s = se.session();
    let role = crate::find::find(&se, tenant, target, &|r| r.state == RoleState::Eligible).await?;
    let policy = s.policy(&role).await;
    let defaulted = req.duration.is_none();
    let duration = req
        .duration
        .unwrap_or_else(|| pim_core::model::default_duration(policy.known()));
    if defaulted && !json {
        let why = match policy.known().and_then(|p| p.max_duration) {
            Some(m) => format!("the policy maximum {m} capped at 1h"),
            None => "policy maximum unknown".into(),
        };
        errln!("Duration: {duration} (default: {why}; use --duration to choose).");
    }
    req.duration = Some(duration);
    let outcome = s.activate(&role, req).await?;
    out.outcome(&role, &outcome, s.now(), json);
    Ok(())
}

/// A role of a batch: found, or (from a saved bundle) no longer found.
#[derive(Debug)]
// A handful per command, moved once into the batch: boxing would gain nothing.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    /// The role as the latest refresh shows it.
    Role(Role),
    /// A saved role that is not among the account's roles any more.
    Missing {
        /// What it was saved as.
        row: Row,
        /// Why it cannot be activated.
        error: Error,
    },
}

/// What the user sees of one role of a batch: its line, or its JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// "Name — scope (tenant)".
    pub who: String,
    /// Display name (groups: the group's).
    pub name: String,
    /// Name shown with `(member)`/`(owner)` for groups.
    pub label: String,
    /// Scope display name.
    pub scope: String,
    /// Scope id.
    pub scope_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// `entraRole`, `group`, `azureResource`.
    pub kind: &'static str,
}

impl Row {
    fn of(r: &Role) -> Row {
        Row {
            who: r.describe(),
            name: r.name.clone(),
            label: r.label(),
            scope: r.scope.display_name.clone(),
            scope_id: r.scope.id.clone(),
            tenant_id: r.tenant_id.clone(),
            kind: r.kind.as_str(),
        }
    }

    fn saved(b: &pim_accounts::BundleRole) -> Row {
        Row {
            who: b.describe(),
            name: b.name.clone(),
            label: b.label(),
            scope: b.scope_name.clone(),
            scope_id: b.scope_id.clone(),
            tenant_id: b.tenant_id.clone(),
            kind: b.kind.as_str(),
        }
    }
}

/// How one role of a batch ended.
#[derive(Debug)]
enum End {
    /// Sent (or not, when `already`) and active, pending or scheduled.
    Done {
        outcome: Outcome,
        already: bool,
        /// When a scheduled activation will end (its start plus the duration asked for).
        scheduled_end: Option<OffsetDateTime>,
    },
    /// Refused before sending, or failed when sent.
    Failed(Error),
    /// Not sent because another role was refused before sending.
    NotSent,
}

/// Plans, checks and sends a batch; prints a line (or a JSON object) per role. Exit code: 0
/// when every role is active, pending or scheduled; 3 when a role was refused before sending
/// (then nothing is sent); 1 when a role failed (the others stay as they are).
pub async fn many(
    s: &Session,
    items: Vec<Item>,
    req: &ActivationRequest,
    preferred: Option<PimDuration>,
    json: bool,
    wait: Option<std::time::Duration>,
    out: &Out,
) -> pim_core::Result<u8> {
    let mut rows = Vec::new();
    let mut keys: Vec<Option<String>> = Vec::new();
    let mut roles = Vec::new();
    let mut ends: Vec<Option<End>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for item in items {
        match item {
            Item::Role(r) => {
                // The same role named twice is activated once.
                if seen.insert(r.key()) {
                    rows.push(Row::of(&r));
                    keys.push(Some(r.key()));
                    ends.push(None);
                    roles.push((rows.len() - 1, r));
                }
            }
            Item::Missing { row, error } => {
                rows.push(row);
                keys.push(None);
                ends.push(Some(End::Failed(error)));
            }
        }
    }
    if req.duration.is_none() && preferred.is_none() && !json {
        errln!(
            "Duration: each role's default (its policy maximum capped at 1h); use --duration to choose."
        );
    }
    let just: Vec<Role> = roles.iter().map(|(_, r)| r.clone()).collect();
    let planned = s.plan_activations(&just, req, preferred).await;
    let mut plans = Vec::new();
    let mut refused = 0;
    for ((i, role), p) in roles.iter().zip(planned) {
        ends[*i] = Some(match p {
            Planned::AlreadyActive => End::Done {
                outcome: Outcome::Active {
                    until: role.ends_at(),
                    request_id: String::new(),
                },
                already: true,
                scheduled_end: None,
            },
            Planned::AlreadyPending | Planned::AlreadyScheduled => {
                let r = role.pending_request();
                let request_id = r.map(|r| r.id.clone()).unwrap_or_default();
                let outcome = match role.state {
                    RoleState::Scheduled => Outcome::Scheduled {
                        start: role.starts_at(),
                        request_id,
                    },
                    _ => Outcome::PendingApproval { request_id },
                };
                End::Done {
                    outcome,
                    already: true,
                    scheduled_end: role
                        .ends_at()
                        .filter(|_| role.state == RoleState::Scheduled),
                }
            }
            Planned::Refused(e) => {
                refused += 1;
                End::Failed(e)
            }
            Planned::Ready { plan, capped_from } => {
                if let Some(asked) = capped_from {
                    errln!(
                        "note: {}: {asked} is over its maximum; asking for {}.",
                        role.describe(),
                        plan.duration()
                    );
                }
                plans.push((*i, *plan));
                continue;
            }
        });
    }
    if refused > 0 {
        for (i, _) in &plans {
            ends[*i] = Some(End::NotSent);
        }
        let ends: Vec<End> = ends
            .into_iter()
            .map(|e| e.unwrap_or(End::NotSent))
            .collect();
        errln!(
            "error: nothing was sent: {refused} of {} roles cannot be activated as asked:",
            rows.len()
        );
        let mut hints = Vec::new();
        for (row, end) in rows.iter().zip(&ends) {
            if let End::Failed(e) = end {
                errln!("  {}: {e}", row.who);
                if let Some(h) = cli_hint(e).filter(|h| !hints.contains(h)) {
                    hints.push(h);
                }
            }
        }
        for h in hints {
            errln!("hint: {h}");
        }
        if json {
            print_json(out, &rows, &ends);
        }
        return Ok(3);
    }
    let sent = s
        .activate_planned(&plans.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>())
        .await;
    for ((i, plan), r) in plans.iter().zip(sent) {
        ends[*i] = Some(match r {
            Ok(outcome) => End::Done {
                scheduled_end: match &outcome {
                    Outcome::Scheduled { start, .. } => {
                        start.and_then(|s| s.checked_add(plan.duration().to_time()))
                    }
                    _ => None,
                },
                outcome,
                already: false,
            },
            Err(e) => End::Failed(e),
        });
    }
    let ends: Vec<End> = ends
        .into_iter()
        .map(|e| e.unwrap_or(End::NotSent))
        .collect();
    let now = s.now();
    if !json {
        for (row, end) in rows.iter().zip(&ends) {
            outln!("{}", line(out, row, end, now));
        }
    }
    let ready = match wait {
        Some(timeout) => wait_ready(s, &rows, &keys, &ends, timeout, json).await,
        None => rows.iter().map(|_| None).collect(),
    };
    if json {
        let v: Vec<Value> = rows
            .iter()
            .zip(&ends)
            .zip(&ready)
            .map(|((row, end), r)| {
                let mut v = row_json(row, end);
                if wait.is_some() {
                    add_ready(&mut v, r.as_ref());
                }
                v
            })
            .collect();
        out.print_json(&v);
    }
    let not_ready = ready
        .iter()
        .filter(|r| matches!(r, Some(Ok(ReadyOutcome::TimedOut) | Err(_))))
        .count();
    let failed: Vec<&Error> = ends
        .iter()
        .filter_map(|e| match e {
            End::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        if not_ready > 0 {
            errln!(
                "error: {not_ready} of {} roles are active but do not work everywhere yet (above).",
                rows.len()
            );
            return Ok(1);
        }
        return Ok(0);
    }
    errln!(
        "error: {} of {} roles failed; the others are as listed. Run the same command again to retry only those.",
        failed.len(),
        rows.len()
    );
    Ok(1)
}

/// `--wait`: probes every active role (activated now or already) until it works everywhere
/// or `timeout` passes, all at once; says how each ended (on stdout unless `json`).
async fn wait_ready(
    s: &Session,
    rows: &[Row],
    keys: &[Option<String>],
    ends: &[End],
    timeout: std::time::Duration,
    json: bool,
) -> Vec<Option<pim_core::Result<ReadyOutcome>>> {
    let snap = s.snapshot();
    let active: Vec<Option<Role>> = keys
        .iter()
        .zip(ends)
        .map(|(key, end)| match (key, end) {
            (
                Some(key),
                End::Done {
                    outcome: Outcome::Active { .. },
                    ..
                },
            ) => snap
                .by_key(key)
                .filter(|r| r.state == RoleState::Active)
                .cloned(),
            _ => None,
        })
        .collect();
    let n = active.iter().flatten().count();
    let limit = pim_core::duration::format_time_left(
        time::Duration::try_from(timeout).unwrap_or(time::Duration::ZERO),
    );
    if n == 0 {
        return rows.iter().map(|_| None).collect();
    }
    if !json {
        errln!(
            "Waiting until {} work{} everywhere (at most {})…",
            if n == 1 { "it" } else { "they" },
            if n == 1 { "s" } else { "" },
            limit
        );
    }
    let started = s.now();
    let options = ReadyOptions {
        timeout,
        ..ReadyOptions::default()
    };
    let waits = active.iter().map(|r| async {
        match r {
            Some(r) => Some(s.wait_ready(r, options).await),
            None => None,
        }
    });
    let ready = futures::future::join_all(waits).await;
    if !json {
        for (row, r) in rows.iter().zip(&ready) {
            match r {
                None => {}
                Some(Ok(ReadyOutcome::Ready { at })) => outln!(
                    "{}: ready (after {}).",
                    row.who,
                    pim_core::duration::format_time_left(*at - started)
                ),
                Some(Ok(ReadyOutcome::NoProbe)) => outln!(
                    "{}: active; it can take a few minutes to apply (nothing can tell when).",
                    row.who
                ),
                Some(Ok(ReadyOutcome::TimedOut)) => {
                    outln!("{}: not ready yet after {limit}.", row.who)
                }
                Some(Err(e)) => outln!("{}: cannot tell whether it is ready: {e}", row.who),
            }
        }
    }
    ready
}

/// `--wait --json`: `ready` (`ready`, `notReady`, `noProbe`, or null when not active) and
/// `readyAt`.
fn add_ready(v: &mut Value, r: Option<&pim_core::Result<ReadyOutcome>>) {
    let (state, at) = match r {
        None => (Value::Null, Value::Null),
        Some(Ok(ReadyOutcome::Ready { at })) => (json!("ready"), rfc3339(Some(*at))),
        Some(Ok(ReadyOutcome::NoProbe)) => (json!("noProbe"), Value::Null),
        Some(Ok(ReadyOutcome::TimedOut) | Err(_)) => (json!("notReady"), Value::Null),
    };
    v["ready"] = state;
    v["readyAt"] = at;
}

/// An error of a name or a role, printed like the command's own errors.
pub fn report(e: &Error) {
    errln!("error: {e}");
    if let Some(h) = cli_hint(e) {
        errln!("hint: {h}");
    }
}

/// One role's line.
fn line(out: &Out, row: &Row, end: &End, now: OffsetDateTime) -> String {
    let who = &row.who;
    let req = |id: &str| {
        if id.is_empty() {
            String::new()
        } else {
            format!(" Request {id}.")
        }
    };
    match end {
        End::Done {
            outcome, already, ..
        } => {
            let again = if *already { "already " } else { "" };
            match outcome {
                Outcome::Active { until, request_id } => {
                    let until = match until {
                        Some(u) => format!(
                            " until {} ({} left)",
                            out.time(*u),
                            pim_core::duration::format_time_left(*u - now)
                        ),
                        None => String::new(),
                    };
                    format!("{who}: {again}active{until}.{}", req(request_id))
                }
                Outcome::PendingApproval { request_id } if *already => format!(
                    "{who}: already pending approval; not sent again.{}",
                    req(request_id)
                ),
                Outcome::PendingApproval { request_id } => {
                    format!("{who}: pending approval.{}", req(request_id))
                }
                Outcome::Scheduled { start, request_id } => format!(
                    "{who}: {again}scheduled for {}.{}",
                    start.map(|s| out.time(s)).unwrap_or_else(|| "later".into()),
                    req(request_id)
                ),
                Outcome::Submitted { request_id, status } => format!(
                    "{who}: request submitted, status {status}; check with `pim status`.{}",
                    req(request_id)
                ),
                // Not outcomes of an activation.
                other => format!("{who}: {other}"),
            }
        }
        End::Failed(e) => format!("{who}: failed: {e}"),
        End::NotSent => format!("{who}: not sent."),
    }
}

/// `active`, `pending`, `scheduled` or `failed`.
fn outcome_name(end: &End) -> &'static str {
    match end {
        End::Done { outcome, .. } => match outcome {
            Outcome::Active { .. } => "active",
            Outcome::Scheduled { .. } => "scheduled",
            _ => "pending",
        },
        End::Failed(_) | End::NotSent => "failed",
    }
}

fn print_json(out: &Out, rows: &[Row], ends: &[End]) {
    let v: Vec<Value> = rows
        .iter()
        .zip(ends)
        .map(|(row, end)| row_json(row, end))
        .collect();
    out.print_json(&v);
}

/// One role's JSON object.
fn row_json(row: &Row, end: &End) -> Value {
    let mut v = json!({
        "name": row.name,
        "label": row.label,
        "scope": row.scope,
        "scopeId": row.scope_id,
        "tenantId": row.tenant_id,
        "kind": row.kind,
        "outcome": outcome_name(end),
        "endsAt": Value::Null,
    });
    match end {
        End::Done {
            outcome,
            already,
            scheduled_end,
        } => {
            v["already"] = json!(already);
            match outcome {
                Outcome::Active { until, request_id } => {
                    v["endsAt"] = rfc3339(*until);
                    v["requestId"] = json!(request_id);
                }
                Outcome::Scheduled { start, request_id } => {
                    v["startsAt"] = rfc3339(*start);
                    if let Some(end) = scheduled_end {
                        v["endsAt"] = rfc3339(Some(*end));
                    }
                    v["requestId"] = json!(request_id);
                }
                Outcome::PendingApproval { request_id }
                | Outcome::Deactivated { request_id }
                | Outcome::Canceled { request_id } => v["requestId"] = json!(request_id),
                Outcome::Submitted { request_id, status } => {
                    v["requestId"] = json!(request_id);
                    v["requestStatus"] = json!(status);
                }
            }
        }
        End::Failed(e) => {
            v["error"] =
                json!({"code": e.code(), "message": e.to_string(), "exitCode": exit_code(e)});
        }
        End::NotSent => {
            v["error"] = json!({
                "code": "notSent",
                "message": "not sent: another role was refused before anything was sent",
            });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            who: "Global Reader — Directory (Contoso)".into(),
            name: "Global Reader".into(),
            label: "Global Reader".into(),
            scope: "Directory".into(),
            scope_id: "/".into(),
            tenant_id: "t1".into(),
            kind: "entraRole",
        }
    }

    #[test]
    fn json_objects_name_the_role_and_its_outcome() {
        let until = time::macros::datetime!(2026-08-21 09:00 UTC);
        let v = row_json(
            &row(),
            &End::Done {
                outcome: Outcome::Active {
                    until: Some(until),
                    request_id: "r1".into(),
                },
                already: false,
                scheduled_end: None,
            },
        );
        assert_eq!(v["name"], "Global Reader");
        assert_eq!(v["scope"], "Directory");
        assert_eq!(v["tenantId"], "t1");
        assert_eq!(v["kind"], "entraRole");
        assert_eq!(v["outcome"], "active");
        assert_eq!(v["endsAt"], "2026-08-21T09:00:00Z");
        assert!(v.get("error").is_none());

        let v = row_json(
            &row(),
            &End::Failed(Error::PolicyViolation {
                rules: vec!["JustificationRule".into()],
                message: "cannot activate Global Reader: give a reason".into(),
            }),
        );
        assert_eq!(v["outcome"], "failed");
        assert_eq!(v["error"]["code"], "policyViolation");
        assert!(v["error"]["message"].as_str().unwrap().contains("reason"));
        assert!(v["endsAt"].is_null());

        let v = row_json(
            &row(),
            &End::Done {
                outcome: Outcome::PendingApproval {
                    request_id: "q".into(),
                },
                already: true,
                scheduled_end: None,
            },
        );
        assert_eq!(v["outcome"], "pending");
        assert_eq!(v["already"], true);

        let start = time::macros::datetime!(2026-08-21 11:00 UTC);
        let v = row_json(
            &row(),
            &End::Done {
                outcome: Outcome::Scheduled {
                    start: Some(start),
                    request_id: "s".into(),
                },
                already: false,
                scheduled_end: Some(start + time::Duration::hours(2)),
            },
        );
        assert_eq!(v["outcome"], "scheduled");
        assert_eq!(v["startsAt"], "2026-08-21T11:00:00Z");
        assert_eq!(v["endsAt"], "2026-08-21T13:00:00Z");
        assert_eq!(row_json(&row(), &End::NotSent)["error"]["code"], "notSent");
    }

    #[test]
    fn several_names_share_one_request() {
        use clap::Parser as _;
        let c = crate::cli::Cli::try_parse_from([
            "pim",
            "activate",
            "Global Reader",
            "Teams Administrator",
            "--reason",
            "x",
            "--duration",
            "2h",
        ])
        .unwrap();
        let crate::cli::Command::Activate(a) = c.command else {
            panic!("not activate")
        };
        assert_eq!(a.names, ["Global Reader", "Teams Administrator"]);
        assert_eq!(a.request.duration, Some(PimDuration::from_hours(2)));
        let e = crate::cli::Cli::try_parse_from(["pim", "activate", "--reason", "x"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn lines_say_what_happened_to_each_role() {
        let out = Out {
            local: time::UtcOffset::UTC,
        };
        let now = time::macros::datetime!(2026-08-21 08:00 UTC);
        let active = End::Done {
            outcome: Outcome::Active {
                until: Some(time::macros::datetime!(2026-08-21 09:00 UTC)),
                request_id: String::new(),
            },
            already: true,
            scheduled_end: None,
        };
        assert_eq!(
            line(&out, &row(), &active, now),
            "Global Reader — Directory (Contoso): already active until 2026-08-21 09:00 UTC (1h00m left)."
        );
        let failed = End::Failed(Error::InvalidInput("bad".into()));
        assert_eq!(
            line(&out, &row(), &failed, now),
            "Global Reader — Directory (Contoso): failed: bad"
        );
    }
}

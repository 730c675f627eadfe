//! `pim history`: the demo's past requests (three kinds, two tenants) as a table, JSON and
//! CSV; CSV quoting and formula cells from justifications given through `pim activate`;
//! `--since` and `--tenant`; usage errors.

use pim_tests::{Run, TestEnv};
use serde_json::Value;

/// `pim history --json …` as a list of objects.
async fn history_json(env: &TestEnv, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["history", "--json"];
    args.extend_from_slice(extra);
    let run = env.pim(&args).await;
    run.expect_code(0);
    match run.json() {
        Value::Array(v) => v,
        other => panic!("history --json is not an array: {other}"),
    }
}

/// The CSV records of `run` (split on CRLF outside quotes; the header first).
fn csv_records(run: &Run) -> Vec<String> {
    let mut records = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = run.stdout.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '\r' if !quoted && chars.peek() == Some(&'\n') => {
                chars.next();
                records.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    assert!(cur.is_empty(), "the last record has no CRLF: {cur:?}");
    records
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn history_as_a_table_json_and_csv() {
    let env = TestEnv::demo().await;
    env.login().await;

    let entries = history_json(&env, &[]).await;
    assert!(entries.len() >= 20, "{entries:#?}");
    let keys = [
        "action",
        "createdAt",
        "duration",
        "justification",
        "kind",
        "name",
        "scope",
        "status",
        "tenantId",
        "ticket",
    ];
    for e in &entries {
        let mut k: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort();
        assert_eq!(k, keys, "{e}");
    }
    let created: Vec<&str> = entries
        .iter()
        .map(|e| e["createdAt"].as_str().unwrap())
        .collect();
    let parsed: Vec<time::OffsetDateTime> = created
        .iter()
        .map(|c| {
            time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).unwrap()
        })
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:#?}"
    );
    let mut kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["azureResource", "entraRole", "group"]);
    let staging = entries
        .iter()
        .find(|e| e["justification"] == "Scale down the staging AKS cluster")
        .unwrap();
    assert_eq!(staging["name"], "Contributor");
    assert_eq!(staging["scope"], "Staging");
    assert_eq!(staging["action"], "selfActivate");
    assert_eq!(staging["status"], "denied");
    assert_eq!(staging["duration"], "PT4H");
    assert_eq!(
        staging["ticket"],
        serde_json::json!({"number": "CHG0032010", "system": "ServiceNow"})
    );
    let owner = entries
        .iter()
        .find(|e| e["justification"] == "Add the new DBA to the group")
        .unwrap();
    assert_eq!(
        (&owner["kind"], &owner["name"]),
        (&"group".into(), &"SQL Prod Admins (owner)".into())
    );
    assert_eq!(owner["ticket"], Value::Null);
    let off = entries
        .iter()
        .find(|e| e["justification"] == "Alert closed")
        .unwrap();
    assert_eq!(
        (&off["action"], &off["status"], &off["duration"]),
        (&"selfDeactivate".into(), &"revoked".into(), &Value::Null)
    );

    // The table: a header, one line per request, names and local times.
    let table = env.pim(&["history"]).await;
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    for col in [
        "WHEN",
        "TENANT",
        "KIND",
        "NAME",
        "SCOPE",
        "ACTION",
        "STATUS",
        "DURATION",
        "JUSTIFICATION",
    ] {
        assert!(lines[0].contains(col), "{}", lines[0]);
    }
    assert_eq!(lines.len(), entries.len() + 1, "{}", table.stdout);
    let row = lines
        .iter()
        .find(|l| l.contains("Scale down the staging"))
        .unwrap();
    for cell in [
        "Contoso",
        "Azure",
        "Contributor",
        "Staging",
        "activate",
        "denied",
        "4h",
    ] {
        assert!(row.contains(cell), "{cell}: {row}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Fabrikam") && l.contains("Teams Administrator")),
        "{}",
        table.stdout
    );
    // Shortened to 40 characters.
    assert!(
        table
            .stdout
            .contains("Investigate risky sign-in alert for a f…"),
        "{}",
        table.stdout
    );
    assert!(
        table.stderr.lines().all(|l| !l.starts_with("warning")),
        "{}",
        table.stderr
    );

    // CSV: the header and one record per request.
    let csv = env.pim(&["history", "--csv"]).await;
    csv.expect_code(0);
    let records = csv_records(&csv);
    assert_eq!(
        records[0],
        "createdAt,tenantId,tenantName,kind,name,scope,action,status,duration,justification,ticketNumber,ticketSystem"
    );
    assert_eq!(records.len(), entries.len() + 1);
    assert!(
        records.iter().any(|r| r.contains(
            ",Contoso,azureResource,Contributor,Staging,selfActivate,denied,PT4H,Scale down the staging AKS cluster,CHG0032010,ServiceNow"
        )),
        "{records:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn csv_quotes_justifications_and_neutralises_formulas() {
    let env = TestEnv::demo().await;
    env.login().await;
    let quoted = "Fix \"prod\", now";
    env.pim(&[
        "activate",
        "Global Reader",
        "--reason",
        quoted,
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);
    let formula = "=HYPERLINK(\"http://x\",\"y\")";
    env.pim(&[
        "activate",
        "Reader",
        "--scope",
        "rg-web",
        "--reason",
        formula,
        "--duration",
        "1h",
    ])
    .await
    .expect_code(0);

    // JSON keeps the text as it was given; the newest requests come first.
    let entries = history_json(&env, &["--since", "1h"]).await;
    let justifications: Vec<&str> = entries
        .iter()
        .map(|e| e["justification"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(&justifications[..2], [formula, quoted], "{entries:#?}");

    let csv = env.pim(&["history", "--csv", "--since", "1h"]).await;
    csv.expect_code(0);
    let records = csv_records(&csv);
    assert!(
        records
            .iter()
            .any(|r| r.contains(",Global Reader,Directory,selfActivate,")
                && r.contains(",PT1H,\"Fix \"\"prod\"\", now\",,")),
        "{records:#?}"
    );
    assert!(
        records.iter().any(|r| r.contains(",Reader,rg-web,")
            && r.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",")),
        "{records:#?}"
    );
    // Every record has the header's 12 cells.
    for r in &records {
        let mut cells = 1;
        let mut quoted = false;
        for c in r.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => cells += 1,
                _ => {}
            }
        }
        assert_eq!(cells, 12, "{r}");
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn since_and_tenant_narrow_the_history_and_bad_values_are_usage_errors() {
    let env = TestEnv::demo().await;

    // Refused by the parser, before any account is opened.
    for bad in ["soon", "30", "-3d", "2026-02-30", "1y"] {
        let run = env.pim(&["history", &format!("--since={bad}")]).await;
        run.expect_code(2);
        assert!(run.stderr.contains("YYYY-MM-DD"), "{bad}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    env.pim(&["history", "--json", "--csv"])
        .await
        .expect_code(2);

    env.login().await;
    let month = history_json(&env, &[]).await;
    let week = history_json(&env, &["--since", "1w"]).await;
    assert!(!week.is_empty() && week.len() < month.len(), "{week:#?}");
    assert_eq!(week[..], month[..week.len()], "the newest ones, the same");
    assert_eq!(
        history_json(&env, &["--since", "30d"]).await,
        month,
        "30d is the default"
    );
    let days = history_json(&env, &["--since", "2d12h"]).await;
    assert!(days.len() < week.len());

    let future = env.pim(&["history", "--since", "2999-01-01"]).await;
    future.expect_code(2);
    assert!(future.stderr.contains("future"), "{}", future.stderr);

    // A date: from local midnight (the test's TZ is UTC). 1970: everything kept.
    assert_eq!(history_json(&env, &["--since", "1970-01-01"]).await, month);

    let fabrikam = history_json(&env, &["--tenant", "fabrikam"]).await;
    assert_eq!(fabrikam.len(), 3, "{fabrikam:#?}");
    assert!(
        fabrikam
            .iter()
            .all(|e| e["tenantId"] == "f3b6c2d1-7a9e-4c58-b1d2-5e8f9a0b3c47")
    );
    env.pim(&["history", "--tenant", "nowhere"])
        .await
        .expect_code(2);

    // Nothing that recent: said so, no table.
    let none = env.pim(&["history", "--since", "0m"]).await;
    none.expect_code(0);
    assert!(
        none.stdout.starts_with("No requests since"),
        "{}",
        none.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run via .ci/test.sh"]
async fn a_list_that_cannot_be_read_is_a_warning_on_stderr() {
    let env = TestEnv::demo().await;
    env.login().await;
    // Every tenant's group request list is refused.
    env.fault(serde_json::json!({
        "method": "GET",
        "path": "group/assignmentScheduleRequests/filterByCurrentUser",
        "times": 100,
        "fault": {"kind": "status", "status": 403, "code": "Authorization_RequestDenied"}
    }))
    .await;
    let run = env.pim(&["history", "--json"]).await;
    run.expect_code(0);
    let entries = run.json();
    let entries = entries.as_array().unwrap();
    assert!(entries.iter().all(|e| e["kind"] != "group"));
    assert!(entries.iter().any(|e| e["kind"] == "azureResource"));
    assert!(entries.iter().any(|e| e["kind"] == "entraRole"));
    assert!(
        run.stderr
            .contains("warning: tenant Contoso: Group requests could not be read"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("warning: tenant Fabrikam: Group requests could not be read"),
        "{}",
        run.stderr
    );
}

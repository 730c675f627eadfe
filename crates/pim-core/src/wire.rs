//! Tolerant deserialisation of Graph and ARM payloads.
//!
//! Everything here follows the contract's robustness rules: unknown members are ignored, `null`
//! is accepted wherever a value may be missing, enum strings are compared case-insensitively,
//! ids are opaque strings (numbers are accepted and turned into strings), dates may carry 0–9
//! fractional digits and may lack the zone designator (then UTC).

// Wire structs mirror the contract; some fields are kept for completeness and debugging.
#![allow(dead_code)]

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::{AccessId, Action, AssignmentType, MemberType, RequestStatus};

/// `null` or missing → `T::default()`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string, a number (as text), or `null`/missing → `None`. Never fails.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A date-time, tolerant; unparseable or `null` → `None`.
pub(crate) fn lenient_datetime<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::String(s) => parse_datetime(&s),
        _ => None,
    })
}

/// A list of strings; `null`, a single string, or non-string members tolerated.
pub(crate) fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Array(a) => a
            .into_iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        Value::String(s) => s
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
        _ => Vec::new(),
    })
}

/// Longest date-time text looked at (RFC 3339 with 9 fractional digits is 35 bytes; servers
/// send up to a few more digits).
const MAX_DATETIME_LEN: usize = 64;

/// Parses RFC 3339 with any number of fractional digits; without an offset the value is UTC.
/// The result is in UTC; `None` for anything else, including text that is not ASCII and
/// times whose UTC equivalent lies outside years -9999..=9999.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    // RFC 3339 is ASCII, so byte offsets below are character boundaries.
    if s.is_empty() || s.len() > MAX_DATETIME_LEN || !s.is_ascii() {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return t.checked_to_offset(time::UtcOffset::UTC);
    }
    // Lower-case `z`, more than 9 fractional digits, or no zone at all.
    let mut norm = s.to_owned();
    if norm.ends_with('z') {
        norm.pop();
        norm.push('Z');
    }
    let has_zone = norm.ends_with('Z') || {
        let tail = norm.get(norm.len().saturating_sub(6)..).unwrap_or_default();
        (tail.starts_with('+') || tail.starts_with('-')) && tail.as_bytes().get(3) == Some(&b':')
    };
    if !has_zone {
        norm.push('Z');
    }
    // Trim fractional digits beyond 9.
    if let Some(dot) = norm.find('.') {
        let after = norm.get(dot + 1..).unwrap_or_default();
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 9 {
            norm = format!(
                "{}.{}{}",
                norm.get(..dot)?,
                after.get(..9)?,
                after.get(digits..)?
            );
        }
    }
    OffsetDateTime::parse(&norm, &Rfc3339)
        .ok()?
        .checked_to_offset(time::UtcOffset::UTC)
}

/// Formats a UTC time for the wire: `2026-08-21T08:02:11.520Z` (milliseconds, `Z`). A time
/// whose UTC equivalent is out of range (only from a caller's own arithmetic; parsed times
/// are UTC already) is written with its own offset's fields.
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The last path segment of an id (`/a/b/GUID` → `GUID`; a bare id stays as it is), lower-cased.
pub fn last_segment(id: &str) -> String {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(id)
        .to_ascii_lowercase()
}

/// A paged collection: `value` plus `@odata.nextLink` (Graph) or `nextLink` (ARM).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Page {
    #[serde(default, deserialize_with = "nullable")]
    pub value: Vec<Value>,
    #[serde(
        default,
        rename = "@odata.nextLink",
        deserialize_with = "lenient_string"
    )]
    pub odata_next_link: Option<String>,
    #[serde(default, rename = "nextLink", deserialize_with = "lenient_string")]
    pub next_link: Option<String>,
}

impl Page {
    pub fn next(&self) -> Option<&str> {
        self.odata_next_link
            .as_deref()
            .or(self.next_link.as_deref())
            .filter(|s| !s.trim().is_empty())
    }
}

/// Parses each item on its own; items that do not fit are skipped (with a warning) instead of
/// failing the whole list.
pub(crate) fn parse_items<T: serde::de::DeserializeOwned>(what: &str, items: Vec<Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|v| match serde_json::from_value::<T>(v) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(what, error = %e, "skipping an item that does not parse");
                None
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Graph

/// `roleDefinition`, `directoryScope`, `group`, ... expansions: `{id, displayName}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NamedObject {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_name: Option<String>,
    #[serde(default, rename = "@odata.type", deserialize_with = "lenient_string")]
    pub odata_type: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
}

/// Graph `unifiedRoleEligibilityScheduleInstance` / `unifiedRoleAssignmentScheduleInstance`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphRoleInstance {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_definition_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub directory_scope_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub app_scope_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub start_date_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub end_date_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub member_type: Option<MemberType>,
    #[serde(default)]
    pub assignment_type: Option<AssignmentType>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_eligibility_schedule_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_assignment_schedule_id: Option<String>,
    #[serde(default)]
    pub role_definition: Option<NamedObject>,
    #[serde(default)]
    pub directory_scope: Option<NamedObject>,
    #[serde(default)]
    pub app_scope: Option<NamedObject>,
}

/// Graph PIM-for-Groups eligibility/assignment instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphGroupInstance {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub group_id: Option<String>,
    #[serde(default)]
    pub access_id: Option<AccessId>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub start_date_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub end_date_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub member_type: Option<MemberType>,
    #[serde(default)]
    pub assignment_type: Option<AssignmentType>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub eligibility_schedule_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub assignment_schedule_id: Option<String>,
    #[serde(default)]
    pub group: Option<NamedObject>,
}

/// `scheduleInfo.expiration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Expiration {
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub end_date_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub duration: Option<String>,
}

/// `scheduleInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleInfo {
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub start_date_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub expiration: Option<Expiration>,
}

/// `ticketInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TicketInfo {
    #[serde(default, deserialize_with = "lenient_string")]
    pub ticket_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub ticket_system: Option<String>,
}

/// Graph schedule request (roles and groups).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphRequest {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<RequestStatus>,
    #[serde(default)]
    pub action: Option<Action>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub principal_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_definition_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub directory_scope_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub app_scope_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub group_id: Option<String>,
    #[serde(default)]
    pub access_id: Option<AccessId>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub created_date_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub approval_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub justification: Option<String>,
    #[serde(default)]
    pub schedule_info: Option<ScheduleInfo>,
    #[serde(default)]
    pub ticket_info: Option<TicketInfo>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub target_schedule_id: Option<String>,
    #[serde(default)]
    pub role_definition: Option<NamedObject>,
}

/// Graph `unifiedRoleManagementPolicyAssignment` (with `policy($expand=rules)` when expanded).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphPolicyAssignment {
    #[serde(default, deserialize_with = "lenient_string")]
    pub policy_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_definition_id: Option<String>,
    #[serde(default)]
    pub policy: Option<GraphPolicy>,
}

/// Graph `unifiedRoleManagementPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphPolicy {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Option<Vec<Value>>,
}

/// `GET /me`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphMe {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_principal_name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// ARM

/// ARM resource envelope.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ArmResource<P> {
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(default = "Option::default")]
    pub properties: Option<P>,
}

/// `expandedProperties`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArmExpanded {
    #[serde(default)]
    pub scope: Option<NamedObject>,
    #[serde(default)]
    pub role_definition: Option<NamedObject>,
}

/// ARM eligibility / assignment schedule instance properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArmInstanceProps {
    #[serde(default, deserialize_with = "lenient_string")]
    pub scope: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_definition_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_eligibility_schedule_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_assignment_schedule_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub linked_role_eligibility_schedule_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub linked_role_eligibility_schedule_instance_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub start_date_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub end_date_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub member_type: Option<MemberType>,
    #[serde(default)]
    pub assignment_type: Option<AssignmentType>,
    #[serde(default)]
    pub status: Option<RequestStatus>,
    #[serde(default)]
    pub expanded_properties: Option<ArmExpanded>,
}

/// ARM `roleAssignmentScheduleRequests` properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArmRequestProps {
    #[serde(default, deserialize_with = "lenient_string")]
    pub scope: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_definition_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub request_type: Option<Action>,
    #[serde(default)]
    pub status: Option<RequestStatus>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub approval_id: Option<String>,
    #[serde(default)]
    pub schedule_info: Option<ScheduleInfo>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub justification: Option<String>,
    #[serde(default)]
    pub ticket_info: Option<TicketInfo>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub created_on: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub linked_role_eligibility_schedule_id: Option<String>,
    #[serde(default)]
    pub expanded_properties: Option<ArmExpanded>,
}

/// ARM `roleManagementPolicyAssignments` properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArmPolicyAssignmentProps {
    #[serde(default, deserialize_with = "lenient_string")]
    pub scope: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub role_definition_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub policy_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub effective_rules: Vec<Value>,
}

/// ARM `GET /tenants` item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArmTenant {
    #[serde(default, deserialize_with = "lenient_string")]
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub default_domain: Option<String>,
    #[serde(default, deserialize_with = "lenient_strings")]
    pub domains: Vec<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub tenant_category: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_with_many_fraction_digits_and_no_zone() {
        let a = parse_datetime("2022-04-11T11:50:03.9014347Z").unwrap();
        assert_eq!(a.second(), 3);
        let b = parse_datetime("2024-03-28T07:04:50").unwrap();
        assert_eq!(b.hour(), 7);
        assert!(parse_datetime("2024-04-10T00:00:00.1234567891234Z").is_some());
        assert!(parse_datetime("2024-04-10T00:00:00+02:00").is_some());
        assert!(parse_datetime("yesterday").is_none());
        assert_eq!(format_datetime(a), "2022-04-11T11:50:03.901Z");
    }

    #[test]
    fn dates_with_multibyte_characters_are_refused_without_panicking() {
        // The zone check used to slice the last six bytes, inside the `€` here.
        for s in [
            "€abcde",
            "ab€cd",
            "2024-04-10T00:00:00€",
            "2024-04-10T00:00:00.1234567891€",
            "2024-04-10T00:00:00+0€",
            "€€€€€€",
            "2024-04-10T00:00:00.€",
        ] {
            assert_eq!(parse_datetime(s), None, "{s}");
        }
        // No UTC equivalent, or absurdly long.
        assert_eq!(parse_datetime("9999-12-31T23:59:59-01:00"), None);
        assert_eq!(
            parse_datetime(&format!("2024-04-10T00:00:00.{}Z", "1".repeat(100))),
            None
        );
        assert_eq!(
            parse_datetime("2024-04-10T02:00:00+02:00"),
            parse_datetime("2024-04-10T00:00:00Z")
        );
        // From the server: an unreadable date is `None`, the item still parses.
        let i: GraphRoleInstance =
            serde_json::from_value(serde_json::json!({"id": "x", "endDateTime": "€abcde"}))
                .unwrap();
        assert!(i.end_date_time.is_none());
    }

    #[test]
    fn last_segment_normalises_ids() {
        assert_eq!(
            last_segment("/subscriptions/x/providers/M.A/roleEligibilitySchedules/ABC"),
            "abc"
        );
        assert_eq!(last_segment("abc"), "abc");
    }

    #[test]
    fn instance_tolerates_nulls_unknown_fields_and_casing() {
        let v = serde_json::json!({
            "id": 42,
            "roleDefinitionId": "r",
            "directoryScopeId": null,
            "memberType": "direct",
            "assignmentType": "ACTIVATED",
            "startDateTime": null,
            "endDateTime": "not a date",
            "roleDefinition": null,
            "somethingNew": {"x": [1, 2]},
        });
        let i: GraphRoleInstance = serde_json::from_value(v).unwrap();
        assert_eq!(i.id.as_deref(), Some("42"));
        assert_eq!(i.member_type, Some(MemberType::Direct));
        assert_eq!(i.assignment_type, Some(AssignmentType::Activated));
        assert!(i.end_date_time.is_none());
        let page: Page =
            serde_json::from_value(serde_json::json!({"value": null, "nextLink": null})).unwrap();
        assert!(page.value.is_empty() && page.next().is_none());
    }
}

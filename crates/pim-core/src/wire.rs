//! Tolerant deserialisation of Graph and ARM payloads.
//!
//! Everything here follows the contract's robustness rules: unknown members are ignored, `null`
//! is accepted wherever a value may be missing, enum strings are compared case-insensitively,
//! ids are opaque strings (numbers are accepted and turned into strings), dates may carry 0–9
//! fractional digits and may lack the zone designator (then UTC).
//!
//! Every wire struct is `#[serde(default)]` (any member may be missing); its text, date and
//! list members are `Lenient`, so a value of the wrong type is read as missing instead of
//! failing the item.

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

/// A member read leniently: a value of the wrong type, one that does not parse, `null`, or
/// (the wire structs are all `#[serde(default)]`) a missing member is `None`, never an
/// error. What is accepted depends on `T` ([`LenientValue`]).
///
/// Borrow it as the `Option<T>` it wraps (`Deref`: `as_deref`, `is_some_and`, ...), copy it
/// out with [`get`](Lenient::get), move it out with [`into_option`](Lenient::into_option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<T> Lenient<T> {
    /// The value, moved out.
    pub fn into_option(self) -> Option<T> {
        self.0
    }
}

impl<T: Clone> Lenient<T> {
    /// A copy of the value.
    pub fn get(&self) -> Option<T> {
        self.0.clone()
    }
}

impl<T> std::ops::Deref for Lenient<T> {
    type Target = Option<T>;
    fn deref(&self) -> &Option<T> {
        &self.0
    }
}

impl<'de, T: LenientValue> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Lenient(T::from_json(Value::deserialize(d)?)))
    }
}

/// A type a [`Lenient`] member can hold: made from any JSON value, `None` when it does not fit.
pub(crate) trait LenientValue: Sized {
    /// The value `v` stands for, if any.
    fn from_json(v: Value) -> Option<Self>;
}

/// A string, or a number or boolean as text.
impl LenientValue for String {
    fn from_json(v: Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// A string [`parse_datetime`] reads.
impl LenientValue for OffsetDateTime {
    fn from_json(v: Value) -> Option<Self> {
        match v {
            Value::String(s) => parse_datetime(&s),
            _ => None,
        }
    }
}

/// A list's string members (others skipped), or a comma-separated string's non-empty,
/// trimmed parts; anything else is `None` (read it as an empty list).
impl LenientValue for Vec<String> {
    fn from_json(v: Value) -> Option<Self> {
        match v {
            Value::Array(a) => Some(
                a.into_iter()
                    .filter_map(|x| match x {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
            Value::String(s) => Some(
                s.split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect(),
            ),
            _ => None,
        }
    }
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
#[serde(default)]
pub(crate) struct Page {
    #[serde(deserialize_with = "nullable")]
    pub value: Vec<Value>,
    #[serde(rename = "@odata.nextLink")]
    pub odata_next_link: Lenient<String>,
    #[serde(rename = "nextLink")]
    pub next_link: Lenient<String>,
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
#[serde(default, rename_all = "camelCase")]
pub(crate) struct NamedObject {
    pub id: Lenient<String>,
    pub display_name: Lenient<String>,
    #[serde(rename = "@odata.type")]
    pub odata_type: Lenient<String>,
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
}

/// Graph `unifiedRoleEligibilityScheduleInstance` / `unifiedRoleAssignmentScheduleInstance`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphRoleInstance {
    pub id: Lenient<String>,
    pub role_definition_id: Lenient<String>,
    pub directory_scope_id: Lenient<String>,
    pub app_scope_id: Lenient<String>,
    pub start_date_time: Lenient<OffsetDateTime>,
    pub end_date_time: Lenient<OffsetDateTime>,
    pub member_type: Option<MemberType>,
    pub assignment_type: Option<AssignmentType>,
    pub role_eligibility_schedule_id: Lenient<String>,
    pub role_assignment_schedule_id: Lenient<String>,
    pub role_definition: Option<NamedObject>,
    pub directory_scope: Option<NamedObject>,
    pub app_scope: Option<NamedObject>,
}

/// Graph PIM-for-Groups eligibility/assignment instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphGroupInstance {
    pub id: Lenient<String>,
    pub group_id: Lenient<String>,
    pub access_id: Option<AccessId>,
    pub start_date_time: Lenient<OffsetDateTime>,
    pub end_date_time: Lenient<OffsetDateTime>,
    pub member_type: Option<MemberType>,
    pub assignment_type: Option<AssignmentType>,
    pub eligibility_schedule_id: Lenient<String>,
    pub assignment_schedule_id: Lenient<String>,
    pub group: Option<NamedObject>,
}

/// `scheduleInfo.expiration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Expiration {
    #[serde(rename = "type")]
    pub kind: Lenient<String>,
    pub end_date_time: Lenient<OffsetDateTime>,
    pub duration: Lenient<String>,
}

/// `scheduleInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ScheduleInfo {
    pub start_date_time: Lenient<OffsetDateTime>,
    pub expiration: Option<Expiration>,
}

/// `ticketInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct TicketInfo {
    pub ticket_number: Lenient<String>,
    pub ticket_system: Lenient<String>,
}

/// Graph schedule request (roles and groups).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphRequest {
    pub id: Lenient<String>,
    pub status: Option<RequestStatus>,
    pub action: Option<Action>,
    pub principal_id: Lenient<String>,
    pub role_definition_id: Lenient<String>,
    pub directory_scope_id: Lenient<String>,
    pub app_scope_id: Lenient<String>,
    pub group_id: Lenient<String>,
    pub access_id: Option<AccessId>,
    pub created_date_time: Lenient<OffsetDateTime>,
    pub approval_id: Lenient<String>,
    pub justification: Lenient<String>,
    pub schedule_info: Option<ScheduleInfo>,
    pub ticket_info: Option<TicketInfo>,
    pub target_schedule_id: Lenient<String>,
    pub role_definition: Option<NamedObject>,
}

/// Graph `unifiedRoleManagementPolicyAssignment` (with `policy($expand=rules)` when expanded).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphPolicyAssignment {
    pub policy_id: Lenient<String>,
    pub role_definition_id: Lenient<String>,
    pub policy: Option<GraphPolicy>,
}

/// Graph `unifiedRoleManagementPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphPolicy {
    pub id: Lenient<String>,
    #[serde(deserialize_with = "nullable")]
    pub rules: Option<Vec<Value>>,
}

/// `GET /me`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphMe {
    pub id: Lenient<String>,
    pub display_name: Lenient<String>,
    pub user_principal_name: Lenient<String>,
}

// ---------------------------------------------------------------------------------------------
// ARM

/// ARM resource envelope.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ArmResource<P> {
    pub id: Lenient<String>,
    pub name: Lenient<String>,
    pub properties: Option<P>,
}

/// `expandedProperties`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmExpanded {
    pub scope: Option<NamedObject>,
    pub role_definition: Option<NamedObject>,
}

/// ARM eligibility / assignment schedule instance properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmInstanceProps {
    pub scope: Lenient<String>,
    pub role_definition_id: Lenient<String>,
    pub role_eligibility_schedule_id: Lenient<String>,
    pub role_assignment_schedule_id: Lenient<String>,
    pub linked_role_eligibility_schedule_id: Lenient<String>,
    pub linked_role_eligibility_schedule_instance_id: Lenient<String>,
    pub start_date_time: Lenient<OffsetDateTime>,
    pub end_date_time: Lenient<OffsetDateTime>,
    pub member_type: Option<MemberType>,
    pub assignment_type: Option<AssignmentType>,
    pub status: Option<RequestStatus>,
    pub expanded_properties: Option<ArmExpanded>,
}

/// ARM `roleAssignmentScheduleRequests` properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmRequestProps {
    pub scope: Lenient<String>,
    pub role_definition_id: Lenient<String>,
    pub principal_id: Lenient<String>,
    pub request_type: Option<Action>,
    pub status: Option<RequestStatus>,
    pub approval_id: Lenient<String>,
    pub schedule_info: Option<ScheduleInfo>,
    pub justification: Lenient<String>,
    pub ticket_info: Option<TicketInfo>,
    pub created_on: Lenient<OffsetDateTime>,
    pub linked_role_eligibility_schedule_id: Lenient<String>,
    pub expanded_properties: Option<ArmExpanded>,
}

/// ARM `roleManagementPolicyAssignments` properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmPolicyAssignmentProps {
    pub scope: Lenient<String>,
    pub role_definition_id: Lenient<String>,
    pub policy_id: Lenient<String>,
    #[serde(deserialize_with = "nullable")]
    pub effective_rules: Vec<Value>,
}

/// ARM `GET /tenants` item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmTenant {
    pub tenant_id: Lenient<String>,
    pub display_name: Lenient<String>,
    pub default_domain: Lenient<String>,
    pub domains: Lenient<Vec<String>>,
    pub tenant_category: Lenient<String>,
}

// ---------------------------------------------------------------------------------------------
// The approver's side (other users' requests waiting for the signed-in user)

/// `true`/`false`, or the text `"true"`/`"false"` (any case).
impl LenientValue for bool {
    fn from_json(v: Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
}

/// Who asks: Graph's `$expand=principal` (`#microsoft.graph.user`), or ARM's
/// `expandedProperties.principal` (`email` holds the UPN there).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct WirePrincipal {
    pub id: Lenient<String>,
    pub display_name: Lenient<String>,
    pub user_principal_name: Lenient<String>,
    pub mail: Lenient<String>,
    pub email: Lenient<String>,
}

/// What an approver reads of a Graph request beyond [`GraphRequest`]: the requester.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphApproverRequest {
    pub principal_id: Lenient<String>,
    pub principal: Option<WirePrincipal>,
    pub approval_id: Lenient<String>,
}

/// A Graph approval: v1.0 `approval` (`stages`) or beta (`steps`); the stages stay JSON and
/// are read one by one ([`GraphApprovalStage`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphApproval {
    pub id: Lenient<String>,
    #[serde(deserialize_with = "nullable")]
    pub stages: Vec<Value>,
    #[serde(deserialize_with = "nullable")]
    pub steps: Vec<Value>,
}

/// Graph `approvalStage` (v1.0) / `approvalStep` (beta).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GraphApprovalStage {
    pub id: Lenient<String>,
    pub display_name: Lenient<String>,
    pub status: Lenient<String>,
    pub assigned_to_me: Lenient<bool>,
    pub review_result: Lenient<String>,
    pub justification: Lenient<String>,
}

/// ARM `roleAssignmentScheduleRequests` properties as an approver reads them: the requester
/// ([`ArmRequestProps`] has the rest).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmApproverRequestProps {
    pub principal_id: Lenient<String>,
    pub requestor_id: Lenient<String>,
    pub approval_id: Lenient<String>,
    pub expanded_properties: Option<ArmApproverExpanded>,
}

/// `expandedProperties.principal` of an ARM request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmApproverExpanded {
    pub principal: Option<WirePrincipal>,
}

/// ARM `RoleAssignmentApproval` properties (2021-01-01-preview): `stages` (an older Swagger
/// revision says `steps`), each an [`ArmResource`] of [`ArmApprovalStageProps`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmApprovalProps {
    #[serde(deserialize_with = "nullable")]
    pub stages: Vec<Value>,
    #[serde(deserialize_with = "nullable")]
    pub steps: Vec<Value>,
}

/// ARM `RoleAssignmentApprovalStep` properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ArmApprovalStageProps {
    pub display_name: Lenient<String>,
    pub status: Lenient<String>,
    pub assigned_to_me: Lenient<bool>,
    pub review_result: Lenient<String>,
    pub justification: Lenient<String>,
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

    /// A lenient `T` read from `v`.
    fn lenient<T: LenientValue>(v: Value) -> Option<T> {
        serde_json::from_value::<Lenient<T>>(v)
            .unwrap()
            .into_option()
    }

    #[test]
    fn lenient_text_takes_strings_numbers_and_booleans() {
        use serde_json::json;
        let text = lenient::<String>;
        assert_eq!(text(json!("abc")).as_deref(), Some("abc"));
        assert_eq!(text(json!("")).as_deref(), Some(""));
        assert_eq!(text(json!(42)).as_deref(), Some("42"));
        assert_eq!(text(json!(-1.5)).as_deref(), Some("-1.5"));
        assert_eq!(text(json!(true)).as_deref(), Some("true"));
        assert_eq!(text(json!(false)).as_deref(), Some("false"));
        for other in [json!(null), json!({"a": 1}), json!(["a"]), json!([])] {
            assert_eq!(text(other.clone()), None, "{other}");
        }
    }

    #[test]
    fn lenient_dates_take_only_strings_that_parse() {
        use serde_json::json;
        let date = lenient::<OffsetDateTime>;
        assert_eq!(
            date(json!("2024-03-28T07:04:50")),
            parse_datetime("2024-03-28T07:04:50Z")
        );
        assert!(date(json!("2022-04-11T11:50:03.9014347Z")).is_some());
        for other in [
            json!("not a date"),
            json!(""),
            json!(1_711_609_490),
            json!(true),
            json!(null),
            json!({"dateTime": "2024-03-28T07:04:50Z"}),
            json!(["2024-03-28T07:04:50Z"]),
        ] {
            assert_eq!(date(other.clone()), None, "{other}");
        }
    }

    #[test]
    fn lenient_lists_take_string_members_or_comma_separated_text() {
        use serde_json::json;
        let list = |v| lenient::<Vec<String>>(v).unwrap_or_default();
        assert_eq!(
            list(json!(["a", 1, null, "b", {"c": 2}, ["d"]])),
            ["a", "b"]
        );
        assert_eq!(list(json!(" a, ,b ,")), ["a", "b"]);
        assert!(list(json!([])).is_empty());
        assert!(list(json!("")).is_empty());
        for other in [json!(null), json!(3), json!(false), json!({"a": "b"})] {
            assert!(list(other.clone()).is_empty(), "{other}");
        }
        let t: ArmTenant = serde_json::from_value(serde_json::json!({
            "tenantId": 7, "domains": "contoso.com, fabrikam.com", "displayName": {"x": 1}
        }))
        .unwrap();
        assert_eq!(t.tenant_id.as_deref(), Some("7"));
        assert_eq!(
            t.domains.get().unwrap_or_default(),
            ["contoso.com", "fabrikam.com"]
        );
        assert!(t.display_name.is_none() && t.default_domain.is_none());
        let t: ArmTenant = serde_json::from_value(serde_json::json!({"domains": null})).unwrap();
        assert!(t.tenant_id.is_none() && t.domains.is_none());
        let t: ArmTenant = serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(t.domains.is_none());
    }

    #[test]
    fn members_of_the_wrong_type_are_missing_and_missing_members_are_defaults() {
        // Every member of a request of the wrong type: still a request, with nothing in it.
        let q: GraphRequest = serde_json::from_value(serde_json::json!({
            "id": {"x": 1}, "principalId": [1], "createdDateTime": 5, "justification": null,
            "scheduleInfo": {"startDateTime": false, "expiration": {"type": 3, "duration": null}},
            "ticketInfo": {"ticketNumber": 12, "ticketSystem": true}
        }))
        .unwrap();
        assert!(q.id.is_none() && q.principal_id.is_none() && q.justification.is_none());
        assert!(q.created_date_time.is_none());
        let info = q.schedule_info.as_ref().unwrap();
        assert!(info.start_date_time.is_none());
        let exp = info.expiration.as_ref().unwrap();
        assert_eq!(exp.kind.as_deref(), Some("3"));
        assert!(exp.duration.is_none() && exp.end_date_time.is_none());
        let t = q.ticket_info.as_ref().unwrap();
        assert_eq!(
            (t.ticket_number.as_deref(), t.ticket_system.as_deref()),
            (Some("12"), Some("true"))
        );
        // An empty object: every member missing.
        let a: ArmResource<ArmPolicyAssignmentProps> =
            serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(a.id.is_none() && a.name.is_none() && a.properties.is_none());
        let p: ArmPolicyAssignmentProps =
            serde_json::from_value(serde_json::json!({"effectiveRules": null})).unwrap();
        assert!(p.effective_rules.is_empty() && p.policy_id.is_none());
        // Members that are not lenient still refuse the wrong type.
        assert!(
            serde_json::from_value::<Page>(serde_json::json!({"value": "x"})).is_err(),
            "`value` must be a list"
        );
        assert!(
            serde_json::from_value::<GraphRoleInstance>(serde_json::json!({"memberType": 1}))
                .is_err()
        );
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

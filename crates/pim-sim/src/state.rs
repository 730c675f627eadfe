//! The simulator's mutable world: tenants, the user, eligibilities, assignments,
//! requests, policies, runtime configuration, and the authority's grants.
//!
//! Invariant: everything lives in one [`State`] behind one mutex; handlers lock it
//! briefly and never across an `.await`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::api_error::{Error, Result};
use crate::clock::parse_duration;
use crate::faults::FaultRule;
use crate::policy::{Approver, Policy};
use crate::scenario::{GrantKind, GrantSpec, Scenario, TargetSpec, TenantSpec};

/// Deterministic GUID from a seed (stable ids across runs of a scenario).
pub fn seeded_guid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

/// Deterministic base64-like id (the `…-1` shape Graph uses for some instance ids).
pub fn seeded_b64(seed: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(seed.as_bytes()))
}

/// A fresh random GUID.
pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh random base64-like id.
pub fn new_b64() -> String {
    seeded_b64(&new_guid())
}

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

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    EntraRole,
    Group,
    AzureResource,
}

/// Role + scope (+ tenant).
///
/// * Entra: `role` = role definition id, `scope` = directory scope id.
/// * Group: `role` = `member`/`owner`, `scope` = group id.
/// * Azure: `role` = role definition GUID, `scope` = ARM scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub tenant: String,
    pub role: String,
    pub scope: String,
}

impl Target {
    /// Same role and scope (case-insensitive).
    pub fn same(&self, o: &Target) -> bool {
        self.kind == o.kind
            && self.tenant.eq_ignore_ascii_case(&o.tenant)
            && self.role.eq_ignore_ascii_case(&o.role)
            && norm_scope(&self.scope) == norm_scope(&o.scope)
    }
}

/// Lower-cased scope without a trailing slash (except `/`).
pub fn norm_scope(s: &str) -> String {
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        if s.starts_with('/') {
            "/".into()
        } else {
            String::new()
        }
    } else {
        t.to_ascii_lowercase()
    }
}

/// An eligibility schedule (and its single instance).
#[derive(Debug, Clone)]
pub struct Eligibility {
    pub schedule_id: String,
    pub instance_id: String,
    pub principal: String,
    pub target: Target,
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
    pub created: OffsetDateTime,
}

impl Eligibility {
    /// Visible as an instance now.
    pub fn current(&self, now: OffsetDateTime) -> bool {
        self.start <= now && self.end.is_none_or(|e| now < e)
    }
    /// Visible as a schedule now (includes future ones).
    pub fn scheduled(&self, now: OffsetDateTime) -> bool {
        self.end.is_none_or(|e| now < e)
    }
}

/// `Assigned` (admin-made) or `Activated` (self-activated eligibility).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentType {
    Assigned,
    Activated,
}

/// An assignment schedule (and its single instance).
#[derive(Debug, Clone)]
pub struct Assignment {
    pub schedule_id: String,
    pub instance_id: String,
    pub origin_id: String,
    pub principal: String,
    pub target: Target,
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
    pub atype: AssignmentType,
    pub created: OffsetDateTime,
    /// Request that created it.
    pub request_id: Option<String>,
    /// Eligibility used to activate.
    pub eligibility: Option<String>,
    /// Expiration as requested (type, duration).
    pub expiration: Expiration,
    /// Removed early (deactivated, cancelled).
    pub removed: bool,
}

impl Assignment {
    /// Visible as an instance now.
    pub fn current(&self, now: OffsetDateTime) -> bool {
        !self.removed && self.start <= now && self.end.is_none_or(|e| now < e)
    }
    /// Visible as a schedule now (includes future starts).
    pub fn scheduled(&self, now: OffsetDateTime) -> bool {
        !self.removed && self.end.is_none_or(|e| now < e)
    }
}

/// Expiration pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpType {
    NotSpecified,
    NoExpiration,
    AfterDateTime,
    AfterDuration,
}

impl ExpType {
    /// Parses case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "notspecified" => Self::NotSpecified,
            "noexpiration" => Self::NoExpiration,
            "afterdatetime" => Self::AfterDateTime,
            "afterduration" => Self::AfterDuration,
            _ => return None,
        })
    }
    /// Graph spelling.
    pub fn graph(self) -> &'static str {
        match self {
            Self::NotSpecified => "notSpecified",
            Self::NoExpiration => "noExpiration",
            Self::AfterDateTime => "afterDateTime",
            Self::AfterDuration => "afterDuration",
        }
    }
    /// ARM spelling.
    pub fn arm(self) -> &'static str {
        match self {
            Self::NotSpecified => "NotSpecified",
            Self::NoExpiration => "NoExpiration",
            Self::AfterDateTime => "AfterDateTime",
            Self::AfterDuration => "AfterDuration",
        }
    }
}

/// Expiration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiration {
    pub etype: ExpType,
    pub duration: Option<String>,
    pub end: Option<OffsetDateTime>,
}

/// Request actions (`unifiedRoleScheduleRequestActions` / ARM `RequestType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AdminAssign,
    AdminUpdate,
    AdminRemove,
    SelfActivate,
    SelfDeactivate,
    AdminExtend,
    AdminRenew,
    SelfExtend,
    SelfRenew,
}

impl Action {
    const ALL: [(Action, &'static str); 9] = [
        (Action::AdminAssign, "adminAssign"),
        (Action::AdminUpdate, "adminUpdate"),
        (Action::AdminRemove, "adminRemove"),
        (Action::SelfActivate, "selfActivate"),
        (Action::SelfDeactivate, "selfDeactivate"),
        (Action::AdminExtend, "adminExtend"),
        (Action::AdminRenew, "adminRenew"),
        (Action::SelfExtend, "selfExtend"),
        (Action::SelfRenew, "selfRenew"),
    ];
    /// Parses case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(a, _)| *a)
    }
    /// Graph spelling (camelCase).
    pub fn graph(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, n)| *n)
            .unwrap_or("unknownFutureValue")
    }
    /// ARM spelling (PascalCase).
    pub fn arm(self) -> String {
        let g = self.graph();
        let mut c = g.chars();
        match c.next() {
            Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
            None => String::new(),
        }
    }
}

/// Ticket info.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticket {
    pub number: Option<String>,
    pub system: Option<String>,
}

/// A schedule request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Graph id or ARM name.
    pub id: String,
    pub target: Target,
    pub principal: String,
    pub action: Action,
    pub status: String,
    pub created: OffsetDateTime,
    pub completed: Option<OffsetDateTime>,
    pub approval_id: Option<String>,
    pub justification: Option<String>,
    pub ticket: Option<Ticket>,
    /// Start as the request says (or as normalised to "now").
    pub start: Option<OffsetDateTime>,
    pub expiration: Option<Expiration>,
    pub target_schedule_id: Option<String>,
    pub is_validation_only: bool,
    pub custom_data: Option<String>,
    /// ARM: scope in the request URL.
    pub arm_scope: String,
    /// ARM: body as sent (for idempotent re-PUT).
    pub arm_body: Option<serde_json::Value>,
    /// ARM: linked eligibility schedule id as sent.
    pub linked_eligibility: Option<String>,
    /// The assignment schedule this request extends (selfExtend/selfRenew).
    pub extends: Option<String>,
}

/// One of the five PIM collections that Graph (for Entra roles and for groups) and ARM
/// all list: instances and schedules of eligibilities and of assignments, and requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    EligibilityInstances,
    EligibilitySchedules,
    AssignmentInstances,
    AssignmentSchedules,
    Requests,
}

impl Listing {
    /// The listing a lower-case collection name asks for: ARM's and Graph's Entra-role
    /// names (`roleeligibilityscheduleinstances`, ...) or Graph's group names (the same
    /// without `role`). The routers pass only known names; the fifth,
    /// `...assignmentschedulerequests`, like anything else, is [`Listing::Requests`].
    pub fn from_coll(coll: &str) -> Self {
        match coll.strip_prefix("role").unwrap_or(coll) {
            "eligibilityscheduleinstances" => Self::EligibilityInstances,
            "eligibilityschedules" => Self::EligibilitySchedules,
            "assignmentscheduleinstances" => Self::AssignmentInstances,
            "assignmentschedules" => Self::AssignmentSchedules,
            _ => Self::Requests,
        }
    }
}

/// A record as one [`Listing`] shows it (an eligibility is listed both as an instance
/// and as a schedule, and each API renders the two differently).
#[derive(Debug, Clone, Copy)]
pub enum Listed<'a> {
    EligibilityInstance(&'a Eligibility),
    EligibilitySchedule(&'a Eligibility),
    AssignmentInstance(&'a Assignment),
    AssignmentSchedule(&'a Assignment),
    Request(&'a Request),
}

impl<'a> Listed<'a> {
    /// Whose the record is.
    pub fn principal(&self) -> &'a str {
        match *self {
            Self::EligibilityInstance(e) | Self::EligibilitySchedule(e) => &e.principal,
            Self::AssignmentInstance(a) | Self::AssignmentSchedule(a) => &a.principal,
            Self::Request(q) => &q.principal,
        }
    }

    /// The role (or group access) and scope the record is about.
    pub fn target(&self) -> &'a Target {
        match *self {
            Self::EligibilityInstance(e) | Self::EligibilitySchedule(e) => &e.target,
            Self::AssignmentInstance(a) | Self::AssignmentSchedule(a) => &a.target,
            Self::Request(q) => &q.target,
        }
    }

    /// Listed at `now`: instances while current, schedules until they end (future
    /// ones included), requests whatever their status.
    fn live(&self, now: OffsetDateTime) -> bool {
        match *self {
            Self::EligibilityInstance(e) => e.current(now),
            Self::EligibilitySchedule(e) => e.scheduled(now),
            Self::AssignmentInstance(a) => a.current(now),
            Self::AssignmentSchedule(a) => a.scheduled(now),
            Self::Request(_) => true,
        }
    }
}

/// Runtime configuration (`POST /_sim/config`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SimConfig {
    /// Page size for Graph and ARM collections (`None` = no paging).
    pub page_size: Option<usize>,
    /// Graph policy reads answer 403 `PermissionScopeNotGranted`.
    pub policy_read_forbidden: bool,
    /// ARM policy reads answer 403 `AuthorizationFailed`.
    pub arm_policy_read_forbidden: bool,
    /// Permission errors on PIM-for-Groups endpoints use the double-wrapped `UnknownError` shape.
    pub wrap_errors: bool,
    /// Status of a successful deactivation request: `Revoked` or `Provisioned`.
    pub deactivate_status: String,
    /// `selfExtend` on an activation: `reject` (400) or `accept`.
    pub self_extend_on_activation: String,
    /// `$expand=policy($expand=rules)` answers 500 "An error has occurred.".
    pub expand_policy_fails: bool,
    /// Every sign-in performs MFA.
    pub mfa_on_sign_in: bool,
    /// The authorize endpoint answers `error=access_denied&error_subcode=cancel`.
    pub authorize_cancel: bool,
    /// The authority answers this error (Entra v2 shape) instead of its normal answer.
    #[serde(default)]
    pub authority_error: Option<AuthorityError>,
    /// Answers for the next device-code polls (of a code not yet redeemed, even one already
    /// approved or declined), in order, before the code's real state applies:
    /// `authorization_pending`, `slow_down`, `authorization_declined`, `expired_token`,
    /// `bad_verification_code`.
    #[serde(default)]
    pub device_poll_script: Vec<String>,
    /// Length (characters) of the refresh tokens issued from now on; `None`: about 1.1 KB.
    #[serde(default)]
    pub refresh_token_bytes: Option<usize>,
    /// Seconds a refresh token stays usable after it was rotated (redeemed for a new one).
    /// `None` (default): until it expires or is revoked, as Entra ID does; a number makes the
    /// simulator a stricter server that rejects replaced tokens (`AADSTS70008`).
    #[serde(default)]
    pub rotated_refresh_token_lifetime: Option<i64>,
    /// Seconds (of simulated time) a new Graph schedule request stays missing from the
    /// caller's `filterByCurrentUser` request lists, as when Graph's list lags behind a
    /// write; `None` (default) or 0: listed at once.
    #[serde(default)]
    pub request_list_lag: Option<u32>,
}

/// A configured authority error (`POST /_sim/config {"authorityError": {...}}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorityError {
    /// `authorize`, `token` or `devicecode`.
    pub endpoint: String,
    /// For `token`: only this grant (`authorization_code`, `refresh_token`, `device_code` or
    /// the full device-code URN); `None`: every grant.
    #[serde(default)]
    pub grant: Option<String>,
    /// The OAuth `error`, e.g. `invalid_grant`, `consent_required`, `unauthorized_client`.
    pub error: String,
    /// AADSTS numbers (`error_codes`); the first prefixes the description.
    #[serde(default)]
    pub codes: Vec<u32>,
    /// The text after `AADSTSnnnnn: ` (default: a standard text for the first code).
    #[serde(default)]
    pub description: Option<String>,
    /// Entra's `suberror` (`consent_required`, `basic_action`, `message_only`, ...).
    #[serde(default)]
    pub suberror: Option<String>,
    /// A `claims` challenge (JSON) echoed in the answer.
    #[serde(default)]
    pub claims: Option<String>,
    /// HTTP status of token/devicecode answers (default 400).
    #[serde(default)]
    pub status: Option<u16>,
    /// How many answers; `None`: until cleared with `"authorityError": null`.
    #[serde(default)]
    pub times: Option<u32>,
}

/// The device-code grant type.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Device-poll answers `devicePollScript` accepts.
pub const DEVICE_POLL_ANSWERS: [&str; 5] = [
    "authorization_pending",
    "slow_down",
    "authorization_declined",
    "expired_token",
    "bad_verification_code",
];

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            page_size: None,
            policy_read_forbidden: false,
            arm_policy_read_forbidden: false,
            wrap_errors: false,
            deactivate_status: "Revoked".into(),
            self_extend_on_activation: "reject".into(),
            expand_policy_fails: false,
            mfa_on_sign_in: false,
            authorize_cancel: false,
            authority_error: None,
            device_poll_script: Vec::new(),
            refresh_token_bytes: None,
            rotated_refresh_token_lifetime: None,
            request_list_lag: None,
        }
    }
}

impl SimConfig {
    /// Applies a JSON merge patch; unknown keys are an error.
    pub fn merge(&mut self, patch: &serde_json::Value) -> Result<()> {
        let obj = patch
            .as_object()
            .ok_or_else(|| Error::Invalid("config patch must be a JSON object".into()))?;
        let mut cur = serde_json::to_value(&*self).map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(c) = cur.as_object_mut() {
            for (k, v) in obj {
                if !c.contains_key(k) {
                    return Err(Error::Invalid(format!("unknown config key '{k}'")));
                }
                c.insert(k.clone(), v.clone());
            }
        }
        let next: SimConfig =
            serde_json::from_value(cur).map_err(|e| Error::Invalid(format!("config: {e}")))?;
        if !["Revoked", "Provisioned"].contains(&next.deactivate_status.as_str()) {
            return Err(Error::Invalid(
                "deactivateStatus must be Revoked or Provisioned".into(),
            ));
        }
        if !["reject", "accept"].contains(&next.self_extend_on_activation.as_str()) {
            return Err(Error::Invalid(
                "selfExtendOnActivation must be reject or accept".into(),
            ));
        }
        if let Some(e) = &next.authority_error {
            if !["authorize", "token", "devicecode"].contains(&e.endpoint.as_str()) {
                return Err(Error::Invalid(
                    "authorityError.endpoint must be authorize, token or devicecode".into(),
                ));
            }
            if let Some(g) = &e.grant
                && ![
                    "authorization_code",
                    "refresh_token",
                    "device_code",
                    DEVICE_CODE_GRANT,
                ]
                .contains(&g.as_str())
            {
                return Err(Error::Invalid(format!(
                    "authorityError.grant '{g}' is not authorization_code, refresh_token or device_code"
                )));
            }
            if e.error.trim().is_empty() {
                return Err(Error::Invalid("authorityError.error is empty".into()));
            }
            if e.status.is_some_and(|s| !(400..=599).contains(&s)) {
                return Err(Error::Invalid(
                    "authorityError.status must be 400..=599".into(),
                ));
            }
            if e.times == Some(0) {
                return Err(Error::Invalid(
                    "authorityError.times must be at least 1".into(),
                ));
            }
        }
        if let Some(a) = next
            .device_poll_script
            .iter()
            .find(|a| !DEVICE_POLL_ANSWERS.contains(&a.as_str()))
        {
            return Err(Error::Invalid(format!(
                "devicePollScript: '{a}' is not one of {}",
                DEVICE_POLL_ANSWERS.join(", ")
            )));
        }
        if next
            .refresh_token_bytes
            .is_some_and(|n| !(16..=65536).contains(&n))
        {
            return Err(Error::Invalid(
                "refreshTokenBytes must be 16..=65536".into(),
            ));
        }
        if next.page_size == Some(0) {
            return Err(Error::Invalid("pageSize must be at least 1".into()));
        }
        *self = next;
        Ok(())
    }
}

/// One entry of `GET /_sim/requests`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path (as received).
    pub path: String,
    /// Raw query string (may be empty).
    pub query: String,
    /// Response status (0 when the connection was reset before a response).
    pub status: u16,
    /// `graph`, `arm`, `authority` or `control`.
    pub resource: String,
    /// Number of items in a `$batch`.
    pub batch_items: Option<usize>,
}

/// The authority's grants.
#[derive(Debug, Default)]
pub struct AuthStore {
    pub codes: HashMap<String, AuthCode>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub devices: Vec<DeviceGrant>,
}

/// What a sign-in performed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignIn {
    pub amr: Vec<String>,
    pub acrs: Vec<String>,
    pub cp1: bool,
}

/// An authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub tenant: String,
    pub signin: SignIn,
    pub expires: OffsetDateTime,
    pub used: bool,
}

/// A refresh token.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub signin: SignIn,
    pub expires: OffsetDateTime,
    /// Set when rotated: still accepted for 60 s after this time.
    pub superseded_at: Option<OffsetDateTime>,
    pub revoked: bool,
}

/// Device-code state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Declined,
    Redeemed,
}

/// A device-code grant.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    pub device_code: String,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub tenant: String,
    pub signin: SignIn,
    pub expires: OffsetDateTime,
    pub interval: u64,
    pub last_poll: Option<std::time::Instant>,
    pub status: DeviceStatus,
}

/// The whole world.
#[derive(Debug)]
pub struct State {
    pub user: User,
    pub tenants: Vec<Tenant>,
    pub eligibilities: Vec<Eligibility>,
    pub assignments: Vec<Assignment>,
    pub requests: Vec<Request>,
    /// Configured policies: (target with policy scope) → policy.
    pub policies: Vec<(Target, Policy)>,
    pub config: SimConfig,
    pub auth: AuthStore,
    pub faults: Vec<FaultRule>,
    pub log: Vec<RecordedRequest>,
}

fn offset(
    now: OffsetDateTime,
    s: &Option<String>,
    default: Option<Duration>,
) -> Option<OffsetDateTime> {
    match s {
        Some(s) => parse_duration(s).and_then(|d| now.checked_add(d)),
        None => default.and_then(|d| now.checked_add(d)),
    }
}

impl State {
    /// What `listing` shows at `now` of the records `mine(principal, target)` accepts,
    /// in state order (the one selection behind Graph's and ARM's PIM lists).
    pub fn listed(
        &self,
        listing: Listing,
        now: OffsetDateTime,
        mine: impl Fn(&str, &Target) -> bool,
    ) -> Vec<Listed<'_>> {
        let (eligs, assigns) = (self.eligibilities.iter(), self.assignments.iter());
        let records: Box<dyn Iterator<Item = Listed<'_>>> = match listing {
            Listing::EligibilityInstances => Box::new(eligs.map(Listed::EligibilityInstance)),
            Listing::EligibilitySchedules => Box::new(eligs.map(Listed::EligibilitySchedule)),
            Listing::AssignmentInstances => Box::new(assigns.map(Listed::AssignmentInstance)),
            Listing::AssignmentSchedules => Box::new(assigns.map(Listed::AssignmentSchedule)),
            Listing::Requests => Box::new(self.requests.iter().map(Listed::Request)),
        };
        records
            .filter(|r| mine(r.principal(), r.target()) && r.live(now))
            .collect()
    }

    /// Builds the world from a scenario, with times relative to `now`.
    pub fn from_scenario(sc: &Scenario, now: OffsetDateTime) -> Result<Self> {
        let home_idx = sc.tenants.iter().position(|t| t.home).unwrap_or(0);
        let tenants: Vec<Tenant> = sc
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| build_tenant(sc, t, i == home_idx))
            .collect();
        let mut st = State {
            user: User {
                display_name: sc.user.display_name.clone(),
                upn: sc.user.user_principal_name.clone(),
                mail: sc
                    .user
                    .mail
                    .clone()
                    .unwrap_or_else(|| sc.user.user_principal_name.clone()),
            },
            tenants,
            eligibilities: Vec::new(),
            assignments: Vec::new(),
            requests: Vec::new(),
            policies: Vec::new(),
            config: SimConfig {
                mfa_on_sign_in: sc.user.mfa_on_sign_in,
                ..SimConfig::default()
            },
            auth: AuthStore::default(),
            faults: Vec::new(),
            log: Vec::new(),
        };
        if let Some(c) = &sc.config {
            st.config.merge(c)?;
        }
        for (ti, ts) in sc.tenants.iter().enumerate() {
            let tenant = st.tenants[ti].clone();
            for (n, g) in ts.eligible.iter().enumerate() {
                let target = resolve_target(&tenant, &g.target)?;
                let seed = format!("{}/elig/{n}", tenant.id);
                let start = offset(now, &g.start_offset, Some(Duration::days(-30))).unwrap_or(now);
                let (schedule_id, instance_id) = match target.kind {
                    Kind::EntraRole => (seeded_guid(&seed), format!("{}-1-e", seeded_b64(&seed))),
                    Kind::Group => {
                        let id = format!("{}_{}_{}", target.scope, target.role, seeded_guid(&seed));
                        (id.clone(), id)
                    }
                    Kind::AzureResource => {
                        (seeded_guid(&seed), seeded_guid(&(seed.clone() + "/i")))
                    }
                };
                st.eligibilities.push(Eligibility {
                    schedule_id,
                    instance_id,
                    principal: tenant.user_oid.clone(),
                    target,
                    start,
                    end: offset(now, &g.end_offset, None),
                    created: start,
                });
            }
            for (n, g) in ts.active.iter().enumerate() {
                st.push_scenario_assignment(&tenant, n, g, now)?;
            }
            for p in &ts.policies {
                let mut target = resolve_target(&tenant, &p.target)?;
                if target.kind == Kind::EntraRole {
                    target.scope = "/".into();
                }
                st.policies.push((target, Policy::from_spec(p)));
            }
        }
        Ok(st)
    }

    fn push_scenario_assignment(
        &mut self,
        tenant: &Tenant,
        n: usize,
        g: &GrantSpec,
        now: OffsetDateTime,
    ) -> Result<()> {
        let target = resolve_target(tenant, &g.target)?;
        let seed = format!("{}/active/{n}", tenant.id);
        let activated = g
            .assignment_type
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("activated"));
        let start = offset(now, &g.start_offset, Some(Duration::days(-30))).unwrap_or(now);
        let end = offset(now, &g.end_offset, None);
        let eligibility = self
            .eligibilities
            .iter()
            .find(|e| e.target.same(&target))
            .map(|e| e.schedule_id.clone());
        if activated && (end.is_none() || eligibility.is_none()) {
            return Err(Error::Scenario(format!(
                "tenant {}: an Activated assignment needs an endOffset and a matching eligibility",
                tenant.name
            )));
        }
        let request_id = seeded_guid(&(seed.clone() + "/req"));
        let (schedule_id, instance_id, origin_id) = match target.kind {
            Kind::EntraRole => {
                let b = seeded_b64(&seed);
                if activated {
                    (request_id.clone(), format!("{b}-1"), format!("{b}-1-e"))
                } else {
                    (format!("{b}-1"), format!("{b}-1"), format!("{b}-1"))
                }
            }
            Kind::Group => {
                let id = format!("{}_{}_{}", target.scope, target.role, request_id);
                (id.clone(), id.clone(), id)
            }
            Kind::AzureResource => {
                let inst = seeded_guid(&(seed.clone() + "/i"));
                (seeded_guid(&(seed.clone() + "/s")), inst.clone(), inst)
            }
        };
        let expiration = match end {
            Some(e) => Expiration {
                etype: ExpType::AfterDuration,
                duration: Some(crate::clock::fmt_duration(e - start)),
                end: None,
            },
            None => Expiration {
                etype: ExpType::NoExpiration,
                duration: None,
                end: None,
            },
        };
        if activated {
            self.requests.push(Request {
                id: request_id.clone(),
                target: target.clone(),
                principal: tenant.user_oid.clone(),
                action: Action::SelfActivate,
                status: "Provisioned".into(),
                created: start,
                completed: Some(start),
                approval_id: None,
                justification: g.justification.clone(),
                ticket: None,
                start: Some(start),
                expiration: Some(expiration.clone()),
                target_schedule_id: Some(schedule_id.clone()),
                is_validation_only: false,
                custom_data: None,
                arm_scope: target.scope.clone(),
                arm_body: None,
                linked_eligibility: eligibility.clone(),
                extends: None,
            });
        }
        self.assignments.push(Assignment {
            schedule_id,
            instance_id,
            origin_id,
            principal: tenant.user_oid.clone(),
            target,
            start,
            end,
            atype: if activated {
                AssignmentType::Activated
            } else {
                AssignmentType::Assigned
            },
            created: start,
            request_id: activated.then_some(request_id),
            eligibility: if activated { eligibility } else { None },
            expiration,
            removed: false,
        });
        Ok(())
    }

    /// Tenant by id.
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// The user's home tenant.
    pub fn home(&self) -> &Tenant {
        self.tenants
            .iter()
            .find(|t| t.home)
            .unwrap_or(&self.tenants[0])
    }

    /// Resolves `{tenant}` in an authority path: `organizations`, `common`, a GUID or a domain.
    pub fn resolve_tenant(&self, seg: &str) -> Option<&Tenant> {
        if seg.eq_ignore_ascii_case("organizations") || seg.eq_ignore_ascii_case("common") {
            return Some(self.home());
        }
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(seg) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(seg))
        })
    }

    /// The policy for a target: exact match, else (Azure) the nearest ancestor scope,
    /// else the default policy.
    pub fn policy_for(&self, t: &Target) -> Policy {
        let scope_match = |p: &Target| match t.kind {
            Kind::EntraRole => true,
            Kind::Group => p.scope.eq_ignore_ascii_case(&t.scope),
            Kind::AzureResource => {
                let ps = norm_scope(&p.scope);
                let ts = norm_scope(&t.scope);
                ts == ps || ts.starts_with(&(ps + "/"))
            }
        };
        self.policies
            .iter()
            .filter(|(p, _)| {
                p.kind == t.kind
                    && p.tenant.eq_ignore_ascii_case(&t.tenant)
                    && p.role.eq_ignore_ascii_case(&t.role)
                    && scope_match(p)
            })
            .max_by_key(|(p, _)| p.scope.len())
            .map(|(_, pol)| pol.clone())
            .unwrap_or_default()
    }
}

fn build_tenant(sc: &Scenario, t: &TenantSpec, home: bool) -> Tenant {
    let named = |v: &[crate::scenario::NamedSpec]| -> Vec<Named> {
        v.iter()
            .map(|n| Named {
                id: n.id.clone(),
                name: n.display_name.clone(),
                description: n.description.clone(),
            })
            .collect()
    };
    let mut domains = t.domains.clone();
    if !domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&t.default_domain))
    {
        domains.insert(0, t.default_domain.clone());
    }
    let mut approvers: Vec<Approver> = t
        .approvers
        .iter()
        .map(|a| Approver {
            id: a.id.clone(),
            description: a
                .description
                .clone()
                .unwrap_or_else(|| a.display_name.clone()),
        })
        .collect();
    if approvers.is_empty() {
        approvers.push(Approver {
            id: seeded_guid(&format!("{}/approver", t.id)),
            description: "PIM approvers".into(),
        });
    }
    Tenant {
        id: t.id.clone(),
        name: t.display_name.clone(),
        default_domain: t.default_domain.clone(),
        domains,
        home,
        user_oid: t.user_object_id.clone(),
        user_upn: t
            .user_principal_name
            .clone()
            .unwrap_or_else(|| sc.user.user_principal_name.clone()),
        role_defs: named(&t.role_definitions),
        aus: named(&t.administrative_units),
        groups: named(&t.groups),
        subs: t
            .subscriptions
            .iter()
            .map(|s| Subscription {
                id: s.id.clone(),
                name: s.display_name.clone(),
                resource_groups: s.resource_groups.clone(),
            })
            .collect(),
        azure_roles: named(&t.azure_role_definitions),
        approvers,
    }
}

fn find_named<'a>(v: &'a [Named], key: &str) -> Option<&'a Named> {
    v.iter()
        .find(|n| n.id.eq_ignore_ascii_case(key) || n.name.eq_ignore_ascii_case(key))
}

/// Resolves a scenario target against a tenant.
pub fn resolve_target(t: &Tenant, s: &TargetSpec) -> Result<Target> {
    let err = |what: &str| Error::Scenario(format!("tenant {}: {what}", t.name));
    match s.kind {
        GrantKind::EntraRole => {
            let role = s
                .role
                .as_deref()
                .ok_or_else(|| err("entraRole needs 'role'"))?;
            let rd = find_named(&t.role_defs, role)
                .ok_or_else(|| err(&format!("unknown role '{role}'")))?;
            let scope = if let Some(au) = &s.administrative_unit {
                let a = find_named(&t.aus, au)
                    .ok_or_else(|| err(&format!("unknown administrative unit '{au}'")))?;
                format!("/administrativeUnits/{}", a.id)
            } else {
                s.scope.clone().unwrap_or_else(|| "/".into())
            };
            Ok(Target {
                kind: Kind::EntraRole,
                tenant: t.id.clone(),
                role: rd.id.clone(),
                scope,
            })
        }
        GrantKind::Group => {
            let g = s
                .group
                .as_deref()
                .ok_or_else(|| err("group needs 'group'"))?;
            let grp =
                find_named(&t.groups, g).ok_or_else(|| err(&format!("unknown group '{g}'")))?;
            let access = s.access.as_deref().unwrap_or("member").to_ascii_lowercase();
            if access != "member" && access != "owner" {
                return Err(err("access must be member or owner"));
            }
            Ok(Target {
                kind: Kind::Group,
                tenant: t.id.clone(),
                role: access,
                scope: grp.id.clone(),
            })
        }
        GrantKind::AzureRole => {
            let role = s
                .role
                .as_deref()
                .ok_or_else(|| err("azureRole needs 'role'"))?;
            let rd = find_named(&t.azure_roles, role)
                .ok_or_else(|| err(&format!("unknown Azure role '{role}'")))?;
            let scope = if let Some(sub) = &s.subscription {
                let sb = t
                    .subs
                    .iter()
                    .find(|x| x.id.eq_ignore_ascii_case(sub) || x.name.eq_ignore_ascii_case(sub))
                    .ok_or_else(|| err(&format!("unknown subscription '{sub}'")))?;
                match &s.resource_group {
                    Some(rg) => {
                        let rg = sb
                            .resource_groups
                            .iter()
                            .find(|x| x.eq_ignore_ascii_case(rg))
                            .ok_or_else(|| err(&format!("unknown resource group '{rg}'")))?;
                        format!("/subscriptions/{}/resourceGroups/{rg}", sb.id)
                    }
                    None => format!("/subscriptions/{}", sb.id),
                }
            } else {
                s.scope
                    .clone()
                    .ok_or_else(|| err("azureRole needs 'subscription' or 'scope'"))?
            };
            Ok(Target {
                kind: Kind::AzureResource,
                tenant: t.id.clone(),
                role: rd.id.clone(),
                scope,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_builds() {
        let now = OffsetDateTime::now_utc();
        let sc = Scenario::builtin("demo").expect("demo");
        let st = State::from_scenario(&sc, now).expect("builds");
        assert_eq!(st.tenants.len(), 2);
        assert!(st.eligibilities.len() >= 10);
        let ua = st
            .assignments
            .iter()
            .find(|a| a.atype == AssignmentType::Activated)
            .expect("activation");
        assert!(ua.current(now));
        assert!(!ua.current(now + Duration::minutes(11)));
        assert_eq!(
            st.resolve_tenant("fabrikam.onmicrosoft.com")
                .map(|t| t.name.as_str()),
            Some("Fabrikam")
        );
        assert_eq!(
            st.resolve_tenant("organizations").map(|t| t.name.as_str()),
            Some("Contoso")
        );
    }

    #[test]
    fn azure_policy_is_inherited_from_the_nearest_scope() {
        let now = OffsetDateTime::now_utc();
        let st =
            State::from_scenario(&Scenario::builtin("demo").expect("demo"), now).expect("builds");
        let t = |scope: &str| Target {
            kind: Kind::AzureResource,
            tenant: "cab01047-8ad9-4792-8e42-569340767f1b".into(),
            role: "b24988ac-6180-42a0-ab88-20f7382dd24c".into(),
            scope: scope.into(),
        };
        assert!(
            st.policy_for(&t("/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f"))
                .ticketing
        );
        assert!(
            st.policy_for(&t(
                "/subscriptions/dfa2a084-766f-4003-8ae1-c4aeb893a99f/resourceGroups/rg-data"
            ))
            .ticketing
        );
        assert!(!st.policy_for(&t("/subscriptions/other")).ticketing);
    }

    #[test]
    fn config_merge_validates() {
        let mut c = SimConfig::default();
        c.merge(&serde_json::json!({"pageSize": 2, "wrapErrors": true}))
            .expect("ok");
        assert_eq!(c.page_size, Some(2));
        assert!(c.wrap_errors);
        assert!(c.merge(&serde_json::json!({"nope": 1})).is_err());
        assert!(
            c.merge(&serde_json::json!({"deactivateStatus": "Gone"}))
                .is_err()
        );
        c.merge(&serde_json::json!({"pageSize": null})).expect("ok");
        assert_eq!(c.page_size, None);
    }

    #[test]
    fn actions_parse_case_insensitively() {
        assert_eq!(Action::parse("SelfActivate"), Some(Action::SelfActivate));
        assert_eq!(Action::parse("selfactivate"), Some(Action::SelfActivate));
        assert_eq!(Action::SelfDeactivate.arm(), "SelfDeactivate");
        assert_eq!(Action::parse("bogus"), None);
        assert_eq!(
            ExpType::parse("AfterDuration"),
            Some(ExpType::AfterDuration)
        );
    }
}

//! What Graph and ARM share: the request and its checked caller ([`ApiReq`], [`Env`]),
//! request-body parsing (schedule info, tickets) and the access-token check.

use serde_json::Value;
use time::OffsetDateTime;

use crate::clock::parse_dt;
use crate::jwt::{self, AccessClaims};
use crate::odata::Query;
use crate::reply::Ctx;
use crate::requests::Caller;
use crate::service_errors::PimError;
use crate::state::{ExpType, Expiration, State, Tenant, Ticket};

/// One Graph or ARM request (for Graph, also a `$batch` item).
#[derive(Debug, Clone)]
pub struct ApiReq<'a> {
    /// HTTP method (upper case).
    pub method: &'a str,
    /// Percent-decoded path; for Graph relative to `/v1.0` (or `/beta`), starting with `/`.
    pub path: &'a str,
    /// Path as received (for next links).
    pub raw_path: &'a str,
    /// Raw query string.
    pub raw_query: &'a str,
    /// `Authorization` header.
    pub auth: Option<&'a str>,
    /// Body bytes.
    pub body: &'a [u8],
    /// Graph version segment (`v1.0` or `beta`); empty for ARM.
    pub version: &'a str,
}

/// A Graph or ARM request whose bearer token passed [`check_token`], with the tenant
/// the token names and the virtual time it is handled at.
pub struct Env<'a> {
    pub ctx: &'a Ctx,
    pub r: &'a ApiReq<'a>,
    pub q: Query,
    pub claims: AccessClaims,
    pub tenant: Tenant,
    pub now: OffsetDateTime,
}

impl<'a> Env<'a> {
    /// Checks `r`'s bearer token for one of `auds` at `ctx.now` and finds its tenant
    /// (unknown: [`TokenProblem::Invalid`]); `q` is `r`'s parsed query.
    pub fn check(
        st: &State,
        ctx: &'a Ctx,
        r: &'a ApiReq<'a>,
        q: Query,
        auds: &[&str],
    ) -> Result<Self, TokenProblem> {
        let claims = check_token(st, ctx.now, r.auth, auds)?;
        let tenant = st
            .tenant(&claims.tid)
            .cloned()
            .ok_or(TokenProblem::Invalid)?;
        Ok(Env {
            ctx,
            r,
            q,
            claims,
            tenant,
            now: ctx.now,
        })
    }

    /// The caller as the engine judges requests: who, and how they signed in.
    pub fn caller(&self) -> Caller {
        Caller {
            oid: self.claims.oid.clone(),
            mfa: self.claims.has_mfa(),
            acrs: self.claims.acrs.clone(),
        }
    }
}

/// Optional string member; `Err` when present with another type.
pub fn opt_str(o: &Value, key: &str) -> Result<Option<String>, PimError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PimError::invalid()),
    }
}

/// Required string member.
pub fn req_str(o: &Value, key: &str) -> Result<String, PimError> {
    opt_str(o, key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(PimError::invalid)
}

/// `ticketInfo`.
pub fn ticket(o: &Value) -> Result<Option<Ticket>, PimError> {
    match o.get("ticketInfo") {
        None | Some(Value::Null) => Ok(None),
        Some(t @ Value::Object(_)) => Ok(Some(Ticket {
            number: opt_str(t, "ticketNumber")?,
            system: opt_str(t, "ticketSystem")?,
        })),
        Some(_) => Err(PimError::invalid()),
    }
}

/// `scheduleInfo` → (start, expiration).
#[allow(clippy::type_complexity)]
pub fn schedule(o: &Value) -> Result<(Option<OffsetDateTime>, Option<Expiration>), PimError> {
    let s = match o.get("scheduleInfo") {
        None | Some(Value::Null) => return Ok((None, None)),
        Some(s @ Value::Object(_)) => s,
        Some(_) => return Err(PimError::invalid()),
    };
    if s.get("recurrence").is_some_and(|r| !r.is_null()) {
        return Err(PimError::invalid());
    }
    let start = match opt_str(s, "startDateTime")? {
        Some(t) => Some(parse_dt(&t).ok_or_else(PimError::invalid)?),
        None => None,
    };
    let exp = match s.get("expiration") {
        None | Some(Value::Null) => None,
        Some(e @ Value::Object(_)) => {
            let etype = match opt_str(e, "type")? {
                Some(t) => ExpType::parse(&t).ok_or_else(PimError::invalid)?,
                None => {
                    if opt_str(e, "duration")?.is_some() {
                        ExpType::AfterDuration
                    } else if opt_str(e, "endDateTime")?.is_some() {
                        ExpType::AfterDateTime
                    } else {
                        ExpType::NotSpecified
                    }
                }
            };
            let end = match opt_str(e, "endDateTime")? {
                Some(t) => Some(parse_dt(&t).ok_or_else(PimError::invalid)?),
                None => None,
            };
            Some(Expiration {
                etype,
                duration: opt_str(e, "duration")?,
                end,
            })
        }
        Some(_) => return Err(PimError::invalid()),
    };
    Ok((start, exp))
}

/// Why a bearer token was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenProblem {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token of ours / unknown tenant or user.
    Invalid,
    /// Wrong audience.
    Audience(String),
    /// Expired on the virtual clock.
    Expired(i64),
}

/// Checks a bearer token for an audience.
pub fn check_token(
    st: &State,
    now: OffsetDateTime,
    auth: Option<&str>,
    auds: &[&str],
) -> Result<AccessClaims, TokenProblem> {
    let raw = auth
        .and_then(|h| {
            let h = h.trim();
            h.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| h[7..].trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(TokenProblem::Missing)?;
    let claims = jwt::decode(raw)
        .and_then(|v| AccessClaims::from_payload(&v))
        .ok_or(TokenProblem::Invalid)?;
    if !auds
        .iter()
        .any(|a| a.eq_ignore_ascii_case(claims.aud.trim_end_matches('/')))
    {
        return Err(TokenProblem::Audience(claims.aud));
    }
    let tenant = st.tenant(&claims.tid).ok_or(TokenProblem::Invalid)?;
    if !tenant.user_oid.eq_ignore_ascii_case(&claims.oid) {
        return Err(TokenProblem::Invalid);
    }
    if now.unix_timestamp() >= claims.exp {
        return Err(TokenProblem::Expired(claims.exp));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schedule_parsing() {
        let (s, e) = schedule(
            &json!({"scheduleInfo": {"startDateTime": "2026-01-01T00:00:00Z",
            "expiration": {"type": "AfterDuration", "duration": "PT1H"}}}),
        )
        .expect("valid");
        assert!(s.is_some());
        let e = e.expect("expiration");
        assert_eq!(e.etype, ExpType::AfterDuration);
        assert_eq!(e.duration.as_deref(), Some("PT1H"));
        assert!(schedule(&json!({"scheduleInfo": {"expiration": {"type": "sometimes"}}})).is_err());
        assert!(schedule(&json!({"scheduleInfo": {"startDateTime": "nope"}})).is_err());
        assert!(schedule(&json!({"scheduleInfo": 5})).is_err());
        assert_eq!(schedule(&json!({})).expect("ok"), (None, None));
    }
}

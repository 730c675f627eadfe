//! Fault injection: rules that match requests by method and path substring and make
//! them fail (status with optional `Retry-After`, connection reset, delay, CAE claims
//! challenge, or a reset after the request was processed).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::reply::{self, Ctx, Reply};
use crate::service_errors;

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status (and the service's error shape).
    #[serde(rename_all = "camelCase")]
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` header value as sent (`"2"`, `"0.5"`); absent when `None`.
        #[serde(default)]
        retry_after: Option<String>,
        /// Error code (default depends on status).
        #[serde(default)]
        code: Option<String>,
        /// Error message (default depends on status).
        #[serde(default)]
        message: Option<String>,
        /// Use the double-wrapped `UnknownError` shape (Graph only).
        #[serde(default)]
        wrapped: bool,
    },
    /// Drop the connection without a response.
    Reset,
    /// Delay the response.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// 401 with `WWW-Authenticate: Bearer … error="insufficient_claims", claims="<base64>"`.
    ClaimsChallenge {
        /// Claims JSON (sent base64-encoded).
        claims: String,
    },
    /// Process the request, then apply `then` (normally `reset`: an uncertain outcome).
    After {
        /// The fault applied after processing.
        then: Box<Fault>,
    },
}

/// A fault rule as posted to `/_sim/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    /// Method to match (any when `None`).
    #[serde(default)]
    pub method: Option<String>,
    /// Substring of the path (with query) to match (any when `None`).
    #[serde(default)]
    pub path: Option<String>,
    /// How many requests to affect (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// The fault.
    pub fault: Fault,
}

fn one() -> u32 {
    1
}

/// An installed rule with its remaining count.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// The spec.
    pub spec: FaultSpec,
    /// Remaining uses.
    pub remaining: u32,
}

/// Which service shape to use for an injected error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Microsoft Graph.
    Graph,
    /// Azure Resource Manager.
    Arm,
    /// Entra authority.
    Authority,
}

/// Takes the first matching rule (decrementing it). `target` is path + `?` + query.
pub fn take(rules: &mut Vec<FaultRule>, method: &str, target: &str) -> Option<Fault> {
    take_where(rules, method, target, |_| true)
}

/// Like [`take`], considering only faults accepted by `accept`.
pub fn take_where(
    rules: &mut Vec<FaultRule>,
    method: &str,
    target: &str,
    accept: impl Fn(&Fault) -> bool,
) -> Option<Fault> {
    let idx = rules.iter().position(|r| {
        r.remaining > 0
            && accept(&r.spec.fault)
            && r.spec
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && r.spec.path.as_deref().is_none_or(|p| target.contains(p))
    })?;
    let fault = rules[idx].spec.fault.clone();
    rules[idx].remaining -= 1;
    if rules[idx].remaining == 0 {
        rules.remove(idx);
    }
    Some(fault)
}

/// The reply for a status or claims-challenge fault.
pub fn reply(f: &Fault, svc: Service, ctx: &Ctx) -> Option<Reply> {
    match f {
        Fault::Status {
            status,
            retry_after,
            code,
            message,
            wrapped,
        } => {
            let mut r = match svc {
                Service::Graph => {
                    let (dc, dm) = service_errors::default_graph_error(*status);
                    let c = code.as_deref().unwrap_or(dc);
                    let m = message.as_deref().unwrap_or(dm);
                    if *wrapped {
                        service_errors::graph_wrapped(ctx, *status, c, m)
                    } else if *status == 429 {
                        service_errors::graph_throttled(ctx, c, m)
                    } else {
                        service_errors::graph(ctx, *status, c, m)
                    }
                }
                Service::Arm => {
                    let (dc, dm) = service_errors::default_arm_error(*status);
                    service_errors::arm(
                        *status,
                        code.as_deref().unwrap_or(dc),
                        message.as_deref().unwrap_or(dm),
                    )
                }
                Service::Authority => Reply::json(
                    *status,
                    serde_json::json!({
                        "error": code.as_deref().unwrap_or("temporarily_unavailable"),
                        "error_description": message.as_deref().unwrap_or("AADSTS50196: The server terminated an operation because it encountered a client request loop."),
                        "error_codes": [50196],
                        "timestamp": crate::clock::fmt_aad_timestamp(ctx.now),
                        "trace_id": ctx.request_id,
                        "correlation_id": ctx.client_request_id,
                    }),
                    reply::JSON,
                ),
            };
            if let Some(ra) = retry_after {
                r = r.header("Retry-After", ra.clone());
            }
            Some(r)
        }
        Fault::ClaimsChallenge { claims } => {
            let client_id = match svc {
                Service::Arm => "797f4846-ba00-4fd7-ba43-dac1f8f63013",
                _ => "00000003-0000-0000-c000-000000000000",
            };
            let header = format!(
                "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"{client_id}\", error=\"insufficient_claims\", claims=\"{}\"",
                ctx.base,
                STANDARD.encode(claims.as_bytes())
            );
            let msg = "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp";
            let r = match svc {
                Service::Arm => service_errors::arm(401, "InvalidAuthenticationToken", msg),
                _ => service_errors::graph(ctx, 401, "InvalidAuthenticationToken", msg),
            };
            Some(r.header("WWW-Authenticate", header))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_and_count_down() {
        let mut rules = vec![FaultRule {
            spec: FaultSpec {
                method: Some("GET".into()),
                path: Some("roleEligibility".into()),
                times: 2,
                fault: Fault::Reset,
            },
            remaining: 2,
        }];
        assert!(take(&mut rules, "POST", "/v1.0/roleEligibility").is_none());
        assert!(take(&mut rules, "get", "/v1.0/other").is_none());
        assert_eq!(
            take(&mut rules, "get", "/v1.0/roleEligibility"),
            Some(Fault::Reset)
        );
        assert_eq!(
            take(&mut rules, "GET", "/x/roleEligibility?y"),
            Some(Fault::Reset)
        );
        assert!(rules.is_empty());
    }

    #[test]
    fn spec_json_shape() {
        let s: FaultSpec = serde_json::from_str(
            r#"{"method":null,"path":"x","fault":{"kind":"status","status":429,"retryAfter":"0.5"}}"#,
        )
        .expect("parses");
        assert_eq!(s.times, 1);
        let s: FaultSpec =
            serde_json::from_str(r#"{"fault":{"kind":"after","then":{"kind":"reset"}}}"#)
                .expect("parses");
        assert_eq!(
            s.fault,
            Fault::After {
                then: Box::new(Fault::Reset)
            }
        );
    }
}

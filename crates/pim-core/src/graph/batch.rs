//! The `$batch` machinery: items with plainer fallbacks, throttled items retried alone after
//! their `Retry-After`, items answered 401 sent again once with a renewed token, and the
//! paging of each item's body.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use super::Graph;
use crate::error::Error;
use crate::http::{ApiError, Call, parse_retry_after};
use crate::token::{Resource, TokenRequest};

/// At most this many requests per `$batch`.
const BATCH_LIMIT: usize = 20;

/// One batch item: an id and the relative URLs to try in order (later ones are plainer
/// fallbacks used when the service rejects an earlier one with 400/404/405/500/501).
#[derive(Debug, Clone)]
pub(crate) struct BatchItem {
    pub id: String,
    pub urls: Vec<String>,
}

impl BatchItem {
    pub fn new(id: &str, urls: &[String]) -> Self {
        BatchItem {
            id: id.to_owned(),
            urls: urls.to_vec(),
        }
    }
}

/// What an item produced: its body (first page) and which URL alternative worked.
#[derive(Debug)]
pub(crate) struct ItemOk {
    pub body: Value,
    pub alternative: usize,
}

/// A `$batch` item's `status` (a number, or a number as text) when it is an HTTP status
/// (100–599); never truncated, so 65736 is not read as 200.
pub(crate) fn item_status(r: &Value) -> Option<u16> {
    let s = r.get("status")?;
    let n = s
        .as_u64()
        .or_else(|| s.as_str().and_then(|x| x.trim().parse().ok()))?;
    u16::try_from(n).ok().filter(|n| (100..=599).contains(n))
}

impl Graph {
    /// Runs GET items in `$batch` requests (20 per batch), retrying only throttled items after
    /// their `Retry-After`, and moving to an item's next URL alternative when one is refused.
    pub async fn batch(
        &self,
        tenant: &str,
        items: Vec<BatchItem>,
    ) -> HashMap<String, Result<ItemOk, Error>> {
        let mut results: HashMap<String, Result<ItemOk, Error>> = HashMap::new();
        // (item, alternative index, throttle retries)
        let mut todo: Vec<(BatchItem, usize, u32)> = items.into_iter().map(|i| (i, 0, 0)).collect();
        let max_rounds = 12;
        // Items answered 401 (an expired token: each item has its own status) are sent again
        // once with a renewed token; a claims challenge is not renewed here.
        let mut renewed = false;
        for _round in 0..max_rounds {
            if todo.is_empty() {
                break;
            }
            let mut next: Vec<(BatchItem, usize, u32)> = Vec::new();
            let mut wait = Duration::ZERO;
            let mut unauthorized: Vec<(BatchItem, usize, u32)> = Vec::new();
            for chunk in todo.chunks(BATCH_LIMIT) {
                let requests: Vec<Value> = chunk
                    .iter()
                    .map(|(it, alt, _)| json!({"id": it.id, "method": "GET", "url": it.urls[*alt]}))
                    .collect();
                let call = Call {
                    method: Method::POST,
                    url: self.url("/$batch"),
                    tenant: tenant.to_owned(),
                    resource: Resource::Graph,
                    body: Some(json!({ "requests": requests })),
                    idempotent: true, // only GETs inside
                    claims: None,
                };
                let resp = match self.http.call(&call).await {
                    Ok(r) => r.json().unwrap_or(Value::Null),
                    Err(f) => {
                        let e = f.into_error();
                        let unsupported = matches!(&e, Error::Api { status, .. } if matches!(status, 400 | 404 | 405 | 501));
                        if unsupported {
                            tracing::info!("$batch refused; sending the requests one by one");
                            for (it, alt, _) in chunk {
                                let r = self.single(tenant, it, *alt).await;
                                results.insert(it.id.clone(), r);
                            }
                            continue;
                        }
                        let msg = e.to_string();
                        let code = e.code();
                        for (it, _, _) in chunk {
                            results.insert(it.id.clone(), Err(clone_error(&e, code, &msg)));
                        }
                        continue;
                    }
                };
                let responses = resp
                    .get("responses")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut by_id: HashMap<String, Value> = HashMap::new();
                for r in responses {
                    let id = match r.get("id") {
                        Some(Value::String(s)) => s.to_ascii_lowercase(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => continue,
                    };
                    by_id.insert(id, r);
                }
                for (it, alt, tries) in chunk {
                    let Some(r) = by_id.remove(&it.id.to_ascii_lowercase()) else {
                        if *tries < 2 {
                            next.push((it.clone(), *alt, tries + 1));
                        } else {
                            results.insert(
                                it.id.clone(),
                                Err(Error::InvalidResponse(format!(
                                    "the $batch response has no answer for `{}`",
                                    it.id
                                ))),
                            );
                        }
                        continue;
                    };
                    let Some(status) = item_status(&r) else {
                        results.insert(
                            it.id.clone(),
                            Err(Error::InvalidResponse(format!(
                                "the $batch answer for `{}` has no valid HTTP status",
                                it.id
                            ))),
                        );
                        continue;
                    };
                    let headers = lower_keys(r.get("headers"));
                    let body = item_body(r.get("body"));
                    if (200..300).contains(&status) {
                        results.insert(
                            it.id.clone(),
                            Ok(ItemOk {
                                body,
                                alternative: *alt,
                            }),
                        );
                    } else if matches!(status, 429 | 503 | 504)
                        && *tries < self.http.retry.max_retries
                    {
                        let ra = headers
                            .get("retry-after")
                            .and_then(|v| parse_retry_after(v))
                            .unwrap_or_else(|| self.http.retry.backoff(tries + 1));
                        wait = wait.max(ra.min(self.http.retry.max_wait));
                        tracing::info!(item = %it.id, status, ?ra, "batch item throttled; retrying it alone");
                        next.push((it.clone(), *alt, tries + 1));
                    } else if status == 401
                        && !renewed
                        && !headers
                            .get("www-authenticate")
                            .is_some_and(|v| v.to_ascii_lowercase().contains("insufficient_claims"))
                    {
                        unauthorized.push((it.clone(), *alt, *tries));
                    } else if matches!(status, 400 | 404 | 405 | 500 | 501)
                        && alt + 1 < it.urls.len()
                    {
                        tracing::info!(item = %it.id, status, "batch item refused; trying a plainer query");
                        next.push((it.clone(), alt + 1, *tries));
                    } else {
                        let bytes = serde_json::to_vec(&body).unwrap_or_default();
                        let api =
                            ApiError::parse(status, &bytes, headers.get("request-id").cloned());
                        tracing::warn!(item = %it.id, status, code = %api.code, request_id = api.request_id.as_deref().unwrap_or("-"), "batch item failed");
                        let err = if status == 429 {
                            Error::Throttled {
                                retry_after: headers
                                    .get("retry-after")
                                    .and_then(|v| parse_retry_after(v)),
                            }
                        } else {
                            api.into_error(Resource::Graph)
                        };
                        results.insert(it.id.clone(), Err(err));
                    }
                }
            }
            if !unauthorized.is_empty() {
                renewed = true;
                tracing::info!(
                    "batch items answered 401: renewing the access token and sending them again"
                );
                let req = TokenRequest {
                    tenant_id: tenant.to_owned(),
                    resource: Resource::Graph,
                    scope: self.http.scope(Resource::Graph),
                    claims: None,
                    force_refresh: true,
                };
                match self.http.tokens.access_token(&req).await {
                    Ok(_) => next.extend(unauthorized),
                    Err(e) => {
                        let msg = e.to_string();
                        let code = e.code();
                        for (it, _, _) in unauthorized {
                            results.insert(it.id.clone(), Err(clone_error(&e, code, &msg)));
                        }
                    }
                }
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            todo = next;
        }
        for (it, _, _) in todo {
            results.insert(it.id.clone(), Err(Error::Throttled { retry_after: None }));
        }
        results
    }

    async fn single(&self, tenant: &str, it: &BatchItem, mut alt: usize) -> Result<ItemOk, Error> {
        loop {
            match self
                .http
                .get_json(tenant, Resource::Graph, &self.url(&it.urls[alt]))
                .await
            {
                Ok(body) => {
                    return Ok(ItemOk {
                        body,
                        alternative: alt,
                    });
                }
                Err(Error::Api { status, .. })
                    if matches!(status, 400 | 404 | 405 | 500 | 501) && alt + 1 < it.urls.len() =>
                {
                    alt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Follows the paging of a batch item's body (next links are fetched directly with GET).
    pub async fn collect(
        &self,
        tenant: &str,
        r: Result<ItemOk, Error>,
    ) -> Result<Vec<Value>, Error> {
        let ok = r?;
        self.http
            .follow_pages(tenant, Resource::Graph, ok.body)
            .await
    }
}

pub(crate) fn lower_keys(h: Option<&Value>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(Value::Object(m)) = h {
        for (k, v) in m {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            out.insert(k.to_ascii_lowercase(), s);
        }
    }
    out
}

/// A batch item's body: JSON, or base64 text holding JSON.
pub(crate) fn item_body(b: Option<&Value>) -> Value {
    match b {
        Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .or_else(|| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// Errors are not `Clone`; rebuild one per batch item.
pub(crate) fn clone_error(e: &Error, code: &str, msg: &str) -> Error {
    match e {
        Error::SignInRequired { reason } => Error::SignInRequired {
            reason: reason.clone(),
        },
        Error::AzureCliSignInRequired { reason, login } => Error::AzureCliSignInRequired {
            reason: reason.clone(),
            login: login.clone(),
        },
        Error::StepUpRequired { resource, claims } => Error::StepUpRequired {
            resource: *resource,
            claims: claims.clone(),
        },
        Error::Throttled { retry_after } => Error::Throttled {
            retry_after: *retry_after,
        },
        Error::Api {
            status,
            code,
            message,
            request_id,
        } => Error::Api {
            status: *status,
            code: code.clone(),
            message: message.clone(),
            request_id: request_id.clone(),
        },
        Error::Transport(s) => Error::Transport(s.clone()),
        _ => Error::InvalidResponse(format!("{code}: {msg}")),
    }
}

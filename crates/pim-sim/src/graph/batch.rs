//! Graph JSON batching (`POST /v1.0/$batch`): at most 20 requests with unique
//! (case-insensitive) ids, urls relative to the version root, `dependsOn` ordering
//! (424 when a dependency failed), per-item faults, and responses in shuffled order.

use std::sync::Arc;

use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use crate::faults::{self, Fault, Service};
use crate::graph;
use crate::odata;
use crate::reply::{Body, Ctx, GRAPH_JSON, Reply};
use crate::server::Shared;
use crate::service_errors;
use crate::state::new_guid;
use crate::wire::ApiReq;

/// Maximum requests per batch.
pub const MAX_ITEMS: usize = 20;

struct Item {
    id: String,
    method: String,
    url: String,
    body: Option<Value>,
    depends_on: Vec<String>,
}

fn parse(ctx: &Ctx, body: &[u8]) -> Result<Vec<Item>, Reply> {
    let bad = |m: &str| service_errors::graph(ctx, 400, "BadRequest", m);
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad("Invalid batch payload format."))?;
    let reqs = v
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("Invalid batch payload format."))?;
    if reqs.is_empty() {
        return Err(bad(
            "Invalid batch payload format. The batch must contain at least one request.",
        ));
    }
    if reqs.len() > MAX_ITEMS {
        return Err(bad(&format!(
            "Number of batch requests exceeds the limit of {MAX_ITEMS}."
        )));
    }
    let mut items: Vec<Item> = Vec::new();
    for r in reqs {
        let id = match r.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(bad(
                    "Invalid batch payload format. Each request requires an 'id'.",
                ));
            }
        };
        if items.iter().any(|i| i.id.eq_ignore_ascii_case(&id)) {
            return Err(bad(&format!(
                "Request Id '{id}' is duplicated. Batch request ids must be unique."
            )));
        }
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                bad(&format!(
                    "Invalid batch payload format. Request '{id}' requires a 'method'."
                ))
            })?
            .to_ascii_uppercase();
        let url = r
            .get("url")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                bad(&format!(
                    "Invalid batch payload format. Request '{id}' requires a 'url'."
                ))
            })?
            .to_owned();
        let body = r.get("body").filter(|b| !b.is_null()).cloned();
        if body.is_some() {
            let has_ct = r
                .get("headers")
                .and_then(Value::as_object)
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
            if !has_ct {
                return Err(bad(&format!(
                    "Invalid batch payload format. Request '{id}' has a body but no Content-Type header."
                )));
            }
        }
        let depends_on = match r.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str().map(str::to_owned).ok_or_else(|| {
                        bad("Invalid batch payload format. 'dependsOn' must list request ids.")
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(bad(
                    "Invalid batch payload format. 'dependsOn' must be an array.",
                ));
            }
        };
        items.push(Item {
            id,
            method,
            url,
            body,
            depends_on,
        });
    }
    for i in &items {
        for d in &i.depends_on {
            if d.eq_ignore_ascii_case(&i.id) || !items.iter().any(|x| x.id.eq_ignore_ascii_case(d))
            {
                return Err(bad(&format!(
                    "Request '{}' depends on '{d}', which is not in the batch.",
                    i.id
                )));
            }
        }
    }
    Ok(items)
}

fn item_json(id: &str, r: &Reply) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.clone(), json!(v));
    }
    let mut o = Map::new();
    o.insert("id".into(), json!(id));
    o.insert("status".into(), json!(r.status));
    match &r.body {
        Body::Json(v, ct) => {
            headers.insert("Content-Type".into(), json!(ct));
            o.insert("headers".into(), Value::Object(headers));
            o.insert("body".into(), v.clone());
        }
        Body::Text(t, ct) => {
            headers.insert("Content-Type".into(), json!(ct));
            o.insert("headers".into(), Value::Object(headers));
            o.insert("body".into(), json!(t));
        }
        Body::Empty => {
            o.insert("headers".into(), Value::Object(headers));
        }
    }
    Value::Object(o)
}

/// Runs a batch; returns the reply and the number of items (for the request log).
pub async fn handle(
    sh: &Arc<Shared>,
    ctx: &Ctx,
    auth: Option<&str>,
    body: &[u8],
) -> (Reply, Option<usize>) {
    let items = match parse(ctx, body) {
        Ok(i) => i,
        Err(r) => return (r, None),
    };
    let n = items.len();
    let mut results: Vec<Option<Reply>> = vec![None; n];
    let mut progress = true;
    while progress && results.iter().any(Option::is_none) {
        progress = false;
        for idx in 0..n {
            if results[idx].is_some() {
                continue;
            }
            let it = &items[idx];
            let deps: Vec<usize> = it
                .depends_on
                .iter()
                .filter_map(|d| items.iter().position(|x| x.id.eq_ignore_ascii_case(d)))
                .collect();
            if deps.iter().any(|d| results[*d].is_none()) {
                continue;
            }
            progress = true;
            if deps.iter().any(|d| {
                results[*d]
                    .as_ref()
                    .is_some_and(|r| !(200..300).contains(&r.status))
            }) {
                results[idx] = Some(service_errors::graph(
                    ctx,
                    424,
                    "FailedDependency",
                    "The request could not be completed because a dependency failed.",
                ));
                continue;
            }
            results[idx] = Some(run_item(sh, ctx, auth, it).await);
        }
    }
    // dependency cycles: whatever is left fails
    for r in results.iter_mut().filter(|r| r.is_none()) {
        *r = Some(service_errors::graph(
            ctx,
            424,
            "FailedDependency",
            "The request could not be completed because of a dependency cycle.",
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rng());
    if n > 1 && order.iter().enumerate().all(|(i, x)| i == *x) {
        order.rotate_left(1);
    }
    let responses: Vec<Value> = order
        .into_iter()
        .filter_map(|i| results[i].as_ref().map(|r| item_json(&items[i].id, r)))
        .collect();
    (
        Reply::json(200, json!({"responses": responses}), GRAPH_JSON),
        Some(n),
    )
}

async fn run_item(sh: &Arc<Shared>, outer: &Ctx, auth: Option<&str>, it: &Item) -> Reply {
    let url = it.url.trim();
    let rel = if let Some(pos) = url.find("/v1.0/").filter(|_| url.starts_with("http")) {
        &url[pos + "/v1.0".len()..]
    } else {
        url
    };
    let rel = if rel.starts_with('/') {
        rel.to_owned()
    } else {
        format!("/{rel}")
    };
    let (raw_path, raw_query) = rel.split_once('?').unwrap_or((&rel, ""));
    let path = odata::decode(raw_path);
    let ctx = Ctx {
        request_id: new_guid(),
        ..outer.clone()
    };
    let target = format!("/v1.0{raw_path}?{raw_query}");
    let fault = {
        let mut st = sh.lock();
        faults::take_where(&mut st.faults, &it.method, &target, |f| {
            matches!(
                f,
                Fault::Status { .. } | Fault::ClaimsChallenge { .. } | Fault::Delay { .. }
            )
        })
    };
    if let Some(f) = &fault {
        if let Fault::Delay { ms } = f {
            tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
        } else if let Some(r) = faults::reply(f, Service::Graph, &ctx) {
            return with_ids(r, &ctx);
        }
    }
    let body = it.body.as_ref().map(|b| b.to_string()).unwrap_or_default();
    let req = ApiReq {
        method: &it.method,
        path: &path,
        raw_path,
        raw_query,
        auth,
        body: body.as_bytes(),
        version: "v1.0",
    };
    with_ids(graph::dispatch(sh, &ctx, &req), &ctx)
}

fn with_ids(r: Reply, ctx: &Ctx) -> Reply {
    r.header("request-id", ctx.request_id.clone())
        .header("client-request-id", ctx.client_request_id.clone())
}

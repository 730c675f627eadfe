//! HTTP plumbing: the accept loop (hyper over tokio, so a fault can drop a connection
//! without answering), the single axum handler that classifies requests, applies
//! latency and faults, dispatches, records, and stamps `Date` (virtual clock) and the
//! request-id headers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{Request, State as AxState};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::arm;
use crate::authority;
use crate::clock::{Clock, fmt_http_date};
use crate::control::{self, SimControl};
use crate::faults::{self, Fault, Service};
use crate::graph;
use crate::graph::batch;
use crate::odata::{self, Query};
use crate::reply::{self, Body, Ctx, Reply};
use crate::requests;
use crate::service_errors;
use crate::state::{RecordedRequest, State, new_guid};
use crate::wire::ApiReq;

/// The request log keeps at most this many entries (oldest dropped first).
pub const MAX_LOG: usize = 10_000;

/// Shared server state.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    /// Virtual clock.
    pub clock: Clock,
    /// Delay added to every non-control response.
    pub latency: std::time::Duration,
    /// Bound address.
    pub addr: SocketAddr,
}

impl Shared {
    /// New shared state.
    pub fn new(state: State, clock: Clock, latency: std::time::Duration, addr: SocketAddr) -> Self {
        Self {
            state: Mutex::new(state),
            clock,
            latency,
            addr,
        }
    }

    /// Locks the world (recovering from poisoning).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Request extension: the remote address of the connection.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// Marker extension: drop the connection instead of sending this response.
#[derive(Debug, Clone, Copy)]
struct ResetConnection;

#[derive(Debug)]
struct ResetError;

impl std::fmt::Display for ResetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for ResetError {}

/// Serves until `shutdown` fires (or its sender is dropped).
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let router = Router::new().fallback(handler).with_state(shared);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            acc = listener.accept() => {
                let Ok((stream, peer)) = acc else { continue };
                let router = router.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                        let mut router = router.clone();
                        req.extensions_mut().insert(Peer(peer));
                        async move {
                            let resp = match tower::Service::call(&mut router, req.map(AxumBody::new)).await {
                                Ok(r) => r,
                                Err(never) => match never {},
                            };
                            if resp.extensions().get::<ResetConnection>().is_some() {
                                Err(ResetError)
                            } else {
                                Ok(resp)
                            }
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Graph,
    Arm,
    Authority,
    Control,
    Unknown,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Graph => "graph",
            Resource::Arm => "arm",
            Resource::Authority => "authority",
            Resource::Control => "control",
            Resource::Unknown => "unknown",
        }
    }
}

fn classify(path: &str) -> Resource {
    let lower = path.to_ascii_lowercase();
    let segs: Vec<&str> = lower.trim_start_matches('/').split('/').collect();
    if lower.starts_with("/_sim/") || lower == "/_sim" {
        Resource::Control
    } else if graph_version(&lower).is_some() {
        Resource::Graph
    } else if lower.starts_with("/providers/")
        || lower.starts_with("/subscriptions")
        || lower == "/tenants"
    {
        Resource::Arm
    } else if segs.get(1..3) == Some(&["oauth2", "v2.0"][..])
        || lower == "/devicelogin"
        || lower.ends_with("/v2.0/.well-known/openid-configuration")
    {
        Resource::Authority
    } else {
        Resource::Unknown
    }
}

/// The Graph version a path (lower case) starts with: `/v1.0` or `/beta`.
fn graph_version(lower: &str) -> Option<&'static str> {
    ["v1.0", "beta"].into_iter().find(|v| {
        lower
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(v))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handler(AxState(sh): AxState<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 8 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let method = parts.method.as_str().to_ascii_uppercase();
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let headers = parts.headers;
    let host = header(&headers, "host")
        .map(str::to_owned)
        .unwrap_or_else(|| sh.addr.to_string());
    let base = format!("http://{host}");
    let resource = classify(&raw_path);
    let path = odata::decode(&raw_path.replace('+', "%2B"));
    let request_id = new_guid();
    let client_request_id = match resource {
        Resource::Arm => header(&headers, "x-ms-client-request-id"),
        _ => header(&headers, "client-request-id"),
    }
    .map(str::to_owned)
    .unwrap_or_else(|| request_id.clone());
    let now = sh.clock.now();
    requests::tick(&mut sh.lock(), now);
    let ctx = Ctx {
        base,
        now,
        request_id,
        client_request_id,
    };

    let svc = match resource {
        Resource::Arm => Service::Arm,
        Resource::Authority => Service::Authority,
        _ => Service::Graph,
    };
    let mut after: Option<Fault> = None;
    let mut early: Option<Reply> = None;
    if resource != Resource::Control {
        if !sh.latency.is_zero() {
            tokio::time::sleep(sh.latency).await;
        }
        let target = format!("{raw_path}?{raw_query}");
        let fault = {
            let mut st = sh.lock();
            faults::take(&mut st.faults, &method, &target)
        };
        match fault {
            Some(Fault::Delay { ms }) => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await
            }
            Some(Fault::Reset) => {
                let mut r = Reply::empty(0);
                r.reset = true;
                early = Some(r);
            }
            Some(Fault::After { then }) => after = Some(*then),
            Some(f) => early = faults::reply(&f, svc, &ctx),
            None => {}
        }
    }

    let mut batch_items = None;
    let mut reply = match early {
        Some(r) => r,
        None => {
            let auth = header(&headers, "authorization");
            match resource {
                Resource::Control
                    if !parts
                        .extensions
                        .get::<Peer>()
                        .is_some_and(|p| p.0.ip().is_loopback()) =>
                {
                    Reply::json(
                        403,
                        serde_json::json!({"error": "the control API is available from loopback only"}),
                        reply::JSON,
                    )
                }
                Resource::Control => {
                    let segs: Vec<&str> = path
                        .trim_start_matches("/_sim")
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .collect();
                    control::handle(&SimControl { shared: sh.clone() }, &method, &segs, &bytes)
                }
                Resource::Graph => {
                    let version = graph_version(&raw_path.to_ascii_lowercase()).unwrap_or("v1.0");
                    let rel = &path[version.len() + 1..];
                    let raw_rel = &raw_path[version.len() + 1..];
                    if rel.eq_ignore_ascii_case("/$batch") && method == "POST" && version == "v1.0"
                    {
                        let (r, n) = batch::handle(&sh, &ctx, auth, &bytes).await;
                        batch_items = n;
                        r
                    } else {
                        let req = ApiReq {
                            method: &method,
                            path: if rel.is_empty() { "/" } else { rel },
                            raw_path: raw_rel,
                            raw_query: &raw_query,
                            auth,
                            body: &bytes,
                            version,
                        };
                        graph::dispatch(&sh, &ctx, &req)
                    }
                }
                Resource::Arm => arm::dispatch(
                    &sh,
                    &ctx,
                    &ApiReq {
                        method: &method,
                        path: &path,
                        raw_path: &raw_path,
                        raw_query: &raw_query,
                        auth,
                        body: &bytes,
                        version: "",
                    },
                ),
                Resource::Authority => {
                    let q = Query::parse(&raw_query);
                    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                    if path.eq_ignore_ascii_case("/devicelogin") {
                        authority::devicelogin(&sh, &q)
                    } else if path.ends_with("/.well-known/openid-configuration") {
                        authority::openid_configuration(&ctx, segs[0])
                    } else {
                        authority::handle(
                            &sh,
                            &ctx,
                            &method,
                            segs[0],
                            &segs[3..].join("/"),
                            &q,
                            &bytes,
                        )
                    }
                }
                Resource::Unknown => service_errors::graph(
                    &ctx,
                    404,
                    "NotFound",
                    &format!("No simulated endpoint for '{raw_path}'."),
                ),
            }
        }
    };
    if let Some(then) = after {
        match then {
            Fault::Reset => reply.reset = true,
            f => {
                if let Some(r) = faults::reply(&f, svc, &ctx) {
                    reply = r;
                }
            }
        }
    }

    if !(resource == Resource::Control
        && path
            .trim_end_matches('/')
            .eq_ignore_ascii_case("/_sim/requests"))
    {
        let mut st = sh.lock();
        if st.log.len() >= MAX_LOG {
            st.log.drain(..MAX_LOG / 10);
        }
        st.log.push(RecordedRequest {
            method: method.clone(),
            path: raw_path.clone(),
            query: raw_query.clone(),
            status: if reply.reset { 0 } else { reply.status },
            resource: resource.name().into(),
            batch_items,
        });
    }
    to_response(reply, resource, &ctx, &headers)
}

fn to_response(reply: Reply, resource: Resource, ctx: &Ctx, req_headers: &HeaderMap) -> Response {
    let mut resp = Response::new(match &reply.body {
        Body::Empty => AxumBody::empty(),
        Body::Json(v, _) => AxumBody::from(v.to_string()),
        Body::Text(t, _) => AxumBody::from(t.clone()),
    });
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if reply.reset {
        resp.extensions_mut().insert(ResetConnection);
    }
    let h = resp.headers_mut();
    let mut put = |k: &str, v: &str| {
        if let (Ok(name), Ok(val)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.append(name, val);
        }
    };
    match &reply.body {
        Body::Json(_, ct) | Body::Text(_, ct) => put("content-type", ct),
        Body::Empty => {}
    }
    put("date", &fmt_http_date(ctx.now));
    match resource {
        Resource::Graph | Resource::Unknown => {
            put("request-id", &ctx.request_id);
            put("client-request-id", &ctx.client_request_id);
            put(
                "x-ms-ags-diagnostic",
                r#"{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"pim-sim"}}"#,
            );
            put("odata-version", "4.0");
            put("cache-control", "no-cache");
        }
        Resource::Arm => {
            put("x-ms-request-id", &ctx.request_id);
            let corr = header(req_headers, "x-ms-correlation-request-id")
                .unwrap_or(&ctx.request_id)
                .to_owned();
            put("x-ms-correlation-request-id", &corr);
            if let Some(c) = header(req_headers, "x-ms-client-request-id") {
                put("x-ms-client-request-id", c);
            }
            put("x-ms-ratelimit-remaining-tenant-reads", "11999");
            put("cache-control", "no-cache");
        }
        Resource::Authority => {
            put("x-ms-request-id", &ctx.request_id);
            put("client-request-id", &ctx.client_request_id);
        }
        Resource::Control => {}
    }
    for (k, v) in &reply.headers {
        put(k, v);
    }
    resp
}

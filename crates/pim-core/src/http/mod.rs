//! The one place that talks HTTP: tokens, request ids, retries (429/503/504 with
//! `Retry-After`, bounded, reads only — plus 429 for writes, which the service did not
//! process), 401 handling (refresh once; claims challenges become step-up), the server clock,
//! and the error envelope (A.10.1, including the double-wrapped `UnknownError`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderMap};
use serde_json::Value;

use crate::clock::ServerTime;
use crate::config::Endpoints;
use crate::error::Error;
use crate::token::{Resource, TokenRequest, TokenSource};
use crate::wire::Page;

mod errors;
pub use errors::{ApiError, MFA_CLAIMS, claims_from_message, insufficient_claims, parse_rules};

/// Retry limits for throttling and transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Longest single wait; a longer `Retry-After` is capped to this.
    pub max_wait: Duration,
    /// First backoff step when the service gives no `Retry-After` (doubles, with jitter).
    pub base_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            max_wait: Duration::from_secs(60),
            base_backoff: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Backoff before retry number `attempt` (1-based): base·2^(attempt-1) + up to 25 % jitter,
    /// capped at `max_wait`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let jitter = exp.mul_f64(rand::random::<f64>() * 0.25);
        exp.saturating_add(jitter).min(self.max_wait)
    }
}

/// Longest `Retry-After` taken as given; longer values are capped (callers cap waits further
/// with [`RetryPolicy::max_wait`]), so adding it to an `Instant` or a date cannot overflow.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` in seconds (decimal allowed), rounded up, at most [`MAX_RETRY_AFTER`].
/// HTTP-date values are ignored.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let f: f64 = v.trim().parse().ok()?;
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    // Capped as f64 first: the cast then never saturates.
    let max = MAX_RETRY_AFTER.as_secs() as f64;
    Some(Duration::from_secs(f.ceil().min(max) as u64))
}

/// Largest response body read from the token endpoint, Graph or ARM: 16 MiB, far above any
/// real answer (a full page of schedule instances is well under 1 MiB), small enough that a
/// broken or hostile server cannot exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Why a response body could not be read ([`read_body`]).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit (announced by `Content-Length`, or as read).
    #[error("the answer is larger than {} MiB", limit / (1024 * 1024))]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error("{0}")]
    Transport(#[from] reqwest::Error),
}

/// Reads a response body chunk by chunk, refusing more than `limit` bytes: memory stays
/// bounded whatever the server announces or sends.
pub async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).ok().is_none_or(|n| n > limit))
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await? {
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// One HTTP call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    pub url: String,
    pub tenant: String,
    pub resource: Resource,
    pub body: Option<Value>,
    /// Safe to repeat (GETs, and ARM PUTs with a client-chosen name).
    pub idempotent: bool,
    /// Claims to ask the token source for (after a step-up).
    pub claims: Option<String>,
}

impl Call {
    pub fn get(tenant: &str, resource: Resource, url: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            url: url.into(),
            tenant: tenant.to_owned(),
            resource,
            body: None,
            idempotent: true,
            claims: None,
        }
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
#[allow(dead_code)] // status and headers are for callers that need them
pub(crate) struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Resp {
    pub fn json(&self) -> Result<Value, Error> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::InvalidResponse(format!("body is not JSON: {e}")))
    }
}

/// Why a call failed, and whether the service may have acted on it anyway.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request certainly did not take effect (or it was a read).
    Definite(Error),
    /// A write whose outcome is unknown (timeout, reset, 5xx): reconcile before retrying.
    Uncertain(Error),
}

impl Failure {
    pub fn into_error(self) -> Error {
        match self {
            Failure::Definite(e) | Failure::Uncertain(e) => e,
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        f.into_error()
    }
}

/// A reqwest client suitable for the session (no redirects, connect timeout 30 s).
pub fn default_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .user_agent(concat!("pim-tray/", env!("CARGO_PKG_VERSION")))
        .build()
        // Only the TLS backend or the system proxy settings can make `build` fail, and
        // `Client::default` sets them up the same way: it never hands out a client that
        // follows redirects in place of this one.
        .unwrap_or_default()
}

/// The HTTP client shared by the Graph and ARM clients.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub tokens: Arc<dyn TokenSource>,
    pub endpoints: Endpoints,
    pub time: Arc<ServerTime>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    /// Answers 401 claims challenges (CAE) on any call, reads included.
    pub step_up: Option<Arc<dyn crate::token::StepUpHook>>,
}

impl Http {
    pub(crate) fn scope(&self, r: Resource) -> String {
        match r {
            Resource::Graph => self.endpoints.graph_scope.clone(),
            Resource::Arm => self.endpoints.arm_scope.clone(),
        }
    }

    /// The endpoint whose origin `resource`'s token is issued for.
    fn endpoint(&self, resource: Resource) -> &url::Url {
        match resource {
            Resource::Graph => &self.endpoints.graph,
            Resource::Arm => &self.endpoints.arm,
        }
    }

    /// `url` parsed, when it is on the origin (scheme, host, port) of `resource`'s endpoint and
    /// carries no user name or password: the only place a token for `resource` may go. Any
    /// other URL (a next link or an id from a response naming another site, plain `http`, a
    /// host changed by an `@` or a `.`) is the server's error, named in an
    /// [`Error::InvalidResponse`].
    pub(crate) fn pinned(&self, resource: Resource, url: &str) -> Result<url::Url, Error> {
        let refuse = || {
            tracing::warn!(link = %shown(url), %resource, "refusing a link outside the service's origin");
            Error::InvalidResponse(format!(
                "the service sent a link outside {} ({}), which was not followed: {}",
                resource,
                self.endpoint(resource).origin().ascii_serialization(),
                shown(url)
            ))
        };
        let parsed = url::Url::parse(url).map_err(|_| refuse())?;
        if parsed.origin() != self.endpoint(resource).origin()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(refuse());
        }
        Ok(parsed)
    }

    /// Sends a call with retries; returns a 2xx response or a classified failure. Nothing is
    /// sent (and no token is asked for) when the URL is outside the resource's origin.
    pub async fn call(&self, c: &Call) -> Result<Resp, Failure> {
        let target = self.pinned(c.resource, &c.url).map_err(Failure::Definite)?;
        let mut attempt: u32 = 0;
        let mut force_refresh = false;
        let mut challenge: Option<String> = None;
        loop {
            let token = self
                .tokens
                .access_token(&TokenRequest {
                    tenant_id: c.tenant.clone(),
                    resource: c.resource,
                    scope: self.scope(c.resource),
                    claims: challenge.clone().or_else(|| c.claims.clone()),
                    force_refresh,
                })
                .await
                .map_err(|e| match (&challenge, e) {
                    // The step-up was needed and did not complete.
                    (Some(claims), Error::SignInRequired { .. }) => {
                        Failure::Definite(Error::StepUpRequired {
                            resource: c.resource,
                            claims: claims.clone(),
                        })
                    }
                    (_, e) => Failure::Definite(e),
                })?;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let mut rb = self
                .client
                .request(c.method.clone(), target.clone())
                .bearer_auth(token.token.expose())
                .header(ACCEPT, "application/json")
                .timeout(self.timeout);
            rb = match c.resource {
                Resource::Graph => rb
                    .header("client-request-id", &client_request_id)
                    .header("return-client-request-id", "true"),
                Resource::Arm => rb.header("x-ms-client-request-id", &client_request_id),
            };
            if let Some(b) = &c.body {
                rb = rb.json(b);
            } else if c.method != Method::GET {
                rb = rb.body(Vec::<u8>::new());
            }
            tracing::debug!(method = %c.method, url = %c.url, %client_request_id, "request");
            let result = rb.send().await;
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    let not_sent = e.is_connect();
                    let safe = c.idempotent || not_sent;
                    if safe && attempt < self.retry.max_retries {
                        attempt += 1;
                        let wait = self.retry.backoff(attempt);
                        tracing::info!(url = %c.url, error = %e, ?wait, "transport error; retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let err = Error::Transport(describe_reqwest(&e));
                    tracing::warn!(url = %c.url, %client_request_id, error = %err, "request failed");
                    return Err(if safe {
                        Failure::Definite(err)
                    } else {
                        Failure::Uncertain(err)
                    });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            if let Some(d) = headers.get("date").and_then(|v| v.to_str().ok()) {
                self.time.observe_header(d);
            }
            let body = match read_body(resp, MAX_RESPONSE_BYTES).await {
                Ok(b) => b,
                Err(e) => {
                    let err = match &e {
                        BodyError::Transport(e) => Error::Transport(describe_reqwest(e)),
                        BodyError::TooLarge { .. } => {
                            tracing::warn!(url = %c.url, status, %client_request_id, "response too large");
                            Error::InvalidResponse(format!("{e} (HTTP {status})"))
                        }
                    };
                    // A write may have been carried out even though its answer is unreadable.
                    return Err(if c.idempotent {
                        Failure::Definite(err)
                    } else {
                        Failure::Uncertain(err)
                    });
                }
            };
            if (200..300).contains(&status) {
                return Ok(Resp {
                    status,
                    headers,
                    body,
                });
            }
            let request_id = header_str(&headers, "request-id")
                .or_else(|| header_str(&headers, "x-ms-request-id"));
            if status == 401 {
                if let Some(claims) = insufficient_claims(&headers) {
                    // A 401 was not processed: retrying after the step-up is safe.
                    if challenge.is_none()
                        && let Some(hook) = &self.step_up
                    {
                        tracing::info!(url = %c.url, "claims challenge: stepping up");
                        hook.step_up(&c.tenant, c.resource, &claims)
                            .await
                            .map_err(Failure::Definite)?;
                        challenge = Some(claims);
                        continue;
                    }
                    return Err(Failure::Definite(Error::StepUpRequired {
                        resource: c.resource,
                        claims,
                    }));
                }
                if !force_refresh {
                    force_refresh = true;
                    tracing::info!(url = %c.url, "401: refreshing the access token and retrying once");
                    continue;
                }
                let api = ApiError::parse(status, &body, request_id);
                return Err(Failure::Definite(Error::SignInRequired {
                    reason: format!(
                        "{} rejected the access token ({}: {})",
                        c.resource, api.code, api.message
                    ),
                }));
            }
            let throttled = status == 429 || status == 503 || status == 504;
            if throttled {
                let retry_after = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let may_retry = status == 429 || c.idempotent;
                if may_retry && attempt < self.retry.max_retries {
                    attempt += 1;
                    let wait = retry_after
                        .unwrap_or_else(|| self.retry.backoff(attempt))
                        .min(self.retry.max_wait);
                    tracing::info!(url = %c.url, status, ?wait, attempt, "throttled; waiting before retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                if status == 429 {
                    return Err(Failure::Definite(Error::Throttled { retry_after }));
                }
            }
            let api = ApiError::parse(status, &body, request_id.clone());
            tracing::warn!(
                url = %c.url, status, code = %api.code,
                request_id = request_id.as_deref().unwrap_or("-"),
                %client_request_id, "service returned an error"
            );
            let err = api.into_error(c.resource);
            return Err(if status >= 500 && !c.idempotent {
                Failure::Uncertain(err)
            } else {
                Failure::Definite(err)
            });
        }
    }

    /// A next link as given when absolute (any scheme: [`Http::call`] refuses links outside
    /// the service's origin); a relative one is resolved against the service's base URL
    /// (defensive: the contract promises absolute links).
    fn absolute(&self, resource: Resource, link: &str) -> String {
        let link = link.trim();
        if url::Url::parse(link).is_ok() {
            return link.to_owned();
        }
        let b = self.endpoint(resource).as_str().trim_end_matches('/');
        if link.starts_with('/') {
            if resource == Resource::Graph
                && !link.starts_with("/v1.0")
                && !link.starts_with("/beta")
            {
                format!("{b}/v1.0{link}")
            } else {
                format!("{b}{link}")
            }
        } else {
            format!("{b}/{link}")
        }
    }

    /// GET a JSON document.
    pub async fn get_json(
        &self,
        tenant: &str,
        resource: Resource,
        url: &str,
    ) -> Result<Value, Error> {
        let r = self.call(&Call::get(tenant, resource, url)).await?;
        r.json()
    }

    /// GET a collection and follow `@odata.nextLink` / `nextLink` verbatim to the end (at
    /// most [`PageLimits::default`]).
    pub async fn get_all(
        &self,
        tenant: &str,
        resource: Resource,
        url: &str,
    ) -> Result<Vec<Value>, Error> {
        let first = self.call(&Call::get(tenant, resource, url)).await?;
        let mut budget = PageBudget::new(PageLimits::default());
        budget.take(first.body.len())?;
        self.follow(tenant, resource, first.json()?, budget).await
    }

    /// Given a first page, follows its next links and returns all items (at most
    /// [`PageLimits::default`]).
    pub async fn follow_pages(
        &self,
        tenant: &str,
        resource: Resource,
        first: Value,
    ) -> Result<Vec<Value>, Error> {
        self.follow_pages_within(tenant, resource, first, PageLimits::default())
            .await
    }

    /// [`Http::follow_pages`] with explicit limits.
    pub async fn follow_pages_within(
        &self,
        tenant: &str,
        resource: Resource,
        first: Value,
        limits: PageLimits,
    ) -> Result<Vec<Value>, Error> {
        let mut budget = PageBudget::new(limits);
        budget.take(0)?;
        self.follow(tenant, resource, first, budget).await
    }

    async fn follow(
        &self,
        tenant: &str,
        resource: Resource,
        first: Value,
        mut budget: PageBudget,
    ) -> Result<Vec<Value>, Error> {
        let mut page: Page = serde_json::from_value(first)
            .map_err(|e| Error::InvalidResponse(format!("not a collection: {e}")))?;
        let mut items = std::mem::take(&mut page.value);
        let mut seen = std::collections::HashSet::new();
        let mut next = page.next().map(str::to_owned);
        while let Some(link) = next {
            if !seen.insert(link.clone()) {
                return Err(Error::InvalidResponse(
                    "the service returned a paging loop".into(),
                ));
            }
            let url = self.absolute(resource, &link);
            let r = self.call(&Call::get(tenant, resource, url)).await?;
            budget.take(r.body.len())?;
            let mut p: Page = serde_json::from_value(r.json()?)
                .map_err(|e| Error::InvalidResponse(format!("not a collection: {e}")))?;
            items.append(&mut p.value);
            next = p.next().map(str::to_owned);
        }
        Ok(items)
    }
}

/// Most pages and bytes one collection may take (all its pages together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// Pages, the first one included.
    pub pages: usize,
    /// Body bytes of all pages together.
    pub bytes: usize,
}

impl Default for PageLimits {
    /// 200 pages and 64 MiB: far above any real list (a user's PIM requests fit on a page
    /// or two), small enough that a server that pages forever cannot exhaust memory or time.
    fn default() -> Self {
        PageLimits {
            pages: 200,
            bytes: 64 * 1024 * 1024,
        }
    }
}

/// What a collection has used of its [`PageLimits`].
#[derive(Debug)]
struct PageBudget {
    limits: PageLimits,
    pages: usize,
    bytes: usize,
}

impl PageBudget {
    fn new(limits: PageLimits) -> Self {
        PageBudget {
            limits,
            pages: 0,
            bytes: 0,
        }
    }

    /// Counts one more page of `len` bytes; an error once over a limit.
    fn take(&mut self, len: usize) -> Result<(), Error> {
        self.pages = self.pages.saturating_add(1);
        self.bytes = self.bytes.saturating_add(len);
        if self.pages > self.limits.pages || self.bytes > self.limits.bytes {
            let bytes = match self.limits.bytes {
                b if b >= 1024 * 1024 => format!("{} MiB", b / (1024 * 1024)),
                b => format!("{b} bytes"),
            };
            return Err(Error::InvalidResponse(format!(
                "the list is longer than {} pages or {bytes}; not read to the end",
                self.limits.pages
            )));
        }
        Ok(())
    }
}

/// A link from a response as shown in errors and logs: control characters escaped, at most
/// 200 characters.
fn shown(link: &str) -> String {
    const MAX: usize = 200;
    let mut s: String = link
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if link.chars().nth(MAX).is_some() {
        s.push('…');
    }
    s
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    let mut s = format!("{what}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s + "; check your network and try again"
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::test_server::{TestServer, redirect, response};

    #[derive(Debug)]
    struct StaticTokens;

    #[async_trait::async_trait]
    impl TokenSource for StaticTokens {
        async fn access_token(
            &self,
            _req: &TokenRequest,
        ) -> crate::Result<crate::token::AccessToken> {
            Ok(crate::token::AccessToken {
                token: crate::token::Secret::new("at"),
                expires_on: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            })
        }
    }

    /// An `Http` whose Graph and ARM bases are `base`, with the session's default client.
    pub(crate) fn test_http(base: &str) -> Http {
        let mut e = Endpoints::for_cloud(crate::config::Cloud::Public);
        let url = url::Url::parse(base).unwrap();
        e.authority_host = url.clone();
        e.graph = url.clone();
        e.arm = url;
        Http {
            client: default_client(),
            tokens: Arc::new(StaticTokens),
            endpoints: e,
            time: Arc::new(ServerTime::new(Arc::new(crate::clock::SystemClock))),
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
            timeout: Duration::from_secs(30),
            step_up: None,
        }
    }

    #[tokio::test]
    async fn oversize_bodies_are_refused() {
        let big = vec![b' '; 16 * 1024 * 1024 + 1];
        let server = TestServer::start(move |_, path| match path {
            "/streamed" => response(200, &big, false),
            "/announced" => response(200, &big, true),
            "/error" => response(500, &big, false),
            _ => response(200, br#"{"value":[]}"#, true),
        })
        .await;
        let http = test_http(&server.base);
        for path in ["/streamed", "/announced", "/error"] {
            let url = format!("{}{path}", server.base);
            let err = match http.call(&Call::get("t", Resource::Graph, url)).await {
                Ok(r) => panic!("{path}: read {} bytes", r.body.len()),
                Err(f) => f.into_error(),
            };
            assert!(matches!(err, Error::InvalidResponse(_)), "{path}: {err:?}");
            assert!(err.to_string().contains("16 MiB"), "{path}: {err}");
        }
        // A write whose answer is too big may still have been carried out.
        let mut write = Call::get("t", Resource::Graph, format!("{}/streamed", server.base));
        write.method = Method::POST;
        write.idempotent = false;
        assert!(matches!(
            http.call(&write).await,
            Err(Failure::Uncertain(Error::InvalidResponse(_)))
        ));
        let ok = http
            .get_json("t", Resource::Graph, &format!("{}/small", server.base))
            .await
            .unwrap();
        assert_eq!(ok["value"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn redirects_are_not_followed_with_the_token() {
        let elsewhere = TestServer::start(|_, _| response(200, b"{}", true)).await;
        let to = format!("{}/stolen", elsewhere.base);
        let server = TestServer::start(move |_, _| redirect(&to)).await;
        let http = test_http(&server.base);
        let err = http
            .get_json("t", Resource::Arm, &format!("{}/tenants", server.base))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Api { status: 302, .. }), "{err:?}");
        assert_eq!(elsewhere.hits(), 0, "the redirect was followed");
    }

    /// A server whose `/first/{i}` answers a page whose next link is `links[i]` (set once the
    /// server's own base is known), and whose other paths answer an empty last page.
    async fn pager(links: impl Fn(&str) -> Vec<String>) -> (TestServer, Vec<String>) {
        let set = Arc::new(std::sync::OnceLock::<Vec<String>>::new());
        let served = set.clone();
        let server = TestServer::start(move |_, path| {
            let link = path
                .strip_prefix("/first/")
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| served.get()?.get(i).cloned());
            match link {
                Some(l) => {
                    let body =
                        serde_json::json!({"value": [1], "nextLink": l, "@odata.nextLink": l});
                    response(200, body.to_string().as_bytes(), true)
                }
                None => response(200, br#"{"value":[2]}"#, true),
            }
        })
        .await;
        let links = links(&server.base);
        set.set(links.clone()).unwrap();
        (server, links)
    }

    #[tokio::test]
    async fn next_links_outside_the_origin_get_no_token() {
        let elsewhere = TestServer::start(|_, _| response(200, br#"{"value":[]}"#, true)).await;
        let other = elsewhere.base.clone();
        let (home, links) = pager(|home| {
            let port = home.rsplit(':').next().unwrap().to_owned();
            let other_port = other.rsplit(':').next().unwrap().to_owned();
            vec![
                format!("{other}/page2"),
                format!("{}/page2", other.to_uppercase()),
                format!("https://127.0.0.1:{port}/page2"),
                format!("http://127.0.0.1:{port}@127.0.0.1:{other_port}/page2"),
                format!("http://user@127.0.0.1:{port}/page2"),
                "ftp://127.0.0.1/page2".to_owned(),
            ]
        })
        .await;
        let http = test_http(&home.base);
        for resource in [Resource::Graph, Resource::Arm] {
            for (i, link) in links.iter().enumerate() {
                let url = format!("{}/first/{i}", home.base);
                let err = http.get_all("t", resource, &url).await.unwrap_err();
                assert!(
                    matches!(&err, Error::InvalidResponse(m) if m.contains(link.as_str())),
                    "{resource} {link}: {err:?}"
                );
            }
        }
        assert_eq!(elsewhere.hits(), 0, "a link to another origin was followed");
    }

    #[tokio::test]
    async fn next_links_on_the_origin_are_followed() {
        let (home, _) = pager(|home| {
            vec![
                format!("{home}/page2"),
                "/page2".to_owned(),
                "page2".to_owned(),
                "@127.0.0.1:9/page2".to_owned(),
            ]
        })
        .await;
        let http = test_http(&home.base);
        for resource in [Resource::Graph, Resource::Arm] {
            for i in 0..4 {
                let url = format!("{}/first/{i}", home.base);
                let items = http.get_all("t", resource, &url).await.unwrap();
                assert_eq!(items, [serde_json::json!(1), serde_json::json!(2)]);
            }
        }
    }

    #[tokio::test]
    async fn long_lists_are_cut_with_an_error() {
        // Every page links to the next, forever, each about 1 KiB.
        let server = TestServer::start(|_, path| {
            let n: u64 = path
                .strip_prefix("/p/")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let body = serde_json::json!({"value": ["x".repeat(1000)], "nextLink": format!("/p/{}", n + 1)});
            response(200, body.to_string().as_bytes(), true)
        })
        .await;
        let http = test_http(&server.base);
        let first = serde_json::json!({"value": [], "nextLink": "/p/1"});
        let limits = PageLimits {
            pages: 5,
            bytes: 1024 * 1024,
        };
        let err = http
            .follow_pages_within("t", Resource::Arm, first.clone(), limits)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidResponse(m) if m.contains("5 pages")),
            "{err:?}"
        );
        let limits = PageLimits {
            pages: 1000,
            bytes: 4096,
        };
        let err = http
            .follow_pages_within("t", Resource::Arm, first, limits)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidResponse(m) if m.contains("4096 bytes")),
            "{err:?}"
        );
        // The default limit ends an endless list too.
        let err = http
            .get_all("t", Resource::Arm, &format!("{}/p/1", server.base))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidResponse(m) if m.contains("200 pages")),
            "{err:?}"
        );
    }

    #[test]
    fn retry_after_is_fractional_and_rounded_up() {
        assert_eq!(parse_retry_after("2.128"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0"), Some(Duration::from_secs(0)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn huge_retry_after_is_capped() {
        assert_eq!(parse_retry_after("1e300"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("18446744073709551616"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("86399.5"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(parse_retry_after("inf"), None);
        assert_eq!(parse_retry_after("NaN"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = RetryPolicy::default();
        assert!(r.backoff(1) >= Duration::from_secs(1) && r.backoff(1) < Duration::from_secs(2));
        assert!(r.backoff(3) >= Duration::from_secs(4));
        assert_eq!(r.backoff(30), Duration::from_secs(60));
    }
}

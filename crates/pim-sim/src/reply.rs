//! The response before it becomes HTTP ([`Reply`], also a `$batch` item), the
//! request-scoped facts every response needs ([`Ctx`]) and the services' content types.

use serde_json::Value;
use time::OffsetDateTime;

/// Graph `Content-Type`.
pub const GRAPH_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
/// ARM `Content-Type`.
pub const ARM_JSON: &str = "application/json; charset=utf-8";
/// Plain JSON (authority, control).
pub const JSON: &str = "application/json; charset=utf-8";

/// Request-scoped facts every response needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// Virtual now.
    pub now: OffsetDateTime,
    /// Response `request-id` / `x-ms-request-id`.
    pub request_id: String,
    /// Echoed `client-request-id` (or the request id).
    pub client_request_id: String,
}

/// A response body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    Empty,
    /// JSON with a content type.
    Json(Value, &'static str),
    /// Text with a content type.
    Text(String, &'static str),
}

/// A response before it is turned into HTTP (also used for `$batch` items).
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
    /// Drop the connection instead of answering.
    pub reset: bool,
}

impl Reply {
    /// JSON reply.
    pub fn json(status: u16, v: Value, ct: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Json(v, ct),
            reset: false,
        }
    }
    /// Empty reply.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            reset: false,
        }
    }
    /// Adds a header.
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_owned(), v.into()));
        self
    }
    /// The JSON body, if any.
    #[cfg(test)]
    pub fn json_body(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(v, _) => Some(v),
            _ => None,
        }
    }
}

//! Unsigned JWT-shaped tokens (`header.payload.` with `{"alg":"none"}`).
//!
//! The simulator issues and reads these; nothing verifies a signature. Tokens are
//! self-contained: every claim the Graph/ARM side needs is inside the payload.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Encodes claims as an unsigned JWT.
pub fn encode(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Decodes the payload of a JWT-shaped token; `None` when it is not one.
pub fn decode(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let _header = parts.next()?;
    let payload = parts.next()?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// Claims of an access token the Graph/ARM side acts on.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    /// Audience.
    pub aud: String,
    /// Tenant id.
    pub tid: String,
    /// Object id of the user in that tenant.
    pub oid: String,
    /// User principal name.
    pub upn: String,
    /// Scopes (Graph) or `user_impersonation` (ARM).
    pub scp: Vec<String>,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Authentication context class references satisfied.
    pub acrs: Vec<String>,
}

impl AccessClaims {
    /// Reads the claims from a decoded payload.
    pub fn from_payload(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let arr = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Self {
            aud: s("aud")?,
            tid: s("tid")?,
            oid: s("oid")?,
            upn: s("upn").unwrap_or_default(),
            scp: s("scp")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            exp: v.get("exp").and_then(Value::as_i64)?,
            amr: arr("amr"),
            acrs: arr("acrs"),
        })
    }

    /// Whether MFA was performed in the session that issued the token.
    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|m| m.eq_ignore_ascii_case("mfa"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c =
            json!({"aud":"a","tid":"t","oid":"o","scp":"User.Read X","exp":5,"amr":["pwd","mfa"]});
        let t = encode(&c);
        assert!(t.ends_with('.'));
        assert_eq!(t.split('.').count(), 3);
        let back = decode(&t).expect("decodes");
        assert_eq!(back, c);
        let claims = AccessClaims::from_payload(&back).expect("claims");
        assert_eq!(claims.scp, vec!["User.Read", "X"]);
        assert!(claims.has_mfa());
        assert!(claims.acrs.is_empty());
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode("not a token").is_none());
        assert!(decode("a.b.c").is_none());
        assert!(decode("").is_none());
    }
}

//! Claims: the claims request every token request carries (client capability `cp1`, merged
//! into a step-up challenge), and the claims read from an ID token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The client-capabilities claims request: declares `cp1` (CAE, claims challenges).
pub const CP1_CLAIMS: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

/// Merges a step-up claims request (JSON) with the `cp1` client capability.
///
/// `{"access_token":{"acrs":{...}}}` becomes
/// `{"access_token":{"acrs":{...},"xms_cc":{"values":["cp1"]}}}`; `cp1` is added to an
/// existing `xms_cc.values`. Fails on claims that are not a JSON object.
pub fn merge_claims(step_up: Option<&str>) -> pim_core::Result<String> {
    use serde_json::{Map, Value, json};
    let mut root = match step_up.map(str::trim).filter(|s| !s.is_empty()) {
        None => return Ok(CP1_CLAIMS.to_owned()),
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(pim_core::Error::InvalidInput(
                    "the claims request is not a JSON object".into(),
                ));
            }
        },
    };
    let at = root
        .entry("access_token")
        .or_insert_with(|| Value::Object(Map::new()));
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    if let Value::Object(at) = at {
        let cc = at
            .entry("xms_cc")
            .or_insert_with(|| json!({ "values": [] }));
        if !cc.is_object() {
            *cc = json!({ "values": [] });
        }
        if let Value::Object(cc) = cc {
            let values = cc.entry("values").or_insert_with(|| json!([]));
            if !values.is_array() {
                *values = json!([]);
            }
            if let Value::Array(v) = values
                && !v.iter().any(|x| x == "cp1")
            {
                v.push(json!("cp1"));
            }
        }
    }
    Ok(Value::Object(root).to_string())
}

/// Claims read from an ID token: for display and routing only, never for security decisions
/// (the token came straight from the authority over TLS and is not validated here).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdClaims {
    /// Tenant the sign-in happened in.
    #[serde(default)]
    pub tid: Option<String>,
    /// The user's object id in that tenant.
    #[serde(default)]
    pub oid: Option<String>,
    /// Sign-in name.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// UPN (access tokens).
    #[serde(default)]
    pub upn: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Decodes (does not verify) a JWT's payload.
pub fn decode_jwt_claims<T: serde::de::DeserializeOwned>(jwt: &str) -> Option<T> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('=').as_bytes())
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn cp1_is_merged_into_claims() {
        let v: Value = serde_json::from_str(&merge_claims(None).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"access_token":{"xms_cc":{"values":["cp1"]}}})
        );
        let acrs = r#"{"access_token":{"acrs":{"essential":true, "value":"c1"}}}"#;
        let v: Value = serde_json::from_str(&merge_claims(Some(acrs)).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"access_token":{"acrs":{"essential":true,"value":"c1"},"xms_cc":{"values":["cp1"]}}})
        );
        let both = r#"{"id_token":{"x":1},"access_token":{"xms_cc":{"values":["cp2"]}}}"#;
        let v: Value = serde_json::from_str(&merge_claims(Some(both)).unwrap()).unwrap();
        assert_eq!(
            v["access_token"]["xms_cc"]["values"],
            serde_json::json!(["cp2", "cp1"])
        );
        assert_eq!(v["id_token"]["x"], 1);
        let again = merge_claims(Some(&v.to_string())).unwrap();
        let v2: Value = serde_json::from_str(&again).unwrap();
        assert_eq!(v2, v);
        assert!(merge_claims(Some("[1]")).is_err());
        assert!(merge_claims(Some("not json")).is_err());
    }

    #[test]
    fn jwt_claims_are_decoded() {
        let payload = URL_SAFE_NO_PAD.encode(
            br#"{"tid":"t1","oid":"o1","preferred_username":"adele@contoso.onmicrosoft.com","name":"Adele Vance"}"#,
        );
        let jwt = format!("eyJhbGciOiJub25lIn0.{payload}.");
        let c: IdClaims = decode_jwt_claims(&jwt).unwrap();
        assert_eq!(c.tid.as_deref(), Some("t1"));
        assert_eq!(c.name.as_deref(), Some("Adele Vance"));
        assert!(decode_jwt_claims::<IdClaims>("garbage").is_none());
        // Padded payloads are tolerated.
        let padded = format!("h.{}==.s", URL_SAFE_NO_PAD.encode(br#"{"oid":"o"}"#));
        assert!(decode_jwt_claims::<IdClaims>(&padded).is_some());
    }
}

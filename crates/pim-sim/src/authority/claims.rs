//! Claims requests (`acrs`, `amr: mfa`, `xms_cc: cp1`) and what an interactive sign-in
//! performs for them.

use serde_json::Value;

use crate::state::SignIn;

/// What a claims request asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ClaimsAsk {
    pub(super) acrs: Vec<String>,
    pub(super) mfa: bool,
    pub(super) cp1: bool,
}

fn values(v: Option<&Value>) -> Vec<String> {
    let Some(v) = v else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(s) = v.get("value").and_then(Value::as_str) {
        out.push(s.to_owned());
    }
    if let Some(a) = v.get("values").and_then(Value::as_array) {
        out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    out
}

pub(super) fn parse_claims(s: &str) -> Option<ClaimsAsk> {
    let v: Value = serde_json::from_str(s).ok()?;
    let at = v.get("access_token")?;
    Some(ClaimsAsk {
        acrs: values(at.get("acrs")),
        mfa: values(at.get("amr"))
            .iter()
            .any(|m| m.eq_ignore_ascii_case("mfa")),
        cp1: values(at.get("xms_cc"))
            .iter()
            .any(|m| m.eq_ignore_ascii_case("cp1")),
    })
}

pub(super) fn interactive_signin(ask: &ClaimsAsk, mfa_always: bool) -> SignIn {
    let mut amr = vec!["pwd".to_owned()];
    if mfa_always || ask.mfa || !ask.acrs.is_empty() {
        amr.push("mfa".into());
    }
    SignIn {
        amr,
        acrs: ask.acrs.clone(),
        cp1: ask.cp1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_parsing() {
        let a = parse_claims(r#"{"access_token":{"acrs":{"essential":true, "value":"c1"},"xms_cc":{"values":["cp1"]}}}"#)
            .expect("parses");
        assert_eq!(a.acrs, vec!["c1"]);
        assert!(a.cp1);
        assert!(!a.mfa);
        let a = parse_claims(r#"{"access_token":{"amr":{"values":["mfa"]}}}"#).expect("parses");
        assert!(a.mfa);
        let s = interactive_signin(&a, false);
        assert_eq!(s.amr, vec!["pwd", "mfa"]);
        assert!(parse_claims("nope").is_none());
    }
}

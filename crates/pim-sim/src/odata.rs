//! Just enough OData: query-string parsing, `$filter` (flat `and`/`or` of `eq`
//! comparisons and function calls), `$select`, `$expand` with nested options, and
//! opaque skip tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Decoded query parameters in order, keys lower-cased with `%24` → `$`.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// Percent-decodes (`+` → space).
pub fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k).to_ascii_lowercase(), decode(v))
            })
            .collect();
        Self { pairs }
    }
    /// First value of a key (case-insensitive key).
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Raw query without the given key (keeps the original encoding of the rest).
pub fn raw_without(raw: &str, key: &str) -> String {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let k = p.split_once('=').map(|(k, _)| k).unwrap_or(p);
            !decode(k).eq_ignore_ascii_case(key)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// One comparison or function call in a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `prop eq 'value'` (also `ne`).
    Cmp {
        /// Property path (`a/b`).
        prop: String,
        /// Negated (`ne`).
        ne: bool,
        /// Literal (quotes removed; `null` for the null literal).
        value: Option<String>,
    },
    /// `name(args)`.
    Func {
        /// Function name.
        name: String,
        /// Arguments (quotes removed).
        args: Vec<String>,
    },
}

/// Disjunction of conjunctions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// `or` of `and`s.
    pub any_of: Vec<Vec<Clause>>,
}

fn split_keyword(s: &str, kw: &str) -> Vec<String> {
    // split on ` kw ` outside quotes and parentheses, case-insensitively
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let pat = format!(" {kw} ");
    let mut depth = 0i32;
    let mut inq = false;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        match c {
            '\'' => inq = !inq,
            '(' if !inq => depth += 1,
            ')' if !inq => depth -= 1,
            _ => {}
        }
        if !inq
            && depth == 0
            && s.len() >= i + pat.len()
            && s.is_char_boundary(i)
            && s.is_char_boundary(i + pat.len())
            && s[i..i + pat.len()].eq_ignore_ascii_case(&pat)
        {
            out.push(s[start..i].to_owned());
            i += pat.len();
            start = i;
            continue;
        }
        i += 1;
    }
    out.push(s[start..].to_owned());
    out
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        Some(s[1..s.len() - 1].replace("''", "'"))
    } else {
        None
    }
}

fn strip_parens(s: &str) -> &str {
    let t = s.trim();
    if t.starts_with('(') && t.ends_with(')') {
        // only strip if the parens enclose everything
        let mut depth = 0;
        for (i, c) in t.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 && i != t.len() - 1 {
                        return t;
                    }
                }
                _ => {}
            }
        }
        return strip_parens(&t[1..t.len() - 1]);
    }
    t
}

/// Parses a `$filter` expression; `None` when malformed.
pub fn parse_filter(s: &str) -> Option<Filter> {
    let mut any_of = Vec::new();
    for disj in split_keyword(strip_parens(s), "or") {
        let mut all = Vec::new();
        for part in split_keyword(strip_parens(&disj), "and") {
            all.push(parse_clause(strip_parens(&part))?);
        }
        any_of.push(all);
    }
    Some(Filter { any_of })
}

fn parse_clause(s: &str) -> Option<Clause> {
    let s = s.trim();
    let parts = split_keyword(s, "eq");
    let (parts, ne) = if parts.len() == 2 {
        (parts, false)
    } else {
        (split_keyword(s, "ne"), true)
    };
    if parts.len() == 2 {
        let prop = parts[0].trim().to_owned();
        if prop.is_empty() || prop.contains(' ') {
            return None;
        }
        let raw = parts[1].trim();
        let value = if raw.eq_ignore_ascii_case("null") {
            None
        } else if let Some(v) = unquote(raw) {
            Some(v)
        } else if !raw.is_empty() && !raw.contains(' ') {
            Some(raw.to_owned())
        } else {
            return None;
        };
        return Some(Clause::Cmp { prop, ne, value });
    }
    if parts.len() > 2 {
        return None;
    }
    let open = s.find('(')?;
    if !s.ends_with(')') {
        return None;
    }
    let name = s[..open].trim().to_owned();
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    let inner = &s[open + 1..s.len() - 1];
    let args = if inner.trim().is_empty() {
        Vec::new()
    } else {
        inner
            .split(',')
            .map(|a| unquote(a).unwrap_or_else(|| a.trim().to_owned()))
            .collect()
    };
    Some(Clause::Func { name, args })
}

fn lookup<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = item;
    for seg in path.split('/') {
        cur = cur
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))?
            .1;
    }
    Some(cur)
}

impl Filter {
    /// Evaluates comparisons against a JSON item (case-insensitive string equality);
    /// function calls are decided by `func`.
    pub fn matches(&self, item: &Value, func: &dyn Fn(&str, &[String]) -> bool) -> bool {
        self.any_of.iter().any(|all| {
            all.iter().all(|c| match c {
                Clause::Cmp { prop, ne, value } => {
                    let got = lookup(item, prop);
                    let eq = match (got, value) {
                        (None | Some(Value::Null), None) => true,
                        (Some(Value::String(g)), Some(v)) => g.eq_ignore_ascii_case(v),
                        (Some(Value::Bool(b)), Some(v)) => b.to_string() == v.to_ascii_lowercase(),
                        (Some(Value::Number(n)), Some(v)) => n.to_string() == *v,
                        _ => false,
                    };
                    eq != *ne
                }
                Clause::Func { name, args } => func(name, args),
            })
        })
    }

    /// Value of `prop eq '…'` if present in every branch (the first one found).
    pub fn eq_value(&self, prop: &str) -> Option<String> {
        self.any_of.iter().flatten().find_map(|c| match c {
            Clause::Cmp {
                prop: p,
                ne: false,
                value,
            } if p.eq_ignore_ascii_case(prop) => value.clone(),
            _ => None,
        })
    }

    /// Whether a function call with that name appears.
    pub fn has_func(&self, name: &str) -> bool {
        self.any_of
            .iter()
            .flatten()
            .any(|c| matches!(c, Clause::Func { name: n, .. } if n.eq_ignore_ascii_case(name)))
    }
}

/// One `$expand` item with its nested options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expand {
    /// Navigation property.
    pub name: String,
    /// Nested `$select`.
    pub select: Option<Vec<String>>,
    /// Nested `$expand`.
    pub expand: Vec<Expand>,
}

fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if c == sep && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

/// Parses `$select`.
pub fn parse_select(s: &str) -> Vec<String> {
    split_top(s, ',')
}

/// Parses `$expand` (e.g. `policy($expand=rules)`, `roleDefinition($select=id,displayName)`).
pub fn parse_expand(s: &str) -> Vec<Expand> {
    split_top(s, ',')
        .into_iter()
        .map(|item| {
            let (name, opts) = match item.find('(') {
                Some(i) if item.ends_with(')') => (
                    item[..i].trim().to_owned(),
                    item[i + 1..item.len() - 1].to_owned(),
                ),
                _ => (item.clone(), String::new()),
            };
            let mut select = None;
            let mut expand = Vec::new();
            for o in split_top(&opts, ';') {
                if let Some((k, v)) = o.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "$select" => select = Some(parse_select(v)),
                        "$expand" => expand = parse_expand(v),
                        _ => {}
                    }
                }
            }
            Expand {
                name,
                select,
                expand,
            }
        })
        .collect()
}

/// Finds an expand item by name.
pub fn find_expand<'a>(e: &'a [Expand], name: &str) -> Option<&'a Expand> {
    e.iter()
        .find(|x| x.name.eq_ignore_ascii_case(name) || x.name == "*")
}

/// Applies `$select`: keeps `@odata.*` annotations, selected properties, and `keep` (expanded).
pub fn apply_select(item: &mut Value, select: &[String], keep: &[&str]) {
    if select.is_empty() || select.iter().any(|s| s == "*") {
        return;
    }
    if let Some(o) = item.as_object_mut() {
        let old = std::mem::take(o);
        let mut out = Map::new();
        for (k, v) in old {
            if k.starts_with("@odata.")
                || select.iter().any(|s| s.eq_ignore_ascii_case(&k))
                || keep.iter().any(|s| s.eq_ignore_ascii_case(&k))
            {
                out.insert(k, v);
            }
        }
        *o = out;
    }
}

/// Encodes an opaque skip token for an offset.
pub fn skip_token(offset: usize) -> String {
    let nonce = &uuid::Uuid::new_v4().simple().to_string()[..8];
    URL_SAFE_NO_PAD.encode(format!("{{\"token\":\"{offset}\",\"n\":\"{nonce}\"}}"))
}

/// Decodes a skip token made by [`skip_token`].
pub fn parse_skip_token(t: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(t.trim()).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("token")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_decoding() {
        let q = Query::parse("%24filter=status%20eq%20'X'&$Expand=a&api-version=2020-10-01");
        assert_eq!(q.get("$filter"), Some("status eq 'X'"));
        assert_eq!(q.get("$expand"), Some("a"));
        assert_eq!(q.get("API-VERSION"), Some("2020-10-01"));
        assert_eq!(
            raw_without("a=1&%24skiptoken=x&b=2", "$skiptoken"),
            "a=1&b=2"
        );
    }

    #[test]
    fn filter_parsing() {
        let f = parse_filter(
            "scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq 'ab''c'",
        )
        .expect("parses");
        assert_eq!(f.eq_value("scopetype").as_deref(), Some("DirectoryRole"));
        assert_eq!(f.eq_value("roleDefinitionId").as_deref(), Some("ab'c"));
        let f = parse_filter("asTarget()").expect("parses");
        assert!(f.has_func("asTarget"));
        let f = parse_filter("status eq 'PendingApproval' or status eq 'Granted'").expect("parses");
        assert!(f.matches(&json!({"status": "granted"}), &|_, _| false));
        assert!(!f.matches(&json!({"status": "Provisioned"}), &|_, _| false));
        assert!(parse_filter("status eq").is_none());
        assert!(parse_filter("what is this").is_none());
        let f = parse_filter("(id eq 'a')").expect("parses");
        assert!(f.matches(&json!({"id": "A"}), &|_, _| false));
        let f = parse_filter("principalId eq '1' and assignedTo('1')").expect("parses");
        assert!(
            f.matches(&json!({"principalId": "1"}), &|n, a| n == "assignedTo"
                && a[0] == "1")
        );
    }

    #[test]
    fn expand_parsing() {
        let e = parse_expand(
            "roleDefinition($select=id,displayName),directoryScope,policy($expand=rules)",
        );
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[0].select.as_deref(),
            Some(&["id".to_owned(), "displayName".to_owned()][..])
        );
        assert_eq!(e[2].expand[0].name, "rules");
        assert!(find_expand(&e, "directoryscope").is_some());
    }

    #[test]
    fn select_keeps_annotations() {
        let mut v = json!({"@odata.type": "x", "id": "1", "a": 1, "b": 2, "roleDefinition": {}});
        apply_select(&mut v, &["a".into()], &["roleDefinition"]);
        assert_eq!(v, json!({"@odata.type": "x", "a": 1, "roleDefinition": {}}));
    }

    #[test]
    fn skip_tokens_round_trip() {
        let t = skip_token(42);
        assert_eq!(parse_skip_token(&t), Some(42));
        assert_eq!(parse_skip_token("garbage!"), None);
    }
}

//! What every Graph resource answers with: the permission-scope check (403),
//! 400s, collections (`$filter`, `$select`, `$count`, paging) and single entities.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::clock::fmt_dt;
use crate::odata::{self, Expand};
use crate::reply::{Ctx, GRAPH_JSON, Reply};
use crate::service_errors;
use crate::state::State;
use crate::wire::Env;

impl Env<'_> {
    pub(super) fn require(&self, st: &State, scopes: &[&str], group: bool) -> Result<(), Reply> {
        if self
            .claims
            .scp
            .iter()
            .any(|s| scopes.iter().any(|x| x.eq_ignore_ascii_case(s)))
        {
            return Ok(());
        }
        Err(forbidden_scope(self.ctx, st, scopes, group))
    }
    pub(super) fn expand(&self) -> Vec<Expand> {
        self.q
            .get("$expand")
            .map(odata::parse_expand)
            .unwrap_or_default()
    }
}

pub(super) fn forbidden_scope(ctx: &Ctx, st: &State, scopes: &[&str], group: bool) -> Reply {
    let msg = service_errors::missing_scope_message(scopes);
    if group && st.config.wrap_errors {
        service_errors::graph_wrapped(ctx, 403, "PermissionScopeNotGranted", &msg)
    } else {
        service_errors::graph(ctx, 403, "PermissionScopeNotGranted", &msg)
    }
}

pub(super) fn bad_request(ctx: &Ctx, msg: &str) -> Reply {
    service_errors::graph(ctx, 400, "BadRequest", msg)
}

pub(super) fn bad_json(ctx: &Ctx) -> Reply {
    bad_request(
        ctx,
        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
    )
}

pub(super) fn collection(
    env: &Env<'_>,
    st: &State,
    context: &str,
    items: Vec<Value>,
    keep: &[&str],
) -> Reply {
    let ctx = env.ctx;
    let mut items = items;
    if let Some(f) = env.q.get("$filter").filter(|f| !f.trim().is_empty()) {
        let Some(filter) = odata::parse_filter(f) else {
            return bad_request(ctx, &format!("Invalid filter clause: {f}"));
        };
        items.retain(|i| filter.matches(i, &|_, _| false));
    }
    if let Some(sel) = env.q.get("$select") {
        let sel = odata::parse_select(sel);
        for i in items.iter_mut() {
            odata::apply_select(i, &sel, keep);
        }
    }
    let offset = match env.q.get("$skiptoken") {
        Some(t) => match odata::parse_skip_token(t) {
            Some(o) => o,
            None => return bad_request(ctx, "Invalid skip token."),
        },
        None => 0,
    };
    let top = env
        .q
        .get("$top")
        .and_then(|t| t.trim().parse::<usize>().ok());
    let page = match (st.config.page_size, top) {
        (Some(p), Some(t)) => Some(p.min(t).max(1)),
        (Some(p), None) => Some(p),
        (None, Some(t)) => Some(t.max(1)),
        (None, None) => None,
    };
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/{}/$metadata#{context}",
            ctx.base, env.r.version
        )),
    );
    if env
        .q
        .get("$count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
    {
        body.insert("@odata.count".into(), json!(items.len()));
    }
    let items: Vec<Value> = items.into_iter().skip(offset).collect();
    let (page_items, more) = match page {
        Some(p) if items.len() > p => (items.into_iter().take(p).collect::<Vec<_>>(), true),
        _ => (items, false),
    };
    if more {
        // batch item urls may carry raw spaces: keep the link a valid URL
        let rest = odata::raw_without(env.r.raw_query, "$skiptoken").replace(' ', "%20");
        let sep = if rest.is_empty() { "" } else { "&" };
        let next = offset + page_items.len();
        body.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/{}{}?{rest}{sep}$skiptoken={}",
                ctx.base,
                env.r.version,
                env.r.raw_path.replace(' ', "%20"),
                odata::skip_token(next)
            )),
        );
    }
    body.insert("value".into(), Value::Array(page_items));
    Reply::json(200, Value::Object(body), GRAPH_JSON)
}

pub(super) fn entity(env: &Env<'_>, context: &str, mut v: Value) -> Reply {
    if let Some(sel) = env.q.get("$select") {
        odata::apply_select(&mut v, &odata::parse_select(sel), &[]);
    }
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            json!(format!(
                "{}/{}/$metadata#{context}",
                env.ctx.base, env.r.version
            )),
        );
    }
    Reply::json(200, v, GRAPH_JSON)
}

pub(super) fn d(t: Option<OffsetDateTime>) -> Value {
    t.map(|t| json!(fmt_dt(t))).unwrap_or(Value::Null)
}

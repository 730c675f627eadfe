//! My requests through the core: every open account's history at once, merged newest first
//! (one account that cannot be read is a warning, unless none could).

use pim_core::Session;
use time::OffsetDateTime;

use super::CoreAdapter;
use crate::engine::{EngineResult, HistoryList};

impl CoreAdapter {
    /// [`Engine::history`](crate::engine::Engine::history).
    pub(super) async fn read_history(&self, since: OffsetDateTime) -> EngineResult<HistoryList> {
        let open: Vec<(String, Session)> = self
            .current
            .lock()
            .await
            .iter()
            .map(|c| (c.open.account().upn.clone(), c.open.session().clone()))
            .collect();
        if open.is_empty() {
            return Err(pim_core::Error::SignInRequired {
                reason: "nobody is signed in".into(),
            });
        }
        // Every account at once; one that cannot be read is a warning, unless none could.
        let reads = futures::future::join_all(open.iter().map(|(_, s)| s.history(since))).await;
        let mut list = HistoryList::default();
        let mut first_err = None;
        let several = open.len() > 1;
        for ((upn, _), r) in open.iter().zip(reads) {
            let who = |t: &str| {
                if several {
                    format!("{upn}, {t}")
                } else {
                    t.to_owned()
                }
            };
            match r {
                Ok(h) => {
                    list.entries.extend(h.entries);
                    for t in h.tenants {
                        let name = who(&t.tenant.display_name);
                        if let Some(e) = t.error {
                            list.warnings.push(format!("{name}: {}", e.message));
                        }
                        list.warnings
                            .extend(t.warnings.iter().map(|w| format!("{name}: {w}")));
                    }
                }
                Err(e) => {
                    list.warnings.push(format!("{upn}: {e}"));
                    first_err.get_or_insert(e);
                }
            }
        }
        if list.entries.is_empty()
            && let Some(e) = first_err
            && open.len() == 1
        {
            return Err(e);
        }
        list.entries.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.tenant_id.cmp(&b.tenant_id))
                .then_with(|| a.request_id.cmp(&b.request_id))
        });
        Ok(list)
    }
}

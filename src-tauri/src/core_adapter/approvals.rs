//! The approver's inbox through the core: every open account's requests read at once into
//! the tray model (an account that cannot be read keeps what it showed), and a decision sent
//! through the session of the account that sees the request.

use pim_core::Session;

use super::CoreAdapter;
use crate::engine::EngineResult;
use crate::view::ApprovalView;

impl CoreAdapter {
    /// [`Engine::read_approvals`](crate::engine::Engine::read_approvals).
    pub(super) async fn read_inboxes(&self) -> EngineResult<()> {
        let open: Vec<(String, String, Session)> = self
            .current
            .lock()
            .await
            .iter()
            .map(|c| {
                let a = c.open.account();
                (a.key(), a.upn.clone(), c.open.session().clone())
            })
            .collect();
        // Every account at once; each one's tenants in parallel (the core).
        let reads = futures::future::join_all(open.iter().map(|(_, _, s)| s.approvals())).await;
        let mut items = Vec::new();
        let mut failed: Vec<&str> = Vec::new();
        let mut first_err = None;
        for ((key, upn, _), r) in open.iter().zip(reads) {
            match r {
                Ok(inbox) => {
                    for t in &inbox.tenants {
                        let name = &t.tenant.display_name;
                        if let Some(e) = &t.error {
                            tracing::warn!(%upn, tenant = %name, "approvals: {}", e.message);
                        }
                        for w in &t.warnings {
                            tracing::warn!(%upn, tenant = %name, "approvals: {w}");
                        }
                    }
                    items.extend(inbox.items.into_iter().map(|item| ApprovalView {
                        account: key.clone(),
                        upn: upn.clone(),
                        item,
                    }));
                }
                Err(e) => {
                    tracing::warn!(%upn, "approvals: {e}");
                    failed.push(key);
                    first_err.get_or_insert(e);
                }
            }
        }
        let open_keys: Vec<&str> = open.iter().map(|(k, _, _)| k.as_str()).collect();
        self.tx.send_if_modified(|m| {
            // An account that could not be read keeps what it showed; closed ones go.
            let kept = m
                .approvals
                .iter()
                .filter(|a| failed.contains(&a.account.as_str()))
                .cloned();
            let mut next: Vec<ApprovalView> = items.iter().cloned().chain(kept).collect();
            next.retain(|a| open_keys.contains(&a.account.as_str()));
            crate::approvals::oldest_first(&mut next);
            // Two accounts approving in the same tenant see the same request: listed once,
            // decided by the first.
            next.dedup_by(|b, a| a.id() == b.id());
            let changed = m.approvals != next;
            m.approvals = next;
            changed
        });
        match first_err {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// [`Engine::decide`](crate::engine::Engine::decide).
    pub(super) async fn decide_request(
        &self,
        id: &str,
        decision: pim_core::Decision,
        justification: Option<String>,
    ) -> EngineResult<()> {
        let account = self.tx.borrow().approval(id).map(|a| a.account.clone());
        let Some(account) = account else {
            return Err(pim_core::Error::InvalidState {
                message: "this request is no longer in your approver's inbox: it was decided \
                          or withdrawn meanwhile (the menu shows the inbox now)"
                    .into(),
            });
        };
        let session = self
            .current
            .lock()
            .await
            .get(&account)
            .map(|c| c.open.session().clone())
            .ok_or_else(|| pim_core::Error::SignInRequired {
                reason: "the account that sees this request is signed out".into(),
            })?;
        session.decide(id, decision, justification).await?;
        tracing::info!(decision = decision.as_str(), "approval decided");
        self.tx
            .send_modify(|m| m.approvals.retain(|a| a.id() != id));
        Ok(())
    }
}

//! Cancelling the pending order: "cancel my order" by voice, or
//! `DELETE /api/orders/pending`.

use pod_domain::{CustomerId, Order};
use tracing::{info, instrument};

use super::{OrderingService, ServiceError};

/// The result of cancelling the pending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The order that waited for its code, now cancelled by the customer.
    Cancelled(Order),
    /// No order waits for a code: nothing changed.
    NoPendingOrder,
    /// No valid access token.
    NotLinked,
}

impl OrderingService {
    /// Cancels the pending order of the holder of `token`.
    pub async fn cancel_pending(&self, token: Option<&str>) -> Result<CancelOutcome, ServiceError> {
        match self.customer_for_token(token).await? {
            Some(customer) => self.cancel_pending_for(&customer).await,
            None => Ok(CancelOutcome::NotLinked),
        }
    }

    /// Cancels an authenticated customer's pending order.
    ///
    /// One store read and one version-checked commit, like every rule: the
    /// account decides ([`Account::cancel_pending`](pod_domain::Account::cancel_pending))
    /// and the change is committed, decided again on the fresh account when
    /// another request committed first (so a code confirmed a moment before
    /// wins, and the cancel finds nothing left to cancel). Nothing is sent
    /// and no code compared, so this works while the account is locked.
    #[instrument(skip(self), fields(customer = %customer))]
    pub async fn cancel_pending_for(
        &self,
        customer: &CustomerId,
    ) -> Result<CancelOutcome, ServiceError> {
        let account = self.ports.store.load_account(customer).await?;
        let (outcome, _) = self
            .commit(customer, account, |account, now| {
                match account.cancel_pending(now) {
                    Some(change) => {
                        let order = change.orders()[0].clone();
                        (Some(change), CancelOutcome::Cancelled(order))
                    }
                    None => (None, CancelOutcome::NoPendingOrder),
                }
            })
            .await?;
        if let CancelOutcome::Cancelled(order) = &outcome {
            info!(order = %order.id(), "order cancelled by the customer");
        }
        Ok(outcome)
    }
}

//! "Cancel my order" (`AMAZON.CancelIntent`): cancels the order waiting for
//! its code and says so; with no order waiting, no linked account or an
//! invalid token, Cancel just says goodbye, as Stop does.

use pod_alexa::envelope::{RequestEnvelope, ResponseEnvelope};
use pod_ports::{CancelOutcome, OrderingService};

use super::skill::unavailable;
use super::texts::Texts;
use crate::metrics::Metrics;

pub(super) async fn answer(
    service: &OrderingService,
    metrics: &Metrics,
    texts: &Texts,
    envelope: &RequestEnvelope,
) -> ResponseEnvelope {
    // No token: nobody's order to cancel. The LinkAccount card would be
    // out of place for someone who only wants to leave.
    if envelope.access_token().is_none() {
        return ResponseEnvelope::tell(texts.goodbye);
    }
    match service.cancel_pending(envelope.access_token()).await {
        Ok(CancelOutcome::Cancelled(order)) => {
            ResponseEnvelope::tell((texts.order_cancelled)(order.pizza()))
        }
        Ok(CancelOutcome::NoPendingOrder | CancelOutcome::NotLinked) => {
            ResponseEnvelope::tell(texts.goodbye)
        }
        // The person must not leave believing the order is cancelled.
        Err(error) => unavailable(metrics, texts, &error),
    }
}

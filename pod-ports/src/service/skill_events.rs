//! What pod does with Alexa's skill events: record which customer an Alexa
//! user linked (`SkillAccountLinked`), and when the skill is disabled
//! (`SkillDisabled`) cancel that customer's pending order and forget the
//! link.

use std::sync::Arc;

use pod_domain::{CustomerId, Order};
use tracing::{info, instrument};

use super::{OrderingService, ServiceError};
use crate::{AlexaLinks, AlexaUserId, CancelOutcome};

/// The result of a `SkillAccountLinked` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The link is recorded.
    Linked(CustomerId),
    /// The event's token is missing, invalid or expired: nothing recorded.
    InvalidToken,
    /// No links are kept ([`SkillEvents::new`] without [`AlexaLinks`]).
    NotKept,
}

/// The result of a `SkillDisabled` event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disabled {
    /// The customer the Alexa user was linked to (by the recorded link, or
    /// else by the event's access token), if pod knows one.
    pub customer: Option<CustomerId>,
    /// Whether a recorded link was forgotten.
    pub forgot_link: bool,
    /// That customer's order that waited for its code, now cancelled.
    pub cancelled: Option<Order>,
}

/// Acts on skill events for the ordering service.
///
/// **API Boundary:** the HTTP adapter calls it for the verified
/// `AlexaSkillEvent.*` requests; embedders give it their own [`AlexaLinks`].
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct SkillEvents {
    ordering: OrderingService,
    links: Option<Arc<dyn AlexaLinks>>,
}

impl SkillEvents {
    /// Skill events acted on through `ordering`, with links kept in
    /// `links` (`None`: links are not kept, and a disable finds the
    /// customer only through the event's access token).
    pub fn new(ordering: OrderingService, links: Option<Arc<dyn AlexaLinks>>) -> Self {
        SkillEvents { ordering, links }
    }

    /// `SkillAccountLinked`: records that `alexa_user` is linked to the
    /// customer `token` (the event body's new access token) belongs to.
    /// One write; the link is stamped with the service clock's now.
    #[instrument(skip_all)]
    pub async fn account_linked(
        &self,
        alexa_user: &AlexaUserId,
        token: Option<&str>,
    ) -> Result<LinkOutcome, ServiceError> {
        let Some(links) = &self.links else {
            return Ok(LinkOutcome::NotKept);
        };
        let Some(customer) = self.ordering.customer_for_token(token).await? else {
            return Ok(LinkOutcome::InvalidToken);
        };
        let now = self.ordering.ports.clock.now();
        links.link(alexa_user, &customer, now).await?;
        info!(%customer, "alexa account link recorded");
        Ok(LinkOutcome::Linked(customer))
    }

    /// `SkillDisabled`: forgets `alexa_user`'s link and cancels the
    /// pending order of the customer it named, or, with no recorded link,
    /// of the customer the event's access token (if any, and still valid)
    /// belongs to. Idempotent: a redelivered event finds nothing to do.
    #[instrument(skip_all)]
    pub async fn skill_disabled(
        &self,
        alexa_user: Option<&AlexaUserId>,
        token: Option<&str>,
    ) -> Result<Disabled, ServiceError> {
        let forgotten = match (&self.links, alexa_user) {
            (Some(links), Some(user)) => links.forget(user).await?,
            _ => None,
        };
        let forgot_link = forgotten.is_some();
        let customer = match forgotten {
            Some(customer) => Some(customer),
            None => self.ordering.customer_for_token(token).await?,
        };
        let cancelled = match &customer {
            Some(customer) => match self.ordering.cancel_pending_for(customer).await? {
                CancelOutcome::Cancelled(order) => Some(order),
                CancelOutcome::NoPendingOrder | CancelOutcome::NotLinked => None,
            },
            None => None,
        };
        info!(
            known = customer.is_some(),
            forgot_link,
            cancelled = cancelled.is_some(),
            "skill disabled"
        );
        Ok(Disabled {
            customer,
            forgot_link,
            cancelled,
        })
    }

    /// The customer `alexa_user` is linked to, if links are kept and one is
    /// recorded.
    pub async fn customer_of(
        &self,
        alexa_user: &AlexaUserId,
    ) -> Result<Option<CustomerId>, ServiceError> {
        match &self.links {
            Some(links) => Ok(links.customer_of(alexa_user).await?),
            None => Ok(None),
        }
    }
}

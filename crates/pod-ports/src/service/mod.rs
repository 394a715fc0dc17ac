use std::sync::Arc;

use pod_domain::{
    CancelReason, Channel, CodeCheck, ConfirmStep, ConfirmationPolicy, CustomerId, Destination,
    Order, OrderEvent, OrderId, OrderState, Pizza,
};
use tracing::{info, instrument, warn};

use crate::{
    AccessTokens, Clock, CodeError, CodePurpose, CustomerDirectory, DirectoryError, OneTimeCode,
    OneTimeCodes, OrderEvents, OrderIds, OrderStore, StoreError, TokenError,
};

/// How often a write that lost a race is retried before giving up.
const MAX_WRITE_ATTEMPTS: usize = 4;

/// Every port the [`OrderingService`] drives.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Ports {
    /// Access token → customer.
    pub tokens: Arc<dyn AccessTokens>,
    /// Customer → contact points.
    pub directory: Arc<dyn CustomerDirectory>,
    /// Sends and checks codes.
    pub codes: Arc<dyn OneTimeCodes>,
    /// Keeps orders and counters.
    pub store: Arc<dyn OrderStore>,
    /// Tells watchers.
    pub events: Arc<dyn OrderEvents>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New order ids.
    pub ids: Arc<dyn OrderIds>,
}

/// The result of placing an order, for the outcomes a person can cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaceOutcome {
    /// The order is stored and its code sent; `order.awaiting()` says where.
    Placed {
        /// The new order.
        order: Order,
        /// The id of the pending order this one replaced, now cancelled.
        superseded: Option<OrderId>,
    },
    /// No valid access token: the account must be linked (again).
    NotLinked,
    /// Voice ordering is locked after too many wrong codes.
    Locked,
    /// Too many codes were sent in the last hour.
    RateLimited,
    /// The account has neither a phone number nor an email address.
    NoContactPoint,
}

/// The result of confirming with a code, for the outcomes a person can cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfirmOutcome {
    /// The code was right; the order is confirmed.
    Confirmed(Order),
    /// The order had already been confirmed (by a concurrent request with the
    /// right code).
    AlreadyConfirmed(Order),
    /// The code was wrong; the order still waits.
    WrongCode {
        /// The order after counting the wrong code.
        order: Order,
        /// Wrong codes it still takes before it is cancelled.
        attempts_left: u32,
    },
    /// The code was wrong once too often; the order is cancelled.
    TooManyAttempts(Order),
    /// The code's lifetime ran out; the order is cancelled.
    Expired(Order),
    /// There is no order waiting for a code.
    NoPendingOrder,
    /// Voice ordering is locked after too many wrong codes; nothing was checked.
    Locked,
    /// No valid access token.
    NotLinked,
    /// The code provider refused because of its own rate limit; nothing changed.
    RateLimited,
}

/// An infrastructure failure; the person can only try again later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The identity provider (tokens, directory, codes) failed.
    #[error("identity provider unavailable: {0}")]
    IdentityUnavailable(String),
    /// The code could not be delivered; the order was cancelled.
    #[error("the code could not be delivered: {0}")]
    CodeDelivery(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Drives the domain through the ports: place an order, confirm it with a
/// code, list and clear orders.
///
/// **API Boundary:** embedders build one from their own [`Ports`] and call
/// it from any surface; the HTTP adapter only translates to and from it.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct OrderingService {
    ports: Ports,
    policy: ConfirmationPolicy,
}

impl OrderingService {
    /// A service over `ports` enforcing `policy`.
    pub fn new(ports: Ports, policy: ConfirmationPolicy) -> Self {
        OrderingService { ports, policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ConfirmationPolicy {
        &self.policy
    }

    /// The customer a token belongs to; `Ok(None)` for a missing, invalid or
    /// expired token.
    #[instrument(skip_all)]
    pub async fn customer_for_token(
        &self,
        token: Option<&str>,
    ) -> Result<Option<CustomerId>, ServiceError> {
        let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        match self.ports.tokens.customer_for_token(token).await {
            Ok(customer) => Ok(Some(customer)),
            Err(TokenError::Invalid(reason)) => {
                info!(%reason, "access token rejected");
                Ok(None)
            }
            Err(TokenError::Unavailable(reason)) => Err(ServiceError::IdentityUnavailable(reason)),
        }
    }

    /// Places an order for the holder of `token`.
    pub async fn place_order(
        &self,
        token: Option<&str>,
        pizza: Pizza,
    ) -> Result<PlaceOutcome, ServiceError> {
        match self.customer_for_token(token).await? {
            Some(customer) => self.place_order_for(&customer, pizza).await,
            None => Ok(PlaceOutcome::NotLinked),
        }
    }

    /// Confirms the pending order of the holder of `token` with `code`.
    pub async fn confirm_order(
        &self,
        token: Option<&str>,
        code: &OneTimeCode,
    ) -> Result<ConfirmOutcome, ServiceError> {
        match self.customer_for_token(token).await? {
            Some(customer) => self.confirm_order_for(&customer, code).await,
            None => Ok(ConfirmOutcome::NotLinked),
        }
    }

    /// Places an order for an authenticated customer: checks the lockout and
    /// the send rate, finds where the code goes, cancels a pending order as
    /// superseded, stores the new order, sends its code. If the code cannot
    /// be sent the order is cancelled and the error says so.
    #[instrument(skip(self, pizza), fields(customer = %customer))]
    pub async fn place_order_for(
        &self,
        customer: &CustomerId,
        pizza: Pizza,
    ) -> Result<PlaceOutcome, ServiceError> {
        let store = &self.ports.store;
        let now = self.ports.clock.now();
        if store.lockout(customer).await?.is_locked(&self.policy) {
            return Ok(PlaceOutcome::Locked);
        }
        let sent = store
            .codes_sent_since(customer, now.minus(ConfirmationPolicy::SEND_WINDOW))
            .await?;
        if !self.policy.may_send_code(sent) {
            return Ok(PlaceOutcome::RateLimited);
        }
        let contacts = match self.ports.directory.contact_points(customer).await {
            Ok(contacts) => contacts,
            Err(DirectoryError::UnknownCustomer) => return Ok(PlaceOutcome::NotLinked),
            Err(DirectoryError::Unavailable(reason)) => {
                return Err(ServiceError::IdentityUnavailable(reason));
            }
        };
        let Some(destination) = contacts.preferred_destination() else {
            return Ok(PlaceOutcome::NoContactPoint);
        };
        self.ports
            .directory
            .ensure_passwordless_identity(customer, &destination)
            .await
            .map_err(|e| ServiceError::IdentityUnavailable(e.to_string()))?;

        let (order, superseded) = self.store_new_order(customer, pizza, &destination).await?;
        store.record_code_sent(customer, now).await?;
        let purpose = CodePurpose::ConfirmOrder(order.id().clone());
        if let Err(error) = self
            .ports
            .codes
            .send_code(customer, &destination, &purpose)
            .await
        {
            warn!(order = %order.id(), %error, "code not sent; cancelling the order");
            // A freshly placed order always awaits its code, so this cancel applies.
            if let Ok((cancelled, event)) =
                order.cancel(CancelReason::CodeDeliveryFailed, self.ports.clock.now())
            {
                store.update_order(&cancelled, order.version()).await?;
                self.ports.events.publish(event).await;
            }
            return match error {
                CodeError::RateLimited => Ok(PlaceOutcome::RateLimited),
                CodeError::DeliveryFailed(reason) => Err(ServiceError::CodeDelivery(reason)),
                CodeError::Unavailable(reason) => Err(ServiceError::IdentityUnavailable(reason)),
            };
        }
        self.ports
            .events
            .publish(OrderEvent::Placed(order.clone()))
            .await;
        info!(order = %order.id(), channel = destination.channel().as_str(), "order placed, code sent");
        Ok(PlaceOutcome::Placed { order, superseded })
    }

    /// Cancels the pending order (if any) as superseded and inserts the new
    /// one, retrying when a concurrent request won a race.
    async fn store_new_order(
        &self,
        customer: &CustomerId,
        pizza: Pizza,
        destination: &Destination,
    ) -> Result<(Order, Option<OrderId>), ServiceError> {
        let store = &self.ports.store;
        let mut superseded = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let now = self.ports.clock.now();
            if let Some(pending) = store.pending_order(customer).await? {
                let Ok((cancelled, event)) = pending.cancel(CancelReason::Superseded, now) else {
                    continue;
                };
                match store.update_order(&cancelled, pending.version()).await {
                    Ok(()) => {
                        self.ports.events.publish(event).await;
                        superseded = Some(cancelled.id().clone());
                    }
                    Err(StoreError::Conflict) => continue,
                    Err(other) => return Err(other.into()),
                }
            }
            let id = self.ports.ids.new_order_id();
            let (order, _placed) = Order::place(
                id,
                customer.clone(),
                pizza.clone(),
                destination,
                now,
                &self.policy,
            );
            match store.insert_order(&order).await {
                Ok(()) => return Ok((order, superseded)),
                Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Confirms an authenticated customer's pending order with `code`.
    ///
    /// A wrong code counts against the order and against the customer's
    /// lockout; the order is cancelled at either limit. When a concurrent
    /// request changed the order first, the check is applied again to what
    /// is stored, so two right codes at once give one confirmation and one
    /// [`ConfirmOutcome::AlreadyConfirmed`].
    #[instrument(skip(self, code), fields(customer = %customer))]
    pub async fn confirm_order_for(
        &self,
        customer: &CustomerId,
        code: &OneTimeCode,
    ) -> Result<ConfirmOutcome, ServiceError> {
        let store = &self.ports.store;
        if store.lockout(customer).await?.is_locked(&self.policy) {
            return Ok(ConfirmOutcome::Locked);
        }
        let Some(mut order) = store.pending_order(customer).await? else {
            return Ok(ConfirmOutcome::NoPendingOrder);
        };
        let check = if order.is_overdue(self.ports.clock.now()) {
            // No point asking the provider: the domain cancels it as expired.
            CodeCheck::Expired
        } else {
            match self.check_code(customer, &order, code).await? {
                Some(check) => check,
                None => return Ok(ConfirmOutcome::RateLimited),
            }
        };

        let mut locked_now = false;
        match check {
            CodeCheck::Invalid => {
                let lockout = store.record_failed_attempt(customer).await?;
                locked_now = lockout.is_locked(&self.policy);
            }
            CodeCheck::Valid => store.clear_lockout(customer).await?,
            CodeCheck::Expired | CodeCheck::Locked => {}
        }

        for _ in 0..MAX_WRITE_ATTEMPTS {
            let now = self.ports.clock.now();
            let transition = match order.check_code(check, now, &self.policy) {
                Ok(transition) => transition,
                Err(_) => return Ok(settled_outcome(order)),
            };
            let (next, event) = if locked_now
                && transition.step != ConfirmStep::Confirmed
                && !transition.order.state().is_terminal()
            {
                match order.cancel(CancelReason::TooManyAttempts, now) {
                    Ok((cancelled, event)) => (cancelled, Some(event)),
                    Err(_) => return Ok(settled_outcome(order)),
                }
            } else {
                (transition.order, transition.event)
            };
            match store.update_order(&next, order.version()).await {
                Ok(()) => {
                    if let Some(event) = event {
                        self.ports.events.publish(event).await;
                    }
                    if locked_now {
                        warn!("voice ordering locked after too many wrong codes");
                        return Ok(ConfirmOutcome::Locked);
                    }
                    return Ok(match transition.step {
                        ConfirmStep::Confirmed => ConfirmOutcome::Confirmed(next),
                        ConfirmStep::WrongCode { attempts_left } => ConfirmOutcome::WrongCode {
                            order: next,
                            attempts_left,
                        },
                        ConfirmStep::CancelledTooManyAttempts => {
                            ConfirmOutcome::TooManyAttempts(next)
                        }
                        ConfirmStep::Expired => ConfirmOutcome::Expired(next),
                    });
                }
                Err(StoreError::Conflict) => match store.order(order.id()).await? {
                    Some(current) => order = current,
                    None => return Ok(ConfirmOutcome::NoPendingOrder),
                },
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Asks the code provider about `code`; `None` when it rate-limits us.
    async fn check_code(
        &self,
        customer: &CustomerId,
        order: &Order,
        code: &OneTimeCode,
    ) -> Result<Option<CodeCheck>, ServiceError> {
        let channel = order
            .awaiting()
            .map(|w| w.channel())
            .unwrap_or(Channel::Email);
        let contacts = match self.ports.directory.contact_points(customer).await {
            Ok(contacts) => contacts,
            Err(e) => return Err(ServiceError::IdentityUnavailable(e.to_string())),
        };
        let address = match channel {
            Channel::Sms => contacts.phone,
            Channel::Email => contacts.email,
        };
        let Some(address) = address else {
            // The contact point the code went to is gone: the code cannot be
            // checked against it, so it counts as wrong.
            return Ok(Some(CodeCheck::Invalid));
        };
        let destination = match channel {
            Channel::Sms => Destination::sms(address),
            Channel::Email => Destination::email(address),
        };
        let purpose = CodePurpose::ConfirmOrder(order.id().clone());
        match self
            .ports
            .codes
            .verify_code(customer, &destination, &purpose, code)
            .await
        {
            Ok(check) => Ok(Some(check)),
            Err(CodeError::RateLimited) => Ok(None),
            Err(e) => Err(ServiceError::IdentityUnavailable(e.to_string())),
        }
    }

    /// The customer's orders, newest first.
    pub async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, ServiceError> {
        Ok(self.ports.store.orders_of(customer).await?)
    }

    /// Deletes the customer's confirmed orders; returns how many.
    pub async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, ServiceError> {
        Ok(self.ports.store.clear_confirmed(customer).await?)
    }

    /// Lifts the customer's voice-ordering lock (after a sign-in or by an
    /// operator).
    pub async fn unlock(&self, customer: &CustomerId) -> Result<(), ServiceError> {
        Ok(self.ports.store.clear_lockout(customer).await?)
    }
}

/// What to say about an order that is no longer awaiting a code.
fn settled_outcome(order: Order) -> ConfirmOutcome {
    match order.state() {
        OrderState::Confirmed { .. } => ConfirmOutcome::AlreadyConfirmed(order),
        OrderState::Cancelled {
            reason: CancelReason::Expired,
            ..
        } => ConfirmOutcome::Expired(order),
        OrderState::Cancelled {
            reason: CancelReason::TooManyAttempts,
            ..
        } => ConfirmOutcome::TooManyAttempts(order),
        _ => ConfirmOutcome::NoPendingOrder,
    }
}

#[cfg(test)]
mod tests;

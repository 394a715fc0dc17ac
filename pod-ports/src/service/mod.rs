use std::sync::Arc;

use pod_domain::{
    Account, CancelReason, Change, Channel, CodeCheck, CodeDigest, ConfirmResult,
    ConfirmationPolicy, CustomerId, Destination, Order, OrderCodeStep, OrderEvent, OrderId,
    OrderState, Pizza, SendRefusal, Stale, Timestamp,
};
use tracing::{info, instrument, warn};

use crate::{
    AccessTokens, AccountStore, Clock, CodeError, CodePurpose, CustomerDirectory, DirectoryError,
    OneTimeCode, OneTimeCodes, OrderEvents, OrderIds, StoreError, TokenError,
};

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
    /// Keeps accounts and orders.
    pub store: Arc<dyn AccountStore>,
    /// Tells watchers.
    pub events: Arc<dyn OrderEvents>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New order ids.
    pub ids: Arc<dyn OrderIds>,
}

/// The result of placing an order, for the outcomes a person can cause.
#[derive(Debug, Clone, PartialEq, Eq)]
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
///
/// # Example
///
/// A whole conversation over an in-memory store, with toy identity and code
/// adapters (a real service uses `pod-adapters-local` or
/// `pod-adapters-auth0`, and `pod-adapters-sql`):
///
/// ```
/// # use std::sync::Arc;
/// # use async_trait::async_trait;
/// # use pod_ports::domain::*;
/// # use pod_ports::*;
/// # use pod_ports::testing::{ManualClock, MemoryStore, SequentialIds};
/// # struct Tokens;
/// # #[async_trait]
/// # impl AccessTokens for Tokens {
/// #     async fn customer_for_token(&self, token: &str) -> Result<CustomerId, TokenError> {
/// #         CustomerId::parse(format!("local|{token}")).map_err(|e| TokenError::Invalid(e.to_string()))
/// #     }
/// # }
/// # struct Directory;
/// # #[async_trait]
/// # impl CustomerDirectory for Directory {
/// #     async fn contact_points(&self, _: &CustomerId) -> Result<ContactPoints, DirectoryError> {
/// #         Ok(ContactPoints { email: Some("ann@example.com".into()), phone: None })
/// #     }
/// #     async fn ensure_passwordless_identity(&self, _: &CustomerId, _: &Destination) -> Result<(), DirectoryError> {
/// #         Ok(())
/// #     }
/// # }
/// # /// Every code is 1234; the account keeps it as its "digest".
/// # struct Codes;
/// # #[async_trait]
/// # impl OneTimeCodes for Codes {
/// #     fn issue(&self, _: &CustomerId, _: &CodePurpose) -> NewCode {
/// #         NewCode { digest: Some(CodeDigest::new(b"1234".to_vec())), code: OneTimeCode::parse("1234").ok() }
/// #     }
/// #     async fn deliver(&self, _: &CustomerId, _: &Destination, _: &CodePurpose, _: &NewCode) -> Result<(), CodeError> {
/// #         Ok(())
/// #     }
/// #     async fn check(&self, _: &CustomerId, _: &Destination, _: &CodePurpose, digest: Option<CodeDigest>, spoken: &OneTimeCode) -> Result<CodeCheck, CodeError> {
/// #         Ok(if digest.as_ref().map(CodeDigest::as_bytes) == Some(spoken.expose().as_bytes()) { CodeCheck::Valid } else { CodeCheck::Invalid })
/// #     }
/// # }
/// # struct Events;
/// # #[async_trait]
/// # impl OrderEvents for Events {
/// #     async fn publish(&self, _: OrderEvent) {}
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ServiceError> {
/// let ports = Ports {
///     tokens: Arc::new(Tokens),
///     directory: Arc::new(Directory),
///     codes: Arc::new(Codes),
///     store: Arc::new(MemoryStore::new()),
///     events: Arc::new(Events),
///     clock: ManualClock::starting_at(Timestamp::from_unix_seconds(1_800_000_000)),
///     ids: Arc::new(SequentialIds::default()),
/// };
/// let service = OrderingService::new(ports, ConfirmationPolicy::default());
///
/// // "Get me a large pizza with pepperoni": the order waits for its code.
/// let pizza = Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap();
/// let placed = service.place_order(Some("ann"), pizza).await?;
/// assert!(matches!(placed, PlaceOutcome::Placed { .. }));
///
/// // A wrong code counts; the right one confirms.
/// let wrong = service.confirm_order(Some("ann"), &OneTimeCode::parse("0000").unwrap()).await?;
/// assert!(matches!(wrong, ConfirmOutcome::WrongCode { attempts_left: 2, .. }));
/// let right = service.confirm_order(Some("ann"), &OneTimeCode::parse("1234").unwrap()).await?;
/// assert!(matches!(right, ConfirmOutcome::Confirmed(_)));
///
/// // Without a linked account there is nothing to do.
/// let pizza = Pizza::new(PizzaSize::Small, []).unwrap();
/// assert_eq!(service.place_order(None, pizza).await?, PlaceOutcome::NotLinked);
/// # Ok(())
/// # }
/// ```
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

    /// Places an order for an authenticated customer.
    ///
    /// One store read (the account) and one commit: the account decides
    /// (lock, send budget, superseding the pending order) and the change is
    /// committed, version-checked, before the code is delivered. When the
    /// code cannot be delivered the order is cancelled and the error says so.
    #[instrument(skip(self, pizza), fields(customer = %customer))]
    pub async fn place_order_for(
        &self,
        customer: &CustomerId,
        pizza: Pizza,
    ) -> Result<PlaceOutcome, ServiceError> {
        let account = self.ports.store.load_account(customer).await?;
        let now = self.ports.clock.now();
        if let Err(refusal) = account.may_send_order_code(now, &self.policy) {
            return Ok(refused(refusal));
        }
        let destination = match self.ports.directory.contact_points(customer).await {
            Ok(contacts) => match contacts.preferred_destination() {
                Some(destination) => destination,
                None => return Ok(PlaceOutcome::NoContactPoint),
            },
            Err(DirectoryError::UnknownCustomer) => return Ok(PlaceOutcome::NotLinked),
            Err(DirectoryError::Unavailable(reason)) => {
                return Err(ServiceError::IdentityUnavailable(reason));
            }
        };
        self.ports
            .directory
            .ensure_passwordless_identity(customer, &destination)
            .await
            .map_err(|e| ServiceError::IdentityUnavailable(e.to_string()))?;

        let id = self.ports.ids.new_order_id();
        let purpose = CodePurpose::ConfirmOrder(id.clone());
        let code = self.ports.codes.issue(customer, &purpose);
        let placed = self
            .commit(customer, account, |account, now| {
                match account.place_order(
                    id.clone(),
                    pizza.clone(),
                    &destination,
                    code.digest.clone(),
                    now,
                    &self.policy,
                ) {
                    Ok(placed) => (Some(placed.change.clone()), Ok(placed)),
                    Err(refusal) => (None, Err(refused(refusal))),
                }
            })
            .await?;
        let (placed, account) = match placed {
            (Ok(placed), account) => (placed, account),
            (Err(outcome), _) => return Ok(outcome),
        };
        if let Err(error) = self
            .ports
            .codes
            .deliver(customer, &destination, &purpose, &code)
            .await
        {
            warn!(order = %id, %error, "code not delivered; cancelling the order");
            self.commit(customer, account, |account, now| {
                (account.order_code_not_delivered(&id, now), ())
            })
            .await?;
            // The order is cancelled whichever way the send failed, so the
            // person hears that the code was not sent (a provider outage
            // included), not only that something is down.
            return match error {
                CodeError::RateLimited => Ok(PlaceOutcome::RateLimited),
                CodeError::DeliveryFailed(reason) | CodeError::Unavailable(reason) => {
                    Err(ServiceError::CodeDelivery(reason))
                }
            };
        }
        info!(order = %id, channel = destination.channel().as_str(), "order placed, code sent");
        Ok(PlaceOutcome::Placed {
            order: placed.order,
            superseded: placed.superseded.map(|o| o.id().clone()),
        })
    }

    /// Confirms an authenticated customer's pending order with `code`.
    ///
    /// One store read and one commit: the account decides whether a
    /// comparison may be made at all (lock, expiry), the code provider
    /// compares, and the account applies the result (attempts per order,
    /// the account's run of failures) in one version-checked commit. When
    /// another request committed first, the same comparison is applied to
    /// the fresh account, so of two right codes at once one confirms and the
    /// other hears [`ConfirmOutcome::AlreadyConfirmed`], and no more wrong
    /// codes count against an order than its attempt limit.
    #[instrument(skip(self, code), fields(customer = %customer))]
    pub async fn confirm_order_for(
        &self,
        customer: &CustomerId,
        code: &OneTimeCode,
    ) -> Result<ConfirmOutcome, ServiceError> {
        let mut account = self.ports.store.load_account(customer).await?;
        let (order, digest) = loop {
            let now = self.ports.clock.now();
            match account.order_code_step(now, &self.policy) {
                OrderCodeStep::Compare { order, digest } => break (order, digest),
                OrderCodeStep::Settled {
                    change: None,
                    result,
                } => return Ok(result.into()),
                OrderCodeStep::Settled {
                    change: Some(change),
                    result,
                } => match self.ports.store.commit(&change).await {
                    Ok(()) => {
                        self.publish(change.into_events()).await;
                        return Ok(result.into());
                    }
                    Err(StoreError::Conflict) => {
                        account = self.ports.store.load_account(customer).await?;
                    }
                    Err(other) => return Err(other.into()),
                },
            }
        };
        let check = match self.compare(customer, &order, digest, code).await? {
            Some(check) => check,
            None => return Ok(ConfirmOutcome::RateLimited),
        };
        let (result, _) = self
            .commit(customer, account, |account, now| {
                match account.apply_order_check(order.id(), check, now, &self.policy) {
                    Ok((change, result)) => (change, Ok(result)),
                    Err(stale) => (None, Err(stale)),
                }
            })
            .await?;
        match result {
            Ok(result) => {
                if result == ConfirmResult::Locked {
                    warn!("voice ordering locked after too many wrong codes");
                }
                Ok(result.into())
            }
            // Another request settled the order first: say how it ended.
            Err(Stale { order: id }) => Ok(match self.ports.store.order(&id).await? {
                Some(order) => settled_outcome(order),
                None => ConfirmOutcome::NoPendingOrder,
            }),
        }
    }

    /// Asks the code provider about `code`; `None` when it rate-limits us.
    async fn compare(
        &self,
        customer: &CustomerId,
        order: &Order,
        digest: Option<CodeDigest>,
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
            .check(customer, &destination, &purpose, digest, code)
            .await
        {
            Ok(check) => Ok(Some(check)),
            Err(CodeError::RateLimited) => Ok(None),
            Err(e) => Err(ServiceError::IdentityUnavailable(e.to_string())),
        }
    }

    /// Decides on `account` and commits the change, deciding again on the
    /// fresh account whenever another request committed first; then
    /// publishes the change's events. Returns the decision and the account
    /// as committed (or as last read, when nothing was to change).
    async fn commit<T>(
        &self,
        customer: &CustomerId,
        account: Account,
        decide: impl FnMut(&Account, Timestamp) -> (Option<Change>, T),
    ) -> Result<(T, Account), ServiceError> {
        let (outcome, account, events) = commit_account(
            self.ports.store.as_ref(),
            self.ports.clock.as_ref(),
            customer,
            account,
            decide,
        )
        .await?;
        self.publish(events).await;
        Ok((outcome, account))
    }

    async fn publish(&self, events: Vec<OrderEvent>) {
        for event in events {
            self.ports.events.publish(event).await;
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

    /// Lifts the customer's account lock and ends their run of wrong codes
    /// (an operator's unlock). `true` when there was a run to end.
    pub async fn unlock(&self, customer: &CustomerId) -> Result<bool, ServiceError> {
        let account = self.ports.store.load_account(customer).await?;
        let (lifted, _) = self
            .commit(customer, account, |account, _| {
                let change = account.unlock();
                let lifted = change.is_some();
                (change, lifted)
            })
            .await?;
        Ok(lifted)
    }
}

/// How many times a decision is made again after losing a race to another
/// request's commit. Each lost race means another request's change went
/// in, and every rule bounds how many changes can go in (attempts, sends),
/// so a request that loses this often is facing a flood.
pub(crate) const MAX_COMMIT_ATTEMPTS: usize = 16;

/// Decides on `account` and commits the change, deciding again on the
/// freshly loaded account after a [`StoreError::Conflict`]. Returns the
/// decision, the account as committed or last read, and the events to
/// publish.
pub(crate) async fn commit_account<T>(
    store: &dyn AccountStore,
    clock: &dyn Clock,
    customer: &CustomerId,
    mut account: Account,
    mut decide: impl FnMut(&Account, Timestamp) -> (Option<Change>, T),
) -> Result<(T, Account, Vec<OrderEvent>), ServiceError> {
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        let (change, outcome) = decide(&account, clock.now());
        let Some(change) = change else {
            return Ok((outcome, account, Vec::new()));
        };
        match store.commit(&change).await {
            Ok(()) => {
                let committed = change.account().clone();
                return Ok((outcome, committed, change.into_events()));
            }
            Err(StoreError::Conflict) => account = store.load_account(customer).await?,
            Err(other) => return Err(other.into()),
        }
    }
    warn!(%customer, "gave up after losing {MAX_COMMIT_ATTEMPTS} races for one account");
    Err(StoreError::Conflict.into())
}

fn refused(refusal: SendRefusal) -> PlaceOutcome {
    match refusal {
        SendRefusal::Locked => PlaceOutcome::Locked,
        SendRefusal::RateLimited => PlaceOutcome::RateLimited,
    }
}

impl From<ConfirmResult> for ConfirmOutcome {
    fn from(result: ConfirmResult) -> Self {
        match result {
            ConfirmResult::Confirmed(order) => ConfirmOutcome::Confirmed(order),
            ConfirmResult::WrongCode {
                order,
                attempts_left,
            } => ConfirmOutcome::WrongCode {
                order,
                attempts_left,
            },
            ConfirmResult::TooManyAttempts(order) => ConfirmOutcome::TooManyAttempts(order),
            ConfirmResult::Expired(order) => ConfirmOutcome::Expired(order),
            ConfirmResult::NoPendingOrder => ConfirmOutcome::NoPendingOrder,
            ConfirmResult::Locked => ConfirmOutcome::Locked,
        }
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

mod cancel;
mod skill_events;
pub use cancel::CancelOutcome;
pub use skill_events::{Disabled, LinkOutcome, SkillEvents};

#[cfg(test)]
mod interleavings;
#[cfg(test)]
pub(crate) mod tests;

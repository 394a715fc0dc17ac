use std::fmt;

use crate::{Channel, ConfirmationPolicy, CustomerId, Destination, Pizza, Timestamp};

/// The id of an order (a UUID in the shipped adapters; any short printable
/// string is accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(String);

impl OrderId {
    /// Validates and wraps an order id: 1 to 64 ASCII letters, digits, `-` or `_`.
    pub fn parse(id: impl Into<String>) -> Result<Self, OrderError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(OrderId(id))
        } else {
            Err(OrderError::InvalidId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the one-time-code check said about a spoken code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code is the one that was sent, and it is still valid.
    Valid,
    /// The code is wrong.
    Invalid,
    /// The code provider considers the code expired.
    Expired,
    /// The code provider refuses further attempts for this code.
    Locked,
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// The code's lifetime ran out before the right code was spoken.
    Expired,
    /// Too many wrong codes.
    TooManyAttempts,
    /// The customer placed a newer order.
    Superseded,
    /// The customer cancelled it.
    CancelledByCustomer,
    /// The code could not be delivered.
    CodeDeliveryFailed,
}

impl CancelReason {
    /// Every reason.
    pub const ALL: [CancelReason; 5] = [
        CancelReason::Expired,
        CancelReason::TooManyAttempts,
        CancelReason::Superseded,
        CancelReason::CancelledByCustomer,
        CancelReason::CodeDeliveryFailed,
    ];

    /// A stable snake_case name for storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Expired => "expired",
            CancelReason::TooManyAttempts => "too_many_attempts",
            CancelReason::Superseded => "superseded",
            CancelReason::CancelledByCustomer => "cancelled_by_customer",
            CancelReason::CodeDeliveryFailed => "code_delivery_failed",
        }
    }

    /// The inverse of [`CancelReason::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        CancelReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// An order waiting for its one-time code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingCode {
    channel: Channel,
    masked_destination: String,
    sent_at: Timestamp,
    expires_at: Timestamp,
    failed_attempts: u32,
}

impl AwaitingCode {
    /// The waiting state as stored.
    pub fn new(
        channel: Channel,
        masked_destination: String,
        sent_at: Timestamp,
        expires_at: Timestamp,
        failed_attempts: u32,
    ) -> Self {
        AwaitingCode {
            channel,
            masked_destination,
            sent_at,
            expires_at,
            failed_attempts,
        }
    }

    /// How the code was sent.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// Where it was sent, masked (see [`Destination::masked`]).
    pub fn masked_destination(&self) -> &str {
        &self.masked_destination
    }

    /// When it was sent.
    pub fn sent_at(&self) -> Timestamp {
        self.sent_at
    }

    /// The first moment at which the code no longer confirms.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Wrong codes spoken so far for this order.
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }
}

/// Where an order is in its life.
///
/// ```text
///                 valid code, now < expires_at
/// AwaitingCode ───────────────────────────────▶ Confirmed
///   │  ▲  wrong code (attempts < limit)
///   └──┘
///   │ wrong code at the limit, provider lock   ─▶ Cancelled(TooManyAttempts)
///   │ any check at or after expires_at          ─▶ Cancelled(Expired)
///   │ newer order / customer / delivery failed  ─▶ Cancelled(Superseded | ...)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// A code was sent; the order waits for it.
    AwaitingCode(AwaitingCode),
    /// The right code was spoken in time. Terminal.
    Confirmed {
        /// When.
        at: Timestamp,
    },
    /// The order will not be made. Terminal.
    Cancelled {
        /// When.
        at: Timestamp,
        /// Why.
        reason: CancelReason,
    },
}

impl OrderState {
    /// A stable name: `awaiting_code`, `confirmed` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            OrderState::AwaitingCode(_) => "awaiting_code",
            OrderState::Confirmed { .. } => "confirmed",
            OrderState::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether no transition leaves this state.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, OrderState::AwaitingCode(_))
    }
}

/// A pizza order and where it is in the confirm flow.
///
/// Orders change only through transition functions, which take `&self` and
/// return a new order with the version one higher, so a failed transition
/// leaves the order as it was and a store can detect lost updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    id: OrderId,
    customer: CustomerId,
    pizza: Pizza,
    placed_at: Timestamp,
    version: u64,
    state: OrderState,
}

/// A transition that did not apply; the order is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// The order is confirmed or cancelled; nothing changes it any more.
    Terminal {
        /// The state it is in.
        state: &'static str,
    },
    /// An order id was empty, too long or had characters outside `[A-Za-z0-9_-]`.
    InvalidId,
    /// A stored order had version 0 (versions start at 1).
    InvalidVersion,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::Terminal { state } => {
                write!(f, "the order is {state} and can no longer change")
            }
            OrderError::InvalidId => {
                f.write_str("an order id must be 1 to 64 characters of [A-Za-z0-9_-]")
            }
            OrderError::InvalidVersion => f.write_str("order versions start at 1"),
        }
    }
}

impl std::error::Error for OrderError {}

/// What happened to an order, for whoever watches (the live web page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    /// A new order awaits its code.
    Placed(Order),
    /// An order was confirmed.
    Confirmed(Order),
    /// An order was cancelled.
    Cancelled(Order),
}

impl OrderEvent {
    /// The order as it is after the event.
    pub fn order(&self) -> &Order {
        match self {
            OrderEvent::Placed(o) | OrderEvent::Confirmed(o) | OrderEvent::Cancelled(o) => o,
        }
    }

    /// A stable name: `placed`, `confirmed`, `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            OrderEvent::Placed(_) => "placed",
            OrderEvent::Confirmed(_) => "confirmed",
            OrderEvent::Cancelled(_) => "cancelled",
        }
    }
}

/// What a code check did to an awaiting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmStep {
    /// The order is confirmed.
    Confirmed,
    /// The code was wrong; the order still waits.
    WrongCode {
        /// Wrong codes the order still takes before it is cancelled (≥ 1).
        attempts_left: u32,
    },
    /// The code was wrong once too often (or the provider locked it); the
    /// order is cancelled.
    CancelledTooManyAttempts,
    /// The code's lifetime had run out; the order is cancelled.
    Expired,
}

/// The result of a transition: the new order, what happened, and the event
/// to publish (none when the order only counted a wrong code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The order after the transition, its version one higher.
    pub order: Order,
    /// What the transition did.
    pub step: ConfirmStep,
    /// The event to publish, if the order changed state.
    pub event: Option<OrderEvent>,
}

impl Order {
    /// A new order whose code was just sent to `destination` at `now`.
    pub(crate) fn place(
        id: OrderId,
        customer: CustomerId,
        pizza: Pizza,
        destination: &Destination,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> (Order, OrderEvent) {
        let state = OrderState::AwaitingCode(AwaitingCode {
            channel: destination.channel(),
            masked_destination: destination.masked(),
            sent_at: now,
            expires_at: now.plus(policy.code_lifetime()),
            failed_attempts: 0,
        });
        let order = Order {
            id,
            customer,
            pizza,
            placed_at: now,
            version: 1,
            state,
        };
        (order.clone(), OrderEvent::Placed(order))
    }

    /// An order as a store kept it. Versions start at 1.
    pub fn restore(
        id: OrderId,
        customer: CustomerId,
        pizza: Pizza,
        placed_at: Timestamp,
        version: u64,
        state: OrderState,
    ) -> Result<Order, OrderError> {
        if version == 0 {
            return Err(OrderError::InvalidVersion);
        }
        Ok(Order {
            id,
            customer,
            pizza,
            placed_at,
            version,
            state,
        })
    }

    /// The id.
    pub fn id(&self) -> &OrderId {
        &self.id
    }

    /// Whose order it is.
    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    /// What was ordered.
    pub fn pizza(&self) -> &Pizza {
        &self.pizza
    }

    /// When it was placed.
    pub fn placed_at(&self) -> Timestamp {
        self.placed_at
    }

    /// Grows by one with every transition; stores use it to detect lost updates.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The state.
    pub fn state(&self) -> &OrderState {
        &self.state
    }

    /// The waiting state, if the order still waits for its code.
    pub fn awaiting(&self) -> Option<&AwaitingCode> {
        match &self.state {
            OrderState::AwaitingCode(waiting) => Some(waiting),
            _ => None,
        }
    }

    /// Whether the order waits for a code whose lifetime has run out at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.awaiting().is_some_and(|w| now >= w.expires_at)
    }

    /// Applies the result of checking a spoken code at `now`.
    ///
    /// At or after `expires_at` the order is cancelled as expired whatever the
    /// check said. Before it, a valid code confirms; a wrong code counts, and
    /// cancels the order when it reaches the policy's attempt limit; a
    /// provider's `Expired` or `Locked` cancels it. On a confirmed or
    /// cancelled order this is an error and nothing changes.
    pub(crate) fn check_code(
        &self,
        check: CodeCheck,
        now: Timestamp,
        policy: &ConfirmationPolicy,
    ) -> Result<Transition, OrderError> {
        let waiting = self.awaiting_or_terminal_error()?;
        if now >= waiting.expires_at {
            return Ok(self.cancelled(CancelReason::Expired, now, ConfirmStep::Expired));
        }
        Ok(match check {
            CodeCheck::Valid => {
                let order = self.next(OrderState::Confirmed { at: now });
                Transition {
                    event: Some(OrderEvent::Confirmed(order.clone())),
                    order,
                    step: ConfirmStep::Confirmed,
                }
            }
            CodeCheck::Expired => self.cancelled(CancelReason::Expired, now, ConfirmStep::Expired),
            CodeCheck::Locked => self.cancelled(
                CancelReason::TooManyAttempts,
                now,
                ConfirmStep::CancelledTooManyAttempts,
            ),
            CodeCheck::Invalid => {
                let failed = waiting.failed_attempts.saturating_add(1);
                if failed >= policy.max_failed_attempts() {
                    self.cancelled(
                        CancelReason::TooManyAttempts,
                        now,
                        ConfirmStep::CancelledTooManyAttempts,
                    )
                } else {
                    let order = self.next(OrderState::AwaitingCode(AwaitingCode {
                        failed_attempts: failed,
                        ..waiting.clone()
                    }));
                    Transition {
                        order,
                        step: ConfirmStep::WrongCode {
                            attempts_left: policy.max_failed_attempts() - failed,
                        },
                        event: None,
                    }
                }
            }
        })
    }

    /// Cancels an awaiting order for `reason` at `now`. An error on a
    /// confirmed or cancelled order, which stays as it was.
    pub(crate) fn cancel(
        &self,
        reason: CancelReason,
        now: Timestamp,
    ) -> Result<(Order, OrderEvent), OrderError> {
        self.awaiting_or_terminal_error()?;
        let order = self.next(OrderState::Cancelled { at: now, reason });
        Ok((order.clone(), OrderEvent::Cancelled(order)))
    }

    fn awaiting_or_terminal_error(&self) -> Result<&AwaitingCode, OrderError> {
        self.awaiting().ok_or(OrderError::Terminal {
            state: self.state.name(),
        })
    }

    fn cancelled(&self, reason: CancelReason, now: Timestamp, step: ConfirmStep) -> Transition {
        let order = self.next(OrderState::Cancelled { at: now, reason });
        Transition {
            event: Some(OrderEvent::Cancelled(order.clone())),
            order,
            step,
        }
    }

    fn next(&self, state: OrderState) -> Order {
        Order {
            state,
            version: self.version + 1,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PizzaSize, Topping};
    use proptest::prelude::*;
    use std::time::Duration;

    const T0: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);

    fn placed(policy: &ConfirmationPolicy) -> Order {
        let pizza = Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap();
        let customer = CustomerId::parse("local|demo").unwrap();
        Order::place(
            OrderId::parse("o1").unwrap(),
            customer,
            pizza,
            &Destination::sms("+15550100"),
            T0,
            policy,
        )
        .0
    }

    fn at(seconds: u64) -> Timestamp {
        T0.plus(Duration::from_secs(seconds))
    }

    fn cancelled(at: Timestamp, reason: CancelReason) -> OrderState {
        OrderState::Cancelled { at, reason }
    }

    #[test]
    fn a_valid_code_in_time_confirms() {
        let policy = ConfirmationPolicy::default();
        let order = placed(&policy);
        let waiting = order.awaiting().unwrap();
        assert_eq!(
            (waiting.channel(), waiting.masked_destination()),
            (Channel::Sms, "***00")
        );
        assert_eq!(waiting.expires_at(), at(300));
        let t = order
            .check_code(CodeCheck::Valid, at(299), &policy)
            .unwrap();
        assert_eq!(t.step, ConfirmStep::Confirmed);
        assert_eq!(t.order.state(), &OrderState::Confirmed { at: at(299) });
        assert_eq!(t.order.version(), 2);
        assert!(matches!(t.event, Some(OrderEvent::Confirmed(_))));
    }

    #[test]
    fn a_valid_code_at_expiry_does_not_confirm() {
        let policy = ConfirmationPolicy::default();
        let t = placed(&policy)
            .check_code(CodeCheck::Valid, at(300), &policy)
            .unwrap();
        assert_eq!(t.step, ConfirmStep::Expired);
        assert_eq!(t.order.state(), &cancelled(at(300), CancelReason::Expired));
    }

    #[test]
    fn wrong_codes_count_down_then_cancel() {
        let policy = ConfirmationPolicy::default();
        let mut order = placed(&policy);
        for left in [2, 1] {
            let t = order
                .check_code(CodeCheck::Invalid, at(10), &policy)
                .unwrap();
            assert_eq!(
                t.step,
                ConfirmStep::WrongCode {
                    attempts_left: left
                }
            );
            assert_eq!(t.event, None);
            order = t.order;
        }
        let t = order
            .check_code(CodeCheck::Invalid, at(11), &policy)
            .unwrap();
        assert_eq!(t.step, ConfirmStep::CancelledTooManyAttempts);
        assert_eq!(
            t.order.state(),
            &cancelled(at(11), CancelReason::TooManyAttempts)
        );
        assert_eq!(t.order.version(), 4);
    }

    #[test]
    fn provider_outcomes_cancel() {
        let policy = ConfirmationPolicy::default();
        let order = placed(&policy);
        assert_eq!(
            order
                .check_code(CodeCheck::Locked, at(1), &policy)
                .unwrap()
                .step,
            ConfirmStep::CancelledTooManyAttempts
        );
        assert_eq!(
            order
                .check_code(CodeCheck::Expired, at(1), &policy)
                .unwrap()
                .step,
            ConfirmStep::Expired
        );
    }

    #[test]
    fn terminal_orders_refuse_every_transition() {
        let policy = ConfirmationPolicy::default();
        let confirmed = placed(&policy)
            .check_code(CodeCheck::Valid, at(1), &policy)
            .unwrap()
            .order;
        let (cancelled, event) = placed(&policy)
            .cancel(CancelReason::Superseded, at(1))
            .unwrap();
        assert_eq!(event.name(), "cancelled");
        for order in [confirmed, cancelled] {
            let before = order.clone();
            assert!(matches!(
                order.check_code(CodeCheck::Valid, at(2), &policy),
                Err(OrderError::Terminal { .. })
            ));
            assert!(matches!(
                order.cancel(CancelReason::CancelledByCustomer, at(2)),
                Err(OrderError::Terminal { .. })
            ));
            assert_eq!(order, before);
        }
    }

    #[test]
    fn ids_and_reasons_round_trip() {
        assert!(OrderId::parse("").is_err());
        assert!(OrderId::parse("a b").is_err());
        assert!(OrderId::parse("x".repeat(65)).is_err());
        for reason in CancelReason::ALL {
            assert_eq!(CancelReason::from_name(reason.as_str()), Some(reason));
        }
        assert!(
            Order::restore(
                OrderId::parse("o").unwrap(),
                CustomerId::parse("c").unwrap(),
                Pizza::new(PizzaSize::Small, []).unwrap(),
                T0,
                0,
                OrderState::Confirmed { at: T0 },
            )
            .is_err()
        );
    }

    #[derive(Debug, Clone)]
    enum Step {
        Check(CodeCheck, u64),
        Cancel(u64),
    }

    fn any_step() -> impl Strategy<Value = Step> {
        let check = prop_oneof![
            Just(CodeCheck::Valid),
            Just(CodeCheck::Invalid),
            Just(CodeCheck::Invalid),
            Just(CodeCheck::Expired),
            Just(CodeCheck::Locked),
        ];
        prop_oneof![
            8 => (check, 0u64..600).prop_map(|(c, t)| Step::Check(c, t)),
            1 => (0u64..600).prop_map(Step::Cancel),
        ]
    }

    proptest! {
        #[test]
        fn the_state_machine_keeps_its_invariants(
            attempts in 1u32..=10,
            steps in proptest::collection::vec(any_step(), 0..30),
        ) {
            let policy = ConfirmationPolicy::default().with_max_failed_attempts(attempts).unwrap();
            let mut order = placed(&policy);
            let expires_at = order.awaiting().unwrap().expires_at();
            for step in steps {
                let before = order.clone();
                let result = match step {
                    Step::Check(check, secs) => order.check_code(check, at(secs), &policy).map(|t| (t, Some((check, at(secs))))),
                    Step::Cancel(secs) => order.cancel(CancelReason::CancelledByCustomer, at(secs))
                        .map(|(order, event)| (Transition { order, step: ConfirmStep::Expired, event: Some(event) }, None)),
                };
                match result {
                    Err(OrderError::Terminal { .. }) => {
                        prop_assert!(before.state().is_terminal(), "only terminal orders refuse");
                    }
                    Err(other) => prop_assert!(false, "unexpected error {other}"),
                    Ok((t, check)) => {
                        prop_assert!(!before.state().is_terminal(), "terminal states never change");
                        prop_assert_eq!(t.order.version(), before.version() + 1, "versions grow by one");
                        if let OrderState::Confirmed { at } = t.order.state() {
                            let (check, when) = check.expect("only a code check confirms");
                            prop_assert_eq!(check, CodeCheck::Valid);
                            prop_assert!(when < expires_at, "confirmed strictly before expiry");
                            prop_assert_eq!(*at, when);
                        }
                        if let Some(waiting) = t.order.awaiting() {
                            prop_assert!(waiting.failed_attempts() < policy.max_failed_attempts(), "failed attempts stay under the limit while waiting");
                        }
                        prop_assert_eq!(t.event.is_some(), t.order.state().is_terminal());
                        order = t.order;
                    }
                }
            }
        }
    }
}

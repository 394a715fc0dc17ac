//! The service against `mockall` mocks of every port.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pod_domain::{
    CancelReason, Channel, CodeCheck, ConfirmationPolicy, ContactPoints, CustomerId,
    CustomerLockout, Destination, Order, OrderEvent, OrderId, OrderState, Pizza, PizzaSize,
    Timestamp, Topping,
};

use super::*;
use crate::{
    MockAccessTokens, MockClock, MockCustomerDirectory, MockOneTimeCodes, MockOrderEvents,
    MockOrderIds, MockOrderStore,
};

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);
const TOKEN: &str = "token-of-demo";

fn demo() -> CustomerId {
    CustomerId::parse("local|demo").unwrap()
}

fn pizza() -> Pizza {
    Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap()
}

fn code() -> OneTimeCode {
    OneTimeCode::parse("1234").unwrap()
}

fn pending(id: &str, failed_attempts: u32) -> Order {
    let (order, _) = Order::place(
        OrderId::parse(id).unwrap(),
        demo(),
        pizza(),
        &Destination::sms("+15550100"),
        T0,
        &ConfirmationPolicy::default(),
    );
    let waiting = order.awaiting().unwrap().clone();
    let state = OrderState::AwaitingCode(pod_domain::AwaitingCode::new(
        waiting.channel(),
        waiting.masked_destination().to_owned(),
        waiting.sent_at(),
        waiting.expires_at(),
        failed_attempts,
    ));
    Order::restore(order.id().clone(), demo(), pizza(), T0, 1, state).unwrap()
}

/// Mocks of every port, with the calls most tests share already expected:
/// a valid token, the clock at `T0 + 10 s`, contact points with a phone.
struct Mocks {
    tokens: MockAccessTokens,
    directory: MockCustomerDirectory,
    codes: MockOneTimeCodes,
    store: MockOrderStore,
    events: MockOrderEvents,
    clock: MockClock,
    ids: MockOrderIds,
    published: Arc<Mutex<Vec<OrderEvent>>>,
}

impl Mocks {
    fn new() -> Self {
        let mut m = Mocks {
            tokens: MockAccessTokens::new(),
            directory: MockCustomerDirectory::new(),
            codes: MockOneTimeCodes::new(),
            store: MockOrderStore::new(),
            events: MockOrderEvents::new(),
            clock: MockClock::new(),
            ids: MockOrderIds::new(),
            published: Arc::default(),
        };
        m.tokens
            .expect_customer_for_token()
            .withf(|t| t == TOKEN)
            .returning(|_| Ok(demo()));
        m.clock
            .expect_now()
            .returning(|| T0.plus(Duration::from_secs(10)));
        m.directory.expect_contact_points().returning(|_| {
            Ok(ContactPoints {
                email: Some("demo@example.com".into()),
                phone: Some("+15550100".into()),
            })
        });
        let published = m.published.clone();
        m.events
            .expect_publish()
            .returning(move |e| published.lock().unwrap().push(e));
        m
    }

    fn unlocked(mut self) -> Self {
        self.store
            .expect_lockout()
            .returning(|_| Ok(CustomerLockout::default()));
        self
    }

    fn service(self) -> (OrderingService, Arc<Mutex<Vec<OrderEvent>>>) {
        let ports = Ports {
            tokens: Arc::new(self.tokens),
            directory: Arc::new(self.directory),
            codes: Arc::new(self.codes),
            store: Arc::new(self.store),
            events: Arc::new(self.events),
            clock: Arc::new(self.clock),
            ids: Arc::new(self.ids),
        };
        (
            OrderingService::new(ports, ConfirmationPolicy::default()),
            self.published,
        )
    }

    /// Expectations for a placement that gets as far as sending the code.
    fn placing(mut self, sent_this_hour: u32, pending_order: Option<Order>) -> Self {
        self.store
            .expect_codes_sent_since()
            .returning(move |_, since| {
                assert_eq!(
                    since,
                    T0.plus(Duration::from_secs(10))
                        .minus(ConfirmationPolicy::SEND_WINDOW)
                );
                Ok(sent_this_hour)
            });
        self.directory
            .expect_ensure_passwordless_identity()
            .returning(|_, d| {
                assert_eq!(d.channel(), Channel::Sms);
                Ok(())
            });
        self.store
            .expect_pending_order()
            .returning(move |_| Ok(pending_order.clone()));
        self.ids
            .expect_new_order_id()
            .returning(|| OrderId::parse("new").unwrap());
        self.store.expect_insert_order().times(1).returning(|o| {
            assert!(o.awaiting().is_some());
            Ok(())
        });
        self.store
            .expect_record_code_sent()
            .times(1)
            .returning(|_, _| Ok(()));
        self
    }
}

#[tokio::test]
async fn a_missing_or_rejected_token_is_not_linked() {
    let mut m = Mocks::new();
    m.tokens = MockAccessTokens::new();
    m.tokens
        .expect_customer_for_token()
        .times(1)
        .returning(|_| Err(TokenError::Invalid("expired".into())));
    let (service, _) = m.service();
    assert_eq!(
        service.place_order(None, pizza()).await.unwrap(),
        PlaceOutcome::NotLinked
    );
    assert_eq!(
        service.place_order(Some("  "), pizza()).await.unwrap(),
        PlaceOutcome::NotLinked
    );
    assert_eq!(
        service.confirm_order(Some("bad"), &code()).await.unwrap(),
        ConfirmOutcome::NotLinked
    );
}

#[tokio::test]
async fn an_unreachable_token_verifier_is_an_error_not_a_link_prompt() {
    let mut m = Mocks::new();
    m.tokens = MockAccessTokens::new();
    m.tokens
        .expect_customer_for_token()
        .returning(|_| Err(TokenError::Unavailable("jwks down".into())));
    let (service, _) = m.service();
    let error = service.place_order(Some(TOKEN), pizza()).await.unwrap_err();
    assert!(
        matches!(error, ServiceError::IdentityUnavailable(_)),
        "{error}"
    );
}

#[tokio::test]
async fn placing_stores_the_order_sends_the_code_and_publishes() {
    let mut m = Mocks::new().unlocked().placing(4, None);
    m.codes
        .expect_send_code()
        .times(1)
        .returning(|customer, destination, purpose| {
            assert_eq!(customer, &demo());
            assert_eq!(destination, &Destination::sms("+15550100"));
            assert_eq!(
                purpose,
                &CodePurpose::ConfirmOrder(OrderId::parse("new").unwrap())
            );
            Ok(())
        });
    let (service, published) = m.service();
    let outcome = service.place_order(Some(TOKEN), pizza()).await.unwrap();
    let PlaceOutcome::Placed {
        order,
        superseded: None,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(order.awaiting().unwrap().channel(), Channel::Sms);
    assert_eq!(order.awaiting().unwrap().masked_destination(), "***00");
    let names: Vec<_> = published
        .lock()
        .unwrap()
        .iter()
        .map(OrderEvent::name)
        .collect();
    assert_eq!(names, ["placed"]);
}

#[tokio::test]
async fn a_new_order_supersedes_the_pending_one() {
    let old = pending("old", 0);
    let mut m = Mocks::new().unlocked().placing(0, Some(old.clone()));
    m.store
        .expect_update_order()
        .times(1)
        .returning(|o, expected| {
            assert_eq!(expected, 1);
            assert!(matches!(
                o.state(),
                OrderState::Cancelled {
                    reason: CancelReason::Superseded,
                    ..
                }
            ));
            Ok(())
        });
    m.codes.expect_send_code().returning(|_, _, _| Ok(()));
    let (service, published) = m.service();
    let outcome = service.place_order(Some(TOKEN), pizza()).await.unwrap();
    let PlaceOutcome::Placed {
        superseded: Some(superseded),
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(&superseded, old.id());
    let names: Vec<_> = published
        .lock()
        .unwrap()
        .iter()
        .map(OrderEvent::name)
        .collect();
    assert_eq!(names, ["cancelled", "placed"]);
}

#[tokio::test]
async fn a_failed_send_cancels_the_order_and_says_so() {
    let mut m = Mocks::new().unlocked().placing(0, None);
    m.codes
        .expect_send_code()
        .returning(|_, _, _| Err(CodeError::DeliveryFailed("smtp down".into())));
    m.store
        .expect_update_order()
        .times(1)
        .returning(|o, expected| {
            assert_eq!(expected, 1);
            assert!(matches!(
                o.state(),
                OrderState::Cancelled {
                    reason: CancelReason::CodeDeliveryFailed,
                    ..
                }
            ));
            Ok(())
        });
    let (service, published) = m.service();
    let error = service.place_order(Some(TOKEN), pizza()).await.unwrap_err();
    assert!(matches!(error, ServiceError::CodeDelivery(_)), "{error}");
    let names: Vec<_> = published
        .lock()
        .unwrap()
        .iter()
        .map(OrderEvent::name)
        .collect();
    assert_eq!(
        names,
        ["cancelled"],
        "no placed event for an order whose code never went out"
    );
}

#[tokio::test]
async fn placing_refuses_when_locked_rate_limited_or_unreachable() {
    // Locked: nothing else is asked.
    let mut m = Mocks::new();
    m.store
        .expect_lockout()
        .returning(|_| Ok(CustomerLockout::with_failures(10)));
    let (service, _) = m.service();
    assert_eq!(
        service.place_order(Some(TOKEN), pizza()).await.unwrap(),
        PlaceOutcome::Locked
    );

    // Five codes this hour: the sixth is refused before anything is stored.
    let mut m = Mocks::new().unlocked();
    m.store.expect_codes_sent_since().returning(|_, _| Ok(5));
    let (service, _) = m.service();
    assert_eq!(
        service.place_order(Some(TOKEN), pizza()).await.unwrap(),
        PlaceOutcome::RateLimited
    );

    // No phone and no email.
    let mut m = Mocks::new().unlocked();
    m.store.expect_codes_sent_since().returning(|_, _| Ok(0));
    m.directory = MockCustomerDirectory::new();
    m.directory
        .expect_contact_points()
        .returning(|_| Ok(ContactPoints::default()));
    let (service, _) = m.service();
    assert_eq!(
        service.place_order(Some(TOKEN), pizza()).await.unwrap(),
        PlaceOutcome::NoContactPoint
    );

    // The directory is down.
    let mut m = Mocks::new().unlocked();
    m.store.expect_codes_sent_since().returning(|_, _| Ok(0));
    m.directory = MockCustomerDirectory::new();
    m.directory
        .expect_contact_points()
        .returning(|_| Err(DirectoryError::Unavailable("503".into())));
    let (service, _) = m.service();
    let error = service.place_order(Some(TOKEN), pizza()).await.unwrap_err();
    assert!(matches!(error, ServiceError::IdentityUnavailable(_)));

    // The store is down.
    let mut m = Mocks::new();
    m.store
        .expect_lockout()
        .returning(|_| Err(StoreError::Unavailable("disk".into())));
    let (service, _) = m.service();
    let error = service.place_order(Some(TOKEN), pizza()).await.unwrap_err();
    assert!(matches!(
        error,
        ServiceError::Storage(StoreError::Unavailable(_))
    ));
}

/// Expectations for confirming `order` whose code check says `check`.
fn confirming(order: Order, check: CodeCheck) -> Mocks {
    let mut m = Mocks::new().unlocked();
    m.store
        .expect_pending_order()
        .returning(move |_| Ok(Some(order.clone())));
    m.codes.expect_verify_code().times(1).returning(
        move |customer, destination, purpose, spoken| {
            assert_eq!(customer, &demo());
            assert_eq!(destination, &Destination::sms("+15550100"));
            assert!(matches!(purpose, CodePurpose::ConfirmOrder(_)));
            assert_eq!(spoken.expose(), "1234");
            Ok(check)
        },
    );
    m
}

#[tokio::test]
async fn the_right_code_confirms_and_clears_the_lockout() {
    let mut m = confirming(pending("o1", 1), CodeCheck::Valid);
    m.store
        .expect_clear_lockout()
        .times(1)
        .returning(|_| Ok(()));
    m.store
        .expect_update_order()
        .times(1)
        .returning(|o, expected| {
            assert_eq!((expected, o.version()), (1, 2));
            Ok(())
        });
    let (service, published) = m.service();
    let outcome = service.confirm_order(Some(TOKEN), &code()).await.unwrap();
    let ConfirmOutcome::Confirmed(order) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(matches!(order.state(), OrderState::Confirmed { .. }));
    assert_eq!(published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_wrong_code_counts_against_order_and_customer() {
    let cases = [
        (0, ConfirmOutcomeKind::WrongCode(2)),
        (1, ConfirmOutcomeKind::WrongCode(1)),
        (2, ConfirmOutcomeKind::TooMany),
    ];
    for (failed_before, expected) in cases {
        let mut m = confirming(pending("o1", failed_before), CodeCheck::Invalid);
        m.store
            .expect_record_failed_attempt()
            .times(1)
            .returning(|_| Ok(CustomerLockout::with_failures(3)));
        m.store
            .expect_update_order()
            .times(1)
            .returning(|_, _| Ok(()));
        let (service, published) = m.service();
        let outcome = service.confirm_order(Some(TOKEN), &code()).await.unwrap();
        assert_eq!(
            ConfirmOutcomeKind::of(&outcome),
            expected,
            "after {failed_before} failures"
        );
        let expected_events = usize::from(expected == ConfirmOutcomeKind::TooMany);
        assert_eq!(published.lock().unwrap().len(), expected_events);
    }
}

#[tokio::test]
async fn the_failure_that_reaches_the_lockout_cancels_the_order_and_locks() {
    let mut m = confirming(pending("o1", 0), CodeCheck::Invalid);
    m.store
        .expect_record_failed_attempt()
        .returning(|_| Ok(CustomerLockout::with_failures(10)));
    m.store.expect_update_order().times(1).returning(|o, _| {
        assert!(matches!(
            o.state(),
            OrderState::Cancelled {
                reason: CancelReason::TooManyAttempts,
                ..
            }
        ));
        Ok(())
    });
    let (service, published) = m.service();
    assert_eq!(
        service.confirm_order(Some(TOKEN), &code()).await.unwrap(),
        ConfirmOutcome::Locked
    );
    assert_eq!(published.lock().unwrap()[0].name(), "cancelled");
}

#[tokio::test]
async fn a_locked_customer_gets_no_code_check() {
    let mut m = Mocks::new();
    m.store
        .expect_lockout()
        .returning(|_| Ok(CustomerLockout::with_failures(10)));
    m.codes.expect_verify_code().never();
    let (service, _) = m.service();
    assert_eq!(
        service.confirm_order(Some(TOKEN), &code()).await.unwrap(),
        ConfirmOutcome::Locked
    );
}

#[tokio::test]
async fn an_overdue_order_expires_without_asking_the_provider() {
    let mut m = Mocks::new().unlocked();
    m.clock = MockClock::new();
    m.clock
        .expect_now()
        .returning(|| T0.plus(Duration::from_secs(300)));
    m.store
        .expect_pending_order()
        .returning(|_| Ok(Some(pending("o1", 0))));
    m.codes.expect_verify_code().never();
    m.store.expect_update_order().times(1).returning(|o, _| {
        assert!(matches!(
            o.state(),
            OrderState::Cancelled {
                reason: CancelReason::Expired,
                ..
            }
        ));
        Ok(())
    });
    let (service, _) = m.service();
    let outcome = service.confirm_order(Some(TOKEN), &code()).await.unwrap();
    assert_eq!(
        ConfirmOutcomeKind::of(&outcome),
        ConfirmOutcomeKind::Expired
    );
}

#[tokio::test]
async fn no_pending_order_and_provider_rate_limits_change_nothing() {
    let mut m = Mocks::new().unlocked();
    m.store.expect_pending_order().returning(|_| Ok(None));
    let (service, _) = m.service();
    assert_eq!(
        service.confirm_order(Some(TOKEN), &code()).await.unwrap(),
        ConfirmOutcome::NoPendingOrder
    );

    let mut m = Mocks::new().unlocked();
    m.store
        .expect_pending_order()
        .returning(|_| Ok(Some(pending("o1", 0))));
    m.codes
        .expect_verify_code()
        .returning(|_, _, _, _| Err(CodeError::RateLimited));
    m.store.expect_update_order().never();
    let (service, _) = m.service();
    assert_eq!(
        service.confirm_order(Some(TOKEN), &code()).await.unwrap(),
        ConfirmOutcome::RateLimited
    );
}

#[tokio::test]
async fn two_right_codes_at_once_confirm_exactly_once() {
    // A store that behaves like the SQL one: an update names the version it
    // read and loses when the stored version moved on.
    let stored = Arc::new(Mutex::new(pending("o1", 0)));
    let mut m = Mocks::new().unlocked();
    // Both requests read the pending order before either writes: the
    // interleaving that makes the second write lose.
    m.store
        .expect_pending_order()
        .returning(|_| Ok(Some(pending("o1", 0))));
    m.codes
        .expect_verify_code()
        .times(2)
        .returning(|_, _, _, _| Ok(CodeCheck::Valid));
    m.store.expect_clear_lockout().returning(|_| Ok(()));
    let s = stored.clone();
    m.store
        .expect_update_order()
        .returning(move |order, expected| {
            let mut current = s.lock().unwrap();
            if current.version() != expected {
                return Err(StoreError::Conflict);
            }
            *current = order.clone();
            Ok(())
        });
    let s = stored.clone();
    m.store
        .expect_order()
        .returning(move |_| Ok(Some(s.lock().unwrap().clone())));
    let (service, published) = m.service();
    let spoken = code();
    let (a, b) = tokio::join!(
        service.confirm_order(Some(TOKEN), &spoken),
        service.confirm_order(Some(TOKEN), &spoken)
    );
    let mut kinds = [
        ConfirmOutcomeKind::of(&a.unwrap()),
        ConfirmOutcomeKind::of(&b.unwrap()),
    ];
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        kinds,
        [
            ConfirmOutcomeKind::AlreadyConfirmed,
            ConfirmOutcomeKind::Confirmed
        ]
    );
    assert_eq!(
        published.lock().unwrap().len(),
        1,
        "one confirmation, one event"
    );
    assert!(matches!(
        stored.lock().unwrap().state(),
        OrderState::Confirmed { .. }
    ));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConfirmOutcomeKind {
    Confirmed,
    AlreadyConfirmed,
    WrongCode(u32),
    TooMany,
    Expired,
    Other,
}

impl ConfirmOutcomeKind {
    fn of(outcome: &ConfirmOutcome) -> Self {
        match outcome {
            ConfirmOutcome::Confirmed(_) => Self::Confirmed,
            ConfirmOutcome::AlreadyConfirmed(_) => Self::AlreadyConfirmed,
            ConfirmOutcome::WrongCode { attempts_left, .. } => Self::WrongCode(*attempts_left),
            ConfirmOutcome::TooManyAttempts(_) => Self::TooMany,
            ConfirmOutcome::Expired(_) => Self::Expired,
            _ => Self::Other,
        }
    }
}

//! The service against an in-memory store (the one the store contract
//! suite checks), `mockall` mocks of the identity ports, and a fake code
//! provider that compares digests the way the local codes do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pod_domain::{
    CancelReason, CodeCheck, CodeDigest, ConfirmationPolicy, ContactPoints, CustomerId,
    Destination, OrderEvent, OrderId, OrderState, Pizza, PizzaSize, Timestamp, Topping,
};
use tokio::sync::Barrier;

use super::*;
use crate::testing::{CountingStore, ManualClock, MemoryStore, RoundTrips, SequentialIds};
use crate::{MockAccessTokens, MockCustomerDirectory, MockOneTimeCodes, MockOrderEvents, NewCode};

pub(crate) const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);
const TOKEN: &str = "token-of-demo";
pub(crate) const RIGHT: &str = "1234";
pub(crate) const WRONG: &str = "0000";

pub(crate) fn demo() -> CustomerId {
    CustomerId::parse("local|demo").unwrap()
}

fn pizza() -> Pizza {
    Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap()
}

pub(crate) fn code(digits: &str) -> OneTimeCode {
    OneTimeCode::parse(digits).unwrap()
}

/// Codes as pod's local codes make them: always `1234` here, kept as a
/// digest bound to customer and purpose; comparisons are counted.
#[derive(Debug, Default)]
pub(crate) struct FakeCodes {
    pub(crate) comparisons: AtomicUsize,
    pub(crate) delivered: Mutex<Vec<(CustomerId, String)>>,
    pub(crate) fail_delivery: bool,
}

pub(crate) fn digest_of(customer: &CustomerId, purpose: &CodePurpose, spoken: &str) -> CodeDigest {
    let order = match purpose {
        CodePurpose::ConfirmOrder(id) => id.to_string(),
        CodePurpose::SignIn => "sign-in".to_owned(),
    };
    CodeDigest::new(format!("{customer}/{order}/{spoken}").into_bytes())
}

#[async_trait]
impl OneTimeCodes for FakeCodes {
    fn issue(&self, customer: &CustomerId, purpose: &CodePurpose) -> NewCode {
        NewCode {
            digest: Some(digest_of(customer, purpose, RIGHT)),
            code: Some(code(RIGHT)),
        }
    }

    async fn deliver(
        &self,
        customer: &CustomerId,
        _destination: &Destination,
        purpose: &CodePurpose,
        _code: &NewCode,
    ) -> Result<(), CodeError> {
        if self.fail_delivery {
            return Err(CodeError::DeliveryFailed("gateway down".into()));
        }
        self.delivered
            .lock()
            .unwrap()
            .push((customer.clone(), purpose.kind().to_owned()));
        Ok(())
    }

    async fn check(
        &self,
        customer: &CustomerId,
        _destination: &Destination,
        purpose: &CodePurpose,
        digest: Option<CodeDigest>,
        spoken: &OneTimeCode,
    ) -> Result<CodeCheck, CodeError> {
        self.comparisons.fetch_add(1, Ordering::SeqCst);
        Ok(
            if digest == Some(digest_of(customer, purpose, spoken.expose())) {
                CodeCheck::Valid
            } else {
                CodeCheck::Invalid
            },
        )
    }
}

/// A store whose first `n` account loads wait for each other: every request
/// has read the account before any of them commits, the interleaving in
/// which "check in one statement, write in another" breaks a rule.
#[derive(Debug)]
pub(crate) struct LoadTogether {
    pub(crate) inner: MemoryStore,
    waiting: AtomicUsize,
    barrier: Mutex<Arc<Barrier>>,
}

impl LoadTogether {
    pub(crate) fn new(inner: MemoryStore, n: usize) -> Self {
        let gate = LoadTogether {
            inner,
            waiting: AtomicUsize::new(0),
            barrier: Mutex::new(Arc::new(Barrier::new(1))),
        };
        gate.arm(n);
        gate
    }

    /// The next `n` loads wait for each other.
    pub(crate) fn arm(&self, n: usize) {
        *self.barrier.lock().unwrap() = Arc::new(Barrier::new(n.max(1)));
        self.waiting.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl AccountStore for LoadTogether {
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        let account = self.inner.load_account(customer).await;
        let first_loads = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if first_loads {
            let barrier = self.barrier.lock().unwrap().clone();
            barrier.wait().await;
        }
        account
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.inner.commit(change).await
    }
    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.inner.order(id).await
    }
    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        self.inner.orders_of(customer).await
    }
    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        self.inner.clear_confirmed(customer).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

pub(crate) fn directory() -> MockCustomerDirectory {
    let mut directory = MockCustomerDirectory::new();
    directory.expect_contact_points().returning(|_| {
        Ok(ContactPoints {
            email: Some("demo@example.com".into()),
            phone: Some("+15550100".into()),
        })
    });
    directory
        .expect_ensure_passwordless_identity()
        .returning(|_, _| Ok(()));
    directory
}

fn tokens() -> MockAccessTokens {
    let mut tokens = MockAccessTokens::new();
    tokens.expect_customer_for_token().returning(|t| match t {
        TOKEN => Ok(demo()),
        "down" => Err(TokenError::Unavailable("jwks down".into())),
        _ => Err(TokenError::Invalid("bad signature".into())),
    });
    tokens
}

type Published = Arc<Mutex<Vec<OrderEvent>>>;

fn events() -> (MockOrderEvents, Published) {
    let published: Published = Arc::default();
    let mut events = MockOrderEvents::new();
    let sink = published.clone();
    events
        .expect_publish()
        .returning(move |e| sink.lock().unwrap().push(e));
    (events, published)
}

struct Harness {
    service: OrderingService,
    store: Arc<CountingStore<Arc<dyn AccountStore>>>,
    codes: Arc<FakeCodes>,
    clock: Arc<ManualClock>,
    published: Published,
}

#[async_trait]
impl AccountStore for Arc<dyn AccountStore> {
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        self.as_ref().load_account(customer).await
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.as_ref().commit(change).await
    }
    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.as_ref().order(id).await
    }
    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        self.as_ref().orders_of(customer).await
    }
    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        self.as_ref().clear_confirmed(customer).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.as_ref().ping().await
    }
}

fn harness_with(
    store: Arc<dyn AccountStore>,
    codes: FakeCodes,
    policy: ConfirmationPolicy,
) -> Harness {
    let store = Arc::new(CountingStore::new(store));
    let codes = Arc::new(codes);
    let clock = ManualClock::starting_at(T0);
    let (events, published) = events();
    let ports = Ports {
        tokens: Arc::new(tokens()),
        directory: Arc::new(directory()),
        codes: codes.clone(),
        store: store.clone(),
        events: Arc::new(events),
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
    };
    Harness {
        service: OrderingService::new(ports, policy),
        store,
        codes,
        clock,
        published,
    }
}

fn harness() -> Harness {
    harness_with(
        Arc::new(MemoryStore::new()),
        FakeCodes::default(),
        ConfirmationPolicy::default(),
    )
}

impl Harness {
    async fn order(&self) -> PlaceOutcome {
        self.service
            .place_order(Some(TOKEN), pizza())
            .await
            .unwrap()
    }

    async fn confirm(&self, digits: &str) -> ConfirmOutcome {
        self.service
            .confirm_order(Some(TOKEN), &code(digits))
            .await
            .unwrap()
    }

    async fn account(&self) -> Account {
        let account = self.store.load_account(&demo()).await.unwrap();
        self.store.take();
        account
    }

    fn event_names(&self) -> Vec<&'static str> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.name())
            .collect()
    }
}

#[tokio::test]
async fn a_missing_or_rejected_token_is_not_linked_and_an_unreachable_verifier_is_an_error() {
    let h = harness();
    for token in [None, Some(""), Some("forged")] {
        assert_eq!(
            h.service.place_order(token, pizza()).await.unwrap(),
            PlaceOutcome::NotLinked
        );
        assert_eq!(
            h.service.confirm_order(token, &code(RIGHT)).await.unwrap(),
            ConfirmOutcome::NotLinked
        );
    }
    assert!(matches!(
        h.service.place_order(Some("down"), pizza()).await,
        Err(ServiceError::IdentityUnavailable(_))
    ));
    assert_eq!(h.store.take(), RoundTrips::default(), "nothing was read");
}

#[tokio::test]
async fn an_order_is_one_read_one_commit_then_the_code() {
    let h = harness();
    let PlaceOutcome::Placed { order, superseded } = h.order().await else {
        panic!("not placed")
    };
    assert_eq!(superseded, None);
    assert_eq!(h.store.take(), RoundTrips::ONE_LOAD_ONE_COMMIT);
    assert_eq!(h.codes.delivered.lock().unwrap().len(), 1);
    assert_eq!(h.event_names(), ["placed"]);
    let account = h.account().await;
    assert_eq!(account.pending(), Some(&order));
    assert_eq!(
        account.order_digest(),
        Some(&digest_of(
            &demo(),
            &CodePurpose::ConfirmOrder(order.id().clone()),
            RIGHT
        ))
    );
}

#[tokio::test]
async fn a_confirmation_is_one_read_one_commit_and_one_comparison() {
    let h = harness();
    h.order().await;
    h.store.take();
    let ConfirmOutcome::Confirmed(order) = h.confirm(RIGHT).await else {
        panic!("not confirmed")
    };
    assert!(matches!(order.state(), OrderState::Confirmed { .. }));
    assert_eq!(h.store.take(), RoundTrips::ONE_LOAD_ONE_COMMIT);
    assert_eq!(h.codes.comparisons.load(Ordering::SeqCst), 1);
    assert_eq!(h.event_names(), ["placed", "confirmed"]);
    // Single use: the code is gone with the pending order.
    assert_eq!(h.confirm(RIGHT).await, ConfirmOutcome::NoPendingOrder);
}

#[tokio::test]
async fn a_new_order_supersedes_the_pending_one_in_the_same_commit() {
    let h = harness();
    let PlaceOutcome::Placed { order: first, .. } = h.order().await else {
        panic!()
    };
    h.store.take();
    let PlaceOutcome::Placed { order, superseded } = h.order().await else {
        panic!()
    };
    assert_eq!(superseded.as_ref(), Some(first.id()));
    assert_eq!(h.store.take().commits, 1);
    assert_eq!(h.event_names(), ["placed", "cancelled", "placed"]);
    assert_eq!(h.account().await.pending(), Some(&order));
}

#[tokio::test]
async fn an_undelivered_code_cancels_its_order_and_still_counts_as_sent() {
    let h = harness_with(
        Arc::new(MemoryStore::new()),
        FakeCodes {
            fail_delivery: true,
            ..FakeCodes::default()
        },
        ConfirmationPolicy::default(),
    );
    assert!(matches!(
        h.service.place_order(Some(TOKEN), pizza()).await,
        Err(ServiceError::CodeDelivery(_))
    ));
    let account = h.account().await;
    assert_eq!(account.pending(), None);
    assert_eq!(account.order_sends().sent_in_window(h.clock.now()), 1);
    assert_eq!(h.event_names(), ["placed", "cancelled"]);
    let orders = h.service.orders_of(&demo()).await.unwrap();
    assert!(matches!(
        orders[0].state(),
        OrderState::Cancelled {
            reason: CancelReason::CodeDeliveryFailed,
            ..
        }
    ));
}

#[tokio::test]
async fn the_send_budget_refuses_the_sixth_order_without_drawing_a_code() {
    let h = harness();
    for _ in 0..5 {
        assert!(matches!(h.order().await, PlaceOutcome::Placed { .. }));
    }
    assert_eq!(h.order().await, PlaceOutcome::RateLimited);
    assert_eq!(h.codes.delivered.lock().unwrap().len(), 5);
    h.clock.advance(ConfirmationPolicy::SEND_WINDOW);
    assert!(matches!(h.order().await, PlaceOutcome::Placed { .. }));
}

#[tokio::test]
async fn wrong_codes_count_down_then_cancel_and_every_one_counts_toward_the_lock() {
    let h = harness();
    // Three orders of three wrong codes: 9 failures, each counted, even the
    // third of each order (the one that cancels it).
    for _ in 0..3 {
        h.order().await;
        for left in [2, 1] {
            assert!(matches!(
                h.confirm(WRONG).await,
                ConfirmOutcome::WrongCode { attempts_left, .. } if attempts_left == left
            ));
        }
        assert!(matches!(
            h.confirm(WRONG).await,
            ConfirmOutcome::TooManyAttempts(_)
        ));
    }
    assert_eq!(h.account().await.lockout().consecutive_failures, 9);
    // The tenth wrong code, exactly, locks the account and cancels the order.
    h.order().await;
    assert_eq!(h.confirm(WRONG).await, ConfirmOutcome::Locked);
    assert_eq!(h.account().await.pending(), None);
    // Locked: no order, and no comparison for any code.
    let compared = h.codes.comparisons.load(Ordering::SeqCst);
    assert_eq!(h.order().await, PlaceOutcome::Locked);
    assert_eq!(h.confirm(RIGHT).await, ConfirmOutcome::Locked);
    assert_eq!(h.codes.comparisons.load(Ordering::SeqCst), compared);
    // The operator lifts it.
    assert!(h.service.unlock(&demo()).await.unwrap());
    assert!(matches!(h.order().await, PlaceOutcome::Placed { .. }));
    assert!(
        !h.service.unlock(&demo()).await.unwrap(),
        "nothing left to lift"
    );
}

#[tokio::test]
async fn the_lock_lifts_after_its_cool_down() {
    let policy = ConfirmationPolicy::default().with_lockout_after(1).unwrap();
    let h = harness_with(Arc::new(MemoryStore::new()), FakeCodes::default(), policy);
    h.order().await;
    assert_eq!(h.confirm(WRONG).await, ConfirmOutcome::Locked);
    assert_eq!(h.order().await, PlaceOutcome::Locked);
    h.clock.advance(policy.lockout_cooldown());
    assert!(matches!(h.order().await, PlaceOutcome::Placed { .. }));
    assert!(matches!(
        h.confirm(RIGHT).await,
        ConfirmOutcome::Confirmed(_)
    ));
    assert_eq!(h.account().await.lockout().consecutive_failures, 0);
}

#[tokio::test]
async fn an_overdue_order_expires_without_a_comparison() {
    let h = harness();
    h.order().await;
    h.clock.advance(Duration::from_secs(300));
    assert!(matches!(h.confirm(RIGHT).await, ConfirmOutcome::Expired(_)));
    assert_eq!(h.codes.comparisons.load(Ordering::SeqCst), 0);
    assert_eq!(h.confirm(RIGHT).await, ConfirmOutcome::NoPendingOrder);
}

#[tokio::test]
async fn a_provider_that_rate_limits_changes_nothing() {
    let store: Arc<dyn AccountStore> = Arc::new(MemoryStore::new());
    let h = harness_with(
        store.clone(),
        FakeCodes::default(),
        ConfirmationPolicy::default(),
    );
    h.order().await;
    let before = h.account().await;
    let mut codes = MockOneTimeCodes::new();
    codes
        .expect_check()
        .times(1)
        .returning(|_, _, _, _, _| Err(CodeError::RateLimited));
    let (events, _) = events();
    let service = OrderingService::new(
        Ports {
            tokens: Arc::new(tokens()),
            directory: Arc::new(directory()),
            codes: Arc::new(codes),
            store: store.clone(),
            events: Arc::new(events),
            clock: h.clock.clone(),
            ids: Arc::new(SequentialIds::default()),
        },
        ConfirmationPolicy::default(),
    );
    assert_eq!(
        service
            .confirm_order(Some(TOKEN), &code(RIGHT))
            .await
            .unwrap(),
        ConfirmOutcome::RateLimited
    );
    assert_eq!(h.account().await, before);
}

// ---------------------------------------------------------------- races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_right_codes_at_once_confirm_exactly_once() {
    let (h, outcomes) = at_once(2, ConfirmationPolicy::default(), 1, |h| async move {
        h.confirm(RIGHT).await
    })
    .await;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|o| matches!(o, ConfirmOutcome::AlreadyConfirmed(_)));
    assert!(
        matches!(outcomes[0], ConfirmOutcome::Confirmed(_)),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], ConfirmOutcome::AlreadyConfirmed(_)),
        "{outcomes:?}"
    );
    let confirmed = h
        .event_names()
        .iter()
        .filter(|n| **n == "confirmed")
        .count();
    assert_eq!(confirmed, 1);
}

/// `n` requests of the same kind at once, every one of them having read the
/// account before any commits.
async fn at_once<F, Fut, T>(
    n: usize,
    policy: ConfirmationPolicy,
    setup: usize,
    run: F,
) -> (Harness, Vec<T>)
where
    F: Fn(Arc<Harness>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let gate = Arc::new(LoadTogether::new(MemoryStore::new(), 0));
    let h = Arc::new(harness_with(gate.clone(), FakeCodes::default(), policy));
    for _ in 0..setup {
        h.order().await;
    }
    gate.arm(n);
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(run(h.clone()))).collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let h = Arc::try_unwrap(h).ok().expect("tasks are done");
    (h, results)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_wrong_codes_at_once_count_exactly_the_attempt_limit() {
    let (h, outcomes) = at_once(10, ConfirmationPolicy::default(), 1, |h| async move {
        h.confirm(WRONG).await
    })
    .await;
    let wrong = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::WrongCode { .. }))
        .count();
    let cancelled = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::TooManyAttempts(_)))
        .count();
    assert_eq!(wrong, 2, "{outcomes:?}");
    assert_eq!(cancelled, 8, "{outcomes:?}");
    let account = h.account().await;
    assert_eq!(
        account.lockout().consecutive_failures,
        3,
        "only the applied comparisons count"
    );
    assert_eq!(account.pending(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_orders_at_once_leave_one_pending_order_with_its_own_code() {
    let (h, outcomes) = at_once(2, ConfirmationPolicy::default(), 0, |h| async move {
        h.order().await
    })
    .await;
    let placed: Vec<&Order> = outcomes
        .iter()
        .filter_map(|o| match o {
            PlaceOutcome::Placed { order, .. } => Some(order),
            _ => None,
        })
        .collect();
    assert_eq!(
        placed.len(),
        2,
        "both were placed, one superseding the other"
    );
    let account = h.account().await;
    let pending = account.pending().unwrap();
    assert_eq!(
        account.order_digest(),
        Some(&digest_of(
            &demo(),
            &CodePurpose::ConfirmOrder(pending.id().clone()),
            RIGHT
        )),
        "the stored code is the pending order's own"
    );
    assert!(
        matches!(h.confirm(RIGHT).await, ConfirmOutcome::Confirmed(o) if o.id() == pending.id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_orders_at_once_never_exceed_the_send_budget() {
    let (h, outcomes) = at_once(8, ConfirmationPolicy::default(), 0, |h| async move {
        h.order().await
    })
    .await;
    let placed = outcomes
        .iter()
        .filter(|o| matches!(o, PlaceOutcome::Placed { .. }))
        .count();
    assert_eq!(placed, 5, "{outcomes:?}");
    assert_eq!(h.codes.delivered.lock().unwrap().len(), 5);
    assert_eq!(h.account().await.order_sends().times().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wrong_code_that_locks_wins_over_a_concurrent_right_code_or_loses_cleanly() {
    // Nine failures already; a wrong and a right code race for the order.
    let policy = ConfirmationPolicy::default();
    let gate = Arc::new(LoadTogether::new(MemoryStore::new(), 0));
    let h = Arc::new(harness_with(gate.clone(), FakeCodes::default(), policy));
    for _ in 0..3 {
        h.order().await;
        for _ in 0..3 {
            h.confirm(WRONG).await;
        }
    }
    h.order().await;
    gate.arm(2);
    let (a, b) = tokio::join!(h.confirm(WRONG), h.confirm(RIGHT));
    let account = h.account().await;
    match (&a, &b) {
        // The wrong code went first: locked, and the right one is refused.
        (ConfirmOutcome::Locked, ConfirmOutcome::Locked) => {
            assert!(account.lockout().consecutive_failures >= 10);
        }
        // The right code went first: confirmed, the run ended, and the
        // wrong code found nothing pending.
        (
            ConfirmOutcome::NoPendingOrder | ConfirmOutcome::AlreadyConfirmed(_),
            ConfirmOutcome::Confirmed(_),
        ) => {
            assert_eq!(account.lockout().consecutive_failures, 0);
        }
        other => panic!("{other:?}"),
    }
}

mod cancel;
mod skill_events;

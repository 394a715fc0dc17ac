//! A property test over random interleavings of everything that touches an
//! account, on several accounts at once: orders, confirmations, sign-in
//! starts, sign-in codes, operator unlocks, cancels and clock steps. Requests of one
//! batch run concurrently on one thread, and the store yields a random
//! number of times before every call, so proptest chooses (and shrinks) the
//! interleaving. Every committed change is recorded with the account it
//! replaced, and the rules are checked over that history after every batch.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pod_domain::{
    Account, Change, ConfirmationPolicy, CustomerId, Order, OrderId, OrderState, Pizza, PizzaSize,
};
use proptest::prelude::*;

use super::tests::{FakeCodes, RIGHT, T0, WRONG, code, digest_of, directory};
use crate::testing::{ManualClock, MemoryStore, SequentialIds};
use crate::{
    AccountStore, Clock, CodePurpose, LocalUser, MockAccessTokens, MockOrderEvents, MockUserStore,
    OrderingService, Passwordless, Ports, SignInService, StoreError,
};

const ACCOUNTS: usize = 3;

fn customer(n: usize) -> CustomerId {
    CustomerId::parse(format!("local|u{n}")).unwrap()
}

/// The in-memory store, yielding before every call, recording every commit.
struct Interleaved {
    inner: MemoryStore,
    seed: AtomicU64,
    commits: Mutex<Vec<(Account, Change)>>,
}

impl Interleaved {
    async fn shuffle(&self) {
        // xorshift: deterministic for a seed, so proptest can shrink.
        let mut x = self.seed.load(Ordering::SeqCst);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::SeqCst);
        for _ in 0..(x % 4) {
            tokio::task::yield_now().await;
        }
    }
}

#[async_trait]
impl AccountStore for Interleaved {
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        self.shuffle().await;
        self.inner.load_account(customer).await
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.shuffle().await;
        // No await between reading and committing: atomic on one thread.
        let before = self.inner.load_account(change.account().customer()).await?;
        self.inner.commit(change).await?;
        self.commits.lock().unwrap().push((before, change.clone()));
        Ok(())
    }
    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.shuffle().await;
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

#[derive(Debug, Clone)]
enum Op {
    Order(usize),
    Confirm(usize, bool),
    StartSignIn(usize),
    SignInCode(usize, bool),
    Unlock(usize),
    Cancel(usize),
}

fn any_op() -> impl Strategy<Value = Op> {
    let who = 0..ACCOUNTS;
    prop_oneof![
        3 => who.clone().prop_map(Op::Order),
        5 => (who.clone(), prop::bool::weighted(0.2)).prop_map(|(a, r)| Op::Confirm(a, r)),
        2 => who.clone().prop_map(Op::StartSignIn),
        3 => (who.clone(), prop::bool::weighted(0.2)).prop_map(|(a, r)| Op::SignInCode(a, r)),
        1 => who.clone().prop_map(Op::Unlock),
        1 => who.prop_map(Op::Cancel),
    ]
}

fn batches() -> impl Strategy<Value = Vec<(Vec<Op>, u64)>> {
    let batch = (
        prop::collection::vec(any_op(), 1..6),
        prop_oneof![3 => Just(0u64), 1 => 1u64..400, 1 => 3000u64..4000],
    );
    prop::collection::vec(batch, 1..25)
}

fn users() -> MockUserStore {
    let mut users = MockUserStore::new();
    users.expect_user_by_login().returning(|login| {
        let n: usize = login.trim_start_matches('u').parse().unwrap_or(usize::MAX);
        Ok((n < ACCOUNTS).then(|| LocalUser {
            id: customer(n),
            name: login.to_owned(),
            email: format!("{login}@example.com"),
            phone: None,
            created_at: T0,
        }))
    });
    users
}

fn run(
    policy: ConfirmationPolicy,
    seed: u64,
    steps: Vec<(Vec<Op>, u64)>,
) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Arc::new(Interleaved {
            inner: MemoryStore::new(),
            seed: AtomicU64::new(seed | 1),
            commits: Mutex::new(Vec::new()),
        });
        let codes = Arc::new(FakeCodes::default());
        let clock = ManualClock::starting_at(T0);
        let mut events = MockOrderEvents::new();
        events.expect_publish().returning(|_| ());
        let ordering = OrderingService::new(
            Ports {
                tokens: Arc::new(MockAccessTokens::new()),
                directory: Arc::new(directory()),
                codes: codes.clone(),
                store: store.clone(),
                events: Arc::new(events),
                clock: clock.clone(),
                ids: Arc::new(SequentialIds::default()),
            },
            policy,
        );
        let sign_in = SignInService::new(store.clone(), clock.clone(), policy).with_passwordless(
            Passwordless {
                users: Arc::new(users()),
                directory: Arc::new(directory()),
                codes: codes.clone(),
            },
        );
        let pizza = Pizza::new(PizzaSize::Medium, []).unwrap();
        let mut checked = 0;
        for (ops, advance) in steps {
            let requests = ops.iter().map(|op| {
                let (ordering, sign_in, pizza) = (&ordering, &sign_in, pizza.clone());
                async move {
                    // Errors are conflicts after too many lost races: allowed,
                    // and they change nothing.
                    let _ = match op {
                        Op::Order(a) => ordering
                            .place_order_for(&customer(*a), pizza)
                            .await
                            .map(drop),
                        Op::Confirm(a, right) => ordering
                            .confirm_order_for(
                                &customer(*a),
                                &code(if *right { RIGHT } else { WRONG }),
                            )
                            .await
                            .map(drop),
                        Op::StartSignIn(a) => sign_in.start(&format!("u{a}"), None).await.map(drop),
                        Op::SignInCode(a, right) => sign_in
                            .verify(&customer(*a), &code(if *right { RIGHT } else { WRONG }))
                            .await
                            .map(drop),
                        Op::Unlock(a) => ordering.unlock(&customer(*a)).await.map(drop),
                        Op::Cancel(a) => ordering.cancel_pending_for(&customer(*a)).await.map(drop),
                    };
                }
            });
            futures::future::join_all(requests).await;
            let now = clock.now();
            let commits = store.commits.lock().unwrap().clone();
            for (before, change) in &commits[checked..] {
                check_commit(before, change, now, &policy)?;
            }
            checked = commits.len();
            for n in 0..ACCOUNTS {
                let account = store.inner.load_account(&customer(n)).await.unwrap();
                check_account(&account, now, &policy)?;
            }
            clock.advance(Duration::from_secs(advance));
        }
        // Across the whole history: no order took more applied comparisons
        // than the attempt limit.
        let commits = store.commits.lock().unwrap();
        let mut applied: std::collections::HashMap<OrderId, u32> = Default::default();
        for (before, change) in commits.iter() {
            let Some(old) = before.pending() else {
                continue;
            };
            let Some(new) = change.orders().iter().find(|o| o.id() == old.id()) else {
                continue;
            };
            let was = old.awaiting().unwrap().failed_attempts();
            let compared = match new.state() {
                OrderState::AwaitingCode(w) => w.failed_attempts() > was,
                OrderState::Confirmed { .. } => true,
                OrderState::Cancelled { reason, .. } => {
                    *reason == pod_domain::CancelReason::TooManyAttempts
                }
            };
            if compared {
                *applied.entry(old.id().clone()).or_default() += 1;
            }
        }
        for (order, n) in applied {
            prop_assert!(
                n <= policy.max_failed_attempts(),
                "{order}: {n} comparisons applied"
            );
        }
        Ok(())
    })
}

/// The rules one committed change must keep.
fn check_commit(
    before: &Account,
    change: &Change,
    now: pod_domain::Timestamp,
    policy: &ConfirmationPolicy,
) -> Result<(), TestCaseError> {
    let after = change.account();
    prop_assert_eq!(after.version(), before.version() + 1);
    let cancelled_by_customer = change.orders().iter().any(|o| {
        matches!(
            o.state(),
            OrderState::Cancelled {
                reason: pod_domain::CancelReason::CancelledByCustomer,
                ..
            }
        )
    });
    if cancelled_by_customer {
        // A cancel settles exactly the pending order and nothing else.
        prop_assert_eq!(change.orders().len(), 1);
        prop_assert_eq!(
            before.pending().map(Order::id),
            Some(change.orders()[0].id())
        );
        prop_assert!(after.pending().is_none() && after.order_digest().is_none());
        prop_assert_eq!(after.lockout(), before.lockout(), "a cancel counts nothing");
        prop_assert_eq!(after.order_sends(), before.order_sends());
        prop_assert_eq!(after.sign_in_code(), before.sign_in_code());
    } else if before.is_locked(now, policy) {
        prop_assert_eq!(
            after.lockout(),
            pod_domain::Lockout::default(),
            "while locked only an unlock (or a cancel) commits"
        );
    }
    let (was, is) = (
        before.lockout().consecutive_failures,
        after.lockout().consecutive_failures,
    );
    prop_assert!(
        is == was || is == was + 1 || is == 0,
        "failures move by one or reset"
    );
    if is >= policy.lockout_after() && is == was + 1 {
        prop_assert!(
            after.is_locked(now, policy),
            "the lock engages exactly at its limit"
        );
    }
    if is < policy.lockout_after() {
        prop_assert!(!after.is_locked(now, policy), "and not before");
    }
    // A confirmation is the pending order's, by a right code in time.
    for order in change.orders() {
        if let OrderState::Confirmed { at } = order.state() {
            let pending = before.pending();
            prop_assert_eq!(pending.map(Order::id), Some(order.id()));
            let expires = pending.and_then(Order::awaiting).map(|w| w.expires_at());
            prop_assert!(expires.is_some_and(|e| *at < e), "confirmed before expiry");
        }
    }
    Ok(())
}

/// The rules an account must keep at every moment.
fn check_account(
    account: &Account,
    now: pod_domain::Timestamp,
    policy: &ConfirmationPolicy,
) -> Result<(), TestCaseError> {
    prop_assert!(account.order_sends().sent_in_window(now) <= policy.max_codes_per_hour());
    prop_assert!(
        account.sign_in_sends().sent_in_window(now) <= policy.max_sign_in_codes_per_hour()
    );
    if let Some(pending) = account.pending() {
        let waiting = pending
            .awaiting()
            .expect("the pending order awaits its code");
        prop_assert!(waiting.failed_attempts() < policy.max_failed_attempts());
        let own = digest_of(
            account.customer(),
            &CodePurpose::ConfirmOrder(pending.id().clone()),
            RIGHT,
        );
        prop_assert_eq!(
            account.order_digest(),
            Some(&own),
            "the stored code is its own"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_rule_holds_under_random_interleavings(
        seed in any::<u64>(),
        lockout_after in 2u32..=8,
        budget in 1u32..=4,
        steps in batches(),
    ) {
        let policy = ConfirmationPolicy::default()
            .with_lockout_after(lockout_after).unwrap()
            .with_max_codes_per_hour(budget).unwrap()
            .with_max_sign_in_codes_per_hour(budget).unwrap();
        run(policy, seed, steps)?;
    }
}

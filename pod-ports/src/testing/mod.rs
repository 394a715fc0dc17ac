//! Test doubles shared by every crate's tests and examples: an
//! in-memory [`AccountStore`], a wrapper that counts store round trips, a
//! clock the test moves, sequential order ids, and (with the `testing`
//! feature) the store contract suite that every [`AccountStore`] adapter
//! runs (`account_store_contract!`), and the one every [`AnsweredRequests`]
//! adapter runs (`answered_requests_contract!`).

#[cfg(any(test, feature = "testing"))]
pub mod answers_contract;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
#[cfg(any(test, feature = "testing"))]
pub mod links_contract;
mod oauth;
#[cfg(any(test, feature = "testing"))]
pub mod oauth_contract;
#[cfg(any(test, feature = "testing"))]
pub mod smtp;
#[cfg(any(test, feature = "testing"))]
pub mod smtp_faults;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pod_domain::{Account, Change, CustomerId, Order, OrderId, OrderState, Timestamp};

use crate::{
    AccountStore, AlexaLinks, AlexaUserId, AnsweredRequests, Claim, Clock, CodeGenerator,
    OneTimeCode, OrderIds, StoreError,
};

/// An [`AccountStore`] in memory, with the same contract as the SQL one:
/// a commit applies only at the expected version, all of it or nothing.
/// It also keeps answered requests ([`AnsweredRequests`]), swept on claim.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    accounts: HashMap<CustomerId, Account>,
    orders: HashMap<OrderId, Order>,
    links: HashMap<AlexaUserId, (CustomerId, Timestamp)>,
    answers: HashMap<String, AnsweredRequest>,
    oauth: oauth::OAuthState,
}

#[derive(Debug)]
struct AnsweredRequest {
    fingerprint: Vec<u8>,
    answer: Option<String>,
    keep_until: Timestamp,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        Ok(self
            .state()
            .accounts
            .get(customer)
            .cloned()
            .unwrap_or_else(|| Account::new(customer.clone())))
    }

    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        let mut state = self.state();
        let account = change.account();
        let stored = state
            .accounts
            .get(account.customer())
            .map_or(0, Account::version);
        if stored != change.expected_version() {
            return Err(StoreError::Conflict);
        }
        for order in change.orders() {
            if order.customer() != account.customer() {
                return Err(StoreError::Conflict);
            }
        }
        state
            .accounts
            .insert(account.customer().clone(), account.clone());
        for order in change.orders() {
            state.orders.insert(order.id().clone(), order.clone());
        }
        Ok(())
    }

    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.state().orders.get(id).cloned())
    }

    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        let mut orders: Vec<Order> = self
            .state()
            .orders
            .values()
            .filter(|o| o.customer() == customer)
            .cloned()
            .collect();
        orders.sort_by(|a, b| (b.placed_at(), b.id()).cmp(&(a.placed_at(), a.id())));
        Ok(orders)
    }

    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        let mut state = self.state();
        let before = state.orders.len();
        state.orders.retain(|_, o| {
            o.customer() != customer || !matches!(o.state(), OrderState::Confirmed { .. })
        });
        Ok((before - state.orders.len()) as u64)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The same contract as the SQL links: an older link never replaces a newer one.
#[async_trait]
impl AlexaLinks for MemoryStore {
    async fn link(
        &self,
        alexa_user: &AlexaUserId,
        customer: &CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let newer = state
            .links
            .get(alexa_user)
            .is_some_and(|(_, linked_at)| *linked_at > at);
        if !newer {
            state
                .links
                .insert(alexa_user.clone(), (customer.clone(), at));
        }
        Ok(())
    }

    async fn forget(&self, alexa_user: &AlexaUserId) -> Result<Option<CustomerId>, StoreError> {
        Ok(self.state().links.remove(alexa_user).map(|(c, _)| c))
    }

    async fn customer_of(
        &self,
        alexa_user: &AlexaUserId,
    ) -> Result<Option<CustomerId>, StoreError> {
        Ok(self.state().links.get(alexa_user).map(|(c, _)| c.clone()))
    }
}

#[async_trait]
impl AnsweredRequests for MemoryStore {
    async fn claim(
        &self,
        request_id: &str,
        fingerprint: &[u8],
        now: Timestamp,
        keep_until: Timestamp,
    ) -> Result<Claim, StoreError> {
        let mut state = self.state();
        state.answers.retain(|_, a| a.keep_until > now);
        if let Some(taken) = state.answers.get(request_id) {
            return Ok(Claim::Taken {
                fingerprint: taken.fingerprint.clone(),
                answer: taken.answer.clone(),
            });
        }
        state.answers.insert(
            request_id.to_owned(),
            AnsweredRequest {
                fingerprint: fingerprint.to_vec(),
                answer: None,
                keep_until,
            },
        );
        Ok(Claim::Fresh)
    }

    async fn record_answer(&self, request_id: &str, answer: &str) -> Result<(), StoreError> {
        if let Some(claim) = self.state().answers.get_mut(request_id) {
            claim.answer = Some(answer.to_owned());
        }
        Ok(())
    }

    async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        self.state().answers.remove(request_id);
        Ok(())
    }
}

/// Wraps an [`AccountStore`] and counts the round trips made through it.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    loads: AtomicUsize,
    commits: AtomicUsize,
    other_reads: AtomicUsize,
}

/// Round trips counted by a [`CountingStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundTrips {
    /// `load_account` calls.
    pub loads: usize,
    /// `commit` calls (refused ones included).
    pub commits: usize,
    /// Every other read (`order`, `orders_of`).
    pub other_reads: usize,
}

impl RoundTrips {
    /// One `load_account` and one `commit`, nothing else: what an order or a
    /// confirmation costs the store.
    pub const ONE_LOAD_ONE_COMMIT: RoundTrips = RoundTrips {
        loads: 1,
        commits: 1,
        other_reads: 0,
    };
}

impl<S> CountingStore<S> {
    /// Counts the calls made to `inner`.
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            loads: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            other_reads: AtomicUsize::new(0),
        }
    }

    /// The calls so far, and starts counting from zero again.
    pub fn take(&self) -> RoundTrips {
        RoundTrips {
            loads: self.loads.swap(0, Ordering::SeqCst),
            commits: self.commits.swap(0, Ordering::SeqCst),
            other_reads: self.other_reads.swap(0, Ordering::SeqCst),
        }
    }
}

#[async_trait]
impl<S: AccountStore> AccountStore for CountingStore<S> {
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load_account(customer).await
    }

    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(change).await
    }

    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.other_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.order(id).await
    }

    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError> {
        self.other_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.orders_of(customer).await
    }

    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError> {
        self.inner.clear_confirmed(customer).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

/// A clock that moves only when the test moves it.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `start`.
    pub fn starting_at(start: Timestamp) -> Arc<Self> {
        Arc::new(ManualClock(AtomicU64::new(start.unix_millis() as u64)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.unix_millis() as u64, Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst) as i64)
    }
}

/// A code generator that always draws the same code.
#[derive(Debug)]
pub struct FixedCodes(pub &'static str);

impl CodeGenerator for FixedCodes {
    fn generate(&self, _digits: u32) -> OneTimeCode {
        OneTimeCode::parse(self.0).unwrap_or_else(|_| panic!("{:?} is not a code", self.0))
    }
}

/// Order ids `o1`, `o2`, ... in the order asked for.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl OrderIds for SequentialIds {
    fn new_order_id(&self) -> OrderId {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        OrderId::parse(format!("o{n}")).unwrap_or_else(|_| unreachable!("o<n> is a valid id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn memory() -> (Arc<dyn AccountStore>, ()) {
        (Arc::new(MemoryStore::new()), ())
    }

    crate::account_store_contract!(memory);

    async fn memory_links() -> (Arc<dyn AlexaLinks>, ()) {
        (Arc::new(MemoryStore::new()), ())
    }

    crate::alexa_links_contract!(memory_links);
    mod answers {
        use super::*;

        async fn memory() -> (Arc<dyn AnsweredRequests>, ()) {
            (Arc::new(MemoryStore::new()), ())
        }

        crate::answered_requests_contract!(memory);
    }

    mod oauth {
        use super::*;

        async fn memory() -> (Arc<dyn crate::OAuthStore>, ()) {
            (Arc::new(MemoryStore::new()), ())
        }

        crate::oauth_store_contract!(memory);
    }
}

use async_trait::async_trait;
use pod_domain::{CustomerId, CustomerLockout, Order, OrderId, Timestamp};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The write lost a race: the stored version moved on, the row is gone,
    /// or a uniqueness rule (one pending order per customer, one user per
    /// name) refused it. Nothing was written.
    #[error("conflicting write")]
    Conflict,
    /// A stored row could not be read back into a domain value.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed or could not be reached.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Keeps orders, with optimistic concurrency, and the per-customer counters
/// the confirmation policy needs.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Stores a new order. [`StoreError::Conflict`] if the id exists or the
    /// order awaits a code while the customer already has a pending order.
    async fn insert_order(&self, order: &Order) -> Result<(), StoreError>;

    /// Replaces an order whose stored version is `expected_version`.
    /// [`StoreError::Conflict`] when the stored version is another one or the
    /// order does not exist; then nothing changes.
    async fn update_order(&self, order: &Order, expected_version: u64) -> Result<(), StoreError>;

    /// An order by id.
    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;

    /// The customer's order that awaits a code, if any (at most one exists).
    async fn pending_order(&self, customer: &CustomerId) -> Result<Option<Order>, StoreError>;

    /// All of the customer's orders, newest first.
    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError>;

    /// Deletes the customer's confirmed orders; returns how many.
    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError>;

    /// Notes that a code was sent to the customer at `at`.
    async fn record_code_sent(
        &self,
        customer: &CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// How many codes were sent to the customer at or after `since`.
    async fn codes_sent_since(
        &self,
        customer: &CustomerId,
        since: Timestamp,
    ) -> Result<u32, StoreError>;

    /// The customer's run of wrong codes (zero for a customer never seen).
    async fn lockout(&self, customer: &CustomerId) -> Result<CustomerLockout, StoreError>;

    /// Adds one wrong code to the customer's run, atomically, and returns
    /// the record after it.
    async fn record_failed_attempt(
        &self,
        customer: &CustomerId,
    ) -> Result<CustomerLockout, StoreError>;

    /// Ends the customer's run of wrong codes (a right code, a sign-in, an
    /// operator's unlock).
    async fn clear_lockout(&self, customer: &CustomerId) -> Result<(), StoreError>;

    /// Succeeds when the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// A user of pod's own embedded identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// `local|<name>`.
    pub id: CustomerId,
    /// The short user name (`demo`).
    pub name: String,
    /// Email address.
    pub email: String,
    /// Phone number, if any; codes go there by SMS when present.
    pub phone: Option<String>,
    /// When the user was added.
    pub created_at: Timestamp,
}

/// Keeps the embedded identity's users.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user; [`StoreError::Conflict`] if the id, name or email is taken.
    async fn add_user(&self, user: &LocalUser) -> Result<(), StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: &CustomerId) -> Result<Option<LocalUser>, StoreError>;
    /// A user by name or by email address (case-insensitive).
    async fn user_by_login(&self, name_or_email: &str) -> Result<Option<LocalUser>, StoreError>;
    /// All users, by name.
    async fn users(&self) -> Result<Vec<LocalUser>, StoreError>;
}

/// A one-time code as the embedded identity keeps it: only a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// Whose code.
    pub customer: CustomerId,
    /// What it is for ([`crate::CodePurpose::kind`]).
    pub purpose: String,
    /// The keyed hash of the code (never the code).
    pub hash: Vec<u8>,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// The first moment it no longer verifies.
    pub expires_at: Timestamp,
    /// Wrong attempts so far.
    pub failed_attempts: u32,
}

/// Keeps the embedded identity's one-time codes, one per customer and purpose.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a code, replacing the customer's earlier code for the same
    /// purpose (and with it the earlier code's failure count).
    async fn put_code(&self, record: &CodeRecord) -> Result<(), StoreError>;
    /// The customer's current code for a purpose.
    async fn code_for(
        &self,
        customer: &CustomerId,
        purpose: &str,
    ) -> Result<Option<CodeRecord>, StoreError>;
    /// Adds one wrong attempt to the code, atomically; returns the new count
    /// (`None` when there is no such code).
    async fn record_code_failure(
        &self,
        customer: &CustomerId,
        purpose: &str,
    ) -> Result<Option<u32>, StoreError>;
    /// Deletes the customer's code for a purpose, if any.
    async fn delete_code(&self, customer: &CustomerId, purpose: &str) -> Result<(), StoreError>;
    /// Uses up a code: deletes the customer's code for a purpose only if it
    /// is still the one with this hash, atomically. `true` when this call
    /// deleted it, so of two concurrent checks of the right code exactly one
    /// wins, and a code replaced in the meantime is left alone.
    async fn consume_code(
        &self,
        customer: &CustomerId,
        purpose: &str,
        hash: &[u8],
    ) -> Result<bool, StoreError>;
}

use async_trait::async_trait;
use pod_domain::{Account, Change, CustomerId, Order, OrderId, Timestamp};

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
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

/// Keeps accounts and orders. The unit of change is an account: a caller
/// loads it, lets the domain decide, and commits the [`Change`] in one
/// atomic, version-checked step.
///
/// # Example
///
/// Two requests decide on the same account; the store lets exactly one of
/// them in, and the other decides again on what is stored now:
///
/// ```
/// # use pod_ports::domain::*;
/// # use pod_ports::{AccountStore, StoreError};
/// # use pod_ports::testing::MemoryStore;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), StoreError> {
/// let store = MemoryStore::new();
/// let ann = CustomerId::parse("local|ann").unwrap();
/// let policy = ConfirmationPolicy::default();
/// let now = Timestamp::from_unix_seconds(1_800_000_000);
/// let place = |account: &Account, id: &str| {
///     let pizza = Pizza::new(PizzaSize::Large, []).unwrap();
///     let to = Destination::email("ann@example.com");
///     let id = OrderId::parse(id).unwrap();
///     account.place_order(id, pizza, &to, None, now, &policy).unwrap().change
/// };
///
/// let seen = store.load_account(&ann).await?;
/// store.commit(&place(&seen, "first")).await?;
/// // Decided on the same (now stale) account: refused, nothing written.
/// assert!(matches!(store.commit(&place(&seen, "second")).await, Err(StoreError::Conflict)));
/// // Decided again on the fresh account: the new order supersedes the first.
/// let fresh = store.load_account(&ann).await?;
/// store.commit(&place(&fresh, "second")).await?;
/// let account = store.load_account(&ann).await?;
/// assert_eq!(account.pending().unwrap().id().as_str(), "second");
/// assert_eq!(account.version(), 2);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The customer's account with its pending order; a new account
    /// (version 0) for a customer never seen.
    async fn load_account(&self, customer: &CustomerId) -> Result<Account, StoreError>;

    /// Writes the account and the orders of `change` in one transaction, if
    /// the stored account still has [`Change::expected_version`] (0: none
    /// stored yet). [`StoreError::Conflict`] when it does not, and then
    /// nothing is written. When this returns `Ok` the change is durable
    /// (on disk, fsynced).
    async fn commit(&self, change: &Change) -> Result<(), StoreError>;

    /// An order by id.
    async fn order(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;

    /// All of the customer's orders, newest first.
    async fn orders_of(&self, customer: &CustomerId) -> Result<Vec<Order>, StoreError>;

    /// Deletes the customer's confirmed orders; returns how many. Touches no
    /// rule (confirmed orders are history), so it is not an account change.
    async fn clear_confirmed(&self, customer: &CustomerId) -> Result<u64, StoreError>;

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

//! Users of the embedded identity, and the directory built on them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pod_domain::{ContactPoints, CustomerId, Destination};
use pod_ports::{Clock, CustomerDirectory, DirectoryError, LocalUser, StoreError, UserStore};
use tracing::info;

/// The prefix of every local user's customer id (`local|demo`).
pub const LOCAL_ID_PREFIX: &str = "local|";

/// Why a user could not be added or found.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name is not 1 to 32 of `a-z`, `0-9`, `_`, `.`, `-`.
    #[error("a user name is 1 to 32 of a-z, 0-9, '_', '.', '-'")]
    InvalidName,
    /// The email address is not plausible.
    #[error("not a plausible email address")]
    InvalidEmail,
    /// The phone number is not `+` and 6 to 15 digits (spaces, dashes,
    /// dots and parentheses between digits are allowed).
    #[error("a phone number is '+' and 6 to 15 digits, with the country code")]
    InvalidPhone,
    /// A user with this name or email exists already.
    #[error("a user with this name or email exists already")]
    Taken,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for UserError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => UserError::Taken,
            other => UserError::Store(other),
        }
    }
}

/// Checks a user name: 1 to 32 of `a-z`, `0-9`, `_`, `.`, `-`.
pub fn validate_name(name: &str) -> Result<(), UserError> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    ok.then_some(()).ok_or(UserError::InvalidName)
}

/// Checks that an address looks like an email address: at most 254
/// characters, one `@`, a local part of 1 to 64 printable non-space
/// characters, and a domain of dot-separated labels of letters, digits and
/// `-` with at least one dot. Returns it trimmed.
pub fn validate_email(email: &str) -> Result<String, UserError> {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return Err(UserError::InvalidEmail);
    };
    let local_ok = (1..=64).contains(&local.len())
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@<>()[]\\,;:\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if email.len() <= 254 && local_ok && domain_ok {
        Ok(email.to_owned())
    } else {
        Err(UserError::InvalidEmail)
    }
}

/// Checks a phone number in E.164 form, allowing the separators people
/// type (spaces, `-`, `.`, parentheses): `+`, then 6 to 15 digits, the
/// first not 0. Returns the normalized form (`+15550100123`).
pub fn normalize_phone(phone: &str) -> Result<String, UserError> {
    let phone = phone.trim();
    let Some(rest) = phone.strip_prefix('+') else {
        return Err(UserError::InvalidPhone);
    };
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(UserError::InvalidPhone),
        }
    }
    if (6..=15).contains(&digits.len()) && !digits.starts_with('0') {
        Ok(format!("+{digits}"))
    } else {
        Err(UserError::InvalidPhone)
    }
}

/// The customer id of the local user `name` (`local|<name>`).
pub fn local_customer_id(name: &str) -> Result<CustomerId, UserError> {
    validate_name(name)?;
    CustomerId::parse(format!("{LOCAL_ID_PREFIX}{name}")).map_err(|_| UserError::InvalidName)
}

/// Adding, listing and finding the embedded identity's users
/// (for `pod users add|list`).
#[derive(Clone)]
pub struct LocalUsers {
    store: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUsers").finish_non_exhaustive()
    }
}

impl LocalUsers {
    /// Users kept in `store`; `clock` stamps `created_at`.
    pub fn new(store: Arc<dyn UserStore>, clock: Arc<dyn Clock>) -> Self {
        LocalUsers { store, clock }
    }

    /// Adds a user after validating the name ([`validate_name`]), email
    /// ([`validate_email`]) and optional phone ([`normalize_phone`]; an
    /// empty string counts as none). The id is `local|<name>`.
    ///
    /// Errors: the validation errors, [`UserError::Taken`] when the name,
    /// id or email is in use, [`UserError::Store`] when the store failed.
    pub async fn add(
        &self,
        name: &str,
        email: &str,
        phone: Option<&str>,
    ) -> Result<LocalUser, UserError> {
        let name = name.trim();
        let id = local_customer_id(name)?;
        let email = validate_email(email)?;
        let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(normalize_phone(p)?),
            None => None,
        };
        let user = LocalUser {
            id,
            name: name.to_owned(),
            email,
            phone,
            created_at: self.clock.now(),
        };
        self.store.add_user(&user).await?;
        info!(user = %user.id, "local user added");
        Ok(user)
    }

    /// All users, by name.
    pub async fn list(&self) -> Result<Vec<LocalUser>, UserError> {
        Ok(self.store.users().await?)
    }

    /// The user with this name, email address (case-insensitive) or
    /// customer id (`local|<name>`), if any.
    pub async fn find(&self, who: &str) -> Result<Option<LocalUser>, UserError> {
        let who = who.trim();
        if who.starts_with(LOCAL_ID_PREFIX) {
            let Ok(id) = CustomerId::parse(who) else {
                return Ok(None);
            };
            return Ok(self.store.user_by_id(&id).await?);
        }
        if who.is_empty() {
            return Ok(None);
        }
        Ok(self.store.user_by_login(who).await?)
    }
}

/// [`CustomerDirectory`] of the embedded identity: contact points come from
/// the user store, and passwordless identities need no provisioning (codes
/// are pod's own), so [`ensure_passwordless_identity`] only checks that the
/// customer exists.
///
/// Users found are cached for [`LocalDirectory::CACHE_TTL`], so that a voice
/// request makes no user-store read of its own when the same person spoke a
/// moment ago (an order and its confirmation); a change made with `pod
/// users` reaches a running server within that time. Unknown ids are never
/// cached, so a user just added is found at once.
///
/// [`ensure_passwordless_identity`]: CustomerDirectory::ensure_passwordless_identity
#[derive(Clone)]
pub struct LocalDirectory {
    store: Arc<dyn UserStore>,
    cache: Arc<RwLock<HashMap<CustomerId, (LocalUser, Instant)>>>,
}

impl std::fmt::Debug for LocalDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDirectory").finish_non_exhaustive()
    }
}

impl LocalDirectory {
    /// How long a user found stays cached.
    pub const CACHE_TTL: Duration = Duration::from_secs(30);

    /// Users cached at most; the cache starts over beyond it.
    const CACHE_CAPACITY: usize = 100_000;

    /// A directory over `store`.
    pub fn new(store: Arc<dyn UserStore>) -> Self {
        LocalDirectory {
            store,
            cache: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    async fn user(&self, customer: &CustomerId) -> Result<LocalUser, DirectoryError> {
        if let Some((user, at)) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(customer)
            && at.elapsed() < Self::CACHE_TTL
        {
            return Ok(user.clone());
        }
        match self.store.user_by_id(customer).await {
            Ok(Some(user)) => {
                let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= Self::CACHE_CAPACITY {
                    cache.clear();
                }
                cache.insert(customer.clone(), (user.clone(), Instant::now()));
                Ok(user)
            }
            Ok(None) => Err(DirectoryError::UnknownCustomer),
            Err(error) => Err(DirectoryError::Unavailable(format!("user store: {error}"))),
        }
    }
}

#[async_trait]
impl CustomerDirectory for LocalDirectory {
    async fn contact_points(&self, customer: &CustomerId) -> Result<ContactPoints, DirectoryError> {
        let user = self.user(customer).await?;
        Ok(ContactPoints {
            email: Some(user.email),
            phone: user.phone,
        })
    }

    async fn ensure_passwordless_identity(
        &self,
        customer: &CustomerId,
        _destination: &Destination,
    ) -> Result<(), DirectoryError> {
        self.user(customer).await.map(|_| ())
    }
}
